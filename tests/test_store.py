"""The run store and the run book: runs that survive a new page, a restart, a crash and a broken store.

Each test has a store file of its own (tmp_path); they share one one-trainer scheduler, as a two-core server
has. "A restart" is a second `Store` + `RunBook` on the same file with a new server id; "a crash" is a
server whose heartbeat stopped while its run was unfinished.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
import torch
from sqlalchemy import event, text, update
from test_jobs import completed, wait_until

from core.runs import store as store_module
from core.runs.book import RunBook
from core.runs.jobs import Scheduler
from core.runs.store import Begun, Checkpoint, End, Event, Seen, Store, SweepResult, servers
from core.runs.view import RunView
from core.train import Finished, Progress, RunConfig, Started

SHORT = RunConfig(model="softmax", epochs=2, batch_size=256)
LONG = RunConfig(model="linear", dataset="synthetic", lr=0.01, batch_size=1, epochs=1000)  # minutes, unless stopped
ALICE, BOB = "a" * 32, "b" * 32


@pytest.fixture
def scheduler(one_trainer):
    """The module's one-trainer scheduler (a trainer takes seconds to start); no job outlives its test."""
    yield one_trainer
    one_trainer.stop_all()


def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    """A new store's URL: a SQLite file, and a database of a real PostgreSQL server (tests/services.py). Tests of
    SQLite's own failures (a damaged or locked file, a full disk, immutable files) use `url` alone."""
    return url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("postgres").url()


def trained(book: RunBook, owner: str, data, config=SHORT, label="Softmax regression #1"):
    job = book.submit(owner, config, data=data, label=label)
    completed(job)
    assert book.store.flush()
    return job


@pytest.mark.usefixtures("fashion_available")
def test_a_finished_run_reads_back_from_the_store_after_a_restart(db, scheduler, small):
    book = RunBook(scheduler, Store(db))
    job = trained(book, ALICE, small)
    wait_until(lambda: job.id not in book.live, what="the job to be let go once its end is stored")

    restarted = RunBook(scheduler, Store(db))  # a new server on the same file
    (run,) = restarted.runs(ALICE)
    assert (run.id, run.label, run.config, run.state) == (job.id, "Softmax regression #1", SHORT, "done")
    assert run.outcome == job.outcome
    assert run.history == job.history, "every progress event, as it was"
    assert run.started == job.started and run.classes == small.classes
    # the final weights: the same predictions as the model that trained
    X = small.X_val[:64]
    with torch.no_grad():
        assert torch.equal(run.model(X).argmax(1), job.run.model.eval()(X).argmax(1))
    assert run.run.last_eval == job.run.last_eval and len(run.run.data.X_val) == 10_000
    assert restarted.runs(BOB) == [], "another browser sees none of them"
    # one interface for the pages: every attribute it declares reads the same, live and stored
    assert isinstance(job, RunView) and isinstance(run, RunView)
    same = [n for n in RunView.__annotations__ if n not in ("model", "run")] + ["last_eval", "seconds_left"]
    assert {n: getattr(run, n) for n in same} == {n: getattr(job, n) for n in same}
    assert run.run_on(small).last_eval == job.run_on(small).last_eval


def test_one_browser_never_sees_or_deletes_anothers_runs(db, scheduler):
    book = RunBook(scheduler, Store(db))
    short = RunConfig(model="linear", dataset="synthetic", epochs=1)
    for owner in (ALICE, BOB):
        assert book.submit(owner, short, label=f"{owner[0]}'s run").wait(60)
    assert book.store.flush()
    (alices,), (bobs,) = book.runs(ALICE), book.runs(BOB)
    assert (alices.label, bobs.label) == ("a's run", "b's run")
    assert book.delete(ALICE, [bobs.id]) == 0, "an id of another browser is ignored"
    assert [r.id for r in book.runs(BOB)] == [bobs.id]
    assert book.delete(ALICE, [alices.id]) == 1 and book.runs(ALICE) == []
    assert book.delete(BOB, [bobs.id]) == 1
    assert book.store.new_run(ALICE, "next", "train", short) > bobs.id, "a deleted run's id is never reused"


