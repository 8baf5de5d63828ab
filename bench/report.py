"""The end every benchmark shares: its targets and versions added, the JSON written to its results file, and printed
as the last line (what `bench/README.md` and the issues read)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch


def report(result: dict, targets: dict, out: Path) -> dict:
    result["targets"] = targets
    result["torch"], result["python"] = torch.__version__, platform.python_version()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result
