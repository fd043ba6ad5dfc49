"""Train any named GAN of the course (frames or clips) from the command line into a checkpoint.

    python -m vgan_utils.train --config frames32 --steps 6000 --out data/cache/f32.pt
    python -m vgan_utils.train --config frames32 --steps 9000 --out data/cache/f32.pt --resume
    python -m vgan_utils.train --config motion32 --steps 3000 --out data/cache/m32.pt
    python -m vgan_utils.train --config "frames32,d_width=32" --steps 6000 --out v.pt
    torchrun --nproc_per_node 2 -m vgan_utils.train --config frames32 --steps 6000 --out f.pt

``--config`` takes a named run or, as ``bench/race.py`` does, a named run with fields changed
(:func:`parse_recipe`). ``--steps`` is the total step count, so re-running the same command
with ``--resume`` after a crash finishes the run (a checkpoint is written atomically every
``--save-every`` steps). ``--ship PATH`` also writes a small generator-only copy (what
``data/frames32.pt`` is; see :func:`ship_generator`). ``--eval-every MINUTES`` judges the
generator every few minutes of training and keeps FD / floor against training time in the
checkpoint (:class:`QualityCurve`); ``--decay-last F`` lowers both learning rates linearly
to zero over the last fraction F of the steps. Under ``torchrun`` the same command trains
on several processes, GPUs or machines with DistributedDataParallel, ``--batch-size`` being
the global batch (:mod:`vgan_utils.distributed`).

One registry, :data:`CONFIGS`, names every run: frame GANs as :class:`RunConfig` values and
clip GANs as :class:`~vgan_utils.clip_recipes.ClipRecipe` values (notebook 05's models, below).
Frame runs are DCGAN pairs (Radford et
al. 2016) on moving-digit frames (Srivastava et al. 2015) with the non-saturating loss
(Goodfellow et al. 2014) and a batch-norm discriminator, whose batch statistics let it see a
collapsed batch of fakes. ``dcgan_classic`` and ``dcgan_classic32`` are the PyTorch DCGAN
tutorial's recipe, the baselines of ``bench/race.py``; ``frames32``, the course's CPU
recipe, won the race against them and against one change at a time (``bench/README.md``).
At 64x64 a batch-norm D wins at once unless the R1 penalty on real frames keeps it smooth
(Mescheder et al. 2018). 32x32 frames are 64x64 Moving MNIST frames area-downsampled, as the
32x32 judge of :mod:`vgan_utils.judge` expects.

Clip runs (Vondrick et al. 2016; Tulyakov et al. 2018): ``clip_dcgan``, a plain one-stream
3-D DCGAN, the baseline of the clip race; ``two_stream32`` (VGAN); ``content_motion32``
(MoCoGAN); ``motion32``, MoCoGAN's content/motion generator starting from a shipped frame
generator (``data/motion32_frames.pt``), so that it learns motion rather than digits;
``layers32``, ``two_stream_sprites32`` and ``two_stream_warm32``, whose digits are glyphs moved
by whole pixels (:mod:`vgan_utils.layer_motion`). 16-frame 32x32 clips, at widths that fit
minutes on a 2-core CPU. A clip recipe with ``warmup_steps`` (``two_stream_warm32``) is trained
in two phases by one command: its glyph network first, as the frame recipe ``warmup``, in
``<out>_warmup.pt`` (:func:`warm_up`), then the clips in ``--out``; ``--resume`` continues
either phase, and ``--steps`` counts the clip phase's steps.

The same :func:`build_trainer` gives notebooks 04 and 05's dashboards their trainers, and
:func:`load_generator` loads a shipped checkpoint's generator; taught in
``notebooks/04_training_on_frames.ipynb``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .clip_recipes import ClipRecipe, build_clip_networks, build_video_trainer, recipe_controls
from .frame_nets import (
    FrameDiscriminator,
    FrameGenerator,
    LayeredGenerator,
    SpriteGenerator,
    sample_z,
)
from .projected import ProjectedDiscriminator, load_encoder
from .quality import QualityTracker, format_quality
from .runtime import setup
from .synthetic import MovingDigits, resize_frames
from .training import GANTrainer, TrainConfig
from .video_quality import ClipQualityTracker, format_clip_quality


@dataclass
class RunConfig:
    """What a frame-GAN run trains: networks, data and the engine's hyperparameters."""

    name: str
    size: int = 32
    channels: int = 1
    z_dim: int = 100
    width: int = 64
    d_width: int | None = None  # the discriminator's width; None: the same as the generator's
    spectral_norm: bool = True
    d_norm: str = "auto"  # the discriminator's normalisation (see FrameDiscriminator)
    minibatch_std: bool = False  # D sees the batch's spread (Karras et al. 2018)
    ink_log: bool = False  # D sees each pixel's ink on a log scale too (frame_nets.InkLog)
    upsample: str = "transpose"  # G's doubling steps: "transpose" (DCGAN) or "nearest"
    layers: int = 1  # > 1: G draws this many layers per frame, combined by the maximum
    glyph: int = 0  # > 0: each layer draws a glyph this many pixels wide and places it
    whole_pixels: bool = False  # glyphs placed by whole pixels (SpriteGenerator)
    output: str = "tanh"  # G's last activation: "tanh", "hardtanh" or "clamp" (frame_nets)
    refine: int = 0  # > 0: G draws this many maps at full size, mixed by a 3x3 convolution
    d_encoder: str | None = None  # a frozen encoder's file: D also judges its features (projected)
    batch_size: int = 64
    data_size: int = 64  # frames are drawn at this size and area-downsampled to `size`
    num_clips: int = 10_000
    data_seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)


