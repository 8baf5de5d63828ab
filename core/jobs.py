"""Training in the background, many users at once: jobs, the processes that train them, and the queue.

A `Job` is one run. It trains in a `Worker`, a separate process that imports PyTorch once, keeps its
datasets in memory and trains one run at a time; a thread of the server waits on the worker's
messages and mirrors them into `job.run` (the same data and model, whose weights it receives), so
the page that started the job polls it and draws, and never waits for it. A learning-rate sweep is
a job too, whose result is one `Sweep`. Training lives in its own process because a thread would
share the server's GIL: with a class of 30 pages redrawing, a training thread got about 1% of a core
and no run finished (bench/README.md). The `Scheduler` (one per server process) caps how many jobs
train at once - one worker each - and queues the rest first come, first served, telling each queued
job its place and roughly how long it will wait. A job belongs to whoever holds it; the scheduler
only counts and orders them.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

import torch

from core import datasets
from core.device import resolve_device
from core.lr_finder import Sweep, find_lr
from core.train import ConfigError, Finished, Progress, Run, RunConfig, Started, fit, start

WEIGHTS_EVERY_EVENT = 2_000_000  # models up to this many parameters send their weights with every event

_ids = itertools.count(1)


def default_max_running() -> int:
    """One training at once per two cores (at least one), overridable by DASHBOARD_MAX_TRAININGS."""
    configured = os.environ.get("DASHBOARD_MAX_TRAININGS", "")
    if configured.isdecimal() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) // 2)


def default_threads(max_running: int) -> int:
    """PyTorch threads per training: the cores left once one is kept for the server (its pages, their redraws),
    shared among the trainings; overridable by DASHBOARD_TRAIN_THREADS. On 2 cores that is 1: two threads
    whose core is also drawing pages wait on each other at every op, and an epoch took 4x as long."""
    configured = os.environ.get("DASHBOARD_TRAIN_THREADS", "")
    if configured.isdecimal() and int(configured) > 0:
        return int(configured)
    return max(1, ((os.cpu_count() or 2) - 1) // max_running)


@dataclass(frozen=True)
class QueueInfo:
    position: int  # 1 = next to start
    running: int  # jobs training now
    seconds_to_wait: float | None  # rough estimate; None while unknown


def _to_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)  # tensors by value: nothing shared between the processes to leak or go stale
    return buffer.getvalue()


def _from_bytes(raw: bytes):
    return torch.load(io.BytesIO(raw), weights_only=False)  # our own process's bytes, never a user's file


def serve(fd: int, preload: tuple[str, ...] = (), threads: int = 0) -> None:
    """A worker process's life (`python -c "from core.jobs import serve; serve(fd)"`): warm the datasets up,
    then do each job it is sent on its socket `fd`. A training reports every event, and the weights with
    every event of a small model (else at evaluations and at the end); a learning-rate sweep reports its
    `Sweep`. A reader thread takes the server's messages - a job to queue, or the number of a job to
    cancel - so that a cancel lands between two steps."""
    conn = Connection(fd)
    jobs: queue.Queue = queue.Queue()
    cancel, lock = threading.Event(), threading.Lock()
    current, cancelled = 0, set()  # the job training now (the reader sees each new value); every cancelled job

    def read() -> None:
        while True:
            try:
                raw = conn.recv_bytes()
            except (EOFError, OSError):
                raw = b""
            if not raw:  # the server is gone, or closes us: stop the run and leave
                cancel.set()
                jobs.put(None)
                return
            kind, number, body = _from_bytes(raw)
            if kind == "cancel":
                with lock:
                    cancelled.add(number)
                    if number == current:
                        cancel.set()
            else:
                jobs.put((number, kind, body))

    threading.Thread(target=read, name="server-messages", daemon=True).start()
    if threads:
        torch.set_num_threads(threads)
    for key in preload:  # the first run of the default dataset then starts at once
        with contextlib.suppress(Exception):  # a missing dataset is reported by the run that asks for it
            datasets.load(key, resolve_device("auto"))
    while (item := jobs.get()) is not None:
        number, task, (config, data, options) = item
        with lock:
            current = number
            cancel.clear()
            if number in cancelled:
                cancel.set()
        send = conn.send_bytes
        try:
            if task == "find_lr":
                _sweep(config, data, options, cancel, send)
            else:
                _train(config, data, cancel, send)
        except ConfigError as err:
            send(_to_bytes(("config", str(err))))
        except Exception as err:
            traceback.print_exc()
            send(_to_bytes(("error", f"{type(err).__name__}: {err}")))
        send(_to_bytes(("done", None)))


def _train(config: RunConfig, data: datasets.Data | None, cancel: threading.Event, send) -> None:
    """Train a run in this worker, sending each event, and the weights with the events the server's mirror needs."""
    run = start(config, data)
    small = sum(p.numel() for p in run.model.parameters()) <= WEIGHTS_EVERY_EVENT
    for event in fit(run, cancel):
        evaluated = isinstance(event, Progress) and event.val_loss is not None
        if isinstance(event, Finished) or evaluated or (small and isinstance(event, Progress)):
            send(_to_bytes(("weights", {k: v.detach().cpu() for k, v in run.model.state_dict().items()})))
        send(_to_bytes(("event", event)))


