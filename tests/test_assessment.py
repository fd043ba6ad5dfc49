"""Quality assessment sweep: three kinds of score per damaged set, rank correlations."""

from __future__ import annotations

import math

import pytest
import torch

from vgan_utils.assessment import SetScorer, distortion_sweep, psnr, rank_correlations
from vgan_utils.judge import load_judge
from vgan_utils.video_judge import load_video_judge
from vgan_utils.video_quality import real_clip_sets


@pytest.fixture(scope="module")
def sweep():
    try:
        vj, fj = load_video_judge(), load_judge(size=32)
    except FileNotFoundError:
        pytest.skip("no shipped judges")
    clean, a, b = real_clip_sets(6, length=8, sets=3)
    brightness = lambda clips: clips.flatten(1).mean(1)  # noqa: E731  a per-clip scorer
    scorer = SetScorer(vj, fj, a, b, {"brightness": brightness}, frames_per_clip=2)
    return distortion_sweep(clean, scorer, names=("blur", "shuffle"))


def test_psnr_is_the_formula():
    x = torch.zeros(1, 1, 2, 4, 4)
    y = x + 0.1
    assert psnr(y, x) == pytest.approx(10 * math.log10(4 / 0.01), rel=1e-5)


def test_sweep_has_every_level_and_kind_of_score(sweep):
    assert set(sweep) == {"blur", "shuffle"} and all(len(v) == 6 for v in sweep.values())
    level0 = sweep["blur"][0]
    assert level0["PSNR"] == float("inf") and level0["SSIM"] == pytest.approx(1.0)
    assert {"clip FD/floor", "precision", "recall", "brightness"} <= set(level0)
    assert level0["brightness/clips"].shape == (6,)


def test_rank_correlations(sweep):
    psnr_rho = rank_correlations(sweep, "PSNR")
    assert psnr_rho["blur"] == pytest.approx(-1.0)  # more blur, lower PSNR, level by level
    shuffled = rank_correlations(sweep, "brightness")  # reordering frames keeps brightness
    assert math.isnan(shuffled["shuffle"])
    per_clip = rank_correlations(sweep, "brightness", per_clip=True)
    assert -1 <= per_clip["blur"] <= 1
