"""Export as code: every model family compiles, the script runs on its own and matches the dashboard's run.

The exported program must not need this project: it is checked to import only torch, torchvision and
the standard library, and two of them (softmax regression on Fashion-MNIST, linear regression on the
synthetic data) are run in a separate Python process and compared with `core.train` on the same config.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from core.datasets import Data
from core.export.script import IMAGE_SHAPES, file_name, sections, to_notebook, to_script
from core.train import RunConfig, train
from core.train import start as train_start

# the ResNet page's recipe (issue 11)
RECIPE = dict(
    optimizer="nesterov", lr=0.2, weight_decay=5e-4, lr_schedule="one_cycle", label_smoothing=0.1, normalize=True
)
FAMILIES = [
    RunConfig(model="linear", dataset="synthetic", true_w=(2, 3), true_b=1, noise=0.5, num_examples=200),
    RunConfig(model="linear", dataset="exam", optimizer="momentum"),
    RunConfig(model="softmax"),
    RunConfig(model="softmax", dataset="cifar10_catdog", optimizer="adam", loss="softmax_mse"),
    RunConfig(model="mlp", num_layers=3, num_hiddens=64, activation="sigmoid", loss="sigmoid_mse", init_std=0.1),
    RunConfig(model="mlp", dataset="mnist", activation="tanh", optimizer="momentum"),
    RunConfig(model="resnet", resnet_width=8, resnet_blocks=2, resnet_stages=2, train_examples=2000),
    RunConfig(model="resnet18", dataset="cifar10"),
    RunConfig(model="resnet", dataset="cifar10", batch_size=128, **RECIPE),
    RunConfig(model="mlp", optimizer="adam", weight_decay=1e-4, lr_schedule="one_cycle", lr=0.01),
]
CASES = [
    RunConfig(**{**config.as_dict(), "implementation": impl}) for config in FAMILIES for impl in ("scratch", "concise")
]


def imported_modules(src: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize("config", CASES, ids=lambda c: f"{c.model}-{c.implementation}-{c.dataset}")
def test_every_family_and_implementation_compiles_without_our_package(config):
    src = to_script(config)
    compile(src, f"{file_name(config)}.py", "exec")
    assert imported_modules(src) <= {"math", "os", "torch", "torchvision"}
    assert f"lr, batch_size, num_epochs, seed = {config.lr!r}, {config.batch_size}, {config.epochs}" in src
    explicit_parameters = config.scratch and config.model in ("linear", "softmax", "mlp")
    assert ("nn.Parameter(" in src) == explicit_parameters  # the scratch ResNet is written out, but of layers


def random_data(config: RunConfig) -> Data:
    """A few random examples of the config's dataset's shape: the model is built from the shape alone."""
    if config.dataset in IMAGE_SHAPES:
        channels, height, width, q = IMAGE_SHAPES[config.dataset]
        X, y, classes = torch.rand(20, channels, height, width), torch.arange(20) % q, tuple(map(str, range(q)))
    else:
        d = len(config.true_w) if config.dataset == "synthetic" else 2
        X, y, classes = torch.randn(20, d), torch.randn(20, 1), ()
    return Data(config.dataset, X, y, X, y, classes)


@pytest.mark.parametrize("config", CASES, ids=lambda c: f"{c.model}-{c.implementation}-{c.dataset}")
def test_the_script_builds_the_runs_network_weight_for_weight(config):
    """The script's model code is core.models' own: run alone, it makes the network the run starts from."""
    data = random_data(config)
    run = train_start(config, data)
    (_, settings), _, (_, model), *_ = sections(config)
    namespace = {}
    defs = [node for node in ast.walk(ast.parse(model)) if isinstance(node, ast.FunctionDef)]
    hints = [d.name for d in defs if d.returns or any(a.annotation for a in ast.walk(d.args) if isinstance(a, ast.arg))]
    assert defs and not hints, "written as one would by hand: no type hints"
    exec(settings, namespace)  # the imports, seed and device
    namespace["mean"], namespace["std"] = data.channel_stats if config.normalize else (None, None)
    exec(model, namespace)
    expected, made = run.model.state_dict(), namespace["net"].state_dict()
    assert list(made) == list(expected)
    for key, value in expected.items():
        assert torch.equal(made[key], value), key


def test_the_models_follow_the_implementation_choice():
    mlp = RunConfig(model="mlp", num_layers=2, num_hiddens=128, activation="tanh")
    concise = to_script(mlp)
    call = 'MLP(784, 10, num_hiddens=128, num_layers=2, activation="tanh")'
    assert "class MLP(nn.Module):" in concise and f"net = {call}.to(device)" in concise
    assert "class MLPScratch" not in concise and "nn.Parameter(" not in concise
    scratch = to_script(RunConfig(**{**mlp.as_dict(), "implementation": "scratch"}))
    assert f"net = MLPScratch{call[3:]}.to(device)" in scratch
    assert "def tanh(X):" in scratch and "class SGD:" in scratch and "torch.optim.SGD(" not in scratch
    resnet = to_script(RunConfig(model="resnet", implementation="scratch", resnet_blocks=2))
    assert "ResNet(in_channels=1, num_classes=10, widths=(16, 32, 64), blocks=(2, 2, 2))" in resnet
    assert "class Residual(nn.Module):" in resnet and "BasicBlock" not in resnet
    assert "def cross_entropy(" in resnet and "nn.CrossEntropyLoss" not in resnet


def test_the_notebook_holds_the_same_code_as_the_script():
    config = RunConfig(model="mlp", implementation="scratch", optimizer="momentum")
    notebook = json.loads(to_notebook(config))
    assert notebook["nbformat"] == 4 and isinstance(notebook["nbformat_minor"], int)
    assert notebook["metadata"]["kernelspec"]["language"] == "python"
    for cell in notebook["cells"]:
        assert cell["cell_type"] in ("markdown", "code") and isinstance(cell["source"], list)
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code == [block for _, block in sections(config)]
    script = to_script(config)
    assert all(block in script for block in code)
    compile("\n\n".join(code), "notebook", "exec")


def test_what_cannot_be_exported_is_explained():
    with pytest.raises(ValueError, match="needs numbers to predict"):
        to_script(RunConfig(model="softmax", loss="mse"))


OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}  # a closed port: no download


def run_script(config: RunConfig, tmp_path, root: str | None = None) -> subprocess.CompletedProcess:
    """Run the exported script unmodified in a fresh Python, in an empty folder and offline, as a student would:
    it finds the dashboard's data folder (the one it was exported from) by itself."""
    path = tmp_path / f"{file_name(config)}.py"
    path.write_text(to_script(config, root))
    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_DATA"} | OFFLINE
    command = [sys.executable, str(path)]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=180)


