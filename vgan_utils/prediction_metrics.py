"""How good is a predicted frame? The numbers a video-prediction paper reports, step by step.

Every figure is taken per predicted step (step 1 = the first frame after the input), because
errors grow with the horizon and a single average hides where a model fails. Frames in
[-1, 1] are mapped to [0, 1] first. Each formula is written out and checked against the
library in ``notebooks/06_predicting_frames.ipynb``:

* **MSE** as OpenSTL defines it (Tan et al. 2023, "OpenSTL: A Comprehensive Benchmark of
  Spatio-Temporal Predictive Learning"): the squared error *summed* over the pixels of a frame
  in [0, 1], averaged over frames and clips; its published Moving MNIST figures are on this
  scale (:func:`mse_per_step`);
* **PSNR** and **SSIM** (Wang, Bovik, Sheikh & Simoncelli 2004, "Image Quality Assessment:
  From Error Visibility to Structural Similarity") from **torchmetrics**, per frame and then
  averaged over clips, as OpenSTL does (:func:`psnr_per_step`, :func:`ssim_per_step`);
* **sharpness**: the gradient energy (mean squared difference of neighbouring pixels) of the
  predicted frames over that of the true ones -- 1 is as sharp as real, well below 1 is a blur
  (:func:`sharpness_per_step`); the quantity Mathieu, Couprie & LeCun 2016's gradient-difference
  loss is about;
* the **frame judge** of notebook 04 (:mod:`vgan_utils.judge`) on the predicted frames of one
  step: FD against its floor and the confident share (:func:`judge_at_step`): do the predicted
  frames still show digits?

Baselines every table carries: :func:`copy_last` and :func:`linear_extrapolation` for
prediction, :func:`linear_blend` for in-filling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from .display import image_grid, png_bytes, upscale
from .judge import Judge
from .prediction import PAST, split_clip
from .quality import frame_quality

Predict = Callable[[Tensor], Tensor]


def to_unit(x: Tensor) -> Tensor:
    """Frames from [-1, 1] to [0, 1] (the range every metric here assumes), clamped."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def _check_pair(pred: Tensor, true: Tensor) -> None:
    if pred.shape != true.shape or pred.ndim != 5:
        raise ValueError("pred and true must be clips (N, C, T, H, W) of the same shape, got "
                         f"{tuple(pred.shape)} and {tuple(true.shape)}")


def _frames(x: Tensor) -> Tensor:
    """Clips (N, C, T, H, W) -> frames (T, N, C, H, W): one row per step."""
    return x.permute(2, 0, 1, 3, 4)


def mse_per_step(pred: Tensor, true: Tensor) -> Tensor:
    """OpenSTL's MSE per step ``(T,)``: sum over a frame's pixels of the squared error in [0, 1],
    averaged over clips."""
    _check_pair(pred, true)
    return (to_unit(pred) - to_unit(true)).pow(2).sum(dim=(1, 3, 4)).mean(dim=0)


def psnr_per_step(pred: Tensor, true: Tensor) -> Tensor:
    """PSNR per step ``(T,)`` in dB: torchmetrics' PSNR of each frame (range 1), averaged over
    clips. A frame predicted exactly has an infinite PSNR; it is capped at 100 dB here."""
    _check_pair(pred, true)
    out = []
    for p, t in zip(_frames(to_unit(pred)), _frames(to_unit(true)), strict=True):
        per_frame = peak_signal_noise_ratio(p, t, data_range=1.0, reduction="none",
                                            dim=(1, 2, 3))
        out.append(per_frame.clamp(max=100.0).mean())
    return torch.stack(out)


def ssim_per_step(pred: Tensor, true: Tensor) -> Tensor:
    """SSIM per step ``(T,)``: torchmetrics' SSIM of each frame (Gaussian window 11, sigma 1.5,
    range 1), averaged over clips."""
    _check_pair(pred, true)
    return torch.stack([
        structural_similarity_index_measure(p, t, data_range=1.0, reduction="none").mean()
        for p, t in zip(_frames(to_unit(pred)), _frames(to_unit(true)), strict=True)])


