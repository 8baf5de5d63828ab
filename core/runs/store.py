"""The run store: every run a browser trained, kept across reloads, new tabs, restarts and crashes.

SQLAlchemy 2 over SQLite by default (`runs.db` in the data folder, made on first use, no server to start); any
SQLAlchemy URL in `DASHBOARD_DB` (PostgreSQL, say) lets several dashboard servers share one store. A run's row
holds its owner (a browser's random id), label, config, state and outcome; its progress events go to `events`,
and `weights` holds weights-only checkpoints (`core.checkpoint`'s format): the latest evaluation's, replaced
at each evaluation, and the final one. Other modules keep their own tables here (`create_tables`: the album's,
the classes', the exercises'); `prune_owners` forgets a browser unseen for 30 days in every table with an
`owner` column. Writes never wait on the database: `record` puts a typed write (`Write`: `Event`, `Begun`,
`Checkpoint`, ...) on a queue (microseconds) and a writer thread applies the queue in one transaction every
`FLUSH_SECONDS`; a failed write keeps its batch to retry and sets `problem`, so a run in memory is never lost
with it. Each server beats a heartbeat into `servers`; a run left unfinished by a server whose heartbeat
stopped (SIGKILL, a power cut) is marked "interrupted" with its curve and last weights; a server just back
from an outage judges no one until the others had as long to beat again. A store that cannot be opened
(corrupt, locked, a full disk, a newer schema) leaves the file alone and falls back to an in-memory database,
with a `problem` that says why and that runs will not last; a database server that does not answer yet is
tried again until it does. SQLite keeps a rollback journal, not WAL: WAL's memory-mapped index turns a file
that can no longer be written into a SIGBUS that ends the server.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    column,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as TimeoutError_
from sqlalchemy.pool import StaticPool

from core import datasets, settings

SCHEMA_VERSION = 1
FLUSH_SECONDS = 0.5  # a batch of writes at most this often: a page polls at 2 Hz, so it sees them at once
BEAT_SECONDS = 5.0  # each server's heartbeat
STALE_SECONDS = 20.0  # a server silent this long is gone: its unfinished runs were interrupted
MAX_RUNS = 100  # per owner, oldest first out (DASHBOARD_MAX_RUNS)
OWNER_DAYS = 30  # an owner unseen this long is forgotten with its runs
UNFINISHED = ("queued", "running")
log = logging.getLogger(__name__)
LOCK_TIMEOUT = 5.0  # seconds SQLite waits for another writer before calling the file locked

meta = MetaData()
info = Table("info", meta, Column("key", String(64), primary_key=True), Column("value", String(256)))
owners = Table("owners", meta, Column("id", String(64), primary_key=True), Column("last_seen", Float, index=True))
servers = Table(
    "servers",
    meta,
    Column("id", String(32), primary_key=True),
    Column("beat", Float),
    Column("host", String(255)),
    Column("pid", Integer),
)
runs = Table(
    "runs",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(64), index=True, nullable=False),
    Column("label", String(200), nullable=False),
    Column("task", String(16), nullable=False),  # "train" or "find_lr"
    Column("group", String(100), nullable=False, default=""),  # e.g. a ladder's rungs share one
    Column("config", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # queued | running | done | interrupted
    Column("server", String(32), nullable=False),
    Column("classes", JSON),  # the dataset's class names, once training started
    Column("features", JSON),  # a table's {"names": feature names, "target": target name}, once training started
    Column("started", JSON),  # core.train.Started
    Column("outcome", JSON),  # core.train.Finished
    Column("error", String(2000)),
    Column("sweep", JSON),  # core.lessons.lr_finder.Sweep
    Column("last_step", Integer, nullable=False, default=0),
    Column("total_steps", Integer, nullable=False, default=0),
    Column("elapsed", Float, nullable=False, default=0.0),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("created", Float, nullable=False),
    sqlite_autoincrement=True,  # a deleted run's id is never handed out again: pages key their caches by it
)
events = Table(
    "events",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, index=True, nullable=False),
    Column("data", JSON, nullable=False),  # core.train.Progress
)
weights = Table(
    "weights",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, index=True, nullable=False),
    Column("step", Integer, nullable=False),
    Column("final", Boolean, nullable=False),
    Column("blob", LargeBinary, nullable=False),  # core.checkpoint's bytes
)
HOST = socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def default_url() -> str:
    return settings.value("DASHBOARD_DB") or f"sqlite:///{datasets.data_dir() / 'runs.db'}"


def max_runs() -> int:
    return settings.value("DASHBOARD_MAX_RUNS", MAX_RUNS)


def guarded(default):
    """A store method (or one of an object with a `store`) that never raises on a database error: it sets the
    store's `problem` (shown by the pages) and returns `default` instead (a new one each time when it is a type),
    so a page never shows a traceback for a store that broke after it opened."""

    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except SQLAlchemyError as err:
                store = getattr(self, "store", self)  # a Store's method, or one of an object kept in it (an album)
                store.problem = explain(err, f"({store.where})") + " What this server holds in memory still shows."
                store.renew_connections()
                return default() if callable(default) else default

        return call

    return wrap


def _fit(col: Column, text_: str | None) -> str | None:
    """A text cut to its column's length (PostgreSQL refuses a longer one; SQLite would keep it)."""
    limit = col.type.length
    return text_ if text_ is None or len(text_) <= limit else text_[: limit - 1] + "…"


