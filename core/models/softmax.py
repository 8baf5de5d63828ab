"""Softmax regression (d2l 4.1-4.5, seeds 000 and 003): one linear layer from pixels to class logits.

Both twins return logits O = XW + b of shape (n, q); the softmax lives in the loss, where it can be
computed stably (core.ops). The from-scratch model holds W (d, q) drawn from N(0, 0.01^2) and b;
the concise one is nn.Flatten + nn.Linear. `W` has the same layout in both, so each class's
weights can be drawn as an image.
"""

from __future__ import annotations

import torch
from torch import nn


class SoftmaxRegressionScratch(nn.Module):
    def __init__(self, num_inputs: int, num_outputs: int, sigma: float = 0.01):
        super().__init__()
        self.W = nn.Parameter(torch.normal(0, sigma, (num_inputs, num_outputs)))
        self.b = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = X.reshape(-1, self.W.shape[0])  # (n, C, H, W) -> (n, d)
        return X @ self.W + self.b  # (n, q) logits


class SoftmaxRegression(nn.Module):
    def __init__(self, num_inputs: int, num_outputs: int):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)

    @property
    def W(self) -> torch.Tensor:
        return self.net[1].weight.T  # (d, q)

    @property
    def b(self) -> torch.Tensor:
        return self.net[1].bias


def weight_images(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """Each class's weights as a grey image (q, H, W) in [0, 1]: 0.5 is a weight of 0, brighter votes for the class.

    Colour channels are averaged. One scale for every class (the largest |w| of all maps to 0 or 1), so the same
    grey means the same weight in every picture and a class with weak weights looks faint.
    """
    from core.models import bare  # core.models imports this module first

    C, H, W = input_shape
    weights = bare(model).W.detach().cpu().T.reshape(-1, C, H, W).mean(dim=1)  # (q, H, W)
    return 0.5 + weights / (2 * weights.abs().max().clamp(min=1e-12))
