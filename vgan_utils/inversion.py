"""An encoder that inverts a frame generator: the analysis half of notebook 07's GAN codec.

A trained generator G maps a code z ~ N(0, I) to a frame. To compress a real frame x, an
encoder E finds a code with G(E(x)) close to x; the code, quantised to ``b`` bits per value
(:func:`vgan_utils.codec.quantise`), is all that is stored, and G decodes it. E is trained
as in the encoder of Zhu et al. 2016 ("Generative Visual Manipulation on the Natural Image
Manifold"): on G's own samples, where the true code is known (code loss + pixel loss), and on
real frames through the frozen G (pixel loss only). G stays fixed throughout.

Taught in ``notebooks/07_video_analysis.ipynb`` (section 3).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .codec import dequantise, quantise


class FrameEncoder(nn.Module):
    """Frames (N, C, size, size) -> codes (N, z_dim): stride-2 convolutions, then a linear map."""

    def __init__(self, z_dim: int = 100, size: int = 32, channels: int = 1, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        c, s = channels, size
        while s > 4:
            layers += [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, s, width = width, s // 2, width * 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * s * s, z_dim))
        self.z_dim = z_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def train_encoder(encoder: FrameEncoder, generator: nn.Module,
                  real_frames: Callable[[int], Tensor], steps: int, batch_size: int = 64,
                  lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Train ``encoder`` to invert the frozen ``generator``; returns the loss per step.

    Step i: codes z and G(z) (no gradient to G), real frames ``real_frames(i)``; the loss is
    ``|E(G(z)) - z|^2 + |G(E(G(z))) - G(z)|^2 + |G(E(x)) - x|^2`` (means).
    """
    generator.eval().requires_grad_(False)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for i in range(steps):
        z = torch.randn(batch_size, encoder.z_dim, generator=gen)
        with torch.no_grad():
            fake = generator(z)
        real = real_frames(i)
        z_hat = encoder(fake)
        loss = (F.mse_loss(z_hat, z) + F.mse_loss(generator(z_hat), fake)
                + F.mse_loss(generator(encoder(real)), real))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def gan_codec(encoder: FrameEncoder, generator: nn.Module, clips: Tensor, bits: int,
              batch_size: int = 256) -> tuple[Tensor, int]:
    """Clips (N, C, T, H, W) through the GAN codec at ``bits`` per code value.

    Every frame is encoded, quantised, dequantised and decoded by ``generator``. Returns the
    decoded clips and the exact number of bits stored: ``N * T * z_dim * bits`` (a
    fixed-length code; nothing else is sent, G and E being known to both sides).
    """
    n, c, t, h, w = clips.shape
    frames = clips.transpose(1, 2).reshape(n * t, c, h, w)
    out = []
    for chunk in frames.split(batch_size):
        code = quantise(encoder(chunk), bits)
        out.append(generator(dequantise(code, bits)))
    decoded = torch.cat(out).reshape(n, t, c, h, w).transpose(1, 2)
    return decoded, n * t * encoder.z_dim * bits
