"""Frame prediction and in-filling (notebook 06): networks, losses, training, files, metrics."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vgan_utils import prediction as pr
from vgan_utils import prediction_metrics as pm
from vgan_utils.checkpoint import load_checkpoint
from vgan_utils.training import GANTrainer

SMOKE, GAN_SMOKE = pr.RECIPES["smoke"], pr.RECIPES["gan_smoke"]


def tiny(t_in=4, t_out=3, size=16):
    torch.manual_seed(0)
    return pr.FramePredictor(t_in, t_out, size, 1, width=4, hidden=8, blocks=1)


# --- the network and the tasks ----------------------------------------------------------------

def test_predictor_maps_t_in_frames_to_t_out_frames_in_range():
    net = tiny()
    out = net(torch.rand(2, 1, 4, 16, 16) * 2 - 1)
    assert out.shape == (2, 1, 3, 16, 16)
    assert out.abs().max() <= 1


@pytest.mark.parametrize(("shape", "hint"), [
    ((2, 1, 5, 16, 16), r"\(N, 1, 4, 16, 16\)"),  # wrong length
    ((2, 1, 4, 32, 32), r"\(N, 1, 4, 16, 16\)"),  # wrong size
    ((2, 3, 4, 16, 16), r"\(N, 1, 4, 16, 16\)"),  # wrong channels
    ((2, 4, 1, 16, 16), r"permute"),  # (N, T, C, H, W)
])
def test_wrong_clips_name_the_expected_shape(shape, hint):
    with pytest.raises(ValueError, match=hint):
        tiny()(torch.zeros(shape))


def test_predictor_rejects_a_size_not_divisible_by_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        pr.FramePredictor(size=30)


def test_split_and_assemble_are_inverse_for_both_tasks():
    clip = torch.arange(8.0).view(1, 1, 8, 1, 1).expand(2, 1, 8, 2, 2)
    given, rest = pr.split_clip(clip, "predict", 4)
    assert given[0, 0, :, 0, 0].tolist() == [0, 1, 2, 3] and rest.shape[2] == 4
    given, middle = pr.split_clip(clip, "infill", 4)
    assert given[0, 0, :, 0, 0].tolist() == [0, 1, 6, 7]
    assert middle[0, 0, :, 0, 0].tolist() == [2, 3, 4, 5]
    for task in pr.TASKS:
        _, rest = pr.split_clip(clip, task, 4)
        assert torch.equal(pr.assemble_clip(clip, rest, task, 4), clip)
    with pytest.raises(ValueError, match="task"):
        pr.split_clip(clip, "rewind", 4)


def test_completion_keeps_the_given_frames_and_uses_only_them():
    net = tiny(4, 4)
    g = pr.Completion(net, "infill").eval()
    clip = torch.rand(2, 1, 8, 16, 16) * 2 - 1
    out = g(clip)
    assert torch.equal(out[:, :, :2], clip[:, :, :2])
    assert torch.equal(out[:, :, -2:], clip[:, :, -2:])
    changed = clip.clone()
    changed[:, :, 2:6] = 0  # the frames to predict: the output must not depend on them
    assert torch.equal(g(changed), out)


# --- losses -----------------------------------------------------------------------------------

def test_gdl_is_zero_for_the_truth_and_positive_for_a_blur():
    true = -torch.ones(1, 1, 1, 8, 8)
    true[..., 2:6, 2:6] = 1.0
    blur = torch.nn.functional.avg_pool2d(true[0], 3, 1, 1)[None]
    assert pr.gradient_difference_loss(true, true) == 0
    assert pr.gradient_difference_loss(blur, true) > 0
    # by hand, alpha = 1: the two directional terms
    (ph, pw), (th, tw) = pr.image_gradients(blur), pr.image_gradients(true)
    by_hand = (th - ph).abs().mean() + (tw - pw).abs().mean()
    assert torch.isclose(pr.gradient_difference_loss(blur, true), by_hand)


def test_lp_loss_and_the_weighted_sum():
    a, b = torch.zeros(2, 3), torch.full((2, 3), 0.5)
    assert pr.lp_loss(a, b, 1) == 0.5 and pr.lp_loss(a, b, 2) == 0.25
    w = pr.MathieuWeights(adv=0.5, lp=2.0, gdl=0.0, p=2)
    assert w.reconstruction(a, b) == 0.5
    with pytest.raises(ValueError, match="p must be"):
        pr.lp_loss(a, b, 3)


def test_engine_penalty_is_the_reconstruction_of_the_predicted_frames_over_adv():
    w = pr.MathieuWeights(adv=0.1, lp=1.0, gdl=1.0, p=1)
    clip = torch.rand(2, 1, 8, 8, 8)
    fake = clip.clone()
    fake[:, :, 4:] = 0
    expected = w.reconstruction(fake[:, :, 4:], clip[:, :, 4:]) / 0.1
    assert torch.isclose(w.engine_penalty("predict", 4)(clip, fake), expected)
    with pytest.raises(ValueError, match="adv > 0"):
        pr.MathieuWeights(adv=0.0).engine_penalty("predict", 4)


# --- training ---------------------------------------------------------------------------------

def test_regression_trainer_lowers_the_loss_on_a_fixed_batch():
    recipe = replace(SMOKE, lr=3e-3)
    batch = pr.clips(np.arange(4), size=16, length=8)
    trainer = pr.RegressionTrainer(recipe.network(), lambda i: batch, recipe.weights, lr=3e-3)
    trainer.train(30)
    loss = trainer.history["loss"]
    assert trainer.step == 30 and np.mean(loss[-5:]) < 0.7 * np.mean(loss[:3])


def test_adversarial_recipe_trains_through_the_engine_with_the_penalty():
    trainer = pr.build_trainer(GAN_SMOKE)
    assert isinstance(trainer, GANTrainer) and isinstance(trainer.generator, pr.Completion)
    trainer.train(2)
    assert trainer.step == 2 and math.isfinite(trainer.last_g_penalty)
    assert trainer.last_g_penalty > 0
    sample = trainer.sample()  # the fixed clips, completed
    assert sample.shape == (8, 1, 8, 16, 16)
    assert torch.equal(sample[:, :, :4], trainer.fixed_z[:, :, :4])


def test_command_line_trains_resumes_and_ships(tmp_path, capsys):
    out, ship = tmp_path / "run.pt", tmp_path / "p.pt"
    args = ["--recipe", "smoke", "--out", str(out), "--resume", "--threads", "1",
            "--log-every", "2"]
    assert pr.main([*args, "--steps", "2"]) == 0
    assert pr.main([*args, "--steps", "4", "--ship", str(ship)]) == 0
    assert "resumed" in capsys.readouterr().out
    assert load_checkpoint(out)["step"] == 4
    net = pr.load_predictor(ship)
    assert net.config()["t_in"] == 4 and not net.training
    assert net.meta["command"].startswith("python -m vgan_utils.prediction --recipe smoke")
    with pytest.raises(SystemExit, match="exists"):
        pr.main(["--recipe", "smoke", "--out", str(out), "--steps", "5"])
    with pytest.raises(SystemExit, match="holds a 'smoke' run"):
        pr.main(["--recipe", "gan_smoke", "--out", str(out), "--steps", "5", "--resume"])


def test_gan_command_line_resumes_like_an_unbroken_run(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    base = ["--recipe", "gan_smoke", "--threads", "1", "--log-every", "1", "--resume"]
    pr.main([*base, "--out", str(a), "--steps", "3"])
    pr.main([*base, "--out", str(b), "--steps", "1"])
    pr.main([*base, "--out", str(b), "--steps", "3"])
    wa, wb = load_checkpoint(a)["generator"], load_checkpoint(b)["generator"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_shipped_predictor_loads_weights_only_and_predicts_the_same(tmp_path):
    trainer = pr.build_trainer(SMOKE)
    trainer.train(1)
    path = pr.ship_predictor(trainer, SMOKE, tmp_path / "p.pt")
    torch.load(path, weights_only=True)  # no pickled code
    loaded = pr.load_predictor(path)
    x = torch.rand(2, 1, 4, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(x), trainer.net.eval()(x), atol=2e-2)  # float16 weights


def test_load_predictor_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/README.md"):
        pr.load_predictor(tmp_path / "missing.pt")
    torch.save({"generator": {}}, tmp_path / "train.pt")
    with pytest.raises(ValueError, match="not a shipped predictor"):
        pr.load_predictor(tmp_path / "train.pt")


# --- real .npy files --------------------------------------------------------------------------

def test_clips_from_npy_reads_moving_mnist_layout(tmp_path):
    data = np.zeros((20, 3, 64, 64), dtype=np.uint8)
    data[5, 1] = 255
    np.save(tmp_path / "mm.npy", data)
    clips = pr.clips_from_npy(tmp_path / "mm.npy", size=32)
    assert clips.shape == (3, 1, 20, 32, 32)
    assert clips[1, 0, 5].min() == 1 and clips[0].max() == -1


def test_clips_from_npy_names_the_file_and_the_layout(tmp_path):
    np.save(tmp_path / "nthw.npy", np.zeros((3, 20, 64, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"nthw\.npy.*\(T, N, H, W\).*transpose"):
        pr.clips_from_npy(tmp_path / "nthw.npy")
    np.save(tmp_path / "flat.npy", np.zeros((20, 64, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"flat\.npy.*\(T, N, H, W\)"):
        pr.clips_from_npy(tmp_path / "flat.npy")


# --- metrics and baselines --------------------------------------------------------------------

def test_openstl_mse_sums_pixels_and_averages_frames():
    true = -torch.ones(2, 1, 3, 4, 4)
    pred = true.clone()
    pred[:, :, 1, 0, 0] = 1.0  # one pixel fully wrong in step 2 ([0, 1] error 1)
    assert pm.mse_per_step(pred, true).tolist() == [0.0, 1.0, 0.0]


def test_psnr_and_ssim_per_step_match_the_formulas():
    torch.manual_seed(0)
    true = torch.rand(3, 1, 2, 16, 16) * 2 - 1
    pred = (true + 0.2 * torch.randn_like(true)).clamp(-1, 1)
    mse_pixel = (pm.to_unit(pred) - pm.to_unit(true)).pow(2).mean(dim=(1, 3, 4))  # (N, T)
    assert torch.allclose(pm.psnr_per_step(pred, true), (10 * torch.log10(1 / mse_pixel)).mean(0))
    assert pm.ssim_per_step(true, true).allclose(torch.ones(2))
    assert (pm.ssim_per_step(pred, true) < 1).all()


def test_sharpness_is_one_for_the_truth_and_low_for_a_blur():
    true = -torch.ones(2, 1, 2, 16, 16)
    true[..., 4:12, 6:8] = 1
    blur = torch.nn.functional.avg_pool3d(true, (1, 5, 5), 1, (0, 2, 2))
    assert pm.sharpness_per_step(true, true).allclose(torch.ones(2))
    assert (pm.sharpness_per_step(blur, true) < 0.5).all()


def test_baselines():
    past = torch.stack([torch.full((1, 2, 2), v) for v in (0.0, 0.1, 0.2)], dim=1)[None]
    assert pm.copy_last(past, 2)[0, 0, :, 0, 0].tolist() == pytest.approx([0.2, 0.2])
    assert pm.linear_extrapolation(past, 2)[0, 0, :, 0, 0].tolist() == pytest.approx([0.3, 0.4])
    assert pm.linear_extrapolation(past * 5, 3).max() == 1  # clamped
    first, last = -torch.ones(1, 1, 1, 2, 2), torch.ones(1, 1, 1, 2, 2)
    assert pm.linear_blend(first, last, 3)[0, 0, :, 0, 0].tolist() == pytest.approx([-0.5, 0, 0.5])


def test_step_table_and_its_text():
    true = torch.rand(2, 1, 3, 8, 8) * 2 - 1
    table = pm.step_table({"truth": true, "zeros": torch.zeros_like(true)}, true)
    assert table["truth"]["mse"] == [0.0, 0.0, 0.0]
    assert set(table["zeros"]) == {"mse", "psnr", "ssim", "sharpness"}
    text = pm.format_step_table(table, "mse")
    assert text.count("\n") == 2 and "zeros" in text


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        pm.mse_per_step(torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 1, 3, 4, 4))


def test_bench_predict_measures_a_predictor_on_a_moving_mnist_file(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "predict.py"
    spec = importlib.util.spec_from_file_location("bench_predict", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    np.save(tmp_path / "mm.npy", np.random.default_rng(0).integers(0, 255, (20, 3, 64, 64),
                                                                   dtype=np.uint8))
    recipe = replace(SMOKE, given=10, predicted=10)
    trainer = pr.RegressionTrainer(recipe.network(), None, recipe.weights)
    pr.ship_predictor(trainer, recipe, tmp_path / "p.pt")
    out = tmp_path / "r.json"
    assert bench.main(["--file", str(tmp_path / "mm.npy"), "--predictor",
                       f"tiny={tmp_path / 'p.pt'}", "--json", str(out)]) == 0
    table = json.loads(out.read_text())["table"]
    assert set(table) == {"copy last", "linear extrapolation", "tiny"}
    assert len(table["tiny"]["ssim"]) == 10 and "3 clips at 16x16" in capsys.readouterr().out
    assert bench.main(["--file", str(tmp_path / "missing.npy")]) == 1
