"""The chapters' exercises: every one of seed 002 (d2l ch. 3) and of d2l's ch. 4-5 sections the app covers, and for
the runnable ones, how a student's own run answers them.

`INVENTORY` lists each exercise, in our own words, as *runnable* (an experiment in the app answers it),
*derivation* (a proof, a calculation or a thought question) or *outside* (it needs what the app does not have).
A runnable one names its page, the settings that set it up (the page's link keys, so "Set it up" is a link a
teacher can share) and a `check`: given the student's runs it returns an `Answer` - done or not, the evidence
from *their* runs, and what is still missing. The code-level ones (the softmax and cross-entropy written from
their definition, the loader's read speed) are answered by the page's own experiment, which calls `Progress.mark`.
`Progress` keeps which exercises a browser has answered in the run store, so it lasts like its runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, insert, select

from core.runs.store import Store, guarded

RUNNABLE, DERIVATION, OUTSIDE = "runnable", "derivation", "outside"


@dataclass(frozen=True)
class Answer:
    done: bool
    evidence: str = ""  # from the student's runs, in words
    missing: str = ""  # what the student still has to run
    run_ids: tuple[int, ...] = ()
    points: tuple[tuple[str, float, float], ...] = ()  # (label, x, y) the page draws together, when it compares


@dataclass(frozen=True)
class Exercise:
    id: str  # "3.2.1": d2l's section, then the exercise's number
    source: str  # "seed 002 (d2l 3.2)" or "d2l-en 5.4"
    question: str
    kind: str
    page: str | None = None  # the url path of the page that answers it
    setup: dict = field(default_factory=dict)  # link key -> value: what "Set it up" puts in place
    explanation: str = ""
    check: Callable[[list], Answer] | None = None  # None for a runnable one the page's own experiment answers
    x_label: str = ""  # the axis of a comparison's points
    y_label: str = ""


# --- reading a run ------------------------------------------------------------------------


def _finished(runs, **settings) -> list:
    """The runs that trained to their end (completed, guessing or diverged) whose config has these settings."""
    out = []
    for run in runs:
        status = run.outcome.status if run.outcome is not None else None
        ended = run.state == "done" and status in ("completed", "guessing", "diverged") and not run.error
        if ended and all(getattr(run.config, k) == v for k, v in settings.items()):
            out.append(run)
    return out


def _loss_after_first_epoch(run) -> float | None:
    points = [p for p in run.history if p.epoch >= 1.0 - 1e-9]
    return points[0].train_loss if points else None


def _evals(run) -> list:
    return [p for p in run.history if p.val_acc is not None]


# --- the checks -------------------------------------------------------------------------


def zero_init_linear(runs) -> Answer:
    """3.2.1: linear regression from w = 0 still finds the true w and b."""
    done = [r for r in _finished(runs, model="linear", dataset="synthetic", zero_init=True) if r.history[-1].params]
    if not done:
        return Answer(False, missing="a linear regression run on the synthetic data from w = 0, b = 0")
    run = done[-1]
    *w, b = run.history[-1].params
    true_w, true_b = run.config.true_w, run.config.true_b
    error = max([abs(a - t) for a, t in zip(w, true_w)] + [abs(b - true_b)])
    found = ", ".join(f"{v:.2f}" for v in w)
    truth = ", ".join(f"{v:g}" for v in true_w)
    evidence = f"{run.label} started at w = 0, b = 0 and ended at w = ({found}), b = {b:.2f}"
    evidence += f"; the truth is ({truth}), {true_b:g}."
    if error > 0.1 or not math.isfinite(error):
        return Answer(False, evidence, "a run from w = 0 that ends near the truth (more epochs, or another lr)")
    return Answer(True, evidence, run_ids=(run.id,))


def _final_acc(run) -> float | None:
    evals = _evals(run)
    return evals[-1].val_acc if evals else None


def _speed(run) -> float | None:
    return run.history[-1].examples_per_s if run.history else None


def _init(config) -> str:
    return "all zero" if config.zero_init else (f"N(0, {config.init_std:g}²)" if config.init_std else "default")


def sweep(model: str, setting, need: int = 3, metric=_final_acc, words: str = "final val accuracy", **fixed):
    """A check that the student trained `model` at `need` values of `setting` (a config field's name, or a function
    of the config), the other settings as they like: the answer's points are (run, value, metric) to draw
    together, the latest run for each value."""
    value_of = setting if callable(setting) else (lambda config: getattr(config, setting))
    name = getattr(setting, "__name__", setting).strip("_")

    def check(runs) -> Answer:
        by_value = {}
        for run in _finished(runs, model=model, **fixed):
            y = metric(run)
            if y is not None:
                by_value[value_of(run.config)] = (run, y)
        points = tuple((r.label, v, y) for v, (r, y) in sorted(by_value.items(), key=lambda kv: str(kv[0])))
        if len(by_value) < need:
            left = need - len(by_value)
            return Answer(False, missing=f"{left} more run{'s' * (left > 1)} at other values of {name}", points=points)
        shown = "; ".join(f"{v:g}: {_num(y)}" if isinstance(v, float) else f"{v}: {_num(y)}" for _, v, y in points)
        return Answer(True, f"{words.capitalize()} by {name}: {shown}.", run_ids=tuple(r.id for r, _ in
                      by_value.values()), points=points)  # fmt: skip

    return check


def _num(y: float) -> str:
    if not math.isfinite(y):
        return "diverged"
    return f"{y:.1%}" if 0 <= y <= 1 else f"{y:.3g}"


def ragged_batch(runs) -> Answer:
    """3.2.7: a batch size that does not divide the number of examples."""
    for run in reversed(_finished(runs, model="linear", dataset="synthetic")):
        n, b = run.config.num_examples, run.config.batch_size
        if b < n and n % b:
            steps = run.history[-1].total_steps // run.config.epochs
            evidence = (f"{run.label}: {n} examples in batches of {b} took {steps} steps an epoch, {n // b} of {b} "
                        f"examples and a last one of {n % b}.")  # fmt: skip
            return Answer(True, evidence, run_ids=(run.id,))
    return Answer(False, missing="a run whose batch size does not divide the number of examples (1000 and 64, say)")


def hyperparameters(runs) -> Answer:
    """3.7.1: softmax regression under several batch sizes, epochs and learning rates."""
    done = [r for r in _finished(runs, model="softmax") if _evals(r)]
    seen = {(r.config.lr, r.config.batch_size, r.config.epochs): r for r in done}
    points = tuple((r.label, r.config.lr, _evals(r)[-1].val_acc) for r in seen.values())
    if len(seen) < 3:
        need = 3 - len(seen)
        return Answer(False, missing=f"{need} more run{'s' * (need > 1)} with other settings", points=points)
    best = max(seen.values(), key=lambda r: _evals(r)[-1].val_acc)
    c = best.config
    evidence = (f"{len(seen)} settings tried; the best, {best.label} (lr {c.lr:g}, batch {c.batch_size}, {c.epochs} "
                f"epochs), reached {_evals(best)[-1].val_acc:.1%}.")  # fmt: skip
    return Answer(True, evidence, run_ids=tuple(r.id for r in seen.values()), points=points)


OVERFIT_RISE = 1.1  # the validation loss this many times its lowest, at the end, while the training loss still fell


def overfitting(runs) -> Answer:
    """3.7.2 and 4.5.3: the validation loss climbs again from its lowest while the training loss keeps falling (the
    model learns its training images by heart), and a remedy beside it. On Fashion-MNIST the validation accuracy
    then stops improving and wavers; it rarely falls by points (the closing note of issue 26 has the figures)."""
    for run in reversed(_finished(runs)):
        evals = [p for p in run.history if p.val_loss is not None and math.isfinite(p.val_loss)]
        if len(evals) < 5:
            continue
        low = min(evals, key=lambda p: p.val_loss)
        last = evals[-1]
        if last.val_loss < OVERFIT_RISE * low.val_loss or last.train_loss >= low.train_loss:
            continue
        best = max(_evals(run), key=lambda p: p.val_acc)
        evidence = (f"{run.label}: val loss lowest at epoch {low.epoch:g} ({low.val_loss:.3g}), then up to "
                    f"{last.val_loss:.3g} at the end (+{last.val_loss / low.val_loss - 1:.0%}), while its training "
                    f"loss fell from {low.train_loss:.3g} to {last.train_loss:.3g}; val accuracy best "
                    f"{best.val_acc:.1%} (epoch {best.epoch:g}), at the end {last.val_acc:.1%}.")  # fmt: skip
        remedy = _remedy(runs, run)
        if remedy is None:
            return Answer(False, evidence, "a second run with a remedy: weight decay, fewer epochs or more examples")
        r, what = remedy
        end = [p for p in r.history if p.val_loss is not None][-1]
        evidence += f" With {what}, {r.label} ended at val loss {end.val_loss:.3g} and {end.val_acc:.1%}."
        return Answer(True, evidence, run_ids=(run.id, r.id))
    return Answer(False, missing="a run whose val loss climbs 10% above its lowest while the training loss falls")


def _remedy(runs, overfit) -> tuple | None:
    """A later finished run like `overfit` but with weight decay, fewer epochs or more examples."""
    c = overfit.config
    for run in _finished(runs, model=c.model, dataset=c.dataset):
        d = run.config
        if run.id == overfit.id or not _evals(run):
            continue
        if d.weight_decay > c.weight_decay:
            return run, f"weight decay {d.weight_decay:g}"
        if d.epochs < c.epochs and d.train_examples == c.train_examples:
            return run, f"{d.epochs} epochs"
        if c.train_examples and (d.train_examples == 0 or d.train_examples > c.train_examples):
            return run, f"{d.train_examples or 'all the'} training examples"
    return None


def one_unit(runs) -> Answer:
    """5.2.3: a hidden layer of one unit."""
    done = [r for r in _finished(runs, model="mlp", num_hiddens=1) if _evals(r)]
    if not done:
        return Answer(False, missing="an MLP run with 1 hidden unit")
    run = done[-1]
    return Answer(True, f"{run.label}, one hidden unit: val accuracy {_final_acc(run):.1%}.", run_ids=(run.id,))


# --- the inventory --------------------------------------------------------------------------


def _derivations(section: str, source: str, *questions: str) -> tuple[Exercise, ...]:
    """A section's exercises that are all derivations, numbered from 1."""
    return tuple(Exercise(f"{section}.{n}", source, q, DERIVATION) for n, q in enumerate(questions, start=1))


