"""The scheduler that trains many users' runs in the background: queueing, stopping, failing.

The tests share one `Scheduler(max_running=1)` (conftest's `one_trainer`) - one trainer, as on a two-core
server; each stops what it started - and train d2l's synthetic linear regression (1000 points, batch 1: a
thousand tiny steps an epoch), so a run is "running" for as long as a test needs and stops between two steps
the moment it is told.
"""

from __future__ import annotations

import os
import time

import pytest
import ray
import torch

from core import datasets
from core.device import DEVICES, available_devices
from core.runs.jobs import Job, Scheduler
from core.train import RunConfig, start

LONG = RunConfig(model="linear", dataset="synthetic", lr=0.01, batch_size=1, epochs=1000)  # minutes, unless stopped
SHORT = RunConfig(model="linear", dataset="synthetic", lr=0.03, batch_size=10, epochs=2)  # a fraction of a second


def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


def completed(job: Job, timeout: float = 120.0) -> Job:
    """The job, once it ended "completed"; otherwise a failure that says how it ended (its error, its outcome,
    how far its curve got), so that a run lost in CI says why."""
    assert job.wait(timeout), f"job {job.id} still {job.state} after {timeout:.0f} s"
    status = job.outcome.status if job.outcome else None
    assert status == "completed", (job.error, job.outcome, len(job.history), job.started)
    return job


def wait_training(job: Job, timeout: float = 30.0) -> None:
    """Until the job runs and has reported at least one point of its curve."""
    wait_until(lambda: job.state == "running" and job.history, timeout, f"job {job.id} to train")


@pytest.fixture
def scheduler(one_trainer):
    jobs: list[Job] = []
    real_submit = one_trainer.submit

    def submit(*args, **kwargs):
        job = real_submit(*args, **kwargs)
        jobs.append(job)
        return job

    one_trainer.submit = submit
    yield one_trainer
    del one_trainer.submit
    for job in jobs:  # no thread outlives its test
        job.stop()
    for job in jobs:
        assert job.wait(10), f"job {job.id} did not end after stop()"


def test_second_job_waits_in_the_queue_while_the_first_trains(scheduler):
    first = scheduler.submit(LONG, label="first")
    wait_training(first)
    second = scheduler.submit(LONG, label="second")
    third = scheduler.submit(LONG, label="third")
    time.sleep(0.3)  # long enough for either to start, were the scheduler to let it
    assert first.state == "running"
    assert second.state == "queued" and third.state == "queued"
    assert second.run is None and second.started is None

    info = scheduler.queue_info(second)
    assert info is not None
    assert (info.position, info.running) == (1, 1)
    assert info.seconds_to_wait is not None and info.seconds_to_wait > 0  # from the first job's progress
    assert scheduler.queue_info(third).position == 2
    assert scheduler.queue_info(first) is None  # running jobs are not in the queue

    first.stop()
    assert first.wait(5)
    wait_training(second)  # first come, first served
    assert third.state == "queued" and scheduler.queue_info(third).position == 1


def test_stopping_a_queued_job_cancels_it_without_training(scheduler):
    first = scheduler.submit(LONG)
    wait_training(first)
    queued = scheduler.submit(LONG)
    time.sleep(0.2)
    assert queued.state == "queued"

    queued.stop()
    assert queued.wait(2), "a stopped queued job must end at once"
    assert queued.state == "done"
    assert queued.outcome is not None and queued.outcome.status == "cancelled"
    assert "before it started" in queued.outcome.message
    assert queued.run is None and queued.started is None and queued.history == []
    assert queued.error is None
    assert first.state == "running", "cancelling a queued job must not touch the running one"
    assert scheduler.queue_info(queued) is None


