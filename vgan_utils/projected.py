"""A discriminator that looks through a frozen encoder: Projected GAN at 32x32.

Sauer et al. 2021 ("Projected GANs converge faster") let D judge images through the
features of a frozen pretrained network, so D need not learn what a stroke or an edge is
before it can say which strokes are wrong; they report the same FID in a fraction of the
steps. Their feature network was trained on ImageNet, a download the course avoids, and a
network trained to name our digits would share the judge's task (and could lower FD by
matching the judge rather than the frames; Kynkäänniemi et al. 2023). So the encoder here
is the first half of an autoencoder trained on the GAN's own real frames, without labels
(:func:`fit_feature_encoder`, ``python -m vgan_utils.projected``, about a minute). Not
:class:`vgan_utils.inversion.FrameEncoder`, which maps frames to a generator's latent codes.

:class:`ProjectedDiscriminator` keeps a pixel discriminator (the run's own) and adds one
small head per encoder level (16x16, 8x8, 4x4 for 32x32 frames); it returns every head's
logit for every frame, stacked ``(heads * N,)``, so the engine's losses average over
heads as Projected GAN sums one loss per discriminator.

Raced against ``frames32`` in ``bench/README.md``, where it lost: the encoder and its heads
halve the steps per second, and per step it did no better. Named in notebook 04's list of what
did not win; kept so that the race can be repeated (``d_encoder`` in a recipe).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .frame_nets import FrameDiscriminator, dcgan_init_

ENCODER_WIDTH = 32


class FeatureEncoder(nn.Module):
    """Frames ``(N, C, size, size)`` -> features at size/2, size/4, ..., 4x4 (a list)."""

    def __init__(self, size: int = 32, channels: int = 1, width: int = ENCODER_WIDTH):
        super().__init__()
        self.size, self.channels, self.width = size, channels, width
        levels, c_in, s = [], channels, size
        while s > 4:
            c_out = width * 2 ** len(levels)
            levels.append(nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1),
                                        nn.LeakyReLU(0.2, inplace=True)))
            c_in, s = c_out, s // 2
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        return features


class FeatureDecoder(nn.Module):
    """The encoder's 4x4 features back to ink logits ``(N, C, size, size)`` (training only)."""

    def __init__(self, encoder: FeatureEncoder):
        super().__init__()
        layers: list[nn.Module] = []
        n = len(encoder.levels)
        for i in reversed(range(n)):
            c_in = encoder.width * 2 ** i
            c_out = encoder.channels if i == 0 else encoder.width * 2 ** (i - 1)
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1))
            if i:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.net = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


def fit_feature_encoder(batch_fn, size: int = 32, channels: int = 1, steps: int = 2000,
                  lr: float = 1e-3, seed: int = 0) -> tuple[FeatureEncoder, list[float]]:
    """An autoencoder fitted to real frames ``batch_fn(i)`` in [-1, 1]; returns its encoder.

    The decoder predicts each pixel's ink ``(x + 1) / 2`` as a Bernoulli logit (cross-entropy,
    sharper than MSE on near-binary strokes) from the 4x4 code alone, so the deepest level
    must hold which strokes a frame has and where. Returns the frozen encoder (eval mode)
    and the loss per step.
    """
    with torch.random.fork_rng(devices=[]):  # seeds the weights without touching the caller's RNG
        torch.manual_seed(seed)
        encoder = FeatureEncoder(size, channels)
        decoder = FeatureDecoder(encoder)
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    losses = []
    for i in range(steps):
        x = batch_fn(i)
        logits = decoder(encoder(x)[-1])
        loss = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return encoder.eval().requires_grad_(False), losses


def save_encoder(encoder: FeatureEncoder, path: str | Path, **meta) -> Path:
    """Write the encoder's weights and shape (atomically) for :func:`load_encoder`."""
    state = {"size": encoder.size, "channels": encoder.channels, "width": encoder.width,
             "encoder": encoder.state_dict(), **meta}
    return save_checkpoint(state, path)


def load_encoder(path: str | Path) -> FeatureEncoder:
    """A frozen :class:`FeatureEncoder` from :func:`save_encoder`'s file."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no encoder at {path}: make one with "
                                "`python -m vgan_utils.projected --out {path}`")
    state = load_checkpoint(path)
    encoder = FeatureEncoder(state["size"], state["channels"], state["width"])
    encoder.load_state_dict(state["encoder"])
    return encoder.eval().requires_grad_(False)


def _head(c_in: int, width: int, size: int) -> nn.Sequential:
    """Features ``(N, c_in, size, size)`` -> one logit per frame, halving to 4x4 first."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, width, 1), nn.LeakyReLU(0.2, inplace=True)]
    c = width
    while size > 4:
        layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2),
                   nn.LeakyReLU(0.2, inplace=True)]
        c, size = c * 2, size // 2
    layers.append(nn.Conv2d(c, 1, 4, 1, 0))
    return nn.Sequential(*layers)


class ProjectedDiscriminator(nn.Module):
    """A pixel discriminator plus one head per level of a frozen :class:`FeatureEncoder`.

    Returns ``(1 + levels) * N`` logits: the pixel D's for the N frames, then each head's.
    The encoder stays frozen and in eval mode whatever mode the module is put in.
    """

    def __init__(self, pixel: FrameDiscriminator, encoder: FeatureEncoder, width: int):
        super().__init__()
        if (encoder.size, encoder.channels) != (pixel.size, pixel.channels):
            raise ValueError(f"the encoder sees {encoder.channels}x{encoder.size}x"
                             f"{encoder.size} frames, the discriminator {pixel.channels}x"
                             f"{pixel.size}x{pixel.size}: train an encoder for this size")
        self.pixel, self.encoder = pixel, encoder.eval().requires_grad_(False)
        self.size, self.channels = pixel.size, pixel.channels
        heads, s = [], encoder.size
        for i in range(len(encoder.levels)):
            s //= 2
            heads.append(_head(encoder.width * 2 ** i, width, s))
        self.heads = nn.ModuleList(heads)
        dcgan_init_(self.heads)

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = [self.pixel(x)]
        for head, feature in zip(self.heads, self.encoder(x), strict=True):
            logits.append(head(feature).flatten())
        return torch.cat(logits)


def main(argv: list[str] | None = None) -> int:
    """Train the encoder on a frame run's real frames and write it."""
    from .train import batch_fn_for, parse_recipe

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="frames32", help="whose real frames (a frame run)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="data/encoder32.pt")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    run = parse_recipe(args.config)
    t0 = time.time()
    encoder, losses = fit_feature_encoder(batch_fn_for(run), run.size, run.channels, args.steps)
    seconds = time.time() - t0
    final = sum(losses[-100:]) / len(losses[-100:])
    save_encoder(encoder, args.out, steps=args.steps, seconds=seconds, config=args.config,
                 final_loss=final)
    print(f"{args.out}: {args.steps} steps in {seconds:.0f} s, cross-entropy "
          f"{losses[0]:.3f} -> {final:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
