"""Train a frame GAN from the command line, from a named config, into a checkpoint.

    python -m vgan_utils.train --config frames32 --steps 3000 --out data/frames32.pt
    python -m vgan_utils.train --config frames32 --steps 6000 --out data/frames32.pt --resume

``--steps`` is the total step count, so re-running the same command with ``--resume``
after a crash finishes the run (a checkpoint is written atomically every
``--save-every`` steps). Configs are small :class:`RunConfig` values in :data:`CONFIGS`:
a DCGAN pair (Radford et al. 2016) on moving-digit frames (Srivastava et al. 2015), with
a spectrally normalised discriminator (Miyato et al. 2018), the hinge loss (Lim & Ye
2017), separate learning rates (TTUR, Heusel et al. 2017) and an EMA of the generator
(Karras et al. 2018; Yazici et al. 2019). 32x32 frames are 64x64 Moving MNIST frames
area-downsampled, as the 32x32 judge of :mod:`vgan_utils.judge` expects.

The same :func:`build_trainer` gives notebook 04's dashboard its trainer, and
:func:`load_generator` loads a shipped checkpoint's generator; taught in
``notebooks/04_training_on_frames.ipynb``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .frame_nets import FrameDiscriminator, FrameGenerator, sample_z
from .judge import resize_frames
from .runtime import setup
from .synthetic import MovingDigits
from .training import GANTrainer, TrainConfig


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
    batch_size: int = 64
    data_size: int = 64  # frames are drawn at this size and area-downsampled to `size`
    num_clips: int = 10_000
    data_seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)


_SNGAN = TrainConfig(loss="hinge", lr_g=1e-4, lr_d=4e-4, betas=(0.5, 0.999), ema_decay=0.999)
CONFIGS: dict[str, RunConfig] = {
    "frames32": RunConfig("frames32", size=32, train=_SNGAN),
    # 64x64: a batch-norm D (its batch statistics let it see a collapsed batch) kept smooth by
    # the R1 penalty on real frames (Mescheder et al. 2018), the non-saturating loss.
    # Without R1, D won at once at this size; see data/README.md for what was tried.
    "frames64": RunConfig("frames64", size=64, width=32, spectral_norm=False, d_norm="batch",
                          batch_size=32,
                          train=TrainConfig(loss="nonsaturating", lr_g=2e-4, lr_d=2e-4,
                                            betas=(0.5, 0.999), r1_weight=1.0,
                                            ema_decay=0.999)),
    # seconds on a CPU: for tests and for trying the command line out
    "smoke": RunConfig("smoke", size=16, z_dim=16, width=8, batch_size=8, num_clips=64,
                       train=_SNGAN),
}


def dashboard_controls(run: RunConfig) -> dict[str, Any]:
    """The run's values under the dashboard's control names (starting values for its widgets)."""
    t = run.train
    return {"loss": t.loss, "lr_g": t.lr_g, "lr_d": t.lr_d, "beta1": t.betas[0],
            "batch_size": run.batch_size, "d_steps": t.d_steps, "z_dim": run.z_dim}


def apply_controls(run: RunConfig, hparams: dict[str, Any]) -> RunConfig:
    """``run`` with the dashboard's control values (see :func:`dashboard_controls`) put in."""
    hp = {**dashboard_controls(run), **hparams}
    train = replace(run.train, loss=hp["loss"], lr_g=float(hp["lr_g"]), lr_d=float(hp["lr_d"]),
                    betas=(float(hp["beta1"]), run.train.betas[1]), d_steps=int(hp["d_steps"]))
    return replace(run, batch_size=int(hp["batch_size"]), z_dim=int(hp["z_dim"]), train=train)


def build_generator(run: RunConfig) -> FrameGenerator:
    """The run's generator with fresh DCGAN-initialised weights."""
    return FrameGenerator(run.z_dim, run.size, run.channels, run.width)


def batch_fn_for(run: RunConfig):
    """``batch_fn(i)``: the i-th batch of moving-digit frames at the run's size."""
    data = MovingDigits(num_clips=run.num_clips, size=run.data_size, seed=run.data_seed)

    def batch_fn(i: int) -> torch.Tensor:
        return resize_frames(data.frames_at(i, run.batch_size), run.size)

    return batch_fn


def build_trainer(run: RunConfig, device: torch.device | str = "cpu", seed: int = 0,
                  hparams: dict[str, Any] | None = None, **train_overrides: Any) -> GANTrainer:
    """Fresh networks (seeded by ``seed``) and a trainer for ``run``.

    ``hparams`` are dashboard control values; ``train_overrides`` replace
    :class:`TrainConfig` fields (e.g. ``amp="bf16"``).
    """
    run = apply_controls(run, hparams or {})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = build_generator(run)
        discriminator = FrameDiscriminator(run.size, run.channels, run.d_width or run.width,
                                           run.spectral_norm, run.d_norm)
    z_dim = run.z_dim
    return GANTrainer(generator, discriminator, batch_fn_for(run),
                      lambda n, gen: sample_z(n, z_dim, generator=gen),
                      replace(run.train, **train_overrides), device, seed=seed)


