"""Every DASHBOARD_* variable is read in one place (core/settings.py), and a value that makes no sense is refused in
a sentence naming it, on Home, while the dashboard goes on with its default (issue 22, item 6)."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import settings
from core.runs.book import GRACE, grace_seconds
from core.runs.store import MAX_RUNS, max_runs

ROOT = Path(__file__).resolve().parent.parent

NONSENSE = {
    "DASHBOARD_GRACE_S": "-3",
    "DASHBOARD_MAX_RUNS": "lots",
    "DASHBOARD_MAX_WAITING": "0",
    "DASHBOARD_MAX_TRAININGS": "2.5",
    "DASHBOARD_CPU_BF16": "yes",
    "DASHBOARD_DB": "runs.db",
    "DASHBOARD_TRAIN_THREADS": "100000",
}


@pytest.mark.parametrize("name", list(NONSENSE))
def test_a_value_that_makes_no_sense_is_refused_by_name_and_the_default_used(monkeypatch, name):
    monkeypatch.setenv(name, NONSENSE[name])
    assert settings.value(name, "the default") == "the default"
    why = settings.refusal(name)
    assert why.startswith(f"{name}={NONSENSE[name]!r} is refused: it must be "), why
    assert settings.refusals() == [why]


def test_values_that_make_sense_are_taken(monkeypatch, tmp_path):
    for name, text in {"DASHBOARD_GRACE_S": "2.5", "DASHBOARD_MAX_RUNS": "7", "DASHBOARD_CPU_BF16": "0"}.items():
        monkeypatch.setenv(name, text)
    monkeypatch.setenv("DASHBOARD_DB", f"sqlite:///{tmp_path}/runs.db")
    assert (grace_seconds(), max_runs(), settings.value("DASHBOARD_CPU_BF16")) == (2.5, 7, False)
    assert settings.value("DASHBOARD_DB") == f"sqlite:///{tmp_path}/runs.db"
    assert settings.refusals() == []
    monkeypatch.setenv("DASHBOARD_GRACE_S", "nan")
    monkeypatch.setenv("DASHBOARD_MAX_RUNS", "-1")
    assert (grace_seconds(), max_runs()) == (GRACE, MAX_RUNS)  # the modules' own defaults
    monkeypatch.setenv("DASHBOARD_DATA", str(ROOT / "README.md"))  # a file, not a folder
    refused = [why.split("=")[0] for why in settings.refusals()]
    assert refused == ["DASHBOARD_DATA", "DASHBOARD_MAX_RUNS", "DASHBOARD_GRACE_S"]


def test_home_names_a_refused_setting(monkeypatch):
    monkeypatch.setenv("DASHBOARD_MAX_WAITING", "none")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any(w.value.startswith("DASHBOARD_MAX_WAITING='none' is refused") for w in at.warning), at.warning


def _example() -> None:  # what the check below must find (it is never called)
    os.environ.get("DASHBOARD_X")


def _reads_the_environment(path: Path) -> list[str]:
    """The DASHBOARD_* names `path` reads from os.environ (os.environ.get/[...], os.getenv) in code, not strings."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
            args = node.args[:1]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            args = [node.slice]
        elif isinstance(node, ast.Compare) and ast.unparse(node.comparators[0]) == "os.environ":
            args = [node.left]
        else:
            continue
        found += [a.value for a in args if isinstance(a, ast.Constant) and str(a.value).startswith("DASHBOARD_")]
    return found


def test_no_module_but_settings_reads_a_dashboard_variable_and_the_readme_lists_them_all():
    sources = [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "streamlit_app.py"]
    readers = {str(p.relative_to(ROOT)): names for p in sources if (names := _reads_the_environment(p))}
    assert not readers, f"read past core/settings.py: {readers}"
    assert _reads_the_environment(ROOT / "tests/test_settings.py") == ["DASHBOARD_X"]  # the check sees a read
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `(DASHBOARD_[A-Z0-9_]+)` \|", readme, flags=re.M))
    assert listed == set(settings.SETTINGS) | {"DASHBOARD_VENV"}  # DASHBOARD_VENV: the shell scripts'
