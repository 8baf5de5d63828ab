"""Benchmark: the cost of one refresh of a class's board on the server (issue 25).

A class of `--students` joined students with `--runs` finished runs each, written to a real store (a SQLite file
by default, or `--db` any SQLAlchemy URL) as a trainer's messages are. The teacher's board (`Classroom.board`)
is then read `--refreshes` times: the first read copies every finished run onto the board, each later one
only looks for new ones, as the teacher's page does every 2 s. Figures: the first read, and the median and
95th percentile of the rest (target: 50 ms a refresh). The last line printed is one JSON object, also written
to bench/results/class.json. Run from the repository root: `python bench/bench_class.py --help`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from report import report  # noqa: E402
from test_classroom import finish  # noqa: E402  - a finished run, written as a trainer writes it

from core.runs.classroom import Classroom  # noqa: E402
from core.runs.store import Store  # noqa: E402
from core.train import RunConfig  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "class.json"
TARGETS = {"refresh_p95_ms": 50.0}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="finished runs per student")
    parser.add_argument("--refreshes", type=int, default=200)
    parser.add_argument("--db", default="", help="a SQLAlchemy URL; default: a new SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.db or f"sqlite:///{tmp}/runs.db")
        room = Classroom(store)
        lesson, _ = room.start("t" * 32)
        for i in range(args.students):
            owner = f"{i:032d}"
            room.join(owner, lesson.code, f"Student {i + 1}")
            for j in range(args.runs):
                finish(store, owner, RunConfig(lr=0.03 * 3**j, epochs=3), 0.7 + 0.01 * j)
        t = time.perf_counter()
        first = room.board(lesson.code)
        first_ms = (time.perf_counter() - t) * 1000
        times = []
        for _ in range(args.refreshes):
            t = time.perf_counter()
            board = room.board(lesson.code)
            times.append((time.perf_counter() - t) * 1000)
        assert len(first.rows) == len(board.rows) == args.students * args.runs
        times.sort()
        result = {
            "students": args.students,
            "runs_each": args.runs,
            "store": store.engine.dialect.name,
            "first_read_ms": round(first_ms, 2),
            "refresh_median_ms": round(statistics.median(times), 2),
            "refresh_p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        }
    return report(result, TARGETS, RESULTS)


if __name__ == "__main__":
    main()
