"""GPU figures: steps/s, frames/s, peak memory and model FLOPs utilisation of the course's GANs.

    .venv/bin/python bench/gpu.py                       # every model and variant
    .venv/bin/python bench/gpu.py --steps 20 --peak-tflops 989 --json gpu.json

Models: the frame GAN (``frames{size}`` of :data:`vgan_utils.train.CONFIGS`) at the ``gpu``
profile's frame size and batch, and notebook 05's two-stream and content/motion video GANs
at its clip size, length and batch (as ``bench/run.py`` times them on the CPU). Variants:
fp32 eager, then bf16 autocast, channels-last and ``torch.compile`` each switched on alone,
then all three. FLOPs per step come from ``torch.utils.flop_counter`` over one eager fp32
training step (both networks' forward and backward passes, penalties included); model FLOPs
utilisation (MFU) is FLOPs per step x steps/s over the device's dense bf16 peak, taken from
``--peak-tflops`` or :data:`PEAK_BF16_TFLOPS`. On a machine without CUDA it says so and
exits 0. ``bench/gpu_check.sh`` runs it with the CUDA tests and a 2-GPU torchrun run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from vgan_utils.profiles import PROFILES
from vgan_utils.train import CONFIGS, build_trainer

# Dense (no sparsity) bf16 tensor-core peaks in TFLOPS, from NVIDIA's data sheets; the
# sheets' headline figures "with sparsity" are twice these. Matched in this order against
# torch.cuda.get_device_name(), so the more specific names come first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4), ("A100", 312.0))
# (label, amp, channels_last, compile): off, each feature alone, all of them
VARIANTS: tuple[tuple[str, str, bool, bool], ...] = (
    ("fp32", "off", False, False), ("bf16", "bf16", False, False),
    ("channels-last", "off", True, False), ("compile", "off", False, True),
    ("bf16+cl+compile", "bf16", True, True))
MODELS = ("frames", "two_stream32", "content_motion32")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30, help="timed steps per model and variant")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--variants", nargs="+", default=[v[0] for v in VARIANTS],
                   choices=[v[0] for v in VARIANTS])
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the device's dense bf16 peak (default: from the table of known GPUs)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    return p.parse_args(argv)


def peak_tflops(device_name: str, override: float | None = None) -> float | None:
    """The bf16 peak to divide by: ``override``, else the table's entry, else None (no MFU)."""
    if override is not None:
        return override
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in device_name), None)


def model_run(model: str):
    """The named run at the ``gpu`` profile's sizes; frames per step (clips count each frame)."""
    prof = PROFILES["gpu"]
    if model == "frames":
        run = replace(CONFIGS[f"frames{prof.frame_size}"], batch_size=prof.frame_batch)
        return run, prof.frame_batch
    run = replace(CONFIGS[model], size=prof.clip_size, length=prof.clip_length,
                  batch_size=prof.clip_batch)
    return run, prof.clip_batch * prof.clip_length


def flops_per_step(run, device: torch.device) -> int:
    """FLOPs of one eager fp32 training step, counted by ``torch.utils.flop_counter``."""
    from torch.utils.flop_counter import FlopCounterMode

    trainer = build_trainer(run, device)
    trainer.train(1)  # Adam's state and any lazy set-up first
    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train(1)
    return counter.get_total_flops()


def time_variant(run, device: torch.device, variant: tuple[str, str, bool, bool],
                 steps: int, warmup: int) -> dict[str, float]:
    """Steps/s and peak memory of one variant (memory counted from a fresh trainer)."""
    _, amp, channels_last, compile_ = variant
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    trainer = build_trainer(run, device, amp=amp, channels_last=channels_last,
                            compile=compile_)
    trainer.train(warmup)
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    trainer.train(steps)
    torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"steps_per_s": steps / seconds,
            "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30}


def table(rows: list[dict[str, object]]) -> str:
    """The rows as one markdown table (MFU blank when the peak is unknown)."""
    lines = ["| model | variant | batch | steps/s | frames/s | peak GiB | GFLOP/step | MFU |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else ""
        lines.append(f"| {r['model']} | {r['variant']} | {r['batch']} | {r['steps_per_s']:.1f} "
                     f"| {r['frames_per_s']:.0f} | {r['peak_mem_gib']:.2f} "
                     f"| {r['gflop_per_step']:.1f} | {mfu} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device visible to PyTorch; nothing to measure here "
              "(run it on a machine with an NVIDIA GPU)")
        return 0
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    peak = peak_tflops(name, args.peak_tflops)
    print(f"{name}, torch {torch.__version__}, bf16 peak "
          f"{f'{peak:g} TFLOPS' if peak else 'unknown (pass --peak-tflops for MFU)'}")
    rows = []
    for model in args.models:
        run, frames = model_run(model)
        flops = flops_per_step(run, device)
        for variant in (v for v in VARIANTS if v[0] in args.variants):
            t = time_variant(run, device, variant, args.steps, args.warmup)
            rows.append({"model": run.name, "variant": variant[0], "batch": run.batch_size,
                         **t, "frames_per_s": t["steps_per_s"] * frames,
                         "gflop_per_step": flops / 1e9,
                         "mfu": flops * t["steps_per_s"] / (peak * 1e12) if peak else None})
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"device": name, "peak_tflops": peak, "rows": rows},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
