"""Clip display: layout conversion, GIF encoding, and the player driven from code."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from vgan_utils.display import ClipPlayer, gif_bytes, show_clip, to_uint8_frames


def test_layouts_agree():
    clip = torch.rand(3, 4, 5, 6) * 2 - 1  # C, T, H, W
    a = to_uint8_frames(clip, "CTHW")
    b = to_uint8_frames(clip.permute(1, 0, 2, 3), "TCHW")
    c = to_uint8_frames(clip.permute(1, 2, 3, 0), "THWC")
    assert a.shape == (4, 5, 6, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_range_maps_to_bytes():
    clip = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    assert to_uint8_frames(clip)[:, 0, 0, 0].tolist() == [0, 128, 255]


def test_wrong_rank_names_expected_layout():
    with pytest.raises(ValueError, match="CTHW clip has 4 axes"):
        to_uint8_frames(torch.zeros(2, 3))


def test_gif_round_trip():
    frames = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1), dtype=np.uint8)
    back = iio.imread(gif_bytes(frames), extension=".gif", index=None)
    assert back.shape[0] == 5 and back.shape[1:3] == (8, 8)


def test_show_clip_is_inline_gif():
    html = show_clip(torch.zeros(1, 3, 4, 4)).data
    assert html.startswith('<img src="data:image/gif;base64,')


def test_player_moves_to_frame():
    clip = torch.linspace(-1, 1, 6).view(1, 6, 1, 1).expand(1, 6, 2, 2)
    player = ClipPlayer(clip, scale=1)
    first = player.image.value
    player.show_frame(5)
    assert player.slider.max == 5 and player.image.value != first
    assert repr(player) == "ClipPlayer(frames=6, size=2x2, channels=1)"
