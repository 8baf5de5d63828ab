"""Trainers as Ray actors: the embedded local Ray by default, a cluster when `DASHBOARD_RAY_ADDRESS` names one.

`start_ray` begins starting Ray in the background, once per process, and `connect` waits for it: the
local Ray has no dashboard, a 200 MB object store and token authentication on (Ray 2.60's default,
kept); with `DASHBOARD_RAY_ADDRESS` it joins that cluster, whose machines hold the project at the same
path. A `Trainer` actor imports PyTorch once, keeps its datasets loaded and does one job at a time:
`work` is a streaming generator of the job's messages (the node it runs on, then weights, events, a
sweep's result, a settings error or a crash, as `core.runs.jobs` mirrors them), and `cancel`, on the
actor's second thread, stops a job between two steps. `request` says what a job asks Ray for: one
CPU trainer (spread over the machines), or one GPU for a run with device "cuda", which Ray places on a
node that has it. `why_lost` turns Ray's error for a dead trainer into the sentence a user reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ray
import torch

from core import datasets, settings
from core.device import resolve_device
from core.lessons.lr_finder import Sweep, find_lr
from core.train import ConfigError, Finished, Progress, RunConfig, Started, fit, start

ADDRESS_VARIABLE = "DASHBOARD_RAY_ADDRESS"
OBJECT_STORE_MB = 200  # events and weights are small; Ray's default would take 30% of the memory
LOCAL_CPUS = 8  # the local Ray's logical CPUs: enough for every trainer of this process (our queue caps them)
WEIGHTS_EVERY_EVENT = 2_000_000  # models up to this many parameters send their weights with every event
CPU_REQUEST = {"num_cpus": 1, "scheduling_strategy": "SPREAD"}  # a class's runs over every machine
GPU_REQUEST = {"num_cpus": 1, "num_gpus": 1}
MACHINE_LOST = "the trainer's machine was lost"
NICE = 10  # the trainers' priority below the server's: training takes the cores the pages leave
NODE_VERDICT_SECONDS = 40.0  # how long a dead trainer's cluster may take to say whether its machine is gone
_lock = threading.Lock()
_state: dict = {}  # "ready": set once Ray is up (or failed to start), "failed": the error, if it did


# --- What a trainer streams to the server: these, and core.train's Started, Progress and Finished --------


@dataclass(frozen=True)
class Node:
    """The Ray node the job runs on: the first message, so a lost trainer can be told from a lost machine."""

    id: str


@dataclass(frozen=True)
class Weights:
    """The model's weights (on the CPU) just before the event that needs them: an evaluation, the end."""

    state: dict


@dataclass(frozen=True)
class Swept:
    """A learning-rate sweep's result; None when it was stopped before it swept."""

    sweep: Sweep | None


@dataclass(frozen=True)
class Failed:
    """The job ended without a result: refused settings (`message` says what is allowed), or a crash."""

    message: str
    settings: bool = False


Message = Node | Weights | Swept | Failed | Started | Progress | Finished


def address() -> str | None:
    return settings.value(ADDRESS_VARIABLE) or None


def start_ray() -> threading.Event:
    """Begin starting the local Ray, or joining the cluster, once per process (safe from any thread), without
    waiting: the event is set once it is up (or failed). `connect` waits for it."""
    with _lock:
        ready = _state.get("ready")
        if ready is not None and (not ready.is_set() or ray.is_initialized()):
            return ready  # on its way, or up
        # Ray's processes die with the *thread* that started them (Linux's parent-death signal), and Streamlit
        # runs each script run in a thread that ends: so a thread that lives as long as the process starts Ray
        ready, failed = threading.Event(), []
        _state.update(ready=ready, failed=failed)
        threading.Thread(target=_keep_ray, args=(ready, failed), name="ray-keeper", daemon=True).start()
        return ready


def connect() -> bool:
    """Ray, started or joined (waiting for it if need be); True for a cluster."""
    start_ray().wait()
    if _state["failed"]:
        raise _state["failed"][0]
    return address() is not None


