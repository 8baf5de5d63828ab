"""Benchmark of the run store (issue 13): what a progress event costs, and what a class's runs weigh.

1. `record_us`: `Store.record`, the only store call on a job's thread for an event (a queue's put), and
   `book_message_us`, all the run book does for one event (`RunBook.message`), median of 20,000 calls;
   target < 1 ms (1000 us) a progress event on the training side.
2. `writer_events_per_s`: how many progress events the writer thread commits a second, in its batches,
   from a burst of 20,000 (a class of 30 sends about 30 x 4 = 120 a second).
3. `trainer_examples_per_s`: the trainers' throughput for d2l's MLP on Fashion-MNIST (1 epoch, 4 runs
   each, alternating on one worker) with the store recording every event and without it, and their ratio: the
   trainer's process has no store code at all, so the ratio is noise around 1.
4. `bytes_per_run`: what one run adds to the store file (its write-ahead log checkpointed first), for a
   softmax and an MLP run of d2l's settings (10 epochs): its events, the latest evaluation's and the final
   weights.

The store is a temporary SQLite file. The last line printed is one JSON object, also written to
bench/results/store.json. Run from the repository root: `python bench/bench_store.py`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.runs.book import RunBook  # noqa: E402
from core.runs.jobs import Scheduler  # noqa: E402
from core.runs.store import Event, Store  # noqa: E402
from core.train import Progress, RunConfig  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "store.json"
TARGET_US = 1000.0
OWNER = "bench" * 8


def per_call_us(call, n: int = 20_000) -> float:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e6


class _FakeJob:  # what RunBook.message reads of a job
    id, run, config = 1, None, RunConfig()


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
    load = os.getloadavg()
    store = Store(f"sqlite:///{folder / 'runs.db'}")
    run_id = store.new_run(OWNER, "timed", "train", RunConfig())
    event = Progress(1, 1000, 0.1, 2.3, 0.9, 0.7, 50_000.0, 1.0, lr=0.1, val_examples=10_000)
    record_us = per_call_us(lambda: store.record(Event(run_id, event)))
    assert store.flush(120)
    scheduler = Scheduler(1).warm_up(("fashion_mnist",))
    book = RunBook(scheduler, store)
    message_us = per_call_us(lambda: book.message(_FakeJob, event))
    began = time.perf_counter()
    for _ in range(20_000):
        store.record(Event(run_id, event))
    assert store.flush(120)
    writer = 20_000 / (time.perf_counter() - began)
    print(f"record {record_us:.1f} us, message {message_us:.1f} us, writer {writer:,.0f} events/s", file=sys.stderr)

    with_store, without = [], []
    for _ in range(4):  # the same worker process trains both, one after the other
        config = RunConfig(model="mlp", epochs=1)
        for kept, sink in ((True, with_store), (False, without)):
            job = book.submit(OWNER, config, label="kept") if kept else scheduler.submit(config)
            assert job.wait(300) and job.outcome.status == "completed", job.error
            sink.append(job.history[-1].examples_per_s)
    ratio = statistics.median(with_store) / statistics.median(without)
    print(f"trainer examples/s: with the store {with_store}, without {without}", file=sys.stderr)

    def file_bytes() -> int:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return store.size_bytes()

    sizes = {}
    for name, config in (("softmax", RunConfig(model="softmax")), ("mlp", RunConfig(model="mlp"))):
        before = file_bytes()
        job = book.submit(OWNER, config, label=name)
        assert job.wait(600) and job.outcome.status == "completed", job.error
        assert store.flush(60)
        sizes[name] = file_bytes() - before
    result = {
        "record_us": round(record_us, 2),
        "book_message_us": round(message_us, 2),
        "target_us": TARGET_US,
        "writer_events_per_s": round(writer),
        "trainer_examples_per_s_with_store": round(statistics.median(with_store)),
        "trainer_examples_per_s_without": round(statistics.median(without)),
        "with_over_without": round(ratio, 3),
        "bytes_per_run": sizes,
        "load_average_at_start": [round(x, 2) for x in load],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    scheduler.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