def test_stop_takes_effect_within_a_second_and_keeps_the_learned_weights(scheduler):
    job = scheduler.submit(LONG)
    wait_training(job)
    wait_until(lambda: job.history[-1].step >= 1500, 30, "1500 steps")

    stopped_at = time.perf_counter()
    job.stop()
    assert job.wait(5)
    latency = time.perf_counter() - stopped_at
    assert latency < 1.0, f"stop() took {latency:.2f} s to end the training"

    assert job.outcome.status == "cancelled"
    assert job.outcome.message.startswith("Stopped at step")
    assert "keeps what it learned" in job.outcome.message
    assert 0 < job.outcome.step < job.history[-1].total_steps
    assert job.error is None

    # the model is the trained one: far from its initialisation and close to the true w = (2, -3.4), b = 4.2
    fresh = start(LONG).model
    trained = torch.cat([p.detach().flatten() for p in job.run.model.parameters()])
    initial = torch.cat([p.detach().flatten() for p in fresh.parameters()])
    assert not torch.allclose(trained, initial)
    assert torch.allclose(trained, torch.tensor([2.0, -3.4, 4.2]), atol=0.1), trained
    assert scheduler.is_running(job) is False


def test_a_job_with_bad_settings_ends_with_a_message_and_the_others_go_on(scheduler):
    missing = [d for d in DEVICES if d not in available_devices()]
    if not missing:
        pytest.skip("every device is available on this machine")
    bad = scheduler.submit(RunConfig(model="linear", dataset="synthetic", device=missing[0], epochs=1))
    good = scheduler.submit(SHORT)
    assert bad.wait(10) and good.wait(30)

    assert bad.state == "done" and bad.outcome is None
    assert bad.error is not None
    if missing[0] == "cuda":  # Ray would place it on a GPU machine; there is none, so it says so at once
        assert "asks for device=cuda, but no machine here has a GPU" in bad.error
    else:
        assert f"device {missing[0]!r} is not available" in bad.error
    assert "Training failed" not in bad.error  # a settings message, not a crash
    assert good.error is None and good.outcome.status == "completed"
    assert good.run.last_eval.val_loss < 0.01
    assert not scheduler.is_running(bad) and not scheduler.is_running(good)


def test_an_exception_inside_training_is_caught_into_job_error(scheduler):
    # labels 0..6 for a model that has only two classes: cross-entropy raises in the first step
    X = torch.rand(64, 1, 4, 4)
    y = torch.arange(64) % 7
    broken = datasets.Data("broken", X, y, X, y, classes=("a", "b"))
    crash = scheduler.submit(RunConfig(model="softmax", dataset="fashion_mnist", epochs=1), data=broken)
    after = scheduler.submit(SHORT)
    assert crash.wait(10) and after.wait(30)

    assert crash.state == "done" and crash.outcome is None
    assert crash.error is not None and crash.error.startswith("Training failed: ")
    assert after.outcome is not None and after.outcome.status == "completed", "the trainer must be free again"
    assert not scheduler.is_running(crash)


def test_a_training_process_that_dies_fails_its_job_and_the_next_job_trains(scheduler):
    """Training runs in a trainer, a Ray actor out of the server's process; if it dies (say, out of memory), its
    job says so and a fresh trainer takes the next one."""
    import os

    import ray

    doomed = scheduler.submit(LONG)
    wait_training(doomed)
    trainer = doomed.trainer
    assert ray.get(trainer.ready.remote())[1] != os.getpid(), "training must not share the server's process"
    ray.kill(trainer)
    assert doomed.wait(10)
    assert doomed.error is not None and "training process ended unexpectedly" in doomed.error
    after = scheduler.submit(SHORT)
    assert after.wait(60)
    assert after.error is None and after.outcome.status == "completed"
    assert after.run.last_eval.val_loss < 0.01
    # a trainer that dies while idle (killed for memory, say) is found dead by the next job, which has not begun:
    # a new trainer takes that job, and the user never sees a failure for a run that never started
    (idle,) = scheduler._idle["cpu"]
    ray.kill(idle)
    wait_until(lambda: _dead(idle), what="the idle trainer to die")
    completed(scheduler.submit(SHORT), 60)


def _dead(trainer) -> bool:
    try:
        ray.get(trainer.ready.remote(), timeout=5)
    except ray.exceptions.RayError:
        return True
    return False


@pytest.mark.parametrize(("cpus", "trainings", "threads"), [(2, 1, 1), (4, 1, 3), (16, 8, 1), (16, 3, 5), (1, 1, 1)])
def test_each_training_gets_the_cores_left_after_one_for_the_server(monkeypatch, cpus, trainings, threads):
    from core.runs import jobs

    monkeypatch.delenv("DASHBOARD_TRAIN_THREADS", raising=False)
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: cpus)
    assert jobs.default_threads(trainings) == threads
    monkeypatch.setenv("DASHBOARD_TRAIN_THREADS", str(min(2, cpus)))  # more than the machine has is refused
    assert jobs.default_threads(trainings) == min(2, cpus)


