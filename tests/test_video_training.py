"""Both video GANs train through the one engine, GANTrainer (2 steps, tiny widths)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vgan_utils.losses import get_loss
from vgan_utils.training import GANTrainer, TrainConfig
from vgan_utils.video_nets import ContentMotionGenerator, TwoStreamGenerator, VideoDiscriminator
from vgan_utils.video_training import (
    ImageVideoDiscriminator,
    clip_batches,
    normal_sampler,
    video_gan,
)

SHAPE = (1, 8, 16, 16)  # C, T, H, W


def real_clips(n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, *SHAPE, generator=g) * 2 - 1


class TinyImageD(nn.Module):
    """A stand-in frame discriminator (the real one is frame_nets.FrameDiscriminator)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
                                 nn.Linear(4 * 8 * 8, 1))

    def forward(self, x):
        return self.net(x).flatten()


def tiny_pair():
    torch.manual_seed(0)
    img = nn.Sequential(nn.Linear(9, 256), nn.Tanh(), nn.Unflatten(1, (1, 16, 16)))
    g = ContentMotionGenerator(8, 16, 1, content_dim=6, motion_dim=3, image_generator=img)
    d = ImageVideoDiscriminator(TinyImageD(), VideoDiscriminator(8, 16, 1, width=2), 2)
    return g, d


def trains(g, d, z_sampler, **cfg) -> GANTrainer:
    trainer = GANTrainer(g, d, clip_batches(real_clips(), 4), z_sampler,
                         TrainConfig(**cfg), "cpu", seed=0, n_fixed=2)
    before = [p.detach().clone() for p in g.parameters()]
    trainer.train(2)
    assert trainer.step == 2 and len(trainer.history["loss_g"]) == 2
    assert all(map(torch.isfinite, map(torch.tensor, trainer.history["loss_d"])))
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters(), strict=True))
    assert trainer.sample().shape == (2, *SHAPE)
    return trainer


def test_two_stream_trains_with_its_mask_penalty():
    torch.manual_seed(0)
    g = TwoStreamGenerator(z_dim=8, length=8, size=16, width=2, mask_weight=0.1)
    trains(g, VideoDiscriminator(8, 16, 1, width=2), normal_sampler(8))
    assert 0 < g.last_mask_penalty.item() <= 0.1


def test_content_motion_trains_against_both_discriminators():
    g, d = tiny_pair()
    before = {part: [p.detach().clone() for p in part.parameters()] for part in (d.image, d.video)}
    trains(g, d, normal_sampler(g.z_dim))
    for part, old in before.items():  # one optimiser updates both discriminators
        assert any(not torch.equal(a, b) for a, b in zip(old, part.parameters(), strict=True))


@pytest.mark.parametrize("loss", ["wasserstein"])
def test_content_motion_with_gradient_penalty(loss):
    g, d = tiny_pair()
    d.video = VideoDiscriminator(8, 16, 1, width=2, norm="none")
    trains(g, d, normal_sampler(g.z_dim), loss=loss, gp_weight=10.0)


def test_combined_logits_are_the_mean_of_both_losses():
    _, d = tiny_pair()
    clips = real_clips(3)
    torch.manual_seed(5)
    logits = d(clips)
    assert logits.shape == (2 * 3 * 2,)
    image, video = d.split(logits)
    torch.manual_seed(5)
    frames = d.pick_frames(clips)
    torch.testing.assert_close(image, d.image(frames))
    torch.testing.assert_close(video, d.video(clips))
    bce = get_loss("nonsaturating")
    both = bce.g_loss(logits)
    torch.testing.assert_close(both, (bce.g_loss(image) + bce.g_loss(video)) / 2)


def test_pick_frames_takes_real_frames():
    _, d = tiny_pair()
    clips = real_clips(3)
    frames = d.pick_frames(clips)
    assert frames.shape == (6, 1, 16, 16)
    for i, f in enumerate(frames):
        clip = clips[i // 2]
        assert any(torch.equal(f, clip[:, t]) for t in range(clip.shape[1]))


def test_combined_discriminator_step_lowers_its_loss():
    g, d = tiny_pair()
    real, fake = real_clips(4), g(g.sample_z(4)).detach()
    loss_fn = get_loss("nonsaturating").d_loss
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def loss():
        torch.manual_seed(1)  # the same frames before and after the step
        return loss_fn(d(real), d(fake))

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().item() < before.item()


@pytest.mark.parametrize("model", ["two_stream", "content_motion"])
def test_video_gan_builds_trainable_models(model):
    torch.manual_seed(0)
    kw = {"z_dim": 8} if model == "two_stream" else {"content_dim": 6, "motion_dim": 3}
    g, d, zs = video_gan(model, length=8, size=16, channels=1, width=2, **kw)
    trains(g, d, zs)


def test_video_gan_rejects_unknown_model():
    with pytest.raises(ValueError, match="two_stream"):
        video_gan("tgan")