def test_a_run_of_a_server_that_died_reads_interrupted_with_its_curve_and_last_weights(db, small_checkpoint):
    """SIGKILL mid-run, as the store sees it: events and an evaluation's weights, then the heartbeats stop."""
    dead = Store(db, server_id="dead")
    run_id = dead.new_run(ALICE, "MLP #1", "train", SHORT)
    dead.record(Begun(run_id, Started("cpu", "CPU", 7850, 8, 16), ("a", "b"), None))
    for step in (1, 2, 3):
        val = (0.9, 0.6) if step == 2 else (None, None)
        dead.record(Event(run_id, Progress(step, 16, step / 8, 1.0 / step, *val, 1000.0, 0.1 * step)))
    dead.record(Checkpoint(run_id, 2, False, lambda: small_checkpoint))
    assert dead.flush()
    with dead.engine.begin() as conn:  # its last heartbeat, long ago
        conn.execute(update(servers).where(servers.c.id == "dead").values(beat=time.time() - 3600))

    book = RunBook(Scheduler(1), Store(db))
    (run,) = book.runs(ALICE)
    assert run.state == "done" and run.interrupted
    assert run.outcome.status == "interrupted" and run.classes == ("a", "b")
    assert run.outcome.message.startswith("Interrupted at step 3 of 16")
    assert "the weights of its last evaluation (step 2)" in run.outcome.message
    assert [p.step for p in run.history] == [1, 2, 3] and run.last_eval.val_acc == 0.6
    assert run.model is not None, "its last evaluation's weights open"
    assert book.store.weights(run.id)[1] == small_checkpoint, "and download as the checkpoint they are"


@pytest.fixture(scope="module")
def small_checkpoint() -> bytes:
    from core import checkpoint
    from core.models import build_model

    config = RunConfig(model="softmax", dataset="fashion_mnist")
    model = build_model(config, (1, 28, 28), 10)
    return checkpoint.pack(config, (1, 28, 28), tuple("abcdefghij"), model.state_dict())


def test_a_corrupt_store_file_is_left_alone_and_runs_are_kept_in_memory(tmp_path, scheduler):
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is a shopping list, not a database\n" * 100)
    store = Store(url(tmp_path))
    assert not store.durable
    assert "is damaged" in store.problem and "will not last" in store.problem
    book = RunBook(scheduler, store)
    job = book.submit(ALICE, RunConfig(model="linear", dataset="synthetic", epochs=1), label="kept")
    completed(job, 60)
    assert [r.label for r in book.runs(ALICE)] == ["kept"], "training works, its runs in memory"
    assert path.read_bytes().startswith(b"this is a shopping list"), "the file is not overwritten"


def test_a_store_of_a_newer_version_is_not_touched(db):
    with Store(db).engine.begin() as conn:  # a newer dashboard's schema
        conn.execute(update(store_module.info).values(value="99").where(store_module.info.c.key == "schema_version"))
    store = Store(db)
    assert not store.durable and "newer dashboard (schema 99" in store.problem


