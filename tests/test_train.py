"""core.train: config checks, progress events, cancel, divergence, reproducibility and the accuracy targets."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import replace

import pytest
import torch

import core.train
from core.evaluate import loss_and_accuracy
from core.models import bare
from core.optim import SGD, OneCycle
from core.train import (
    RECIPE,
    ConfigError,
    Finished,
    Progress,
    RunConfig,
    Started,
    chance_accuracy,
    divergence_message,
    fit,
    guessing_message,
    is_guessing,
    start,
    train,
)


def events_of(run) -> tuple[Started, list[Progress], Finished]:
    events = list(fit(run))
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert all(isinstance(e, Progress) for e in events[1:-1])
    return events[0], events[1:-1], events[-1]


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- RunConfig ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"lr": 0}, ["lr", "above 0"]),
        ({"lr": -0.1}, ["lr", "above 0"]),
        ({"lr": float("nan")}, ["lr", "above 0", "nan"]),
        ({"lr": float("inf")}, ["lr", "at most 100"]),
        ({"lr": 1000.0}, ["lr", "at most 100"]),
        ({"lr": "0.1"}, ["lr", "number"]),
        ({"batch_size": 0}, ["batch_size", "whole number", "1"]),
        ({"batch_size": 2.5}, ["batch_size", "whole number"]),
        ({"epochs": 0}, ["epochs", "whole number", "1"]),
        ({"seed": -1}, ["seed", "at least 0"]),
        ({"num_layers": 0}, ["num_layers"]),
        ({"evals_per_epoch": 0}, ["evals_per_epoch"]),
        ({"model": "cnn"}, ["model", "'cnn'", "choose one of", "softmax", "mlp", "resnet"]),
        ({"implementation": "fast"}, ["implementation", "scratch", "concise"]),
        ({"dataset": "imagenet"}, ["dataset", "'imagenet'", "fashion_mnist", "mnist", "cifar10", "synthetic", "exam"]),
        ({"device": "tpu"}, ["device", "'tpu'", "auto", "cpu", "cuda", "mps"]),
        ({"optimizer": "rmsprop"}, ["optimizer", "sgd", "momentum", "adam"]),
        ({"activation": "gelu"}, ["activation", "relu", "sigmoid", "tanh"]),
        ({"loss": "hinge"}, ["loss", "cross_entropy"]),
        ({"model": "linear", "dataset": "fashion_mnist"}, ["linear", "table dataset", "synthetic", "exam"]),
        ({"model": "softmax", "dataset": "synthetic"}, ["softmax", "image dataset", "synthetic"]),
        ({"model": "mlp", "dataset": "exam"}, ["image dataset"]),
        ({"model": "linear", "dataset": "exam", "loss": "cross_entropy"}, ["squared loss"]),
        ({"noise": -1.0}, ["noise", "at least 0"]),
        ({"init_std": -1.0}, ["init_std", "0 (the model's own init)", "up to 100"]),
        ({"init_std": float("nan")}, ["init_std", "nan"]),
        ({"init_std": "1"}, ["init_std"]),
        # the training recipe (issue 11): the same refusals from the sidebar and from a shared link
        ({"momentum": 1.5}, ["momentum", "above 0 and below 1", "1.5"]),
        ({"momentum": 1.0}, ["momentum", "below 1"]),
        ({"momentum": float("nan")}, ["momentum", "nan"]),
        ({"weight_decay": -1e-4}, ["weight_decay", "from 0 to 1", "-0.0001"]),
        ({"weight_decay": float("inf")}, ["weight_decay", "from 0 to 1"]),
        ({"label_smoothing": 1.0}, ["label_smoothing", "below 1"]),
        ({"label_smoothing": -0.1}, ["label_smoothing", "at least 0"]),
        ({"label_smoothing": True}, ["label_smoothing"]),
        ({"lr_schedule": "cyclic"}, ["lr_schedule", "'cyclic'", "constant", "one_cycle"]),
        ({"label_smoothing": 0.1, "loss": "softmax_mse"}, ["label smoothing", "cross-entropy", "softmax_mse"]),
        ({"normalize": "yes"}, ["normalize", "True or False"]),
        ({"normalize": True, "model": "linear", "dataset": "exam"}, ["normalisation", "image datasets"]),
        ({"eval_examples": -1}, ["eval_examples"]),
    ],
)
def test_invalid_configs_are_refused_with_what_is_allowed(options, expected):
    with pytest.raises(ConfigError) as info:
        RunConfig(**options)
    message = str(info.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"model": "linear", "dataset": "synthetic"},
        {"model": "linear", "dataset": "exam", "implementation": "scratch"},
        {"model": "mlp", "activation": "tanh", "num_layers": 3},
        {"model": "resnet", "dataset": "cifar10", "device": "cpu", "optimizer": "adam"},
        {"model": "softmax", "loss": "softmax_mse", "lr": 100, "batch_size": 1, "epochs": 1},
        {"model": "mlp", "init_std": 1},
        {
            "model": "resnet",
            "optimizer": "nesterov",
            "momentum": 0.95,
            "weight_decay": 5e-4,
            "lr_schedule": "one_cycle",
        },
        {"label_smoothing": 0.1, "normalize": True, "eval_examples": 2000},
    ],
)
def test_valid_configs_are_accepted(options):
    config = RunConfig(**options)
    assert RunConfig(**config.as_dict()) == config


def _no_accelerator() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return not torch.cuda.is_available() and not (mps and mps.is_available())


@pytest.mark.skipif(not _no_accelerator(), reason="this machine has a GPU, so auto picks it")
def test_auto_device_trains_on_the_cpu_here(tiny):
    run = start(RunConfig(device="auto", epochs=1), data=tiny)
    assert run.device == torch.device("cpu")
    started, _, finished = events_of(run)
    assert started.device == "cpu"
    assert started.device_name.startswith("CPU")
    assert finished.status == "completed"


def test_the_cpu_is_named_with_its_threads():
    from core.device import describe

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe(torch.device("cpu")) == "CPU (1 thread)"
        torch.set_num_threads(2)
        assert describe(torch.device("cpu")) == "CPU (2 threads)"
        assert describe(torch.device("cpu"), threads=1) == "CPU (1 thread)", "a trainer's, not this process's"
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_one_is_a_config_error(tiny):
    config = RunConfig(device="cuda")  # a known name: the check that it exists comes when the run starts
    with pytest.raises(ConfigError, match="'cuda' is not available on this machine; choose one of: auto, cpu"):
        start(config, data=tiny)


# --- Progress events ------------------------------------------------------------------------


def test_progress_events_come_several_times_an_epoch_and_make_sense(small):
    config = RunConfig(model="softmax", batch_size=64, epochs=3, evals_per_epoch=4)
    run = start(config, data=small)
    started, progress, finished = events_of(run)

    assert started.steps_per_epoch == math.ceil(2000 / 64) == 32
    assert started.total_steps == 3 * 32
    assert started.num_params == 784 * 10 + 10
    assert finished.status == "completed" and finished.step == started.total_steps
    assert "val accuracy" in finished.message
    assert run.outcome == finished and run.history == progress

    evals = [p for p in progress if p.val_loss is not None]
    for epoch in (1, 2, 3):
        in_epoch = [p for p in evals if math.ceil(p.epoch) == epoch]
        assert len(in_epoch) >= config.evals_per_epoch, f"epoch {epoch}: {len(in_epoch)} evaluations"
        assert in_epoch[-1].epoch == epoch and in_epoch[-1].step == epoch * 32, "the last one ends the epoch"
    steps = [p.step for p in progress]
    assert steps == sorted(set(steps)) and steps[-1] == started.total_steps
    assert all(b.elapsed >= a.elapsed for a, b in zip(progress, progress[1:]))
    assert all(b.epoch > a.epoch for a, b in zip(progress, progress[1:]))
    for p in progress:
        assert p.total_steps == started.total_steps
        assert p.epoch == pytest.approx(p.step / 32)
        assert math.isfinite(p.train_loss) and p.train_loss > 0
        assert p.examples_per_s > 0 and p.elapsed > 0
        assert (p.val_loss is None) == (p.val_acc is None)
        if p.val_loss is not None:
            assert math.isfinite(p.val_loss) and p.val_loss > 0
            assert 0 <= p.val_acc <= 1
    assert finished.elapsed >= progress[-1].elapsed
    assert progress[-1].seconds_left == 0
    assert run.last_eval == evals[-1]
    assert all(p.params is None for p in progress), "7,850 parameters are too many to send with each event"
    assert evals[-1].val_acc > 0.6, "softmax regression learns something from 2,000 images"
    assert evals[-1].val_loss < evals[0].val_loss


def test_regression_progress_has_a_loss_and_no_accuracy():
    run = start(RunConfig(model="linear", dataset="synthetic", lr=0.03, batch_size=32, epochs=2, num_examples=200))
    _, progress, finished = events_of(run)
    evals = [p for p in progress if p.val_loss is not None]
    assert len(evals) >= 2 * 4
    assert all(p.val_acc is None for p in progress)
    assert finished.status == "completed" and "val loss" in finished.message and "2 epochs" in finished.message
    # a model this small (w1, w2, b) reports its parameters with every event: the pages draw their path
    assert all(p.params is not None and len(p.params) == 3 for p in progress)
    w, b = run.model.w.detach().flatten().tolist(), run.model.b.detach().tolist()
    assert list(progress[-1].params) == pytest.approx(w + b)
    assert progress[0].params != progress[-1].params


def test_train_examples_uses_only_the_first_examples(small):
    run = start(RunConfig(train_examples=300, epochs=1), data=small)
    assert len(run.data.X_train) == 300 and len(run.data.X_val) == 500
    assert torch.equal(run.data.X_train, small.X_train[:300])


# --- Cancel and divergence --------------------------------------------------------------------


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_cancel_stops_between_steps_and_keeps_what_was_learned(small, implementation):
    run = start(RunConfig(model="mlp", implementation=implementation, num_hiddens=32, batch_size=32, epochs=5), small)
    before = weights(run.model)
    cancel = threading.Event()
    events = []
    for event in fit(run, cancel):
        events.append(event)
        if isinstance(event, Progress):
            cancel.set()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.status == "cancelled"
    assert sum(isinstance(e, Progress) for e in events) == 1, "no event after the cancel but the last"
    first = events[1]
    assert finished.step == first.step < first.total_steps
    assert f"step {finished.step}" in finished.message and "keeps what it learned" in finished.message
    assert run.outcome == finished
    assert not same_weights(weights(run.model), before), "the model keeps the steps it took"


def test_cancel_set_before_the_start_takes_no_step(tiny):
    run = start(RunConfig(epochs=1), data=tiny)
    before = weights(run.model)
    cancel = threading.Event()
    cancel.set()
    run = train(RunConfig(epochs=1), data=tiny, cancel=cancel)
    assert run.outcome.status == "cancelled" and run.outcome.step == 0
    assert same_weights(weights(run.model), before)


def test_a_run_stopped_after_an_evaluation_says_its_accuracy(tiny):
    run = start(RunConfig(model="softmax", batch_size=64, epochs=3, evals_per_epoch=1), tiny)
    cancel = threading.Event()
    for event in fit(run, cancel):
        if isinstance(event, Progress) and event.val_acc is not None:
            cancel.set()  # stopped in the second epoch, after the first evaluation
    assert run.outcome.status == "cancelled"
    assert f"(val accuracy {run.last_eval.val_acc:.1%} at step {run.last_eval.step})" in run.outcome.message


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
@pytest.mark.parametrize(
    ("options", "what"),
    [
        # a deep ReLU net overflows within a few steps
        ({"model": "mlp", "num_layers": 3, "dataset": "fashion_mnist"}, r"became (NaN|infinite)"),
        # linear regression overshoots further each step: caught once the validation loss has risen 1000-fold
        ({"model": "linear", "dataset": "synthetic", "num_examples": 200, "batch_size": 32}, r"grew from \S+ to \S+"),
    ],
    ids=["mlp", "linear"],
)
def test_a_far_too_large_learning_rate_is_reported_as_divergence(small, implementation, options, what):
    config = RunConfig(lr=100, epochs=3, implementation=implementation, **options)
    run = train(config, data=small if config.dataset == "fashion_mnist" else None)
    finished = run.outcome
    assert finished.status == "diverged", finished.message
    assert re.search(f"The loss {what} at step \\d+", finished.message), finished.message
    assert "lr = 100" in finished.message and "try lr <= 10" in finished.message
    bad_step = int(re.search(r"at step (\d+)", finished.message).group(1))
    assert 0 < bad_step <= finished.step, "the step named is one that was taken"
    assert all(math.isfinite(p.train_loss) for p in run.history), "no non-finite loss is reported as progress"


# --- Reproducibility --------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_run_and_another_seed_another(small, monkeypatch):
    # Progress is also reported on a timer; events only at the first step and at evaluations make the history
    # independent of speed.
    monkeypatch.setattr(core.train, "REPORT_SECONDS", math.inf)
    config = RunConfig(model="mlp", num_hiddens=64, batch_size=64, epochs=2, seed=3)
    first, again = train(config, small), train(config, small)
    other = train(replace(config, seed=4), small)

    def losses(run):
        return [p.train_loss for p in run.history]

    assert len(losses(first)) == 1 + 2 * config.evals_per_epoch, "the first step, then each evaluation"
    assert losses(first) == losses(again)
    assert same_weights(weights(first.model), weights(again.model))
    assert losses(first) != losses(other)
    assert not same_weights(weights(first.model), weights(other.model))


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_init_std_draws_every_parameter_from_the_seed(small, implementation):
    """init_std > 0 replaces the model's own init by N(0, init_std^2), the same draws for the same seed."""
    config = RunConfig(model="mlp", implementation=implementation, num_hiddens=64, init_std=0.5, seed=2)
    run = start(config, small)
    values = torch.cat([p.detach().flatten() for p in run.model.parameters()])
    assert values.std() == pytest.approx(0.5, rel=0.05) and values.mean() == pytest.approx(0.0, abs=0.02)
    assert same_weights(weights(run.model), weights(start(config, small).model))
    assert not same_weights(weights(run.model), weights(start(replace(config, seed=3), small).model))
    own = torch.cat([p.detach().flatten() for p in start(replace(config, init_std=0.0), small).model.parameters()])
    assert own.abs().max() < 0.2, "without it, the model's own small init"


