"""Tests of vgan_utils.layer_motion: layers drawn once, moved by whole pixels."""

from dataclasses import replace

import pytest
import torch

from vgan_utils import train
from vgan_utils.clip_recipes import ClipRecipe, build_video_trainer
from vgan_utils.frame_nets import FrameGenerator, LayeredGenerator, SpriteGenerator
from vgan_utils.layer_motion import (
    LayerMotionGenerator,
    SpriteTwoStreamGenerator,
    ink_box,
    shift_bilinear,
    shift_whole_pixels,
)
from vgan_utils.video_nets import VideoDiscriminator
from vgan_utils.video_training import ImageVideoDiscriminator, video_gan


def dot(size: int = 32, y: int = 10, x: int = 10) -> torch.Tensor:
    frame = torch.full((1, 1, size, size), -1.0)
    frame[0, 0, y, x] = 1.0
    return frame


def small_generator(length: int = 6) -> LayerMotionGenerator:
    torch.manual_seed(0)
    return LayerMotionGenerator(LayeredGenerator(z_dim=16, size=32, width=8, layers=2),
                                length=length)


def test_a_whole_pixel_shift_moves_every_pixel_unchanged():
    offsets = torch.tensor([[[0.0, 0.0], [3.2, -1.6], [-20.0, 0.0]]])
    clip = shift_whole_pixels(dot(), offsets)[0, 0]  # (T, H, W)
    assert clip[0, 10, 10] == 1 and clip[1, 8, 13] == 1  # rounded to (3, -2)
    assert ((clip[:2] > -1).sum(dim=(1, 2)) == 1).all()  # one pixel, exactly, not blended
    assert (clip[2] == -1).all()  # moved out of the frame: black comes in


def test_the_rounding_passes_a_bilinear_gradient_to_the_offsets():
    offsets = torch.tensor([[[0.0, 0.0], [0.3, 0.0]]], requires_grad=True)
    clip = shift_whole_pixels(dot(), offsets)
    assert torch.equal(clip[0, 0, 1], dot()[0, 0])  # 0.3 rounds to 0: not moved
    clip[0, 0, 1, 10, 11].backward()  # more ink to the right pays: move right
    assert offsets.grad[0, 1, 0] > 0 and torch.equal(offsets.grad[0, 0], torch.zeros(2))
    soft = offsets.detach().clone().requires_grad_(True)
    shift_bilinear(dot(), soft)[0, 0, 1, 10, 11].backward()
    assert torch.equal(offsets.grad, soft.grad)  # exactly the bilinear shift's gradient
    layer = dot().requires_grad_(True)  # a layer that learns gets the whole-pixel shift's, once
    shift_whole_pixels(layer, soft.detach().requires_grad_(True))[0, 0, 1, 10, 10].backward()
    expected = torch.zeros(1, 1, 32, 32)
    expected[0, 0, 10, 10] = 1.0  # 0.3 rounds to 0: the pixel read is the layer's own
    assert torch.equal(layer.grad, expected)


def test_ink_box_brackets_the_bright_pixels():
    frames = torch.cat([dot(y=4, x=20), torch.full((1, 1, 32, 32), -1.0)])
    box = ink_box(frames)
    pixel = lambda i: (i + 0.5) / 16 - 1  # noqa: E731 - the centre of pixel i
    assert torch.allclose(box[0], torch.tensor([pixel(20), pixel(20), pixel(4), pixel(4)]))
    assert torch.equal(box[1], torch.zeros(4))  # no ink: the centre


def test_clips_are_the_frame_generators_layers_moved_and_combined_by_the_maximum():
    g = small_generator().eval()
    z = torch.randn(3, g.z_dim)
    clips = g(z)
    assert clips.shape == (3, 1, 6, 32, 32)
    content, h0, noise = g.split_z(z)
    with torch.no_grad():
        layers = g.image_generator.draw_layers(content)
        torch.testing.assert_close(clips[:, :, 0], layers.amax(dim=1))  # frame 0: as drawn
        offsets = g.paths(ink_box(layers.flatten(0, 1)), h0.flatten(0, 1), noise.flatten(0, 1))
    assert torch.equal(offsets[:, 0], torch.zeros(6, 2))
    moved = shift_whole_pixels(layers.flatten(0, 1), offsets).unflatten(0, (3, 2))
    torch.testing.assert_close(clips, moved.amax(dim=1))


def test_only_the_motion_learns_and_it_starts_moving():
    g = small_generator(length=8).train()
    assert not g.image_generator.training
    assert all(not p.requires_grad for p in g.image_generator.parameters())
    z = torch.randn(64, g.z_dim)
    g(z).mean().backward()
    assert all(p.grad is not None for p in g.parameters() if p.requires_grad)
    content, h0, noise = g.split_z(z)
    with torch.no_grad():
        layers = g.image_generator.draw_layers(content).flatten(0, 1)
        speed = g.paths(ink_box(layers), h0.flatten(0, 1), noise.flatten(0, 1)).diff(dim=1)
    assert 1.0 < speed.norm(dim=-1).mean() < 3.0  # about the data's 1.8 px per frame


