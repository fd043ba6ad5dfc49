"""Quality of the shipped generators, frames and clips, measured by the judges against their floors.

    .venv/bin/python bench/quality.py                       # all rows, 2000 frames each
    .venv/bin/python bench/quality.py --n 5000 --json quality.json
    .venv/bin/python bench/quality.py --cpu-run data/cache/frames32_cpu.pt \\
        --pretrained data/frames32.pt

Rows: real frames (a third disjoint real set, so FD/floor ~ 1 is what "as good as real"
reads), the untrained generator, the generator of notebook 04's ``cpu``-profile run and
the shipped pretrained checkpoint. A row whose checkpoint (or whose judge) is missing is
skipped with a message saying how to make it. Each row is measured with the judge of its
frame size (``data/judge_frames{32,64}.pt``). FD: Heusel et al. 2017; floor, confident share
and coverage: see :mod:`vgan_utils.quality`.

Clip rows (``--clips`` 16-frame clips each, 0 to skip): real clips (a third real set) and each
shipped clip generator of notebook 05 (:data:`vgan_utils.figures.CLIP_GENERATORS`: ``data/
motion32.pt``, ``layers32.pt``, ``two_stream32.pt``, ``two_stream_sprites32.pt`` and
``two_stream_warm32.pt``), with :func:`vgan_utils.video_quality.clip_quality`'s figures: clip
FD / floor on the video judge's features, frame FD / floor, frame change against real's, ACD
beside real's. Beside them, the pretrained frame generator's frames drawn one by one into
clips (``--pretrained``, notebook 05's flickering baseline): on these rows frame FD / floor is
measured on frames of 500 clips, whose floor is about 2.7 times the one of 2,000 independent
frames above, so a clip generator's frames compare with their frame generator's on this row,
not on the frame rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from vgan_utils.figures import CLIP_GENERATORS
from vgan_utils.judge import default_path, load_judge
from vgan_utils.quality import format_quality, frame_quality, generate_frames, real_frame_sets
from vgan_utils.train import CONFIGS, build_generator, load_generator
from vgan_utils.video_quality import (
    clip_quality,
    format_clip_quality,
    generate_clips,
    independent_frames,
    real_clip_sets,
)

DATA = Path(__file__).resolve().parent.parent / "data"
FRAME_BY_FRAME = "pretrained, frame by frame"  # the frame generator's frames as clips
COLUMNS = ("row", "size", "n", "fd", "floor", "fd_over_floor", "confident_share",
           "real_confident_share", "confident_ratio", "coverage", "real_coverage")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2000, help="frames per set (generated and real)")
    p.add_argument("--cpu-run", type=Path, default=DATA / "cache" / "frames32_cpu.pt",
                   help="checkpoint of notebook 04's cpu-profile run")
    p.add_argument("--pretrained", type=Path, default=DATA / "frames32.pt",
                   help="the shipped pretrained checkpoint")
    p.add_argument("--untrained-config", default="frames32", choices=sorted(CONFIGS),
                   help="architecture of the untrained-generator row")
    p.add_argument("--clips", type=int, default=500,
                   help="16-frame clips per set for the clip rows (0: no clip rows)")
    p.add_argument("--data", type=Path, default=DATA, help="where the shipped clip generators are")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent codes")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is faster on a busy CPU)")
    return p.parse_args(argv)


def generators(args: argparse.Namespace) -> list[tuple[str, object]]:
    """(row name, generator or a reason it is missing), in table order."""
    torch.manual_seed(args.seed)
    rows: list[tuple[str, object]] = [
        (f"untrained G ({args.untrained_config})", build_generator(CONFIGS[args.untrained_config]))
    ]
    for name, path in (("notebook 04 cpu run", args.cpu_run), ("pretrained", args.pretrained)):
        if path.exists():
            rows.append((f"{name} ({path.name})", load_generator(path)))
        else:
            rows.append((name, f"no checkpoint at {path} (train it with "
                               "`python -m vgan_utils.train`, or pass its path)"))
    return rows


class Reals:
    """Real frame sets and judges per frame size, made once each (judges may be missing)."""

    def __init__(self, n: int):
        self.n, self.cache = n, {}

    def get(self, size: int):
        if size not in self.cache:
            path = default_path(size)
            if not path.exists():
                self.cache[size] = (f"no judge for {size}x{size} at {path} (make it with "
                                    f"`python -m vgan_utils.judge --size {size}`)")
            else:
                self.cache[size] = (load_judge(path), *real_frame_sets(size, self.n, sets=3))
        return self.cache[size]


def measure(name: str, size: int, frames_fn, reals: Reals) -> dict | str:
    """One row, or the reason it was skipped."""
    got = reals.get(size)
    if isinstance(got, str):
        return got
    judge, real_a, real_b, real_c = got
    frames = real_c if frames_fn is None else frames_fn()
    return {"row": name, "size": size, **frame_quality(judge, frames, real_a, real_b)}


def clip_rows(args: argparse.Namespace) -> list[dict]:
    """Real clips and each shipped clip generator, printed as measured; missing ones skipped."""
    real_a, real_b, real_c = real_clip_sets(args.clips, length=16, sets=3)
    paths = {FRAME_BY_FRAME: args.pretrained,
             **{name: args.data / f"{name}.pt" for name in CLIP_GENERATORS}}
    rows = []
    for name in ("real clips", *paths):
        if name != "real clips" and not paths[name].exists():
            print(f"skipped {name}: no checkpoint at {paths[name]} (data/README.md gives its "
                  f"command)")
            continue
        if name == "real clips":
            clips = real_c
        elif name == FRAME_BY_FRAME:
            clips = independent_frames(load_generator(paths[name]), args.clips, 16, args.seed)
        else:
            clips = generate_clips(load_generator(paths[name]), args.clips, seed=args.seed)
        rows.append({"row": name, **clip_quality(clips, real_a, real_b)})
        print(f"{name:34s} {format_clip_quality(rows[-1])}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    reals, rows = Reals(args.n), []
    start = time.perf_counter()
    plan = [("real frames", 32, None), ("real frames", 64, None)]
    for name, gen in generators(args):
        if isinstance(gen, str):
            print(f"skipped {name}: {gen}", flush=True)
            continue
        plan.append((name, gen.size, lambda g=gen: generate_frames(g, args.n, seed=args.seed)))
    for name, size, frames_fn in plan:
        row = measure(name, size, frames_fn, reals)
        if isinstance(row, str):
            print(f"skipped {name} at {size}x{size}: {row}", flush=True)
            continue
        rows.append(row)
        print(f"{name:34s} {size}x{size}  {format_quality(row)}", flush=True)
    clips = clip_rows(args) if args.clips > 0 else []
    print(f"({args.n} frames, {args.clips} clips per set; {time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"n": args.n, "rows": rows, "clips": args.clips,
                                         "clip_rows": clips}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
