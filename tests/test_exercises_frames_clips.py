"""The exercise checks of notebooks 04-08: right for the reference solutions (written as a
learner would, from what the notebooks teach), wrong with the hint that names the slip."""

import math

import pytest
import torch
import torch.nn.functional as F
from test_exercises import verdict  # the one-line verdict the checks print
from torch import nn

from vgan_utils import exercises as ex
from vgan_utils.dashboard import LIVE
from vgan_utils.metrics import digit_shares, fd_floor


@pytest.mark.parametrize("check, args", [
    (ex.check_bce_label_losses, (None, None)),
    (ex.check_minimax_g_loss, (None,)),
    (ex.check_live_settings, (None,)),
    (ex.check_bf16_drift, (None,)),
    (ex.check_rarest_digit, (None, torch.full((4, 10), 0.1))),
    (ex.check_floor_sizes, (None, None, (torch.randn(120, 3), torch.randn(120, 3)), 120)),
    (ex.check_mask_penalty_grad, (None, torch.rand(2, 3), 0.1)),
    (ex.check_tconv3d_doubling, (None, None, None)),
    (ex.check_frozen_clips, (None, torch.zeros(1, 1, 4, 8, 8))),
    (ex.check_race_factor, (None, [{"recipe": "motion32", "frame_fd_over_floor": 2.0},
                                   {"recipe": "content_motion32", "frame_fd_over_floor": 5.0}])),
])
def test_unanswered_says_so_without_raising(capsys, check, args):
    assert check(*args) is False
    verdict(capsys, False, "not answered yet")


def test_bce_label_losses(capsys):
    bce = nn.BCEWithLogitsLoss()
    real = lambda logits: bce(logits, torch.ones_like(logits))  # noqa: E731
    fake = lambda logits: bce(logits, torch.zeros_like(logits))  # noqa: E731
    assert ex.check_bce_label_losses(real, fake)
    verdict(capsys, True, "softplus")
    assert not ex.check_bce_label_losses(fake, real)
    verdict(capsys, False, "'fake' loss", "'real' loss")
    twice = lambda logits: bce(torch.sigmoid(logits), torch.ones_like(logits))  # noqa: E731
    assert not ex.check_bce_label_losses(twice, fake)
    verdict(capsys, False, "sigmoid taken twice")
    per_element = lambda logits: F.binary_cross_entropy_with_logits(  # noqa: E731
        logits, torch.ones_like(logits), reduction="none")
    assert not ex.check_bce_label_losses(per_element, fake)
    verdict(capsys, False, "take the mean")


def test_minimax_g_loss(capsys):
    assert ex.check_minimax_g_loss(lambda logits: -F.softplus(logits).mean())
    verdict(capsys, True, "-log 2")
    assert not ex.check_minimax_g_loss(lambda logits: F.softplus(-logits).mean())
    verdict(capsys, False, "non-saturating")
    assert not ex.check_minimax_g_loss(lambda logits: F.softplus(logits).mean())
    verdict(capsys, False, "wrong sign")
    assert not ex.check_minimax_g_loss(lambda logits: 1 / 0)
    verdict(capsys, False, "ZeroDivisionError")


def test_live_settings(capsys):
    assert ex.check_live_settings(list(LIVE))
    verdict(capsys, True)
    assert not ex.check_live_settings({*LIVE, "batch_size"})
    verdict(capsys, False, "batch_size", "Reset")
    assert not ex.check_live_settings(["lr_d"])
    verdict(capsys, False, "also apply live")
    assert not ex.check_live_settings("lr_d")
    verdict(capsys, False, "set or list")


def test_bf16_drift(capsys):
    assert ex.check_bf16_drift([1e-4, -3e-4, 2e-3])
    verdict(capsys, True, "close, not equal")
    assert not ex.check_bf16_drift([0.0, 0.0])
    verdict(capsys, False, "amp='bf16'")
    assert not ex.check_bf16_drift([0.5, 1e-3])
    verdict(capsys, False, "more than rounding")
    assert not ex.check_bf16_drift([float("nan")])
    verdict(capsys, False, "not finite")


def test_rarest_digit(capsys):
    probs = torch.full((10, 10), 0.01)
    probs[torch.arange(10), torch.tensor([0, 0, 1, 2, 3, 4, 5, 6, 8, 8])] = 0.91
    rarest = int(digit_shares(probs).argmin())
    assert ex.check_rarest_digit(rarest, probs)
    verdict(capsys, True, f"digit {rarest}")
    assert not ex.check_rarest_digit(int(digit_shares(probs).argmax()), probs)
    verdict(capsys, False, "most frequent")
    assert not ex.check_rarest_digit(12, probs)
    verdict(capsys, False, "0-9")
    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        ex.check_rarest_digit(0, torch.zeros(3, 9))


