"""The quality of generated clips, measured: clip FD, frame FD, temporal coherence, ACD.

A video generator can fail in ways a frame metric cannot see: every frame a good digit, but
the digits change identity from frame to frame (flicker), or never move at all. So notebook
05 (``notebooks/05_frames_to_clips.ipynb``) measures four things, each beside the value real
clips get:

* **Clip FD** -- the Fréchet distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
  Update Rule Converge to a Local Nash Equilibrium") between Gaussians fitted to the
  penultimate features of the course's *video judge* (:mod:`vgan_utils.video_judge`, a small
  3-D CNN trained on synthetic moving digits), reported against its *floor*: the FD between
  two disjoint real sets of the same size. This is the recipe of FVD (Unterthiner et al. 2018,
  "Towards Accurate Generative Models of Video: A New Metric & Challenges") with another
  network, so its numbers are NOT comparable with I3D-based FVD values in papers.
* **Frame FD** -- the same on single frames with notebook 04's frame judge
  (:func:`vgan_utils.quality.frame_quality`, also against its floor): are the frames
  digits, whatever the motion?
* **Temporal coherence** -- the mean absolute difference between consecutive frames
  (:func:`frame_change`), generated over real as a ratio: ~1 moves like the data; >> 1
  flickers; << 1 is frozen. The *flickering baseline* (:func:`independent_frames`) stacks
  frames drawn independently by a frame generator, which is what a frame GAN makes of a
  video: good frames, no time.
* **Average content distance** (ACD) of MoCoGAN (Tulyakov et al. 2018, "MoCoGAN:
  Decomposing Motion and Content for Video Generation"): for each clip, the mean L2 distance
  between the per-frame features of all pairs of its frames, averaged over clips. MoCoGAN
  used per-frame identity embeddings (OpenFace for faces); here the frame judge's
  digit-presence probabilities (10 numbers per frame), which name the digits shown and,
  unlike its penultimate features, barely change when a digit only moves. Low ACD: the clip
  keeps its content. It is only meaningful beside real clips' ACD and the frame FD (a blank
  clip keeps its "content" perfectly).

:func:`clip_quality` gathers everything for a set of generated clips against real ones.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from . import metrics
from .judge import Judge, judge_outputs, load_judge
from .quality import frame_quality, generate_frames
from .video_judge import (
    VideoJudge,
    digit_clips,
    load_video_judge,
    resize_clips,
    video_features,
)

FVD_NOTE = ("clip FD is the Fréchet distance on this course's video-judge features (a small 3-D "
            "CNN trained on synthetic moving digits); it is NOT comparable with I3D-based FVD "
            "(Unterthiner et al. 2018)")
ACD_SPACES = ("probs", "features")
# The video GANs' training data: the Moving MNIST clips of seed 0 (as the frame GANs').
REAL_DATA = {"seed": 0, "glyph_seed": 0, "num_clips": 10_000}


def check_clip_set(clips: Tensor, name: str = "clips", min_length: int = 2) -> Tensor:
    """``clips`` as a float tensor (N, C, T, H, W) with T >= ``min_length``, or a clear error."""
    t = torch.as_tensor(clips)
    if t.ndim != 5:
        raise ValueError(f"{name} must be clips (N, C, T, H, W); got shape {tuple(t.shape)}"
                         + (" -- frames? stack them into clips first" if t.ndim == 4 else ""))
    if t.shape[2] < min_length:
        raise ValueError(f"{name} need at least {min_length} frames, got T={t.shape[2]}")
    return t.float()


def _same_shape(**sets: Tensor) -> None:
    """All clip sets must match in (N, C, T, H, W): FD is biased by N, and lengths differ."""
    shapes = {name: tuple(s.shape) for name, s in sets.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"clip sets must have the same shape (same N, C, T, H, W); got {shapes}")


# --------------------------------------------------------------------------------------------
# Clip FD (video judge) and frame FD (frame judge), each against its floor


def clip_fd(judge: VideoJudge, generated: Tensor, real_a: Tensor,
            real_b: Tensor) -> dict[str, object]:
    """Clip-level FD of ``generated`` vs ``real_a``, and its floor ``real_a`` vs ``real_b``.

    All three sets: clips (N, C, T, H, W) of one shape (FD is biased upwards by small N, so
    the floor only calibrates an FD taken at the same N and length); resized to the judge's
    size first. The returned ``note`` says what the number is not: I3D-based FVD.
    """
    sets = {k: resize_clips(check_clip_set(v, k), judge.config.size)
            for k, v in {"generated": generated, "real_a": real_a, "real_b": real_b}.items()}
    _same_shape(**sets)
    f_gen, f_a, f_b = (video_features(judge, s) for s in sets.values())
    fd, floor = metrics.frechet_distance(f_gen, f_a), metrics.fd_floor(f_a, f_b)
    return {"n": len(f_gen), "length": int(sets["generated"].shape[2]), "fd": fd,
            "floor": floor, "fd_over_floor": fd / floor if floor > 0 else math.inf,
            "note": FVD_NOTE}


def frames_of(clips: Tensor, frames_per_clip: int | None = None) -> Tensor:
    """Frames (N * k, C, H, W) of clips (N, C, T, H, W): ``k`` evenly spaced ones, or all T.

    Frames of one clip are nearly the same sample (same digits, moved a little), so a few per
    clip carry most of the information at a fraction of the judge's time.
    """
    clips = check_clip_set(clips, min_length=1)
    t = clips.shape[2]
    k = t if frames_per_clip is None else min(frames_per_clip, t)
    idx = torch.from_numpy(np.linspace(0, t - 1, k).round().astype(np.int64))
    picked = clips[:, :, idx]
    return picked.transpose(1, 2).reshape(-1, *picked.shape[1:2], *picked.shape[3:])


def frame_fd(judge: Judge, generated: Tensor, real_a: Tensor, real_b: Tensor,
             frames_per_clip: int | None = 4) -> dict[str, float | int]:
    """Notebook 04's frame quality (FD and floor, confident share, coverage) on clip frames.

    A thin wrapper over :func:`vgan_utils.quality.frame_quality`: takes ``frames_per_clip``
    evenly spaced frames of every clip (see :func:`frames_of`), resized to the judge's size.
    """
    size = judge.config.size
    frames = [frames_of(resize_clips(check_clip_set(c), size), frames_per_clip)
              for c in (generated, real_a, real_b)]
    return frame_quality(judge, *frames)


# --------------------------------------------------------------------------------------------
# Temporal coherence


def frame_change_per_clip(clips: Tensor) -> Tensor:
    """Mean absolute difference between consecutive frames, per clip (N,), in pixel units.

    Pixels in ``[-1, 1]``: a static clip scores 0; a clip whose frames are independent
    scores about the mean distance between two unrelated frames.
    """
    clips = check_clip_set(clips)
    return (clips[:, :, 1:] - clips[:, :, :-1]).abs().flatten(1).mean(dim=1)


def frame_change(clips: Tensor) -> float:
    """Mean absolute difference between consecutive frames over a whole clip set."""
    return float(frame_change_per_clip(clips).double().mean())


def temporal_coherence(generated: Tensor, real: Tensor) -> dict[str, float]:
    """Frame-to-frame change of ``generated`` and ``real`` clips and their ratio.

    ~1: moves like the data; > 1: flickers (real frames shuffled across clips score about
    1.5x real 32x32 Moving MNIST); << 1: frozen or barely moving.
    """
    change, real_change = frame_change(generated), frame_change(real)
    ratio = change / real_change if real_change > 0 else math.inf
    return {"change": change, "real_change": real_change, "change_ratio": ratio}


def mask_contrast(video: Tensor, mask: Tensor, threshold: float = 0.0) -> float:
    """How much more VGAN's mask covers what a clip draws than what it leaves dark.

    The mean of ``mask`` (N, 1, T, H, W) over the pixels where ``video`` (N, C, T, H, W, in
    [-1, 1]) is brighter than ``threshold``, divided by its mean over the others. A mask that
    separates the moving digits from the black canvas scores well above 1; a uniform mask
    scores 1. Notebook 05 measures the shipped two-stream generator with it.
    """
    if mask.dim() != 5 or mask.shape[1] != 1 or video.shape[0::2] != mask.shape[0::2]:
        raise ValueError(f"expected video (N, C, T, H, W) and mask (N, 1, T, H, W), got "
                         f"{tuple(video.shape)} and {tuple(mask.shape)}")
    bright = (video.mean(dim=1, keepdim=True) > threshold).expand_as(mask)
    if bright.all() or not bright.any():
        raise ValueError(f"every pixel is on one side of threshold {threshold}: no contrast "
                         "to measure")
    return (mask[bright].mean() / mask[~bright].mean().clamp_min(1e-12)).item()


@torch.no_grad()
def generated_mask_contrast(generator: nn.Module, n: int = 64, seed: int = 0) -> float:
    """:func:`mask_contrast` of ``n`` clips a masked generator (VGAN's, with ``parts``) draws
    from codes seeded ``seed``, in eval mode. Notebook 05 measures the shipped two-stream
    generator with it, and a clip race each two-stream recipe (:mod:`vgan_utils.race`)."""
    generator.eval()
    z = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    parts = generator.parts(z.to(next(generator.parameters()).device))
    return mask_contrast(parts.video.float().cpu(), parts.mask.float().cpu())


@torch.no_grad()
def independent_frames(frame_generator: nn.Module, n: int, length: int, seed: int = 0,
                       batch_size: int = 256) -> Tensor:
    """The flickering baseline: ``n`` clips (N, C, length, H, W) of independently drawn frames.

    Frame t of clip i is ``frame_generator(z_it)`` with its own code: each frame may be a
    fine digit, but nothing ties it to the next one -- what a frame GAN makes of video.
    The generator needs a ``z_dim`` attribute (as :class:`vgan_utils.frame_nets.FrameGenerator`).
    """
    frames = generate_frames(frame_generator, n * length, seed=seed, batch_size=batch_size)
    return frames.reshape(n, length, *frames.shape[1:]).transpose(1, 2)


def shuffled_frames(clips: Tensor, seed: int = 0) -> Tensor:
    """The flickering baseline with a perfect frame generator: real frames, no time.

    Frame t of output clip i is frame t of a random real clip, drawn anew for every t, so each
    frame is real but consecutive frames are unrelated.
    """
    clips = check_clip_set(clips)
    n, t = clips.shape[0], clips.shape[2]
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack([torch.randperm(n, generator=g) for _ in range(t)], dim=1)  # (N, T)
    return clips[rows, :, torch.arange(t)].permute(0, 2, 1, 3, 4)


@torch.no_grad()
def generate_clips(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 32) -> Tensor:
    """``n`` clips of a video generator (eval mode) from seeded N(0, I) codes, on the CPU.

    Both notebook-05 generators take standard-normal codes ``(N, z_dim)``; this is
    :func:`vgan_utils.quality.generate_frames` with a batch size sized for clips.
    """
    clips = generate_frames(generator, n, seed=seed, batch_size=batch_size)
    return check_clip_set(clips, "generated clips", min_length=1)


# --------------------------------------------------------------------------------------------
# Average content distance (MoCoGAN)


def per_frame_content(judge: Judge, clips: Tensor, space: str = "probs") -> Tensor:
    """Per-frame content vectors (N, T, D) of the frame judge: ``probs`` (D=10) or ``features``."""
    if space not in ACD_SPACES:
        raise ValueError(f"space must be one of {ACD_SPACES}, got {space!r}")
    clips = resize_clips(check_clip_set(clips), judge.config.size)
    n, t = clips.shape[0], clips.shape[2]
    feats, probs = judge_outputs(judge, frames_of(clips))
    out = probs if space == "probs" else feats
    return out.reshape(n, t, -1)


def acd_per_clip(vectors: Tensor) -> Tensor:
    """Per-frame vectors (N, T, D) -> mean L2 distance over all frame pairs of a clip, (N,)."""
    v = torch.as_tensor(vectors).double()
    if v.ndim != 3 or v.shape[1] < 2:
        raise ValueError(f"per-frame vectors must be (N, T>=2, D); got {tuple(v.shape)}")
    d = (v[:, :, None] - v[:, None]).norm(dim=-1)  # (N, T, T); exact zeros, unlike cdist
    t = v.shape[1]
    i, j = torch.triu_indices(t, t, offset=1)
    return d[:, i, j].mean(dim=1)


def average_content_distance(judge: Judge, clips: Tensor, space: str = "probs") -> float:
    """MoCoGAN's ACD: mean over clips of the mean pairwise L2 distance of per-frame content.

    Tulyakov et al. 2018 average the L2 distance over all pairs of frames of a clip (some
    re-implementations use consecutive pairs only; all pairs also catches slow drift).
    ``space`` picks the frame judge's digit probabilities (default) or its features.
    """
    return float(acd_per_clip(per_frame_content(judge, clips, space)).mean())


# --------------------------------------------------------------------------------------------
# Everything at once


def real_clip_sets(n: int, length: int = 16, size: int = 32, sets: int = 2,
                   seed: int = 0) -> list[Tensor]:
    """``sets`` disjoint sets of ``n`` real moving-digit clips (n, 1, length, size, size).

    Drawn from the video GANs' training data (:data:`REAL_DATA`) at clip indices of one
    seeded permutation, so the sets never share a clip and are the same on every call.
    """
    total = REAL_DATA["num_clips"]
    if sets * n > total:
        raise ValueError(f"{sets} sets of {n} clips exceed the {total} clips available")
    idx = np.random.default_rng(seed).permutation(total)[: sets * n].reshape(sets, n)
    return [digit_clips(size, i, length=length, **REAL_DATA)[0] for i in idx]


def clip_quality(generated: Tensor, real_a: Tensor, real_b: Tensor,
                 video_judge: VideoJudge | None = None, frame_judge: Judge | None = None,
                 frames_per_clip: int | None = 4, acd_space: str = "probs",
                 acd_clips: int | None = 256) -> dict[str, object]:
    """All of notebook 05's figures for ``generated`` clips against two disjoint real sets.

    ``generated``, ``real_a`` and ``real_b``: clips (N, C, T, H, W) of one shape. The judges
    default to the shipped checkpoints (``data/judge_clips32.pt``, ``data/judge_frames32.pt``);
    clips are area-resized to each judge's size. Keys: ``clip_fd``, ``clip_floor``,
    ``clip_fd_over_floor`` (video judge; see ``note``); ``frame_fd``, ``frame_floor``,
    ``frame_fd_over_floor``, ``confident_share``, ``confident_ratio``, ``coverage``,
    ``precision``, ``recall`` and their ``real_`` counterparts (frame judge); ``change``,
    ``real_change``, ``change_ratio`` (``real_a``'s change); ``acd``, ``real_acd``,
    ``acd_space`` and ``acd_clips``; ``n``, ``length``; ``note``.

    Cost is mostly the frame judge: ``3 * n * frames_per_clip`` frames for the frame FD and
    ``2 * acd_clips * T`` for the ACD, which is a mean over clips and so is estimated on the
    first ``acd_clips`` clips of each set (``None``: all). About 30 s for n = 1000 16-frame
    clips on one busy core.
    """
    _same_shape(generated=check_clip_set(generated), real_a=check_clip_set(real_a),
                real_b=check_clip_set(real_b))
    video_judge = video_judge if video_judge is not None else load_video_judge()
    frame_judge = frame_judge if frame_judge is not None else load_judge(size=32)
    c = clip_fd(video_judge, generated, real_a, real_b)
    f = frame_fd(frame_judge, generated, real_a, real_b, frames_per_clip)
    return {
        "n": c["n"], "length": c["length"],
        "clip_fd": c["fd"], "clip_floor": c["floor"], "clip_fd_over_floor": c["fd_over_floor"],
        "frame_fd": f["fd"], "frame_floor": f["floor"], "frame_fd_over_floor": f["fd_over_floor"],
        **{k: f[k] for k in ("confident_share", "real_confident_share", "confident_ratio",
                             "coverage", "real_coverage", "precision", "recall",
                             "real_precision", "real_recall")},
        **temporal_coherence(generated, real_a),
        "acd": average_content_distance(frame_judge, generated[:acd_clips], acd_space),
        "real_acd": average_content_distance(frame_judge, real_a[:acd_clips], acd_space),
        "acd_space": acd_space, "acd_clips": min(acd_clips or c["n"], c["n"]),
        "note": FVD_NOTE,
    }


class ClipQualityTracker:
    """Scores a clip generator again and again against the same ``n``-clip real sets.

    The clip counterpart of :class:`vgan_utils.quality.QualityTracker`, used by the training
    command line's ``--eval-every`` on clip runs: judges and real sets are loaded once; codes
    come from a seeded generator of their own, so measuring never changes a run's randomness.
    """

    def __init__(self, length: int = 16, n: int = 500, seed: int = 0) -> None:
        self.n, self.seed = n, seed
        self.real_a, self.real_b = real_clip_sets(n, length=length)
        self.video_judge, self.frame_judge = load_video_judge(), load_judge(size=32)

    def measure(self, generator: nn.Module) -> dict[str, object]:
        """:func:`clip_quality`'s figures for ``n`` clips of ``generator``."""
        clips = generate_clips(generator, self.n, self.seed)
        return clip_quality(clips, self.real_a, self.real_b, self.video_judge, self.frame_judge)


def format_clip_quality(q: dict[str, object]) -> str:
    """One line of the figures that matter, rounded for reading (not for comparing)."""
    return (f"clip FD/floor {q['clip_fd_over_floor']:.3g} | frame FD/floor "
            f"{q['frame_fd_over_floor']:.3g} | confident {q['confident_ratio']:.2f} of real | "
            f"frame change {q['change_ratio']:.2f}x real | ACD {q['acd']:.3f} "
            f"(real {q['real_acd']:.3f})")
