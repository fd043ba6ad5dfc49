"""Exercise checks of notebooks 00-03: video tensors, the GAN objective, the networks, data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .core import NOT_YET, _as_number, _check_number, _exercise, _missing, _say, _verdict

# --- notebook 00: video as tensors --------------------------------------------------------

EX00_BATCH = (16, 3, 32, 128, 128)  # (N, C, T, H, W): 16 RGB clips, 32 frames, 128 x 128


def _mib(shape: tuple[int, ...], dtype: torch.dtype) -> float:
    """Mebibytes of a dense tensor, from the element count and the dtype's element size."""
    return math.prod(shape) * torch.empty((), dtype=dtype).element_size() / 2**20


@_exercise("00.1")
def check_batch_mib(float32_mib: Any, bfloat16_mib: Any) -> bool:
    """Notebook 00, exercise 1: MiB of a batch of 16 RGB clips of 32 frames at 128 x 128."""
    parts = []
    for name, answer, dtype in (("float32", float32_mib, torch.float32),
                                ("bfloat16", bfloat16_mib, torch.bfloat16)):
        size = torch.empty((), dtype=dtype).element_size()
        slips = {2**20 / 10**6: "megabytes (10^6 bytes), not MiB (2^20 bytes)",
                 2**20: "that is bytes: divide by 2**20 for MiB",
                 1024: "that is KiB: divide by 1024 once more",
                 1 / size: f"that is the number of elements: times {size} bytes each",
                 8: "that is bits: a byte has 8"}
        parts.append(_check_number("00.1", name, answer, _mib(EX00_BATCH, dtype), slips))
    return _verdict("00.1", parts, f"{_mib(EX00_BATCH, torch.float32):g} MiB in float32, "
                    f"{_mib(EX00_BATCH, torch.bfloat16):g} MiB in bfloat16: half the bytes per "
                    "element, half the memory")


def _ex00_frames() -> np.ndarray:
    """A (T, H, W, C) uint8 clip whose four sides all differ, so any axis mix-up shows."""
    return np.random.default_rng(0).integers(0, 256, size=(6, 8, 10, 3), dtype=np.uint8)


def _layout_name(shape: tuple[int, ...], sizes: Mapping[int, str]) -> str:
    """Name each axis of ``shape`` by the letter of the input axis with that size."""
    return "(" + ", ".join(sizes.get(n, "?") for n in shape) + ")"


@_exercise("00.2")
def check_to_model_tensor(fn: Any) -> bool:
    """Notebook 00, exercise 2: ``fn`` turns (T, H, W, C) uint8 frames into the model's
    (C, T, H, W) float32 tensor in [-1, 1]. It is called on a small random clip."""
    ex = "00.2"
    if _missing(fn):
        return _say(ex, False, NOT_YET)
    if not callable(fn):
        return _say(ex, False, f"expected a function of the frames, got {type(fn).__name__}")
    frames = _ex00_frames()
    reference = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1
    try:
        out = fn(frames.copy())
    except NotImplementedError:
        return _say(ex, False, NOT_YET)
    except Exception as err:  # the learner's code: report, do not crash the cell
        return _say(ex, False, f"your function raised {type(err).__name__}: {err}")
    if isinstance(out, np.ndarray):
        return _say(ex, False, "it returns a NumPy array; a model takes a torch tensor "
                    "(torch.from_numpy)")
    if not isinstance(out, torch.Tensor):
        return _say(ex, False, f"it returns {type(out).__name__}, not a tensor")
    sizes = {6: "T", 8: "H", 10: "W", 3: "C"}
    if tuple(out.shape) != tuple(reference.shape):
        return _say(ex, False, f"for frames (T, H, W, C) = {frames.shape} it returns shape "
                    f"{tuple(out.shape)} = {_layout_name(tuple(out.shape), sizes)}; "
                    "wanted (C, T, H, W) = (3, 6, 8, 10)")
    if out.dtype != torch.float32:
        return _say(ex, False, f"dtype {out.dtype}; the model wants torch.float32 (.float())")
    if out.max() > 1.5:
        return _say(ex, False, f"values reach {out.max().item():.0f}: scale the bytes to "
                    "[-1, 1] (divide by 127.5, subtract 1)")
    if out.min() >= 0 and out.max() <= 1:
        return _say(ex, False, "values lie in [0, 1]; the generator's tanh gives [-1, 1] "
                    "(times 2, minus 1)")
    if torch.allclose(out, reference, atol=1e-5):
        return _say(ex, True, "(C, T, H, W) float32 in [-1, 1], element for element")
    if torch.allclose(out.flatten().sort().values, reference.flatten().sort().values, atol=1e-5):
        return _say(ex, False, "right shape and values, wrong arrangement: reshape/view "
                    "reinterprets memory, permute moves axes")
    err = (out - reference).abs().max().item()
    return _say(ex, False, f"right shape and dtype, but values differ by up to {err:.3g}")


