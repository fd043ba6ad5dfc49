"""Throughput on this machine: synthetic clips/s, frame- and video-GAN training steps/s per profile.

    .venv/bin/python bench/run.py                  # CPU here; CUDA when present
    .venv/bin/python bench/run.py --steps 20 --json bench.json
    .venv/bin/python bench/run.py --profiles ci --steps 2   # a quick smoke run
    .venv/bin/python bench/run.py --profiles cpu --steps 300 --overhead   # engine vs bare loop

Video GANs: notebook 05's two-stream and content/motion models (from scratch) at each
profile's clip size, length and batch, a tenth of ``--steps`` each.

Datasets: :mod:`vgan_utils.synthetic` at their default sizes, drawn in batches of 32
clips, one vectorised call per batch. Frame GAN: the ``frames{size}`` run of
:mod:`vgan_utils.train` at each profile's ``frame_size`` and ``frame_batch``, through the
same engine the notebooks use, with data generation included (it is part of every real
step). On CUDA the command line's defaults apply: bf16 autocast and channels-last. The
profiles' time budgets (SERIES.md) are checked against these numbers, not by timed tests.
``--overhead`` times the engine against the same algorithm written as a bare loop (what the
rollback snapshot, the checks and the history cost).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vgan_utils.profiles import PROFILES
from vgan_utils.runtime import pick_device
from vgan_utils.synthetic import BouncingBalls, MovingDigits, MovingShapes
from vgan_utils.train import CONFIGS, build_trainer
from vgan_utils.training import _grad_norm

DATASETS = {"moving digits": MovingDigits, "bouncing balls": BouncingBalls,
            "moving shapes": MovingShapes}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    p.add_argument("--steps", type=int, default=10, help="timed training steps per profile")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--batches", type=int, default=5, help="timed dataset batches")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice). On a CPU shared with "
                        "other jobs, 1 thread can be many times faster than 2")
    p.add_argument("--overhead", nargs="?", const="dcgan_classic32", default=None,
                   metavar="CONFIG", help="also time the engine against a bare training loop "
                   "on CONFIG (default dcgan_classic32)")
    p.add_argument("--json", type=Path, default=None, help="also write the tables as JSON")
    return p.parse_args(argv)


def dataset_rate(cls, batches: int, batch: int = 32) -> dict[str, object]:
    """Clips/s of one synthetic dataset (glyph banks and the like built before timing)."""
    data = cls(num_clips=10_000)
    data.batch(np.arange(batch))  # warm-up
    start = time.perf_counter()
    for b in range(1, batches + 1):
        clips, _ = data.batch(np.arange(b * batch, (b + 1) * batch))
    seconds = time.perf_counter() - start
    return {"clip_shape": list(clips.shape[1:]), "clips_per_s": batches * batch / seconds}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(run, device: torch.device, steps: int, warmup: int) -> tuple[str, float]:
    """``(amp, seconds)`` for ``steps`` engine steps of ``run`` after ``warmup`` untimed ones.

    On CUDA the command line's defaults apply (bf16 autocast where supported, channels-last).
    """
    cuda = device.type == "cuda"
    amp = "bf16" if cuda and torch.cuda.is_bf16_supported() else "off"
    trainer = build_trainer(run, device, seed=0, amp=amp, channels_last=cuda)
    trainer.train(warmup)
    _sync(device)
    start = time.perf_counter()
    trainer.train(steps)
    _sync(device)
    return amp, time.perf_counter() - start


def gan_rate(profile_name: str, device: torch.device, steps: int, warmup: int
             ) -> dict[str, object]:
    """Training steps/s and frames/s of the frame GAN at one profile's size and batch.

    frames/s counts real frames consumed per second (batch size x steps/s), as the engine's
    history does; each step also generates as many frames.
    """
    prof = PROFILES[profile_name]
    run = replace(CONFIGS[f"frames{prof.frame_size}"], batch_size=prof.frame_batch)
    amp, seconds = timed_steps(run, device, steps, warmup)
    return {"profile": profile_name, "size": prof.frame_size, "batch": prof.frame_batch,
            "amp": amp, "steps_per_s": steps / seconds,
            "frames_per_s": steps * prof.frame_batch / seconds,
            "ms_per_step": 1000 * seconds / steps}


# notebook 05's video GANs trained from scratch
CLIP_MODELS = ("two_stream32", "content_motion32", "two_stream_sprites32")


def clip_gan_rate(profile_name: str, recipe: str, device: torch.device, steps: int,
                  warmup: int) -> dict[str, object]:
    """Training steps/s and clips/s of one of notebook 05's video GANs at a profile's clip size,
    length and batch (clips/s counts real clips consumed, as frames/s does for frames)."""
    prof = PROFILES[profile_name]
    run = replace(CONFIGS[recipe], size=prof.clip_size, length=prof.clip_length,
                  batch_size=prof.clip_batch)
    amp, seconds = timed_steps(run, device, steps, warmup)
    return {"profile": profile_name, "model": recipe, "size": prof.clip_size,
            "length": prof.clip_length, "batch": prof.clip_batch, "amp": amp,
            "steps_per_s": steps / seconds, "clips_per_s": steps * prof.clip_batch / seconds}


def bare_loop(run, device: torch.device, steps: int, seed: int = 0) -> float:
    """Seconds for ``steps`` steps of the same algorithm as the engine, with no machinery.

    Notebook 04's hand-written loop: a fresh fake batch under ``no_grad`` for D's step, a fresh
    one for G's step, BCE on logits; no rollback snapshot, no statistics, no history.
    """
    trainer = build_trainer(run, device, seed)  # its networks, optimisers and data only
    g, d, opt_g, opt_d = trainer.generator, trainer.discriminator, trainer.opt_g, trainer.opt_d
    batch_fn, z_gen, z_dim = trainer.batch_fn, torch.Generator().manual_seed(seed), run.z_dim
    start = time.perf_counter()
    for i in range(steps):
        real = batch_fn(i).to(device)
        with torch.no_grad():
            fake = g(torch.randn(len(real), z_dim, generator=z_gen).to(device))
        loss_d = (torch.nn.functional.softplus(-d(real)).mean()
                  + torch.nn.functional.softplus(d(fake)).mean())
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = torch.nn.functional.softplus(
            -d(g(torch.randn(len(real), z_dim, generator=z_gen).to(device)))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    _sync(device)
    return time.perf_counter() - start


def engine_overhead(config: str, device: torch.device, steps: int, rounds: int = 5
                    ) -> dict[str, object]:
    """Steps/s of the engine and of :func:`bare_loop` on one recipe, best of ``rounds`` each.

    Interleaved rounds, each side going first in every other round, so a burst of load on
    the machine or a warm cache favours neither; best-of because interference only ever
    slows a run down.
    """
    run = CONFIGS[config]
    if run.train.loss != "nonsaturating" or run.train.r1_weight or run.train.gp_weight:
        raise SystemExit(f"--overhead compares plain non-saturating runs; {config} is not one")
    timers = {"bare": lambda: bare_loop(run, device, steps),
              "engine": lambda: _engine_seconds(run, device, steps)}
    seconds: dict[str, list[float]] = {"bare": [], "engine": []}
    for r in range(rounds):
        for side in (("bare", "engine") if r % 2 == 0 else ("engine", "bare")):
            seconds[side].append(timers[side]())
    bare, engine = steps / min(seconds["bare"]), steps / min(seconds["engine"])
    book = bookkeeping_ms(build_trainer(run, device, 0))
    return {"config": config, "steps": steps, "rounds": rounds, "bare_steps_per_s": bare,
            "engine_steps_per_s": engine, "overhead": bare / engine - 1,
            "bookkeeping_ms": book, "bookkeeping_share": book * engine / 1000}


def bookkeeping_ms(trainer, reps: int = 300) -> float:
    """Milliseconds per step of what the engine adds to the bare loop, timed directly.

    Per step the engine takes a rollback snapshot, two gradient norms and two finiteness
    checks; timing these alone resolves a cost of a few percent that an A/B timing of two
    whole loops on a shared machine cannot.
    """
    trainer.train(3)  # the optimiser's moments and gradients exist, as mid-run
    one = torch.ones(())

    def engine_extras() -> None:
        trainer._take_snapshot()
        _grad_norm(trainer.discriminator), _grad_norm(trainer.generator)
        trainer._check(loss_d=one, d_real=one, d_fake=one, grad_norm_d=one)
        trainer._check(loss_g=one, grad_norm_g=one)

    engine_extras()
    start = time.perf_counter()
    for _ in range(reps):
        engine_extras()
    return 1000 * (time.perf_counter() - start) / reps


def _engine_seconds(run, device: torch.device, steps: int) -> float:
    """Seconds for ``steps`` steps of a fresh engine on ``run`` (seed 0, like the bare loop)."""
    trainer = build_trainer(run, device, 0)
    start = time.perf_counter()
    trainer.train(steps)
    _sync(device)
    return time.perf_counter() - start


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with thread count and load (busy CPUs give slow numbers)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads{load}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device: {device} ({device_name(device)}) | torch {torch.__version__}\n")
    data_rows = []
    print(f"{'dataset':16s} {'clip (C,T,H,W)':18s} {'clips/s':>9s}")
    for name, cls in DATASETS.items():
        row = {"dataset": name, **dataset_rate(cls, args.batches)}
        data_rows.append(row)
        print(f"{name:16s} {str(tuple(row['clip_shape'])):18s} {row['clips_per_s']:9.1f}",
              flush=True)
    gan_rows = []
    print(f"\n{'profile':8s} {'frame':>6s} {'batch':>6s} {'amp':>5s} {'steps/s':>8s} "
          f"{'frames/s':>9s} {'ms/step':>8s}")
    for name in args.profiles:
        row = gan_rate(name, device, args.steps, args.warmup)
        gan_rows.append(row)
        print(f"{name:8s} {row['size']:>4d}px {row['batch']:6d} {row['amp']:>5s} "
              f"{row['steps_per_s']:8.2f} {row['frames_per_s']:9.0f} {row['ms_per_step']:8.0f}",
              flush=True)
    clip_rows = []
    print(f"\n{'profile':8s} {'video model':17s} {'clip':>10s} {'batch':>6s} {'steps/s':>8s} "
          f"{'clips/s':>8s}")
    for name in args.profiles:
        for recipe in CLIP_MODELS:
            row = clip_gan_rate(name, recipe, device, max(args.steps // 10, 2), args.warmup)
            clip_rows.append(row)
            shape = f"{row['length']}x{row['size']}px"
            print(f"{name:8s} {recipe:17s} {shape:>10s} {row['batch']:6d} "
                  f"{row['steps_per_s']:8.2f} {row['clips_per_s']:8.1f}", flush=True)
    overhead = None
    if args.overhead:
        overhead = engine_overhead(args.overhead, device, args.steps)
        print(f"\nengine vs bare loop ({args.overhead}, {args.steps} steps, "
              f"best of {overhead['rounds']}): "
              f"{overhead['engine_steps_per_s']:.2f} vs {overhead['bare_steps_per_s']:.2f} "
              f"steps/s: overhead {100 * overhead['overhead']:+.1f}%; the engine's bookkeeping "
              f"timed alone: {overhead['bookkeeping_ms']:.2f} ms per step = "
              f"{100 * overhead['bookkeeping_share']:.1f}% of an engine step", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": str(device), "device_name": device_name(device),
                                         "torch": torch.__version__, "datasets": data_rows,
                                         "frame_gan": gan_rows, "clip_gan": clip_rows,
                                         "engine_overhead": overhead},
                                        indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