def test_a_locked_store_says_so(tmp_path, monkeypatch):
    Store(url(tmp_path)).flush()
    holder = sqlite3.connect(tmp_path / "runs.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the file
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT", 0.2)
    try:
        store = Store(url(tmp_path))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not store.durable and "is locked by another program" in store.problem


def test_a_full_disk_keeps_the_run_in_memory_and_writes_it_once_there_is_room(tmp_path, scheduler):
    store = Store(url(tmp_path))
    book = RunBook(scheduler, store)
    pages = {"max": 1}  # the database may not grow: as on a full disk

    @event.listens_for(store.engine, "connect")
    def _limit(conn, _record):
        conn.execute(f"PRAGMA max_page_count = {pages['max']}")

    config = RunConfig(model="linear", dataset="synthetic", lr=0.01, batch_size=1, epochs=20)  # ~100 events
    job = book.submit(ALICE, config, label="on a full disk")
    with store.engine.connect() as conn:
        pages["max"] = conn.execute(text("PRAGMA page_count")).scalar()
    store.engine.dispose()  # new connections, with the limit
    completed(job, 60)
    wait_until(lambda: store.problem and "the disk is full" in store.problem, what="the full disk to be reported")
    assert job.id in book.live, "the run stays in memory while its end is not written"
    (run,) = book.runs(ALICE)
    assert run is job and len(run.history) > 0

    pages["max"] = 1_000_000  # room again: the kept writes go in, and the problem goes away
    store.engine.dispose()
    wait_until(lambda: job.id not in book.live, what="the kept writes to land")
    assert store.problem is None
    (stored,) = book.runs(ALICE)
    assert stored is not job and stored.history == job.history and stored.outcome == job.outcome


def test_each_browser_keeps_its_newest_runs_and_a_browser_unseen_for_30_days_is_forgotten(db):
    store = Store(db)
    ids = [store.new_run(ALICE, f"run {i}", "train", SHORT) for i in range(5)]
    for run_id in ids:
        store.record(End(run_id, Finished("completed", "done", 1, 0.1), None))
    store.record(Seen(ALICE))
    unfinished = store.new_run(ALICE, "still training", "train", SHORT)
    assert store.flush()
    assert store.prune(ALICE, keep=3) == 2
    assert [r.label for r in store.runs(ALICE)] == ["run 2", "run 3", "run 4", "still training"], "oldest first out"
    assert store.prune_owners(days=30) == 0, "seen just now"
    assert store.prune_owners(days=30, now=time.time() + 31 * 86400) == 1
    assert store.runs(ALICE) == [] and store.run(unfinished) is None
    assert store.size_bytes() > 0


def test_writes_are_queued_not_waited_for(db):
    """The page's and the job thread's side of a progress event is a queue's put: far below a millisecond."""
    store = Store(db)
    run_id = store.new_run(ALICE, "timed", "train", SHORT)
    event_ = Progress(1, 100, 0.01, 2.3, None, None, 1000.0, 0.1)
    began = time.perf_counter()
    for _ in range(1000):
        store.record(Event(run_id, event_))
    per_event = (time.perf_counter() - began) / 1000
    assert store.flush() and len(store.history(run_id)) == 1000
    assert per_event < 1e-3, f"{per_event * 1e6:.0f} us an event"


def test_a_backlog_writes_each_runs_latest_weights_once_not_every_evaluation(db, small_checkpoint):
    """After an outage a run's queued evaluations came to four statements and a pack each: on CI's machine the
    writer then fell behind a run that trained on (issue 23's outage test failed). Only the latest weights go in."""
    store = Store(db)
    run_id = store.new_run(ALICE, "backlog", "train", SHORT)
    packed = []

    def pack(step):
        return lambda: packed.append(step) or small_checkpoint

    with store._lock:  # the database "down": the writer waits with its batch, the rest queue behind it
        store.record(Checkpoint(run_id, 0, False, pack(0)))
        time.sleep(0.5)
        for step in range(1, 51):
            store.record(Event(run_id, Progress(step, 100, step / 50, 1.0 / step, 0.5, 0.8, 1000.0, 0.1 * step)))
            store.record(Checkpoint(run_id, step, False, pack(step)))
        store.record(Checkpoint(run_id, 50, True, pack("final")))
    assert store.flush()
    assert packed == [0, 50, "final"], "each evaluation's weights replace the one before: only the last is made"
    assert len(store.history(run_id)) == 50, "every progress event is kept"
    assert store.weights_step(run_id) == 50
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM weights")).scalar() == 2, "the last evaluation's and the final"


class FakeJob:
    def __init__(self, owner: str, state: str = "running"):
        self.owner, self.state, self.id, self.stopped = owner, state, 0, False

    def stop(self) -> None:
        self.stopped = True


def test_runs_stop_only_when_no_page_of_their_browser_is_open_for_the_grace_period(db):
    active = {"tab 1": True, "tab 2": True, "other": True}
    book = RunBook(Scheduler(1), Store(db), is_active=lambda sid: active[sid])
    now = [0.0]
    book.clock = lambda: now[0]
    book._thread = object()  # no background thread: the test looks itself
    mine, done, theirs = FakeJob(ALICE), FakeJob(ALICE, "done"), FakeJob(BOB)
    for job in (mine, done, theirs):  # runs of the store, as live jobs are
        job.id = book.store.new_run(job.owner, "run", "train", SHORT)
        book.live[job.id] = job
    book.visit(ALICE, "tab 1")
    book.visit(ALICE, "tab 2")
    book.visit(BOB, "other")
    active["tab 1"] = False  # one of two tabs closes
    now[0] = 1000.0
    assert book.check() == [] and not mine.stopped
    active["tab 2"] = False  # the last one: the grace starts
    assert book.check() == []
    now[0] += book.grace - 1
    book.visit(ALICE, "tab 3")  # a reload comes back as a new session within the grace
    active["tab 3"] = True
    assert book.check() == [] and not mine.stopped
    active["tab 3"] = False
    book.check()
    now[0] += book.grace
    assert book.check() == [ALICE]
    assert mine.stopped and not done.stopped and not theirs.stopped


def two_servers_one_training(db, scheduler) -> tuple[RunBook, RunBook, object]:
    """Two dashboard servers on one store; the first trains a long run of ALICE's: (first, second, its job)."""
    first = RunBook(scheduler, Store(db, server_id="first"))
    job = first.submit(ALICE, LONG, label="long")
    wait_until(lambda: job.history, what="the run to train")
    assert first.store.flush()
    return first, RunBook(Scheduler(1), Store(db, server_id="second")), job


def test_a_stop_asked_through_the_store_stops_the_run_on_the_server_that_trains_it(db, scheduler):
    """Two dashboard servers share one store: a page on the second stops a run training on the first."""
    first, second, job = two_servers_one_training(db, scheduler)
    (seen,) = second.runs(ALICE)
    assert seen.state == "running" and not seen.interrupted, "training on a live server"
    seen.stop()
    first.check()  # its look every few seconds
    assert job.wait(30) and job.outcome.status == "cancelled"


def test_a_restart_right_after_a_kill_shows_the_run_interrupted_at_once(db):
    """The killed server's heartbeat is seconds old, but its process is gone: no need to wait for it to go stale."""
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = Store(db, server_id="killed")
    run_id = killed.new_run(ALICE, "Softmax regression #1", "train", SHORT)
    killed.record(Event(run_id, Progress(7, 100, 0.07, 1.5, None, None, 1000.0, 0.7)))
    assert killed.flush()
    with killed.engine.begin() as conn:  # as if that server had been the process that just exited
        conn.execute(update(servers).where(servers.c.id == "killed").values(pid=int(gone.stdout)))
    (run,) = Store(db).runs(ALICE)
    assert run.state == "interrupted" and run.last_step == 7


def test_a_run_deleted_while_it_trains_stops_and_leaves_nothing_behind(db, scheduler):
    book = RunBook(scheduler, Store(db))
    job = book.submit(ALICE, LONG, label="deleted mid-run")
    wait_until(lambda: len(job.history) > 3, what="the run to train")
    assert book.delete(ALICE, [job.id]) == 1
    assert job.wait(30) and job.outcome.status == "cancelled"
    assert book.store.flush()
    time.sleep(2 * store_module.FLUSH_SECONDS)
    assert book.store.flush()
    assert book.runs(ALICE) == [] and book.store.history(job.id) == [] and book.store.weights(job.id) is None


def test_a_run_deleted_from_another_servers_page_stops_where_it_trains(db, scheduler):
    first, second, job = two_servers_one_training(db, scheduler)
    assert second.delete(ALICE, [job.id]) == 1
    first.check()
    assert job.wait(30) and job.outcome.status == "cancelled"
    assert first.store.flush() and first.runs(ALICE) == [] and first.store.history(job.id) == []


def test_a_store_that_breaks_after_it_opened_says_so_and_raises_nothing(db):
    store = Store(db)
    store.new_run(ALICE, "kept", "train", SHORT)
    with Store(db).engine.begin() as conn:  # another program damages it under the running server
        conn.execute(text("DROP TABLE runs"))
    assert store.runs(ALICE) is None and store.run(1) is None and store.delete(ALICE, [1]) == 0
    assert store.problem and store.problem.startswith("The run store")
    assert "no such table" in store.problem or "does not exist" in store.problem  # SQLite's words, PostgreSQL's


def test_a_write_that_can_never_succeed_is_dropped_and_the_others_go_in(db):
    store = Store(db)
    run_id = store.new_run(ALICE, "sweep", "find_lr", SHORT)
    store.record(SweepResult(run_id, None))  # a sweep stopped before it swept: nothing to keep
    store.record(Event(run_id, "not a progress event"))  # a bug's write: it can never be made
    store.record(End(run_id, Finished("cancelled", "Stopped.", 0, 0.0), None))
    assert store.flush() and store.problem is None
    (row,) = store.runs(ALICE, "find_lr")
    assert row.state == "done" and row.sweep is None and row.outcome["status"] == "cancelled"


IMMUTABLE = """
import subprocess, sys, threading, time
from pathlib import Path
from core.runs.book import RunBook
from core.runs.store import Seen, Store
from core.train import RunConfig
folder = Path(sys.argv[1])
store = Store(f"sqlite:///{folder}/runs.db", flush_seconds=0.05)
book = RunBook(None, store)  # no trainers: listing runs never needs them (and no Ray starts in this process)
run_id = store.new_run("a" * 32, "kept", "train", RunConfig(model="softmax"))
assert [r.label for r in book.runs("a" * 32)] == ["kept"]
files = [str(p) for p in folder.iterdir()]
subprocess.run(["chattr", "+i", *files], check=True)
try:
    store.engine.dispose()  # new connections (a pool grows under load): each reopens the files
    seen = []
    readers = [threading.Thread(target=lambda: seen.append(len(book.runs("a" * 32)))) for _ in range(4)]
    [t.start() for t in readers]
    [t.join() for t in readers]
    store.record(Seen("a" * 32))
    time.sleep(1.5)
    print("DURING", seen, store.problem, flush=True)
    Store(f"sqlite:///{folder}/runs.db")  # a second server opening it meanwhile
finally:
    subprocess.run(["chattr", "-i", *files], check=True)
print("WRITTEN", store.flush(20), flush=True)
print("AFTER", store.problem, [r.label for r in store.runs("a" * 32)], flush=True)
"""


@pytest.mark.slow
def test_a_store_made_immutable_under_a_running_server_is_a_sentence_not_a_crash(tmp_path):
    """Issue 21: `chattr +i` on the store's files under a running server killed it ("Fatal Python error: Bus
    error" in SQLite: WAL's index is a memory-mapped file). In its own process, as a SIGBUS would end pytest."""
    import subprocess
    import sys

    probe = tmp_path / "probe"
    probe.touch()
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i needs root and a file system that has it")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    (tmp_path / "store").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", IMMUTABLE, str(tmp_path / "store")], capture_output=True, text=True, timeout=120
    )
    subprocess.run(["chattr", "-R", "-i", str(tmp_path / "store")])
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["DURING"].startswith("[1, 1, 1, 1]"), "the runs it listed still show while it cannot be read"
    assert "The run store" in lines["DURING"] and "could not be written" in lines["DURING"]
    assert lines["WRITTEN"] == "True" and lines["AFTER"] == "None ['kept']", "back to normal once it is writable"


