"""Benchmark of the ResNet page's default run (issue 11): accuracy and time, as a user gets them on this machine.

The page is the real one, run by Streamlit's AppTest in this process; its trainers are the app's own worker
processes with the app's thread count (`core.runs.jobs.default_threads`). A tiny warm-up run first makes the
worker hold Fashion-MNIST, as a server's trainers do once started. Then a fresh session opens the ResNet
page, leaves every setting at its default and presses Train: `resnet_page_wall_s` is the time from the
click to the job's end (its final evaluation on all 10,000 validation images included), and
`resnet_page_val_acc` that final accuracy. `resnet_page_best_minus_final` is the best evaluation along the
way minus the final one; `resnet_eval_share` the part of the run's time spent evaluating (the engine's own
clock: elapsed against training time). The same run from scratch (`--scratch`, on by default) must end
within a point of it. `--ladder` trains the Baseline ladder's default MLP and ResNet rungs (5 epochs a
rung) on the same trainers. `--compile` times `torch.compile` on the page's network against eager mode, at
the trainers' thread count, with its compile time. The last line printed is one JSON object, also written to
bench/results/resnet.json. Run from the repository root: `python bench/bench_resnet.py --help`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
# the page's runs go to a store of their own, never to the user's data/runs.db
os.environ.setdefault("DASHBOARD_DB", f"sqlite:///{ROOT / 'bench' / 'results' / 'resnet.store.db'}")

import torch  # noqa: E402
from report import report  # noqa: E402

from core import datasets  # noqa: E402
from core.device import describe, resolve_device  # noqa: E402
from core.lessons import baselines  # noqa: E402
from core.runs.jobs import Scheduler, default_max_running, default_threads  # noqa: E402
from core.train import Progress, RunConfig, start  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "resnet.json"
TARGETS = {"resnet_page_val_acc": 0.885, "resnet_page_wall_s": 60.0, "resnet_page_best_minus_final": 0.01}
TARGETS |= {"resnet_alone_speedup": 1.5}
TARGETS |= {"resnet_eval_share": 0.15, "scratch_minus_concise": 0.01, "ladder_resnet_minus_mlp": 0.02}


def page_run(implementation: str = "concise", timeout: float = 900) -> dict:
    """Open the ResNet page in a new session, press Train with its defaults (but the implementation), time it."""
    from test_pages import open_page, runs, session

    at = open_page(session(), "resnet")
    if implementation != "concise":
        at.radio(key="impl").set_value(implementation).run()
    clicked = time.perf_counter()
    at.button(key="train").click().run()
    job = runs(at)[-1]
    while job.state != "done":
        if time.perf_counter() - clicked > timeout:
            job.stop()
            raise SystemExit(f"the page's run did not end in {timeout} s")
        time.sleep(0.05)
    wall = time.perf_counter() - clicked
    if job.error or job.outcome.status != "completed":
        raise SystemExit(f"the page's run failed: {job.error or job.outcome.message}")
    figures_ = figures(job.history, job.config, len(job.run.data.X_train))
    return {"config": job.config, "wall_s": wall, "threads": job.threads, **figures_}


def figures(history: list[Progress], config: RunConfig, num_train: int) -> dict:
    evals = [p for p in history if p.val_acc is not None]
    last = history[-1]
    # the engine's clock: examples_per_s counts training time only, elapsed counts the evaluations too. A completed
    # run saw every full batch (batch norm drops a ragged last one) or every example of every epoch.
    seen = min(last.step * config.batch_size, config.epochs * num_train)
    return {
        "val_acc": evals[-1].val_acc,
        "val_images": evals[-1].val_examples,
        "best_minus_final": max(p.val_acc for p in evals) - evals[-1].val_acc,
        "curve": [round(p.val_acc, 4) for p in evals],
        "fit_s": last.elapsed,
        "eval_share": 1 - seen / last.examples_per_s / last.elapsed,
        "examples_per_s": last.examples_per_s,
    }


def ladder_rungs(scheduler: Scheduler) -> dict:
    """The Baseline ladder's default run (5 epochs a rung, every training image): its MLP and ResNet rungs."""
    out = {}
    for rung, config in baselines.ladder("fashion_mnist", epochs=5):
        if rung.key in ("mlp", "resnet"):
            job = scheduler.submit(config, label=rung.title)
            job.wait()
            evals = [p.val_acc for p in job.history if p.val_acc is not None]
            out[rung.key] = {"val_acc": evals[-1], "seconds": job.history[-1].elapsed, "epochs": config.epochs}
    out["resnet_minus_mlp"] = out["resnet"]["val_acc"] - out["mlp"]["val_acc"]
    return out


