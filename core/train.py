"""The one training loop, for every model: a frozen config in, a stream of small progress events out.

`RunConfig` says everything about a run (model, implementation, dataset, lr, batch size, epochs,
seed, device, optimizer, loss, the model's knobs and its init, and the training recipe: momentum, weight
decay, lr schedule, label smoothing, input normalisation) and rejects values that make no sense with a
message naming what is allowed; `PLAIN` is d2l's recipe, its defaults, and `RECIPE` the modern one the
ResNet page starts from. `start` resolves the device once, loads the data onto it and builds the model
from the seed; `fit` then runs plain minibatch training - shuffle indices, slice a batch from tensors
already on the device, forward, loss, backward, step (and the schedule's step) - and yields `Progress`
several times an epoch (train loss, validation loss and accuracy, the lr, examples/s, elapsed time). It
never draws. Models with batch norm drop a ragged last batch, and evaluations may use a fixed validation
subset until the last one. It stops between two steps when `cancel` is set, with a clear reason when the
loss stops being finite, and it says so when a finished model is no better than guessing. The data never
leaves the device and no Python object is made per example, which is what makes an epoch of softmax
regression on Fashion-MNIST take a fraction of a second on a CPU.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from core import datasets
from core.device import DEVICES, autocast, describe, precision, resolve_device
from core.evaluate import loss_and_accuracy
from core.models import IMPLEMENTATIONS, MODELS, build_model, has_batch_norm, init_normal, init_zero
from core.ops import ACTIVATIONS, LOSSES, loss_fn
from core.optim import OPTIMIZERS, SCHEDULES, current_lr, make_optimizer, make_schedule

TRACK_PARAMS = 16  # models this small report their parameters with each event: pages draw their path
REPORT_SECONDS = 0.25  # a training-loss point at least this often, so curves grow smoothly
DIVERGED_RISE = 1000.0  # validation loss this many times its first value = diverged
GUESSING = 0.15  # a final accuracy within this share of the way from chance to 100% learned next to nothing
MIN_LR = 1e-4  # the smallest lr the pages offer: no advice goes below it
_seed_lock = threading.Lock()  # model init draws from the global RNG; runs in other threads must wait


class ConfigError(ValueError):
    """A run's settings are invalid; the message says what is allowed."""


