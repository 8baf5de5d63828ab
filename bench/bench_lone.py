"""Benchmark: the server stays responsive while a lone run takes every core (issue 24, item 1).

A fresh server (`streamlit run`, a store of its own), the ResNet page opened in Chromium at 1280x720 and its
default run started with Train: alone, it trains on every core. While it trains, `/_stcore/health` is asked
`--probes` times (5 a second) and a second tab switches `--switches` times between two pages through the
sidebar's links, each switch timed from the click to the new page's heading. The 95th percentiles are the
figures (target: 1 s each). The last line printed is one JSON object, also written to bench/results/lone.json.
Run from the repository root: `python bench/bench_lone.py --help`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from report import report  # noqa: E402

from live_app import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "lone.json"
TARGETS = {"health_p95_s": 1.0, "page_switch_p95_s": 1.0}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--switches", type=int, default=12)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    store = tempfile.mkdtemp(prefix="bench-lone-")
    proc, url = start_server(ARTIFACTS / "bench-lone.log", DASHBOARD_DB=f"sqlite:///{store}/runs.db")
    result: dict = {"cpus": os.cpu_count()}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            trainer = context.new_page()
            trainer.goto(f"{url}/resnet")
            trainer.get_by_role("button", name="Train", exact=True).click(timeout=120_000)
            trainer.get_by_text("training alone").wait_for(timeout=180_000)  # the lone run on every core
            result["device_line"] = trainer.get_by_text("Training on").first.inner_text()
            health: list[float] = []

            def probe() -> None:
                for _ in range(args.probes):
                    began = time.perf_counter()
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=30).read()
                    health.append(time.perf_counter() - began)
                    time.sleep(0.2)

            prober = threading.Thread(target=probe)
            prober.start()
            other, switches = context.new_page(), []
            other.goto(url)
            other.get_by_role("heading", name="Deep learning, live").wait_for()
            for k in range(args.switches):
                name, heading = ("MLP", "Multilayer perceptron") if k % 2 == 0 else ("Home", "Deep learning, live")
                began = time.perf_counter()
                other.get_by_role("link", name=name, exact=True).first.click()
                other.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
                switches.append(time.perf_counter() - began)
                time.sleep(0.5)
            prober.join()
            still = trainer.get_by_text("training alone").count() > 0
            browser.close()
    finally:
        stop_server(proc)
    result |= {"health_p95_s": p95(health), "health_max_s": max(health), "probes": len(health)}
    result |= {"page_switch_p95_s": p95(switches), "page_switch_median_s": sorted(switches)[len(switches) // 2]}
    result["switches"], result["still_training_alone_at_the_end"] = [round(s, 3) for s in switches], still
    print(f"health p95 {result['health_p95_s']:.3f} s; page switch p95 {result['page_switch_p95_s']:.3f} s")
    return report(result, TARGETS, args.out)


if __name__ == "__main__":
    main()
