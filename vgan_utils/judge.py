"""A judge for generated frames: a small CNN that says which digits a frame shows.

The Fréchet distance needs a feature space in which "looks like the data" is near and
"does not" is far. FID (Heusel et al. 2017) borrows Inception-v3, trained on ImageNet; FVD
(Unterthiner et al. 2018) borrows an I3D action-recognition network. Neither has seen our
moving digits, and neither is a download we want in a notebook, so the course trains its
own judge on labelled synthetic frames: a multi-label classifier over the 10 digits (a
Moving MNIST frame shows two digits, sometimes the same one twice). Its penultimate layer
gives the features for FD; its per-digit probabilities give the confident share and the
digit coverage of :mod:`vgan_utils.metrics`.

Sizes: one checkpoint per frame size (``data/judge_frames32.pt``, ``data/judge_frames64.pt``),
made by ``python -m vgan_utils.judge --size 32`` (or ``--size 64``), so each judge sees
frames at the resolution the generator makes them, artefacts included (a 32x32 judge fed
area-downsampled 64x64 frames would average away a two-pixel checkerboard). A judge
refuses frames of another size rather than measure the wrong thing (resize with
:func:`resize_frames` first if that is what you mean). 32x32 frames are Moving MNIST
frames (64x64) area-downsampled, as the 32x32 frame GANs of :mod:`vgan_utils.train` see them.

Taught in ``notebooks/04_training_on_frames.ipynb``.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import load_checkpoint, save_checkpoint
from .synthetic import MovingDigits, resize_frames

NUM_DIGITS = 10
STAGE_SIZE = 32  # larger frames pass through stride-2 stems down to this size first
# Which moving-digit clips the judge learns from and is tested on. The frame GANs train on
# clip seed 0 (vgan_utils.train); the judge sees the same glyph bank (glyph seed 0) in other
# clips, and is tested on unseen clips and on unseen glyphs (glyph seed 1).
TRAIN_DATA = {"seed": 1, "glyph_seed": 0}
HELD_OUT = {"unseen_clips": {"seed": 2, "glyph_seed": 0},
            "unseen_glyphs": {"seed": 3, "glyph_seed": 1}}
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class JudgeConfig:
    """Everything needed to rebuild a judge from its checkpoint."""

    size: int = 32
    channels: int = 1
    width: int = 32
    feature_dim: int = 64


class Judge(nn.Module):
    """VGG-style stages (conv, batch norm, ReLU, 2x2 max pool) down to 4x4, a global max pool,
    penultimate features, then 10 presence logits.

    Max pooling, down the stages and at the end, suits a presence question: "is there a 7
    anywhere?" is a maximum over places. (A stride-2-convolution version with average
    pooling learned several times slower here.) Frames larger than 32x32 first pass through
    a learned stride-2 stem (4x4 kernels, so every pixel is seen) per doubling: a 64x64
    judge costs little more than a 32x32 one yet still sees 64x64 detail. Input: frames
    (N, C, size, size) in [-1, 1], the generator's ``tanh`` range.
    """

    def __init__(self, config: JudgeConfig = JudgeConfig()):
        super().__init__()
        if config.size < 8 or config.size & (config.size - 1):
            raise ValueError(f"judge size must be a power of two >= 8, got {config.size}")
        self.config = config
        layers: list[nn.Module] = []
        c_in, size = config.channels, config.size
        while size > STAGE_SIZE:  # a learned stride-2 stem per doubling above 32x32
            layers += [nn.Conv2d(c_in, config.width, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(config.width), nn.ReLU()]
            c_in, size = config.width, size // 2
        for i in range(int(math.log2(size)) - 2):  # halve the size down to 4x4
            c_out = min(config.width * 2**i, 4 * config.width)
            layers += [*_conv_block(c_in, c_out), nn.MaxPool2d(2)]
            c_in = c_out
        layers += [*_conv_block(c_in, c_in), nn.AdaptiveMaxPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.neck = nn.Sequential(nn.Linear(c_in, config.feature_dim), nn.ReLU())
        self.head = nn.Linear(config.feature_dim, NUM_DIGITS)
        # Start at the prior (about 2 of 10 digits present) instead of spending steps on it.
        nn.init.constant_(self.head.bias, math.log(0.2 / 0.8))

    def _check(self, x: Tensor) -> None:
        c, s = self.config.channels, self.config.size
        if x.ndim != 4 or x.shape[1] != c or x.shape[-2:] != (s, s):
            raise ValueError(
                f"this judge takes frames (N, {c}, {s}, {s}); got {tuple(x.shape)}. "
                f"Use the judge for that size, or resize_frames(frames, {s})."
            )

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (N, feature_dim): the space the Fréchet distance is taken in."""
        self._check(x)
        return self.neck(self.body(x))

    def forward(self, x: Tensor) -> Tensor:
        """Per-digit presence logits (N, 10)."""
        return self.head(self.features(x))


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


