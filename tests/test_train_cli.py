"""The command line: train from a named config, resume exactly, refuse to clobber, load G."""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import Namespace

import pytest
import torch
from gan_fixtures import single_thread

from vgan_utils import train
from vgan_utils.checkpoint import load_checkpoint
from vgan_utils.frame_nets import FrameGenerator, LayeredGenerator, SpriteGenerator


@pytest.fixture(autouse=True)
def _isolated():
    """main() calls setup(), which switches on deterministic algorithms: switch them back."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    with single_thread():
        yield
    torch.use_deterministic_algorithms(deterministic)


def cli(*args: str) -> int:
    return train.main(["--config", "smoke", "--device", "cpu", "--log-every", "2", *args])


def test_train_then_resume_equals_one_run(tmp_path, capsys):
    assert cli("--steps", "4", "--save-every", "2", "--out", str(tmp_path / "a.pt")) == 0
    assert cli("--steps", "6", "--out", str(tmp_path / "a.pt"), "--resume") == 0
    assert cli("--steps", "6", "--out", str(tmp_path / "b.pt")) == 0
    out = capsys.readouterr().out
    assert "step 4/4 | loss_d" in out and "resumed" in out and "steps/s" in out
    a, b = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    assert a["step"] == b["step"] == 6 and a["run"]["name"] == "smoke"
    for key in ("generator", "discriminator", "ema"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)


def test_refuses_to_overwrite_or_resume_nothing(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        cli("--steps", "2", "--out", str(tmp_path / "none.pt"), "--resume")
    (tmp_path / "x.pt").write_bytes(b"precious")
    with pytest.raises(SystemExit, match="exists: pass --resume"):
        cli("--steps", "2", "--out", str(tmp_path / "x.pt"))
    assert (tmp_path / "x.pt").read_bytes() == b"precious"


def test_config_takes_a_race_spec_and_resumes_it(tmp_path):
    spec = "smoke,width=4,lr_d=3e-4"
    out = str(tmp_path / "v.pt")
    base = ["--device", "cpu", "--log-every", "2", "--out", out]
    assert train.main(["--config", spec, "--steps", "2", *base]) == 0
    state = load_checkpoint(tmp_path / "v.pt")
    assert state["run"]["name"] == spec and state["run"]["width"] == 4
    assert state["run"]["train"]["lr_d"] == 3e-4
    assert train.load_generator(tmp_path / "v.pt").width == 4
    assert train.main(["--config", spec, "--steps", "4", "--resume", *base]) == 0
    with pytest.raises(SystemExit, match="holds a 'smoke,width=4,lr_d=3e-4' run"):
        train.main(["--config", "smoke", "--steps", "6", "--resume", *base])
    with pytest.raises(SystemExit, match="not a field of RunConfig"):
        train.main(["--config", "smoke,widht=4", "--steps", "2", "--out", str(tmp_path / "w.pt")])


def test_load_generator_uses_the_ema_weights(tmp_path):
    cli("--steps", "2", "--out", str(tmp_path / "g.pt"))
    g = train.load_generator(tmp_path / "g.pt")
    assert isinstance(g, FrameGenerator) and not g.training
    state = load_checkpoint(tmp_path / "g.pt")
    assert all(torch.equal(v, state["ema"][k]) for k, v in g.state_dict().items())
    assert g(torch.zeros(3, g.z_dim)).shape == (3, 1, 16, 16)


def test_dashboard_controls_round_trip_into_a_trainer():
    run = train.CONFIGS["smoke"]
    controls = train.dashboard_controls(run)
    trainer = train.build_trainer(run, hparams={**controls, "lr_d": 1e-3, "batch_size": 4})
    assert trainer.config.lr_d == 1e-3 and trainer.config.loss == run.train.loss
    assert trainer.batch_fn(0).shape == (4, 1, 16, 16)
    assert trainer.fixed_z.shape == (64, run.z_dim)


def test_gpu_features_default_on_for_cuda_only():
    args = Namespace(amp=None, channels_last=None, compile=False)
    assert train.device_overrides(args, torch.device("cpu")) == {
        "amp": "off", "channels_last": False, "compile": False}
    args.amp = "bf16"
    assert train.device_overrides(args, torch.device("cuda"))["channels_last"] is True


def test_module_runs_as_a_script():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "vgan_utils.train", "--help"],
                            capture_output=True, text=True, env=env, check=True)
    usage = result.stdout.replace(" ", "").replace("\n", "")
    assert "--configNAME[,field=value...]" in usage
    assert "anamedrun(" + ",".join(sorted(train.CONFIGS)) + ")" in usage


def test_ship_writes_a_small_generator_only_copy(tmp_path):
    full, small = tmp_path / "run.pt", tmp_path / "g.pt"
    assert cli("--steps", "2", "--out", str(full), "--ship", str(small)) == 0
    state, shipped = load_checkpoint(full), load_checkpoint(small)
    assert shipped["shipped"] and shipped["weights"] == "ema" and shipped["step"] == 2
    assert "opt_g" not in shipped and "discriminator" not in shipped
    assert small.stat().st_size < full.stat().st_size
    g = train.load_generator(small)
    assert all(torch.equal(v, state["ema"][k]) for k, v in g.state_dict().items())
    train.ship_generator(full, small, ema=False)
    g = train.load_generator(small)
    assert all(torch.equal(v, state["generator"][k]) for k, v in g.state_dict().items())
    with pytest.raises(SystemExit, match="shipped generator-only"):
        cli("--steps", "4", "--out", str(small), "--resume")


def test_ship_message_names_the_weights_kept(tmp_path, capsys):
    """A run without EMA ships its generator's weights, and says so (not "ema")."""
    assert train.main(["--config", "clip_smoke", "--device", "cpu", "--steps", "2", "--out",
                       str(tmp_path / "c.pt"), "--ship", str(tmp_path / "g.pt")]) == 0
    assert load_checkpoint(tmp_path / "g.pt")["weights"] == "generator"
    assert "shipped generator weights to" in capsys.readouterr().out


