"""Latent paths and discriminator units of notebook 08."""

import pytest
import torch
from torch import nn

from vgan_utils.latent import (
    frame_descriptors,
    interpolation_grid,
    lerp,
    slerp,
    top_frames,
    unit_activations,
)


def test_paths_start_and_end_at_the_codes():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(100, generator=g), torch.randn(100, generator=g)
    t = torch.linspace(0, 1, 5)
    for path in (lerp, slerp):
        codes = path(z0, z1, t)
        assert codes.shape == (5, 100)
        assert torch.allclose(codes[0], z0, atol=1e-5) and torch.allclose(codes[-1], z1, atol=1e-5)


def test_slerp_keeps_the_norm_of_equal_norm_codes_and_lerp_does_not():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(z0, z1, torch.tensor([0.5]))[0]
    assert mid.norm() == pytest.approx(1.0) and lerp(z0, z1, [0.5])[0].norm() == pytest.approx(
        2**-0.5)
    assert torch.allclose(slerp(z0, z0, torch.tensor([0.3])), z0[None])  # parallel: lerp


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(),
                                 nn.LazyLinear(1))
        self.z_dim = 4

    def forward(self, x):
        return self.net(x)


def test_unit_activations_and_top_frames():
    model = _Net()
    frames = torch.rand(10, 1, 8, 8) * 2 - 1
    acts = unit_activations(model, model.net[1], frames, batch_size=3)
    assert acts.shape == (10, 3)
    top = top_frames(acts[:, 0], k=4)
    assert acts[top, 0].tolist() == sorted(acts[:, 0].tolist(), reverse=True)[:4]
    with pytest.raises(ValueError, match="submodule"):
        unit_activations(model, nn.ReLU(), frames)
    with pytest.raises(ValueError):
        top_frames(acts[:, 0], k=11)


def test_interpolation_grid_and_descriptors():
    gen = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)), nn.Tanh())
    pairs = torch.randn(2, 2, 4)
    assert interpolation_grid(gen, pairs, 3, "lerp").shape == (6, 1, 8, 8)
    with pytest.raises(ValueError, match="mode"):
        interpolation_grid(gen, pairs, 3, "cubic")
    frames = -torch.ones(2, 1, 4, 4)
    frames[0, 0, 0, 3] = 1.0  # one lit pixel, top right
    d = frame_descriptors(frames)
    assert d["x"][0] == pytest.approx(1.0) and d["y"][0] == pytest.approx(0.0)
    assert d["ink"][0] == pytest.approx(1 / 16) and d["ink"][1] == 0
