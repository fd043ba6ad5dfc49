"""Predicting future frames and filling in missing ones: the networks, losses and training.

Notebook 06 (``notebooks/06_predicting_frames.ipynb``) teaches every piece here. The task is
the Moving MNIST protocol (Srivastava, Mansimov & Salakhutdinov 2015): from 10 frames, the
next 10; or, for the *in-filler*, from the first and last ``k`` frames of a clip, the ones
in between. Papers:

* :class:`FramePredictor` -- an all-convolutional encoder / temporal translator / decoder in
  the manner of SimVP (Gao, Tan, Wu & Li 2022, "SimVP: Simpler yet Better Video Prediction"):
  a 2-D encoder shared by all frames, a translator that mixes time by stacking the frames'
  features as channels, a shared 2-D decoder with a skip connection from the first encoder
  layer. Small (width 16) so that it trains on a CPU in minutes.
* the loss of Mathieu, Couprie & LeCun 2016, "Deep multi-scale video prediction beyond mean
  square error": ``lambda_adv * L_adv + lambda_p * L_p + lambda_gdl * L_gdl``, where ``L_p`` is
  the L1 or L2 distance to the true frames and ``L_gdl`` (:func:`gradient_difference_loss`)
  compares the image gradients of prediction and truth, so that a blurred edge costs as much
  as a misplaced one. The adversarial term comes from a 3-D discriminator
  (:class:`~vgan_utils.video_nets.VideoDiscriminator`, Vondrick et al. 2016) that sees the 10
  input frames followed by the 10 real or predicted ones.

How each model trains:

* ``mse32`` (MSE only) -- by :class:`RegressionTrainer`, a plain loop in this module: with
  no adversarial term there is no discriminator, and the engine's step always updates one.
* ``gan32`` and ``infill_gan32`` -- by the course's engine,
  :class:`~vgan_utils.training.GANTrainer`, unchanged for its other callers: the generator is
  a :class:`Completion` whose "latent code" is a real clip (it sees only the given frames of
  it and returns the clip with the other frames predicted), and the engine's ``g_penalty``
  adds ``(lambda_p * L_p + lambda_gdl * L_gdl) / lambda_adv`` against the clip's true frames
  to the adversarial loss (the paper's weighted sum divided by ``lambda_adv``: the same
  minimiser). Both start from the shipped MSE predictor (``data/predictor_mse32.pt``): a few
  CPU minutes of adversarial training are then spent on sharpening, not on learning to draw.

Shipped files and the command that made each: ``data/README.md``. Another notebook loads a
predictor with :func:`load_predictor`. Metrics and baselines: :mod:`vgan_utils.prediction_metrics`.

    python -m vgan_utils.prediction --recipe mse32 --steps 3000 --out data/cache/p.pt --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import load_checkpoint, save_checkpoint
from .training import GANTrainer, TrainConfig, rng_state, set_rng_state
from .video_io import load_moving_mnist, uint8_to_float
from .video_judge import digit_clips, resize_clips
from .video_nets import VideoDiscriminator, check_clips

ROOT = Path(__file__).resolve().parent.parent
PAST, FUTURE = 10, 10  # the Moving MNIST protocol: 10 frames in, 10 out
TASKS = ("predict", "infill")
# Clips the predictors learn from (the video GANs' data: seed 0) and the held-out clips every
# table is measured on (a seed no other part of the course draws from).
TRAIN_DATA = {"seed": 0, "glyph_seed": 0, "num_clips": 10_000}
HELD_OUT = {"seed": 6, "glyph_seed": 0, "num_clips": 10_000}


# --------------------------------------------------------------------------------------------
# The network


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, GroupNorm (no batch statistics: eval = train), LeakyReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.GroupNorm(2, c_out),
                         nn.LeakyReLU(0.2, inplace=True))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    """Doubling H and W: nearest upsampling + 3x3 convolution (no checkerboard)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv(c_in, c_out))


