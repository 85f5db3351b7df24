"""One run over several processes (`torchrun --nproc-per-node N -m genbench train RECIPE`), with
the semantics of DistributedDataParallel (Li et al., VLDB 2020): every rank holds the whole model,
trains on its share of each global batch, and each gradient is averaged over the ranks as soon as
it is accumulated, so clipping and every optimizer see the gradient of the global batch.

The model's own `train_step` is not wrapped: the averaging hangs on the parameters, so a family
with several optimizers (a GAN) is data-parallel as it stands. Batches are drawn from the run's
generator on every rank alike, so all ranks agree on the global batch; the model's own randomness
(noise, dequantization, augmentation) comes from a per-rank generator derived from the run's seed.
Rank 0 alone claims the run and writes state, checkpoint and record.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from genbench.errors import GenbenchError


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def launched() -> bool:
    """True in a process started by torchrun for a world of several processes."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> None:
    if launched() and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


def finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def check(model, batch_size: int | str, n_train: int) -> None:
    """Refuse, before anything is written, a run that cannot be split over the processes."""
    if size() == 1:
        return
    if not any(p.requires_grad for p in model.parameters()):
        raise GenbenchError(f"model {model.name!r} ({model.family}) has no gradient-trained parameters, so it "
                            "cannot be trained data-parallel; run it without torchrun")
    n = n_train if batch_size == "full" else batch_size
    if n % size():
        raise GenbenchError(f"a global batch of {n} rows does not split evenly over {size()} processes")


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def average_gradients(model) -> None:
    """From now on, each gradient of `model` is the mean over the ranks once accumulated."""
    world = size()

    def hook(p: torch.Tensor) -> None:
        dist.all_reduce(p.grad)
        p.grad.div_(world)

    for p in model.parameters():
        if p.requires_grad:
            p.register_post_accumulate_grad_hook(hook)


def share(batch: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous share of a global batch (sizes differ by at most one row)."""
    return batch.tensor_split(size())[rank()]


def rank_generator(generator: torch.Generator) -> torch.Generator:
    """A generator for this rank's own randomness, derived from the run's seed."""
    g = torch.Generator(device=generator.device)
    g.manual_seed((generator.initial_seed() * 1_000_003 + rank() + 1) % 2**63)
    return g


def mean(stats: dict[str, float]) -> dict[str, float]:
    """Logged scalars averaged over the ranks (each rank's are over its share of the batch)."""
    values = torch.tensor(list(stats.values()), dtype=torch.float64, device=_comm_device())
    dist.all_reduce(values)
    return dict(zip(stats, (values / size()).tolist(), strict=True))


def gather_states(generator: torch.Generator) -> list[torch.Tensor]:
    """Every rank's generator state, in rank order (saved with the run's resumable state)."""
    states: list = [None] * size()
    dist.all_gather_object(states, generator.get_state())  # our own tensors, not a user's file
    return states
