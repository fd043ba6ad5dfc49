"""Run by tests/test_distributed.py under torchrun: the engine under DDP against one process.

    torchrun --nproc_per_node 2 tests/ddp_worker.py OUT.json

A batch-norm-free toy GAN with the R1 penalty, then with a gradient penalty (both double
backward), trains for a few steps on 2 ranks, each on its shard of every global batch, through
:func:`vgan_utils.distributed.distribute`. Rank 0 also trains the same GAN alone on the
whole global batch. Without batch norm, the two runs do the same arithmetic up to the order
of float sums, so with R1 their losses and weights must agree to float rounding. Rank 0 writes what
it saw to OUT.json; the test asserts on it.
"""

from __future__ import annotations

import json
import sys
from functools import partial

import torch
import torch.distributed as dist
from gan_fixtures import toy_trainer

from vgan_utils import distributed
from vgan_utils.training import TrainConfig

STEPS, GLOBAL_BATCH = 5, 32
# R1 has no randomness: DDP must repeat the single process. The gradient penalty's mixing
# weights are drawn per rank (the same generator state on every rank), not the single
# process's draw, so there only the replicas' agreement is checked.
CONFIGS = {
    "r1": TrainConfig(loss="hinge", lr_g=1e-3, lr_d=2e-3, r1_weight=1.0, ema_decay=0.9),
    "gp": TrainConfig(loss="wasserstein", lr_g=1e-3, lr_d=2e-3, gp_weight=10.0),
}


def toy_batch(i: int, shard: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """The i-th global batch of a 2-D Gaussian, this rank's rows only."""
    g = torch.Generator().manual_seed(1000 + i)
    full = torch.randn(GLOBAL_BATCH, 2, generator=g) * 0.5 + torch.tensor([2.0, -1.0])
    return distributed.shard_rows(full, shard)


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def ranks_equal(tensor: torch.Tensor, world: distributed.World) -> bool:
    """Whether every rank holds exactly this tensor (gathered here, not by the code tested)."""
    everyone = [torch.empty_like(tensor) for _ in range(world.size)]
    dist.all_gather(everyone, tensor)
    return all(torch.equal(everyone[0], other) for other in everyone)


def one_run(config: TrainConfig, world: distributed.World) -> dict:
    """Train under DDP; on rank 0, also alone on the global batch; what rank 0 saw."""
    ddp = distributed.distribute(
        toy_trainer(config, batch_fn=partial(toy_batch, shard=world.shard)), world)
    ddp.train(STEPS)
    g, d = flat(ddp.generator), flat(ddp.discriminator)
    same = ranks_equal(g, world) and ranks_equal(d, world)
    result = {"ranks_equal": same, "local_batch": ddp.batch_fn(0).shape[0],
              "losses_ddp": {k: ddp.history[k] for k in ("loss_d", "loss_g")}}
    if world.is_main:
        alone = toy_trainer(config, batch_fn=toy_batch)
        alone.train(STEPS)
        result["losses_alone"] = {k: alone.history[k] for k in ("loss_d", "loss_g")}
        result["max_weight_diff"] = max((g - flat(alone.generator)).abs().max().item(),
                                        (d - flat(alone.discriminator)).abs().max().item())
    # check_replicas must notice a rank whose weights drifted
    with torch.no_grad():
        next(ddp.discriminator.parameters()).add_(1e-3 if world.rank == 1 else 0.0)
    try:
        distributed.check_replicas(ddp.discriminator, world)
        result["check_replicas_error"] = ""
    except RuntimeError as err:
        result["check_replicas_error"] = str(err)
    return result


def main(out: str) -> None:
    torch.set_num_threads(1)
    world = distributed.world_from_env()
    distributed.init(world, "cpu")
    results = {name: one_run(config, world) for name, config in CONFIGS.items()}
    if world.is_main:
        with open(out, "w") as f:
            json.dump({"world_size": world.size, **results}, f)
    distributed.close(world)
    distributed.exit_process(0, world)


if __name__ == "__main__":
    main(sys.argv[1])
