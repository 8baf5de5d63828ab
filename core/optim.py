"""Optimizers and learning-rate schedules: SGD and one-cycle written by hand (d2l 3.4, 12.11), and a run's choice.

`SGD` is the update w <- w - lr * grad, with optional weight decay, momentum and Nesterov momentum, in a
few lines; `OneCycle` raises the lr from lr/25 to lr over the first 30% of the steps and lowers it to
almost 0 over the rest, both along half a cosine (Smith 2018). Tests check that both take exactly the
steps of their `torch.optim` twins. `make_optimizer` and `make_schedule` give a run these when it is
built from scratch and PyTorch's otherwise. Their signatures carry no type hints, because
`core.export` writes their source into the exported script as it is.
"""

from __future__ import annotations

import math

import torch

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "one_cycle")


class SGD:
    """Minibatch stochastic gradient descent over a list of parameters."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay
        self.velocity = [None] * len(self.params)

    @torch.no_grad()
    def step(self):
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            # weight decay is the gradient of (weight_decay / 2) * ||w||^2: it pulls every weight towards 0
            grad = param.grad.add(param, alpha=self.weight_decay) if self.weight_decay else param.grad
            if self.momentum:
                # v <- momentum * v + grad; the first step starts v at grad, as PyTorch does
                v = grad.clone() if self.velocity[i] is None else self.velocity[i].mul_(self.momentum).add_(grad)
                self.velocity[i] = v
                # Nesterov: step along where the velocity is about to take w, grad + momentum * v
                grad = grad.add(v, alpha=self.momentum) if self.nesterov else v
            param.add_(grad, alpha=-self.lr)  # w <- w - lr * grad

    def zero_grad(self):  # as torch.optim's default (set_to_none): the next backward writes fresh grads
        for param in self.params:
            param.grad = None


class OneCycle:
    """The lr of each step: from max_lr / 25 up to max_lr over 30% of the steps, then down to max_lr / 25e4.

    Call `step()` after each optimizer step, as for torch's OneCycleLR (whose formula this is, without
    its momentum cycling)."""

    def __init__(self, optimizer, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
        self.optimizer, self.total_steps = optimizer, total_steps
        self.initial_lr = max_lr / div_factor
        self.max_lr, self.min_lr = max_lr, self.initial_lr / final_div_factor
        self.warm_end = pct_start * total_steps - 1  # the step at which the lr peaks
        self.step_num = 0
        set_lr(optimizer, self.lr_at(0))

    def lr_at(self, step):
        def cosine(start, end, pct):  # from start (pct 0) to end (pct 1) along half a cosine
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

        if step <= self.warm_end:
            return cosine(self.initial_lr, self.max_lr, step / self.warm_end)
        pct = (step - self.warm_end) / (self.total_steps - 1 - self.warm_end)
        return cosine(self.max_lr, self.min_lr, pct)

    def step(self):
        self.step_num += 1
        set_lr(self.optimizer, self.lr_at(self.step_num))


def set_lr(optimizer, lr):
    """Our SGD keeps one lr; torch.optim's optimizers keep one in each parameter group."""
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        optimizer.lr = lr
    else:
        for group in groups:
            group["lr"] = lr


def current_lr(optimizer) -> float:
    """The lr the optimizer's next step takes (the first parameter group's, for torch.optim)."""
    groups = getattr(optimizer, "param_groups", None)
    return float(optimizer.lr if groups is None else groups[0]["lr"])


def make_optimizer(config, params):
    """The optimizer of a RunConfig: "sgd" | "momentum" | "nesterov" | "adam"; SGD is our own from scratch."""
    params = list(params)
    lr, weight_decay = config.lr, config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    momentum = config.momentum if config.optimizer in ("momentum", "nesterov") else 0.0
    nesterov = config.optimizer == "nesterov"
    if config.scratch:
        return SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, foreach=True)


def make_schedule(config, optimizer, total_steps: int):
    """The lr schedule of a RunConfig, stepped after every optimizer step; None for a constant lr (d2l's)."""
    if config.lr_schedule == "constant":
        return None
    if config.scratch:
        return OneCycle(optimizer, config.lr, total_steps)
    # cycle_momentum=False: the momentum stays what the run says, as in our OneCycle
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=total_steps, cycle_momentum=False)
