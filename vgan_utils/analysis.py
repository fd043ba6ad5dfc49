"""Scores that analyse clips: a discriminator's verdict, its features, and how surprising a clip is.

* :func:`discriminator_scores` -- a trained GAN discriminator's logit per clip as a
  *no-reference* quality score (higher: more like the training clips). For MoCoGAN's
  image + video pair (:class:`~vgan_utils.video_training.ImageVideoDiscriminator`) the video
  discriminator's, or with ``part="image"`` the image discriminator's mean over frames.
  Always in eval mode, so BatchNorm uses running statistics and a clip's score does not
  depend on the other clips of its batch.
* :func:`train_discriminator` -- a fresh video discriminator trained (non-saturating loss on
  logits, Goodfellow et al. 2014) to tell real clips from a frozen generator's.
* :class:`Mahalanobis` -- the anomaly score of Lee et al. 2018 ("A Simple Unified Framework
  for Detecting Out-of-Distribution Samples and Adversarial Attacks"): the distance of a
  clip's features from the normal clips' Gaussian, ``sqrt((f - mu)^T S^-1 (f - mu))``.
* :func:`prediction_error` -- the anomaly score of Liu et al. 2018 ("Future Frame Prediction
  for Anomaly Detection -- A New Baseline"): how badly a frame predictor (notebook 06's API:
  ``predictor(past (N, C, 10, H, W)) -> next 10 frames``) predicts what really came next;
  :func:`next_frame_error`, Liu et al.'s own protocol: each frame predicted one step ahead
  from the frames before it; :func:`motion_surprise`, how much more the forecast moved than
  the clip did.
* :class:`ChangeMahalanobis` -- the Mahalanobis score of how per-frame features (the frame
  judge's digits) change within a clip.
* :func:`spearman_by_hand` and :func:`auroc_by_hand` -- the two rank statistics written
  out, which notebook 07 checks equal to torchmetrics'.
* :func:`discriminator_features` and :func:`linear_probe` -- D's penultimate activations as
  a representation (Radford et al. 2016 probe DCGAN's discriminator features with a linear
  classifier), measured by a logistic regression trained in PyTorch.

Taught in ``notebooks/07_video_analysis.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PAST = 10  # frames a notebook-06 predictor reads (and predicts)


def _video_part(discriminator: nn.Module) -> nn.Module:
    return getattr(discriminator, "video", discriminator)


@torch.no_grad()
def _per_clip(discriminator: nn.Module, clips: Tensor, part: str, batch_size: int,
              head: bool) -> Tensor:
    """One output per clip (N, ...) of the ``part`` of ``discriminator``, in eval mode.

    ``head``: the whole network (its logit), else everything before its last layer (features).
    The video part reads each clip; the image part (MoCoGAN's pair, or a frame GAN's
    discriminator on its own) reads every frame and its outputs are averaged over the frames.
    """
    if part not in ("video", "image"):
        raise ValueError(f"part must be 'video' or 'image', got {part!r}")
    net = _video_part(discriminator) if part == "video" else getattr(discriminator, "image",
                                                                        discriminator)
    fn = net if head else net.net[:-1]
    was = net.training
    net.eval()
    out = []
    for chunk in clips.split(batch_size):
        if part == "video":
            out.append(fn(chunk).reshape(chunk.shape[0], -1))
        else:
            n, t = chunk.shape[0], chunk.shape[2]
            out.append(fn(chunk.transpose(1, 2).flatten(0, 1)).reshape(n, t, -1).mean(1))
    net.train(was)
    return torch.cat(out)


def discriminator_scores(discriminator: nn.Module, clips: Tensor, part: str = "video",
                         batch_size: int = 64) -> Tensor:
    """Logits (N,) of clips (N, C, T, H, W): ``part`` = ``"video"`` or ``"image"`` (mean over
    frames of the image discriminator of MoCoGAN's pair, or of a frame GAN's discriminator)."""
    return _per_clip(discriminator, clips, part, batch_size, head=True).flatten()


def discriminator_features(discriminator: nn.Module, clips: Tensor, part: str = "video",
                           batch_size: int = 64) -> Tensor:
    """A discriminator's penultimate activations (N, F): everything before its last
    convolution (the one that makes the logit), flattened; eval mode. ``part="image"``: the
    image discriminator of MoCoGAN's pair, or a frame GAN's discriminator (notebook 04's), on
    every frame, averaged over the frames."""
    return _per_clip(discriminator, clips, part, batch_size, head=False)


def train_discriminator(discriminator: nn.Module, real_batch: Callable[[int], Tensor],
                        fake_batch: Callable[[int], Tensor], steps: int, lr: float = 2e-4,
                        ) -> list[float]:
    """Train ``discriminator`` alone: real clips vs a frozen generator's; returns the losses.

    ``real_batch(i)`` and ``fake_batch(i)`` give step i's clips. Adam (lr, betas 0.5/0.999
    as DCGAN); the loss is ``softplus(-D(x)) + softplus(D(G(z)))``, the non-saturating
    discriminator loss on logits.
    """
    opt = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    discriminator.train()
    losses = []
    for i in range(steps):
        real, fake = real_batch(i), fake_batch(i).detach()
        loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    discriminator.eval()
    return losses


class Mahalanobis:
    """Distance from the Gaussian of normal features; ``shrink`` adds a ridge to S."""

    def __init__(self, normal_features: Tensor, shrink: float = 1e-3) -> None:
        f = normal_features.double()
        if f.ndim != 2 or f.shape[0] < 2:
            raise ValueError(f"normal features must be (N >= 2, D); got {tuple(f.shape)}")
        self.mean = f.mean(0)
        cov = torch.atleast_2d(torch.cov(f.T))  # one feature: cov is a 0-d tensor
        ridge = shrink * cov.diagonal().mean() * torch.eye(f.shape[1], dtype=f.dtype)
        self.precision = torch.linalg.inv(cov + ridge)

    def __call__(self, features: Tensor) -> Tensor:
        d = features.double() - self.mean
        return torch.einsum("nd,de,ne->n", d, self.precision, d).clamp_min(0).sqrt().float()

    def worst(self, features: Tensor) -> Tensor:
        """Features (N, W, D), W per clip (windows, frames) -> each clip's largest score (N,)."""
        return self(features.flatten(0, 1)).reshape(features.shape[:2]).amax(1)


