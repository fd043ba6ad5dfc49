"""The training engine: every loss trains, live hyperparameters, NaN stop, AMP/layout/compile."""

from __future__ import annotations

import math
import threading

import pytest
import torch
from gan_fixtures import Z_DIM, conv_trainer, single_thread, toy_batch, toy_trainer, toy_z, weights
from torch import nn
from tqdm.auto import tqdm

from vgan_utils.losses import LOSS_NAMES, PAIRED_LOSS_NAMES
from vgan_utils.training import (
    HISTORY_KEYS,
    GANTrainer,
    NonFiniteLossError,
    TrainConfig,
    _progress,
)


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


@pytest.mark.parametrize("loss", LOSS_NAMES + PAIRED_LOSS_NAMES)
def test_every_loss_trains_a_few_steps(loss):
    gp_weight = 1.0 if loss == "wasserstein" else 0.0
    trainer = toy_trainer(TrainConfig(loss=loss, gp_weight=gp_weight))
    before = weights(trainer)
    trainer.train(3)
    assert trainer.step == 3
    assert set(trainer.history) == set(HISTORY_KEYS)
    assert all(len(v) == 3 for v in trainer.history.values())
    assert trainer.history["step"] == [1, 2, 3]
    assert all(math.isfinite(v) for vs in trainer.history.values() for v in vs)
    moved = [not torch.equal(a, b) for a, b in zip(before, weights(trainer), strict=True)]
    n_g = len(list(trainer.generator.parameters()))
    assert any(moved[:n_g]) and any(moved[n_g:])  # both networks learned


def test_scores_are_probabilities_only_for_cross_entropy_losses():
    trainer = toy_trainer(TrainConfig(loss="nonsaturating"))
    trainer.train(2)
    assert trainer.scores_are_probabilities
    assert all(0 < v < 1 for v in trainer.history["d_real"] + trainer.history["d_fake"])
    assert not toy_trainer(TrainConfig(loss="hinge")).scores_are_probabilities


def test_d_steps_gp_r1_and_ema_together():
    cfg = TrainConfig(loss="wasserstein", d_steps=3, gp_weight=10.0, r1_weight=1.0,
                      ema_decay=0.9)
    trainer = toy_trainer(cfg)
    trainer.train(4)
    assert trainer.batches_drawn == 12  # one real batch per discriminator update
    ema = [p for p in trainer.ema.parameters()]
    live = [p for p in trainer.generator.parameters()]
    assert all(not torch.equal(e, p) for e, p in zip(ema, live, strict=True))
    assert torch.equal(trainer.sample(), trainer.ema(trainer.fixed_z))


def test_relativistic_loss_with_r1_and_r2_trains_and_flattens_d_on_the_fakes():
    """R3GAN's recipe (Huang et al. 2024) trains; R2 penalises D's slope on the fakes."""
    def fake_slope(trainer: GANTrainer) -> float:
        x = trainer.sample().detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(trainer.discriminator(x).sum(), x)
        return float(grad.pow(2).sum())

    plain = toy_trainer(TrainConfig(loss="relativistic"), seed=1)
    both = toy_trainer(TrainConfig(loss="relativistic", r1_weight=10.0, r2_weight=10.0),
                       seed=1)
    plain.train(20)
    both.train(20)
    assert all(math.isfinite(v) for v in both.history["loss_d"] + both.history["loss_g"])
    assert fake_slope(both) < fake_slope(plain)


def test_lazy_regularisation_penalises_every_kth_step_k_times_as_much(monkeypatch):
    import vgan_utils.training as engine

    calls = []
    real_r1 = engine.r1_penalty

    def counted(critic, x):
        calls.append(1)
        return real_r1(critic, x)

    monkeypatch.setattr(engine, "r1_penalty", counted)
    lazy = toy_trainer(TrainConfig(r1_weight=1.0, reg_every=3), seed=2)
    lazy.train(6)
    assert len(calls) == 2  # steps 0 and 3
    every = toy_trainer(TrainConfig(r1_weight=1.0), seed=2)
    lazy3 = toy_trainer(TrainConfig(r1_weight=1.0, reg_every=3), seed=2)
    real, fake = toy_batch(0), toy_batch(1)
    torch.testing.assert_close(lazy3._penalties(real, fake), 3 * every._penalties(real, fake))
    with pytest.raises(ValueError, match="reg_every"):
        TrainConfig(reg_every=0)


def test_training_is_deterministic_by_seed():
    a, b = toy_trainer(seed=3), toy_trainer(seed=3)
    a.train(5)
    b.train(5)
    assert all(torch.equal(x, y) for x, y in zip(weights(a), weights(b), strict=True))
    assert a.history["loss_d"] == b.history["loss_d"]


