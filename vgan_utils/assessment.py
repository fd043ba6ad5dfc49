"""Video quality assessment, three kinds side by side, against graded damage.

For clean clips and each distortion of :mod:`vgan_utils.distortions` at every level, the
scores of notebook 07, section 1:

* **full-reference** -- PSNR and SSIM (Wang et al. 2004, "Image Quality Assessment: From Error
  Visibility to Structural Similarity") of the damaged clip against its clean original, from
  torchmetrics, over all frames;
* **distribution-level** -- the video judge's clip FD against its floor
  (:func:`vgan_utils.video_quality.clip_fd`), and the frame judge's precision and recall
  (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
  Models") of the damaged set against real frames;
* **no-reference** -- any per-clip scorer, such as a discriminator's logit
  (:func:`vgan_utils.analysis.discriminator_scores`), averaged over the set.

:func:`rank_correlations` then asks of each score: does it move one way as the damage grows?
(Spearman's rho between the level 0..5 and the score.) Taught in
``notebooks/07_video_analysis.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torchmetrics.functional import spearman_corrcoef
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from .distortions import DISTORTIONS, LEVELS, distort
from .judge import Judge, judge_outputs
from .quality import quality_from_features
from .video_judge import VideoJudge
from .video_quality import clip_fd, frames_of

Scorer = Callable[[Tensor], Tensor]  # clips (N, C, T, H, W) -> one score per clip (N,)
PIXEL_RANGE = 2.0  # pixels live in [-1, 1]


def frames(clips: Tensor) -> Tensor:
    """All frames of clips (N, C, T, H, W) as images (N * T, C, H, W)."""
    return clips.transpose(1, 2).flatten(0, 1)


def psnr(damaged: Tensor, clean: Tensor) -> float:
    """PSNR in dB over all pixels of two clip sets, ``10 log10(range^2 / MSE)``."""
    return float(peak_signal_noise_ratio(damaged, clean, data_range=PIXEL_RANGE))


def ssim(damaged: Tensor, clean: Tensor) -> float:
    """Mean SSIM over all frames (Gaussian 11x11 window, sigma 1.5: the paper's settings)."""
    return float(structural_similarity_index_measure(frames(damaged), frames(clean),
                                                     data_range=PIXEL_RANGE))


class SetScorer:
    """Full-reference, distribution-level and no-reference scores of one damaged clip set.

    The real sets' judge outputs are computed once: ``real_a`` is what FD, precision and
    recall compare against, ``real_b`` (disjoint) gives the FD floor.
    """

    def __init__(self, video_judge: VideoJudge, frame_judge: Judge, real_a: Tensor,
                 real_b: Tensor, scorers: dict[str, Scorer], frames_per_clip: int = 4):
        self.video_judge, self.frame_judge, self.scorers = video_judge, frame_judge, scorers
        self.real_a, self.real_b, self.k = real_a, real_b, frames_per_clip
        self.f_a, self.p_a = judge_outputs(frame_judge, frames_of(real_a, frames_per_clip))
        self.f_b, _ = judge_outputs(frame_judge, frames_of(real_b, frames_per_clip))

    def __call__(self, damaged: Tensor, clean: Tensor) -> dict[str, float | Tensor]:
        """Scores of ``damaged`` (its clean originals: ``clean``); per-clip scores under
        ``"<name>/clips"``."""
        f_gen, p_gen = judge_outputs(self.frame_judge, frames_of(damaged, self.k))
        q = quality_from_features(f_gen, p_gen, self.f_a, self.p_a, self.f_b)
        same = torch.equal(damaged, clean)
        out: dict[str, float | Tensor] = {
            "PSNR": float("inf") if same else psnr(damaged, clean),
            "SSIM": ssim(damaged, clean),
            "clip FD/floor": clip_fd(self.video_judge, damaged, self.real_a,
                                     self.real_b)["fd_over_floor"],
            "precision": q["precision"], "recall": q["recall"]}
        for name, scorer in self.scorers.items():
            per_clip = scorer(damaged)
            out[name], out[f"{name}/clips"] = float(per_clip.mean()), per_clip
        return out


def distortion_sweep(clean: Tensor, scorer: SetScorer, names: tuple[str, ...] = DISTORTIONS,
                     seed: int = 0) -> dict[str, list[dict[str, float | Tensor]]]:
    """For each distortion, the scores at levels 0..5 (level 0, the clean set, is shared)."""
    base = scorer(clean, clean)
    return {name: [base] + [scorer(distort(clean, name, lv, seed), clean)
                            for lv in range(1, LEVELS + 1)] for name in names}


def rank_correlations(sweep: dict[str, list[dict[str, float | Tensor]]], score: str,
                      per_clip: bool = False) -> dict[str, float]:
    """Spearman's rho between level (0..5) and ``score``, per distortion.

    ``per_clip`` uses every clip's own score (``N * 6`` pairs: can the score rank single
    clips?) instead of the set means (6 pairs: does the score move one way?). A score
    that is the same at every level has no rho (NaN).
    """
    rho = {}
    for name, levels in sweep.items():
        if per_clip:
            values = torch.cat([lv[f"{score}/clips"] for lv in levels])
            level = torch.arange(len(levels)).repeat_interleave(len(levels[0][f"{score}/clips"]))
        else:
            values = torch.tensor([float(lv[score]) for lv in levels])
            level = torch.arange(len(levels))
        values = values.double().nan_to_num(posinf=1e6)  # PSNR of the clean set is infinite
        rho[name] = (float("nan") if values.unique().numel() == 1
                     else float(spearman_corrcoef(values, level.double())))
    return rho
