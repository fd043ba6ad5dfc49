"""Video generators and discriminators: shapes, ranges, the two-stream identity, the
content/motion split, the mask penalty, and that one step of D learns (tiny widths: fast)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vgan_utils.losses import get_loss
from vgan_utils.video_nets import (
    ContentMotionGenerator,
    OneStreamGenerator,
    TwoStreamGenerator,
    VideoDiscriminator,
    check_clips,
    default_image_generator,
    mask_sparsity_penalty,
    time_doublings,
    upsampling_steps,
    warp,
    whole_pixel_penalty,
)

CONFIGS = [(t, s, c) for t in (16, 32) for s in (32, 64) for c in (1, 3)]


def tiny_image_generator(z_dim: int, size: int, channels: int) -> nn.Module:
    """A stand-in frame generator: MoCoGAN's image generator is pluggable."""
    return nn.Sequential(nn.Linear(z_dim, channels * size * size), nn.Tanh(),
                         nn.Unflatten(1, (channels, size, size)))


def tiny_mocogan(length=8, size=16, channels=1, **kw) -> ContentMotionGenerator:
    torch.manual_seed(0)
    kw.setdefault("content_dim", 6)
    kw.setdefault("motion_dim", 3)
    img = tiny_image_generator(kw["content_dim"] + kw["motion_dim"], size, channels)
    return ContentMotionGenerator(length, size, channels, image_generator=img, **kw)


# --- shapes and ranges --------------------------------------------------------------------

@pytest.mark.parametrize(("length", "size", "channels"), CONFIGS)
def test_two_stream_and_discriminator_shapes(length, size, channels):
    torch.manual_seed(0)
    g = TwoStreamGenerator(z_dim=8, length=length, size=size, channels=channels, width=2)
    d = VideoDiscriminator(length, size, channels, width=2)
    video, mask, fg, bg = g.parts(torch.randn(2, 8))
    assert video.shape == fg.shape == bg.shape == (2, channels, length, size, size)
    assert mask.shape == (2, 1, length, size, size)
    assert video.min() >= -1 and video.max() <= 1
    assert mask.min() >= 0 and mask.max() <= 1
    assert d(video).shape == (2,)


@pytest.mark.parametrize(("length", "size", "channels"), CONFIGS)
def test_content_motion_shapes(length, size, channels):
    g = tiny_mocogan(length, size, channels)
    assert g.z_dim == 6 + 3 + length * 3
    clips = g(g.sample_z(2))
    assert clips.shape == (2, channels, length, size, size)
    assert clips.min() >= -1 and clips.max() <= 1


@pytest.mark.parametrize(("length", "size", "channels"), [(8, 32, 1), (16, 64, 3)])
def test_content_motion_default_image_generator(length, size, channels):
    torch.manual_seed(0)
    g = ContentMotionGenerator(length, size, channels, content_dim=6, motion_dim=3, width=4)
    clips = g(g.sample_z(2))
    assert clips.shape == (2, channels, length, size, size)
    assert clips.min() >= -1 and clips.max() <= 1


def test_odd_lengths_and_plans():
    assert upsampling_steps(32) == 3 and upsampling_steps(64) == 4
    assert time_doublings(16, 3) == 3 and time_doublings(20, 4) == 2 and time_doublings(7, 3) == 0
    g = TwoStreamGenerator(z_dim=4, length=20, size=16, width=2)
    clips = g(torch.randn(1, 4))
    assert clips.shape == (1, 1, 20, 16, 16)
    assert VideoDiscriminator(20, 16, 1, width=2)(clips).shape == (1,)


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="4 \\* 2\\*\\*k"):
        TwoStreamGenerator(size=48)
    with pytest.raises(ValueError, match="channels"):
        TwoStreamGenerator(channels=2)
    with pytest.raises(ValueError, match="norm"):
        VideoDiscriminator(norm="layer")


# --- shapes checked, with helpful errors ------------------------------------------------------

def test_wrong_shapes_name_the_expected_one():
    g = TwoStreamGenerator(z_dim=8, length=8, size=16, width=2)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        g(torch.randn(2, 9))
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        g(torch.randn(2, 8, 1, 1))
    d = VideoDiscriminator(8, 16, 3, width=2)
    with pytest.raises(ValueError, match=r"\(N, 3, 8, 16, 16\).*permute"):
        d(torch.randn(2, 8, 3, 16, 16))
    with pytest.raises(ValueError, match="unsqueeze"):
        d(torch.randn(3, 8, 16, 16))
    with pytest.raises(ValueError, match=r"\(N, 3, 8, 16, 16\)"):
        d(torch.randn(2, 3, 8, 32, 32))
    m = tiny_mocogan()
    with pytest.raises(ValueError, match=r"\(N, 33\) = content 6 \+ initial motion state 3"):
        m(torch.randn(2, 32))
    check_clips(torch.zeros(1, 3, 8, 16, 16), 3, 8, 16)