# --- Learning-rate sweeps --------------------------------------------------------------------


def test_a_learning_rate_sweep_runs_on_a_trainer_and_gives_what_find_lr_gives(scheduler):
    """The finder's sweep is heavy work too (half a minute for a ResNet on a CPU): it queues for the trainers
    like a run, out of the server's process, and its result is the one find_lr gives here."""
    from core.lessons.lr_finder import find_lr

    config = RunConfig(model="linear", dataset="synthetic", batch_size=32)
    busy = scheduler.submit(LONG)
    wait_training(busy)
    sweep = scheduler.submit(config, task="find_lr", options={"num_steps": 80})
    time.sleep(0.3)
    assert sweep.state == "queued", "one trainer, and a run holds it"
    busy.stop()
    assert sweep.wait(60)
    assert sweep.error is None and sweep.outcome.status == "completed"
    here = find_lr(config, num_steps=80)
    assert sweep.sweep.lrs == pytest.approx(here.lrs)
    assert sweep.sweep.losses == pytest.approx(here.losses, rel=1e-4)
    assert sweep.sweep.suggestion == pytest.approx(here.suggestion)


def test_a_sweep_can_be_stopped_and_a_hopeless_one_is_explained(scheduler):
    slow = RunConfig(model="linear", dataset="synthetic", num_examples=200_000, batch_size=100_000)
    stopped = scheduler.submit(slow, task="find_lr", options={"num_steps": 100_000, "end_lr": 1e-3})
    wait_until(lambda: stopped.state == "starting" and stopped.trainer is not None, what="the sweep to start")
    time.sleep(0.5)
    stopped.stop()
    assert stopped.wait(30)
    assert stopped.sweep is None and stopped.outcome.status == "cancelled" and stopped.error is None
    # find_lr's own complaints are about the settings, and the job says what they are
    hopeless = scheduler.submit(SHORT, task="find_lr", options={"start_lr": 1.0, "end_lr": 0.1})
    assert hopeless.wait(60)
    assert hopeless.sweep is None and hopeless.error.startswith("The sweep could not run: need 0 < start_lr < end_lr")
    with pytest.raises(ValueError, match="unknown task 'predict'"):
        scheduler.submit(SHORT, task="predict")


def test_a_gpu_run_waits_in_a_queue_of_its_own_with_its_place_while_cpu_runs_go_on(scheduler, monkeypatch):
    """Runs that need the GPU queue for it, apart: the second waits, told its place, and a CPU run does not wait
    behind it. (No GPU here: runs of seed 7 stand in for CUDA runs, and their trainers ask Ray for a CPU.)"""
    from dataclasses import replace

    from core.runs import trainers

    monkeypatch.setattr(trainers, "kind", lambda config: "gpu" if config.seed == 7 else "cpu")
    monkeypatch.setattr(trainers, "cluster_gpus", lambda: 1)
    monkeypatch.setattr(trainers, "GPU_REQUEST", {"num_cpus": 1})
    first = scheduler.submit(replace(LONG, seed=7), label="gpu 1")
    wait_training(first)
    second = scheduler.submit(replace(LONG, seed=7), label="gpu 2")
    cpu = scheduler.submit(SHORT, label="cpu")
    assert cpu.wait(60) and cpu.outcome.status == "completed"
    info = scheduler.queue_info(second)
    assert (info.position, info.running) == (1, 1) and second.state == "queued"
    assert not scheduler.has_free_slot(second.config) and scheduler.has_free_slot(SHORT)
    first.stop()
    wait_training(second, timeout=60)


def test_the_local_ray_token_is_readable_by_its_owner_only(scheduler):
    """Issue 21: Ray wrote ~/.ray/auth_token mode 0644, so any user of the machine could read the class's token."""
    from pathlib import Path

    from core.runs import trainers

    trainers.connect()
    token = Path.home() / ".ray" / "auth_token"  # where Ray keeps it (ray._private.authentication)
    if trainers.address() is None and token.is_file():  # our own Ray, in token mode
        assert token.stat().st_mode & 0o077 == 0, oct(token.stat().st_mode)