_SNGAN = TrainConfig(loss="hinge", lr_g=1e-4, lr_d=4e-4, betas=(0.5, 0.999), ema_decay=0.999)
_DCGAN = TrainConfig(loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999))
CONFIGS: dict[str, RunConfig | ClipRecipe] = {
    # The baselines of bench/race.py: the PyTorch DCGAN tutorial's recipe at 32x32 (batch
    # norm in D, non-saturating BCE on logits, Adam 2e-4 / (0.5, 0.999), N(0, 0.02) init,
    # batch 64, no EMA), at the tutorial's width 64 and at width 32 (~2.5x the steps/s).
    "dcgan_classic": RunConfig("dcgan_classic", size=32, width=64, spectral_norm=False,
                               d_norm="batch", train=_DCGAN),
    "dcgan_classic32": RunConfig("dcgan_classic32", size=32, width=32, spectral_norm=False,
                                 d_norm="batch", train=_DCGAN),
    # 32x32, the course's CPU recipe (notebook 04's live run, the cpu profile): the classic
    # recipe with five times its learning rate, batch 32, a discriminator half the
    # generator's width, which doubles the steps per second, and 16 maps drawn at full size
    # and mixed by a 3x3 convolution (refine=16). Each change was raced one at a time against
    # the others (bench/README.md). The shipped data/frames32.pt is 52 minutes of
    # "frames32,width=48,d_width=48": with steps to spare, wider networks did better
    # (data/README.md).
    "frames32": RunConfig("frames32", size=32, width=32, d_width=16, spectral_norm=False,
                          d_norm="batch", batch_size=32, refine=16,
                          train=TrainConfig(loss="nonsaturating", lr_g=1e-3, lr_d=1e-3,
                                            betas=(0.5, 0.999))),
    # 64x64: a batch-norm D (its batch statistics let it see a collapsed batch) kept smooth by
    # the R1 penalty on real frames (Mescheder et al. 2018), the non-saturating loss.
    # Without R1, D won at once at this size; see data/README.md for what was tried.
    # 16-frame 32x32 clips (notebook 05), the clip race's recipes (bench/README.md)
    "clip_dcgan": ClipRecipe("clip_dcgan", "one_stream", model_kw={"z_dim": 100}, train=_DCGAN),
    "two_stream32": ClipRecipe("two_stream32", "two_stream", model_kw={"z_dim": 100},
                               train=_DCGAN),
    "content_motion32": ClipRecipe("content_motion32", "content_motion",
                                   model_kw={"content_dim": 50, "motion_dim": 10},
                                   train=_DCGAN),
    # motion32: MoCoGAN's content and motion codes on a shipped frame generator, which
    # draws one frame per clip that a flow field computed from the motion state warps
    # (motion_to="flow"; raced against "own" and "all" in bench/README.md). That generator is
    # the frames32.pt shipped before the full-size layer, kept as data/motion32_frames.pt: on
    # the later frames32.pt, with the layer, motion32 trained worse (data/README.md).
    "motion32": ClipRecipe("motion32", "content_motion",
                           image_generator="data/motion32_frames.pt",
                           model_kw={"content_dim": 90, "motion_dim": 10, "motion_to": "flow"},
                           train=_DCGAN),
    # layers32: the two glyphs of notebook 04's sprites32.pt (frozen), each moved along its
    # own GRU-driven path by whole pixels (layer_motion.LayerMotionGenerator): only the
    # motion learns, and the frames stay the frame generator's; at frames32's rates, which
    # beat the classic 2e-4 and 5e-4 in a 300 s race (bench/README.md).
    "layers32": ClipRecipe("layers32", "layer_motion", image_generator="data/sprites32.pt",
                           train=replace(_DCGAN, lr_g=1e-3, lr_d=1e-3)),
    # two_stream_sprites32: VGAN's blend of a moving foreground and a still background by a
    # mask, with a foreground stream that draws each digit once and moves it by whole pixels
    # (layer_motion.SpriteTwoStreamGenerator), all from scratch, against MoCoGAN's image +
    # video discriminators, at frames32's learning rates; each raced (bench/README.md)
    "two_stream_sprites32": ClipRecipe("two_stream_sprites32", "sprite_two_stream", width=32,
                                       d_width=16, model_kw={"glyph": 16, "refine": 16},
                                       train=replace(_DCGAN, lr_g=1e-3, lr_d=1e-3)),
    # two_stream_warm32: the same generator trained in two phases by one command. Its glyph
    # network first trains alone as notebook 04's sprites32 frame recipe (the warm-up, twice
    # the steps per second, its rates decaying over its last quarter as that hour's did);
    # then, frozen, it draws the glyphs while the paths and the background learn on clips, at
    # the classic rates 2e-4 (data/README.md)
    "two_stream_warm32": ClipRecipe(
        "two_stream_warm32", "sprite_two_stream", width=32, d_width=16,
        model_kw={"glyph": 16, "refine": 16, "train_frames": False},
        warmup="frames32,layers=2,glyph=16,whole_pixels=True,d_width=32", warmup_steps=22_000,
        warmup_decay=0.25, train=_DCGAN),
    "frames64": RunConfig("frames64", size=64, width=32, spectral_norm=False, d_norm="batch",
                          batch_size=32,
                          train=TrainConfig(loss="nonsaturating", lr_g=2e-4, lr_d=2e-4,
                                            betas=(0.5, 0.999), r1_weight=1.0,
                                            ema_decay=0.999)),
    # seconds on a CPU: for tests and for trying the command line out
    "smoke": RunConfig("smoke", size=16, z_dim=16, width=8, batch_size=8, num_clips=64,
                       train=_SNGAN),
    "clip_smoke": ClipRecipe("clip_smoke", "one_stream", length=4, width=4, batch_size=2,
                             num_clips=64, model_kw={"z_dim": 16}, train=_DCGAN),
}


