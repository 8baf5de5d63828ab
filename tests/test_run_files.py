"""A browser's runs taken away: the CSV of settings and final metrics, and TensorBoard event files that read back."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from test_jobs import completed

from core.runs.book import RunBook
from core.runs.files import folder_names, summary_table, tensorboard_zip
from core.runs.store import Store
from core.train import RunConfig

pytestmark = pytest.mark.usefixtures("fashion_available")


@pytest.fixture(scope="module")
def two_stored_runs(tmp_path_factory, request, one_trainer):
    small = request.getfixturevalue("small")
    book = RunBook(one_trainer, Store(f"sqlite:///{tmp_path_factory.mktemp('store') / 'runs.db'}"))
    for label, lr in (("Softmax regression #1", 0.1), ("Softmax regression #1", 0.3)):  # the same label twice
        job = book.submit("o" * 32, RunConfig(model="softmax", epochs=1, lr=lr), data=small, label=label)
        completed(job)
    assert book.store.flush()
    return book.runs("o" * 32)


def test_the_csv_has_one_row_per_run_with_its_settings_and_final_metrics(two_stored_runs):
    table = summary_table(two_stored_runs)
    back = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    assert len(back) == 2 and list(back["lr"]) == [0.1, 0.3]
    assert list(back["final val accuracy"]) == pytest.approx([r.last_eval.val_acc for r in two_stored_runs])
    assert set(back["status"]) == {"completed"} and set(back["model"]) == {"softmax"}


def test_the_tensorboard_files_read_back_with_the_same_values(two_stored_runs, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    names = folder_names(two_stored_runs)
    assert names[0] == "Softmax_regression_1" and names[1] != names[0], "one folder per run"
    with zipfile.ZipFile(io.BytesIO(tensorboard_zip(two_stored_runs))) as archive:
        archive.extractall(tmp_path)
    for run, name in zip(two_stored_runs, names):
        events = EventAccumulator(str(tmp_path / "runs" / name))
        events.Reload()
        assert {"loss/train", "loss/val", "accuracy/val", "lr"} <= set(events.Tags()["scalars"])
        train = [(e.step, e.value) for e in events.Scalars("loss/train")]
        assert train == [(p.step, pytest.approx(p.train_loss)) for p in run.history]
        acc = [(e.step, e.value) for e in events.Scalars("accuracy/val")]
        assert acc == [(p.step, pytest.approx(p.val_acc)) for p in run.history if p.val_acc is not None]
