"""Training notebook 05's video GANs with the course's one engine, :class:`GANTrainer`.

The engine knows one generator ``G(z)`` and one discriminator ``D(x) -> logits``. The two
video GANs fit that shape without changing it:

* VGAN (Vondrick et al. 2016, "Generating Videos with Scene Dynamics") adds an L1 penalty on
  its mask to the generator's loss. :class:`~vgan_utils.video_nets.TwoStreamGenerator` with
  ``mask_weight=0.1`` applies it inside the network, as the authors' Torch code does
  (``nn.L1Penalty`` after the mask's sigmoid): the forward pass is unchanged and backward adds
  the penalty's gradient, so the engine's generator update minimises
  ``g_loss + 0.1 * mean(|m|)``. (The engine's ``loss_g`` history shows the adversarial part
  only; the penalty of the last update is ``generator.last_mask_penalty``.)
* MoCoGAN (Tulyakov et al. 2018, "MoCoGAN: Decomposing Motion and Content for Video
  Generation") trains against two discriminators with the summed loss
  ``L_I + L_V``. :class:`ImageVideoDiscriminator` wraps both in one module whose logits are
  the image discriminator's on randomly picked frames followed by the video discriminator's
  on the clips; every loss in :mod:`vgan_utils.losses` is a mean, so the engine's loss on
  them is ``(L_I + L_V) / 2`` -- the paper's objective up to a factor that Adam ignores.
  One optimiser updates both discriminators (same learning rate, as in the paper's code).

:func:`video_gan` builds either model with its discriminator and latent sampler, ready for
``GANTrainer(G, D, batch_fn, z_sampler, config)``. Taught in
``notebooks/05_frames_to_clips.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .layer_motion import LayerMotionGenerator, SpriteTwoStreamGenerator
from .video_nets import (
    VGAN_MASK_WEIGHT,
    ContentMotionGenerator,
    OneStreamGenerator,
    TwoStreamGenerator,
    VideoDiscriminator,
    default_image_discriminator,
)

MODELS = ("one_stream", "two_stream", "content_motion", "layer_motion", "sprite_two_stream")
ZSampler = Callable[[int, torch.Generator], Tensor]


class ImageVideoDiscriminator(nn.Module):
    """MoCoGAN's image and video discriminators as one module for the engine.

    ``forward(clips)`` with clips ``(N, C, T, H, W)`` returns ``2 * N * k`` logits: the image
    discriminator's on ``k = frames_per_clip`` frames picked at random from each clip (as
    MoCoGAN's image discriminator sees single frames), then the video discriminator's on
    each clip, repeated ``k`` times so both halves weigh the same in a mean. Frames are
    picked with torch's global generator, which the engine saves and restores, so training
    stays reproducible. With a gradient penalty, the penalty applies to this summed critic.
    """

    def __init__(self, image_discriminator: nn.Module, video_discriminator: nn.Module,
                 frames_per_clip: int = 1) -> None:
        super().__init__()
        if frames_per_clip < 1:
            raise ValueError(f"frames_per_clip must be >= 1, got {frames_per_clip}")
        self.image = image_discriminator
        self.video = video_discriminator
        self.frames_per_clip = frames_per_clip

    def pick_frames(self, clips: Tensor) -> Tensor:
        """``k`` random frames of each clip, as images ``(N * k, C, H, W)``."""
        n, _, t = clips.shape[:3]
        idx = torch.randint(t, (n, self.frames_per_clip)).to(clips.device)
        frames = clips.transpose(1, 2)[torch.arange(n, device=clips.device)[:, None], idx]
        return frames.flatten(0, 1)

    def split(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``(image_logits (N * k,), video_logits (N,))`` from this module's output."""
        half = logits.shape[0] // 2
        return logits[:half], logits[half::self.frames_per_clip]

    def forward(self, clips: Tensor) -> Tensor:
        if clips.dim() != 5:
            raise ValueError("expected clips of shape (N, C, T, H, W), got "
                             f"{tuple(clips.shape)}")
        image = self.image(self.pick_frames(clips)).flatten()
        video = self.video(clips).flatten()
        return torch.cat([image, video.repeat_interleave(self.frames_per_clip)])


def normal_sampler(z_dim: int) -> ZSampler:
    """A ``z_sampler`` for the engine: ``n`` standard-normal codes of size ``z_dim``."""
    def sample(n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, z_dim, generator=generator)

    return sample


