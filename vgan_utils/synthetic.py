"""Synthetic video datasets made on the fly: moving digits, bouncing balls, moving shapes.

* :class:`MovingDigits` follows the Moving MNIST protocol of Srivastava, Mansimov &
  Salakhutdinov 2015, "Unsupervised learning of video representations using
  LSTMs": a 64x64 canvas, two 28x28 digits, each with a uniformly random start and
  direction and a constant speed (0.1 of the free range per frame, 3.6 px),
  bouncing off the walls, overlaps combined by the pixel-wise maximum, 20 frames.
* :class:`BouncingBalls` follows Sutskever, Hinton & Taylor 2008, "The recurrent
  temporal restricted Boltzmann machine": balls that collide elastically with the
  walls and with each other, drawn as soft-edged discs.
* :class:`MovingShapes` adds colour: squares, discs and triangles of a few
  saturated colours moving and bouncing over each other (painter's order).

Every dataset is *deterministic by seed and index*: clip ``i`` is a pure function of
``(seed, i)`` (a counter-based hash, not a stateful RNG), so item 17 is the same clip
in every epoch, process, DataLoader worker and batch. Generation is vectorised over
a batch (:meth:`SyntheticVideo.batch`), in NumPy, and returns ``(N, C, T, H, W)``
clips in ``[-1, 1]`` (or uint8 with ``uint8=True``) with labels.

Taught in ``notebooks/03_video_data.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import as_strided
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .glyphs import GlyphBank, digit_glyphs
from .video_io import uint8_to_float

Indices = int | Sequence[int] | np.ndarray | torch.Tensor

# ---------------------------------------------------------------- counter-based randomness
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele et al. 2014): a bijective hash of 64-bit integers."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15)) & _M64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
        return z ^ (z >> np.uint64(31))


def hash_uniform(seed: int, index: np.ndarray, n: int, stream: int = 0) -> np.ndarray:
    """``(len(index), n)`` floats in [0, 1) that depend only on ``(seed, stream, index)``.

    A stateful RNG would make clip ``i`` depend on which clips were drawn before it;
    hashing the clip's index makes every clip reproducible on its own and a batch of
    clips a single vectorised computation.
    """
    key = _splitmix64(np.uint64(seed & 0xFFFFFFFF) * np.uint64(1 << 20) + np.uint64(stream))
    with np.errstate(over="ignore"):
        base = _splitmix64(key ^ np.asarray(index, dtype=np.uint64))
        z = _splitmix64(base[:, None] + np.arange(n, dtype=np.uint64)[None, :])
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def bounce(x: np.ndarray, low: float | np.ndarray, high: float | np.ndarray) -> np.ndarray:
    """Fold a free-flying coordinate back into ``[low, high]``: the exact path of a point
    reflected elastically by walls at ``low`` and ``high`` (a triangle wave)."""
    span = high - low
    u = np.mod(x - low, 2 * span)
    return low + span - np.abs(u - span)


def bounce_sign(x: np.ndarray, low: float | np.ndarray, high: float | np.ndarray) -> np.ndarray:
    """+1 while the folded path moves with the free one, -1 after an odd number of bounces."""
    span = high - low
    return np.where(np.mod(x - low, 2 * span) < span, 1.0, -1.0)


# ---------------------------------------------------------------- the shared base class
class SyntheticVideo(Dataset):
    """Base class: ``num_clips`` clips of ``length`` frames of ``size`` x ``size`` pixels.

    Subclasses implement ``_draw(idx, t)`` -> uint8 ``(N, C, len(t), H, W)`` and labels.
    """

    channels = 1

    def __init__(self, num_clips: int, size: int, length: int, seed: int) -> None:
        if num_clips < 1 or length < 1:
            raise ValueError(f"num_clips and length must be >= 1, got {num_clips}, {length}")
        self.num_clips, self.size, self.length, self.seed = num_clips, size, length, seed

    def __len__(self) -> int:
        return self.num_clips

    def _check(self, indices: Indices) -> np.ndarray:
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.num_clips)):
            raise IndexError(f"clip indices must lie in [0, {self.num_clips}); got {indices!r}")
        return idx

    def batch(self, indices: Indices, uint8: bool = False) -> tuple[torch.Tensor, dict]:
        """Clips ``(N, C, T, H, W)`` (float in [-1, 1], or uint8) and a dict of label tensors."""
        idx = self._check(indices)
        t = np.broadcast_to(np.arange(self.length), (len(idx), self.length))
        clips, labels = self._draw(idx, t)
        return _out(clips, uint8), labels

    def frames(self, indices: Indices, uint8: bool = False) -> tuple[torch.Tensor, dict]:
        """Single frames ``(N, C, H, W)`` from a view of ``num_clips * length`` frames.

        Frame ``j`` is frame ``j // num_clips`` of clip ``j % num_clips``, so neighbouring
        indices come from different clips (a batch of consecutive indices is not one
        clip's frames). Only the asked-for frames are drawn. Labels are per frame.
        """
        j = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        total = self.num_clips * self.length
        if j.ndim != 1 or (j.size and (j.min() < 0 or j.max() >= total)):
            raise IndexError(f"frame indices must lie in [0, {total}); got {indices!r}")
        clips, labels = self._draw(j % self.num_clips, (j // self.num_clips)[:, None])
        labels = {k: (v[:, 0] if v.dim() >= 2 and v.shape[1] == 1 and k in _PER_FRAME else v)
                  for k, v in labels.items()}
        labels["clip"], labels["frame"] = torch.from_numpy(j % self.num_clips), torch.from_numpy(
            j // self.num_clips)
        return _out(clips[:, :, 0], uint8), labels

    def __getitem__(self, index: Indices) -> tuple[torch.Tensor, dict]:
        """One clip ``(C, T, H, W)`` for an int; a whole batch for a list of indices.

        Accepting lists lets a ``DataLoader`` with a ``BatchSampler`` and
        ``batch_size=None`` (see :meth:`loader`) fetch a batch in one vectorised call.
        """
        if np.ndim(index) == 0:
            clips, labels = self.batch([int(index)])
            return clips[0], {k: v[0] for k, v in labels.items()}
        return self.batch(index)

    def step_indices(self, step: int, batch_size: int) -> np.ndarray:
        """The clip indices of training step ``step``: consecutive, wrapping around."""
        return (step * batch_size + np.arange(batch_size)) % self.num_clips

    def clips_at(self, step: int, batch_size: int) -> torch.Tensor:
        """The float clip batch of step ``step`` (a ``batch_fn`` for the trainer)."""
        return self.batch(self.step_indices(step, batch_size))[0]

    def frames_at(self, step: int, batch_size: int) -> torch.Tensor:
        """The float frame batch of step ``step``, ``(N, C, H, W)``, cycling all frames."""
        total = self.num_clips * self.length
        return self.frames((step * batch_size + np.arange(batch_size)) % total)[0]

    def loader(self, batch_size: int, shuffle: bool = False, num_workers: int = 0,
               drop_last: bool = False, seed: int = 0) -> DataLoader:
        """A DataLoader that asks for whole batches (one vectorised call per batch)."""
        gen = torch.Generator().manual_seed(seed)
        base = RandomSampler(self, generator=gen) if shuffle else SequentialSampler(self)
        return DataLoader(self, batch_size=None, num_workers=num_workers,
                          sampler=BatchSampler(base, batch_size, drop_last))

    def _draw(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_clips={self.num_clips}, channels={self.channels}, "
                f"length={self.length}, size={self.size}, seed={self.seed})")


_PER_FRAME = ("positions", "velocities")


def _out(clips: np.ndarray, uint8: bool) -> torch.Tensor:
    return torch.from_numpy(clips) if uint8 else uint8_to_float(clips)


def _place_max(canvas: np.ndarray, tiles: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> None:
    """``canvas[i, y:y+s, x:x+s] = max(canvas, tile)`` for every i, in one indexing call.

    ``canvas`` ``(M, H, W)``; ``tiles`` ``(M, s, s)``. A strided view gives every
    canvas position's s x s window, so fancy indexing picks one window per row.
    """
    m, h, w = canvas.shape
    s = tiles.shape[-1]
    st = canvas.strides
    win = as_strided(canvas, (m, h - s + 1, w - s + 1, s, s), (st[0], st[1], st[2], st[1], st[2]))
    rows = np.arange(m)
    win[rows, ys, xs] = np.maximum(win[rows, ys, xs], tiles)


# ---------------------------------------------------------------- moving digits
class MovingDigits(SyntheticVideo):
    """Moving MNIST (Srivastava et al. 2015), generated: digits bouncing in a square.

    Defaults are the protocol's: ``size=64``, ``num_digits=2``, ``digit_size=28``,
    ``length=20``, speed 0.1 of the free range per frame. Positions are integer
    top-left corners, as in the protocol's code; the path is folded exactly at the
    walls (the original clamps, which differs by under one step at a bounce).

    ``glyphs``: ``"auto"`` (local MNIST if present, else generated), ``"mnist"``,
    ``"generated"``, ``"strokes"``, ``"fonts"`` (see :mod:`vgan_utils.glyphs`) or a
    :class:`~vgan_utils.glyphs.GlyphBank`. Labels: ``digits`` ``(N, K)``, ``glyphs``
    ``(N, K)`` (rows of :attr:`glyph_images`), ``positions``
    ``(N, T, K, 2)`` (x, y of the top-left pixel), ``velocities`` ``(N, T, K, 2)``
    (px/frame; signs flip at bounces) and ``present`` ``(N, 10)`` (which digits appear).
    """

    def __init__(self, num_clips: int = 10_000, size: int = 64, length: int = 20,
                 num_digits: int = 2, digit_size: int = 28, speed: float | None = None,
                 seed: int = 0, glyphs: str | GlyphBank = "auto", glyph_seed: int = 0,
                 data_root: str | None = None) -> None:
        super().__init__(num_clips, size, length, seed)
        if not 0 < digit_size <= size:
            raise ValueError(f"digit_size must be in (0, size={size}], got {digit_size}")
        self.num_digits, self.digit_size = num_digits, digit_size
        self.room = size - digit_size  # free range of the top-left corner
        self.speed = 0.1 * self.room if speed is None else float(speed)
        bank = glyphs if isinstance(glyphs, GlyphBank) else digit_glyphs(
            glyphs, size=digit_size, seed=glyph_seed, root=data_root)
        if bank.images.shape[-1] != digit_size:
            raise ValueError(f"glyphs are {bank.images.shape[-1]} px; digit_size={digit_size}")
        self.glyph_source = bank.source
        self.glyph_images = bank.images.numpy()
        self.glyph_labels = bank.labels.numpy()

    def trajectory(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Glyph ids ``(N, K)``, continuous top-left positions and velocities ``(N, T, K, 2)``."""
        k = self.num_digits
        u = hash_uniform(self.seed, idx, 4 * k).reshape(len(idx), k, 4)
        glyph = np.minimum((u[..., 0] * len(self.glyph_labels)).astype(np.int64),
                           len(self.glyph_labels) - 1)
        start = u[..., 1:3] * self.room  # (N, K, 2) as (x, y)
        theta = 2 * np.pi * u[..., 3]
        v = self.speed * np.stack([np.cos(theta), np.sin(theta)], -1)  # (N, K, 2)
        free = start[:, None] + v[:, None] * t[:, :, None, None]  # (N, T, K, 2)
        pos = bounce(free, 0.0, float(self.room))
        vel = v[:, None] * bounce_sign(free, 0.0, float(self.room))
        return glyph, pos, vel

    def render(self, glyphs: np.ndarray, pos: np.ndarray,
               visible: np.ndarray | None = None) -> np.ndarray:
        """uint8 clips ``(N, 1, T, size, size)`` of glyph ids ``(N, T, K)`` at top-left
        positions ``(N, T, K, 2)`` (floored, as the protocol casts); ``visible`` ``(N, T, K)``
        hides digits. Per-frame glyphs and visibility let notebook 07's anomalies
        (:mod:`vgan_utils.anomalies`) change a digit or add one mid-clip."""
        n, nt, k = pos.shape[:3]
        xy = np.minimum(pos.astype(np.int64), self.room)  # floor: the protocol's integer cast
        canvas = np.zeros((n * nt, self.size, self.size), dtype=np.uint8)
        for d in range(k):
            tiles = self.glyph_images[glyphs[:, :, d].reshape(-1)]
            if visible is not None:
                tiles = tiles * visible[:, :, d].reshape(-1, 1, 1).astype(np.uint8)
            _place_max(canvas, tiles, xy[:, :, d, 1].reshape(-1), xy[:, :, d, 0].reshape(-1))
        return canvas.reshape(n, 1, nt, self.size, self.size)

    def _draw(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict]:
        glyph, pos, vel = self.trajectory(idx, t)
        n, nt, k = pos.shape[:3]
        xy = np.minimum(pos.astype(np.int64), self.room)
        canvas = self.render(np.broadcast_to(glyph[:, None], (n, nt, k)), pos)
        digits = self.glyph_labels[glyph]
        present = np.zeros((n, 10), dtype=bool)
        present[np.arange(n)[:, None], digits] = True
        labels = {"digits": torch.from_numpy(digits), "glyphs": torch.from_numpy(glyph),
                  "positions": torch.from_numpy(xy),
                  "velocities": torch.from_numpy(vel.astype(np.float32)),
                  "present": torch.from_numpy(present)}
        return canvas, labels


# ---------------------------------------------------------------- bouncing balls
class BouncingBalls(SyntheticVideo):
    """Balls bouncing in a box, elastic collisions with walls and each other (Sutskever 2008).

    Each clip draws ``num_balls`` radii in ``radius`` (pixels), non-overlapping start
    positions and velocities of magnitude in ``speed`` (px/frame). The simulation takes
    ``substeps`` steps per frame; two balls that touch while approaching exchange
    momentum along the line between their centres (masses proportional to area),
    which conserves momentum and kinetic energy. Balls are drawn as Sutskever's
    soft discs ``exp(-(d^2/r^2)^4)``, overlaps by maximum.
    Labels: ``positions`` and ``velocities`` ``(N, T, K, 2)`` (x, y of the centre),
    ``radii`` ``(N, K)``, ``masses`` ``(N, K)``.
    """

    def __init__(self, num_clips: int = 10_000, size: int = 32, length: int = 20,
                 num_balls: int = 3, radius: tuple[float, float] = (3.0, 4.5),
                 speed: tuple[float, float] = (1.0, 2.0), substeps: int = 8,
                 seed: int = 0) -> None:
        super().__init__(num_clips, size, length, seed)
        if 2 * radius[1] * num_balls > size:
            raise ValueError(f"{num_balls} balls of radius up to {radius[1]} cannot fit "
                             f"side by side in a {size}x{size} box")
        self.num_balls, self.radius, self.speed, self.substeps = num_balls, radius, speed, substeps

    def initial_state(self, idx: np.ndarray) -> tuple[np.ndarray, ...]:
        """Radii ``(N, K)``, start centres and velocities ``(N, K, 2)``, from the clip's hash."""
        n, k, tries = len(idx), self.num_balls, 32
        u = hash_uniform(self.seed, idx, k * (3 + 2 * tries)).reshape(n, k, 3 + 2 * tries)
        r = self.radius[0] + (self.radius[1] - self.radius[0]) * u[..., 0]
        angle, speed = 2 * np.pi * u[..., 1], self.speed[0] + np.ptp(self.speed) * u[..., 2]
        vel = speed[..., None] * np.stack([np.cos(angle), np.sin(angle)], -1)
        cand = u[..., 3:].reshape(n, k, tries, 2)
        pos = np.zeros((n, k, 2))
        for b in range(k):  # rejection sampling, vectorised: the first candidate that fits
            c = r[:, b, None, None] + cand[:, b] * (self.size - 2 * r[:, b, None, None])
            ok = np.ones((n, tries), dtype=bool)
            for a in range(b):
                gap = np.linalg.norm(c - pos[:, None, a], axis=-1)
                ok &= gap > r[:, b, None] + r[:, a, None] + 0.5
            pos[:, b] = c[np.arange(n), np.argmax(ok, axis=1)]
        return r, pos, vel

    def simulate(self, idx: np.ndarray, frames: int) -> tuple[np.ndarray, ...]:
        """Radii, masses and the centres and velocities at each frame ``(N, frames, K, 2)``."""
        r, pos, vel = self.initial_state(idx)
        mass = r**2
        lo, hi = r[..., None], self.size - r[..., None]
        out_p, out_v = np.empty((len(idx), frames) + pos.shape[1:]), np.empty(
            (len(idx), frames) + pos.shape[1:])
        dt = 1.0 / self.substeps
        for f in range(frames):
            out_p[:, f], out_v[:, f] = pos, vel
            for _ in range(self.substeps):
                pos = pos + vel * dt
                hit_lo, hit_hi = pos < lo, pos > hi  # walls: reflect the overshoot
                pos = np.where(hit_lo, 2 * lo - pos, np.where(hit_hi, 2 * hi - pos, pos))
                vel = np.where(hit_lo | hit_hi, -vel, vel)
                vel = elastic_collision(pos, vel, r, mass)
        return r, mass, out_p, out_v

    def _draw(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict]:
        r, mass, pos, vel = self.simulate(idx, int(t.max()) + 1)
        n = len(idx)
        pos = pos[np.arange(n)[:, None], t]  # (N, T', K, 2)
        vel = vel[np.arange(n)[:, None], t]
        grid = np.arange(self.size, dtype=np.float32) + 0.5
        r2 = (r**2).astype(np.float32)[:, None, :, None]
        dx2 = (grid - pos[..., 0, None].astype(np.float32)) ** 2 / r2  # (N, T', K, W)
        dy2 = (grid - pos[..., 1, None].astype(np.float32)) ** 2 / r2
        d2 = dy2[..., :, None] + dx2[..., None, :]  # (N, T', K, H, W)
        img = np.exp(-(d2 * d2) ** 2).max(axis=2)
        clips = (img * 255 + 0.5).astype(np.uint8)[:, None]
        labels = {"positions": torch.from_numpy(pos.astype(np.float32)),
                  "velocities": torch.from_numpy(vel.astype(np.float32)),
                  "radii": torch.from_numpy(r.astype(np.float32)),
                  "masses": torch.from_numpy(mass.astype(np.float32))}
        return clips, labels


def elastic_collision(pos: np.ndarray, vel: np.ndarray, r: np.ndarray,
                      mass: np.ndarray) -> np.ndarray:
    """Elastic collisions of touching, approaching pairs: an impulse along the line of centres.

    For masses m1, m2 and normal n = x1 - x2: v1' = v1 - 2 m2/(m1+m2) <v1-v2, n>/|n|^2 n,
    and symmetrically for v2; momentum and kinetic energy are unchanged.
    """
    k = pos.shape[1]
    for a in range(k):
        for b in range(a + 1, k):
            nrm = pos[:, a] - pos[:, b]
            dist2 = (nrm**2).sum(-1)
            approach = ((vel[:, a] - vel[:, b]) * nrm).sum(-1)
            hit = (dist2 < (r[:, a] + r[:, b]) ** 2) & (approach < 0)
            if not hit.any():
                continue
            coef = np.where(hit, 2 * approach / (dist2 * (mass[:, a] + mass[:, b])), 0.0)
            vel = vel.copy()
            vel[:, a] -= (coef * mass[:, b])[:, None] * nrm
            vel[:, b] += (coef * mass[:, a])[:, None] * nrm
    return vel


# ---------------------------------------------------------------- coloured moving shapes
SHAPES = ("square", "disc", "triangle")
PALETTE = np.array([[230, 60, 50], [60, 180, 75], [60, 110, 230], [250, 200, 40],
                    [170, 80, 210], [40, 200, 210]], dtype=np.float32)
PALETTE_NAMES = ("red", "green", "blue", "yellow", "purple", "cyan")


class MovingShapes(SyntheticVideo):
    """Coloured squares, discs and triangles moving and bouncing; later shapes drawn on top.

    RGB (``channels = 3``). Each shape has a class (:data:`SHAPES`), a colour from
    :data:`PALETTE`, a half-size in ``half_size`` pixels, a random start and direction
    and a constant speed; edges are anti-aliased. Labels: ``shapes``, ``colours``
    ``(N, K)``, ``half_sizes`` ``(N, K)``, ``positions`` and ``velocities``
    ``(N, T, K, 2)`` (x, y of the centre).
    """

    channels = 3

    def __init__(self, num_clips: int = 10_000, size: int = 64, length: int = 20,
                 num_shapes: int = 2, half_size: tuple[float, float] = (6.0, 10.0),
                 speed: tuple[float, float] = (1.5, 3.5), seed: int = 0) -> None:
        super().__init__(num_clips, size, length, seed)
        if 2 * half_size[1] + 2 > size:
            raise ValueError(f"half_size up to {half_size[1]} does not fit a {size}px canvas")
        self.num_shapes, self.half_size, self.speed = num_shapes, half_size, speed
        self.tile = int(math.ceil(2 * half_size[1])) + 3  # window that holds any shape

    def trajectory(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Shape ids, colour ids, half-sizes ``(N, K)``; centres and velocities ``(N, T, K, 2)``."""
        k = self.num_shapes
        u = hash_uniform(self.seed, idx, 7 * k).reshape(len(idx), k, 7)
        shape = np.minimum((u[..., 0] * len(SHAPES)).astype(np.int64), len(SHAPES) - 1)
        colour = np.minimum((u[..., 1] * len(PALETTE)).astype(np.int64), len(PALETTE) - 1)
        half = self.half_size[0] + (self.half_size[1] - self.half_size[0]) * u[..., 2]
        lo, hi = half[..., None], self.size - half[..., None]
        start = lo + u[..., 3:5] * (hi - lo)
        theta = 2 * np.pi * u[..., 5]
        speed = self.speed[0] + (self.speed[1] - self.speed[0]) * u[..., 6]
        v = speed[..., None] * np.stack([np.cos(theta), np.sin(theta)], -1)
        free = start[:, None] + v[:, None] * t[:, :, None, None]
        pos = bounce(free, lo[:, None], hi[:, None])
        vel = v[:, None] * bounce_sign(free, lo[:, None], hi[:, None])
        return shape, colour, half, pos, vel

    def _draw(self, idx: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict]:
        shape, colour, half, pos, vel = self.trajectory(idx, t)
        n, nt, k = pos.shape[:3]
        s, w = self.size, self.tile
        canvas = np.zeros((n, 3, nt, s, s), dtype=np.uint8)
        sn, sc, st, sh, sw = canvas.strides  # windows: one w x w RGB tile per (clip, frame, y, x)
        win = as_strided(canvas, (n, nt, s - w + 1, s - w + 1, 3, w, w),
                         (sn, st, sh, sw, sc, sh, sw))
        ni, ti = np.repeat(np.arange(n), nt), np.tile(np.arange(nt), n)
        for d in range(k):
            c = pos[:, :, d].reshape(-1, 2)
            corner = np.clip(np.floor(c).astype(np.int64) - w // 2, 0, s - w)
            alpha = _coverage(shape[:, d], np.repeat(half[:, d], nt), c - corner, w, nt)
            rgb = np.repeat(PALETTE[colour[:, d]], nt, axis=0)[:, :, None, None]
            old = win[ni, ti, corner[:, 1], corner[:, 0]].astype(np.float32)  # (M, 3, w, w)
            new = old + alpha[:, None] * (rgb - old) + 0.5
            win[ni, ti, corner[:, 1], corner[:, 0]] = new.astype(np.uint8)
        labels = {"shapes": torch.from_numpy(shape), "colours": torch.from_numpy(colour),
                  "half_sizes": torch.from_numpy(half.astype(np.float32)),
                  "positions": torch.from_numpy(pos.astype(np.float32)),
                  "velocities": torch.from_numpy(vel.astype(np.float32))}
        return canvas, labels


def _coverage(shape: np.ndarray, half: np.ndarray, centre: np.ndarray, w: int,
              nt: int) -> np.ndarray:
    """Anti-aliased coverage ``(M, w, w)`` of each shape centred at ``centre`` in its tile.

    Coverage is ``clip(0.5 - sdf, 0, 1)`` with ``sdf`` the signed distance (in pixels,
    negative inside) to the shape's outline, a one-pixel soft edge.
    """
    g = np.arange(w, dtype=np.float32) + 0.5
    dx = g[None, None, :] - centre[:, 0, None, None].astype(np.float32)
    dy = g[None, :, None] - centre[:, 1, None, None].astype(np.float32)
    h = half.astype(np.float32)[:, None, None]
    kind = np.repeat(shape, nt)
    sdf = np.empty((len(kind), w, w), dtype=np.float32)
    for k in range(len(SHAPES)):  # each tile needs only its own shape's distance
        m = kind == k
        x, y, r = dx[m], dy[m], h[m]
        if k == 0:
            sdf[m] = np.maximum(np.abs(x), np.abs(y)) - r
        elif k == 1:
            sdf[m] = np.sqrt(x * x + y * y) - r
        else:  # equilateral triangle, apex up, inscribed in the circle of radius r
            c30 = np.float32(math.sqrt(3) / 2)
            sdf[m] = np.maximum(np.maximum(y, c30 * x - 0.5 * y), -c30 * x - 0.5 * y) - 0.5 * r
    return np.clip(0.5 - sdf, 0.0, 1.0)


def clips_per_second(dataset: SyntheticVideo, batch_size: int = 64, batches: int = 10,
                     repeats: int = 3, uint8: bool = False) -> float:
    """Generation speed: the best of ``repeats`` timings of ``batches`` vectorised batches.

    The best run is the least disturbed by other programs on a shared machine; one
    warm-up batch first keeps one-off costs (allocation, caches) out of the number.
    """
    import time

    dataset.batch(np.arange(batch_size) % len(dataset), uint8=uint8)
    best = 0.0
    for r in range(repeats):
        start = time.perf_counter()
        for b in range(batches):
            dataset.batch((np.arange(batch_size) + (r * batches + b) * batch_size)
                          % len(dataset), uint8=uint8)
        best = max(best, batches * batch_size / (time.perf_counter() - start))
    return best


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Resize frames (N, C, H, W) to (N, C, size, size); area averaging when shrinking.

    How 32x32 frames and clips are made from 64x64 Moving MNIST ones for the frame GANs, the
    clip GANs and the judges alike (area averaging keeps a thin stroke's ink).
    """
    if frames.shape[-1] == size and frames.shape[-2] == size:
        return frames
    mode = "area" if frames.shape[-1] > size else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(frames, size=(size, size), mode=mode, **kw)
