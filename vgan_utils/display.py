"""Showing clips in a notebook: an inline animated GIF and a frame-scrubber widget.

Model tensors are ``(C, T, H, W)`` floats in ``[-1, 1]``; files and screens want
``(T, H, W, C)`` bytes. :func:`to_uint8_frames` is the one place that converts.
Taught in ``notebooks/00_welcome.ipynb``; the frame strip, the grids of clips and
images and the HTML5 video in ``notebooks/03_video_data.ipynb``.
"""

from __future__ import annotations

import base64
import tempfile

import imageio.v3 as iio
import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import HTML, Image

LAYOUTS = ("CTHW", "TCHW", "THWC", "THW")


def to_uint8_frames(clip: torch.Tensor | np.ndarray, layout: str = "CTHW") -> np.ndarray:
    """Return a clip as ``(T, H, W, C)`` uint8, C in {1, 3}.

    Float input is taken to lie in ``[-1, 1]`` (the generator's ``tanh`` range);
    uint8 input is passed through. ``layout`` names the input's axis order.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    arr = clip.detach().cpu().numpy() if isinstance(clip, torch.Tensor) else np.asarray(clip)
    if arr.ndim != len(layout):
        raise ValueError(f"a {layout} clip has {len(layout)} axes; got shape {tuple(arr.shape)}")
    if layout == "THW":
        arr = arr[..., None]
    elif layout != "THWC":  # CTHW and TCHW: moving C to the end leaves T, H, W in order
        arr = np.moveaxis(arr, layout.index("C"), -1)
    if arr.shape[-1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {arr.shape[-1]} (shape {arr.shape})")
    if arr.dtype != np.uint8:
        arr = np.clip((arr.astype(np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of ``(..., H, W, C)`` frames, so small clips stay crisp."""
    if scale == 1:
        return frames
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2)


def gif_bytes(frames: np.ndarray, fps: float = 8.0) -> bytes:
    """Encode ``(T, H, W, C)`` uint8 frames as a looping animated GIF."""
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames
    return iio.imwrite("<bytes>", frames, extension=".gif", duration=1000 / fps, loop=0)


def png_bytes(frame: np.ndarray) -> bytes:
    """Encode one ``(H, W, C)`` uint8 frame as PNG."""
    frame = frame[..., 0] if frame.shape[-1] == 1 else frame
    return iio.imwrite("<bytes>", frame, extension=".png")


def show_clip(
    clip: torch.Tensor | np.ndarray, layout: str = "CTHW", fps: float = 8.0, scale: int = 3
) -> HTML:
    """An inline, looping animated GIF of a clip (small: a few kB for a 64x64 clip)."""
    frames = upscale(to_uint8_frames(clip, layout), scale)
    data = base64.b64encode(gif_bytes(frames, fps)).decode("ascii")
    return HTML(f'<img src="data:image/gif;base64,{data}" style="image-rendering:pixelated"/>')


class ClipPlayer(widgets.VBox):
    """A play button and a frame slider over a clip: scrub to any frame by hand."""

    def __init__(
        self, clip: torch.Tensor | np.ndarray, layout: str = "CTHW", fps: float = 8.0,
        scale: int = 3,
    ) -> None:
        self.frames = upscale(to_uint8_frames(clip, layout), scale)
        last = len(self.frames) - 1
        self.play = widgets.Play(min=0, max=last, interval=int(1000 / fps), description="play")
        self.slider = widgets.IntSlider(min=0, max=last, description="frame")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png", value=png_bytes(self.frames[0]))
        self.slider.observe(self._on_frame, names="value")
        super().__init__([widgets.HBox([self.play, self.slider]), self.image])
        self.add_class("vgan-clip-player")

    def show_frame(self, index: int) -> None:
        """Move to frame ``index`` (what the slider does; callable from code)."""
        self.slider.value = index

    def _on_frame(self, change: dict) -> None:
        self.image.value = png_bytes(self.frames[change["new"]])

    def __repr__(self) -> str:  # the default repr would dump the PNG bytes
        t, h, w, c = self.frames.shape
        return f"ClipPlayer(frames={t}, size={h}x{w}, channels={c})"