@_exercise("00.3")
def check_conv3d_time_axis(axis: Any) -> bool:
    """Notebook 00, exercise 3: which axis of an (N, T, C, H, W) batch with T = 16 does
    ``nn.Conv3d(16, ...)`` slide over as if it were time?"""
    ex = "00.3"
    if _missing(axis):
        return _say(ex, False, NOT_YET)
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        return _say(ex, False, f"answer with an axis index 0-4, got {axis!r:.40}")
    batch = torch.zeros(1, 16, 3, 8, 8)  # (N, T, C, H, W)
    out = nn.Conv3d(16, 2, kernel_size=3, padding=1)(batch)
    depth_axis = batch.dim() - 3  # Conv3d wants (N, C_in, D, H, W): it slides over D, H, W
    assert out.shape[depth_axis] == batch.shape[depth_axis]  # the axis it slides along
    why = {0: "axis 0 is the batch: every sample is convolved on its own",
           1: "axis 1 holds the 16 frames, but Conv3d reads axis 1 as its 16 input channels: "
              "each output sums over all frames at once, with no sliding",
           3: "axis 3 (H) is slid over, but as height; Conv3d's depth axis comes first",
           4: "axis 4 (W) is slid over, but as width; Conv3d's depth axis comes first"}
    if int(axis) == depth_axis:
        return _say(ex, True, "axis 2, the colour channels: the kernel treats the 3 colour "
                    "planes as 3 time steps and sums over the 16 frames as channels")
    return _say(ex, False, why.get(int(axis), f"a 5-D batch has axes 0-4, not {axis}"))


# --- notebook 01: the GAN objective --------------------------------------------------------

def _coverage_problem(cov: Any, n_modes: int, n_samples: int | None) -> str | None:
    """What is wrong with a learner's ``toy.mode_coverage`` result, or None."""
    from ..toy import ModeCoverage

    if not isinstance(cov, ModeCoverage):
        return f"expected toy.mode_coverage(...)'s result, got {type(cov).__name__}"
    if cov.n_modes != n_modes:
        return f"measured against {cov.n_modes} modes, not {n_modes}"
    if n_samples is not None and sum(cov.counts) != round(cov.high_quality * n_samples):
        return f"not measured on {n_samples} samples (P.eval_samples)"
    return None


@_exercise("01.1")
def check_grid_coverage(coverage: Any, n_samples: int) -> bool:
    """Notebook 01, exercise 1: ``{"nonsaturating": ..., "hinge": ...}``, each the
    ``toy.mode_coverage`` of ``n_samples`` samples on the 5 x 5 grid after training."""
    ex = "01.1"
    if _missing(coverage):
        return _say(ex, False, NOT_YET)
    if not isinstance(coverage, Mapping) or set(coverage) != {"nonsaturating", "hinge"}:
        return _say(ex, False, 'expected a dict with the keys "nonsaturating" and "hinge"')
    for loss, cov in coverage.items():
        problem = _coverage_problem(cov, 25, n_samples)
        if problem:
            hint = " (the ring? use toy.grid())" if getattr(cov, "n_modes", 0) == 8 else ""
            return _say(ex, False, f"{loss}: {problem}{hint}")
    table = ", ".join(f"{loss} {c.modes_covered}/25 modes, {c.high_quality:.0%} high quality"
                      for loss, c in coverage.items())
    return _say(ex, True, f"{table}; compare with the ring's 8 modes in section 8")


