"""Benchmark of recovery (issue 23's targets): seconds from a database fault's end to the first new point.

A real PostgreSQL server (Debian's, a throwaway cluster on a free port: `tests/services.Postgres`) holds the run
store of one server (`RunBook` on a one-trainer `Scheduler`) that trains d2l's MLP on Fashion-MNIST. Twice, mid-run,
the database fails while the run trains on:
1. `outage`: the server stopped (`pg_ctl stop -m fast`) for `OUTAGE_S` seconds, then started again;
2. `hang`: every process of the server frozen with SIGSTOP for `HANG_S` seconds, then SIGCONT (a machine that
   swaps, a stuck disk: connections open, no answer).
For each, from the moment the database answers again: `first_point_s`, until a reader of the store (a connection
of its own, as another server's page) sees a point newer than the last one before the fault; `caught_up_s`, until
the store holds the step the run had reached when the fault ended (the backlog written); `warning_cleared_s`,
until the server's store warning is gone; and `points_during`, the points the run made during the fault (it must
go on training). Killing the Ray head is not timed: it ends every app server joined to it (README, "What each
fault does"), so there is no recovery to time yet.

The last line printed is one JSON object, also written to bench/results/recovery.json. Run from the repository
root: `python bench/bench_recovery.py` (PostgreSQL installed: `bash .ci/setup` installs it).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import create_engine, text  # noqa: E402

from core.runs.book import RunBook  # noqa: E402
from core.runs.jobs import Scheduler  # noqa: E402
from core.runs.store import Store  # noqa: E402
from core.train import RunConfig  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "recovery.json"
OUTAGE_S, HANG_S = 20.0, 30.0
CAP_S = 120.0  # a recovery slower than this is reported as not recovered
OWNER = "bench" * 8
LONG = RunConfig(model="mlp", epochs=200, batch_size=64, evals_per_epoch=4)  # minutes: outlasts both faults


def wait_for(predicate, since: float | None = None, cap: float = CAP_S) -> float | None:
    """Seconds from `since` (a time.monotonic(); now if None) until predicate() is true, polled every 50 ms;
    None when it is still false `cap` seconds after `since`."""
    since = time.monotonic() if since is None else since
    while time.monotonic() - since < cap:
        if predicate():
            return round(time.monotonic() - since, 2)
        time.sleep(0.05)
    return None


class Reader:
    """Another server's view of the store: the newest stored point of a run, through a connection of its own."""

    def __init__(self, url: str):
        self.engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 2})

    def last_step(self, run_id: int) -> int:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SET statement_timeout = 2000"))
                query = text("SELECT data FROM events WHERE run_id = :r ORDER BY id DESC LIMIT 1")
                data = conn.execute(query, {"r": run_id}).scalar()
        except Exception:  # the database is still out: nothing seen
            return -1
        if data is None:
            return 0
        return (json.loads(data) if isinstance(data, str) else data)["step"]


def fault(name: str, book: RunBook, job, reader: Reader, postgres) -> dict:
    assert wait_for(lambda: book.store.flush(timeout=1.0)) is not None, "the store never caught up"
    before = reader.last_step(job.id)
    steps_at_fault = job.history[-1].step
    if name == "outage":
        postgres.stop()
        time.sleep(OUTAGE_S)
        postgres.start()
    else:
        pids = postgres.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(HANG_S)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    ended = time.monotonic()
    reached = job.history[-1].step  # where the run is as the fault ends
    first = wait_for(lambda: reader.last_step(job.id) > before, since=ended)
    caught_up = wait_for(lambda: reader.last_step(job.id) >= reached, since=ended)
    cleared = wait_for(lambda: book.store.problem is None, since=ended)
    return {
        "fault_s": OUTAGE_S if name == "outage" else HANG_S,
        "first_point_s": first,
        "caught_up_s": caught_up,
        "warning_cleared_s": cleared,
        "points_during": sum(1 for p in job.history if steps_at_fault < p.step <= reached),
        "run_state": job.state,  # "running": it trained on through the fault
        "run_end": None if job.state == "running" else (job.outcome.message if job.outcome else job.error),
    }


def main() -> None:
    from services import Postgres  # tests/services.py: PostgreSQL started as an operator would

    postgres = Postgres()
    url = postgres.url("recovery")
    scheduler = Scheduler(1).warm_up(("fashion_mnist",))
    book = RunBook(scheduler, Store(url))
    reader = Reader(url)
    result = {"bench": "recovery", "machine": platform.machine(), "cpus": os.cpu_count()}
    job = book.submit(OWNER, LONG, label="long")
    try:
        assert wait_for(lambda: len(job.history) >= 3, cap=180) is not None, f"the run did not train: {job.error}"
        for name in ("outage", "hang"):
            result[name] = fault(name, book, job, reader, postgres)
            print(name, result[name], flush=True)
        result["head_loss"] = "not timed: killing the Ray head ends the app servers joined to it (README)"
    finally:
        job.stop()
        job.wait(30)
        scheduler.close()
        postgres.close()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
