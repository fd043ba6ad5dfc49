"""The GAN codec's encoder: it learns to invert a tiny generator; bits are counted exactly."""

from __future__ import annotations

import torch
from torch import nn

from vgan_utils.inversion import FrameEncoder, gan_codec, train_encoder


def tiny_generator(z_dim: int = 4) -> nn.Module:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(z_dim, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    return g.eval()


def test_encoder_learns_to_invert_and_the_codec_counts_bits():
    g = tiny_generator()
    torch.manual_seed(1)
    e = FrameEncoder(z_dim=4, size=8, width=4)
    real = lambda i: g(torch.randn(16, 4, generator=torch.Generator().manual_seed(i)))  # noqa
    losses = train_encoder(e, g, lambda i: real(i).detach(), steps=150, batch_size=16)
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])
    assert all(not p.requires_grad for p in g.parameters())
    clips = real(999).detach().reshape(2, 8, 1, 8, 8).transpose(1, 2)  # (2, 1, 8, 8, 8)
    decoded, bits = gan_codec(e, g, clips, bits=3)
    assert decoded.shape == clips.shape and bits == 2 * 8 * 4 * 3
    coarse = (gan_codec(e, g, clips, bits=1)[0] - clips).pow(2).mean()
    fine = (gan_codec(e, g, clips, bits=8)[0] - clips).pow(2).mean()
    assert fine < coarse