@torch.no_grad()
def prediction_error(predictor: nn.Module, clips: Tensor, past: int = PAST,
                     batch_size: int = 64, reduce: str = "mean") -> Tensor:
    """Squared error per clip (N,) of ``predictor``'s next ``past`` frames.

    ``clips`` (N, C, >= 2 * past, H, W): the predictor reads frames ``[0, past)`` and is
    scored on frames ``[past, 2 * past)``. Any module with notebook 06's API fits.
    ``reduce``: ``"mean"`` over the predicted frames, or ``"max"``, the worst frame's mean
    squared error (an event in a few frames is not averaged away).
    """
    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    if clips.ndim != 5 or clips.shape[2] < 2 * past:
        raise ValueError(f"clips must be (N, C, T >= {2 * past}, H, W) for a {past}-frame "
                         f"predictor; got {tuple(clips.shape)}")
    errors = []
    for chunk in clips.split(batch_size):
        pred = predictor(chunk[:, :, :past])
        target = chunk[:, :, past:2 * past]
        if pred.shape != target.shape:
            raise ValueError(f"the predictor returned {tuple(pred.shape)}; expected the next "
                             f"{past} frames, {tuple(target.shape)}")
        per_frame = (pred - target).pow(2).transpose(1, 2).flatten(2).mean(2)  # (N, past)
        errors.append(per_frame.mean(1) if reduce == "mean" else per_frame.amax(1))
    return torch.cat(errors)


