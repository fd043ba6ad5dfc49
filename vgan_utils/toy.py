"""Toy GANs in 1-D and 2-D: the data, small MLPs, the mode-coverage measures, a live plot.

Small enough to train in seconds on a CPU, with a known density, so that what the theory
says can be checked: the optimal discriminator, the Jensen-Shannon divergence, mode collapse.

* The 1-D Gaussian follows Goodfellow et al. 2014 ("Generative Adversarial Nets", fig. 1).
* The ring of 8 Gaussians comes from Metz et al. 2017 ("Unrolled Generative Adversarial
  Networks"); the 5x5 grid and the two measures -- a sample is *high quality* when it lies
  within 3 standard deviations of a mode's centre, a mode is *covered* when enough
  high-quality samples fall on it -- from Srivastava et al. 2017 ("VEEGAN: Reducing Mode
  Collapse in GANs using Implicit Variational Learning"). The "enough" threshold here,
  20 samples in 2500 (0.8%), is the one Lin et al. 2018 ("PacGAN") use with those measures.

Training goes through the course's one engine, :class:`vgan_utils.training.GANTrainer`;
this module only supplies what the engine asks for (``batch_fn``, ``z_sampler``, networks)
and a ``render`` function for :class:`vgan_utils.dashboard.Dashboard`.

Taught in ``notebooks/01_gan_objective.ipynb``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

TOY_NAMES: tuple[str, ...] = ("gaussian", "ring", "grid")
DEFAULT_MIN_SHARE = 20 / 2500  # PacGAN's threshold: 20 high-quality samples out of 2500


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight mixture of isotropic Gaussians: ``centres`` (K, D) and one ``std``.

    Knowing the density exactly is the point of a toy problem: it gives D* and the JSD.
    """

    name: str
    centres: Tensor
    std: float

    def __post_init__(self) -> None:
        if self.centres.dim() != 2 or self.centres.shape[0] == 0:
            raise ValueError(f"centres must be (K, D) with K >= 1, got {tuple(self.centres.shape)}")
        if not self.std > 0:
            raise ValueError(f"std must be positive, got {self.std}")

    @property
    def dim(self) -> int:
        """Dimension of a sample (1 or 2 here)."""
        return self.centres.shape[1]

    @property
    def n_modes(self) -> int:
        """Number of mixture components K."""
        return self.centres.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape (n, D): pick a component uniformly, add Gaussian noise."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        k = torch.randint(self.n_modes, (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.centres[k] + self.std * noise

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at points ``x`` (N, D), via logsumexp so far tails stay finite.

        Computed in ``x``'s dtype (float64 for quadrature), float32 for integer input.
        """
        x = x.reshape(-1, self.dim)
        x = x if x.is_floating_point() else x.float()
        sq = (x[:, None, :] - self.centres.to(x.dtype)[None]).pow(2).sum(-1)  # (N, K)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(-0.5 * sq / self.std**2, dim=1) + log_norm - math.log(self.n_modes)


def gaussian_1d(mean: float = 4.0, std: float = 1.25) -> GaussianMixture:
    """One 1-D Gaussian N(mean, std^2): the data of the first GAN one trains."""
    return GaussianMixture("gaussian", torch.tensor([[float(mean)]]), float(std))


def ring(n_modes: int = 8, radius: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """``n_modes`` Gaussians evenly spaced on a circle (Metz et al. 2017 use 8, radius 2)."""
    if n_modes < 1:
        raise ValueError(f"n_modes must be at least 1, got {n_modes}")
    angle = torch.arange(n_modes, dtype=torch.float32) * (2 * math.pi / n_modes)
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return GaussianMixture("ring", centres, float(std))


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """``side`` x ``side`` Gaussians on a square grid centred on 0 (VEEGAN's 5x5 grid)."""
    if side < 1:
        raise ValueError(f"side must be at least 1, got {side}")
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture("grid", torch.stack([gx.flatten(), gy.flatten()], dim=1), float(std))


def make_toy(name: str, **kwargs: Any) -> GaussianMixture:
    """The toy data set called ``name`` (one of :data:`TOY_NAMES`); kwargs go to its maker."""
    makers = {"gaussian": gaussian_1d, "ring": ring, "grid": grid}
    if name not in makers:
        raise ValueError(f"unknown toy data {name!r}; valid names are: {', '.join(TOY_NAMES)}")
    return makers[name](**kwargs)


# --- what the engine asks for ---------------------------------------------------------------

def make_batch_fn(data: GaussianMixture, batch_size: int, seed: int = 0) -> Callable[[int], Tensor]:
    """``batch_fn(step)`` for the engine: the real batch depends only on (seed, step).

    So a run resumed from a checkpoint, or repeated, sees exactly the same data.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")

    def batch_fn(step: int) -> Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + int(step))
        return data.sample(batch_size, g)

    return batch_fn


def make_z_sampler(z_dim: int) -> Callable[[int, torch.Generator], Tensor]:
    """``z_sampler(n, generator)`` for the engine: standard normal codes (n, z_dim)."""
    if z_dim < 1:
        raise ValueError(f"z_dim must be at least 1, got {z_dim}")

    def z_sampler(n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, z_dim, generator=generator, device=generator.device)

    return z_sampler


def mlp(in_dim: int, out_dim: int, hidden: int = 128, depth: int = 3) -> nn.Sequential:
    """``depth`` linear layers with ReLU between: enough for every toy here, fast on a CPU."""
    if depth < 1 or hidden < 1:
        raise ValueError(f"need depth >= 1 and hidden >= 1, got depth={depth}, hidden={hidden}")
    dims = [in_dim] + [hidden] * (depth - 1) + [out_dim]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def toy_generator(z_dim: int, out_dim: int, hidden: int = 128, depth: int = 3) -> nn.Sequential:
    """G: z (N, z_dim) -> sample (N, out_dim). No output squashing: toy data is unbounded."""
    return mlp(z_dim, out_dim, hidden, depth)


def toy_discriminator(in_dim: int, hidden: int = 128, depth: int = 3) -> nn.Sequential:
    """D: x (N, in_dim) -> one raw logit per sample (N, 1); the losses take logits."""
    return mlp(in_dim, 1, hidden, depth)


DEFAULT_HPARAMS: dict[str, Any] = {
    "loss": "nonsaturating", "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5,
    "batch_size": 256, "d_steps": 1, "z_dim": 8,
}


def make_toy_trainer(
    data: GaussianMixture,
    hparams: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    hidden: int = 128,
    n_fixed: int = 512,
) -> Any:
    """A :class:`~vgan_utils.training.GANTrainer` for ``data`` with fresh MLPs.

    ``hparams`` uses the dashboard's keys (:data:`DEFAULT_HPARAMS`; missing ones take the
    defaults) plus optional ``gp_weight``, ``r1_weight`` and ``beta2``. The Wasserstein loss
    gets ``gp_weight=10`` unless told otherwise: without a Lipschitz constraint its critic
    is unbounded (Gulrajani et al. 2017). Networks are seeded by ``seed``, so two calls
    with the same arguments train identically; ``n_fixed`` samples from a fixed z are
    what :func:`make_render` draws.
    """
    from .training import GANTrainer, TrainConfig

    hp = {**DEFAULT_HPARAMS, **(hparams or {})}
    unknown = set(hp) - set(DEFAULT_HPARAMS) - {"gp_weight", "r1_weight", "beta2"}
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: "
                         f"{sorted(DEFAULT_HPARAMS)} + gp_weight, r1_weight, beta2")
    default_gp = 10.0 if hp["loss"] == "wasserstein" else 0.0
    config = TrainConfig(
        loss=hp["loss"], lr_g=float(hp["lr_g"]), lr_d=float(hp["lr_d"]),
        betas=(float(hp["beta1"]), float(hp.get("beta2", 0.999))), d_steps=int(hp["d_steps"]),
        gp_weight=float(hp.get("gp_weight", default_gp)), r1_weight=float(hp.get("r1_weight", 0)),
    )
    z_dim = int(hp["z_dim"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = toy_generator(z_dim, data.dim, hidden)
        d = toy_discriminator(data.dim, hidden)
    return GANTrainer(g, d, make_batch_fn(data, int(hp["batch_size"]), seed),
                      make_z_sampler(z_dim), config, device=device, seed=seed,
                      n_fixed=n_fixed)


def fit_discriminator(
    d: nn.Module,
    real: GaussianMixture,
    fake: GaussianMixture,
    steps: int,
    *,
    batch_size: int = 512,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Train ``d`` alone to tell samples of ``real`` from samples of a fixed ``fake``.

    This is the inner maximisation of the GAN game with G held still -- the setting of
    Goodfellow et al.'s Proposition 1 -- so D should approach
    D*(x) = p_data(x) / (p_data(x) + p_g(x)). It is logistic regression with the GAN's
    D loss, not GAN training (that is :class:`~vgan_utils.training.GANTrainer`'s job).
    Returns the loss of every step.
    """
    from .losses import get_loss

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if real.dim != fake.dim:
        raise ValueError(f"real is {real.dim}-D but fake is {fake.dim}-D")
    d_loss = get_loss("nonsaturating").d_loss
    opt = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(steps):
        loss = d_loss(d(real.sample(batch_size, gen)), d(fake.sample(batch_size, gen)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


# --- mode coverage (VEEGAN's measures) ------------------------------------------------------

@dataclass(frozen=True)
class ModeCoverage:
    """How many modes a sample covers and how much of it is high quality."""

    modes_covered: int
    n_modes: int
    high_quality: float  # share of samples within n_sigma std of their nearest centre
    counts: tuple[int, ...]  # high-quality samples per mode


def mode_coverage(
    samples: Tensor,
    data: GaussianMixture,
    n_sigma: float = 3.0,
    min_share: float = DEFAULT_MIN_SHARE,
) -> ModeCoverage:
    """VEEGAN's two numbers for a set of generated ``samples`` (N, D).

    A sample is high quality when its distance to the nearest centre is at most
    ``n_sigma * data.std``; a mode is covered when at least ``min_share`` of all samples
    (at least one sample) are high quality and nearest to it. Collapse onto a few modes
    keeps the high-quality share high while the modes covered drop; a blurry generator
    does the opposite -- which is why both are reported.
    """
    if samples.dim() != 2 or samples.shape[1] != data.dim or samples.shape[0] == 0:
        raise ValueError(f"samples must be (N, {data.dim}) with N >= 1, got {tuple(samples.shape)}")
    if not torch.isfinite(samples).all():
        raise ValueError("samples contain NaN or inf: the generator has diverged")
    dist = torch.cdist(samples.detach().float().cpu(), data.centres.float())  # (N, K)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= n_sigma * data.std
    counts = torch.bincount(nearest[good], minlength=data.n_modes)
    need = max(1, math.ceil(min_share * samples.shape[0]))
    return ModeCoverage(
        modes_covered=int((counts >= need).sum()),
        n_modes=data.n_modes,
        high_quality=float(good.float().mean()),
        counts=tuple(int(c) for c in counts),
    )


# --- pictures ------------------------------------------------------------------------------

def plot_samples(ax: Any, samples: Tensor, data: GaussianMixture, n_sigma: float = 3.0) -> None:
    """Draw 2-D ``samples`` over the modes' high-quality discs on a matplotlib axis."""
    from matplotlib.patches import Circle

    pts = samples.detach().float().cpu()
    for c in data.centres.tolist():
        ax.add_patch(Circle(c, n_sigma * data.std, color="tab:green", alpha=0.25, lw=0))
    ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5, color="tab:blue", lw=0)
    lim = float(data.centres.abs().max()) * 1.6 + 4 * data.std
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def samples_png(
    samples: Tensor, data: GaussianMixture, title: str = "", size: float = 3.0
) -> bytes:
    """PNG bytes of a 2-D scatter, drawn on a pyplot-free Figure: safe from a training thread."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size, size), dpi=80)
    ax = fig.add_subplot()
    plot_samples(ax, samples, data)
    cov = mode_coverage(samples, data)
    ax.set_title(f"{title}{' | ' if title else ''}modes {cov.modes_covered}/{cov.n_modes}, "
                 f"HQ {cov.high_quality:.0%}", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def make_render(data: GaussianMixture) -> Callable[[Any], bytes]:
    """``render(trainer)`` for the dashboard: the trainer's samples from its fixed z as PNG."""

    def render(trainer: Any) -> bytes:
        return samples_png(trainer.sample(), data, title=f"step {trainer.step}")

    return render