def test_the_scale_of_the_initial_weights_decides_whether_a_deep_mlp_learns(fashion):
    """d2l 5.4, as the MLP page's init knob shows it: four ReLU layers of 64, seed 0, 2 epochs on 10,000 images.

    Measured (seeds 0-2, 3 epochs): the default init 62-68%; N(0, 0.01^2) stays at chance (the signal shrinks
    layer after layer, and so do the gradients); N(0, 1) diverges (it grows layer after layer).
    """
    data = fashion.head(10000, 2000)
    deep = RunConfig(model="mlp", num_layers=4, num_hiddens=64, batch_size=64, epochs=2, evals_per_epoch=1)
    default, vanishing, exploding = (train(replace(deep, init_std=std), data) for std in (0.0, 0.01, 1.0))
    assert default.outcome.status == "completed" and default.last_eval.val_acc > 0.45
    assert vanishing.outcome.status == "guessing" and vanishing.last_eval.val_acc < 0.15, "not a success"
    assert "the initial weights (std 0.01) are too small" in vanishing.outcome.message
    assert exploding.outcome.status == "diverged" and "the initial weights (std 1)" in exploding.outcome.message


@pytest.mark.parametrize("dataset", ["synthetic", "exam"])
def test_table_data_follows_the_seed(dataset):
    config = RunConfig(model="linear", dataset=dataset, seed=1)
    a, b, c = start(config), start(config), start(replace(config, seed=2))
    assert torch.equal(a.data.X_train, b.data.X_train)
    assert not torch.equal(a.data.X_train, c.data.X_train)


