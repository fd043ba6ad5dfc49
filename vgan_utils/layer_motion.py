"""Notebook 05's layered clip generator: every digit drawn once, then moved by whole pixels.

A content/motion generator in MoCoGAN's sense (Tulyakov et al. 2018: content once per clip,
motion from a GRU driven by fresh noise each frame), built on notebook 04's layered frame
generator (:class:`vgan_utils.frame_nets.LayeredGenerator`, after LR-GAN's layers, Yang et al.
2017). The frame generator, frozen, draws the clip's layers once from its own N(0, I) code, so
every clip starts from one of its samples. Each layer (one digit, when the frame generator
learned to draw one per layer) then follows its own path: a GRU per layer turns noise, and
where the layer's ink is now, into a velocity in pixels per frame, and the layer is moved
rigidly by the path's offset *rounded to whole pixels*. Frame t is the maximum of the moved
layers, as a moving-digit frame is the maximum of its digits.

Why whole pixels: the data's digits sit on the pixel grid (:class:`vgan_utils.synthetic.
MovingDigits` floors their positions), and a bilinear shift by a fraction of a pixel blurs a
stroke in a way the frame judge sees at once (``bench/README.md``, "Where `motion32`'s frames
lose their quality"). A whole-pixel shift moves a digit without changing a pixel of it, so the
frames stay the frame generator's. The rounding passes its gradient straight through (Bengio et
al. 2013): the forward pass moves by the rounded offset, the backward pass differentiates a
bilinear shift by the unrounded one. Training starts moving (the velocity head is initialised
to about the data's speed), because a path that starts at zero would round to a still clip and
stay there (``whole_pixels`` in ``bench/README.md``).

:class:`SpriteTwoStreamGenerator` puts the same moving glyphs, drawn by a fresh sprite generator
that learns with its paths, inside VGAN's blend of a foreground and a still background by a
mask (Vondrick et al. 2016): notebook 05's two-stream generator from scratch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .frame_nets import FrameGenerator, SpriteGenerator
from .video_nets import VideoParts, check_z, warp


def ink_box(layers: Tensor) -> Tensor:
    """The box around each layer's ink, ``(M, 4)``: left, right, top, bottom in the frame's
    units (-1 to 1), from ``layers`` ``(M, C, H, W)`` in ``[-1, 1]``; a layer without ink gets
    the box of the whole frame's centre (zeros)."""
    size = layers.shape[-1]
    ink = layers.detach().amax(dim=1) > 0  # (M, H, W)
    coords = (torch.arange(size, device=layers.device, dtype=layers.dtype) + 0.5) * (2 / size) - 1
    cols, rows = ink.any(dim=1), ink.any(dim=2)  # (M, W), (M, H)
    big = torch.tensor(2.0, device=layers.device, dtype=layers.dtype)

    def span(mask: Tensor) -> tuple[Tensor, Tensor]:
        low = torch.where(mask, coords, big).amin(dim=1)
        high = torch.where(mask, coords, -big).amax(dim=1)
        empty = ~mask.any(dim=1)
        return low.masked_fill(empty, 0.0), high.masked_fill(empty, 0.0)

    left, right = span(cols)
    top, bottom = span(rows)
    return torch.stack([left, right, top, bottom], dim=1)


def shift_bilinear(layers: Tensor, offsets: Tensor) -> Tensor:
    """``layers`` ``(M, C, H, W)`` moved by ``offsets`` ``(M, T, 2)`` (x right, y down, in
    pixels) into clips ``(M, C, T, H, W)``, blending neighbouring pixels where an offset is not
    whole; what comes in from outside is black."""
    m, t, _ = offsets.shape
    size = layers.shape[-1]
    flows = (-offsets * (2 / size))[:, :, None, None, :]  # warp samples at p + flow
    return warp(layers, flows.expand(m, t, size, size, 2))


def shift_whole_pixels(layers: Tensor, offsets: Tensor) -> Tensor:
    """:func:`shift_bilinear` by ``offsets`` rounded to whole pixels, so no pixel is blended;
    the offsets' gradient is the bilinear shift's by the unrounded offsets (straight through),
    the layers' the whole-pixel shift's (as :class:`~vgan_utils.frame_nets.SpriteGenerator`
    places its glyphs)."""
    exact = shift_bilinear(layers, offsets.detach().round())
    if not torch.is_grad_enabled() or not offsets.requires_grad:
        return exact
    soft = shift_bilinear(layers.detach(), offsets)  # the layers' gradient comes from `exact`
    return exact + (soft - soft.detach())


