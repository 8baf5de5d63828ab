"""Training in the background, many users at once: jobs and the scheduler that runs them.

A `Job` is one run training in its own thread: the page that started it polls it and draws, and
never waits for it, so the page stays usable. The `Scheduler` (one per server process) caps how
many jobs train at once - a class of 30 on one machine would otherwise slow every run to a crawl -
and queues the rest first come, first served, telling each queued job its place and roughly how
long it will wait. A job belongs to whoever holds it; the scheduler only counts and orders them.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass

from core.train import ConfigError, Finished, Run, RunConfig, Started, fit, start

_ids = itertools.count(1)


def default_max_running() -> int:
    """One training per two cores (a training uses two threads), overridable by DASHBOARD_MAX_TRAININGS."""
    configured = os.environ.get("DASHBOARD_MAX_TRAININGS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class QueueInfo:
    position: int  # 1 = next to start
    running: int  # jobs training now
    seconds_to_wait: float | None  # rough estimate; None while unknown


class Job:
    """A run that trains in a background thread; read its state at any time, stop it at any time."""

    def __init__(self, config: RunConfig, scheduler: Scheduler, data=None, label: str = ""):
        self.id = next(_ids)
        self.label = label or f"run {self.id}"
        self.config = config
        self.scheduler = scheduler
        self.run: Run | None = None
        self.started: Started | None = None
        self.outcome: Finished | None = None
        self.error: str | None = None
        self.submitted_at = time.time()
        self.cancel = threading.Event()
        self._data = data
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
    def seconds_left(self) -> float | None:
        history = self.history
        return history[-1].seconds_left if history else None

    def stop(self) -> None:
        self.cancel.set()
        self.scheduler._wake()  # a queued job leaves the queue now, not at the next poll

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        if not self.scheduler._acquire(self):
            self.outcome = Finished("cancelled", "Stopped before it started.", 0, 0.0)
            return
        try:
            self.run = start(self.config, self._data)
            for event in fit(self.run, self.cancel):
                if isinstance(event, Started):
                    self.started = event
                elif isinstance(event, Finished):
                    self.outcome = event
        except ConfigError as err:
            self.error = str(err)
        except Exception as err:  # shown on the page; the server and the other users go on
            self.error = f"Training failed: {type(err).__name__}: {err}"
            traceback.print_exc()
        finally:
            self._data = None
            self.scheduler._release(self)


class Scheduler:
    """Runs at most `max_running` jobs at once; the others wait in a first-come, first-served queue."""

    def __init__(self, max_running: int | None = None):
        self.max_running = max_running or default_max_running()
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()

    def submit(self, config: RunConfig, data=None, label: str = "") -> Job:
        job = Job(config, self, data, label)
        with self._cond:
            self._queue.append(job)
        job._thread.start()
        return job

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

    def _release(self, job: Job) -> None:
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()
