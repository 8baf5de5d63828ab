"""core.evaluate's metrics on a trained model, and core.checkpoint's round trip and refusals."""

from __future__ import annotations

import io
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import checkpoint, evaluate
from core.train import RunConfig, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(small):
    """Softmax regression after 2 epochs on 2,000 images: right about 3 times in 4, so it makes mistakes."""
    run = train(RunConfig(model="softmax", batch_size=64, epochs=2), small)
    assert run.outcome.status == "completed"
    return run


@pytest.fixture(scope="module")
def result(trained):
    return evaluate.evaluate(trained.model, trained.data.X_val, trained.data.y_val, num_classes=10)


# --- evaluate ------------------------------------------------------------------------------------


def test_confusion_matrix_counts_every_example(result, trained):
    n = len(trained.data.y_val)
    assert result.confusion.shape == (10, 10)
    assert int(result.confusion.sum()) == n
    assert result.confusion.sum(dim=1).tolist() == torch.bincount(trained.data.y_val, minlength=10).tolist()
    assert result.confusion.sum(dim=0).tolist() == torch.bincount(result.predictions, minlength=10).tolist()
    assert result.accuracy == pytest.approx(float(result.confusion.trace()) / n)


def test_accuracy_and_loss_agree_with_the_training_loop(result, trained):
    assert 0.6 < result.accuracy < 1
    assert result.accuracy == pytest.approx(trained.last_eval.val_acc)
    assert result.loss == pytest.approx(trained.last_eval.val_loss, rel=1e-5)
    assert result.predictions.shape == (500,) and result.predictions.dtype == torch.int64


def test_per_class_accuracy_is_the_diagonal_over_the_row(result):
    rows = result.confusion.sum(dim=1)
    assert len(result.per_class_accuracy) == 10
    for c, acc in enumerate(result.per_class_accuracy):
        assert acc == pytest.approx(float(result.confusion[c, c]) / float(rows[c]))


def test_mistakes_are_the_wrong_predictions_worst_first(result, trained):
    mistakes = result.mistakes
    y = trained.data.y_val
    assert (
        len(mistakes) == int((result.predictions != y).sum()) == int(result.confusion.sum() - result.confusion.trace())
    )
    losses = [m.loss for m in mistakes]
    assert losses == sorted(losses, reverse=True)
    for m in mistakes:
        assert m.predicted != m.true
        assert m.true == int(y[m.index]) and m.predicted == int(result.predictions[m.index])
        assert 0 < m.confidence <= 1
        assert m.loss > 0
    assert len({m.index for m in mistakes}) == len(mistakes)
    worst = mistakes[0]
    logits = evaluate.predict(trained.model, trained.data.X_val[worst.index : worst.index + 1])
    assert worst.confidence == pytest.approx(float(torch.softmax(logits, dim=1).max()))
    assert worst.loss == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, y[worst.index : worst.index + 1]))
    )


def test_mistakes_in_a_cell_are_that_cells_mistakes(result):
    true, predicted = divmod(int((result.confusion - torch.diag(result.confusion.diagonal())).argmax()), 10)
    cell = result.mistakes_in_cell(true, predicted)
    assert len(cell) == int(result.confusion[true, predicted]) > 0
    assert all(m.true == true and m.predicted == predicted for m in cell)
    assert [m.loss for m in cell] == sorted((m.loss for m in cell), reverse=True)
    assert result.mistakes_in_cell(true, true) == []


def test_predict_leaves_the_models_mode_alone(trained):
    model = trained.model
    model.train()
    evaluate.predict(model, trained.data.X_val[:10], batch_size=3)
    assert model.training
    model.eval()
    out = evaluate.predict(model, trained.data.X_val[:10], batch_size=3)
    assert not model.training and out.shape == (10, 10)


def test_loss_and_accuracy_has_no_accuracy_for_regression():
    run = train(RunConfig(model="linear", dataset="synthetic", epochs=1, num_examples=100))
    loss, acc = evaluate.loss_and_accuracy(run.model, run.data.X_val, run.data.y_val, torch.nn.functional.mse_loss)
    assert acc is None and loss > 0


# --- checkpoint: the round trip ------------------------------------------------------------------


