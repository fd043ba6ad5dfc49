"""Notebook 08's cost measurements: the hand FLOP count against PyTorch's, step costs, fits."""

import pytest
import torch
from torch import nn

from vgan_utils.compute import (
    conv_flops,
    count_flops,
    fit_exponent,
    interleaved_step_times,
    networks,
    sampling_rate,
    step_cost,
)


@pytest.mark.parametrize("layer, shape", [
    (nn.Conv2d(3, 8, 4, 2, 1), (2, 3, 16, 16)),
    (nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), (2, 8, 5, 5)),
    (nn.Conv3d(1, 4, (3, 4, 4), (1, 2, 2), 1), (1, 1, 5, 8, 8)),
    (nn.ConvTranspose3d(8, 4, 4, 2, 1), (2, 8, 3, 4, 4)),
    (nn.Conv2d(4, 4, 3, groups=2), (1, 4, 6, 6)),
])
def test_hand_count_matches_flop_counter(layer, shape):
    assert conv_flops(layer, shape) == count_flops(layer, torch.zeros(shape))


def test_conv_flops_rejects_other_layers():
    with pytest.raises(TypeError, match="convolutions"):
        conv_flops(nn.Linear(2, 2), (1, 2))


def test_fit_exponent_recovers_a_power_law():
    x = [1, 2, 4, 8]
    assert fit_exponent(x, [3 * v**1.5 for v in x]) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        fit_exponent([1], [1])


def test_step_cost_of_a_small_clip_gan():
    row = step_cost("clips", size=16, length=4, batch=2, warmup=1, min_steps=1, min_seconds=0)
    g, d = networks("clips", 16, 4)
    assert row["params_g"] == sum(p.numel() for p in g.parameters())
    assert row["params_d"] == sum(p.numel() for p in d.parameters())
    assert row["flops_step"] > 0 and row["s_per_step"] > 0 and row["batch"] == 2
    with pytest.raises(ValueError, match="kind"):
        networks("audio")


def test_sampling_rate_falls_with_evaluations():
    g, _ = networks("frames", 32)
    one, ten = sampling_rate(g, 8, 1, repeats=2), sampling_rate(g, 8, 10, repeats=2)
    assert one > 2 * ten > 0


def test_interleaved_step_times_of_two_tiny_recipes():
    tiny = "frames32,batch_size=4,width=8,d_width=4"
    times = interleaved_step_times([tiny, tiny + ",ema_decay=0.9"], steps=1, rounds=2, warmup=0)
    assert list(times) == [tiny, tiny + ",ema_decay=0.9"] and all(s > 0 for s in times.values())
    with pytest.raises(ValueError, match="rounds"):
        interleaved_step_times([tiny], rounds=0)


def test_bench_compute_exponents_of_made_up_rows():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "compute.py"
    spec = importlib.util.spec_from_file_location("bench_compute", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [{"kind": "clips", "size": s, "length": t, "flops_step": t * s * s,
             "s_per_step": 0.1 * t, "peak_rise_mb": 10.0 * t} for s in (32, 64) for t in (8, 16)]
    fits = bench.exponents(rows)
    assert fits["flops_step ~ length^a, 32px"] == pytest.approx(1.0)
    assert fits["flops_step ~ pixels^a, clips T=8"] == pytest.approx(1.0)
