"""Anomalous moving-digit clips: the same clip until the onset, the named event after it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vgan_utils.anomalies import ANOMALIES, anomalous_clips
from vgan_utils.synthetic import MovingDigits

DATA = MovingDigits(num_clips=100, size=64, length=12, seed=3, glyphs="generated")
IDX = np.arange(8)


def per_frame_change(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean(dim=(1, 3, 4))  # (N, T)


def test_every_kind_equals_the_normal_clip_before_its_onset_and_differs_after():
    normal, t0 = anomalous_clips(DATA, IDX, "normal")
    assert (t0 == -1).all()
    for kind in ANOMALIES:
        clips, onset = anomalous_clips(DATA, IDX, kind)
        assert clips.shape == normal.shape and ((onset >= 3) & (onset <= 9)).all()
        diff = per_frame_change(clips, normal)
        for i, t in enumerate(onset.tolist()):
            assert diff[i, :t].max() == 0, kind
            assert diff[i, t + 1:].mean() > 0, kind
        assert torch.equal(clips, anomalous_clips(DATA, IDX, kind)[0])  # deterministic


def test_freeze_stops_and_third_digit_adds_ink():
    normal = anomalous_clips(DATA, IDX, "normal")[0]
    frozen, t0 = anomalous_clips(DATA, IDX, "freeze")
    third, t1 = anomalous_clips(DATA, IDX, "third_digit")
    for i in range(len(IDX)):
        assert (third[i, :, t1[i]:] >= normal[i, :, t1[i]:]).all()  # a max-composite adds only
    assert frozen.shape == normal.shape


def test_reverse_retraces_the_path():
    clips, t0 = anomalous_clips(DATA, IDX, "reverse")
    normal = anomalous_clips(DATA, IDX, "normal")[0]
    # one frame after the turn, digit 0 is where it was one frame before it (digit 1 moved on)
    i, t = 0, int(t0[0])
    one = MovingDigits(num_clips=100, size=64, length=12, seed=3, glyphs="generated",
                       num_digits=1)
    solo, s0 = anomalous_clips(one, IDX, "reverse")
    j = int(s0[0])
    assert torch.equal(solo[0, :, j + 1], solo[0, :, j - 1])
    assert not torch.equal(clips[i, :, t + 1], normal[i, :, t + 1])


def test_bad_kind_and_onset_are_named():
    with pytest.raises(ValueError, match="valid kinds: normal, teleport"):
        anomalous_clips(DATA, IDX, "explode")
    with pytest.raises(ValueError, match="onset must satisfy"):
        anomalous_clips(DATA, IDX, "freeze", onset=(1, 5))
