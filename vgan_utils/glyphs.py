"""Digit glyphs for the moving-digits dataset: generated pen strokes, font digits, or MNIST.

MNIST (LeCun et al. 1998) cannot be downloaded in class, so by default the digits
are *generated*: ``"strokes"`` draws each digit as pen strokes along a hand-made
skeleton with a random slant, rotation, scale, wobble and pen width (handwritten-
looking); ``"fonts"`` renders the digit from the regular-weight fonts bundled with
matplotlib and bends it with an elastic distortion (Simard et al. 2003,
"Best practices for convolutional neural networks applied to visual document
analysis"). Both are normalised as MNIST was: the digit fits a 20x20 box and its
centre of mass sits at the centre of the 28x28 image. A local copy of MNIST
(torchvision's ``MNIST/raw`` layout or the four IDX files, optionally gzipped) is
used instead when :func:`digit_glyphs` is asked for ``"auto"`` or ``"mnist"``.

Taught in ``notebooks/03_video_data.ipynb``.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

GLYPH_SOURCES = ("auto", "mnist", "generated", "strokes", "fonts")
# Regular-weight fonts shipped with matplotlib that have ordinary 0-9 (bold ones look too
# heavy next to handwriting; the STIX size/symbol fonts and cmex/cmsy/cmmi have no plain digits).
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Oblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
    "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf", "cmss10.ttf", "cmti10.ttf",
    "cmtt10.ttf",
)
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class GlyphBank:
    """Digit images ``(N, S, S)`` uint8 (0 = background) with their labels ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        n, s, _ = self.images.shape
        return f"GlyphBank(source={self.source!r}, glyphs={n}, size={s}x{s})"


# ---------------------------------------------------------------- stroke skeletons
def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 14):
    """Points on an ellipse arc from angle ``a0`` to ``a1`` (degrees; 90 = up, y grows down)."""
    a = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], 1)


def _pts(*xy: float) -> np.ndarray:
    """A polyline through the given x, y pairs."""
    return np.asarray(xy, dtype=np.float64).reshape(-1, 2)


def _join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts, 0)


def _skeletons() -> list[tuple[int, list[np.ndarray]]]:
    """Hand-made skeletons: (digit, strokes), strokes in a unit box, x right and y down.

    Several digits have two common handwritten forms (1 with or without a flag, open
    or closed 4, 7 with a crossbar, 9 with a straight or curved tail).
    """
    return [
        (0, [_arc(0.5, 0.5, 0.27, 0.45, 100, 470, 28)]),
        (1, [_pts(0.52, 0.04, 0.47, 0.96)]),
        (1, [_pts(0.3, 0.24, 0.55, 0.04, 0.5, 0.96)]),
        (2, [_join(_arc(0.5, 0.3, 0.28, 0.25, 160, -35), _pts(0.2, 0.95, 0.84, 0.94))]),
        (3, [_join(_arc(0.48, 0.28, 0.27, 0.23, 150, -90),
                   _arc(0.48, 0.72, 0.31, 0.23, 90, -150))]),
        (4, [_pts(0.64, 0.96, 0.64, 0.04, 0.14, 0.68, 0.86, 0.68)]),
        (4, [_pts(0.3, 0.04, 0.2, 0.6, 0.86, 0.6), _pts(0.66, 0.28, 0.64, 0.96)]),
        (5, [_join(_pts(0.8, 0.05, 0.33, 0.05, 0.28, 0.45),
                   _arc(0.48, 0.67, 0.3, 0.27, 130, -140))]),
        (5, [_join(_pts(0.33, 0.05, 0.28, 0.45), _arc(0.48, 0.67, 0.3, 0.27, 130, -140)),
             _pts(0.33, 0.05, 0.8, 0.04)]),
        (6, [_join(_pts(0.7, 0.04, 0.5, 0.18, 0.34, 0.4), _arc(0.5, 0.72, 0.25, 0.23, 180, 540))]),
        (7, [_pts(0.16, 0.06, 0.84, 0.06, 0.4, 0.96)]),
        (7, [_pts(0.16, 0.06, 0.84, 0.06, 0.4, 0.96), _pts(0.36, 0.52, 0.76, 0.5)]),
        (8, [_arc(0.5, 0.27, 0.21, 0.22, -90, 270, 20), _arc(0.5, 0.72, 0.26, 0.23, 90, 450, 22)]),
        (9, [_join(_arc(0.48, 0.3, 0.26, 0.25, 0, 360, 22), _pts(0.74, 0.3, 0.68, 0.96))]),
        (9, [_join(_arc(0.48, 0.3, 0.26, 0.25, 0, 360, 22),
                   _pts(0.74, 0.3, 0.72, 0.62, 0.58, 0.96))]),
    ]