class LayerMotionGenerator(nn.Module):
    """z ``(N, z_dim)`` -> clips ``(N, C, length, size, size)``: the layers of a frozen
    :class:`~vgan_utils.frame_nets.LayeredGenerator`, each moved by whole pixels along its own
    path (the module docstring says why).

    The code is the frame generator's (``image_generator.z_dim``: the content), then, for each
    layer, a GRU's initial state (``motion_dim``) and a noise vector per frame after the first
    (``(length - 1) * noise_dim``); all standard normal, so ``torch.randn(N, z_dim)`` samples it.
    At each frame the GRU of a layer reads its noise and where that layer's ink box is now (the
    box drawn at frame 0, moved by the offset so far), so it can learn to turn before a wall; a
    linear head gives the velocity in pixels per frame, and the offset is its running sum
    (frame 0 is the drawn frame itself). ``speed`` sets the head's initial scale: about the
    typical speed of its first velocities. Only the GRU and the head learn, unless
    ``train_frames``: then the frame generator learns with them, from the clips
    (:class:`SpriteTwoStreamGenerator` trains a fresh sprite generator so).
    """

    def __init__(self, image_generator: nn.Module, length: int = 16, motion_dim: int = 16,
                 noise_dim: int = 8, speed: float = 1.8, train_frames: bool = False) -> None:
        super().__init__()
        if not hasattr(image_generator, "draw_layers"):
            raise ValueError("LayerMotionGenerator moves the layers of a layered frame "
                             "generator (frame_nets.LayeredGenerator, a recipe with layers=2); "
                             f"got {type(image_generator).__name__}, which has no draw_layers")
        if length < 1 or min(motion_dim, noise_dim) < 1 or speed <= 0:
            raise ValueError(f"length, motion_dim and noise_dim must be >= 1 and speed > 0; got "
                             f"{length}, {motion_dim}, {noise_dim}, {speed}")
        self.train_frames = train_frames
        self.image_generator = (image_generator if train_frames
                                else image_generator.requires_grad_(False).eval())
        self.layers = image_generator.layers
        self.size, self.channels = image_generator.size, image_generator.channels
        self.length, self.motion_dim, self.noise_dim = length, motion_dim, noise_dim
        self.content_dim = image_generator.z_dim
        self.z_dim = self.content_dim + self.layers * (motion_dim + (length - 1) * noise_dim)
        self.recurrent = nn.GRUCell(noise_dim + 4, motion_dim)
        self.velocity = nn.Linear(motion_dim, 2)
        # The GRU's states lie in (-1, 1), about 0.4 in size at the start: weights of this size
        # give first velocities of about `speed` pixels per frame on average.
        nn.init.normal_(self.velocity.weight, std=2 * speed / motion_dim ** 0.5)
        nn.init.zeros_(self.velocity.bias)

    def train(self, mode: bool = True) -> LayerMotionGenerator:
        """As :meth:`nn.Module.train`, but a frozen frame generator stays in eval mode."""
        super().train(mode)
        if not self.train_frames:
            self.image_generator.eval()
        return self

    def split_z(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z`` -> ``content (N, content_dim)``, ``h0 (N, layers, motion_dim)``,
        ``noise (N, layers, length - 1, noise_dim)``."""
        check_z(z, self.z_dim, f" = content {self.content_dim} + {self.layers} layers x "
                f"(initial state {self.motion_dim} + {self.length - 1} frames x noise "
                f"{self.noise_dim})")
        n, dc, dm = z.shape[0], self.content_dim, self.motion_dim
        motion = z[:, dc:].reshape(n, self.layers, -1)
        return z[:, :dc], motion[..., :dm], motion[..., dm:].reshape(
            n, self.layers, self.length - 1, self.noise_dim)

    def same_content_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes with one content (the frame generator's code) and ``n`` motions: notebook
        05 shows one drawing moved four ways."""
        z = torch.randn(n, self.z_dim, generator=generator)
        z[:, :self.content_dim] = z[:1, :self.content_dim]
        return z

    def same_motion_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes with one motion (initial states and noise) and ``n`` contents. The paths
        still differ a little: each GRU also reads where its layer's ink is."""
        z = torch.randn(n, self.z_dim, generator=generator)
        z[:, self.content_dim:] = z[:1, self.content_dim:]
        return z

    def paths(self, boxes: Tensor, h0: Tensor, noise: Tensor) -> Tensor:
        """Offsets in pixels ``(M, length, 2)`` of ``M`` layers from their ink ``boxes``
        ``(M, 4)``, initial states ``(M, motion_dim)`` and noise ``(M, length - 1, noise_dim)``;
        the first offset is zero."""
        offset = boxes.new_zeros(boxes.shape[0], 2)
        h, offsets = h0, [offset]
        for t in range(self.length - 1):
            moved = boxes + (offset * (2 / self.size)).repeat_interleave(2, dim=1)
            h = self.recurrent(torch.cat([noise[:, t], moved], dim=1), h)
            offset = offset + self.velocity(h)
            offsets.append(offset)
        return torch.stack(offsets, dim=1)

    def moved_layers(self, z: Tensor) -> Tensor:
        """Each layer moved along its path, ``(N, layers, C, length, size, size)`` in [-1, 1]."""
        content, h0, noise = self.split_z(z)
        with torch.set_grad_enabled(self.train_frames and torch.is_grad_enabled()):
            layers = self.image_generator.draw_layers(content).flatten(0, 1)  # (N*L, C, H, W)
        offsets = self.paths(ink_box(layers), h0.flatten(0, 1), noise.flatten(0, 1))
        clips = shift_whole_pixels(layers, offsets)  # (N*L, C, T, H, W)
        return clips.unflatten(0, (z.shape[0], self.layers))

    def forward(self, z: Tensor) -> Tensor:
        return self.moved_layers(z).amax(dim=1)

    def extra_repr(self) -> str:
        return (f"layers={self.layers}, length={self.length}, size={self.size}, "
                f"motion_dim={self.motion_dim}, noise_dim={self.noise_dim}, z_dim={self.z_dim}, "
                f"train_frames={self.train_frames}")


class SpriteTwoStreamGenerator(nn.Module):
    """VGAN's two streams, with a foreground stream that draws each digit once and moves it.

    Vondrick et al. 2016 blend a foreground video ``f`` and a still background ``b`` by a mask
    ``m``: ``video = m * f + (1 - m) * b``. Their foreground stream draws ``f`` and ``m`` with
    3-D transposed convolutions, which must learn every stroke at every place and time; on a
    CPU, in an hour, it drew moving speckles (``data/README.md``). Here the foreground stream
    is a fresh :class:`~vgan_utils.frame_nets.SpriteGenerator` (a glyph per layer, placed by
    whole pixels) whose layers a :class:`LayerMotionGenerator` moves, all of it trained from
    scratch on clips. The mask is the moved glyphs' ink, ``m = max over layers and channels of
    ink``, where ``ink = (layer + 1) / 2``, so it is the digits by construction; ``f`` is the
    ink's colour at full strength (white for grey digits), and ``b`` comes from a small 2-D
    DCGAN stream, as in VGAN. The clip is computed as ``2 * ink - m + (1 - m) * b``, which is
    ``m * f + (1 - m) * b`` without dividing by ``m``; on a black background it is the moved
    glyphs themselves. Notebook 05 teaches it beside VGAN's own (recipe ``two_stream_sprites32``).

    The code is the sprite generator's (``z_dim``, also the background's) followed by the
    motion's (see :class:`LayerMotionGenerator`). ``train_frames=False`` freezes the glyph
    network: recipe ``two_stream_warm32`` first trains it as a frame GAN (a warm-up inside the
    same command, ``ClipRecipe.warmup``), then learns the motion and the background on clips.
    """

    def __init__(self, length: int = 16, size: int = 32, channels: int = 1, width: int = 32,
                 z_dim: int = 100, layers: int = 2, glyph: int = 16, refine: int = 16,
                 background_width: int = 8, motion_dim: int = 16, noise_dim: int = 8,
                 speed: float = 1.8, train_frames: bool = True) -> None:
        super().__init__()
        sprites = SpriteGenerator(z_dim, size, channels, width, layers, glyph, refine=refine,
                                  whole_pixels=True)
        self.motion = LayerMotionGenerator(sprites, length, motion_dim, noise_dim, speed,
                                           train_frames=train_frames)
        self.background_stream = FrameGenerator(z_dim, size, channels, background_width)
        self.z_dim, self.content_dim = self.motion.z_dim, z_dim
        self.length, self.size, self.channels = length, size, channels

    def parts(self, z: Tensor) -> VideoParts:
        """The clip and what it is made of: ``(video, mask, foreground, background)``."""
        ink = (self.motion.moved_layers(z).amax(dim=1) + 1) / 2  # (N, C, T, H, W)
        mask = ink.amax(dim=1, keepdim=True)
        still = self.background_stream(z[:, :self.content_dim])
        background = still.unsqueeze(2).expand(-1, -1, self.length, -1, -1)
        video = 2 * ink - mask + (1 - mask) * background
        foreground = torch.where(mask > 0, 2 * ink / mask.clamp_min(1e-6) - 1, -1.0)
        return VideoParts(video, mask, foreground, background)

    def forward(self, z: Tensor) -> Tensor:
        """Clips ``(N, channels, length, size, size)`` in ``[-1, 1]`` from ``z`` ``(N, z_dim)``."""
        return self.parts(z).video

    def same_content_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes with one content (glyphs, places, background) and ``n`` motions."""
        return self.motion.same_content_z(n, generator)

    def same_motion_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes with one motion and ``n`` contents."""
        return self.motion.same_motion_z(n, generator)
