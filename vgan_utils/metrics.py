"""Quality measured, not eyeballed: Fréchet distance on a judge's features, and what it means.

The Fréchet distance (FD) between two Gaussians fitted to feature sets is

    FD = ||mu_1 - mu_2||^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2}),

the squared 2-Wasserstein distance between N(mu_1, S_1) and N(mu_2, S_2). With
Inception-v3 features of images it is the FID of Heusel et al. 2017 ("GANs Trained by a
Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS); with features
of a video network it is the FVD of Unterthiner et al. 2018 ("Towards Accurate Generative
Models of Video: A New Metric & Challenges"). This course computes it on the features of a
small judge trained on its own synthetic frames (:mod:`vgan_utils.judge`).

An FD alone has no scale, and it is biased upwards with few samples, so we always report it
beside its **floor**: the FD between two disjoint real sets of the same size. A generator
whose frames are as good as real ones sits at FD / floor ~ 1. Two further read-outs use the
judge's predictions: the share of frames it labels with confidence (it is overconfident on
noise too, so this only counts together with FD) and the digit coverage (how many of the
10 digits get at least 2% of its calls; mode collapse shows here). Precision and recall
(Kynkaenniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
Models", NeurIPS) split FD's single number into realism and coverage.

The trace term is computed in float64 through the eigenvalues of the symmetric matrix
``S_1^{1/2} S_2 S_1^{1/2}``, which stays real and stable where a general ``sqrtm`` of the
non-symmetric ``S_1 S_2`` returns complex noise.

Taught in ``notebooks/04_training_on_frames.ipynb``; reused for clips in
``notebooks/05`` and as a quality score in ``notebooks/07``.
"""

from __future__ import annotations

import torch
from torch import Tensor

CONFIDENT_LOW = 0.1
CONFIDENT_HIGH = 0.9
COVERAGE_MIN_SHARE = 0.02
NUM_DIGITS = 10


def _as_features(x: Tensor | object, name: str) -> Tensor:
    """A 2-D float64 tensor (N, D) with N >= 2, or a clear error."""
    t = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if t.ndim != 2:
        raise ValueError(f"{name} must be (N, D) features, got shape {tuple(t.shape)}")
    if t.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for a covariance, got {t.shape[0]}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} holds NaN or inf")
    return t