def test_floor_sizes(capsys):
    g = torch.Generator().manual_seed(0)
    feats = (torch.randn(300, 4, generator=g), torch.randn(300, 4, generator=g))
    small, large = fd_floor(feats[0][:100], feats[1][:100]), fd_floor(feats[0], feats[1])
    assert ex.check_floor_sizes(small, large, feats, 300)
    verdict(capsys, True, "biased upwards")
    assert not ex.check_floor_sizes(large, small, feats, 300)
    verdict(capsys, False, "swapped")
    with pytest.raises(ValueError, match="need 400"):
        ex.check_floor_sizes(small, large, feats, 400)


def test_mask_penalty_grad(capsys):
    mask = torch.rand(2, 1, 3, 4, 4)
    assert ex.check_mask_penalty_grad(0.1 * torch.sign(mask) / mask.numel(), mask, 0.1)
    verdict(capsys, True, "sparse")
    assert not ex.check_mask_penalty_grad(0.1 * torch.sign(mask), mask, 0.1)
    verdict(capsys, False, "not a sum")
    assert not ex.check_mask_penalty_grad(-0.1 * torch.sign(mask) / mask.numel(), mask, 0.1)
    verdict(capsys, False, "wrong sign")
    assert not ex.check_mask_penalty_grad(torch.zeros(3), mask, 0.1)
    verdict(capsys, False, "the mask's shape")


def test_tconv3d_doubling(capsys):
    assert ex.check_tconv3d_doubling((4, 4, 4), 2, 1)
    verdict(capsys, True)
    assert ex.check_tconv3d_doubling(2, 2, 0)  # another layer that doubles is right too
    verdict(capsys, True)
    assert not ex.check_tconv3d_doubling(4, 1, 1)
    verdict(capsys, False, "(2, 4, 4) -> (3, 5, 5)")
    assert not ex.check_tconv3d_doubling(4, 2, 9)
    verdict(capsys, False, "PyTorch refuses")


def test_frozen_clips(capsys):
    real = torch.rand(3, 1, 5, 8, 8) * 2 - 1
    assert ex.check_frozen_clips(real[:, :, :1].expand_as(real).clone(), real)
    verdict(capsys, True, "0.00x")
    assert not ex.check_frozen_clips(real, real)
    verdict(capsys, False, "not frozen")
    assert not ex.check_frozen_clips(real[:, :, :1], real)
    verdict(capsys, False, "shape")
    assert not ex.check_frozen_clips(real[:, :, -1:].expand_as(real), real)
    verdict(capsys, False, "first frames")


def test_race_factor(capsys):
    rows = [{"recipe": "motion32", "frame_fd_over_floor": 2.0},
            {"recipe": "content_motion32", "frame_fd_over_floor": 5.0}]
    assert ex.check_race_factor(2.5, rows)
    verdict(capsys, True, "2.5")
    assert not ex.check_race_factor(0.4, rows)
    verdict(capsys, False, "inverted")
    with pytest.raises(ValueError, match="lack"):
        ex.check_race_factor(2.5, rows[:1])


# --- notebook 06 ---------------------------------------------------------------------------

def futures():
    frame = torch.zeros(1, 8, 8)
    frame[:, 3:5, 2:4] = 1.0
    return frame.roll(-1, dims=-1), frame.roll(1, dims=-1)


def test_weighted_average(capsys):
    A, B = futures()
    assert ex.check_weighted_average(0.8 * A + 0.2 * B, A, B)
    verdict(capsys, True, "0.8 A + 0.2 B")
    assert not ex.check_weighted_average((A + B) / 2, A, B)
    verdict(capsys, False, "equal-odds")
    assert not ex.check_weighted_average(0.2 * A + 0.8 * B, A, B)
    verdict(capsys, False, "swapped")
    assert not ex.check_weighted_average(None, A, B)
    verdict(capsys, False, "not answered yet")