class _Residual(nn.Module):
    """Two 3x3 convolutions with a shortcut: one block of the temporal translator."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels),
                                  nn.Conv2d(channels, channels, 3, 1, 1),
                                  nn.GroupNorm(4, channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.body(x), 0.2)


class FramePredictor(nn.Module):
    """``t_in`` frames in, ``t_out`` frames out: clips ``(N, C, T, H, W)`` in ``[-1, 1]``.

    SimVP's three parts (see the module docstring), with ``size`` divisible by 4:

    * encoder, shared by all frames: ``(C, S, S) -> (width, S/4, S/4)``;
    * translator: the ``t_in`` frames' features stacked as ``t_in * width`` channels, 1x1 to
      ``hidden``, ``blocks`` residual 3x3 blocks, 1x1 to ``t_out * width``: time is mixed by
      ordinary 2-D convolutions, which is what makes SimVP fast;
    * decoder, shared by all output frames: back to ``(C, S, S)``, with the first encoder
      layer's features of all input frames (mixed to ``t_out`` frames by a 1x1 convolution)
      as a skip connection, then ``tanh``.

    ``forward(past)`` checks the shape and names the expected one if it is wrong.
    """

    def __init__(self, t_in: int = PAST, t_out: int = FUTURE, size: int = 32, channels: int = 1,
                 width: int = 16, hidden: int = 64, blocks: int = 4) -> None:
        super().__init__()
        if size % 4 or size < 8:
            raise ValueError(f"size must be a multiple of 4 and >= 8, got {size}")
        if min(t_in, t_out, width, hidden, blocks) < 1:
            raise ValueError("t_in, t_out, width, hidden and blocks must all be >= 1")
        self.t_in, self.t_out, self.size, self.channels = t_in, t_out, size, channels
        self.width, self.hidden, self.blocks = width, hidden, blocks
        self.enc1 = _conv(channels, width)
        self.enc2 = nn.Sequential(_conv(width, width, 2), _conv(width, width, 2))
        self.translator = nn.Sequential(nn.Conv2d(t_in * width, hidden, 1),
                                        *[_Residual(hidden) for _ in range(blocks)],
                                        nn.Conv2d(hidden, t_out * width, 1))
        self.dec = nn.Sequential(_up(width, width), _up(width, width))
        self.skip = nn.Conv2d(t_in * width, t_out * width, 1)
        self.head = nn.Conv2d(2 * width, channels, 3, 1, 1)

    def config(self) -> dict[str, int]:
        """The constructor's arguments: what a checkpoint needs to rebuild the network."""
        return {"t_in": self.t_in, "t_out": self.t_out, "size": self.size,
                "channels": self.channels, "width": self.width, "hidden": self.hidden,
                "blocks": self.blocks}

    def forward(self, past: Tensor) -> Tensor:
        """``past (N, C, t_in, S, S)`` -> predicted frames ``(N, C, t_out, S, S)``."""
        check_clips(past, self.channels, self.t_in, self.size, "input frames")
        n, c, s, w = past.shape[0], self.channels, self.size, self.width
        frames = past.transpose(1, 2).reshape(n * self.t_in, c, s, s)
        e1 = self.enc1(frames)  # (N * t_in, w, S, S)
        h = self.enc2(e1).reshape(n, self.t_in * w, s // 4, s // 4)  # time stacked as channels
        h = self.translator(h).reshape(n * self.t_out, w, s // 4, s // 4)
        skip = self.skip(e1.reshape(n, self.t_in * w, s, s)).reshape(n * self.t_out, w, s, s)
        out = torch.tanh(self.head(torch.cat([self.dec(h), skip], dim=1)))  # (N * t_out, C, S, S)
        return out.reshape(n, self.t_out, c, s, s).transpose(1, 2)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config().items())


# --------------------------------------------------------------------------------------------
# Tasks: which frames of a clip are given, which are predicted


def split_clip(clip: Tensor, task: str, given: int) -> tuple[Tensor, Tensor]:
    """``(given frames, frames to predict)`` of clips ``(N, C, T, H, W)``.

    ``"predict"``: the first ``given`` frames, then the rest. ``"infill"``: the first and last
    ``given // 2`` frames (side by side in time), then the ones between them.
    """
    if task == "predict":
        return clip[:, :, :given], clip[:, :, given:]
    if task == "infill":
        k = given // 2
        return torch.cat([clip[:, :, :k], clip[:, :, -k:]], dim=2), clip[:, :, k:-k]
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def assemble_clip(clip: Tensor, predicted: Tensor, task: str, given: int) -> Tensor:
    """``clip`` with its frames to predict replaced by ``predicted`` (the inverse of the split)."""
    if task == "predict":
        return torch.cat([clip[:, :, :given], predicted], dim=2)
    if task == "infill":
        k = given // 2
        return torch.cat([clip[:, :, :k], predicted, clip[:, :, -k:]], dim=2)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


class Completion(nn.Module):
    """A frame predictor as the engine's generator: ``G(clip)`` = the clip, completed.

    The engine draws a "latent code" per sample and feeds it to G; here the code is a real clip
    ``(N, C, t_in + t_out, H, W)``. G looks only at its given frames (:func:`split_clip`) and
    returns the clip with the others predicted, which is what the discriminator judges: real
    clips against clips whose given frames are real and the rest predicted.
    """

    def __init__(self, net: FramePredictor, task: str = "predict") -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if task == "infill" and net.t_in % 2:
            raise ValueError(f"an in-filler needs an even t_in (k frames at each end), got "
                             f"{net.t_in}")
        self.net, self.task = net, task

    @property
    def length(self) -> int:
        return self.net.t_in + self.net.t_out

    def forward(self, clip: Tensor) -> Tensor:
        check_clips(clip, self.net.channels, self.length, self.net.size, "clips to complete")
        given, _ = split_clip(clip, self.task, self.net.t_in)
        return assemble_clip(clip, self.net(given), self.task, self.net.t_in)


# --------------------------------------------------------------------------------------------
# Losses (Mathieu, Couprie & LeCun 2016)


def image_gradients(frames: Tensor) -> tuple[Tensor, Tensor]:
    """Absolute differences of neighbouring pixels along H and along W (any leading axes)."""
    return ((frames[..., 1:, :] - frames[..., :-1, :]).abs(),
            (frames[..., :, 1:] - frames[..., :, :-1]).abs())


def gradient_difference_loss(pred: Tensor, true: Tensor, alpha: float = 1.0) -> Tensor:
    """Mathieu et al.'s GDL, as a mean over pixels:
    ``mean | |dY/dh| - |dP/dh| |^alpha + mean | |dY/dw| - |dP/dw| |^alpha``.

    A blurred prediction has weaker gradients than the truth where the truth has an edge, so
    it pays even where its pixel values are close to the average of the possible futures.
    """
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(true.shape)}")
    (ph, pw), (th, tw) = image_gradients(pred), image_gradients(true)
    return (th - ph).abs().pow(alpha).mean() + (tw - pw).abs().pow(alpha).mean()