@dataclass(frozen=True)
class RunConfig:
    model: str = "softmax"
    implementation: str = "concise"
    dataset: str = "fashion_mnist"
    lr: float = 0.1
    batch_size: int = 256
    epochs: int = 10
    seed: int = 0
    device: str = "auto"
    optimizer: str = "sgd"
    loss: str = "auto"
    # the training recipe; the defaults are d2l's plain minibatch SGD at a constant lr
    momentum: float = 0.9  # for the optimizers "momentum" and "nesterov"
    weight_decay: float = 0.0  # L2 penalty on every parameter, for any optimizer
    lr_schedule: str = "constant"  # or "one_cycle": warm up to lr, then anneal (core.optim.OneCycle)
    label_smoothing: float = 0.0  # cross-entropy's target: 1 - e on the true class, e spread over all
    normalize: bool = False  # images: subtract the training set's mean and divide by its std, per channel
    # MLP
    num_hiddens: int = 256
    num_layers: int = 1
    activation: str = "relu"
    # 0: each model's own init (PyTorch's); above 0: every weight and bias from N(0, init_std^2) instead
    init_std: float = 0.0
    # True: every weight and bias starts at 0 instead (d2l 3.2's first exercise; d2l 5.4's symmetry, for an MLP)
    zero_init: bool = False
    # small ResNet: resnet_stages stages of resnet_blocks blocks; the width doubles at each stage
    resnet_width: int = 16
    resnet_blocks: int = 1
    resnet_stages: int = 3
    # any dataset: train on its first train_examples examples (0 = all of them)
    train_examples: int = 0
    # synthetic data (d2l 3.3): y = X true_w + true_b + N(0, noise^2); num_examples to train on and as many to validate
    true_w: tuple[float, ...] = (2.0, -3.4)
    true_b: float = 4.2
    noise: float = 0.01
    num_examples: int = 1000
    # evaluations on the validation set per epoch (each is a point of the validation curves)
    evals_per_epoch: int = 4
    # the evaluations during training use the first eval_examples validation examples (0 = all), the same ones
    # every time; the last one, at the end of training, uses them all
    eval_examples: int = 0

    def __post_init__(self):
        def choice(name, allowed):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; choose one of: {', '.join(allowed)}")

        def at_least(name, low, high=None):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low or (high is not None and value > high):
                span = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise ConfigError(f"{name} must be a whole number {span} (got {value!r})")

        choice("model", MODELS)
        choice("implementation", IMPLEMENTATIONS)
        choice("dataset", datasets.DATASETS)
        choice("device", DEVICES)
        choice("optimizer", OPTIMIZERS)
        choice("loss", LOSSES)
        choice("activation", ACTIVATIONS)
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and 0 < self.lr <= 100):
            raise ConfigError(f"the learning rate lr must be a number above 0 and at most 100 (got {self.lr!r})")
        at_least("batch_size", 1, 1_000_000)
        at_least("epochs", 1, 1000)
        at_least("seed", 0)
        at_least("num_hiddens", 1, 8192)
        at_least("num_layers", 1, 16)
        at_least("resnet_width", 1, 512)
        at_least("resnet_blocks", 1, 8)
        at_least("resnet_stages", 1, 5)
        at_least("train_examples", 0)
        at_least("num_examples", 2, 1_000_000)
        at_least("evals_per_epoch", 1, 100)
        if not (isinstance(self.init_std, int | float) and 0 <= self.init_std <= 100):  # NaN fails both
            raise ConfigError(f"init_std must be 0 (the model's own init) or a number up to 100, not {self.init_std!r}")

        def number_in(name, low, high, span, high_open=False):
            value = getattr(self, name)  # NaN fails every comparison
            ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value
            if not (ok and (value < high if high_open else value <= high)):
                raise ConfigError(f"{name} must be a number {span} (got {value!r})")

        choice("lr_schedule", SCHEDULES)
        if not (isinstance(self.momentum, int | float) and 0 < self.momentum < 1):
            raise ConfigError(f"momentum must be a number above 0 and below 1 (got {self.momentum!r})")
        number_in("weight_decay", 0, 1, "from 0 to 1")
        number_in("label_smoothing", 0, 1, "of at least 0 and below 1", high_open=True)
        at_least("eval_examples", 0)
        if not isinstance(self.normalize, bool):
            raise ConfigError(f"normalize must be True or False (got {self.normalize!r})")
        if not isinstance(self.zero_init, bool):
            raise ConfigError(f"zero_init must be True or False (got {self.zero_init!r})")
        if not (self.noise >= 0 and math.isfinite(self.noise)):
            raise ConfigError(f"noise must be a number of at least 0 (got {self.noise!r})")
        tabular = self.dataset in datasets.TABLE_SETS
        if (self.model == "linear") != tabular:
            need = "a table dataset (synthetic, exam)" if self.model == "linear" else "an image dataset"
            raise ConfigError(f"the model {self.model!r} trains on {need}, not on {self.dataset!r}")
        if tabular and self.loss not in ("auto", "mse"):
            raise ConfigError(f"regression uses the squared loss; loss {self.loss!r} is for classification")
        if self.label_smoothing and (tabular or self.loss not in ("auto", "cross_entropy")):
            raise ConfigError(f"label smoothing is for the cross-entropy loss, not for {self.loss_name!r}")
        if self.normalize and tabular:
            raise ConfigError("input normalisation is for image datasets; a table's columns are used as they are")
        if self.dataset == datasets.PHOTO_FEATURES and (self.model not in ("softmax", "mlp") or self.normalize):
            raise ConfigError(
                "feature vectors of photos train a head: softmax regression or an MLP, on the features as they are"
            )

    @property
    def scratch(self) -> bool:
        return self.implementation == "scratch"

    @property
    def loss_name(self) -> str:
        """The loss that "auto" stands for: the squared loss for tables, cross-entropy for images."""
        if self.loss != "auto":
            return self.loss
        return "mse" if self.dataset in datasets.TABLE_SETS else "cross_entropy"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        """The config `as_dict` wrote (JSON or a checkpoint: lists for tuples); fields it does not know are left out."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        if "true_w" in known:
            known["true_w"] = tuple(known["true_w"])
        return cls(**known)

    def dataset_options(self) -> dict:
        if self.dataset == "synthetic":
            n = self.num_examples
            return {
                "w": self.true_w,
                "b": self.true_b,
                "noise": self.noise,
                "num_train": n,
                "num_val": n,
                "seed": self.seed,
            }
        if self.dataset == "exam":
            return {"seed": self.seed}
        return {}


# a modern recipe for the convolutional models (bench/README.md has its figures): normalised inputs, Nesterov
# momentum, weight decay, a one-cycle schedule peaking at lr 0.2, label smoothing, batch 128
RECIPE = {
    "optimizer": "nesterov",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "lr_schedule": "one_cycle",
    "label_smoothing": 0.1,
    "normalize": True,
}
RECIPE_LR, RECIPE_BATCH = 0.2, 128
# d2l's plain recipe, the same fields at RunConfig's defaults: minibatch SGD at a constant lr on the raw pixels
PLAIN = {field: getattr(RunConfig(), field) for field in RECIPE}


def recipe_parts(config: RunConfig) -> list[str]:
    """What a run adds to d2l's plain recipe beside its optimizer, in a few words each ("weight decay 0.0005"):
    the exported script's summary and the class board's recipe column say the same."""
    parts = [f"weights from N(0, {config.init_std:g}^2)"] if config.init_std else []
    parts += ["every weight starting at 0"] if config.zero_init else []
    parts += [f"weight decay {config.weight_decay:g}"] if config.weight_decay else []
    parts += ["one-cycle lr schedule"] if config.lr_schedule != "constant" else []
    parts += [f"label smoothing {config.label_smoothing:g}"] if config.label_smoothing else []
    parts += ["normalised inputs"] if config.normalize else []
    return parts


@dataclass(frozen=True)
class Started:
    device: str  # what was used, e.g. "cpu" or "cuda:0"
    device_name: str  # e.g. "CUDA GPU: NVIDIA H100"
    num_params: int
    steps_per_epoch: int
    total_steps: int


@dataclass(frozen=True)
class Progress:
    step: int  # optimizer steps so far
    total_steps: int
    epoch: float  # epochs done, fractional
    train_loss: float  # mean over the steps since the previous event
    val_loss: float | None  # None between evaluations
    val_acc: float | None  # None for regression or between evaluations
    examples_per_s: float  # training throughput so far, evaluation excluded
    elapsed: float  # seconds since the run started, evaluation included
    params: tuple[float, ...] | None = None  # every parameter, for models of at most TRACK_PARAMS (their path)
    lr: float | None = None  # the learning rate of the last step (it changes along a schedule)
    val_examples: int | None = None  # how many validation examples the evaluation used

    @property
    def seconds_left(self) -> float:
        return self.elapsed / max(self.step, 1) * (self.total_steps - self.step)


@dataclass(frozen=True)
class Finished:
    status: str  # "completed" | "cancelled" | "diverged" | "guessing" (completed, at chance)
    message: str
    step: int
    elapsed: float


Event = Started | Progress | Finished


@dataclass
class Run:
    """One training run: its config, where it trains, and what it has produced so far."""

    config: RunConfig
    device: torch.device
    data: datasets.Data
    model: nn.Module
    history: list[Progress] = field(default_factory=list)
    outcome: Finished | None = None

    @property
    def last_eval(self) -> Progress | None:
        return next((p for p in reversed(self.history) if p.val_loss is not None), None)


def start(config: RunConfig, data: datasets.Data | None = None) -> Run:
    """Resolve the device, load the data onto it and build the model from the seed."""
    try:
        device = resolve_device(config.device)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if data is None:
        data = datasets.load(config.dataset, device, **config.dataset_options())
    else:
        data = data.to(device)
    stats = data.channel_stats if config.normalize else None  # of the whole training set, before any subset
    if config.train_examples:
        n = config.train_examples
        data = replace(data, X_train=data.X_train[:n], y_train=data.y_train[:n])
    with _seed_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_model(config, data.input_shape, data.num_outputs, stats)
        if config.init_std:
            init_normal(model, config.init_std)
        if config.zero_init:
            init_zero(model)
    return Run(config, device, data, model.to(device))


def _smaller_lr(cfg: RunConfig) -> str:
    """Advice towards a smaller lr, never below the smallest one a page offers."""
    if cfg.lr / 10 >= MIN_LR:
        return f"try lr <= {cfg.lr / 10:.2g}"
    return f"a smaller lr than {MIN_LR:g} is no cure: look at the data's scale (huge values?) and the model's init"


def divergence_message(step: int, value: float, cfg: RunConfig, first: float | None = None) -> str:
    if math.isfinite(value):
        what = f"grew from {first:.3g} to {value:.3g}"
    else:
        what = "became NaN" if math.isnan(value) else "became infinite"
    cause = f"the learning rate (lr = {cfg.lr:g}) is too large"
    advice = _smaller_lr(cfg)
    if cfg.init_std:  # weights drawn too large blow the signal up layer after layer, whatever the lr
        cause = f"the learning rate (lr = {cfg.lr:g}) or the initial weights (std {cfg.init_std:g}) are too large"
        advice += " or a smaller init"
    return f"The loss {what} at step {step} - {cause} for this model; {advice}."


def chance_accuracy(y: torch.Tensor) -> float:
    """The accuracy of always answering the commonest class of labels y: what guessing reaches."""
    return float(torch.bincount(y).max()) / len(y)


def is_guessing(accuracy: float, chance: float) -> bool:
    """Within GUESSING of the way from chance to 100%: the model learned next to nothing."""
    return accuracy < chance + GUESSING * (1 - chance)


def guessing_message(
    accuracy: float, chance: float, cfg: RunConfig, trained: str, memorised: float | None = None
) -> str:
    """Why a run that ended at chance did (in the voice of `divergence_message`), and what to try. `memorised`: the
    last training loss, where it fell far below a guess's (the model fit its examples, which no lr changes)."""
    squash = {"sigmoid_mse": "sigmoid", "softmax_mse": "softmax"}.get(cfg.loss)
    if memorised is not None:  # 60 noise images a class with made-up labels: fit, and nothing to carry over
        cause = f"the model fit its training examples (train loss {memorised:.3g}) but learned nothing that carries "
        cause += "to new ones, so the labels may not follow from the inputs, or there are too few examples"
        advice = "no learning rate fixes that: check the labels, and give more and more varied examples"
    elif cfg.init_std and cfg.init_std < 0.1:  # d2l 5.4: the signal and its gradients fade layer after layer
        cause, advice = f"the initial weights (std {cfg.init_std:g}) are too small", "try the default init"
    elif cfg.init_std >= 0.5 and squash:  # seed 004's ladder: huge logits saturate the probabilities
        cause = f"weights drawn this large (std {cfg.init_std:g}) saturate the {squash}, whose squared error then "
        cause += "barely moves them"
        advice = "try the cross-entropy loss, or a smaller init"
    elif cfg.init_std:
        cause = f"the learning rate (lr = {cfg.lr:g}) or the initial weights (std {cfg.init_std:g}) are too large"
        advice = _smaller_lr(cfg) + " or a smaller init"
    elif cfg.lr <= 1e-3:
        cause, advice = f"the learning rate (lr = {cfg.lr:g}) is too small for this many steps", "try a larger lr"
    else:
        batches = f" with batches of {cfg.batch_size}" if cfg.batch_size < 16 else ""
        cause, advice = f"the learning rate (lr = {cfg.lr:g}) is too large for this model{batches}", _smaller_lr(cfg)
    line = chance + GUESSING * (1 - chance)  # what is_guessing asks of a model that learned
    return (
        f"{trained}, but val accuracy {accuracy:.1%} is close to guessing: always answering the commonest class scores "
        f"{chance:.0%}, and a model that learned scores over {line:.0%} here - {cause}; {advice}."
    )


