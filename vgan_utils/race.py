"""Race frame-GAN recipes at the same training-time budget, judged by the same numbers.

"Better" means measured side by side: each recipe trains from the same seed for the same
wall-clock budget on the same threads, one after the other, and is then judged on the same
frames: FD against its floor (Heusel et al. 2017), precision and recall (Kynkaenniemi et al.
2019, k = 3), the judge's confident share and digit coverage (:mod:`vgan_utils.quality`).
The first row is real frames scored like a generator: what a perfect one reaches at this N.

A recipe is a name from :data:`vgan_utils.train.CONFIGS`, optionally followed by
``,field=value`` changes, which is how one change at a time is measured. The command line is
``bench/race.py`` (its table of what was tried is ``bench/README.md``); notebook 04 runs a
small race and shows the full one.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import fields, replace
from pathlib import Path

import torch

from .display import image_grid, png_bytes, upscale
from .judge import load_judge
from .quality import frame_quality, generate_frames, real_frame_sets
from .train import CONFIGS, RunConfig, build_trainer
from .training import TrainConfig


def parse_recipe(spec: str) -> RunConfig:
    """``"NAME[,field=value...]"`` -> the named :class:`RunConfig` with those fields changed.

    Fields of :class:`RunConfig` and of its :class:`TrainConfig` may be given; values are
    Python literals (``2e-3``, ``32``, ``'hinge'``, ``(0.0, 0.99)``, ``None``).
    """
    name, _, rest = spec.partition(",")
    changes = re.split(r",(?=\s*\w+\s*=)", rest) if rest else []  # (0.0, 0.99) stays whole
    if name not in CONFIGS:
        raise ValueError(f"unknown recipe {name!r}; named recipes: {', '.join(sorted(CONFIGS))}")
    run_fields = {f.name for f in fields(RunConfig)} - {"name", "train"}
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
            raise ValueError(f"{spec!r}: {key!r} is not a field of RunConfig or TrainConfig; "
                             f"choose from {sorted(run_fields | train_fields)}")
    run = CONFIGS[name]
    return replace(run, name=spec, train=replace(run.train, **train_kw), **run_kw)


def train_for(run: RunConfig, budget_s: float, seed: int = 0, device: torch.device | str = "cpu",
              chunk: int = 10):
    """A trainer for ``run`` trained until ``budget_s`` seconds of wall time have passed.

    Returns ``(trainer, wall seconds, CPU seconds)``; steps come in chunks of ``chunk``.
    """
    trainer = build_trainer(run, device, seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < budget_s:
        trainer.train(chunk)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return trainer, wall, cpu


def race_row(run: RunConfig, budget_s: float, judge, reals, seed: int = 0,
             out: Path | None = None, device: torch.device | str = "cpu") -> dict:
    """Train one recipe for the budget, then judge its sampling generator (EMA if kept).

    With ``out``, a grid of 64 samples is written there as ``<recipe>.png``.
    """
    trainer, wall, cpu = train_for(run, budget_s, seed, device)
    generator = trainer.ema if trainer.ema is not None else trainer.generator
    frames = generate_frames(generator, len(reals[0]), seed=seed)
    if out is not None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run.name)
        grid = image_grid(frames[:64], ncols=8)
        (out / f"{safe}.png").write_bytes(png_bytes(upscale(grid, 3)))
    quality = frame_quality(judge, frames, *reals)
    return {"recipe": run.name, "steps": trainer.step, "steps_per_s": trainer.step / wall,
            "wall_s": wall, "cpu_s": cpu, "samples": frames[:64], **quality}


def race(specs: list[str], budget_s: float, n: int = 2000, seed: int = 0,
         out: Path | None = None, report=None, device: torch.device | str = "cpu") -> list[dict]:
    """Real frames, then each recipe trained for ``budget_s`` seconds and judged on ``n`` frames.

    ``report(row)`` is called as each row is ready (the command line prints it). Rows carry
    64 ``samples`` (a tensor) besides the figures; :func:`plain_rows` drops them for JSON.
    """
    runs = [parse_recipe(spec) for spec in specs]  # every typo fails before training
    sizes = {run.size for run in runs}
    if len(sizes) != 1:
        raise ValueError(f"a race compares one frame size; got sizes {sorted(sizes)}")
    size = sizes.pop()
    judge = load_judge(size=size)
    real_a, real_b, real_c = real_frame_sets(size, n, sets=3)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rows = [{"recipe": "real frames (a third real set)", "steps": 0, "steps_per_s": 0.0,
             "wall_s": 0.0, "cpu_s": 0.0, "samples": real_c[:64],
             **frame_quality(judge, real_c, real_a, real_b)}]
    for run in [None, *runs]:
        if run is not None:
            rows.append(race_row(run, budget_s, judge, (real_a, real_b), seed, out, device))
        if report is not None:
            report(rows[-1])
    return rows


def plain_rows(rows: list[dict]) -> list[dict]:
    """The rows without their sample tensors (what JSON can hold)."""
    return [{k: v for k, v in row.items() if k != "samples"} for row in rows]


def format_row(row: dict) -> str:
    """One line of the race table."""
    return (f"{row['recipe'][:44]:44s} {row['steps']:6d} {row['steps_per_s']:6.1f} "
            f"{row['wall_s']:6.0f} {row['cpu_s']:6.0f} {row['fd_over_floor']:8.1f} "
            f"{row['precision']:5.2f} {row['recall']:5.2f} {row['confident_ratio']:5.2f} "
            f"{row['coverage']:4d}/10")


HEADER = (f"{'recipe':44s} {'steps':>6s} {'st/s':>6s} {'wall':>6s} {'cpu':>6s} "
          f"{'FD/floor':>8s} {'prec':>5s} {'rec':>5s} {'conf':>5s} {'cover':>7s}")


