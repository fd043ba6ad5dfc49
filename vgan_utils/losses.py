"""GAN losses on the discriminator's raw logits, and the two gradient regularisers.

Every loss here is a scalar to *minimise*, computed from raw scores (logits), never
from probabilities: ``-log sigmoid(x)`` is written ``softplus(-x)``, which stays finite
at any logit, where in float32 ``log(sigmoid(x))`` is ``-inf`` below about ``x = -89``
(``sigmoid`` underflows to 0) and ``log(1 - sigmoid(x))`` already from ``x = 17``
(``sigmoid`` rounds to 1).

Papers:

* minimax and non-saturating GAN -- Goodfellow et al. 2014, "Generative Adversarial Nets".
* least squares (LSGAN, the a=0, b=1, c=1 coding) -- Mao et al. 2017, "Least Squares
  Generative Adversarial Networks".
* hinge -- Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral Normalization
  for Generative Adversarial Networks".
* Wasserstein critic -- Arjovsky et al. 2017, "Wasserstein GAN"; its gradient penalty --
  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs".
* R1 penalty -- Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?".
* relativistic pairing (RpGAN) -- Jolicoeur-Martineau 2019, "The relativistic discriminator: a
  key element missing from standard GAN"; with R1 and R2 -- Huang, Gokaslan, Kuleshov &
  Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline" (R3GAN).

The source article the course grew from writes the generator's loss with the wrong sign;
:data:`ARTICLE_SIGN_ERROR` keeps that mistake, for notebook 01 to show what training with
it does. It is not in :data:`LOSS_NAMES`.

Taught in ``notebooks/01_gan_objective.ipynb``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

LOSS_NAMES: tuple[str, ...] = ("minimax", "nonsaturating", "lsgan", "hinge", "wasserstein")
# Paired losses score each fake against a real sample, so G's loss needs real logits too.
PAIRED_LOSS_NAMES: tuple[str, ...] = ("relativistic",)
ARTICLE_SIGN_ERROR = "article_sign_error"


@dataclass(frozen=True)
class GANLoss:
    """A named pair of losses: ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``.

    Both return scalars to minimise. ``bounded_scores`` says whether the engine may report
    ``sigmoid(logit)`` as a probability (true for the cross-entropy losses); for the others
    the raw score is what is meaningful. A ``paired`` loss's ``g_loss`` takes
    ``(fake_logits, real_logits)``: call :meth:`generator_loss`, which passes what each needs.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[..., Tensor]
    bounded_scores: bool = True
    paired: bool = False

    def generator_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        """G's loss on ``fake`` logits; ``real`` logits (no gradient to G) when ``paired``."""
        if not self.paired:
            return self.g_loss(fake)
        if real is None:
            raise ValueError(f"the {self.name!r} loss pairs each fake with a real sample: "
                             "pass the real batch's logits too")
        return self.g_loss(fake, real)


def _check_logits(*logits: Tensor) -> None:
    """Fail early on what would otherwise broadcast silently or give a NaN later."""
    for x in logits:
        if not isinstance(x, Tensor):
            raise TypeError(f"losses take torch tensors of logits, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"logits must be floating point, got dtype {x.dtype}")
        if x.numel() == 0:
            raise ValueError("logits are empty: a loss is a mean over at least one sample")


# --- cross-entropy family (Goodfellow et al. 2014) ---------------------------------------

def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """D's loss: ``-E[log D(x)] - E[log(1 - D(G(z)))]`` = ``E[softplus(-r)] + E[softplus(f)]``.

    The negative of the value function V(D, G) that D maximises (the source article calls
    V itself a loss: it must be negated to be minimised).
    """
    _check_logits(real, fake)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """G's minimax loss ``E[log(1 - D(G(z)))]`` = ``-E[softplus(f)]``.

    Exactly G's side of the game, but its gradient vanishes as D(G(z)) -> 0, i.e. early in
    training when D wins easily: the saturation Goodfellow et al. 2014 point out.
    """
    _check_logits(fake)
    return -F.softplus(fake).mean()


def nonsaturating_g_loss(fake: Tensor) -> Tensor:
    """G's non-saturating loss ``-E[log D(G(z))]`` = ``E[softplus(-f)]``.

    Same fixed point as the minimax loss, but a strong gradient where D(G(z)) is small.
    """
    _check_logits(fake)
    return F.softplus(-fake).mean()


def article_sign_error_g_loss(fake: Tensor) -> Tensor:
    """The source article's generator loss (WRONG): ``-E[log(1 - D(G(z)))]`` = ``E[softplus(f)]``.

    The article writes ``L_G = -E[log D(x)] - E[log(1 - D(G(z)))]``; the first term does not
    depend on G, the second has the wrong sign, so minimising it pushes D(G(z)) *down*:
    G helps D instead of fooling it. Kept only to demonstrate that in notebook 01.
    """
    _check_logits(fake)
    return F.softplus(fake).mean()


# --- least squares (Mao et al. 2017) -----------------------------------------------------

def lsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """D's LSGAN loss ``1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]`` on raw scores (no sigmoid)."""
    _check_logits(real, fake)
    return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()


def lsgan_g_loss(fake: Tensor) -> Tensor:
    """G's LSGAN loss ``1/2 E[(D(G(z)) - 1)^2]``: its gradient grows with the distance."""
    _check_logits(fake)
    return 0.5 * (fake - 1).pow(2).mean()


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) --------------------------------------------

