"""What a GAN costs to train and to sample: parameters, FLOPs, seconds and memory per step.

* FLOPs are counted by PyTorch's own :class:`torch.utils.flop_counter.FlopCounterMode` over one
  whole training step of the course's engine (D's update: G forward, D forward on real and
  fake, backward; G's update: G and D forward, backward); :func:`conv_flops` is the hand count
  for one convolution it is checked against: ``2 N C_in C_out prod(k) prod(out)`` for a
  convolution, with the *input's* spatial size for a transposed one (each input pixel spreads a
  kernel), one multiply and one add per kernel tap (bias and padding not treated apart).
* Seconds per step are timed on the engine after warm-up steps, on data made once (the cost of
  drawing moving digits is not the GAN's).
* Memory is the rise of the process's peak resident memory over a few training steps, so
  :func:`step_cost` is run in a fresh process (``bench/compute.py``) where nothing ran before.
* :func:`interleaved_step_times`: seconds per step of several recipes timed in alternating
  rounds, so that a machine whose speed drifts slows them all alike; what each remedy of
  notebook 08's race costs per step.
* :func:`fit_exponent`: ``cost ~ x**a`` by least squares on logs; how cost grows with clip
  length and resolution.
* :func:`sampling_rate`: samples per second of a generator (one network evaluation per
  sample) against a loop of ``k`` evaluations of the same network per sample, the cost of a
  ``k``-step diffusion sampler of the same size (Ho et al. 2022, "Video Diffusion Models").

Models: the frame GAN of ``frames32`` at 32 or 64 pixels, and notebook 05's clip DCGAN
(``clip_dcgan``: 3-D transposed convolutions against a 3-D convolutional D) at any clip length
and size. Taught in ``notebooks/08_why_gans_are_hard.ipynb``; ``bench/compute.py`` measures the
table.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import replace

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .clip_recipes import build_clip_networks
from .frame_nets import FrameDiscriminator, count_parameters
from .train import CONFIGS, build_generator, build_trainer, parse_recipe
from .training import GANTrainer

KINDS = ("frames", "clips")


def conv_flops(layer: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Hand count of a Conv{1,2,3}d or ConvTranspose{1,2,3}d forward: a multiply and an add per tap.

    ``2 * N * C_in/groups * C_out * prod(kernel) * prod(spatial)``, where ``spatial`` is the
    output's for a convolution and the input's for a transposed convolution.
    """
    if not isinstance(layer, nn.modules.conv._ConvNd):
        raise TypeError(f"conv_flops counts convolutions, got {type(layer).__name__}")
    with torch.no_grad():
        out_shape = layer(torch.zeros(in_shape)).shape
    spatial = in_shape[2:] if layer.transposed else tuple(out_shape[2:])
    c_in = layer.in_channels // layer.groups
    return 2 * in_shape[0] * c_in * layer.out_channels * math.prod(layer.kernel_size) * \
        math.prod(spatial)