def lp_loss(pred: Tensor, true: Tensor, p: int = 2) -> Tensor:
    """``mean |true - pred|^p``: p = 2 is the MSE, p = 1 the L1 loss."""
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p}")
    diff = (true - pred).abs()
    return diff.mean() if p == 1 else diff.pow(2).mean()


@dataclass(frozen=True)
class MathieuWeights:
    """The weights of the three terms (the paper's best model: 0.05, 1 and 1 with p = 1)."""

    adv: float = 0.05
    lp: float = 1.0
    gdl: float = 1.0
    p: int = 1

    def reconstruction(self, pred: Tensor, true: Tensor) -> Tensor:
        """``lp * L_p + gdl * L_gdl``: the non-adversarial part of the loss."""
        total = self.lp * lp_loss(pred, true, self.p)
        return total + self.gdl * gradient_difference_loss(pred, true) if self.gdl else total

    def engine_penalty(self, task: str, given: int) -> Callable[[Tensor, Tensor], Tensor]:
        """The engine's ``g_penalty(z, fake)``: reconstruction / ``adv`` on the predicted frames.

        The engine adds it to its (unweighted) adversarial loss, which gives the paper's
        ``adv * L_adv + lp * L_p + gdl * L_gdl`` divided by ``adv``: the same minimiser.
        """
        if self.adv <= 0:
            raise ValueError("an adversarial run needs adv > 0 (MSE only: RegressionTrainer)")

        def penalty(clip: Tensor, fake: Tensor) -> Tensor:
            _, true = split_clip(clip.float(), task, given)
            _, pred = split_clip(fake, task, given)
            return self.reconstruction(pred, true) / self.adv

        return penalty