def _resample(stroke: np.ndarray, spacing: float) -> np.ndarray:
    """Points every ``spacing`` (unit-box lengths) along a polyline, ends included."""
    seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], max(2, int(np.ceil(s[-1] / spacing)) + 1))
    return np.stack([np.interp(t, s, stroke[:, 0]), np.interp(t, s, stroke[:, 1])], 1)


def _skeleton_points(spacing: float = 0.03) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All skeletons as dense point sets ``(V, Q, 2)``, a validity mask ``(V, Q)``, digits ``(V,)``.

    Drawing a stroke as the set of pixels near densely spaced points is the same as
    drawing it near its segments up to ``spacing**2 / 8`` (under 0.05 px here), and the
    nearest-point distance is a single batched matrix product.
    """
    sk = _skeletons()
    pts = [np.concatenate([_resample(s, spacing) for s in strokes]) for _, strokes in sk]
    q = max(len(p) for p in pts)
    out, valid = np.zeros((len(pts), q, 2)), np.zeros((len(pts), q), dtype=bool)
    for i, p in enumerate(pts):
        out[i, : len(p)], valid[i, : len(p)] = p, True
        out[i, len(p):] = p[-1]  # padding repeats the last point: it changes no distance
    return torch.from_numpy(out), torch.from_numpy(valid), torch.tensor([d for d, _ in sk])


def _random_affine(n: int, gen: torch.Generator, slant: float, rotate: float) -> torch.Tensor:
    """``(n, 2, 2)`` matrices: anisotropic scale, rotation and a forward slant (shear)."""
    u = torch.rand(n, 4, generator=gen, dtype=torch.float64)
    sx, sy = 0.75 + 0.45 * u[:, 0], 0.85 + 0.25 * u[:, 1]
    ang = math.radians(rotate) * (2 * u[:, 2] - 1)
    shear = -slant * u[:, 3]  # x shifts right as y goes up: a right-leaning hand
    c, s = torch.cos(ang), torch.sin(ang)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    sh = torch.eye(2, dtype=torch.float64).repeat(n, 1, 1)
    sh[:, 0, 1] = shear
    scale = torch.diag_embed(torch.stack([sx, sy], -1))
    return rot @ sh @ scale


def stroke_glyphs(per_digit: int, size: int = 28, seed: int = 0) -> GlyphBank:
    """Handwritten-looking digits: pen strokes along jittered skeletons, MNIST-normalised.

    Each glyph gets a random affine map (slant, rotation, scale), a smooth wobble of
    its skeleton and a random pen width, then is drawn with anti-aliased edges from
    the distance of every pixel to the stroke.
    """
    gen = torch.Generator().manual_seed(seed)
    pts, valid, digit_of = _skeleton_points()
    labels = torch.arange(10).repeat_interleave(per_digit)
    choice = torch.empty(len(labels), dtype=torch.long)
    for d in range(10):  # one of the digit's skeleton variants, uniformly
        variants = torch.nonzero(digit_of == d).flatten()
        choice[labels == d] = variants[torch.randint(len(variants), (per_digit,), generator=gen)]
    n = len(labels)
    p = (pts[choice] - 0.5) @ _random_affine(n, gen, slant=0.45, rotate=12.0).transpose(1, 2)
    # smooth wobble: a low-frequency displacement field, so a stroke bends but stays smooth
    freq = 1.0 + 2.0 * torch.rand(n, 1, 2, 2, generator=gen, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(n, 1, 2, generator=gen, dtype=torch.float64)
    amp = 0.035 * torch.rand(n, 1, 2, generator=gen, dtype=torch.float64)
    p = p + amp * torch.sin(2 * math.pi * (p[:, :, None, :] * freq).sum(-1) + phase)
    pen = 1.7 + 1.4 * torch.rand(n, generator=gen, dtype=torch.float64)  # pixels at size 28
    ink = 0.85 + 0.15 * torch.rand(n, generator=gen, dtype=torch.float64)
    # MNIST normalisation: fit a 20x20 box (pixels of a 28 image), centre of mass at (14, 14)
    v = valid[choice][..., None]
    hi = torch.where(v, p, torch.full_like(p, -1e9)).amax(1)
    lo = torch.where(v, p, torch.full_like(p, 1e9)).amin(1)
    scale = (20.0 - pen) / (hi - lo).amax(1)
    com = (p * v).sum(1) / v.sum(1)
    p = (p - com[:, None]) * scale[:, None, None] + 14.0
    img = _draw_points(p * (size / 28.0), pen * size / 28.0, size) * ink[:, None, None]
    return GlyphBank(_to_uint8(img), labels, "strokes")


def _draw_points(p: torch.Tensor, pen: torch.Tensor, size: int, chunk: int = 256):
    """Anti-aliased strokes: ``clamp(pen/2 - distance + 0.5, 0, 1)`` at each pixel centre.

    Squared distances come from one batched product, ``|x|^2 + |q|^2 - 2 x.q``.
    """
    c = torch.arange(size, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    pix = torch.stack([xx, yy], -1).reshape(1, -1, 2)
    out = []
    for i in range(0, len(p), chunk):
        q = p[i:i + chunk].float()
        d2 = torch.baddbmm((q * q).sum(-1)[:, None, :], pix.expand(len(q), -1, -1),
                           q.transpose(1, 2), alpha=-2.0)
        d = (d2.amin(-1) + (pix * pix).sum(-1)).clamp_min(0).sqrt()  # (n, size*size)
        out.append((pen[i:i + chunk, None].float() / 2 - d + 0.5).clamp(0, 1))
    return torch.cat(out).reshape(-1, size, size)


def _to_uint8(img: torch.Tensor) -> torch.Tensor:
    return (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8)


# ---------------------------------------------------------------- font glyphs
def font_dir() -> Path:
    """Where matplotlib keeps its bundled TrueType fonts."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=2)