def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """D's hinge loss ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``: no push past a margin."""
    _check_logits(real, fake)
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def critic_g_loss(fake: Tensor) -> Tensor:
    """G's loss for hinge and Wasserstein critics: ``-E[D(G(z))]``, raise the critic's score."""
    _check_logits(fake)
    return -fake.mean()


# --- Wasserstein (Arjovsky et al. 2017) ---------------------------------------------------

def wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """The critic's loss ``E[D(G(z))] - E[D(x)]``; minus it estimates W1 if D is 1-Lipschitz.

    Without a Lipschitz constraint the critic can grow without bound: pair it with
    :func:`gradient_penalty` (WGAN-GP), as the trainer does when ``gp_weight > 0``.
    """
    _check_logits(real, fake)
    return fake.mean() - real.mean()


# --- relativistic pairing (Jolicoeur-Martineau 2019; Huang et al. 2024) -----------------------

def _check_pairs(real: Tensor, fake: Tensor) -> None:
    _check_logits(real, fake)
    if real.numel() != fake.numel():
        raise ValueError(f"a paired loss needs as many real logits as fake ones, got "
                         f"{real.numel()} and {fake.numel()}")


def rp_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """D's RpGAN loss ``E[softplus(-(D(x) - D(G(z))))]``: each real must outscore its fake.

    D is judged only on the *difference* of scores of a pair, so it cannot win by pushing all
    scores one way. Sun et al. 2020 ("Towards a Better Global Loss Landscape of GANs") show this
    loss has no basins in which G drops modes, which the cross-entropy loss has; Huang et al.
    2024 add R1 and R2 so that training also converges locally.
    """
    _check_pairs(real, fake)
    return F.softplus(fake.flatten() - real.flatten()).mean()


def rp_g_loss(fake: Tensor, real: Tensor) -> Tensor:
    """G's RpGAN loss ``E[softplus(-(D(G(z)) - D(x)))]``: the same pair, the roles swapped."""
    _check_pairs(real, fake)
    return F.softplus(real.flatten() - fake.flatten()).mean()


_LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", bce_d_loss, minimax_g_loss),
    "nonsaturating": GANLoss("nonsaturating", bce_d_loss, nonsaturating_g_loss),
    "lsgan": GANLoss("lsgan", lsgan_d_loss, lsgan_g_loss, bounded_scores=False),
    "hinge": GANLoss("hinge", hinge_d_loss, critic_g_loss, bounded_scores=False),
    "wasserstein": GANLoss("wasserstein", wasserstein_d_loss, critic_g_loss,
                           bounded_scores=False),
    "relativistic": GANLoss("relativistic", rp_d_loss, rp_g_loss, bounded_scores=False,
                            paired=True),
    ARTICLE_SIGN_ERROR: GANLoss(ARTICLE_SIGN_ERROR, bce_d_loss, article_sign_error_g_loss),
}


def get_loss(name: str) -> GANLoss:
    """The :class:`GANLoss` called ``name`` (case-insensitive).

    An unknown name raises ``ValueError`` listing :data:`LOSS_NAMES`, so a typo in a
    config fails at once instead of training something else.
    """
    if not isinstance(name, str):
        raise TypeError(f"loss name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in _LOSSES:
        valid = ", ".join(LOSS_NAMES + PAIRED_LOSS_NAMES)
        raise ValueError(f"unknown loss {name!r}; valid names are: {valid}")
    return _LOSSES[key]


# --- regularisers ---------------------------------------------------------------------------

def _input_grad(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """d(sum of critic scores)/dx, kept in the graph so the penalty trains the critic."""
    x = x.detach().requires_grad_(True)
    scores = critic(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` (Gulrajani et al. 2017).

    ``x_hat`` is drawn uniformly on the segment between each real sample and a fake one,
    where the optimal critic has gradient norm 1. ``generator`` makes the random mixing
    weights reproducible. The caller multiplies by the weight (10 in the paper).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake batches differ in shape: {tuple(real.shape)} vs "
                         f"{tuple(fake.shape)}")
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
    grad = _input_grad(critic, x_hat)
    return (grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 penalty ``E[||grad_x D(x)||^2]`` on real data (Mescheder et al. 2018).

    Pushes D to be flat on the data, which makes the game locally convergent. The caller
    applies the weight ``gamma / 2``.
    """
    if real.dim() < 1 or real.shape[0] == 0:
        raise ValueError("r1_penalty needs a non-empty batch of real samples")
    grad = _input_grad(critic, real)
    return grad.reshape(grad.shape[0], -1).pow(2).sum(dim=1).mean()


def r2_penalty(critic: Callable[[Tensor], Tensor], fake: Tensor) -> Tensor:
    """R2 penalty ``E[||grad_x D(G(z))||^2]``: R1's formula on generated samples.

    Huang et al. 2024 add it to R1 so that D is flat on both distributions; R1 alone let
    their RpGAN diverge. The caller applies the weight ``gamma / 2``.
    """
    if fake.dim() < 1 or fake.shape[0] == 0:
        raise ValueError("r2_penalty needs a non-empty batch of generated samples")
    return r1_penalty(critic, fake)
