"""Generators and discriminators of whole clips: what turns a frame GAN into a video GAN.

Two ways to give a generator time, both taught in ``notebooks/05_frames_to_clips.ipynb``:

* :class:`TwoStreamGenerator` -- Vondrick, Pirsiavash & Torralba 2016, "Generating Videos
  with Scene Dynamics" (NeurIPS; "VGAN"). A 3-D transposed-convolution *foreground* stream
  ends in two heads, a foreground video ``f`` (tanh) and a mask ``m`` (sigmoid); a 2-D
  *background* stream draws one still image ``b``, repeated over time. The clip is
  ``m * f + (1 - m) * b``; an L1 penalty on the mask (:func:`mask_sparsity_penalty`, weight
  0.1 in the paper) pushes the generator to use the static background where it can.
* :class:`ContentMotionGenerator` -- Tulyakov, Liu, Yang & Kautz 2018, "MoCoGAN: Decomposing
  Motion and Content for Video Generation" (CVPR). One *content* code per clip, a *motion*
  code per frame from a recurrent network (a GRU cell) driven by fresh noise each frame, and
  a per-frame image generator fed ``concat(content, motion_t)``. The image generator is
  pluggable: a trained frame generator from notebook 04 can be reused, so the model only has
  to learn motion. MoCoGAN judges clips with two discriminators: an image discriminator on
  single frames and a video discriminator (:class:`VideoDiscriminator`) on whole clips.

:class:`VideoDiscriminator` is the 3-D convolutional discriminator of VGAN (strided
``Conv3d``, LeakyReLU 0.2, BatchNorm, no sigmoid: it returns logits of shape ``(N,)``).
Layers and initialisation follow DCGAN -- Radford, Metz & Chintala 2016, "Unsupervised
Representation Learning with Deep Convolutional GANs".

Clips are ``(N, C, T, H, W)`` floats in ``[-1, 1]``; generators take latent codes ``(N, z_dim)``.
Sizes are ``4 * 2**k`` (32 and 64 in the course); clip lengths are any positive integer (8, 16
and 32 in the course). Training them with :class:`vgan_utils.training.GANTrainer`:
:mod:`vgan_utils.video_training`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

NORMS = ("auto", "batch", "none")
VGAN_MASK_WEIGHT = 0.1  # lambda of the mask's L1 penalty in Vondrick et al. 2016


# --- checks and small helpers ---------------------------------------------------------------

def check_clips(x: Tensor, channels: int, length: int, size: int, what: str = "clips") -> None:
    """Raise ValueError naming the expected ``(N, C, T, H, W)`` shape unless ``x`` has it."""
    expected = (channels, length, size, size)
    if isinstance(x, Tensor) and x.dim() == 5 and tuple(x.shape[1:]) == expected:
        return
    shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
    hint = ""
    if isinstance(x, Tensor) and x.dim() == 5 and tuple(x.shape[1:3]) == (length, channels):
        hint = " (this looks like (N, T, C, H, W): use x.permute(0, 2, 1, 3, 4))"
    elif isinstance(x, Tensor) and x.dim() == 4 and tuple(x.shape) == expected:
        hint = " (one clip without the batch axis: use x.unsqueeze(0))"
    raise ValueError(f"expected {what} of shape (N, C, T, H, W) = (N, {channels}, {length}, "
                     f"{size}, {size}), got {shape}{hint}")


def check_z(z: Tensor, z_dim: int, layout: str = "") -> None:
    """Raise ValueError naming the expected ``(N, z_dim)`` shape unless ``z`` has it."""
    if isinstance(z, Tensor) and z.dim() == 2 and z.shape[1] == z_dim and z.shape[0] > 0:
        return
    shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
    raise ValueError(f"expected latent codes z of shape (N, {z_dim}){layout}, got {shape}")


def upsampling_steps(size: int) -> int:
    """Number of stride-2 layers between a 4x4 map and ``size`` (which must be 4 * 2**k)."""
    k = round(math.log2(size / 4)) if size >= 8 else 0
    if k < 1 or 4 * 2**k != size:
        raise ValueError(f"size must be 4 * 2**k with k >= 1 (8, 16, 32, 64, ...), got {size}")
    return k


def time_doublings(length: int, steps: int) -> int:
    """How many of ``steps`` upsampling layers also double time: the most that divide
    ``length`` (16 frames over 3 layers: 3 doublings from 2 frames; 20 over 4: 2, from 5)."""
    if length < 1:
        raise ValueError(f"clip length must be >= 1, got {length}")
    d = 0
    while d < steps and length % 2 ** (d + 1) == 0:
        d += 1
    return d


UPSAMPLE = ("transpose", "nearest")  # how the clip generators double a size


def _up3d(c_in: int, c_out: int, double_time: bool, bias: bool = False,
          upsample: str = "transpose") -> nn.Module:
    """A layer doubling H and W, and T when ``double_time`` (else T unchanged).

    ``"transpose"``: a transposed 3-D convolution (VGAN's). ``"nearest"``: nearest-neighbour
    upsampling then a 3x3x3 convolution, which gives every output voxel the same kernel taps
    and so draws no checkerboard (Odena, Dumoulin & Olah 2016, "Deconvolution and checkerboard
    artifacts"), for about three times the layer's arithmetic.
    """
    check_upsample(upsample)
    if upsample == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=(2 if double_time else 1, 2, 2)),
                             nn.Conv3d(c_in, c_out, 3, 1, 1, bias=bias))
    kt, st = (4, 2) if double_time else (3, 1)
    return nn.ConvTranspose3d(c_in, c_out, (kt, 4, 4), (st, 2, 2), (1, 1, 1), bias=bias)


def _up2d(c_in: int, c_out: int, bias: bool = False, upsample: str = "transpose") -> nn.Module:
    """:func:`_up3d` for images: H and W doubled (VGAN's static background stream)."""
    check_upsample(upsample)
    if upsample == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, 1, 1,
                                                                    bias=bias))
    return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)


