"""The from-scratch building blocks of chapters 3-5, each a few lines over plain tensor operations.

Softmax, log-softmax, cross-entropy, squared loss and the three activations, written the way d2l
derives them, plus `loss_fn`, which picks either these or PyTorch's fused versions for a run. The
tests check every function here against its PyTorch twin, as micrograd checks itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def softmax(O: Tensor) -> Tensor:
    """Row-wise softmax of logits O (n, q). Subtracting the row max first keeps exp() finite at O = 1e4."""
    O = O - O.max(dim=1, keepdim=True).values
    O_exp = torch.exp(O)
    return O_exp / O_exp.sum(dim=1, keepdim=True)


def softmax_by_definition(O: Tensor) -> Tensor:
    """exp(O) / sum(exp(O)) exactly as the definition reads (d2l 3.6, exercise 1): in float32, exp(89) is already
    inf, so a row with a logit above about 88.7 turns into inf / inf = nan. `softmax` is the fix."""
    O_exp = torch.exp(O)
    return O_exp / O_exp.sum(dim=1, keepdim=True)


def cross_entropy_by_definition(y_hat: Tensor, y: Tensor) -> Tensor:
    """Mean of -log(y_hat[i, y_i]) for probabilities y_hat (n, q), as the definition reads (d2l 3.6, exercise 2): a
    true class whose probability underflowed to 0 gives -log(0) = inf. `cross_entropy` works from the logits
    with `log_softmax`, which never takes a log of 0."""
    return -torch.log(y_hat[torch.arange(len(y), device=y.device), y]).mean()


def log_softmax(O: Tensor) -> Tensor:
    """log(softmax(O)) without ever taking log(0): o - max - log(sum(exp(o - max)))."""
    O = O - O.max(dim=1, keepdim=True).values
    return O - torch.log(torch.exp(O).sum(dim=1, keepdim=True))


def cross_entropy(O: Tensor, y: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean of -log p(y | x) for logits O (n, q) and labels y (n,).

    With label smoothing e the target is 1 - e on the true class plus e spread evenly over all q classes, so the
    loss adds e times the mean of -log p over the classes: the model is never pushed to certainty."""
    log_p = log_softmax(O)  # (n, q)
    nll = -log_p[torch.arange(len(y), device=y.device), y]  # (n,)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * log_p.mean(dim=1)
    return nll.mean()


def mse(y_hat: Tensor, y: Tensor) -> Tensor:
    """Mean squared error (seed 000's MSE; d2l halves it, which only rescales the learning rate)."""
    return ((y_hat - y.reshape(y_hat.shape)) ** 2).mean()


def one_hot(y: Tensor, num_classes: int) -> Tensor:
    return (y.reshape(-1, 1) == torch.arange(num_classes, device=y.device)).float()


def relu(X: Tensor) -> Tensor:
    return torch.where(X > 0, X, torch.zeros_like(X))  # gradient 0 at X = 0, as torch.relu


def sigmoid(X: Tensor) -> Tensor:
    """1 / (1 + exp(-X)), computed as exp(X) / (1 + exp(X)) for X < 0 so that exp never overflows."""
    E = torch.exp(torch.where(X >= 0, -X, X))  # exp(-|X|) in (0, 1]; not abs(), whose gradient at 0 is 0
    return torch.where(X >= 0, 1 / (1 + E), E / (1 + E))


def tanh(X: Tensor) -> Tensor:
    return 2 * sigmoid(2 * X) - 1


ACTIVATIONS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    # name: (from scratch, PyTorch)
    "relu": (relu, torch.relu),
    "sigmoid": (sigmoid, torch.sigmoid),
    "tanh": (tanh, torch.tanh),
}

# Losses a run can use. For classification, the two "mse" losses compare a probability vector with
# the one-hot label: the weaker choices of seed 004's loss ladder.
LOSSES = ("auto", "cross_entropy", "softmax_mse", "sigmoid_mse", "mse")


def loss_fn(
    name: str, scratch: bool, classification: bool, label_smoothing: float = 0.0
) -> Callable[[Tensor, Tensor], Tensor]:
    """The loss for a run: `name` from LOSSES ("auto": cross-entropy or MSE by task); cross-entropy may smooth."""
    if name == "auto":
        name = "cross_entropy" if classification else "mse"
    if name == "mse":
        return mse if scratch else F.mse_loss
    if name == "cross_entropy":
        if not label_smoothing:
            return cross_entropy if scratch else F.cross_entropy
        return functools.partial(cross_entropy if scratch else F.cross_entropy, label_smoothing=label_smoothing)
    if name not in ("softmax_mse", "sigmoid_mse"):
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    if name == "softmax_mse":
        squash = softmax if scratch else (lambda O: F.softmax(O, dim=1))
    else:
        squash = sigmoid if scratch else torch.sigmoid

    def prob_mse(O: Tensor, y: Tensor) -> Tensor:
        return mse(squash(O), one_hot(y, O.shape[1]))

    return prob_mse