def make_run(kind: str, small):
    """A briefly trained run of one kind: enough to make every weight and batch-norm statistic non-trivial."""
    if kind == "softmax":
        return train(RunConfig(model="softmax", epochs=1), small)
    if kind == "mlp-scratch":
        return train(RunConfig(model="mlp", implementation="scratch", num_hiddens=16, epochs=1), small)
    if kind == "resnet":
        config = RunConfig(model="resnet", resnet_width=4, resnet_stages=2, epochs=1, train_examples=256)
        return train(config, small.head(256, 64))
    if kind == "resnet-recipe":  # normalised inputs: the checkpoint must carry the training set's mean and std
        config = RunConfig(
            model="resnet", resnet_width=4, resnet_stages=2, epochs=1, normalize=True, lr_schedule="one_cycle"
        )
        return train(config, small.head(256, 64))
    return train(RunConfig(model="linear", dataset="exam", implementation="scratch", lr=0.001, epochs=1))


@pytest.mark.parametrize("kind", ["softmax", "mlp-scratch", "resnet", "resnet-recipe", "linear"])
def test_save_and_load_give_the_same_model_and_config(small, tmp_path, kind):
    run = make_run(kind, small)
    assert run.outcome.status in ("completed", "guessing")  # trained to the end (a ResNet of 256 images: at chance)
    path = tmp_path / "model.pt"
    checkpoint.save(run, path)
    for source in (path, str(path), checkpoint.to_bytes(run), io.BytesIO(path.read_bytes())):
        loaded = checkpoint.load(source)
        assert loaded.config == run.config
        assert loaded.input_shape == run.data.input_shape and loaded.classes == run.data.classes
        assert not loaded.model.training
        X = run.data.X_val[:32]
        torch.testing.assert_close(loaded.model(X), evaluate.predict(run.model, X), rtol=0, atol=0)
        for (name, a), b in zip(loaded.model.state_dict().items(), run.model.state_dict().values()):
            assert torch.equal(a, b), name


# --- checkpoint: what it refuses ------------------------------------------------------------------


class Payload:
    """Something that is not a tensor: what a malicious or careless checkpoint might carry."""

    def __init__(self, marker: str = ""):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))  # would create a folder if unpickled without weights_only


def refused(blob: bytes) -> str:
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load(blob)
    return str(info.value)


def test_a_checkpoint_carrying_an_object_is_refused_not_executed(trained, tmp_path):
    marker = tmp_path / "was-executed"
    buffer = io.BytesIO()
    state = dict(trained.model.state_dict())
    payload = {"format": checkpoint.FORMAT, "config": trained.config.as_dict(), "input_shape": [1, 28, 28]}
    torch.save(
        {**payload, "classes": list(trained.data.classes), "state_dict": state, "x": Payload(str(marker))}, buffer
    )
    message = refused(buffer.getvalue())
    assert "weights_only" in message and "objects" in message
    assert not marker.exists()


def test_a_plain_pickle_of_an_object_is_refused(tmp_path):
    marker = tmp_path / "was-executed"
    message = refused(pickle.dumps(Payload(str(marker)), protocol=2))
    assert "weights_only" in message and "objects" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"this is a text file, not a model\n",
        bytes(range(256)) * 4,
        random.Random(0).randbytes(2048),
    ],
    ids=["empty", "text", "bytes", "random"],
)
def test_files_that_are_not_torch_files_are_refused(blob):
    assert "not a PyTorch checkpoint" in refused(blob)


