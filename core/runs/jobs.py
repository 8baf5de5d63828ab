"""Training in the background, many users at once: jobs, the trainers that train them, and the queue.

A `Job` is one run. It trains on a trainer, a Ray actor (`core.runs.trainers`) that imports PyTorch once,
keeps its datasets in memory and trains one run at a time - on this machine, or on any machine of a
Ray cluster; a thread of the server follows the trainer's stream of messages and mirrors them into
`job.run` (the same data and model, whose weights it receives), so the page that started the job
polls it and draws, and never waits for it. A learning-rate sweep is a job too, whose result is one
`Sweep`. Training lives outside the server's process because a thread would share its GIL: with a
class of 30 pages redrawing, a training thread got about 1% of a core and no run finished
(bench/README.md). The `Scheduler` (one per server process) caps how many jobs train at once - a CPU
trainer each, or a GPU one for a CUDA run - and queues the rest first come, first served, one queue per
kind, telling each queued job its place and roughly how long it will wait. A job belongs to whoever
holds it; the scheduler only counts and orders them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, replace

import ray
import torch

from core import settings
from core.lessons.lr_finder import Sweep
from core.runs import trainers
from core.runs.view import RunView
from core.train import ConfigError, Finished, Progress, Run, RunConfig, Started, start

_ids = itertools.count(1)
_numbers = itertools.count(1)  # a job's number on its trainer, for a cancel that names it


def default_max_running() -> int:
    """One training at once per two cores (at least one), overridable by DASHBOARD_MAX_TRAININGS."""
    return settings.value("DASHBOARD_MAX_TRAININGS") or max(1, (os.cpu_count() or 2) // 2)


def threads_setting() -> tuple[int | None, str | None]:
    """DASHBOARD_TRAIN_THREADS: (its count, None), (None, None) when unset, or (None, why it is refused)."""
    return settings.value("DASHBOARD_TRAIN_THREADS"), settings.refusal("DASHBOARD_TRAIN_THREADS")


def default_threads(max_running: int) -> int:
    """PyTorch threads per training when several share the machine: the cores left once one is kept for the
    server (its pages, their redraws), shared among the trainings; DASHBOARD_TRAIN_THREADS fixes it. On 2 cores
    that is 1: two threads whose core is also drawing pages for a class wait on each other at every op. A run
    alone with nothing waiting takes every core instead (`Scheduler.share_cores`)."""
    fixed, _ = threads_setting()
    return fixed or max(1, ((os.cpu_count() or 2) - 1) // max_running)


@dataclass(frozen=True)
class QueueInfo:
    position: int  # 1 = next to start
    running: int  # jobs training now
    seconds_to_wait: float | None  # rough estimate; None while unknown


IDLE_SECONDS = 60.0  # on a cluster, a trainer free this long is ended, and its CPU given back to the cluster
NO_GPU = (
    "This run asks for device=cuda, but no machine here has a GPU: choose device auto or cpu, or add a GPU "
    "machine to the trainers' cluster (README: Many students: more machines)."
)


class Job(RunView):
    """A run that trains on a trainer (a Ray actor); read its state at any time, stop it at any time.

    A job's task is "train" (its results land in `run`) or "find_lr", a learning-rate sweep on a fresh
    model of the config (`options` are find_lr's; its result lands in `sweep`): heavy work either way,
    so it queues for the same trainers."""

    TASKS = ("train", "find_lr")

    def __init__(
        self, config: RunConfig, scheduler: Scheduler, data=None, label="", task="train", options=None, **record
    ):
        if task not in self.TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(self.TASKS)}")
        # `record`: the run store's id, owner, group and time of the job, and a `recorder` told of every message
        self.id = record.get("id") or next(_ids)
        self.owner, self.group = record.get("owner", ""), record.get("group", "")
        self.recorder = record.get("recorder")
        self.created = record.get("created") or time.time()
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
        self.kind = trainers.kind(config)  # "cpu" or "gpu": the trainer it needs, and the queue it waits in
        self.node: str | None = None  # the Ray node its trainer runs on, once it runs
        self.trainer = None  # the trainer's actor handle, while it trains
        self.threads = 0  # a CPU job's PyTorch threads, set by the scheduler when it starts and as the load changes
        self.alone = False  # whether it trains alone, with every core
        self._number = 0  # its number on that trainer
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

    @property
    def classes(self) -> tuple[str, ...]:
        return self.run.data.classes if self.run else ()

    def fail(self, message: str, settings: bool = False) -> None:
        """Record why the job ended without a result: its settings (`message` says what is allowed), or a crash."""
        if self.task == "find_lr":
            self.error = f"The sweep could not run: {message}"
        else:
            self.error = message if settings else f"Training failed: {message}"

    def stop(self) -> None:
        self.cancel.set()
        trainer, number = self.trainer, self._number
        if trainer is not None:
            with contextlib.suppress(ray.exceptions.RayError):  # a dead trainer has nothing left to stop
                trainer.cancel.remote(number)  # the trainer stops between two steps
        self.scheduler.wake()  # a queued job leaves the queue now, not at the next poll

    def begin(self) -> None:
        """Start the job's thread, which waits for its turn and a trainer (the scheduler calls it once)."""
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        if not self.scheduler.acquire(self):
            if self.error is None:
                self.outcome = Finished("cancelled", "Stopped before it started.", 0, 0.0)
            self.progressed.set()
            if self.recorder is not None:
                self.recorder.ended(self)
            return
        trainer, reusable = None, False
        try:
            if self.task == "train":  # the mirror, on this process's CPU; a sweep's model is thrown away
                mirror = start(replace(self.config, device="cpu"), self._data)  # settings errors show here, at once
                self.run = replace(mirror, config=self.config)
            data = None if self._data is None else self._data.to("cpu").compact()  # what Ray ships to the trainer
            for attempt in range(2):
                trainer = self.scheduler.take_trainer(self.kind)
                try:
                    self._hand_to(trainer, data)
                    break
                except ray.exceptions.RayError as err:
                    # a trainer lost before it took the job (it died while idle, or its process never came up):
                    # the run has not begun, so a new trainer takes it rather than the user seeing a failure
                    if self.node is not None or attempt or trainers.no_room(err) or self.cancel.is_set():
                        raise
                    print(f"job {self.id}: its trainer was lost before it began ({err}); a new one takes it")
                    with contextlib.suppress(Exception):
                        ray.kill(trainer)
            # its stream ended: ready for the next job; a GPU trainer is let go, so a GPU never idles in one server
            reusable = self.kind == "cpu"
        except ConfigError as err:
            self.fail(str(err), settings=True)
        except ray.exceptions.RayError as err:  # the trainer died, or its machine left the cluster
            self.error = trainers.why_lost(err, self.node)
        except Exception as err:  # shown on the page; the server and the other users go on
            self.fail(f"{type(err).__name__}: {err}")
            traceback.print_exc()
        finally:
            self.progressed.set()
            if self.recorder is not None:
                self.recorder.ended(self)
            self._data = None
            self.trainer = None
            self.scheduler.release(self, trainer if reusable else None)
            if trainer is not None and not reusable:
                with contextlib.suppress(Exception):
                    ray.kill(trainer)

    def _hand_to(self, trainer, data) -> None:
        """Give the job to `trainer` and follow its stream of messages until it ends."""
        self._number = next(_numbers)
        threads = self.threads if self.kind == "cpu" else 0
        stream = trainer.work.options(num_returns="streaming").remote(
            self._number, self.task, self.config, data, self.options, threads
        )
        self.trainer = trainer
        self.scheduler.share_cores()  # it may have been given its threads while another job still held them
        if self.cancel.is_set():  # stopped while the trainer was being handed the job
            trainer.cancel.remote(self._number)
        self._follow(stream)

    def _follow(self, stream) -> None:
        """Mirror the trainer's messages (`trainers.Message`) into self.run until its stream ends."""
        run = self.run
        for ref in stream:
            message = ray.get(ref)
            if isinstance(message, trainers.Node):
                self.node = message.id
                continue
            if self.recorder is not None:
                self.recorder.message(self, message)  # a queue's put: it never waits on the store
            match message:
                case trainers.Weights(state):
                    with torch.no_grad():
                        run.model.load_state_dict(state)
                case trainers.Swept(sweep):
                    self.sweep = sweep
                case trainers.Failed(text, refused):
                    self.fail(text, settings=refused)
                case Started():
                    self.started = message
                case Progress():
                    run.history.append(message)
                    self.progressed.set()
                case Finished():
                    self.outcome = message
                    if run is not None:
                        run.outcome = message


def in_turn(queued: list[Job], started: Counter) -> list[Job]:
    """The queue in the order its jobs start: turns between browsers. A browser's k-th waiting job (from 0) is
    ranked by the jobs that browser has started so far plus k; ties keep the order of arrival. So one browser's
    twelve queued runs do not hold back another browser's one: once the first browser has had its turn, the
    other's run starts next."""
    ahead: Counter = Counter()
    keyed = []
    for arrival, job in enumerate(queued):
        keyed.append((started[job.owner] + ahead[job.owner], arrival, job))
        ahead[job.owner] += 1
    return [job for *_, job in sorted(keyed, key=lambda k: k[:2])]


class Scheduler:
    """Runs at most `max_running` CPU jobs at once, and as many CUDA jobs as there are GPUs, each on a Ray
    trainer; the others wait in first-come, first-served queues, one per kind.

    On the embedded local Ray `max_running` is the server's own count (one per two cores). On a cluster
    (`DASHBOARD_RAY_ADDRESS`) it is, unless DASHBOARD_MAX_TRAININGS says otherwise, as many trainers as the
    cluster's CPUs hold, counted anew as machines join or leave."""

    def __init__(self, max_running: int | None = None):
        self.cluster = trainers.address() is not None
        trainers.start_ray()  # Ray comes up in the background: the first page need not wait for it
        fixed = max_running or not self.cluster or settings.value("DASHBOARD_MAX_TRAININGS") is not None
        self._fixed = (max_running or default_max_running()) if fixed else 0  # 0: the cluster's CPUs say
        configured, _ = threads_setting()  # a refused count: Home says so (settings.refusals), never raised
        # each trainer's PyTorch threads, and the CPUs it asks Ray for; a cluster's trainers take one unless told
        self.threads = default_threads(self._fixed) if not self.cluster else configured or 1
        # a lone run takes every core, on this machine's own Ray, unless DASHBOARD_TRAIN_THREADS fixes the count
        self.adapt = not self.cluster and not configured
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._started: Counter = Counter()  # owner -> jobs started: whose turn is next (`in_turn`)
        self._running: set[Job] = set()
        self._idle: dict[str, list] = {"cpu": [], "gpu": []}  # trainers started and free, by kind
        self._idle_since: dict = {}  # trainer -> when it became free (time.monotonic())
        self._closed = False
        self._preload: tuple[str, ...] = ()
        if self.cluster:  # other servers share the cluster's CPUs: a trainer idle a while gives its CPU back
            threading.Thread(target=self._give_back_idle, name="idle-trainers", daemon=True).start()

    @property
    def max_running(self) -> int:
        """How many CPU jobs may train at once."""
        if self._fixed:
            return self._fixed
        trainers.connect()
        return max(1, trainers.cluster_cpus() // self.threads)

    def machines(self) -> int:
        """How many machines (Ray nodes) are up."""
        trainers.connect()
        return sum(node["Alive"] for node in ray.nodes())

    def capacity(self, kind: str) -> int:
        if kind == "cpu":
            return self.max_running
        trainers.connect()
        return trainers.cluster_gpus()

    def _new_trainer(self, kind: str):
        trainers.connect()
        options = dict(trainers.request(kind))
        if kind == "cpu":
            options["num_cpus"] = self.threads
        return trainers.Trainer.options(**options).remote(self._preload, self.threads if kind == "cpu" else 0)

    def warm_up(self, preload: tuple[str, ...] = ()) -> Scheduler:
        """Start the CPU trainers now (each imports PyTorch and loads `preload`), so that the first Train is quick."""
        trainers.connect()
        with self._cond:
            self._preload = preload
            while len(self._idle["cpu"]) + len(self._running) < self.max_running:
                trainer = self._new_trainer("cpu")
                self._idle["cpu"].append(trainer)
                self._idle_since[trainer] = time.monotonic()
        return self

    def stop_all(self, timeout: float = 10.0) -> None:
        """Stop every queued and running job, and wait for each to end; the trainers stay, idle."""
        with self._cond:
            jobs = list(self._queue) + list(self._running)
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(timeout)

    def close(self) -> None:
        """Stop every job and end the trainers (tests; the server's end takes Ray down with it)."""
        self._closed = True
        self.stop_all()
        with self._cond:
            idle, self._idle = [t for ts in self._idle.values() for t in ts], {"cpu": [], "gpu": []}
        for trainer in idle:
            with contextlib.suppress(Exception):
                ray.kill(trainer)

    def submit(self, config: RunConfig, data=None, label="", task="train", options=None, **record) -> Job:
        job = Job(config, self, data, label, task, options, **record)
        with self._cond:
            self._queue.append(job)
        self.share_cores()  # a lone run gives back the cores it had alone
        job.begin()
        return job

    def share_cores(self) -> None:
        """Each running CPU job's threads: every core for a job that trains alone with nothing waiting (a teacher's
        laptop: the second core no longer idles), else the shared split (`self.threads`), which keeps a core for
        the server's pages. Told to a trainer that trains already; it applies it between two steps."""
        with self._cond:
            queued, running = self._of("cpu")
            alone = self.adapt and len(running) == 1 and not queued
            wanted = max(self.threads, os.cpu_count() or 1) if alone else self.threads
            changed = [j for j in running if (j.threads, j.alone) != (wanted, alone)]
            for job in changed:
                job.threads, job.alone = wanted, alone
        for job in changed:
            trainer = job.trainer
            if trainer is not None:
                with contextlib.suppress(ray.exceptions.RayError):
                    trainer.set_threads.remote(wanted)

    def _of(self, kind: str) -> tuple[list[Job], list[Job]]:
        """(queued, running) jobs of one kind, under the lock; queued in the order they will start (`in_turn`)."""
        running = [j for j in self._running if j.kind == kind]
        return in_turn([j for j in self._queue if j.kind == kind], self._started), running

    def has_free_slot(self, config: RunConfig | None = None) -> bool:
        """Would a job (of `config`'s kind; a CPU one by default) submitted now start at once?"""
        kind = trainers.kind(config) if config is not None else "cpu"
        capacity = self.capacity(kind)
        with self._cond:
            queued, running = self._of(kind)
            return not queued and len(running) < capacity

    def is_running(self, job: Job) -> bool:
        return job in self._running

    def queue_info(self, job: Job) -> QueueInfo | None:
        """Where a queued job stands among the jobs of its kind; None once it runs."""
        with self._cond:
            if job not in self._queue:
                return None
            queued, running = self._of(job.kind)
            position = queued.index(job) + 1
        left = sorted(j.seconds_left for j in running if j.seconds_left is not None)
        # the job starts when `position` of the running jobs have finished, assuming queued ones are alike
        wait = None
        if len(left) == len(running) and left:
            rounds, slot = divmod(position - 1, len(left))
            typical = max(j.seconds_left + j.history[-1].elapsed for j in running)
            wait = left[slot] + rounds * typical
        return QueueInfo(position, len(running), wait)

    def acquire(self, job: Job) -> bool:
        """Wait for the job's turn and a free trainer of its kind; False if it was stopped (or cannot run)."""
        while True:
            capacity = self.capacity(job.kind)  # a cluster's machines come and go: counted anew each time
            with self._cond:
                queued, running = self._of(job.kind)
                if job.cancel.is_set() or capacity == 0 or (queued[0] is job and len(running) < capacity):
                    break
                self._cond.wait(timeout=5.0)  # woken by a release or a stop; the timeout re-counts the machines
        with self._cond:
            self._queue.remove(job)
            self._cond.notify_all()
            if job.cancel.is_set():
                return False
            if capacity == 0:
                job.fail(NO_GPU, settings=True)
                return False
            self._running.add(job)
            self._started[job.owner] += 1  # its browser's turns so far
        self.share_cores()
        return True

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def take_trainer(self, kind: str):
        with self._cond:
            if self._idle[kind]:
                return self._idle[kind].pop()
        return self._new_trainer(kind)  # the first job of a kind, of a scheduler not warmed up, or after a loss

    def release(self, job: Job, trainer) -> None:
        with self._cond:
            self._running.discard(job)
            if trainer is not None:
                self._idle[job.kind].append(trainer)
                self._idle_since[trainer] = time.monotonic()
            self._cond.notify_all()
        self.share_cores()

    def _give_back_idle(self) -> None:
        """On a cluster, end the trainers idle for IDLE_SECONDS: while one is up it holds a CPU that another
        server's runs would wait for (in Ray's PENDING_CREATION) however idle this server is. The next Train
        here starts a new one (seconds: it imports PyTorch and loads its data)."""
        while not self._closed:
            time.sleep(min(5.0, IDLE_SECONDS / 2))
            now = time.monotonic()
            with self._cond:
                done = [t for t in self._idle["cpu"] if now - self._idle_since.get(t, now) > IDLE_SECONDS]
                self._idle["cpu"] = [t for t in self._idle["cpu"] if t not in done]
                for trainer in done:
                    self._idle_since.pop(trainer, None)
            for trainer in done:
                with contextlib.suppress(Exception):
                    ray.kill(trainer)
