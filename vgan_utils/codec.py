"""Codecs for notebook 07's rate-distortion race: H.264 (a real encoder) and a GAN codec.

* :func:`h264_roundtrip` -- clips through libx264 (the H.264 encoder of the ffmpeg that
  ships inside the ``imageio-ffmpeg`` wheel) at a constant rate factor (CRF: 0 is lossless,
  51 the coarsest; x264's default is 23), then decoded again. Every clip is its own group
  of pictures (one IDR frame, then P/B frames), so clips are coded independently, as a
  GAN code codes each on its own; the bits counted are the raw H.264 bitstream's (no
  container), x264's informational SEI message removed (a decoder does not need it).
* :func:`quantise` / :func:`dequantise` -- a GAN codec's latent code, ``b`` bits per value:
  each value of a standard-normal code is mapped to one of ``2**b`` equally likely bins of
  N(0, 1) and decoded as that bin's median (so every code word is used equally often and a
  fixed-length code is already the entropy code of the bins). Bits per pixel are then
  exact: ``values * b / pixels`` (:func:`gan_bits_per_pixel`).

Taught in ``notebooks/07_video_analysis.ipynb`` (section 3).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch
from torch import Tensor

CRF_RANGE = (0, 51)  # libx264's constant rate factor for 8-bit video
MAX_BITS = 16


def check_clips(clips: Tensor, name: str = "clips") -> Tensor:
    """``clips`` as float (N, C, T, H, W) in [-1, 1] (a little slack for rounding), or an error."""
    t = torch.as_tensor(clips)
    if t.ndim != 5:
        raise ValueError(f"{name} must be (N, C, T, H, W); got shape {tuple(t.shape)}"
                         + (" -- one clip? add the batch axis with unsqueeze(0)"
                            if t.ndim == 4 else ""))
    t = t.float()
    lo, hi = (float(t.min()), float(t.max())) if t.numel() else (0.0, 0.0)
    if lo < -1.001 or hi > 1.001:
        raise ValueError(f"{name} must lie in [-1, 1] (the course's pixel range); got values "
                         f"in [{lo:.3g}, {hi:.3g}] -- uint8 frames? use x / 127.5 - 1")
    return t


def to_uint8(clips: Tensor) -> np.ndarray:
    """Clips in [-1, 1] -> uint8 in [0, 255] (rounded), as a NumPy array of the same shape."""
    return ((clips.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def _ffmpeg(args: list[str], stdin: bytes | None = None) -> bytes:
    """Run the bundled ffmpeg quietly; a failure raises with ffmpeg's own message."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return done.stdout


def h264_roundtrip(clips: Tensor, crf: int, preset: str = "medium") -> tuple[Tensor, int]:
    """Encode grey clips (N, 1, T, H, W) in [-1, 1] with libx264 at ``crf``; decode them.

    Returns ``(decoded clips, bits)``: the decoded clips in [-1, 1] and the size of the
    whole H.264 bitstream in bits (one stream, one group of pictures per clip; the
    sequence headers are shared, a few dozen bytes in all). H and W must be even.
    """
    clips = check_clips(clips)
    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not (
            CRF_RANGE[0] <= crf <= CRF_RANGE[1]):
        raise ValueError(f"crf must be an integer in libx264's range {CRF_RANGE[0]}..."
                         f"{CRF_RANGE[1]} (0 lossless, 23 default, 51 coarsest); got {crf!r}")
    n, c, t, h, w = clips.shape
    if c != 1 or h % 2 or w % 2:
        raise ValueError(f"h264_roundtrip takes grey clips with even H and W, (N, 1, T, H, W); "
                         f"got {tuple(clips.shape)}")
    raw = to_uint8(clips).reshape(n * t, h, w).tobytes()  # clip after clip, frame after frame
    with tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "clips.264"
        _ffmpeg(["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", "25", "-i", "-",
                 "-c:v", "libx264", "-preset", preset, "-crf", str(int(crf)),
                 "-g", str(t), "-keyint_min", str(t), "-sc_threshold", "0",
                 "-pix_fmt", "gray", "-bsf:v", "filter_units=remove_types=6",
                 "-f", "h264", str(stream)], stdin=raw)
        bits = 8 * stream.stat().st_size
        out = _ffmpeg(["-f", "h264", "-i", str(stream), "-f", "rawvideo", "-pix_fmt", "gray",
                       "-"])
    frames = np.frombuffer(out, dtype=np.uint8)
    if frames.size != n * t * h * w:
        raise RuntimeError(f"decoded {frames.size} pixels, expected {n * t * h * w}")
    decoded = torch.from_numpy(frames.copy()).float().reshape(n, t, 1, h, w).transpose(1, 2)
    return decoded / 127.5 - 1, bits


def bits_per_pixel(bits: int, clips: Tensor) -> float:
    """Bits divided by the pixels of all frames of ``clips`` (N, C, T, H, W), channels apart."""
    n, _, t, h, w = clips.shape
    return bits / (n * t * h * w)


# --------------------------------------------------------------------------------------------
# The GAN codec's quantiser


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not (
            1 <= bits <= MAX_BITS):
        raise ValueError(f"bits per value must be an integer in 1..{MAX_BITS}; got {bits!r}")


def _normal_icdf(p: Tensor) -> Tensor:
    return torch.special.ndtri(p)


def quantise(z: Tensor, bits: int) -> Tensor:
    """Standard-normal codes -> integer bin indices in ``[0, 2**bits)`` (equally likely bins)."""
    _check_bits(bits)
    levels = 2**bits
    idx = torch.floor(torch.special.ndtr(z.double()) * levels).long()
    return idx.clamp(0, levels - 1)


def dequantise(idx: Tensor, bits: int) -> Tensor:
    """Bin indices -> each bin's median under N(0, 1): the value the decoder feeds G."""
    _check_bits(bits)
    levels = 2**bits
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= levels):
        raise ValueError(f"bin indices must lie in [0, {levels}) for {bits} bits")
    return _normal_icdf((idx.double() + 0.5) / levels).float()


def gan_bits_per_pixel(values_per_frame: int, bits: int, frame_pixels: int) -> float:
    """A fixed-length code of ``values_per_frame`` values at ``bits`` each, per pixel."""
    _check_bits(bits)
    return values_per_frame * bits / frame_pixels
