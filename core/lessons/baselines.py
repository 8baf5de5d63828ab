"""The baseline ladder of seed 004 ("MNIST from scratch"): how much each step up buys over no learning at all.

The bottom rung learns nothing: `pixel_similarity` averages the training images of each class into one
mean image and labels a validation image by the nearest mean, by mean absolute (MAE) or mean squared
(MSE) pixel difference - vectorized over chunks of the validation set, no loop per image. The rungs
above are training runs (`RUNGS`, turned into `RunConfig`s by `ladder`): the post's linear model at its
lr = 1 with sigmoid + MSE, softmax + MSE and cross-entropy losses, its small net of 64 sigmoid units,
d2l's MLP of 256 ReLUs and a small ResNet with the ResNet page's recipe (one epoch on a CPU). The post draws
every weight and bias from N(0, 1) (its `init_params` is `torch.randn`); its rungs here do the same
(`RunConfig.init_std = 1`), and it is what starves the two MSE losses: logits of ten standard deviations
saturate sigmoid and softmax, whose gradients vanish, while cross-entropy's gradient (p - y) does not.
`summary` reads what a training job has reached, for the ladder's table; every rung is scored on the
same validation split.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from core import datasets
from core.device import resolve_device
from core.evaluate import confusion_matrix, per_class_accuracy
from core.train import RECIPE, RECIPE_BATCH, RECIPE_LR, RunConfig

RESNET_CPU_EPOCHS = 1  # with the recipe, one epoch over 60,000 images: 88% in ~40 s on one CPU thread


@dataclass(frozen=True)
class PixelSimilarity:
    means: torch.Tensor  # (q, C, H, W): the mean training image of each class
    accuracy_mae: float  # over the whole validation split
    accuracy_mse: float
    per_class_mae: tuple[float, ...]  # (q,) accuracy on each class's validation images
    per_class_mse: tuple[float, ...]
    seconds_mae: float = 0.0  # the whole rung on this machine: the means, then labelling every validation image
    seconds_mse: float = 0.0


def class_means(X: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The mean image of each class: X (n, C, H, W), y (n,) -> (q, C, H, W)."""
    sums = torch.zeros(num_classes, *X.shape[1:], device=X.device).index_add_(0, y, X)
    counts = torch.bincount(y, minlength=num_classes).clamp(min=1)  # (q,)
    return sums / counts.reshape(-1, *[1] * (X.dim() - 1))


def nearest_mean(X: torch.Tensor, means: torch.Tensor, squared: bool, chunk: int = 1000) -> torch.Tensor:
    """Index of the closest mean for each row of X (n, C, H, W), by mean |difference| or mean difference^2."""
    flat = means.reshape(1, len(means), -1)  # (1, q, d)
    predictions = []
    for i in range(0, len(X), chunk):
        diff = X[i : i + chunk].reshape(-1, 1, flat.shape[2]) - flat  # (b, q, d): a chunk keeps this small
        distance = (diff.square() if squared else diff.abs()).mean(dim=2)  # (b, q)
        predictions.append(distance.argmin(dim=1))
    return torch.cat(predictions)


@torch.inference_mode()
def pixel_similarity(data: datasets.Data, chunk: int = 1000) -> PixelSimilarity:
    """Seed 004's baseline: label each validation image with the class of the nearest mean training image.

    The post averages the per-class accuracies; this is the accuracy over all validation images, the
    same number on a balanced split such as Fashion-MNIST's (1,000 images of each class).
    """
    q = len(data.classes)
    began = time.perf_counter()
    means = class_means(data.X_train, data.y_train, q)
    averaging = time.perf_counter() - began
    scores = {}
    for name, squared in (("mae", False), ("mse", True)):
        began = time.perf_counter()
        predicted = nearest_mean(data.X_val, means, squared, chunk)
        per_class = per_class_accuracy(confusion_matrix(predicted, data.y_val, q))
        seconds = averaging + time.perf_counter() - began
        scores[name] = (float((predicted == data.y_val).float().mean()), per_class, seconds)
    return PixelSimilarity(
        means=means.cpu(),
        accuracy_mae=scores["mae"][0],
        accuracy_mse=scores["mse"][0],
        per_class_mae=tuple(scores["mae"][1].tolist()),
        per_class_mse=tuple(scores["mse"][1].tolist()),
        seconds_mae=scores["mae"][2],
        seconds_mse=scores["mse"][2],
    )