def _sweep(config: RunConfig, data: datasets.Data | None, options: dict, cancel: threading.Event, send) -> None:
    """Sweep the learning rate in this worker; send the `Sweep` (None if stopped), then how it ended."""
    began = time.perf_counter()
    try:
        sweep = find_lr(config, data, cancel=cancel, **options)
    except ValueError as err:  # the loss exploded at once, or the sweep's bounds make no sense: settings
        raise ConfigError(str(err)) from None
    send(_to_bytes(("sweep", sweep)))
    steps = len(sweep.lrs) if sweep else 0
    status, message = ("completed", f"Swept {steps} learning rates.") if sweep else ("cancelled", "Stopped.")
    send(_to_bytes(("event", Finished(status, message, steps, time.perf_counter() - began))))


class Worker:
    """One training process; trains the jobs the scheduler gives it, one at a time.

    A plain subprocess, not multiprocessing's: its spawn re-runs the parent's __main__ in the child, and in
    a Streamlit server __main__ is whichever page script ran last."""

    def __init__(self, preload: tuple[str, ...] = (), threads: int = 0):
        ours, theirs = socket.socketpair()
        call = f"serve({theirs.fileno()}, {preload!r}, {threads})"
        command = [sys.executable, "-c", f"from core.jobs import serve; {call}"]
        self.process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), cwd=datasets.PROJECT_DIR)
        theirs.close()
        self.conn = Connection(ours.detach())
        self._number = 0
        self._send = threading.Lock()

    def submit(self, task: str, config: RunConfig, data: datasets.Data | None, options: dict) -> int:
        """Queue a job ("train" or "find_lr") on the worker; its number, for `cancel`."""
        with self._send:
            self._number += 1
            body = (config, None if data is None else data.to("cpu"), options)
            self.conn.send_bytes(_to_bytes((task, self._number, body)))
            return self._number

    def cancel(self, number: int) -> None:
        with self._send, contextlib.suppress(OSError):
            self.conn.send_bytes(_to_bytes(("cancel", number, None)))

    def receive(self) -> tuple[str, object]:
        """The next message; EOFError when the process has died."""
        return _from_bytes(self.conn.recv_bytes())

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        with self._send, contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.conn.close()


