"""Shared fixtures: Fashion-MNIST loaded once per session, small slices of it for quick runs, Chromium, one live
server and one trainer; and the tiers: `pytest -m fast`, the teaching code's own tests for a developer's loop,
and `pytest -m "not slow"`, a test or more of every module without the browser, servers, cluster and long runs."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs import require, require_fashion_mnist

from core import datasets
from live_app import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, start_server, stop_server

# the tests' runs go to a store of their own, never to the user's data/runs.db (set before any store opens)
if "DASHBOARD_DB" not in os.environ:
    _store = tempfile.mkdtemp(prefix="dashboard-tests-")
    os.environ["DASHBOARD_DB"] = f"sqlite:///{_store}/runs.db"
    atexit.register(shutil.rmtree, _store, ignore_errors=True)


# float32 on the CPU, so the tests compare exact numbers; the bfloat16 path has a test of its own (test_train.py)
os.environ.setdefault("DASHBOARD_CPU_BF16", "0")


# the ops and models (each from scratch beside its concise twin), the one training loop, and the lessons'
# computations: no server, trainer or browser
FAST = {"test_ops.py", "test_models.py", "test_train.py", "test_foundations.py", "test_tables.py"}
FAST |= {"test_linear_surface.py"}


# what makes a test slow (seconds or more each): a real browser, a server, a Ray cluster, a trainer of its own,
# PostgreSQL, or d2l's 10-epoch runs; other slow tests carry @pytest.mark.slow themselves
SLOW_FIXTURES = {"browser", "camera_browser", "live_server", "cli_cluster", "one_trainer", "d2l_run", "postgres"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        slow = item.get_closest_marker("slow") is not None or item.get_closest_marker("browser") is not None
        slow = slow or bool(SLOW_FIXTURES & set(item.fixturenames)) or "[postgresql" in item.name
        if slow and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
        if item.path.name in FAST and not slow:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def fashion_available() -> None:
    """Skips a test where Fashion-MNIST is missing, except in CI where it must be there (`needs_fashion_mnist`)."""
    require_fashion_mnist()


@pytest.fixture(scope="session")
def fashion(fashion_available) -> datasets.Data:
    """The real Fashion-MNIST, loaded once."""
    return datasets.load("fashion_mnist")


@pytest.fixture(scope="session")
def small(fashion) -> datasets.Data:
    """2,000 training and 500 validation images: enough to see learning, fast enough for every test."""
    return fashion.head(2000, 500)


@pytest.fixture(scope="session")
def tiny(fashion) -> datasets.Data:
    """512 training and 256 validation images, for tests that only need a few steps."""
    return fashion.head(512, 256)


@pytest.fixture(scope="session")
def d2l_run(fashion):
    """`d2l_run(model, seed=0, implementation="concise")`: a run with d2l's settings (10 epochs of SGD at lr 0.1,
    batch 256, one evaluation an epoch) on all of Fashion-MNIST, trained once per session: the accuracy tests
    of test_train.py and the ladder's of test_baselines.py share them."""
    from core.train import RunConfig, train

    runs: dict = {}

    def run(model: str, seed: int = 0, implementation: str = "concise"):
        key = (model, seed, implementation)
        if key not in runs:
            d2l = dict(lr=0.1, batch_size=256, epochs=10, evals_per_epoch=1, seed=seed, device="cpu")
            runs[key] = train(RunConfig(model=model, implementation=implementation, **d2l), fashion)
        return runs[key]

    return run


@pytest.fixture(scope="session")
def one_trainer():
    """One one-trainer scheduler, as a two-core server has, shared by the tests of jobs, the store and run files
    (a trainer takes seconds to start). Each test stops what it started (`scheduler` fixtures: `stop_all`)."""
    from core.runs.jobs import Scheduler

    sched = Scheduler(max_running=1)
    yield sched
    sched.close()


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """One `streamlit run` of the app for the browser tests that need no server of their own (its log:
    test-artifacts/streamlit-server.log); its URL. Each test's browser context is a browser of its own."""
    try:
        proc, url = start_server(ARTIFACTS / "streamlit-server.log", timeout_s=60)
    except RuntimeError as err:
        pytest.fail(str(err))
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Chromium through playwright, once per test module (skipped without it, failed in CI)."""
    require(
        Path(CHROMIUM).exists(), f"{CHROMIUM} is missing; CI must run the browser tests (WANT_BROWSER=1 bash .ci/setup)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator:
    """A real PostgreSQL server for the session (tests/services.py): skipped without it, failed in CI."""
    from services import Postgres

    server = Postgres()
    yield server
    server.close()
