"""DCGAN frame networks and the layer table: shapes, init, logits, spectral norm, errors."""

import pytest
import torch
from torch import nn

from vgan_utils.frame_nets import (
    FrameDiscriminator,
    FrameGenerator,
    LayeredGenerator,
    SpriteGenerator,
    count_parameters,
    dcgan_init_,
    output_activation,
    sample_z,
)
from vgan_utils.model_table import model_table


@pytest.mark.parametrize("size,channels,width", [(32, 1, 8), (64, 3, 8), (32, 3, 16)])
def test_generator_makes_frames_in_tanh_range(size, channels, width):
    g = FrameGenerator(z_dim=10, size=size, channels=channels, width=width)
    x = g(sample_z(4, 10, torch.Generator().manual_seed(0)))
    assert x.shape == (4, channels, size, size) and g.z_dim == 10
    assert x.abs().max() <= 1.0


def test_generator_accepts_dcgan_tutorial_shape():
    g = FrameGenerator(z_dim=10, width=8).eval()
    z = torch.randn(3, 10)
    assert torch.equal(g(z), g(z[:, :, None, None]))


@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3)])
def test_discriminator_returns_one_logit_per_frame(size, channels):
    d = FrameDiscriminator(size=size, channels=channels, width=8)
    out = d(torch.randn(5, channels, size, size))
    assert out.shape == (5,)
    assert isinstance(d.net[-1], nn.Conv2d)  # no sigmoid: logits go to BCEWithLogitsLoss


def test_wrong_shapes_name_the_expected_shape():
    g, d = FrameGenerator(z_dim=10, width=8), FrameDiscriminator(size=32, width=8)
    with pytest.raises(ValueError, match=r"expects z of shape \(N, 10\); got \(2, 7\)"):
        g(torch.randn(2, 7))
    with pytest.raises(ValueError, match=r"expects frames of shape \(N, 1, 32, 32\); got"):
        d(torch.randn(2, 1, 64, 64))
    with pytest.raises(ValueError, match="fold time into the batch"):
        d(torch.randn(2, 1, 4, 32, 32))
    with pytest.raises(ValueError, match="power of two"):
        FrameGenerator(size=48)
    with pytest.raises(ValueError, match="norm must be one of"):
        FrameDiscriminator(norm="layer")


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    g = FrameGenerator(width=32)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bn = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1.0) < 0.01
    lin = nn.Conv2d(3, 3, 3)
    dcgan_init_(lin)
    assert torch.all(lin.bias == 0)


def test_spectral_norm_bounds_each_layer():
    torch.manual_seed(0)
    d = FrameDiscriminator(size=32, width=8, spectral_norm=True)
    assert d.norm == "none" and not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    for _ in range(30):  # each training-mode call runs one power iteration
        d(torch.randn(2, 1, 32, 32))
    for m in d.net:
        if isinstance(m, nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)
            assert abs(sigma.item() - 1.0) < 0.05
    plain = FrameDiscriminator(size=32, width=8)
    assert count_parameters(d) < count_parameters(plain)  # BN gone, biases added


def test_one_step_lowers_discriminator_loss():
    torch.manual_seed(0)
    g, d = FrameGenerator(z_dim=16, width=8), FrameDiscriminator(width=8)
    real = torch.rand(16, 1, 32, 32) * 2 - 1
    fake = g(torch.randn(16, 16)).detach()
    bce = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def loss():
        return bce(d(real), torch.ones(16)) + bce(d(fake), torch.zeros(16))

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item()


