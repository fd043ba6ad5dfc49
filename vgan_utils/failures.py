"""Three ways GAN training fails, each reproduced by a short run and read off one number.

* **Mode collapse**: G covers fewer and fewer of the data's modes; digit coverage and recall
  (Kynkaenniemi et al. 2019) fall while precision may stay high. Number: recall's drop from its
  best value to its last (:func:`collapse_drop`). Goodfellow 2016, "NIPS 2016 Tutorial:
  Generative Adversarial Networks", section 5.1.1; Metz et al. 2017, "Unrolled GANs".
* **Oscillation**: the two players circle instead of converging; losses and FD go up and down
  with steps. Number: the swing of D's loss, the standard deviation of its means over windows
  of steps (:func:`swing`; near 0 for a settled game). Mescheder et al. 2018, "Which Training
  Methods for GANs do actually Converge?".
* **An overpowering discriminator**: D(x) -> 1, D(G(z)) -> 0, and with the minimax loss G's
  gradient vanishes (Goodfellow et al. 2014, section 3; Arjovsky & Bottou 2017, "Towards
  Principled Methods for Training GANs"). Number: G's gradient norm late in the run over early
  (:func:`overpowering`).

Each run is a recipe of :data:`vgan_utils.train.CONFIGS` with changes written as
``"NAME,field=value"`` (:func:`vgan_utils.train.parse_recipe`), trained by the course's engine
and judged every few steps. Taught in ``notebooks/08_why_gans_are_hard.ipynb``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint
from .quality import QualityTracker
from .train import (
    GENERATOR_FIELDS,
    RunConfig,
    build_trainer,
    load_generator,
    parse_recipe,
    run_config_from,
)
from .training import GANTrainer

# The recipe that shows each failure, as one or two changes from a course recipe, and why.
FAILURES: dict[str, tuple[str, str]] = {
    "mode collapse": (
        "frames32,d_norm=none,lr_g=5e-3",
        "no batch norm in D (it can no longer see that a batch of fakes is all alike) and a "
        "generator learning 5x faster than D",
    ),
    "oscillation": (
        "frames32,lr_g=5e-3,lr_d=5e-3,betas=(0.9, 0.999)",
        "learning rates 5x the course recipe's and Adam's default momentum 0.9: each player "
        "overshoots the other's last move",
    ),
    "overpowering D": (
        "frames32,loss=minimax,d_steps=5",
        "the minimax generator loss log(1 - D(G(z))) (it saturates when D wins) and five D "
        "updates per G update, from scratch: D wins before G can draw anything",
    ),
}


@dataclass
class Trace:
    """One judged run: the engine's per-step history and the quality at evaluation steps."""

    recipe: str
    trainer: GANTrainer
    eval_steps: list[int] = field(default_factory=list)
    quality: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def curve(self, key: str) -> np.ndarray:
        """One quality figure (``fd_over_floor``, ``recall``, ``coverage``...) per evaluation."""
        return np.array([q[key] for q in self.quality], dtype=float)

    def history(self, key: str) -> np.ndarray:
        """One of the engine's per-step series (``loss_d``, ``d_real``, ``grad_norm_g``...)."""
        return np.array(self.trainer.history[key], dtype=float)


def generator_of(run: RunConfig, start: str | Path) -> RunConfig:
    """``run`` with the generator shape of the shipped checkpoint ``start``.

    Why: notebook 08 continues the shipped generator under other recipes, whose own widths
    were chosen for short runs from scratch.
    """
    shipped = run_config_from(load_checkpoint(start))
    if (shipped.size, shipped.channels) != (run.size, run.channels):
        raise ValueError(f"{start} draws {shipped.channels}x{shipped.size}x{shipped.size} "
                         f"frames, the recipe {run.name!r} {run.channels}x{run.size}x{run.size}")
    return replace(run, **{name: getattr(shipped, name) for name in GENERATOR_FIELDS})


def judged_run(recipe: str, steps: int, eval_every: int, tracker: QualityTracker,
               seed: int = 0, device: torch.device | str = "cpu",
               start: str | Path | None = None) -> Trace:
    """Train ``recipe`` for ``steps`` steps, judging G (EMA if kept) every ``eval_every``.

    ``start``: a shipped generator checkpoint (e.g. ``data/frames32.pt``) whose weights G
    starts from, against a fresh discriminator; G's shape (``GENERATOR_FIELDS``) is the
    file's, D and the training settings are the recipe's. The first evaluation is at step 0.
    The tracker's frame size must be the recipe's.
    """
    if steps < 1 or eval_every < 1:
        raise ValueError(f"steps and eval_every must be >= 1, got {steps} and {eval_every}")
    run = parse_recipe(recipe) if start is None else generator_of(parse_recipe(recipe), start)
    if run.size != tracker.judge.config.size:
        raise ValueError(f"{recipe!r} makes {run.size}x{run.size} frames; the tracker judges "
                         f"{tracker.judge.config.size}x{tracker.judge.config.size}")
    trace = Trace(recipe, build_trainer(run, device, seed))
    if start is not None:
        trace.trainer.generator.load_state_dict(load_generator(start).state_dict())
        if trace.trainer.ema is not None:
            trace.trainer.ema.load_state_dict(trace.trainer.generator.state_dict())
    t0 = time.perf_counter()
    while True:
        trace.eval_steps.append(trace.trainer.step)
        trace.quality.append(tracker.measure(_sampler(trace.trainer).cpu()))
        if trace.trainer.step >= steps:
            break
        trace.trainer.train(min(eval_every, steps - trace.trainer.step))
    trace.seconds = time.perf_counter() - t0
    return trace


def _sampler(trainer: GANTrainer) -> torch.nn.Module:
    return trainer.ema if trainer.ema is not None else trainer.generator


def collapse_drop(values: np.ndarray) -> float:
    """How far a "higher is better" curve (recall, coverage) fell from its best: best - last."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("collapse_drop needs at least one value")
    return float(values.max() - values[-1])


def swing(values: np.ndarray, window: int) -> float:
    """How far a per-step series (D's loss) swings: the standard deviation of its means over
    consecutive windows of ``window`` steps. Averaging over a window first removes the
    step-to-step noise of minibatches, so what is left is the slow back and forth of the game.
    """
    return float(windowed_mean(values, window).std())


def windowed_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Means over consecutive windows of ``window`` steps (a trailing part window dropped)."""
    values = np.asarray(values, dtype=float)
    n = values.size // window
    if n == 0:
        raise ValueError(f"{values.size} values are fewer than one window of {window}")
    return values[: n * window].reshape(n, window).mean(axis=1)


def overpowering(trace: Trace, window: int = 50) -> dict[str, float]:
    """D's verdicts and G's gradient at the end of the run against its start.

    ``d_real`` and ``d_fake``: mean D(x) and D(G(z)) over the last ``window`` steps;
    ``grad_g_ratio``: G's mean gradient norm over the last window divided by its mean over the
    first (well below 1: G has stopped learning); ``grad_g_low``: the lowest window's mean over
    the first's (a collapse G later escaped from shows here, not in ``grad_g_ratio``).
    """
    g = trace.history("grad_norm_g")
    if g.size < 2 * window:
        raise ValueError(f"the run has {g.size} steps; overpowering needs at least {2 * window}")
    return {"d_real": float(trace.history("d_real")[-window:].mean()),
            "d_fake": float(trace.history("d_fake")[-window:].mean()),
            "grad_g_ratio": float(g[-window:].mean() / g[:window].mean()),
            "grad_g_low": float(windowed_mean(g, window).min() / g[:window].mean())}
