"""What a test needs from the machine: skipped where it is missing, except in CI (CI=true), where it must be there.

`.ci/setup` installs everything the suite uses (Fashion-MNIST, Chromium, darknet's photos), so in CI a missing
piece is a broken set-up and fails the test instead of quietly skipping it.
"""

from __future__ import annotations

import os

import pytest

from core import datasets


def require(ok: bool, reason: str) -> None:
    """Go on if `ok`; otherwise skip, or fail in CI."""
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_fashion_mnist() -> None:
    status = datasets.status("fashion_mnist")
    require(
        status.available, f"Fashion-MNIST is not in {datasets.data_dir()} (run `bash .ci/setup`): {status.how_to_get}"
    )