def _font_masks(res: int = 64) -> torch.Tensor:
    """Each font's 0-9 rendered once, ``(F, 10, res, res)`` in [0, 1], strokes equalised.

    Thin fonts (STIX, Computer Modern) are dilated until their stroke depth matches the
    thickest font's, so no font reads as a hairline next to the others.
    """
    from PIL import Image, ImageDraw, ImageFont

    masks = []
    for name in FONT_FILES:
        font = ImageFont.truetype(str(font_dir() / name), int(res * 0.7))
        row = []
        for d in range(10):
            im = Image.new("L", (res, res))
            ImageDraw.Draw(im).text((res / 2, res / 2), str(d), fill=255, font=font, anchor="mm")
            row.append(np.asarray(im, dtype=np.float32) / 255.0)
        masks.append(np.stack(row))
    m = torch.from_numpy(np.stack(masks))
    depth = _stroke_depth(m)
    target = depth.max().item() - 0.15
    for f in range(len(m)):
        while depth[f] < target:
            m[f] = F.max_pool2d(m[f][:, None], 3, 1, 1)[:, 0]
            depth[f] = _stroke_depth(m[f : f + 1])[0]
    return m


def _stroke_depth(m: torch.Tensor) -> torch.Tensor:
    """Per font ``(F, 10, H, W) -> (F,)``: mean number of 3x3 erosions an ink pixel survives.

    It grows with stroke width, whatever the glyph's shape or size.
    """
    x = (m.reshape(-1, 1, *m.shape[-2:]) > 0.5).float()
    area, total = x.sum((1, 2, 3)), torch.zeros(len(x))
    for _ in range(8):
        x = -F.max_pool2d(-x, 3, 1, 1)
        total = total + x.sum((1, 2, 3))
    return total.reshape(len(m), -1).sum(1) / area.reshape(len(m), -1).sum(1)


