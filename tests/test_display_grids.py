"""Display additions: frame strip, grid of clips, grid of images, inline HTML5 video."""

import numpy as np
import pytest
import torch

from vgan_utils.display import (
    clip_grid,
    frame_strip,
    image_grid,
    show_clip_grid,
    show_frame_strip,
    show_images,
    show_video,
)


def test_frame_strip_lays_frames_left_to_right():
    clip = torch.linspace(-1, 1, 5).view(1, 5, 1, 1).expand(1, 5, 4, 6)  # C, T, H, W
    strip = frame_strip(clip, gap=1)
    assert strip.shape == (4, 5 * 7 - 1, 1) and strip.dtype == np.uint8
    assert strip[0, 0, 0] == 0 and strip[0, -1, 0] == 255 and strip[0, 6, 0] == 96
    assert frame_strip(clip, every=2).shape == (4, 3 * 7 - 1, 1)
    assert frame_strip(clip, max_frames=2).shape == (4, 13, 1)
    assert "Image" in repr(show_frame_strip(clip))


def test_clip_grid_tiles_a_batch():
    clips = torch.zeros(5, 3, 4, 8, 10)
    grid = clip_grid(clips, ncols=3)
    assert grid.shape == (4, 2 * 9 - 1, 3 * 11 - 1, 3)
    assert clip_grid(clips).shape == (4, 17, 32, 3)  # ceil(sqrt(5)) = 3 columns
    assert show_clip_grid(clips).data.startswith('<img src="data:image/gif;base64,')
    with pytest.raises(ValueError, match="5 axes"):
        clip_grid(torch.zeros(3, 4, 8, 10))


def test_image_grid_and_video():
    imgs = torch.zeros(4, 1, 6, 6)
    assert image_grid(imgs, ncols=2).shape == (13, 13, 1)
    assert image_grid(np.zeros((4, 6, 6), np.uint8), layout="NHW").shape == (13, 13, 1)
    assert "Image" in repr(show_images(imgs))
    html = show_video(torch.zeros(1, 4, 7, 9), scale=1).data
    assert html.startswith("<video") and "video/mp4;base64," in html