# --- The accuracy targets, on the full Fashion-MNIST -------------------------------------------


@pytest.fixture(scope="module")
def softmax_runs(d2l_run):
    """Softmax regression as d2l trains it: 10 epochs, lr 0.1, batch 256, on all 60,000 images."""
    return {impl: d2l_run("softmax", implementation=impl) for impl in ("concise", "scratch")}


@pytest.mark.parametrize("implementation", ["concise", "scratch"])
def test_softmax_regression_reaches_82_percent(softmax_runs, implementation):
    run = softmax_runs[implementation]
    assert run.outcome.status == "completed"
    assert run.last_eval.val_acc >= 0.82
    assert len(run.data.X_val) == 10_000


def test_softmax_regression_from_scratch_is_within_a_point_of_concise(softmax_runs):
    scratch, concise = softmax_runs["scratch"].last_eval.val_acc, softmax_runs["concise"].last_eval.val_acc
    assert abs(scratch - concise) <= 0.01


def test_mlp_reaches_84_percent(d2l_run):
    """d2l's 784-256-10 ReLU MLP, 10 epochs of SGD at lr 0.1, batch 256, reaches 84%.

    Plain SGD's final validation accuracy wobbles by about a point from seed to seed (seed 0 ends at 83.7%
    after 85.3% the epoch before; seeds 1 and 2 end near 85%), so the target is on the mean of three seeds,
    and no seed may end below 83%.
    """
    finals = []
    for seed in (0, 1, 2):
        run = d2l_run("mlp", seed)
        assert (run.config.num_hiddens, run.config.activation) == (256, "relu")
        assert run.outcome.status == "completed"
        finals.append(run.last_eval.val_acc)
    assert sum(finals) / 3 >= 0.84, finals
    assert min(finals) >= 0.83, finals


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_linear_regression_recovers_the_true_parameters(implementation):
    config = RunConfig(
        model="linear", dataset="synthetic", implementation=implementation, lr=0.03, batch_size=32, epochs=3
    )
    run = train(config)
    assert run.outcome.status == "completed"
    w, b = run.model.w.detach().flatten(), run.model.b.detach()
    assert w.tolist() == pytest.approx([2.0, -3.4], abs=0.05)
    assert b.tolist() == pytest.approx([4.2], abs=0.05)
    assert run.last_eval.val_loss < 0.01


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_a_small_resnet_trains(fashion, implementation):
    config = RunConfig(
        model="resnet", implementation=implementation, train_examples=2000, batch_size=64, epochs=1, evals_per_epoch=2
    )
    run = train(config, fashion.head(len(fashion.X_train), 500))  # 500 validation images keep the evaluations quick
    # it learns: from chance (ln 10 = 2.3) to 1.26-1.33 over seeds 0-2 in 32 steps. Validation accuracy is no
    # test here: batch norm's running statistics still lag weights that move this fast (10-34% after 32 steps),
    # so the run may end judged "guessing" (24.0% on an AMD EPYC here, over 26% on an Intel CI machine)
    assert run.outcome.status in ("completed", "guessing"), run.outcome.message
    assert len(run.data.X_train) == 2000
    assert run.history and all(math.isfinite(p.train_loss) for p in run.history)
    assert math.isfinite(run.last_eval.val_loss)
    assert run.history[0].train_loss > 2.0 and run.history[-1].train_loss < 1.6


