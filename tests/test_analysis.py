"""Analysis scores: rank statistics by hand equal torchmetrics', D scores, Mahalanobis,
prediction error with a stand-in predictor, the linear probe."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchmetrics.functional import spearman_corrcoef
from torchmetrics.functional.classification import binary_auroc

from vgan_utils.analysis import (
    Mahalanobis,
    auroc_by_hand,
    discriminator_features,
    discriminator_scores,
    linear_probe,
    prediction_error,
    ranks,
    spearman_by_hand,
    train_discriminator,
)
from vgan_utils.frame_nets import FrameDiscriminator
from vgan_utils.video_nets import VideoDiscriminator
from vgan_utils.video_training import ImageVideoDiscriminator, video_gan

G = torch.Generator().manual_seed(0)


def test_ranks_average_ties():
    assert ranks(torch.tensor([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


@pytest.mark.parametrize("ties", [False, True])
def test_spearman_and_auroc_by_hand_equal_torchmetrics(ties):
    x = torch.randn(50, generator=G)
    y = x + torch.randn(50, generator=G)
    if ties:
        x, y = x.round(), y.round()
    assert spearman_by_hand(x, y) == pytest.approx(spearman_corrcoef(x, y).item(), abs=1e-5)
    labels = (torch.rand(50, generator=G) > 0.5).long()
    assert auroc_by_hand(y, labels) == pytest.approx(binary_auroc(y, labels).item(), abs=1e-6)
    with pytest.raises(ValueError, match="positive and one negative"):
        auroc_by_hand(y, torch.zeros(50))


def test_mahalanobis_is_euclidean_for_white_features_and_grows_with_distance():
    normal = torch.randn(20_000, 3, generator=G)
    m = Mahalanobis(normal)
    points = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 3.0, 4.0]])
    assert torch.allclose(m(points), torch.tensor([0.0, 2.0, 5.0]), atol=0.1)
    stretched = Mahalanobis(normal * torch.tensor([10.0, 1.0, 1.0]))
    assert stretched(torch.tensor([[10.0, 0, 0]])) == pytest.approx(1.0, abs=0.05)


class LastFrame(nn.Module):
    """A stand-in predictor with notebook 06's API: the future is the last past frame."""

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        return past[:, :, -1:].expand(-1, -1, past.shape[2], -1, -1)


def test_prediction_error_with_a_stand_in_predictor():
    still = torch.rand(2, 1, 1, 8, 8, generator=G).expand(-1, -1, 20, -1, -1) * 2 - 1
    assert torch.equal(prediction_error(LastFrame(), still), torch.zeros(2))
    moving = still.clone()
    moving[1, :, 10:] = -moving[1, :, 10:]
    err = prediction_error(LastFrame(), moving)
    expected = (moving[1, :, 10:] - moving[1, :, 9:10]).pow(2).mean()
    assert err[0] == 0 and err[1] == pytest.approx(expected.item())
    with pytest.raises(ValueError, match=r"T >= 20"):
        prediction_error(LastFrame(), still[:, :, :12])
    with pytest.raises(ValueError, match="the predictor returned"):
        prediction_error(lambda p: p[:, :, :5], still)


def test_discriminator_scores_do_not_depend_on_the_batch():
    _, d, _ = video_gan("content_motion", length=4, size=8, width=4,
                        content_dim=3, motion_dim=2)
    assert isinstance(d, ImageVideoDiscriminator)
    clips = torch.rand(6, 1, 4, 8, 8, generator=G) * 2 - 1
    alone = torch.cat([discriminator_scores(d, c[None]) for c in clips])
    assert torch.allclose(discriminator_scores(d, clips, batch_size=4), alone, atol=1e-6)
    assert discriminator_scores(d, clips, "image").shape == (6,)
    assert discriminator_features(d, clips).shape[0] == 6 and d.training
    with pytest.raises(ValueError, match="'video' or 'image'"):
        discriminator_scores(d, clips, "audio")


