"""DCGAN generator and discriminator for single frames (the networks the frame GANs train).

Follows Radford, Metz & Chintala 2016, "Unsupervised representation learning with
deep convolutional generative adversarial networks" (DCGAN): the generator
upsamples a noise vector with strided transposed convolutions, batch norm and
ReLU, and ends in ``tanh``; the discriminator downsamples with strided
convolutions and LeakyReLU(0.2), with batch norm everywhere but its first layer;
weights start from N(0, 0.02). Departures, each deliberate:

* the discriminator returns raw **logits** of shape ``(N,)`` (no sigmoid), to be
  used with ``BCEWithLogitsLoss`` or the losses in :mod:`vgan_utils.losses`;
* ``spectral_norm=True`` wraps every discriminator convolution in spectral
  normalisation (Miyato et al. 2018, "Spectral normalization for generative
  adversarial networks") and then drops batch norm, as SN-GAN does;
* ``minibatch_std=True`` gives the discriminator's last layer one more input channel,
  the average spread of its features across the batch (Karras et al. 2018, "Progressive
  growing of GANs", section 3), so a batch of near-identical fakes looks fake;
* ``ink_log=True`` shows the discriminator each pixel twice: as it is and through
  :class:`InkLog`, which magnifies the nearly black, so a faint haze looks fake.

Taught in ``notebooks/02_generator_discriminator.ipynb``; trained in notebook 04.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NORMS = ("auto", "batch", "none")


def _stages(size: int) -> int:
    """How many factor-2 resolution steps lie between a 4x4 map and ``size``."""
    if size < 8 or 2 ** round(math.log2(size)) != size:
        raise ValueError(f"size must be a power of two >= 8 (e.g. 32 or 64), got {size}")
    return int(math.log2(size)) - 2


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length of ``Conv2d`` along one axis: floor((n + 2p - d(k-1) - 1) / s) + 1.

    A result below 1 means the layer cannot be applied (the kernel is larger than
    the padded input), which is why PyTorch raises instead.
    """
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0,
                               dilation: int = 1, output_padding: int = 0) -> int:
    """Output length of ``ConvTranspose2d``: (n - 1)s - 2p + d(k-1) + output_padding + 1.

    With k=4, s=2, p=1 this is exactly 2n, the DCGAN generator's doubling step.
    """
    return (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN initialisation, in place: conv weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), bias 0.

    Radford et al. 2016 found this small, zero-mean start trains more stably than
    PyTorch's default (Kaiming-uniform) for these all-convolutional nets.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class StraightThroughClamp(nn.Module):
    """Clamps to [-1, 1] going forward; passes the gradient through unchanged going back.

    A pixel clamped to -1 still hears what the discriminator wants of it, so a stroke can grow
    into pixels that are black now (Bengio et al. 2013's straight-through estimator).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (x.clamp(-1.0, 1.0) - x).detach()


OUTPUTS = ("tanh", "hardtanh", "clamp")


def output_activation(name: str) -> nn.Module:
    """The generator's last activation, onto [-1, 1].

    ``"tanh"`` (DCGAN) reaches -1 only in the limit, so a background drawn by it is never quite
    black; nine pixels in ten of a moving-digit frame are exactly -1, and the frame judge
    puts real frames with a +0.05 haze nearly as far from real ones as the shipped generator
    (notebook 04, section 9; ``data/README.md``). ``"hardtanh"`` clamps (exact -1 for any
    input below it, no gradient there); ``"clamp"`` clamps with a straight-through gradient.
    A recipe field (``output='hardtanh'``); raced against ``frames32`` and not adopted: both
    lost (``bench/README.md``). Swapped into the trained ``data/frames32.pt`` it lowers the
    judge's FD / floor from 38 to 21 without the judge reading the digits any better, and
    training on against its discriminator takes that back (``data/README.md``).
    """
    if name == "tanh":
        return nn.Tanh()
    if name == "hardtanh":
        return nn.Hardtanh()
    if name == "clamp":
        return StraightThroughClamp()
    raise ValueError(f"output must be one of {OUTPUTS}, got {name!r}")


class FrameGenerator(nn.Module):
    """z ``(N, z_dim)`` -> frames ``(N, channels, size, size)`` in ``[-1, 1]``.

    A 1x1 noise "image" is projected to a 4x4 map with ``4 * width * 2**(k-3)``
    channels by a 4x4 transposed convolution, then each stride-2 transposed
    convolution doubles the resolution and halves the channels until ``size``.
    ``refine`` > 0 makes the last one draw that many maps at full size, which a 3x3
    convolution mixes into the frame: layers at the resolution where strokes are drawn.
    """

    def __init__(self, z_dim: int = 100, size: int = 32, channels: int = 1, width: int = 64,
                 output: str = "tanh", refine: int = 0):
        super().__init__()
        self.z_dim, self.size, self.channels, self.width = z_dim, size, channels, width
        self.output, self.refine = output, refine
        n = _stages(size)
        ch = [width * 2 ** (n - 1 - i) for i in range(n)]  # channels at 4x4, 8x8, ...
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(ch[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(ch[:-1], ch[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        if refine:  # draw `refine` maps at full size, then mix them with a 3x3 convolution
            layers += [nn.ConvTranspose2d(ch[-1], refine, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(refine), nn.ReLU(inplace=True),
                       nn.Conv2d(refine, channels, 3, 1, 1, bias=False)]
        else:
            layers.append(nn.ConvTranspose2d(ch[-1], channels, 4, 2, 1, bias=False))
        layers.append(output_activation(output))
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self._codes(z))

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """The frames before the last activation, ``self.net[-1]`` (notebook 05's content/motion
        generator can warp these instead of the pixels: ``warp_logits``)."""
        return self.net[:-1](self._codes(z))

    def _codes(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 4 and z.shape[2:] == (1, 1):  # the DCGAN tutorial's (N, z_dim, 1, 1)
            z = z.flatten(1)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(
                f"FrameGenerator expects z of shape (N, {self.z_dim}); got {tuple(z.shape)}")
        return z[:, :, None, None]

    def extra_repr(self) -> str:
        return (f"z_dim={self.z_dim}, size={self.size}, channels={self.channels}, "
                f"output={self.output}, refine={self.refine}")


class LayeredGenerator(nn.Module):
    """z ``(N, layers * z_dim)`` -> frames: one shared generator draws ``layers`` frames per
    code, which are combined by the pixel-wise maximum.

    Moving-digit frames are two digits on black, overlapping by the maximum
    (:mod:`vgan_utils.synthetic`): the layered generator builds that structure in, as LR-GAN
    builds a scene from layers (Yang et al. 2017, "LR-GAN: layered recursive generative
    adversarial networks for image generation"). The layers share their weights, so each draws a
    sample of one distribution; a frame of two digits is best matched when each layer draws
    one, which is what it learns. Attributes match :class:`FrameGenerator`'s; ``z_dim`` is the
    whole code's size. A recipe field (``layers=2``); raced against ``frames32`` for notebook
    04 and not adopted there: drawing twice costs a fifth of the steps (``bench/README.md``).
    Its hour is the frame generator of notebook 05's ``layers32``, which moves the layers.
    ``refine`` is :class:`FrameGenerator`'s full-size layer, in each layer's generator.
    """

    def __init__(self, z_dim: int = 100, size: int = 32, channels: int = 1, width: int = 64,
                 layers: int = 2, refine: int = 0):
        super().__init__()
        if layers < 1 or z_dim % layers:
            raise ValueError(f"z_dim ({z_dim}) must split evenly into layers >= 1, got {layers}")
        self.z_dim, self.size, self.channels, self.width = z_dim, size, channels, width
        self.layers, self.refine = layers, refine
        self.layer = FrameGenerator(z_dim // layers, size, channels, width, refine=refine)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.draw_layers(z).amax(dim=1)

    def draw_layers(self, z: torch.Tensor) -> torch.Tensor:
        """The layers before they are combined, ``(N, layers, channels, size, size)``: what a
        clip generator moves one by one
        (:class:`~vgan_utils.layer_motion.LayerMotionGenerator`)."""
        if z.dim() == 4 and z.shape[2:] == (1, 1):
            z = z.flatten(1)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(
                f"LayeredGenerator expects z of shape (N, {self.z_dim}); got {tuple(z.shape)}")
        drawn = self.layer(z.reshape(z.shape[0] * self.layers, -1))
        return drawn.unflatten(0, (z.shape[0], self.layers))

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, layers={self.layers}, refine={self.refine}"


class SpriteGenerator(nn.Module):
    """z ``(N, layers * z_dim)`` -> frames: each layer draws a small glyph and *where* it goes.

    LR-GAN's layered generator with its transformer (Yang et al. 2017): a frame is composed of
    layers, each an object drawn by one network at the centre of its own canvas and moved into
    place by a transform that another head computes from the same code, here a translation
    (a spatial transformer, Jaderberg et al. 2015, applied with ``grid_sample`` so the position
    receives a gradient). Moving-digit frames are digits on black combined by the pixel-wise
    maximum, so the layers are combined by the maximum too. The glyph network only has to learn
    digits at one place and one size, not every stroke at every position. A recipe field
    (``layers=2, glyph=16``). Placed by a bilinear shift it lost its race against ``frames32``
    (blocky, broken glyphs); placed by whole pixels (``whole_pixels=True``) it won by a factor
    of three, and notebook 04 (section 11) ships an hour of it (``bench/README.md``).

    ``glyph`` is the glyph canvas's side (``size // 2`` by default); ``reach`` the largest shift
    of a glyph's centre from the frame's, in pixels (default ``(size - glyph) / 2 + glyph / 16``,
    so a glyph's empty margin may leave the frame). The position head starts as
    ``sigmoid(1.702 z)`` of two code entries, close to the normal CDF, so positions start near
    uniform over the frame. ``refine`` gives the glyph network a layer at full size (as
    :class:`FrameGenerator`'s).

    ``whole_pixels``: the real digits sit on the pixel grid, and a shift by a fraction of a
    pixel blends each stroke into a blur the discriminator sees at once. With it, each glyph is
    moved by its shift rounded to whole pixels, so no pixel of it is blended; the position head
    still learns, through the bilinear shift by the unrounded one (straight through, Bengio et
    al. 2013), as notebook 05's ``layers32`` moves its layers (:mod:`vgan_utils.layer_motion`).
    """

    def __init__(self, z_dim: int = 100, size: int = 32, channels: int = 1, width: int = 64,
                 layers: int = 2, glyph: int | None = None, reach: float | None = None,
                 refine: int = 0, whole_pixels: bool = False):
        super().__init__()
        if layers < 1 or z_dim % layers:
            raise ValueError(f"z_dim ({z_dim}) must split evenly into layers >= 1, got {layers}")
        glyph = glyph or size // 2
        if not 8 <= glyph <= size:
            raise ValueError(f"glyph must be between 8 and size={size} pixels, got {glyph}")
        self.z_dim, self.size, self.channels, self.width = z_dim, size, channels, width
        self.layers, self.glyph, self.whole_pixels = layers, glyph, whole_pixels
        self.reach = (size - glyph) / 2 + glyph / 16 if reach is None else float(reach)
        self.layer = FrameGenerator(z_dim // layers, glyph, channels, width, refine=refine)
        self.where = nn.Linear(z_dim // layers, 2)
        with torch.no_grad():
            self.where.weight.zero_()
            self.where.weight[0, 0] = self.where.weight[1, 1] = 1.702
            self.where.bias.zero_()

    def place(self, ink: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """Glyphs ``(M, C, g, g)`` of ink in [0, 1] moved by ``shift`` ``(M, 2)`` (x, y pixels)
        from the centre of a ``size`` x ``size`` canvas of zeros; by whole pixels, with the
        gradient passed straight through to ``shift``, when ``whole_pixels``."""
        if not self.whole_pixels:
            return self._translate(ink, shift)
        exact = self._translate(ink, shift.detach().round())
        if not (torch.is_grad_enabled() and shift.requires_grad):
            return exact
        soft = self._translate(ink.detach(), shift)  # the ink's gradient comes from `exact`
        return exact + (soft - soft.detach())

    def _translate(self, ink: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """``place`` by a bilinear shift (a fraction of a pixel blends neighbours)."""
        before = (self.size - self.glyph) // 2
        canvas = nn.functional.pad(ink, (before, self.size - self.glyph - before) * 2)
        theta = torch.zeros(len(ink), 2, 3, dtype=ink.dtype, device=ink.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, :, 2] = -2.0 * shift / self.size  # grid_sample reads from x - shift
        grid = nn.functional.affine_grid(theta, list(canvas.shape), align_corners=False)
        return nn.functional.grid_sample(canvas, grid, align_corners=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.draw_layers(z).amax(dim=1)

    def draw_layers(self, z: torch.Tensor) -> torch.Tensor:
        """Each layer's glyph in place, before the layers are combined, ``(N, layers, channels,
        size, size)`` in [-1, 1]: what a clip generator moves one by one
        (:class:`~vgan_utils.layer_motion.LayerMotionGenerator`)."""
        if z.dim() == 4 and z.shape[2:] == (1, 1):
            z = z.flatten(1)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(
                f"SpriteGenerator expects z of shape (N, {self.z_dim}); got {tuple(z.shape)}")
        codes = z.reshape(z.shape[0] * self.layers, -1)
        shift = (2 * torch.sigmoid(self.where(codes)) - 1) * self.reach
        placed = self.place((self.layer(codes) + 1) / 2, shift)
        return placed.unflatten(0, (z.shape[0], self.layers)) * 2 - 1

    def extra_repr(self) -> str:
        return (f"z_dim={self.z_dim}, layers={self.layers}, glyph={self.glyph}, "
                f"reach={self.reach}, whole_pixels={self.whole_pixels}")


class MinibatchStd(nn.Module):
    """Append one channel: the mean over features and positions of the batch's std-deviation.

    A generator that draws the same frame for every z gives a batch with almost no spread;
    this channel lets D see that (Karras et al. 2018, section 3). Taught in notebook 04.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] < 2:
            raise ValueError(f"minibatch std needs a batch of at least 2, got {x.shape[0]}")
        spread = x.float().std(dim=0, unbiased=False).mean().to(x.dtype)
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class InkLog(nn.Module):
    """Append one channel per input channel: each pixel's ink on a log scale, onto [-1, 1].

    Nine pixels in ten of a moving-digit frame are exactly -1, and a haze of +0.05 that a
    person cannot see moves the frame judge nearly as far as the generator's errors do
    (notebook 04, section 9). On the pixel scale such a haze is a small input to D; on the
    log scale of ``ink = (x + 1) / 2``, ``log(ink + eps)``, exact black sits at ``log(eps)``
    and a 0.025 ink is halfway to white, so D can see it and tell G. A recipe field
    (``ink_log=True``); raced against ``frames32`` and not adopted: the background turned
    black and the strokes broke into dots (``bench/README.md``).
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ink = ((x + 1) / 2).clamp(min=0)
        low, high = math.log(self.eps), math.log(1 + self.eps)
        logged = 2 * (torch.log(ink + self.eps) - low) / (high - low) - 1
        return torch.cat([x, logged], dim=1)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class FrameDiscriminator(nn.Module):
    """Frames ``(N, channels, size, size)`` -> one real/fake **logit** per frame, ``(N,)``.

    ``minibatch_std`` adds :class:`MinibatchStd` before the last layer. ``norm``:
    ``"batch"`` (DCGAN), ``"none"``, or ``"auto"`` = batch norm unless
    ``spectral_norm``. Use ``"none"`` with a gradient penalty: batch norm mixes the
    samples of a batch, and the penalty assumes each output depends on one input
    (Gulrajani et al. 2017). ``ink_log`` puts :class:`InkLog` in front.
    """

    def __init__(self, size: int = 32, channels: int = 1, width: int = 64,
                 spectral_norm: bool = False, norm: str = "auto", minibatch_std: bool = False,
                 ink_log: bool = False):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.size, self.channels, self.width = size, channels, width
        self.spectral_norm, self.minibatch_std = spectral_norm, minibatch_std
        self.ink_log = ink_log
        self.norm = ("none" if spectral_norm else "batch") if norm == "auto" else norm
        n = _stages(size)
        ch = [width * 2**i for i in range(n)]  # channels at size/2, size/4, ..., 4x4
        bias = self.norm == "none"
        layers: list[nn.Module] = [InkLog()] if ink_log else []
        layers += [nn.Conv2d(channels * (1 + ink_log), ch[0], 4, 2, 1, bias=True),
                   nn.LeakyReLU(0.2, inplace=True)]
        for c_in, c_out in zip(ch[:-1], ch[1:], strict=True):
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias))
            if self.norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        if minibatch_std:
            layers.append(MinibatchStd())
        layers.append(nn.Conv2d(ch[-1] + minibatch_std, 1, 4, 1, 0, bias=True))  # 4x4 -> logit
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)
        if spectral_norm:
            for i, m in enumerate(self.net):
                if isinstance(m, nn.Conv2d):
                    self.net[i] = nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.channels, self.size, self.size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            hint = (" (a clip batch (N, C, T, H, W)? fold time into the batch: "
                    "x.transpose(1, 2).flatten(0, 1))") if x.dim() == 5 else ""
            raise ValueError(f"FrameDiscriminator expects frames of shape (N, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}); got {tuple(x.shape)}{hint}")
        return self.net(x).flatten()

    def extra_repr(self) -> str:
        return (f"size={self.size}, channels={self.channels}, norm={self.norm!r}, "
                f"spectral_norm={self.spectral_norm}, ink_log={self.ink_log}")


def sample_z(n: int, z_dim: int = 100, generator: torch.Generator | None = None,
             device: torch.device | str | None = None) -> torch.Tensor:
    """Standard-normal latent codes ``(n, z_dim)``, reproducible through ``generator``."""
    return torch.randn(n, z_dim, generator=generator, device=device)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (spectral norm's stored weight counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
