"""What a training step costs as clip length and resolution grow: parameters, FLOPs, s, memory.

    ../shared/tools/heavy .venv/bin/python bench/compute.py --json bench/results/compute_cpu.json

The frame GAN of ``frames32`` at 32 and 64 pixels (batch 32) and notebook 05's clip DCGAN
(``clip_dcgan``, batch 16) at 8, 16 and 32 frames of 32 and 64 pixels, one step of the
course's engine each (:func:`vgan_utils.compute.step_cost`), each in a fresh process so that
its peak memory is its own. Prints a table and the fitted growth exponents (cost ~ x**a);
``--json`` keeps the rows for notebook 08. Then the
cost per step of each recipe of notebook 08's remedies race (:data:`REMEDIES`), timed in
alternating rounds (:func:`vgan_utils.compute.interleaved_step_times`): a race's own steps/s
mixes each recipe's cost with the machine's drift over its minutes. On a GPU,
``bench/gpu.py`` measures the same models with mixed precision.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from vgan_utils.compute import fit_exponent, interleaved_step_times, step_cost

CASES: tuple[tuple[str, int, int], ...] = (
    ("frames", 32, 1), ("frames", 64, 1),
    ("clips", 32, 8), ("clips", 32, 16), ("clips", 32, 32),
    ("clips", 64, 8), ("clips", 64, 16), ("clips", 64, 32))

# notebook 08's race: no remedy, then one remedy each, then the course recipe
REMEDIES: tuple[str, ...] = (
    "dcgan_classic32", "dcgan_classic32,spectral_norm=True,d_norm=none",
    "dcgan_classic32,gp_weight=10.0,d_norm=none", "dcgan_classic32,r1_weight=1.0",
    "dcgan_classic32,lr_g=1e-4,lr_d=4e-4", "dcgan_classic32,ema_decay=0.999", "frames32")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds per case")
    p.add_argument("--one", nargs=3, metavar=("KIND", "SIZE", "LENGTH"), default=None,
                   help="measure one case in this process and print its row as JSON")
    p.add_argument("--remedy-steps", type=int, default=20,
                   help="steps per round when timing the remedies (0: skip them)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    return p.parse_args(argv)


def measure_in_fresh_process(kind: str, size: int, length: int, args: argparse.Namespace
                             ) -> dict:
    """One case's row, measured by a new Python process (its peak memory is its own)."""
    cmd = [sys.executable, __file__, "--one", kind, str(size), str(length),
           "--threads", str(args.threads), "--min-seconds", str(args.min_seconds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def exponents(rows: list[dict]) -> dict[str, float]:
    """Growth of FLOPs and seconds per step with clip length (at each size) and with pixels."""
    clips = [r for r in rows if r["kind"] == "clips"]
    fits = {}
    for size in sorted({r["size"] for r in clips}):
        sub = [r for r in clips if r["size"] == size]
        for key in ("flops_step", "s_per_step", "peak_rise_mb"):
            fits[f"{key} ~ length^a, {size}px"] = fit_exponent(
                [r["length"] for r in sub], [max(r[key], 1e-9) for r in sub])
    for kind in ("frames", "clips"):
        for length in sorted({r["length"] for r in rows if r["kind"] == kind}):
            sub = [r for r in rows if r["kind"] == kind and r["length"] == length]
            if len(sub) > 1:
                for key in ("flops_step", "s_per_step"):
                    fits[f"{key} ~ pixels^a, {kind} T={length}"] = fit_exponent(
                        [r["size"] ** 2 for r in sub], [r[key] for r in sub])
    return fits


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.one is not None:
        kind, size, length = args.one[0], int(args.one[1]), int(args.one[2])
        print(json.dumps(step_cost(kind, size, length, min_seconds=args.min_seconds)))
        return 0
    print(f"{'model':8s} {'T':>3s} {'px':>3s} {'batch':>5s} {'params G':>9s} {'params D':>9s} "
          f"{'GFLOP/step':>10s} {'s/step':>7s} {'peak MB':>8s}", flush=True)
    rows = []
    for kind, size, length in CASES:
        r = measure_in_fresh_process(kind, size, length, args)
        rows.append(r)
        print(f"{kind:8s} {r['length']:3d} {size:3d} {r['batch']:5d} {r['params_g']:9,d} "
              f"{r['params_d']:9,d} {r['flops_step'] / 1e9:10.2f} {r['s_per_step']:7.3f} "
              f"{r['peak_rise_mb']:8.0f}", flush=True)
    fits = exponents(rows)
    for name, a in fits.items():
        print(f"{name:40s} a = {a:.2f}")
    remedies = {}
    if args.remedy_steps > 0:
        remedies = interleaved_step_times(list(REMEDIES), steps=args.remedy_steps)
        base = remedies[REMEDIES[0]]
        for spec, s in remedies.items():
            print(f"{spec:48s} {s * 1000:7.1f} ms/step ({(s - base) * 1000:+6.1f})", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        command = ["python", "bench/compute.py", *(argv if argv is not None else sys.argv[1:])]
        args.json.write_text(json.dumps({"command": command, "threads": args.threads,
                                         "torch": torch.__version__, "rows": rows,
                                         "exponents": fits, "remedy_s_per_step": remedies},
                                        indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
