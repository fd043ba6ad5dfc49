"""Checkpoints that survive a crash and cannot run code when loaded.

* Atomic writes: the state goes to a temporary file in the same folder, is flushed to
  disk (``fsync``) and then renamed over the target with ``os.replace``, which is atomic
  on POSIX and Windows. A crash or error mid-write leaves the previous checkpoint intact.
* Safe loads: ``torch.load(weights_only=True)`` only rebuilds tensors and plain containers.
  A full pickle can run arbitrary code when it is loaded, so a checkpoint someone sends you
  could otherwise do anything on your machine.

:meth:`vgan_utils.training.GANTrainer.save` and ``.load`` are built on these two
functions; save and resume are shown in ``notebooks/04_training_on_frames.ipynb``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """A checkpoint file could not be loaded safely."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically; returns the path. Creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a checkpoint is shared data
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                    ) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; refuses files that need full unpickling."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds Python objects beyond tensors and plain containers, and loading "
            "them would run code from the file; refusing (torch.load weights_only=True). "
            "Only load full pickles from sources you trust, and never through this function."
        ) from err


def _fsync_dir(folder: Path) -> None:
    """Flush the folder entry so the rename itself survives a power cut (POSIX only)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
