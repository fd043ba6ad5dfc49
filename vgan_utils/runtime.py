"""Notebook set-up in one call: profile, device, seeds, determinism and a banner.

Every notebook starts with ``env = vgan_utils.setup()``. Taught in
``notebooks/00_welcome.ipynb``.
"""

from __future__ import annotations

import os
import platform
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from .profiles import Profile, resolve_profile


@dataclass(frozen=True)
class Session:
    """What a notebook needs after set-up: the sizes, where to compute, the seed."""

    profile: Profile
    device: torch.device
    seed: int


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, then Apple MPS, then CPU; ``prefer`` forces one (e.g. ``"cpu"``)."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a re-run repeats itself."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_deterministic(device: torch.device) -> None:
    """Ask PyTorch for deterministic kernels where the device supports them.

    On CUDA, cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` and cuDNN must not autotune;
    ops without a deterministic CUDA kernel warn rather than fail. MPS has no such
    switch, so nothing is promised there.
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    elif device.type == "cpu":
        torch.use_deterministic_algorithms(True)


def banner(session: Session) -> str:
    """One short block naming the profile, device and library versions."""
    dev = session.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu"
    return (
        f"profile : {session.profile.name}\n"
        f"device  : {dev} ({name})\n"
        f"seed    : {session.seed}\n"
        f"python {platform.python_version()} | torch {torch.__version__} | numpy {np.__version__}"
    )


def setup(
    seed: int = 0, profile: str | None = None, device: str | None = None, quiet: bool = False
) -> Session:
    """Set everything a notebook needs and print the banner; returns the :class:`Session`."""
    dev = pick_device(device)
    session = Session(profile=resolve_profile(profile), device=dev, seed=seed)
    make_deterministic(dev)
    seed_everything(seed)
    if not quiet:
        print(banner(session))
    return session


def requirement_report(distribution: str = "vgan-utils") -> list[tuple[str, str, str, bool]]:
    """Each runtime requirement of the installed project: (package, wanted, installed, ok).

    Read from the installed package metadata, so it checks exactly what pyproject.toml asks.
    Extras (test tools) are left out: learners do not need them.
    """
    from importlib import metadata

    from packaging.requirements import Requirement

    rows = []
    for text in metadata.requires(distribution) or []:
        req = Requirement(text)
        if req.marker is not None and "extra" in str(req.marker):
            continue
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            rows.append((req.name, str(req.specifier), "missing", False))
            continue
        ok = req.specifier.contains(installed, prereleases=True)
        rows.append((req.name, str(req.specifier), installed, ok))
    return rows


class Timings:
    """Wall-clock and CPU seconds of named runs, for a notebook's closing time table.

    ``with timings("1-D GAN"): trainer.train(...)`` records one run; running the cell again
    replaces its entry. Wall time above CPU time means other programs shared the cores.
    Used by ``notebooks/01_gan_objective.ipynb``; the numbers depend on the machine, so the
    cells that print them are not compared by nbval.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, tuple[float, float]] = {}  # name -> (wall, CPU)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.seconds[name] = (time.perf_counter() - wall, time.process_time() - cpu)

    def wall(self, name: str) -> float:
        """Wall-clock seconds of run ``name``."""
        if name not in self.seconds:
            raise KeyError(f"no run named {name!r}; timed so far: {sorted(self.seconds)}")
        return self.seconds[name][0]

    def table(self) -> str:
        """Every run's wall and CPU seconds, and their sums."""
        lines = [f"{'run':22s} {'wall s':>7s} {'CPU s':>7s}"]
        lines += [f"{name:22s} {w:7.1f} {c:7.1f}" for name, (w, c) in self.seconds.items()]
        total_wall = sum(w for w, _ in self.seconds.values())
        total_cpu = sum(c for _, c in self.seconds.values())
        lines.append(f"{'all':22s} {total_wall:7.1f} {total_cpu:7.1f}")
        return "\n".join(lines)
