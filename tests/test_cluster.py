"""Scale-out, simulated: a Ray cluster of two nodes on this machine (`ray.cluster_utils.Cluster`), the app's
scheduler joined to it through DASHBOARD_RAY_ADDRESS, as a school's servers would join their GPU machines.

The head node has 1 CPU; the second has 2 CPUs and advertises 1 GPU, a stand-in (there is no CUDA here), so a
run with device=cuda is placed there and then says that CUDA is not available on that machine: on a real GPU
machine it would train. The runs are d2l's synthetic regression at batch 1, "running" for as long as needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster
from test_jobs import LONG, SHORT, wait_until

from core.runs import trainers
from core.runs.jobs import Scheduler

pytestmark = pytest.mark.slow  # a Ray cluster of its own in every test


def stop_all(jobs: list, scheduler: Scheduler) -> None:
    for job in jobs:
        job.stop()
    for job in jobs:
        job.wait(30)
    scheduler.close()


@pytest.fixture
def cluster(monkeypatch):
    """Two nodes; this process's Ray joined to them (and, afterwards, back to none: the next test starts its own)."""
    import streamlit as st

    ray.shutdown()
    sim = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1})
    monkeypatch.setenv(trainers.ADDRESS_VARIABLE, sim.address)
    monkeypatch.delenv("DASHBOARD_MAX_TRAININGS", raising=False)
    trainers.connect()  # the server joins while only the head is up, so its driver is the head's (never lost)
    gpu_node = sim.add_node(num_cpus=2, num_gpus=1)  # a machine joins the running cluster
    sim.wait_for_nodes()
    yield sim, sim.head_node.node_id, gpu_node
    ray.shutdown()
    sim.shutdown()
    st.cache_resource.clear()  # a page's scheduler of the cluster would hold its dead trainers


def test_runs_spread_over_two_machines_cuda_goes_to_the_gpu_one_and_a_lost_machine_fails_only_its_runs(cluster):
    sim, head, gpu_node = cluster
    scheduler = Scheduler()
    assert scheduler.cluster and scheduler.max_running == 3  # the cluster's CPUs, a trainer each
    jobs = []
    try:
        a, b = scheduler.submit(LONG, label="a"), scheduler.submit(LONG, label="b")
        jobs += [a, b]
        wait_until(lambda: a.history and b.history, timeout=90, what="two runs to train")
        assert {a.node, b.node} == {head, gpu_node.node_id}, "the trainers spread over both machines"

        cuda = scheduler.submit(replace(SHORT, device="cuda"), label="cuda")
        jobs.append(cuda)
        assert cuda.wait(90)
        assert cuda.node == gpu_node.node_id, "a CUDA run goes to the machine with the GPU, only"
        assert "'cuda' is not available" in cuda.error  # the stand-in GPU: on a real one it trains

        third = scheduler.submit(LONG, label="third")  # the third CPU: the GPU machine's second one
        jobs.append(third)
        wait_until(lambda: third.history, timeout=90, what="a third run")
        queued = [scheduler.submit(SHORT, label=f"queued {k}") for k in range(2)]
        jobs += queued
        assert [scheduler.queue_info(j).position for j in queued] == [1, 2]

        on_lost = [j for j in (a, b, third) if j.node == gpu_node.node_id]
        survivor = next(j for j in (a, b) if j.node == head)
        sim.remove_node(gpu_node)  # the machine is lost mid-run
        for job in on_lost:
            assert job.wait(90)
            assert job.outcome is None and trainers.MACHINE_LOST in job.error, job.error
        steps = len(survivor.history)
        wait_until(lambda: len(survivor.history) > steps, timeout=90, what="the run on the other machine to go on")
        assert survivor.state == "running"

        survivor.stop()  # its CPU frees: the queue, kept across the loss, trains on the machine that is left
        for job in queued:
            assert job.wait(120), f"{job.label} never ran"
            assert job.outcome.status == "completed" and job.node == head, (job.error, job.node)
    finally:
        stop_all(jobs, scheduler)


