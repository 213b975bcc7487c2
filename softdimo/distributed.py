"""Data-parallel training and sampling under torchrun (one process per GPU; gloo on CPU, NCCL on CUDA).

Training: every rank holds the same parameters, draws its own share of the global batch (its own seed
stream), and gradients are averaged across ranks before clipping and the optimizer step, so the ranks stay
identical without a DDP wrapper around each of a stage's several modules. Sampling: image i depends only on
its seed, so ranks take contiguous shares of the seeds and rank 0 joins them.

    torchrun --standalone --nproc_per_node 8 -m softdimo.train ...
"""
import os

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def init(device: str) -> str:
    """Join the process group torchrun describes (no-op for a single process); returns this rank's device."""
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"the config asks for device {device!r}, but torch sees no CUDA device on this machine "
                         f"({os.uname().nodename}; torch {torch.__version__}, CUDA build {torch.version.cuda}). Run "
                         "the job where a GPU is (e.g. through the SLURM profile) or use a preset with device: cpu.")
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    if device == "cuda":
        local = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return f"cuda:{local}"
    dist.init_process_group("gloo")
    return device


def per_rank_batch(global_batch: int) -> int:
    if global_batch % world_size():
        raise SystemExit(f"train.batch_size {global_batch} does not split evenly over {world_size()} processes")
    return global_batch // world_size()


def broadcast_parameters(module: torch.nn.Module) -> None:
    if world_size() > 1:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: torch.nn.Module) -> None:
    if world_size() == 1:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:  # every rank must contribute the same tensor layout to the collective
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def all_finite(value: float, device) -> bool:
    """True when the value is finite on every rank (so all ranks stop together)."""
    flag = torch.tensor([0.0 if torch.isfinite(torch.tensor(value)) else 1.0], device=device)
    if world_size() > 1:
        dist.all_reduce(flag)
    return flag.item() == 0


def max_parameter_spread(module: torch.nn.Module) -> float:
    """Largest difference of any parameter between ranks (0 when they agree)."""
    if world_size() == 1:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1).float() for p in module.parameters()])
    hi, lo = flat.clone(), flat.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return float((hi - lo).abs().max())


def share(n: int) -> slice:
    """This rank's contiguous share of n items."""
    per = -(-n // world_size())
    return slice(min(n, rank() * per), min(n, (rank() + 1) * per))


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