def compile_timing(config: RunConfig, threads: int, steps: int = 30) -> dict:
    """Eager against torch.compile on the page's network: ms per training step, and the compile's seconds."""
    torch.set_num_threads(threads)
    data = datasets.load(config.dataset)
    out = {}
    for mode in ("eager", "compiled"):
        run = start(config, data)
        model = torch.compile(run.model) if mode == "compiled" else run.model
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        X, y = data.X_train[: config.batch_size], data.y_train[: config.batch_size]
        times = []
        for _ in range(steps + 1):
            began = time.perf_counter()
            l = torch.nn.functional.cross_entropy(model(X), y)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            times.append(time.perf_counter() - began)
        out[f"{mode}_first_step_s"] = times[0]  # compiling happens here
        out[f"{mode}_ms_per_step"] = 1000 * sorted(times[1:])[len(times[1:]) // 2]
    steps_per_run = len(data.X_train[: config.train_examples or None]) // config.batch_size * config.epochs
    saved = (out["eager_ms_per_step"] - out["compiled_ms_per_step"]) / 1000 * steps_per_run
    out["compile_s"] = out["compiled_first_step_s"] - out["eager_ms_per_step"] / 1000
    out["saved_over_a_default_run_s"] = saved
    out["pays_off"] = saved > out["compile_s"]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-scratch", action="store_true", help="skip the from-scratch twin")
    parser.add_argument("--no-one-thread", action="store_true", help="skip the run held to the shared thread count")
    parser.add_argument("--ladder", action="store_true", help="also train the ladder's default MLP and ResNet rungs")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile against eager mode")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not datasets.status("fashion_mnist").available:
        raise SystemExit("Fashion-MNIST is missing: run `bash .ci/setup` first")

    from test_pages import open_page, session, train

    threads = default_threads(default_max_running())
    where = describe(resolve_device(), threads)
    print(f"trainers: {default_max_running()} at once, {threads} thread(s) each, on {where}")
    warm = open_page(session(), "resnet", subset="2000")  # the page's own network: its kernels are warm too
    train(warm)  # the worker now holds Fashion-MNIST, as a server's trainers do
    result: dict = {"threads": threads, "device": str(resolve_device()), "cpus": os.cpu_count()}
    concise = page_run("concise")
    config = concise.pop("config")
    print(f"page default ({config.implementation}): {concise['val_acc']:.2%} in {concise['wall_s']:.1f} s; {concise}")
    result |= {f"resnet_page_{k}": v for k, v in concise.items() if k not in ("eval_share",)}
    result["resnet_eval_share"] = concise["eval_share"]
    if not args.no_one_thread:  # the same run, its trainer held to the shared split (1 thread on 2 cores)
        from ui.server import scheduler

        trainers_, result["resnet_page_threads"] = scheduler(), concise["threads"]
        trainers_.adapt = False
        try:
            held = page_run("concise")
        finally:
            trainers_.adapt = True
        print(f"the same, {held['threads']} thread(s): {held['val_acc']:.2%} in {held['wall_s']:.1f} s")
        result["resnet_one_thread_wall_s"] = held["wall_s"]
        result["resnet_alone_speedup"] = held["wall_s"] / concise["wall_s"]
    result["resnet_page_config"] = {k: v for k, v in config.as_dict().items() if k not in ("true_w",)}
    if not args.no_scratch:
        scratch = page_run("scratch")
        scratch.pop("config")
        print(f"page default (scratch): {scratch['val_acc']:.2%} in {scratch['wall_s']:.1f} s")
        result |= {f"scratch_{k}": v for k, v in scratch.items()}
        result["scratch_minus_concise"] = scratch["val_acc"] - concise["val_acc"]
    if args.ladder:
        from ui.server import scheduler

        result["ladder"] = ladder_rungs(scheduler())
        result["ladder_resnet_minus_mlp"] = result["ladder"]["resnet_minus_mlp"]
        print(f"ladder: {result['ladder']}")
    if args.compile:
        result["compile"] = compile_timing(config, threads)
        print(f"torch.compile: {result['compile']}")
    return report(result, TARGETS, args.out)


if __name__ == "__main__":
    main()