# --------------------------------------------------------------------------------------------
# Recipes and data


@dataclass(frozen=True)
class PredictionRecipe:
    """What a predictor run trains: task, network, loss weights, data and optimiser."""

    name: str
    task: str = "predict"
    given: int = PAST  # frames the network sees (infill: k = given // 2 at each end)
    predicted: int = FUTURE
    size: int = 32
    width: int = 16
    hidden: int = 128
    blocks: int = 4
    adversarial: bool = False
    weights: MathieuWeights = field(default_factory=MathieuWeights)
    d_width: int = 16
    batch_size: int = 16
    lr: float = 1e-3  # RegressionTrainer's learning rate (MSE only)
    train: TrainConfig = field(default_factory=TrainConfig)  # the engine's (adversarial)
    init: str | None = None  # a shipped predictor to start from (path under the repository)

    @property
    def length(self) -> int:
        return self.given + self.predicted

    def network(self) -> FramePredictor:
        return FramePredictor(self.given, self.predicted, self.size, 1, self.width, self.hidden,
                              self.blocks)


_ADV = TrainConfig(loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999))
RECIPES: dict[str, PredictionRecipe] = {
    # MSE only: the blurry baseline (Mathieu et al.'s "L2" model).
    "mse32": PredictionRecipe("mse32", weights=MathieuWeights(adv=0.0, lp=1.0, gdl=0.0, p=2)),
    # adversarial + L1 + GDL, starting from the MSE predictor. lambda_adv is 0.5, ten times
    # Mathieu et al.'s 0.05 (with their L1 and GDL weights): ten steps ahead, the L1 term
    # blurs the last frames unless the adversarial term weighs more (sharpness at step 10
    # after ~28 minutes: 0.70 with 0.2, 0.92 with 0.5; 0.29 with 0.05 after 5; bench/README.md).
    "gan32": PredictionRecipe("gan32", adversarial=True, init="data/predictor_mse32.pt",
                              weights=MathieuWeights(adv=0.5),
                              train=replace(_ADV, lr_g=1e-4)),
    # the in-filler: the first and last 5 frames given, the 10 between predicted. It starts from
    # the MSE predictor's weights (same shapes: 10 frames in, 10 out), whose encoder and decoder
    # already draw digits; the translator learns to read both ends. Mathieu et al.'s weights
    # (lambda_adv 0.05): its frames are at most 5 steps from a given one.
    "infill_gan32": PredictionRecipe("infill_gan32", task="infill", adversarial=True,
                                     init="data/predictor_mse32.pt", train=_ADV),
    # seconds on a CPU: for tests and for trying the command line out
    "smoke": PredictionRecipe("smoke", given=4, predicted=4, size=16, width=4, hidden=8,
                              blocks=1, batch_size=4,
                              weights=MathieuWeights(adv=0.0, lp=1.0, gdl=0.0, p=2)),
    "gan_smoke": PredictionRecipe("gan_smoke", given=4, predicted=4, size=16, width=4,
                                  hidden=8, blocks=1, adversarial=True, d_width=4,
                                  batch_size=4, train=_ADV),
}