@torch.no_grad()
def judge_outputs(judge: Judge, frames: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Features (N, D) and per-digit probabilities (N, 10) of many frames, in eval mode, on CPU.

    Batched so a few thousand 64x64 frames fit in memory; the judge runs on its own device.
    """
    was_training = judge.training
    judge.eval()
    device = next(judge.parameters()).device
    feats, probs = [], []
    for chunk in frames.split(batch_size):
        f = judge.features(chunk.to(device, torch.float32))
        feats.append(f.cpu())
        probs.append(torch.sigmoid(judge.head(f)).cpu())
    judge.train(was_training)
    return torch.cat(feats), torch.cat(probs)


def multi_hot(digits: Tensor) -> Tensor:
    """Digit labels (N, k) of the k digits in each frame -> presence targets (N, 10) in {0, 1}."""
    target = torch.zeros(digits.shape[0], NUM_DIGITS)
    return target.scatter_(1, digits.long(), 1.0)


# --------------------------------------------------------------------------------------------
# Checkpoints: weights and config only, loadable with weights_only=True


def save_judge(judge: Judge, path: str | Path, meta: dict | None = None) -> Path:
    """Write the judge's config and weights (no pickled code) to ``path``, atomically."""
    payload = {"config": asdict(judge.config), "state_dict": judge.state_dict(),
               "meta": dict(meta or {})}
    return save_checkpoint(payload, path)


def load_judge(path: str | Path | None = None, size: int = 32, device: str = "cpu") -> Judge:
    """Load a judge in eval mode; ``path`` defaults to ``data/judge_frames{size}.pt``.

    Loading goes through ``torch.load(weights_only=True)``: a file that would need to run
    code raises :class:`vgan_utils.checkpoint.CheckpointError`.
    """
    path = Path(path) if path is not None else default_path(size)
    if not path.exists():
        raise FileNotFoundError(
            f"no judge checkpoint at {path}; make it with "
            f"`python -m vgan_utils.judge --size {size} --out {path}`"
        )
    payload = load_checkpoint(path, map_location=device)
    judge = Judge(JudgeConfig(**payload["config"]))
    judge.load_state_dict(payload["state_dict"])
    judge.meta = payload.get("meta", {})
    return judge.to(device).eval()


def default_path(size: int) -> Path:
    """Where the shipped judge for ``size`` x ``size`` frames lives."""
    return DATA_DIR / f"judge_frames{size}.pt"


# --------------------------------------------------------------------------------------------
# Training and held-out evaluation


def train_judge(
    judge: Judge,
    batch_fn,
    steps: int,
    lr: float = 2e-3,
    seed: int = 0,
    log_every: int = 0,
) -> list[float]:
    """Train ``judge`` for ``steps`` Adam steps on ``batch_fn(step) -> (frames, targets)``.

    Targets are multi-hot (N, 10); the loss is per-digit binary cross-entropy on logits,
    because presence of one digit says nothing about another. The learning rate decays
    with a cosine to zero, so the last steps settle instead of bouncing. Returns the losses.
    """
    torch.manual_seed(seed)
    device = next(judge.parameters()).device
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    judge.train()
    losses = []
    for step in range(steps):
        frames, targets = batch_fn(step)
        logits = judge(frames.to(device))
        loss = F.binary_cross_entropy_with_logits(logits, targets.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}/{steps}  loss {sum(losses[-log_every:]) / log_every:.4f}",
                  flush=True)
    judge.eval()
    return losses


