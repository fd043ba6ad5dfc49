"""The command line's training on several processes, GPUs or machines, with PyTorch's own engine.

    torchrun --nproc_per_node 2 -m vgan_utils.train --config frames32 --steps 6000 --out f.pt

``torchrun`` starts one process per device and tells each its place through environment
variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); :func:`world_from_env` reads them, and
without them (a plain ``python -m vgan_utils.train``) the world is one process and nothing
here changes the run. Under torchrun:

* every process builds the same networks from the same seed, and
  :class:`~torch.nn.parallel.DistributedDataParallel` averages G's and D's gradients
  after every ``backward()`` (NCCL between GPUs, gloo between CPU processes), so the
  weights stay identical on every rank;
* the run's batch size is the *global* batch: step ``i``'s real batch and latent codes are
  the ones a single process would draw, and rank ``r`` of ``W`` keeps rows ``r, r + W, ...``
  (as :class:`torch.utils.data.DistributedSampler` deals out indices). The shards are
  disjoint, their union is the single process's batch, and the training maths (a mean loss
  over the global batch, hence the learning rates) do not depend on ``W``;
* batch norm stays per rank: each process normalises with its own shard's statistics
  (``SyncBatchNorm`` runs on GPUs only and has no double backward, which R1 needs) and keeps
  its own running statistics, which training never reads (they serve sampling in eval
  mode); the checkpoint keeps rank 0's;
* random draws inside a step (the gradient penalty's mixing weights, MoCoGAN's choice of
  frames) come from generators in the same state on every rank, each rank drawing for its
  own rows: valid draws, though not the ones a single process would make;
* only rank 0 reads and writes checkpoints and prints; a resumed state is sent from rank 0
  to the others, so the machines need no shared disk.

Taught for learners who outgrow the notebook in the README's "Train at scale".
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from .training import GANTrainer


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints and logs, so W processes never race on one file."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        """``(rank, size)``: which rows of every global batch this process trains on."""
        return self.rank, self.size


def world_from_env(environ: dict[str, str] | None = None) -> World:
    """The :class:`World` torchrun describes in the environment; one process without it."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return World()
    return World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0")))


def local_batch(global_batch: int, world: World) -> int:
    """Rows per process; the global batch must split evenly, or the ranks' means would differ
    in weight and DDP's average of them would not be the global batch's gradient."""
    if global_batch % world.size:
        raise ValueError(f"the global batch {global_batch} does not split evenly over "
                         f"{world.size} processes: pass --batch-size with a multiple of "
                         f"{world.size}")
    return global_batch // world.size


def shard_rows(rows: Any, shard: tuple[int, int]) -> Any:
    """Rank ``r`` of ``W``'s rows ``r, r + W, ...`` of a global batch (or of its indices)."""
    rank, size = shard
    return rows[rank::size]


def shard_sampler(z_sampler: Callable[[int, torch.Generator], Tensor], world: World
                  ) -> Callable[[int, torch.Generator], Tensor]:
    """A latent sampler that draws the global batch's codes and keeps this rank's rows.

    Every rank's generator holds the same state, so drawing ``n * W`` codes and keeping a
    strided share gives each rank different codes and all ranks together the single process's
    codes. Codes are small: drawing all of them costs nothing next to a training step.
    """
    def sample(n: int, gen: torch.Generator) -> Tensor:
        return shard_rows(z_sampler(n * world.size, gen), world.shard)

    return sample


def device_for(world: World, prefer: str | None) -> torch.device:
    """One process per device: ``cuda:LOCAL_RANK`` on GPUs, otherwise the CPU."""
    kind = torch.device(prefer).type if prefer else (
        "cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda":
        if torch.cuda.device_count() <= world.local_rank:
            raise RuntimeError(f"local rank {world.local_rank} has no GPU: this machine has "
                               f"{torch.cuda.device_count()}; start at most that many "
                               "processes per node (--nproc_per_node)")
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    if kind != "cpu":
        raise ValueError(f"training on several processes runs on CUDA (NCCL) or the CPU "
                         f"(gloo), not {kind!r}: pass --device cpu or cuda")
    return torch.device("cpu")


def init(world: World, prefer: str | None = None) -> torch.device:
    """Join the process group (NCCL for GPUs, gloo for CPUs); returns this rank's device."""
    device = device_for(world, prefer)
    if world.size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, **({"device_id": device} if backend == "nccl" else {}))
    return device


