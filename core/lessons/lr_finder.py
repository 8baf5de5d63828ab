"""The learning-rate range test (Smith 2017; fastai's `lr_find`): which learning rate suits this model?

`find_lr` builds a fresh model exactly as `core.train.start` does, then takes a few hundred
minibatch steps while the learning rate grows exponentially, e.g. from 1e-5 to 10, one batch per
step. The loss first barely moves (lr too small), then falls fast, then explodes (lr too large); the
sweep records the smoothed loss at every lr, stops once the loss exceeds four times the best so far,
and suggests a tenth of the lr where the smoothed loss was lowest. This is not a training run: the lr
changes every step and the model is thrown away, so it has its own short loop made of the same
pieces `core.train.fit` uses (`loss_fn`, `make_optimizer`, the data and model from `start`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

import torch

from core import datasets
from core.ops import loss_fn
from core.optim import make_optimizer, set_lr
from core.train import RunConfig, start

START_LR, END_LR, NUM_STEPS = 1e-5, 10.0, 200
SMOOTHING = 0.9  # exponential moving average of the loss: ~10 steps of memory, so one noisy batch is not a trend
EXPLODED = 4.0  # stop once the smoothed loss exceeds this many times the best so far


@dataclass(frozen=True)
class Sweep:
    lrs: tuple[float, ...]  # the lr of each step taken
    losses: tuple[float, ...]  # the smoothed loss after each step
    stopped_early: bool  # the loss exploded before END_LR

    @property
    def best_lr(self) -> float:
        """The lr at the minimum of the smoothed loss."""
        return self.lrs[min(range(len(self.losses)), key=self.losses.__getitem__)]

    @property
    def suggestion(self) -> float:
        """A tenth of `best_lr`. The minimum is already at the edge of divergence (the smoothed loss lags the lr
        by ~10 steps), so training there is unstable; ten times smaller is still in the fast-falling part of the
        curve. The steepest slope is the other common rule, but the slope of a few hundred noisy points jumps
        about from one seed to the next; the minimum does not."""
        return self.best_lr / 10

    @property
    def suggestion_loss(self) -> float:
        """The smoothed loss at the swept lr nearest the suggestion (on the log scale), where a chart marks it."""
        near = min(range(len(self.lrs)), key=lambda i: abs(math.log(self.lrs[i] / self.suggestion)))
        return self.losses[near]


def find_lr(
    config: RunConfig,
    data: datasets.Data | None = None,
    start_lr: float = START_LR,
    end_lr: float = END_LR,
    num_steps: int = NUM_STEPS,
    cancel: threading.Event | None = None,
) -> Sweep | None:
    """Sweep the lr from start_lr to end_lr over num_steps minibatches of a fresh model of `config`;
    None if `cancel` is set before the sweep ends."""
    if not (0 < start_lr < end_lr) or num_steps < 2:
        raise ValueError(f"need 0 < start_lr < end_lr and at least 2 steps (got {start_lr}, {end_lr}, {num_steps})")
    run = start(config, data)  # a new model from the seed: a trained one is never touched
    model, data = run.model, run.data
    loss = loss_fn(config.loss, config.scratch, data.is_classification, config.label_smoothing)
    optimizer = make_optimizer(replace(config, lr=start_lr), model.parameters())
    shuffler = torch.Generator().manual_seed(config.seed)
    n, batch_size = len(data.X_train), min(config.batch_size, len(data.X_train))
    growth = (end_lr / start_lr) ** (1 / (num_steps - 1))  # lr_t = start_lr * growth^t
    model.train()
    lrs, losses, average, best = [], [], 0.0, math.inf
    order = torch.empty(0, dtype=torch.int64)
    for t in range(num_steps):
        if cancel is not None and cancel.is_set():
            return None
        if len(order) < batch_size:  # a new pass over the data: reshuffle
            order = torch.randperm(n, generator=shuffler).to(run.device)
        idx, order = order[:batch_size], order[batch_size:]
        lr = start_lr * growth**t
        set_lr(optimizer, lr)
        l = loss(model(data.X_train.index_select(0, idx)), data.y_train.index_select(0, idx))
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * l.item()
        smoothed = average / (1 - SMOOTHING ** (t + 1))  # bias correction: the average starts at 0
        if not math.isfinite(smoothed) or smoothed > EXPLODED * best:
            break
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
    stopped_early = len(lrs) < num_steps
    if not lrs:
        raise ValueError(f"the loss exploded at the very first step (lr = {start_lr:g}); start lower")
    return Sweep(tuple(lrs), tuple(losses), stopped_early)