def evaluate_judge(judge: Judge, frames: Tensor, targets: Tensor) -> dict[str, object]:
    """Held-out accuracy: per digit (presence right, (10,)), mean over digits, exact set.

    "Exact set" counts a frame right only if all 10 presence calls are right: the digits
    it names are exactly the digits shown.
    """
    _, probs = judge_outputs(judge, frames)
    correct = (probs > 0.5) == targets.bool()
    per_digit = correct.float().mean(dim=0)
    return {
        "per_digit": [round(float(a), 4) for a in per_digit],
        "mean_digit": float(per_digit.mean()),
        "exact_set": float(correct.all(dim=1).float().mean()),
        "n": int(frames.shape[0]),
    }


# --------------------------------------------------------------------------------------------
# Labelled moving-digit frames, and the command that makes the shipped judges


def digit_frames(size: int, indices: np.ndarray, seed: int, glyph_seed: int = 0,
                 num_clips: int = 10_000, glyphs: str = "generated") -> tuple[Tensor, Tensor]:
    """Moving-digit frames at ``size`` (drawn at 64x64, area-resized) and multi-hot targets.

    Frames come from :class:`vgan_utils.synthetic.MovingDigits` (the Moving MNIST protocol),
    frame ``j`` of its frame view (see ``MovingDigits.frames``): deterministic by seed and index.
    ``glyphs`` defaults to the generated digits, so the judge's command makes the same judge
    on every machine, local MNIST copy or not.
    """
    data = _moving_digits(num_clips, seed, glyph_seed, glyphs)
    frames, labels = data.frames(np.asarray(indices) % (num_clips * data.length))
    return resize_frames(frames, size), labels["present"].float()


@functools.lru_cache(maxsize=4)
def _moving_digits(num_clips: int, seed: int, glyph_seed: int, glyphs: str):
    """One dataset object per (clips, seeds, glyphs): building the glyph bank takes seconds."""

    return MovingDigits(num_clips=num_clips, size=64, seed=seed, glyph_seed=glyph_seed,
                        glyphs=glyphs)


def held_out_accuracy(judge: Judge, n: int = 4000) -> dict[str, dict[str, object]]:
    """Accuracy on ``n`` frames of unseen clips and ``n`` frames with unseen glyphs."""
    idx = np.arange(n)
    return {name: evaluate_judge(judge, *digit_frames(judge.config.size, idx, **data))
            for name, data in HELD_OUT.items()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of ``python -m vgan_utils.judge``."""
    p = argparse.ArgumentParser(prog="python -m vgan_utils.judge",
                                description="Train the frame judge and write its checkpoint.")
    p.add_argument("--size", type=int, default=32, help="frame size: 32 or 64")
    p.add_argument("--out", type=Path, default=None, help="default: data/judge_frames{size}.pt")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=JudgeConfig.width)
    p.add_argument("--eval", type=int, default=4000, help="held-out frames per test set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice; 1 is far faster on a busy CPU)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train a judge on labelled moving-digit frames, test it on held-out frames, save it."""
    args = parse_args(argv)
    out = args.out or default_path(args.size)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    judge = Judge(JudgeConfig(size=args.size, width=args.width))

    def batch_fn(step: int) -> tuple[Tensor, Tensor]:
        return digit_frames(args.size, step * args.batch + np.arange(args.batch), **TRAIN_DATA)

    batch_fn(0)  # build the glyph bank before the clock starts
    start = time.perf_counter()
    train_judge(judge, batch_fn, args.steps, lr=args.lr, seed=args.seed,
                log_every=max(args.steps // 10, 1))
    seconds = time.perf_counter() - start
    acc = held_out_accuracy(judge, args.eval)
    for name, a in acc.items():
        print(f"held-out {name}: exact set {a['exact_set']:.4f}, mean per digit "
              f"{a['mean_digit']:.4f}, per digit {a['per_digit']}")
    meta = {"held_out": acc, "train_seconds": round(seconds, 1), "steps": args.steps,
            "batch": args.batch, "lr": args.lr, "seed": args.seed,
            "torch": str(torch.__version__),  # a plain str: TorchVersion fails weights_only
            "command": f"python -m vgan_utils.judge --size {args.size} --steps {args.steps} "
                       f"--width {args.width} --threads {torch.get_num_threads()}"}
    save_judge(judge, out, meta)
    load_judge(out)  # fails here, not in a notebook, if anything in it needs unpickling
    print(f"trained in {seconds:.0f} s on {torch.get_num_threads()} threads; wrote {out} "
          f"({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
