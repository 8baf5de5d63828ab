"""Runs that last: every owner's runs, live in this server or kept in the run store.

A `RunBook` (one per server) is what the pages ask for runs. `submit` writes a run's row to the store
(`core.runs.store`), queues it on the scheduler (`core.runs.jobs`) and records each of its messages - the
progress events, the latest evaluation's weights and the final ones, a sweep's result, how it ended -
as the job's thread receives them: a queue's put, never a database write on the way. While this
server trains a run, `runs` hands the pages the live `Job`; once its end is in the store, the job is
let go and the pages get a `StoredRun` view of the row - both are `core.runs.view.RunView`s - read from the store (its
curve, and its model rebuilt from the checkpoint on demand). So a reload, a new tab or a restart sees
the same runs, a run that was training when the server died reads "interrupted at step N", and a
failed write costs nothing: the job stays in memory until its end is written. A run the store could not take
at all (started during an outage) is written whole once it has ended and the store works again. The book also stops an
owner's unfinished runs when no page of theirs has been open for `GRACE` seconds (not when one tab
closes), and runs stopped from another server's page through the store.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property

import torch

from core import checkpoint, datasets, settings
from core.lessons.lr_finder import Sweep
from core.runs import trainers
from core.runs.jobs import Job, Scheduler
from core.runs.store import Begun, Checkpoint, End, Event, Purge, Seen, Store, StoredRow, StoreError, SweepResult
from core.runs.view import RunView
from core.train import ConfigError, Finished, Progress, Run, RunConfig, Started

GRACE = 90.0  # seconds an owner may have no page open before their runs stop: a reload is back in 1-3 s
EVERY = 2.0  # how often the book looks at sessions and at stop requests
log = logging.getLogger(__name__)


def next_label(name: str, runs) -> str:
    """ "`name` #N" for a new run, N one past the highest number any of `runs` carries with that name: a deleted or
    pruned run's number is never given again, so no two runs in a legend or a table share a label."""
    taken = [int(m.group(1)) for r in runs if (m := re.fullmatch(re.escape(name) + r" #(\d+)", r.label))]
    return f"{name} #{max(taken, default=0) + 1}"


def grace_seconds() -> float:
    """GRACE, or DASHBOARD_GRACE_S (seconds, at least 1): how long a browser may have no page open."""
    return settings.value("DASHBOARD_GRACE_S", GRACE)


