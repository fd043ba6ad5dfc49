"""Named video-GAN recipes and the trainer notebook 05's dashboard builds from them.

The clip counterpart of :mod:`vgan_utils.train` (which does the same for frame GANs): a
:class:`ClipRecipe` names the model of :func:`vgan_utils.video_training.video_gan`, its
widths and the engine's hyperparameters; :func:`build_video_trainer` turns a recipe name
plus the dashboard's control values into a ready :class:`~vgan_utils.training.GANTrainer`
on moving-digit clips (Srivastava et al. 2015), drawn at 64x64 and area-downsampled to 32x32
as the video judge (:mod:`vgan_utils.video_judge`) expects.

* ``two_stream32``: VGAN (Vondrick et al. 2016, "Generating Videos with Scene Dynamics"),
  mask L1 penalty 0.1, against a 3-D convolutional discriminator.
* ``content_motion32``: MoCoGAN (Tulyakov et al. 2018, "MoCoGAN: Decomposing Motion and
  Content for Video Generation"), image + video discriminators.

Both are narrow (width 16) so that a run fits a few minutes on a 2-core CPU. Taught in
``notebooks/05_frames_to_clips.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from .judge import resize_frames
from .synthetic import MovingDigits
from .training import GANTrainer, TrainConfig
from .video_training import video_gan


@dataclass(frozen=True)
class ClipRecipe:
    """What a video-GAN run trains: model, widths, data and engine hyperparameters."""

    name: str
    model: str  # "two_stream" or "content_motion" (see vgan_utils.video_training.MODELS)
    size: int = 32
    channels: int = 1
    width: int = 16
    d_width: int | None = None
    batch_size: int = 16
    data_size: int = 64  # clips drawn at this size, area-downsampled to `size`
    num_clips: int = 10_000
    data_seed: int = 0
    model_kw: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)


_DCGAN = TrainConfig(loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999))
RECIPES: dict[str, ClipRecipe] = {
    "two_stream32": ClipRecipe("two_stream32", "two_stream", model_kw={"z_dim": 100},
                               train=_DCGAN),
    "content_motion32": ClipRecipe("content_motion32", "content_motion",
                                   model_kw={"content_dim": 50, "motion_dim": 10},
                                   train=_DCGAN),
}


def recipe_controls(recipe: ClipRecipe) -> dict[str, Any]:
    """The recipe's values under the dashboard's control names (z_dim is fixed by the model)."""
    t = recipe.train
    return {"loss": t.loss, "lr_g": t.lr_g, "lr_d": t.lr_d, "beta1": t.betas[0],
            "batch_size": recipe.batch_size, "d_steps": t.d_steps}


def clip_batch_fn(recipe: ClipRecipe, length: int, batch_size: int):
    """``batch_fn(i)``: the i-th batch of moving-digit clips (N, C, length, size, size)."""
    data = MovingDigits(num_clips=recipe.num_clips, size=recipe.data_size, length=length,
                        seed=recipe.data_seed)

    def batch_fn(i: int) -> torch.Tensor:
        clips = data.clips_at(i, batch_size)  # (N, C, T, H, W)
        n, c, t, h, w = clips.shape
        frames = resize_frames(clips.transpose(1, 2).reshape(n * t, c, h, w), recipe.size)
        return frames.reshape(n, t, c, recipe.size, recipe.size).transpose(1, 2).contiguous()

    return batch_fn


def build_video_trainer(name: str, device: torch.device | str = "cpu",
                        hparams: dict[str, Any] | None = None, *, length: int = 16,
                        seed: int = 0, **model_overrides: Any) -> GANTrainer:
    """Fresh networks (seeded by ``seed``) and a trainer for the recipe ``name``.

    ``hparams`` are the dashboard's control values (loss, lr_g, lr_d, beta1, batch_size,
    d_steps; others are ignored); ``length`` is the clip length; ``model_overrides`` replace
    the recipe's model arguments (e.g. ``width=8``, ``image_generator=...``).
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {sorted(RECIPES)}")
    recipe = RECIPES[name]
    hp = {**recipe_controls(recipe), **(hparams or {})}
    train = replace(recipe.train, loss=hp["loss"], lr_g=float(hp["lr_g"]),
                    lr_d=float(hp["lr_d"]), betas=(float(hp["beta1"]), recipe.train.betas[1]),
                    d_steps=int(hp["d_steps"]))
    kw = {"width": recipe.width, "d_width": recipe.d_width, **recipe.model_kw,
          **model_overrides}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g, d, z_sampler = video_gan(recipe.model, length=length, size=recipe.size,
                                    channels=recipe.channels, **kw)
    batch_fn = clip_batch_fn(recipe, length, int(hp["batch_size"]))
    return GANTrainer(g, d, batch_fn, z_sampler, train, device, seed=seed)
