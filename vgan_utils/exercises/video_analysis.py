"""Exercise checks of notebook 07 (GANs for video analysis).

References come from the definitions: PSNR's formula, torchmetrics' Spearman correlation and
AUROC, and :func:`vgan_utils.codec.gan_bits_per_pixel`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .core import _check_number, _exercise, _say, _verdict

PEAK_TO_PEAK = 2.0  # clips live in [-1, 1]


@_exercise("07.1")
def check_noise_psnr(value: Any, sigma: float) -> bool:
    """Notebook 07, exercise 1: the PSNR of additive Gaussian noise of standard deviation
    ``sigma`` on clips in [-1, 1], before clipping: ``10 log10(2^2 / sigma^2)``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    ref = 10 * math.log10(PEAK_TO_PEAK ** 2 / sigma ** 2)
    wrong_peak = 10 * math.log10(1 / sigma ** 2)
    ok, text = _check_number("07.1", "PSNR", value, ref,
                             {wrong_peak / ref: "that assumes a peak of 1: these clips span 2",
                              (10 * math.log10(PEAK_TO_PEAK / sigma)) / ref:
                              "PSNR divides squares: peak^2 over the mean squared error"},
                             rel_tol=1e-3)
    if ok:
        text += " dB: the clamp to [-1, 1] removes some noise, so measured PSNR is a bit higher"
    return _say("07.1", ok, text)


@_exercise("07.2")
def check_spearman(value: Any, level: torch.Tensor, score: torch.Tensor) -> bool:
    """Notebook 07, exercise 2: Spearman's rho between ``level`` and ``score`` (ties share
    their mean rank): Pearson's correlation of the ranks, as torchmetrics computes it."""
    from torchmetrics.functional import pearson_corrcoef, spearman_corrcoef

    ref = float(spearman_corrcoef(score.float(), level.float()))
    pearson = float(pearson_corrcoef(score.float(), level.float()))
    slips = {pearson / ref: "that is Pearson's r of the values, not of their ranks"} if ref else {}
    ok, text = _check_number("07.2", "rho", value, ref, slips, rel_tol=1e-3, abs_tol=1e-6)
    if ok:
        text += ": rank correlation sees only whether a score moves one way"
    return _say("07.2", ok, text)


@_exercise("07.3")
def check_auroc_pairs(value: Any, scores: torch.Tensor, labels: torch.Tensor) -> bool:
    """Notebook 07, exercise 3: AUROC by counting (anomalous, normal) pairs, ties counting
    half; torchmetrics' ``binary_auroc`` is the reference."""
    from torchmetrics.functional.classification import binary_auroc

    ref = float(binary_auroc(scores.float(), labels.long()))
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    ties_as_wins = float((diff >= 0).float().mean())
    ties_as_losses = float((diff > 0).float().mean())
    slips = {}
    if ties_as_wins != ref:
        slips[ties_as_wins / ref] = "ties counted as wins: a tie counts half"
    if ties_as_losses != ref and ref:
        slips[ties_as_losses / ref] = "ties counted as losses: a tie counts half"
    if 1 - ref != ref and ref:
        slips[(1 - ref) / ref] = "that is 1 - AUROC: count pairs where the anomaly scores higher"
    ok, text = _check_number("07.3", "AUROC", value, ref, slips, rel_tol=1e-6)
    return _say("07.3", ok, text + (f" over {len(pos) * len(neg)} pairs" if ok else ""))


@_exercise("07.4")
def check_gan_bpp(bpp: Any, ratio: Any, values: int = 100, bits: int = 2,
                  frame_pixels: int = 32 * 32) -> bool:
    """Notebook 07, exercise 4: the GAN codec's bits per pixel with ``values`` code values per
    frame at ``bits`` bits each, and its compression ratio against 8-bit raw pixels."""
    from ..codec import gan_bits_per_pixel

    ref = gan_bits_per_pixel(values, bits, frame_pixels)
    parts = [_check_number("07.4", "bpp", bpp, ref,
                           {8.0: "8 times too many: each value costs b bits, not b bytes",
                            1 / bits: "that counts values, not bits: times b"}),
             _check_number("07.4", "ratio", ratio, 8 / ref,
                           {ref ** 2 / 64: "inverted: raw bits over coded bits",
                            1 / 8: "raw pixels have 8 bits each"})]
    return _verdict("07.4", parts, f"{ref:.4f} bpp, {8 / ref:.1f}x smaller than raw 8-bit "
                    "pixels -- and the clip length does not enter: the code is per frame")
