"""Shared fixtures: Fashion-MNIST loaded once per session, and small slices of it for quick runs."""

from __future__ import annotations

import os

import pytest

from core import datasets


@pytest.fixture(scope="session")
def fashion() -> datasets.Data:
    """The real Fashion-MNIST, loaded once. Skipped where it is missing, except in CI where it must be there."""
    st = datasets.status("fashion_mnist")
    if not st.available:
        reason = f"Fashion-MNIST is not in {datasets.data_dir()} (run `bash .ci/setup`): {st.how_to_get}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return datasets.load("fashion_mnist")


@pytest.fixture(scope="session")
def small(fashion) -> datasets.Data:
    """2,000 training and 500 validation images: enough to see learning, fast enough for every test."""
    return fashion.head(2000, 500)


@pytest.fixture(scope="session")
def tiny(fashion) -> datasets.Data:
    """512 training and 256 validation images, for tests that only need a few steps."""
    return fashion.head(512, 256)