def fit(run: Run, cancel: threading.Event | None = None) -> Iterator[Event]:
    """Train `run.model` on `run.data` by minibatch SGD (or the chosen optimizer and schedule), yielding events."""
    cfg, data, model = run.config, run.data, run.model
    loss = loss_fn(cfg.loss, cfg.scratch, data.is_classification, cfg.label_smoothing)
    n = len(data.X_train)
    batch_size = min(cfg.batch_size, n)
    # batch norm: a ragged last batch of a few examples would drag the running statistics the evaluations use,
    # so it is dropped, as DataLoader(drop_last=True) does; shuffled anew each epoch, no example is left out for good
    drop_last = has_batch_norm(model) and n % batch_size != 0
    steps_per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = make_optimizer(cfg, model.parameters())
    schedule = make_schedule(cfg, optimizer, total_steps)
    shuffler = torch.Generator().manual_seed(cfg.seed)
    # evaluate evals_per_epoch times an epoch, at evenly spaced steps, the last one at its end
    eval_steps = {round(steps_per_epoch * (k + 1) / cfg.evals_per_epoch) for k in range(cfg.evals_per_epoch)}
    # the evaluations along the way may use a fixed subset of the validation set; the last one uses all of it
    X_eval, y_eval = data.X_val, data.y_val
    if cfg.eval_examples:
        X_eval, y_eval = X_eval[: cfg.eval_examples], y_eval[: cfg.eval_examples]
    # convolutional models: bfloat16 autocast on CUDA and bfloat16 CPUs (core.device.autocast); linear ones keep
    # d2l's float32 numbers
    mixed = any(isinstance(m, nn.Conv2d) for m in model.modules())
    in_bf16 = " in bfloat16" if precision(run.device, mixed) == "bfloat16" and run.device.type == "cpu" else ""

    num_params = sum(p.numel() for p in model.parameters())
    track = num_params <= TRACK_PARAMS
    yield Started(str(run.device), describe(run.device) + in_bf16, num_params, steps_per_epoch, total_steps)

    step, seen, train_seconds = 0, 0, 0.0
    started = last_report = time.perf_counter()
    first_val_loss = None
    pending: list[torch.Tensor] = []  # loss of each step since the last event, still on the device

    def finish(status: str, message: str) -> Finished:
        run.outcome = Finished(status, message, step, time.perf_counter() - started)
        return run.outcome

    model.train()
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=shuffler).to(run.device)
        for i in range(steps_per_epoch):
            if cancel is not None and cancel.is_set():
                last = run.last_eval  # a stopped run says where it got to, as a finished one does
                got = (
                    f" (val accuracy {last.val_acc:.1%} at step {last.step})"
                    if last and last.val_acc is not None
                    else ""
                )
                yield finish(
                    "cancelled", f"Stopped at step {step} of {total_steps}; the model keeps what it learned{got}."
                )
                return
            idx = order[i * batch_size : (i + 1) * batch_size]
            # (b, ...) gathered on the device; index_select is twice as fast as X[idx] on a CPU
            X, y = data.X_train.index_select(0, idx), data.y_train.index_select(0, idx)
            lr = current_lr(optimizer)
            with autocast(run.device, mixed):
                l = loss(model(X), y)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            pending.append(l.detach())
            step, seen = step + 1, seen + len(idx)

            evaluate_now = (i + 1) in eval_steps
            now = time.perf_counter()
            # the first step is reported at once, so a curve gets its first point as soon as training starts
            if step > 1 and not evaluate_now and now - last_report < REPORT_SECONDS:
                continue
            train_seconds += now - last_report
            losses = torch.stack(pending).float().cpu()  # the only device->host copy: once per event
            pending.clear()
            finite = torch.isfinite(losses)
            if not finite.all():
                bad = int((~finite).nonzero()[0])
                yield finish("diverged", divergence_message(step - len(losses) + bad + 1, float(losses[bad]), cfg))
                return
            val_loss = val_acc = val_examples = None
            if evaluate_now:
                X_val, y_val = (data.X_val, data.y_val) if step == total_steps else (X_eval, y_eval)
                with autocast(run.device, mixed):
                    val_loss, val_acc = loss_and_accuracy(model, X_val, y_val, loss)  # back in train mode after
                val_examples = len(X_val)
                first_val_loss = first_val_loss or val_loss
                # a thousand-fold rise is no slow start: the steps overshoot more each time
                if not math.isfinite(val_loss) or val_loss > DIVERGED_RISE * first_val_loss:
                    yield finish("diverged", divergence_message(step, val_loss, cfg, first_val_loss))
                    return
            last_report = time.perf_counter()
            progress = Progress(
                step=step,
                total_steps=total_steps,
                epoch=epoch + (i + 1) / steps_per_epoch,
                train_loss=float(losses.mean()),
                val_loss=val_loss,
                val_acc=val_acc,
                examples_per_s=seen / max(train_seconds, 1e-9),
                elapsed=last_report - started,
                params=tuple(torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()) if track else None,
                lr=lr,
                val_examples=val_examples,
            )
            run.history.append(progress)
            yield progress
    last = run.last_eval
    if last is None or last.val_acc is None:
        summary = f"val loss {last.val_loss:.4g}" if last else "no evaluation"
    else:
        summary = f"val accuracy {last.val_acc:.1%}"
    epochs = f"{cfg.epochs} epoch{'s' * (cfg.epochs > 1)}"
    trained = f"Trained {epochs} ({step} steps) in {time.perf_counter() - started:.1f} s"
    if last is not None and last.val_acc is not None:
        chance = chance_accuracy(data.y_val)
        if is_guessing(last.val_acc, chance):  # finished, but no success to show in green
            # a guess's cross-entropy is ln(q); far below it, the training examples were learned by heart
            fit = cfg.loss_name == "cross_entropy" and run.history[-1].train_loss < 0.25 * math.log(data.num_outputs)
            memorised = run.history[-1].train_loss if fit else None
            yield finish("guessing", guessing_message(last.val_acc, chance, cfg, trained, memorised))
            return
    yield finish("completed", f"{trained}; {summary}.")


def train(config: RunConfig, data: datasets.Data | None = None, cancel: threading.Event | None = None) -> Run:
    """Start and fit a run to the end (or the cancel); for scripts, tests and benchmarks."""
    run = start(config, data)
    for _ in fit(run, cancel):
        pass
    return run
