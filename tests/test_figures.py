"""The README's figures: made from shipped checkpoints, deterministic, clear when one is missing."""

import pytest

from vgan_utils import figures
from vgan_utils.train import CONFIGS, build_trainer, save_run, ship_generator


@pytest.fixture
def tiny_data(tmp_path):
    """Shipped-style files of untrained tiny generators under the names figures expects."""
    from dataclasses import replace

    frames = tmp_path / "sprites32.pt"  # the frame generator layers32 moves, shipped first
    for name, run in [("sprites32", replace(CONFIGS["frames32"], width=4, layers=2, glyph=8,
                                            whole_pixels=True)),
                      ("motion32", replace(CONFIGS["content_motion32"], width=4)),
                      ("layers32", replace(CONFIGS["layers32"], width=4,
                                           image_generator=str(frames))),
                      ("two_stream32", replace(CONFIGS["two_stream32"], width=4)),
                      ("two_stream_sprites32", replace(CONFIGS["two_stream_sprites32"], width=4,
                                                       model_kw={"refine": 0})),
                      ("two_stream_warm32", replace(CONFIGS["two_stream_warm32"], width=4,
                                                    model_kw={"train_frames": False}))]:
        ckpt = save_run(build_trainer(run), run, tmp_path / f"{name}_train.pt")
        ship_generator(ckpt, tmp_path / f"{name}.pt")
    return tmp_path


def test_figures_are_written_and_repeat_exactly(tiny_data, tmp_path):
    out = tmp_path / "docs"
    assert figures.main(["--data", str(tiny_data), "--out", str(out)]) == 0
    gif, png = (out / "clips.gif").read_bytes(), (out / "frames.png").read_bytes()
    assert gif[:6] == b"GIF89a" and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert figures.main(["--data", str(tiny_data), "--out", str(out)]) == 0
    assert (out / "clips.gif").read_bytes() == gif and (out / "frames.png").read_bytes() == png


def test_a_missing_checkpoint_says_which_and_where(tmp_path):
    names = "sprites32, motion32, layers32, two_stream32, two_stream_sprites32, two_stream_warm32"
    with pytest.raises(SystemExit, match=names):
        figures.main(["--data", str(tmp_path), "--out", str(tmp_path / "docs")])
