"""A judge for generated clips: a small 3-D CNN that says which digits move, and which way.

The frame judge of :mod:`vgan_utils.judge` sees one frame at a time, so it cannot tell a
clip of smoothly moving digits from a clip whose frames flicker between unrelated digits.
FVD (Unterthiner et al. 2018, "Towards Accurate Generative Models of Video: A New Metric &
Challenges") solves this with the features of I3D, an action-recognition network trained on
Kinetics; like FID (Heusel et al. 2017) it then takes the Fréchet distance between Gaussians
fitted to real and generated features. I3D has never seen moving digits and is a large
download, so the course trains its own small video judge on the labels that the synthetic
Moving MNIST clips (:class:`vgan_utils.synthetic.MovingDigits`) come with:

* **digits present** -- multi-label over the 10 digits (a clip shows two digits, sometimes
  the same one twice), per-digit binary cross-entropy, as the frame judge;
* **direction of motion** -- each digit's velocity at each step, quantised to its dominant
  compass direction (:data:`MOTION_CLASSES`: right, down, left, up; image y grows downwards),
  summarised per clip as the *share* of (digit, step) pairs moving each way: a 4-bin
  histogram, learned with a soft-target cross-entropy. A histogram rather than "the
  direction of digit 1": the two digits have no natural order, and digits bounce off the
  walls (a bounce flips one velocity component), so a single direction per digit is not
  defined for a whole clip, while the histogram is.

The network (:class:`VideoJudge`) sees each frame beside its difference to the next, then
splits into an appearance branch (per-frame convolutions) and a motion branch (3x3x3
spatio-temporal convolutions); its penultimate features are a linear map of both, so a
clip-level Fréchet distance on them (see :mod:`vgan_utils.video_quality`) sees flicker and
frozen clips as well as bad digits. The numbers are NOT comparable with I3D-based FVD:
another network, other features, other data.

The shipped judge (2000 steps of 16 clips, 327 s on one thread of this busy 2-core machine;
0.63 MB), on 1000 held-out 16-frame clips: digits -- exact set 0.90 (unseen clips) and 0.89
(unseen glyphs), 0.99 per digit; main direction of motion 0.66 and 0.72 (chance 0.29), mean
share error 0.09 (guessing 1/4 each: 0.16). On 8-frame clips: exact set 0.86, main
direction 0.79-0.80 (fewer bounces). Motion is the weaker head; the features still separate
flickering and frozen clips from real ones by far (see notebook 05). ``judge.meta`` holds
these figures for the checkpoint at hand.

Sizes and conventions. The shipped judge (``data/judge_clips32.pt``, made by
``python -m vgan_utils.video_judge --out data/judge_clips32.pt``) takes clips
``(N, 1, T, 32, 32)`` in ``[-1, 1]``: Moving MNIST clips drawn at 64x64 and area-downsampled
frame by frame (:func:`resize_clips`), as the frame judge and the 32x32 GANs do. Clips of
another size are refused with a hint: resize 64x64 clips with :func:`resize_clips` first. It is
trained on 16-frame clips (the ``cpu`` and ``gpu`` profiles' length) and, one step in two, on
their first 8 frames (the ``ci`` profile's length); global pooling over time lets it read any
length >= :attr:`VideoJudgeConfig.min_length`, but FDs at different lengths are different
numbers -- compare generated and real clips of the same length only. ``--size 64`` trains a
judge for 64x64 clips (one more per-frame stage; about 4x the time); it is not shipped, and
64x64 clips are measured area-downsampled to 32x32 instead.

Taught in ``notebooks/05_frames_to_clips.ipynb``.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import load_checkpoint, save_checkpoint
from .judge import DATA_DIR, HELD_OUT, NUM_DIGITS, TRAIN_DATA
from .synthetic import resize_frames

MOTION_CLASSES = ("right", "down", "left", "up")
NUM_MOTIONS = len(MOTION_CLASSES)
TRAIN_LENGTHS = (16, 8)  # the cpu/gpu and the ci profiles' clip lengths, alternating by step
DRAW_SIZE = 64  # clips are drawn at the Moving MNIST protocol's size, then area-downsampled
MOTION_WEIGHT = 1.0  # weight of the motion loss beside the digit loss (see judge_loss)


@dataclass(frozen=True)
class VideoJudgeConfig:
    """Everything needed to rebuild a video judge from its checkpoint."""

    size: int = 32
    channels: int = 1
    width: int = 16
    feature_dim: int = 64
    min_length: int = 4


def _block(c_in: int, c_out: int, kernel: tuple[int, int, int],
           stride: tuple[int, int, int]) -> list[nn.Module]:
    """Conv3d (padding keeps 'same' size before the stride) + BatchNorm + ReLU."""
    pad = tuple(k // 2 for k in kernel)
    return [nn.Conv3d(c_in, c_out, kernel, stride, pad, bias=False), nn.BatchNorm3d(c_out),
            nn.ReLU()]


class VideoJudge(nn.Module):
    """A shared per-frame stem, then an appearance branch and a motion branch, two heads.

    * shared: frames and their differences (:func:`with_differences`) through per-frame
      (1x3x3) stride-2 convolutions down to 8x8 -- thin strokes and motion edges;
    * appearance: two more per-frame convolutions (to 4x4), pooled over space and time --
      what the frames show, whatever their order;
    * motion: two spatio-temporal 3x3x3 convolutions (8x8, then 4x4 and half the frames),
      pooled -- how the content moves.

    Separate branches because in trial runs one shared trunk traded one task for the other
    (digits learned, motion near chance, or the reverse). The features are a linear map of
    both pooled branches, so the clip FD sees bad digits, flicker and frozen clips alike.
    Input: clips ``(N, C, T, size, size)`` in ``[-1, 1]``, ``T >= min_length``.
    """

    def __init__(self, config: VideoJudgeConfig = VideoJudgeConfig()):
        super().__init__()
        if config.size < 8 or config.size & (config.size - 1):
            raise ValueError(f"video judge size must be a power of two >= 8, got {config.size}")
        self.config = config
        w = config.width
        shared = _block(2 * config.channels, w, (1, 3, 3), (1, 2, 2))  # frames + differences
        c_in, size = w, config.size // 2
        while size > 8:  # per-frame stride-2 stages down to 8x8
            shared += _block(c_in, 2 * w, (1, 3, 3), (1, 2, 2))
            c_in, size = 2 * w, size // 2
        self.shared = nn.Sequential(*shared)
        pool = [nn.AdaptiveAvgPool3d(1), nn.Flatten()]
        self.appearance = nn.Sequential(*_block(c_in, 4 * w, (1, 3, 3), (1, 2, 2)),
                                        *_block(4 * w, 4 * w, (1, 3, 3), (1, 1, 1)), *pool)
        self.motion = nn.Sequential(*_block(c_in, 2 * w, (3, 3, 3), (1, 1, 1)),
                                    *_block(2 * w, 4 * w, (3, 3, 3), (2, 2, 2)), *pool)
        # A linear neck: no ReLU, so the features have no point mass at 0 and are closer to
        # the Gaussian that the Fréchet distance fits (it also trained faster in trials).
        self.neck = nn.Linear(8 * w, config.feature_dim)
        self.digit_head = nn.Linear(config.feature_dim, NUM_DIGITS)
        self.motion_head = nn.Linear(config.feature_dim, NUM_MOTIONS)

    def _check(self, x: Tensor) -> None:
        c, s, m = self.config.channels, self.config.size, self.config.min_length
        if x.ndim != 5 or x.shape[1] != c or x.shape[-2:] != (s, s) or x.shape[2] < m:
            raise ValueError(
                f"this video judge takes clips (N, {c}, T>={m}, {s}, {s}); got "
                f"{tuple(x.shape)}. Resize with resize_clips(clips, {s}); a single frame "
                f"(N, C, H, W) belongs to the frame judge (vgan_utils.judge)."
            )

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (N, feature_dim): the space the clip-level FD is taken in."""
        self._check(x)
        h = self.shared(with_differences(x))
        return self.neck(torch.cat([self.appearance(h), self.motion(h)], dim=1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Digit-presence logits (N, 10) and motion-direction logits (N, 4)."""
        f = self.features(x)
        return self.digit_head(f), self.motion_head(f)


def with_differences(clips: Tensor) -> Tensor:
    """Clips (N, C, T, H, W) -> (N, 2C, T, H, W): each frame beside its change to the next.

    The frame difference ``x[t+1] - x[t]`` (zero after the last frame) is the temporal stream
    of two-stream action recognition (Simonyan & Zisserman 2014) at its cheapest: a digit
    moving right leaves a negative edge behind it and a positive one ahead, so the first
    per-frame layer can read motion that the shared layers otherwise learn slowly; in trials
    without it the motion head barely beat guessing once the digit head was learned.
    """
    diff = torch.zeros_like(clips)
    diff[:, :, :-1] = clips[:, :, 1:] - clips[:, :, :-1]
    return torch.cat([clips, diff], dim=1)


def resize_clips(clips: Tensor, size: int) -> Tensor:
    """Resize clips (N, C, T, H, W) to (N, C, T, size, size) frame by frame (area when shrinking).

    The same convention as :func:`vgan_utils.judge.resize_frames`, so a 64x64 clip and its
    frames reach both judges the way their training data did.
    """
    if clips.ndim != 5:
        raise ValueError(f"clips must be (N, C, T, H, W), got shape {tuple(clips.shape)}")
    n, c, t, h, w = clips.shape
    if (h, w) == (size, size):
        return clips
    frames = clips.transpose(1, 2).reshape(n * t, c, h, w)
    return resize_frames(frames, size).reshape(n, t, c, size, size).transpose(1, 2)


@torch.no_grad()
def video_judge_outputs(judge: VideoJudge, clips: Tensor,
                        batch_size: int = 64) -> tuple[Tensor, Tensor, Tensor]:
    """Features (N, D), digit probabilities (N, 10) and motion shares (N, 4), on CPU.

    Batched and in eval mode (BatchNorm uses its running statistics, so a clip's features do
    not depend on the other clips in its batch); the judge runs on its own device.
    """
    was_training = judge.training
    judge.eval()
    device = next(judge.parameters()).device
    feats, digits, motion = [], [], []
    for chunk in clips.split(batch_size):
        f = judge.features(chunk.to(device, torch.float32))
        feats.append(f.cpu())
        digits.append(torch.sigmoid(judge.digit_head(f)).cpu())
        motion.append(torch.softmax(judge.motion_head(f), dim=1).cpu())
    judge.train(was_training)
    return torch.cat(feats), torch.cat(digits), torch.cat(motion)


def video_features(judge: VideoJudge, clips: Tensor, batch_size: int = 64) -> Tensor:
    """Just the penultimate features (N, D) of many clips: the input of the clip FD."""
    return video_judge_outputs(judge, clips, batch_size)[0]


# --------------------------------------------------------------------------------------------
# Labels: which digits, which way


def motion_shares(velocities: Tensor) -> Tensor:
    """Velocities (N, T, K, 2) as (vx, vy) -> share of (step, digit) pairs per direction (N, 4).

    A digit's direction is the dominant component of its velocity (:data:`MOTION_CLASSES`,
    y pointing down the image). The velocity of frame t is the step t -> t+1, so the last
    frame's (which leads out of the clip) is left out.
    """
    if velocities.ndim != 4 or velocities.shape[-1] != 2 or velocities.shape[1] < 2:
        raise ValueError(f"velocities must be (N, T>=2, K, 2), got {tuple(velocities.shape)}")
    v = velocities[:, :-1].float()
    cls = torch.stack([v[..., 0], v[..., 1], -v[..., 0], -v[..., 1]], dim=-1).argmax(dim=-1)
    counts = F.one_hot(cls.flatten(1), NUM_MOTIONS).float().sum(dim=1)
    return counts / counts.sum(dim=1, keepdim=True)


@functools.lru_cache(maxsize=4)
def _moving_digits(seed: int, glyph_seed: int, length: int, num_clips: int):
    """One dataset object per configuration: building its glyph bank takes seconds."""
    from .synthetic import MovingDigits  # imported here: loading a judge needs no dataset

    return MovingDigits(num_clips=num_clips, size=DRAW_SIZE, length=length, seed=seed,
                        glyph_seed=glyph_seed)


def digit_clips(size: int, indices: np.ndarray, seed: int, glyph_seed: int = 0,
                length: int = 16, num_clips: int = 100_000) -> tuple[Tensor, Tensor, Tensor]:
    """Labelled moving-digit clips: ``(clips, present, motion)``.

    Clips ``(N, 1, length, size, size)`` are drawn at 64x64 by
    :class:`~vgan_utils.synthetic.MovingDigits` (deterministic by seed and index) and
    area-downsampled; ``present`` is multi-hot (N, 10); ``motion`` the (N, 4) shares of
    :func:`motion_shares`.
    """
    data = _moving_digits(seed, glyph_seed, length, num_clips)
    clips, labels = data.batch(np.asarray(indices) % num_clips)
    return (resize_clips(clips, size), labels["present"].float(),
            motion_shares(labels["velocities"]))


# --------------------------------------------------------------------------------------------
# Checkpoints: weights and config only, loadable with weights_only=True


def default_path(size: int = 32) -> Path:
    """Where the shipped video judge for ``size`` x ``size`` clips lives."""
    return DATA_DIR / f"judge_clips{size}.pt"


def save_video_judge(judge: VideoJudge, path: str | Path, meta: dict | None = None) -> Path:
    """Write the judge's config and weights (no pickled code) to ``path``, atomically."""
    payload = {"config": asdict(judge.config), "state_dict": judge.state_dict(),
               "meta": dict(meta or {})}
    return save_checkpoint(payload, path)


def load_video_judge(path: str | Path | None = None, size: int = 32,
                     device: str | torch.device = "cpu") -> VideoJudge:
    """Load a video judge in eval mode; ``path`` defaults to ``data/judge_clips{size}.pt``.

    Goes through ``torch.load(weights_only=True)`` (:func:`vgan_utils.checkpoint.load_checkpoint`):
    a file that would need to run code is refused.
    """
    path = Path(path) if path is not None else default_path(size)
    if not path.exists():
        raise FileNotFoundError(
            f"no video judge checkpoint at {path}; make it with "
            f"`python -m vgan_utils.video_judge --size {size} --out {path}`"
        )
    payload = load_checkpoint(path, map_location=device)
    judge = VideoJudge(VideoJudgeConfig(**payload["config"]))
    judge.load_state_dict(payload["state_dict"])
    judge.meta = payload.get("meta", {})
    return judge.to(device).eval()


# --------------------------------------------------------------------------------------------
# Training and held-out evaluation

BatchFn = Callable[[int], tuple[Tensor, Tensor, Tensor]]


def judge_loss(judge: VideoJudge, clips: Tensor, present: Tensor, motion: Tensor,
               motion_weight: float = MOTION_WEIGHT) -> Tensor:
    """Digit BCE (summed over the 10 digits) + ``motion_weight`` x motion soft cross-entropy.

    Presence of one digit says nothing about another (independent binary calls); the motion
    shares are a distribution over directions (one softmax, compared with the whole histogram).
    The BCE is summed over digits, not averaged: averaged, each digit's gradient is 10x
    smaller than the motion head's, Adam's step is set by the larger one, and in trial runs
    digit recognition never left the "no digit present" plateau.
    """
    digit_logits, motion_logits = judge(clips)
    bce = F.binary_cross_entropy_with_logits(digit_logits, present, reduction="none")
    bce = bce.sum(dim=1).mean()
    soft_ce = -(motion * F.log_softmax(motion_logits, dim=1)).sum(dim=1).mean()
    return bce + motion_weight * soft_ce


def train_video_judge(judge: VideoJudge, batch_fn: BatchFn, steps: int, lr: float = 2e-3,
                      seed: int = 0, log_every: int = 0,
                      motion_weight: float = MOTION_WEIGHT) -> list[float]:
    """``steps`` Adam steps on ``batch_fn(step) -> (clips, present, motion)``; returns losses.

    The learning rate decays with a cosine to zero, so the last steps settle.
    """
    torch.manual_seed(seed)
    device = next(judge.parameters()).device
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    judge.train()
    losses: list[float] = []
    for step in range(steps):
        clips, present, motion = (t.to(device) for t in batch_fn(step))
        loss = judge_loss(judge, clips, present, motion, motion_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:5d}/{steps}  loss {np.mean(losses[-log_every:]):.4f}",
                  flush=True)
    judge.eval()
    return losses


