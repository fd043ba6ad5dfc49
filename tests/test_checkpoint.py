"""Checkpoints: atomic writes, weights-only loads, and exact resume on CPU."""

from __future__ import annotations

import pathlib

import pytest
import torch
from gan_fixtures import conv_nets, conv_trainer, single_thread, weights

import vgan_utils.checkpoint as ckpt
from vgan_utils.training import GANTrainer, TrainConfig

TIMING = ("steps_per_s", "frames_per_s")


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def test_save_then_load_round_trip(tmp_path):
    path = ckpt.save_checkpoint({"w": torch.arange(3), "step": 7, "cfg": {"b": (0.5, 0.9)}},
                                tmp_path / "sub" / "a.pt")
    assert path.exists() and list(path.parent.iterdir()) == [path]
    loaded = ckpt.load_checkpoint(path)
    assert torch.equal(loaded["w"], torch.arange(3)) and loaded["cfg"] == {"b": (0.5, 0.9)}


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = ckpt.save_checkpoint({"version": 1}, tmp_path / "a.pt")
    good = path.read_bytes()

    def crash_mid_write(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint({"version": 2}, path)
    assert path.read_bytes() == good
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    assert ckpt.load_checkpoint(path) == {"version": 1}


class _RunsCode:
    """A pickle payload that creates a file when unpickled: what a malicious file does."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_weights_only_load_rejects_a_pickle_that_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(2), "payload": _RunsCode(marker)}, path)
    with pytest.raises(ckpt.CheckpointError, match="weights_only=True"):
        ckpt.load_checkpoint(path)
    assert not marker.exists()


def _config() -> TrainConfig:
    return TrainConfig(loss="hinge", d_steps=2, gp_weight=1.0, ema_decay=0.9, lr_d=4e-4)


def test_resume_equals_uninterrupted_run(tmp_path):
    straight = conv_trainer(_config())
    straight.train(6)
    rand_straight = torch.rand(3)

    first = conv_trainer(_config())
    first.train(3)
    first.save(tmp_path / "run.pt")
    torch.manual_seed(123)  # disturb the global RNG: loading must restore it
    g, d = conv_nets(seed=99)  # other initial weights: loading must overwrite them
    resumed = GANTrainer(g, d, first.batch_fn, first.z_sampler, _config(), "cpu", seed=5,
                         n_fixed=8)
    resumed.load(tmp_path / "run.pt")
    assert resumed.step == 3
    resumed.train(3)

    assert all(torch.equal(a, b) for a, b in zip(weights(straight), weights(resumed),
                                                  strict=True))
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    sa, sb = straight.opt_d.state_dict()["state"], resumed.opt_d.state_dict()["state"]
    assert all(torch.equal(sa[k]["exp_avg_sq"], sb[k]["exp_avg_sq"]) for k in sa)
    assert torch.equal(straight.fixed_z, resumed.fixed_z)
    for key in straight.history:
        if key not in TIMING:
            assert straight.history[key] == resumed.history[key], key
    assert torch.equal(torch.rand(3), rand_straight)


def test_load_refuses_a_trainer_without_the_checkpoints_ema(tmp_path):
    trainer = conv_trainer(_config())
    trainer.save(tmp_path / "run.pt")
    plain = conv_trainer(TrainConfig())
    with pytest.raises(ValueError, match="ema_decay"):
        plain.load(tmp_path / "run.pt")


def test_a_checkpoint_resumes_with_other_precision_and_layout(tmp_path):
    trainer = conv_trainer(_config())
    trainer.train(2)
    trainer.save(tmp_path / "run.pt")
    fast = conv_trainer(TrainConfig(**{**_config().__dict__, "amp": "bf16",
                                       "channels_last": True, "lr_d": 1e-3}))
    fast.load(tmp_path / "run.pt")
    assert fast.config.amp == "bf16" and fast.config.lr_d == 4e-4  # live values come along
    fast.train(2)
    assert fast.step == 4
    assert fast.generator[1].weight.is_contiguous(memory_format=torch.channels_last)
