"""One call for the quality of generated frames: FD against its floor, confidence, coverage.

Puts the judge of :mod:`vgan_utils.judge` and the read-outs of :mod:`vgan_utils.metrics`
together. The FD of generated frames is reported as a multiple of the *floor*, the FD
between two disjoint real sets of the same size, rather than against the untrained
generator (whose FD is so large that any ratio against it flatters). References: Heusel et
al. 2017 (FID), Unterthiner et al. 2018 (FVD).

Taught in ``notebooks/04_training_on_frames.ipynb``; ``bench/quality.py`` prints it for the
untrained, the notebook-trained and the shipped generators.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from . import metrics
from .judge import Judge, digit_frames, judge_outputs, load_judge

# The frame GANs' training data (vgan_utils.train's frames32/frames64 runs): clip seed 0,
# MovingDigits' default glyphs ("auto": a local MNIST copy if there is one, else generated).
REAL_DATA = {"seed": 0, "glyph_seed": 0, "num_clips": 10_000, "glyphs": "auto"}


def frame_quality(
    judge: Judge, generated: Tensor, real_a: Tensor, real_b: Tensor
) -> dict[str, float | int]:
    """Quality of ``generated`` frames (N, C, H, W) against two disjoint real sets of size N.

    Returns ``fd`` (generated vs ``real_a``), ``floor`` (``real_a`` vs ``real_b``),
    ``fd_over_floor``, ``confident_share`` and ``real_confident_share`` (of ``real_a``) and
    their ratio ``confident_ratio``, ``coverage`` and ``real_coverage`` (digits holding at
    least 2% of the judge's calls), ``precision`` and ``recall`` (k = 3, against ``real_a``)
    beside ``real_precision`` and ``real_recall`` (``real_b`` against ``real_a``: what a
    perfect generator scores at this N), and ``n``. All three sets must have the same size: FD is
    biased by sample size, so a floor only calibrates an FD measured at the same N.
    """
    sizes = {len(generated), len(real_a), len(real_b)}
    if len(sizes) != 1:
        raise ValueError(
            f"generated, real_a and real_b must have the same number of frames, got "
            f"{len(generated)}, {len(real_a)}, {len(real_b)}"
        )
    f_gen, p_gen = judge_outputs(judge, generated)
    f_a, p_a = judge_outputs(judge, real_a)
    f_b, _ = judge_outputs(judge, real_b)
    return quality_from_features(f_gen, p_gen, f_a, p_a, f_b)


def quality_from_features(f_gen: Tensor, p_gen: Tensor, f_a: Tensor, p_a: Tensor,
                          f_b: Tensor) -> dict[str, float | int]:
    """:func:`frame_quality`'s figures from the judge's features and probabilities."""
    fd = metrics.frechet_distance(f_gen, f_a)
    floor = metrics.fd_floor(f_a, f_b)
    conf, real_conf = metrics.confident_share(p_gen), metrics.confident_share(p_a)
    pr = metrics.precision_recall(f_a, f_gen)
    real_pr = metrics.precision_recall(f_a, f_b)
    return {
        "n": len(f_gen),
        "fd": fd,
        "floor": floor,
        "fd_over_floor": fd / floor if floor > 0 else float("inf"),
        "confident_share": conf,
        "real_confident_share": real_conf,
        "confident_ratio": conf / real_conf if real_conf > 0 else float("nan"),
        "coverage": metrics.digit_coverage(p_gen),
        "real_coverage": metrics.digit_coverage(p_a),
        "precision": pr["precision"],
        "recall": pr["recall"],
        "real_precision": real_pr["precision"],
        "real_recall": real_pr["recall"],
    }


def format_quality(q: dict[str, float | int]) -> str:
    """One line per figure, rounded for reading (not for comparing)."""
    return (
        f"FD {q['fd']:.3g} | floor {q['floor']:.3g} | FD/floor {q['fd_over_floor']:.3g} | "
        f"confident {q['confident_share']:.3f} ({q['confident_ratio']:.2f} of real) | "
        f"coverage {q['coverage']}/10 | precision {q['precision']:.2f} "
        f"(real {q['real_precision']:.2f}) | recall {q['recall']:.2f} (real {q['real_recall']:.2f})"
    )


def real_frame_sets(size: int, n: int, sets: int = 2, seed: int = 0) -> list[Tensor]:
    """``sets`` disjoint sets of ``n`` real moving-digit frames at ``size``, (n, 1, size, size).

    Drawn from the frame GANs' training data at frame indices of one seeded permutation, so
    the sets never share a frame and are the same on every call.
    """
    total = REAL_DATA["num_clips"] * 20
    if sets * n > total:
        raise ValueError(f"{sets} sets of {n} frames exceed the {total} frames available")
    idx = np.random.default_rng(seed).permutation(total)[: sets * n].reshape(sets, n)
    return [digit_frames(size, i, **REAL_DATA)[0] for i in idx]


@torch.no_grad()
def generate_frames(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 256) -> Tensor:
    """``n`` frames of ``generator`` (eval mode) from seeded N(0, I) codes, on the CPU.

    The generator needs a ``z_dim`` attribute (as :class:`vgan_utils.frame_nets.FrameGenerator`).
    """
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.z_dim, generator=gen)
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    out = torch.cat([generator(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)])
    generator.train(was_training)
    return out


class QualityTracker:
    """Scores a generator again and again against the same real sets, judged once.

    The training command line uses it to record FD / floor against training time (the
    curve notebook 04 plots): the judge sees the two real sets once, so each measurement
    costs only the generated frames. Evaluation draws
    its codes from its own seeded generator, so it never changes a run's random numbers.
    """

    def __init__(self, size: int, n: int = 1000, seed: int = 0, judge: Judge | None = None):
        self.judge = judge if judge is not None else load_judge(size=size)
        self.n, self.seed = n, seed
        real_a, real_b = real_frame_sets(size, n, sets=2)
        self.f_a, self.p_a = judge_outputs(self.judge, real_a)
        self.f_b, _ = judge_outputs(self.judge, real_b)

    def measure(self, generator: nn.Module) -> dict[str, float | int]:
        """:func:`frame_quality`'s figures for ``n`` frames of ``generator``."""
        f_gen, p_gen = judge_outputs(self.judge, generate_frames(generator, self.n, self.seed))
        return quality_from_features(f_gen, p_gen, self.f_a, self.p_a, self.f_b)


def generator_quality(generator: nn.Module, n: int = 2000, seed: int = 0,
                      judge: Judge | None = None) -> dict[str, float | int]:
    """:func:`frame_quality` of ``n`` frames of ``generator`` against ``n``-frame real sets.

    The judge defaults to the shipped one for the generator's frame size (``generator.size``).
    """
    if judge is None:
        judge = load_judge(size=generator.size)
    real_a, real_b = real_frame_sets(judge.config.size, n, sets=2)
    return frame_quality(judge, generate_frames(generator, n, seed=seed), real_a, real_b)