def test_set_hparams_applies_at_the_next_step():
    trainer = toy_trainer(TrainConfig(lr_d=1e-3))
    trainer.train(2)
    trainer.set_hparams(lr_d=5e-4, betas=(0.0, 0.9), d_steps=2, loss="hinge")
    assert trainer.config.lr_d == 1e-3  # not yet: pending until the next step
    trainer.train(1)
    assert trainer.history["lr_d"] == [1e-3, 1e-3, 5e-4]
    assert trainer.opt_d.param_groups[0]["lr"] == 5e-4
    assert trainer.opt_g.param_groups[0]["betas"] == (0.0, 0.9)
    assert trainer.config.loss == "hinge" and trainer.batches_drawn == 4


def test_set_hparams_rejects_structural_and_invalid_values():
    trainer = toy_trainer()
    with pytest.raises(ValueError, match="need a new trainer"):
        trainer.set_hparams(amp="bf16")
    with pytest.raises(ValueError, match="lr_g must be > 0"):
        trainer.set_hparams(lr_g=0)
    with pytest.raises(ValueError, match="valid names are"):
        trainer.set_hparams(loss="nope")
    trainer.train(1)
    assert trainer.history["lr_g"] == [2e-4]


@pytest.mark.parametrize("kw, message", [
    ({"d_steps": 0}, "d_steps"), ({"betas": (0.5, 1.0)}, "betas"), ({"amp": "fp8"}, "amp"),
    ({"ema_decay": 1.0}, "ema_decay"), ({"gp_weight": -1.0}, "gp_weight"),
])
def test_config_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kw)


def test_nan_stops_training_and_rolls_back():
    def poisoned(i):
        batch = toy_batch(i)
        return batch * float("nan") if i == 3 else batch

    clean = toy_trainer()
    clean.train(3)
    trainer = toy_trainer(batch_fn=poisoned)
    with pytest.raises(NonFiniteLossError, match=r"loss_d.*NaN/inf at step 4.*end of step 3"):
        trainer.train(10)
    assert trainer.step == 3 and trainer.batches_drawn == 3
    assert len(trainer.history["loss_d"]) == 3
    assert all(torch.equal(x, y) for x, y in zip(weights(clean), weights(trainer), strict=True))
    assert torch.equal(trainer.opt_d.state_dict()["state"][0]["exp_avg"],
                       clean.opt_d.state_dict()["state"][0]["exp_avg"])


def test_rollback_keeps_working_after_a_second_failure():
    trainer = toy_trainer(TrainConfig(lr_d=1e-3))
    trainer.train(2)
    good = weights(trainer)
    trainer.set_hparams(lr_d=float("inf"))
    for _ in range(2):
        with pytest.raises(NonFiniteLossError):
            trainer.train(1)
        assert all(torch.equal(x, y) for x, y in zip(good, weights(trainer), strict=True))
    trainer.set_hparams(lr_d=1e-3)
    trainer.train(1)
    assert trainer.step == 3


def test_stop_event_is_checked_before_each_step():
    trainer = toy_trainer()
    stop = threading.Event()
    stop.set()
    trainer.train(5, stop=stop)
    assert trainer.step == 0