# --- The training recipe (issue 11) -----------------------------------------------------------


def test_a_ragged_last_batch_is_dropped_only_for_models_with_batch_norm(tiny):
    # 512 images in batches of 96: five full batches and a ragged one of 32
    resnet = RunConfig(model="resnet", resnet_width=4, resnet_stages=1, batch_size=96, epochs=2)
    started, progress, _ = events_of(start(resnet, tiny))
    assert started.steps_per_epoch == 5 and started.total_steps == 10, "batch norm never sees the 32 images alone"
    started, _, _ = events_of(start(replace(resnet, model="softmax"), tiny))
    assert started.steps_per_epoch == 6, "a model without batch norm keeps d2l's every-example epoch"
    started, _, _ = events_of(start(replace(resnet, batch_size=128), tiny))
    assert started.steps_per_epoch == 4, "nothing to drop when the batches fit"


def test_evaluations_along_the_way_use_the_subset_and_the_last_one_all(small):
    run = start(RunConfig(model="softmax", epochs=2, batch_size=100, eval_examples=200), small)
    _, progress, finished = events_of(run)
    evals = [p for p in progress if p.val_loss is not None]
    assert [p.val_examples for p in evals] == [200] * (len(evals) - 1) + [500]
    assert all(p.val_examples is None for p in progress if p.val_loss is None)
    full = loss_and_accuracy(run.model, small.X_val, small.y_val, torch.nn.functional.cross_entropy)
    assert (evals[-1].val_loss, evals[-1].val_acc) == pytest.approx(full), "the result is on every validation image"
    assert f"{full[1]:.1%}" in finished.message


