"""Redraw a moved frame on the pixel grid: the answer to the bilinear warp's blur.

``motion32`` (:class:`vgan_utils.video_nets.ContentMotionGenerator` with ``motion_to="flow"``)
moves one drawn frame with a smooth flow field, sampled bilinearly. A digit moved by a
fraction of a pixel comes out blended with its neighbours, and no real frame looks like that:
the moving-digit frames are drawn at 64x64 on whole pixels and area-averaged to 32x32, so at
32x32 a digit sits on a half-pixel grid, sharp. ``bench/README.md`` ("Where ``motion32``'s
frames lose their quality") measures it: a half-pixel bilinear shift takes a frame
generator's FD / floor from 38 to about 250.

:class:`GridSnap` is a small residual convolutional network that maps a bilinearly moved
frame to the frame drawn at the nearest position the data can hold. It is trained here by
supervision on real frames (:func:`snap_batch`, :func:`snap_loss`), not adversarially: a
real 64x64 frame moved by a random shift of whole 64x64 pixels and area-averaged gives every
target exactly, and the same frame area-averaged first and then moved bilinearly by the
in-between shift gives the input. Between two grid positions both neighbours are right, so
the loss takes the nearer of the candidates (per sample), which keeps the network from
averaging two sharp answers into a blurred one. Trained by ``python -m vgan_utils.snap``; a
clip recipe puts one after its warp with ``snap=PATH`` (``ContentMotionGenerator(snap=...)``).
Measured in ``bench/snap.py`` and raced in ``bench/README.md``; not yet taught in a notebook.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .checkpoint import load_checkpoint, save_checkpoint
from .judge import digit_frames
from .synthetic import resize_frames
from .video_nets import warp

DRAW_SIZE = 64  # the moving digits are drawn at 64x64 and area-averaged to 32x32
CLIP_LENGTH = 20  # frames per clip of the data judge.digit_frames draws (MovingDigits' default)
TRAIN_DATA = {"seed": 1, "glyph_seed": 0, "num_clips": 10_000,  # not the judges' real sets
              "glyphs": "auto"}  # (seed 0); the glyphs the GANs' training data draws


class GridSnap(nn.Module):
    """``(N, C, H, W)`` frames in ``[-1, 1]`` -> the same frames redrawn on the pixel grid.

    ``x + net(x)``, clamped to ``[-1, 1]`` (so the background can be exactly black, as real
    frames are); the last convolution starts at zero, so an untrained snap is the identity.
    ``depth`` 3x3 convolutions of ``width`` channels see ``2 * depth + 1`` pixels across.
    """

    def __init__(self, channels: int = 1, width: int = 32, depth: int = 4) -> None:
        super().__init__()
        if depth < 2 or width < 1:
            raise ValueError(f"GridSnap needs depth >= 2 and width >= 1, got {depth}, {width}")
        self.channels, self.width, self.depth = channels, width, depth
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"GridSnap takes frames (N, {self.channels}, H, W), "
                             f"got {tuple(x.shape)}")
        return (x + self.net(x)).clamp(-1.0, 1.0)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, width={self.width}, depth={self.depth}"


def save_snap(snap: GridSnap, path: str | Path, meta: dict | None = None) -> Path:
    """Write ``snap``'s config and weights (no pickled code), atomically."""
    config = {"channels": snap.channels, "width": snap.width, "depth": snap.depth}
    return save_checkpoint({"config": config, "state_dict": snap.state_dict(),
                            "meta": dict(meta or {})}, path)


def load_snap(path: str | Path) -> GridSnap:
    """A :class:`GridSnap` written by :func:`save_snap` (weights-only loadable), in eval mode."""
    state = load_checkpoint(path)
    snap = GridSnap(**state["config"])
    snap.load_state_dict(state["state_dict"])
    return snap.eval()


def shift_frames(frames: Tensor, pixels: Tensor) -> Tensor:
    """Frames ``(N, C, H, W)`` moved by ``pixels`` ``(N, 2)`` (x, y; in pixels of this size),
    bilinearly, black coming in: content moves by ``+pixels``. Whole pixels move exactly."""
    n, _, h, w = frames.shape
    flow = -pixels * torch.tensor([2 / w, 2 / h], dtype=frames.dtype)  # warp samples p + flow
    flows = flow[:, None, None, None, :].expand(n, 1, h, w, 2)
    return warp(frames, flows)[:, :, 0]


