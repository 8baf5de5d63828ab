"""The learning-rate finder: a sensible suggestion for softmax regression, an early stop, no side effects."""

from __future__ import annotations

import math

import pytest
import torch

from core.lessons.lr_finder import EXPLODED, find_lr
from core.train import RunConfig, train

SYNTHETIC = RunConfig(model="linear", dataset="synthetic", batch_size=32)


def test_softmax_regression_gets_a_sensible_suggestion(small):
    sweep = find_lr(RunConfig(model="softmax"), small)
    assert 0.01 <= sweep.suggestion <= 3
    assert sweep.suggestion == pytest.approx(sweep.best_lr / 10)
    assert sweep.lrs[0] == pytest.approx(1e-5) and all(a < b for a, b in zip(sweep.lrs, sweep.lrs[1:]))
    # a valley: the lowest loss lies well inside the sweep and well below where it started
    lowest = sweep.losses.index(min(sweep.losses))
    assert 0 < lowest < len(sweep.losses) - 1
    assert min(sweep.losses) < 0.8 * sweep.losses[0]
    assert sweep.stopped_early and sweep.lrs[-1] < 10  # lr 10 is far too large for it


def test_the_sweep_stops_when_the_loss_explodes():
    # on this data the squared loss diverges for lr above 1: from lr 0.1 to 1000 it soon explodes
    sweep = find_lr(SYNTHETIC, start_lr=0.1, end_lr=1000, num_steps=100)
    assert sweep.stopped_early and len(sweep.lrs) < 100
    assert sweep.lrs[-1] < 10
    # every recorded loss is finite and within EXPLODED times the best before it; the next one was not
    assert all(math.isfinite(l) and l <= EXPLODED * min(sweep.losses[: i + 1]) for i, l in enumerate(sweep.losses))


def test_the_sweep_runs_to_the_end_when_the_loss_never_explodes():
    sweep = find_lr(SYNTHETIC, start_lr=1e-6, end_lr=1e-3, num_steps=50)
    assert not sweep.stopped_early and len(sweep.lrs) == 50
    assert sweep.lrs[-1] == pytest.approx(1e-3)


def test_the_same_config_gives_the_same_sweep():
    assert find_lr(SYNTHETIC, num_steps=50) == find_lr(SYNTHETIC, num_steps=50)


def test_a_trained_model_and_the_global_seed_are_left_alone(tiny):
    run = train(RunConfig(model="mlp", num_hiddens=32, epochs=1, batch_size=128), tiny)
    before = {name: value.clone() for name, value in run.model.state_dict().items()}
    rng = torch.get_rng_state()
    find_lr(run.config, run.data, num_steps=30)
    after = run.model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert torch.equal(torch.get_rng_state(), rng)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        find_lr(SYNTHETIC, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="at least 2 steps"):
        find_lr(SYNTHETIC, num_steps=1)