S = "seed 002 (d2l 3.{})"
INVENTORY: tuple[Exercise, ...] = (
    # 3.1 linear regression
    Exercise(
        "3.1.1",
        S.format(1),
        "Which constant b minimises the sum of squared distances to data x_1..x_n, and how "
        "does that relate to the normal distribution?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "3.1.2",
        S.format(1),
        "Derive the closed-form least-squares solution for linear regression; when is it "
        "better than SGD, and when does it break?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "3.1.3",
        S.format(1),
        "With Laplace noise (p(e) = exp(-|e|)/2), write the negative log-likelihood; is "
        "there a closed form, and what goes wrong for SGD near the optimum?",
        DERIVATION,
    ),  # fmt: skip
    # 3.2 linear regression from scratch
    Exercise(
        "3.2.1",
        S.format(2),
        "Start the weights at w = 0 (and b = 0). Does training still work?",
        RUNNABLE,
        "linear",
        {"data": "synthetic", "zero": True, "epochs": 3, "lr": 0.03, "batch": 16},
        "Yes. The squared loss is convex in (w, b): one valley, one minimum, so any start leads there. At w = 0 "
        "the gradient is not zero (it is about -2 X^T y / n), so the very first step moves w towards the "
        "truth. Zero is only a problem where units are interchangeable, as the hidden units of an MLP (5.4).",
        zero_init_linear,
    ),  # fmt: skip
    Exercise(
        "3.2.2",
        S.format(2),
        "Model Ohm's law: learn a resistance from measured voltages and currents with autograd.",
        OUTSIDE,
    ),  # fmt: skip
    Exercise(
        "3.2.3",
        S.format(2),
        "Use Planck's law to find an object's temperature from its spectral energy density.",
        OUTSIDE,
    ),  # fmt: skip
    Exercise(
        "3.2.4",
        S.format(2),
        "What problems come up when autograd is extended to second derivatives, and how would you fix them?",
        DERIVATION,
    ),  # fmt: skip
    Exercise("3.2.5", S.format(2), "Why does the squared loss reshape y before subtracting?", DERIVATION),
    Exercise(
        "3.2.6",
        S.format(2),
        "Try several learning rates: how fast does the loss drop with each?",
        RUNNABLE,
        "linear",
        {"data": "synthetic", "epochs": 3, "lr": 0.003},
        "A small lr takes small steps: the loss falls slowly but steadily. A larger one gets there in a few "
        "steps. Past a limit (about 2 / the largest curvature of the loss) each step overshoots the valley "
        "further than the last, and the loss grows: the run diverges.",
        sweep(
            "linear", "lr", metric=_loss_after_first_epoch, words="training loss after one epoch", dataset="synthetic"
        ),
        "learning rate",
        "training loss after one epoch",
    ),  # fmt: skip
    Exercise(
        "3.2.7",
        S.format(2),
        "What does the data iterator do when the number of examples is not a multiple of the batch size?",
        RUNNABLE,
        "linear",
        {"data": "synthetic", "n": 1000, "batch": 64},
        "The last minibatch is smaller: every example is still seen once an epoch, and that last step averages "
        "its gradient over fewer examples (a noisier step). Some loaders drop it instead (the convolutional "
        "models here do, for batch norm's sake).",
        ragged_batch,
    ),  # fmt: skip
    # 3.3 concise linear regression
    Exercise(
        "3.3.1",
        S.format(3),
        "If the loss is averaged instead of summed, how must the optimizer's step change "
        "for the same training, and why?",
        DERIVATION,
    ),  # fmt: skip
    Exercise("3.3.2", S.format(3), "Replace the squared loss with Huber's loss.", OUTSIDE),
    Exercise("3.3.3", S.format(3), "How do you read the gradient of a layer's weight?", OUTSIDE),
    # 3.4 softmax regression: theory
    Exercise("3.4.1", S.format(4), "Show that the KL divergence is never negative.", DERIVATION),
    Exercise("3.4.2", S.format(4), "Show that log-sum-exp is convex.", DERIVATION),
    Exercise(
        "3.4.3",
        S.format(4),
        "Compute cross-entropy's second derivative for the softmax and compare it with "
        "the variance of the softmax's distribution.",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "3.4.4",
        S.format(4),
        "Three equally likely classes: how close can a binary code get to the entropy, "
        "and does coding several observations together help?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "3.4.5",
        S.format(4),
        "Show that log(exp(a) + exp(b)) exceeds max(a, b) and tends to it when scaled; what is the soft-min?",
        DERIVATION,
    ),  # fmt: skip
    # 3.5 the dataset
    Exercise(
        "3.5.1",
        S.format(5),
        "Does a smaller batch size (down to 1) change how fast data is read?",
        RUNNABLE,
        "softmax",
        {},
        "Yes: each batch costs a fixed overhead (the loader's bookkeeping, a Python call per batch), so batch "
        "size 1 reads far fewer images a second. Here the training loop slices tensors already in memory, "
        "which is why it does not wait for a loader at all.",
    ),  # fmt: skip
    Exercise(
        "3.5.2",
        S.format(5),
        "Change the loader's number of worker processes: how does read speed follow?",
        RUNNABLE,
        "softmax",
        {},
        "Workers read batches in parallel, which helps when reading costs more than handing a batch over. For "
        "images already in memory the hand-over between processes can cost more than the read: more workers "
        "may be slower, and never faster than the cores this machine has.",
    ),  # fmt: skip
    Exercise("3.5.3", S.format(5), "Which other datasets does the framework's vision package offer?", OUTSIDE),
    Exercise("3.5.4", S.format(5), "Which other image transformations does the framework offer?", OUTSIDE),
    # 3.6 softmax from scratch
    Exercise(
        "3.6.1",
        S.format(6),
        "The softmax written from its definition: what goes wrong for large logits (how big is exp(50))?",
        RUNNABLE,
        "softmax",
        {},
        "exp overflows: in float32, exp(x) is inf above x = 88.7, and inf / inf is nan. exp(50) = 5e21 still "
        "fits, but logits of a few hundred do not.",
    ),  # fmt: skip
    Exercise(
        "3.6.2",
        S.format(6),
        "The cross-entropy written from its definition: what goes wrong (think of the logarithm's domain)?",
        RUNNABLE,
        "softmax",
        {},
        "A probability that underflows to 0 gives log(0) = -inf, so the loss is inf and its gradient nan. It "
        "happens when the true class's logit is far below the largest one.",
    ),  # fmt: skip
    Exercise(
        "3.6.3",
        S.format(6),
        "How would you fix both problems?",
        RUNNABLE,
        "softmax",
        {},
        "Subtract each row's largest logit before exp (the softmax does not change, and exp never overflows), "
        "and compute the log of the softmax from the logits directly: log p_j = o_j - max - log sum exp(o - "
        "max), which is never log(0). That is `log_softmax`, which `cross_entropy` uses.",
    ),  # fmt: skip
    Exercise(
        "3.6.4",
        S.format(6),
        "Is returning the most likely label always right, say for a medical diagnosis?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "3.6.5",
        S.format(6),
        "Predicting the next word with softmax regression: what goes wrong with a large vocabulary?",
        DERIVATION,
    ),  # fmt: skip
    # 3.7 concise softmax
    Exercise(
        "3.7.1",
        S.format(7),
        "Change the batch size, the number of epochs and the learning rate: what happens?",
        RUNNABLE,
        "softmax",
        {"epochs": 5, "batch": 64, "lr": 0.1},
        "Each changes the number and the size of the steps. A smaller batch takes more, noisier steps an "
        "epoch; more epochs help until the model stops improving on images it has not seen; a larger lr moves "
        "faster until it overshoots.",
        hyperparameters,
        "learning rate",
        "final val accuracy",
    ),  # fmt: skip
    Exercise(
        "3.7.2",
        S.format(7),
        "Why might the test accuracy fall again after a while, and how could it be fixed?",
        RUNNABLE,
        "mlp",
        {"n_train": 200, "epochs": 50, "hidden": 256, "layers": 3, "batch": 16},
        "The model starts to learn its few training images by heart, noise and all (overfitting): their loss "
        "keeps falling while its loss on new images climbs, and its accuracy on them stops improving and can "
        "fall. Remedies: stop at the best epoch, add weight decay (a pull of every weight towards 0), or train "
        "on more examples.",
        overfitting,
    ),  # fmt: skip
    # d2l-en ch. 4: linear neural networks for classification
    *_derivations(
        "4.1",
        "d2l-en 4.1",
        "Show that the Hessian of softmax cross-entropy in the logits is the covariance of the softmax's distribution.",
        "Why does a binary code waste bits on three equally likely classes, and what does coding several "
        "outcomes together gain?",
        "How many three-level symbols encode 0 to 7, and why might three levels suit electronics?",
        "Relate softmax to the Bradley-Terry model of preferences, and add an option to pick neither.",
        "log(exp(a) + exp(b)) as a smooth maximum: its bound, its gap, scaling by lambda, its limit, soft-min "
        "and n inputs.",
        "Log-sum-exp: its convexity, what a constant shift does, extreme inputs, and why subtracting the "
        "maximum keeps it stable.",
        "Raising a distribution to a power alpha as a change of temperature; what zero and infinite temperatures give.",
    ),
    Exercise(
        "4.2.1",
        "d2l-en 4.2",
        "Does a batch size of 1 slow down reading the data?",
        RUNNABLE,
        "softmax",
        explanation="The same as 3.5.1: see its measurement.",
    ),  # fmt: skip
    Exercise(
        "4.2.2",
        "d2l-en 4.2",
        "Is the loader fast enough for training? Make it faster, and profile it.",
        RUNNABLE,
        "softmax",
        explanation="The same measurement: the loader against the training loop's "
        "tensor slices, which never wait for a loader.",
    ),  # fmt: skip
    Exercise("4.2.3", "d2l-en 4.2", "Which other datasets does the framework offer?", OUTSIDE),
    Exercise(
        "4.3.1",
        "d2l-en 4.3",
        "Compute the exact validation loss from the minibatch average, the last batch's loss and the sizes.",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "4.3.2",
        "d2l-en 4.3",
        "Show that the minibatch estimate is unbiased; why prefer the exact loss anyway?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "4.3.3", "d2l-en 4.3", "The best prediction given p(y | x) and a penalty for each wrong answer.", DERIVATION
    ),  # fmt: skip
    Exercise(
        "4.4.1",
        "d2l-en 4.4",
        "The softmax from its definition with logits of 100 or below -100: what breaks, "
        "and how does subtracting the maximum fix it?",
        RUNNABLE,
        "softmax",
        explanation="As 3.6.1 and 3.6.3: exp(100) is inf in float32, and exp(-100) is 0.",
    ),  # fmt: skip
    Exercise(
        "4.4.2",
        "d2l-en 4.4",
        "Cross-entropy as a sum over all classes of a one-hot target: its speed, when it is useful, and log(0).",
        RUNNABLE,
        "softmax",
        explanation="As 3.6.2: a probability of 0 gives log(0) = -inf; picking the true class's entry is "
        "q times less work than the full sum, which only pays off for soft targets (label "
        "smoothing, in the training recipe).",
    ),  # fmt: skip
    Exercise(
        "4.4.3", "d2l-en 4.4", "Is the most likely class always the right answer (a diagnosis, say)?", DERIVATION
    ),  # fmt: skip
    Exercise(
        "4.4.4", "d2l-en 4.4", "A softmax over a huge vocabulary for the next word: what goes wrong?", DERIVATION
    ),  # fmt: skip
    Exercise(
        "4.4.5",
        "d2l-en 4.4",
        "Sweep the learning rate and the batch size: how do the losses follow?",
        RUNNABLE,
        "softmax",
        {"epochs": 3, "lr": 0.01},
        "Too small an lr leaves the loss high after a few epochs; too large a one makes it jump or diverge. "
        "Smaller batches take more steps an epoch, so the same lr gets further per epoch, more noisily.",
        sweep("softmax", "batch_size", need=3),
        "batch size",
        "final val accuracy",
    ),  # fmt: skip
    Exercise(
        "4.5.1",
        "d2l-en 4.5",
        "Which inputs can exp take without overflow in each number format, float64 down to int8?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "4.5.2", "d2l-en 4.5", "Widen int8's range without more bits: does arithmetic still work?", DERIVATION
    ),  # fmt: skip
    Exercise(
        "4.5.3",
        "d2l-en 4.5",
        "Train for much longer: why can validation accuracy fall after a while, and what helps?",
        RUNNABLE,
        "mlp",
        {"n_train": 200, "epochs": 50, "hidden": 256, "layers": 3, "batch": 16},
        "Softmax regression barely overfits Fashion-MNIST: on 100 training images for 50 epochs its val loss "
        "rose 5% from its lowest, so this experiment is on the MLP page, whose network learns 200 images by heart. "
        "Its val loss climbs while the training loss falls to almost 0; the remedies are those of 3.7.2.",
        overfitting,
    ),  # fmt: skip
    Exercise(
        "4.5.4",
        "d2l-en 4.5",
        "Compare the loss curves for several learning rates: which works best, and when?",
        RUNNABLE,
        "softmax",
        {"epochs": 3, "lr": 0.01},
        "A small lr is steady but slow; a large one is fast at first and then noisy, or diverges. The best "
        "fixed lr depends on how long you train: with more epochs a smaller one catches up.",
        sweep("softmax", "lr"),
        "learning rate",
        "final val accuracy",
    ),  # fmt: skip
    # d2l-en ch. 5: multilayer perceptrons
    *_derivations(
        "5.1",
        "d2l-en 5.1",
        "Show that stacking linear layers adds no power, and that a narrow layer can remove some.",
        "The derivative of the pReLU.",
        "The derivative of Swish, x sigmoid(beta x).",
        "Show that an MLP of (p)ReLUs is a continuous piecewise linear function.",
        "Relate tanh to the sigmoid, and show that both give the same function class.",
        "What goes wrong with a nonlinearity applied to a whole minibatch at once?",
        "Give a case where the sigmoid's gradients vanish (Foundations draws its gradient).",
    ),
    Exercise(
        "5.2.1",
        "d2l-en 5.2",
        "Change the number of hidden units: how does accuracy follow, and which is best?",
        RUNNABLE,
        "mlp",
        {"hidden": 64, "epochs": 5},
        "Wider layers can represent more, so accuracy rises with width, quickly at first and then barely: "
        "past a few hundred units the model is limited by its data and its training, not its width.",
        sweep("mlp", "num_hiddens"),
        "hidden units",
        "final val accuracy",
    ),  # fmt: skip
    Exercise(
        "5.2.2",
        "d2l-en 5.2",
        "Add a hidden layer: what changes?",
        RUNNABLE,
        "mlp",
        {"layers": 2, "epochs": 5},
        "A second layer can combine the first one's features; on Fashion-MNIST it gains little at d2l's "
        "settings, and deeper plain MLPs train more slowly (d2l 5.4's fading signal).",
        sweep("mlp", "num_layers", need=2),
        "hidden layers",
        "final val accuracy",
    ),  # fmt: skip
    Exercise(
        "5.2.3",
        "d2l-en 5.2",
        "Why is a hidden layer of a single unit a bad idea?",
        RUNNABLE,
        "mlp",
        {"hidden": 1, "epochs": 3},
        "Every image is squeezed through one number before the ten class scores are made from it: a "
        "bottleneck that cannot keep ten classes apart.",
        one_unit,
    ),  # fmt: skip
    Exercise(
        "5.2.4",
        "d2l-en 5.2",
        "Change only the learning rate: which is best, and does it depend on the number of epochs?",
        RUNNABLE,
        "mlp",
        {"lr": 0.03, "epochs": 5},
        "As for softmax regression (4.5.4): the best fixed lr shrinks as you train longer.",
        sweep("mlp", "lr"),
        "learning rate",
        "final val accuracy",
    ),  # fmt: skip
    Exercise(
        "5.2.5",
        "d2l-en 5.2",
        "Tune lr, epochs, depth and width together: why is it hard, and how would you search cleverly?",
        DERIVATION,
    ),  # fmt: skip
    Exercise(
        "5.2.6",
        "d2l-en 5.2",
        "Compare the from-scratch and the framework's MLP: which is faster as the network grows?",
        RUNNABLE,
        "mlp",
        {"impl": "scratch", "epochs": 2},
        "Both do the same matrix products, which dominate; the framework's fused layers save a little "
        "bookkeeping, which matters less as the layers grow.",
        sweep("mlp", "implementation", need=2, metric=_speed, words="training examples a second"),
        "implementation",
        "examples a second",
    ),  # fmt: skip
    Exercise(
        "5.2.7", "d2l-en 5.2", "Time matrix products of sizes 1024 to 1032 on CPU and GPU: why do they differ?", OUTSIDE
    ),  # fmt: skip
    Exercise(
        "5.2.8",
        "d2l-en 5.2",
        "Try other activation functions: which works best?",
        RUNNABLE,
        "mlp",
        {"activation": "sigmoid", "epochs": 5},
        "ReLU usually wins here: its gradient is 1 wherever it is active, while the sigmoid's is at most "
        "0.25 and vanishes for large inputs, so plain SGD moves slowly through sigmoid layers.",
        sweep("mlp", "activation", need=2),
        "activation",
        "final val accuracy",
    ),  # fmt: skip
    Exercise(
        "5.2.9",
        "d2l-en 5.2",
        "Does the initialisation of the weights matter?",
        RUNNABLE,
        "mlp",
        {"zero": True, "epochs": 3},
        "Yes. Weights all equal (0) never break their symmetry: every hidden unit computes the same thing and "
        "gets the same gradient, and with ReLU and zeros they stay 0, so the model answers the commonest "
        "class. Too small a scale fades the signal layer after layer, too large a one blows it up (5.4).",
        sweep("mlp", _init, need=2),
        "initial weights",
        "final val accuracy",
    ),  # fmt: skip
    *_derivations(
        "5.3",
        "d2l-en 5.3",
        "The shape of the gradient of a scalar function of an n x m matrix.",
        "Add a bias to the hidden layer: the new graph and its forward and backward equations.",
        "How much memory do training and prediction take in this section's model?",
        "Second derivatives: what happens to the graph, and to the time it takes?",
        "A graph too big for one GPU: split it over several, or use smaller batches?",
    ),
    Exercise(
        "5.4.1", "d2l-en 5.4", "Which other symmetries, beyond permuting hidden units, need breaking?", DERIVATION
    ),  # fmt: skip
    Exercise(
        "5.4.2",
        "d2l-en 5.4",
        "Can linear or softmax regression start with all its weights equal?",
        RUNNABLE,
        "linear",
        {"data": "synthetic", "zero": True, "epochs": 3, "lr": 0.03, "batch": 16},
        "Yes: they have no hidden units to keep apart, and their loss is convex, so any start (3.2.1's run "
        "from w = 0) reaches the same minimum.",
        zero_init_linear,
    ),  # fmt: skip
    Exercise(
        "5.4.3",
        "d2l-en 5.4",
        "Bound the eigenvalues of a product of matrices: what does it say about the gradients' conditioning?",
        DERIVATION,
    ),  # fmt: skip
    Exercise("5.4.4", "d2l-en 5.4", "A network that diverged: repair it afterwards, in the spirit of LARS.", OUTSIDE),
)
BY_ID = {e.id: e for e in INVENTORY}


