"""The exercise checks: right for the reference solutions, and for typical wrong answers
wrong with the hint that names the slip. Reference solutions are written here as a learner
would write them in the notebook, from what the notebook teaches."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from vgan_utils import exercises as ex
from vgan_utils import toy
from vgan_utils.frame_nets import FrameGenerator
from vgan_utils.glyphs import digit_glyphs
from vgan_utils.model_table import model_table
from vgan_utils.synthetic import MovingDigits


def verdict(capsys, ok, *words):
    """The check returned ``ok``, printed one line with the matching mark and all ``words``."""
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert out.startswith("✓" if ok else "✗"), out
    for word in words:
        assert word in out, (word, out)
    return out


@pytest.mark.parametrize("check, args", [
    (ex.check_batch_mib, (None, None)),
    (ex.check_to_model_tensor, (None,)),
    (ex.check_conv3d_time_axis, (None,)),
    (ex.check_grid_coverage, (None, 2000)),
    (ex.check_seed_rerun, ({}, None)),
    (ex.check_lsgan_optimum, (None, 0.7)),
    (ex.check_minimax_vs_nonsaturating, (None, None)),
    (ex.check_bce_gradient, (None,)),
    (ex.check_doubling_padding, (None, None)),
    (ex.check_biggest_layer, (None, None)),
    (ex.check_article_d_sizes, (None, None)),
    (ex.check_relu_output_share, (None, torch.tensor([-1.0, 0.5]))),
    (ex.check_small_moving_digits, (None, None)),
    (ex.check_clip_counts, (None, None)),
    (ex.check_frame_batch_clips, (None, None, MovingDigits(num_clips=100, glyphs="strokes"))),
])
def test_unanswered_says_so_without_raising(capsys, check, args):
    assert check(*args) is False
    verdict(capsys, False, "not answered yet")


def test_every_check_is_registered_under_its_exercise():
    assert sorted(ex.CHECKS) == ["00.1", "00.2", "00.3", "01.1", "01.2", "01.3", "01.4", "01.5",
                                 "02.1", "02.2", "02.3", "02.4", "03.1", "03.2", "03.3",
                                 "04.1", "04.2", "04.3", "04.4", "04.5", "04.6",
                                 "05.1", "05.2", "05.3", "05.4",
                                 "06.1", "06.2", "06.3", "06.4",
                                 "07.1", "07.2", "07.3", "07.4", "08.1", "08.2", "08.3"]
    for ex_id, check in ex.CHECKS.items():
        assert check.__doc__.startswith(f"Notebook {ex_id[:2]}, exercise {int(ex_id[3:])}:")


# --- notebook 00 ---------------------------------------------------------------------------

def test_batch_mib(capsys):
    f32 = 16 * 3 * 32 * 128 * 128 * 4 / 2**20
    assert ex.check_batch_mib(f32, f32 / 2)
    verdict(capsys, True, "96 MiB in float32", "48 MiB in bfloat16")
    assert ex.check_batch_mib(torch.tensor(f32), np.float64(f32 / 2))  # scalars of any kind
    capsys.readouterr()
    assert not ex.check_batch_mib(f32 * 2**20 / 1e6, f32 / 2)
    verdict(capsys, False, "megabytes")
    assert not ex.check_batch_mib(f32 / 4, f32 / 2)
    verdict(capsys, False, "number of elements: times 4")
    assert not ex.check_batch_mib(f32, f32)
    verdict(capsys, False, "bfloat16", "off by a factor of 2")
    assert not ex.check_batch_mib("96", f32 / 2)
    verdict(capsys, False, "should be a number")


def test_to_model_tensor(capsys):
    def solution(frames):
        return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1

    assert ex.check_to_model_tensor(solution)
    verdict(capsys, True)
    wrong = {
        "(T, C, H, W)": lambda f: torch.from_numpy(f).permute(0, 3, 1, 2).float() / 127.5 - 1,
        "torch.float32": lambda f: torch.from_numpy(f).permute(3, 0, 1, 2),
        "divide by 127.5": lambda f: torch.from_numpy(f).permute(3, 0, 1, 2).float(),
        "[0, 1]": lambda f: torch.from_numpy(f).permute(3, 0, 1, 2).float() / 255,
        "reshape/view": lambda f: torch.from_numpy(f).reshape(3, 6, 8, 10).float() / 127.5 - 1,
        "NumPy array": lambda f: f.transpose(3, 0, 1, 2) / 127.5 - 1,
        "raised": lambda f: f.permute(3, 0, 1, 2),  # a NumPy array has no permute
    }
    for hint, fn in wrong.items():
        assert not ex.check_to_model_tensor(fn), hint
        verdict(capsys, False, hint)
    def unanswered(frames):
        raise NotImplementedError("your code here")

    assert not ex.check_to_model_tensor(unanswered)
    verdict(capsys, False, "not answered yet")
    assert not ex.check_to_model_tensor(42)
    verdict(capsys, False, "expected a function")


def test_conv3d_time_axis(capsys):
    assert ex.check_conv3d_time_axis(2)
    verdict(capsys, True, "colour")
    assert not ex.check_conv3d_time_axis(1)
    verdict(capsys, False, "input channels")
    for wrong in (0, 3, 4, 7, "2", 2.0):
        assert not ex.check_conv3d_time_axis(wrong)
        capsys.readouterr()


# --- notebook 01 ---------------------------------------------------------------------------

def fake_coverage(data, n, seed):
    """A coverage measured as the notebook does, on samples near the modes (no training)."""
    gen = torch.Generator().manual_seed(seed)
    return toy.mode_coverage(data.sample(n, gen) + 0.2 * torch.randn(n, 2, generator=gen), data)


def test_grid_coverage(capsys):
    grid, ring = toy.grid(), toy.ring()
    good = {"nonsaturating": fake_coverage(grid, 500, 0), "hinge": fake_coverage(grid, 500, 1)}
    assert ex.check_grid_coverage(good, 500)
    verdict(capsys, True, "/25 modes")
    assert not ex.check_grid_coverage({**good, "hinge": fake_coverage(ring, 500, 1)}, 500)
    verdict(capsys, False, "8 modes", "toy.grid()")
    assert not ex.check_grid_coverage(good, 2000)
    verdict(capsys, False, "not measured on 2000 samples")
    assert not ex.check_grid_coverage({"nonsaturating": good["hinge"]}, 500)
    verdict(capsys, False, "keys")


def test_seed_rerun(capsys):
    ring = toy.ring()
    table = {loss: {10: fake_coverage(ring, 400, s), 20: fake_coverage(ring, 400, s + 9)}
             for s, loss in enumerate(("minimax", "hinge"))}
    rerun = {loss: {10: fake_coverage(ring, 400, s + 50), 20: fake_coverage(ring, 400, s + 70)}
             for s, loss in enumerate(("minimax", "hinge"))}
    assert ex.check_seed_rerun(table, rerun)
    verdict(capsys, True, "minimax", "hinge", "HQ share rises")
    assert not ex.check_seed_rerun(table, table)
    verdict(capsys, False, "identical", "seed=1")
    assert not ex.check_seed_rerun(table, {"minimax": rerun["minimax"]})
    verdict(capsys, False, "same losses")
    assert not ex.check_seed_rerun(table, {k: {10: v[10]} for k, v in rerun.items()})
    verdict(capsys, False, "checkpoints")


def test_lsgan_optimum(capsys):
    # The reference solution of the notebook, on section 4's densities.
    p_data = toy.gaussian_1d(mean=0.0, std=1.0)
    p_g = toy.GaussianMixture("p_g", torch.tensor([[-1.5], [2.0]]), std=0.6)
    x1 = torch.tensor([[1.0]], dtype=torch.float64)
    pd1, pg1 = p_data.log_prob(x1).exp().item(), p_g.log_prob(x1).exp().item()
    d_star_1 = pd1 / (pd1 + pg1)
    v = torch.linspace(-1, 2, 300001, dtype=torch.float64)
    a, b = 0.0, 1.0  # LSGAN's targets for fake and real
    pointwise = 0.5 * pd1 * (v - b) ** 2 + 0.5 * pg1 * (v - a) ** 2
    assert ex.check_lsgan_optimum(v[pointwise.argmin()].item(), d_star_1)
    verdict(capsys, True, "they differ by")
    assert not ex.check_lsgan_optimum(1 - d_star_1, d_star_1)
    verdict(capsys, False, "swapped")
    assert not ex.check_lsgan_optimum(2 * d_star_1 - 1, d_star_1)
    verdict(capsys, False, "-1 and 1")
    assert not ex.check_lsgan_optimum(100 * d_star_1, d_star_1)
    verdict(capsys, False, "percentage")
    with pytest.raises(ValueError, match="probability"):
        ex.check_lsgan_optimum(0.5, 3.0)


def test_minimax_vs_nonsaturating(capsys):
    data = toy.gaussian_1d(mean=4.0, std=1.25)
    trainers = {}
    for loss in ("minimax", "nonsaturating"):
        trainers[loss] = toy.make_toy_trainer(data, {"z_dim": 4, "loss": loss, "batch_size": 64},
                                              seed=0, hidden=16)
        trainers[loss].train(50)
    runs = {loss: trainer.history for loss, trainer in trainers.items()}
    assert ex.check_minimax_vs_nonsaturating(runs["minimax"], runs["nonsaturating"])
    verdict(capsys, True, "minimax D(G(z)) over steps 5-50")
    assert ex.check_minimax_vs_nonsaturating(trainers["minimax"], trainers["nonsaturating"])
    verdict(capsys, True, "minimax D(G(z)) over steps 5-50")
    assert not ex.check_minimax_vs_nonsaturating(runs["nonsaturating"], runs["nonsaturating"])
    verdict(capsys, False, "identical")
    short = {"d_fake": runs["minimax"]["d_fake"][:20]}
    assert not ex.check_minimax_vs_nonsaturating(short, runs["nonsaturating"])
    verdict(capsys, False, "at least 50 steps")


def test_bce_gradient(capsys):
    logit = torch.tensor([200.0], requires_grad=True)
    nn.functional.binary_cross_entropy(torch.sigmoid(logit), torch.zeros(1)).backward()
    assert ex.check_bce_gradient(logit.grad.item())
    verdict(capsys, True, "rounds to 1")
    assert not ex.check_bce_gradient(1.0)
    verdict(capsys, False, "BCEWithLogitsLoss")
    assert not ex.check_bce_gradient(1e12)
    verdict(capsys, False, "dL/dp")
    assert not ex.check_bce_gradient(200)
    verdict(capsys, False, "logit.grad")


# --- notebook 02 ---------------------------------------------------------------------------

def test_doubling_padding(capsys):
    assert ex.check_doubling_padding(1, 1)
    verdict(capsys, True)
    assert not ex.check_doubling_padding(1, 0)
    verdict(capsys, False, "becomes 1, not 2", "off by -1")
    assert not ex.check_doubling_padding(0, 2)
    verdict(capsys, False, "PyTorch refuses")


def test_biggest_layer(capsys):
    table = model_table(FrameGenerator(100, 64, 3, 64), torch.randn(2, 100))
    biggest = max(table.rows, key=lambda r: r.params)
    share = biggest.params / table.total_params
    assert ex.check_biggest_layer(biggest.name, share)
    verdict(capsys, True, biggest.name, f"{share:.1%}")
    assert not ex.check_biggest_layer(biggest.name, 100 * share)
    verdict(capsys, False, "percentage")
    assert not ex.check_biggest_layer("net.0", share)
    verdict(capsys, False, "another layer holds more")
    assert not ex.check_biggest_layer("conv2", share)
    verdict(capsys, False, "no layer named")


def test_article_d_sizes(capsys):
    # The notebook's own follow-the-formula, as a learner writes it.
    def sides(n):
        out = [n]
        for k, s, p in [(4, 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 1, 0)]:
            out.append((out[-1] + 2 * p - (k - 1) - 1) // s + 1)
        return out

    smallest = next(n for n in range(8, 257) if sides(n)[-1] == 1)
    assert ex.article_d_sides(83) == sides(83)
    assert ex.check_article_d_sizes(smallest, sides(83)[-1])
    verdict(capsys, True, "grid of scores")
    assert not ex.check_article_d_sizes(64, sides(83)[-1])
    verdict(capsys, False, "64 goes 64 -> 61")
    assert not ex.check_article_d_sizes(smallest, 1)
    verdict(capsys, False, "output side at 83")


def test_relu_output_share(capsys):
    real = torch.tensor([-1.0, -1.0, -1.0, 0.5])
    assert ex.check_relu_output_share((real < 0).float().mean(), real)
    verdict(capsys, True, "background")
    assert not ex.check_relu_output_share(0.25, real)
    verdict(capsys, False, "*can* reach")
    assert not ex.check_relu_output_share(75, real)
    verdict(capsys, False, "percentage")
    with pytest.raises(ValueError, match="real frames"):
        ex.check_relu_output_share(0.5, torch.tensor([0.0, 255.0]))
    with pytest.raises(ValueError, match="no pixel below 0"):
        ex.check_relu_output_share(0.5, torch.tensor([0.0, 0.5]))


# --- notebook 03 ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_glyphs():
    return digit_glyphs("strokes", size=20, per_digit=4, cache=False)


def test_small_moving_digits(capsys, small_glyphs):
    small = MovingDigits(num_clips=10, size=48, num_digits=3, digit_size=20, length=10,
                         glyphs=small_glyphs)
    assert ex.check_small_moving_digits(small, 0.1 * (48 - 20))
    verdict(capsys, True, "label")
    assert not ex.check_small_moving_digits(small, 4.8)
    verdict(capsys, False, "free range")
    assert not ex.check_small_moving_digits(small, 3.6)
    verdict(capsys, False, "64-px")
    two = MovingDigits(num_clips=10, size=48, num_digits=2, digit_size=20, length=10,
                       glyphs=small_glyphs)
    assert not ex.check_small_moving_digits(two, 2.8)
    verdict(capsys, False, "num_digits=2 (want 3)")
    fast = MovingDigits(num_clips=10, size=48, num_digits=3, digit_size=20, length=10,
                        glyphs=small_glyphs, speed=5.0)
    assert not ex.check_small_moving_digits(fast, 2.8)
    verdict(capsys, False, "speed=")


def test_clip_count_formula_matches_video_folder(tmp_path):
    from vgan_utils.video_io import VideoFolder, write_video

    write_video(tmp_path / "v.mp4", torch.zeros(1, 23, 16, 16))
    for clip_length, stride, step in [(4, 1, None), (4, 1, 3), (3, 2, None), (5, 2, 2)]:
        folder = VideoFolder(tmp_path, clip_length=clip_length, frame_stride=stride, step=step)
        assert len(folder) == ex.video_folder_clip_count(23, clip_length, stride, step)


def test_clip_counts(capsys):
    assert ex.check_clip_counts(math.floor((100 - 16) / 16) + 1, (100 - 16) // 4 + 1)
    verdict(capsys, True, "84")
    assert not ex.check_clip_counts(6, 25)
    verdict(capsys, False, "100 // 4")
    assert not ex.check_clip_counts(6, 21)
    verdict(capsys, False, "off by one")


def test_frame_batch_clips(capsys, small_glyphs):
    data = MovingDigits(num_clips=1000, glyphs=digit_glyphs("strokes", per_digit=2, cache=False))
    frame_clips = data.frames(np.arange(64))[1]["clip"]
    assert ex.check_frame_batch_clips(len(set(frame_clips.tolist())),
                                      len({j // data.length for j in range(64)}), data)
    verdict(capsys, True, "64 clips against 4")
    assert not ex.check_frame_batch_clips(64, 3, data)
    verdict(capsys, False, "partly used clip")
    assert not ex.check_frame_batch_clips(20, 4, data)
    verdict(capsys, False, "j mod num_clips")
