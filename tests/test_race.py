"""bench/race.py: recipes parsed with clear errors; a tiny race runs end to end."""

import importlib.util
import json
from pathlib import Path

import pytest

from vgan_utils.judge import default_path
from vgan_utils.train import parse_recipe

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _race():
    spec = importlib.util.spec_from_file_location("bench_race", BENCH / "race.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_recipe_changes_run_and_train_fields():
    run = parse_recipe("dcgan_classic32,batch_size=32,lr_d=2e-3,loss=hinge")
    assert run.batch_size == 32 and run.train.lr_d == 2e-3 and run.train.loss == "hinge"
    assert run.width == 32 and run.name == "dcgan_classic32,batch_size=32,lr_d=2e-3,loss=hinge"


@pytest.mark.parametrize("spec, message", [("nope", "unknown recipe"),
                                           ("frames32,lr", "field=value"),
                                           ("frames32,colour=1", "not a field")])
def test_parse_recipe_errors_say_what_to_do(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_recipe(spec)


def test_ink_log_recipe_field_reaches_the_discriminator():
    from vgan_utils.frame_nets import InkLog
    from vgan_utils.train import build_discriminator, build_trainer

    run = parse_recipe("frames32,ink_log=True,width=8,d_width=8")
    assert isinstance(build_trainer(run).discriminator.net[0], InkLog)
    assert isinstance(build_discriminator(run).net[0], InkLog)
    assert not isinstance(build_discriminator(parse_recipe("frames32")).net[0], InkLog)


def test_parse_recipe_keeps_commas_inside_tuples():
    assert parse_recipe("frames32,betas=(0.0, 0.99),width=16").train.betas == (0.0, 0.99)


def test_cli_turns_a_bad_recipe_into_a_message(capsys):
    with pytest.raises(SystemExit, match="unknown recipe"):
        _race().main(["nope", "--budget", "0"])


def test_tiny_race_writes_rows_grids_and_json(tmp_path, capsys):
    if not default_path(32).exists():
        pytest.skip("no shipped 32x32 judge")
    race = _race()
    out = tmp_path / "race.json"
    assert race.main(["dcgan_classic32,width=8,batch_size=8", "frames32,width=8,batch_size=8",
                      "--budget", "0.5", "--n", "40", "--threads", "1",
                      "--out", str(tmp_path), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["recipe"][:9] for r in rows] == ["real fram", "dcgan_cla", "frames32,"]
    assert all(r["steps"] >= 10 for r in rows[1:])  # trained in chunks of 10 until the budget
    assert len(list(tmp_path.glob("*.png"))) == 2
    assert "FD/floor" in capsys.readouterr().out


def test_parse_recipe_reads_clip_recipes_too():
    run = parse_recipe("two_stream32,length=8,lr_g=1e-3")
    assert run.model == "two_stream" and run.length == 8 and run.train.lr_g == 1e-3
    with pytest.raises(ValueError, match="not a field of ClipRecipe"):
        parse_recipe("clip_dcgan,upsample=nearest")


def test_a_race_cannot_mix_frames_and_clips(capsys):
    with pytest.raises(SystemExit, match="not both"):
        _race().main(["frames32", "clip_dcgan", "--budget", "0"])


def test_a_decay_outside_the_budget_is_refused_before_training():
    with pytest.raises(SystemExit, match=r"in \[0, 1\] \(0: no decay\); got -0.5"):
        _race().main(["smoke", "--budget", "0", "--decay-last", "-0.5"])


def test_tiny_clip_race_writes_rows_gifs_and_json(tmp_path, capsys):
    if not default_path(32).exists():
        pytest.skip("no shipped 32x32 judge")
    race = _race()
    out = tmp_path / "race.json"
    small = "length=16,width=4,batch_size=2"
    assert race.main([f"clip_dcgan,{small}", f"two_stream32,{small}", "--budget", "0.1",
                      "--n", "12", "--threads", "1", "--out", str(tmp_path),
                      "--json", str(out), "--decay-last", "0.5"]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [r["recipe"][:9] for r in rows] == ["real clip", "clip_dcga", "two_strea"]
    assert all(r["clip_fd_over_floor"] > 0 and r["change_ratio"] >= 0 for r in rows)
    assert result["decay_last"] == 0.5
    # only VGAN has a mask to measure
    assert [("mask_contrast" in r) for r in rows] == [False, False, True]
    assert len(list(tmp_path.glob("*.gif"))) == 2
    printed = capsys.readouterr().out
    assert "clipFD/f" in printed and printed.count("mask contrast") == 1


def test_decay_lowers_the_learning_rates_by_time():
    from vgan_utils.race import train_for

    run = parse_recipe("smoke")
    steady, _, _ = train_for(run, 0.05, chunk=2)
    decayed, _, _ = train_for(run, 0.05, chunk=2, decay_last=1.0)
    lr_g = [t.opt_g.param_groups[0]["lr"] for t in (steady, decayed)]
    assert lr_g[0] == run.train.lr_g and lr_g[1] < run.train.lr_g
