"""Notebook 06's adversarial weight: ``gan32`` trained for the same minutes at several lambda_adv.

    ../shared/tools/heavy .venv/bin/python bench/adv_weight.py --minutes 5 0.05 0.2

Each run starts from ``data/predictor_mse32.pt`` (as ``gan32`` does), trains on 2 threads for
``--minutes`` of wall time, one after the other, and is judged on held-out clips: sharpness
(gradient energy over real's) at steps 1, 5 and 10, the mean OpenSTL MSE, and the frame judge's
FD / floor at step 10. The figures that chose ``gan32``'s weight are in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from vgan_utils import prediction as pr
from vgan_utils import prediction_metrics as pm
from vgan_utils.judge import load_judge
from vgan_utils.training import GANTrainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("adv", type=float, nargs="+", help="lambda_adv values to train, in order")
    p.add_argument("--minutes", type=float, default=5.0, help="training time of each run")
    p.add_argument("--n", type=int, default=500, help="held-out clips judged")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def train_for(adv: float, seconds: float) -> GANTrainer:
    """``gan32`` with ``lambda_adv = adv``, trained for ``seconds`` of wall time."""
    base = pr.RECIPES["gan32"]
    trainer = pr.build_trainer(replace(base, weights=replace(base.weights, adv=adv)))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer.train(50)
    return trainer


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    held, other = pr.held_out_clips(args.n), pr.held_out_clips(args.n, start=args.n)
    judge = load_judge(size=32)
    for adv in args.adv:
        trainer = train_for(adv, 60 * args.minutes)
        preds, table = pm.evaluate({"gan32": trainer.generator.net.eval()}, held)
        sharp, mse = table["gan32"]["sharpness"], table["gan32"]["mse"]
        fd = pm.judge_at_step(judge, preds["gan32"], held[:, :, 10:], other[:, :, 10:], 10)
        print(f"lambda_adv {adv}: {trainer.step} steps | sharpness step 1 {sharp[0]:.2f}, "
              f"5 {sharp[4]:.2f}, 10 {sharp[9]:.2f} | mean MSE {sum(mse) / len(mse):.1f} | "
              f"FD / floor at step 10 {fd['fd_over_floor']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
