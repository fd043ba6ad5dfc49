"""Smoke tests of the benchmark scripts: they run end to end on tiny settings and write JSON."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_py_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert _load("run").main(["--profiles", "ci", "--steps", "1", "--warmup", "0",
                              "--batches", "1", "--device", "cpu", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["dataset"] for r in result["datasets"]] == ["moving digits", "bouncing balls",
                                                          "moving shapes"]
    assert result["frame_gan"][0]["profile"] == "ci" and result["frame_gan"][0]["steps_per_s"] > 0
    assert [r["model"] for r in result["clip_gan"]] == ["two_stream32", "content_motion32"]
    assert all(r["clips_per_s"] > 0 and r["length"] == 8 for r in result["clip_gan"])
    assert "clips/s" in capsys.readouterr().out


def test_quality_py_skips_missing_checkpoints(tmp_path, capsys):
    quality = _load("quality")
    if not quality.default_path(32).exists():
        pytest.skip("no shipped judge yet: python -m vgan_utils.judge --size 32")
    out = tmp_path / "q.json"
    assert quality.main(["--n", "64", "--cpu-run", str(tmp_path / "none.pt"),
                         "--pretrained", str(tmp_path / "none64.pt"), "--clips", "16",
                         "--data", str(tmp_path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped notebook 04 cpu run" in printed and "skipped pretrained" in printed
    assert "skipped motion32" in printed and "skipped two_stream32" in printed
    clip_rows = json.loads(out.read_text())["clip_rows"]
    assert [r["row"] for r in clip_rows] == ["real clips"] and clip_rows[0]["clip_floor"] > 0
    rows = json.loads(out.read_text())["rows"]
    names = [r["row"] for r in rows]
    assert "real frames" in names and any(n.startswith("untrained") for n in names)
    real = rows[names.index("real frames")]
    assert real["n"] == 64 and real["floor"] > 0 and real["real_coverage"] >= 9


def test_run_py_times_the_engine_against_a_bare_loop(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert _load("run").main(["--profiles", "ci", "--steps", "2", "--warmup", "0",
                              "--batches", "1", "--device", "cpu", "--overhead", "dcgan_classic32",
                              "--json", str(out)]) == 0
    overhead = json.loads(out.read_text())["engine_overhead"]
    assert overhead["config"] == "dcgan_classic32" and overhead["bare_steps_per_s"] > 0
    assert 0 < overhead["bookkeeping_ms"] and 0 < overhead["bookkeeping_share"] < 1
    assert "engine vs bare loop" in capsys.readouterr().out