def test_bad_frame_generators_and_codes_are_named():
    with pytest.raises(ValueError, match="draw_layers"):
        LayerMotionGenerator(FrameGenerator(z_dim=8, size=32, width=4))
    with pytest.raises(ValueError, match="content 16"):
        small_generator()(torch.randn(2, 5))
    with pytest.raises(ValueError, match="give one"):
        video_gan("layer_motion", length=4)
    with pytest.raises(ValueError, match="size, channels"):
        video_gan("layer_motion", length=4, size=64,
                  image_generator=LayeredGenerator(z_dim=16, size=32, width=8))


def test_a_recipe_trains_on_a_shipped_layered_frame_generator(tmp_path):
    shipped = tmp_path / "layered.pt"
    assert train.main(["--config", "frames32,width=8,d_width=8,layers=2,batch_size=4",
                       "--device", "cpu", "--steps", "2", "--out", str(tmp_path / "full.pt"),
                       "--ship", str(shipped), "--ship-weights", "generator"]) == 0
    recipe = ClipRecipe("layers_smoke", "layer_motion", length=4, width=4, batch_size=2,
                        num_clips=64, image_generator=str(shipped))
    tr = build_video_trainer(recipe)
    assert isinstance(tr.generator, LayerMotionGenerator)
    frozen = [p.clone() for p in tr.generator.image_generator.parameters()]
    tr.train(2)
    assert all(torch.equal(a, b) for a, b in
               zip(frozen, tr.generator.image_generator.parameters(), strict=True))
    assert tr.sample(tr.fixed_z[:2]).shape == (2, 1, 4, 32, 32)
    with pytest.raises(ValueError, match="content_motion and layer_motion"):
        build_video_trainer(replace(recipe, model="two_stream"))


def test_same_content_codes_draw_one_first_frame_and_move_it_apart():
    g = small_generator().eval()
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        same_content, same_motion = g(g.same_content_z(3, rng)), g(g.same_motion_z(3, rng))
    assert torch.equal(same_content[:, :, 0], same_content[:1, :, 0].expand(3, -1, -1, -1))
    assert not torch.equal(same_content[0], same_content[1])  # the motions differ
    assert not torch.equal(same_motion[0, :, 0], same_motion[1, :, 0])  # the drawings differ
    c, h0, noise = g.split_z(g.same_motion_z(3, rng))
    assert (h0 == h0[:1]).all() and (noise == noise[:1]).all() and not (c == c[:1]).all()


def small_two_stream(length: int = 5) -> SpriteTwoStreamGenerator:
    torch.manual_seed(0)
    return SpriteTwoStreamGenerator(length, width=4, z_dim=16, glyph=16, refine=2)


def test_the_sprite_two_stream_clip_is_vgans_blend_of_the_moved_glyphs():
    g = small_two_stream().eval()
    z = torch.randn(3, g.z_dim)
    with torch.no_grad():
        video, mask, foreground, background = g.parts(z)
        ink = (g.motion.moved_layers(z).amax(dim=1) + 1) / 2
    assert video.shape == mask.shape == background.shape == (3, 1, 5, 32, 32)
    torch.testing.assert_close(mask, ink)  # grey: the mask is the moved glyphs' ink
    torch.testing.assert_close(video, mask * foreground + (1 - mask) * background)
    assert ((foreground == 1) | (mask == 0)).all()  # grey digits are white where they are
    assert torch.equal(background[:, :, 0], background[:, :, -1])  # the background is still
    black = torch.full_like(background, -1.0)  # on a black background: the glyphs themselves
    torch.testing.assert_close(2 * ink - mask + (1 - mask) * black, g.motion(z).detach())
    assert torch.equal(video, g(z).detach())


def test_the_sprite_two_stream_learns_its_glyphs_from_the_clips():
    g = small_two_stream().train()
    assert g.motion.train_frames and g.motion.image_generator.training
    assert isinstance(g.motion.image_generator, SpriteGenerator)
    g(torch.randn(4, g.z_dim)).mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    gen, d, _ = video_gan("sprite_two_stream", length=4, width=4, d_width=4,
                          z_dim=16, refine=0)
    assert isinstance(gen, SpriteTwoStreamGenerator) and isinstance(d, ImageVideoDiscriminator)
    _, d, _ = video_gan("sprite_two_stream", length=4, width=4, z_dim=16, image_d=False)
    assert isinstance(d, VideoDiscriminator)  # VGAN's single discriminator