def test_image_features_are_the_frames_features_averaged():
    _, d, _ = video_gan("content_motion", length=4, size=8, width=4,
                        content_dim=3, motion_dim=2)
    clips = torch.rand(3, 1, 4, 8, 8, generator=G) * 2 - 1
    feats = discriminator_features(d, clips, "image", batch_size=2)
    d.image.eval()
    with torch.no_grad():
        per_frame = d.image.net[:-1](clips[1].transpose(0, 1)).flatten(1)  # (4, F)
    assert torch.allclose(feats[1], per_frame.mean(0), atol=1e-6) and d.training
    # a clip's frames in another order: the same image features, other video features
    shuffled = clips[:, :, [3, 1, 0, 2]]
    assert torch.allclose(discriminator_features(d, shuffled, "image"), feats, atol=1e-6)
    assert not torch.allclose(discriminator_features(d, shuffled), discriminator_features(d, clips))
    with pytest.raises(ValueError, match="'video' or 'image'"):
        discriminator_features(d, clips, "audio")


def test_a_frame_discriminator_reads_every_frame_as_the_image_part():
    d = FrameDiscriminator(size=8, width=4)
    clips = torch.rand(3, 1, 4, 8, 8, generator=G) * 2 - 1
    feats = discriminator_features(d, clips, "image")
    with torch.no_grad():
        d.eval()
        per_frame = d.net[:-1](clips[2].transpose(0, 1)).flatten(1)
        logits = d(clips[2].transpose(0, 1))
    assert feats.shape == (3, per_frame.shape[1])
    assert torch.allclose(feats[2], per_frame.mean(0), atol=1e-6)
    assert torch.allclose(discriminator_scores(d, clips, "image")[2], logits.mean(), atol=1e-6)


def test_train_discriminator_learns_to_separate():
    torch.manual_seed(0)
    d = VideoDiscriminator(length=4, size=8, width=4)
    real = lambda i: torch.ones(8, 1, 4, 8, 8) * 0.5  # noqa: E731
    fake = lambda i: -torch.ones(8, 1, 4, 8, 8) * 0.5  # noqa: E731
    losses = train_discriminator(d, real, fake, steps=30, lr=1e-2)
    assert losses[-1] < losses[0] and not d.training
    assert discriminator_scores(d, real(0)).mean() > discriminator_scores(d, fake(0)).mean()


def test_linear_probe_reads_a_linearly_separable_label():
    x = torch.randn(400, 5, generator=G)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    assert linear_probe(x[:300], y[:300], x[300:], y[300:], steps=200) > 0.9
    noise = torch.randn(400, 5, generator=G)
    assert linear_probe(noise[:300], y[:300], noise[300:], y[300:], steps=200) < 0.5


def test_prediction_error_max_reduction_keeps_a_one_frame_event():
    still = torch.zeros(1, 1, 20, 4, 4)
    event = still.clone()
    event[0, :, 15] = 1.0  # one frame of ten differs
    mean = prediction_error(LastFrame(), event)
    worst = prediction_error(LastFrame(), event, reduce="max")
    assert worst.item() == pytest.approx(1.0) and mean.item() == pytest.approx(0.1)
    with pytest.raises(ValueError, match="'mean' or 'max'"):
        prediction_error(LastFrame(), event, reduce="median")


class Extrapolate(nn.Module):
    """A stand-in predictor that continues the last two frames' change (constant velocity)."""

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        step = past[:, :, -1:] - past[:, :, -2:-1]
        k = torch.arange(1, past.shape[2] + 1, dtype=past.dtype).view(1, 1, -1, 1, 1)
        return past[:, :, -1:] + k * step


def test_next_frame_error_reads_the_frames_just_before_each_target():
    from vgan_utils.analysis import next_frame_error

    ramp = torch.linspace(-1, 1, 20).view(1, 1, 20, 1, 1).expand(2, 1, 20, 4, 4).clone()
    assert torch.allclose(next_frame_error(Extrapolate(), ramp), torch.zeros(2), atol=1e-10)
    ramp[1, :, 15:] += 0.5  # a jump at frame 15, then the same motion
    err = next_frame_error(Extrapolate(), ramp, batch_size=3)
    assert err[0].abs() < 1e-10 and err[1].item() == pytest.approx(0.25)
    # ten steps ahead, the same jump is averaged with nine exact frames of another context
    assert prediction_error(Extrapolate(), ramp)[1] < err[1]
    with pytest.raises(ValueError, match=r"T > 10"):
        next_frame_error(Extrapolate(), ramp[:, :, :10])
    with pytest.raises(ValueError, match="first frame"):
        next_frame_error(lambda p: p[:, :, :, :2], ramp)