def test_progress_bar_honours_tqdm_disable(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with _progress(3, True) as bar:
        assert isinstance(bar, tqdm)
    monkeypatch.setenv("TQDM_DISABLE", "1")  # tqdm's notebook bar alone would ignore it
    with _progress(3, True) as bar:
        assert not isinstance(bar, tqdm)


def test_progress_and_throughput():
    trainer = toy_trainer()
    assert trainer.throughput() == {"steps_per_s": 0.0, "frames_per_s": 0.0}
    trainer.train(3, progress=True)
    trainer.train(1, progress=True)
    rates = trainer.throughput()
    assert rates["steps_per_s"] > 0
    assert rates["frames_per_s"] == pytest.approx(32 * rates["steps_per_s"])
    assert len(trainer.history["steps_per_s"]) == 4


def test_frames_per_s_counts_every_frame_of_a_clip():
    """A clip batch (N, C, T, H, W) holds N*T frames."""
    g = nn.Sequential(nn.Linear(Z_DIM, 20), nn.Unflatten(1, (1, 5, 2, 2)))
    d = nn.Sequential(nn.Flatten(), nn.Linear(20, 1))
    clips = GANTrainer(g, d, lambda i: torch.zeros(3, 1, 5, 2, 2), toy_z)
    clips.train(2)
    rates = clips.throughput()
    assert rates["frames_per_s"] == pytest.approx(15 * rates["steps_per_s"])


def test_sample_is_eval_mode_cpu_float_and_restores_train_mode():
    trainer = conv_trainer(TrainConfig())
    trainer.train(1)
    out = trainer.sample()
    assert out.shape == (8, 3, 8, 8) and out.dtype == torch.float32
    assert trainer.generator.training
    assert torch.equal(out, trainer.sample())  # eval-mode BatchNorm: no batch dependence


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_cpu(amp):
    trainer = conv_trainer(TrainConfig(amp=amp, ema_decay=0.99))
    trainer.train(2)
    assert all(math.isfinite(v) for v in trainer.history["loss_d"])
    assert trainer.scaler_d.is_enabled() == (amp == "fp16")
    assert trainer.sample().dtype == torch.float32


def test_channels_last_on_cpu():
    trainer = conv_trainer(TrainConfig(channels_last=True, gp_weight=1.0))
    conv = trainer.discriminator[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    trainer.train(2)
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_torch_compile_on_cpu(monkeypatch):
    """torch.compile, inductor backend, on CPU. SLOW: C++ codegen takes ~25 s on 2 cold cores
    (~5 s with a warm inductor cache); one compile thread is faster than a pool on 2 cores."""
    monkeypatch.setattr(torch._inductor.config, "compile_threads", 1)
    torch._dynamo.reset()
    trainer = toy_trainer(TrainConfig(compile=True))
    eager = toy_trainer()
    trainer.train(1)
    eager.train(1)
    assert trainer.history["loss_d"] == pytest.approx(eager.history["loss_d"], rel=1e-4)


def test_a_failure_in_gs_step_restores_d_and_leaves_g_and_its_optimiser_alone():
    # lr_d = inf: D's own loss is finite, its update makes D infinite, G's loss is NaN.
    trainer = toy_trainer(TrainConfig(lr_d=1e-3))
    trainer.train(2)
    good, adam_g = weights(trainer), trainer.opt_g.state_dict()["state"][0]["exp_avg"].clone()
    trainer.set_hparams(lr_d=float("inf"))
    with pytest.raises(NonFiniteLossError, match="loss_g|grad_norm_g"):
        trainer.train(1)
    assert all(torch.equal(x, y) for x, y in zip(good, weights(trainer), strict=True))
    assert torch.equal(trainer.opt_g.state_dict()["state"][0]["exp_avg"], adam_g)
    assert trainer.step == 2 and trainer.batches_drawn == 2


def test_after_a_rollback_the_run_repeats_an_unbroken_one():
    clean = toy_trainer(TrainConfig(lr_d=1e-3))
    clean.train(4)
    trainer = toy_trainer(TrainConfig(lr_d=1e-3))
    trainer.train(2)
    trainer.set_hparams(lr_d=float("inf"))
    with pytest.raises(NonFiniteLossError):
        trainer.train(1)
    trainer.set_hparams(lr_d=1e-3)
    trainer.train(2)
    assert trainer.history["loss_d"] == clean.history["loss_d"]
    assert all(torch.equal(x, y) for x, y in zip(weights(clean), weights(trainer), strict=True))


def test_a_failure_in_the_first_step_leaves_no_optimiser_state_behind():
    # lr_d = inf from the start: D's first update creates Adam's moments, then G's loss is NaN.
    trainer = toy_trainer(TrainConfig(lr_d=float("inf")))
    fresh = weights(trainer)
    with pytest.raises(NonFiniteLossError, match="end of step 0"):
        trainer.train(1)
    assert not trainer.opt_d.state and trainer.step == 0
    assert all(torch.equal(x, y) for x, y in zip(fresh, weights(trainer), strict=True))
    clean = toy_trainer(TrainConfig(lr_d=1e-3))
    clean.train(2)
    trainer.set_hparams(lr_d=1e-3)
    trainer.train(2)
    assert trainer.history["loss_d"] == clean.history["loss_d"]


def test_g_penalty_is_added_to_the_generators_loss_only():
    seen = []
    target = torch.tensor([5.0, 5.0])

    def penalty(z, fake):
        seen.append((z.shape, fake.shape))
        return 1e3 * (fake - target).pow(2).mean()  # pull G's output towards (5, 5)

    cfg = TrainConfig(lr_g=1e-2)
    plain, pulled = toy_trainer(cfg, seed=1), toy_trainer(cfg, seed=1, g_penalty=penalty)
    plain.train(100)
    pulled.train(100)
    assert seen[0] == ((32, Z_DIM), (32, 2)) and len(seen) == 100  # once per G update
    assert pulled.last_g_penalty > 0 and plain.last_g_penalty == 0.0
    assert plain.history["loss_d"][0] == pulled.history["loss_d"][0]  # D's first step unchanged
    assert (pulled.sample().mean(0) - target).norm() < 0.5  # the penalty won
    assert (plain.sample().mean(0) - target).norm() > 2


def test_a_non_finite_g_penalty_rolls_back():
    trainer = toy_trainer(g_penalty=lambda z, fake: fake.sum() * float("nan"))
    with pytest.raises(NonFiniteLossError, match="loss_g"):
        trainer.train(1)
    assert trainer.step == 0
