"""The map of the house is complete: every module of core/ and ui/ is named in the README's "What is where" and
core's in core/__init__.py's docstring, so a new engineer reading either finds every module."""

from __future__ import annotations

import re
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> set[str]:
    return {p.stem for p in (ROOT / package).glob("*.py") if p.stem != "__init__"}


def _row(folder: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith(f"| `{folder}/` |"))


def test_every_module_is_on_the_map():
    core_row = set(re.findall(r"`(\w+)`", _row("core")))
    assert _modules("core") - core_row == set(), "core modules the README's 'What is where' leaves out"
    named = set(re.findall(r"`core\.(\w+)", core.__doc__))
    assert _modules("core") - named == set(), "core modules core/__init__.py's docstring leaves out"
    ui_row = set(re.findall(r"`(\w+)\.py`", _row("ui")))
    assert _modules("ui") - ui_row == set(), "ui modules the README's 'What is where' leaves out"
    models_row = _row("core") + (ROOT / "core/models/__init__.py").read_text()
    assert all(name in models_row for name in _modules("core/models")), "core/models modules left out"