def parse_recipe(spec: str) -> RunConfig | ClipRecipe:
    """``"NAME[,field=value...]"`` -> the named run with those fields changed.

    How ``bench/race.py`` names one change at a time, and what ``--config`` accepts, so that a
    variant found in a race trains for an hour with the same command line.

    Fields of the run (:class:`RunConfig` or :class:`ClipRecipe`) and of its
    :class:`TrainConfig` may be given; values are Python literals (``2e-3``, ``32``,
    ``'hinge'``, ``(0.0, 0.99)``, ``None``).
    """
    name, _, rest = spec.partition(",")
    changes = re.split(r",(?=\s*\w+\s*=)", rest) if rest else []  # (0.0, 0.99) stays whole
    if name not in CONFIGS:
        raise ValueError(f"unknown recipe {name!r}; named recipes: {', '.join(sorted(CONFIGS))}")
    run = CONFIGS[name]
    run_fields = {f.name for f in fields(run)} - {"name", "train"}
    train_fields = {f.name for f in fields(TrainConfig)}
    run_kw, train_kw = {}, {}
    for change in changes:
        key, sep, text = (part.strip() for part in change.partition("="))
        if not sep:
            raise ValueError(f"{spec!r}: write changes as field=value, got {change!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare word such as hinge
        if key in run_fields:
            run_kw[key] = value
        elif key in train_fields:
            train_kw[key] = value
        else:
            raise ValueError(f"{spec!r}: {key!r} is not a field of {type(run).__name__} or "
                             f"TrainConfig; choose from {sorted(run_fields | train_fields)}")
    return replace(run, name=spec, train=replace(run.train, **train_kw), **run_kw)


def dashboard_controls(run: RunConfig | ClipRecipe) -> dict[str, Any]:
    """The run's values under the dashboard's control names (starting values for its widgets)."""
    if isinstance(run, ClipRecipe):
        return recipe_controls(run)
    t = run.train
    return {"loss": t.loss, "lr_g": t.lr_g, "lr_d": t.lr_d, "beta1": t.betas[0],
            "batch_size": run.batch_size, "d_steps": t.d_steps, "z_dim": run.z_dim}


def apply_controls(run: RunConfig, hparams: dict[str, Any]) -> RunConfig:
    """``run`` with the dashboard's control values (see :func:`dashboard_controls`) put in."""
    hp = {**dashboard_controls(run), **hparams}
    train = replace(run.train, loss=hp["loss"], lr_g=float(hp["lr_g"]), lr_d=float(hp["lr_d"]),
                    betas=(float(hp["beta1"]), run.train.betas[1]), d_steps=int(hp["d_steps"]))
    return replace(run, batch_size=int(hp["batch_size"]), z_dim=int(hp["z_dim"]), train=train)


# what build_generator reads
GENERATOR_FIELDS = ("z_dim", "size", "channels", "width", "upsample", "layers", "glyph",
                    "whole_pixels", "output", "refine")


def build_generator(run: RunConfig | ClipRecipe) -> nn.Module:
    """The run's generator with fresh DCGAN-initialised weights (a clip recipe's ``init_from``
    is not loaded: callers load the weights they want)."""
    if isinstance(run, ClipRecipe):
        return build_clip_networks(replace(run, init_from=None, init_d_from=None))[0]
    if run.output != "tanh" and (run.glyph or run.layers > 1):
        raise ValueError(f"output={run.output!r} is for the single-layer generator; layered "
                         "and sprite generators end in tanh: add output='tanh'")
    if run.whole_pixels and not run.glyph:
        raise ValueError("whole_pixels=True places a sprite generator's glyphs; add glyph=16 "
                         "(and layers=2), or drop whole_pixels")
    if run.glyph:
        generator = SpriteGenerator(run.z_dim, run.size, run.channels, run.width, run.layers,
                                    run.glyph, refine=run.refine, whole_pixels=run.whole_pixels)
    elif run.layers > 1:
        generator = LayeredGenerator(run.z_dim, run.size, run.channels, run.width, run.layers,
                                     run.refine)
    else:
        generator = FrameGenerator(run.z_dim, run.size, run.channels, run.width, run.output,
                                   run.refine)
    if run.upsample == "nearest":
        resize_convolutions_(getattr(generator, "layer", generator))
    elif run.upsample != "transpose":
        raise ValueError(f"upsample must be 'transpose' or 'nearest', got {run.upsample!r}")
    return generator


def resize_convolutions_(generator: FrameGenerator) -> FrameGenerator:
    """Replace G's stride-2 transposed convolutions by nearest upsampling + a 3x3 convolution.

    A 4x4 stride-2 transposed convolution gives neighbouring output pixels different kernel
    taps, which draws a checkerboard over thin strokes; resize-then-convolve does not
    (Odena, Dumoulin & Olah 2016, "Deconvolution and checkerboard artifacts"). Same shapes,
    DCGAN initialisation. In place; returns ``generator``.
    """
    for i, m in enumerate(generator.net):
        if isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2):
            conv = nn.Conv2d(m.in_channels, m.out_channels, 3, 1, 1, bias=False)
            nn.init.normal_(conv.weight, 0.0, 0.02)
            generator.net[i] = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv)
    return generator


