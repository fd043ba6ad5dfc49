"""Exercise checks of notebook 06 (predicting and filling in frames).

References come from definitions: the weighted squared and absolute errors' minimisers, the
loss weights of :class:`vgan_utils.prediction.MathieuWeights`, and the package's blending and
sharpness functions.
"""

from __future__ import annotations

from typing import Any

import torch

from .core import NOT_YET, _check_number, _exercise, _missing, _say

P_A = 0.8  # the probability of future A in exercises 1 and 2


def _frame_answer(ex: str, answer: Any, like: torch.Tensor,
                  slips: dict[str, torch.Tensor], want: torch.Tensor, praise: str,
                  atol: float = 1e-3) -> bool:
    """Compare a frame with ``want`` to ``atol`` per pixel; name the slip it equals, if any."""
    if _missing(answer):
        return _say(ex, False, NOT_YET)
    if not isinstance(answer, torch.Tensor) or answer.shape != like.shape:
        shape = tuple(answer.shape) if isinstance(answer, torch.Tensor) else type(answer).__name__
        return _say(ex, False, f"got {shape}; want a frame shaped like A, {tuple(like.shape)}")
    answer = answer.detach().float()
    if torch.allclose(answer, want, atol=atol):
        return _say(ex, True, praise)
    for why, frame in slips.items():
        if torch.allclose(answer, frame, atol=atol):
            return _say(ex, False, why)
    return _say(ex, False, f"differs from the minimiser by up to "
                f"{(answer - want).abs().max():.3g} per pixel")


@_exercise("06.1")
def check_weighted_average(p_star: Any, A: torch.Tensor, B: torch.Tensor) -> bool:
    """Notebook 06, exercise 1: the frame that minimises ``0.8 |A - p|^2 + 0.2 |B - p|^2``,
    the expectation ``0.8 A + 0.2 B``."""
    want = P_A * A + (1 - P_A) * B
    slips = {"that is the equal-odds average (A + B) / 2": (A + B) / 2,
             "the weights are swapped: A has probability 0.8": (1 - P_A) * A + P_A * B,
             "that is the likelier future itself: the squared error's minimiser is the mean": A}
    return _frame_answer("06.1", p_star, A, slips, want,
                         "0.8 A + 0.2 B: the expectation again, a bright and a faint ghost")


@_exercise("06.2")
def check_weighted_median(p_abs: Any, A: torch.Tensor, B: torch.Tensor) -> bool:
    """Notebook 06, exercise 2: the frame that minimises ``0.8 |A - p| + 0.2 |B - p|`` per pixel:
    the weighted median, which is ``A`` wherever A and B differ."""
    slips = {"that is the squared error's minimiser, the mean 0.8 A + 0.2 B":
             P_A * A + (1 - P_A) * B,
             "that is the less likely future: the median follows the weight above 1/2": B,
             "that is the equal-odds average": (A + B) / 2}
    return _frame_answer("06.2", p_abs, A, slips, A.clone(),
                         "A itself: the weighted median picks the likelier future, pixel by "
                         "pixel; with equal odds any value between A and B would do",
                         atol=0.02)  # descent on |.| ends within a step size of the minimiser


@_exercise("06.3")
def check_adversarial_scale(factor: Any) -> bool:
    """Notebook 06, exercise 3: by what factor the engine's generator loss ``L_adv + g_penalty``
    exceeds the paper's ``lambda_adv L_adv + lambda_p L_p + lambda_gdl L_gdl`` at the paper's
    weights (:class:`~vgan_utils.prediction.MathieuWeights`' defaults; recipe ``gan32`` takes
    a larger lambda_adv): ``1 / lambda_adv``."""
    from ..prediction import MathieuWeights

    weights = MathieuWeights()
    ref = 1 / weights.adv
    ok, text = _check_number("06.3", "factor", factor, ref,
                             {weights.adv ** 2: "inverted: the engine divides by lambda_adv"})
    if ok:
        text += (f": the same minimiser, gradients {ref:g}x larger, which Adam's per-weight "
                 "scaling cancels")
    return _say("06.3", ok, text)


@_exercise("06.4")
def check_blend_sharpness(value: Any, clips: torch.Tensor, k: int = 5) -> bool:
    """Notebook 06, exercise 4: the sharpness (gradient energy over real's, means over clips
    first) of linear blending at the middle missing frame of 20-frame clips with ``k`` frames
    given at each end."""
    from ..prediction_metrics import linear_blend, sharpness_per_step

    if clips.dim() != 5 or clips.shape[2] != 20:
        raise ValueError(f"clips must be (N, C, 20, H, W), got {tuple(clips.shape)}")
    gap = 20 - 2 * k
    blend = linear_blend(clips[:, :, k - 1:k], clips[:, :, 20 - k:21 - k], gap)
    ref = float(sharpness_per_step(blend, clips[:, :, k:20 - k])[gap // 2 - 1])
    ok, text = _check_number("06.4", "sharpness", value, ref, {1 / ref ** 2: "inverted: "
                             "blend's gradient energy over the real frame's, not the reverse"},
                             rel_tol=1e-3)
    if ok:
        text += ": a cross-fade halves each ghost's differences, a quarter of the energy each"
    return _say("06.4", ok, text)
