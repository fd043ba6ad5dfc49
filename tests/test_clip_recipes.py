"""Tests of vgan_utils.clip_recipes: named video-GAN configs and their trainer."""

import pytest
import torch

from vgan_utils.clip_recipes import RECIPES, build_video_trainer, clip_batch_fn, recipe_controls
from vgan_utils.dashboard import DEFAULT_HPARAMS
from vgan_utils.video_nets import ContentMotionGenerator, TwoStreamGenerator


def test_recipes_cover_both_models():
    assert {r.model for r in RECIPES.values()} == {"two_stream", "content_motion"}
    for r in RECIPES.values():
        assert set(recipe_controls(r)) <= set(DEFAULT_HPARAMS)


def test_batches_are_downsampled_clips_deterministic_by_step():
    fn = clip_batch_fn(RECIPES["two_stream32"], length=4, batch_size=3)
    a, b = fn(2), fn(2)
    assert a.shape == (3, 1, 4, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, fn(3))
    assert a.min() >= -1 and a.max() <= 1


@pytest.mark.parametrize("name,cls", [("two_stream32", TwoStreamGenerator),
                                      ("content_motion32", ContentMotionGenerator)])
def test_trainer_steps_and_samples_clips(name, cls):
    tr = build_video_trainer(name, hparams={"batch_size": 2, "lr_g": 1e-3}, length=4, width=4)
    assert isinstance(tr.generator, cls)
    assert tr.config.lr_g == 1e-3
    tr.train(2)
    assert tr.step == 2
    assert tr.sample(tr.fixed_z[:2]).shape == (2, 1, 4, 32, 32)


def test_same_seed_same_weights_and_unknown_name():
    a = build_video_trainer("two_stream32", length=4, width=4)
    b = build_video_trainer("two_stream32", length=4, width=4)
    for p, q in zip(a.generator.parameters(), b.generator.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="known"):
        build_video_trainer("nope")