def count_flops(fn, *args, **kwargs) -> int:
    """FLOPs PyTorch counts while ``fn(*args, **kwargs)`` runs (forward and any backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn(*args, **kwargs)
    return counter.get_total_flops()


def networks(kind: str, size: int = 32, length: int = 16) -> tuple[nn.Module, nn.Module]:
    """Fresh ``(generator, discriminator)``: ``frames32``'s nets at ``size`` or ``clip_dcgan``'s
    at ``length`` x ``size`` x ``size`` (seeded, so counts and timings repeat)."""
    torch.manual_seed(0)
    if kind == "frames":
        run = replace(CONFIGS["frames32"], size=size)
        return build_generator(run), FrameDiscriminator(size, run.channels, run.d_width,
                                                        run.spectral_norm, run.d_norm)
    if kind == "clips":
        g, d, _ = build_clip_networks(replace(CONFIGS["clip_dcgan"], size=size, length=length))
        return g, d
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def make_trainer(kind: str, size: int = 32, length: int = 16, batch: int | None = None
                 ) -> GANTrainer:
    """The engine over :func:`networks`, fed one batch of noise in [-1, 1] made once.

    ``batch`` defaults to the recipe's (32 frames for ``frames32``, 16 clips for
    ``clip_dcgan``).
    """
    recipe = CONFIGS["frames32" if kind == "frames" else "clip_dcgan"]
    g, d = networks(kind, size, length)
    n = batch or recipe.batch_size
    shape = (n, 1, size, size) if kind == "frames" else (n, 1, length, size, size)
    data = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return GANTrainer(g, d, lambda i: data, lambda k, gen: torch.randn(k, g.z_dim, generator=gen),
                      recipe.train)


def _rss_mb() -> float:
    """The process's resident memory now, in MiB (Linux /proc; 0 where it is unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def step_cost(kind: str, size: int = 32, length: int = 16, batch: int | None = None,
              warmup: int = 2, min_steps: int = 3, min_seconds: float = 2.0) -> dict:
    """Parameters, FLOPs, seconds and memory of one training step of the engine.

    ``s_per_step`` is the mean over at least ``min_steps`` steps and ``min_seconds`` seconds,
    after ``warmup`` steps; ``peak_rise_mb`` is how far the peak resident memory rose above
    the memory held before the first step (meaningful in a fresh process only).
    """
    trainer = make_trainer(kind, size, length, batch)
    rss0 = _rss_mb()
    trainer.train(warmup)
    flops = count_flops(trainer.train, 1)
    steps, t0 = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - t0 < min_seconds:
        trainer.train(1)
        steps += 1
    seconds = (time.perf_counter() - t0) / steps
    return {"kind": kind, "size": size, "length": length if kind == "clips" else 1,
            "batch": trainer.batch_fn(0).shape[0],
            "params_g": count_parameters(trainer.generator),
            "params_d": count_parameters(trainer.discriminator),
            "flops_step": flops, "s_per_step": seconds,
            "peak_rise_mb": max(0.0, _peak_rss_mb() - rss0), "threads": torch.get_num_threads()}


def interleaved_step_times(specs: list[str], steps: int = 20, rounds: int = 5,
                           warmup: int = 3) -> dict[str, float]:
    """Median seconds per training step of each recipe (``"NAME,field=value"``, as in
    :func:`vgan_utils.train.parse_recipe`), timed ``steps`` steps at a time in ``rounds`` rounds;
    the order of the recipes turns by one each round. Moving-digit data drawn as in training."""
    if steps < 1 or rounds < 1:
        raise ValueError(f"steps and rounds must be >= 1, got {steps} and {rounds}")
    trainers = {spec: build_trainer(parse_recipe(spec)) for spec in specs}
    for trainer in trainers.values():
        trainer.train(warmup)
    times: dict[str, list[float]] = {spec: [] for spec in specs}
    for r in range(rounds):
        for spec in specs[r % len(specs):] + specs[:r % len(specs)]:
            t0 = time.perf_counter()
            trainers[spec].train(steps)
            times[spec].append((time.perf_counter() - t0) / steps)
    return {spec: float(np.median(t)) for spec, t in times.items()}


def fit_exponent(x, y) -> float:
    """``a`` in ``y ~ c * x**a``: the least-squares slope of log y against log x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or x.size != y.size or (x <= 0).any() or (y <= 0).any():
        raise ValueError("fit_exponent needs two or more positive (x, y) pairs of equal length")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


@torch.no_grad()
def sampling_rate(generator: nn.Module, n: int = 64, evaluations: int = 1,
                  repeats: int = 3) -> float:
    """Samples per second when each sample costs ``evaluations`` passes of ``generator``.

    ``evaluations=1`` is a GAN's one-step sampling; ``evaluations=50`` the network cost of a
    50-step iterative sampler of the same size (each pass's output is blended into the next
    pass's state, so no pass can be skipped). Best of ``repeats`` timings.
    """
    if evaluations < 1 or n < 1:
        raise ValueError(f"n and evaluations must be >= 1, got {n} and {evaluations}")
    generator.eval()
    z = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(0))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        x = generator(z)
        for k in range(1, evaluations):
            x = x + (generator(z + 0.01 * k) - x) / (k + 1)
        best = min(best, time.perf_counter() - t0)
    return n / best