def test_resize_convolution_generator_keeps_shapes():
    from dataclasses import replace

    run = replace(train.CONFIGS["smoke"], upsample="nearest")
    g = train.build_generator(run)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) and m.stride == (2, 2)
                   for m in g.modules())
    assert g(torch.zeros(2, run.z_dim)).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="upsample"):
        train.build_generator(replace(run, upsample="bicubic"))


def test_eval_every_records_a_quality_curve_that_survives_resume_and_ship(tmp_path, monkeypatch):
    from dataclasses import replace

    from vgan_utils.judge import default_path

    if not default_path(32).exists():
        pytest.skip("no shipped 32x32 judge")
    tiny = replace(train.CONFIGS["smoke"], name="tiny32", size=32, data_size=32)
    monkeypatch.setitem(train.CONFIGS, "tiny32", tiny)
    out, shipped = tmp_path / "c.pt", tmp_path / "ship.pt"
    base = ["--config", "tiny32", "--device", "cpu", "--log-every", "2", "--eval-every",
            "1e-9", "--eval-n", "24", "--out", str(out)]
    assert train.main([*base, "--steps", "4"]) == 0
    assert train.main([*base, "--steps", "6", "--resume", "--ship", str(shipped)]) == 0
    state = load_checkpoint(out)
    curve = state["quality_curve"]
    assert [p["step"] for p in curve] == [2, 4, 6]
    assert all(b["seconds"] > a["seconds"] > 0 for a, b in zip(curve, curve[1:], strict=False))
    assert state["train_seconds"] == curve[-1]["seconds"]
    assert all(p["fd_over_floor"] > 0 and 0 <= p["recall"] <= 1 for p in curve)
    assert load_checkpoint(shipped)["quality_curve"] == curve


def test_decay_factor_is_flat_then_linear_and_never_zero():
    assert train.decay_factor(0, 100, 0.5) == 1.0 and train.decay_factor(50, 100, 0.5) == 1.0
    assert train.decay_factor(75, 100, 0.5) == pytest.approx(0.5)
    assert train.decay_factor(100, 100, 0.5) == 1e-3
    with pytest.raises(ValueError, match="decay-last"):
        train.decay_factor(0, 100, 1.5)


def test_decay_last_lowers_the_learning_rates_by_step(tmp_path):
    assert cli("--steps", "8", "--decay-last", "0.5", "--out", str(tmp_path / "a.pt")) == 0
    history = load_checkpoint(tmp_path / "a.pt")["history"]
    lr0 = train.CONFIGS["smoke"].train.lr_g
    # set at steps 0, 2, 4, 6 (every --log-every 2 steps), for a total of 8: 1, 1, 1, 0.5
    assert history["lr_g"] == pytest.approx([lr0] * 6 + [0.5 * lr0] * 2)


def test_thin_history_averages_windows_and_keeps_short_ones():
    history = {"step": list(range(1, 11)), "loss_d": [float(i) for i in range(10)]}
    assert train.thin_history(history, points=20) == history
    thin = train.thin_history(history, points=5)
    assert thin["step"] == [2, 4, 6, 8, 10] and thin["loss_d"] == [0.5, 2.5, 4.5, 6.5, 8.5]


