"""The README's figures, made from the shipped checkpoints, so that retraining can remake them.

    python -m vgan_utils.figures            # or: make figures

writes ``docs/clips.gif`` (rows: real moving-digit clips, then one row per shipped clip
generator, all playing together) and ``docs/frames.png`` (a grid of samples of the shipped
frame generator that scores best, ``sprites32.pt``). Codes are drawn from fixed seeds, so the
same checkpoints give the same files. The generators are the ones notebooks 04 and 05 load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .display import clip_grid, gif_bytes, image_grid, png_bytes, upscale
from .quality import generate_frames
from .train import load_generator
from .video_quality import generate_clips, real_clip_sets

ROOT = Path(__file__).resolve().parent.parent
# notebook 05's shipped clip generators: the rows of clips.gif after the real row
CLIP_GENERATORS = ("motion32", "layers32", "two_stream32", "two_stream_sprites32",
                   "two_stream_warm32")
FRAME_GENERATOR = "sprites32"  # notebook 04's best shipped frame generator (section 11)


def clips_gif(data: Path, per_row: int = 6, seed: int = 0) -> bytes:
    """One animated GIF: real clips in the first row, then each shipped clip generator's."""
    rows = [real_clip_sets(per_row, length=16, sets=1, seed=seed)[0]]
    for name in CLIP_GENERATORS:
        rows.append(generate_clips(load_generator(data / f"{name}.pt"), per_row, seed=seed))
    return gif_bytes(upscale(clip_grid(torch.cat(rows), ncols=per_row), 2), fps=8)


def frames_png(data: Path, n: int = 48, seed: int = 0) -> bytes:
    """A PNG grid of ``n`` samples of the shipped 32x32 frame generator."""
    frames = generate_frames(load_generator(data / f"{FRAME_GENERATOR}.pt"), n, seed=seed)
    return png_bytes(upscale(image_grid(frames, ncols=12), 2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vgan_utils.figures",
                                description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=ROOT / "data", help="shipped checkpoints")
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the figures")
    args = p.parse_args(argv)
    names = (FRAME_GENERATOR, *CLIP_GENERATORS)
    missing = [n for n in names if not (args.data / f"{n}.pt").exists()]
    if missing:
        sys.exit(f"missing shipped checkpoints in {args.data}: {', '.join(missing)} "
                 "(data/README.md gives the command that makes each)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "clips.gif").write_bytes(clips_gif(args.data))
    (args.out / "frames.png").write_bytes(frames_png(args.data))
    print(f"wrote {args.out / 'clips.gif'} and {args.out / 'frames.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
