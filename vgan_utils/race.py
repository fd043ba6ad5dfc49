"""Race GAN recipes at the same training-time budget, judged by the same numbers.

"Better" means measured side by side: each recipe trains from the same seed for the same
wall-clock budget on the same threads, one after the other, and is then judged on the same
real data. Frame recipes: FD against its floor (Heusel et al. 2017), precision and recall
(Kynkaenniemi et al. 2019, k = 3), the judge's confident share and digit coverage
(:mod:`vgan_utils.quality`). Clip recipes: clip FD / floor on the video judge's features, frame
FD / floor, frame change against real's, ACD beside real's, precision and recall on frame
features (:mod:`vgan_utils.video_quality`), VGAN's mask contrast, and an animated GIF each.
``decay_last`` lowers every recipe's learning rates over the end of its budget. The first row
is real data scored like a generator: what a perfect one reaches at this N.

A recipe is a name from :data:`vgan_utils.train.CONFIGS`, optionally followed by
``,field=value`` changes (:func:`vgan_utils.train.parse_recipe`), which is how one change at a
time is measured. The command line is
``bench/race.py`` (its table of what was tried is ``bench/README.md``); notebooks 04 and 05 run
a small race and show the full one.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .clip_recipes import ClipRecipe
from .display import clip_grid, gif_bytes, image_grid, png_bytes, upscale
from .judge import load_judge
from .quality import frame_quality, generate_frames, real_frame_sets
from .train import RunConfig, build_trainer, decay_learning_rates, parse_recipe
from .video_judge import load_video_judge
from .video_quality import clip_quality, generate_clips, generated_mask_contrast, real_clip_sets


def train_for(run: RunConfig | ClipRecipe, budget_s: float, seed: int = 0,
              device: torch.device | str = "cpu", chunk: int = 10, decay_last: float = 0.0):
    """A trainer for ``run`` trained until ``budget_s`` seconds of wall time have passed.

    Returns ``(trainer, wall seconds, CPU seconds)``; steps come in chunks of ``chunk``.
    ``decay_last`` > 0 lowers both learning rates linearly towards 0 over that last fraction
    of the budget, by time (a race does not know its step count in advance): the command
    line's ``--decay-last``, which the long runs use, made comparable in a race.
    """
    trainer = build_trainer(run, device, seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - wall0) < budget_s:
        decay_learning_rates(trainer, run, elapsed, budget_s, decay_last)
        trainer.train(chunk)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return trainer, wall, cpu


def is_clip_race(specs: list[str]) -> bool:
    """True for a race of clip recipes, False for frame recipes; mixing them is an error."""
    kinds = {isinstance(parse_recipe(spec), ClipRecipe) for spec in specs}
    if len(kinds) != 1:
        raise ValueError("a race compares frame recipes or clip recipes, not both: "
                         f"{', '.join(specs)}")
    return kinds.pop()


class _Judging:
    """The judges and real sets of one race, loaded once; scores what a generator makes."""

    def __init__(self, clips: bool, size: int, length: int, n: int) -> None:
        self.clips, self.n = clips, n
        if clips:
            self.real = real_clip_sets(n, length=length, size=size, sets=3)
            self.judges = (load_video_judge(), load_judge(size=32))
        else:
            self.real = real_frame_sets(size, n, sets=3)
            self.judges = (load_judge(size=size),)

    def score(self, samples: torch.Tensor) -> dict:
        """The race's figures for ``n`` generated frames or clips."""
        real_a, real_b = self.real[:2]
        if self.clips:
            return clip_quality(samples, real_a, real_b, *self.judges)
        return frame_quality(self.judges[0], samples, real_a, real_b)

    def generate(self, generator: torch.nn.Module, seed: int) -> torch.Tensor:
        make = generate_clips if self.clips else generate_frames
        return make(generator, self.n, seed=seed)


