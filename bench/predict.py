"""The shipped frame predictors on the real Moving MNIST test file, with OpenSTL's definitions.

    .venv/bin/python bench/predict.py                     # data/mnist_test_seq.npy, all clips
    .venv/bin/python bench/predict.py --file mm.npy --n 1000 --json bench/results/predict.json

The file is the standard ``mnist_test_seq.npy`` (uint8, time first: (20, 10000, 64, 64));
nothing downloads, and without the file the script says so and exits. Frames are
area-downsampled to the predictors' 32x32. Per step: MSE summed over a frame's pixels in
[0, 1] (OpenSTL, Tan et al. 2023), PSNR and SSIM from torchmetrics, sharpness
(:mod:`vgan_utils.prediction_metrics`), beside the copy-last and linear-extrapolation
baselines. OpenSTL's published 64x64 figures are not comparable with these 32x32 ones (a
frame's MSE sums a quarter of the pixels); notebook 06 says why in full.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vgan_utils import prediction as pr
from vgan_utils import prediction_metrics as pm

ROOT = Path(__file__).resolve().parent.parent
PREDICTORS = {"MSE only": "data/predictor_mse32.pt", "adversarial": "data/predictor_gan32.pt"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--file", type=Path, default=ROOT / "data" / "mnist_test_seq.npy")
    p.add_argument("--n", type=int, default=None, help="first N test clips (default: all)")
    p.add_argument("--predictor", action="append", default=None, metavar="NAME=PATH",
                   help="a predictor to measure (repeatable; default: the two shipped ones)")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.file.exists():
        print(f"{args.file} not found: put Moving MNIST's test file there (nothing downloads)")
        return 1
    paths = dict(s.split("=", 1) for s in args.predictor) if args.predictor else {
        k: ROOT / v for k, v in PREDICTORS.items()}
    nets = {name: pr.load_predictor(path) for name, path in paths.items()}
    size = next(iter(nets.values())).size
    clips = pr.clips_from_npy(args.file, size=size, n=args.n)
    models = {"copy last": lambda x: pm.copy_last(x, pr.FUTURE),
              "linear extrapolation": lambda x: pm.linear_extrapolation(x, pr.FUTURE), **nets}
    _, table = pm.evaluate(models, clips)
    print(f"{args.file.name}: {len(clips)} clips at {size}x{size}")
    for metric in ("mse", "psnr", "ssim", "sharpness"):
        print(pm.format_step_table(table, metric), "\n")
    if args.json is not None:
        args.json.write_text(json.dumps({"file": args.file.name, "n": len(clips), "size": size,
                                         "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
