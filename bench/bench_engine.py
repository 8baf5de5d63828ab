"""Benchmark of the `core/` training engine against the idiomatic PyTorch loop, and against the machine's matmul peak.

Softmax regression (784->10) and the MLP (784-256-10, ReLU) train on Fashion-MNIST with batch 256, lr 0.1 and
plain SGD twice: through `core.train` (whole tensors held on the device, batches gathered by index), and the way
d2l and pytorch/examples write it (torchvision's dataset with `ToTensor`, a `DataLoader` with `shuffle=True`, a
zero_grad/backward/step loop, then an evaluation pass over the test set with its own `DataLoader`). Each side runs
one warm-up epoch and then `--timed-epochs` more, the two sides taking turns epoch by epoch so that both meet the
same drifts in the machine's speed; a figure is the fastest timed epoch, for training alone and for
training plus one validation pass, and a speedup is idiomatic seconds / ours. The float32 matmul peak is the best
GFLOP/s of `torch.mm` over a few sizes; the MLP's rate is 6 x parameters x examples / train-only epoch seconds
(and, more honestly, the FLOPs the MLP really does). A third MLP side, by hand with no autograd, shows how close
the engine comes to the least work PyTorch's ops can do for an epoch. The small ResNet (and optionally
ResNet-18) is timed through the engine, with its validation accuracy. Other processes' CPU use during each
measurement is recorded, since a busy machine spoils every figure. The last line printed is one JSON object,
also written to bench/results/engine.json. Run from the repository root: `python -m bench.bench_engine --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/bench_engine.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from core import datasets  # noqa: E402
from core.device import DEVICES, describe, resolve_device  # noqa: E402
from core.train import Finished, Progress, RunConfig, fit, start  # noqa: E402

BATCH = 256
LR = 0.1
TEST_BATCH = 1000  # pytorch/examples mnist's --test-batch-size
NUM_INPUTS, NUM_HIDDENS, NUM_CLASSES = 784, 256, 10
MATMUL_SHAPES = {  # name: (m, k, n) of an (m, k) @ (k, n) product
    "256": (256, 256, 256),
    "512": (512, 512, 512),
    "1024": (1024, 1024, 1024),
    "2048": (2048, 2048, 2048),
    "mlp 256x784@784x256": (256, 784, 256),
}
TARGETS = {"softmax_speedup": 20.0, "mlp_speedup": 10.0, "mlp_peak_fraction": 0.6}
BUSY = 0.1  # other processes using more than this share of the CPUs make a measurement suspect
RESULTS = ROOT / "bench" / "results" / "engine.json"


# --- Clocks ----------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    """Wait for the device to finish its queued work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _cpu_seconds() -> tuple[float, float] | None:
    """(CPU-seconds every process has been busy since boot, CPU-seconds of this process); None off Linux."""
    try:
        ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    own = resource.getrusage(resource.RUSAGE_SELF)
    return busy / os.sysconf("SC_CLK_TCK"), own.ru_utime + own.ru_stime


class OthersMeter:
    """Share of the machine's CPUs that other processes used between `start()` and `share()` (Linux only)."""

    def start(self) -> OthersMeter:
        self.wall, self.cpu = time.perf_counter(), _cpu_seconds()
        return self

    def share(self) -> float | None:
        now = _cpu_seconds()
        if self.cpu is None or now is None:
            return None
        others = (now[0] - self.cpu[0]) - (now[1] - self.cpu[1])
        return max(0.0, others / ((time.perf_counter() - self.wall) * (os.cpu_count() or 1)))


@dataclass(frozen=True)
class Epoch:
    train_s: float  # training alone
    total_s: float  # training and one pass over the test set
    val_acc: float | None


@dataclass
class Timing:
    """Seconds of every epoch, the warm-up first: training alone, and training plus one validation pass."""

    train_s: list[float] = field(default_factory=list)
    total_s: list[float] = field(default_factory=list)
    val_acc: float | None = None
    others: float | None = None  # other processes' share of the CPUs meanwhile

    def add(self, epoch: Epoch) -> None:
        self.train_s.append(epoch.train_s)
        self.total_s.append(epoch.total_s)
        self.val_acc = epoch.val_acc

    @property
    def best_train(self) -> float:  # the fastest epoch after the warm-up (the only one if there is no other)
        return min(self.train_s[1:] or self.train_s)

    @property
    def best_total(self) -> float:
        return min(self.total_s[1:] or self.total_s)

    def as_dict(self) -> dict:
        return {"train_s": self.train_s, "total_s": self.total_s, "val_acc": self.val_acc, "others": self.others}


