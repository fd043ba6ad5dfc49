"""Tiny GANs shared by the engine, checkpoint, dashboard and CLI tests (fast on 2 cores)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from vgan_utils.training import GANTrainer, TrainConfig

Z_DIM = 4


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """One intra-op thread: tiny models on 2 busy cores run several times faster so."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def toy_batch(i: int, n: int = 32) -> Tensor:
    """The i-th batch of a 2-D Gaussian at (2, -1): deterministic in i."""
    g = torch.Generator().manual_seed(1000 + i)
    return torch.randn(n, 2, generator=g) * 0.5 + torch.tensor([2.0, -1.0])


def toy_z(n: int, gen: torch.Generator) -> Tensor:
    return torch.randn(n, Z_DIM, generator=gen)


def toy_nets(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Linear(Z_DIM, 16), nn.ReLU(), nn.Linear(16, 2))
    d = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return g, d


def toy_trainer(config: TrainConfig | None = None, seed: int = 0, batch_fn=toy_batch,
                **kw) -> GANTrainer:
    g, d = toy_nets(seed)
    return GANTrainer(g, d, batch_fn, toy_z, config or TrainConfig(), "cpu", seed=seed, **kw)


def conv_batch(i: int, n: int = 4) -> Tensor:
    """The i-th batch of 8x8 RGB 'frames' in [-1, 1]."""
    g = torch.Generator().manual_seed(2000 + i)
    return torch.rand(n, 3, 8, 8, generator=g) * 2 - 1


def conv_nets(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """A DCGAN in miniature (with BatchNorm, so EMA and checkpoints carry buffers)."""
    torch.manual_seed(seed)
    g = nn.Sequential(nn.Unflatten(1, (Z_DIM, 1, 1)), nn.ConvTranspose2d(Z_DIM, 8, 4, 1, 0),
                      nn.BatchNorm2d(8), nn.ReLU(), nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 1, 0),
                      nn.Flatten())
    return g, d


def conv_trainer(config: TrainConfig | None = None, seed: int = 0) -> GANTrainer:
    g, d = conv_nets(seed)
    return GANTrainer(g, d, conv_batch, toy_z, config or TrainConfig(), "cpu", seed=seed,
                      n_fixed=8)


def weights(trainer: GANTrainer) -> list[Tensor]:
    """Every parameter and buffer of both networks, for exact comparisons."""
    nets = (trainer.generator, trainer.discriminator)
    return [t.detach().clone() for n in nets for t in (*n.parameters(), *n.buffers())]