@_exercise("01.2")
def check_seed_rerun(coverage_seed0: Any, coverage_seed1: Any) -> bool:
    """Notebook 01, exercise 2: section 8's ``coverage`` table (loss -> step -> coverage)
    and the same table rebuilt with ``seed=1``. Prints which patterns hold in both."""
    ex = "01.2"
    if _missing(coverage_seed1):
        return _say(ex, False, NOT_YET)
    if not isinstance(coverage_seed1, Mapping) or set(coverage_seed1) != set(coverage_seed0):
        return _say(ex, False, f"expected a dict over the same losses: {sorted(coverage_seed0)}")
    for loss, by_step in coverage_seed1.items():
        if not isinstance(by_step, Mapping) or list(by_step) != list(coverage_seed0[loss]):
            return _say(ex, False, f"{loss}: expected the checkpoints {list(coverage_seed0[loss])}")
        for cov in by_step.values():
            problem = _coverage_problem(cov, 8, None)
            if problem:
                return _say(ex, False, f"{loss}: {problem}")
    if all(coverage_seed1[k] == coverage_seed0[k] for k in coverage_seed0):
        return _say(ex, False, "identical to the seed-0 table: did the trainers get seed=1?")

    def rises(by_step: Mapping) -> bool:
        covs = list(by_step.values())
        return covs[-1].high_quality > covs[0].high_quality

    rows = [f"{loss}: modes {list(c0.values())[-1].modes_covered}/8 -> "
            f"{list(coverage_seed1[loss].values())[-1].modes_covered}/8 at the end, HQ share "
            f"rises in {'both' if rises(c0) and rises(coverage_seed1[loss]) else 'not both'}"
            for loss, c0 in coverage_seed0.items()]
    return _say(ex, True, "seed 0 -> seed 1: " + "; ".join(rows))


@_exercise("01.3")
def check_lsgan_optimum(value: Any, d_star_at_1: float) -> bool:
    """Notebook 01, exercise 3: the pointwise minimiser of LSGAN's D loss at x = 1 (targets
    b = 1 real, a = 0 fake); ``d_star_at_1`` is section 4's D*(1). They should agree."""
    if not 0 < d_star_at_1 < 1:
        raise ValueError(f"d_star_at_1 must be D*(1), a probability; got {d_star_at_1}")
    slips = {(1 - d_star_at_1) / d_star_at_1: "that is 1 - D*: are the targets swapped?",
             (2 * d_star_at_1 - 1) / d_star_at_1: "that is the optimum for targets -1 and 1",
             100: "a percentage: give the value itself"}
    ok, text = _check_number("01.3", "D*_LS(1)", value, d_star_at_1, slips, abs_tol=1e-3)
    if ok:
        gap = abs(_as_number(value) - d_star_at_1)
        text += f", D*(1) = {d_star_at_1:.6g}: they differ by {gap:.1e}"
    return _say("01.3", ok, text)


def _d_fake(history: Any, steps: int) -> list[float] | None:
    """The first ``steps`` mean D(G(z)) values of a trainer (or its history), or None."""
    history = getattr(history, "history", history)
    if not isinstance(history, Mapping) or len(history.get("d_fake", [])) < steps:
        return None
    return [float(v) for v in history["d_fake"][:steps]]


@_exercise("01.4")
def check_minimax_vs_nonsaturating(history_minimax: Any, history_ns: Any,
                                   steps: int = 50) -> bool:
    """Notebook 01, exercise 4: two trainers (or their ``history`` dicts) on the 1-D data,
    minimax and non-saturating. Prints where D(G(z)) sat: that decides whether minimax
    saturates."""
    ex = "01.4"
    if _missing(history_minimax):
        return _say(ex, False, NOT_YET)
    mm, ns = _d_fake(history_minimax, steps), _d_fake(history_ns, steps)
    if mm is None or ns is None:
        return _say(ex, False, f"expected two trainers with at least {steps} steps of history "
                    f"each (train both for {steps} steps or more)")
    if mm == ns:
        return _say(ex, False, 'the two runs are identical: did one get "loss": "minimax"?')
    lo, hi = min(mm[5:]), max(mm[5:])
    return _say(ex, True, f"minimax D(G(z)) over steps 5-{steps}: {lo:.2f} to {hi:.2f} "
                f"(non-saturating {min(ns[5:]):.2f} to {max(ns[5:]):.2f}); the two gradients "
                f"-p and -(1-p) differ by a factor (1-p)/p, here at most {(1 - lo) / lo:.2g}")


