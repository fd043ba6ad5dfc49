"""The projected discriminator: a frozen autoencoder's encoder, one head per level."""

import pytest
import torch

from vgan_utils.frame_nets import FrameDiscriminator
from vgan_utils.projected import (
    FeatureEncoder,
    ProjectedDiscriminator,
    fit_feature_encoder,
    load_encoder,
    save_encoder,
)
from vgan_utils.train import build_trainer, parse_recipe


def _blobs(i: int, n: int = 8, size: int = 16) -> torch.Tensor:
    """Frames of one bright square at a position that depends on i: easy to reconstruct."""
    x = -torch.ones(n, 1, size, size)
    for k in range(n):
        r = (i * 3 + k * 5) % (size - 4)
        x[k, :, r:r + 4, r:r + 4] = 1.0
    return x


def test_encoder_levels_halve_down_to_4x4():
    shapes = [f.shape for f in FeatureEncoder(32, 1, 8)(torch.zeros(2, 1, 32, 32))]
    assert shapes == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4)]


def test_train_encoder_lowers_its_loss_and_freezes():
    encoder, losses = fit_feature_encoder(_blobs, size=16, steps=150, lr=3e-3)
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    assert not any(p.requires_grad for p in encoder.parameters()) and not encoder.training


def test_encoder_round_trips_through_its_file(tmp_path):
    encoder = FeatureEncoder(16, 1, 8)
    path = save_encoder(encoder, tmp_path / "enc.pt", steps=0)
    loaded = load_encoder(path)
    x = torch.randn(3, 1, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(encoder(x), loaded(x), strict=True))
    with pytest.raises(FileNotFoundError, match="python -m vgan_utils.projected"):
        load_encoder(tmp_path / "missing.pt")


def test_projected_d_scores_each_frame_once_per_head_and_keeps_encoder_frozen():
    encoder = FeatureEncoder(32, 1, 8)
    before = [p.clone() for p in encoder.parameters()]
    d = ProjectedDiscriminator(FrameDiscriminator(32, 1, 8, norm="batch"), encoder, 8).train()
    x = torch.randn(4, 1, 32, 32, requires_grad=True)
    out = d(x)
    assert out.shape == (4 * 4,)  # the pixel D and three levels
    assert not d.encoder.training
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G's gradient passes the encoder
    assert all(p.grad is None for p in d.encoder.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))


def test_projected_d_refuses_an_encoder_of_another_size():
    with pytest.raises(ValueError, match="train an encoder for this size"):
        ProjectedDiscriminator(FrameDiscriminator(32, 1, 8), FeatureEncoder(16, 1, 8), 8)


def test_a_run_with_d_encoder_trains_and_leaves_the_encoder_alone(tmp_path):
    path = save_encoder(FeatureEncoder(16, 1, 8), tmp_path / "enc.pt")
    trainer = build_trainer(parse_recipe(f"smoke,d_encoder='{path}'"))
    frozen = [p.clone() for p in trainer.discriminator.encoder.parameters()]
    heads = [p.clone() for p in trainer.discriminator.heads.parameters()]
    trainer.train(3)
    assert all(torch.equal(a, b) for a, b in
               zip(frozen, trainer.discriminator.encoder.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in
               zip(heads, trainer.discriminator.heads.parameters(), strict=True))


def test_command_line_writes_an_encoder_for_the_runs_frames(tmp_path, capsys):
    from vgan_utils.projected import main

    out = tmp_path / "enc16.pt"
    assert main(["--config", "smoke", "--steps", "3", "--threads", "1", "--out", str(out)]) == 0
    encoder = load_encoder(out)
    assert (encoder.size, encoder.channels) == (16, 1)  # the smoke run's frames
    assert "3 steps" in capsys.readouterr().out