def run_config_from(state: dict[str, Any]) -> RunConfig:
    """The :class:`RunConfig` stored in a checkpoint written by this command."""
    saved = dict(state["run"])
    saved["train"] = TrainConfig(**saved["train"])
    return RunConfig(**saved)


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


def save_run(trainer: GANTrainer, run: RunConfig, path: str | Path) -> Path:
    """Trainer state plus the run config, so :func:`load_generator` can rebuild G."""
    return save_checkpoint({**trainer.state_dict(), "run": asdict(run)}, path)


def ship_generator(src: str | Path, dst: str | Path, ema: bool = True) -> Path:
    """Write a small, generator-only copy of the run in ``src`` to ``dst`` (atomically).

    A training checkpoint holds both networks, their optimisers, the EMA copy, RNG states
    and history (what resuming needs); a shipped checkpoint needs only the weights that
    sample. ``dst`` keeps one set, the EMA weights when ``ema`` and the run kept them, under
    ``"generator"`` (so :func:`load_generator` reads it like any checkpoint of this command),
    plus the run config, the step and the final history. It cannot be resumed.
    """
    state = load_checkpoint(src)
    use_ema = ema and state.get("ema") is not None
    shipped = {"run": state["run"], "step": state["step"], "config": state["config"],
               "generator": state["ema"] if use_ema else state["generator"], "ema": None,
               "weights": "ema" if use_ema else "generator", "history": state["history"],
               "shipped": True}
    return save_checkpoint(shipped, dst)


def log_line(trainer: GANTrainer, total: int) -> str:
    """One progress line: a CLI run's log reads as a table, unlike a redrawn bar."""
    h = trainer.history
    rates = trainer.throughput()
    return (f"step {trainer.step}/{total} | loss_d {h['loss_d'][-1]:.3f} | "
            f"loss_g {h['loss_g'][-1]:.3f} | D(x) {h['d_real'][-1]:.3f} | "
            f"D(G(z)) {h['d_fake'][-1]:.3f} | {rates['steps_per_s']:.1f} steps/s | "
            f"{rates['frames_per_s']:.0f} frames/s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring for examples."""
    p = argparse.ArgumentParser(prog="python -m vgan_utils.train",
                                description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--steps", type=int, required=True, help="total steps (resumed runs included)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best)")
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), default=None,
                   help="mixed precision (default: bf16 on CUDA, off elsewhere)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory layout (default: on for CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (fewer can be faster on a busy machine)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--ship", type=Path, default=None,
                   help="also write a small generator-only copy here when the run is done")
    p.add_argument("--ship-weights", choices=("ema", "generator"), default="ema",
                   help="which generator weights --ship keeps")
    return p.parse_args(argv)


def device_overrides(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """GPU features: on by default on CUDA (bf16 needs no loss scaling), off on CPU."""
    cuda = device.type == "cuda"
    amp = args.amp or ("bf16" if cuda and torch.cuda.is_bf16_supported() else "off")
    channels_last = cuda if args.channels_last is None else args.channels_last
    return {"amp": amp, "channels_last": channels_last, "compile": args.compile}


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) one run and write its checkpoint; returns the exit status."""
    args = parse_args(argv)
    if args.out.exists() and not args.resume:
        sys.exit(f"{args.out} exists: pass --resume to continue that run, or delete it")
    if args.resume and not args.out.exists():
        sys.exit(f"--resume given but {args.out} does not exist")
    if args.threads:
        torch.set_num_threads(args.threads)
    env = setup(seed=args.seed, device=args.device)
    run = CONFIGS[args.config]
    trainer = build_trainer(run, env.device, args.seed, **device_overrides(args, env.device))
    if args.resume:
        state = load_checkpoint(args.out)
        if state.get("shipped"):
            sys.exit(f"{args.out} is a shipped generator-only copy: resume its training "
                     "checkpoint instead")
        if state["run"]["name"] != run.name:
            sys.exit(f"{args.out} holds a {state['run']['name']!r} run, not {run.name!r}")
        trainer.load_state_dict(state)
        print(f"resumed {args.out} at step {trainer.step}", flush=True)
    if trainer.step >= args.steps:
        print(f"{args.out} is already at step {trainer.step} >= --steps {args.steps}")
    while trainer.step < args.steps:
        trainer.train(min(args.log_every - trainer.step % args.log_every,
                          args.steps - trainer.step))
        print(log_line(trainer, args.steps), flush=True)
        if trainer.step % args.save_every == 0 or trainer.step == args.steps:
            save_run(trainer, run, args.out)
    print(f"wrote {args.out} at step {trainer.step}", flush=True)
    if args.ship is not None:
        ship_generator(args.out, args.ship, ema=args.ship_weights == "ema")
        print(f"shipped {args.ship_weights} weights to {args.ship} "
              f"({args.ship.stat().st_size / 1e6:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
