"""Run profiles: one switch that sizes every experiment in the course.

The profile is read from the ``VGAN_PROFILE`` environment variable:

* ``ci``  -- nbval in continuous integration: every notebook under 60 s on 2 CPU cores.
* ``cpu`` -- a student's laptop: every training run under 5 minutes on 2 cores.
* ``gpu`` -- a lab GPU: full-size models and data.

Notebooks read sizes from the :class:`Profile` object and never branch on its name,
so the same cells run in every profile. Taught in ``notebooks/00_welcome.ipynb``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

ENV_VAR = "VGAN_PROFILE"


@dataclass(frozen=True)
class Profile:
    """Sizes of every experiment; one instance per profile name."""

    name: str
    # 1-D and 2-D toy GANs (notebook 01)
    toy_steps: int
    toy_batch: int
    # frame GANs (notebooks 02 and 04)
    frame_size: int
    frame_batch: int
    frame_steps: int
    race_seconds: float  # training time per recipe in notebook 04's race
    # clip GANs (notebook 05)
    clip_length: int
    clip_size: int
    clip_batch: int
    clip_steps: int
    # data and evaluation
    dataset_clips: int
    eval_samples: int
    num_workers: int
    # video analysis (notebook 07)
    analysis_clips: int = 200  # real clips per distortion level, anomaly kind and codec rate
    analysis_d_steps: int = 300  # steps of the discriminator trained in the notebook
    encoder_steps: int = 800  # steps of the GAN codec's encoder
    probe_clips: int = 800  # labelled clips for the linear probe (train + test)
    # frame prediction and in-filling (notebook 06): dashboard steps, batch, held-out clips
    predict_steps: int = 200
    predict_batch: int = 16
    predict_eval_clips: int = 1000
    # notebook 08: failure runs, the small remedies race, compute cost
    fail_steps: int = 20  # steps of each failure run
    fail_evals: int = 2  # judged points along each failure run (after step 0)
    remedy_seconds: float = 1.0  # training time per recipe in notebook 08's small race


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", toy_steps=300, toy_batch=256,
        frame_size=32, frame_batch=32, frame_steps=30, race_seconds=2,
        clip_length=8, clip_size=32, clip_batch=4, clip_steps=10,
        dataset_clips=64, eval_samples=256, num_workers=0,
        analysis_clips=24, analysis_d_steps=10, encoder_steps=10, probe_clips=80,
        predict_steps=8, predict_batch=4, predict_eval_clips=100,
    ),
    "cpu": Profile(
        name="cpu", toy_steps=3000, toy_batch=256,
        frame_size=32, frame_batch=32, frame_steps=6000, race_seconds=60,
        clip_length=16, clip_size=32, clip_batch=16, clip_steps=400,
        dataset_clips=512, eval_samples=2000, num_workers=0,
        analysis_clips=200, analysis_d_steps=300, encoder_steps=800, probe_clips=800,
        predict_steps=200, predict_batch=16, predict_eval_clips=1000,
        fail_steps=400, fail_evals=16, remedy_seconds=8,
    ),
    "gpu": Profile(
        name="gpu", toy_steps=5000, toy_batch=512,
        frame_size=64, frame_batch=128, frame_steps=20000, race_seconds=60,
        clip_length=16, clip_size=64, clip_batch=32, clip_steps=20000,
        dataset_clips=4096, eval_samples=5000, num_workers=4,
        analysis_clips=500, analysis_d_steps=2000, encoder_steps=5000, probe_clips=2000,
        predict_steps=3000, predict_batch=32, predict_eval_clips=1000,
        fail_steps=2000, fail_evals=20, remedy_seconds=30,
    ),
}


def default_profile_name(cuda_available: bool) -> str:
    """The profile used when ``VGAN_PROFILE`` is unset: ``gpu`` with CUDA, else ``cpu``."""
    return "gpu" if cuda_available else "cpu"


def resolve_profile(name: str | None = None, *, cuda_available: bool | None = None) -> Profile:
    """Return the profile called ``name``, else ``$VGAN_PROFILE``, else the default.

    An unknown name raises at once, listing the valid ones, so a typo in CI
    never silently runs the slow profile.
    """
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or None
    if name is None:
        if cuda_available is None:
            import torch

            cuda_available = torch.cuda.is_available()
        name = default_profile_name(cuda_available)
    key = name.strip().lower()
    if key not in PROFILES:
        valid = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown {ENV_VAR}={name!r}; valid values are: {valid}")
    return PROFILES[key]


def profile_table() -> list[dict[str, object]]:
    """All profiles as rows of plain values, for a table in a notebook or the README."""
    return [dataclasses.asdict(p) for p in PROFILES.values()]
