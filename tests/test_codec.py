"""H.264 round trips through libx264 and the GAN codec's quantiser."""

from __future__ import annotations

import pytest
import torch

from vgan_utils.codec import (
    bits_per_pixel,
    dequantise,
    gan_bits_per_pixel,
    h264_roundtrip,
    quantise,
)


def moving_square(n: int = 2, t: int = 8, size: int = 32) -> torch.Tensor:
    x = -torch.ones(n, 1, t, size, size)
    for i in range(t):
        x[:, :, i, 8:16, 2 + 2 * i:10 + 2 * i] = 1.0
    return x


def test_h264_gets_closer_and_costs_more_at_lower_crf():
    x = moving_square()
    fine, fine_bits = h264_roundtrip(x, 10)
    coarse, coarse_bits = h264_roundtrip(x, 45)
    assert fine.shape == x.shape and fine_bits > coarse_bits > 0
    assert (fine - x).abs().mean() < (coarse - x).abs().mean()
    assert (fine - x).abs().mean() < 0.02
    assert 0 < bits_per_pixel(coarse_bits, x) < bits_per_pixel(fine_bits, x) < 8


def test_crf_outside_libx264_range_is_refused():
    for bad in (-1, 52, 23.5, True):
        with pytest.raises(ValueError, match=r"0...51"):
            h264_roundtrip(moving_square(), bad)
    with pytest.raises(ValueError, match="even H and W"):
        h264_roundtrip(torch.zeros(1, 1, 2, 15, 16), 23)


def test_quantiser_bins_are_equally_likely_and_finer_with_more_bits():
    z = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(quantise(z, 2), minlength=4).float() / len(z)
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.01)
    errors = [(dequantise(quantise(z, b), b) - z).pow(2).mean().item() for b in (1, 2, 4, 8)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3
    # 1 bit: the medians of the two half-normals, +-0.674
    assert torch.allclose(dequantise(torch.tensor([0, 1]), 1), torch.tensor([-0.6745, 0.6745]),
                          atol=1e-4)
    assert gan_bits_per_pixel(100, 2, 1024) == 200 / 1024


def test_bad_bits_are_refused():
    with pytest.raises(ValueError, match=r"1..16"):
        quantise(torch.zeros(3), 0)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        dequantise(torch.tensor([4]), 2)
