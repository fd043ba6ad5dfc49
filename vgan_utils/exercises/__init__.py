"""Exercises that answer back: one check per exercise of the notebooks.

In the manner of Neuromatch's reference values (NeuromatchAcademy/course-content-dl), every
exercise cell ends with a call such as ``exercises.check_batch_mib(mib_float32, mib_bfloat16)``.
The check prints one line at once -- ``✓`` and what the answer shows, or ``✗`` and what is
off (shape, axis order, dtype, sign, scale, a known slip) -- and returns ``True`` or ``False``.
A wrong answer never raises: a learner should read a hint, not a traceback. Only arguments
the *notebook* passes (data, reference values) are validated with exceptions, since a bad one
there is a bug in the course, not a learner's mistake.

Every reference is computed here from its definition (a formula, a PyTorch layer, the
package's own networks and datasets), never typed in, and ``tests/test_exercises.py`` checks
each check against the reference solution and against typical wrong answers.
Exercise ids are ``"NN.k"``: notebook ``NN``, exercise ``k``; :data:`CHECKS` maps them to
their checks (the tests use it to make sure every exercise calls one).

The checks live by notebook: :mod:`.basics` (00-03), :mod:`.frames_and_clips` (04-05),
:mod:`.prediction` (06),
:mod:`.video_analysis` (07), :mod:`.hard_parts` (08);
the shared machinery in :mod:`.core`.
"""

from .basics import (
    ARTICLE_D_LAYERS,
    EX00_BATCH,
    article_d_sides,
    check_article_d_sizes,
    check_batch_mib,
    check_bce_gradient,
    check_biggest_layer,
    check_clip_counts,
    check_conv3d_time_axis,
    check_doubling_padding,
    check_frame_batch_clips,
    check_grid_coverage,
    check_lsgan_optimum,
    check_minimax_vs_nonsaturating,
    check_relu_output_share,
    check_seed_rerun,
    check_small_moving_digits,
    check_to_model_tensor,
    video_folder_clip_count,
)
from .core import CHECKS, NOT_YET
from .frames_and_clips import (
    check_bce_label_losses,
    check_bf16_drift,
    check_floor_sizes,
    check_frozen_clips,
    check_live_settings,
    check_mask_penalty_grad,
    check_minimax_g_loss,
    check_race_factor,
    check_rarest_digit,
    check_tconv3d_doubling,
)
from .hard_parts import check_first_conv_flops, check_g_logit_gradients, check_minibatch_std
from .prediction import (
    check_adversarial_scale,
    check_blend_sharpness,
    check_weighted_average,
    check_weighted_median,
)
from .video_analysis import (
    check_auroc_pairs,
    check_gan_bpp,
    check_noise_psnr,
    check_spearman,
)

__all__ = [
    "check_minibatch_std",
    "check_g_logit_gradients",
    "check_spearman",
    "check_noise_psnr",
    "check_gan_bpp",
    "check_auroc_pairs",
    "check_first_conv_flops",
    "check_weighted_median",
    "check_weighted_average",
    "check_blend_sharpness",
    "check_adversarial_scale",
    "ARTICLE_D_LAYERS",
    "CHECKS",
    "EX00_BATCH",
    "NOT_YET",
    "article_d_sides",
    "check_article_d_sizes",
    "check_batch_mib",
    "check_bce_gradient",
    "check_bce_label_losses",
    "check_bf16_drift",
    "check_biggest_layer",
    "check_clip_counts",
    "check_conv3d_time_axis",
    "check_doubling_padding",
    "check_floor_sizes",
    "check_frame_batch_clips",
    "check_frozen_clips",
    "check_grid_coverage",
    "check_live_settings",
    "check_lsgan_optimum",
    "check_mask_penalty_grad",
    "check_minimax_g_loss",
    "check_minimax_vs_nonsaturating",
    "check_race_factor",
    "check_rarest_digit",
    "check_relu_output_share",
    "check_seed_rerun",
    "check_small_moving_digits",
    "check_tconv3d_doubling",
    "check_to_model_tensor",
    "video_folder_clip_count",
]