def script_output(config: RunConfig, tmp_path) -> str:
    done = run_script(config, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_script_offline_without_the_dataset_says_so_in_a_sentence(tmp_path):
    """Issue 20: run in a fresh folder without network it ended in torchvision's 'RuntimeError: Error downloading'."""
    config = RunConfig(model="softmax", epochs=1)
    done = run_script(config, tmp_path, root=str(tmp_path / "no such folder"))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "Fashion-MNIST is not in" in done.stderr and "could not be downloaded" in done.stderr, done.stderr
    assert "set DASHBOARD_DATA to a folder" in done.stderr


def epoch_lines(stdout: str) -> list[dict[str, float]]:
    return [
        {key: float(value) for key, value in re.findall(r"(train loss|val loss|val accuracy) ([\d.]+)", line)}
        for line in stdout.splitlines()
        if line.startswith("epoch ")
    ]


@pytest.mark.parametrize(
    "config",
    [
        RunConfig(model="softmax", epochs=2, train_examples=10000),
        # seed 004's linear model: its N(0, 1) init and lr 1
        RunConfig(model="softmax", epochs=2, train_examples=10000, init_std=1.0, lr=1.0, loss="softmax_mse"),
        # the ResNet page's recipe on a model quick enough to run twice: every piece of it is in the script
        *(
            RunConfig(model="softmax", implementation=impl, epochs=2, train_examples=10000, **RECIPE)
            for impl in ("concise", "scratch")
        ),
    ],
    ids=["d2l", "post-init", "recipe-concise", "recipe-scratch"],
)
@pytest.mark.slow
def test_the_softmax_script_runs_and_matches_the_dashboard(config, fashion, tmp_path):
    epochs = epoch_lines(script_output(config, tmp_path))
    assert len(epochs) == 2
    last = train(config, fashion).last_eval
    # the same weights, batches and updates: equal to every printed digit (4 decimals, so within half a unit of the
    # last one, and a hair more for float noise; one image of 10,000 is 1e-4)
    assert epochs[-1]["val accuracy"] == pytest.approx(last.val_acc, abs=6e-5)
    assert epochs[-1]["val loss"] == pytest.approx(last.val_loss, abs=6e-5)
    assert epochs[-1]["val accuracy"] > (0.15 if config.init_std else 0.7)


@pytest.mark.slow
@pytest.mark.parametrize("implementation", ["concise", "scratch"])
def test_the_linear_regression_script_runs_and_learns_what_the_dashboard_learns(implementation, tmp_path):
    config = RunConfig(
        model="linear", dataset="synthetic", implementation=implementation, lr=0.02, batch_size=32, epochs=3
    )
    stdout = script_output(config, tmp_path)
    assert len(epoch_lines(stdout)) == 3
    learned = re.search(r"learned w \[([-\d.e]+), ([-\d.e]+)\], b ([-\d.e]+)", stdout)
    w1, w2, b = map(float, learned.groups())
    model = train(config).model
    # the same data, initial weights, batches and steps: the same parameters, to float precision
    assert (w1, w2, b) == pytest.approx((*model.w.reshape(-1).tolist(), model.b.item()), abs=1e-4)
    assert (w1, w2, b) == pytest.approx((2.0, -3.4, 4.2), abs=0.15)


@pytest.mark.parametrize("config", CASES[::3], ids=lambda c: f"{c.model}-{c.implementation}-{c.dataset}")
def test_the_notebook_is_valid_for_jupyter(config):
    """Written as JSON by hand, so checked against Jupyter's own schema (nbformat), as Jupyter checks it on open."""
    import nbformat

    notebook = nbformat.reads(to_notebook(config), as_version=4)
    nbformat.validate(notebook)  # raises ValidationError with the schema's complaint
    assert [c.cell_type for c in notebook.cells][:3] == ["markdown", "markdown", "code"]
