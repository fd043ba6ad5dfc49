"""Exercise checks of notebooks 04 (training on frames) and 05 (from frames to clips).

Each reference is computed here from its definition -- a loss written with ``softplus``, an
autograd gradient, a PyTorch layer's output shape, the package's own metrics -- never typed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .core import NOT_YET, _as_number, _check_number, _exercise, _missing, _say, _verdict

_LOGITS = torch.tensor([-6.0, -1.5, -0.2, 0.0, 0.7, 2.5, 9.0])  # both signs, small and large


def _call_loss(name: str, fn: Any, logits: torch.Tensor) -> tuple[float | None, str]:
    """``fn(logits)`` as a float, or None and why not (the learner's code must not crash)."""
    if _missing(fn):
        return None, f"{name}: {NOT_YET}"
    if not callable(fn):
        return None, f"{name} should be a function of the logits, got {type(fn).__name__}"
    try:
        out = fn(logits.clone())
    except Exception as err:  # the learner's code: report, do not crash the cell
        return None, f"{name} raised {type(err).__name__}: {err}"
    value = _as_number(out)
    if value is None:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return None, f"{name} returns {shape}; a loss is one number (take the mean)"
    return value, ""


def _loss_part(name: str, fn: Any, reference: Callable[[torch.Tensor], torch.Tensor],
               slips: dict[str, Callable[[torch.Tensor], torch.Tensor]]) -> tuple[bool, str]:
    """Compare a loss function with ``reference`` on fixed logits; name a known slip if any."""
    value, why = _call_loss(name, fn, _LOGITS)
    if value is None:
        return False, why
    want = float(reference(_LOGITS))
    if abs(value - want) <= 1e-5 * max(1.0, abs(want)):
        return True, f"{name} = {value:.5f}"
    for slip, wrong in slips.items():
        if abs(value - float(wrong(_LOGITS))) <= 1e-5 * max(1.0, abs(value)):
            return False, f"{name} = {value:.5f} ({slip})"
    return False, f"{name} = {value:.5f}, want {want:.5f} on the check's logits"


# --- notebook 04: training on frames ---------------------------------------------------------

def _twice_sigmoid(target: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """BCEWithLogitsLoss applied to probabilities: the sigmoid taken twice."""
    return lambda x: F.binary_cross_entropy_with_logits(torch.sigmoid(x),
                                                        torch.full_like(x, target))


@_exercise("04.1")
def check_bce_label_losses(loss_called_real: Any, loss_called_fake: Any) -> bool:
    """Notebook 04, exercise 1: section 2's two loss functions written with
    ``nn.BCEWithLogitsLoss`` and label tensors. Each must equal the softplus form:
    ``-log sigmoid(l) = softplus(-l)`` for "real", ``-log(1 - sigmoid(l)) = softplus(l)``."""
    ex = "04.1"
    parts = [
        _loss_part("loss_called_real", loss_called_real, lambda x: F.softplus(-x).mean(),
                   {"labels of 0: that is the 'fake' loss": lambda x: F.softplus(x).mean(),
                    "sigmoid taken twice: BCEWithLogitsLoss wants logits, not probabilities":
                    _twice_sigmoid(1.0)}),
        _loss_part("loss_called_fake", loss_called_fake, lambda x: F.softplus(x).mean(),
                   {"labels of 1: that is the 'real' loss": lambda x: F.softplus(-x).mean(),
                    "sigmoid taken twice: BCEWithLogitsLoss wants logits, not probabilities":
                    _twice_sigmoid(0.0)}),
    ]
    return _verdict(ex, parts, "both equal the softplus forms of section 2 (to the last bits): "
                    "now rerun the loop and watch the last bits grow")


@_exercise("04.2")
def check_minimax_g_loss(g_loss: Any) -> bool:
    """Notebook 04, exercise 2: the minimax generator loss ``E[log(1 - D(G(z)))]`` of fake
    logits, which is ``-softplus(l)`` averaged."""
    ex = "04.2"
    ok, text = _loss_part(
        "g_loss", g_loss, lambda x: -F.softplus(x).mean(),
        {"that is the non-saturating loss -log D(G(z)), section 2's": lambda x:
         F.softplus(-x).mean(),
         "wrong sign: minimax G *minimises* log(1 - D(G(z))), which is -softplus(l)": lambda x:
         F.softplus(x).mean(),
         "log(1 - D) of D = sigmoid(l) is -softplus(l), not -softplus(-l)": lambda x:
         -F.softplus(-x).mean()})
    if ok:
        start = float(-F.softplus(torch.zeros(())))
        text += f"; at D(G(z)) = 1/2 it is {start:.4f} = -log 2, and it flattens as D wins"
    return _say(ex, ok, text)


@_exercise("04.3")
def check_live_settings(live: Any) -> bool:
    """Notebook 04, exercise 3: which dashboard settings apply at the next step, without
    *Reset*. The reference is the dashboard's own list (:data:`vgan_utils.dashboard.LIVE`)."""
    from ..dashboard import LIVE

    ex = "04.3"
    if _missing(live):
        return _say(ex, False, NOT_YET)
    if isinstance(live, str) or not isinstance(live, Sequence | set | frozenset):
        return _say(ex, False, f"give the names as a set or list of strings, got {live!r:.60}")
    given, want = {str(x) for x in live}, set(LIVE)
    extra, missing = sorted(given - want), sorted(want - given)
    if not extra and not missing:
        return _say(ex, True, f"{sorted(want)}: optimiser settings, read at the next step; "
                    "the loss, batch size and noise size change what is trained")
    hints = []
    if extra:
        hints.append(f"{extra} need(s) new networks or data: Reset")
    if missing:
        hints.append(f"{missing} also apply live (set_hparams)")
    return _say(ex, False, "; ".join(hints))


@_exercise("04.4")
def check_bf16_drift(differences: Any) -> bool:
    """Notebook 04, exercise 4: the loss differences between a bf16 and an fp32 run resumed
    from the same checkpoint: close (bf16 keeps 8 mantissa bits) but not all zero."""
    ex = "04.4"
    if _missing(differences):
        return _say(ex, False, NOT_YET)
    d = torch.as_tensor(np.asarray(differences, dtype=np.float64))
    if d.numel() == 0:
        return _say(ex, False, "no differences given: subtract run A's last K losses")
    if not torch.isfinite(d).all():
        return _say(ex, False, "some differences are not finite: did the bf16 run fail?")
    worst = float(d.abs().max())
    if worst == 0:
        return _say(ex, False, "all exactly 0: was amp='bf16' passed to the trainer that loaded "
                    "the checkpoint?")
    if worst > 0.1:
        return _say(ex, False, f"differences reach {worst:.3g}: more than rounding; did both "
                    "runs start from the same checkpoint and the same K steps?")
    return _say(ex, True, f"largest difference {worst:.2g}: close, not equal -- bf16 rounds "
                "every convolution to 8 bits of mantissa")


@_exercise("04.5")
def check_rarest_digit(digit: Any, probs: torch.Tensor) -> bool:
    """Notebook 04, exercise 5: the digit the generator draws least often, from the judge's
    digit probabilities ``probs`` (N, 10) of its frames (:func:`metrics.digit_shares`)."""
    from ..metrics import digit_shares

    ex = "04.5"
    if probs.dim() != 2 or probs.shape[1] != 10:
        raise ValueError(f"probs must be (N, 10) digit probabilities, got {tuple(probs.shape)}")
    if _missing(digit):
        return _say(ex, False, NOT_YET)
    shares = digit_shares(probs)
    rarest = int(shares.argmin())
    value = _as_number(digit)
    if value is None or value != int(value) or not 0 <= value <= 9:
        return _say(ex, False, f"give one digit 0-9, got {digit!r:.40}")
    if int(value) == rarest:
        return _say(ex, True, f"digit {rarest}, {float(shares[rarest]):.1%} of the calls "
                    "(real frames: about 10% each)")
    if int(value) == int(shares.argmax()):
        return _say(ex, False, f"{int(value)} is the most frequent digit: take the smallest share")
    return _say(ex, False, f"digit {int(value)} has {float(shares[int(value)]):.1%}; another "
                "digit has less")


@_exercise("04.6")
def check_floor_sizes(floor_100: Any, floor_n: Any, features: Sequence[torch.Tensor],
                      n: int) -> bool:
    """Notebook 04, exercise 6: the FD floor (FD between two real sets) from 100 and from
    ``n`` frames per set, given the two sets' judge features."""
    from ..metrics import fd_floor

    ex = "04.6"
    a, b = features
    if min(len(a), len(b)) < n:
        raise ValueError(f"need {n} features per set, got {len(a)} and {len(b)}")
    refs = {100: fd_floor(a[:100], b[:100]), n: fd_floor(a[:n], b[:n])}
    slips = {refs[n] / refs[100]: "that is the other set size's floor: swapped?"}
    parts = [_check_number(ex, "floor at 100", floor_100, refs[100], slips, rel_tol=1e-4),
             _check_number(ex, f"floor at {n}", floor_n, refs[n],
                           {refs[100] / refs[n]: "that is the floor at 100: swapped?"},
                           rel_tol=1e-4)]
    return _verdict(ex, parts, f"{refs[100]:.3g} from 100 frames against {refs[n]:.3g} from "
                    f"{n}: FD's estimate is biased upwards at small sets")


# --- notebook 05: from frames to clips -------------------------------------------------------

@_exercise("05.1")
def check_mask_penalty_grad(grad: Any, mask: torch.Tensor, weight: float) -> bool:
    """Notebook 05, exercise 1: the gradient VGAN's mask penalty ``weight * mean(|m|)`` adds to
    the mask ``m`` -- what ``TwoStreamGenerator`` adds in backward (the L1 penalty inside the
    network, as the authors' code does). Reference: autograd of the penalty."""
    from ..video_nets import mask_sparsity_penalty

    ex = "05.1"
    if _missing(grad):
        return _say(ex, False, NOT_YET)
    m = mask.detach().clone().requires_grad_(True)
    mask_sparsity_penalty(m, weight).backward()
    want = m.grad
    if not isinstance(grad, torch.Tensor):
        return _say(ex, False, f"expected a tensor shaped like the mask, got {type(grad).__name__}")
    if grad.shape != want.shape:
        return _say(ex, False, f"shape {tuple(grad.shape)}; the gradient has the mask's shape "
                    f"{tuple(want.shape)}")
    if torch.allclose(grad, want, rtol=1e-4, atol=0):
        return _say(ex, True, f"weight * sign(m) / {m.numel()} elements: a constant push towards "
                    "0 on every mask value, however small -- L1 makes masks sparse")
    if torch.allclose(grad, want * m.numel(), rtol=1e-4, atol=0):
        return _say(ex, False, f"{m.numel()} times too large: the penalty is a mean over all "
                    "elements, not a sum")
    if torch.allclose(grad, -want, rtol=1e-4, atol=0):
        return _say(ex, False, "right size, wrong sign: the penalty grows with |m|")
    return _say(ex, False, "values differ from d(weight * mean|m|)/dm: |m|' = sign(m)")


@_exercise("05.2")
def check_tconv3d_doubling(kernel: Any, stride: Any, padding: Any) -> bool:
    """Notebook 05, exercise 2: a ``ConvTranspose3d`` that turns a (2, 4, 4) block into
    (4, 8, 8). Any (kernel, stride, padding) that does so is right; PyTorch decides."""
    ex = "05.2"
    if any(_missing(a) for a in (kernel, stride, padding)):
        return _say(ex, False, NOT_YET)
    try:
        layer = nn.ConvTranspose3d(1, 1, kernel, stride, padding)
        shape = tuple(layer(torch.zeros(1, 1, 2, 4, 4)).shape[2:])
    except Exception as err:  # an impossible layer: say why, as PyTorch does
        return _say(ex, False, f"PyTorch refuses it: {type(err).__name__}: {err}")
    if shape == (4, 8, 8):
        return _say(ex, True, "(2, 4, 4) -> (4, 8, 8): (i - 1) * s - 2p + k doubles every axis")
    return _say(ex, False, f"(2, 4, 4) -> {shape}; each axis gives (i - 1) * s - 2p + k: "
                "solve it for i = 2 -> 4 and i = 4 -> 8")


@_exercise("05.3")
def check_frozen_clips(frozen: Any, real: torch.Tensor) -> bool:
    """Notebook 05, exercise 3: clips that show each real clip's first frame T times,
    shaped like ``real`` (N, C, T, H, W); the check reports their frame-change ratio."""
    from ..video_quality import frame_change

    ex = "05.3"
    if _missing(frozen):
        return _say(ex, False, NOT_YET)
    if not isinstance(frozen, torch.Tensor) or frozen.shape != real.shape:
        shape = tuple(frozen.shape) if isinstance(frozen, torch.Tensor) else type(frozen).__name__
        return _say(ex, False, f"got {shape}; want the real clips' shape {tuple(real.shape)}")
    if not torch.equal(frozen[:, :, 0], real[:, :, 0]):
        return _say(ex, False, "the first frames differ from the real clips' first frames")
    if not torch.equal(frozen, frozen[:, :, :1].expand_as(frozen)):
        return _say(ex, False, "not frozen: every frame must equal the clip's first "
                    "(clips[:, :, :1].expand_as(clips))")
    ratio = float(frame_change(frozen) / frame_change(real))
    return _say(ex, True, f"frame change {ratio:.2f}x real's: ACD and change both say 'no "
                "change'; only clip FD and the change ratio below 1 call it frozen")


@_exercise("05.4")
def check_race_factor(factor: Any, rows: Sequence[dict]) -> bool:
    """Notebook 05, exercise 4: from the committed clip race (``rows``), by what factor
    ``motion32``'s frame FD / floor is lower than ``content_motion32``'s."""
    ex = "05.4"
    by_name = {r["recipe"]: r for r in rows}
    missing = {"motion32", "content_motion32"} - set(by_name)
    if missing:
        raise ValueError(f"the race rows lack {sorted(missing)}")
    ref = (by_name["content_motion32"]["frame_fd_over_floor"]
           / by_name["motion32"]["frame_fd_over_floor"])
    ok, text = _check_number(ex, "factor", factor, ref,
                             {1 / ref ** 2: "inverted: content_motion32's over motion32's"},
                             rel_tol=1e-3)
    if ok:
        text += ": the frames improve from the trained frame generator; compare the change ratio"
    return _say(ex, ok, text)