def batch_fn_for(run: RunConfig, shard: tuple[int, int] = (0, 1)):
    """``batch_fn(i)``: the i-th batch of moving-digit frames at the run's size.

    ``shard=(rank, W)`` keeps rows ``rank, rank + W, ...`` of the i-th batch of
    ``run.batch_size`` frames, drawing only those (see :mod:`vgan_utils.distributed`).
    """
    data = MovingDigits(num_clips=run.num_clips, size=run.data_size, seed=run.data_seed)
    total = data.num_clips * data.length

    def batch_fn(i: int) -> torch.Tensor:
        rank, size = shard
        rows = (i * run.batch_size + np.arange(run.batch_size))[rank::size] % total
        return resize_frames(data.frames(rows)[0], run.size)

    return batch_fn


def build_trainer(run: RunConfig | ClipRecipe, device: torch.device | str = "cpu",
                  seed: int = 0, hparams: dict[str, Any] | None = None,
                  shard: tuple[int, int] = (0, 1), **train_overrides: Any) -> GANTrainer:
    """Fresh networks (seeded by ``seed``) and a trainer for ``run``, a frame or clip run.

    ``hparams`` are dashboard control values; ``train_overrides`` replace
    :class:`TrainConfig` fields (e.g. ``amp="bf16"``). ``shard=(rank, W)`` trains on that
    rank's rows of each batch (:func:`vgan_utils.distributed.distribute` does the rest).
    """
    if isinstance(run, ClipRecipe):
        return build_video_trainer(run, device, hparams, seed, shard, **train_overrides)
    run = apply_controls(run, hparams or {})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = build_generator(run)
        discriminator = build_discriminator(run)
    z_dim = run.z_dim
    return GANTrainer(generator, discriminator, batch_fn_for(run, shard),
                      lambda n, gen: sample_z(n, z_dim, generator=gen),
                      replace(run.train, **train_overrides), device, seed=seed)


def run_config_from(state: dict[str, Any]) -> RunConfig | ClipRecipe:
    """The :class:`RunConfig` or :class:`ClipRecipe` stored in a checkpoint of this command."""
    saved = dict(state["run"])
    saved["train"] = TrainConfig(**saved["train"])
    return ClipRecipe(**saved) if "model" in saved else RunConfig(**saved)


def load_generator(path: str | Path, device: torch.device | str = "cpu",
                   ema: bool = True) -> nn.Module:
    """The generator of a checkpoint written by this command, in eval mode.

    ``ema`` picks the averaged weights when the run kept them (they usually sample better).
    """
    state = load_checkpoint(path)
    generator = build_generator(run_config_from(state))
    use_ema = ema and state.get("ema") is not None
    generator.load_state_dict(state["ema"] if use_ema else state["generator"])
    return generator.to(device).eval()


def save_run(trainer: GANTrainer, run: RunConfig, path: str | Path,
             extra: dict[str, Any] | None = None) -> Path:
    """Trainer state plus the run config, so :func:`load_generator` can rebuild G.

    ``extra`` adds entries such as :meth:`QualityCurve.state`'s training time and curve.
    """
    return save_checkpoint({**trainer.state_dict(), "run": asdict(run), **(extra or {})}, path)