def clips(indices: np.ndarray | list[int], size: int = 32, length: int = PAST + FUTURE,
          data: dict[str, int] | None = None) -> Tensor:
    """Moving-digit clips ``(N, 1, length, size, size)`` in [-1, 1] (drawn at 64x64, downsampled
    by area averaging); ``data`` defaults to :data:`TRAIN_DATA` (:data:`HELD_OUT` for tables)."""
    spec = data or TRAIN_DATA
    return digit_clips(size, np.asarray(indices), spec["seed"], spec["glyph_seed"], length,
                       spec["num_clips"])[0]


def held_out_clips(n: int, size: int = 32, length: int = PAST + FUTURE, start: int = 0) -> Tensor:
    """Clips ``start .. start + n - 1`` of the held-out set, drawn in chunks to bound memory."""
    idx = np.arange(start, start + n)
    return torch.cat([clips(chunk, size, length, HELD_OUT) for chunk in np.array_split(
        idx, max(1, n // 250))])


def batch_fn_for(recipe: PredictionRecipe, seed: int = 0) -> Callable[[int], Tensor]:
    """``batch_fn(i)``: the i-th batch of training clips (a shuffled draw fixed by i and seed)."""
    total = TRAIN_DATA["num_clips"]

    def batch_fn(i: int) -> Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + i)
        idx = torch.randint(total, (recipe.batch_size,), generator=g).numpy()
        return clips(idx, recipe.size, recipe.length)

    return batch_fn


def clip_sampler(recipe: PredictionRecipe) -> Callable[[int, torch.Generator], Tensor]:
    """The engine's ``z_sampler``: ``n`` training clips at indices drawn with ``generator``."""
    total = TRAIN_DATA["num_clips"]

    def sample(n: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(total, (n,), generator=generator).numpy()
        return clips(idx, recipe.size, recipe.length)

    return sample


# --------------------------------------------------------------------------------------------
# Training: MSE only (a plain loop) and adversarial (the engine)


class RegressionTrainer:
    """Trains a :class:`FramePredictor` on ``lp * L_p + gdl * L_gdl`` alone, with Adam.

    A plain loop rather than the engine: with no adversarial term there is no discriminator,
    and every engine step updates one. It keeps the engine's conventions: ``train(n)`` runs n
    more steps, batches come from ``batch_fn(step)``, the history is a dict of lists, and
    :meth:`save` / :meth:`load` resume exactly (atomic, weights-only checkpoints).
    """

    def __init__(self, net: FramePredictor, batch_fn: Callable[[int], Tensor],
                 weights: MathieuWeights, task: str = "predict", lr: float = 1e-3,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.net, self.batch_fn, self.weights, self.task = net.to(self.device), batch_fn, \
            weights, task
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], "loss": [], "steps_per_s": []}

    def train(self, n_steps: int) -> None:
        """``n_steps`` more steps; stops with an error naming the step if the loss is not finite."""
        self.net.train()
        for _ in range(n_steps):
            t0 = time.perf_counter()
            given, true = split_clip(self.batch_fn(self.step).to(self.device), self.task,
                                     self.net.t_in)
            loss = self.weights.reconstruction(self.net(given), true)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {float(loss)} at step {self.step + 1}; "
                                         "try a lower learning rate")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.step += 1
            for key, value in (("step", self.step), ("loss", float(loss.detach())),
                               ("steps_per_s", 1.0 / max(time.perf_counter() - t0, 1e-9))):
                self.history[key].append(value)

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "generator": self.net.state_dict(),
                "opt": self.opt.state_dict(), "history": {k: list(v) for k, v in
                                                          self.history.items()},
                "rng": rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = state["step"]
        self.net.load_state_dict(state["generator"])
        self.opt.load_state_dict(state["opt"])
        self.history = {k: list(v) for k, v in state["history"].items()}
        set_rng_state(state["rng"])


def build_trainer(recipe: PredictionRecipe, device: torch.device | str = "cpu", seed: int = 0,
                  hparams: dict[str, Any] | None = None
                  ) -> RegressionTrainer | GANTrainer:
    """Fresh networks (seeded) and their trainer for ``recipe``; ``recipe.init`` loads a shipped
    predictor's weights first. ``hparams``: the dashboard's controls (loss, lr_g, lr_d, beta1,
    batch_size, d_steps; others are ignored), for adversarial recipes."""
    hp = hparams or {}
    if "batch_size" in hp:
        recipe = replace(recipe, batch_size=int(hp["batch_size"]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = recipe.network()
        d = VideoDiscriminator(recipe.length, recipe.size, 1, recipe.d_width,
                               spectral_norm=True) if recipe.adversarial else None
    if recipe.init is not None:
        net.load_state_dict(load_predictor(ROOT / recipe.init).state_dict())
    batch_fn = batch_fn_for(recipe, seed)
    if not recipe.adversarial:
        return RegressionTrainer(net, batch_fn, recipe.weights, recipe.task, recipe.lr, device)
    cfg = recipe.train
    if hp:
        cfg = replace(cfg, loss=hp.get("loss", cfg.loss), lr_g=float(hp.get("lr_g", cfg.lr_g)),
                      lr_d=float(hp.get("lr_d", cfg.lr_d)), d_steps=int(hp.get("d_steps",
                                                                                 cfg.d_steps)),
                      betas=(float(hp.get("beta1", cfg.betas[0])), cfg.betas[1]))
    return GANTrainer(Completion(net, recipe.task), d, batch_fn, clip_sampler(recipe), cfg,
                      device, seed=seed, n_fixed=8,
                      g_penalty=recipe.weights.engine_penalty(recipe.task, recipe.given))


def predictor_of(trainer: RegressionTrainer | GANTrainer) -> FramePredictor:
    """The :class:`FramePredictor` a trainer trains (inside the engine's :class:`Completion`)."""
    return trainer.net if isinstance(trainer, RegressionTrainer) else trainer.generator.net


# --------------------------------------------------------------------------------------------
# Shipping and loading


def ship_predictor(trainer: RegressionTrainer | GANTrainer, recipe: PredictionRecipe,
                   path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the predictor's weights (float16, halving the file), its config and the recipe."""
    net = predictor_of(trainer)
    weights = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu()
               for k, v in net.state_dict().items()}
    state = {"predictor": weights, "config": net.config(), "task": recipe.task,
             "recipe": recipe.name, "step": trainer.step, "shipped": True, **(extra or {})}
    return save_checkpoint(state, path)


def load_predictor(path: str | Path, device: torch.device | str = "cpu") -> FramePredictor:
    """The predictor in a shipped file, in eval mode (float32 on ``device``).

    ``forward(past)`` takes ``past (N, C, t_in, H, W)`` in [-1, 1] -- for the shipped
    predictors ``(N, 1, 10, 32, 32)`` -- and returns the next ``t_out`` frames, same layout.
    (An in-filler's ``forward`` takes the first and last k frames side by side in time.)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no predictor at {path}; make it with the command beside it "
                                "in data/README.md")
    state = load_checkpoint(path)
    if "predictor" not in state:
        raise ValueError(f"{path} is not a shipped predictor (no 'predictor' weights); a "
                         "training checkpoint is shipped with --ship")
    net = FramePredictor(**state["config"])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in state["predictor"].items()})
    net.meta = {k: v for k, v in state.items() if k != "predictor"}
    return net.to(device).eval()


def clips_from_npy(path: str | Path, size: int = 32, n: int | None = None) -> Tensor:
    """Clips ``(N, 1, 20, size, size)`` in [-1, 1] from a Moving MNIST ``.npy`` file.

    The file must be Moving MNIST's layout, uint8 ``(T, N, H, W)`` = (20, N, 64, 64), time
    first; anything else is refused with an error naming the file and that layout.
    """
    data = load_moving_mnist(path)
    t, count, h, w = data.shape
    if t != PAST + FUTURE or h != w or h < size:
        hint = (" -- it looks like (N, T, H, W): save it as arr.transpose(1, 0, 2, 3)"
                if count == PAST + FUTURE else "")
        raise ValueError(f"{path}: expected Moving MNIST's layout, uint8 (T, N, H, W) = "
                         f"({PAST + FUTURE}, N, 64, 64) with T = {PAST + FUTURE} frames of "
                         f"square frames; got shape {data.shape}{hint}")
    picked = np.ascontiguousarray(data[:, : n or count].transpose(1, 0, 2, 3))[:, None]
    return resize_clips(uint8_to_float(picked), size)


# --------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vgan_utils.prediction",
                                description="Train a frame predictor or in-filler of notebook 06.")
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    p.add_argument("--steps", type=int, required=True, help="total steps (resumed ones included)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop (and ship) after this many minutes of training, resumed ones "
                        "included, even before --steps")
    p.add_argument("--out", type=Path, required=True, help="training checkpoint to write")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in --out if there is one (else start it), so "
                        "the same command finishes a run after a crash")
    p.add_argument("--ship", type=Path, default=None, help="also write the predictor here")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--save-every", type=int, default=500)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) one recipe, checkpointing atomically; ``--ship`` writes the predictor."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = RECIPES[args.recipe]
    if args.out.exists() and not args.resume:
        sys.exit(f"{args.out} exists: pass --resume to continue that run, or delete it")
    trainer = build_trainer(recipe, args.device, args.seed)
    seconds = 0.0
    if args.resume and args.out.exists():
        state = load_checkpoint(args.out)
        if state.get("recipe") != recipe.name:
            sys.exit(f"{args.out} holds a {state.get('recipe')!r} run, not {recipe.name!r}")
        trainer.load_state_dict(state)
        seconds = float(state.get("train_seconds", 0.0))
        print(f"resumed {args.out} at step {trainer.step}", flush=True)
    budget = float("inf") if args.minutes is None else 60.0 * args.minutes
    while trainer.step < args.steps and seconds < budget:
        t0 = time.perf_counter()
        trainer.train(min(args.log_every - trainer.step % args.log_every,
                          args.steps - trainer.step))
        seconds += time.perf_counter() - t0
        print(_log_line(trainer, args.steps, seconds), flush=True)
        last = trainer.step == args.steps or seconds >= budget
        if trainer.step % args.save_every == 0 or last:
            save_checkpoint({**trainer.state_dict(), "recipe": recipe.name,
                             "train_seconds": seconds}, args.out)
    if args.ship is not None:
        command = "python -m vgan_utils.prediction " + " ".join(argv or sys.argv[1:])
        ship_predictor(trainer, recipe, args.ship, {"train_seconds": seconds,
                                                    "command": command})
        print(f"shipped {args.ship} ({args.ship.stat().st_size / 1e6:.2f} MB)", flush=True)
    return 0


def _log_line(trainer: RegressionTrainer | GANTrainer, total: int, seconds: float) -> str:
    h = trainer.history
    rate = np.mean(h["steps_per_s"][-20:])
    if isinstance(trainer, RegressionTrainer):
        losses = f"loss {np.mean(h['loss'][-100:]):.4f}"
    else:
        losses = (f"loss_d {h['loss_d'][-1]:.3f} | loss_g {h['loss_g'][-1]:.3f} | "
                  f"reconstruction/adv {trainer.last_g_penalty:.3f} | D(x) {h['d_real'][-1]:.2f}"
                  f" | D(G(z)) {h['d_fake'][-1]:.2f}")
    return (f"step {trainer.step}/{total} | {losses} | {rate:.1f} steps/s | "
            f"{seconds / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
