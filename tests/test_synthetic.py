"""Synthetic video datasets: determinism by index, the protocols' geometry, physics, loaders."""

import numpy as np
import pytest
import torch

from vgan_utils.glyphs import stroke_glyphs
from vgan_utils.synthetic import (
    BouncingBalls,
    MovingDigits,
    MovingShapes,
    bounce,
    clips_per_second,
    hash_uniform,
)


@pytest.fixture(scope="module")
def bank():
    return stroke_glyphs(5, seed=0)


@pytest.fixture(scope="module")
def digits(bank):
    return MovingDigits(num_clips=50, glyphs=bank, seed=3)


def test_hash_uniform_depends_only_on_seed_and_index():
    a = hash_uniform(0, np.array([5, 6, 7]), 4)
    b = hash_uniform(0, np.array([7, 5]), 4)
    assert np.array_equal(a[[2, 0]], b) and a.shape == (3, 4)
    assert not np.array_equal(a, hash_uniform(1, np.array([5, 6, 7]), 4))
    big = hash_uniform(0, np.arange(20000), 1)
    assert 0 <= big.min() and big.max() < 1 and abs(big.mean() - 0.5) < 0.01


def test_bounce_is_elastic_reflection():
    x0, v, lo, hi = 1.0, 0.7, 0.0, 5.0  # step a point and reflect it at the walls by hand
    x, path = x0, []
    for _ in range(40):
        path.append(x)
        x += v
        if x > hi:
            x, v = 2 * hi - x, -v
        elif x < lo:
            x, v = 2 * lo - x, -v
    folded = bounce(x0 + 0.7 * np.arange(40), lo, hi)
    assert np.allclose(folded, path)


@pytest.mark.parametrize("make", [
    lambda b: MovingDigits(num_clips=30, glyphs=b, seed=1),
    lambda b: BouncingBalls(num_clips=30, seed=1),
    lambda b: MovingShapes(num_clips=30, seed=1),
])
def test_item_i_is_always_the_same_clip(make, bank):
    data = make(bank)
    batch, labels = data.batch([4, 9, 17])
    single, single_labels = data[9]
    again, _ = make(bank).batch([17])
    assert torch.equal(batch[1], single) and torch.equal(batch[2], again[0])
    for k, v in labels.items():
        assert torch.equal(v[1], single_labels[k])
    assert batch.dtype == torch.float32 and batch.min() >= -1 and batch.max() <= 1
    assert batch.shape == (3, data.channels, data.length, data.size, data.size)
    other = type(data)(num_clips=30, seed=2, **({"glyphs": bank} if data.channels == 1
                                                  and isinstance(data, MovingDigits) else {}))
    assert not torch.equal(other.batch([4])[0][0], batch[0])


def test_uint8_and_float_agree(digits):
    u, _ = digits.batch([0, 1], uint8=True)
    f, _ = digits.batch([0, 1])
    assert u.dtype == torch.uint8 and torch.equal(((f + 1) * 127.5).round().to(torch.uint8), u)


def test_moving_digits_follow_the_protocol(digits):
    clips, lab = digits.batch(np.arange(50), uint8=True)
    assert clips.shape == (50, 1, 20, 64, 64) and lab["digits"].shape == (50, 2)
    pos = lab["positions"]
    assert pos.min() >= 0 and pos.max() <= 64 - 28  # digits stay inside the canvas
    assert digits.speed == pytest.approx(0.1 * 36)
    speed = lab["velocities"].norm(dim=-1)
    assert torch.allclose(speed, torch.full_like(speed, 3.6))
    # the canvas is the pixel-wise maximum of the two digits drawn at their positions
    rebuilt = torch.zeros(50, 20, 64, 64, dtype=torch.uint8)
    for k in range(2):
        glyph = torch.from_numpy(digits.glyph_images)[lab["glyphs"][:, k]]
        for n in range(50):
            for t in range(20):
                x, y = pos[n, t, k].tolist()
                win = rebuilt[n, t, y:y + 28, x:x + 28]
                win.copy_(torch.maximum(win, glyph[n]))
    assert torch.equal(rebuilt, clips[:, 0])
    assert torch.equal(lab["present"].sum(1) >= 1, torch.ones(50, dtype=torch.bool))


