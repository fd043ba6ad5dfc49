"""Tests of vgan_utils.video_quality: temporal change, flicker, ACD, clip FD, clip_quality."""

import numpy as np
import pytest
import torch
from torch import nn

from vgan_utils import video_quality as Q
from vgan_utils.judge import Judge, JudgeConfig
from vgan_utils.video_judge import VideoJudge, VideoJudgeConfig, digit_clips


@pytest.fixture(scope="module")
def real():
    """Two disjoint sets of 12 real moving-digit clips, 8 frames of 32x32."""
    return Q.real_clip_sets(12, length=8, size=32)


def tiny_video_judge() -> VideoJudge:
    torch.manual_seed(0)
    return VideoJudge(VideoJudgeConfig(size=32, width=4, feature_dim=6)).eval()


def tiny_frame_judge() -> Judge:
    torch.manual_seed(0)
    return Judge(JudgeConfig(size=32, width=4, feature_dim=6)).eval()


class NoiseFrames(nn.Module):
    """A stand-in frame generator: z -> a frame of noise seeded by z (with a z_dim, like G)."""

    z_dim = 4

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 16 * 16)

    def forward(self, z):
        return torch.tanh(self.proj(z)).reshape(-1, 1, 16, 16)


def test_frame_change_of_a_static_clip_is_zero():
    clip = torch.rand(2, 1, 1, 8, 8).expand(2, 1, 5, 8, 8)
    assert Q.frame_change(clip) == 0.0


def test_frame_change_by_hand():
    values = torch.tensor([0.0, 0.5, -0.5])  # |0.5 - 0| = 0.5, |-0.5 - 0.5| = 1.0
    clip = values[None, None, :, None, None].expand(1, 1, 3, 4, 4)
    assert Q.frame_change_per_clip(clip).tolist() == [0.75]
    double = torch.cat([clip, 2 * clip])
    assert Q.frame_change(double) == pytest.approx((0.75 + 1.5) / 2)
    tc = Q.temporal_coherence(double, clip)
    assert tc["change"] == pytest.approx(1.125) and tc["real_change"] == 0.75
    assert tc["change_ratio"] == pytest.approx(1.5)


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="frames\\?"):
        Q.frame_change(torch.zeros(4, 1, 8, 8))
    with pytest.raises(ValueError, match="at least 2 frames"):
        Q.frame_change(torch.zeros(4, 1, 1, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        Q.clip_fd(tiny_video_judge(), torch.zeros(3, 1, 8, 32, 32), torch.zeros(4, 1, 8, 32, 32),
                  torch.zeros(4, 1, 8, 32, 32))


def test_independent_frames_flicker_more_than_real_motion(real):
    real_a, _ = real
    flicker = Q.shuffled_frames(real_a, seed=1)
    assert flicker.shape == real_a.shape
    # every output frame is a real frame of the same time step
    assert any(torch.equal(flicker[0, :, 3], real_a[i, :, 3]) for i in range(len(real_a)))
    ratio = Q.temporal_coherence(flicker, real_a)["change_ratio"]
    assert ratio > 1.3, ratio


def test_independent_frames_of_a_frame_generator():
    clips = Q.independent_frames(NoiseFrames(), n=3, length=5, seed=0)
    assert clips.shape == (3, 1, 5, 16, 16)
    assert Q.frame_change(clips) > 0
    again = Q.independent_frames(NoiseFrames().requires_grad_(False), n=3, length=5, seed=0)
    assert again.shape == clips.shape


def test_generate_clips_uses_seeded_codes():
    class Clips(nn.Module):
        z_dim = 3

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, z):
            return (self.w * z).tanh()[:, None, :, None, None].expand(-1, 1, 3, 4, 4)

    g = Clips()
    a, b = Q.generate_clips(g, 5, seed=1, batch_size=2), Q.generate_clips(g, 5, seed=1)
    assert a.shape == (5, 1, 3, 4, 4) and torch.equal(a, b)


def test_acd_by_hand_and_of_identical_frames():
    v = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]])  # pairs: 5, 0, 5
    assert Q.acd_per_clip(v).tolist() == pytest.approx([10 / 3])
    static = torch.rand(2, 1, 1, 32, 32).expand(2, 1, 6, 32, 32) * 2 - 1
    judge = tiny_frame_judge()
    assert Q.average_content_distance(judge, static) == 0.0
    assert Q.average_content_distance(judge, static, space="features") == 0.0
    with pytest.raises(ValueError, match="space"):
        Q.average_content_distance(judge, static, space="pixels")