def font_glyphs(per_digit: int, size: int = 28, seed: int = 0) -> GlyphBank:
    """Digits from matplotlib's fonts, slanted, rotated, thickened or thinned and bent.

    The bend is an elastic distortion (a smooth random displacement field) as used
    by Simard et al. 2003 to make MNIST digits look newly handwritten.
    """
    gen = torch.Generator().manual_seed(seed)
    base = _font_masks()
    nf, _, res, _ = base.shape
    labels = torch.arange(10).repeat_interleave(per_digit)
    n = len(labels)
    font = torch.randint(nf, (n,), generator=gen)
    src = base[font, labels][:, None]  # (N, 1, res, res)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, :, :2] = torch.linalg.inv(_random_affine(n, gen, slant=0.35, rotate=10.0))
    grid = F.affine_grid(theta.float(), [n, 1, res, res], align_corners=False)
    coarse = torch.randn(n, 2, 3, 3, generator=gen) * 0.06
    grid = grid + F.interpolate(coarse, size=(res, res), mode="bilinear").permute(0, 2, 3, 1)
    img = F.grid_sample(src, grid, align_corners=False, padding_mode="zeros")
    # stroke width: threshold the soft edge at a random level (lower level = thicker stroke)
    img = F.avg_pool2d(img, 3, 1, 1)
    level = 0.3 + 0.3 * torch.rand(n, 1, 1, 1, generator=gen)
    img = ((img - level) / 0.3 + 0.5).clamp(0, 1)
    return GlyphBank(_to_uint8(_mnist_normalise(img[:, 0], size)), labels, "fonts")


def _mnist_normalise(img: torch.Tensor, size: int) -> torch.Tensor:
    """Fit each ``(N, R, R)`` glyph into a 20/28 box, centre of mass at the centre (as MNIST)."""
    n, res, _ = img.shape
    ink = img > 0.25
    idx = torch.arange(res, dtype=torch.float32)
    rows, cols = ink.any(2), ink.any(1)
    big = torch.tensor(float(res))
    top = torch.where(rows, idx, big).amin(1)
    bottom = torch.where(rows, idx, -big).amax(1)
    left = torch.where(cols, idx, big).amin(1)
    right = torch.where(cols, idx, -big).amax(1)
    extent = torch.maximum(bottom - top, right - left).clamp_min(1) + 1
    mass = img.sum((1, 2)).clamp_min(1e-6)
    cy = (img.sum(2) * idx).sum(1) / mass + 0.5
    cx = (img.sum(1) * idx).sum(1) / mass + 0.5
    # output pixel (normalised) -> source pixel (normalised): x_src = a * x_out + b
    a = (extent / res) * (28.0 / 20.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = a, a
    theta[:, 0, 2], theta[:, 1, 2] = 2 * cx / res - 1, 2 * cy / res - 1
    hi = 2 * size  # supersample, then average: an anti-aliased downscale
    grid = F.affine_grid(theta, [n, 1, hi, hi], align_corners=False)
    out = F.grid_sample(img[:, None], grid, align_corners=False)
    return F.avg_pool2d(out, 2)[:, 0]


# ---------------------------------------------------------------- MNIST on disk
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format, optionally gzipped) into a NumPy array.

    The header is two zero bytes, a type code (0x08 = uint8), the number of
    dimensions, then each dimension as a big-endian int32.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"cannot read IDX file {path}: {e}") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of uint8 (bad magic number)")
    ndim = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, ">i4", ndim, 4))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(dims):
        raise ValueError(f"{path}: header promises shape {dims} but holds {body.size} values")
    return body.reshape(dims)


def find_mnist(root: str | os.PathLike | None = None, split: str = "train") -> Path | None:
    """The folder holding MNIST's IDX files under ``root``, or None.

    Looked for in ``root``, ``root/MNIST/raw`` (torchvision's layout) and
    ``root/mnist``; ``root`` defaults to ``$VGAN_DATA_DIR`` or the repository's ``data/``.
    """
    root = Path(root) if root is not None else data_dir()
    images, labels = MNIST_FILES[split]
    for folder in (root, root / "MNIST" / "raw", root / "mnist"):
        for ext in ("", ".gz"):
            if (folder / f"{images}{ext}").is_file() and (folder / f"{labels}{ext}").is_file():
                return folder
    return None