# ---------------------------------------------------------------- strips and grids
# (added for notebook 03: a frame strip, a grid of clips, a grid of images, an HTML5 video)
def frame_strip(
    clip: torch.Tensor | np.ndarray, layout: str = "CTHW", every: int = 1,
    max_frames: int | None = None, gap: int = 1, gap_value: int = 96,
) -> np.ndarray:
    """Frames side by side as one ``(H, W', C)`` uint8 image: time read left to right.

    ``every`` keeps one frame in ``every``; a ``gap``-pixel grey line separates frames.
    """
    frames = to_uint8_frames(clip, layout)[::every][:max_frames]
    t, h, w, c = frames.shape
    out = np.full((h, t * (w + gap) - gap, c), gap_value, dtype=np.uint8)
    for i, f in enumerate(frames):
        out[:, i * (w + gap): i * (w + gap) + w] = f
    return out


def show_frame_strip(
    clip: torch.Tensor | np.ndarray, layout: str = "CTHW", every: int = 1,
    max_frames: int | None = None, scale: int = 2,
) -> Image:
    """The frame strip as an inline PNG (its text form is stable, so nbval can compare it)."""
    return Image(data=png_bytes(upscale(frame_strip(clip, layout, every, max_frames), scale)))


def clip_grid(
    clips: torch.Tensor | np.ndarray, layout: str = "NCTHW", ncols: int | None = None,
    gap: int = 1, gap_value: int = 96,
) -> np.ndarray:
    """A batch of clips tiled into one clip ``(T, H', W', C)`` uint8 (``ncols`` per row).

    ``layout`` is the batch's axis order: ``"NCTHW"`` (model tensors) or ``"NTHWC"``.
    """
    if layout not in ("NCTHW", "NTHWC"):
        raise ValueError(f"layout must be 'NCTHW' or 'NTHWC', got {layout!r}")
    if clips.ndim != 5:
        raise ValueError(f"a batch of clips has 5 axes ({layout}); got shape {tuple(clips.shape)}")
    frames = [to_uint8_frames(c, layout[1:]) for c in clips]
    n = len(frames)
    t, h, w, ch = frames[0].shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    out = np.full((t, nrows * (h + gap) - gap, ncols * (w + gap) - gap, ch), gap_value, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, ncols)
        out[:, r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = f
    return out


def show_clip_grid(
    clips: torch.Tensor | np.ndarray, layout: str = "NCTHW", ncols: int | None = None,
    fps: float = 8.0, scale: int = 2,
) -> HTML:
    """A batch of clips playing together as one inline animated GIF."""
    return show_clip(upscale(clip_grid(clips, layout, ncols), scale), "THWC", fps, scale=1)


def image_grid(
    images: torch.Tensor | np.ndarray, layout: str = "NCHW", ncols: int | None = None,
    gap: int = 1,
) -> np.ndarray:
    """A batch of single images ``(N, C, H, W)`` or ``(N, H, W)`` tiled into one ``(H', W', C)``."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if layout == "NHW":
        arr = arr[:, None]
    elif layout != "NCHW":
        raise ValueError(f"layout must be 'NCHW' or 'NHW', got {layout!r}")
    return clip_grid(arr[:, :, None], "NCTHW", ncols, gap)[0]


def show_images(
    images: torch.Tensor | np.ndarray, layout: str = "NCHW", ncols: int | None = None,
    scale: int = 2,
) -> Image:
    """A batch of images as one inline PNG grid."""
    return Image(data=png_bytes(upscale(image_grid(images, layout, ncols), scale)))


def show_video(
    clip: torch.Tensor | np.ndarray, layout: str = "CTHW", fps: float = 8.0, scale: int = 3,
) -> HTML:
    """An inline, looping HTML5 ``<video>`` (H.264 mp4): smaller than a GIF for long clips."""
    import imageio_ffmpeg

    frames = upscale(to_uint8_frames(clip, layout), scale)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)),
                    mode="edge")
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/clip.mp4"
        writer = imageio_ffmpeg.write_frames(path, (frames.shape[2], frames.shape[1]), fps=fps,
                                             quality=8, macro_block_size=1,
                                             ffmpeg_log_level="error")
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        with open(path, "rb") as fh:
            data = base64.b64encode(fh.read()).decode("ascii")
    return HTML(f'<video autoplay loop muted playsinline src="data:video/mp4;base64,{data}" '
                'style="image-rendering:pixelated"></video>')
