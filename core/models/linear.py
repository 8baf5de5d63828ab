"""Linear regression (d2l 3.1-3.5, seed 000): y_hat = Xw + b, from scratch and with nn.Linear.

The from-scratch model holds w (d, 1) and b (1,) as parameters, w drawn from N(0, 0.01^2) and b
zero, exactly as seed 000 writes it; the concise twin is one nn.Linear. Both expose `w` and `b`
with the same shapes so the pages can show learned against true parameters.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearRegressionScratch(nn.Module):
    def __init__(self, num_inputs: int, num_outputs: int = 1, sigma: float = 0.01):
        super().__init__()
        self.w = nn.Parameter(torch.normal(0, sigma, (num_inputs, num_outputs)))
        self.b = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return X @ self.w + self.b  # (n, d) @ (d, q) + (q,) -> (n, q)


class LinearRegression(nn.Module):
    def __init__(self, num_inputs: int, num_outputs: int = 1):
        super().__init__()
        self.net = nn.Linear(num_inputs, num_outputs)
        self.net.weight.data.normal_(0, 0.01)  # d2l's initialisation, so both twins start alike
        self.net.bias.data.zero_()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)

    @property
    def w(self) -> torch.Tensor:
        return self.net.weight.T  # (d, q), the scratch model's layout

    @property
    def b(self) -> torch.Tensor:
        return self.net.bias