class QualityCurve:
    """FD / floor against training time for the command line's ``--eval-every``.

    Training time counts only the seconds spent in training steps (not in judging or
    saving), and carries over a resume, so the curve reads as "quality per minute of
    compute" on the machine that trained it. Frame runs are judged on ``n`` frames
    (:class:`~vgan_utils.quality.QualityTracker`), clip runs on ``n`` clips
    (:class:`~vgan_utils.video_quality.ClipQualityTracker`).
    """

    def __init__(self, run: RunConfig | ClipRecipe, every_minutes: float, n: int):
        self.every_s = 60.0 * every_minutes
        self.clips = isinstance(run, ClipRecipe)
        self.tracker = None
        if every_minutes > 0:
            self.tracker = (ClipQualityTracker(run.length, n) if self.clips
                            else QualityTracker(run.size, n))
        self.seconds, self.points, self._t0 = 0.0, [], None
        self.warmup: dict[str, Any] | None = None  # a warm-up phase's own time and curve

    def load(self, state: dict[str, Any]) -> None:
        self.seconds = float(state.get("train_seconds", 0.0))
        self.points = list(state.get("quality_curve", []))
        self.warmup = state.get("warmup")

    def follow(self, warmup: QualityCurve, recipe: str, steps: int) -> None:
        """Start this phase's clock where ``warmup``'s stopped, so the curve reads quality
        against the whole command's compute, and keep the warm-up's frame curve beside it."""
        self.seconds = warmup.seconds
        self.warmup = {"recipe": recipe, "steps": steps, "train_seconds": warmup.seconds,
                       "quality_curve": list(warmup.points)}

    def start_timing(self) -> None:
        self._t0 = time.perf_counter()

    def stop_timing(self) -> None:
        self.seconds += time.perf_counter() - self._t0

    def due(self) -> bool:
        start = self.warmup["train_seconds"] if self.warmup else 0.0
        last = self.points[-1]["seconds"] if self.points else start
        return self.tracker is not None and self.seconds - last >= self.every_s

    def measure(self, trainer: GANTrainer) -> str:
        """Judge the generator that samples (the EMA copy if kept); one line for the log."""
        g = trainer.ema if trainer.ema is not None else trainer.generator
        q = self.tracker.measure(g)
        self.points.append({"step": trainer.step, "seconds": self.seconds, **q})
        text = format_clip_quality(q) if self.clips else format_quality(q)
        return f"quality at step {trainer.step} ({self.seconds / 60:.1f} min): {text}"

    def state(self) -> dict[str, Any]:
        return {"train_seconds": self.seconds, "quality_curve": list(self.points),
                "warmup": self.warmup}


def ship_generator(src: str | Path, dst: str | Path, ema: bool = True) -> str:
    """Write a small, generator-only copy of the run in ``src`` to ``dst`` (atomically).

    A training checkpoint holds both networks, their optimisers, the EMA copy, RNG states
    and history (what resuming needs); a shipped checkpoint needs only the weights that
    sample. ``dst`` keeps one set, the EMA weights when ``ema`` and the run kept them, under
    ``"generator"`` (so :func:`load_generator` reads it like any checkpoint of this command),
    plus the run config, the step and the final history. It cannot be resumed. Returns which
    weights it kept, ``"ema"`` or ``"generator"`` (a run without EMA has only the latter).
    """
    state = load_checkpoint(src)
    use_ema = ema and state.get("ema") is not None
    shipped = {"run": state["run"], "step": state["step"], "config": state["config"],
               "generator": state["ema"] if use_ema else state["generator"], "ema": None,
               "weights": "ema" if use_ema else "generator",
               "history": thin_history(state["history"]),
               "train_seconds": state.get("train_seconds", 0.0),
               "quality_curve": state.get("quality_curve", []),
               "warmup": state.get("warmup"), "shipped": True}
    save_checkpoint(shipped, dst)
    return shipped["weights"]


def build_discriminator(run: RunConfig | ClipRecipe) -> nn.Module:
    """The run's discriminator with fresh weights (for loading a shipped one into)."""
    if isinstance(run, ClipRecipe):
        from .video_training import video_gan  # the generator it builds is thrown away

        return video_gan(run.model, length=run.length, size=run.size, channels=run.channels,
                         width=run.width, d_width=run.d_width, **run.model_kw)[1]
    pixel = FrameDiscriminator(run.size, run.channels, run.d_width or run.width,
                               run.spectral_norm, run.d_norm, run.minibatch_std, run.ink_log)
    if run.d_encoder is None:
        return pixel
    return ProjectedDiscriminator(pixel, load_encoder(run.d_encoder), run.d_width or run.width)