@torch.no_grad()
def next_frames(predictor: nn.Module, clips: Tensor, past: int = PAST,
                batch_size: int = 64) -> Tensor:
    """One-step-ahead forecasts (N, C, T - past, H, W): frame ``t >= past`` predicted from
    the ``past`` frames before it (the first frame of the predictor's forecast)."""
    if clips.ndim != 5 or clips.shape[2] <= past:
        raise ValueError(f"clips must be (N, C, T > {past}, H, W) for a {past}-frame "
                         f"predictor; got {tuple(clips.shape)}")
    n, c, t, h, w = clips.shape
    context = windows(clips[:, :, :-1], past, 1).flatten(0, 1)  # (N * steps, C, past, H, W)
    firsts = []
    for chunk in context.split(batch_size):
        first = predictor(chunk)[:, :, 0]
        if first.shape != (len(chunk), c, h, w):
            raise ValueError(f"the predictor's first frame is {tuple(first.shape)}; "
                             f"expected {(len(chunk), c, h, w)}")
        firsts.append(first)
    return torch.cat(firsts).reshape(n, t - past, c, h, w).transpose(1, 2)


def next_frame_error(predictor: nn.Module, clips: Tensor, past: int = PAST,
                     batch_size: int = 64) -> Tensor:
    """Worst one-step-ahead squared error per clip (N,), as Liu et al. 2018 score frames.

    For every frame ``t >= past`` the predictor reads the ``past`` frames before it and only
    its first predicted frame is compared with frame ``t``; the clip keeps its worst frame.
    One step ahead the future is nearly certain, so a normal clip is predicted sharply and an
    event (a jump, a new digit) stands out; ten steps ahead (:func:`prediction_error`)
    every clip's error already carries the blur of an uncertain future.
    """
    forecast = next_frames(predictor, clips, past, batch_size)
    return (forecast - clips[:, :, past:]).pow(2).mean((1, 3, 4)).amax(1)


def motion_surprise(predictor: nn.Module, clips: Tensor, past: int = PAST,
                    batch_size: int = 64) -> Tensor:
    """How much more a frame predictor expected things to move than they did, worst step (N,).

    At every frame ``t >= past``: the mean absolute change from frame ``t - 1`` to the
    one-step forecast of frame ``t``, minus the change to the real frame ``t``. A digit that
    stops is only one step's motion away from the forecast, an error as small as a normal
    clip's, but the forecast still moves it and the frame does not: the missing motion is
    the sign of the event, and in normal clips the two changes agree.
    """
    forecast = next_frames(predictor, clips, past, batch_size)
    before = clips[:, :, past - 1:-1]
    expected = (forecast - before).abs().mean((1, 3, 4))  # (N, steps)
    actual = (clips[:, :, past:] - before).abs().mean((1, 3, 4))
    return (expected - actual).amax(1)


def windows(clips: Tensor, length: int, stride: int) -> Tensor:
    """Clips (N, C, T, H, W) -> all windows of ``length`` frames every ``stride``, (N, W, C,
    length, H, W)."""
    if not 1 <= length <= clips.shape[2]:
        raise ValueError(f"window length must be in 1..T={clips.shape[2]}, got {length}")
    starts = range(0, clips.shape[2] - length + 1, stride)
    return torch.stack([clips[:, :, s:s + length] for s in starts], dim=1)


class WindowedMahalanobis:
    """The Mahalanobis score per ``length``-frame window of a clip, worst window kept.

    Features of a whole clip pool over time, so an event in a few frames moves them little;
    windows see it at full weight. ``features`` maps clips (M, C, length, H, W) to (M, D)
    (e.g. the video judge's); the Gaussian is fitted on every window of the normal clips.
    """

    def __init__(self, features: Callable[[Tensor], Tensor], normal_clips: Tensor,
                 length: int = 8, stride: int = 2, shrink: float = 1e-3) -> None:
        self.features, self.length, self.stride = features, length, stride
        self.distance = Mahalanobis(self._window_features(normal_clips).flatten(0, 1), shrink)

    def _window_features(self, clips: Tensor) -> Tensor:
        w = windows(clips, self.length, self.stride)  # (N, W, C, L, H, W)
        return self.features(w.flatten(0, 1)).reshape(w.shape[0], w.shape[1], -1)

    def __call__(self, clips: Tensor) -> Tensor:
        return self.distance.worst(self._window_features(clips))


