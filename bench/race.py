"""Race GAN recipes at the same training-time budget: the command line of vgan_utils.race.

    ../shared/tools/heavy .venv/bin/python bench/race.py dcgan_classic dcgan_classic32 frames32
    .venv/bin/python bench/race.py frames32 "frames32,batch_size=16,lr_d=2e-3" --budget 150
    ../shared/tools/heavy .venv/bin/python bench/race.py clip_dcgan two_stream32 motion32

Each recipe trains from the same seed for ``--budget`` seconds of wall time (default 300) on
``--threads`` threads, one after the other in this process, and is judged on ``--n`` frames
(default 2,000) or, in a race of clip recipes, ``--n`` clips (default 500); one row each, after
a row of real data scored like a generator; ``--out`` gets a PNG grid or a GIF per recipe.
CPU time is reported beside wall time. Run it under ``../shared/tools/heavy`` so that no other
job takes the cores: a race on a busy machine measures the other job. ``bench/README.md`` keeps
the table of what was tried.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from vgan_utils.race import CLIP_HEADER, HEADER, format_row, is_clip_race, plain_rows, race


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipes", nargs="+", help="NAME[,field=value...], e.g. frames32,lr_d=2e-3")
    p.add_argument("--budget", type=float, default=300.0, help="wall seconds of training each")
    p.add_argument("--n", type=int, default=None,
                   help="frames (default 2000) or clips (default 500) judged per recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for a sample grid PNG (frames) or GIF (clips) each")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.add_argument("--decay-last", type=float, default=0.0, metavar="FRACTION",
                   help="decay every recipe's learning rates linearly towards 0 over the last "
                        "FRACTION of its budget (as train's --decay-last does by steps)")
    return p.parse_args(argv)


def report(row: dict) -> None:
    """Print a row as it is ready; VGAN's mask contrast on a line of its own below it."""
    print(format_row(row), flush=True)
    if "mask_contrast" in row:
        print(f"{'':4s}mask contrast (over bright / over dark pixels, 64 clips): "
              f"{row['mask_contrast']:.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        clips = is_clip_race(args.recipes)
    except ValueError as err:
        raise SystemExit(str(err)) from err
    n = args.n or (500 if clips else 2000)
    print(f"{args.budget:.0f} s each, {args.threads} threads, {n} {'clips' if clips else 'frames'}"
          f" judged\n{CLIP_HEADER if clips else HEADER}", flush=True)
    try:
        rows = race(args.recipes, args.budget, n, args.seed, args.out,
                    report=report, decay_last=args.decay_last)
    except ValueError as err:
        raise SystemExit(str(err)) from err
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        command = ["python", "bench/race.py", *(argv if argv is not None else sys.argv[1:])]
        args.json.write_text(json.dumps({"command": command, "budget_s": args.budget,
                                         "threads": args.threads,
                                         "decay_last": args.decay_last,
                                         "n": n, "rows": plain_rows(rows)}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
