"""Exercise checks of notebook 08 (why GANs are hard, and what helps).

The reference is computed from the definition: PyTorch's own FLOP count of the layer
(:func:`vgan_utils.compute.count_flops`), which :func:`vgan_utils.compute.conv_flops` matches.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .core import _check_number, _exercise, _verdict


@_exercise("08.4")
def check_first_conv_flops(flops: Any, layer: nn.Conv2d, batch: int = 32, size: int = 32
                           ) -> bool:
    """Notebook 08, exercise 4: FLOPs of D's first convolution on ``batch`` frames of
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
    part = _check_number("08.4", "FLOPs", flops, want, slips, rel_tol=1e-6)
    return _verdict("08.4", [part], f"{want:,}: 2 x N x C_in x C_out x k x k x output positions,"
                    f" as FlopCounterMode counts it")
