"""The failure-mode read-outs of notebook 08 on hand-made curves, and one tiny judged run."""

import numpy as np
import pytest

from vgan_utils.failures import (
    FAILURES,
    collapse_drop,
    judged_run,
    overpowering,
    swing,
    windowed_mean,
)
from vgan_utils.train import parse_recipe


def test_collapse_drop_is_best_minus_last():
    assert collapse_drop([0.1, 0.4, 0.2]) == pytest.approx(0.2)
    assert collapse_drop([0.1, 0.2, 0.3]) == 0.0  # still rising: no collapse
    with pytest.raises(ValueError):
        collapse_drop([])


def test_swing_ignores_step_noise_and_sees_slow_swings():
    noise = np.tile([1.0, -1.0], 50)  # fast noise around 0: every window's mean is 0
    assert swing(noise, 10) == pytest.approx(0.0)
    slow = np.repeat([0.0, 2.0, 0.0, 2.0], 10)  # back and forth over windows of 10 steps
    assert swing(slow, 10) == pytest.approx(1.0)


def test_windowed_mean():
    assert windowed_mean(np.arange(7.0), 3).tolist() == [1.0, 4.0]
    with pytest.raises(ValueError):
        windowed_mean(np.arange(2.0), 3)


def test_failure_recipes_parse():
    for recipe, why in FAILURES.values():
        assert parse_recipe(recipe).size == 32 and why


class _Judge:
    class config:  # noqa: N801 (stands in for JudgeConfig)
        size = 32


class _Tracker:
    """Stands in for QualityTracker: scores a generator by its step count, no judge needed."""

    judge = _Judge()

    def __init__(self):
        self.calls = 0

    def measure(self, generator):
        self.calls += 1
        return {"fd_over_floor": 10.0 / self.calls, "recall": 0.1 * self.calls}


def test_judged_run_evaluates_at_start_and_every_k_steps():
    trace = judged_run("frames32,batch_size=4,width=8,d_width=4", steps=5, eval_every=2,
                       tracker=_Tracker())
    assert trace.eval_steps == [0, 2, 4, 5]
    assert trace.curve("recall").tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert trace.history("loss_d").shape == (5,)
    out = overpowering(trace, window=2)
    assert 0 <= out["d_fake"] <= 1 and 0 <= out["d_real"] <= 1 and out["grad_g_ratio"] > 0
    assert 0 < out["grad_g_low"] <= 1 + 1e-9
    with pytest.raises(ValueError, match="at least"):
        overpowering(trace, window=3)


def test_judged_run_rejects_a_size_mismatch():
    class Other(_Tracker):
        class judge:  # noqa: N801
            class config:  # noqa: N801
                size = 64

    with pytest.raises(ValueError, match="judges 64x64"):
        judged_run("frames32", 2, 1, Other())


def test_judged_run_can_start_from_the_shipped_generator():
    from pathlib import Path

    import torch

    from vgan_utils.train import load_generator

    shipped = Path(__file__).resolve().parent.parent / "data" / "frames32.pt"
    if not shipped.exists():
        pytest.skip("no shipped frame generator")
    trace = judged_run("frames32,batch_size=4", steps=1, eval_every=1, tracker=_Tracker(),
                       start=shipped)
    weights = dict(load_generator(shipped).named_parameters())
    moved = dict(trace.trainer.generator.named_parameters())  # one Adam step of 1e-3 later
    assert all(torch.allclose(weights[k], moved[k], atol=2e-3) for k in weights)
    narrow = judged_run("frames32,width=8", steps=1, eval_every=1, tracker=_Tracker(),
                        start=shipped)  # G's shape is the file's, D's the recipe's
    assert narrow.trainer.generator.width == load_generator(shipped).width
    assert narrow.trainer.discriminator.width == parse_recipe("frames32").d_width
    with pytest.raises(ValueError, match="draws"):
        judged_run("frames32,size=16", steps=1, eval_every=1, tracker=_Tracker(), start=shipped)