def gradient_energy(frames: Tensor) -> Tensor:
    """Mean over a frame's pixels of ``(dI/dh)^2 + (dI/dw)^2`` (neighbour differences, [0, 1]),
    for every frame: the input's shape without its last two axes."""
    x = to_unit(frames)
    dh = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(-2).mean(-1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(-2).mean(-1)
    return dh + dw


def sharpness_per_step(pred: Tensor, true: Tensor) -> Tensor:
    """Gradient energy of the predicted frames over that of the true ones, per step ``(T,)``
    (means over clips first): 1 is as sharp as real, a blur falls below."""
    _check_pair(pred, true)
    p = gradient_energy(pred).mean(dim=(0, 1))  # (T,)
    t = gradient_energy(true).mean(dim=(0, 1))
    return p / t


def judge_at_step(judge: Judge, pred: Tensor, true: Tensor, other: Tensor,
                  step: int) -> dict[str, float | int]:
    """The frame judge on step ``step`` (1-based) of ``pred``: FD against the true frames of that
    step, its floor (those against the same step of ``other``, real clips not in ``true``),
    FD / floor and the confident share (beside real's): the figures of
    :func:`~vgan_utils.quality.frame_quality`."""
    _check_pair(pred, true)
    if other.shape != true.shape:
        raise ValueError(f"other must be real clips of true's shape {tuple(true.shape)}, got "
                         f"{tuple(other.shape)}")
    i = step - 1
    return frame_quality(judge, pred[:, :, i].float(), true[:, :, i].float(),
                         other[:, :, i].float())


# --------------------------------------------------------------------------------------------
# Baselines


def copy_last(past: Tensor, steps: int) -> Tensor:
    """Predict that nothing moves: the last input frame, ``steps`` times."""
    return past[:, :, -1:].expand(-1, -1, steps, -1, -1).clone()


def linear_extrapolation(past: Tensor, steps: int) -> Tensor:
    """Continue every pixel's last change: ``x_T + s (x_T - x_{T-1})``, clamped to [-1, 1]."""
    last, change = past[:, :, -1:], past[:, :, -1:] - past[:, :, -2:-1]
    s = torch.arange(1, steps + 1, dtype=past.dtype, device=past.device).view(1, 1, -1, 1, 1)
    return (last + s * change).clamp(-1, 1)


def linear_blend(first: Tensor, last: Tensor, steps: int) -> Tensor:
    """In-filling by cross-fading: frame ``i`` of ``steps`` is ``(1 - a) first + a last``,
    ``a = i / (steps + 1)``. ``first`` and ``last`` are single frames ``(N, C, 1, H, W)``."""
    a = torch.arange(1, steps + 1, dtype=first.dtype, device=first.device) / (steps + 1)
    a = a.view(1, 1, -1, 1, 1)
    return (1 - a) * first + a * last


@torch.no_grad()
def run_predictor(model: nn.Module | Predict, given: Tensor, batch_size: int = 100) -> Tensor:
    """``model(given)`` in batches on the model's device (eval mode for a module), on the CPU."""
    device = torch.device("cpu")
    if isinstance(model, nn.Module):
        model.eval()
        device = next(model.parameters()).device
    return torch.cat([model(chunk.to(device)).float().cpu() for chunk in given.split(batch_size)])


def step_table(preds: dict[str, Tensor], true: Tensor) -> dict[str, dict[str, list[float]]]:
    """For each model's predictions: MSE, PSNR, SSIM and sharpness per step, as lists."""
    return {name: {"mse": mse_per_step(p, true).tolist(), "psnr": psnr_per_step(p, true).tolist(),
                   "ssim": ssim_per_step(p, true).tolist(),
                   "sharpness": sharpness_per_step(p, true).tolist()}
            for name, p in preds.items()}


def format_step_table(table: dict[str, dict[str, list[float]]], metric: str,
                      fmt: str = "{:7.3f}") -> str:
    """One metric of :func:`step_table` as text: a row per model, a column per step, the mean."""
    steps = len(next(iter(table.values()))[metric])
    head = f"{metric:>22s} " + " ".join(f"{s:>7d}" for s in range(1, steps + 1)) + "    mean"
    rows = [head]
    for name, m in table.items():
        values = m[metric]
        rows.append(f"{name:>22s} " + " ".join(fmt.format(v) for v in values)
                    + " " + fmt.format(sum(values) / len(values)))
    return "\n".join(rows)


def evaluate(models: dict[str, nn.Module | Predict], clips: Tensor, task: str = "predict",
             given: int = PAST) -> tuple[dict[str, Tensor], dict[str, dict[str, list[float]]]]:
    """Every model's predictions for the held-out ``clips`` and their :func:`step_table`.

    Each model maps the given frames of a clip (:func:`~vgan_utils.prediction.split_clip`) to
    the others; baselines are plain functions (e.g. ``lambda past: copy_last(past, 10)``).
    """
    inputs, true = split_clip(clips, task, given)
    preds = {name: run_predictor(model, inputs) for name, model in models.items()}
    return preds, step_table(preds, true)


def strip_image(rows: Tensor, scale: int = 2) -> bytes:
    """Clips ``(R, C, T, H, W)`` as a PNG: one row per clip, its frames left to right."""
    r, c, t, h, w = rows.shape
    frames = rows.transpose(1, 2).reshape(r * t, c, h, w)
    return png_bytes(upscale(image_grid(frames, ncols=t), scale))


def render_predictions(trainer, n: int = 3) -> bytes:
    """The dashboard's picture of an adversarial predictor: for ``n`` of the trainer's fixed
    clips, the true clip above the completed one (given frames, then the predicted ones)."""
    true = trainer.fixed_z[:n].float().cpu()
    completed = trainer.sample(trainer.fixed_z[:n])
    return strip_image(torch.stack([true, completed], dim=1).flatten(0, 1))
