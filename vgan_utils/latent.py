"""Looking inside a trained GAN: paths through its latent space and what one D unit sees.

* :func:`lerp` and :func:`slerp`: straight and spherical interpolation between two codes.
  In d dimensions a standard-normal code has norm close to sqrt(d), so the straight path's
  middle, of norm about sqrt(d / 2) for independent ends, is a code the generator almost never
  saw in training; the spherical path keeps the norm (White 2016, "Sampling Generative
  Networks").
* :func:`unit_activations` and :func:`top_frames`: one channel of one discriminator layer,
  averaged over positions, and the frames that excite it most (the method of Zeiler & Fergus
  2014, "Visualizing and Understanding Convolutional Networks"; for GANs, Bau et al. 2019,
  "GAN Dissection").

Taught in ``notebooks/08_why_gans_are_hard.ipynb``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """``(1 - t) z0 + t z1`` for each ``t`` in ``t`` (shape ``(S,)``): codes ``(S, d)``."""
    t = torch.as_tensor(t, dtype=z0.dtype).reshape(-1, 1)
    return (1 - t) * z0.reshape(1, -1) + t * z1.reshape(1, -1)


def slerp(z0: Tensor, z1: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation (Shoemake 1985), codes ``(S, d)``:

    ``sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1``, ``W`` the angle between the codes.
    Falls back to :func:`lerp` when the codes are (anti)parallel within ``eps``, where the
    formula divides by zero.
    """
    z0, z1 = z0.reshape(-1), z1.reshape(-1)
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < eps:
        return lerp(z0, z1, t)
    t = torch.as_tensor(t, dtype=z0.dtype).reshape(-1, 1)
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolation_grid(generator: nn.Module, pairs: Tensor, steps: int, mode: str = "slerp"
                       ) -> Tensor:
    """Frames along the path between each pair of codes: ``pairs (P, 2, d)`` -> ``(P*steps, ...)``.

    Row by row: pair 0 at t = 0, 1/(steps-1), ..., 1, then pair 1, and so on.
    """
    paths = {"lerp": lerp, "slerp": slerp}
    if mode not in paths:
        raise ValueError(f"mode must be 'lerp' or 'slerp', got {mode!r}")
    t = torch.linspace(0, 1, steps)
    codes = torch.cat([paths[mode](p[0], p[1], t) for p in pairs])
    with torch.no_grad():
        return generator(codes.to(next(generator.parameters()).device)).float().cpu()


@torch.no_grad()
def unit_activations(model: nn.Module, layer: nn.Module, frames: Tensor, batch_size: int = 256
                     ) -> Tensor:
    """Every channel of ``layer``'s output, averaged over positions: ``(N, channels)``.

    ``layer`` is a submodule of ``model``; ``model`` runs in eval mode (batch-norm running
    statistics), so a frame's activation does not depend on the rest of its batch.
    """
    if not any(m is layer for m in model.modules()):
        raise ValueError("layer must be a submodule of model (e.g. model.net[2])")
    store: list[Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, out: store.append(out.flatten(2).mean(2)))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        for chunk in frames.split(batch_size):
            model(chunk.to(device))
    finally:
        hook.remove()
        model.train(was_training)
    return torch.cat(store).float().cpu()


def top_frames(activations: Tensor, k: int = 16) -> Tensor:
    """Indices of the ``k`` frames with the highest activation, highest first: ``(k,)``."""
    if activations.dim() != 1 or k > activations.numel():
        raise ValueError(f"need one activation per frame (N,) with N >= k={k}, got "
                         f"{tuple(activations.shape)}")
    return activations.topk(k).indices


def frame_descriptors(frames: Tensor) -> dict[str, Tensor]:
    """Simple per-frame facts to correlate a unit with: ink (mean brightness in [0, 1]) and the
    ink's centre (x, y in [0, 1]), from frames ``(N, 1, H, W)`` in ``[-1, 1]``."""
    ink = (frames[:, 0] + 1) / 2  # (N, H, W), 0 = black
    h, w = ink.shape[1:]
    total = ink.sum((1, 2)).clamp_min(1e-8)
    xs, ys = torch.linspace(0, 1, w), torch.linspace(0, 1, h)
    return {"ink": ink.mean((1, 2)),
            "x": (ink.sum(1) * xs).sum(1) / total,
            "y": (ink.sum(2) * ys).sum(1) / total}
