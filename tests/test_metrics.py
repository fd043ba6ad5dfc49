"""Tests of vgan_utils.metrics: Fréchet distance against closed forms; the judge read-outs."""

import math

import pytest
import torch

from vgan_utils import metrics


def _gaussian(n: int, mean: torch.Tensor, std: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return mean + std * torch.randn(n, mean.numel(), generator=g, dtype=torch.float64)


def test_identical_sets_give_zero():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_gaussians_match_closed_form():
    # For diagonal covariances: FD = ||mu1-mu2||^2 + sum_i (s1_i - s2_i)^2 (s = std devs).
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.5])
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 1.0, 0.5])
    closed = float(((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum())
    exact = metrics.frechet_distance_from_stats(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    assert exact == pytest.approx(closed, rel=1e-10)
    a = _gaussian(200_000, mu1.double(), s1.double(), 1)
    b = _gaussian(200_000, mu2.double(), s2.double(), 2)
    sampled = metrics.frechet_distance(a, b)
    assert sampled == pytest.approx(closed, rel=0.02)


def test_full_covariance_against_commuting_closed_form():
    # Covariances sharing eigenvectors commute: Tr sqrt(S1 S2) = sum sqrt(l1_i l2_i).
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(3)).double())
    l1, l2 = torch.arange(1.0, 7.0).double(), torch.arange(6.0, 0.0, -1.0).double()
    cov1, cov2 = q @ torch.diag(l1) @ q.T, q @ torch.diag(l2) @ q.T
    zero = torch.zeros(6, dtype=torch.float64)
    closed = float(l1.sum() + l2.sum() - 2 * (l1 * l2).sqrt().sum())
    assert metrics.frechet_distance_from_stats(zero, cov1, zero, cov2) == pytest.approx(closed)


def test_symmetric():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(300, 8, generator=g), 2 * torch.randn(400, 8, generator=g) + 1
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a))


def test_translation_gives_squared_mean_shift():
    x = torch.randn(1000, 5, generator=torch.Generator().manual_seed(5))
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 3.0])
    expected = float((shift**2).sum())
    assert metrics.frechet_distance(x, x + shift) == pytest.approx(expected, rel=1e-6)


def test_rank_deficient_features_stay_finite():
    # Fewer samples than features: singular covariances, still a real non-negative number.
    g = torch.Generator().manual_seed(6)
    a, b = torch.randn(10, 64, generator=g), torch.randn(10, 64, generator=g)
    fd = metrics.frechet_distance(a, b)
    assert math.isfinite(fd) and fd >= 0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="feature sizes differ"):
        metrics.frechet_distance(torch.randn(5, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        metrics.frechet_distance(torch.randn(5), torch.randn(5))
    with pytest.raises(ValueError, match="same size"):
        metrics.fd_floor(torch.randn(5, 3), torch.randn(6, 3))
    with pytest.raises(ValueError, match="logits"):
        metrics.confident_share(torch.randn(4, 10) * 5)


def test_floor_shrinks_with_more_samples():
    g = torch.Generator().manual_seed(7)
    small = metrics.fd_floor(torch.randn(100, 8, generator=g), torch.randn(100, 8, generator=g))
    large = metrics.fd_floor(torch.randn(5000, 8, generator=g), torch.randn(5000, 8, generator=g))
    assert large < small


def test_confident_share_and_coverage():
    p = torch.full((4, 10), 0.01)
    p[0, 3] = p[1, 3] = 0.99  # two clear frames showing a 3
    p[2, 5] = 0.6             # one hesitant frame: not confident, but a call for 5
    # frame 3: nothing present, not confident
    assert metrics.confident_share(p) == pytest.approx(0.5)
    assert metrics.digit_shares(p)[3].item() == pytest.approx(2 / 3)
    assert metrics.digit_coverage(p) == 2
    assert metrics.digit_coverage(torch.zeros(3, 10)) == 0
    uniform = torch.eye(10).repeat(5, 1)
    assert metrics.digit_coverage(uniform) == 10 and metrics.confident_share(uniform) == 1.0


def test_precision_recall_identical_sets_score_one():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    assert metrics.precision_recall(x, x.clone()) == {"precision": 1.0, "recall": 1.0}


def test_precision_recall_far_apart_clusters_score_zero():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(200, 4, generator=g), 50 + torch.randn(200, 4, generator=g)
    assert metrics.precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}


def test_precision_recall_separate_realism_from_coverage():
    # Fakes on half of the real data: realistic (precision ~1) but half the data missed.
    g = torch.Generator().manual_seed(2)
    real = torch.cat([torch.randn(300, 2, generator=g), 20 + torch.randn(300, 2, generator=g)])
    fake = torch.randn(300, 2, generator=g)
    pr = metrics.precision_recall(real, fake, k=3)
    assert pr["precision"] > 0.9 and 0.4 < pr["recall"] < 0.55


def test_knn_radii_exclude_the_sample_itself_and_check_k():
    x = torch.tensor([[0.0], [1.0], [3.0]])
    assert metrics.knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="k must be in"):
        metrics.knn_radii(x, k=3)