@pytest.mark.parametrize("implementation", ["scratch", "concise"])
def test_the_events_carry_the_one_cycle_lr(tiny, implementation):
    config = RunConfig(lr=0.5, lr_schedule="one_cycle", implementation=implementation, batch_size=8, epochs=2)
    started, progress, _ = events_of(start(config, tiny))
    formula = OneCycle(SGD([], lr=0.5), 0.5, started.total_steps)
    assert [p.lr for p in progress] == pytest.approx([formula.lr_at(p.step - 1) for p in progress])
    assert progress[0].lr == pytest.approx(0.5 / 25), "the first step warms up at lr / 25"
    assert max(p.lr for p in progress) > 0.4 and progress[-1].lr < 0.5 / 100
    constant = [p.lr for p in events_of(start(RunConfig(lr=0.5, batch_size=8, epochs=1), tiny))[1]]
    assert set(constant) == {0.5}


def test_normalisation_uses_the_whole_training_sets_statistics_inside_the_model(small):
    run = start(RunConfig(model="mlp", num_hiddens=16, normalize=True, train_examples=300), small)
    mean, std = small.X_train.mean(dim=(0, 2, 3)), small.X_train.std(dim=(0, 2, 3))
    assert run.model.mean.flatten().tolist() == pytest.approx(mean.tolist())  # 2,000 images, not the 300
    assert run.model.std.flatten().tolist() == pytest.approx(std.tolist())
    X = small.X_val[:8]
    torch.testing.assert_close(
        run.model(X), bare(run.model)((X - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1))
    )
    plain = start(RunConfig(model="mlp", num_hiddens=16), small).model
    assert bare(plain) is plain and not hasattr(plain, "mean")