def test_dcgan_init():
    torch.manual_seed(0)
    g = TwoStreamGenerator(width=16)
    w = g.foreground_stream[3].weight
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    bn = g.foreground_stream[1]
    assert abs(bn.weight.mean().item() - 1) < 0.01 and bn.bias.abs().max() == 0


# --- the two-stream generator -------------------------------------------------------------

def test_composition_identity_and_static_background():
    torch.manual_seed(0)
    g = TwoStreamGenerator(z_dim=8, length=8, size=16, channels=3, width=4)
    video, mask, fg, bg = g.parts(torch.randn(3, 8))
    torch.testing.assert_close(video, mask * fg + (1 - mask) * bg)
    torch.testing.assert_close(bg, bg[:, :, :1].expand_as(bg))  # one still, over all frames
    assert (bg[:, :, 0] - bg[:, :, -1]).abs().max() == 0
    # a mask shut everywhere leaves the background alone: a clip where nothing moves
    with torch.no_grad():
        g.mask_head[0].bias.fill_(-40.0)
    still = g.parts(torch.randn(3, 8)).video
    torch.testing.assert_close(still, still[:, :, :1].expand_as(still))


def test_mask_sparsity_penalty_known_values():
    mask = torch.tensor([0.0, 1.0, 0.25, 0.75]).reshape(1, 1, 4, 1, 1)
    assert mask_sparsity_penalty(mask).item() == pytest.approx(0.1 * 0.5)
    assert mask_sparsity_penalty(mask, weight=2.0).item() == pytest.approx(1.0)
    assert mask_sparsity_penalty(torch.ones(2, 1, 16, 32, 32)).item() == pytest.approx(0.1)


def test_mask_penalty_in_the_network_adds_exactly_its_gradient():
    """mask_weight > 0 trains as if mask_sparsity_penalty were added to the loss."""
    z = torch.randn(2, 8)
    grads = []
    for weight in (0.0, 0.1):
        torch.manual_seed(0)
        g = TwoStreamGenerator(z_dim=8, length=4, size=8, width=2, mask_weight=weight)
        video, mask, _, _ = g.parts(z)
        loss = video.square().mean()
        if weight == 0:
            loss = loss + mask_sparsity_penalty(mask, 0.1)
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in g.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])
    assert g.last_mask_penalty is not None and 0 < g.last_mask_penalty.item() < 0.1
    with torch.no_grad():  # sampling leaves the penalty and the graph alone
        g.parts(z)


# --- the content/motion generator -----------------------------------------------------------

def test_same_content_varied_motion():
    g = tiny_mocogan().eval()
    z = g.same_content_z(4, torch.Generator().manual_seed(1))
    content, h0, noise = g.split_z(z)
    assert (content == content[:1]).all()
    assert not torch.allclose(h0[0], h0[1]) and not torch.allclose(noise[0], noise[1])
    clips = g(z)
    first = clips[:, :, 0]
    assert (first[0] - first[1]).abs().max() > 1e-3  # the first frames differ already
    given = torch.randn(1, 6)
    assert (g.split_z(g.same_content_z(3, content=given))[0] == given).all()


def test_same_motion_varied_content():
    g = tiny_mocogan().eval()
    z = g.same_motion_z(4, torch.Generator().manual_seed(2))
    content, h0, noise = g.split_z(z)
    assert (h0 == h0[:1]).all() and (noise == noise[:1]).all()
    assert not torch.allclose(content[0], content[1])
    motion = g.motion_codes(h0, noise)
    assert motion.shape == (4, 8, 3)
    torch.testing.assert_close(motion, motion[:1].expand_as(motion))
    assert (g(z)[0] - g(z)[1]).abs().max() > 1e-3


def test_split_and_join_are_inverse():
    g = tiny_mocogan()
    z = g.sample_z(5, torch.Generator().manual_seed(0))
    assert torch.equal(g.join_z(*g.split_z(z)), z)


