"""Tests of vgan_utils.judge and vgan_utils.quality: shapes, learning, checkpoints, read-outs."""

import pickle

import numpy as np
import pytest
import torch

from vgan_utils import judge as J
from vgan_utils.checkpoint import CheckpointError
from vgan_utils.quality import format_quality, frame_quality, real_frame_sets
from vgan_utils.synthetic import resize_frames


def _toy_batch(n: int, seed: int, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Trivially separable multi-label toy frames: 10 channels, channel d lit iff digit d shown."""
    g = torch.Generator().manual_seed(seed)
    digits = torch.randint(0, 10, (n, 2), generator=g)
    targets = J.multi_hot(digits)
    frames = (targets * 2 - 1)[:, :, None, None].expand(n, 10, size, size)
    return frames + 0.3 * torch.randn(frames.shape, generator=g), targets


TOY = J.JudgeConfig(size=8, channels=10, width=32, feature_dim=16)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes(size):
    judge = J.Judge(J.JudgeConfig(size=size, width=8, feature_dim=24)).eval()
    x = torch.randn(3, 1, size, size)
    assert judge(x).shape == (3, 10)
    feats, probs = J.judge_outputs(judge, x, batch_size=2)
    assert feats.shape == (3, 24) and probs.shape == (3, 10)
    assert ((probs >= 0) & (probs <= 1)).all()


def test_wrong_size_is_refused_with_a_hint():
    judge = J.Judge(J.JudgeConfig(size=32, width=8))
    with pytest.raises(ValueError, match="resize_frames"):
        judge(torch.randn(2, 1, 64, 64))
    assert resize_frames(torch.randn(2, 1, 64, 64), 32).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="power of two"):
        J.Judge(J.JudgeConfig(size=48))


def test_multi_hot_handles_repeated_digits():
    t = J.multi_hot(torch.tensor([[3, 3], [0, 9]]))
    assert t.sum(dim=1).tolist() == [1.0, 2.0] and t[0, 3] == 1 and t[1, 9] == 1


@pytest.fixture(scope="module")
def toy_judge():
    """One judge trained on the toy set, shared; one thread (tiny tensors gain nothing from
    more, and on a busy CPU extra threads slow them many times over)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        judge = J.Judge(TOY)
        losses = J.train_judge(judge, lambda step: _toy_batch(64, seed=step), steps=100, lr=3e-2)
    finally:
        torch.set_num_threads(threads)
    return judge, losses


def test_judge_learns_a_separable_toy_set(toy_judge):
    judge, losses = toy_judge
    assert losses[-1] < losses[0] / 3
    acc = J.evaluate_judge(judge, *_toy_batch(200, seed=10_000))
    assert acc["exact_set"] > 0.9 and len(acc["per_digit"]) == 10


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    judge = J.Judge(J.JudgeConfig(size=16, width=8, feature_dim=16)).eval()
    path = J.save_judge(judge, tmp_path / "judge.pt", meta={"exact_set": 0.5})
    payload = torch.load(path, weights_only=True)  # plain tensors and builtins only
    assert set(payload) == {"config", "state_dict", "meta"}
    loaded = J.load_judge(path)
    x = torch.randn(4, 1, 16, 16)
    assert torch.equal(loaded(x), judge(x)) and loaded.meta == {"exact_set": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["judge.pt"]  # no temporary left over


def test_loading_rejects_a_pickle_that_would_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"config": Evil()}, protocol=2))
    with pytest.raises(CheckpointError):
        J.load_judge(bad)


def test_missing_checkpoint_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m vgan_utils.judge"):
        J.load_judge(tmp_path / "nope.pt")


def test_frame_quality_on_toy_frames(toy_judge):
    judge, _ = toy_judge
    real_a, real_b = _toy_batch(300, 1)[0], _toy_batch(300, 2)[0]
    good = frame_quality(judge, _toy_batch(300, 3)[0], real_a, real_b)
    noise = frame_quality(judge, torch.rand(300, 10, 8, 8) * 2 - 1, real_a, real_b)
    assert good["fd_over_floor"] < 3 < noise["fd_over_floor"]
    assert good["real_coverage"] == 10 and good["coverage"] == 10
    assert "FD/floor" in format_quality(good)
    with pytest.raises(ValueError, match="same number"):
        frame_quality(judge, real_a[:10], real_a, real_b)


def test_digit_frames_and_real_sets():
    frames, targets = J.digit_frames(32, np.arange(6), **J.TRAIN_DATA)
    assert frames.shape == (6, 1, 32, 32) and frames.min() >= -1 and frames.max() <= 1
    assert set(targets.sum(dim=1).tolist()) <= {1.0, 2.0}  # two digits, maybe the same one
    a, b, c = real_frame_sets(32, 5, sets=3)
    assert a.shape == (5, 1, 32, 32)
    assert not any(torch.equal(x, y) for x in a for y in b)  # disjoint sets of frames
    assert torch.equal(real_frame_sets(32, 5, sets=2)[1], b)  # same sets on every call