def test_the_twins_train_alike_with_the_recipe(small):
    """The from-scratch optimizer, schedule and loss take the steps torch's take: the same weights after an epoch."""
    recipe = dict(optimizer="nesterov", weight_decay=5e-4, lr_schedule="one_cycle", label_smoothing=0.1)
    config = RunConfig(model="softmax", normalize=True, batch_size=64, epochs=1, **recipe)
    scratch, concise = start(replace(config, implementation="scratch"), small), start(config, small)
    with torch.no_grad():  # the same starting weights (the scratch model draws its own, as d2l does)
        bare(scratch.model).W.copy_(bare(concise.model).W)
        bare(scratch.model).b.copy_(bare(concise.model).b)
    events_of(scratch), events_of(concise)
    # float noise only: X @ W and nn.Linear round differently, and momentum carries it along (8e-5 here)
    torch.testing.assert_close(bare(scratch.model).W, bare(concise.model).W, rtol=0, atol=3e-4)
    assert scratch.last_eval.val_acc == pytest.approx(concise.last_eval.val_acc, abs=0.002)
    assert scratch.last_eval.val_acc > 0.7


@pytest.mark.slow
def test_the_cpu_stays_float32_unless_bfloat16_is_on(tiny, small, monkeypatch):
    """bfloat16 autocast speeds up a GPU, and a CPU with bfloat16 instructions (issue 24); with DASHBOARD_CPU_BF16=0
    (the tests' setting, tests/conftest.py) the CPU computes in float32, exactly as the tests compare."""
    from core.device import autocast

    monkeypatch.setenv("DASHBOARD_CPU_BF16", "0")
    run = start(RunConfig(model="resnet", resnet_width=4, resnet_stages=1), tiny)
    with autocast("cpu"):
        assert run.model(tiny.X_val[:4]).dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")
    assert "bfloat16" not in next(fit(start(run.config, tiny))).device_name

    monkeypatch.setenv("DASHBOARD_CPU_BF16", "1")  # on: the steps in bfloat16, and the run says so
    with autocast("cpu"):
        assert run.model(tiny.X_val[:4]).dtype == torch.bfloat16
    config = RunConfig(model="resnet", resnet_width=8, resnet_stages=2, epochs=3, batch_size=64, lr=0.2, **RECIPE)
    bf16 = start(config, small)
    events = list(fit(bf16))
    assert events[0].device_name.endswith(" in bfloat16") and events[-1].status == "completed", events[-1]
    monkeypatch.setenv("DASHBOARD_CPU_BF16", "0")
    fp32 = start(config, small)
    list(fit(fp32))
    assert bf16.last_eval.val_acc == pytest.approx(fp32.last_eval.val_acc, abs=0.06), "the same lesson, faster"
    assert bf16.history[-1].train_loss != fp32.history[-1].train_loss, "and in another precision, really"
    linear = next(fit(start(RunConfig(model="softmax", epochs=1), tiny)))
    assert "bfloat16" not in linear.device_name, "models without convolutions keep d2l's float32 numbers"


