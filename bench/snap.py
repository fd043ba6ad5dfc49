"""Does redrawing ``motion32``'s moved frames on the pixel grid mend them? Measured.

    .venv/bin/python bench/snap.py --threads 2 --json bench/results/snap.json

Trains a :class:`vgan_utils.snap.GridSnap` on real frames (``--steps``; supervised, no GAN),
then scores on ``bench/quality.py``'s clip protocol (``--clips`` clips per set, seeded codes):
the shipped ``data/motion32.pt`` as it is, the same clips with every frame passed through the
snap, and real clips through the snap (a snap that harms real frames would be redrawing, not
snapping). The snap is applied after training, to a generator that never saw it: this measures
what the blur of the bilinear warp costs ``motion32``, not a generator trained with a snap.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from vgan_utils import snap as snapping
from vgan_utils import video_quality as vq
from vgan_utils.train import load_generator
from vgan_utils.video_nets import per_frame

DATA = Path(__file__).resolve().parent.parent / "data"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1500, help="the snap's training steps")
    p.add_argument("--pool", type=int, default=20_000, help="real frames it trains on")
    p.add_argument("--clips", type=int, default=500, help="clips per set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    snap, history = snapping.train_snap(snapping.real_frames64(args.pool, seed=args.seed),
                                        args.steps, seed=args.seed)
    train_s = time.perf_counter() - start
    real_a, real_b = vq.real_clip_sets(args.clips, length=16)
    clips = vq.generate_clips(load_generator(DATA / "motion32.pt"), args.clips, args.seed)
    rows = []
    with torch.no_grad():
        snapped = {"motion32.pt, snapped": per_frame(snap, clips),
                   "real clips, snapped": per_frame(snap, real_a)}
    for name, x in {"motion32.pt": clips, **snapped}.items():
        rows.append({"row": name, **vq.clip_quality(x, real_a, real_b)})
        print(f"{name:22s} {vq.format_clip_quality(rows[-1])}", flush=True)
    print(f"(snap: {args.steps} steps in {train_s:.0f} s, loss {history[-1]['loss']:.5f}; "
          f"{args.clips} clips per set; {time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"steps": args.steps, "clips": args.clips,
                                         "snap_seconds": train_s, "snap_history": history,
                                         "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
