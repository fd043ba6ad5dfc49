"""Real video files: round trips, a folder as a dataset, Moving MNIST .npy, every bad input."""

import numpy as np
import pytest
import torch

from vgan_utils.video_io import (
    MovingMNISTFile,
    VideoFolder,
    VideoReadError,
    count_frames,
    float_to_uint8,
    load_moving_mnist,
    read_video,
    read_video_tensor,
    uint8_to_float,
    write_video,
)


def moving_square(t=12, h=32, w=48, channels=3):
    """A bright square moving right over a gradient: easy to compress, easy to check."""
    clip = np.zeros((t, h, w, channels), np.uint8)
    clip[:] = np.linspace(20, 120, w, dtype=np.uint8)[None, None, :, None]
    for i in range(t):
        clip[i, 8:20, 2 + 2 * i: 14 + 2 * i] = 230
    return clip


def to_model(frames):
    return uint8_to_float(frames.transpose(3, 0, 1, 2).copy())


def test_value_range_round_trip():
    x = torch.arange(256, dtype=torch.uint8)
    f = uint8_to_float(x)
    assert f[0] == -1 and f[-1] == 1 and torch.equal(float_to_uint8(f), x)
    with pytest.raises(TypeError, match="uint8"):
        uint8_to_float(np.zeros(3, np.float32))


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".webm"])
def test_video_round_trip(tmp_path, ext):
    frames = moving_square()
    path = write_video(tmp_path / f"clip{ext}", to_model(frames), fps=8)
    back = read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 4  # lossy, but close
    assert count_frames(path) == len(frames)
    tensor = read_video_tensor(path)
    assert tensor.shape == (3, 12, 32, 48) and -1 <= tensor.min() and tensor.max() <= 1


def test_gif_round_trip_is_exact_for_grey(tmp_path):
    frames = moving_square(channels=1)
    path = write_video(tmp_path / "clip.gif", frames, layout="THWC")
    back = read_video(path, channels=1)
    assert back.shape == frames.shape and np.array_equal(back, frames)
    assert read_video(path).shape == (12, 32, 48, 3)


def test_grey_mp4_and_odd_sizes(tmp_path):
    frames = moving_square(t=5, h=31, w=33, channels=1)
    path = write_video(tmp_path / "odd.mp4", frames, layout="THWC")
    back = read_video(path, channels=1)
    assert back.shape == (5, 32, 34, 1)  # padded to even sizes for H.264
    assert np.abs(back[:, :31, :33].astype(int) - frames).mean() < 4
    assert read_video(path, max_frames=2).shape[0] == 2


def test_never_overwrites_without_asking(tmp_path):
    clip = to_model(moving_square(t=3))
    path = write_video(tmp_path / "a.mp4", clip)
    with pytest.raises(FileExistsError, match="a.mp4 exists; pass overwrite=True"):
        write_video(path, clip)
    write_video(path, clip, overwrite=True)
    with pytest.raises(FileExistsError):
        write_video(write_video(tmp_path / "a.gif", clip), clip)


def test_bad_files_are_named(tmp_path):
    good = write_video(tmp_path / "good.mp4", to_model(moving_square()))
    data = good.read_bytes()
    cases = {
        "noise.mp4": np.random.default_rng(0).bytes(3000),
        "truncated.mp4": data[: len(data) // 3],
        "notes.avi": b"just some text, not a video\n",
        "empty.mov": b"",
    }
    gif = write_video(tmp_path / "good.gif", to_model(moving_square())).read_bytes()
    cases["truncated.gif"] = gif[: len(gif) // 2]
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(VideoReadError, match=name.replace(".", r"\.")):
            read_video(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")


@pytest.fixture()
def video_dir(tmp_path):
    folder = tmp_path / "videos"
    write_video(folder / "a.mp4", to_model(moving_square(t=20)))
    write_video(folder / "sub" / "b.gif", to_model(moving_square(t=10)))
    write_video(folder / "short.mp4", to_model(moving_square(t=3)))
    (folder / "readme.txt").write_text("not a video")
    return folder


def test_video_folder_cuts_clips(video_dir):
    with pytest.warns(UserWarning, match=r"short\.mp4: 3 frames, fewer than the 4"):
        data = VideoFolder(video_dir, clip_length=4, frame_stride=1)
    assert [p.name for p in data.videos] == ["a.mp4", "b.gif"]
    assert data.frame_counts == [20, 10] and len(data) == 5 + 2
    clip = data[0]
    assert clip.shape == (3, 4, 32, 48)
    assert torch.allclose(clip, read_video_tensor(video_dir / "a.mp4")[:, :4])
    assert "2 videos, 7 clips" in repr(data)


def test_video_folder_stride_resize_and_crop(video_dir):
    with pytest.warns(UserWarning):
        data = VideoFolder(video_dir, clip_length=3, frame_stride=2, size=16, crop=12,
                           random_crop=True, channels=1, seed=0)
    assert data.span == 5 and data.clips[:2] == [(0, 0), (0, 6)]
    clip = data[1]
    assert clip.shape == (1, 3, 12, 12)
    assert torch.equal(clip, data[1])  # same crop for an index within an epoch
    crops = set()
    for epoch in range(6):
        data.set_epoch(epoch)
        crops.add(tuple(data[1].flatten().tolist()))
    assert len(crops) > 1  # a new epoch draws new crops
    exact = VideoFolder(video_dir / "sub", clip_length=2, size=(8, 12))
    assert exact[0].shape == (3, 2, 8, 12)


def test_video_folder_bad_input(video_dir, tmp_path):
    with pytest.raises(ValueError, match=r"short\.mp4: 3 frames"):
        VideoFolder(video_dir, clip_length=4, on_short="raise")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match="no video files in .*empty"):
        VideoFolder(tmp_path / "empty")
    with pytest.raises(NotADirectoryError, match="nowhere is not a folder"):
        VideoFolder(tmp_path / "nowhere")
    (video_dir / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(VideoReadError, match=r"broken\.mp4"):
        VideoFolder(video_dir, clip_length=2)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="long enough"):
        VideoFolder(video_dir / "sub", clip_length=50)


def test_moving_mnist_npy(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (20, 3, 64, 64), dtype=np.uint8)  # the file's (T, N, H, W)
    np.save(tmp_path / "mnist_test_seq.npy", data)
    assert load_moving_mnist(tmp_path / "mnist_test_seq.npy").shape == (20, 3, 64, 64)
    ds = MovingMNISTFile(tmp_path / "mnist_test_seq.npy")
    assert len(ds) == 3 and ds[1].shape == (1, 20, 64, 64)
    batch = ds.batch([2, 0], uint8=True)
    assert batch.shape == (2, 1, 20, 64, 64)
    assert np.array_equal(batch[0, 0].numpy(), data[:, 2])
    assert "3 clips of 20 frames, 64x64" in repr(ds)
    np.save(tmp_path / "wrong.npy", data[0])
    with pytest.raises(ValueError, match=r"wrong\.npy: expected Moving MNIST's uint8 array"):
        load_moving_mnist(tmp_path / "wrong.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(VideoReadError, match=r"junk\.npy"):
        load_moving_mnist(tmp_path / "junk.npy")
