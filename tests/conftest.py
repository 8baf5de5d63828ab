"""Shared fixtures: Fashion-MNIST loaded once per session, and small slices of it for quick runs."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from needs import require_fashion_mnist

from core import datasets

# the tests' runs go to a store of their own, never to the user's data/runs.db (set before any store opens)
if "DASHBOARD_DB" not in os.environ:
    _store = tempfile.mkdtemp(prefix="dashboard-tests-")
    os.environ["DASHBOARD_DB"] = f"sqlite:///{_store}/runs.db"
    atexit.register(shutil.rmtree, _store, ignore_errors=True)


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
