"""Linear regression (d2l 3.1-3.5, seed 000): y_hat = Xw + b, from scratch and with nn.Linear.

The from-scratch model holds w (d, 1) and b (1,) as parameters, w drawn from N(0, 0.01^2) and b
zero, exactly as seed 000 writes it; the concise twin is one nn.Linear. Both expose `w` and `b`
with the same shapes so the pages can show learned against true parameters. Below them, the pure
helpers of the linear-regression page: predictions, the fitted plane, the best fit and the loss surface.
"""

from __future__ import annotations

import math

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


# --- Pure helpers for the linear-regression page: predictions, the fitted plane, the loss surface ----


def predict(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """y_hat (n,) of a trained model for inputs X (n, d), whatever device the model lives on."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(X.to(device, torch.float32)).reshape(-1).cpu()


def plane(params: tuple[float, ...], X: torch.Tensor) -> torch.Tensor:
    """y_hat = Xw + b (n,) from a flat parameter tuple (w1, ..., wd, b), as Progress events carry them."""
    w = torch.tensor(params[:-1], dtype=torch.float64)
    return X.double() @ w + params[-1]


def least_squares(X: torch.Tensor, y: torch.Tensor) -> tuple[float, ...]:
    """The (w1, ..., wd, b) of lowest squared loss on (X, y): the best any run can reach."""
    X1 = torch.cat([X, torch.ones(len(X), 1, device=X.device)], dim=1).double()  # a column of ones carries b
    return tuple(torch.linalg.lstsq(X1.cpu(), y.double().reshape(-1, 1).cpu()).solution.reshape(-1).tolist())


def loss_surface(
    X: torch.Tensor, y: torch.Tensor, b: float, w1_grid: torch.Tensor, w2_grid: torch.Tensor
) -> torch.Tensor:
    """MSE of y_hat = x1 w1 + x2 w2 + b at every grid point: shape (len(w2_grid), len(w1_grid)), rows = w2.

    The same loss training minimises (not halved). The squared loss is a quadratic in w,
    w^T (X^T X / n) w - 2 w^T X^T (y - b) / n + mean((y - b)^2), so three small statistics of the data give
    the whole grid in O(n + grid) time and memory, whatever the number of examples. Float64, so that the
    huge weights of a diverging run still give finite values.
    """
    X, r = X.double().cpu(), (y.double().reshape(-1) - b).cpu()  # r: what Xw has to explain once b is set
    n = len(X)
    A, c, d = X.T @ X / n, X.T @ r / n, (r @ r) / n  # (2, 2), (2,), ()
    W2, W1 = torch.meshgrid(w2_grid.double().cpu(), w1_grid.double().cpu(), indexing="ij")
    W = torch.stack([W1, W2], dim=-1)  # (rows, cols, 2): every grid point's w
    return torch.einsum("...i,ij,...j->...", W, A, W) - 2 * W @ c + d


def grid_around(
    points: list[tuple[float, float]], size: int = 60, pad: float = 0.2, clip: float = math.inf
) -> tuple[torch.Tensor, ...]:
    """Two axes of `size` values covering the (w1, w2) points with `pad` of the span to spare.

    Points beyond `clip` in either coordinate are left out: a diverging path would otherwise stretch the
    grid until the valley is a dot. The first point is always kept.
    """
    P = torch.tensor(points, dtype=torch.float64)
    P = torch.cat([P[:1], P[1:][P[1:].abs().amax(dim=1) <= clip]])
    low, high = P.min(dim=0).values, P.max(dim=0).values
    margin = (high - low).clamp(min=1.0) * pad  # at least some room when all points coincide
    return tuple(torch.linspace(float(lo - m), float(hi + m), size) for lo, hi, m in zip(low, high, margin))
