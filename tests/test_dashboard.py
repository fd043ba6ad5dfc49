"""The dashboard, driven programmatically: run(), a background thread, live and reset controls."""

from __future__ import annotations

import time
from functools import partial

import pytest
import torch
from gan_fixtures import Z_DIM, conv_batch, conv_nets, single_thread, toy_z
from torch import nn

from vgan_utils.dashboard import Dashboard, curves_png, render_clips, render_frames
from vgan_utils.training import GANTrainer, NonFiniteLossError, TrainConfig

PNG = b"\x89PNG"


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


class Factory:
    """make_trainer for a tiny frame GAN; remembers the hparams it was called with."""

    def __init__(self, batch_fn=conv_batch):
        self.calls: list[dict] = []
        self.batch_fn = batch_fn

    def __call__(self, hp: dict) -> GANTrainer:
        self.calls.append(hp)
        g, d = conv_nets()
        cfg = TrainConfig(loss=hp["loss"], lr_g=hp["lr_g"], lr_d=hp["lr_d"],
                          betas=(hp["beta1"], 0.999), d_steps=hp["d_steps"])
        return GANTrainer(g, d, self.batch_fn, toy_z, cfg, "cpu", n_fixed=4)


def make_dashboard(factory=None, **kw) -> Dashboard:
    controls = {"z_dim": Z_DIM, "batch_size": 4, "lr_g": 1e-3, "lr_d": 1e-3}
    return Dashboard(factory or Factory(), render_frames, controls, "tiny", **kw)


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_run_updates_history_curves_samples_and_status():
    dash = make_dashboard()
    first_curves = dash.curves.value
    dash.run(3)
    assert dash.trainer.step == 3 and len(dash.trainer.history["loss_d"]) == 3
    assert bytes(dash.samples.value).startswith(PNG)
    assert bytes(dash.curves.value).startswith(PNG) and dash.curves.value != first_curves
    assert dash.status.value.startswith("step 3 |") and dash.status.value.endswith("| done")
    assert "steps/s" in dash.status.value and "frames/s" in dash.status.value
    assert "cpu" in dash.status.value
    assert repr(dash) == "Dashboard(title='tiny')"


def test_widgets_carry_css_classes_for_the_browser_test():
    dash = make_dashboard()
    for name, button in dash.buttons.items():
        assert f"vgan-{name}" in button._dom_classes
    assert "vgan-curves" in dash.curves._dom_classes
    assert "vgan-samples" in dash.samples._dom_classes
    assert "vgan-status" in dash.status._dom_classes


def test_learning_rate_and_beta1_changes_act_at_the_next_step():
    dash = make_dashboard()
    dash.run(1)
    dash.inputs["lr_d"].value = 1e-4
    dash.inputs["beta1"].value = 0.0
    dash.run(1)
    assert dash.trainer.history["lr_d"] == pytest.approx([1e-3, 1e-4])
    assert dash.trainer.opt_d.param_groups[0]["betas"] == (0.0, 0.999)


def test_structural_changes_wait_for_reset():
    factory = Factory()
    dash = make_dashboard(factory)
    dash.run(2)
    dash.inputs["loss"].value = "hinge"
    assert "applies on Reset" in dash.status.value
    dash.run(1)
    assert dash.trainer.config.loss == "nonsaturating" and len(factory.calls) == 1
    dash.reset()
    assert dash.trainer.step == 0 and dash.trainer.config.loss == "hinge"
    assert factory.calls[-1]["loss"] == "hinge" and factory.calls[-1]["z_dim"] == Z_DIM


def test_start_pause_resume_in_a_background_thread():
    dash = make_dashboard(refresh_s=0.05)
    dash.buttons["start"].click()  # the button's handler, as a browser click calls it
    wait_for(lambda: dash.trainer.step >= 3)
    assert dash.running and dash.buttons["start"].disabled
    with pytest.raises(RuntimeError, match="pause"):
        dash.run(1)
    dash.buttons["pause"].click()
    dash.wait(timeout=20)
    assert not dash.running and dash.status.value.endswith("| paused")
    stopped = dash.trainer.step
    time.sleep(0.2)
    assert dash.trainer.step == stopped < 500
    assert not dash.buttons["resume"].disabled
    dash.resume()
    wait_for(lambda: dash.trainer.step >= stopped + 2)
    dash.pause()
    dash.wait(timeout=20)
    assert dash.trainer.history["step"] == list(range(1, dash.trainer.step + 1))


def test_save_writes_a_loadable_checkpoint(tmp_path):
    dash = make_dashboard(save_path=str(tmp_path / "dash.pt"))
    dash.run(2)
    dash.buttons["save"].click()
    other = Factory()(dash.hparams)
    other.load(tmp_path / "dash.pt")
    assert other.step == 2 and "saved to dash.pt" in dash.status.value


def test_non_finite_loss_is_reported_and_raised_by_run():
    dash = make_dashboard(Factory(batch_fn=lambda i: conv_batch(i) * float("nan")))
    with pytest.raises(NonFiniteLossError):
        dash.run(2)
    assert "stopped: NonFiniteLossError" in dash.status.value and dash.trainer.step == 0


def test_unknown_control_is_rejected():
    with pytest.raises(ValueError, match="unknown controls"):
        Dashboard(Factory(), render_frames, {"lr": 1e-3})


def test_curves_for_raw_scores_and_empty_history():
    empty = {k: [] for k in ("step", "loss_d", "loss_g", "d_real", "d_fake")}
    assert curves_png(empty).startswith(PNG)
    full = {k: [float(i) for i in range(200)] for k in empty}
    assert curves_png(full, probabilities=False).startswith(PNG)


def test_render_clips_is_an_animated_gif():
    g = nn.Sequential(nn.Linear(Z_DIM, 3 * 4 * 8 * 8), nn.Unflatten(1, (3, 4, 8, 8)), nn.Tanh())
    d = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 8 * 8, 1))
    trainer = GANTrainer(g, d, lambda i: torch.zeros(2, 3, 4, 8, 8), toy_z, n_fixed=6)
    gif = render_clips(trainer, n=4, ncols=2)
    assert gif.startswith(b"GIF8")
    dash = Dashboard(lambda hp: trainer, partial(render_clips, n=4, ncols=2), image_format="gif")
    assert dash.samples.format == "gif" and bytes(dash.samples.value) == gif