@_exercise("01.5")
def check_bce_gradient(grad: Any) -> bool:
    """Notebook 01, exercise 5: the gradient that reaches the logit 200 through
    ``F.binary_cross_entropy(torch.sigmoid(logit), 0)``, computed here by autograd."""
    logit = torch.tensor([200.0], requires_grad=True)
    prob = torch.sigmoid(logit)
    prob.retain_grad()
    F.binary_cross_entropy(prob, torch.zeros(1)).backward()
    d_prob, d_logit = prob.grad.item(), logit.grad.item()
    d_sigmoid = (prob * (1 - prob)).item()  # sigmoid's derivative, as autograd computes it
    if _missing(grad):
        return _say("01.5", False, NOT_YET)
    value = _as_number(grad)
    if value is None:
        return _say("01.5", False, f"answer with a number, got {type(grad).__name__}")
    if value == d_logit:
        return _say("01.5", True, f"{d_logit:g}. BCELoss's backward gives dL/dp = {d_prob:.3g} "
                    f"(it divides by max(p(1-p), 1e-12)); sigmoid's derivative p(1-p) = "
                    f"{d_sigmoid:g} because p = sigmoid(200) rounds to 1: their product is 0")
    if math.isclose(value, 1.0):
        return _say("01.5", False, "1 is what BCEWithLogitsLoss gives (sigmoid(200)); here the "
                    "gradient must pass through torch.sigmoid first")
    if math.isclose(value, d_prob, rel_tol=1e-3):
        return _say("01.5", False, "that is dL/dp, the gradient at the probability; the chain "
                    "rule multiplies it by sigmoid's derivative at 200")
    return _say("01.5", False, f"{value:g} is not it: run the backward pass and read logit.grad")


# --- notebook 02: generator and discriminator ---------------------------------------------

@_exercise("02.1")
def check_doubling_padding(padding: Any, output_padding: Any) -> bool:
    """Notebook 02, exercise 1: padding and output_padding that make
    ``nn.ConvTranspose2d(k=3, s=2)`` double every side; tried on sides 1 to 40."""
    ex = "02.1"
    if _missing(padding) or _missing(output_padding):
        return _say(ex, False, NOT_YET)
    try:
        layer = nn.ConvTranspose2d(1, 1, 3, 2, padding=padding, output_padding=output_padding)
        sides = {n: layer(torch.zeros(1, 1, n, n)).shape[-1] for n in range(1, 41)}
    except (RuntimeError, ValueError, TypeError) as err:
        return _say(ex, False, f"PyTorch refuses padding={padding!r}, output_padding="
                    f"{output_padding!r}: {str(err).splitlines()[0]}")
    wrong = {n: out for n, out in sides.items() if out != 2 * n}
    if not wrong:
        return _say(ex, True, f"padding={padding}, output_padding={output_padding}: "
                    "(n-1)*2 - 2p + 2 + p_out + 1 = 2n for every n tried")
    n, out = next(iter(wrong.items()))
    return _say(ex, False, f"a side of {n} becomes {out}, not {2 * n} "
                f"(off by {out - 2 * n:+d} for every n: 2p - output_padding must be 1)")


def _generator_64_table() -> Any:
    """The layer table of the 64 x 64 RGB DCGAN generator, width 64 (notebook 02)."""
    from ..frame_nets import FrameGenerator
    from ..model_table import model_table

    return model_table(FrameGenerator(100, 64, 3, 64), torch.zeros(2, 100))


