"""Benchmark: bfloat16 autocast on the CPU against float32, for the convolutional models (issue 24, item 2).

The ResNet page's default network and recipe (`core.train.RECIPE`, batch 128), a training step (forward,
backward, SGD step) timed at each thread count the trainers use (1: shared; every core: alone), in float32 and
under `torch.autocast("cpu", dtype=torch.bfloat16)`. The median of `--steps` steps after 5 warm-up steps. With
`--accuracy`, also one whole default epoch in each precision, for its final accuracy. bfloat16 would become the
CPU default only where it makes the default run at least 1.3x faster with its accuracy within 0.3 points
(`TARGETS`); the last line printed is one JSON object, also written to bench/results/precision.json.
Run from the repository root: `python bench/bench_precision.py --help`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from report import report  # noqa: E402

from core import datasets  # noqa: E402
from core.train import RECIPE, RunConfig, fit, start  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "precision.json"
TARGETS = {"bf16_speedup_at_least": 1.3, "bf16_accuracy_within": 0.003}
CONFIG = RunConfig(model="resnet", lr=0.2, batch_size=128, epochs=1, **RECIPE)


def cpu_flags() -> list[str]:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    return sorted({f for f in flags.split() if "bf16" in f or f.startswith("amx")})


def precision(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def ms_per_step(data: datasets.Data, threads: int, bf16: bool, steps: int) -> float:
    torch.set_num_threads(threads)
    run = start(CONFIG, data)
    model, optimizer = run.model, torch.optim.SGD(run.model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    X, y = data.X_train[: CONFIG.batch_size], data.y_train[: CONFIG.batch_size]
    times = []
    for _ in range(steps + 5):
        began = time.perf_counter()
        with precision(bf16):
            loss = torch.nn.functional.cross_entropy(model(X), y, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - began)
    timed = sorted(times[5:])
    return 1000 * timed[len(timed) // 2]


def whole_epoch(data: datasets.Data, threads: int, bf16: bool) -> dict:
    """The default run through the one training loop, its steps under CPU autocast when `bf16`."""
    import core.train as train_module

    torch.set_num_threads(threads)
    real = train_module.autocast  # the loop's precision, from core.device: float32 on the CPU
    if bf16:
        train_module.autocast = lambda device, enabled=True: precision(enabled)
    try:
        run = start(CONFIG, data)
        began = time.perf_counter()
        for _ in fit(run):
            pass
        curve = [round(p.val_acc, 4) for p in run.history if p.val_acc is not None]
        return {"seconds": time.perf_counter() - began, "val_acc": run.last_eval.val_acc, "curve": curve}
    finally:
        train_module.autocast = real


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--accuracy", action="store_true", help="also one whole default epoch in each precision")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not datasets.status("fashion_mnist").available:
        raise SystemExit("Fashion-MNIST is missing: run `bash .ci/setup` first")
    data = datasets.load("fashion_mnist")
    cores = os.cpu_count() or 1
    result: dict = {"cpus": cores, "cpu_bf16_flags": cpu_flags(), "config": "the ResNet page's default, batch 128"}
    for threads in sorted({1, cores}):
        fp32, bf16 = ms_per_step(data, threads, False, args.steps), ms_per_step(data, threads, True, args.steps)
        result[f"threads_{threads}"] = {"fp32_ms": fp32, "bf16_ms": bf16, "bf16_speedup": fp32 / bf16}
        print(f"{threads} thread(s): float32 {fp32:.1f} ms a step, bfloat16 {bf16:.1f} ms ({fp32 / bf16:.2f}x)")
    if args.accuracy:
        for name, bf16 in (("fp32", False), ("bf16", True)):
            result[f"epoch_{name}"] = whole_epoch(data, cores, bf16)
            print(f"whole epoch, {name}: {result[f'epoch_{name}']}")
        result["epoch_bf16_minus_fp32"] = result["epoch_bf16"]["val_acc"] - result["epoch_fp32"]["val_acc"]
    best = max(result[f"threads_{t}"]["bf16_speedup"] for t in sorted({1, cores}))
    result["bf16_best_speedup"] = best
    result["bf16_becomes_default"] = best >= TARGETS["bf16_speedup_at_least"] and (
        not args.accuracy or abs(result["epoch_bf16_minus_fp32"]) <= TARGETS["bf16_accuracy_within"]
    )
    return report(result, TARGETS, args.out)


if __name__ == "__main__":
    main()
