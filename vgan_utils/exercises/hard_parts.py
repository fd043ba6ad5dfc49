"""Exercise checks of notebook 08 (why GANs are hard, and what helps).

The reference is computed from the definition: PyTorch's own FLOP count of the layer
(:func:`vgan_utils.compute.count_flops`), which :func:`vgan_utils.compute.conv_flops` matches.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .core import _check_number, _exercise, _verdict


@_exercise("08.3")
def check_first_conv_flops(flops: Any, layer: nn.Conv2d, batch: int = 32, size: int = 32
                           ) -> bool:
    """Notebook 08, exercise 3: FLOPs of D's first convolution on ``batch`` frames of
    ``size`` x ``size`` (one multiply and one add per kernel tap per output position)."""
    from ..compute import count_flops

    if not isinstance(layer, nn.Conv2d):
        raise TypeError(f"layer must be the discriminator's first nn.Conv2d, got {layer!r}")
    shape = (batch, layer.in_channels, size, size)
    want = count_flops(layer, torch.zeros(shape))
    stride = layer.stride[0] * layer.stride[1]  # input positions per output position
    slips = {0.5: "that counts multiply-adds: a FLOP is one multiply or one add",
             1 / batch: "that is one frame's count: multiply by the batch",
             float(stride): "that counts input positions: a strided convolution computes "
                            "one output per stride step"}
    part = _check_number("08.3", "FLOPs", flops, want, slips, rel_tol=1e-6)
    return _verdict("08.3", [part], f"{want:,}: 2 x N x C_in x C_out x k x k x output positions,"
                    f" as FlopCounterMode counts it")


@_exercise("08.1")
def check_minibatch_std(spread_copies: Any, spread_real: Any, frames: torch.Tensor) -> bool:
    """Notebook 08, exercise 1: the minibatch standard-deviation feature (Karras et al. 2018:
    the mean over pixels of the batch's standard deviation, biased) for ``frames`` (N, C, H, W)
    and for N copies of its first frame. :class:`vgan_utils.frame_nets.MinibatchStd` is the
    reference."""
    from ..frame_nets import MinibatchStd

    if frames.dim() != 4 or frames.shape[0] < 2:
        raise ValueError(f"frames must be (N >= 2, C, H, W), got {tuple(frames.shape)}")
    layer = MinibatchStd()
    copies = frames[:1].expand_as(frames)
    refs = [float(layer(f)[0, -1, 0, 0]) for f in (copies, frames)]
    n = frames.shape[0]
    unbiased = {((n / (n - 1)) ** 0.5): "that is the unbiased std (n - 1): the feature uses n"}
    parts = [_check_number("08.1", "copies", spread_copies, refs[0], abs_tol=1e-6),
             _check_number("08.1", "real", spread_real, refs[1], unbiased, rel_tol=1e-4)]
    return _verdict("08.1", parts, f"{refs[0]:.3g} for copies against {refs[1]:.3f} for real "
                    "frames: one number that tells D a batch has collapsed")


@_exercise("08.2")
def check_g_logit_gradients(grad_nonsaturating: Any, grad_minimax: Any, d_fake: float) -> bool:
    """Notebook 08, exercise 2: the gradient of G's loss with respect to D's logit ``l`` where
    ``D(G(z)) = sigmoid(l) = d_fake``: ``-(1 - d_fake)`` for ``-log D(G(z))`` (non-saturating),
    ``-d_fake`` for ``log(1 - D(G(z)))`` (minimax). Reference: autograd."""
    if not 0 < d_fake < 1:
        raise ValueError(f"d_fake must be in (0, 1), got {d_fake}")
    grads = []
    for loss in (lambda l: -F.logsigmoid(l), lambda l: -F.softplus(l)):  # noqa: E741
        logit = torch.logit(torch.tensor(d_fake, dtype=torch.float64)).requires_grad_(True)
        loss(logit).backward()
        grads.append(float(logit.grad))
    ns, mm = grads
    parts = [_check_number("08.2", "non-saturating", grad_nonsaturating, ns,
                           {mm / ns: "that is the minimax loss's gradient"}, rel_tol=1e-4),
             _check_number("08.2", "minimax", grad_minimax, mm,
                           {ns / mm: "that is the non-saturating loss's gradient"},
                           rel_tol=1e-4)]
    return _verdict("08.2", parts, f"{ns:.3f} against {mm:.3f}: where D wins, the minimax loss "
                    f"gives G {abs(ns / mm):.0f}x less gradient")
