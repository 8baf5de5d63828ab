"""The linear-regression page's helpers: the plane, the loss surface over (w1, w2), the best fit, the grid."""

import math

import pytest
import torch
import torch.nn.functional as F

from core import datasets
from core.models.linear import (
    LinearRegression,
    LinearRegressionScratch,
    grid_around,
    least_squares,
    loss_surface,
    plane,
    predict,
)


@pytest.fixture
def data():
    return datasets.synthetic(w=(2.0, -3.4), b=4.2, noise=0.5, num_train=300, num_val=10, seed=1)


def test_loss_surface_is_the_training_mse_at_every_grid_point(data):
    w1_grid, w2_grid = torch.linspace(-1, 3, 7), torch.linspace(-5, 0, 5)
    S = loss_surface(data.X_train, data.y_train, 4.0, w1_grid, w2_grid)
    assert S.shape == (5, 7)  # rows follow w2, as plotly's Contour wants
    for i, w2 in enumerate(w2_grid):
        for j, w1 in enumerate(w1_grid):
            y_hat = data.X_train @ torch.tensor([[w1], [w2]]) + 4.0
            assert S[i, j].item() == pytest.approx(F.mse_loss(y_hat, data.y_train).item(), rel=1e-5)


def test_loss_surface_is_lowest_at_the_least_squares_fit(data):
    w1, w2, b = least_squares(data.X_train, data.y_train)
    grid = torch.linspace(-0.5, 0.5, 21)
    S = loss_surface(data.X_train, data.y_train, b, grid + w1, grid + w2)
    assert divmod(int(S.argmin()), 21) == (10, 10)  # the centre of the grid


def test_loss_surface_stays_finite_for_a_diverged_run(data):
    S = loss_surface(data.X_train, data.y_train, 1e17, torch.tensor([-1e18, 1e18]), torch.tensor([1e18]))
    assert torch.isfinite(S).all()


def test_least_squares_recovers_the_true_parameters():
    clean = datasets.synthetic(w=(2.0, -3.4), b=4.2, noise=0.001, num_train=200, num_val=2)
    assert least_squares(clean.X_train, clean.y_train) == pytest.approx((2.0, -3.4, 4.2), abs=1e-3)


@pytest.mark.parametrize("cls", [LinearRegression, LinearRegressionScratch])
def test_plane_from_event_params_is_the_models_prediction(cls, data):
    torch.manual_seed(0)
    model = cls(2)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    params = tuple(torch.cat([p.flatten() for p in model.parameters()]).tolist())  # as core.train reports them
    X = data.X_train[:20]
    expected = model(X).detach().reshape(-1)
    assert torch.allclose(plane(params, X).float(), expected, atol=1e-5)
    assert torch.allclose(predict(model, X), expected)
    assert predict(model, X).shape == (20,)


def test_grid_around_covers_the_points_and_skips_far_ones():
    g1, g2 = grid_around([(0.0, 0.0), (2.0, -3.4), (1e9, 1e9)], size=11, clip=100)
    assert len(g1) == len(g2) == 11
    assert g1[0] < 0 < 2 < g1[-1] and g2[0] < -3.4 < 0 < g2[-1]
    assert g1[-1] < 10 and g2[-1] < 10  # the point at 1e9 would have flattened the valley to a dot
    h1, _ = grid_around([(5.0, 5.0)])  # one point still gives a grid of some width
    assert h1[0] < 5 < h1[-1] and math.isfinite(float(h1[-1]))