class RunBook:
    def __init__(self, scheduler: Scheduler, store: Store, is_active: Callable[[str], bool] = lambda s: True):
        self.scheduler, self.store, self.is_active = scheduler, store, is_active
        self.grace, self.clock = grace_seconds(), time.monotonic
        self.live: dict[int, Job] = {}  # run id -> the job this server trains, until its end is in the store
        self._weights: dict[int, dict] = {}  # run id -> the latest weights its trainer sent
        self._sessions: dict[str, set[str]] = {}  # owner -> their pages' session ids
        self._gone_since: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._issued: set[str] = set()  # owner ids this server made, kept in memory too (for a broken store)
        self._cache: OrderedDict = OrderedDict()  # (run id, what) -> a done run's curve or rebuilt Run
        self._listed: OrderedDict = OrderedDict()  # (owner, task) -> the rows the store gave last, newest 256
        self._memory_ids = itertools.count(-1, -1)  # runs the store could not take: negative ids
        self._deleted: set[int] = set()  # runs deleted while they trained: their last messages are dropped
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        store.ended.append(self._written)

    # --- starting, stopping, deleting ---------------------------------------------------------

    def submit(self, owner: str, config: RunConfig, data=None, label="", task="train", options=None, group=""):
        """Queue a run of `owner` (`task` and `options` as core.runs.jobs'); its Job."""
        created = time.time()  # one time for the live job and its row, so the run sorts alike in both
        try:
            run_id = self.store.new_run(owner, label, task, config, group, created)
            self.store.prune(owner)
        except StoreError:  # new_run's only failure; prune never raises
            run_id = next(self._memory_ids)  # kept in memory; the pages show the store's problem
        record = dict(id=run_id, owner=owner, group=group, recorder=self, created=created)
        job = self.scheduler.submit(config, data, label, task, options, **record)
        self.live[run_id] = job
        return job

    def runs(self, owner: str, task: str | None = "train") -> list:
        """The owner's runs, oldest first: live Jobs and StoredRun views, with the same attributes."""
        rows = self.store.runs(owner, task)
        if rows is None:  # the store cannot be read now (it says so): the runs it listed last still show
            rows = self._listed.get((owner, task), [])
        else:
            with self._lock:
                self._listed[(owner, task)] = rows
                self._listed.move_to_end((owner, task))
                while len(self._listed) > 256:
                    self._listed.popitem(last=False)
        views = []
        for row in rows:
            job = self.live.get(row.id)
            if job is not None:
                views.append(job)
                continue
            try:
                views.append(StoredRun(row, self))
            except (ConfigError, TypeError) as err:  # a row of an older version whose config no longer reads
                log.warning("run %s of the store is not shown: %s", row.id, err)
        listed = {row.id for row in rows}
        views += [j for j in list(self.live.values()) if j.owner == owner and j.id not in listed]
        return sorted((v for v in views if task is None or v.task == task), key=lambda v: v.created)

    def refresh(self, run):
        """The run as it is now: a live job is itself; a stored one is read again (it may train elsewhere)."""
        if isinstance(run, Job):
            return run
        job = self.live.get(run.id)
        if job is not None:
            return job
        row = self.store.run(run.id)  # None when it was deleted, or the store failed (it says so)
        return StoredRun(row, self) if row else run

    def delete(self, owner: str, run_ids) -> int:
        """Delete runs of `owner` (stopping any still training); how many."""
        ids = set(run_ids)
        for job in [j for j in self.live.values() if j.owner == owner and j.id in ids]:
            self._forget(job)
        with self._lock:
            for key in [key for key in self._cache if key[0] in ids]:
                del self._cache[key]
        deleted = self.store.delete(owner, ids)  # 0 when the store failed: the runs are still in it
        with self._lock:
            for key, rows in self._listed.items():
                self._listed[key] = [row for row in rows if not (deleted and row.id in ids)]
        return deleted

    def _forget(self, job: Job) -> None:
        """A run deleted while it trains: stop it, and write nothing more of it."""
        self._deleted.add(job.id)
        job.stop()
        self.live.pop(job.id, None)

    # --- recording a job's messages (called by its thread) -----------------------------------

    def message(self, job: Job, message: trainers.Message) -> None:
        """A job's message (`core.runs.trainers.Message`, less the node), as the store keeps it."""
        if job.id in self._deleted or job.id < 0:  # deleted, or a run the store could not take: `_write_down`'s
            return
        match message:
            case trainers.Weights(state):
                self._weights[job.id] = state  # fresh tensors: the mirror copies them into its model
            case trainers.Swept(sweep):
                self.store.record(SweepResult(job.id, sweep))
            case Started():
                data = job.run.data if job.run else None
                features = {"names": list(data.feature_names), "target": data.target_name} if data else None
                self.store.record(Begun(job.id, message, data.classes if data else (), features))
            case Progress(step=step, val_loss=val_loss):
                self.store.record(Event(job.id, message))
                if val_loss is not None:
                    self._keep_weights(job, step, final=False)
            case Finished(step=step):
                self._keep_weights(job, step, final=True)

    def _keep_weights(self, job: Job, step: int, final: bool) -> None:
        state = self._weights.get(job.id)
        if state is None or job.run is None:
            return
        config, shape, classes = job.config, job.run.data.input_shape, job.run.data.classes
        self.store.record(Checkpoint(job.id, step, final, lambda: checkpoint.pack(config, shape, classes, state)))

    def ended(self, job: Job) -> None:
        self._weights.pop(job.id, None)
        if job.id > 0 and job.id not in self._deleted:
            self.store.record(End(job.id, job.outcome, job.error))

    def _written(self, run_id: int) -> None:
        """The store holds the run's end: the pages read it from there from now on."""
        self.live.pop(run_id, None)

    # --- reading stored runs (cached: a done run does not change) ----------------------------

    def cached(self, key: tuple, make: Callable):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return value

    # --- an owner's pages, and stop requests from other servers -----------------------------

    def issue_owner(self) -> str:
        """A new owner id (24 random bytes, base64url), recorded before any page writes it into a cookie."""
        owner = secrets.token_urlsafe(24)
        with self._lock:
            self._issued.add(owner)
        self.store.add_owner(owner)
        return owner

    def knows_owner(self, owner: str) -> bool:
        """Whether a cookie's owner id is one this server or the store issued. A made-up id, or one a page on
        another port planted, is not: its browser gets a new id. A store that cannot tell trusts the cookie."""
        with self._lock:
            if owner in self._issued or owner in self._seen:
                return True
        return self.store.knows_owner(owner) or bool(self.store.problem)

    def visit(self, owner: str, session_id: str) -> None:
        """A page of `owner` is open in session `session_id` (called at each run of a page)."""
        with self._lock:
            self._sessions.setdefault(owner, set()).add(session_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch_loop, name="run-book", daemon=True)
                self._thread.start()
        now = self.clock()
        if now - self._seen.get(owner, -1e9) > 60:  # the owner's last visit, for pruning after 30 days
            self._seen[owner] = now
            self.store.record(Seen(owner))

    def check(self) -> list[str]:
        """One look: stop the runs of owners with no page open for `grace` seconds, and the runs some server's
        page asked to stop through the store. The owners whose runs were stopped."""
        now, stopped = self.clock(), []
        unfinished = [j for j in list(self.live.values()) if j.state != "done"]
        for owner in {j.owner for j in unfinished}:
            with self._lock:
                active = {s for s in self._sessions.get(owner, ()) if self.is_active(s)}
                self._sessions[owner] = active
            if active:
                self._gone_since.pop(owner, None)
            elif now - self._gone_since.setdefault(owner, now) >= self.grace:
                for job in unfinished:
                    if job.owner == owner:
                        job.stop()
                self._gone_since.pop(owner, None)
                stopped.append(owner)
        if self.store.durable and self.store.problem is None:  # the store works (again): what it missed goes in
            for job in [j for j in list(self.live.values()) if j.id < 0 and j.wait(0)]:  # its thread has ended
                self._write_down(job)
        asked = self.store.stop_requested(j.id for j in unfinished if j.id > 0)
        for job in unfinished:
            if job.id in asked and self.store.run(job.id) is None:  # deleted from another server's page
                self._forget(job)
                self.store.record(Purge([job.id]))
            elif job.id in asked:
                job.stop()
        return stopped

    def _write_down(self, job: Job) -> None:
        """A run that ended while the store could not take it, into the store now that it works, under the id the
        store gives it: its messages replayed through `message` and `ended`, as the store would have taken them live.
        A restart then still shows it."""
        try:
            run_id = self.store.new_run(job.owner, job.label, job.task, job.config, job.group, job.created)
        except StoreError:
            return  # out again: the next look tries
        with self._lock:  # the pages find it under its new id; the store's End then lets the job go
            self.live[run_id] = self.live.pop(job.id)
            job.id = run_id
        replay = [job.started, *job.history, trainers.Swept(job.sweep) if job.sweep is not None else None]
        if job.run is not None and job.outcome is not None:  # its final weights, as a trainer's last message
            state = {k: v.detach().clone() for k, v in job.model.state_dict().items()}
            replay += [trainers.Weights(state), job.outcome]
        for message in replay:
            if message is not None:
                self.message(job, message)
        self.ended(job)
        self.store.prune(job.owner)

    def _watch_loop(self) -> None:
        while True:
            time.sleep(EVERY)
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watch must outlive any one bad look
                log.exception("the run book's check failed")


