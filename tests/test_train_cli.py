"""The command line: train from a named config, resume exactly, refuse to clobber, load G."""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import Namespace

import pytest
import torch
from gan_fixtures import single_thread

from vgan_utils import train
from vgan_utils.checkpoint import load_checkpoint
from vgan_utils.frame_nets import FrameGenerator


@pytest.fixture(autouse=True)
def _isolated():
    """main() calls setup(), which switches on deterministic algorithms: switch them back."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    with single_thread():
        yield
    torch.use_deterministic_algorithms(deterministic)


def cli(*args: str) -> int:
    return train.main(["--config", "smoke", "--device", "cpu", "--log-every", "2", *args])


def test_train_then_resume_equals_one_run(tmp_path, capsys):
    assert cli("--steps", "4", "--save-every", "2", "--out", str(tmp_path / "a.pt")) == 0
    assert cli("--steps", "6", "--out", str(tmp_path / "a.pt"), "--resume") == 0
    assert cli("--steps", "6", "--out", str(tmp_path / "b.pt")) == 0
    out = capsys.readouterr().out
    assert "step 4/4 | loss_d" in out and "resumed" in out and "steps/s" in out
    a, b = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    assert a["step"] == b["step"] == 6 and a["run"]["name"] == "smoke"
    for key in ("generator", "discriminator", "ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)


def test_refuses_to_overwrite_or_resume_nothing(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        cli("--steps", "2", "--out", str(tmp_path / "none.pt"), "--resume")
    (tmp_path / "x.pt").write_bytes(b"precious")
    with pytest.raises(SystemExit, match="exists: pass --resume"):
        cli("--steps", "2", "--out", str(tmp_path / "x.pt"))
    assert (tmp_path / "x.pt").read_bytes() == b"precious"


def test_load_generator_uses_the_ema_weights(tmp_path):
    cli("--steps", "2", "--out", str(tmp_path / "g.pt"))
    g = train.load_generator(tmp_path / "g.pt")
    assert isinstance(g, FrameGenerator) and not g.training
    state = load_checkpoint(tmp_path / "g.pt")
    assert all(torch.equal(v, state["ema"][k]) for k, v in g.state_dict().items())
    assert g(torch.zeros(3, g.z_dim)).shape == (3, 1, 16, 16)


def test_dashboard_controls_round_trip_into_a_trainer():
    run = train.CONFIGS["smoke"]
    controls = train.dashboard_controls(run)
    trainer = train.build_trainer(run, hparams={**controls, "lr_d": 1e-3, "batch_size": 4})
    assert trainer.config.lr_d == 1e-3 and trainer.config.loss == run.train.loss
    assert trainer.batch_fn(0).shape == (4, 1, 16, 16)
    assert trainer.fixed_z.shape == (64, run.z_dim)


def test_gpu_features_default_on_for_cuda_only():
    args = Namespace(amp=None, channels_last=None, compile=False)
    assert train.device_overrides(args, torch.device("cpu")) == {
        "amp": "off", "channels_last": False, "compile": False}
    args.amp = "bf16"
    assert train.device_overrides(args, torch.device("cuda"))["channels_last"] is True


def test_module_runs_as_a_script():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "vgan_utils.train", "--help"],
                            capture_output=True, text=True, env=env, check=True)
    assert "--config {frames32,frames64,smoke}" in result.stdout


def test_ship_writes_a_small_generator_only_copy(tmp_path):
    full, small = tmp_path / "run.pt", tmp_path / "g.pt"
    assert cli("--steps", "2", "--out", str(full), "--ship", str(small)) == 0
    state, shipped = load_checkpoint(full), load_checkpoint(small)
    assert shipped["shipped"] and shipped["weights"] == "ema" and shipped["step"] == 2
    assert "opt_g" not in shipped and "discriminator" not in shipped
    assert small.stat().st_size < full.stat().st_size
    g = train.load_generator(small)
    assert all(torch.equal(v, state["ema"][k]) for k, v in g.state_dict().items())
    train.ship_generator(full, small, ema=False)
    g = train.load_generator(small)
    assert all(torch.equal(v, state["generator"][k]) for k, v in g.state_dict().items())
    with pytest.raises(SystemExit, match="shipped generator-only"):
        cli("--steps", "4", "--out", str(small), "--resume")
