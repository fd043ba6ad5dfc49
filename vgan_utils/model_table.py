"""A layer-by-layer table of a network: each layer's output shape and parameter count.

Reading the shapes of a generator as they grow from ``z`` to a frame (and of a
discriminator as they shrink to one logit) is the quickest way to see what the
architecture does, and the parameter counts show where the capacity sits.
The table is built by running one example input through the model with forward
hooks on its leaf layers, so it shows what PyTorch actually computes.

Taught in ``notebooks/02_generator_discriminator.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer: its dotted name, class, output shape (batch as ``N``) and parameters."""

    name: str
    kind: str
    out_shape: tuple[int | str, ...]
    params: int


@dataclass(frozen=True)
class LayerTable:
    """Rows in execution order; ``repr`` is a plain-text table (stable, so nbval compares it)."""

    model: str
    input_shape: tuple[int | str, ...]
    rows: tuple[LayerRow, ...]
    total_params: int

    def __repr__(self) -> str:
        head = ("layer", "type", "output shape", "params")
        body = [(r.name, r.kind, _shape(r.out_shape), f"{r.params:,}") for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]

        def line(cells: tuple[str, ...]) -> str:
            left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3], strict=True)]
            return "  ".join(left + [cells[3].rjust(widths[3])]).rstrip()

        rule = "-" * len(line(head))
        return "\n".join(
            [f"{self.model}: input {_shape(self.input_shape)}", line(head), rule]
            + [line(b) for b in body]
            + [rule, f"total parameters: {self.total_params:,}"])

    def shapes(self) -> list[tuple[int | str, ...]]:
        """The output shapes alone, in order."""
        return [r.out_shape for r in self.rows]


def _shape(shape: tuple[int | str, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _is_leaf(module: nn.Module) -> bool:
    """A layer with no sub-layers (spectral norm's parametrization container aside)."""
    return all(name == "parametrizations" for name, _ in module.named_children())


def model_table(model: nn.Module, example: torch.Tensor) -> LayerTable:
    """Run ``example`` through ``model`` (eval mode, no grad) and tabulate every leaf layer.

    Eval mode keeps batch-norm running statistics untouched, so making a table
    never changes the model. The batch dimension is shown as ``N``.
    """
    rows: list[LayerRow] = []
    hooks = []

    def hook(name: str):
        def record(mod: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            params = sum(p.numel() for p in mod.parameters())
            shape = ("N", *output.shape[1:]) if isinstance(output, torch.Tensor) else ()
            rows.append(LayerRow(name, type(mod).__name__, shape, params))
        return record

    for name, mod in model.named_modules():
        if name and _is_leaf(mod) and "parametrizations" not in name.split("."):
            hooks.append(mod.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    total = sum(p.numel() for p in model.parameters())
    return LayerTable(type(model).__name__, ("N", *example.shape[1:]), tuple(rows), total)
