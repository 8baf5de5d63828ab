"""The map of the house is complete: every module of core/, of each wing and of ui/ is named in the README's
"What is where" row of its folder and in its package's docstring, so a new engineer reading either finds every one."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WINGS = ["core/runs", "core/vision", "core/lessons", "core/export"]


def _modules(package: str) -> set[str]:
    return {p.stem for p in (ROOT / package).glob("*.py") if p.stem != "__init__"}


def _row(folder: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith(f"| `{folder}/` |"))


@pytest.mark.parametrize("folder", ["core", *WINGS])
def test_every_module_of_core_and_its_wings_is_on_both_maps(folder):
    assert _modules(folder) - set(re.findall(r"`(\w+)`", _row(folder))) == set(), f"README's '{folder}/' row"
    package = importlib.import_module(folder.replace("/", "."))
    named = set(re.findall(rf"`{folder.replace('/', '.')}\.(\w+)", package.__doc__))
    assert _modules(folder) - named == set(), f"modules {folder}/__init__.py's docstring leaves out"


def test_every_wing_is_on_the_engines_map_and_core_has_no_folder_off_it():
    folders = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists()}
    assert {f"core/{name}" for name in folders} == {*WINGS, "core/models"}
    import core

    assert all(f"`{wing.replace('/', '.')}`" in core.__doc__ for wing in WINGS)


def test_every_ui_and_models_module_is_on_the_map():
    ui_row = set(re.findall(r"`(\w+)\.py`", _row("ui")))
    assert _modules("ui") - ui_row == set(), "ui modules the README's 'What is where' leaves out"
    models_row = _row("core") + (ROOT / "core/models/__init__.py").read_text()
    assert all(name in models_row for name in _modules("core/models")), "core/models modules left out"