def evaluate_video_judge(judge: VideoJudge, clips: Tensor, present: Tensor,
                         motion: Tensor) -> dict[str, object]:
    """Held-out accuracy of both heads, each beside what guessing would score.

    Digits: per-digit presence accuracy (10,), its mean, and the exact-set share (all ten
    calls right). Motion: ``main_direction`` -- the predicted most common direction is a
    most common direction of the clip (ties count either way) -- against ``main_chance``, the
    expected score of a uniform random guess; and ``share_error``, the mean absolute error of
    the four shares, against ``share_error_uniform`` of always guessing 1/4 each.
    """
    _, p_digit, p_motion = video_judge_outputs(judge, clips)
    correct = (p_digit > 0.5) == present.bool()
    per_digit = correct.float().mean(dim=0)
    is_max = motion >= motion.max(dim=1, keepdim=True).values - 1e-6
    hit = is_max.gather(1, p_motion.argmax(dim=1, keepdim=True)).squeeze(1)
    return {
        "per_digit": [round(float(a), 4) for a in per_digit],
        "mean_digit": float(per_digit.mean()),
        "exact_set": float(correct.all(dim=1).float().mean()),
        "main_direction": float(hit.float().mean()),
        "main_chance": float(is_max.float().sum(dim=1).mean() / NUM_MOTIONS),
        "share_error": float((p_motion - motion).abs().mean()),
        "share_error_uniform": float((motion - 1 / NUM_MOTIONS).abs().mean()),
        "n": int(clips.shape[0]),
    }