def test_reused_image_generator_keeps_its_weights():
    torch.manual_seed(0)
    img = tiny_image_generator(9, 16, 1)
    before = img[0].weight.clone()
    g = ContentMotionGenerator(8, 16, 1, content_dim=6, motion_dim=3, image_generator=img)
    assert g.image_generator is img and torch.equal(img[0].weight, before)
    content, h0, noise = g.split_z(g.sample_z(2))
    motion = g.motion_codes(h0, noise)
    frame = img(torch.cat([content, motion[:, 2]], dim=1))
    torch.testing.assert_close(g(g.join_z(content, h0, noise))[:, :, 2], frame)


def test_motion_map_starts_as_mocogan_and_reaches_every_dimension():
    own, every = tiny_mocogan(), tiny_mocogan(motion_to="all")
    every.load_state_dict(own.state_dict(), strict=False)
    z = own.sample_z(3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(every(z), own(z))  # the map starts at zero
    every(z).square().mean().backward()
    grad = every.motion_map.weight.grad
    assert grad.shape == (9, 3) and (grad[:6].abs().sum(dim=1) > 0).all()  # content dims too
    with pytest.raises(ValueError, match="motion_to"):
        tiny_mocogan(motion_to="some")


def test_warp_moves_pixels_by_the_flow_and_brings_in_background():
    frame = torch.full((1, 1, 8, 8), -1.0)
    frame[0, 0, 2, 3] = 1.0
    flows = torch.zeros(1, 2, 8, 8, 2)
    flows[0, 1, ..., 0] = 2 / 8  # frame 1 samples one pixel to the right: content moves left
    clip = warp(frame, flows)
    torch.testing.assert_close(clip[:, :, 0], frame)  # zero flow: the frame itself
    moved = torch.full((8, 8), -1.0)
    moved[2, 2] = 1.0
    torch.testing.assert_close(clip[0, 0, 1], moved)  # the right edge came in as background
    far = warp(frame, torch.full((1, 1, 8, 8, 2), 5.0))
    torch.testing.assert_close(far, torch.full_like(far, -1.0))


def test_flow_motion_draws_once_starts_still_and_keeps_its_frame():
    g = tiny_mocogan(motion_to="flow", flow_grid=4)
    z = g.sample_z(2, torch.Generator().manual_seed(0))
    clips = g(z)
    assert clips.shape == (2, 1, 8, 16, 16)
    content, h0, noise = g.split_z(z)
    first = g.motion_codes(h0, noise)[:, 0]
    frame = g.image_generator(torch.cat([content, first], dim=1))
    for t in range(8):  # the flow starts at zero: every frame is the one drawn frame
        torch.testing.assert_close(clips[:, :, t], frame)
    clips.square().mean().backward()
    assert g.flow_net[-1].weight.grad.abs().sum() > 0  # training can start moving it


def test_frozen_image_generator_learns_nothing_and_samples_in_eval_mode():
    img = default_image_generator(9, 16, 1, 8)
    g = ContentMotionGenerator(8, 16, 1, content_dim=6, motion_dim=3, image_generator=img,
                               motion_to="flow", flow_grid=4, freeze_image=True).train()
    assert not img.training and g.recurrent.training  # train() leaves the frozen part in eval
    stats = [b.clone() for b in img.buffers()]
    clips = g(g.sample_z(4, torch.Generator().manual_seed(0)))
    clips.square().mean().backward()
    assert all(p.grad is None for p in img.parameters())
    assert g.recurrent.weight_hh.grad.abs().sum() > 0  # motion still learns through it
    assert all(torch.equal(a, b) for a, b in zip(stats, img.buffers(), strict=True))
    assert "freeze_image=True" in repr(g)


def test_flow_from_content_draws_the_frame_generators_own_sample_of_the_content():
    img = default_image_generator(6, 16, 1, 8)
    g = ContentMotionGenerator(8, 16, 1, content_dim=6, motion_dim=3, image_generator=img,
                               motion_to="flow", flow_grid=4, freeze_image=True,
                               flow_from="content").train()
    z = g.same_content_z(3, torch.Generator().manual_seed(0))  # one content, three motions
    own = img(g.split_z(z)[0])  # the frame generator alone, in eval mode
    clips = g(z)
    for t in range(8):  # zero flow at the start: every frame is that one sample
        torch.testing.assert_close(clips[:, :, t], own)
    assert g.frame_code_dim == 6 and "flow_from='content'" in repr(g)
    assert torch.equal(clips[0], clips[2])  # motion does not redraw the frame
    with pytest.raises(ValueError, match="flow_from"):
        tiny_mocogan(flow_from="content")  # motion_to='own' draws every frame from a state
    with pytest.raises(ValueError, match="flow_from"):
        tiny_mocogan(motion_to="flow", flow_from="h0")


def test_whole_pixel_flow_moves_frames_by_whole_pixels_and_still_learns():
    g = tiny_mocogan(motion_to="flow", flow_grid=4, whole_pixels=True)
    with torch.no_grad():
        g.flow_net[-1].bias.fill_(1.3 * 2 / 16)  # 1.3 pixels right and down, everywhere
    z = g.sample_z(2, torch.Generator().manual_seed(0))
    content, h0, noise = g.split_z(z)
    motion = g.motion_codes(h0, noise)
    flows = g.flows(content, motion)
    torch.testing.assert_close(flows * 8, torch.ones_like(flows))  # rounded to 1 pixel
    drawn = g.image_generator(torch.cat([content, motion[:, 0]], dim=1))
    clips = g(z)
    for t in range(8):  # each frame is an exact copy of the drawn one, one pixel over
        torch.testing.assert_close(clips[:, :, t, :-1, :-1], drawn[..., 1:, 1:])
    clips.square().mean().backward()
    assert g.flow_net[-1].weight.grad.abs().sum() > 0  # the gradient passes the rounding
    assert "whole_pixels=True" in repr(g)
    with pytest.raises(ValueError, match="whole_pixels"):
        tiny_mocogan(whole_pixels=True)


def test_whole_pixel_penalty_is_zero_on_whole_pixels_and_only_where_there_is_ink():
    ink = torch.tensor([1.0, 1.0, 1.0, 0.0]).reshape(1, 1, 4, 1, 1)
    pixels = torch.tensor([[2.0, -1.0], [0.5, 0.5], [0.25, 0.0], [0.5, 0.5]]).reshape(1, 1, 4, 1, 2)
    # sin^2(pi d): 0 and 0; 1 and 1; 1/2 and 0; no ink. Mean over 8 numbers, weight 3
    expected = 3 * (0 + 0 + 1 + 1 + 0.5 + 0) / 8
    torch.testing.assert_close(whole_pixel_penalty(pixels, ink, 3.0), torch.tensor(expected))


def test_whole_pixel_weight_adds_the_penalty_gradient_and_leaves_the_clips_alone():
    plain = tiny_mocogan(motion_to="flow", flow_grid=4)
    pulled = tiny_mocogan(motion_to="flow", flow_grid=4, whole_pixel_weight=2.0)
    pulled.load_state_dict(plain.state_dict())
    for g in (plain, pulled):
        with torch.no_grad():  # 0.3 of a pixel in x, 0.7 in y, everywhere
            g.flow_net[-1].bias[:16].fill_(0.3 * 2 / 16)
            g.flow_net[-1].bias[16:].fill_(0.7 * 2 / 16)
    z = plain.sample_z(3, torch.Generator().manual_seed(0))
    clips = plain(z)
    torch.testing.assert_close(pulled(z), clips)  # the forward pass is the same
    pulled(z).sum().backward()
    plain(z).sum().backward()
    penalty = pulled.last_whole_pixel_penalty
    assert penalty is not None and penalty.item() > 0
    extra = pulled.flow_net[-1].bias.grad - plain.flow_net[-1].bias.grad
    # towards 0 in x (0.3 < 0.5), towards 1 in y (0.7 > 0.5): gradient descent lowers x, raises y
    assert (extra[:16] > 0).all() and (extra[16:] < 0).all()
    with torch.no_grad():  # sampling neither records nor changes anything
        pulled.last_whole_pixel_penalty = None
        torch.testing.assert_close(pulled.eval()(z), clips)
    assert pulled.last_whole_pixel_penalty is None
    assert "whole_pixel_weight=2.0" in repr(pulled)
    for bad in ({"whole_pixel_weight": 1.0},
                {"motion_to": "flow", "whole_pixels": True, "whole_pixel_weight": 1.0},
                {"motion_to": "flow", "whole_pixel_weight": -1.0}):
        with pytest.raises(ValueError, match="whole_pixel_weight"):
            tiny_mocogan(**bad)


def test_the_penalty_gradient_is_the_gradient_of_the_penalty():
    from vgan_utils.video_nets import _WholePixelPenaltyGrad

    torch.manual_seed(0)
    pixels = (torch.randn(2, 3, 4, 4, 2) * 2).requires_grad_()
    ink = torch.rand(2, 3, 4, 4, 1)
    upstream = torch.randn(2, 3, 4, 4, 2)
    (_WholePixelPenaltyGrad.apply(pixels, ink, 0.7) * upstream).sum().backward()
    via_function = pixels.grad.clone()
    pixels.grad = None
    ((pixels * upstream).sum() + whole_pixel_penalty(pixels, ink, 0.7)).backward()
    torch.testing.assert_close(via_function, pixels.grad)


@pytest.mark.parametrize("model", [TwoStreamGenerator, OneStreamGenerator])
def test_nearest_upsampling_keeps_shapes_and_drops_transposed_convolutions(model):
    torch.manual_seed(0)
    transposed, nearest = model(z_dim=8, length=8, size=16, width=4), model(
        z_dim=8, length=8, size=16, width=4, upsample="nearest")
    z = torch.randn(2, 8)
    assert nearest(z).shape == transposed(z).shape == (2, 1, 8, 16, 16)
    transposed_layers = (nn.ConvTranspose3d, nn.ConvTranspose2d)
    strided = [m for m in nearest.modules()
               if isinstance(m, transposed_layers) and m.stride[-1] == 2]
    assert strided == []  # only the first 4x4 block is transposed, with stride 1
    assert any(isinstance(m, nn.Upsample) for m in nearest.modules())
    with pytest.raises(ValueError, match="upsample must be one of"):
        model(z_dim=8, length=8, size=16, width=4, upsample="bilinear")


# --- one discriminator step learns -----------------------------------------------------------

def _d_step_lowers_loss(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> None:
    loss_fn = get_loss("nonsaturating").d_loss
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    before = loss_fn(d(real), d(fake))
    opt.zero_grad()
    before.backward()
    opt.step()
    after = loss_fn(d(real), d(fake))
    assert after.item() < before.item()


@pytest.mark.parametrize(("norm", "sn"), [("auto", False), ("none", False), ("auto", True)])
def test_video_discriminator_step_lowers_its_loss(norm, sn):
    torch.manual_seed(0)
    d = VideoDiscriminator(8, 16, 1, width=4, spectral_norm=sn, norm=norm)
    assert d.norm == ("none" if sn or norm == "none" else "batch")
    real = torch.rand(4, 1, 8, 16, 16) * 2 - 1
    fake = TwoStreamGenerator(z_dim=8, length=8, size=16, width=2)(torch.randn(4, 8)).detach()
    _d_step_lowers_loss(d, real, fake)


def test_image_discriminator_step_lowers_its_loss():
    from vgan_utils.video_nets import default_image_discriminator

    torch.manual_seed(0)
    d = default_image_discriminator(size=32, channels=1, width=4)
    real = torch.rand(8, 1, 32, 32) * 2 - 1
    fake = torch.tanh(torch.randn(8, 1, 32, 32))
    assert d(real).flatten().shape == (8,)
    _d_step_lowers_loss(d, real, fake)


def test_warp_logits_moves_the_frame_before_its_tanh():
    from vgan_utils.frame_nets import FrameGenerator

    torch.manual_seed(0)
    img = FrameGenerator(9, 16, 1, width=4)
    g = ContentMotionGenerator(8, 16, 1, content_dim=6, motion_dim=3, image_generator=img,
                               motion_to="flow", flow_grid=4, warp_logits=True)
    with torch.no_grad():
        g.flow_net[-1].bias[:16].fill_(0.5 * 2 / 16)  # half a pixel right (x), nothing in y
    z = g.sample_z(2, torch.Generator().manual_seed(0))
    content, h0, noise = g.split_z(z)
    code = torch.cat([content, g.motion_codes(h0, noise)[:, 0]], dim=1)
    logits = img.logits(code)
    torch.testing.assert_close(img(code), torch.tanh(logits))  # the frame is tanh(logits)
    clips = g(z)
    blended = torch.tanh((logits[..., :-1] + logits[..., 1:]) / 2)  # x and x + 1, then tanh
    torch.testing.assert_close(clips[:, :, 3, :, :-1], blended)
    clips.square().mean().backward()
    assert g.flow_net[-1].weight.grad.abs().sum() > 0
    assert "warp_logits=True" in repr(g)
    with pytest.raises(ValueError, match="warp_logits"):
        tiny_mocogan(warp_logits=True)  # needs motion_to='flow'
    with pytest.raises(ValueError, match="FrameGenerator"):
        tiny_mocogan(motion_to="flow", warp_logits=True)  # the stand-in has no .logits


def test_per_frame_applies_a_frame_function_to_every_frame_in_order():
    from vgan_utils.video_nets import per_frame

    clips = torch.rand(2, 1, 3, 4, 4)
    shift = per_frame(lambda f: f + torch.arange(len(f)).view(-1, 1, 1, 1), clips)
    for i in range(2):
        for t in range(3):
            assert torch.equal(shift[i, :, t], clips[i, :, t] + (3 * i + t))
