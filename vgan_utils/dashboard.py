"""A live training dashboard (ipywidgets) around :class:`~vgan_utils.training.GANTrainer`.

Controls for the loss, both learning rates (TTUR, Heusel et al. 2017), Adam's beta1
(DCGAN's 0.5, Radford et al. 2016), batch size, D steps per G step and noise size;
Start / Pause / Resume / Reset / Save buttons; live loss and D(x)/D(G(z)) curves; samples
from the trainer's fixed z; steps/s, frames/s and the device.

Why it is built this way (see the course's TOOLING notes):

* Training runs in a ``threading.Thread`` and Pause sets a ``threading.Event``: the kernel
  stays idle, so clicks arrive mid-run. Training inside a click handler would queue every
  click until the run ended.
* The thread updates widget traits only (``Image.value``, ``Label.value``), and plots are
  drawn on pyplot-free matplotlib ``Figure`` objects (Agg) and sent as PNG bytes: no global
  pyplot state is touched from the thread, and nothing needs closing.
* Learning rates, beta1 and D steps change the running trainer at its next step; the loss,
  batch size and noise size define a new experiment (new networks or a new data stream),
  so they apply on Reset.
* :meth:`Dashboard.run` drives the very loop the Start button runs, but in the caller's
  thread, so nbval executes a notebook's dashboard without clicks.

Used in notebooks 01 (toy GANs), 04 (frames, where it is taught) and 05 (clips, where
``render`` returns an animated GIF: pass ``image_format="gif"``).
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from .display import clip_grid, gif_bytes, image_grid, png_bytes, upscale
from .losses import LOSS_NAMES
from .training import GANTrainer

DEFAULT_HPARAMS: dict[str, Any] = {
    "loss": "nonsaturating", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
    "batch_size": 64, "d_steps": 1, "z_dim": 100,
}
LIVE = ("lr_g", "lr_d", "beta1", "d_steps")  # applied at the trainer's next step
ON_RESET = ("loss", "batch_size", "z_dim")  # need new networks or data: applied on Reset


class Dashboard(widgets.VBox):
    """Train a GAN live: ``make_trainer(hparams)`` builds it, ``render(trainer)`` draws it.

    ``hparams`` holds the keys of :data:`DEFAULT_HPARAMS`; ``controls`` sets their starting
    values. ``render`` returns image bytes in ``image_format`` ("png", or "gif" for clips).
    ``steps`` is how many steps Start trains; ``refresh_s`` how often curves and samples are
    redrawn while training (drawing costs training time).
    """

    def __init__(
        self,
        make_trainer: Callable[[dict[str, Any]], GANTrainer],
        render: Callable[[GANTrainer], bytes],
        controls: dict[str, Any] | None = None,
        title: str = "",
        *,
        steps: int = 500,
        image_format: str = "png",
        save_path: str = "dashboard.pt",
        refresh_s: float = 1.0,
    ) -> None:
        unknown = set(controls or {}) - set(DEFAULT_HPARAMS)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; "
                             f"known: {sorted(DEFAULT_HPARAMS)}")
        self.make_trainer, self.render, self.title = make_trainer, render, title
        self.refresh_s = refresh_s
        self.error: BaseException | None = None
        self._pause = threading.Event()
        self._lock = threading.RLock()  # one step, one render or one save at a time
        self._thread: threading.Thread | None = None
        self._running = False
        self._target = 0
        self.inputs = _inputs({**DEFAULT_HPARAMS, **(controls or {})})
        self.steps = _styled(widgets.BoundedIntText(value=steps, min=1, max=10**7,
                                                    description="steps"), "vgan-steps")
        self.save_path = widgets.Text(value=save_path, description="save to")
        self.buttons = _buttons(self)
        self.curves = _styled(widgets.Image(format="png"), "vgan-curves")
        self.samples = _styled(widgets.Image(format=image_format), "vgan-samples")
        self.status = _styled(widgets.Label(), "vgan-status")
        self.progress = widgets.IntProgress(min=0, max=1, layout=widgets.Layout(width="100%"))
        super().__init__(children=self._layout_children())
        for name, box in self.inputs.items():
            box.observe(partial(self._on_input, name), names="value")
        self.trainer = make_trainer(self.hparams)
        self._refresh("ready")

    # --- the public controls (each button calls one of these) ----------------------------

    @property
    def hparams(self) -> dict[str, Any]:
        """The controls' current values, as ``make_trainer`` receives them."""
        return {name: box.value for name, box in self.inputs.items()}

    @property
    def running(self) -> bool:
        """True while the background training thread is stepping."""
        return self._running

    def run(self, steps: int) -> None:
        """Train ``steps`` steps in the caller's thread with the Start button's loop (blocking).

        Raises what stopped training (e.g. :class:`~vgan_utils.training.NonFiniteLossError`).
        """
        if self._running:
            raise RuntimeError("training is running in the background: pause() it first")
        self._target = self.trainer.step + steps
        self._pause.clear()
        self._loop()
        if self.error is not None:
            raise self.error

    def start(self, steps: int | None = None) -> None:
        """Train ``steps`` (default: the steps box) more steps in a background thread."""
        if not self._running:
            self._launch(self.trainer.step + (steps or self.steps.value))

    def pause(self) -> None:
        """Ask the training thread to stop before its next step (returns at once)."""
        self._pause.set()

    def resume(self) -> None:
        """Continue a paused run towards the step count Start asked for."""
        if not self._running and self.trainer.step < self._target:
            self._launch(self._target)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background thread has stopped (for tests and scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def reset(self) -> None:
        """Stop training and build fresh networks from the current controls."""
        self.pause()
        self.wait()
        self.trainer = self.make_trainer(self.hparams)
        self._target, self.error = 0, None
        self._refresh("reset: new networks")

    def save(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint of the trainer (between two steps if it is running)."""
        with self._lock:
            saved = self.trainer.save(path or self.save_path.value)
            self.status.value = f"step {self.trainer.step} saved to {Path(saved).name}"
        return saved

    # --- the training loop -------------------------------------------------------------------

    def _launch(self, target: int) -> None:
        self._target = target
        self._pause.clear()
        self._running = True
        self._sync_buttons()
        self._thread = threading.Thread(target=self._loop, name="vgan-dashboard", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        """Step until the target or a pause; redraw every ``refresh_s`` seconds."""
        self._running, self.error = True, None
        self._sync_buttons()
        last = time.monotonic()
        try:
            while self.trainer.step < self._target and not self._pause.is_set():
                with self._lock:
                    self.trainer.train(1)
                if time.monotonic() - last >= self.refresh_s:
                    self._refresh("running")
                    last = time.monotonic()
        except Exception as err:  # shown in the status line; run() re-raises it
            self.error = err
        finally:
            self._running = False
            self._refresh(self._final_state())

    def _final_state(self) -> str:
        if self.error is not None:
            return f"stopped: {type(self.error).__name__}: {self.error}"
        return "done" if self.trainer.step >= self._target else "paused"

    # --- display ---------------------------------------------------------------------------------

    def _refresh(self, state: str) -> None:
        """Redraw curves and samples and update the status line and buttons."""
        with self._lock:
            trainer = self.trainer
            self.curves.value = curves_png(trainer.history, trainer.scores_are_probabilities)
            self.samples.value = self.render(trainer)
            rates = trainer.throughput()
        self.progress.max = max(self._target, trainer.step, 1)
        self.progress.value = trainer.step
        self.status.value = (f"step {trainer.step} | {rates['steps_per_s']:.1f} steps/s | "
                             f"{rates['frames_per_s']:.0f} frames/s | {trainer.device} | {state}")
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        b = self.buttons
        b["start"].disabled = self._running
        b["pause"].disabled = not self._running
        b["resume"].disabled = self._running or self.trainer.step >= self._target

    def _on_input(self, name: str, change: dict[str, Any]) -> None:
        """Live controls go to the trainer at once (effective next step); others wait for Reset."""
        if name in ON_RESET:
            self.status.value = f"{name} = {change['new']}: applies on Reset"
            return
        value = change["new"]
        kw = {"betas": (value, self.trainer.config.betas[1])} if name == "beta1" else {name: value}
        self.trainer.set_hparams(**kw)

    def _layout_children(self) -> list[widgets.Widget]:
        wrap = widgets.Layout(flex_flow="row wrap")
        i, b = self.inputs, self.buttons
        note = widgets.HTML("<small>Learning rates, beta1 and D steps act at the next step; "
                            "loss, batch size and noise size on Reset.</small>")
        rows = [
            widgets.HBox([i["loss"], i["batch_size"], i["z_dim"]], layout=wrap),
            widgets.HBox([i["lr_g"], i["lr_d"]], layout=wrap),
            widgets.HBox([i["beta1"], i["d_steps"], self.steps], layout=wrap),
            note,
            widgets.HBox([*b.values(), self.save_path], layout=wrap),
            self.status, self.progress,
            widgets.HBox([self.curves, self.samples], layout=wrap),
        ]
        return ([widgets.HTML(f"<b>{self.title}</b>")] if self.title else []) + rows

    def __repr__(self) -> str:
        """Short and fixed: nbval compares a displayed widget's text repr."""
        return f"Dashboard(title={self.title!r})"


def _styled(widget: widgets.Widget, css_class: str) -> widgets.Widget:
    """Give a widget a stable CSS class (browser tests find it by that)."""
    widget.add_class(css_class)
    return widget


def _buttons(dash: Dashboard) -> dict[str, widgets.Button]:
    """Start/Pause/Resume/Reset/Save, each calling the dashboard method of that name."""
    styles = {"start": "success", "pause": "warning", "resume": "info", "reset": "danger",
              "save": ""}
    buttons = {}
    for name, style in styles.items():
        button = _styled(widgets.Button(description=name.capitalize(), button_style=style,
                                        layout=widgets.Layout(width="90px")), f"vgan-{name}")
        button.on_click(partial(_click, getattr(dash, name)))
        buttons[name] = button
    return buttons


def _click(method: Callable[[], Any], _button: widgets.Button) -> None:
    method()


def _choices(options: list[int], value: int) -> list[int]:
    return sorted({*options, int(value)})


def _log_slider(value: float, description: str) -> widgets.FloatLogSlider:
    exponent = math.log10(value)
    return widgets.FloatLogSlider(value=value, base=10, min=min(-5.0, exponent),
                                  max=max(-2.0, exponent), step=0.1, description=description,
                                  readout_format=".1e")


def _inputs(hp: dict[str, Any]) -> dict[str, widgets.ValueWidget]:
    """One control per hyperparameter, keyed like :data:`DEFAULT_HPARAMS`."""
    return {
        "loss": widgets.Dropdown(options=LOSS_NAMES, value=hp["loss"], description="loss"),
        "lr_g": _log_slider(hp["lr_g"], "lr G"),
        "lr_d": _log_slider(hp["lr_d"], "lr D"),
        "beta1": widgets.FloatSlider(value=hp["beta1"], min=0.0, max=0.95, step=0.05,
                                     description="beta1"),
        "batch_size": widgets.Dropdown(options=_choices([16, 32, 64, 128, 256], hp["batch_size"]),
                                       value=int(hp["batch_size"]), description="batch"),
        "d_steps": widgets.IntSlider(value=hp["d_steps"], min=1, max=5, description="D steps"),
        "z_dim": widgets.Dropdown(options=_choices([2, 8, 16, 32, 64, 100, 128], hp["z_dim"]),
                                  value=int(hp["z_dim"]), description="noise size"),
    }


# --- pictures ----------------------------------------------------------------------------------

def _smooth(values: list[float]) -> np.ndarray:
    """Running mean over ~2% of the run, so a long run's trend is visible through the noise."""
    window = max(1, len(values) // 50)
    cumsum = np.cumsum(np.concatenate([[0.0], np.asarray(values, dtype=float)]))
    return (cumsum[window:] - cumsum[:-window]) / window


def curves_png(history: dict[str, list[float]], probabilities: bool = True,
               size: tuple[float, float] = (7.0, 2.6)) -> bytes:
    """Losses (left) and mean D outputs on real and fake batches (right) as PNG bytes.

    With ``probabilities`` the right panel shows mean sigmoid(logit) with the 0.5 of the
    game's equilibrium (D* = 1/2, Goodfellow et al. 2014); else mean raw scores.
    """
    fig = Figure(figsize=size, dpi=80)
    left, right = fig.subplots(1, 2)
    steps = np.asarray(history["step"], dtype=float)
    for ax, keys, labels in ((left, ("loss_d", "loss_g"), ("D loss", "G loss")),
                             (right, ("d_real", "d_fake"), ("D(x)", "D(G(z))"))):
        for key, label in zip(keys, labels, strict=True):
            curve = _smooth(history[key])
            ax.plot(steps[len(steps) - len(curve):], curve, label=label, lw=1)
        ax.set_xlabel("step")
        ax.legend(loc="upper right", fontsize=7)
    left.set_title("losses", fontsize=9)
    right.set_title("mean D(x), D(G(z))" + ("" if probabilities else " (raw scores)"), fontsize=9)
    if probabilities:
        right.axhline(0.5, color="grey", lw=0.5, ls="--")
        right.set_ylim(0, 1)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render_frames(trainer: GANTrainer, ncols: int = 8, scale: int = 2) -> bytes:
    """``render`` for frame GANs: the fixed-z samples (N, C, H, W) as one PNG grid."""
    return png_bytes(upscale(image_grid(trainer.sample(), ncols=ncols), scale))


def render_clips(trainer: GANTrainer, n: int = 8, ncols: int = 4, fps: float = 8.0,
                 scale: int = 2) -> bytes:
    """``render`` for clip GANs: ``n`` fixed-z clips (N, C, T, H, W) as one animated GIF grid."""
    clips = trainer.sample(trainer.fixed_z[:n])
    return gif_bytes(upscale(clip_grid(clips, ncols=ncols), scale), fps)
