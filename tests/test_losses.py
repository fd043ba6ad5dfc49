"""Each loss against an independent formula, saturation, the penalties, extreme logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vgan_utils import losses
from vgan_utils.losses import (
    LOSS_NAMES,
    get_loss,
    gradient_penalty,
    r1_penalty,
    r2_penalty,
)

# moderate logits, where sigmoid-then-log is still accurate in float64
REAL = torch.tensor([-3.0, -0.5, 0.0, 1.2, 4.0], dtype=torch.float64)
FAKE = torch.tensor([-2.0, 0.3, 2.5, -4.0, 0.0], dtype=torch.float64)


def test_names_resolve_and_unknown_lists_valid_names():
    for name in LOSS_NAMES:
        assert get_loss(name).name == name
    assert get_loss(" NonSaturating ").name == "nonsaturating"
    with pytest.raises(ValueError) as err:
        get_loss("vanilla")
    for name in LOSS_NAMES:
        assert name in str(err.value)
    with pytest.raises(TypeError):
        get_loss(3)  # type: ignore[arg-type]


def test_bce_d_loss_matches_torch_bce_on_probabilities():
    ones, zeros = torch.ones_like(REAL), torch.zeros_like(FAKE)
    expected = (F.binary_cross_entropy(torch.sigmoid(REAL), ones)
                + F.binary_cross_entropy(torch.sigmoid(FAKE), zeros))
    for name in ("minimax", "nonsaturating"):
        torch.testing.assert_close(get_loss(name).d_loss(REAL, FAKE), expected)


def test_generator_losses_match_their_formulas():
    d = torch.sigmoid(FAKE)
    torch.testing.assert_close(get_loss("minimax").g_loss(FAKE), torch.log(1 - d).mean())
    torch.testing.assert_close(get_loss("nonsaturating").g_loss(FAKE),
                               F.binary_cross_entropy(d, torch.ones_like(d)))
    torch.testing.assert_close(get_loss("hinge").g_loss(FAKE), -FAKE.mean())
    torch.testing.assert_close(get_loss("wasserstein").g_loss(FAKE), -FAKE.mean())
    torch.testing.assert_close(get_loss("lsgan").g_loss(FAKE),
                               0.5 * F.mse_loss(FAKE, torch.ones_like(FAKE)))


def test_other_d_losses_match_their_formulas():
    torch.testing.assert_close(
        get_loss("lsgan").d_loss(REAL, FAKE),
        0.5 * F.mse_loss(REAL, torch.ones_like(REAL))
        + 0.5 * F.mse_loss(FAKE, torch.zeros_like(FAKE)))
    hinge = torch.clamp(1 - REAL, min=0).mean() + torch.clamp(1 + FAKE, min=0).mean()
    torch.testing.assert_close(get_loss("hinge").d_loss(REAL, FAKE), hinge)
    torch.testing.assert_close(get_loss("wasserstein").d_loss(REAL, FAKE),
                               FAKE.mean() - REAL.mean())


def test_relativistic_pairing_matches_its_formula_and_needs_real_logits():
    rp = get_loss("relativistic")
    assert rp.paired and rp.name not in LOSS_NAMES
    torch.testing.assert_close(rp.d_loss(REAL, FAKE),
                               -torch.log(torch.sigmoid(REAL - FAKE)).mean())
    torch.testing.assert_close(rp.generator_loss(FAKE, REAL),
                               -torch.log(torch.sigmoid(FAKE - REAL)).mean())
    # only the differences count: shifting every score leaves both losses unchanged
    torch.testing.assert_close(rp.d_loss(REAL + 7, FAKE + 7), rp.d_loss(REAL, FAKE))
    with pytest.raises(ValueError, match="real batch"):
        rp.generator_loss(FAKE)
    with pytest.raises(ValueError, match="as many real"):
        rp.d_loss(REAL, FAKE[:3])
    # an unpaired loss ignores real logits
    ns = get_loss("nonsaturating")
    torch.testing.assert_close(ns.generator_loss(FAKE, REAL), ns.g_loss(FAKE))


def test_r2_is_r1s_formula_on_generated_samples():
    x = torch.randn(4, 3, dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    critic = lambda v: (v * w).sum(dim=1) ** 2  # noqa: E731, grad = 2 (v.w) w
    expected = ((2 * (x @ w))[:, None] * w).pow(2).sum(dim=1).mean()
    torch.testing.assert_close(r2_penalty(critic, x), expected)
    torch.testing.assert_close(r2_penalty(critic, x), r1_penalty(critic, x))
    with pytest.raises(ValueError, match="generated"):
        r2_penalty(critic, torch.zeros(0, 3))


def test_shapes_n_and_n1_give_the_same_loss():
    for name in LOSS_NAMES:
        loss = get_loss(name)
        torch.testing.assert_close(loss.d_loss(REAL, FAKE),
                                   loss.d_loss(REAL[:, None], FAKE[:, None]))
        torch.testing.assert_close(loss.g_loss(FAKE), loss.g_loss(FAKE[:, None]))


def test_article_sign_error_pushes_d_of_fake_down():
    """The source article's L_G decreases when D(G(z)) decreases: the wrong direction."""
    wrong = get_loss(losses.ARTICLE_SIGN_ERROR)
    assert losses.ARTICLE_SIGN_ERROR not in LOSS_NAMES
    f = torch.zeros(4, requires_grad=True)
    wrong.g_loss(f).backward()
    assert (f.grad > 0).all()  # gradient descent lowers f, i.e. lowers D(G(z))
    f2 = torch.zeros(4, requires_grad=True)
    get_loss("nonsaturating").g_loss(f2).backward()
    assert (f2.grad < 0).all()


