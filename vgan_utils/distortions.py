"""Damage of graded strength for clips: what a video quality score should rank.

Six kinds (:data:`DISTORTIONS`), five strengths each (levels 1..5; level 0 is the clean
clip), on clips ``(N, C, T, H, W)`` in ``[-1, 1]``; every kind keeps the clip's shape:

* ``blur`` -- a Gaussian blur of each frame, standard deviation in pixels;
* ``noise`` -- additive white Gaussian noise, standard deviation in pixel units of the
  ``[-1, 1]`` range, clipped back into it;
* ``drop`` -- frames lost in transmission and concealed the way a player does, by holding
  the last good frame: the clip stalls, then jumps to where it should be;
* ``duplicate`` -- frames shown twice (a frame-rate mismatch): the clip stalls and the rest
  of it comes late, without a jump;
* ``shuffle`` -- that many frames swap places (a cyclic shift among randomly chosen frame
  positions, so every chosen frame moves); all of them is a random order;
* ``h264`` -- a round trip through libx264 at that constant rate factor
  (:func:`vgan_utils.codec.h264_roundtrip`).

Which frames (and the noise) are drawn from ``seed`` per clip, so a level is the same damage
every time. Taught in ``notebooks/07_video_analysis.ipynb`` (section 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .codec import check_clips, h264_roundtrip

LEVELS = 5
STRENGTHS: dict[str, tuple[float, ...]] = {
    "blur": (0.5, 0.75, 1.0, 1.5, 2.0),  # sigma, pixels
    "noise": (0.05, 0.1, 0.2, 0.35, 0.5),  # sigma, [-1, 1] units
    "drop": (1, 2, 4, 6, 8),  # frames lost, held over
    "duplicate": (1, 2, 4, 6, 8),  # frames shown twice
    "shuffle": (2, 4, 6, 10, 16),  # frames that change places (capped at T)
    "h264": (24, 30, 36, 42, 48),  # libx264 CRF
}
DISTORTIONS = tuple(STRENGTHS)
UNITS = {"blur": "sigma px", "noise": "sigma", "drop": "frames", "duplicate": "frames",
         "shuffle": "frames", "h264": "CRF"}


def strength(name: str, level: int) -> float:
    """The strength of ``name`` at ``level`` (0: none), with a clear error for bad names/levels."""
    if name not in STRENGTHS:
        raise ValueError(f"unknown distortion {name!r}; valid names: {', '.join(DISTORTIONS)}")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= LEVELS:
        raise ValueError(f"level must be an integer in 0..{LEVELS} (0: clean); got {level!r}. "
                         f"{name} strengths for levels 1..{LEVELS}: {STRENGTHS[name]} "
                         f"({UNITS[name]})")
    return 0.0 if level == 0 else STRENGTHS[name][level - 1]


def gaussian_blur(clips: Tensor, sigma: float) -> Tensor:
    """Blur every frame with a separable Gaussian of std ``sigma`` px (reflected borders)."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    n, c, t, h, w = clips.shape
    frames = clips.transpose(1, 2).reshape(n * t * c, 1, h, w)
    frames = F.pad(frames, (radius, radius, radius, radius), mode="reflect")
    frames = F.conv2d(F.conv2d(frames, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return frames.reshape(n, t, c, h, w).transpose(1, 2).contiguous()


def _positions(g: torch.Generator, low: int, high: int, k: int) -> Tensor:
    """``k`` distinct sorted frame positions in ``[low, high)``."""
    return torch.sort(low + torch.randperm(high - low, generator=g)[:k]).values


def frame_order(name: str, k: int, t: int, g: torch.Generator) -> Tensor:
    """The source frame of each output frame (T,) for ``drop``, ``duplicate`` or ``shuffle``."""
    k = min(int(k), t - 1 if name != "shuffle" else t)
    order = torch.arange(t)
    if name == "drop":  # frames 1..T-1 may be lost; each shows the last good one
        lost = torch.zeros(t, dtype=torch.bool)
        lost[_positions(g, 1, t, k)] = True
        kept = torch.where(~lost, order, torch.zeros_like(order))
        return torch.cummax(kept, dim=0).values
    if name == "duplicate":  # frame p is shown twice, everything after it comes later
        extra = torch.zeros(t, dtype=torch.long)
        extra[_positions(g, 0, t - 1, k)] = 1
        return torch.repeat_interleave(order, 1 + extra)[:t]
    chosen = _positions(g, 0, t, k)  # shuffle: a cyclic shift among the chosen positions
    order[chosen] = chosen.roll(1)
    return order


def distort(clips: Tensor, name: str, level: int, seed: int = 0) -> Tensor:
    """``clips`` (N, C, T, H, W) in [-1, 1] damaged by ``name`` at ``level`` (0..5)."""
    s = strength(name, level)
    clips = check_clips(clips)
    if level == 0:
        return clips.clone()
    if name == "blur":
        return gaussian_blur(clips, s)
    g = torch.Generator().manual_seed(seed)
    if name == "noise":
        return (clips + s * torch.randn(clips.shape, generator=g)).clamp(-1, 1)
    if name == "h264":
        return h264_roundtrip(clips, int(s))[0]
    t = clips.shape[2]
    orders = torch.stack([frame_order(name, int(s), t, g) for _ in range(clips.shape[0])])
    rows = torch.arange(clips.shape[0])[:, None]
    return clips.transpose(1, 2)[rows, orders].transpose(1, 2).contiguous()