def test_turns_go_between_browsers_so_one_cannot_starve_the_class(scheduler):
    """Issue 21: one browser held 1 running and 12 queued runs; another's run waited at place 13. It goes next."""
    hog = [scheduler.submit(LONG, label=f"hog {i}", owner="hog") for i in range(4)]
    wait_training(hog[0])
    student = scheduler.submit(SHORT, label="student", owner="student")
    time.sleep(0.2)
    assert scheduler.queue_info(student).position == 1, "the other browser's one run is next"
    assert [scheduler.queue_info(j).position for j in hog[1:]] == [2, 3, 4]
    hog[0].stop()
    assert student.wait(30) and student.outcome.status == "completed", "it ran before the hog's queued runs"
    wait_training(hog[1])  # then the hog's next one
    assert hog[2].state == hog[3].state == "queued"


def test_a_disk_too_full_for_ray_to_spill_a_runs_data_is_said_as_such():
    """CI lost runs with "the training process ended unexpectedly (out of memory, or killed)": in truth Ray's object
    store was full and the disk over 95%, so the run's data could not be handed to the trainer."""
    from core.runs import trainers

    full = ray.exceptions.OutOfDiskError("Local disk is full")
    message = trainers.why_lost(full, None)
    assert "disk is too full" in message and "Free some disk space" in message and "ended unexpectedly" not in message


def test_a_killed_trainer_on_one_machine_is_not_called_a_lost_machine(monkeypatch):
    """Issue 21: a SIGKILLed trainer on a single machine said "the trainer's machine was lost (its node left the
    cluster)": Ray's words for the dead actor name its node, but our own Ray's one node cannot leave."""
    from core.runs import trainers

    monkeypatch.delenv("DASHBOARD_RAY_ADDRESS", raising=False)
    died = RuntimeError("The actor died because its node has died. Node Id: 3f2a... The worker process was killed")
    message = trainers.why_lost(died, None)
    assert trainers.MACHINE_LOST not in message and "ended unexpectedly (out of memory, or killed)" in message


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: nothing to share")
def test_a_run_alone_trains_on_every_core_and_shares_them_once_another_waits(scheduler):
    """Issue 24: on a 2-core machine a lone run trained on one thread while the second core idled (the ResNet
    page's default run took 79-85 s). Alone, it takes every core; when another run waits, it gives them back."""
    if not scheduler.adapt:
        pytest.skip("DASHBOARD_TRAIN_THREADS fixes the thread count")
    cores = os.cpu_count()
    first = scheduler.submit(LONG, label="alone")
    wait_training(first)
    assert (first.threads, first.alone) == (cores, True)
    assert first.started.device_name == f"CPU ({cores} threads)", "the trainer trains with them"
    wait_until(lambda: ray.get(first.trainer.threads.remote()) == cores, what="the lone run's threads")
    second = scheduler.submit(LONG, label="waits")
    assert (first.threads, first.alone) == (scheduler.threads, False)
    wait_until(lambda: ray.get(first.trainer.threads.remote()) == scheduler.threads, what="the cores given back")
    first.stop()
    wait_training(second)
    assert (second.threads, second.alone) == (cores, True), "alone again: every core"
    assert second.started.device_name == f"CPU ({cores} threads)"


def test_a_thread_count_that_makes_no_sense_is_refused_in_a_sentence(monkeypatch):
    from core.runs.jobs import default_threads, threads_setting

    for bad in ("abc", "0", "-2", "1.5", str((os.cpu_count() or 1) + 1)):
        monkeypatch.setenv("DASHBOARD_TRAIN_THREADS", bad)
        count, why = threads_setting()
        assert count is None and why.startswith(f"DASHBOARD_TRAIN_THREADS={bad!r} is refused"), why
        assert default_threads(1) == max(1, (os.cpu_count() or 2) - 1), "the default instead"
    monkeypatch.setenv("DASHBOARD_TRAIN_THREADS", "1")
    assert threads_setting() == (1, None)
    sched = Scheduler(max_running=1)
    assert sched.threads == 1 and not sched.adapt
