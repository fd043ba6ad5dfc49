"""Graded distortions: shapes kept, strengths ordered, frame orders right, bad input named."""

from __future__ import annotations

import pytest
import torch

from vgan_utils.distortions import DISTORTIONS, LEVELS, STRENGTHS, distort, frame_order, strength


def clips(n: int = 2, t: int = 8, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, t, size, size, generator=g) * 2 - 1


def test_level_zero_is_the_clean_clip_and_shapes_are_kept():
    x = clips()
    for name in DISTORTIONS:
        assert torch.equal(distort(x, name, 0), x)
        y = distort(x, name, 3)
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1, name
        assert not torch.equal(y, x), name


def test_strength_grows_with_level():
    for name in DISTORTIONS:
        values = [strength(name, lv) for lv in range(LEVELS + 1)]
        assert values == sorted(values) and values[0] == 0 and len(STRENGTHS[name]) == LEVELS


def test_blur_and_noise_move_further_from_the_clip_as_they_grow():
    x = clips()
    for name in ("blur", "noise"):
        err = [(distort(x, name, lv) - x).pow(2).mean().item() for lv in range(LEVELS + 1)]
        assert err == sorted(err), (name, err)
    assert torch.equal(distort(x, "noise", 2, seed=1), distort(x, "noise", 2, seed=1))


def test_blur_keeps_a_constant_frame_constant():
    x = torch.full((1, 1, 2, 8, 8), 0.3)
    assert torch.allclose(distort(x, "blur", 5), x, atol=1e-6)


def test_frame_orders():
    g = torch.Generator().manual_seed(0)
    drop = frame_order("drop", 3, 10, g)
    assert drop[0] == 0 and (drop.diff() >= 0).all() and (drop <= torch.arange(10)).all()
    assert (drop.diff() == 0).sum() == 3  # three frames hold the one before
    dup = frame_order("duplicate", 3, 10, g)
    assert (dup.diff() == 0).sum() == 3 and (dup.diff() <= 1).all() and dup[0] == 0
    shuf = frame_order("shuffle", 4, 10, g)
    assert sorted(shuf.tolist()) == list(range(10))
    assert (shuf != torch.arange(10)).sum() == 4
    assert sorted(frame_order("shuffle", 16, 8, g).tolist()) == list(range(8))


def test_frame_distortions_only_reorder_frames():
    x = clips(t=8)
    y = distort(x, "drop", 2)
    assert all(any(torch.equal(y[0, :, i], x[0, :, j]) for j in range(8)) for i in range(8))


def test_h264_level_is_a_real_roundtrip():
    x = torch.zeros(1, 1, 4, 16, 16)
    x[..., 4:12, 4:12] = 1.0
    y = distort(x, "h264", 1)
    assert y.shape == x.shape and (y - x).abs().mean() < 0.05


def test_bad_input_is_named():
    x = clips()
    with pytest.raises(ValueError, match="valid names: blur, noise"):
        distort(x, "jpeg", 1)
    with pytest.raises(ValueError, match=r"level must be an integer in 0..5"):
        distort(x, "blur", 6)
    with pytest.raises(ValueError, match=r"level must be an integer"):
        distort(x, "blur", 1.5)
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        distort(x[0], "blur", 1)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        distort(x * 200, "blur", 1)