def _keep_ray(started: threading.Event, failed: list) -> None:
    try:
        # every node's trainers import `core` from the project, which each machine has at the same path (README)
        env = {"PYTHONPATH": str(datasets.PROJECT_DIR), "DASHBOARD_DATA": str(datasets.data_dir())}
        quiet = dict(logging_level=logging.WARNING, log_to_driver=True, runtime_env={"env_vars": env})
        if address():
            ray.init(address=address(), **quiet)
            _private_token()
        else:
            memory, cpus = OBJECT_STORE_MB * 2**20, max(LOCAL_CPUS, os.cpu_count() or 1)
            # "local": a Ray of our own, even when another one runs on this machine (a second server, a notebook's),
            # which ray.init would otherwise join - and refuse, since it was given num_cpus
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, object_store_memory=memory, **quiet)
            _private_token()
    except BaseException as err:  # noqa: BLE001 - handed to the caller, in its thread
        failed.append(err)
    finally:
        started.set()
    threading.Event().wait()  # never set: this thread lives, and so do Ray's processes, until the process ends


def _private_token() -> None:
    """Ray writes the token of its auth mode readable by every user of the machine (0644): only ours may read it."""
    token = Path.home() / ".ray" / "auth_token"  # where Ray keeps it (ray._private.authentication)
    if token.is_file():
        token.chmod(0o600)


def cluster_cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 0))


def cluster_gpus() -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def kind(config: RunConfig) -> str:
    """ "gpu" for a run that asks for CUDA, else "cpu": which kind of trainer, and which queue, it needs."""
    return "gpu" if config.device == "cuda" else "cpu"


def request(trainer_kind: str) -> dict:
    return GPU_REQUEST if trainer_kind == "gpu" else CPU_REQUEST


def no_room(err: Exception) -> bool:
    """Whether Ray could not store a run's data (its object store full, and the disk too full to spill to): no
    trainer died, and another trainer would fare no better."""
    return isinstance(err, ray.exceptions.ObjectStoreFullError | ray.exceptions.OutOfDiskError)


def why_lost(err: Exception, node: str | None) -> str:
    """A dead trainer's sentence: its machine lost (its `node` gone, or Ray saying so before the cluster has
    noticed), or its process ended (out of memory, killed); or no room for the run's data (`no_room`)."""
    if no_room(err):
        return (
            "Training could not start: the run's data did not fit in Ray's object store, and the disk is too full "
            "(over 95%) for Ray to spill it there. Free some disk space on the server, then train again."
        )
    ended = "Training failed: the training process ended unexpectedly (out of memory, or killed)."
    if address() is None:  # our own Ray on this one machine: its node cannot leave a cluster; the process died
        return f"{ended} Train again: a new trainer takes it."
    text = str(err).lower()
    lost = f"Training failed: {MACHINE_LOST} (its node left the cluster). Train again: another trainer takes it."
    if "node" in text and any(word in text for word in ("died", "dead", "removed")):
        return lost
    # a switched-off machine first reads as a trainer "temporarily unavailable"; the cluster calls its node dead
    # only after its missed health checks (about 15 s): wait for that verdict rather than guess
    deadline = time.monotonic() + NODE_VERDICT_SECONDS
    while node is not None:
        if node not in {n["NodeID"] for n in ray.nodes() if n["Alive"]}:
            return lost
        if time.monotonic() > deadline:
            break
        time.sleep(1.0)
    return ended


def _train(config: RunConfig, data: datasets.Data | None, cancel: threading.Event) -> Iterator[Message]:
    """Train a run, yielding each event, and the weights with the events the server's mirror needs."""
    run = start(config, data)
    small = sum(p.numel() for p in run.model.parameters()) <= WEIGHTS_EVERY_EVENT
    for event in fit(run, cancel):
        evaluated = isinstance(event, Progress) and event.val_loss is not None
        if isinstance(event, Finished) or evaluated or (small and isinstance(event, Progress)):
            yield Weights({k: v.detach().cpu() for k, v in run.model.state_dict().items()})
        yield event