def test_two_servers_opening_a_new_database_at_once_both_store(postgres):
    """Issue 23: one of two servers opening a fresh PostgreSQL database lost the race 4 times in 5 ("duplicate key
    ... pg_type_typname_nsp_index") and ran on memory for the life of the process."""
    import threading

    for _ in range(3):
        db, opened = postgres.url(), []
        servers_ = [threading.Thread(target=lambda db=db, opened=opened: opened.append(Store(db))) for _ in range(2)]
        for server in servers_:
            server.start()
        for server in servers_:
            server.join(60)
        assert [(s.durable, s.problem) for s in opened] == [(True, None)] * 2


def test_a_value_longer_than_its_column_is_cut_never_retried_forever(db):
    """Issue 23: PostgreSQL enforces String(2000); a 2,001-character error was retried forever, and that server's
    later runs stayed "queued" in the store with the warning never clearing."""
    store = Store(db)
    run_id = store.new_run(ALICE, "L" * 500, "train", SHORT, group="G" * 300)
    store.record(End(run_id, None, "E" * 5000))
    later = store.new_run(ALICE, "later", "train", SHORT)
    store.record(End(later, Finished("completed", "done", 1, 0.1), None))
    assert store.flush() and store.problem is None
    first, second = store.runs(ALICE)
    assert first.error.startswith("E" * 1000) and len(first.error) <= 2000 and len(first.label) <= 200
    assert second.state == "done"