class StoredRun(RunView):
    """A run read from the store (`RunView`): the pages draw it as they draw a live one."""

    def __init__(self, row: StoredRow, book: RunBook):
        self.row, self._book = row, book
        self.id, self.owner, self.label, self.task, self.group = row.id, row.owner, row.label, row.task, row.group
        self.created = row.created
        self.config = RunConfig.from_dict(row.config)
        self.started = Started(**row.started) if row.started else None
        self.error = row.error
        sweep = {k: tuple(v) if isinstance(v, list) else v for k, v in (row.sweep or {}).items()}
        self.sweep = Sweep(**sweep) if sweep else None
        self.interrupted = row.state == "interrupted"
        self.state = "done" if row.state in ("done", "interrupted") else row.state
        self.outcome = Finished(**row.outcome) if row.outcome else None
        if self.interrupted:
            self.outcome = Finished("interrupted", self._interrupted_message(), row.last_step, row.elapsed)

    def _interrupted_message(self) -> str:
        row = self.row
        step = self._book.store.weights_step(row.id)
        kept = f"the weights of its last evaluation (step {step})" if step is not None else "no weights (no evaluation)"
        return (
            f"Interrupted at step {row.last_step} of {row.total_steps}: the server stopped while it trained. Its curve "
            f"so far and {kept} are kept."
        )

    @property
    def history(self) -> list[Progress]:
        def read():
            return [Progress(**{**d, "params": tuple(d["params"]) if d.get("params") else None})
                    for d in self._book.store.history(self.id)]  # fmt: skip

        return self._book.cached((self.id, "history"), read) if self.state == "done" else read()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.row.classes or ()

    @cached_property
    def run(self) -> Run | None:
        """The run as training left it: its data (on the CPU) and its model rebuilt from the stored checkpoint;
        None when it has no weights or its data cannot be loaded here (a user's own table)."""
        step = self._book.store.weights_step(self.id)
        if step is None:
            return None
        return self._book.cached((self.id, "run", step), self._rebuild)

    @property
    def model(self):
        """The model of the stored weights (the final ones, else the last evaluation's); None without any."""
        step = self._book.store.weights_step(self.id)
        if step is None:
            return None
        return self._book.cached(
            (self.id, "model", step), lambda: checkpoint.load(self._book.store.weights(self.id)[1]).model
        )

    def _rebuild(self) -> Run | None:
        model = self.model
        try:
            data = datasets.load(self.config.dataset, "cpu", **self.config.dataset_options())
        except (ValueError, OSError, RuntimeError):
            return None
        if self.config.train_examples:
            data = data.head(self.config.train_examples, len(data.X_val))
        return Run(self.config, torch.device("cpu"), data, model, self.history, self.outcome)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple((self.row.features or {}).get("names", ()))

    def stop(self) -> None:
        if self.state != "done":  # training on another server: it looks for the request every few seconds
            self._book.store.request_stop(self.id)

    def wait(self, timeout: float | None = None) -> bool:
        return True
