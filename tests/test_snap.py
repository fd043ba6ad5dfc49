"""GridSnap: the network that redraws a bilinearly moved frame on the pixel grid."""

import pytest
import torch

from vgan_utils import snap
from vgan_utils.synthetic import resize_frames


def blocks64(n: int = 6, seed: int = 0) -> torch.Tensor:
    """64x64 frames on black, each with a bright 8x12 block at a random whole-pixel place."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 1, 64, 64), -1.0)
    for i, (r, c) in enumerate(torch.randint(16, 40, (n, 2), generator=g).tolist()):
        x[i, :, r:r + 8, c:c + 12] = 1.0
    return x


def test_untrained_snap_is_the_identity():
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert torch.equal(snap.GridSnap()(x), x)


def test_snap_rejects_frames_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        snap.GridSnap()(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="depth >= 2"):
        snap.GridSnap(depth=1)


def test_shift_by_whole_pixels_moves_content_exactly():
    x = blocks64(2)
    moved = snap.shift_frames(x, torch.tensor([[3.0, -2.0], [3.0, -2.0]]))
    expected = torch.full_like(x, -1.0)
    expected[:, :, :62, 3:] = x[:, :, 2:, :61]
    assert torch.allclose(moved, expected, atol=1e-6)


def test_targets_are_the_data_drawn_at_the_grid_positions_either_side():
    x = blocks64(4)
    g = torch.Generator().manual_seed(1)
    inputs, targets = snap.snap_batch(x, 3.0, g)
    s = (torch.rand(4, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1) * 3.0
    assert torch.allclose(inputs, snap.shift_frames(resize_frames(x, 32), s), atol=1e-6)
    lo = torch.floor(2 * s)
    assert torch.allclose(targets[:, 0], resize_frames(snap.shift_frames(x, lo), 32), atol=1e-6)
    hi = torch.ceil(2 * s)
    assert torch.allclose(targets[:, 3], resize_frames(snap.shift_frames(x, hi), 32), atol=1e-6)
    # a bilinear half-pixel shift blurs: the input is none of the sharp targets
    assert snap.snap_loss(inputs, targets) > 1e-3


def test_loss_takes_the_nearest_candidate():
    targets = torch.stack([torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)], dim=1)
    assert snap.snap_loss(torch.ones(2, 1, 4, 4), targets) == 0
    assert snap.snap_loss(torch.full((2, 1, 4, 4), 0.25), targets) == pytest.approx(0.0625)


def test_training_brings_the_loss_down():
    x = blocks64(32)
    g = torch.Generator().manual_seed(5)
    before = snap.snap_loss(*snap.snap_batch(x, 2.0, g))
    net, history = snap.train_snap(x, steps=300, batch_size=16, lr=1e-2, max_shift=2.0,
                                   width=8, depth=3, log_every=150)
    g = torch.Generator().manual_seed(5)
    inputs, targets = snap.snap_batch(x, 2.0, g)
    with torch.no_grad():
        after = snap.snap_loss(net(inputs), targets)
    assert [h["step"] for h in history] == [150, 300]
    assert after < 0.6 * before


def test_train_snap_wants_64x64_frames():
    with pytest.raises(ValueError, match="64x64"):
        snap.train_snap(torch.zeros(4, 1, 32, 32), steps=1)


def test_a_written_snap_loads_back(tmp_path):
    net = snap.GridSnap(width=8, depth=3)
    torch.nn.init.normal_(net.net[-1].weight, std=0.1)
    out = tmp_path / "snap.pt"
    snap.save_snap(net, out, {"command": "test"})
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.equal(snap.load_snap(out)(x), net(x))


def test_content_motion_generator_snaps_its_frames_with_the_gradient_straight_through():
    from vgan_utils.video_nets import ContentMotionGenerator

    torch.manual_seed(0)
    net = snap.GridSnap(width=8, depth=3)
    torch.nn.init.normal_(net.net[-1].weight, std=0.1)
    kw = {"length": 4, "content_dim": 8, "motion_dim": 4, "width": 8, "motion_to": "flow"}
    torch.manual_seed(1)
    plain = ContentMotionGenerator(**kw)
    torch.manual_seed(1)
    snapped = ContentMotionGenerator(**kw, snap=net).train()
    assert not snapped.snap.training and not any(p.requires_grad for p in net.parameters())
    z = torch.randn(3, snapped.z_dim)
    clips, base = snapped(z), plain(z)
    frames = base.transpose(1, 2).reshape(12, 1, 32, 32)
    expected = net(frames).reshape(3, 4, 1, 32, 32).transpose(1, 2)
    assert torch.allclose(clips, expected, atol=1e-6)
    clips.sum().backward()
    base.sum().backward()
    grads = {name: p.grad for name, p in plain.named_parameters()}
    for name, p in snapped.named_parameters():
        if not name.startswith("snap."):
            assert torch.allclose(p.grad, grads[name], atol=1e-6), name
    with pytest.raises(ValueError, match="motion_to='flow'"):
        ContentMotionGenerator(length=4, content_dim=8, motion_dim=4, width=8, snap=net)


def test_the_command_line_writes_a_snap_of_the_asked_size(tmp_path, monkeypatch):
    monkeypatch.setattr(snap, "real_frames64", lambda n, seed: blocks64(n))
    out = tmp_path / "s.pt"
    assert snap.main(["--steps", "2", "--pool", "8", "--width", "4", "--depth", "3",
                      "--out", str(out)]) == 0
    loaded = snap.load_snap(out)
    assert (loaded.width, loaded.depth) == (4, 3)