def _transient(err: SQLAlchemyError) -> bool:
    """Whether a failed write may work later (the database down, hung, locked or full), not one it refuses for good
    (a value too long, a broken constraint): those are dropped, never retried forever."""
    return isinstance(err, (OperationalError, InterfaceError, DisconnectionError, TimeoutError_))


class StoreError(RuntimeError):
    """The store cannot be used; the message says why, in words for the Home page."""


def explain(err: Exception, where: str) -> str:
    """A sentence for a person: what is wrong with the store and what to do."""
    text = str(getattr(err, "orig", None) or err)
    low = text.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        why = "is damaged (not a readable database). Move the file away to start a new store"
    elif "locked" in low or "busy" in low:
        why = "is locked by another program (another copy of the dashboard?)"
    elif "full" in low or "no space" in low:
        why = "cannot be written: the disk is full"
    elif "disk i/o" in low:  # SQLite's word for a write the file refused: read-only, immutable, a failing disk
        why = "cannot be written or read (a disk I/O error: is the file read-only, or the disk failing?)"
    elif "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        why = "cannot be opened for writing (is the file, or its folder, read-only?)"
    elif "newer" in low:
        why = text
    else:
        why = f"failed ({type(err).__name__}: {text[:200]})"
    return f"The run store {where} {why}."


@dataclass(frozen=True)
class StoredRow:
    """One row of `runs`, as the pages list it (the curve and weights are read on demand)."""

    id: int
    owner: str
    label: str
    task: str
    group: str
    config: dict
    state: str
    server: str
    classes: tuple[str, ...] | None
    features: dict | None
    started: dict | None
    outcome: dict | None
    error: str | None
    sweep: dict | None
    last_step: int
    total_steps: int
    elapsed: float
    created: float


# --- The writes `record` queues, each applied in the next batch's one transaction ---------------------


@dataclass(frozen=True)
class Begun:
    """A run's training started: its `Started`, the dataset's class names and a table's {"names", "target"}."""

    run_id: int
    started: object  # core.train.Started
    classes: tuple[str, ...] = ()
    features: dict | None = None


@dataclass(frozen=True)
class Event:
    run_id: int
    progress: object  # core.train.Progress


@dataclass(frozen=True)
class Checkpoint:
    """Weights to keep: the latest evaluation's (replacing the one before) or the final ones. `pack` makes the
    bytes (core.checkpoint's) in the writer thread, not in the job's."""

    run_id: int
    step: int
    final: bool
    pack: Callable[[], bytes]


@dataclass(frozen=True)
class SweepResult:
    run_id: int
    sweep: object | None  # core.lessons.lr_finder.Sweep; None: stopped before it swept


@dataclass(frozen=True)
class End:
    run_id: int
    outcome: object | None  # core.train.Finished, or None when it failed
    error: str | None = None


@dataclass(frozen=True)
class Seen:
    """A page of `owner` was open (for forgetting browsers unseen for 30 days)."""

    owner: str


@dataclass(frozen=True)
class Purge:
    """Runs deleted: whatever of theirs is still queued or written goes too."""

    run_ids: list[int]


@dataclass(frozen=True)
class Beat:
    """This server is alive (its heartbeat), and judges the others'."""


