"""Moving-digit clips with one unusual event: the test set of notebook 07's anomaly scores.

Normal clips are Moving MNIST (:class:`vgan_utils.synthetic.MovingDigits`): two digits that
move at constant speed and bounce off the walls. Each anomalous clip is the same clip with
one event at an onset frame ``t0`` (drawn per clip in ``onset``), to the first digit:

* ``teleport`` -- it jumps half the free range along each axis, then moves on as before;
* ``freeze`` -- it stops where it is;
* ``reverse`` -- it turns back (retraces its path) while no wall is near: no bounce within
  two frames of ``t0`` (among the onset frames; if a clip has no such frame, the first);
* ``identity`` -- it becomes another digit (a glyph of another class), same place and motion;
* ``third_digit`` -- a third digit, with a path of its own, appears.

Everything is a pure function of ``(dataset seed, clip index, kind)``, like the dataset
itself, and drawn at the dataset's size (64x64: resize with
:func:`vgan_utils.video_judge.resize_clips`). Taught in
``notebooks/07_video_analysis.ipynb`` (section 2).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .synthetic import MovingDigits, bounce, hash_uniform
from .video_io import uint8_to_float

ANOMALIES = ("teleport", "freeze", "reverse", "identity", "third_digit")
_STREAM = 7919  # hash stream of the anomalies' random choices, apart from the dataset's


def _onsets(onset: tuple[int, int], u: np.ndarray) -> np.ndarray:
    """Onset frames uniform in ``onset`` (first, last) from uniforms ``u`` (N,)."""
    lo, hi = onset
    return lo + np.minimum((u * (hi - lo + 1)).astype(np.int64), hi - lo)


def _reverse_onsets(data: MovingDigits, idx: np.ndarray, onset: tuple[int, int],
                    u: np.ndarray) -> np.ndarray:
    """Per clip, a random onset in ``onset`` with no bounce of digit 0 within 2 frames."""
    lo, hi = onset
    t = np.arange(lo - 2, hi + 3)
    vel = data.trajectory(idx, np.broadcast_to(t, (len(idx), len(t))))[2]  # (N, len(t), K, 2)
    sign = np.sign(vel[:, :, 0])  # digit 0's (N, len(t), 2): a bounce flips one component
    calm = np.stack([(sign[:, i:i + 5] == sign[:, i:i + 1]).all(axis=(1, 2))
                     for i in range(hi - lo + 1)], axis=1)  # (N, onsets)
    start = _onsets(onset, u) - lo
    out = np.empty(len(idx), dtype=np.int64)
    for i in range(len(idx)):  # the first calm onset at or after the drawn one, cyclically
        order = np.roll(np.arange(hi - lo + 1), -start[i])
        ok = order[calm[i, order]]
        out[i] = lo + (ok[0] if len(ok) else 0)
    return out


def anomalous_clips(data: MovingDigits, indices: np.ndarray, kind: str,
                    onset: tuple[int, int] | None = None) -> tuple[Tensor, Tensor]:
    """Clips ``(N, 1, T, S, S)`` in [-1, 1] of ``data`` with anomaly ``kind``; onsets ``(N,)``.

    ``onset`` (first, last) bounds the frame where the event happens; by default the middle
    half of the clip. ``kind="normal"`` returns the dataset's own clips (onsets -1).
    """
    if kind != "normal" and kind not in ANOMALIES:
        raise ValueError(f"unknown anomaly {kind!r}; valid kinds: normal, {', '.join(ANOMALIES)}")
    if not isinstance(data, MovingDigits) or data.num_digits < 1:
        raise ValueError("anomalous_clips needs a MovingDigits dataset with >= 1 digit")
    idx = data._check(indices)
    t_len = data.length
    onset = onset or (t_len // 4, (3 * t_len) // 4)
    if not 2 <= onset[0] <= onset[1] <= t_len - 3:
        raise ValueError(f"onset must satisfy 2 <= first <= last <= T - 3 = {t_len - 3}; "
                         f"got {onset}")
    n, t = len(idx), np.broadcast_to(np.arange(t_len), (len(idx), t_len))
    glyph, pos, vel = data.trajectory(idx, t)
    if kind == "normal":
        return data.batch(idx)[0], torch.full((n,), -1)
    u = hash_uniform(data.seed, idx, 8, stream=_STREAM + ANOMALIES.index(kind))
    t0 = (_reverse_onsets(data, idx, onset, u[:, 0]) if kind == "reverse"
          else _onsets(onset, u[:, 0]))
    after = np.arange(t_len)[None] >= t0[:, None]  # (N, T)
    glyphs = np.repeat(glyph[:, None], t_len, axis=1)  # (N, T, K)
    visible = None
    room = float(data.room)
    rows = np.arange(n)
    if kind == "teleport":
        p0, v0 = pos[rows, t0, 0], vel[rows, t0, 0]  # (N, 2)
        jumped = (p0 + room / 2) % room
        path = bounce(jumped[:, None] + v0[:, None] * (t - t0[:, None])[..., None], 0.0, room)
        pos[:, :, 0] = np.where(after[..., None], path, pos[:, :, 0])
    elif kind == "freeze":
        pos[:, :, 0] = np.where(after[..., None], pos[rows, t0, 0][:, None], pos[:, :, 0])
    elif kind == "reverse":
        back = data.trajectory(idx, 2 * t0[:, None] - t)[1]  # the path run backwards
        pos[:, :, 0] = np.where(after[..., None], back[:, :, 0], pos[:, :, 0])
    elif kind == "identity":
        labels = data.glyph_labels
        choice = (u[:, 1] * len(labels)).astype(np.int64) % len(labels)
        for i in range(n):  # the next glyph (cyclically) from a random start of another class
            order = np.roll(np.arange(len(labels)), -choice[i])
            other = order[labels[order] != labels[glyph[i, 0]]][0]
            glyphs[i, after[i], 0] = other
    else:  # third_digit: a digit with its own start and direction, drawn from t0 on
        new_glyph = np.minimum((u[:, 1] * len(data.glyph_labels)).astype(np.int64),
                               len(data.glyph_labels) - 1)
        start = u[:, 2:4] * room
        theta = 2 * np.pi * u[:, 4]
        v = data.speed * np.stack([np.cos(theta), np.sin(theta)], -1)
        path = bounce(start[:, None] + v[:, None] * t[..., None], 0.0, room)  # (N, T, 2)
        pos = np.concatenate([pos, path[:, :, None]], axis=2)
        glyphs = np.concatenate([glyphs, np.repeat(new_glyph[:, None, None], t_len, 1)], 2)
        visible = np.concatenate([np.ones((n, t_len, glyph.shape[1]), bool),
                                  after[..., None]], axis=2)
    clips = uint8_to_float(data.render(glyphs, pos, visible))
    return clips, torch.from_numpy(t0)