def held_out_accuracy(judge: VideoJudge, n: int = 1000,
                      length: int = TRAIN_LENGTHS[0]) -> dict[str, dict[str, object]]:
    """Accuracy on ``n`` clips of unseen clips and ``n`` clips drawn with unseen glyphs.

    The same held-out sets as the frame judge (:data:`vgan_utils.judge.HELD_OUT`).
    """
    idx = np.arange(n)
    return {name: evaluate_video_judge(
        judge, *digit_clips(judge.config.size, idx, length=length, **data))
        for name, data in HELD_OUT.items()}


def training_batches(size: int, batch: int, lengths: tuple[int, ...] = TRAIN_LENGTHS) -> BatchFn:
    """``batch_fn(step)``: consecutive training clips; step ``s`` uses ``lengths[s % len]``.

    The shorter lengths are the first frames of the same 16-frame clips, relabelled.
    """
    def batch_fn(step: int) -> tuple[Tensor, Tensor, Tensor]:
        length = lengths[step % len(lengths)]
        return digit_clips(size, step * batch + np.arange(batch), length=length, **TRAIN_DATA)

    return batch_fn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of ``python -m vgan_utils.video_judge``."""
    p = argparse.ArgumentParser(prog="python -m vgan_utils.video_judge",
                                description="Train the video judge and write its checkpoint.")
    p.add_argument("--size", type=int, default=32, help="clip size (32; 64 works, slower)")
    p.add_argument("--out", type=Path, default=None, help="default: data/judge_clips{size}.pt")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=VideoJudgeConfig.width)
    p.add_argument("--eval", type=int, default=1000, help="held-out clips per test set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice); on a busy machine 1 is "
                        "often faster than 2")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train a video judge on labelled moving-digit clips, test it on held-out clips, save it."""
    args = parse_args(argv)
    out = args.out or default_path(args.size)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    judge = VideoJudge(VideoJudgeConfig(size=args.size, width=args.width))
    batch_fn = training_batches(args.size, args.batch)
    batch_fn(0)  # build the glyph bank before the clock starts
    start = time.perf_counter()
    train_video_judge(judge, batch_fn, args.steps, lr=args.lr, seed=args.seed,
                      log_every=max(args.steps // 10, 1))
    seconds = time.perf_counter() - start
    acc = {f"{name}_T{t}": a for t in TRAIN_LENGTHS
           for name, a in held_out_accuracy(judge, args.eval, length=t).items()}
    for name, a in acc.items():
        print(f"held-out {name}: digits exact set {a['exact_set']:.3f}, mean per digit "
              f"{a['mean_digit']:.3f} | main direction {a['main_direction']:.3f} "
              f"(chance {a['main_chance']:.3f}), share error {a['share_error']:.3f} "
              f"(uniform guess {a['share_error_uniform']:.3f})")
    meta = {"held_out": acc, "train_seconds": round(seconds, 1), "steps": args.steps,
            "batch": args.batch, "lr": args.lr, "seed": args.seed, "torch": str(torch.__version__),
            "threads": torch.get_num_threads(),
            "command": f"python -m vgan_utils.video_judge --size {args.size} "
                       f"--steps {args.steps} --batch {args.batch} --lr {args.lr} "
                       f"--seed {args.seed}"}
    save_video_judge(judge, out, meta)
    print(f"trained in {seconds:.0f} s on {torch.get_num_threads()} threads; wrote {out} "
          f"({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
