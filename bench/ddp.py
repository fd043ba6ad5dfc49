"""Steps/s of one named run on 1 process against 2 torchrun processes, same global batch (CPU).

    ../shared/tools/heavy .venv/bin/python bench/ddp.py --config frames32 --steps 300 \\
        --json bench/results/ddp_cpu.json

Each setting trains ``--steps`` steps of the command line (``python -m vgan_utils.train``,
or ``torchrun --nproc_per_node 2 -m vgan_utils.train``) into a throw-away checkpoint and
reads the time of every step from its history, so start-up (imports, the process group) is
not counted; the first ``--warmup`` steps are left out. Settings: one process with 1 and
with 2 threads, and 2 processes with 1 thread each (all the cores of a 2-core machine either
way). DDP's gloo all-reduce of G's and D's gradients is paid every step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from vgan_utils.checkpoint import load_checkpoint
from vgan_utils.train import CONFIGS

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="frames32", choices=sorted(CONFIGS))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=None, help="global batch (default: recipe's)")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def timed_run(procs: int, threads: int, args: argparse.Namespace, folder: Path
              ) -> dict[str, object]:
    """Train one setting; steps/s over the steps after the warm-up."""
    out = folder / f"p{procs}t{threads}.pt"
    cli = ["-m", "vgan_utils.train", "--config", args.config, "--steps", str(args.steps),
           "--device", "cpu", "--log-every", str(args.steps), "--out", str(out)]
    if args.batch_size:
        cli += ["--batch-size", str(args.batch_size)]
    if procs == 1:
        cmd = [sys.executable, *cli, "--threads", str(threads)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(procs), *cli]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    state = load_checkpoint(out)
    rates = state["history"]["steps_per_s"][args.warmup:]
    seconds = sum(1.0 / r for r in rates)
    batch = state["run"]["batch_size"]
    frames = batch * state["run"].get("length", 1)  # clip runs: frames of every clip
    return {"processes": procs, "threads_each": threads, "global_batch": batch,
            "steps": len(rates), "steps_per_s": len(rates) / seconds,
            "frames_per_s": len(rates) * frames / seconds}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for procs, threads in ((1, 1), (1, 2), (2, 1)):
            rows.append(timed_run(procs, threads, args, Path(tmp)))
    base = rows[0]["steps_per_s"]
    print(f"{args.config}, {args.steps} steps ({args.warmup} warm-up left out), CPU")
    print("| processes x threads | global batch | steps/s | frames/s | vs 1 x 1 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['processes']} x {r['threads_each']} | {r['global_batch']} | "
              f"{r['steps_per_s']:.1f} | {r['frames_per_s']:.0f} | "
              f"{r['steps_per_s'] / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"config": args.config, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
