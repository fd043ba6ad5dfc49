"""Tests of vgan_utils.clip_recipes: clip recipes in the one registry, and their trainer."""

from dataclasses import replace

import pytest
import torch

from vgan_utils.clip_recipes import (
    ROOT,
    ClipRecipe,
    build_video_trainer,
    clip_batch_fn,
    recipe_controls,
)
from vgan_utils.dashboard import DEFAULT_HPARAMS
from vgan_utils.figures import CLIP_GENERATORS
from vgan_utils.layer_motion import LayerMotionGenerator, SpriteTwoStreamGenerator
from vgan_utils.train import CONFIGS, build_trainer, dashboard_controls
from vgan_utils.video_nets import ContentMotionGenerator, OneStreamGenerator, TwoStreamGenerator

CLIPS = {name: r for name, r in CONFIGS.items() if isinstance(r, ClipRecipe)}


def test_the_registry_holds_every_clip_model():
    assert {r.model for r in CLIPS.values()} == {"one_stream", "two_stream", "content_motion",
                                                 "layer_motion", "sprite_two_stream"}
    for r in CLIPS.values():
        assert set(recipe_controls(r)) <= set(DEFAULT_HPARAMS)
        assert dashboard_controls(r) == recipe_controls(r)


def test_batches_are_downsampled_clips_deterministic_by_step():
    fn = clip_batch_fn(replace(CLIPS["two_stream32"], length=4, batch_size=3))
    a, b = fn(2), fn(2)
    assert a.shape == (3, 1, 4, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, fn(3))
    assert a.min() >= -1 and a.max() <= 1


@pytest.mark.parametrize("name,cls", [("clip_dcgan", OneStreamGenerator),
                                      ("two_stream32", TwoStreamGenerator),
                                      ("content_motion32", ContentMotionGenerator),
                                      ("two_stream_sprites32", SpriteTwoStreamGenerator),
                                      ("two_stream_warm32", SpriteTwoStreamGenerator)])
def test_trainer_steps_and_samples_clips(name, cls):
    recipe = replace(CLIPS[name], length=4, width=4)
    tr = build_trainer(recipe, hparams={"batch_size": 2, "lr_g": 1e-3})
    assert isinstance(tr.generator, cls)
    assert tr.config.lr_g == 1e-3
    tr.train(2)
    assert tr.step == 2
    assert tr.sample(tr.fixed_z[:2]).shape == (2, 1, 4, 32, 32)


def test_motion32_starts_from_its_shipped_frame_generator():
    from vgan_utils.train import load_generator

    tr = build_video_trainer(replace(CLIPS["motion32"], length=4))
    image_g = tr.generator.image_generator
    shipped = load_generator(ROOT / "data" / "motion32_frames.pt")
    assert type(image_g) is type(shipped)
    assert all(torch.equal(a, b) for a, b in zip(image_g.state_dict().values(),
                                                 shipped.state_dict().values(), strict=True))


def test_init_from_starts_a_run_from_shipped_clip_networks(tmp_path):
    from vgan_utils.train import build_generator, load_discriminator, load_generator

    g_path, d_path = ROOT / "data" / "motion32.pt", ROOT / "data" / "motion32_d.pt"
    if not (g_path.exists() and d_path.exists()):
        pytest.skip("no shipped motion32 yet (data/README.md)")
    recipe = replace(CLIPS["motion32"], init_from=str(g_path), init_d_from="data/motion32_d.pt",
                     model_kw={**CLIPS["motion32"].model_kw, "whole_pixels": True})
    tr = build_video_trainer(recipe)
    for net, shipped in ((tr.generator, load_generator(g_path)),
                         (tr.discriminator, load_discriminator(d_path))):
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                     shipped.state_dict().values(), strict=True))
    assert tr.generator.whole_pixels
    fresh = build_generator(recipe)  # loading a run's checkpoint does not reload init_from
    assert not torch.equal(fresh.flow_net[-1].weight, tr.generator.flow_net[-1].weight)
    wider = replace(recipe, model_kw={**recipe.model_kw, "flow_hidden": 64})
    with pytest.raises(ValueError, match="does not fit this recipe's networks"):
        build_video_trainer(wider)


def test_a_pretrained_image_generator_must_fit_the_codes():
    bad = replace(CLIPS["motion32"], model_kw={"content_dim": 50, "motion_dim": 10})
    with pytest.raises(ValueError, match="frame code .* is 60"):
        build_video_trainer(bad)
    content_only = {"content_dim": 90, "motion_dim": 10, "motion_to": "flow",
                    "flow_from": "content"}  # the frame's code is the content alone
    with pytest.raises(ValueError, match="frame code .* is 90"):
        build_video_trainer(replace(CLIPS["motion32"], model_kw=content_only))
    fits = build_video_trainer(replace(CLIPS["motion32"], length=4,
                                       model_kw={**content_only, "content_dim": 100}))
    assert fits.generator.frame_code_dim == 100
    with pytest.raises(ValueError, match="only applies to content_motion"):
        build_video_trainer(replace(CLIPS["two_stream32"], image_generator="data/frames32.pt"))


def test_same_seed_same_weights():
    recipe = replace(CLIPS["two_stream32"], length=4, width=4)
    a, b = build_video_trainer(recipe), build_video_trainer(recipe)
    for p, q in zip(a.generator.parameters(), b.generator.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_recipe_puts_a_trained_snap_after_the_warp(tmp_path):
    from vgan_utils.snap import GridSnap, save_snap
    from vgan_utils.train import build_generator

    net = GridSnap(width=8, depth=3)
    torch.nn.init.normal_(net.net[-1].weight, std=0.1)
    path = save_snap(net, tmp_path / "snap.pt")
    recipe = replace(CLIPS["motion32"], length=4, snap=str(path))
    g = build_video_trainer(recipe).generator
    assert all(torch.equal(a, b) for a, b in zip(g.snap.state_dict().values(),
                                                 net.state_dict().values(), strict=True))
    assert build_generator(recipe).snap is not None  # a run's checkpoint loads it back
    with pytest.raises(ValueError, match="snap only applies to content_motion"):
        build_video_trainer(replace(CLIPS["two_stream32"], snap=str(path)))


def test_shipped_clip_generators_load_weights_only_within_20_mb():
    from vgan_utils.train import load_generator

    paths = [ROOT / "data" / f"{name}.pt" for name in CLIP_GENERATORS]
    assert sum(p.stat().st_size for p in paths) < 20_000_000  # notebook 05's issue: 20 MB
    for path in paths:
        state = torch.load(path, weights_only=True)
        assert "discriminator" not in state and "opt_d" not in state, path.name
        g = load_generator(path)
        assert not g.training
        with torch.no_grad():
            clips = g(torch.randn(2, g.z_dim, generator=torch.Generator().manual_seed(0)))
        assert clips.shape == (2, 1, 16, 32, 32) and clips.abs().max() <= 1, path.name
    layers = load_generator(paths[CLIP_GENERATORS.index("layers32")])
    assert isinstance(layers, LayerMotionGenerator) and layers.image_generator.whole_pixels