def test_a_run_the_store_could_not_take_writes_no_orphan_rows_and_is_written_once_it_works(db, scheduler, monkeypatch):
    """Issue 23: a run started during an outage got id -1, and its events were written later with run_id = -1;
    and it was lost at the next restart, though the store worked again long before."""
    store = Store(db)
    book = RunBook(scheduler, store)

    def outage(*args, **kwargs):  # what new_run raises while the database is down
        raise store_module.StoreError("The run store failed (OperationalError: connection refused).")

    monkeypatch.setattr(store, "new_run", outage)
    job = book.submit(ALICE, RunConfig(model="linear", dataset="synthetic", epochs=1), label="in memory")
    assert job.id < 0 and job.wait(60) and job.outcome.status == "completed"
    assert store.flush()
    with store.engine.connect() as conn:
        for table in ("events", "weights"):
            assert conn.execute(text(f"SELECT count(*) FROM {table} WHERE run_id < 0")).scalar() == 0, table
    curve = [p.step for p in job.history]

    monkeypatch.undo()  # the database is back
    book.check()  # the book's next look writes the run down
    assert job.id > 0 and store.flush()
    assert [r.id for r in book.runs(ALICE)] == [job.id], "one run, under the id the store gave it"
    (stored,) = RunBook(scheduler, Store(db)).runs(ALICE)  # a restart
    assert stored.label == "in memory" and stored.outcome.status == "completed" and stored.state == "done"
    assert [p.step for p in stored.history] == curve and stored.model is not None, "its curve and its weights"


