"""One training engine for every GAN in the course: toy points, frames and clips.

:class:`GANTrainer` alternates discriminator and generator updates with any loss of
:mod:`vgan_utils.losses`, one step at a time, so a notebook (or the dashboard) can train
N more steps whenever it likes and change learning rates between steps. What it does,
and the paper each piece comes from:

* alternating updates, ``d_steps`` discriminator updates per generator update --
  Goodfellow et al. 2014, "Generative Adversarial Nets" (Algorithm 1);
* Adam with ``beta1 = 0.5`` -- Radford et al. 2016, "Unsupervised Representation Learning
  with Deep Convolutional GANs" (DCGAN);
* separate learning rates for D and G (TTUR) -- Heusel et al. 2017, "GANs Trained by a Two
  Time-Scale Update Rule Converge to a Local Nash Equilibrium";
* gradient penalty -- Gulrajani et al. 2017; R1 penalty -- Mescheder et al. 2018;
* an exponential moving average (EMA) of G's weights for sampling -- Karras et al. 2018,
  "Progressive Growing of GANs"; Yazici et al. 2019, "The Unusual Effectiveness of
  Averaging in GAN Training";
* mixed precision (bf16 autocast, or fp16 with loss scaling) -- Micikevicius et al. 2018,
  "Mixed Precision Training";
* an optional extra term in the generator's loss, ``g_penalty(z, G(z))`` -- for conditional
  models whose code ``z`` carries the target, as in the frame prediction of Mathieu, Couprie &
  LeCun 2016 (an L1/L2 and gradient-difference loss beside the adversarial one;
  :mod:`vgan_utils.prediction`, notebook 06).

A non-finite loss or gradient stops training with :class:`NonFiniteLossError` and rolls
the trainer back to the state before the failing step, so nothing is lost.

The loop is written out cell by cell, then replaced by this class, in
``notebooks/04_training_on_frames.ipynb``; notebook 01 uses it for the toy GANs and
notebook 05 for clips. Checkpoints: :mod:`vgan_utils.checkpoint`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .losses import get_loss, gradient_penalty, r1_penalty, r2_penalty

AMP_MODES = ("off", "bf16", "fp16")
# Fields set_hparams may change between steps; the others shape the networks or the
# optimiser machinery and need a new trainer.
LIVE_FIELDS = ("loss", "lr_g", "lr_d", "betas", "d_steps", "gp_weight", "r1_weight")
HISTORY_KEYS = ("step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g",
                "lr_g", "lr_d", "steps_per_s", "frames_per_s")


class NonFiniteLossError(FloatingPointError):
    """A loss or gradient became NaN or inf; the trainer was rolled back before that step."""


@dataclass
class TrainConfig:
    """Hyperparameters of one GAN training run.

    ``r1_weight`` is R1's gamma: the trainer adds ``gamma / 2 * R1``, as in Mescheder et al.
    ``r2_weight`` is the same on generated samples (R2, Huang et al. 2024).
    ``reg_every`` > 1 adds the penalties only every that many steps, weighted that many times
    as much ("lazy regularisation", Karras et al. 2020, StyleGAN2): most steps skip the costly
    double backward.
    ``ema_decay`` (e.g. 0.999) keeps an averaged copy of G used by :meth:`GANTrainer.sample`.
    ``amp`` picks mixed precision: ``"bf16"`` autocast, or ``"fp16"`` autocast with a gradient
    scaler (fp16's small range needs loss scaling; bf16's does not).
    """

    loss: str = "nonsaturating"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps: int = 1
    gp_weight: float = 0.0
    r1_weight: float = 0.0
    r2_weight: float = 0.0
    reg_every: int = 1
    ema_decay: float | None = None
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)
        self.validate()

    def validate(self) -> None:
        """Fail at once, with the offending value, instead of training something odd."""
        get_loss(self.loss)
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if int(self.d_steps) != self.d_steps or self.d_steps < 1:
            raise ValueError(f"d_steps must be an integer >= 1, got {self.d_steps}")
        if min(self.gp_weight, self.r1_weight, self.r2_weight) < 0:
            raise ValueError("gp_weight, r1_weight and r2_weight must be >= 0")
        if int(self.reg_every) != self.reg_every or self.reg_every < 1:
            raise ValueError(f"reg_every must be an integer >= 1, got {self.reg_every}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {self.ema_decay}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")


def _memory_format(x: Tensor) -> torch.memory_format | None:
    """The channels-last layout for a 4-D (image) or 5-D (clip) tensor; None otherwise."""
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(x.dim())


def _to_channels_last(module: nn.Module) -> None:
    """Convert conv weights in place: 2-D convs to channels_last, 3-D convs to _3d."""
    for p in module.parameters():
        fmt = _memory_format(p)
        if fmt is not None:
            p.data = p.data.contiguous(memory_format=fmt)


def _grad_norm(module: nn.Module) -> Tensor:
    """Global L2 norm of the gradients: a NaN here is caught before it spoils the weights.

    One fused ``_foreach_norm`` over all gradients, not one kernel per tensor: this runs
    twice per step, so its cost shows in the engine's overhead (``bench/run.py --overhead``).
    """
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())


def _copy_tensors(dst: list[Tensor] | None, src: list[Tensor]) -> list[Tensor]:
    """Copies of ``src``, written into ``dst``'s tensors when every shape matches.

    Taking a rollback snapshot every step then costs one memcpy per tensor, no allocation.
    """
    if dst is not None and len(dst) == len(src) and all(
            d.shape == s.shape and d.dtype == s.dtype for d, s in zip(dst, src, strict=True)):
        for d, s in zip(dst, src, strict=True):
            d.copy_(s)
        return dst
    return [s.detach().clone() for s in src]


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU (and CUDA) RNG states as plain types ``weights_only`` loads."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA only when this machine has it)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class GANTrainer:
    """Trains ``generator`` against ``discriminator`` step by step; see the module docstring.

    ``batch_fn(i)`` returns the i-th real batch (deterministic in ``i``; ``i`` counts
    discriminator updates, so it equals the step when ``d_steps == 1``). ``z_sampler(n, gen)``
    returns ``n`` latent codes drawn with the CPU ``torch.Generator`` ``gen``. All randomness
    of training comes from generators seeded by ``seed``, which is what makes a resumed run
    repeat an uninterrupted one exactly. ``n_fixed`` codes drawn first form :attr:`fixed_z`,
    used to watch the same samples improve.

    ``g_penalty(z, fake)``, when given, returns a scalar added to the generator's loss at each
    generator update (``fake = G(z)``, the same ``z``); its last value is kept in
    :attr:`last_g_penalty`, and ``loss_g`` in the history stays the adversarial part. Without
    it the engine behaves exactly as before.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        batch_fn: Callable[[int], Tensor],
        z_sampler: Callable[[int, torch.Generator], Tensor],
        config: TrainConfig | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
        *,
        n_fixed: int = 64,
        g_penalty: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> None:
        self.config = replace(config) if config is not None else TrainConfig()
        self.device = torch.device(device)
        self.generator = generator.to(self.device)
        self.discriminator = discriminator.to(self.device)
        self.batch_fn = batch_fn
        self.z_sampler = z_sampler
        self.g_penalty = g_penalty
        self.last_g_penalty = 0.0
        self.step = 0
        self.batches_drawn = 0
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self._z_gen = torch.Generator().manual_seed(seed)
        self._noise_gen = torch.Generator(self.device).manual_seed(seed + 1)
        self.fixed_z = self._sample_z(n_fixed)
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._snapshot: dict[str, Any] | None = None
        # Each step's statistics pass through this before they are recorded: identity here;
        # a mean over processes under DistributedDataParallel (vgan_utils.distributed).
        self.reduce_stats: Callable[[Tensor], Tensor] = lambda stats: stats
        self._build()

    # --- construction ------------------------------------------------------------------

    def _build(self) -> None:
        """Optimisers, scalers, EMA copy and (optionally) compiled forwards."""
        cfg = self.config
        if cfg.channels_last:
            _to_channels_last(self.generator)
            _to_channels_last(self.discriminator)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d,
                                      betas=cfg.betas)
        fp16 = cfg.amp == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.ema = None
        if cfg.ema_decay is not None:
            self.ema = copy.deepcopy(self.generator).requires_grad_(False).eval()
        # Compiled forwards for the plain passes; penalties need double backward, which
        # torch.compile does not support, so they call the eager discriminator.
        self.wrap_networks(lambda net: net)
        self.loss_fn = get_loss(cfg.loss)

    def wrap_networks(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Run the plain forward passes through ``wrap(G)`` and ``wrap(D)`` (compiled if asked).

        :mod:`vgan_utils.distributed` passes ``DistributedDataParallel`` here, so the engine
        stays the same on one process or many: the wrapper averages gradients across
        processes, and the optimisers, EMA and checkpoints keep using the bare networks.
        Penalties call the bare discriminator (see :meth:`_penalties`).
        """
        compile_ = torch.compile if self.config.compile else (lambda net: net)
        self._g_fwd = compile_(wrap(self.generator))
        self._d_fwd = compile_(wrap(self.discriminator))

    # --- public API ----------------------------------------------------------------------

    def set_hparams(self, **kw: Any) -> None:
        """Change live hyperparameters (:data:`LIVE_FIELDS`); they apply at the next step.

        Safe to call from another thread while :meth:`train` runs (the dashboard does).
        Values are checked now, so a bad one raises here rather than inside training.
        """
        unknown = set(kw) - set(LIVE_FIELDS)
        if unknown:
            raise ValueError(f"set_hparams cannot change {sorted(unknown)}: only {LIVE_FIELDS} "
                             "change between steps; the rest need a new trainer")
        with self._lock:
            merged = {**self._pending, **kw}
            replace(self.config, **merged)  # validates
            self._pending = merged

    def train(self, n_steps: int, stop: threading.Event | None = None,
              progress: bool = False) -> None:
        """Run ``n_steps`` more steps (fewer if ``stop`` gets set; checked before each step).

        Raises :class:`NonFiniteLossError` after rolling back if a loss or gradient is
        NaN/inf. ``progress`` shows a tqdm bar (``TQDM_DISABLE=1`` hides it).
        """
        self.generator.train()
        self.discriminator.train()
        with _progress(n_steps, progress) as bar:
            for _ in range(n_steps):
                if stop is not None and stop.is_set():
                    break
                self._train_step()
                bar.update(1)
                if self.step % 10 == 0:
                    bar.set_postfix(loss_d=self.history["loss_d"][-1],
                                    loss_g=self.history["loss_g"][-1], refresh=False)

    @torch.no_grad()
    def sample(self, z: Tensor | None = None) -> Tensor:
        """Samples of G in eval mode (the EMA copy if enabled) as float32 on the CPU."""
        net = self.ema if self.ema is not None else self.generator
        z = self.fixed_z if z is None else z.to(self.device)
        was_training = net.training
        net.eval()
        try:
            with self._autocast():
                out = net(self._layout(z))
        finally:
            net.train(was_training)
        return out.float().cpu()

    def throughput(self, window: int = 20) -> dict[str, float]:
        """Steps/s and frames/s over the last ``window`` steps (0 before any step)."""
        sps = self.history["steps_per_s"][-window:]
        if not sps:
            return {"steps_per_s": 0.0, "frames_per_s": 0.0}
        seconds = sum(1.0 / s for s in sps)
        frames = sum(f / s for f, s in zip(self.history["frames_per_s"][-window:], sps,
                                            strict=True))
        return {"steps_per_s": len(sps) / seconds, "frames_per_s": frames / seconds}

    @property
    def scores_are_probabilities(self) -> bool:
        """True when ``d_real``/``d_fake`` are mean sigmoid(logit), False for raw scores."""
        return self.loss_fn.bounded_scores

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: weights, optimisers, scalers, EMA, RNGs,
        counters, config and history, as types ``torch.load(weights_only=True)`` accepts."""
        state = self._core_state()
        state["config"] = asdict(self.config)
        state["history"] = {k: list(v) for k, v in self.history.items()}
        state["fixed_z"] = self.fixed_z.cpu()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; live hyperparameters come from the saved config.

        Precision, layout and compilation stay as this trainer was built, so a run saved on
        a CPU resumes on a GPU with bf16 and the other way round.
        """
        saved = state["config"]
        if (saved["ema_decay"] is None) != (self.config.ema_decay is None):
            raise ValueError(f"checkpoint has ema_decay={saved['ema_decay']} but this trainer "
                             f"has {self.config.ema_decay}: build the trainer with the same one")
        self.config = replace(self.config, **{k: saved[k] for k in LIVE_FIELDS})
        self.loss_fn = get_loss(self.config.loss)
        self._load_core(state)
        self.history = {k: list(state["history"].get(k, [])) for k in HISTORY_KEYS}
        self.fixed_z = state["fixed_z"].to(self.device)

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint atomically (see :mod:`vgan_utils.checkpoint`)."""
        from .checkpoint import save_checkpoint

        return save_checkpoint(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        """Resume from a checkpoint written by :meth:`save` (loaded with weights_only)."""
        from .checkpoint import load_checkpoint

        self.load_state_dict(load_checkpoint(path))

    # --- one step -------------------------------------------------------------------------

    def _train_step(self) -> None:
        """One step of Algorithm 1 of Goodfellow et al. 2014; rolls back on a NaN/inf."""
        self._apply_pending()
        # Machinery: keep what a failed step would need restored (see _rollback_state).
        self._take_snapshot()
        t0 = time.perf_counter()
        # 1. k = d_steps discriminator updates, each on a real batch and a fresh fake batch
        for _ in range(self.config.d_steps):
            real = self._next_batch()  # (N, C, H, W) frames or (N, C, T, H, W) clips
            loss_d, d_real, d_fake, gn_d = self._d_step(real)
        # 2. one generator update, through the discriminator just updated
        loss_g, gn_g = self._g_step(real)
        # 3. the averaged generator used for sampling (when ema_decay is set)
        self._update_ema()
        # Machinery: statistics (the checks ran inside steps 1 and 2, before each update)
        stats = self.reduce_stats(torch.stack([loss_d, loss_g, d_real, d_fake, gn_d, gn_g]))
        stats = stats.tolist()
        self.step += 1
        seconds = max(time.perf_counter() - t0, 1e-9)
        frames = real.shape[0] * (real.shape[2] if real.dim() == 5 else 1)
        self._record(stats, seconds, frames)

    def _d_step(self, real: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One discriminator update on ``real`` and a fresh fake batch (G frozen)."""
        with torch.no_grad(), self._autocast():
            fake = self._g_fwd(self._layout(self._sample_z(real.shape[0])))  # G(z), like real
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            real_logits = self._d_fwd(real)  # (N,)
            fake_logits = self._d_fwd(fake)  # (N,)
            loss = self.loss_fn.d_loss(real_logits.float(), fake_logits.float())
        total = loss + self._penalties(real, fake)
        self.scaler_d.scale(total).backward()
        self.scaler_d.unscale_(self.opt_d)
        gnorm = _grad_norm(self.discriminator)
        d_real, d_fake = self._score(real_logits), self._score(fake_logits)
        self._check(loss_d=loss, d_real=d_real, d_fake=d_fake, grad_norm_d=gnorm)
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        return loss.detach(), d_real, d_fake, gnorm

    def _g_step(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """One generator update through the (unchanged) discriminator.

        ``real`` is the last discriminator batch: its size sets G's, and a paired loss
        (relativistic) scores each fake against one of its samples.
        """
        self.opt_g.zero_grad(set_to_none=True)
        z = self._layout(self._sample_z(real.shape[0]))
        with self._autocast():
            fake = self._g_fwd(z)  # (N, C, H, W)
            real_logits = None
            if self.loss_fn.paired:
                with torch.no_grad():
                    real_logits = self._d_fwd(real).float()
            loss = self.loss_fn.generator_loss(self._d_fwd(fake).float(), real_logits)
        total = loss
        if self.g_penalty is not None:
            penalty = self.g_penalty(z, fake.float())
            self.last_g_penalty = float(penalty.detach())
            total = loss + penalty
        self.scaler_g.scale(total).backward()
        self.scaler_g.unscale_(self.opt_g)
        gnorm = _grad_norm(self.generator)
        self._check(loss_g=total, grad_norm_g=gnorm)
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        return loss.detach(), gnorm

    def _check(self, **values: Tensor) -> None:
        """Roll back and raise if any value is NaN/inf: called *before* an optimiser step."""
        finite = torch.isfinite(torch.stack([v.detach().float() for v in values.values()]))
        if not bool(finite.all()):
            self._rollback([k for k, ok in zip(values, finite.tolist(), strict=True) if not ok])

    def _penalties(self, real: Tensor, fake: Tensor) -> Tensor:
        """Gradient penalty, R1 and R2, in float32 outside autocast (double backward needs range).

        With ``reg_every = k`` they are added on steps 0, k, 2k, ... only, k times as heavy.

        They call the bare discriminator, not a compiled or DistributedDataParallel wrapper:
        ``torch.compile`` does not support double backward, and DDP needs none here, since the
        penalty's parameter gradients reach the same leaves in the step's one ``backward()``,
        where DDP averages them with the rest.
        """
        cfg = self.config
        total = torch.zeros((), device=self.device)
        if self.step % cfg.reg_every:
            return total
        with torch.autocast(self.device.type, enabled=False):
            if cfg.gp_weight > 0:
                total = total + cfg.gp_weight * gradient_penalty(
                    self.discriminator, real.float(), fake.float(), generator=self._noise_gen)
            if cfg.r1_weight > 0:
                total = total + cfg.r1_weight / 2 * r1_penalty(self.discriminator, real.float())
            if cfg.r2_weight > 0:
                total = total + cfg.r2_weight / 2 * r2_penalty(self.discriminator, fake.float())
        return total * cfg.reg_every

    def _update_ema(self) -> None:
        """EMA of G's weights, with the decay ramped up over the first steps.

        The ramp ``min(decay, (1 + t) / (10 + t))`` keeps a short run's average from being
        dominated by the random initial weights.
        """
        if self.ema is None:
            return
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
                e.lerp_(p.detach(), 1.0 - decay)
            for e, b in zip(self.ema.buffers(), self.generator.buffers(), strict=True):
                e.copy_(b)

    # --- helpers ---------------------------------------------------------------------------

    def _apply_pending(self) -> None:
        """Move hyperparameters queued by :meth:`set_hparams` into the config and optimisers."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        self.config = replace(self.config, **pending)
        self.loss_fn = get_loss(self.config.loss)
        for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
                group["betas"] = self.config.betas

    def _sample_z(self, n: int) -> Tensor:
        return self.z_sampler(n, self._z_gen).to(self.device)

    def _next_batch(self) -> Tensor:
        batch = self.batch_fn(self.batches_drawn)
        self.batches_drawn += 1
        return self._layout(batch.to(self.device, non_blocking=True))

    def _layout(self, x: Tensor) -> Tensor:
        """Channels-last for image/clip tensors when enabled (faster convs on GPUs)."""
        fmt = _memory_format(x) if self.config.channels_last else None
        return x if fmt is None else x.contiguous(memory_format=fmt)

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.config.amp)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _score(self, logits: Tensor) -> Tensor:
        """Mean D output: sigmoid for cross-entropy losses, raw score for the others."""
        x = logits.detach().float()
        return (torch.sigmoid(x) if self.loss_fn.bounded_scores else x).mean()

    def _record(self, stats: list[float], seconds: float, frames: int) -> None:
        values = [self.step, *stats, self.config.lr_g, self.config.lr_d, 1.0 / seconds,
                  frames / seconds]
        for key, value in zip(HISTORY_KEYS, values, strict=True):
            self.history[key].append(value)

    def _core_state(self) -> dict[str, Any]:
        """Everything that training changes (what a checkpoint holds besides config and history)."""
        return {
            "step": self.step,
            "batches_drawn": self.batches_drawn,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": {**rng_state(), "z": self._z_gen.get_state(),
                    "noise": self._noise_gen.get_state()},
        }

    def _load_core(self, state: dict[str, Any]) -> None:
        self.step = state["step"]
        self.batches_drawn = state["batches_drawn"]
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.scaler_g.is_enabled() and state["scaler_g"]:
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])
        self._z_gen.set_state(state["rng"]["z"])
        noise = state["rng"]["noise"]
        # A CPU generator's state is not a CUDA one's: across devices it keeps its seed
        # (runs on different devices never match bit for bit anyway).
        if noise.numel() == self._noise_gen.get_state().numel():
            self._noise_gen.set_state(noise)

    def _rollback_tensors(self) -> list[Tensor]:
        """The tensors a failed step must restore, in place: only what can have changed.

        Every update is checked before it is applied (:meth:`_check`), so a failure leaves G's
        weights, G's optimiser and the EMA untouched. D's can have moved (a NaN in G's step can
        come from D's update just before it), and batch-norm running statistics move in every
        forward pass. Adam's moments come last: they do not exist before D's first update.
        Copying only these tensors, into buffers reused from step to step, keeps the engine's
        cost per step small (``bench/run.py --overhead``).
        """
        d = self.discriminator
        moments = [v for s in self.opt_d.state.values() for v in s.values()
                   if isinstance(v, Tensor)]
        return [*d.parameters(), *d.buffers(), *self.generator.buffers(), *moments]

    def _take_snapshot(self) -> None:
        """Keep what :meth:`_rollback` restores: tensors, counters, RNGs and scalers."""
        old = self._snapshot["tensors"] if self._snapshot else None
        self._snapshot = {
            "tensors": _copy_tensors(old, self._rollback_tensors()),
            "has_moments": bool(self.opt_d.state),
            "step": self.step,
            "batches_drawn": self.batches_drawn,
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "rng": {**rng_state(), "z": self._z_gen.get_state(),
                    "noise": self._noise_gen.get_state()},
        }

    def _rollback(self, what: list[str]) -> None:
        """Restore the snapshot taken before this step and raise a helpful error.

        Tensors are copied back into the very tensors the networks and D's optimiser hold
        (the snapshot was taken this step, so they are the same objects). The gradient scalers
        are made anew: a failed step can leave one between ``unscale_`` and ``update``.
        """
        saved = self._snapshot
        if not saved["has_moments"]:
            self.opt_d.state.clear()  # D's first update made them; before it there were none
        with torch.no_grad():
            for live, kept in zip(self._rollback_tensors(), saved["tensors"], strict=True):
                live.copy_(kept)
        self.step, self.batches_drawn = saved["step"], saved["batches_drawn"]
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        fp16 = self.config.amp == "fp16"
        for name in ("scaler_g", "scaler_d"):
            scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
            if fp16 and saved[name]:
                scaler.load_state_dict(saved[name])
            setattr(self, name, scaler)
        set_rng_state(saved["rng"])
        self._z_gen.set_state(saved["rng"]["z"])
        self._noise_gen.set_state(saved["rng"]["noise"])
        cfg = self.config
        raise NonFiniteLossError(
            f"{', '.join(what)} became NaN/inf at step {self.step + 1} (loss={cfg.loss!r}, "
            f"lr_d={cfg.lr_d:g}, lr_g={cfg.lr_g:g}, amp={cfg.amp!r}); training stopped and the "
            f"trainer was rolled back to the end of step {self.step}. Try lower learning "
            "rates, a gradient penalty, or amp='off'.")

    def __repr__(self) -> str:
        return (f"GANTrainer(step={self.step}, loss={self.config.loss!r}, "
                f"device={self.device.type!r})")


class _NoBar:
    """Stand-in for a tqdm bar when progress is off."""

    def update(self, n: int) -> None:
        """Nothing to show."""

    def set_postfix(self, **kw: Any) -> None:
        """Nothing to show."""


@contextlib.contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """A tqdm.auto bar (notebook widget or terminal) when enabled, else a silent stand-in.

    ``TQDM_DISABLE=1`` (set by CI) is checked here because tqdm's notebook bar ignores it,
    and a bar's text in a notebook output would break nbval's comparison.
    """
    if not enabled or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"):
        yield _NoBar()
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="training", unit="step") as bar:
        yield bar