@_exercise("02.2")
def check_biggest_layer(name: Any, fraction: Any) -> bool:
    """Notebook 02, exercise 2: the name (as in ``model_table``) of the layer of
    ``FrameGenerator(100, 64, 3, 64)`` with the most parameters, and its share of all."""
    ex = "02.2"
    if _missing(name) or _missing(fraction):
        return _say(ex, False, NOT_YET)
    table = _generator_64_table()
    biggest = max(table.rows, key=lambda r: r.params)
    share = biggest.params / table.total_params
    by_name = {r.name: r for r in table.rows}
    parts = []
    if name == biggest.name:
        parts.append((True, f"{name} ({biggest.kind}, {biggest.params:,} parameters)"))
    elif name in by_name:
        parts.append((False, f"{name} holds {by_name[name].params:,}; another layer holds more"))
    else:
        parts.append((False, f"no layer named {name!r}: names are model_table's, e.g. 'net.0'"))
    parts.append(_check_number(ex, "fraction", fraction, share,
                               {100: "a percentage: give a fraction between 0 and 1"}))
    return _verdict(ex, parts, f"{biggest.name} holds {biggest.params:,} of "
                    f"{table.total_params:,} parameters, {share:.1%}")


ARTICLE_D_LAYERS = [(4, 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 1, 0)]  # (k, s, p)