def test_resnet18_runs_through_the_same_loop(tiny):
    """The GPU model of the ResNet page: the same fit, events and batch-norm rule, on a few images here."""
    run = start(RunConfig(model="resnet18", train_examples=24, batch_size=16, epochs=1), tiny.head(24, 16))
    started, progress, finished = events_of(run)
    assert finished.status in ("completed", "guessing"), finished.message  # one step: at chance, and it says so
    assert started.steps_per_epoch == 1, "the ragged 8 are dropped"
    assert started.num_params > 11_000_000 and progress[-1].val_examples == 16


# --- Outcomes that are no success (issue 12) --------------------------------------------------------


def test_a_model_that_collapses_to_chance_says_so_instead_of_succeeding(fashion):
    """The MLP at lr = 10 ended with a green 'Trained ... val accuracy 10.0%': chance, reported as a success."""
    run = train(RunConfig(model="mlp", lr=10, epochs=1, train_examples=10000), fashion)
    assert run.outcome.status == "guessing", run.outcome.message
    message = run.outcome.message
    assert "commonest class scores 10%" in message and "lr = 10) is too large for this model" in message
    assert message.endswith("try lr <= 1.")


def test_the_guessing_message_states_the_line_it_judged_by():
    """'val accuracy 19.2% is no better than guessing (10%)' read false: the line the run missed is said."""
    from core.train import guessing_message, is_guessing

    assert is_guessing(0.192, 0.1)
    message = guessing_message(0.192, 0.1, RunConfig(model="mlp", init_std=0.01), "Trained 10 epochs")
    assert "19.2% is close to guessing" in message and "scores 10%" in message and "scores over 24%" in message


@pytest.mark.parametrize(
    ("accuracy", "options", "expected"),
    [
        (
            0.218,
            {"batch_size": 1},
            "the learning rate (lr = 0.1) is too large for this model with batches of 1; try lr <= 0.01",
        ),
        (0.10, {"lr": 0.0001}, "the learning rate (lr = 0.0001) is too small for this many steps; try a larger lr"),
        (0.11, {"init_std": 0.01, "model": "mlp"}, "the initial weights (std 0.01) are too small"),
        # the post's ladder: N(0, 1) weights and a squared loss on probabilities, not the lr
        (0.14, {"init_std": 1.0, "lr": 1.0, "loss": "sigmoid_mse"}, "saturate the sigmoid, whose squared error"),
        (0.12, {"init_std": 1.0, "lr": 1.0}, "the learning rate (lr = 1) or the initial weights (std 1) are too large"),
    ],
)
def test_guessing_names_the_likely_cause(accuracy, options, expected):
    assert is_guessing(accuracy, 0.10)
    assert expected in guessing_message(accuracy, 0.10, RunConfig(**options), "Trained 1 epoch")


def test_what_counts_as_guessing():
    assert is_guessing(0.235 - 1e-9, 0.10) and not is_guessing(0.236, 0.10)  # ten balanced classes
    assert is_guessing(0.40, 1 / 3) and not is_guessing(0.45, 1 / 3)  # cat / dog / neither
    assert chance_accuracy(torch.tensor([0, 0, 0, 1, 2])) == pytest.approx(0.6)


def test_no_advice_goes_below_the_smallest_lr_a_page_offers():
    """At lr = 0.0001 (the slider's minimum) the old message advised lr <= 1e-05, which no slider can set."""
    message = divergence_message(12, float("inf"), RunConfig(model="linear", dataset="exam", lr=1e-4))
    assert "lr <= 1e-05" not in message and "no cure" in message and "data's scale" in message
    assert "try lr <= 0.001" in divergence_message(12, float("inf"), RunConfig(lr=0.01))


def test_labels_that_cannot_be_learned_do_not_blame_the_lr():
    """Issue 21: 60 noise images a class with made-up labels ended at 38.9% with "lr = 0.1 is too large", though no
    lr learns arbitrary labels: a model that fit its training examples and not the new ones says so."""
    from core import datasets

    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(240, 1, 16, 16, generator=g), torch.randint(0, 2, (240,), generator=g)
    noise = datasets.Data("noise", X[:120], y[:120], X[120:], y[120:], classes=("a", "b"))
    run = train(RunConfig(model="softmax", epochs=100, batch_size=16, lr=0.5), noise)
    assert run.outcome.status == "guessing", run.outcome.message
    assert "fit its training examples" in run.outcome.message and "no learning rate fixes that" in run.outcome.message
    assert "too large" not in run.outcome.message
