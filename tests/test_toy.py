"""Toy data, networks and the mode-coverage measures."""

from __future__ import annotations

import math

import pytest
import torch

from vgan_utils import toy


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny MLPs on shared cores run many times faster with one intra-op thread."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_ring_and_grid_geometry():
    r = toy.ring()
    assert r.centres.shape == (8, 2) and r.dim == 2 and r.n_modes == 8
    torch.testing.assert_close(r.centres.norm(dim=1), torch.full((8,), 2.0))
    g = toy.grid()
    assert g.centres.shape == (25, 2)
    assert g.centres.min().item() == -4.0 and g.centres.max().item() == 4.0
    torch.testing.assert_close(g.centres.mean(0), torch.zeros(2))
    assert toy.gaussian_1d().dim == 1


def test_make_toy_and_bad_arguments():
    assert toy.make_toy("ring", std=0.1).std == 0.1
    with pytest.raises(ValueError, match="ring"):
        toy.make_toy("spiral")
    with pytest.raises(ValueError):
        toy.ring(std=0.0)
    with pytest.raises(ValueError):
        toy.grid(side=0)
    with pytest.raises(ValueError):
        toy.ring().sample(0)


def test_samples_are_seeded_and_have_the_right_moments():
    data = toy.gaussian_1d(mean=4.0, std=1.25)
    a = data.sample(20000, torch.Generator().manual_seed(3))
    b = data.sample(20000, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (20000, 1)
    assert abs(a.mean().item() - 4.0) < 0.05 and abs(a.std().item() - 1.25) < 0.05


def test_log_prob_matches_closed_form_and_integrates_to_one():
    data = toy.gaussian_1d(mean=1.0, std=2.0)
    x = torch.tensor([[1.0], [3.0]])
    expected = torch.distributions.Normal(1.0, 2.0).log_prob(x[:, 0])
    torch.testing.assert_close(data.log_prob(x), expected)
    r = toy.ring(std=0.3)
    axis = torch.linspace(-4, 4, 401)
    gy, gx = torch.meshgrid(axis, axis, indexing="ij")
    pts = torch.stack([gx.flatten(), gy.flatten()], 1)
    mass = r.log_prob(pts).exp().sum().item() * (axis[1] - axis[0]).item() ** 2
    assert mass == pytest.approx(1.0, abs=1e-3)
    assert torch.isfinite(r.log_prob(torch.tensor([[100.0, 100.0]]))).all()


def test_batch_fn_is_deterministic_by_step():
    bf = toy.make_batch_fn(toy.ring(), 64, seed=1)
    assert torch.equal(bf(5), bf(5))
    assert not torch.equal(bf(5), bf(6))
    assert bf(0).shape == (64, 2)
    assert not torch.equal(bf(5), toy.make_batch_fn(toy.ring(), 64, seed=2)(5))


def test_z_sampler_and_networks_shapes():
    zs = toy.make_z_sampler(8)
    z = zs(16, torch.Generator().manual_seed(0))
    assert z.shape == (16, 8)
    assert torch.equal(z, zs(16, torch.Generator().manual_seed(0)))
    g, d = toy.toy_generator(8, 2), toy.toy_discriminator(2)
    assert g(z).shape == (16, 2) and d(g(z)).shape == (16, 1)
    with pytest.raises(ValueError):
        toy.mlp(2, 1, depth=0)


def test_perfect_samples_cover_all_modes():
    data = toy.ring()
    cov = toy.mode_coverage(data.sample(2500, torch.Generator().manual_seed(0)), data)
    assert cov.modes_covered == 8 and cov.n_modes == 8
    # 3 std in 2-D holds 1 - exp(-9/2) = 98.9% of a Gaussian's mass
    assert cov.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert sum(cov.counts) == round(cov.high_quality * 2500)


def test_collapsed_samples_are_high_quality_but_cover_one_mode():
    data = toy.grid()
    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1))
    one_mode = data.centres[7] + data.std * noise
    cov = toy.mode_coverage(one_mode, data)
    assert cov.modes_covered == 1 and cov.high_quality > 0.95
    assert cov.counts[7] == max(cov.counts)


def test_blurry_samples_have_few_high_quality():
    data = toy.ring()
    blur = 1.5 * torch.randn(4000, 2, generator=torch.Generator().manual_seed(0))
    cov = toy.mode_coverage(blur, data)
    assert cov.high_quality < 0.05


def test_min_share_threshold():
    data = toy.ring()
    pts = torch.cat([data.centres[:1].repeat(99, 1), data.centres[1:2].repeat(1, 1)])
    assert toy.mode_coverage(pts, data, min_share=0.01).modes_covered == 2
    assert toy.mode_coverage(pts, data, min_share=0.02).modes_covered == 1


def test_mode_coverage_rejects_bad_samples():
    data = toy.ring()
    with pytest.raises(ValueError):
        toy.mode_coverage(torch.zeros(10, 3), data)
    with pytest.raises(ValueError, match="diverged"):
        toy.mode_coverage(torch.full((4, 2), float("nan")), data)


def test_samples_png_is_a_png():
    data = toy.ring()
    png = toy.samples_png(data.sample(100), data, title="t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_make_toy_trainer_trains_through_the_engine():
    data = toy.ring()
    trainer = toy.make_toy_trainer(data, {"batch_size": 32, "z_dim": 2}, n_fixed=16)
    trainer.train(3)
    assert trainer.step == 3 and trainer.sample().shape == (16, 2)
    png = toy.make_render(data)(trainer)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_make_toy_trainer_is_seeded_and_defaults_wasserstein_to_gp():
    data = toy.gaussian_1d()
    a = toy.make_toy_trainer(data, {"batch_size": 16}, seed=4, n_fixed=8)
    b = toy.make_toy_trainer(data, {"batch_size": 16}, seed=4, n_fixed=8)
    a.train(2)
    b.train(2)
    assert torch.equal(a.sample(), b.sample())
    wgan = toy.make_toy_trainer(data, {"loss": "wasserstein"})
    assert wgan.config.gp_weight == 10.0
    no_gp = toy.make_toy_trainer(data, {"loss": "wasserstein", "gp_weight": 0.0})
    assert no_gp.config.gp_weight == 0
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        toy.make_toy_trainer(data, {"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="valid names"):
        toy.make_toy_trainer(data, {"loss": "vanilla"})


def test_fit_discriminator_approaches_the_optimal_discriminator():
    """Two well-separated Gaussians: D* is ~1 on p_data's side and ~0 on p_g's."""
    torch.manual_seed(0)
    p_data, p_g = toy.gaussian_1d(mean=-2.0, std=0.5), toy.gaussian_1d(mean=2.0, std=0.5)
    d = toy.toy_discriminator(1, hidden=32)
    history = toy.fit_discriminator(d, p_data, p_g, steps=200, batch_size=128)
    assert history[-1] < 0.1 * history[0]
    with torch.no_grad():
        probs = torch.sigmoid(d(torch.tensor([[-2.0], [0.0], [2.0]])))[:, 0]
    assert probs[0] > 0.95 and probs[2] < 0.05 and 0.05 < probs[1] < 0.95
    with pytest.raises(ValueError):
        toy.fit_discriminator(d, p_data, toy.ring(), steps=1)