# --- The trained rungs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    key: str
    title: str
    settings: dict  # RunConfig fields of this rung
    reported: str  # what the post (on MNIST) or d2l (on Fashion-MNIST) reached


POST = {"lr": 1.0, "init_std": 1.0}  # the post's plain SGD at lr = 1, from its N(0, 1) init
LINEAR = {"model": "softmax", **POST}  # its linear model, 784 -> 10
RUNGS = (
    Rung("sigmoid_mse", "Linear, sigmoid + MSE", {**LINEAR, "loss": "sigmoid_mse"}, "slow, below the baseline"),
    Rung("softmax_mse", "Linear, softmax + MSE", {**LINEAR, "loss": "softmax_mse"}, "better, below 82%"),
    Rung("cross_entropy", "Linear, cross-entropy", {**LINEAR, "loss": "cross_entropy"}, "84% after 1 epoch; 91.5%"),
    Rung(
        "small_net",
        "Small net, 64 sigmoid units",
        {"model": "mlp", "num_hiddens": 64, "activation": "sigmoid", "loss": "cross_entropy", **POST},
        "~95%",
    ),
    Rung(
        "mlp",
        "MLP, 256 ReLU units (d2l)",
        {"model": "mlp", "num_hiddens": 256, "activation": "relu", "lr": 0.1},
        "d2l, Fashion-MNIST: ~84-85%",
    ),
    Rung(
        "resnet",
        "ResNet (small)",
        # the post's ResNet-18 trains with fastai's one-cycle recipe; this is the ResNet page's (core.train.RECIPE)
        {
            "model": "resnet",
            "resnet_width": 16,
            "resnet_stages": 3,
            **RECIPE,
            "lr": RECIPE_LR,
            "batch_size": RECIPE_BATCH,
        },
        "ResNet-18 on a GPU: 99.4%",
    ),
)
LOSS_RUNGS = ("sigmoid_mse", "softmax_mse", "cross_entropy")  # the post's three curves


def ladder(
    dataset: str, epochs: int, train_examples: int = 0, seed: int = 0, device: str = "auto"
) -> list[tuple[Rung, RunConfig]]:
    """Every trained rung's config: batch 256 as in the post, one evaluation an epoch on the whole split.

    train_examples = 0 trains on every image; on a CPU the ResNet trains RESNET_CPU_EPOCHS epoch(s) at most.
    """
    on_cpu = resolve_device(device).type == "cpu"
    configs = []
    for rung in RUNGS:
        rung_epochs = min(epochs, RESNET_CPU_EPOCHS) if rung.key == "resnet" and on_cpu else epochs
        base = {
            "dataset": dataset,
            "implementation": "concise",  # the ladder compares losses and models, not implementations
            "batch_size": 256,
            "epochs": rung_epochs,
            "seed": seed,
            "device": device,
            "train_examples": train_examples,
            "evals_per_epoch": 1,
        }
        configs.append((rung, RunConfig(**{**base, **rung.settings})))
    return configs


def accuracy_curve(history) -> tuple[list[float], list[float]]:
    """(epochs, validation accuracies) of a run's progress events that carry an evaluation."""
    evals = [p for p in history if p.val_acc is not None]
    return [p.epoch for p in evals], [p.val_acc for p in evals]


def summary(job, num_train: int | None = None) -> dict:
    """What a training run (core.runs.jobs.Job, core.runs.book.StoredRun) has reached: state, progress, last validation
    accuracy, seconds; `num_train`: the dataset's training images, for a run on all of them."""
    history = job.history
    last = history[-1] if history else None
    _, accuracies = accuracy_curve(history)
    if job.error:
        state = "failed"
    elif job.outcome is not None:
        state = job.outcome.status  # completed | cancelled | diverged | guessing
    else:
        state = job.state  # queued | starting | running
    return {
        "state": state,
        "progress": last.step / last.total_steps if last else 0.0,
        "epochs": round(last.epoch, 2) if last else 0.0,
        "val accuracy": accuracies[-1] if accuracies else math.nan,
        "seconds": round(last.elapsed, 1) if last else math.nan,
        "training images": job.config.train_examples or num_train,
    }


def placeable(jobs, dataset: str, exclude_ids=()) -> list:
    """Finished classification runs on `dataset` that reached an evaluation: they can join the ladder."""
    return [
        job
        for job in jobs
        if job.id not in exclude_ids
        and job.config.dataset == dataset
        and job.state == "done"
        and job.classes  # a classification run that got as far as loading its data
        and accuracy_curve(job.history)[1]
    ]
