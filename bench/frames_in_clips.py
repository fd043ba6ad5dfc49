"""Where a content/motion generator's frames lose quality, measured with the frame judge.

    .venv/bin/python bench/frames_in_clips.py --json bench/results/frames_in_clips.json

Three tables, each row's frame FD / floor, precision, recall and confident share (notebook 04):

1. **One protocol for frames and clips.** Frames of 500 clips (4 per clip, as
   :func:`vgan_utils.video_quality.clip_quality` takes them) against frames of real clips: the
   frame generator's frames drawn one by one, ``motion32.pt`` and ``two_stream32.pt``. The floor
   of this protocol is not the one of 2,000 independent frames (``bench/quality.py``'s frame
   rows): frames of one clip are nearly the same sample.
2. **The stages of ``motion32.pt``**, on 2,000 independent frames: the frame generator it
   started from, its own fine-tuned copy on N(0, I) codes, the frame it draws per clip before the
   warp, and frames t of its clips.
3. **What a bilinear warp alone does**: the frame generator's frames moved rigidly by whole
   pixels, by half pixels and by uniform fractions of a pixel (``vgan_utils.video_nets.warp``),
   each also moved before the generator's ``tanh`` (its logits warped, then the ``tanh``:
   ``ContentMotionGenerator``'s ``warp_logits``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from vgan_utils import video_quality as vq
from vgan_utils.judge import load_judge
from vgan_utils.quality import frame_quality, generate_frames, real_frame_sets
from vgan_utils.train import load_generator
from vgan_utils.video_nets import LOGIT_BACKGROUND, warp

DATA = Path(__file__).resolve().parent.parent / "data"


def report(table: list[dict], name: str, q: dict) -> None:
    """Print one row and keep it."""
    table.append({"row": name, **q})
    print(f"  {name:46s} FD/floor {q['fd_over_floor']:6.1f} (FD {q['fd']:6.1f} / "
          f"{q['floor']:5.2f}) | precision {q['precision']:.2f} | recall {q['recall']:.2f} | "
          f"confident {q['confident_ratio']:.2f}", flush=True)


def one_protocol(judge, frame_g, clips_n: int, seed: int) -> list[dict]:
    real_a, real_b, real_c = vq.real_clip_sets(clips_n, length=16, sets=3)
    sets = {"real clips (a third set)": real_c,
            "frame generator, frame by frame": vq.independent_frames(frame_g, clips_n, 16, seed),
            **{f"{name}.pt": vq.generate_clips(load_generator(DATA / f"{name}.pt"), clips_n, seed)
               for name in ("motion32", "two_stream32")}}
    table: list[dict] = []
    for name, clips in sets.items():
        report(table, name, vq.frame_fd(judge, clips, real_a, real_b))
    return table


@torch.no_grad()
def motion32_stages(judge, frame_g, real: list, n: int, seed: int) -> list[dict]:
    g = load_generator(DATA / "motion32.pt").eval()
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(seed))
    content, h0, noise = g.split_z(z)
    code = g.frame_code(content, g.motion_codes(h0, noise))
    drawn = torch.cat([g.image_generator(part) for part in code.split(250)])
    clips = torch.cat([g(part) for part in z.split(250)])
    sets = {"frame generator alone": generate_frames(frame_g, n, seed),
            "motion32's copy of it alone, N(0, I) codes": generate_frames(g.image_generator, n,
                                                                          seed),
            "motion32's drawn frame, before the warp": drawn,
            **{f"motion32's clip frame t = {t}": clips[:, :, t] for t in (0, 5, 10, 15)}}
    table: list[dict] = []
    for name, frames in sets.items():
        report(table, name, frame_quality(judge, frames, *real))
    return table


def rigid_shifts(judge, frame_g, real: list, n: int, seed: int) -> list[dict]:
    z = torch.randn(n, frame_g.z_dim, generator=torch.Generator().manual_seed(seed))
    logits = torch.cat([frame_g.logits(c) for c in z.split(256)])  # generate_frames' codes
    frames = frame_g.net[-1](logits)
    gen = torch.Generator().manual_seed(seed + 1)
    whole = torch.randint(-3, 4, (n, 2), generator=gen)
    halves = torch.randint(-3, 3, (n, 2), generator=gen) + 0.5
    shifts = {"moved by whole pixels (-3 to 3)": whole,
              "moved by half pixels (-2.5 to 2.5)": halves,
              "moved by uniform fractions (-3 to 3)": 6 * torch.rand(n, 2, generator=gen) - 3}
    table: list[dict] = []
    report(table, "frame generator alone", frame_quality(judge, frames, *real))
    for name, shift in shifts.items():
        size = frames.shape[-1]
        flows = (2 * shift.float() / size)[:, None, None, None, :].expand(n, 1, size, size, 2)
        report(table, name, frame_quality(judge, warp(frames, flows)[:, :, 0], *real))
        moved = frame_g.net[-1](warp(logits, flows, LOGIT_BACKGROUND)[:, :, 0])
        report(table, f"{name}, before the tanh", frame_quality(judge, moved, *real))
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pretrained", type=Path, default=DATA / "motion32_frames.pt",
                   help="the frame generator motion32.pt started from")
    p.add_argument("--n", type=int, default=2000, help="independent frames per set")
    p.add_argument("--clips", type=int, default=500, help="clips per set for table 1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    judge, frame_g = load_judge(size=32), load_generator(args.pretrained)
    real = real_frame_sets(32, args.n, sets=2)
    result = {}
    for key, title, fn in [
            ("one_protocol", f"1. frames of {args.clips} clips, 4 each", lambda: one_protocol(
                judge, frame_g, args.clips, args.seed)),
            ("motion32_stages", f"2. {args.n} independent frames", lambda: motion32_stages(
                judge, frame_g, real, args.n, args.seed)),
            ("rigid_shifts", f"3. {args.n} frames, warped", lambda: rigid_shifts(
                judge, frame_g, real, args.n, args.seed))]:
        print(title)
        result[key] = fn()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