def test_a_truncated_checkpoint_is_refused(trained):
    blob = checkpoint.to_bytes(trained)
    assert "not a PyTorch checkpoint" in refused(blob[: len(blob) // 2])
    assert "not a PyTorch checkpoint" in refused(blob[:100])


@pytest.mark.parametrize(
    "content",
    [torch.zeros(3), {"weights": torch.zeros(3)}, {"format": "someone-else/1", "state_dict": {}}, [1, 2, 3]],
    ids=["tensor", "state-dict", "other-format", "list"],
)
def test_torch_files_that_are_not_ours_are_refused(content):
    buffer = io.BytesIO()
    torch.save(content, buffer)
    assert "not a checkpoint saved by this dashboard" in refused(buffer.getvalue())


def test_a_damaged_checkpoint_is_refused(trained):
    def saved(**changes):
        payload = torch.load(io.BytesIO(checkpoint.to_bytes(trained)), weights_only=True)
        payload.update(changes)
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    assert "damaged" in refused(saved(state_dict={"net.1.weight": torch.zeros(3, 3)}))
    assert "damaged" in refused(saved(config={**trained.config.as_dict(), "lr": -1.0}))
    assert "damaged" in refused(saved(config={**trained.config.as_dict(), "model": "transformer"}))
    assert "damaged" in refused(saved(input_shape=[1, 14, 14]))  # weights sized for 28x28 images
    no_config = torch.load(io.BytesIO(checkpoint.to_bytes(trained)), weights_only=True)
    del no_config["config"]
    buffer = io.BytesIO()
    torch.save(no_config, buffer)
    assert "damaged" in refused(buffer.getvalue())


def test_an_image_uploaded_by_mistake_is_not_said_to_hold_python_objects():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    assert "not a PyTorch checkpoint" in refused(png)


def test_a_normalised_model_loads_with_its_training_statistics(small):
    run = make_run("resnet-recipe", small)
    loaded = checkpoint.load(checkpoint.to_bytes(run))
    mean = small.head(256, 64).X_train.mean(dim=(0, 2, 3))
    assert loaded.model.mean.flatten().tolist() == pytest.approx(mean.tolist()), "not the placeholder 0"
    assert float(loaded.model.mean) != 0.0 and float(loaded.model.std) != 1.0


# --- Uploads that would starve the server (issue 12) --------------------------------------------------------


def crafted(**changes) -> bytes:
    """Our format, claiming an MLP of 16 layers of 8,192 units on 3x100x100 photos, with an empty state dict."""
    config = RunConfig(model="mlp", num_hiddens=8192, num_layers=16, dataset="cifar10_catdog").as_dict()
    payload = {"format": checkpoint.FORMAT, "config": config, "input_shape": [3, 100, 100]}
    payload |= {"classes": ["cat", "dog", "neither"], "state_dict": {}} | changes
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_small_crafted_checkpoint_is_refused_before_anything_is_allocated(tmp_path):
    """The issue's 1.5 KB file took the server from 1.7 to 6.2 GB. Loaded in a fresh process: its peak memory."""
    blob = crafted()
    assert len(blob) < 4000
    path = tmp_path / "crafted.pt"
    path.write_bytes(blob)
    code = f"""
import resource, sys
import torch
from core import checkpoint
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    checkpoint.load(open({str(path)!r}, "rb").read())
except checkpoint.CheckpointError as err:
    print("refused:", err)
print("grew_mb", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout and "parameters; models up to" in done.stdout, done.stdout
    grew = float(done.stdout.split("grew_mb")[-1])
    assert grew < 200, f"loading took {grew:.0f} MB more"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"input_shape": [3, 100000, 100000]}, "input shape"),
        ({"input_shape": [3, 4000, 4000]}, "at most 786,432"),
        ({"classes": [str(i) for i in range(5000)]}, "5,000 classes"),
        ({"state_dict": {"w": [1, 2]}}, "not a table of tensors"),
        # issue 21: a class name of 200,000 characters froze the tab; a NUL broke the downloaded predict.py
        ({"classes": ["cat", "x" * 200_000]}, "200,000 characters"),
        ({"classes": ["cat", "do\x00g"]}, "control characters"),
    ],
)
def test_cheap_checks_come_first(changes, expected):
    message = refused(crafted(**changes))
    assert "damaged" in message and expected in message, message


def test_weights_that_do_not_fit_their_config_are_named(trained):
    config = trained.config.as_dict()
    state = {k: v for k, v in trained.model.state_dict().items()}
    first = next(iter(state))
    changes = {"config": config, "input_shape": [1, 28, 28], "classes": list(trained.data.classes)}
    missing = refused(crafted(**changes, state_dict={k: v for k, v in state.items() if k != first}))
    assert "1 tensor(s) missing" in missing and first in missing, missing
    reshaped = refused(crafted(**changes, state_dict={**state, first: torch.zeros(2, 2)}))
    assert "shapes differ" in reshaped and "(2, 2) instead of" in reshaped, reshaped