def test_clip_runs_train_resume_and_ship_through_the_same_command(tmp_path, capsys):
    def clip_cli(*args: str) -> int:
        return train.main(["--config", "clip_smoke", "--device", "cpu", "--log-every", "2",
                           *args])

    assert clip_cli("--steps", "2", "--out", str(tmp_path / "a.pt")) == 0
    assert clip_cli("--steps", "4", "--out", str(tmp_path / "a.pt"), "--resume",
                    "--ship", str(tmp_path / "s.pt"), "--eval-every", "1e-9",
                    "--eval-n", "8") == 0
    assert clip_cli("--steps", "4", "--out", str(tmp_path / "b.pt")) == 0
    assert "clip FD/floor" in capsys.readouterr().out
    a, b = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    for key in ("generator", "discriminator"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)
    assert a["quality_curve"][-1]["step"] == 4 and "clip_fd_over_floor" in a["quality_curve"][-1]
    g = train.load_generator(tmp_path / "s.pt")
    assert type(g).__name__ == "OneStreamGenerator"
    assert g(torch.randn(2, 16)).shape == (2, 1, 4, 32, 32)


def test_gpu_features_stay_off_on_mps(monkeypatch):
    """Apple's MPS gets neither bf16 autocast nor channels-last by default, even where a CUDA
    check would say bf16 is supported: only CUDA turns them on."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    args = Namespace(amp=None, channels_last=None, compile=False)
    assert train.device_overrides(args, torch.device("mps")) == {
        "amp": "off", "channels_last": False, "compile": False}


def test_ship_discriminator_writes_a_small_d_only_copy_that_loads(tmp_path):
    full, small = tmp_path / "c.pt", tmp_path / "d.pt"
    assert train.main(["--config", "clip_smoke", "--device", "cpu", "--steps", "2", "--out",
                       str(full), "--ship", str(small), "--ship-weights",
                       "discriminator"]) == 0
    shipped = load_checkpoint(small)
    assert shipped["weights"] == "discriminator" and "generator" not in shipped
    assert "opt_d" not in shipped and small.stat().st_size < full.stat().st_size
    d = train.load_discriminator(small)
    for name, value in load_checkpoint(full)["discriminator"].items():
        assert torch.equal(d.state_dict()[name], value), name
    assert not d.training and d(torch.zeros(3, 1, 4, 32, 32)).shape == (3,)
    train.ship_generator(full, tmp_path / "g.pt")
    with pytest.raises(ValueError, match="holds no discriminator"):
        train.ship_discriminator(tmp_path / "g.pt", tmp_path / "x.pt")
    with pytest.raises(ValueError, match="--ship-weights discriminator"):
        train.load_discriminator(tmp_path / "g.pt")


def test_layered_run_trains_ships_and_loads(tmp_path):
    full, small = tmp_path / "l.pt", tmp_path / "ls.pt"
    assert train.main(["--config", "smoke,layers=2,upsample='nearest'", "--device", "cpu",
                       "--steps", "2", "--out", str(full), "--ship", str(small)]) == 0
    g = train.load_generator(small)
    assert isinstance(g, LayeredGenerator) and g.layers == 2 and g.z_dim == 16
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) and m.stride == (2, 2)
                   for m in g.modules())
    assert g(torch.zeros(3, 16)).shape == (3, 1, 16, 16)
    sprites = tmp_path / "s.pt"
    assert train.main(["--config", "smoke,layers=2,glyph=8", "--device", "cpu", "--steps", "2",
                       "--out", str(tmp_path / "s_full.pt"), "--ship", str(sprites)]) == 0
    g = train.load_generator(sprites)
    assert isinstance(g, SpriteGenerator) and g.glyph == 8 and g.layer.size == 8
    assert g(torch.zeros(3, 16)).shape == (3, 1, 16, 16)


def test_refined_run_ships_and_loads_for_every_generator(tmp_path):
    small = tmp_path / "rs.pt"
    assert cli("--config", "smoke,refine=4", "--steps", "2", "--out", str(tmp_path / "r.pt"),
               "--ship", str(small)) == 0
    g = train.load_generator(small)
    assert isinstance(g, FrameGenerator) and g.refine == 4
    layered = tmp_path / "lrs.pt"
    assert cli("--config", "smoke,refine=4,layers=2", "--steps", "2",
               "--out", str(tmp_path / "lr.pt"), "--ship", str(layered)) == 0
    g = train.load_generator(layered)
    assert isinstance(g, LayeredGenerator) and g.refine == 4 and g.layer.refine == 4
    sprites = tmp_path / "srs.pt"
    assert cli("--config", "smoke,refine=4,layers=2,glyph=8,whole_pixels=True", "--steps", "2",
               "--out", str(tmp_path / "sr.pt"), "--ship", str(sprites)) == 0
    g = train.load_generator(sprites)
    assert isinstance(g, SpriteGenerator) and g.layer.refine == 4 and g.whole_pixels
    with pytest.raises(ValueError, match="add glyph=16"):
        train.build_generator(train.parse_recipe("smoke,whole_pixels=True"))
    with pytest.raises(ValueError, match="single-layer generator"):
        train.build_generator(train.parse_recipe("smoke,output='hardtanh',layers=2"))


def _warm_smoke():
    """A sprite two-stream clip recipe with a warm-up, small enough for a unit test."""
    from dataclasses import replace

    clip = train.CONFIGS["two_stream_warm32"]
    return replace(clip, name="warm_smoke", length=4, width=8, d_width=4, batch_size=2,
                   num_clips=64, model_kw={"z_dim": 16, "glyph": 16, "refine": 0,
                                           "train_frames": False},
                   warmup="smoke,size=32,layers=2,glyph=16,whole_pixels=True,batch_size=4",
                   warmup_steps=4, warmup_decay=0.75)


def warm_cli(out, *args: str) -> int:
    return train.main(["--config", "warm_smoke", "--device", "cpu", "--log-every", "2",
                       "--out", str(out), *args])


def test_a_warm_up_trains_the_glyphs_first_and_the_clips_keep_them(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.setitem(train.CONFIGS, "warm_smoke", _warm_smoke())
    out, shipped = tmp_path / "w.pt", tmp_path / "ws.pt"
    assert warm_cli(out, "--steps", "2", "--ship", str(shipped)) == 0
    assert "warm-up: the glyph network trains as 'smoke," in capsys.readouterr().out
    warm, clip = load_checkpoint(train.warmup_path(out)), load_checkpoint(out)
    assert warm["step"] == 4 and clip["step"] == 2
    assert warm["history"]["lr_g"][-1] < warm["history"]["lr_g"][0]  # its own decay
    glyphs = {k.removeprefix("motion.image_generator."): v for k, v in clip["generator"].items()
              if k.startswith("motion.image_generator.")}
    sampled = warm["ema"] if warm["ema"] is not None else warm["generator"]
    assert glyphs.keys() == sampled.keys()
    for name, value in sampled.items():  # loaded, and frozen through the clip phase's steps
        assert torch.equal(value, glyphs[name]), name
    assert clip["warmup"]["steps"] == 4 and clip["warmup"]["recipe"].startswith("smoke,")
    assert clip["train_seconds"] > clip["warmup"]["train_seconds"] > 0
    assert load_checkpoint(shipped)["warmup"] == clip["warmup"]
    g = train.load_generator(shipped)
    assert g(torch.randn(2, g.z_dim)).shape == (2, 1, 4, 32, 32)


def test_a_warm_up_resumes_exactly_from_either_phase(tmp_path, monkeypatch):
    recipe = _warm_smoke()
    monkeypatch.setitem(train.CONFIGS, "warm_smoke", recipe)
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    assert warm_cli(a, "--steps", "4") == 0
    # b: stopped half-way through its warm-up, then half-way through its clips
    assert train.main(["--config", recipe.warmup, "--device", "cpu", "--log-every", "2",
                       "--steps", "2", "--decay-last", "0.75",
                       "--out", str(train.warmup_path(b))]) == 0
    assert warm_cli(b, "--steps", "2", "--resume") == 0
    assert load_checkpoint(train.warmup_path(b))["step"] == 4
    assert warm_cli(b, "--steps", "4", "--resume") == 0
    sa, sb = load_checkpoint(a), load_checkpoint(b)
    for key in ("generator", "discriminator"):
        for name, value in sa[key].items():
            assert torch.equal(value, sb[key][name]), (key, name)
    train.warmup_path(tmp_path / "c.pt").write_bytes(b"")  # a warm-up left from another run
    with pytest.raises(SystemExit, match="exists: pass --resume"):
        warm_cli(tmp_path / "c.pt", "--steps", "2")


def test_a_warm_up_needs_a_sprite_two_stream_model(tmp_path):
    with pytest.raises(SystemExit, match="sprite_two_stream"):
        train.main(["--config", "clip_smoke,warmup_steps=2", "--device", "cpu", "--steps", "2",
                    "--out", str(tmp_path / "x.pt")])