def test_moving_digits_are_configurable(bank):
    small = stroke_glyphs(2, size=14)
    data = MovingDigits(num_clips=5, size=32, length=7, num_digits=3, digit_size=14, glyphs=small)
    clips, lab = data.batch([0, 1])
    assert clips.shape == (2, 1, 7, 32, 32) and lab["digits"].shape == (2, 3)
    assert lab["positions"].max() <= 18 and data.speed == pytest.approx(1.8)
    with pytest.raises(ValueError, match="glyphs are 28 px"):
        MovingDigits(digit_size=14, glyphs=bank)


def test_frames_view_matches_clips(digits):
    j = np.array([0, 1, 49, 50, 51, 999])
    frames, lab = digits.frames(j)
    clips, clip_lab = digits.batch(j % 50)
    t = j // 50
    assert frames.shape == (6, 1, 64, 64)
    assert torch.equal(frames, clips[np.arange(6), :, t])
    assert torch.equal(lab["positions"], clip_lab["positions"][np.arange(6), t])
    assert torch.equal(lab["digits"], clip_lab["digits"]) and lab["present"].shape == (6, 10)
    assert lab["clip"].tolist() == (j % 50).tolist() and lab["frame"].tolist() == t.tolist()
    with pytest.raises(IndexError, match=r"\[0, 1000\)"):
        digits.frames([1000])


def test_step_batches_and_loader(digits):
    assert digits.step_indices(2, 20).tolist() == [(40 + i) % 50 for i in range(20)]
    assert digits.clips_at(0, 4).shape == (4, 1, 20, 64, 64)
    assert digits.frames_at(3, 8).shape == (8, 1, 64, 64)
    loader = digits.loader(batch_size=16, shuffle=False)
    first, lab = next(iter(loader))
    assert torch.equal(first, digits.batch(np.arange(16))[0]) and lab["digits"].shape == (16, 2)
    assert sum(len(b[0]) for b in loader) == 50
    with pytest.raises(IndexError, match=r"\[0, 50\)"):
        digits.batch([50])


def test_balls_stay_inside_and_conserve_energy():
    data = BouncingBalls(num_clips=40, size=32, length=30, num_balls=3, seed=0)
    clips, lab = data.batch(np.arange(40))
    pos, vel, r, m = lab["positions"], lab["velocities"], lab["radii"], lab["masses"]
    assert clips.shape == (40, 1, 30, 32, 32)
    low, high = pos - r[:, None, :, None], pos + r[:, None, :, None]
    assert low.min() >= -1e-4 and high.max() <= 32 + 1e-4
    energy = (m[:, None] * (vel**2).sum(-1)).sum(-1)  # (N, T): sum of m |v|^2
    assert torch.allclose(energy, energy[:, :1].expand_as(energy), rtol=1e-5)
    gap = (pos[:, 0, 0] - pos[:, 0, 1]).norm(dim=-1)
    assert (gap > r[:, 0] + r[:, 1]).all()  # no overlap at the start


def test_ball_collision_conserves_momentum_and_energy():
    from vgan_utils.synthetic import elastic_collision
    pos = np.array([[[10.0, 10.0], [13.0, 11.0]]])  # touching (radii 2 + 2 > distance)
    vel = np.array([[[1.0, 0.5], [-1.5, 0.0]]])  # approaching
    r, m = np.array([[2.0, 2.0]]), np.array([[1.0, 3.0]])
    out = elastic_collision(pos, vel, r, m)
    assert np.allclose((m[..., None] * out).sum(1), (m[..., None] * vel).sum(1))
    assert np.isclose((m * (out**2).sum(-1)).sum(), (m * (vel**2).sum(-1)).sum())
    assert not np.allclose(out, vel)
    assert np.allclose(elastic_collision(pos, -vel, r, m), -vel)  # separating balls are left alone


def test_shapes_are_rgb_and_inside():
    data = MovingShapes(num_clips=20, seed=0)
    clips, lab = data.batch(np.arange(20), uint8=True)
    assert clips.shape == (20, 3, 20, 64, 64)
    half = lab["half_sizes"][:, None, :, None]
    assert (lab["positions"] - half).min() >= 0 and (lab["positions"] + half).max() <= 64
    # the colour at a topmost shape's centre is its palette colour
    from vgan_utils.synthetic import PALETTE
    x, y = lab["positions"][:, 0, -1].round().long().T
    centre = clips[torch.arange(20), :, 0, y, x]
    assert torch.equal(centre, torch.from_numpy(PALETTE[lab["colours"][:, -1]] + 0.5).to(
        torch.uint8))


def test_clips_per_second_reports_a_rate(digits):
    assert clips_per_second(digits, batch_size=8, batches=2, repeats=1) > 0