@pytest.fixture
def cli_cluster(monkeypatch):
    """A head and a second machine started with the `ray` CLI and a token (tests/services.py), the README's way; this
    process's Ray joined to it with DASHBOARD_RAY_ADDRESS."""
    import streamlit as st
    from services import RayCluster

    ray.shutdown()
    real = RayCluster(head_cpus=1)
    monkeypatch.setenv(trainers.ADDRESS_VARIABLE, real.address)
    monkeypatch.delenv("DASHBOARD_MAX_TRAININGS", raising=False)
    try:
        second = real.add_node(cpus=1)
        wait_until(lambda: "2 node" in real.status().stdout or real.status().stdout.count("node_") >= 2, timeout=60,
                   what="the second node to join")  # fmt: skip
        trainers.connect()
        yield real, second
    finally:
        ray.shutdown()
        real.close()
        st.cache_resource.clear()


def test_a_cluster_of_the_ray_cli_with_a_token_trains_and_a_lost_machine_fails_only_its_runs(cli_cluster):
    """Issue 23: every step of the README's Ray path failed without RAY_AUTH_MODE=token, and no test could tell."""
    real, second = cli_cluster
    assert "AuthenticationError" in real.status(env={**os.environ, "RAY_AUTH_MODE": "disabled"}).stderr + (
        real.status(env={**os.environ, "RAY_AUTH_MODE": "disabled"}).stdout
    ), "the cluster refuses a caller without the token"
    assert oct((Path.home() / ".ray" / "auth_token").stat().st_mode & 0o777) == "0o600"
    fresh_shell = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # the README's server command
    joined = subprocess.run(
        [sys.executable, "-c", "from core.runs import trainers; trainers.connect(); print(trainers.cluster_cpus())"],
        env=fresh_shell | {"PYTHONPATH": str(Path(__file__).parents[1])}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert joined.stdout.strip() == "2", joined.stderr[-2000:]
    scheduler = Scheduler()
    assert scheduler.cluster and scheduler.max_running == 2
    jobs = [scheduler.submit(LONG, label=name) for name in ("a", "b")]
    try:
        wait_until(lambda: all(j.history for j in jobs), timeout=120, what="two runs to train")
        nodes = {n["NodeManagerAddress"] + str(n["NodeManagerPort"]): n["NodeID"] for n in ray.nodes() if n["Alive"]}
        assert len({j.node for j in jobs}) == 2 and {j.node for j in jobs} <= set(nodes.values()), "one a machine"
        lost = [j for j in jobs if j.node != ray.get_runtime_context().get_node_id()]
        real.kill_node(second)  # the second machine is switched off mid-run
        for job in lost:
            assert job.wait(120)
            assert job.outcome is None and trainers.MACHINE_LOST in job.error, job.error
        survivor = next(j for j in jobs if j not in lost)
        steps = len(survivor.history)
        wait_until(lambda: len(survivor.history) > steps, timeout=60, what="the run on the head to go on")
    finally:
        stop_all(jobs, scheduler)


def test_a_second_server_on_the_cluster_trains_once_the_first_ones_idle_trainers_give_back_their_cpus(
    cluster, monkeypatch
):
    """Issue 23: a second app server's trainers stayed PENDING_CREATION for minutes, because the first server's
    idle warm trainers held every CPU of the cluster. Two schedulers on one cluster are two servers."""
    from core.runs import jobs

    monkeypatch.setattr(jobs, "IDLE_SECONDS", 3.0)
    first, second = Scheduler(), Scheduler()
    try:
        first.warm_up()  # as the first server's Home page does: a trainer on every CPU, all idle
        wait_until(lambda: ray.available_resources().get("CPU", 0) == 0, timeout=60, what="the warm trainers")
        job = second.submit(SHORT, label="the other server's run")
        assert job.wait(120) and job.outcome.status == "completed", job.error
    finally:
        first.close()
        second.close()