def of_page(page: str) -> list[Exercise]:
    return [e for e in INVENTORY if e.page == page and e.kind == RUNNABLE]


def chapter(exercise_id: str) -> str:
    return exercise_id.split(".")[0]


# --- progress ----------------------------------------------------------------------------

meta = MetaData()
answered = Table(
    "exercises_answered",
    meta,
    Column("owner", String(64), primary_key=True),
    Column("exercise", String(16), primary_key=True),
    Column("run_id", Integer),  # the run that answered it, if one did
    Column("evidence", String(1000), nullable=False, default=""),
    Column("answered", Float, nullable=False),
)


class Progress:
    """Which exercises each browser has answered, in the run store (it lasts a reload and a restart)."""

    def __init__(self, store: Store):
        self.store = store

    def _ready(self) -> None:
        self.store.create_tables(meta)  # once per server: the store remembers it made them

    @guarded(dict)
    def of(self, owner: str) -> dict[str, str]:
        """exercise id -> its evidence, for this browser."""
        self._ready()
        query = select(answered.c.exercise, answered.c.evidence).where(answered.c.owner == owner)
        with self.store.engine.connect() as conn:
            return dict(conn.execute(query).all())

    @guarded(None)
    def mark(self, owner: str, exercise_id: str, evidence: str = "", run_id: int | None = None) -> None:
        if exercise_id not in BY_ID or BY_ID[exercise_id].kind != RUNNABLE:
            raise ValueError(f"{exercise_id} is not a runnable exercise")  # a derivation is never marked done
        self._ready()
        row = dict(owner=owner, exercise=exercise_id, run_id=run_id, evidence=evidence[:1000], answered=time.time())
        with self.store.transaction() as conn:
            conn.execute(delete(answered).where(answered.c.owner == owner, answered.c.exercise == exercise_id))
            conn.execute(insert(answered).values(**row))

    def counts(self, owner: str) -> dict[str, tuple[int, int]]:
        """chapter -> (answered, runnable exercises)."""
        done = self.of(owner)
        out: dict[str, tuple[int, int]] = {}
        for e in INVENTORY:
            if e.kind == RUNNABLE:
                a, n = out.get(chapter(e.id), (0, 0))
                out[chapter(e.id)] = (a + (e.id in done), n + 1)
        return out


