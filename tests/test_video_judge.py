"""Tests of vgan_utils.video_judge: shapes, labels, learning, checkpoints, the command."""

import pickle

import numpy as np
import pytest
import torch

from vgan_utils import video_judge as V
from vgan_utils.checkpoint import CheckpointError
from vgan_utils.synthetic import resize_frames

TINY = V.VideoJudgeConfig(size=16, width=4, feature_dim=12)



def _toy_clips(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Trivially separable clips: 14 channels, channel d lit iff digit d present, 10 + k iff
    direction k; motion targets one-hot."""
    g = torch.Generator().manual_seed(seed)
    present = torch.zeros(n, 10).scatter_(1, torch.randint(0, 10, (n, 2), generator=g), 1.0)
    motion = torch.nn.functional.one_hot(torch.randint(0, 4, (n,), generator=g), 4).float()
    lit = torch.cat([present, motion], dim=1) * 2 - 1
    clips = lit[:, :, None, None, None].expand(n, 14, 4, 8, 8)
    return clips + 0.1 * torch.randn(clips.shape, generator=g), present, motion


@pytest.mark.parametrize("size,length", [(16, 8), (32, 16), (32, 4)])
def test_shapes(size, length):
    judge = V.VideoJudge(V.VideoJudgeConfig(size=size, width=4, feature_dim=12)).eval()
    x = torch.rand(3, 1, length, size, size) * 2 - 1
    digits, motion = judge(x)
    assert digits.shape == (3, 10) and motion.shape == (3, 4)
    feats, p_digit, p_motion = V.video_judge_outputs(judge, x, batch_size=2)
    assert feats.shape == (3, 12) and p_digit.shape == (3, 10) and p_motion.shape == (3, 4)
    assert torch.allclose(p_motion.sum(dim=1), torch.ones(3))
    assert torch.allclose(V.video_features(judge, x), feats, atol=1e-5)


def test_features_do_not_depend_on_the_batch():
    judge = V.VideoJudge(TINY)
    x = torch.rand(5, 1, 8, 16, 16)
    assert torch.allclose(V.video_features(judge, x, batch_size=2)[:1],
                          V.video_features(judge, x[:1]), atol=1e-6)
    assert judge.training  # video_judge_outputs restores the mode it found


def test_wrong_shapes_are_refused_with_a_hint():
    judge = V.VideoJudge(TINY)
    with pytest.raises(ValueError, match="resize_clips"):
        judge(torch.randn(2, 1, 8, 32, 32))
    with pytest.raises(ValueError, match="frame judge"):
        judge(torch.randn(2, 1, 16, 16))
    with pytest.raises(ValueError, match="T>=4"):
        judge(torch.randn(2, 1, 3, 16, 16))
    with pytest.raises(ValueError, match="power of two"):
        V.VideoJudge(V.VideoJudgeConfig(size=48))
    with pytest.raises(ValueError, match="N, C, T, H, W"):
        V.resize_clips(torch.randn(2, 1, 64, 64), 32)


def test_resize_clips_is_resize_frames_frame_by_frame():
    clips = torch.rand(2, 1, 3, 64, 64)
    small = V.resize_clips(clips, 32)
    assert small.shape == (2, 1, 3, 32, 32)
    assert torch.allclose(small[:, :, 1], resize_frames(clips[:, :, 1], 32))
    assert V.resize_clips(small, 32) is small


def test_motion_shares_by_hand():
    # (N=1, T=3, K=2, (vx, vy)); image y points down; the last frame's velocity is left out
    v = torch.tensor([[[[1.0, 0.2], [0.0, -1.0]],     # right, up
                       [[-1.0, 0.5], [0.3, -1.0]],    # left, up
                       [[0.0, 9.0], [0.0, 9.0]]]])    # (ignored)
    assert V.motion_shares(v).tolist() == [[0.25, 0.0, 0.25, 0.5]]
    assert V.MOTION_CLASSES == ("right", "down", "left", "up")
    with pytest.raises(ValueError, match="velocities"):
        V.motion_shares(torch.zeros(1, 3, 2))


def test_digit_clips_carry_consistent_labels():
    clips, present, motion = V.digit_clips(32, np.arange(3), seed=0, length=8)
    assert clips.shape == (3, 1, 8, 32, 32) and present.shape == (3, 10)
    assert clips.min() >= -1 and clips.max() <= 1
    assert ((present.sum(dim=1) >= 1) & (present.sum(dim=1) <= 2)).all()
    assert torch.allclose(motion.sum(dim=1), torch.ones(3))
    again = V.digit_clips(32, np.arange(3), seed=0, length=8)
    assert torch.equal(again[0], clips)  # deterministic by seed and index


def test_learns_a_separable_toy_set():
    torch.manual_seed(0)
    judge = V.VideoJudge(V.VideoJudgeConfig(size=8, channels=14, width=16, feature_dim=24))
    toy = _toy_clips(200, seed=10_000)
    before = V.evaluate_video_judge(judge, *toy)
    losses = V.train_video_judge(judge, lambda step: _toy_clips(32, seed=step), steps=60,
                                 lr=1e-2)
    assert losses[-1] < losses[0] / 3
    acc = V.evaluate_video_judge(judge, *toy)
    # "no digit anywhere" already scores 0.8 per digit; 60 steps get well past it
    assert acc["mean_digit"] > 0.93 and acc["exact_set"] > 0.5 > before["exact_set"]
    assert acc["main_direction"] > 0.9 and acc["main_chance"] == pytest.approx(0.25)


def test_evaluation_counts_ties_and_chance():
    judge = V.VideoJudge(TINY)
    clips = torch.zeros(2, 1, 4, 16, 16)
    motion = torch.tensor([[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    acc = V.evaluate_video_judge(judge, clips, torch.zeros(2, 10), motion)
    assert acc["main_chance"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert acc["share_error_uniform"] == pytest.approx((0.25 * 4 + (0.75 + 0.25 * 3)) / 8)


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    judge = V.VideoJudge(TINY).eval()
    path = V.save_video_judge(judge, tmp_path / "vj.pt", meta={"held_out": {"a": 0.5}})
    payload = torch.load(path, weights_only=True)  # plain tensors and builtins only
    assert set(payload) == {"config", "state_dict", "meta"}
    loaded = V.load_video_judge(path)
    x = torch.randn(2, 1, 8, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(loaded(x), judge(x), strict=True))
    assert loaded.meta == {"held_out": {"a": 0.5}} and not loaded.training


def test_loading_refuses_code_and_names_the_command(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"config": Evil()}, protocol=2))
    with pytest.raises(CheckpointError):
        V.load_video_judge(bad)
    with pytest.raises(FileNotFoundError, match="python -m vgan_utils.video_judge"):
        V.load_video_judge(tmp_path / "nope.pt")


def test_command_trains_evaluates_and_saves(tmp_path, capsys):
    out = tmp_path / "vj.pt"
    assert V.main(["--steps", "2", "--batch", "2", "--width", "4", "--eval", "4",
                   "--out", str(out)]) == 0
    judge = V.load_video_judge(out)
    assert set(judge.meta["held_out"]) == {f"{name}_T{t}" for t in V.TRAIN_LENGTHS
                                           for name in ("unseen_clips", "unseen_glyphs")}
    assert "held-out unseen_glyphs_T16" in capsys.readouterr().out


def test_shipped_checkpoint_is_small_and_loads():
    path = V.default_path(32)
    if not path.exists():
        pytest.skip(f"{path} not made yet (python -m vgan_utils.video_judge --out {path})")
    assert path.stat().st_size < 2_000_000
    judge = V.load_video_judge(path)
    assert judge.config.size == 32 and "held_out" in judge.meta
    assert judge.meta["held_out"]["unseen_clips_T16"]["n"] >= 1000