def test_double_backward_for_gradient_penalty():
    d = FrameDiscriminator(width=8, norm="none")
    x = torch.randn(3, 1, 32, 32, requires_grad=True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    (grad.flatten(1).norm(dim=1) - 1).pow(2).mean().backward()
    # weights get gradients; biases cannot (LeakyReLU's slope does not depend on them)
    assert all(p.grad is not None for n, p in d.named_parameters() if n.endswith("weight"))


def test_model_table_shapes_and_counts():
    g = FrameGenerator(z_dim=100, size=32, channels=1, width=64)
    g.train()
    running = g.net[1].running_mean.clone()
    table = model_table(g, torch.randn(2, 100))
    assert table.shapes()[0] == ("N", 256, 4, 4) and table.shapes()[-1] == ("N", 1, 32, 32)
    assert table.rows[0].params == 100 * 256 * 4 * 4
    assert table.total_params == count_parameters(g) == sum(r.params for r in table.rows)
    assert g.training and torch.equal(running, g.net[1].running_mean)  # model untouched
    text = repr(table)
    assert "total parameters: 1,066,880" in text and "ConvTranspose2d" in text


def test_model_table_with_spectral_norm_counts_each_weight_once():
    d = FrameDiscriminator(size=32, width=8, spectral_norm=True)
    table = model_table(d, torch.randn(1, 1, 32, 32))
    assert [r.kind for r in table.rows].count("ParametrizedConv2d") == 4
    assert table.total_params == sum(r.params for r in table.rows) == count_parameters(d)


def test_minibatch_std_sees_a_collapsed_batch():
    from vgan_utils.frame_nets import MinibatchStd

    same = torch.ones(4, 3, 2, 2)
    varied = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    out = MinibatchStd()(same)
    assert out.shape == (4, 4, 2, 2) and torch.all(out[:, 3] == 0)
    assert torch.all(MinibatchStd()(varied)[:, 3] > 0)
    d = FrameDiscriminator(size=32, width=8, minibatch_std=True)
    assert d(torch.randn(5, 1, 32, 32)).shape == (5,)
    with pytest.raises(ValueError, match="at least 2"):
        d.eval()(torch.randn(1, 1, 32, 32))


def test_ink_log_magnifies_the_nearly_black():
    from vgan_utils.frame_nets import InkLog

    x = torch.tensor([-1.0, -0.99, -0.95, 0.0, 1.0]).view(1, 1, 1, 5)
    out = InkLog()(x)
    assert out.shape == (1, 2, 1, 5) and torch.equal(out[:, :1], x)
    logged = out[0, 1, 0]
    assert logged[0] == pytest.approx(-1.0) and logged[-1] == pytest.approx(1.0)
    assert torch.all(logged[1:] > logged[:-1])
    # a +0.05 haze is a fortieth of the pixel range but half of the log range
    assert logged[2] - logged[0] > 0.9
    d = FrameDiscriminator(size=32, width=8, ink_log=True)
    assert d.net[1].in_channels == 2 and d(torch.randn(3, 1, 32, 32)).shape == (3,)


def test_layered_generator_is_the_maximum_of_its_layers():
    g = LayeredGenerator(z_dim=8, size=16, width=4, layers=2).eval()
    z = torch.randn(3, 8)
    frames = g(z)
    assert frames.shape == (3, 1, 16, 16)
    first, second = g.layer(z[:, :4]), g.layer(z[:, 4:])
    torch.testing.assert_close(frames, torch.maximum(first, second))
    torch.testing.assert_close(g.draw_layers(z), torch.stack([first, second], 1))


def test_layered_generator_names_bad_codes_and_layer_counts():
    with pytest.raises(ValueError, match="split evenly"):
        LayeredGenerator(z_dim=9, layers=2)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        LayeredGenerator(z_dim=8, size=16, width=4)(torch.randn(2, 6))


def test_sprite_generator_places_its_glyph_where_its_head_says():
    g = SpriteGenerator(z_dim=8, size=16, width=4, layers=2, glyph=8).eval()
    ink = torch.zeros(1, 1, 8, 8)
    ink[0, 0, 3, 4] = 1.0  # one lit pixel of the glyph, at (x 4, y 3) of its canvas

    def lit(y: int, x: int) -> torch.Tensor:
        canvas = torch.zeros(1, 1, 16, 16)
        canvas[0, 0, y, x] = 1.0
        return canvas

    still = g.place(ink, torch.zeros(1, 2))  # at the frame's centre: 4 pixels in each way
    torch.testing.assert_close(still, lit(4 + 3, 4 + 4), atol=1e-5, rtol=0)
    moved = g.place(ink, torch.tensor([[3.0, -2.0]]))  # 3 right, 2 up
    torch.testing.assert_close(moved, lit(4 + 3 - 2, 4 + 4 + 3), atol=1e-5, rtol=0)
    gone = g.place(ink, torch.tensor([[20.0, 0.0]]))  # off the frame: background comes in
    assert gone.abs().max() < 1e-6


def test_sprite_generator_combines_layers_by_the_maximum_and_starts_near_uniform():
    g = SpriteGenerator(z_dim=8, size=16, width=4, layers=2, glyph=8).eval()
    assert g.reach == 4.5  # (16 - 8) / 2 + 8 / 16
    z = torch.randn(3, 8)
    frames = g(z)
    assert frames.shape == (3, 1, 16, 16) and frames.min() >= -1.0 and frames.max() <= 1.0
    codes = z.reshape(6, 4)
    shift = (2 * torch.sigmoid(g.where(codes)) - 1) * g.reach
    layers = g.place((g.layer(codes) + 1) / 2, shift).reshape(3, 2, 1, 16, 16)
    torch.testing.assert_close(frames, layers.amax(1) * 2 - 1)
    torch.testing.assert_close(g.draw_layers(z), layers * 2 - 1)  # what layers32 moves
    # the position head starts as sigmoid(1.702 z), near the normal CDF: near-uniform shifts
    start = 2 * torch.sigmoid(SpriteGenerator(z_dim=8).where(torch.randn(20_000, 4))) - 1
    assert start.abs().max() < 1 and abs(start.std().item() - 3 ** -0.5) < 0.02


def test_sprite_generator_places_by_whole_pixels_and_still_learns_where():
    g = SpriteGenerator(z_dim=8, size=16, width=4, layers=2, glyph=8, whole_pixels=True).eval()
    ink = torch.zeros(1, 1, 8, 8)
    ink[0, 0, 3, 4] = 1.0
    expected = torch.zeros(1, 1, 16, 16)
    expected[0, 0, 4 + 3 - 2, 4 + 4 + 3] = 1.0  # (2.6, -1.6) rounds to 3 right, 2 up
    shift = torch.tensor([[2.6, -1.6]], requires_grad=True)
    ink.requires_grad_(True)
    placed = g.place(ink, shift)
    torch.testing.assert_close(placed, expected, atol=1e-6, rtol=0)  # one pixel, not blended
    bilinear = SpriteGenerator(z_dim=8, size=16, width=4, layers=2, glyph=8).eval()
    weights = torch.randn(1, 1, 16, 16)
    (placed * weights).sum().backward()
    want_shift, want_ink = shift.grad.clone(), ink.grad.clone()
    shift.grad = ink.grad = None
    # the shift's gradient is the bilinear shift's by the unrounded offset ...
    torch.autograd.backward((bilinear.place(ink, shift) * weights).sum())
    torch.testing.assert_close(want_shift, shift.grad)
    # ... and the ink's is the whole-pixel shift's, counted once
    shift.grad = ink.grad = None
    torch.autograd.backward((bilinear.place(ink, shift.detach().round()) * weights).sum())
    torch.testing.assert_close(want_ink, ink.grad)


def test_sprite_generator_position_learns_and_bad_sizes_are_named():
    g = SpriteGenerator(z_dim=8, size=16, width=4, layers=2, glyph=8)
    g(torch.randn(4, 8)).square().mean().backward()
    assert g.where.weight.grad.abs().sum() > 0 and g.layer.net[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="glyph must be between 8 and size=16"):
        SpriteGenerator(z_dim=8, size=16, glyph=32)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        g(torch.randn(2, 6))


def test_output_activations_reach_black_and_pass_gradients_as_documented():
    x = torch.tensor([-3.0, -0.5, 0.5, 3.0], requires_grad=True)
    tanh, hard, st = (output_activation(n) for n in ("tanh", "hardtanh", "clamp"))
    assert tanh(x).min() > -1.0  # tanh never draws exact black
    assert torch.equal(hard(x), torch.tensor([-1.0, -0.5, 0.5, 1.0]))
    assert torch.equal(st(x), hard(x))
    (g_hard,) = torch.autograd.grad(hard(x).sum(), x)
    (g_st,) = torch.autograd.grad(st(x).sum(), x)
    assert torch.equal(g_hard, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert torch.equal(g_st, torch.ones(4))  # straight through, clamped or not
    with pytest.raises(ValueError, match="output must be one of"):
        output_activation("sigmoid")


def test_generator_output_option_keeps_weights_interchangeable():
    a = FrameGenerator(z_dim=10, width=8)
    b = FrameGenerator(z_dim=10, width=8, output="hardtanh")
    b.load_state_dict(a.state_dict())  # the activation holds no weights
    assert isinstance(b.net[-1], nn.Hardtanh) and "output=hardtanh" in repr(b)


def test_refine_draws_maps_at_full_size_and_mixes_them_with_a_3x3_convolution():
    g = FrameGenerator(z_dim=10, width=8, refine=4)
    x = g(torch.randn(3, 10))
    assert x.shape == (3, 1, 32, 32) and x.abs().max() <= 1.0
    mix = g.net[-2]
    assert isinstance(mix, nn.Conv2d) and mix.in_channels == 4 and mix.kernel_size == (3, 3)
    assert g.logits(torch.zeros(2, 10)).shape == (2, 1, 32, 32)
    assert count_parameters(g) > count_parameters(FrameGenerator(z_dim=10, width=8))


def test_shipped_sprite_generator_loads_weights_only_and_places_by_whole_pixels():
    from pathlib import Path

    from vgan_utils.train import load_generator

    path = Path(__file__).resolve().parent.parent / "data" / "sprites32.pt"
    if not path.exists():
        pytest.skip("no shipped sprites32.pt yet (data/README.md)")
    assert path.stat().st_size < 5_000_000  # notebook 04's issue: at most 5 MB
    state = torch.load(path, weights_only=True)
    assert "discriminator" not in state and "opt_d" not in state
    g = load_generator(path)
    assert isinstance(g, SpriteGenerator) and g.whole_pixels and not g.training
    with torch.no_grad():
        frames = g(torch.randn(4, g.z_dim, generator=torch.Generator().manual_seed(0)))
    assert frames.shape == (4, 1, 32, 32) and frames.min() >= -1 and frames.max() <= 1