def test_weighted_median(capsys):
    A, B = futures()
    p = torch.zeros_like(A, requires_grad=True)  # a learner's descent on the absolute error
    opt = torch.optim.SGD([p], lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        (0.8 * (A - p).abs().sum() + 0.2 * (B - p).abs().sum()).backward()
        opt.step()
    assert ex.check_weighted_median(p, A, B)
    verdict(capsys, True, "weighted median")
    assert not ex.check_weighted_median(0.8 * A + 0.2 * B, A, B)
    verdict(capsys, False, "squared error's")
    assert not ex.check_weighted_median(B, A, B)
    verdict(capsys, False, "less likely")


def test_adversarial_scale(capsys):
    assert ex.check_adversarial_scale(1 / 0.05)
    verdict(capsys, True, "same minimiser")
    assert not ex.check_adversarial_scale(0.05)
    verdict(capsys, False, "inverted")


def test_blend_sharpness(capsys):
    from vgan_utils import prediction as pr
    from vgan_utils import prediction_metrics as pm

    clips = pr.clips(range(6))
    blend = pm.linear_blend(clips[:, :, 4:5], clips[:, :, 15:16], 10)
    by_hand = (pm.gradient_energy(blend[:, :, 4]).mean()
               / pm.gradient_energy(clips[:, :, 9]).mean())
    assert ex.check_blend_sharpness(by_hand, clips)
    verdict(capsys, True, "cross-fade")
    assert not ex.check_blend_sharpness(1 / by_hand, clips)
    verdict(capsys, False, "inverted")
    with pytest.raises(ValueError, match="20"):
        ex.check_blend_sharpness(0.5, clips[:, :, :10])


# --- notebook 07 ---------------------------------------------------------------------------

def test_noise_psnr(capsys):
    assert ex.check_noise_psnr(10 * math.log10(4 / 0.1**2), 0.1)
    verdict(capsys, True, "dB")
    assert not ex.check_noise_psnr(10 * math.log10(1 / 0.1**2), 0.1)
    verdict(capsys, False, "peak of 1")
    assert not ex.check_noise_psnr(None, 0.1)
    verdict(capsys, False, "not answered yet")


def test_spearman(capsys):
    from vgan_utils import analysis

    level = torch.arange(6.0)
    score = torch.tensor([0.0, 1.0, 2.0, 3.0, 2.0, 1.0])
    assert ex.check_spearman(analysis.spearman_by_hand(level, score), level, score)
    verdict(capsys, True, "one way")
    pearson = float(torch.corrcoef(torch.stack([level, score]))[0, 1])
    assert not ex.check_spearman(pearson, level, score)
    verdict(capsys, False, "Pearson")


def test_auroc_pairs(capsys):
    s = torch.tensor([0.1, 0.4, 0.4, 0.8, 0.3, 0.9, 0.2])
    y = torch.tensor([0, 0, 1, 1, 1, 1, 0])
    pos, neg = s[y == 1], s[y == 0]
    d = pos[:, None] - neg[None, :]
    by_pairs = float(((d > 0).float() + 0.5 * (d == 0).float()).mean())
    assert ex.check_auroc_pairs(by_pairs, s, y)
    verdict(capsys, True, "12 pairs")
    assert not ex.check_auroc_pairs(float((d >= 0).float().mean()), s, y)
    verdict(capsys, False, "ties counted as wins")
    assert not ex.check_auroc_pairs(1 - by_pairs, s, y)
    verdict(capsys, False, "1 - AUROC")


def test_gan_bpp(capsys):
    bpp = 100 * 2 / 1024
    assert ex.check_gan_bpp(bpp, 8 / bpp)
    verdict(capsys, True, "per frame")
    assert not ex.check_gan_bpp(100 / 1024, 8 / bpp)
    verdict(capsys, False, "times b")
    assert not ex.check_gan_bpp(bpp, bpp / 8)
    verdict(capsys, False, "inverted")
def test_first_conv_flops(capsys):
    from vgan_utils.compute import networks

    layer = networks("frames", 32)[1].net[0]  # 1 -> 16 channels, 4x4, stride 2: 16x16 out
    want = 2 * 32 * 1 * 16 * 16 * 16 * 16
    assert ex.check_first_conv_flops(want, layer)
    verdict(capsys, True, "FlopCounterMode")
    assert not ex.check_first_conv_flops(want // 2, layer)
    verdict(capsys, False, "multiply-adds")
    assert not ex.check_first_conv_flops(want * 4, layer)
    verdict(capsys, False, "input positions")
    assert not ex.check_first_conv_flops(None, layer)
    verdict(capsys, False, "not answered")


# --- notebook 08: exercises 1 and 2 ------------------------------------------------------------

def test_minibatch_std(capsys):
    frames = torch.rand(8, 1, 6, 6)
    spread = frames.std(dim=0, unbiased=False).mean()
    assert ex.check_minibatch_std(0.0, spread, frames)
    verdict(capsys, True, "collapsed")
    assert not ex.check_minibatch_std(0.0, frames.std(dim=0).mean(), frames)
    verdict(capsys, False, "unbiased")
    with pytest.raises(ValueError, match="N >= 2"):
        ex.check_minibatch_std(0.0, spread, frames[:1])


def test_g_logit_gradients(capsys):
    d = 0.04
    assert ex.check_g_logit_gradients(-(1 - d), -d, d)
    verdict(capsys, True, "less gradient")
    assert not ex.check_g_logit_gradients(-d, -(1 - d), d)
    verdict(capsys, False, "minimax loss's", "non-saturating loss's")
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        ex.check_g_logit_gradients(0.0, 0.0, 1.0)