def check_upsample(upsample: str) -> None:
    """A clear error for an unknown ``upsample`` (a recipe's ``model_kw``)."""
    if upsample not in UPSAMPLE:
        raise ValueError(f"upsample must be one of {UPSAMPLE}, got {upsample!r}")


def dcgan_init_(module: nn.Module) -> nn.Module:
    """DCGAN initialisation in place: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02),
    biases 0 (Radford et al. 2016). Recurrent cells keep PyTorch's default."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d,
                          nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


# --- the two-stream generator (Vondrick et al. 2016) -----------------------------------------

class VideoParts(NamedTuple):
    """What :meth:`TwoStreamGenerator.parts` returns, all ``(N, ., T, H, W)``.

    ``video = mask * foreground + (1 - mask) * background``; ``mask`` has one channel in
    ``[0, 1]``; ``background`` is one still image per clip, expanded (not copied) over time.
    """

    video: Tensor
    mask: Tensor
    foreground: Tensor
    background: Tensor


class _L1PenaltyGrad(torch.autograd.Function):
    """Identity forward; backward adds the gradient of ``weight * mean(|m|)``.

    The authors' Torch code puts the mask penalty *inside* the network this way
    (``nn.L1Penalty(0.1, true)`` after the sigmoid), so any GAN loop trains with it.
    """

    @staticmethod
    def forward(ctx, mask: Tensor, weight: float) -> Tensor:
        ctx.save_for_backward(mask)
        ctx.weight = weight
        return mask.view_as(mask)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (mask,) = ctx.saved_tensors
        return grad + ctx.weight * torch.sign(mask) / mask.numel(), None


class _WholePixelPenaltyGrad(torch.autograd.Function):
    """Identity forward on a flow ``(N, T, H, W, 2)`` in pixels; backward adds the gradient of
    :func:`whole_pixel_penalty` (``ink`` held fixed), taken by autograd from that one formula,
    so that any GAN loop trains with it (as :class:`_L1PenaltyGrad` does VGAN's mask penalty)."""

    @staticmethod
    def forward(ctx, pixels: Tensor, ink: Tensor, weight: float) -> Tensor:
        ctx.save_for_backward(pixels, ink)
        ctx.weight = weight
        return pixels.view_as(pixels)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        pixels, ink = ctx.saved_tensors
        with torch.enable_grad():
            x = pixels.detach().requires_grad_()
            (extra,) = torch.autograd.grad(whole_pixel_penalty(x, ink, ctx.weight), x)
        return grad + extra, None, None


def whole_pixel_penalty(pixels: Tensor, ink: Tensor, weight: float) -> Tensor:
    """How far an inked flow lies from whole pixels: ``weight * mean(ink * sin^2(pi * d))``.

    ``pixels`` ``(N, T, H, W, 2)`` are displacements in pixels, ``ink`` ``(N, T, H, W, 1)`` in
    ``[0, 1]`` says where the moved frame draws (zero where it is background). It is zero
    where every inked displacement is a whole number, and largest at half pixels, where a
    bilinear warp blends a stroke with its neighbour (the blur ``bench/README.md`` measures).
    Weighting by ink lets the flow change from one whole number to another in the background,
    between digits that move apart.
    """
    return weight * (ink * torch.sin(torch.pi * pixels).square()).mean()


def mask_sparsity_penalty(mask: Tensor, weight: float = VGAN_MASK_WEIGHT) -> Tensor:
    """The L1 sparsity penalty on VGAN's mask: ``weight * mean(|m|)`` (Vondrick et al. 2016).

    The paper writes ``lambda * ||m||_1`` with lambda = 0.1; the authors' code averages over
    the mask's elements (``nn.L1Penalty(0.1, true)``), as here, so the value is in
    ``[0, weight]`` whatever the clip size. Added to the generator's loss, it makes the
    generator prefer the static background wherever nothing moves.
    """
    return weight * mask.abs().mean()


def video_stream(z_dim: int, length: int, size: int, width: int, upsample: str = "transpose"
                 ) -> tuple[nn.Sequential, bool]:
    """3-D transposed convolutions from ``z`` (as a ``(z_dim, 1, 1, 1)`` block) to features at
    half the clip's size, and whether the last layer (the caller's head) must double time.

    A ``(T0, 4, 4)`` block first, then each layer doubles H and W (and T while it must grow),
    BatchNorm + ReLU; ``width`` is the last layer's channel count, doubling towards the input.
    VGAN's foreground stream and the one-stream baseline both start with it. ``upsample``: see
    :func:`_up3d`.
    """
    steps = upsampling_steps(size)
    doublings = time_doublings(length, steps)
    t0 = length // 2**doublings
    chans = [width * 2 ** (steps - 1 - i) for i in range(steps)]  # e.g. 128, 64, 32
    layers: list[nn.Module] = [nn.ConvTranspose3d(z_dim, chans[0], (t0, 4, 4), bias=False),
                               nn.BatchNorm3d(chans[0]), nn.ReLU(True)]
    for i in range(steps - 1):
        layers += [_up3d(chans[i], chans[i + 1], i < doublings, upsample=upsample),
                   nn.BatchNorm3d(chans[i + 1]), nn.ReLU(True)]
    return nn.Sequential(*layers), steps - 1 < doublings


class OneStreamGenerator(nn.Module):
    """The clip DCGAN a student writes first: 3-D transposed convolutions from z to a clip.

    VGAN's "one stream" baseline (Vondrick et al. 2016, section 4.1): the foreground stream of
    :class:`TwoStreamGenerator` alone, ending in a tanh clip, with no mask and no static
    background, so every pixel of every frame is drawn anew. ``bench/race.py`` races it as
    ``clip_dcgan``; taught in ``notebooks/05_frames_to_clips.ipynb``. ``upsample``: as for
    :func:`video_stream`.
    """

    def __init__(self, z_dim: int = 100, length: int = 16, size: int = 32, channels: int = 1,
                 width: int = 32, upsample: str = "transpose") -> None:
        super().__init__()
        self.z_dim, self.length, self.size, self.channels = z_dim, length, size, channels
        self.width, self.upsample = width, upsample
        stream, last_doubles = video_stream(z_dim, length, size, width, upsample)
        self.net = nn.Sequential(*stream, _up3d(width, channels, last_doubles, True, upsample),
                                 nn.Tanh())
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        """Clips ``(N, channels, length, size, size)`` in ``[-1, 1]`` from ``z`` ``(N, z_dim)``."""
        check_z(z, self.z_dim)
        return self.net(z[:, :, None, None, None])

    def extra_repr(self) -> str:
        return (f"z_dim={self.z_dim}, length={self.length}, size={self.size}, "
                f"channels={self.channels}, width={self.width}")


class TwoStreamGenerator(nn.Module):
    """VGAN's generator: a moving foreground over a static background, blended by a mask.

    Vondrick et al. 2016, "Generating Videos with Scene Dynamics". ``z`` of shape
    ``(N, z_dim)`` feeds both streams:

    * foreground: ``ConvTranspose3d`` from a ``(T0, 4, 4)`` block, doubling H and W (and T
      while it must grow) each layer, BatchNorm + ReLU; two heads, a tanh foreground video
      with ``channels`` channels and a sigmoid mask with one;
    * background: the same widths in 2-D, ending in a tanh image repeated over time.

    ``width`` is the channel count of the last hidden layer (64 in the paper); it doubles
    per layer towards the input. ``mask_weight > 0`` applies the mask's L1 penalty the way the
    authors' code does: inside the network, adding its gradient in backward whenever the
    generator runs in training mode with gradients on (so the generic
    :class:`~vgan_utils.training.GANTrainer` trains with it); :attr:`last_mask_penalty` keeps
    the penalty's value for the last such forward. ``upsample="nearest"`` doubles sizes by
    nearest-neighbour upsampling and a convolution in both streams (:func:`_up3d`; raced in
    ``bench/README.md``, not adopted). Taught in ``notebooks/05_frames_to_clips.ipynb``.
    """

    def __init__(self, z_dim: int = 100, length: int = 16, size: int = 32, channels: int = 1,
                 width: int = 32, mask_weight: float = 0.0, upsample: str = "transpose") -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
        if mask_weight < 0:
            raise ValueError(f"mask_weight must be >= 0, got {mask_weight}")
        self.z_dim, self.length, self.size, self.channels = z_dim, length, size, channels
        self.width, self.mask_weight = width, float(mask_weight)
        self.upsample = upsample
        self.last_mask_penalty: Tensor | None = None
        self.foreground_stream, last_doubles = video_stream(z_dim, length, size, width, upsample)
        chans = [m.num_features for m in self.foreground_stream if isinstance(m, nn.BatchNorm3d)]
        bg: list[nn.Module] = [nn.ConvTranspose2d(z_dim, chans[0], 4, bias=False),
                               nn.BatchNorm2d(chans[0]), nn.ReLU(True)]
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            bg += [_up2d(c_in, c_out, upsample=upsample), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        self.foreground_head = nn.Sequential(
            _up3d(width, channels, last_doubles, True, upsample), nn.Tanh())
        self.mask_head = nn.Sequential(_up3d(width, 1, last_doubles, True, upsample),
                                       nn.Sigmoid())
        self.background_stream = nn.Sequential(
            *bg, _up2d(width, channels, True, upsample), nn.Tanh())
        dcgan_init_(self)

    def parts(self, z: Tensor) -> VideoParts:
        """The clip and what it is made of: ``(video, mask, foreground, background)``."""
        check_z(z, self.z_dim)
        h = self.foreground_stream(z[:, :, None, None, None])
        foreground = self.foreground_head(h)
        mask = self.mask_head(h)
        if self.mask_weight > 0 and self.training and torch.is_grad_enabled():
            self.last_mask_penalty = mask_sparsity_penalty(mask.detach(), self.mask_weight)
            mask = _L1PenaltyGrad.apply(mask, self.mask_weight)
        still = self.background_stream(z[:, :, None, None])
        background = still.unsqueeze(2).expand(-1, -1, self.length, -1, -1)
        video = mask * foreground + (1 - mask) * background
        return VideoParts(video, mask, foreground, background)

    def forward(self, z: Tensor) -> Tensor:
        """Clips ``(N, channels, length, size, size)`` in ``[-1, 1]`` from ``z`` ``(N, z_dim)``."""
        return self.parts(z).video

    def extra_repr(self) -> str:
        return (f"z_dim={self.z_dim}, length={self.length}, size={self.size}, "
                f"channels={self.channels}, width={self.width}, mask_weight={self.mask_weight}, "
                f"upsample={self.upsample!r}")


# --- the spatio-temporal discriminator ----------------------------------------------------------

class VideoDiscriminator(nn.Module):
    """A 3-D convolutional discriminator: clips ``(N, C, T, H, W)`` to logits ``(N,)``.

    VGAN's discriminator (Vondrick et al. 2016), used as MoCoGAN's video discriminator too:
    ``Conv3d`` with 4x4x4 kernels and stride 2 halve H and W (and T while it is even), widths
    ``width, 2 width, ...``, LeakyReLU(0.2); a last ``Conv3d`` over the remaining
    ``(T', 4, 4)`` block gives one logit per clip -- no sigmoid, the losses take logits.
    ``norm`` and ``spectral_norm`` mean what they mean for notebook 02's
    :class:`~vgan_utils.frame_nets.FrameDiscriminator`: ``"batch"`` (DCGAN, VGAN; not on the
    first layer), ``"none"`` (for a gradient penalty, which BatchNorm's coupling of a batch's
    samples breaks), ``"auto"`` = batch unless ``spectral_norm``, which wraps every conv in
    spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative
    Adversarial Networks"). Taught in ``notebooks/05_frames_to_clips.ipynb``.
    """

    def __init__(self, length: int = 16, size: int = 32, channels: int = 1, width: int = 32,
                 spectral_norm: bool = False, norm: str = "auto") -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if length < 1:
            raise ValueError(f"clip length must be >= 1, got {length}")
        self.length, self.size, self.channels, self.width = length, size, channels, width
        self.spectral_norm = spectral_norm
        self.norm = ("none" if spectral_norm else "batch") if norm == "auto" else norm
        wrap = _spectral_norm if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        t, c_in = length, channels
        for i in range(upsampling_steps(size)):
            c_out = width * 2**i
            kt, st = (4, 2) if t % 2 == 0 else (3, 1)
            batch_norm = self.norm == "batch" and i > 0
            layers.append(wrap(nn.Conv3d(c_in, c_out, (kt, 4, 4), (st, 2, 2), 1,
                                         bias=not batch_norm)))
            if batch_norm:
                layers.append(nn.BatchNorm3d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            t, c_in = t // st, c_out
        layers.append(wrap(nn.Conv3d(c_in, 1, (t, 4, 4))))
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N,)``: higher means "looks like a real clip"."""
        check_clips(x, self.channels, self.length, self.size)
        return self.net(x).flatten()

    def extra_repr(self) -> str:
        return (f"length={self.length}, size={self.size}, channels={self.channels}, "
                f"width={self.width}, norm={self.norm!r}, spectral_norm={self.spectral_norm}")


# --- the content/motion generator (Tulyakov et al. 2018) --------------------------------------

LOGIT_BACKGROUND = -10.0  # what a warp of logits brings in from outside: tanh(-10) is -1 in float32


def warp(frames: Tensor, flows: Tensor, background: float = -1.0) -> Tensor:
    """Frames ``(N, C, H, W)`` in ``[-1, 1]`` warped by ``flows`` ``(N, T, H, W, 2)`` into clips
    ``(N, C, T, H, W)``: pixel p of frame t is the frame's value at ``p + flow_t(p)`` (x then y,
    in grid_sample's units: the frame spans -1 to 1, so one pixel is ``2 / W``). What comes in
    from outside the frame is ``background`` (-1 for pixels; a very negative number for the
    logits before a ``tanh``), not grey.
    """
    n, t, h, w, _ = flows.shape
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=frames.device, dtype=frames.dtype)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=frames.device, dtype=frames.dtype)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2): x, y
    source = (frames - background).repeat_interleave(t, dim=0)  # (N*T, C, H, W), background 0
    moved = nn.functional.grid_sample(source, (grid + flows).reshape(n * t, h, w, 2),
                                      mode="bilinear", padding_mode="zeros",
                                      align_corners=False)
    return (moved + background).reshape(n, t, *frames.shape[1:]).transpose(1, 2)


def per_frame(fn, clips: Tensor) -> Tensor:
    """``fn`` (frames ``(M, C, H, W)`` -> frames of the same shape) applied to every frame of
    ``clips`` ``(N, C, T, H, W)``."""
    n, c, t, h, w = clips.shape
    frames = fn(clips.transpose(1, 2).reshape(n * t, c, h, w))
    return frames.reshape(n, t, c, h, w).transpose(1, 2)


def default_image_generator(z_dim: int, size: int, channels: int, width: int) -> nn.Module:
    """Notebook 02/04's DCGAN frame generator, ``(N, z_dim)`` -> ``(N, C, size, size)``."""
    from .frame_nets import FrameGenerator

    return FrameGenerator(z_dim, size, channels, width)


def default_image_discriminator(size: int = 32, channels: int = 1, width: int = 32,
                                **kw) -> nn.Module:
    """MoCoGAN's image discriminator: notebook 02/04's DCGAN frame discriminator, which
    judges single frames ``(N, C, size, size)`` -> logits."""
    from .frame_nets import FrameDiscriminator

    return FrameDiscriminator(size=size, channels=channels, width=width, **kw)


class ContentMotionGenerator(nn.Module):
    """MoCoGAN's generator: one content code per clip, one motion code per frame.

    Tulyakov et al. 2018, "MoCoGAN: Decomposing Motion and Content for Video Generation".
    The latent code of a clip is the concatenation of three standard-normal parts (so a plain
    ``torch.randn(N, z_dim)`` samples it, and the engine's fixed codes fix content *and*
    motion):

    * ``content`` ``(N, content_dim)``: shared by every frame of the clip;
    * ``h0`` ``(N, motion_dim)``: the GRU's initial state;
    * ``noise`` ``(N, length, noise_dim)``: the GRU's input at each frame.

    The motion code of frame t is the GRU state ``h_t = GRUCell(noise_t, h_{t-1})``; frame t
    is ``image_generator(concat(content, h_t))``. ``image_generator`` maps
    ``(M, content_dim + motion_dim)`` codes to ``(M, channels, size, size)`` frames in
    ``[-1, 1]``; by default a new DCGAN frame generator (:mod:`vgan_utils.frame_nets`), or pass
    notebook 04's trained one (its ``z_dim`` must equal ``content_dim + motion_dim``) so that
    only motion is left to learn. A passed-in generator keeps its weights.
    :meth:`same_content_z` and :meth:`same_motion_z` build codes that vary one factor only.

    ``motion_to="all"`` also adds a learned linear map of ``h_t`` to the *whole* code
    (zero at the start, so the generator starts as MoCoGAN's): a trained image generator's
    latent dimensions each mix what is drawn and where, so motion confined to its own
    ``motion_dim`` dimensions cannot move a digit without changing it; the map lets training
    find directions that move it.

    ``motion_to="flow"`` instead moves pixels, not codes: the image generator draws one frame
    per clip, from the content and the first motion state, and frame t is that frame warped by
    a coarse flow field (``flow_grid`` x ``flow_grid`` displacements, bilinearly upsampled) that
    a small network computes from the clip's codes and ``h_t`` -- texture once, motion as
    optical flow, after Ohnishi et al. 2018, "Hierarchical Video Generation from Orthogonal
    Information: Optical Flow and Texture". Its last layer starts at zero (a still clip). A
    digit is moved, and may be stretched, but never redrawn as another (ACD measures what is
    left: notebook 05). Taught in ``notebooks/05_frames_to_clips.ipynb``.

    ``freeze_image=True`` keeps the image generator as it was passed in: its weights get no
    gradient and its batch-norm layers stay in eval mode (their running statistics, as when
    it samples frames alone), so that only motion is learned. Raced against training it
    (``bench/README.md``), freezing lost: the frames still got worse, likely through the
    codes the GRU feeds the frozen generator.

    ``flow_from="content"`` (flow only) draws the clip's one frame from the content code
    alone, so the image generator takes ``content_dim`` numbers: the whole standard-normal code
    a pretrained frame generator was trained on, where MoCoGAN's layout hands it a GRU state,
    which lies in (-1, 1) and drifts as the GRU trains. Content is then the frame (exactly one
    of the frame generator's samples when frozen), and motion only moves it.

    ``whole_pixels=True`` (flow only) rounds each displacement to whole pixels in the forward
    pass and passes the gradient straight through the rounding (the straight-through estimator
    of Bengio et al. 2013), so a frame is moved but never resampled between pixels: a bilinear
    shift by half a pixel blurs every stroke, which moves the frame judge's FD / floor of
    ``data/frames32.pt`` from 38 to about 250 (``bench/README.md``).

    ``warp_logits=True`` (flow only; the image generator must be a ``FrameGenerator``) warps the
    frame before its last activation and applies the activation after: blending a stroke's
    logits with the background's, far more negative, thins the stroke where blending pixels
    greys it, and halves what a bilinear shift costs the frame judge. Raced against warping
    pixels and not adopted: the clips lost (``bench/README.md``).

    ``whole_pixel_weight=w`` (flow only, bilinear warp of pixels) trains the flow towards whole
    pixels where the clip draws: the generator's loss gains ``w * mean(ink * sin^2(pi * d))``
    (:func:`whole_pixel_penalty`, ``d`` each displacement in pixels, ``ink`` the moved frame's
    brightness, dilated by a pixel), added to the flow's gradient during training as VGAN's
    mask penalty is; :attr:`last_whole_pixel_penalty` keeps its value. Unlike
    ``whole_pixels``, the warp stays bilinear and has a gradient, and between digits the flow
    may change smoothly from one whole number to another. Raced from a still start at weights
    300 and 3,000, it held the flow at its nearest whole number, zero: the clips froze, and it
    was not adopted (``bench/README.md``).

    ``snap`` (flow only): a trained :class:`vgan_utils.snap.GridSnap`, kept frozen, that
    redraws every moved frame on the pixel grid the data's digits sit on, where the bilinear
    warp blended a digit moved by a fraction of a pixel. Its gradient is passed straight
    through (a perfect snap is flat between two grid positions, so its own gradient would give
    the flow none): the discriminators see snapped frames, and the flow learns as without it.
    """

    def __init__(self, length: int = 16, size: int = 32, channels: int = 1,
                 content_dim: int = 50, motion_dim: int = 10, noise_dim: int | None = None,
                 width: int = 32, image_generator: nn.Module | None = None,
                 motion_to: str = "own", flow_grid: int = 8, flow_hidden: int = 128,
                 freeze_image: bool = False, flow_from: str = "state",
                 whole_pixels: bool = False, warp_logits: bool = False,
                 whole_pixel_weight: float = 0.0, snap: nn.Module | None = None) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f"clip length must be >= 1, got {length}")
        if min(content_dim, motion_dim) < 1:
            raise ValueError("content_dim and motion_dim must be >= 1")
        if motion_to not in ("own", "all", "flow"):
            raise ValueError(f"motion_to must be 'own' (MoCoGAN: the motion code fills its "
                             f"own dimensions), 'all' (also a learned map into every "
                             f"dimension) or 'flow' (one frame per clip, warped), "
                             f"got {motion_to!r}")
        if flow_from not in ("state", "content") or (flow_from != "state" and motion_to != "flow"):
            raise ValueError(f"flow_from must be 'state' (the frame is drawn from the content "
                             f"and the first GRU state, as MoCoGAN) or, with motion_to='flow', "
                             f"'content' (from the content code alone); got {flow_from!r} with "
                             f"motion_to={motion_to!r}")
        self.length, self.size, self.channels, self.width = length, size, channels, width
        self.content_dim, self.motion_dim = content_dim, motion_dim
        self.noise_dim = motion_dim if noise_dim is None else noise_dim
        self.z_dim = content_dim + motion_dim + length * self.noise_dim
        self.recurrent = nn.GRUCell(self.noise_dim, motion_dim)
        if whole_pixels and motion_to != "flow":
            raise ValueError(f"whole_pixels rounds a flow: it needs motion_to='flow', "
                             f"got {motion_to!r}")
        if warp_logits and motion_to != "flow":
            raise ValueError(f"warp_logits warps a frame: it needs motion_to='flow', "
                             f"got {motion_to!r}")
        if whole_pixel_weight < 0 or (whole_pixel_weight > 0 and (
                motion_to != "flow" or whole_pixels or warp_logits)):
            raise ValueError(f"whole_pixel_weight pulls a bilinear flow of pixels towards whole "
                             f"pixels: it needs a weight >= 0, motion_to='flow', and neither "
                             f"whole_pixels nor warp_logits; got {whole_pixel_weight} with "
                             f"motion_to={motion_to!r}, whole_pixels={whole_pixels}, "
                             f"warp_logits={warp_logits}")
        if snap is not None and motion_to != "flow":
            raise ValueError(f"snap redraws moved frames: it needs motion_to='flow', "
                             f"got {motion_to!r}")
        self.motion_to, self.flow_from, self.whole_pixels = motion_to, flow_from, whole_pixels
        self.warp_logits, self.whole_pixel_weight = warp_logits, whole_pixel_weight
        self.last_whole_pixel_penalty: Tensor | None = None
        if motion_to == "all":
            self.motion_map = nn.Linear(motion_dim, content_dim + motion_dim, bias=False)
            nn.init.zeros_(self.motion_map.weight)
        if motion_to == "flow":
            self.flow_grid = flow_grid
            self.flow_net = nn.Sequential(
                nn.Linear(content_dim + 2 * motion_dim, flow_hidden), nn.ReLU(),
                nn.Linear(flow_hidden, flow_hidden), nn.ReLU(),
                nn.Linear(flow_hidden, 2 * flow_grid * flow_grid))
            nn.init.zeros_(self.flow_net[-1].weight)
            nn.init.zeros_(self.flow_net[-1].bias)
        if image_generator is None:
            image_generator = default_image_generator(self.frame_code_dim, size, channels, width)
        if warp_logits and not hasattr(image_generator, "logits"):
            raise ValueError("warp_logits needs an image generator that gives its frames "
                             "before the last activation (a FrameGenerator: .logits, .net[-1]); "
                             f"got {type(image_generator).__name__}")
        self.image_generator = image_generator
        self.freeze_image = freeze_image
        if freeze_image:
            image_generator.requires_grad_(False)
            image_generator.eval()
        self.snap = snap
        if snap is not None:
            snap.requires_grad_(False)
            snap.eval()

    def train(self, mode: bool = True) -> ContentMotionGenerator:
        """As :meth:`nn.Module.train`, but a frozen image generator and a snap stay in eval
        mode."""
        super().train(mode)
        if self.freeze_image:
            self.image_generator.eval()
        if self.snap is not None:
            self.snap.eval()
        return self

    @property
    def frame_code_dim(self) -> int:
        """The image generator's code size: the content, and a motion state unless
        ``flow_from="content"``."""
        return self.content_dim + (self.motion_dim if self.flow_from == "state" else 0)

    # the latent code --------------------------------------------------------------------------

    def _layout(self) -> str:
        return (f" = content {self.content_dim} + initial motion state {self.motion_dim} + "
                f"{self.length} frames x noise {self.noise_dim}")

    def split_z(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z`` ``(N, z_dim)`` -> ``content (N, Dc)``, ``h0 (N, Dm)``, ``noise (N, T, De)``."""
        check_z(z, self.z_dim, self._layout())
        dc, dm = self.content_dim, self.motion_dim
        return z[:, :dc], z[:, dc:dc + dm], z[:, dc + dm:].reshape(-1, self.length,
                                                                    self.noise_dim)

    def join_z(self, content: Tensor, h0: Tensor, noise: Tensor) -> Tensor:
        """Inverse of :meth:`split_z` (parts with one row are broadcast to the others)."""
        n = max(content.shape[0], h0.shape[0], noise.shape[0])
        parts = [content.expand(n, -1), h0.expand(n, -1), noise.expand(n, -1, -1).flatten(1)]
        return torch.cat(parts, dim=1)

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes, every part standard normal (a ``z_sampler`` for the engine)."""
        return torch.randn(n, self.z_dim, generator=generator)

    def same_content_z(self, n: int, generator: torch.Generator | None = None,
                       content: Tensor | None = None) -> Tensor:
        """``n`` codes with one content (given ``(1, Dc)`` or drawn) and ``n`` motions."""
        c, h0, noise = self.split_z(self.sample_z(n, generator))
        return self.join_z(c[:1] if content is None else content.reshape(1, -1), h0, noise)

    def same_motion_z(self, n: int, generator: torch.Generator | None = None,
                      motion: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """``n`` codes with one motion (``(h0, noise)`` given or drawn) and ``n`` contents."""
        c, h0, noise = self.split_z(self.sample_z(n, generator))
        if motion is None:
            h0, noise = h0[:1], noise[:1]
        else:
            h0, noise = motion[0].reshape(1, -1), motion[1].reshape(1, self.length, -1)
        return self.join_z(c, h0, noise)

    # generating ---------------------------------------------------------------------------------

    def motion_codes(self, h0: Tensor, noise: Tensor) -> Tensor:
        """The GRU's states ``(N, T, motion_dim)``, one motion code per frame."""
        h, codes = h0, []
        for t in range(noise.shape[1]):
            h = self.recurrent(noise[:, t], h)
            codes.append(h)
        return torch.stack(codes, dim=1)

    def render(self, content: Tensor, motion: Tensor) -> Tensor:
        """Frames from codes: ``content (N, Dc)``, ``motion (N, T, Dm)`` -> ``(N, C, T, H, W)``."""
        if self.motion_to == "flow":
            return self._render_flow(content, motion)
        n, t = motion.shape[:2]
        codes = torch.cat([content[:, None].expand(-1, t, -1), motion], dim=2)
        if self.motion_to == "all":
            codes = codes + self.motion_map(motion)
        frames = self.image_generator(codes.reshape(n * t, -1))
        if frames.dim() != 4 or frames.shape[0] != n * t:
            raise ValueError(f"image_generator must return frames (N*T, C, H, W) = "
                             f"({n * t}, C, H, W), got {tuple(frames.shape)}")
        return frames.reshape(n, t, *frames.shape[1:]).transpose(1, 2)

    def flows(self, content: Tensor, motion: Tensor) -> Tensor:
        """Each frame's displacement field ``(N, T, size, size, 2)``, in grid_sample's units
        (the frame spans -1 to 1), from a ``flow_grid`` x ``flow_grid`` grid upsampled."""
        n, t = motion.shape[:2]
        first = motion[:, :1].expand(-1, t, -1)
        codes = torch.cat([content[:, None].expand(-1, t, -1), first, motion], dim=2)
        coarse = self.flow_net(codes).reshape(n * t, 2, self.flow_grid, self.flow_grid)
        fine = nn.functional.interpolate(coarse, size=(self.size, self.size), mode="bilinear",
                                         align_corners=False)
        if self.whole_pixels:  # in pixels, rounded forward, straight through backward
            pixels = fine * (self.size / 2)
            fine = (pixels + (pixels.round() - pixels).detach()) * (2 / self.size)
        return fine.permute(0, 2, 3, 1).reshape(n, t, self.size, self.size, 2)

    def frame_code(self, content: Tensor, motion: Tensor) -> Tensor:
        """The image generator's code for a clip's one frame (``motion_to="flow"``):
        ``(content, h_1)``, or ``content`` alone if ``flow_from="content"``."""
        return content if self.flow_from == "content" else torch.cat([content, motion[:, 0]], 1)

    def _render_flow(self, content: Tensor, motion: Tensor) -> Tensor:
        """The clip's one frame (:meth:`frame_code`), warped by each frame's flow (and
        snapped, with ``snap``)."""
        code = self.frame_code(content, motion)
        if not self.warp_logits:
            frame, flows = self.image_generator(code), self.flows(content, motion)
            if self.whole_pixel_weight > 0 and self.training and torch.is_grad_enabled():
                flows = self._pull_to_whole_pixels(frame, flows)
            return self._snapped(warp(frame, flows))
        logits = self.image_generator.logits(code)  # (N, C, H, W), before the activation
        moved = warp(logits, self.flows(content, motion), LOGIT_BACKGROUND)
        return self._snapped(self.image_generator.net[-1](moved))

    def _snapped(self, clips: Tensor) -> Tensor:
        """``clips`` with every frame redrawn by ``snap`` (if any), the gradient straight
        through."""
        if self.snap is None:
            return clips
        with torch.no_grad():
            snapped = per_frame(self.snap, clips)
        return clips + (snapped - clips).detach()

    def _pull_to_whole_pixels(self, frame: Tensor, flows: Tensor) -> Tensor:
        """``flows`` unchanged, with :func:`whole_pixel_penalty`'s gradient added to theirs."""
        n, t, h, w, _ = flows.shape
        with torch.no_grad():  # where the moved frame draws, and the pixels beside it
            ink = (warp(frame, flows).amax(dim=1) + 1) / 2  # (N, T, H, W)
            ink = nn.functional.max_pool2d(ink.reshape(n * t, 1, h, w), 3, 1, 1)
            ink = ink.reshape(n, t, h, w, 1)
        pixels = flows * (self.size / 2)
        self.last_whole_pixel_penalty = whole_pixel_penalty(pixels.detach(), ink,
                                                            self.whole_pixel_weight)
        pixels = _WholePixelPenaltyGrad.apply(pixels, ink, self.whole_pixel_weight)
        return pixels * (2 / self.size)

    def forward(self, z: Tensor) -> Tensor:
        """Clips ``(N, channels, length, size, size)`` in ``[-1, 1]`` from ``z`` ``(N, z_dim)``."""
        content, h0, noise = self.split_z(z)
        return self.render(content, self.motion_codes(h0, noise))

    def extra_repr(self) -> str:
        return (f"length={self.length}, size={self.size}, channels={self.channels}, "
                f"content_dim={self.content_dim}, motion_dim={self.motion_dim}, "
                f"noise_dim={self.noise_dim}, z_dim={self.z_dim}, motion_to={self.motion_to!r}, "
                f"freeze_image={self.freeze_image}, flow_from={self.flow_from!r}, "
                f"whole_pixels={self.whole_pixels}, warp_logits={self.warp_logits}, "
                f"whole_pixel_weight={self.whole_pixel_weight}, snap={self.snap is not None}")