def test_frames_of_picks_evenly_spaced_frames():
    clips = torch.arange(2 * 7, dtype=torch.float32).reshape(2, 1, 7, 1, 1).expand(2, 1, 7, 2, 2)
    frames = Q.frames_of(clips, 3)
    assert frames.shape == (6, 1, 2, 2)
    assert frames[:, 0, 0, 0].tolist() == [0, 3, 6, 7, 10, 13]
    assert Q.frames_of(clips).shape == (14, 1, 2, 2)


def test_clip_fd_of_identical_sets_is_zero_and_says_it_is_not_fvd(real):
    real_a, real_b = real
    judge = tiny_video_judge()
    q = Q.clip_fd(judge, real_a, real_a, real_b)
    assert q["fd"] == pytest.approx(0.0, abs=1e-6) and q["floor"] > 0
    assert q["n"] == 12 and q["length"] == 8
    assert "NOT comparable" in q["note"] and "I3D" in q["note"]
    big = torch.nn.functional.interpolate(real_a.flatten(1, 2), scale_factor=2).reshape(
        12, 1, 8, 64, 64)
    assert Q.clip_fd(judge, big, big, big)["fd"] == pytest.approx(0.0, abs=1e-6)  # resized


def test_clip_quality_gathers_everything(real):
    real_a, real_b = real
    flicker = Q.shuffled_frames(real_a, seed=3)
    q = Q.clip_quality(flicker, real_a, real_b, tiny_video_judge(), tiny_frame_judge(),
                       frames_per_clip=2)
    for key in ("clip_fd", "clip_floor", "clip_fd_over_floor", "frame_fd", "frame_floor",
                "frame_fd_over_floor", "confident_share", "confident_ratio", "coverage",
                "change", "real_change", "change_ratio", "acd", "real_acd", "note"):
        assert key in q, key
    assert q["acd_space"] == "probs" and q["n"] == 12 and q["length"] == 8
    assert q["change_ratio"] > 1.3
    assert "clip FD/floor" in Q.format_clip_quality(q)
    with pytest.raises(ValueError, match="same shape"):
        Q.clip_quality(flicker[:, :, :4], real_a, real_b, tiny_video_judge(), tiny_frame_judge())


def test_real_clip_sets_are_disjoint_and_repeatable():
    a, b = Q.real_clip_sets(3, length=4, size=32)
    assert a.shape == (3, 1, 4, 32, 32)
    assert not any(torch.equal(x, y) for x in a for y in b)
    assert torch.equal(Q.real_clip_sets(3, length=4, size=32)[0], a)
    same = digit_clips(32, np.random.default_rng(0).permutation(10_000)[:3], length=4,
                       **Q.REAL_DATA)[0]
    assert torch.equal(same, a)
    with pytest.raises(ValueError, match="exceed"):
        Q.real_clip_sets(6_000, length=4)


def test_mask_contrast_is_one_for_a_uniform_mask_and_large_for_a_fitting_one():
    video = -torch.ones(2, 1, 4, 8, 8)
    video[..., 2:4, 2:4] = 1.0  # a bright square on a dark canvas
    fitting = (video > 0).float() * 0.9 + 0.05
    assert Q.mask_contrast(video, torch.full_like(fitting, 0.3)) == pytest.approx(1.0)
    assert Q.mask_contrast(video, fitting) == pytest.approx(0.95 / 0.05)
    with pytest.raises(ValueError, match="one side"):
        Q.mask_contrast(-torch.ones(1, 1, 2, 4, 4), torch.ones(1, 1, 2, 4, 4))
    with pytest.raises(ValueError, match="expected video"):
        Q.mask_contrast(video, fitting[:, :, :2])


def test_generated_mask_contrast_measures_the_generators_own_parts():
    from vgan_utils.video_nets import TwoStreamGenerator

    torch.manual_seed(0)
    g = TwoStreamGenerator(z_dim=8, length=4, size=8, width=2)
    value = Q.generated_mask_contrast(g, n=6, seed=3)
    assert not g.training  # measured in eval mode, as a sampler is
    with torch.no_grad():
        parts = g.parts(torch.randn(6, 8, generator=torch.Generator().manual_seed(3)))
    assert value == pytest.approx(Q.mask_contrast(parts.video, parts.mask))