# --- 3.5: how fast the data loader reads ------------------------------------------------------

READ_IMAGES = 4096  # images read per measurement: a second or two each at batch size 1


def read_speed(batch_sizes=(1, 16, 256), workers=(0, 1, 2), images: int = READ_IMAGES) -> list[dict]:
    """Images a second that torchvision's Fashion-MNIST dataset gives through torch's DataLoader (d2l 3.5's way:
    PIL images, ToTensor, a collate per batch), per batch size and number of worker processes, on this machine.
    Call it in a process of its own (`measure_read_speed`): worker processes fork it."""
    import torch
    import torchvision

    from core import datasets

    data = torchvision.datasets.FashionMNIST(
        datasets.data_dir(), train=True, download=False, transform=torchvision.transforms.ToTensor()
    )
    subset = torch.utils.data.Subset(data, range(min(images, len(data))))
    out = []
    for num_workers in workers:
        for batch_size in batch_sizes:
            loader = torch.utils.data.DataLoader(subset, batch_size=batch_size, num_workers=num_workers)
            start = time.perf_counter()
            seen = sum(len(X) for X, _ in loader)  # worker start-up counted: it is part of reading an epoch
            seconds = time.perf_counter() - start
            out.append(dict(batch_size=batch_size, workers=num_workers, images_per_s=seen / seconds, seconds=seconds))
    return out