def _sweep(config: RunConfig, data: datasets.Data | None, options: dict, cancel: threading.Event) -> Iterator[Message]:
    """Sweep the learning rate; yield the `Sweep` (None if stopped), then how it ended."""
    began = time.perf_counter()
    try:
        sweep = find_lr(config, data, cancel=cancel, **options)
    except ValueError as err:  # the loss exploded at once, or the sweep's bounds make no sense: settings
        raise ConfigError(str(err)) from None
    yield Swept(sweep)
    steps = len(sweep.lrs) if sweep else 0
    status, message = ("completed", f"Swept {steps} learning rates.") if sweep else ("cancelled", "Stopped.")
    yield Finished(status, message, steps, time.perf_counter() - began)


def _yield_to_the_server() -> None:
    """Lower every thread of this trainer to NICE: a lone run takes every core, and a page the server draws, a
    click it answers, still gets a core at once. Linux keeps a nice value per thread, so each is set."""
    tasks = Path("/proc/self/task")
    for tid in [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, max(NICE, os.getpriority(os.PRIO_PROCESS, tid)))


def _with_threads(messages: Iterator[Message], trainer: Trainer) -> Iterator[Message]:
    """The messages of a job, its PyTorch threads set to the trainer's wish before it starts and between two
    messages: torch.set_num_threads counts for the thread that calls it, so the training thread calls it itself."""
    _yield_to_the_server()  # the thread that trains may be newer than the trainer
    while True:
        if trainer._threads and trainer._threads != torch.get_num_threads():
            torch.set_num_threads(trainer._threads)
            _yield_to_the_server()  # its new threads too
        trainer._applied = torch.get_num_threads()
        try:
            message = next(messages)
        except StopIteration:
            return
        yield message


@ray.remote(max_concurrency=2)  # one thread trains, the other takes a cancel at any moment
class Trainer:
    """One trainer: PyTorch imported once, `preload`'s datasets kept, one job at a time."""

    def __init__(self, preload: tuple[str, ...] = (), threads: int = 0):
        if threads:
            torch.set_num_threads(threads)
        _yield_to_the_server()
        self._cancel, self._lock = threading.Event(), threading.Lock()
        self._current, self._cancelled = 0, set()  # the job training now; every job cancelled
        self._threads = threads  # the threads the job should train with: applied by its own thread (`_with_threads`)
        self._applied = torch.get_num_threads()
        for key in preload:  # the first run of the default dataset then starts at once
            with contextlib.suppress(Exception):  # a missing dataset is reported by the run that asks for it
                datasets.load(key, resolve_device("auto"))

    def ready(self) -> tuple[str, int]:
        """The node this trainer lives on, and its process id (and, once it answers, that it is up)."""
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def work(self, number: int, task: str, config: RunConfig, data, options: dict, threads: int = 0) -> Iterator:
        """Do job `number` ("train" or "find_lr") with `threads` PyTorch threads (0: as they are), streaming its
        messages (`Message`)."""
        with self._lock:
            self._current = number
            self._cancel.clear()
            if number in self._cancelled:
                self._cancel.set()
            self._threads = threads
        yield Node(ray.get_runtime_context().get_node_id())
        try:
            if task == "find_lr":
                yield from _with_threads(_sweep(config, data, options, self._cancel), self)
            else:
                yield from _with_threads(_train(config, data, self._cancel), self)
        except ConfigError as err:
            yield Failed(str(err), settings=True)
        except Exception as err:  # the job's own failure: the trainer lives on for the next one
            traceback.print_exc()
            yield Failed(f"{type(err).__name__}: {err}")

    def threads(self) -> int:
        """The threads the job trains with now (as its thread last applied them)."""
        return self._applied

    def set_threads(self, threads: int) -> None:
        """The job's share of the cores changed (another run started, or it is alone now): from its next step."""
        self._threads = threads

    def cancel(self, number: int) -> None:
        with self._lock:
            self._cancelled.add(number)
            if number == self._current:
                self._cancel.set()