# --- Our engine ------------------------------------------------------------------------------------


def engine_epochs(model: str, epochs: int, device: torch.device, **knobs) -> Iterator[Epoch]:
    """Train `model` through core.train, evaluating once an epoch; yield each epoch's times, read off the events.

    `Progress.examples_per_s` is the throughput so far with evaluation excluded, so examples seen / it is the
    cumulative training time; `Progress.elapsed` includes evaluation. Differences give each epoch's times.
    The clock of an epoch is paused while the caller holds this generator (it times the idiomatic loop then).
    """
    config = RunConfig(
        model=model,
        implementation="concise",
        lr=LR,
        batch_size=BATCH,
        epochs=epochs,
        evals_per_epoch=1,
        device=device.type,
        **knobs,
    )
    run = start(config)
    n = len(run.data.X_train)
    train_so_far = elapsed_so_far = 0.0
    for event in fit(run):
        if isinstance(event, Progress) and event.val_loss is not None:  # the end of an epoch
            train_total = n * round(event.epoch) / event.examples_per_s
            epoch = Epoch(train_total - train_so_far, event.elapsed - elapsed_so_far, event.val_acc)
            train_so_far, elapsed_so_far = train_total, event.elapsed
            paused = time.perf_counter()
            yield epoch
            # the engine's clocks kept running while the caller was away; take that time back out
            away = time.perf_counter() - paused
            elapsed_so_far, train_so_far = elapsed_so_far + away, train_so_far + away
        elif isinstance(event, Finished) and event.status != "completed":
            raise RuntimeError(f"{model} did not finish: {event.message}")


# --- The idiomatic loop (d2l, pytorch/examples) ----------------------------------------------------


def idiomatic_model(model: str) -> nn.Module:
    if model == "softmax":
        return nn.Sequential(nn.Flatten(), nn.Linear(NUM_INPUTS, NUM_CLASSES))
    return nn.Sequential(
        nn.Flatten(), nn.Linear(NUM_INPUTS, NUM_HIDDENS), nn.ReLU(), nn.Linear(NUM_HIDDENS, NUM_CLASSES)
    )


def idiomatic_epochs(model: str, epochs: int, device: torch.device) -> Iterator[Epoch]:
    """Train with torchvision's dataset + DataLoader, then evaluate on the test set; yield each epoch's times."""
    import torchvision
    from torch.utils.data import DataLoader
    from torchvision import transforms

    root = str(datasets.data_dir())
    train_set = torchvision.datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())
    test_set = torchvision.datasets.FashionMNIST(root, train=False, transform=transforms.ToTensor())
    train_loader = DataLoader(train_set, batch_size=BATCH, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=TEST_BATCH)
    torch.manual_seed(0)
    net = idiomatic_model(model).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR)

    for _ in range(epochs):
        begin = time.perf_counter()
        net.train()
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(net(X), y)
            loss.backward()
            optimizer.step()
        sync(device)
        trained = time.perf_counter()
        net.eval()
        test_loss, correct = 0.0, 0
        with torch.no_grad():
            for X, y in test_loader:
                X, y = X.to(device), y.to(device)
                output = net(X)
                test_loss += F.cross_entropy(output, y, reduction="sum").item()
                correct += (output.argmax(dim=1) == y).sum().item()
        yield Epoch(trained - begin, time.perf_counter() - begin, correct / len(test_set))


# --- The MLP by hand: no autograd, the floor of PyTorch's ops ------------------------------------------


