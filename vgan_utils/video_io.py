"""Real video in and out: files to tensors, tensors to files, a folder as a clip dataset.

Files hold ``(T, H, W, C)`` uint8 frames; models want ``(C, T, H, W)`` floats in
``[-1, 1]`` (the generator's ``tanh`` range). Decoding and encoding go through
FFmpeg (the binary that ships inside the ``imageio-ffmpeg`` wheel), so any file it
reads works (mp4, avi, mov, webm, mkv); GIFs go through Pillow. Also here: the
standard Moving MNIST test file of Srivastava et al. 2015 (``mnist_test_seq.npy``,
uint8 of shape ``(20, 10000, 64, 64)``: time first, then sequence).

Bad input fails loudly and names the file: :class:`VideoReadError` for a corrupt,
truncated or non-video file; a clear error for a folder without videos; nothing
is written over unless ``overwrite=True``.

Taught in ``notebooks/03_video_data.ipynb``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", ".gif")
PathLike = str | os.PathLike


class VideoReadError(ValueError):
    """A file that could not be decoded as a video; the message names the file."""


# ---------------------------------------------------------------- value ranges and layouts
def uint8_to_float(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Bytes ``[0, 255]`` -> float32 ``[-1, 1]`` (0 -> -1, 255 -> +1 exactly), any shape.

    Done in NumPy: a single-threaded loop that stays fast on a busy machine.
    """
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype != np.uint8:
        raise TypeError(f"expected uint8 data, got {arr.dtype}")
    out = np.subtract(arr, np.float32(127.5), dtype=np.float32)
    out /= np.float32(127.5)
    return torch.from_numpy(out)


def float_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float ``[-1, 1]`` -> bytes, rounding to nearest and clipping (the inverse of the above)."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, C)`` uint8 frames -> model tensor ``(C, T, H, W)`` in ``[-1, 1]``."""
    if frames.ndim != 4:
        raise ValueError(f"expected frames of shape (T, H, W, C); got {frames.shape}")
    return uint8_to_float(np.ascontiguousarray(frames.transpose(3, 0, 1, 2)))


