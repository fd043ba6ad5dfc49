"""Digit glyphs: generated strokes and fonts, the IDX reader, local MNIST discovery, the cache."""

import gzip
import struct

import numpy as np
import pytest
import torch

from vgan_utils import glyphs
from vgan_utils.glyphs import (
    GlyphBank,
    digit_glyphs,
    find_mnist,
    font_glyphs,
    load_mnist,
    read_idx,
    stroke_glyphs,
)
from vgan_utils.synthetic import MovingDigits


def write_idx(path, array):
    """An IDX file as LeCun's MNIST ships it: magic 0x0000080N, big-endian dims, raw bytes."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def tiny_mnist(folder, n=20, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 8:20, 10:18] = rng.integers(100, 256, (n, 12, 8))
    labels = np.arange(n) % 10
    ext = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{ext}", images)
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("make", [stroke_glyphs, font_glyphs])
def test_generated_glyphs_are_mnist_like(make):
    bank = make(6, size=28, seed=0)
    assert bank.images.shape == (60, 28, 28) and bank.images.dtype == torch.uint8
    assert torch.equal(torch.bincount(bank.labels), torch.full((10,), 6))
    img = bank.images.float()
    assert img.amax((1, 2)).min() > 150  # every glyph has real ink
    # centre of mass near the image centre, as MNIST's normalisation puts it
    idx = torch.arange(28.0) + 0.5
    mass = img.sum((1, 2))
    cy, cx = (img.sum(2) * idx).sum(1) / mass, (img.sum(1) * idx).sum(1) / mass
    assert (cy - 14).abs().max() < 2 and (cx - 14).abs().max() < 2
    assert img[:, :2].sum() == 0 or img[:, :2].mean() < 1  # border nearly empty


@pytest.mark.parametrize("make", [stroke_glyphs, font_glyphs])
def test_generated_glyphs_are_deterministic(make):
    a, b, c = make(3, seed=5), make(3, seed=5), make(3, seed=6)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


def test_read_idx_plain_and_gzipped(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        write_idx(tmp_path / name, arr)
        assert np.array_equal(read_idx(tmp_path / name), arr)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(ValueError, match="bad.*not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((2, 3), np.uint8))
    data = (tmp_path / "short").read_bytes()
    (tmp_path / "short").write_bytes(data[:-2])
    with pytest.raises(ValueError, match=r"short.*promises shape \(2, 3\)"):
        read_idx(tmp_path / "short")


@pytest.mark.parametrize("layout,gz", [("flat", False), ("torchvision", True)])
def test_local_mnist_is_found_and_used(tmp_path, layout, gz):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    images, labels = tiny_mnist(folder, gz=gz)
    assert find_mnist(tmp_path) == folder
    bank = load_mnist(tmp_path)
    assert bank.source == "mnist" and np.array_equal(bank.images.numpy(), images)
    auto = digit_glyphs("auto", root=tmp_path)
    assert auto.source == "mnist" and torch.equal(auto.labels, torch.from_numpy(labels))
    data = MovingDigits(num_clips=4, length=3, data_root=tmp_path)
    assert data.glyph_source == "mnist"
    _, lab = data.batch([0, 1])
    assert torch.equal(lab["digits"], torch.from_numpy(labels)[lab["glyphs"]])
    small = digit_glyphs("mnist", size=14, root=tmp_path)
    assert small.images.shape == (20, 14, 14)


def test_missing_mnist(tmp_path):
    assert find_mnist(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="no MNIST train IDX files"):
        digit_glyphs("mnist", root=tmp_path)
    with pytest.raises(ValueError, match="source must be one of"):
        digit_glyphs("emnist")


def test_generated_bank_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("VGAN_DATA_DIR", str(tmp_path))
    glyphs._generated.cache_clear()
    first = digit_glyphs("strokes", per_digit=2, root=tmp_path / "nothing")
    files = list((tmp_path / "cache" / "glyphs").glob("*.npz"))
    assert len(files) == 1
    glyphs._generated.cache_clear()
    again = digit_glyphs("strokes", per_digit=2, root=tmp_path / "nothing")
    assert torch.equal(first.images, again.images) and isinstance(again, GlyphBank)
    glyphs._generated.cache_clear()