def video_gan(model: str, length: int = 16, size: int = 32, channels: int = 1,
              width: int = 32, d_width: int | None = None, d_norm: str = "auto",
              d_spectral_norm: bool = False, **kw) -> tuple[nn.Module, nn.Module, ZSampler]:
    """``(generator, discriminator, z_sampler)`` for ``model`` in :data:`MODELS`.

    ``"one_stream"``: :class:`OneStreamGenerator` (``z_dim`` in ``kw``), the clip DCGAN
    baseline, against a :class:`VideoDiscriminator`.
    ``"two_stream"``: :class:`TwoStreamGenerator` (``z_dim``, ``mask_weight`` in ``kw``;
    ``mask_weight`` defaults to the paper's 0.1) against a :class:`VideoDiscriminator`.
    ``"content_motion"``: :class:`ContentMotionGenerator` (``content_dim``, ``motion_dim``,
    ``noise_dim``, ``image_generator``, ``motion_to`` in ``kw``) against an
    :class:`ImageVideoDiscriminator` of a frame discriminator and a :class:`VideoDiscriminator`
    (``frames_per_clip`` in ``kw``).
    ``"layer_motion"``: :class:`~vgan_utils.layer_motion.LayerMotionGenerator` on a trained
    layered ``image_generator`` (``motion_dim``, ``noise_dim``, ``speed`` in ``kw``), against
    the same two discriminators.
    ``"sprite_two_stream"``: :class:`~vgan_utils.layer_motion.SpriteTwoStreamGenerator` (VGAN's
    blend, with moved glyphs for its foreground stream; ``z_dim``, ``glyph``, ``refine``,
    ``motion_dim``... in ``kw``), against the same two discriminators, or against VGAN's video
    discriminator alone with ``image_d=False``.
    ``d_width``, ``d_norm`` and ``d_spectral_norm`` configure the discriminators (``d_width``
    defaults to ``width``).
    """
    d_width = width if d_width is None else d_width
    d_kw = {"width": d_width, "spectral_norm": d_spectral_norm, "norm": d_norm}
    video_d = VideoDiscriminator(length, size, channels, **d_kw)
    if model == "one_stream":
        g = OneStreamGenerator(length=length, size=size, channels=channels, width=width, **kw)
        return g, video_d, normal_sampler(g.z_dim)
    if model == "two_stream":
        kw.setdefault("mask_weight", VGAN_MASK_WEIGHT)
        g = TwoStreamGenerator(length=length, size=size, channels=channels, width=width, **kw)
        return g, video_d, normal_sampler(g.z_dim)
    if model in ("content_motion", "layer_motion", "sprite_two_stream"):  # MoCoGAN's two Ds
        k = kw.pop("frames_per_clip", 1)
        if model == "sprite_two_stream":
            image_d = kw.pop("image_d", True)
            g = SpriteTwoStreamGenerator(length, size, channels, width, **kw)
            if not image_d:  # VGAN's video discriminator alone
                return g, video_d, normal_sampler(g.z_dim)
        elif model == "content_motion":
            g = ContentMotionGenerator(length=length, size=size, channels=channels, width=width,
                                       **kw)
        else:
            g = layer_motion_generator(length, size, channels, **kw)
        image_d = default_image_discriminator(size=size, channels=channels, **d_kw)
        return g, ImageVideoDiscriminator(image_d, video_d, k), normal_sampler(g.z_dim)
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def layer_motion_generator(length: int, size: int, channels: int,
                           image_generator: nn.Module | None = None, **kw) -> nn.Module:
    """A :class:`~vgan_utils.layer_motion.LayerMotionGenerator` on ``image_generator``, which
    must be given (a trained layered frame generator) and draw frames of ``size`` and
    ``channels``."""
    if image_generator is None:
        raise ValueError("the layer_motion model moves the layers of a trained layered frame "
                         "generator: give one (a recipe's image_generator='data/....pt', "
                         "trained with layers=2)")
    shape = (getattr(image_generator, "size", None), getattr(image_generator, "channels", None))
    if shape != (size, channels):
        raise ValueError(f"the frame generator draws (size, channels) = {shape}, but the clips "
                         f"are ({size}, {channels})")
    return LayerMotionGenerator(image_generator, length=length, **kw)


def clip_batches(clips: Tensor, batch_size: int, seed: int = 0) -> Callable[[int], Tensor]:
    """A ``batch_fn`` for the engine over a tensor of clips ``(M, C, T, H, W)``: batch ``i``
    is a random draw (without replacement within the batch) that depends only on ``i``."""
    if clips.dim() != 5:
        raise ValueError(f"expected clips (M, C, T, H, W), got {tuple(clips.shape)}")
    if batch_size > clips.shape[0]:
        raise ValueError(f"batch_size {batch_size} > {clips.shape[0]} clips")

    def batch(i: int) -> Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + i)
        return clips[torch.randperm(clips.shape[0], generator=g)[:batch_size]]

    return batch
