"""What a video-GAN run trains (:class:`ClipRecipe`) and how its networks and trainer are built.

The clip counterpart of :class:`vgan_utils.train.RunConfig`. Both kinds of named run live in
one registry, :data:`vgan_utils.train.CONFIGS`, and train through one command line
(``python -m vgan_utils.train --config NAME``) and one race (``bench/race.py``). A recipe
names a model of :func:`vgan_utils.video_training.video_gan`, its widths, the clip length and
the engine's hyperparameters; clips are moving digits (Srivastava et al. 2015) drawn at 64x64
and area-downsampled to 32x32, as the video judge (:mod:`vgan_utils.video_judge`) expects.

A content/motion recipe may start from a shipped frame generator of notebook 04's recipe
(``image_generator="data/motion32_frames.pt"``): its frames are already digits, so what is left to
learn is motion (Tulyakov et al. 2018 train their image generator from scratch; reusing a
trained one is the course's shortcut for a CPU). Taught in ``notebooks/05_frames_to_clips.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .snap import load_snap
from .synthetic import MovingDigits, resize_frames
from .training import GANTrainer, TrainConfig
from .video_training import ZSampler, video_gan

ROOT = Path(__file__).resolve().parent.parent  # relative image_generator paths start here


@dataclass(frozen=True)
class ClipRecipe:
    """What a video-GAN run trains: model, widths, clip length, data and hyperparameters."""

    name: str
    model: str  # one of video_training.MODELS
    size: int = 32
    channels: int = 1
    length: int = 16
    width: int = 16
    d_width: int | None = None
    batch_size: int = 16
    data_size: int = 64  # clips drawn at this size, area-downsampled to `size`
    num_clips: int = 10_000
    data_seed: int = 0
    image_generator: str | None = None  # a shipped frame generator to start from (*_motion)
    init_from: str | None = None  # a shipped clip generator of the same model to fine-tune
    init_d_from: str | None = None  # a shipped discriminator of the same model to go on with
    snap: str | None = None  # a trained GridSnap after the warp (content_motion, motion_to="flow")
    # sprite_two_stream: the train command first trains the glyph network as this frame recipe
    # ("frames32,layers=2,...") for warmup_steps steps, its rates decaying linearly to 0 over
    # the last warmup_decay of them, then the clips (train.warm_up)
    warmup: str | None = None
    warmup_steps: int = 0
    warmup_decay: float = 0.0
    model_kw: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)


def recipe_controls(recipe: ClipRecipe) -> dict[str, Any]:
    """The recipe's values under the dashboard's control names (z_dim is fixed by the model)."""
    t = recipe.train
    return {"loss": t.loss, "lr_g": t.lr_g, "lr_d": t.lr_d, "beta1": t.betas[0],
            "batch_size": recipe.batch_size, "d_steps": t.d_steps}


def apply_recipe_controls(recipe: ClipRecipe, hparams: dict[str, Any]) -> ClipRecipe:
    """``recipe`` with the dashboard's control values put in (others are ignored)."""
    hp = {**recipe_controls(recipe), **hparams}
    train = replace(recipe.train, loss=hp["loss"], lr_g=float(hp["lr_g"]),
                    lr_d=float(hp["lr_d"]), betas=(float(hp["beta1"]), recipe.train.betas[1]),
                    d_steps=int(hp["d_steps"]))
    return replace(recipe, batch_size=int(hp["batch_size"]), train=train)


def clip_batch_fn(recipe: ClipRecipe, shard: tuple[int, int] = (0, 1)):
    """``batch_fn(i)``: the i-th batch of moving-digit clips (N, C, length, size, size).

    ``shard=(rank, W)`` keeps rows ``rank, rank + W, ...`` of the i-th batch of
    ``recipe.batch_size`` clips, drawing only those (see :mod:`vgan_utils.distributed`).
    """
    data = MovingDigits(num_clips=recipe.num_clips, size=recipe.data_size,
                        length=recipe.length, seed=recipe.data_seed)

    def batch_fn(i: int) -> torch.Tensor:
        rank, size = shard
        clips = data.batch(data.step_indices(i, recipe.batch_size)[rank::size])[0]  # N,C,T,H,W
        n, c, t, h, w = clips.shape
        frames = resize_frames(clips.transpose(1, 2).reshape(n * t, c, h, w), recipe.size)
        return frames.reshape(n, t, c, recipe.size, recipe.size).transpose(1, 2).contiguous()

    return batch_fn