def _write_samples(samples: torch.Tensor, name: str, out: Path) -> None:
    """A PNG grid of 64 frames, or an animated GIF of 16 clips, named after the recipe."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    if samples.dim() == 5:
        (out / f"{safe}.gif").write_bytes(gif_bytes(upscale(clip_grid(samples[:16], ncols=4), 2)))
    else:
        (out / f"{safe}.png").write_bytes(png_bytes(upscale(image_grid(samples[:64], ncols=8),
                                                            3)))


def race_row(run: RunConfig | ClipRecipe, budget_s: float, judging: _Judging, seed: int = 0,
             out: Path | None = None, device: torch.device | str = "cpu",
             decay_last: float = 0.0) -> dict:
    """Train one recipe for the budget, then judge its sampling generator (EMA if kept).

    With ``out``, its samples are written there (see :func:`_write_samples`). A generator
    with a mask (VGAN's) also gets ``mask_contrast``, since clip figures cannot tell a mask
    that separates the digits from one that covers everything.
    """
    trainer, wall, cpu = train_for(run, budget_s, seed, device, decay_last=decay_last)
    generator = trainer.ema if trainer.ema is not None else trainer.generator
    samples = judging.generate(generator.cpu(), seed)
    if out is not None:
        _write_samples(samples, run.name, out)
    row = {"recipe": run.name, "steps": trainer.step, "steps_per_s": trainer.step / wall,
           "wall_s": wall, "cpu_s": cpu, "samples": samples[:64], **judging.score(samples)}
    if hasattr(generator, "parts"):
        try:
            row["mask_contrast"] = generated_mask_contrast(generator, seed=seed)
        except ValueError:  # clips all dark (or all bright): a failed run, not a failed race
            row["mask_contrast"] = float("nan")
    return row


def race(specs: list[str], budget_s: float, n: int = 2000, seed: int = 0,
         out: Path | None = None, report=None, device: torch.device | str = "cpu",
         decay_last: float = 0.0) -> list[dict]:
    """Real data, then each recipe trained for ``budget_s`` seconds and judged on ``n`` samples
    (frames, or clips in a race of clip recipes); ``decay_last``: see :func:`train_for`.

    ``report(row)`` is called as each row is ready (the command line prints it). Rows carry
    up to 64 ``samples`` (a tensor) besides the figures; :func:`plain_rows` drops them for JSON.
    """
    clips = is_clip_race(specs)
    runs = [parse_recipe(spec) for spec in specs]  # every typo fails before training
    if not 0.0 <= decay_last <= 1.0:
        raise ValueError(f"decay_last is the fraction of the budget over which the learning "
                         f"rates fall, in [0, 1] (0: no decay); got {decay_last}")
    shapes = {(run.size, getattr(run, "length", 1)) for run in runs}
    if len(shapes) != 1:
        raise ValueError(f"a race compares one size (and clip length); got {sorted(shapes)}")
    size, length = shapes.pop()
    judging = _Judging(clips, size, length, n)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    third = judging.real[2]
    rows = [{"recipe": f"real {'clips' if clips else 'frames'} (a third real set)", "steps": 0,
             "steps_per_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0, "samples": third[:64],
             **judging.score(third)}]
    for run in [None, *runs]:
        if run is not None:
            rows.append(race_row(run, budget_s, judging, seed, out, device, decay_last))
        if report is not None:
            report(rows[-1])
    return rows


def plain_rows(rows: list[dict]) -> list[dict]:
    """The rows without their sample tensors (what JSON can hold)."""
    return [{k: v for k, v in row.items() if k != "samples"} for row in rows]


def format_row(row: dict) -> str:
    """One line of the race table (frame or clip figures, by what the row holds)."""
    common = (f"{row['recipe'][:44]:44s} {row['steps']:6d} {row['steps_per_s']:6.1f} "
              f"{row['wall_s']:6.0f} {row['cpu_s']:6.0f} ")
    if "clip_fd_over_floor" in row:
        return common + (f"{row['clip_fd_over_floor']:8.1f} {row['frame_fd_over_floor']:8.1f} "
                         f"{row['change_ratio']:6.2f} {row['acd']:5.3f} {row['real_acd']:5.3f} "
                         f"{row['precision']:5.2f} {row['recall']:5.2f}")
    return common + (f"{row['fd_over_floor']:8.1f} {row['precision']:5.2f} "
                     f"{row['recall']:5.2f} {row['confident_ratio']:5.2f} "
                     f"{row['coverage']:4d}/10")


_COMMON = f"{'recipe':44s} {'steps':>6s} {'st/s':>6s} {'wall':>6s} {'cpu':>6s} "
HEADER = _COMMON + (f"{'FD/floor':>8s} {'prec':>5s} {'rec':>5s} {'conf':>5s} "
                    f"{'cover':>7s}")
CLIP_HEADER = _COMMON + (f"{'clipFD/f':>8s} {'frmFD/f':>8s} {'change':>6s} {'ACD':>5s} "
                         f"{'realA':>5s} {'prec':>5s} {'rec':>5s}")