Write = Begun | Event | Checkpoint | SweepResult | End | Seen | Purge | Beat


def _superseded_dropped(batch: list[Write]) -> list[Write]:
    """The batch without the writes a later one in it replaces: a run's evaluation weights before its next ones,
    and all heartbeats but the last (one batch, one time). After an outage the backlog then costs a few statements
    per run, not four per evaluation, so a slow machine catches up with a run that trains on."""

    def replaceable(write):  # what a later write of the same key makes pointless
        if isinstance(write, Checkpoint) and not write.final:
            return ("weights", write.run_id)
        return "beat" if isinstance(write, Beat) else None

    last = {replaceable(w): i for i, w in enumerate(batch)}
    return [w for i, w in enumerate(batch) if replaceable(w) is None or last[replaceable(w)] == i]


def _jsonable(obj) -> dict:
    """A dataclass as JSON; infinities and NaN as None would lose a diverged loss, so as strings."""
    return {k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(obj).items()}


def _named(write) -> str:
    """A write as a log names it: its kind and run, never its payload (weights, a user's table's names)."""
    return f"{type(write).__name__} of run {getattr(write, 'run_id', '-')}"


def _floats(d: dict) -> dict:
    return {k: (float(v) if v in ("inf", "-inf", "nan") else v) for k, v in d.items()}