def test_an_outage_never_marks_a_live_server_dead(postgres, monkeypatch, scheduler):
    """Issue 23: an outage longer than STALE_SECONDS erased a live server's heartbeat for good: the other server
    then showed its training run as "Interrupted ... the server stopped", with no Stop button."""
    monkeypatch.setattr(store_module, "STALE_SECONDS", 3.0)
    monkeypatch.setattr(store_module, "BEAT_SECONDS", 0.5)
    db = postgres.url()
    first = RunBook(scheduler, Store(db, server_id="first", flush_seconds=0.1))
    second = Store(db, server_id="second", flush_seconds=0.1)
    job = first.submit(ALICE, LONG, label="long")
    try:
        wait_until(lambda: job.history, what="the run to train")
        assert first.store.flush()
        postgres.stop()  # longer than STALE_SECONDS: both servers lose it
        time.sleep(5)
        postgres.start()
        with first.store._lock:  # the second server is back first, while the first's writes still wait
            wait_until(lambda: second.flush(), timeout=30, what="the second server to write again")
            time.sleep(1.0)  # a few of its heartbeats
            (seen,) = second.runs(ALICE)
            assert seen.state == "running", "its server is as cut off as the reader was: not judged gone at once"
        try:
            wait_until(lambda: first.store.flush(), timeout=30, what="the first server to write again")
        except AssertionError as err:  # what it was doing, should a slower machine find another cause
            st = first.store
            held = f"{len(st._pending)} writes pending, {st._queue.qsize()} queued, {st.problem}"
            raise AssertionError(f"{err}: {held}") from None
        time.sleep(1.5)
        (seen,) = second.runs(ALICE)
        assert seen.state == "running", "the run trains on: its server was only cut off, like everyone"
        assert job.state == "running"
    finally:
        job.stop()
        job.wait(30)


def test_a_server_started_while_the_database_is_down_uses_it_once_it_is_back(postgres):
    """Issue 23: a server whose first open of the store came while the database was down stayed on memory after
    the database was back; only a restart fixed it."""
    db = postgres.url()
    postgres.stop()
    try:
        store = Store(db)
        assert store.durable and "could not be reached" in store.problem and "Trying again" in store.problem
        assert store.runs(ALICE) is None
    finally:
        postgres.start()
    wait_until(lambda: store.problem is None, timeout=30, what="the store to be set up once the database is back")
    run_id = store.new_run(ALICE, "after the outage", "train", SHORT)
    assert [r.id for r in store.runs(ALICE)] == [run_id]