def test_windowed_mahalanobis_sees_a_short_event_that_whole_clips_average_away():
    from vgan_utils.analysis import WindowedMahalanobis, windows

    assert windows(torch.zeros(2, 1, 10, 4, 4), 4, 2).shape == (2, 4, 1, 4, 4, 4)
    mean_pixel = lambda c: c.flatten(2).mean(2)  # noqa: E731  (M, C): one feature per channel
    normal = torch.randn(200, 1, 12, 4, 4, generator=G) * 0.1
    odd = torch.randn(20, 1, 12, 4, 4, generator=G) * 0.1
    odd[:, :, 4:6] += 1.0  # two bright frames
    scorer = WindowedMahalanobis(mean_pixel, normal, length=4, stride=2)
    whole = Mahalanobis(mean_pixel(normal))
    labels = torch.cat([torch.zeros(20), torch.ones(20)]).long()
    test = torch.randn(20, 1, 12, 4, 4, generator=G) * 0.1
    windowed_auroc = auroc_by_hand(torch.cat([scorer(test), scorer(odd)]), labels)
    whole_auroc = auroc_by_hand(torch.cat([whole(mean_pixel(test)), whole(mean_pixel(odd))]),
                                labels)
    assert windowed_auroc == 1.0 and windowed_auroc >= whole_auroc


def test_frame_changes_are_the_difference_of_window_means():
    from vgan_utils.analysis import frame_changes

    f = torch.randn(3, 10, 2, generator=G)
    c = frame_changes(f, 3)
    assert c.shape == (3, 5, 2)
    for i, t in enumerate(range(3, 8)):
        assert torch.allclose(c[:, i], f[:, t:t + 3].mean(1) - f[:, t - 3:t].mean(1), atol=1e-6)
    with pytest.raises(ValueError, match="k must be in 1..T // 2 = 5"):
        frame_changes(f, 6)


def test_change_mahalanobis_catches_a_feature_that_switches_mid_clip():
    from vgan_utils.analysis import ChangeMahalanobis

    def per_frame(clips):  # (N, C, T, H, W) -> (N, T, 2): left and right halves' brightness
        return torch.stack([clips[..., :2].mean((1, 3, 4)), clips[..., 2:].mean((1, 3, 4))], 2)

    def clips(n, switch):
        x = torch.randn(n, 1, 12, 4, 4, generator=G) * 0.1
        side = torch.randint(0, 2, (n,), generator=G)
        for i in range(n):  # a bright half that stays, or (switch) moves to the other half
            cols = slice(0, 2) if side[i] == 0 else slice(2, 4)
            other = slice(2, 4) if side[i] == 0 else slice(0, 2)
            x[i, :, :, :, cols] += 1.0
            if switch:
                x[i, :, 6:, :, cols] -= 1.0
                x[i, :, 6:, :, other] += 1.0
        return x

    scorer = ChangeMahalanobis(per_frame, clips(200, False), k=3)
    labels = torch.cat([torch.zeros(30), torch.ones(30)]).long()
    scores = torch.cat([scorer(clips(30, False)), scorer(clips(30, True))])
    assert scores.shape == (60,) and auroc_by_hand(scores, labels) == 1.0


def test_motion_surprise_sees_a_stop_that_the_forecast_did_not():
    from vgan_utils.analysis import motion_surprise, next_frames

    ramp = torch.linspace(-1, 1, 20).view(1, 1, 20, 1, 1).expand(2, 1, 20, 4, 4).clone()
    step = float(ramp[0, 0, 1, 0, 0] - ramp[0, 0, 0, 0, 0])
    ramp[1, :, 15:] = ramp[1, :, 14:15]  # clip 1 stops changing at frame 15
    forecast = next_frames(Extrapolate(), ramp, batch_size=3)
    assert forecast.shape == (2, 1, 10, 4, 4)
    assert torch.allclose(forecast[0], ramp[0, :, 10:], atol=1e-6)
    surprise = motion_surprise(Extrapolate(), ramp)
    assert surprise[0].abs() < 1e-6 and surprise[1].item() == pytest.approx(step, rel=1e-4)