def data_dir() -> Path:
    """The course's data folder: ``$VGAN_DATA_DIR`` if set, else ``data/`` beside the package."""
    env = os.environ.get("VGAN_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def load_mnist(root: str | os.PathLike | None = None, split: str = "train") -> GlyphBank:
    """MNIST digits from a local copy (see :func:`find_mnist`); a clear error if absent."""
    folder = find_mnist(root, split)
    if folder is None:
        raise FileNotFoundError(
            f"no MNIST {split} IDX files ({', '.join(MNIST_FILES[split])}, optionally .gz) "
            f"under {Path(root) if root is not None else data_dir()} or its MNIST/raw folder")
    images_name, labels_name = MNIST_FILES[split]

    def pick(name: str) -> Path:
        return folder / name if (folder / name).is_file() else folder / f"{name}.gz"

    images, labels = read_idx(pick(images_name)), read_idx(pick(labels_name))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST files in {folder}: images {images.shape} and labels "
                         f"{labels.shape} should be (N, 28, 28) and (N,)")
    return GlyphBank(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)),
                     "mnist")


# ---------------------------------------------------------------- one entry point
GLYPH_VERSION = 1  # bump when the generators change, so stale disk caches are not used


def _build(style: str, per_digit: int, size: int, seed: int) -> GlyphBank:
    if style == "strokes":
        return stroke_glyphs(per_digit, size, seed)
    if style == "fonts":
        return font_glyphs(per_digit, size, seed)
    half = per_digit // 2
    s, f = stroke_glyphs(per_digit - half, size, seed), font_glyphs(half, size, seed + 1)
    return GlyphBank(torch.cat([s.images, f.images]), torch.cat([s.labels, f.labels]), "generated")


@functools.lru_cache(maxsize=8)
def _generated(style: str, per_digit: int, size: int, seed: int, cache: bool) -> GlyphBank:
    """Build a bank once per process, and once per machine when ``data/cache`` is writable.

    Building takes a second or two; the cached file loads in milliseconds.
    """
    path = data_dir() / "cache" / "glyphs" / (
        f"{style}-{per_digit}-{size}px-seed{seed}-v{GLYPH_VERSION}.npz")
    if cache and path.is_file():
        with np.load(path) as z:
            return GlyphBank(torch.from_numpy(z["images"]), torch.from_numpy(z["labels"]), style)
    bank = _build(style, per_digit, size, seed)
    if cache:
        try:  # write then rename: a reader never sees half a file
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, images=bank.images.numpy(), labels=bank.labels.numpy())
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only checkout still works, just without the cache
    return bank


def digit_glyphs(
    source: str = "auto", size: int = 28, per_digit: int = 400, seed: int = 0,
    root: str | os.PathLike | None = None, cache: bool = True,
) -> GlyphBank:
    """The digit images a moving-digits dataset draws from.

    ``source``: ``"auto"`` (local MNIST if found, else generated), ``"mnist"`` (local
    MNIST or an error), ``"generated"`` (half strokes, half fonts), ``"strokes"`` or
    ``"fonts"``. Generated banks hold ``per_digit`` glyphs of each digit and are
    cached per process and (``cache=True``) in ``data/cache/glyphs``; they depend
    only on ``seed``.
    """
    if source not in GLYPH_SOURCES:
        raise ValueError(f"source must be one of {GLYPH_SOURCES}, got {source!r}")
    if source in ("auto", "mnist"):
        if source == "mnist" or find_mnist(root) is not None:
            bank = load_mnist(root)
            if size != bank.images.shape[-1]:
                img = F.interpolate(bank.images[:, None].float(), size=(size, size),
                                    mode="area" if size < bank.images.shape[-1] else "bilinear")
                bank = GlyphBank(_to_uint8(img[:, 0] / 255), bank.labels, "mnist")
            return bank
        source = "generated"
    return _generated(source, per_digit, size, seed, cache)
