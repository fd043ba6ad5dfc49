"""Notebook set-up: seeding repeats itself, device falls back to the CPU, banner names things."""

import random

import numpy as np
import pytest
import torch

import vgan_utils
from vgan_utils.runtime import pick_device, seed_everything


def _draw() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.randn(5)


def test_seeding_gives_identical_draws_twice():
    seed_everything(123)
    a = _draw()
    seed_everything(123)
    b = _draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_different_seeds_differ():
    seed_everything(1)
    a = torch.randn(5)
    seed_everything(2)
    assert not torch.equal(a, torch.randn(5))


def test_device_falls_back_to_cpu_without_cuda_or_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")


def test_device_prefers_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"


def test_device_uses_mps_when_no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "mps"


def test_setup_prints_banner_and_is_deterministic(capsys, monkeypatch):
    monkeypatch.setenv("VGAN_PROFILE", "ci")
    session = vgan_utils.setup(seed=7, device="cpu")
    first = torch.randn(3)
    out = capsys.readouterr().out
    assert "profile : ci" in out and "torch" in out and "device  : cpu" in out
    vgan_utils.setup(seed=7, device="cpu", quiet=True)
    assert torch.equal(first, torch.randn(3))
    assert session.profile.name == "ci" and session.seed == 7
    assert torch.are_deterministic_algorithms_enabled()


def test_setup_rejects_bad_profile(monkeypatch):
    monkeypatch.setenv("VGAN_PROFILE", "fast")
    with pytest.raises(ValueError, match="valid values are: ci, cpu, gpu"):
        vgan_utils.setup(quiet=True)


def test_timings_records_each_run_and_sums_them():
    from vgan_utils.runtime import Timings

    timings = Timings()
    with timings("a"):
        sum(range(10_000))
    with timings("b"):
        pass
    with timings("a"):  # a rerun replaces the entry
        pass
    assert list(timings.seconds) == ["a", "b"]
    assert all(w >= 0 and c >= 0 for w, c in timings.seconds.values())
    assert timings.wall("b") == timings.seconds["b"][0]
    lines = timings.table().splitlines()
    assert [line.split()[0] for line in lines] == ["run", "a", "b", "all"]
    assert float(lines[-1].split()[1]) == pytest.approx(
        sum(w for w, _ in timings.seconds.values()), abs=0.1)
    with pytest.raises(KeyError, match="timed so far"):
        timings.wall("c")