def article_d_sides(n: int) -> list[int]:
    """The side of the map after each layer of the source article's discriminator
    (notebook 02, section 4), for an n x n frame: the convolution formula, layer by layer."""
    sides = [n]
    for k, s, p in ARTICLE_D_LAYERS:
        sides.append((sides[-1] + 2 * p - (k - 1) - 1) // s + 1 if sides[-1] >= 1 else 0)
    return sides


@_exercise("02.3")
def check_article_d_sizes(smallest_side: Any, side_at_83: Any) -> bool:
    """Notebook 02, exercise 3: the smallest frame side the article's discriminator maps to
    one 1 x 1 score, and the side of its output map for an 83 x 83 frame."""
    ex = "02.3"
    if _missing(smallest_side) and _missing(side_at_83):
        return _say(ex, False, NOT_YET)
    smallest = next(n for n in range(1, 512) if article_d_sides(n)[-1] == 1)
    out_83 = article_d_sides(83)[-1]
    parts = []
    ok, text = _check_number(ex, "smallest side", smallest_side, smallest)
    if not ok and _as_number(smallest_side) is not None:
        n = int(_as_number(smallest_side))
        text += f": {n} goes {' -> '.join(map(str, article_d_sides(n)))}"
    parts.append((ok, text))
    ok, text = _check_number(ex, "output side at 83", side_at_83, out_83)
    parts.append((ok, text + ("" if ok else "; follow 83 layer by layer")))
    return _verdict(ex, parts, f"{smallest} is the smallest; 83 goes "
                    f"{' -> '.join(map(str, article_d_sides(83)))}: a {out_83}x{out_83} grid of "
                    "scores, not one per frame")


@_exercise("02.4")
def check_relu_output_share(share: Any, real: torch.Tensor) -> bool:
    """Notebook 02, exercise 4: the share of the real frames' pixels (``real``, in [-1, 1])
    that a generator ending in ReLU could never produce."""
    if not isinstance(real, torch.Tensor) or real.min() < -1 or real.max() > 1:
        raise ValueError("real must be the tensor of real frames in [-1, 1] (section 7's real)")
    reference = (real < 0).double().mean().item()
    if reference == 0:
        raise ValueError("real has no pixel below 0: pass real frames, whose background is -1")
    slips = {(1 - reference) / reference: "that is the share a ReLU *can* reach (values >= 0)",
             100: "a percentage: give a fraction between 0 and 1"}
    ok, text = _check_number("02.4", "share", share, reference, slips, abs_tol=1e-4)
    if ok:
        text += (" of the pixels are below 0, which a ReLU never outputs: the whole dark "
                 "background of a digit frame lies at -1")
    return _say("02.4", ok, text)


# --- notebook 03: video data -----------------------------------------------------------------

@_exercise("03.1")
def check_small_moving_digits(dataset: Any, speed: Any) -> bool:
    """Notebook 03, exercise 1: a ``MovingDigits`` with three 20-px digits on a 48-px canvas,
    10 frames, and the protocol's speed for it in pixels per frame."""
    from ..synthetic import MovingDigits

    ex = "03.1"
    if _missing(dataset) or _missing(speed):
        return _say(ex, False, NOT_YET)
    if not isinstance(dataset, MovingDigits):
        return _say(ex, False, f"expected a MovingDigits dataset, got {type(dataset).__name__}")
    want = {"size": 48, "num_digits": 3, "digit_size": 20, "length": 10}
    wrong = [f"{k}={getattr(dataset, k)} (want {v})" for k, v in want.items()
             if getattr(dataset, k) != v]
    if wrong:
        return _say(ex, False, "the dataset has " + ", ".join(wrong))
    reference = 0.1 * (want["size"] - want["digit_size"])  # 0.1 of the free range per frame
    slips = {0.1 * 48 / reference: "0.1 of the canvas; the protocol takes 0.1 of the free "
             "range, canvas minus digit", 3.6 / reference: "that is the 64-px protocol's speed"}
    ok, text = _check_number(ex, "speed", speed, reference, slips)
    labels = dataset.batch(range(4))[1]["velocities"].norm(dim=-1)
    if ok and not torch.allclose(labels, torch.full_like(labels, reference), atol=1e-4):
        return _say(ex, False, f"the labels move at {labels.min():.2f}-{labels.max():.2f} "
                    "px/frame: did you pass speed=... to the dataset?")
    return _say(ex, ok, text + (" px/frame, and every label's |v| agrees" if ok else ""))


def video_folder_clip_count(frames: int, clip_length: int, frame_stride: int = 1,
                            step: int | None = None) -> int:
    """How many clips ``VideoFolder`` cuts from one video: starts every ``step`` frames
    (default back to back) while a whole clip of ``(clip_length - 1) * frame_stride + 1``
    frames still fits."""
    span = (clip_length - 1) * frame_stride + 1
    return len(range(0, frames - span + 1, step or clip_length * frame_stride))


@_exercise("03.2")
def check_clip_counts(back_to_back: Any, with_step_4: Any) -> bool:
    """Notebook 03, exercise 2: clips ``VideoFolder`` cuts from a 100-frame video with
    ``clip_length=16``, back to back and with ``step=4``."""
    ex = "03.2"
    refs = (video_folder_clip_count(100, 16), video_folder_clip_count(100, 16, step=4))
    parts = []
    for name, answer, ref, step in (("back to back", back_to_back, refs[0], 16),
                                    ("step=4", with_step_4, refs[1], 4)):
        ok, text = _check_number(ex, name, answer, ref)
        value = _as_number(answer)
        if not ok and value is not None and value == 100 // step and value != ref:
            text += f": 100 // {step} counts starts whose clip runs past frame 99"
        elif not ok and value is not None and abs(value - ref) == 1:
            text += ": off by one; the first clip starts at frame 0, the last at 84"
        parts.append((ok, text))
    return _verdict(ex, parts, f"{refs[0]} and {refs[1]}: starts 0, {16}, ... and 0, 4, ..., "
                    "up to frame 84, the last start whose 16 frames fit")


@_exercise("03.3")
def check_frame_batch_clips(mod_rule: Any, div_rule: Any, dataset: Any,
                            batch: int = 64) -> bool:
    """Notebook 03, exercise 3: how many different clips the frames 0..batch-1 come from
    when frame j is taken from clip j mod num_clips, and from clip j // T."""
    ex = "03.3"
    j = np.arange(batch)
    ref_mod = len(set((j % dataset.num_clips).tolist()))
    ref_div = len(set((j // dataset.length).tolist()))
    slips = {(batch / dataset.length) / ref_div: "a batch holds whole clips only if it ends "
             "on a clip boundary: count the clips indices actually touch"}
    parts = [_check_number(ex, "j mod num_clips", mod_rule, ref_mod),
             _check_number(ex, "j // T", div_rule, ref_div,
                           {**slips, (batch // dataset.length) / ref_div:
                            "the last, partly used clip counts too"})]
    return _verdict(ex, parts, f"{ref_mod} clips against {ref_div}: with j // T a batch is "
                    f"{dataset.length} near-identical frames of each of {ref_div} clips")