class Job:
    """A run that trains in a worker process; read its state at any time, stop it at any time.

    A job's task is "train" (its results land in `run`) or "find_lr", a learning-rate sweep on a fresh
    model of the config (`options` are find_lr's; its result lands in `sweep`): heavy work either way,
    so it queues for the same trainers."""

    TASKS = ("train", "find_lr")

    def __init__(
        self, config: RunConfig, scheduler: Scheduler, data=None, label="", task="train", options=None, **record
    ):
        if task not in self.TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(self.TASKS)}")
        # `record`: the run store's id, owner and group of the job, and a `recorder` told of every message
        self.id = record.get("id") or next(_ids)
        self.owner, self.group = record.get("owner", ""), record.get("group", "")
        self.recorder = record.get("recorder")
        self.created = time.time()
        self.task, self.options = task, dict(options or {})
        self.sweep: Sweep | None = None
        self.label = label or f"run {self.id}"
        self.config = config
        self.scheduler = scheduler
        self.run: Run | None = None  # this process's mirror: the data, and a model that receives the weights
        self.started: Started | None = None
        self.outcome: Finished | None = None
        self.error: str | None = None
        self.cancel = threading.Event()
        self.progressed = threading.Event()  # set at the first progress event, or when the job ends without one
        self._data = data
        self._worker: Worker | None = None  # while it trains
        self._number = 0  # its number on that worker
        self._thread = threading.Thread(target=self._work, name=f"train-{self.id}", daemon=True)

    @property
    def state(self) -> str:
        """One of "queued", "starting", "running", "done"."""
        if self.outcome is not None or self.error is not None:
            return "done"
        if self.started is not None:
            return "running"
        return "starting" if self.scheduler.is_running(self) else "queued"

    @property
    def history(self) -> list:
        return list(self.run.history) if self.run else []

    @property
    def model(self):
        return self.run.model if self.run else None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.run.data.feature_names if self.run else ()

    def run_on(self, data) -> Run | None:
        """`run` with the page's `data` for its own (a user's table or photos), if the data has the classes and
        features it trained on; None otherwise. As core.runs.StoredRun.run_on, for a run read from the store."""
        if self.run is None or (tuple(data.classes), tuple(data.feature_names)) != (self.classes, self.feature_names):
            return None
        return replace(self.run, data=data)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.run.data.classes if self.run else ()

    @property
    def last_eval(self) -> Progress | None:
        return self.run.last_eval if self.run else None

    @property
    def seconds_left(self) -> float | None:
        history = self.history
        return history[-1].seconds_left if history else None

    def _fail(self, message: str, settings: bool = False) -> None:
        """Record why the job ended without a result: its settings (`message` says what is allowed), or a crash."""
        if self.task == "find_lr":
            self.error = f"The sweep could not run: {message}"
        else:
            self.error = message if settings else f"Training failed: {message}"

    def stop(self) -> None:
        self.cancel.set()
        worker, number = self._worker, self._number
        if worker is not None:
            worker.cancel(number)  # the worker stops between two steps
        self.scheduler._wake()  # a queued job leaves the queue now, not at the next poll

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        if not self.scheduler._acquire(self):
            self.outcome = Finished("cancelled", "Stopped before it started.", 0, 0.0)
            self.progressed.set()
            if self.recorder is not None:
                self.recorder.ended(self)
            return
        worker, reusable = None, False
        try:
            if self.task == "train":  # the mirror; a sweep's model is thrown away, so the server builds none
                self.run = start(self.config, self._data)  # settings errors show here, before a worker is asked
            worker = self.scheduler._take_worker()
            self._number = worker.submit(self.task, self.config, self._data, self.options)
            self._worker = worker
            if self.cancel.is_set():  # stopped while the worker was being handed the job
                worker.cancel(self._number)
            self._follow(worker)
            reusable = True  # it said "done": ready for the next job
        except ConfigError as err:
            self._fail(str(err), settings=True)
        except Exception as err:  # shown on the page; the server and the other users go on
            self._fail(f"{type(err).__name__}: {err}")
            traceback.print_exc()
        finally:
            self.progressed.set()
            if self.recorder is not None:
                self.recorder.ended(self)
            self._data = None
            self._worker = None
            self.scheduler._release(self, worker if reusable else None)
            if worker is not None and not reusable:
                worker.close()

    def _follow(self, worker: Worker) -> None:
        """Mirror the worker's messages into self.run until it is done with this job."""
        run = self.run
        while True:
            try:
                kind, payload = worker.receive()
            except (EOFError, OSError):
                raise RuntimeError("the training process ended unexpectedly (out of memory?)") from None
            if kind == "done":
                return
            if self.recorder is not None:
                self.recorder.message(self, kind, payload)  # a queue's put: it never waits on the store
            if kind == "weights":
                with torch.no_grad():
                    run.model.load_state_dict(payload)
            elif kind == "sweep":
                self.sweep = payload
            elif kind == "config":
                self._fail(payload, settings=True)
            elif kind == "error":
                self._fail(payload)
            elif isinstance(payload, Started):
                self.started = payload
            elif isinstance(payload, Progress):
                run.history.append(payload)
                self.progressed.set()
            elif isinstance(payload, Finished):
                self.outcome = payload
                if run is not None:
                    run.outcome = payload


