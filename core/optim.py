"""Optimizers: minibatch SGD written by hand (d2l 3.4), and the choice of optimizer for a run.

`SGD` is the update w <- w - lr * grad (with optional momentum and weight decay) in a few lines;
a test checks it takes exactly the steps `torch.optim.SGD` takes. `make_optimizer` gives a run
this SGD when it is built from scratch and PyTorch's optimizers otherwise.
"""

from __future__ import annotations

import torch

OPTIMIZERS = ("sgd", "momentum", "adam")


class SGD:
    """Minibatch stochastic gradient descent over a list of parameters."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [None] * len(self.params)

    @torch.no_grad()
    def step(self) -> None:
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            grad = param.grad.add(param, alpha=self.weight_decay) if self.weight_decay else param.grad
            if self.momentum:
                # v <- momentum * v + grad; the first step starts v at grad, as PyTorch does
                v = grad.clone() if self.velocity[i] is None else self.velocity[i].mul_(self.momentum).add_(grad)
                self.velocity[i], grad = v, v
            param.add_(grad, alpha=-self.lr)  # w <- w - lr * grad

    def zero_grad(self) -> None:  # as torch.optim's default (set_to_none): the next backward writes fresh grads
        for param in self.params:
            param.grad = None


def make_optimizer(name: str, params, lr: float, scratch: bool):
    """ "sgd" | "momentum" (0.9) | "adam"; SGD is our own when the run is built from scratch."""
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    momentum = 0.9 if name == "momentum" else 0.0
    if scratch:
        return SGD(params, lr=lr, momentum=momentum)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, foreach=True)