class Store:
    def __init__(self, url: str | None = None, server_id: str | None = None, flush_seconds: float = FLUSH_SECONDS):
        self.url = url or default_url()
        self.server_id = server_id or secrets.token_hex(8)
        self.flush_seconds = flush_seconds
        self.problem: str | None = None  # why the store is not working, for the pages; None when it is
        self.durable = True  # False once fallen back to memory: runs will not last a restart
        self.ended: list = []  # callables(run_id) told when a run's end is committed
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: list = []  # a failed batch, retried first
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()  # one writer of the engine at a time (the writer thread and new_run)
        self._made: list[MetaData] = []  # other modules' tables, made once per server (`create_tables`)
        self._cut_off, self._back_since = False, 0.0  # writes failing now; when they worked again (time.time())
        self._unset = False  # a database server that was down when this one started: set up once it answers
        try:
            self.engine = self._open(self.url)
        except SQLAlchemyError as err:
            if self.path is not None or not _transient(err):
                self._fall_back(err)
            else:  # a database server down or unreachable: the writer opens it once it answers
                self.engine, self._unset = self._engine(self.url), True
                self.problem = explain(err, f"({self.where}) could not be reached: it") + (
                    " Trying again every few seconds; runs started meanwhile wait in this server's memory."
                )
        except (StoreError, OSError) as err:
            self._fall_back(err)
        self._thread = threading.Thread(target=self._write_loop, name="run-store", daemon=True)
        self._thread.start()

    def _fall_back(self, err: Exception) -> None:
        """A store that cannot be used (damaged, locked, newer): left alone, and runs kept in memory instead."""
        self.problem = explain(err, f"({self.where}) could not be opened: it") + (
            " Runs are kept in this server's memory until it restarts; they will not last."
        )
        self.durable = False
        self.engine = self._open("sqlite://")

    def renew_connections(self) -> None:
        """After a failure, let the next use open new connections: SQLite opens a file it may not write read-only,
        and such a connection stays so after the file is writable again (`chattr -i`, a fixed permission)."""
        if self.durable:  # never the in-memory fallback: its one connection is its data
            self.engine.dispose()

    @property
    def where(self) -> str:
        return str(self.path) if self.path else self.url.split("@")[-1]  # never a password

    @property
    def path(self) -> Path | None:
        """The SQLite file, if the store is one."""
        if not self.url.startswith("sqlite:///") or self.url == "sqlite://":
            return None
        return Path(self.url.removeprefix("sqlite:///"))

    def _open(self, url: str):
        engine = self._engine(url)
        self._set_up(engine)
        return engine

    @staticmethod
    def _engine(url: str):
        memory = url == "sqlite://"
        if url.startswith("sqlite:///") and not memory:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        options = {"poolclass": StaticPool} if memory else {"pool_pre_ping": True}
        sqlite = url.startswith("sqlite")
        connect_args = {"check_same_thread": False, "timeout": LOCK_TIMEOUT} if sqlite else {}
        engine = create_engine(url, connect_args=connect_args, **options)
        if sqlite and not memory:

            @event.listens_for(engine, "connect")
            def _pragmas(conn, _record):
                # a rollback journal, not WAL: WAL's index is a memory-mapped file, and a read through a mapping
                # of a file that can no longer be written (made immutable, a full tmpfs) is a SIGBUS that kills
                # the whole server. Without it an unwritable store is an OSError the pages can word.
                conn.execute("PRAGMA journal_mode=DELETE")
                conn.execute("PRAGMA synchronous=NORMAL")

        return engine

    def _set_up(self, engine) -> None:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # two servers opening a new database at once: one makes it
                conn.execute(text("SELECT pg_advisory_xact_lock(7215022)"))  # the number: this store's, any will do
            version = self._version(conn)
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(f"was made by a newer dashboard (schema {version}; this one reads {SCHEMA_VERSION})")
            meta.create_all(conn)  # the set-up: makes what is missing; an older file is migrated here
            if version is None:
                conn.execute(insert(info).values(key="schema_version", value=str(SCHEMA_VERSION)))
            self._bury_dead_neighbours(conn)
            conn.execute(insert(servers).values(id=self.server_id, beat=time.time(), host=HOST, pid=os.getpid()))

    @staticmethod
    def _bury_dead_neighbours(conn) -> None:
        """A server of this machine whose process is gone (killed, crashed) is gone now, not in STALE_SECONDS:
        a restart right after a SIGKILL shows its runs as interrupted at once."""
        for server_id, pid in conn.execute(select(servers.c.id, servers.c.pid).where(servers.c.host == HOST)):
            if pid and not _alive(pid):
                conn.execute(update(servers).where(servers.c.id == server_id).values(beat=0.0))

    @staticmethod
    def _version(conn) -> int | None:
        if not inspect(conn).has_table("info"):
            return None
        value = conn.execute(select(info.c.value).where(info.c.key == "schema_version")).scalar()
        return int(value) if value is not None else None

    @contextlib.contextmanager
    def transaction(self):
        """One connection in one transaction for several statements (committed at the end, rolled back on an error),
        under the store's writer lock: the public way for the album and the classes to write to the store."""
        with self._lock, self.engine.begin() as conn:
            yield conn

    def create_tables(self, metadata: MetaData) -> None:
        """Make another module's tables where missing, once per server (PostgreSQL: one server at a time, as at
        set-up); a failure leaves them to the next call."""
        if any(made is metadata for made in self._made):
            return
        with self.transaction() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7215022)"))
            metadata.create_all(conn)
        self._made.append(metadata)

    # --- writes -------------------------------------------------------------------------

    @guarded(False)
    def knows_owner(self, owner: str) -> bool:
        """Whether the store has issued (or seen) this owner id: a made-up or planted one it has not."""
        with self.engine.connect() as conn:
            return conn.execute(select(owners.c.id).where(owners.c.id == owner)).first() is not None

    @guarded(None)
    def add_owner(self, owner: str) -> None:
        """Record a new owner id at once, not through the queue: the reload a moment later must find it."""
        with self._lock, self.engine.begin() as conn:
            conn.execute(insert(owners).values(id=owner, last_seen=time.time()))

    def new_run(self, owner: str, label: str, task: str, config, group: str = "", created: float | None = None) -> int:
        """A row for a run about to be queued (`created`: its time, now by default); its id. StoreError when it
        cannot be written."""
        label, group = _fit(runs.c.label, label), _fit(runs.c.group, group)
        row = dict(owner=owner, label=label, task=task, group=group, config=config.as_dict(), state="queued")
        row |= dict(server=self.server_id, created=created or time.time(), last_step=0, total_steps=0, elapsed=0.0)
        try:
            with self._lock, self.engine.begin() as conn:
                run_id = conn.execute(insert(runs).values(**row)).inserted_primary_key[0]
            return run_id
        except SQLAlchemyError as err:
            waits = " This run waits in memory and is written once the store works again."
            self.problem = explain(err, f"({self.where})") + waits
            self.renew_connections()
            raise StoreError(self.problem) from None

    def record(self, write: Write) -> None:
        """Queue a write (`Write`); returns at once."""
        self._idle.clear()
        self._queue.put(write)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is applied (or failed); for tests and a clean shutdown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.wait(0.05) and self._queue.empty():
                return not self._pending
        return False

    def _write_loop(self) -> None:
        last_beat = last_prune = -1e9
        while self._unset:  # the database server was down at start: set it up as soon as it answers
            try:
                self._set_up(self.engine)
                self._unset, self.problem = False, None
            except (SQLAlchemyError, StoreError) as err:
                self.problem = explain(err, f"({self.where}) could not be reached: it") + (
                    " Trying again every few seconds; runs started meanwhile wait in this server's memory."
                )
                self.renew_connections()
                time.sleep(2.0)
        while True:
            if time.monotonic() - last_prune > 86400:  # at start, then daily: forget browsers unseen for 30 days
                self.prune_owners()
                last_prune = time.monotonic()
            batch = self._pending
            try:
                batch.append(self._queue.get(timeout=self.flush_seconds))
                time.sleep(self.flush_seconds / 5)  # a moment for the rest of the burst to arrive
                while True:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            if time.monotonic() - last_beat > BEAT_SECONDS:
                batch.append(Beat())
                last_beat = time.monotonic()
            kept = []
            try:
                ended = self._apply(batch)
            except SQLAlchemyError as err:
                if not _transient(err):  # a write the database will never take (a bug): the others go in without it
                    ended, kept = self._apply_one_by_one(batch)
                else:  # the database's trouble: kept to retry; the runs in memory go on
                    self.problem = explain(err, f"({self.where}) could not be written: it") + (
                        " New progress is kept in memory and written once the store works again."
                    )
                    self._pending = batch[-100_000:]  # the newest, should the outage last
                    self._cut_off = True
                    self.renew_connections()
                    time.sleep(1.0)
                    continue
            except Exception:  # noqa: BLE001 - a write that can never succeed (a bug): the others go in without it
                ended, kept = self._apply_one_by_one(batch)
            if self._cut_off and not kept:  # back after an outage: the others were cut off as long as we were
                self._cut_off, self._back_since = False, time.time()
            self._pending = kept
            if self.durable and batch and not kept:  # a write went in: it works (again)
                self.problem = None
            for run_id in ended:
                for tell in self.ended:
                    tell(run_id)
            if self._queue.empty():
                self._idle.set()

    def _apply_one_by_one(self, batch: list) -> tuple[list[int], list]:
        """Each write on its own, dropping (and logging) those that fail for a reason other than the database;
        (the ids of runs whose end was written, the writes the database refused, to retry)."""
        ended, kept = [], []
        for item in batch:
            try:
                ended += self._apply([item])
            except SQLAlchemyError as err:
                if _transient(err):
                    kept.append(item)
                else:
                    log.error("the run store refused a write for good (%s): %s", err, _named(item))
            except Exception:  # noqa: BLE001
                log.exception("the run store dropped a write it cannot make: %s", _named(item))
        return ended, kept

    def _apply(self, batch: list) -> list[int]:
        """One transaction for a batch; the ids of runs whose end it wrote."""
        if not batch:
            return []
        rows, steps, ended, now = [], {}, [], time.time()
        with self._lock, self.engine.begin() as conn:
            for write in _superseded_dropped(batch):
                if isinstance(write, Event):
                    rows.append({"run_id": write.run_id, "data": _jsonable(write.progress)})
                    steps[write.run_id] = write.progress  # the row keeps each run's latest step: one update a batch
                    continue
                self._events(conn, rows, steps)  # the events queued before this write go in first (a purge finds them)
                this_run = runs.c.id == getattr(write, "run_id", None)
                match write:
                    case Begun(_, started, classes, features):
                        values = dict(started=_jsonable(started), classes=list(classes), features=features)
                        conn.execute(update(runs).where(this_run).values(state="running", **values))
                    case Checkpoint(run_id, step, final, pack):
                        if not final:  # the latest evaluation's weights replace the one before
                            conn.execute(delete(weights).where(weights.c.run_id == run_id, weights.c.final.is_(False)))
                        conn.execute(insert(weights).values(run_id=run_id, step=step, final=final, blob=pack()))
                    case SweepResult(_, sweep):
                        conn.execute(
                            update(runs).where(this_run).values(sweep=None if sweep is None else _jsonable(sweep))
                        )
                    case End(run_id, outcome, error):
                        outcome = _jsonable(outcome) if outcome else None
                        conn.execute(
                            update(runs)
                            .where(this_run)
                            .values(state="done", outcome=outcome, error=_fit(runs.c.error, error))
                        )
                        ended.append(run_id)
                    case Seen(owner):
                        conn.execute(delete(owners).where(owners.c.id == owner))
                        conn.execute(insert(owners).values(id=owner, last_seen=now))
                    case Purge(run_ids):
                        self._delete_ids(conn, run_ids)
                    case Beat():  # its row is made again if it went (a server that judged it gone in error)
                        mine = servers.c.id == self.server_id
                        if not conn.execute(update(servers).where(mine).values(beat=now)).rowcount:
                            row = dict(id=self.server_id, beat=now, host=HOST, pid=os.getpid())
                            conn.execute(insert(servers).values(**row))
                        self._interrupt_stale(conn, now)
                    case _:
                        raise TypeError(f"not a write of the run store: {write!r}")
            self._events(conn, rows, steps)
        return ended

    @staticmethod
    def _events(conn, rows: list, steps: dict) -> None:
        """Insert the gathered events in one statement, and each run's latest step in its row; empty both."""
        if rows:
            conn.execute(insert(events), rows)
        for run_id, p in steps.items():  # "interrupted" too: another server may have judged this one gone in error
            values = dict(state="running", last_step=p.step, total_steps=p.total_steps, elapsed=p.elapsed)
            unfinished = runs.c.state.in_((*UNFINISHED, "interrupted"))
            conn.execute(update(runs).where(runs.c.id == run_id, unfinished).values(**values))
        rows.clear()
        steps.clear()

    def _stale_before(self, now: float) -> float | None:
        """Heartbeats older than this are of servers that are gone; None while this server is just back from an
        outage: the others were cut off too, and get STALE_SECONDS to beat again before anyone judges them."""
        return None if self._cut_off or now - self._back_since < STALE_SECONDS else now - STALE_SECONDS

    def _interrupt_stale(self, conn, now: float) -> None:
        """Runs left unfinished by servers whose heartbeat stopped were interrupted: say so, once."""
        if self._stale_before(now) is None:
            return
        gone = select(servers.c.id).where(servers.c.beat < now - STALE_SECONDS, servers.c.id != self.server_id)
        conn.execute(
            update(runs).where(runs.c.state.in_(UNFINISHED), runs.c.server.in_(gone)).values(state="interrupted")
        )
        left = select(runs.c.server).where(runs.c.state.in_(UNFINISHED)).distinct()
        conn.execute(delete(servers).where(servers.c.id.in_(gone), servers.c.id.not_in(left)))

    # --- reads --------------------------------------------------------------------------

    @guarded(None)
    def runs(self, owner: str, task: str | None = "train") -> list[StoredRow] | None:
        """The owner's runs, oldest first (task None: every task); None when the store cannot be read."""
        query = select(runs).where(runs.c.owner == owner).order_by(runs.c.id)
        if task is not None:
            query = query.where(runs.c.task == task)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query).mappings()]

    @guarded(None)
    def run(self, run_id: int) -> StoredRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        return self._row(row) if row else None

    def _row(self, r) -> StoredRow:
        fields = {k: r[k] for k in StoredRow.__dataclass_fields__}
        fields["classes"] = tuple(r["classes"]) if r["classes"] is not None else None
        if fields["state"] in UNFINISHED and r["server"] != self.server_id and self._server_gone(r["server"]):
            fields["state"] = "interrupted"  # before the next heartbeat marks it so
        return StoredRow(**fields)

    def _server_gone(self, server_id: str) -> bool:
        with self.engine.connect() as conn:
            beat = conn.execute(select(servers.c.beat).where(servers.c.id == server_id)).scalar()
        before = self._stale_before(time.time())
        return before is not None and (beat is None or beat < before)

    @guarded(list)
    def history(self, run_id: int) -> list[dict]:
        """The run's progress events (core.train.Progress fields), in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(events.c.data).where(events.c.run_id == run_id).order_by(events.c.id))
            return [_floats(d) for (d,) in rows]

    @guarded(None)
    def weights(self, run_id: int) -> tuple[int, bytes] | None:
        """(step, checkpoint bytes) of the run's last weights: the final ones, else its last evaluation's."""
        row = self._last_weights(run_id, weights.c.step, weights.c.blob)
        return (row[0], row[1]) if row else None

    @guarded(None)
    def weights_step(self, run_id: int) -> int | None:
        """The step of `weights`, without reading the checkpoint."""
        row = self._last_weights(run_id, weights.c.step)
        return row[0] if row else None

    def _last_weights(self, run_id: int, *columns):
        query = select(*columns).where(weights.c.run_id == run_id)
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(weights.c.final.desc(), weights.c.step.desc())).first()

    @guarded(set)
    def stop_requested(self, run_ids) -> set[int]:
        """Of these runs, those a page asked to stop through the store, and those deleted meanwhile."""
        ids = list(run_ids)
        if not ids:
            return set()
        query = select(runs.c.id, runs.c.stop_requested).where(runs.c.id.in_(ids))
        with self.engine.connect() as conn:
            found = dict(conn.execute(query).all())
        return {i for i in ids if found.get(i, True)}

    @guarded(None)
    def request_stop(self, run_id: int) -> None:
        """Ask whichever server trains the run to stop it (it looks every few seconds)."""
        with self._lock, self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(stop_requested=True))

    @guarded(0)
    def size_bytes(self) -> int:
        """The store's size on disk (SQLite: the file and any journal; PostgreSQL: the database's), else its data's."""
        if self.path is not None and self.durable:
            files = (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-journal"))
            return sum(p.stat().st_size for p in files if p.exists())
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
            blobs = conn.execute(select(func.coalesce(func.sum(func.length(weights.c.blob)), 0))).scalar()
            count = conn.execute(select(func.count()).select_from(events)).scalar()
        return int(blobs) + 200 * int(count)

    # --- deleting -----------------------------------------------------------------------

    @guarded(0)
    def delete(self, owner: str, run_ids) -> int:
        """Delete these runs of `owner` (others' ids are ignored), with their curves and weights; how many."""
        ids = list(run_ids)
        with self._lock, self.engine.begin() as conn:
            mine = list(conn.execute(select(runs.c.id).where(runs.c.owner == owner, runs.c.id.in_(ids))).scalars())
            self._delete_ids(conn, mine)
        self.record(Purge(mine))  # and again once the writes queued before the delete are in
        return len(mine)

    @staticmethod
    def _owned_tables(conn) -> list[str]:
        """The tables of other modules (`create_tables`) with an `owner` column, whether or not this server has
        opened them yet: a forgotten owner's rows go from each."""
        found = inspect(conn)
        mine = {runs.name, owners.name}
        names = [name for name in found.get_table_names() if name not in mine]
        return [name for name in names if any(c["name"] == "owner" for c in found.get_columns(name))]

    @staticmethod
    def _delete_ids(conn, ids: list[int]) -> None:
        if ids:
            conn.execute(delete(events).where(events.c.run_id.in_(ids)))
            conn.execute(delete(weights).where(weights.c.run_id.in_(ids)))
            conn.execute(delete(runs).where(runs.c.id.in_(ids)))

    @guarded(0)
    def prune(self, owner: str, keep: int | None = None) -> int:
        """Keep the owner's newest `keep` finished runs (unfinished ones are never pruned); how many went."""
        keep = keep or max_runs()
        query = select(runs.c.id).where(runs.c.owner == owner, runs.c.state.not_in(UNFINISHED))
        with self._lock, self.engine.begin() as conn:
            done = list(conn.execute(query.order_by(runs.c.id.desc())).scalars())
            self._delete_ids(conn, done[keep:])
        return len(done[keep:])

    @guarded(0)
    def prune_owners(self, days: float = OWNER_DAYS, now: float | None = None) -> int:
        """Forget owners unseen for `days`, with all their runs, photos and class places; how many owners."""
        cutoff = (now or time.time()) - days * 86400
        with self._lock, self.engine.begin() as conn:
            old = list(conn.execute(select(owners.c.id).where(owners.c.last_seen < cutoff)).scalars())
            if old:
                self._delete_ids(conn, list(conn.execute(select(runs.c.id).where(runs.c.owner.in_(old))).scalars()))
                for name in self._owned_tables(conn):  # the album's, a class's: made by other modules
                    conn.execute(delete(table(name, column("owner"))).where(column("owner").in_(old)))
                conn.execute(delete(owners).where(owners.c.id.in_(old)))
        return len(old)