def ship_discriminator(src: str | Path, dst: str | Path) -> Path:
    """Write a small, discriminator-only copy of the run in ``src`` to ``dst`` (atomically).

    Notebook 07 uses a trained discriminator as a no-reference quality score, an anomaly
    score and a feature extractor; it needs D's weights (with BatchNorm's running
    statistics) and the run config, not the optimisers or G. Load with
    :func:`load_discriminator`.
    """
    state = load_checkpoint(src)
    if state.get("discriminator") is None:
        raise ValueError(f"{src} holds no discriminator (a shipped generator-only copy?): "
                         "ship from the run's training checkpoint")
    shipped = {"run": state["run"], "step": state["step"], "config": state["config"],
               "discriminator": state["discriminator"], "weights": "discriminator",
               "train_seconds": state.get("train_seconds", 0.0), "shipped": True}
    return save_checkpoint(shipped, dst)


def load_discriminator(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """The discriminator of a checkpoint of this command (shipped or full), in eval mode."""
    state = load_checkpoint(path)
    if state.get("discriminator") is None:
        raise ValueError(f"{path} holds no discriminator weights; ship them with "
                         "--ship-weights discriminator")
    discriminator = build_discriminator(run_config_from(state))
    discriminator.load_state_dict(state["discriminator"])
    return discriminator.to(device).eval()


def thin_history(history: dict[str, list[float]], points: int = 1000) -> dict[str, list[float]]:
    """At most ``points`` entries per curve: means over consecutive, equal windows of steps.

    A long run's per-step history is megabytes of floats; the curves a shipped file needs
    for plotting survive the averaging (``step`` becomes each window's last step).
    """
    n = len(history.get("step", []))
    if n <= points:
        return {k: list(v) for k, v in history.items()}
    edges = [round(i * n / points) for i in range(points + 1)]
    thinned = {}
    for key, values in history.items():
        pick = (lambda a, b, v=values: v[b - 1]) if key == "step" else (
            lambda a, b, v=values: sum(v[a:b]) / (b - a))
        thinned[key] = [pick(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return thinned


def log_line(trainer: GANTrainer, total: int, ranks: int = 1) -> str:
    """One progress line: a CLI run's log reads as a table, unlike a redrawn bar.

    Losses and scores are already means over all ``ranks`` (``trainer.reduce_stats``);
    frames/s counts the frames of all ranks, each of which trains on its share of the batch.
    """
    h = trainer.history
    rates = trainer.throughput()
    rates["frames_per_s"] *= ranks
    return (f"step {trainer.step}/{total} | loss_d {h['loss_d'][-1]:.3f} | "
            f"loss_g {h['loss_g'][-1]:.3f} | D(x) {h['d_real'][-1]:.3f} | "
            f"D(G(z)) {h['d_fake'][-1]:.3f} | {rates['steps_per_s']:.1f} steps/s | "
            f"{rates['frames_per_s']:.0f} frames/s")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring for examples."""
    p = argparse.ArgumentParser(prog="python -m vgan_utils.train",
                                description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, metavar="NAME[,field=value...]",
                   help=f"a named run ({', '.join(sorted(CONFIGS))}), optionally with fields "
                        "changed as in bench/race.py, e.g. frames32,d_width=32")
    p.add_argument("--steps", type=int, required=True, help="total steps (resumed runs included)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best)")
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), default=None,
                   help="mixed precision (default: bf16 on CUDA, off elsewhere)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory layout (default: on for CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="global batch, over all processes under torchrun (default: the "
                        "recipe's, or the resumed run's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (fewer can be faster on a busy machine)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--decay-last", type=float, default=0.0, metavar="FRACTION",
                   help="decay both learning rates linearly to zero over the last FRACTION of "
                        "--steps (0: constant rates)")
    p.add_argument("--eval-every", type=float, default=0.0, metavar="MINUTES",
                   help="every MINUTES of training, judge G on --eval-n frames and keep FD / "
                        "floor against training time in the checkpoint (0: never)")
    p.add_argument("--eval-n", type=int, default=1000,
                   help="frames (frame runs) or clips (clip runs) per --eval-every measure")
    p.add_argument("--ship", type=Path, default=None,
                   help="also write a small generator-only copy here when the run is done")
    p.add_argument("--ship-weights", choices=("ema", "generator", "discriminator"),
                   default="ema", help="which weights --ship keeps (a generator's, or D's: "
                   "see ship_discriminator)")
    return p.parse_args(argv)


def decay_factor(step: float, total: float, last: float) -> float:
    """Learning-rate factor at ``step``: 1, then linear to 0 over the last ``last`` of ``total``.

    Set once per logged chunk of steps, so it depends only on the step and a resumed run
    follows the same schedule. Never exactly 0 (Adam would take no step at all). Applied by
    :func:`decay_learning_rates`.
    """
    if not 0.0 < last <= 1.0:
        raise ValueError(f"--decay-last must be in (0, 1], got {last}")
    start = total * (1.0 - last)
    return max(min(1.0, (total - step) / (total - start)), 1e-3)


def decay_learning_rates(trainer: GANTrainer, run: RunConfig | ClipRecipe, done: float,
                         total: float, last: float) -> None:
    """Set both learning rates to the run's own times :func:`decay_factor` (nothing when
    ``last`` is 0). The command line passes steps; a race passes seconds
    (:func:`vgan_utils.race.train_for`), so both decay the same way."""
    if last > 0:
        scale = decay_factor(done, total, last)
        trainer.set_hparams(lr_g=scale * run.train.lr_g, lr_d=scale * run.train.lr_d)


def device_overrides(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """GPU features: on by default on CUDA (bf16 needs no loss scaling), off on CPU."""
    cuda = device.type == "cuda"
    amp = args.amp or ("bf16" if cuda and torch.cuda.is_bf16_supported() else "off")
    channels_last = cuda if args.channels_last is None else args.channels_last
    return {"amp": amp, "channels_last": channels_last, "compile": args.compile}


def read_start(args: argparse.Namespace, run: RunConfig | ClipRecipe
               ) -> tuple[str | None, dict[str, Any] | None]:
    """What ``--out`` says about how to start: ``(error, None)``, or ``(None, state to resume)``
    (``(None, None)``: a fresh run). Read on rank 0 only, which alone writes ``--out``."""
    if args.out.exists() and not args.resume:
        return f"{args.out} exists: pass --resume to continue that run, or delete it", None
    if args.resume and not args.out.exists():
        return f"--resume given but {args.out} does not exist", None
    if not args.resume:
        return None, None
    state = load_checkpoint(args.out)
    if state.get("shipped"):
        return (f"{args.out} is a shipped generator-only copy: resume its training "
                "checkpoint instead"), None
    if state["run"]["name"] != run.name:
        return f"{args.out} holds a {state['run']['name']!r} run, not {run.name!r}", None
    return None, state


def global_batch(args: argparse.Namespace, run: RunConfig | ClipRecipe,
                 state: dict[str, Any] | None) -> int:
    """The batch of every step over all processes: ``--batch-size``, else the resumed run's,
    else the recipe's. A resumed run keeps its own: another would change which examples
    every later step sees (``batch_fn(i)`` indexes data by step and batch size)."""
    saved = state["run"]["batch_size"] if state is not None else None
    if saved is not None and args.batch_size not in (None, saved):
        sys.exit(f"{args.out} was trained with a global batch of {saved}; --batch-size "
                 f"{args.batch_size} would change the data every later step sees. Resume "
                 f"with --batch-size {saved} (or none), or start a new run")
    return args.batch_size or saved or run.batch_size


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) one run and write its checkpoint; returns the exit status.

    Under ``torchrun`` every process runs this, as one replica of a DistributedDataParallel
    run (:mod:`vgan_utils.distributed`); without it, one process trains alone.
    """
    args = parse_args(argv)
    world = distributed.world_from_env()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = str(distributed.init(world, args.device)) if world.size > 1 else args.device
    try:
        env = setup(seed=args.seed, device=device, quiet=not world.is_main)
        return train_run(args, world, env.device)
    finally:
        distributed.close(world)


def train_run(args: argparse.Namespace, world: distributed.World, device: torch.device) -> int:
    """:func:`main`'s training on one process of ``world``; rank 0 logs, saves and ships."""
    say = print if world.is_main else (lambda *a, **k: None)
    try:
        run = parse_recipe(args.config)
    except ValueError as err:
        sys.exit(str(err))
    warm = warm_up(args, run, world, device)
    if warm is not None:  # the clip phase starts fresh, from the warm-up's glyphs
        args = argparse.Namespace(**{**vars(args), "resume": False})
    train_phase(args, run, world, device, warm)
    if args.ship is not None and world.is_main:
        kept = args.ship_weights
        if kept == "discriminator":
            ship_discriminator(args.out, args.ship)
        else:
            kept = ship_generator(args.out, args.ship, ema=kept == "ema")
        say(f"shipped {kept} weights to {args.ship} "
            f"({args.ship.stat().st_size / 1e6:.1f} MB)", flush=True)
    return 0


WarmUp = tuple[GANTrainer, QualityCurve, str]  # a finished warm-up: trainer, curve, recipe


def warmup_path(out: Path) -> Path:
    """Where a recipe's warm-up phase keeps its frame-GAN checkpoint: beside ``out``."""
    return out.with_name(f"{out.stem}_warmup{out.suffix}")


def warm_up(args: argparse.Namespace, run: RunConfig | ClipRecipe, world: distributed.World,
            device: torch.device) -> WarmUp | None:
    """Phase one of a clip recipe with ``warmup_steps``: its glyph network trained alone.

    Inside the clip GAN a sprite two-stream generator's glyph network learns from one frame
    per clip, at half a frame GAN's steps per second, and in an hour its frames stayed far
    behind its clips (``data/README.md``). Trained alone as a frame GAN (no clips to draw or
    judge) it learns digits much faster, so ``two_stream_warm32`` first trains the frame
    recipe ``run.warmup`` (notebook 04's ``sprites32``) from scratch, in
    ``warmup_path(--out)``, then the clips. Returns that phase's trainer, curve and recipe,
    or ``None`` when there is none to run: no warm-up, or a clip phase already begun (whose
    checkpoint holds the glyphs).
    """
    if not isinstance(run, ClipRecipe) or not run.warmup_steps or args.out.exists():
        return None
    if run.model != "sprite_two_stream" or run.warmup is None:
        sys.exit(f"{run.name}: a warm-up (warmup_steps={run.warmup_steps}) trains the glyph "
                 "network of a sprite_two_stream model as a frame recipe: set model to "
                 "'sprite_two_stream' and warmup to a sprite frame recipe, or warmup_steps=0")
    phase = argparse.Namespace(**{**vars(args), "config": run.warmup, "out": warmup_path(args.out),
                                  "steps": run.warmup_steps, "decay_last": run.warmup_decay,
                                  "ship": None})
    if world.is_main:
        print(f"warm-up: the glyph network trains as {run.warmup!r} for {run.warmup_steps} "
              f"steps ({phase.out}), then the clips", flush=True)
    trainer, curve = train_phase(phase, parse_recipe(run.warmup), world, device)
    return trainer, curve, run.warmup


def start_from_warm_up(trainer: GANTrainer, curve: QualityCurve,
                       warm: WarmUp) -> None:
    """Load the warm-up's glyph network into the clip generator's (and its EMA copy's)."""
    frames, frame_curve, recipe = warm
    weights = (frames.ema if frames.ema is not None else frames.generator).state_dict()
    for g in (trainer.generator, trainer.ema):
        if g is not None:
            try:
                g.motion.image_generator.load_state_dict(weights)
            except RuntimeError as err:
                sys.exit(f"the warm-up {recipe!r} does not draw the clip generator's glyphs "
                         f"(their widths, glyph and refine must match): "
                         f"{str(err).splitlines()[0]}")
    curve.follow(frame_curve, recipe, frames.step)


def train_phase(args: argparse.Namespace, run: RunConfig | ClipRecipe, world: distributed.World,
                device: torch.device,
                warm: WarmUp | None = None
                ) -> tuple[GANTrainer, QualityCurve]:
    """Train (or resume) ``run`` to ``--steps`` in ``--out``; ``warm``: a warm-up to start from."""
    say = print if world.is_main else (lambda *a, **k: None)
    error, state = distributed.from_rank0(read_start(args, run) if world.is_main else None,
                                          world)
    if error:
        sys.exit(error)
    run = replace(run, batch_size=global_batch(args, run, state))
    try:
        per_rank = distributed.local_batch(run.batch_size, world)
    except ValueError as err:
        sys.exit(str(err))
    trainer = build_trainer(run, device, args.seed, shard=world.shard,
                            **device_overrides(args, device))
    curve = QualityCurve(run, args.eval_every, args.eval_n)
    if state is not None:
        trainer.load_state_dict(state)
        curve.load(state)
        say(f"resumed {args.out} at step {trainer.step}", flush=True)
        if state.get("world_size", 1) != world.size:
            say(f"note: {args.out} was trained on {state.get('world_size', 1)} process(es), "
                f"now {world.size}: same global batch and data, but batch norm statistics "
                "are taken per process, so the run will not repeat an uninterrupted one bit "
                "for bit", flush=True)
    elif warm is not None:
        start_from_warm_up(trainer, curve, warm)
    distributed.distribute(trainer, world)
    if world.size > 1:
        say(f"DDP on {world.size} processes ({device.type}): global batch {run.batch_size} "
            f"= {world.size} x {per_rank}", flush=True)
    if trainer.step >= args.steps:
        say(f"{args.out} is already at step {trainer.step} >= --steps {args.steps}")
    while trainer.step < args.steps:
        decay_learning_rates(trainer, run, trainer.step, args.steps, args.decay_last)
        curve.start_timing()
        trainer.train(min(args.log_every - trainer.step % args.log_every,
                          args.steps - trainer.step))
        curve.stop_timing()
        say(log_line(trainer, args.steps, world.size), flush=True)
        done = trainer.step == args.steps
        if world.is_main and (curve.due() or (done and curve.tracker is not None)):
            say(curve.measure(trainer), flush=True)
        if trainer.step % args.save_every == 0 or done:
            for net in (trainer.generator, trainer.discriminator):
                distributed.check_replicas(net, world)
            if world.is_main:
                save_run(trainer, run, args.out, {**curve.state(), "world_size": world.size})
    say(f"wrote {args.out} at step {trainer.step}"
        + (f" (weights identical on {world.size} ranks)" if world.size > 1 else ""), flush=True)
    return trainer, curve


if __name__ == "__main__":
    distributed.exit_process(main(), distributed.world_from_env())