def measure_read_speed(timeout: float = 240.0) -> list[dict]:
    """`read_speed` in a fresh Python process (a server's threads must not be forked into loader workers); raises
    RuntimeError with a sentence when it fails."""
    import json
    import subprocess
    import sys

    code = "import json; from core.lessons.exercises import read_speed; print(json.dumps(read_speed()))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Reading took longer than {timeout:.0f} s; the machine is busy. Try again later.") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"The loader could not read Fashion-MNIST here ({last[:200]}).")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- 3.6: the softmax and cross-entropy as written from their definitions -----------------------

LOGITS = (-1.0, 0.5, 2.0)  # one image's scores for 3 classes; its true class is the first, the least likely
DEMO_IDS = {"softmax": ("3.6.1", "4.4.1"), "log": ("3.6.2", "4.4.2"), "both": ("3.6.3",)}
READ_IDS = ("3.5.1", "3.5.2", "4.2.1", "4.2.2")


def by_definition(scale: float) -> dict:
    """The logits `scale` x LOGITS through the softmax and the cross-entropy, as defined and as `core.ops` computes
    them (float32): {"logits", "softmax_definition", "softmax", "cross_entropy_definition", "cross_entropy"}."""
    import torch

    from core import ops

    O = torch.tensor([LOGITS], dtype=torch.float32) * scale  # (1, q)
    y = torch.tensor([0])
    stable = ops.softmax(O)
    return {
        "logits": O[0].tolist(),
        "softmax_definition": ops.softmax_by_definition(O)[0].tolist(),
        "softmax": stable[0].tolist(),
        "cross_entropy_definition": float(ops.cross_entropy_by_definition(stable, y)),
        "cross_entropy": float(ops.cross_entropy(O, y)),
    }


def inventory_table() -> str:
    """The README's table of every exercise: id, source, question, kind and page (tests/test_exercises.py keeps the
    README's copy equal to this)."""
    lines = ["| exercise | source | question (our words) | kind | page |", "| --- | --- | --- | --- | --- |"]
    for e in INVENTORY:
        page = f"`/{e.page}`" if e.page else "-"
        lines.append(f"| {e.id} | {e.source} | {e.question.replace('|', chr(92) + '|')} | {e.kind} | {page} |")
    return "\n".join(lines)