def by_hand_forward(params: list[torch.Tensor], X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden activations H (b, 256), logits (b, 10)) of the MLP by hand; `params` as in `by_hand_step`."""
    W1, b1, W2, b2 = params
    H = torch.addmm(b1, X, W1).relu_()
    return H, torch.addmm(b2, H, W2)


def by_hand_step(params: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor, lr: float) -> None:
    """One SGD step of the 784-256-10 ReLU MLP on a batch, its gradients derived by hand, no autograd.

    `params` are W1 (784, 256), b1, W2 (256, 10), b2, updated in place; each weight's update is fused into its
    gradient's product (W <- W - lr H^T dO as one addmm_). This is no way to write models - autograd is what d2l
    teaches and what every model here uses - but it is as little work as PyTorch's ops can do for the step, so
    the engine's time over it is what autograd and the optimizer cost.
    """
    W1, b1, W2, b2 = params
    H, O = by_hand_forward(params, X)
    dO = O.softmax(dim=1)  # (b, 10); d mean cross-entropy / d logits = (softmax - one_hot) / b
    dO[torch.arange(len(y), device=y.device), y] -= 1
    dO /= len(y)
    dH = (dO @ W2.t()).mul_(H > 0)  # (b, 256), through the ReLU; taken before W2 changes
    W2.addmm_(H.t(), dO, alpha=-lr)
    b2.sub_(dO.sum(0), alpha=lr)
    W1.addmm_(X.t(), dH, alpha=-lr)
    b1.sub_(dH.sum(0), alpha=lr)


def by_hand_epochs(epochs: int, device: torch.device) -> Iterator[Epoch]:
    """The MLP trained by `by_hand_step` on our tensors (same data, batches and init as the idiomatic model's)."""
    data = datasets.load("fashion_mnist", device)
    X_train, X_val = data.X_train.flatten(1), data.X_val.flatten(1)  # (n, 784)
    torch.manual_seed(0)
    net = idiomatic_model("mlp")
    check_by_hand(net, X_train[:BATCH].cpu(), data.y_train[:BATCH].cpu())
    params = [t.to(device) for t in by_hand_params(net)]
    shuffler = torch.Generator().manual_seed(0)
    n = len(X_train)
    for _ in range(epochs):
        begin = time.perf_counter()
        order = torch.randperm(n, generator=shuffler).to(device)
        with torch.no_grad():
            for i in range(0, n, BATCH):
                idx = order[i : i + BATCH]
                by_hand_step(params, X_train.index_select(0, idx), data.y_train.index_select(0, idx), LR)
        sync(device)
        trained = time.perf_counter()
        with torch.no_grad():
            _, y_hat = by_hand_forward(params, X_val)
            accuracy = float((y_hat.argmax(dim=1) == data.y_val).float().mean())
        yield Epoch(trained - begin, time.perf_counter() - begin, accuracy)


def by_hand_params(net: nn.Module) -> list[torch.Tensor]:
    """Copies of the idiomatic MLP's W1, b1, W2, b2, the weights as (in, out) so that X @ W needs no transpose."""
    first, last = net[1], net[3]
    return [t.detach().clone().contiguous() for t in (first.weight.t(), first.bias, last.weight.t(), last.bias)]


def check_by_hand(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse to time `by_hand_step` unless its step is autograd's step with torch.optim.SGD on the same batch."""
    twin = idiomatic_model("mlp")
    twin.load_state_dict(net.state_dict())
    optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
    F.cross_entropy(twin(X), y).backward()
    optimizer.step()
    params = by_hand_params(net)
    with torch.no_grad():
        by_hand_step(params, X, y, LR)
    if not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(params, by_hand_params(twin))):
        raise AssertionError("by_hand_step does not take autograd's step")


def interleaved(sides: dict[str, Iterator[Epoch]]) -> dict[str, Timing]:
    """Run the sides' epochs in turn (ours, idiomatic, ours, ...) until all are done.

    Taking turns makes both sides live through the same moments of a machine whose speed drifts (this one's
    epochs vary by up to 1.6x from minute to minute); timed one after the other, one side could get all the
    slow minutes.
    """
    meter = OthersMeter().start()
    timings = {name: Timing() for name in sides}
    running = dict(sides)
    while running:
        for name, epochs in list(running.items()):
            epoch = next(epochs, None)
            if epoch is None:
                del running[name]
            else:
                timings[name].add(epoch)
    others = meter.share()
    for timing in timings.values():
        timing.others = others
    return timings


# --- Matmul peak and the MLP's FLOPs ---------------------------------------------------------------


def matmul_gflops(m: int, k: int, n: int, device: torch.device, repeats: int = 7, seconds: float = 0.1) -> float:
    """Best GFLOP/s of float32 torch.mm for an (m, k) @ (k, n) product over `repeats` runs of ~`seconds`."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    out = torch.empty(m, n, device=device)
    for _ in range(3):  # warm-up: thread pool, caches, kernel choice
        torch.mm(a, b, out=out)
    sync(device)
    begin = time.perf_counter()
    torch.mm(a, b, out=out)
    sync(device)
    calls = max(1, int(seconds / max(time.perf_counter() - begin, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b, out=out)
        sync(device)
        best = min(best, (time.perf_counter() - begin) / calls)
    return 2 * m * k * n / best / 1e9


def mlp_flops_per_example() -> tuple[int, int]:
    """(the issue's 6 x parameters, the FLOPs really done) per training example of the 784-256-10 MLP.

    Really: every layer's forward (2 x in x out) and weight gradient (2 x in x out), and the input gradient
    (2 x in x out) of every layer but the first, whose input is the data; biases and ReLU are left out.
    """
    sizes = [NUM_INPUTS, NUM_HIDDENS, NUM_CLASSES]
    layers = list(zip(sizes[:-1], sizes[1:]))
    params = sum(fan_in * fan_out + fan_out for fan_in, fan_out in layers)
    real = sum((4 if i == 0 else 6) * fan_in * fan_out for i, (fan_in, fan_out) in enumerate(layers))
    return 6 * params, real


# --- The run and its report ------------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="where everything runs (default: cpu)")
    parser.add_argument("--timed-epochs", type=int, default=3, help="softmax/MLP epochs timed after 1 warm-up (3)")
    parser.add_argument("--resnet-epochs", type=int, default=2, help="epochs of the small ResNet (default 2)")
    parser.add_argument("--skip-resnet", action="store_true", help="leave the small ResNet out")
    parser.add_argument("--resnet18-epochs", type=int, default=0, help="epochs of ResNet-18 (default 0: none)")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default 0: PyTorch's choice)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON file (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if min(args.timed_epochs, args.resnet_epochs) < 1 or min(args.resnet18_epochs, args.threads) < 0:
        parser.error("--timed-epochs and --resnet-epochs must be at least 1, --resnet18-epochs and --threads >= 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    epochs = 1 + args.timed_epochs
    print(f"torch {torch.__version__} on {describe(device)}; {cpu_name()}, {os.cpu_count()} CPUs", flush=True)
    whole = OthersMeter().start()

    # 1. The matmul peak.
    meter = OthersMeter().start()
    matmul = {name: matmul_gflops(*shape, device) for name, shape in MATMUL_SHAPES.items()}
    matmul_others = meter.share()
    peak = max(matmul.values())

    # 2. Softmax regression and the MLP, our engine then the idiomatic loop; 3. the ResNets, ours only.
    timings: dict[str, Timing] = {}
    for model in ("softmax", "mlp"):
        also = " and by hand" if model == "mlp" else ""
        print(f"  {model}: {epochs} epochs ours, idiomatic{also}, in turns ...", flush=True)
        sides = {f"{model} ours": engine_epochs(model, epochs, device)}
        sides[f"{model} idiomatic"] = idiomatic_epochs(model, epochs, device)
        if model == "mlp":
            sides["mlp by hand"] = by_hand_epochs(epochs, device)
        timings |= interleaved(sides)
    for model, count in (("resnet", 0 if args.skip_resnet else args.resnet_epochs), ("resnet18", args.resnet18_epochs)):
        if count:
            print(f"  {model} ours: training for {count} epoch(s) ...", flush=True)
            timings |= interleaved({f"{model} ours": engine_epochs(model, count, device)})

    n = len(datasets.load("fashion_mnist").X_train)
    issue_flops, real_flops = mlp_flops_per_example()
    mlp_gflops = issue_flops * n / timings["mlp ours"].best_train / 1e9
    mlp_real_gflops = real_flops * n / timings["mlp ours"].best_train / 1e9
    result: dict = {}
    for model in ("softmax", "mlp"):
        ours, idiomatic = timings[f"{model} ours"], timings[f"{model} idiomatic"]
        result[f"{model}_speedup"] = idiomatic.best_total / ours.best_total
        result[f"{model}_speedup_train_only"] = idiomatic.best_train / ours.best_train
    result |= {
        "mlp_peak_fraction": mlp_gflops / peak,
        "mlp_real_peak_fraction": mlp_real_gflops / peak,
        "peak_gflops": peak,
        "mlp_gflops": mlp_gflops,
        "mlp_real_gflops": mlp_real_gflops,
        "matmul_gflops": matmul,
    }
    for model in ("softmax", "mlp"):
        for side in ("ours", "idiomatic"):
            timing = timings[f"{model} {side}"]
            result[f"{model}_{side}_train_s"] = timing.best_train
            result[f"{model}_{side}_epoch_s"] = timing.best_total
            result[f"{model}_{side}_val_acc"] = timing.val_acc
    by_hand = timings["mlp by hand"]
    result["mlp_by_hand_train_s"] = by_hand.best_train
    result["mlp_by_hand_epoch_s"] = by_hand.best_total
    result["mlp_by_hand_val_acc"] = by_hand.val_acc
    result["mlp_ours_over_by_hand"] = timings["mlp ours"].best_total / by_hand.best_total
    result["mlp_by_hand_speedup"] = timings["mlp idiomatic"].best_total / by_hand.best_total
    for model in ("resnet", "resnet18"):
        timing = timings.get(f"{model} ours")
        result[f"{model}_epochs"] = len(timing.total_s) if timing else 0
        result[f"{model}_epoch_s"] = timing.best_total if timing else None
        result[f"{model}_train_epoch_s"] = timing.best_train if timing else None
        result[f"{model}_val_acc"] = timing.val_acc if timing else None
    others = whole.share()
    result |= {
        "targets_met": {name: result[name] >= target for name, target in TARGETS.items()},
        "timing_rule": f"fastest of {args.timed_epochs} timed epochs after 1 warm-up epoch; ResNets: fastest epoch",
        "epochs": {key: timing.as_dict() for key, timing in timings.items()},
        "matmul_others": matmul_others,
        "others_cpu_share": others,
        "busy_machine": others is not None and others > BUSY,
        "device": str(device),
        "device_name": describe(device),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }

    print_report(result, timings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def print_report(result: dict, timings: dict[str, Timing]) -> None:
    print()
    print("float32 matmul, GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in result["matmul_gflops"].items()))
    print(f"  peak {result['peak_gflops']:.1f} GFLOP/s ({result['threads']} threads, {result['cpu_capability']})")
    print()
    print(f"seconds per epoch, {result['timing_rule']}")
    print(f"{'':<20}{'train':>9}{'train+eval':>12}{'val acc':>9}{'others':>8}   every epoch, train+eval")
    for key, t in timings.items():
        acc = "-" if t.val_acc is None else f"{t.val_acc:.4f}"
        every = " ".join(f"{s:.2f}" for s in t.total_s)
        print(f"{key:<20}{t.best_train:9.3f}{t.best_total:12.3f}{acc:>9}{percent(t.others):>8}   {every}")
    print()
    for name, target in TARGETS.items():
        verdict = "ok" if result["targets_met"][name] else "MISSED"
        print(f"{name:<28}{result[name]:8.2f}   target >= {target:g}: {verdict}")
    for name in ("softmax_speedup_train_only", "mlp_speedup_train_only", "mlp_real_peak_fraction"):
        print(f"{name:<28}{result[name]:8.2f}")
    print(f"{'mlp_ours_over_by_hand':<28}{result['mlp_ours_over_by_hand']:8.2f}   ours / by hand (no autograd)")
    print(f"{'mlp_by_hand_speedup':<28}{result['mlp_by_hand_speedup']:8.2f}   idiomatic / by hand (no autograd)")
    print(f"{'mlp_gflops':<28}{result['mlp_gflops']:8.1f}   6 x parameters x examples / train seconds")
    print(f"{'mlp_real_gflops':<28}{result['mlp_real_gflops']:8.1f}   FLOPs really done / train seconds")
    print(f"{'others_cpu_share':<28}{percent(result['others_cpu_share']):>8}   CPU used by other processes meanwhile")
    if result["busy_machine"]:
        print(f"WARNING: other processes used more than {BUSY:.0%} of the CPUs; the timings understate this machine.")
    print()


if __name__ == "__main__":
    main()