def _grad_wrt_fake_logit(name: str, logit: float) -> float:
    f = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
    get_loss(name).g_loss(f).backward()
    return f.grad.item()


def test_minimax_saturates_nonsaturating_does_not():
    # D(G(z)) = sigmoid(-12) ~ 6e-6: D rejects the fakes confidently
    assert abs(_grad_wrt_fake_logit("minimax", -12.0)) < 1e-5
    assert abs(_grad_wrt_fake_logit("nonsaturating", -12.0)) > 0.99
    # and the minimax gradient shrinks monotonically as D(G(z)) -> 0
    grads = [abs(_grad_wrt_fake_logit("minimax", x)) for x in (0.0, -2.0, -5.0, -10.0)]
    assert grads == sorted(grads, reverse=True)


@pytest.mark.parametrize("name", LOSS_NAMES + (losses.ARTICLE_SIGN_ERROR,))
def test_finite_values_and_gradients_at_extreme_logits(name):
    loss = get_loss(name)
    r = torch.tensor([-100.0, 100.0, 0.0], requires_grad=True)
    f = torch.tensor([100.0, -100.0, 0.0], requires_grad=True)
    d, g = loss.d_loss(r, f), loss.g_loss(f)
    assert torch.isfinite(d) and torch.isfinite(g)
    (d + g).backward()
    assert torch.isfinite(r.grad).all() and torch.isfinite(f.grad).all()


def test_bad_inputs_fail_clearly():
    loss = get_loss("nonsaturating")
    with pytest.raises(TypeError):
        loss.d_loss(torch.ones(3, dtype=torch.long), torch.ones(3))
    with pytest.raises(ValueError):
        loss.g_loss(torch.ones(0))


def test_gradient_penalty_zero_for_unit_norm_critic():
    """D(x) = w.x with ||w|| = 1 has gradient norm 1 everywhere, so the penalty is 0."""
    w = torch.tensor([0.6, 0.8, 0.0])
    critic = lambda x: x @ w  # noqa: E731
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_known_value_and_trains_the_critic():
    lin = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0]]))  # norm 5 -> (5 - 1)^2 = 16
    gp = gradient_penalty(lin, torch.randn(8, 4), torch.randn(8, 4))
    assert gp.item() == pytest.approx(16.0, rel=1e-6)
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_gradient_penalty_reproducible_with_generator_and_image_shapes():
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    real, fake = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    a = gradient_penalty(conv, real, fake, generator=torch.Generator().manual_seed(1))
    b = gradient_penalty(conv, real, fake, generator=torch.Generator().manual_seed(1))
    assert a.item() == b.item()
    with pytest.raises(ValueError):
        gradient_penalty(conv, real, fake[:2])


def test_r1_penalty_known_value():
    w = torch.tensor([1.0, 2.0, 2.0])  # ||w||^2 = 9
    assert r1_penalty(lambda x: x @ w, torch.randn(10, 3)).item() == pytest.approx(9.0)
    # quadratic critic D(x) = 1/2 ||x||^2: grad = x, so R1 = E||x||^2
    x = torch.randn(32, 2, dtype=torch.float64)
    r1 = r1_penalty(lambda t: 0.5 * t.pow(2).sum(1), x)
    assert r1.item() == pytest.approx(x.pow(2).sum(1).mean().item())
    with pytest.raises(ValueError):
        r1_penalty(lambda t: t.sum(1), torch.zeros(0, 2))
