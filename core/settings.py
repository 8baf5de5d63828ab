"""Every `DASHBOARD_*` environment variable in one place: what it means, what it accepts, and its parsed value.

The modules that use a setting ask here (`value`), never `os.environ`. A value that makes no sense (a thread
count of "abc", a grace of -3 s, a database link SQLAlchemy cannot read) is refused with a sentence naming the
variable, and the dashboard goes on with its default: `refusals()` lists the sentences, which Home shows and the
server logs once at start. The README's table lists the same variables, and a test keeps the two the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    meaning: str
    accepts: str  # completes "it must be ..."
    parse: Callable[[str], object]  # the text -> its value; ValueError when it makes no sense


def _whole(low: int = 1, high: Callable[[], int] | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdecimal() or not low <= int(text) <= (high() if high else int(text)):
            raise ValueError(text)
        return int(text)

    return parse


def _seconds(text: str) -> float:
    seconds = float(text)  # ValueError for "abc"
    if not seconds >= 1:  # `not >=` refuses "nan" too
        raise ValueError(text)
    return seconds


def _switch(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def _folder(text: str) -> Path:
    if Path(text).exists() and not Path(text).is_dir():
        raise ValueError(text)
    return Path(text)


def _database(text: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(text)
    except ArgumentError as err:
        raise ValueError(text) from err
    return text


def _cores() -> int:
    return os.cpu_count() or 1


SETTINGS = {
    s.name: s
    for s in (
        Setting("DASHBOARD_DATA", "the data folder: datasets, photos, the run store", "a folder", _folder),
        Setting(
            "DASHBOARD_DB",
            "the run store: any SQLAlchemy URL (PostgreSQL lets several servers share one)",
            "a database URL such as sqlite:///runs.db or postgresql+psycopg://user@host/db",
            _database,
        ),
        Setting("DASHBOARD_RAY_ADDRESS", "a Ray cluster to train on (host:port)", "an address", str),
        Setting("DASHBOARD_MAX_TRAININGS", "trainings at once", "a whole number, at least 1", _whole()),
        Setting(
            "DASHBOARD_TRAIN_THREADS",
            "PyTorch threads per training",
            "a whole number from 1 to this machine's cores",
            _whole(1, _cores),
        ),
        Setting("DASHBOARD_MAX_WAITING", "runs one browser may have waiting", "a whole number, at least 1", _whole()),
        Setting("DASHBOARD_MAX_RUNS", "runs kept per browser", "a whole number, at least 1", _whole()),
        Setting("DASHBOARD_GRACE_S", "seconds a browser's runs outlive its pages", "a number, at least 1", _seconds),
        Setting("DASHBOARD_CPU_BF16", "bfloat16 convolutions on a CPU that has them", "0 or 1", _switch),
    )
}


def _read(name: str) -> tuple[object, str | None]:
    """(the variable's parsed value, None); (None, None) when unset; (None, the sentence refusing it)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None, None
    try:
        return SETTINGS[name].parse(text), None
    except ValueError:
        accepts = SETTINGS[name].accepts.replace("this machine's cores", f"{_cores()} (this machine's cores)")
        return None, f"{name}={text!r} is refused: it must be {accepts}. The dashboard uses its default instead."


def refusal(name: str) -> str | None:
    """The sentence that refuses the variable's value; None when it is unset or accepted."""
    return _read(name)[1]


def value(name: str, default=None):
    """The variable's value, parsed; `default` when it is unset or refused (`refusal` says why)."""
    parsed, _ = _read(name)
    return default if parsed is None else parsed


def refusals() -> list[str]:
    return [why for name in SETTINGS if (why := refusal(name))]
