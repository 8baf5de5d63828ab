"""A browser's runs as files to take away: one CSV row per run, and their curves as TensorBoard event files.

`summary_table` is the Compare page's table (settings, then what each run reached) and its CSV;
`tensorboard_zip` writes each run's curves with torch's `SummaryWriter` under `runs/<label>/` and zips
them, so that `tensorboard --logdir runs` opens them beside the user's own experiments.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from core import datasets

SETTINGS = (
    "model",
    "implementation",
    "dataset",
    "lr",
    "batch_size",
    "epochs",
    "optimizer",
    "momentum",
    "weight_decay",
    "lr_schedule",
    "label_smoothing",
    "normalize",
    "loss",
    "seed",
    "num_hiddens",
    "num_layers",
    "activation",
    "init_std",
    "resnet_width",
    "resnet_blocks",
    "resnet_stages",
    "train_examples",
    "device",
)


def applies(config, key: str) -> bool:
    """Whether a setting changes what this run does: momentum does nothing for plain SGD, hidden units nothing
    for linear regression; such a cell stays empty, so a table of many runs lists only what shaped each."""
    model = config.model
    rules = {
        "momentum": config.optimizer in ("momentum", "nesterov"),
        "label_smoothing": config.loss_name == "cross_entropy",
        **dict.fromkeys(("num_hiddens", "num_layers", "activation"), model == "mlp"),
        **dict.fromkeys(("resnet_width", "resnet_blocks", "resnet_stages"), model == "resnet"),
    }
    return rules.get(key, True)


def status(run) -> str:
    if run.error:
        return "failed"
    return run.outcome.status if run.outcome else run.state


def summary_table(runs) -> pd.DataFrame:
    """One row per run (core.runs.jobs.Job or core.runs.book.StoredRun): label, settings, state, final metrics."""
    rows = []
    for run in runs:
        history = run.history
        last, last_eval = (history[-1] if history else None), run.last_eval
        rows.append(
            {
                "run": run.label,
                "run id": run.id,
                **{k: getattr(run.config, k) if applies(run.config, k) else None for k in SETTINGS},
                "dataset": datasets.title(run.config.dataset),
                "status": status(run),
                "epochs done": round(last.epoch, 2) if last else 0.0,
                "final train loss": last.train_loss if last else None,
                "final val loss": last_eval.val_loss if last_eval else None,
                "final val accuracy": last_eval.val_acc if last_eval else None,
                "examples/s": round(last.examples_per_s) if last else None,
                "seconds": round(last.elapsed, 1) if last else None,
            }
        )
    return pd.DataFrame(rows, columns=["run", "run id", *SETTINGS, "status", "epochs done", "final train loss",
                                       "final val loss", "final val accuracy", "examples/s", "seconds"])  # fmt: skip


def folder_names(runs) -> list[str]:
    """A folder name per run from its label ("Softmax regression #1" -> "Softmax_regression_1"), unique."""
    names, taken = [], set()
    for run in runs:
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", run.label).strip("_") or "run"
        if name in taken:
            name = f"{name}_run{run.id}"
        taken.add(name)
        names.append(name)
    return names


def tensorboard_zip(runs) -> bytes:
    """Every run's curves as TensorBoard scalars (loss/train, loss/val, accuracy/val, lr, by optimizer step) and
    its settings as text, zipped as runs/<label>/events.out.tfevents.*."""
    from torch.utils.tensorboard import SummaryWriter

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for run, name in zip(runs, folder_names(runs)):
            folder = Path(tmp) / "runs" / name
            writer = SummaryWriter(log_dir=str(folder))
            writer.add_text("settings", "\n".join(f"    {k} = {v!r}" for k, v in run.config.as_dict().items()))
            for p in run.history:
                writer.add_scalar("loss/train", p.train_loss, p.step)
                if p.val_loss is not None:
                    writer.add_scalar("loss/val", p.val_loss, p.step)
                if p.val_acc is not None:
                    writer.add_scalar("accuracy/val", p.val_acc, p.step)
                if p.lr is not None:
                    writer.add_scalar("lr", p.lr, p.step)
            writer.close()
            for path in sorted(folder.iterdir()):
                archive.write(path, f"runs/{name}/{path.name}")
    return buffer.getvalue()