def _to_channels(frames: np.ndarray, channels: int | None, path: Path) -> np.ndarray:
    if channels is None or frames.shape[-1] == channels:
        return frames
    if channels == 1:  # ITU-R BT.601 luma
        luma = frames[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return (luma + 0.5).clip(0, 255).astype(np.uint8)[..., None]
    if channels == 3 and frames.shape[-1] == 1:
        return np.repeat(frames, 3, axis=-1)
    raise ValueError(f"{path}: cannot turn {frames.shape[-1]} channels into {channels}")


# ---------------------------------------------------------------- reading
def _check_file(path: PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such video file: {path}")
    if not path.is_file():
        raise VideoReadError(f"{path} is not a file")
    return path


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def iter_frames(path: PathLike) -> tuple[dict, Iterator[np.ndarray]]:
    """``(meta, generator of (H, W, 3) uint8 frames)``; decoding starts lazily.

    Streaming lets a clip be cut from the start of a long video without decoding
    all of it.
    """
    path = _check_file(path)
    if path.suffix.lower() == ".gif":
        frames = _read_gif(path)
        return {"fps": None, "size": frames.shape[2:0:-1]}, iter(frames)
    import imageio_ffmpeg

    try:
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(gen)
    except Exception as e:  # ffmpeg's errors are OSError/RuntimeError with a long log
        raise VideoReadError(f"cannot read {path} as a video: {_first_line(e)}") from e
    w, h = meta["size"]

    def frames() -> Iterator[np.ndarray]:
        try:
            for buf in gen:
                yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        except Exception as e:
            raise VideoReadError(f"{path}: decoding failed mid-file: {_first_line(e)}") from e
        finally:
            gen.close()

    return meta, frames()


def _read_gif(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        frames = iio.imread(path, index=None, plugin="pillow", mode="RGB")
    except Exception as e:
        raise VideoReadError(f"cannot read {path} as a GIF: {_first_line(e)}") from e
    return frames if frames.ndim == 4 else frames[None]


def read_video(path: PathLike, max_frames: int | None = None,
               channels: int | None = None) -> np.ndarray:
    """Decode a video file to ``(T, H, W, C)`` uint8 (C = 3, or ``channels`` = 1 or 3).

    Raises :class:`VideoReadError` naming the file when it is not a readable video
    (including one that decodes to no frames, as a truncated file may).
    """
    path = _check_file(path)
    _, gen = iter_frames(path)
    frames = []
    for f in gen:
        frames.append(f)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if not frames:
        raise VideoReadError(f"{path} holds no decodable frames (empty or truncated video?)")
    return _to_channels(np.stack(frames), channels, path)


def read_video_tensor(path: PathLike, max_frames: int | None = None,
                      channels: int | None = None) -> torch.Tensor:
    """Decode a video file to a model tensor ``(C, T, H, W)`` in ``[-1, 1]``."""
    return frames_to_tensor(read_video(path, max_frames, channels))


def count_frames(path: PathLike) -> int:
    """Number of frames, by decoding (container headers are often wrong or missing)."""
    path = _check_file(path)
    if path.suffix.lower() == ".gif":
        return len(_read_gif(path))
    import imageio_ffmpeg

    try:
        n, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except Exception as e:
        raise VideoReadError(f"cannot read {path} as a video: {_first_line(e)}") from e
    if n == 0:
        raise VideoReadError(f"{path} holds no decodable frames (empty or truncated video?)")
    return n


# ---------------------------------------------------------------- writing
def write_video(path: PathLike, clip: torch.Tensor | np.ndarray, fps: float = 8.0,
                layout: str = "CTHW", overwrite: bool = False, quality: float = 8.0) -> Path:
    """Write a clip as ``.gif`` (Pillow) or any FFmpeg format (``.mp4`` = H.264, yuv420p).

    ``clip`` is a model tensor (float in ``[-1, 1]``) or uint8 in ``layout``.
    ``quality`` is imageio-ffmpeg's 1-10 scale (8 = H.264 CRF 10, close to lossless
    for these small clips). Odd sizes are padded by one edge pixel (H.264 in yuv420p
    needs even sizes). An existing file raises unless ``overwrite=True``.
    GIF stores repeated consecutive frames once (Pillow merges them).
    """
    from .display import to_uint8_frames

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    frames = to_uint8_frames(clip, layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        import imageio.v3 as iio

        data = frames[..., 0] if frames.shape[-1] == 1 else frames
        iio.imwrite(path, data, extension=".gif", duration=1000 / fps, loop=0)
        return path
    import imageio_ffmpeg

    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    h, w = frames.shape[1:3]
    codec = {".mp4": "libx264", ".m4v": "libx264", ".mkv": "libx264", ".mov": "libx264",
             ".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(path.suffix.lower())
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=float(fps), codec=codec,
                                         quality=quality, macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    try:
        for f in frames:
            writer.send(np.ascontiguousarray(f))
    finally:
        writer.close()
    return path


# ---------------------------------------------------------------- a folder of videos
def find_videos(root: PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Video files under ``root`` (recursively), sorted; a clear error if there are none."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    exts = {e.lower() for e in extensions}
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)
    if not files:
        raise FileNotFoundError(
            f"no video files in {root} (looked for {', '.join(sorted(exts))}, in subfolders too)")
    return files


def _pair(x: int | Sequence[int] | None) -> tuple[int, int] | None:
    return None if x is None else (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


class VideoFolder(Dataset):
    """Fixed-length clips cut from every video in a folder, as ``(C, T, H, W)`` in ``[-1, 1]``.

    A clip is ``clip_length`` frames taken every ``frame_stride`` frames; clips start
    every ``step`` frames (default: back to back, ``clip_length * frame_stride``).
    ``size`` resizes frames (an int sets the shorter side, a pair sets H and W);
    ``crop`` then cuts ``crop`` pixels (centre, or random with ``random_crop``: the
    same crop for an index until :meth:`set_epoch`). A video too short for one clip
    is skipped with a warning, or raises with ``on_short="raise"``; a file that is
    not a readable video raises :class:`VideoReadError` naming it.
    """

    def __init__(self, root: PathLike, clip_length: int = 16, frame_stride: int = 1,
                 step: int | None = None, size: int | Sequence[int] | None = None,
                 crop: int | Sequence[int] | None = None, random_crop: bool = False,
                 channels: int | None = None, on_short: str = "skip",
                 extensions: Sequence[str] = VIDEO_EXTENSIONS, seed: int = 0) -> None:
        if on_short not in ("skip", "raise"):
            raise ValueError(f"on_short must be 'skip' or 'raise', got {on_short!r}")
        if clip_length < 1 or frame_stride < 1:
            raise ValueError("clip_length and frame_stride must be >= 1")
        self.root, self.clip_length, self.frame_stride = Path(root), clip_length, frame_stride
        self.span = (clip_length - 1) * frame_stride + 1  # frames one clip covers
        self.step = step or clip_length * frame_stride
        self.size, self.crop, self.random_crop = size, _pair(crop), random_crop
        self.channels, self.seed, self.epoch = channels, seed, 0
        self.videos, self.frame_counts, self.skipped = [], [], []
        for path in find_videos(root, extensions):
            n = count_frames(path)
            if n < self.span:
                msg = (f"{path}: {n} frames, fewer than the {self.span} one clip needs "
                       f"(clip_length={clip_length}, frame_stride={frame_stride})")
                if on_short == "raise":
                    raise ValueError(msg)
                warnings.warn(msg + "; skipped", stacklevel=2)
                self.skipped.append(path)
                continue
            self.videos.append(path)
            self.frame_counts.append(n)
        self.clips = [(v, s) for v, n in enumerate(self.frame_counts)
                      for s in range(0, n - self.span + 1, self.step)]
        if not self.clips:
            raise ValueError(f"no video in {root} is long enough for one clip of "
                             f"{self.span} frames")

    def __len__(self) -> int:
        return len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        """Draw new random crops (each index keeps its crop within an epoch)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        v, start = self.clips[index]
        path = self.videos[v]
        _, gen = iter_frames(path)
        wanted = range(start, start + self.span, self.frame_stride)
        frames = [f for i, f in enumerate(islice(gen, start + self.span)) if i in wanted]
        if len(frames) < self.clip_length:
            raise VideoReadError(f"{path}: ended after {start + len(frames)} frames, "
                                 f"before the clip at frame {start} was complete")
        clip = frames_to_tensor(_to_channels(np.stack(frames), self.channels, path))
        return self._crop(self._resize(clip), index)

    def _resize(self, clip: torch.Tensor) -> torch.Tensor:
        if self.size is None:
            return clip
        h, w = clip.shape[-2:]
        if isinstance(self.size, int):
            scale = self.size / min(h, w)
            out = (max(1, round(h * scale)), max(1, round(w * scale)))
        else:
            out = _pair(self.size)
        if out == (h, w):
            return clip
        mode = "area" if out[0] < h and out[1] < w else "bilinear"
        kw = {} if mode == "area" else {"align_corners": False}
        return F.interpolate(clip, size=out, mode=mode, **kw).clamp(-1, 1)

    def _crop(self, clip: torch.Tensor, index: int) -> torch.Tensor:
        if self.crop is None:
            return clip
        (h, w), (ch, cw) = clip.shape[-2:], self.crop
        if ch > h or cw > w:
            raise ValueError(f"crop {self.crop} is larger than the frames ({h}, {w}) of "
                             f"{self.videos[self.clips[index][0]]}")
        if self.random_crop:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            top, left = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
        else:
            top, left = (h - ch) // 2, (w - cw) // 2
        return clip[..., top:top + ch, left:left + cw]

    def __repr__(self) -> str:
        return (f"VideoFolder({len(self.videos)} videos, {len(self)} clips of "
                f"{self.clip_length} frames, stride {self.frame_stride}, "
                f"{len(self.skipped)} skipped)")


# ---------------------------------------------------------------- the Moving MNIST file
def load_moving_mnist(path: PathLike, mmap: bool = True) -> np.ndarray:
    """The standard Moving MNIST ``.npy`` as stored: uint8 ``(T, N, H, W)`` = (20, 10000, 64, 64).

    Memory-mapped by default (the real file is 820 MB). Note the layout: time first.
    """
    path = _check_file(path)
    try:
        data = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as e:
        raise VideoReadError(f"cannot read {path} as a .npy array: {_first_line(e)}") from e
    if not isinstance(data, np.ndarray) or data.ndim != 4 or data.dtype != np.uint8:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", None)
        raise ValueError(f"{path}: expected Moving MNIST's uint8 array of shape (T, N, H, W) "
                         f"= (20, N, 64, 64); got shape {shape} of {dtype}")
    return data


class MovingMNISTFile(Dataset):
    """The sequences of a Moving MNIST ``.npy`` file as clips ``(1, T, H, W)`` in ``[-1, 1]``."""

    def __init__(self, path: PathLike, mmap: bool = True) -> None:
        self.path = Path(path)
        self.data = load_moving_mnist(path, mmap)

    def __len__(self) -> int:
        return self.data.shape[1]

    def batch(self, indices: Sequence[int] | np.ndarray, uint8: bool = False) -> torch.Tensor:
        """Clips ``(N, 1, T, H, W)`` for the given sequence numbers (float, or uint8)."""
        idx = np.asarray(indices, dtype=np.int64)
        clips = np.ascontiguousarray(self.data[:, idx].transpose(1, 0, 2, 3))[:, None]
        return torch.from_numpy(clips) if uint8 else uint8_to_float(clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.batch([index])[0]

    def __repr__(self) -> str:
        t, n, h, w = self.data.shape
        return f"MovingMNISTFile({self.path.name}: {n} clips of {t} frames, {h}x{w})"
