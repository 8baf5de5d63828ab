"""Benchmark of scale-out (issue 15): 8 short runs on a simulated Ray cluster of one machine, then of two.

Each "machine" is a Ray node of `ray.cluster_utils.Cluster` on this computer with 1 CPU, so one node trains one
run at a time and two nodes train two, the way two real machines would - as long as this computer has a core
for each (2 here, and the server's own process shares them). The scheduler joins the cluster as the app does
(DASHBOARD_RAY_ADDRESS), its trainers are warmed up first (and one run each), then 8 runs of d2l's MLP on
20,000 Fashion-MNIST images (2 epochs) are submitted at once and timed until the last one ends. `speedup` is
one node's time over two nodes'. The last line printed is one JSON object, also written to
bench/results/cluster.json. Run from the repository root: `python bench/bench_cluster.py`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from core.runs import trainers  # noqa: E402
from core.runs.jobs import Scheduler  # noqa: E402
from core.train import RunConfig  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cluster.json"
RUN = RunConfig(model="mlp", dataset="fashion_mnist", epochs=2, train_examples=20_000, evals_per_epoch=1)
RUNS = 8


def timed(nodes: int) -> dict:
    sim = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1})
    os.environ[trainers.ADDRESS_VARIABLE] = sim.address
    trainers.connect()
    for _ in range(nodes - 1):
        sim.add_node(num_cpus=1)
    sim.wait_for_nodes()
    scheduler = Scheduler().warm_up(("fashion_mnist",))
    count = scheduler.max_running
    ray.get([t.ready.remote() for t in scheduler._idle["cpu"]])  # every trainer up, its data loaded
    for job in [scheduler.submit(RUN, label="warm-up") for _ in range(count)]:  # each trainer's first run
        job.wait()
    began = time.perf_counter()
    jobs = [scheduler.submit(RUN, label=f"run {k}") for k in range(RUNS)]
    for job in jobs:
        job.wait()
    seconds = time.perf_counter() - began
    nodes_used = len({job.node for job in jobs})
    ok = sum(job.outcome is not None and job.outcome.status == "completed" for job in jobs)
    scheduler.close()
    ray.shutdown()
    sim.shutdown()
    return {"seconds": round(seconds, 2), "trainers": count, "nodes_used": nodes_used, "completed": ok}


def main() -> None:
    from core import datasets

    load = os.getloadavg()[0]
    datasets.load("fashion_mnist")  # the server's own copy, for the runs' mirrors: loaded before any timing
    one, two = timed(1), timed(2)
    result = {
        "bench": "cluster",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_before": load,
        "runs": RUNS,
        "one_node": one,
        "two_nodes": two,
        "speedup": round(one["seconds"] / two["seconds"], 2),
        "runs_per_minute_one_node": round(RUNS / one["seconds"] * 60, 1),
        "runs_per_minute_two_nodes": round(RUNS / two["seconds"] * 60, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