def frame_changes(per_frame: Tensor, k: int) -> Tensor:
    """Per-frame features (N, T, D) -> (N, T - 2k + 1, D): at every frame t from k to T - k,
    the mean over frames [t, t + k) minus the mean over frames [t - k, t)."""
    if not 1 <= k <= per_frame.shape[1] // 2:
        raise ValueError(f"k must be in 1..T // 2 = {per_frame.shape[1] // 2} for "
                         f"{per_frame.shape[1]} frames; got {k}")
    csum = F.pad(per_frame.double().cumsum(1), (0, 0, 1, 0))  # csum[:, t]: sum of frames < t
    t = torch.arange(k, per_frame.shape[1] - k + 1)
    before = (csum[:, t] - csum[:, t - k]) / k
    after = (csum[:, t + k] - csum[:, t]) / k
    return (after - before).to(per_frame.dtype)


class ChangeMahalanobis:
    """How unusually a clip's per-frame features change: the worst frame's Mahalanobis score.

    ``per_frame`` maps clips (N, C, T, H, W) to features (N, T, D), one row per frame (e.g.
    the frame judge's digit probabilities). At each frame the change from the ``k`` frames
    before it to the ``k`` frames from it on (:func:`frame_changes`) is scored against the
    Gaussian of the changes in normal clips. A normal clip keeps its digits, so changes in
    "which digits" directions stay small and a digit that becomes another stands out, while
    directions that vary in normal clips (where the digits are) are discounted.
    """

    def __init__(self, per_frame: Callable[[Tensor], Tensor], normal_clips: Tensor, k: int = 4,
                 shrink: float = 1e-3) -> None:
        self.per_frame, self.k = per_frame, k
        self.distance = Mahalanobis(self._changes(normal_clips).flatten(0, 1), shrink)

    def _changes(self, clips: Tensor) -> Tensor:
        return frame_changes(self.per_frame(clips), self.k)

    def __call__(self, clips: Tensor) -> Tensor:
        return self.distance.worst(self._changes(clips))


def ranks(x: Tensor) -> Tensor:
    """1-based ranks of x (N,), ties sharing their average rank."""
    x = x.double()
    order = x.argsort()
    r = torch.empty_like(x)
    r[order] = torch.arange(1, len(x) + 1, dtype=x.dtype)
    for v in x.unique():  # average the ranks of tied values
        tie = x == v
        r[tie] = r[tie].mean()
    return r


def spearman_by_hand(x: Tensor, y: Tensor) -> float:
    """Spearman's rho: Pearson's correlation of the ranks (average ranks for ties)."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx * ry).sum() / (rx.norm() * ry.norm()))


def auroc_by_hand(scores: Tensor, labels: Tensor) -> float:
    """P(score of a random positive > score of a random negative) + P(tie) / 2."""
    pos, neg = scores[labels.bool()].double(), scores[~labels.bool()].double()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUROC needs at least one positive and one negative")
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean())


def linear_probe(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
                 steps: int = 300, weight_decay: float = 1e-3, seed: int = 0) -> float:
    """Test accuracy of a logistic regression (softmax over classes) on standardised features.

    Full-batch Adam (lr 0.01) for ``steps`` steps with L2 ``weight_decay``; features are
    standardised with the training set's mean and spread, so every representation gets the
    same optimiser settings.
    """
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xs, xt = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    gen = torch.Generator().manual_seed(seed)
    w = (0.01 * torch.randn(xs.shape[1], classes, generator=gen)).requires_grad_()
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.01, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(xs @ w + b, train_y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(((xt @ w + b).argmax(1) == test_y).float().mean())