def mean_cov(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = _as_features(features, "features")
    mu = f.mean(dim=0)
    centred = f - mu
    cov = centred.T @ centred / (f.shape[0] - 1)
    return mu, cov


def _sqrt_psd(mat: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix via its eigen-decomposition."""
    sym = (mat + mat.T) / 2  # remove rounding asymmetry so eigh sees a symmetric matrix
    vals, vecs = torch.linalg.eigh(sym)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def trace_sqrt_product(cov1: Tensor, cov2: Tensor) -> Tensor:
    """Tr((S_1 S_2)^{1/2}) as Tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2}): a symmetric PSD form.

    Both forms have the same eigenvalues; the symmetric one lets ``eigh`` return them real
    and non-negative (up to rounding, which we clamp), so no complex ``sqrtm`` is needed.
    """
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    vals = torch.linalg.eigvalsh((middle + middle.T) / 2)
    return vals.clamp_min(0).sqrt().sum()


def frechet_distance_from_stats(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """FD between N(mu1, cov1) and N(mu2, cov2) (Heusel et al. 2017, eq. 6)."""
    mu1, mu2, cov1, cov2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, cov1, cov2))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (*mu1.shape, *mu1.shape):
        raise ValueError(
            f"shape mismatch: mu {tuple(mu1.shape)} / {tuple(mu2.shape)}, "
            f"cov {tuple(cov1.shape)} / {tuple(cov2.shape)}"
        )
    diff = mu1 - mu2
    fd = diff @ diff + cov1.trace() + cov2.trace() - 2 * trace_sqrt_product(cov1, cov2)
    return max(float(fd), 0.0)  # rounding can take an exact 0 a hair below zero


def frechet_distance(feats1: Tensor, feats2: Tensor) -> float:
    """FD between two feature sets (N1, D) and (N2, D), each summarised as a Gaussian."""
    f1 = _as_features(feats1, "feats1")
    f2 = _as_features(feats2, "feats2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sizes differ: {f1.shape[1]} vs {f2.shape[1]}")
    return frechet_distance_from_stats(*mean_cov(f1), *mean_cov(f2))


def fd_floor(real_a: Tensor, real_b: Tensor) -> float:
    """The FD between two disjoint real sets of the same size: what "as good as real" scores.

    FD is biased upwards by sampling noise (more so with few samples and many features), so
    a generator's FD only means something as a multiple of this floor, measured at the
    same sample size.
    """
    if len(real_a) != len(real_b):
        raise ValueError(f"floor sets must have the same size, got {len(real_a)} and {len(real_b)}")
    return frechet_distance(real_a, real_b)


def confident_share(
    probs: Tensor, low: float = CONFIDENT_LOW, high: float = CONFIDENT_HIGH
) -> float:
    """Share of frames the judge labels with confidence.

    ``probs`` is (N, 10): the judge's per-digit presence probabilities. A frame counts when
    every digit is called decisively (p < ``low`` or p > ``high``) and at least one digit is
    called present: a blank or smeared frame, where the judge sees nothing, does not count.
    The judge is overconfident on some noise, so read this together with FD.
    """
    p = _probs(probs)
    decisive = ((p < low) | (p > high)).all(dim=1)
    some_digit = (p > high).any(dim=1)
    return float((decisive & some_digit).double().mean())


def digit_shares(probs: Tensor, threshold: float = 0.5) -> Tensor:
    """Share of the judge's "present" calls (p > ``threshold``) that go to each digit, (10,).

    All zeros when the judge calls nothing present anywhere.
    """
    calls = (_probs(probs) > threshold).double().sum(dim=0)
    total = calls.sum()
    return calls / total if total > 0 else calls


def digit_coverage(probs: Tensor, min_share: float = COVERAGE_MIN_SHARE) -> int:
    """How many of the 10 digits hold at least ``min_share`` of the judge's calls.

    A uniform mix of digits gives each about 10%; a collapsed generator that draws only
    0/8/9-like shapes covers 3.
    """
    return int((digit_shares(probs) >= min_share).sum())


def knn_radii(features: Tensor, k: int = 3) -> Tensor:
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded)."""
    f = _as_features(features, "features")
    if not 1 <= k < len(f):
        raise ValueError(f"k must be in [1, {len(f) - 1}] for {len(f)} samples, got {k}")
    dist = torch.cdist(f, f)
    return dist.kthvalue(k + 1, dim=1).values  # the 1st "neighbour" is the sample itself


def _inside_manifold(points: Tensor, support: Tensor, radii: Tensor) -> Tensor:
    """For each point: does it lie in some ball B(support_j, radii_j)? (N,) bool."""
    return (torch.cdist(points, support) <= radii[None, :]).any(dim=1)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall of generative models (Kynkaenniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, each ball reaching the
    sample's k-th nearest neighbour. Precision is the share of fake samples inside the
    real manifold (are the samples realistic?), recall the share of real samples inside
    the fake manifold (is all of the data covered?). Two real sets score below 1 too, so
    report both beside the real-vs-real values at the same N and k.
    """
    r = _as_features(real, "real")
    f = _as_features(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature sizes differ: {r.shape[1]} vs {f.shape[1]}")
    precision = _inside_manifold(f, r, knn_radii(r, k)).double().mean()
    recall = _inside_manifold(r, f, knn_radii(f, k)).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def _probs(probs: Tensor) -> Tensor:
    """Validate (N, 10) probabilities in [0, 1]."""
    p = torch.as_tensor(probs).detach().to("cpu", torch.float64)
    if p.ndim != 2 or p.shape[1] != NUM_DIGITS:
        raise ValueError(f"probs must be (N, {NUM_DIGITS}), got shape {tuple(p.shape)}")
    if p.numel() and (p.min() < 0 or p.max() > 1):
        raise ValueError("probs must lie in [0, 1]: pass sigmoid(logits), not logits")
    return p