def pretrained_image_generator(recipe: ClipRecipe) -> nn.Module:
    """The shipped frame generator named by ``recipe.image_generator``, in training mode.

    Its latent size must be the content/motion generator's ``content_dim + motion_dim``:
    every frame's code is one content code and that frame's motion code, side by side
    (``content_dim`` alone with ``flow_from="content"``, where the content is the frame's code).
    A ``layer_motion`` recipe takes the frame generator as it is: its codes are the content.
    """
    from .train import load_generator  # train imports this module

    path = _resolve(recipe.image_generator)
    if recipe.model not in ("content_motion", "layer_motion"):
        raise ValueError(f"{recipe.name}: image_generator only applies to content_motion "
                         f"and layer_motion recipes, not {recipe.model!r}")
    frame_g = load_generator(path, ema=True).train()
    if recipe.model == "layer_motion":  # it takes the frame generator's own codes
        return frame_g
    kw = recipe.model_kw
    want = kw.get("content_dim", 50)
    if kw.get("flow_from", "state") == "state":
        want += kw.get("motion_dim", 10)
    if getattr(frame_g, "z_dim", want) != want:
        raise ValueError(f"{recipe.name}: {path.name} takes codes of size {frame_g.z_dim}, but "
                         f"the frame code (content_dim, + motion_dim unless "
                         f"flow_from='content') is {want}; make them add up")
    return frame_g


def _resolve(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else ROOT / path


def start_from_shipped(recipe: ClipRecipe, generator: nn.Module, discriminator: nn.Module
                       ) -> None:
    """Load ``recipe.init_from`` (and ``init_d_from``) into freshly built networks, in place.

    Fine-tuning a shipped clip generator under a changed option that keeps its weights' shapes
    (``whole_pixels``, say) starts from what it learned instead of from a still clip.
    """
    from .train import load_discriminator, load_generator  # train imports this module

    for path, net, load in ((recipe.init_from, generator, load_generator),
                            (recipe.init_d_from, discriminator, load_discriminator)):
        if path is None:
            continue
        shipped = load(_resolve(path))
        try:
            net.load_state_dict(shipped.state_dict())
        except RuntimeError as err:
            raise ValueError(f"{recipe.name}: {path} does not fit this recipe's networks (its "
                             f"model, widths and model_kw must match the run that made it): "
                             f"{str(err).splitlines()[0]}") from err


def build_clip_networks(recipe: ClipRecipe, seed: int = 0
                        ) -> tuple[nn.Module, nn.Module, ZSampler]:
    """``(generator, discriminator, z_sampler)`` for ``recipe``, fresh weights seeded by ``seed``
    (apart from a pretrained image generator, which keeps its own, and ``init_from`` /
    ``init_d_from``, loaded over them)."""
    kw = {"width": recipe.width, "d_width": recipe.d_width, **recipe.model_kw}
    if recipe.image_generator is not None:
        kw["image_generator"] = pretrained_image_generator(recipe)
    if recipe.snap is not None:
        if recipe.model != "content_motion":
            raise ValueError(f"{recipe.name}: snap only applies to content_motion recipes "
                             f"with motion_to='flow', not {recipe.model!r}")
        kw["snap"] = load_snap(_resolve(recipe.snap))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, discriminator, sampler = video_gan(
            recipe.model, length=recipe.length, size=recipe.size, channels=recipe.channels, **kw)
    start_from_shipped(recipe, generator, discriminator)
    return generator, discriminator, sampler


def build_video_trainer(recipe: ClipRecipe, device: torch.device | str = "cpu",
                        hparams: dict[str, Any] | None = None, seed: int = 0,
                        shard: tuple[int, int] = (0, 1), **train_overrides: Any) -> GANTrainer:
    """Fresh networks (seeded by ``seed``) and a trainer for ``recipe``.

    ``hparams`` are the dashboard's control values (loss, lr_g, lr_d, beta1, batch_size,
    d_steps; others are ignored); ``train_overrides`` replace :class:`TrainConfig` fields
    (e.g. ``amp="bf16"``). Use ``dataclasses.replace(recipe, length=8, width=8)`` for a
    shorter or narrower variant. ``shard``: see :func:`clip_batch_fn`.
    """
    recipe = apply_recipe_controls(recipe, hparams or {})
    g, d, z_sampler = build_clip_networks(recipe, seed)
    return GANTrainer(g, d, clip_batch_fn(recipe, shard), z_sampler,
                      replace(recipe.train, **train_overrides), device, seed=seed)