class Scheduler:
    """Runs at most `max_running` jobs at once, each in a worker process; the others wait in a first-come,
    first-served queue."""

    def __init__(self, max_running: int | None = None):
        self.max_running = max_running or default_max_running()
        self.threads = default_threads(self.max_running)
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()
        self._idle: list[Worker] = []  # started and free; at most max_running workers exist
        self._preload: tuple[str, ...] = ()

    def warm_up(self, preload: tuple[str, ...] = ()) -> Scheduler:
        """Start every worker now (each imports PyTorch and loads `preload`), so that the first Train is quick."""
        with self._cond:
            self._preload = preload
            while len(self._idle) + len(self._running) < self.max_running:
                self._idle.append(Worker(preload, self.threads))
        return self

    def close(self) -> None:
        """Stop every job and end the workers (tests; the server's end does it for daemon processes)."""
        with self._cond:
            jobs = list(self._queue) + list(self._running)
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(10)
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def submit(self, config: RunConfig, data=None, label="", task="train", options=None, **record) -> Job:
        job = Job(config, self, data, label, task, options, **record)
        with self._cond:
            self._queue.append(job)
        job._thread.start()
        return job

    def has_free_slot(self) -> bool:
        """Would a job submitted now start at once?"""
        with self._cond:
            return not self._queue and len(self._running) < self.max_running

    def is_running(self, job: Job) -> bool:
        return job in self._running

    def queue_info(self, job: Job) -> QueueInfo | None:
        """Where a queued job stands; None once it runs."""
        with self._cond:
            if job not in self._queue:
                return None
            position = list(self._queue).index(job) + 1
            running = list(self._running)
        left = sorted(j.seconds_left for j in running if j.seconds_left is not None)
        # the job starts when `position` of the running jobs have finished, assuming queued ones are alike
        wait = None
        if len(left) == len(running) and left:
            rounds, slot = divmod(position - 1, len(left))
            typical = max(j.seconds_left + j.history[-1].elapsed for j in running)
            wait = left[slot] + rounds * typical
        return QueueInfo(position, len(running), wait)

    def _acquire(self, job: Job) -> bool:
        with self._cond:
            while not job.cancel.is_set() and not (self._queue[0] is job and len(self._running) < self.max_running):
                self._cond.wait(timeout=5.0)  # woken by a release or a stop; the timeout is a safety net
            self._queue.remove(job)
            if job.cancel.is_set():
                self._cond.notify_all()
                return False
            self._running.add(job)
            return True

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _take_worker(self) -> Worker:
        with self._cond:
            if self._idle:
                return self._idle.pop()
            preload = self._preload
        return Worker(preload, self.threads)  # the first job of a scheduler that was not warmed up, or after a crash

    def _release(self, job: Job, worker: Worker | None) -> None:
        with self._cond:
            self._running.discard(job)
            if worker is not None and worker.alive():
                self._idle.append(worker)
            self._cond.notify_all()