def close(world: World) -> None:
    """Leave the process group (torchrun warns about processes that do not).

    All ranks meet at a barrier first, so no rank tears its connections down while another
    still uses them. The process must still end with :func:`exit_process`.
    """
    if world.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def exit_process(code: int | None, world: World) -> NoReturn:
    """End this process with ``code`` once its work is done and its files are written.

    Why not a plain ``sys.exit`` on several processes: gloo's worker threads free finished
    collectives (their tensors are Python objects) on their own time, and one that does so
    while the interpreter shuts down cannot take the GIL and aborts the process
    ("terminate called without an active exception", SIGABRT: here 1 run in 16 to 30 of
    the two-process smoke run while the 2 cores were busy, none in 40 on idle cores; a core
    dump showed ``ProcessGroupGloo::runLoop`` freeing the barrier's work during
    ``Py_FinalizeEx``). torchrun then reports a finished run as failed. A rank of several
    therefore flushes its output and leaves with ``os._exit``, skipping the interpreter's
    teardown, which has nothing left to do: checkpoints are written atomically and closed
    before this. One process exits normally.
    """
    if world.size == 1:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def mean_over_ranks(values: Tensor) -> Tensor:
    """The mean of ``values`` over all ranks (gloo has no AVG, so a sum divided by W)."""
    total = values.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / dist.get_world_size()


def distribute(trainer: GANTrainer, world: World) -> GANTrainer:
    """Make ``trainer`` one replica of W: DDP forwards, sharded codes, statistics averaged.

    The real batches are sharded where they are drawn (``build_trainer(..., shard=...)``).
    ``fixed_z`` was drawn before the codes were sharded, so every rank watches the same
    samples a single process would. Returns ``trainer``.
    """
    if world.size == 1:
        return trainer
    ids = [trainer.device.index] if trainer.device.type == "cuda" else None
    # broadcast_buffers=False: D runs twice (real, fake) before one backward, and DDP's
    # in-place broadcast of batch-norm buffers between the two made backward fail in some
    # PyTorch versions (pytorch/pytorch#175024). Training never reads the running statistics,
    # and spectral norm's vectors come out the same on every rank from the same weights.
    trainer.wrap_networks(lambda net: DistributedDataParallel(net, device_ids=ids,
                                                              **_no_buffer_sync()))
    trainer.z_sampler = shard_sampler(trainer.z_sampler, world)
    trainer.reduce_stats = mean_over_ranks
    return trainer


def _no_buffer_sync() -> dict[str, bool]:
    """DDP's switch for "no buffer broadcast before each forward": newer PyTorch names it
    ``forward_sync_buffers`` and warns about the older ``broadcast_buffers``."""
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    key = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    return {key: False}


def from_rank0(value: Any, world: World) -> Any:
    """Rank 0's ``value`` on every rank (a resumed state, or an error all ranks must raise).

    Checkpoints are read on rank 0 only and sent over the process group, so several machines
    need no shared disk, and every rank resumes from the very same bytes.
    """
    if world.size == 1:
        return value
    box = [value if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def check_replicas(module: nn.Module, world: World) -> None:
    """Raise if this rank's weights differ from rank 0's: DDP must keep replicas identical.

    Checked before every checkpoint, since rank 0 saves for everyone. A difference means
    something outside DDP's averaging changed one rank's weights.
    """
    if world.size == 1:
        return
    mine = torch.cat([p.detach().reshape(-1).float() for p in module.parameters()])
    rank0 = mine.clone()
    dist.broadcast(rank0, src=0)
    differs = torch.tensor([0.0 if torch.equal(mine, rank0) else 1.0], device=mine.device)
    dist.all_reduce(differs, op=dist.ReduceOp.SUM)
    if differs.item():
        raise RuntimeError(f"the weights of {int(differs.item())} rank(s) differ from rank 0's "
                           f"(here, rank {world.rank}: max difference "
                           f"{(mine - rank0).abs().max().item():.3g})")