def snap_batch(frames64: Tensor, max_shift: float, generator: torch.Generator
               ) -> tuple[Tensor, Tensor]:
    """Inputs ``(N, C, 32, 32)`` and their four candidate targets ``(N, 4, C, 32, 32)``.

    Each real 64x64 frame gets a shift ``s`` (32x32 pixels, uniform in ``+-max_shift`` per
    axis). Input: the 32x32 frame moved bilinearly by ``s``. Targets: the 64x64 frame moved by
    ``floor(2 s)`` or ``ceil(2 s)`` whole 64x64 pixels on each axis, then area-averaged: the
    frames the data would draw at the grid positions on either side of ``s``.
    """
    n = frames64.shape[0]
    s = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_shift
    inputs = shift_frames(resize_frames(frames64, DRAW_SIZE // 2), s)
    lo, hi = torch.floor(2 * s), torch.ceil(2 * s)
    corners = [torch.stack([ax, ay], 1)
               for ax in (lo[:, 0], hi[:, 0]) for ay in (lo[:, 1], hi[:, 1])]
    targets = torch.stack([resize_frames(shift_frames(frames64, c), DRAW_SIZE // 2)
                           for c in corners], dim=1)
    return inputs, targets


def snap_loss(out: Tensor, targets: Tensor) -> Tensor:
    """Mean over samples of the squared error to the nearest candidate target."""
    err = (out[:, None] - targets).pow(2).flatten(2).mean(dim=2)  # (N, candidates)
    return err.min(dim=1).values.mean()


def real_frames64(n: int, seed: int) -> Tensor:
    """``n`` real 64x64 moving-digit frames from :data:`TRAIN_DATA`, seeded."""
    idx = np.random.default_rng(seed).integers(0, TRAIN_DATA["num_clips"] * CLIP_LENGTH, n)
    return digit_frames(DRAW_SIZE, idx, **TRAIN_DATA)[0]


def train_snap(frames64: Tensor, steps: int, batch_size: int = 64, lr: float = 1e-3,
               max_shift: float = 4.0, width: int = 32, depth: int = 4, seed: int = 0,
               log_every: int = 200) -> tuple[GridSnap, list[dict]]:
    """Train a :class:`GridSnap` on 64x64 frames ``(N, C, 64, 64)`` for ``steps`` Adam steps."""
    if frames64.dim() != 4 or frames64.shape[-2:] != (DRAW_SIZE, DRAW_SIZE):
        raise ValueError(f"train_snap needs 64x64 frames (N, C, 64, 64), drawn before the "
                         f"area-averaging to 32x32; got {tuple(frames64.shape)}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    pool = frames64.shape[0]
    snap, history = GridSnap(frames64.shape[1], width, depth), []
    opt = torch.optim.Adam(snap.parameters(), lr=lr)
    for step in range(1, steps + 1):
        pick = torch.randint(0, pool, (batch_size,), generator=gen)
        x, targets = snap_batch(frames64[pick], max_shift, gen)
        loss = snap_loss(snap(x), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            history.append({"step": step, "loss": loss.item()})
            print(f"step {step}/{steps} | loss {loss.item():.5f}", flush=True)
    return snap.eval(), history


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--pool", type=int, default=20_000, help="real frames to draw batches from")
    p.add_argument("--width", type=int, default=32, help="channels of each convolution")
    p.add_argument("--depth", type=int, default=4, help="3x3 convolutions")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("data/snap32.pt"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    snap, history = train_snap(real_frames64(args.pool, seed=0), args.steps,
                               width=args.width, depth=args.depth)
    words = sys.argv[1:] if argv is None else argv
    meta = {"command": "python -m vgan_utils.snap " + " ".join(words),
            "history": history, "seconds": time.perf_counter() - start}
    save_snap(snap, args.out, meta)
    print(f"wrote {args.out} ({meta['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
