"""The training loop's gradient accumulation (the official Meissonic recipe: batch 2 x 8 accumulation steps):
one optimiser step over k micro-batches moves the weights as one step over their concatenation would; Adam's
eps (train.adam_eps) and the choice of clipped phases reach the loop."""
import torch

from softdimo.config import TrainCfg
from softdimo.stages import Phase
from softdimo.train import train

DATA = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
TARGET = DATA @ torch.arange(1.0, 6.0)[:, None] + 0.3 * torch.randn(8, 1, generator=torch.Generator().manual_seed(1))


class Regression:
    """A two-layer regression whose batches are consecutive slices of DATA (the same 8 rows however cut)."""

    def __init__(self, batch_size: int, accumulation: int, clip: bool):
        self.name, self.cursor = "regression", 0
        self.batch_size, self.accumulation_steps = batch_size, accumulation
        self.phases = [Phase("fit", self.loss, "net", clip=clip)]
        self.ema_modules = ()

    def build(self, device):
        torch.manual_seed(0)
        self.modules = {"net": torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))}

    def next_batch(self, step):
        rows = slice(self.cursor, self.cursor + self.batch_size)
        self.cursor = (self.cursor + self.batch_size) % len(DATA)
        return DATA[rows], TARGET[rows]

    def loss(self, batch, step):
        x, y = batch
        loss = (self.modules["net"](x) - y).pow(2).mean()
        return loss, {"mse": loss}


def run(tmp_path, name, *, batch_size, accumulation, adam_eps=1e3, grad_clip=0.0, clip=True):
    cfg = TrainCfg(steps=1, batch_size=batch_size, lr=1.0, warmup_steps=0, warmup_from="zero", weight_decay=0.0,
                   beta1=0.9, beta2=0.999, adam_eps=adam_eps, grad_clip=grad_clip, ema_decay=0.0, seed=0, log_every=1,
                   ckpt_every=1)
    stage = Regression(batch_size, accumulation, clip)
    train(stage, cfg, tmp_path / name, tmp_path / f"{name}.csv")
    return torch.cat([p.detach().flatten() for p in stage.modules["net"].parameters()]), (tmp_path / f"{name}.csv")


def test_accumulated_step_equals_the_big_batch_step(tmp_path):
    # with a large eps Adam's first step is lr * g / (|g| + eps) ~ lr * g / eps: linear in the gradient, so the
    # weights after one step compare the gradients themselves (eps 1e-8 would give lr * sign(g) and hide them)
    start = run(tmp_path, "none", batch_size=8, accumulation=1, adam_eps=1e30)[0]
    big = run(tmp_path, "big", batch_size=8, accumulation=1)[0]
    accumulated = run(tmp_path, "acc", batch_size=2, accumulation=4)[0]
    single = run(tmp_path, "one", batch_size=2, accumulation=1)[0]
    assert not torch.allclose(big, start, atol=1e-6)  # the step moved the weights
    assert torch.allclose(accumulated, big, rtol=1e-5, atol=1e-9)
    assert not torch.allclose(single, big, rtol=1e-3, atol=1e-7)  # one micro-batch alone is another gradient


def test_adam_eps_and_clipped_phases_reach_the_loop(tmp_path):
    small_eps = run(tmp_path, "small", batch_size=8, accumulation=1, adam_eps=1e-6)[0]
    large_eps = run(tmp_path, "large", batch_size=8, accumulation=1, adam_eps=1e3)[0]
    assert not torch.allclose(small_eps, large_eps)
    clipped = run(tmp_path, "clip", batch_size=8, accumulation=1, grad_clip=1e-3)
    unclipped = run(tmp_path, "noclip", batch_size=8, accumulation=1, grad_clip=1e-3, clip=False)
    assert not torch.allclose(clipped[0], unclipped[0])
    assert "fit_grad_norm" in clipped[1].read_text() and "fit_grad_norm" not in unclipped[1].read_text()
