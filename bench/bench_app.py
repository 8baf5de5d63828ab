"""Load check of the whole dashboard: a class of 30 browser sessions pressing Train at once on one server.

Starts `streamlit run streamlit_app.py` on a free port and drives it with real Chromium pages (playwright):

1. warm-up: one session trains once, so the server holds Fashion-MNIST and the page has plotly loaded;
2. "Train to first point": in that session, the time from pressing Train to the first point drawn on the
   curve, a few times (and once in a brand-new session, which also loads plotly), Stop right after;
3. "a click answered while training": while the session's own run trains, the time for a tab switch, a
   page switch to Compare runs, a radio button there, the way back, and Stop - each until the page shows
   the answer;
4. the class: `--sessions` pages (default 30, each a browser of its own: a context of one Chromium) open
   /softmax?epochs=1&seed=<unique>, then all press Train within a few seconds. While the runs queue and
   train, a thread asks /_stcore/health every second and a new session opens a page every ~15 s (and
   clicks its way to Compare runs). Recorded per page: the queue messages it showed, when its run started
   and finished, any error or exception shown. At the end every page opens Compare runs and downloads its
   table as CSV: it must hold exactly the runs of its browser (its own, one browser a page), by their seeds.
   The server's run store is a file of its own; its progress events written a second and its size after
   the class are recorded.

The browser runs on the same machine as the server and takes its share of the CPU, so the figures are
pessimistic for a classroom where each student has a computer. The last line printed is one JSON object,
also written to bench/results/app.json. Run from the repository root: `python bench/bench_app.py --help`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import signal
import sqlite3
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # core, and the server helpers the browser tests use too

from live_app import CHROMIUM, CURVE_POINTS, health_seconds, start_server, stop_server  # noqa: E402
from live_app import CHROMIUM_ARGS as TEST_ARGS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "app.json"
# every page behaves as a foreground tab, as each student's would on their own computer
CHROMIUM_ARGS = TEST_ARGS + [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
TARGETS = {"first_point_s": 1.0, "click_s": 1.0}

PAGE_STATUS = f"""() => ({{
    alerts: [...document.querySelectorAll('[data-testid="stAlertContainer"]')].map(a => a.innerText),
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(a => a.innerText),
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    points: ({CURVE_POINTS})(),
}})"""
QUEUE = re.compile(r"(?:number (\d+) in the queue|you are (next)) \((?:about (\d+) s|any moment now)\)")


T0 = time.perf_counter()
LOAD_AT_START = os.getloadavg()  # other work on the machine skews every figure: it is recorded with them


def log(message: str) -> None:
    """Progress on stderr: the table and the JSON come at the end, on stdout."""
    print(f"[{time.perf_counter() - T0:6.1f} s] {message}", file=sys.stderr, flush=True)


# --- The server --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, its finished threads included (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


class HealthProbe(threading.Thread):
    """Asks /_stcore/health once a second, in its own thread, until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.samples, self.failures = url, [], 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            seconds = health_seconds(self.url)
            if seconds is None:
                self.failures += 1
            else:
                self.samples.append(seconds)
            self.halt.wait(1.0)


# --- One session's page --------------------------------------------------------------------------


def buttons(page):
    return page.get_by_role("button", name="Train", exact=True), page.get_by_role("button", name="Stop", exact=True)


def open_training_page(page, url: str, timeout_s: float = 120) -> float:
    start = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    buttons(page)[0].wait_for(timeout=timeout_s * 1000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_s * 1000)
    return time.perf_counter() - start


NEW_CURVE_POINTS = """(old) => {
    const box = [...document.querySelectorAll('[class*="st-key-curves-"]')].find(e => !e.classList.contains(old));
    const plot = box && box.querySelector('.js-plotly-plot');
    if (!plot || !plot._fullData) return 0;
    const trace = plot._fullData.find(t => t.name === 'train loss');
    return trace ? (trace._length ?? trace.x.length) : 0;
}"""


def curve_key(page) -> str:
    """The class that names the page's live chart now, e.g. "st-key-curves-3" ("" when there is none)."""
    return page.evaluate(
        "() => { const e = document.querySelector('[class*=\"st-key-curves-\"]');"
        " return e ? [...e.classList].find(c => c.startsWith('st-key-curves-')) : '' }"
    )


def press_train_until_first_point(page, timeout_s: float = 300) -> float:
    """Seconds from the click on Train to the first point of the new run's curve."""
    train, _ = buttons(page)
    train.wait_for(timeout=timeout_s * 1000)
    page.wait_for_function("() => !document.querySelector('button[kind=\"primary\"]:disabled')")
    old = curve_key(page) or "none"
    start = time.perf_counter()
    train.click()
    page.wait_for_function(f"(old) => ({NEW_CURVE_POINTS})(old) > 0", arg=old, polling=10, timeout=timeout_s * 1000)
    return time.perf_counter() - start


def press_stop(page, timeout_s: float = 60) -> float:
    """Seconds from the click on Stop to the page saying so (and offering Train again)."""
    _, stop = buttons(page)
    start = time.perf_counter()
    stop.click()
    page.get_by_text("Stopped at step").wait_for(timeout=timeout_s * 1000)
    seconds = time.perf_counter() - start
    page.wait_for_function("() => !document.querySelector('button[kind=\"primary\"]:disabled')")
    return seconds


def timed(action, answered, timeout_s: float = 60) -> float:
    start = time.perf_counter()
    action()
    answered(timeout_s * 1000)
    return time.perf_counter() - start


def go_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()


def compare_table(page) -> list[dict]:
    """This session's Compare runs table, as its CSV download."""
    go_to(page, "Compare runs")
    page.get_by_role("heading", name="Compare runs").wait_for(timeout=30_000)
    with page.expect_download(timeout=30_000) as download:
        # the page's own button: the table's toolbar, shown while the mouse is over it, has one of the same name
        page.get_by_test_id("stDownloadButton").get_by_role("button", name="Download as CSV").click()
    return list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))


# --- The phases ------------------------------------------------------------------------------------


def single_user(browser, url: str, epochs: int, batch: int, repeats: int) -> dict:
    """Warm-up, Train-to-first-point and the clicks while one session's run trains."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    out: dict = {"page_load_s": open_training_page(page, f"{url}/softmax?epochs=20&batch={batch}")}
    log(f"single user: page loaded in {out['page_load_s']:.2f} s; warm-up run (loads Fashion-MNIST)")

    start = time.perf_counter()
    out["warmup_first_point_s"] = press_train_until_first_point(page)  # the server loads Fashion-MNIST
    out["warmup_stop_s"] = press_stop(page)
    out["warmup_s"] = time.perf_counter() - start
    log(f"warm-up: first point after {out['warmup_first_point_s']:.2f} s")

    out["first_point_s"] = []
    out["stop_s"] = []
    for _ in range(repeats):
        out["first_point_s"].append(press_train_until_first_point(page))
        out["stop_s"].append(press_stop(page))
        log(f"Train -> first point {out['first_point_s'][-1]:.3f} s, Stop -> stopped {out['stop_s'][-1]:.3f} s")

    fresh = context.new_page()  # another session (own websocket): plotly not loaded yet in this page
    open_training_page(fresh, f"{url}/softmax?epochs=20&batch={batch}")
    out["first_point_new_session_s"] = press_train_until_first_point(fresh)
    out["stop_new_session_s"] = press_stop(fresh)
    fresh.close()
    log(f"new session: Train -> first point {out['first_point_new_session_s']:.3f} s")

    # clicks while this session's own run trains
    press_train_until_first_point(page)
    clicks = {}
    clicks["page switch to Compare runs"] = timed(
        lambda: go_to(page, "Compare runs"),
        lambda t: page.wait_for_function(  # drawn (it may hold no line yet: the run has not evaluated)
            "() => { const g = document.querySelector('.st-key-compare-curves .js-plotly-plot');"
            " return g && g._fullLayout }",
            timeout=t,
            polling=10,
        ),
    )
    clicks["radio on Compare runs (val loss)"] = timed(
        lambda: page.get_by_text("val loss", exact=True).first.click(),
        lambda t: page.wait_for_function(
            "() => { const g = document.querySelector('.st-key-compare-curves .js-plotly-plot');"
            " return g && g.layout && g.layout.yaxis.title.text === 'val loss' }",
            timeout=t,
            polling=10,
        ),
    )
    clicks["page switch back to the live run"] = timed(
        lambda: go_to(page, "Softmax regression"),
        lambda t: page.wait_for_function(f"({CURVE_POINTS})() > 0", timeout=t, polling=10),
    )
    page.get_by_text("Show the results so far").click()  # results of the run so far, on request while it trains
    page.get_by_role("tab", name="Confusion matrix").wait_for(timeout=60_000)
    clicks["tab switch (Confusion matrix)"] = timed(
        lambda: page.get_by_role("tab", name="Confusion matrix").click(),
        lambda t: page.locator('[class*="st-key-confusion-"] .js-plotly-plot').wait_for(timeout=t),
    )
    clicks["Stop"] = press_stop(page)
    out["clicks_while_training_s"] = clicks
    log(f"clicks while training: {clicks}")

    # one whole run of the class's settings, alone on the server: what each student's run takes at best
    alone = context.new_page()
    open_training_page(alone, f"{url}/softmax?epochs={epochs}&batch={batch}")
    buttons(alone)[0].click()
    success = alone.get_by_test_id("stAlertContentSuccess")
    success.wait_for(timeout=600_000)
    message = success.inner_text()
    out["run_alone_s"] = float(re.search(r"in ([\d.]+) s", message)[1])
    log(f"one run alone: {message}")
    context.close()
    return out


def new_session_probe(browser, url: str) -> dict:
    """A student arriving while the class trains: page load, then a click to Compare runs."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    try:
        load = open_training_page(page, f"{url}/softmax", timeout_s=60)
        click = timed(
            lambda: go_to(page, "Compare runs"),
            lambda t: page.get_by_text("No runs yet").wait_for(timeout=t),
        )
        return {"page_load_s": load, "click_s": click}
    except Exception as err:  # a timeout is a result here, not the end of the benchmark
        return {"error": f"{type(err).__name__} after {time.perf_counter() - start:.0f} s"}
    finally:
        context.close()


def classroom(
    browser,
    url: str,
    server_pid: int,
    store: Path,
    sessions: int,
    contexts: int,
    epochs: int,
    batch: int,
    timeout_s: float,
    probe_every: float = 20,
) -> dict:
    per_context = -(-sessions // contexts)
    ctxs = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(contexts)]
    pages = []
    load_s = []
    for i in range(sessions):
        page = ctxs[i // per_context].new_page()
        seed = 1000 + i
        load_s.append(open_training_page(page, f"{url}/softmax?epochs={epochs}&batch={batch}&seed={seed}"))
        page_state = {"page": page, "seed": seed, "queue": [], "errors": set(), "exceptions": 0}
        pages.append(page_state | {"ctx": i // per_context})  # the browser it is a tab of
    log(f"class: {sessions} pages open (load median {statistics.median(load_s):.2f} s); all press Train")

    health = HealthProbe(url)
    health.start()
    store0 = store_figures(store)
    cpu0 = cpu_seconds(server_pid)
    t0 = time.perf_counter()
    for p in pages:
        buttons(p["page"])[0].click()
        p["clicked"] = time.perf_counter() - t0
    clicks_done = time.perf_counter() - t0
    log(f"class: {sessions} clicks on Train within {clicks_done:.1f} s")

    probes = []
    next_probe = time.perf_counter() + (10 if probe_every else float("inf"))
    pending = list(pages)
    while pending and time.perf_counter() - t0 < timeout_s:
        time.sleep(1.0)  # a sweep a second: the pages themselves redraw every half second
        for p in list(pending):
            s = p["page"].evaluate(PAGE_STATUS)
            now = time.perf_counter() - t0
            p["exceptions"] = max(p["exceptions"], s["exceptions"])
            p["errors"].update(s["errors"])
            for text in s["alerts"]:
                m = QUEUE.search(text)
                position = (1 if m[2] else int(m[1])) if m else None
                if m and (not p["queue"] or p["queue"][-1]["position"] != position):
                    wait = int(m[3]) if m[3] else None
                    p["queue"].append({"t": now, "position": position, "estimate_s": wait, "text": text})
                if "Trained" in text or "Stopped" in text or "loss became" in text or "loss grew" in text:
                    p["done"], p["outcome"] = now, text
            if "started" not in p and (s["points"] > 0 or any("Epoch" in a or "Loading" in a for a in s["alerts"])):
                p["started"] = now
            if s["points"] > 0 and "first_point" not in p:
                p["first_point"] = now
            if "done" in p or s["errors"] or s["exceptions"]:
                p.setdefault("done", now)
                pending.remove(p)
        if time.perf_counter() > next_probe and pending:
            probes.append({"t": time.perf_counter() - t0, **new_session_probe(browser, url)})
            done = sessions - len(pending)
            recent = [round(x, 2) for x in health.samples[-3:]]
            log(f"class: {done}/{sessions} done; new session {probes[-1]}; health {recent}, failed {health.failures}")
            next_probe = time.perf_counter() + probe_every
    all_done = time.perf_counter() - t0
    time.sleep(1.0)  # the store's last batch
    store1 = store_figures(store)
    server_cores = (cpu_seconds(server_pid) - cpu0) / all_done
    log(f"class: all done after {all_done:.1f} s ({len(pending)} unfinished); checking Compare runs")
    health.halt.set()
    health.join()
    for p in pending:  # out of time: stop what still trains or waits
        try:
            buttons(p["page"])[1].click(timeout=5_000)
        except Exception as err:
            log(f"could not press Stop: {type(err).__name__}")
    recovered = None
    if pending:  # how long the server takes to answer again once the class has stopped
        start = time.perf_counter()
        while time.perf_counter() - start < 300:
            seconds = health_seconds(url, 30)
            if seconds is not None and seconds < 1:
                recovered = time.perf_counter() - start
                break
        log(f"class: health below 1 s again after {recovered} s")

    # every session's Compare runs: the runs of its own browser (context) only, one per page of it
    isolation = []
    failures = 0
    for p in pages:
        rows = None
        if failures < 3:  # a jammed server: give up after three pages in a row
            try:
                rows = compare_table(p["page"])
                failures = 0
            except Exception as err:
                failures += 1
                log(f"compare of seed {p['seed']} failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
        mine = sorted(str(q["seed"]) for q in pages if q["ctx"] == p["ctx"])
        isolation.append(rows is not None and sorted(row["seed"] for row in rows) == mine)
        p["compare_rows"] = None if rows is None else len(rows)
    for ctx in ctxs:
        ctx.close()

    durations = []
    for p in pages:
        m = re.search(r"in ([\d.]+) s", p.get("outcome", ""))
        if m:
            durations.append(float(m[1]))
    return {
        "sessions": sessions,
        "contexts": contexts,
        "epochs": epochs,
        "batch": batch,
        "page_load_s": summary(load_s),
        "clicks_spread_s": round(clicks_done, 2),
        "all_finished_s": round(all_done, 1),
        "server_cpu_cores": round(server_cores, 2),
        "recovered_after_stop_s": None if recovered is None else round(recovered, 1),
        "unfinished": len(pending),
        "completed": sum("Trained" in p.get("outcome", "") for p in pages),
        "errors": sorted({e for p in pages for e in p["errors"]}),
        "pages_with_exception": sum(p["exceptions"] > 0 for p in pages),
        "isolated": sum(isolation),
        "compare_rows": [p["compare_rows"] for p in pages],
        "queue_max_position": max((q["position"] for p in pages for q in p["queue"]), default=0),
        "queued_sessions": sum(bool(p["queue"]) for p in pages),
        "queue_examples": [p["queue"][0]["text"] for p in pages if p["queue"]][:: max(1, sessions // 5)],
        "queue_estimates": [
            {
                "position": p["queue"][0]["position"],
                "estimate_s": p["queue"][0]["estimate_s"],
                "actual_wait_s": round(p["started"] - p["queue"][0]["t"], 1),
            }
            for p in pages
            if p["queue"] and "started" in p
        ],
        "run_seconds": summary(durations),
        "wait_to_start_s": summary([p["started"] - p["clicked"] for p in pages if "started" in p]),
        "click_to_done_s": summary([p["done"] - p["clicked"] for p in pages if "done" in p]),
        "health_s": summary(health.samples) | {"failures": health.failures, "samples": len(health.samples)},
        "new_session_probes": probes,
        "store_events_written": store1["events"] - store0["events"],
        "store_events_per_s": round((store1["events"] - store0["events"]) / all_done, 1),
        "store_mb_after_class": round(store1["bytes"] / 1e6, 2),
        "store_runs_after_class": store1["runs"],
    }


def store_figures(path: Path) -> dict:
    """The server's run store as a reader sees it: progress events, runs, bytes on disk (file + write-ahead log)."""
    if not path.exists():  # a dashboard without a run store (an older version, for comparison)
        return {"events": 0, "runs": 0, "bytes": 0}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    size = sum(f.stat().st_size for f in (path, Path(f"{path}-wal")) if f.exists())
    return {"events": events, "runs": runs, "bytes": size}


def summary(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)
    return {
        "median": round(statistics.median(values), 3),
        "p90": round(values[min(len(values) - 1, int(0.9 * len(values)))], 3),
        "max": round(values[-1], 3),
        "n": len(values),
    }


def pair(stats: dict) -> str:
    return f"{stats.get('median')} / {stats.get('max')}"


def print_table(result: dict) -> None:
    s, c = result["single_user"], result["classroom"]
    rows = [
        (f"Train -> first point, same session (median of {len(s['first_point_s'])})", s["first_point_median_s"]),
        ("Train -> first point, new session (plotly loads)", s["first_point_new_session_s"]),
        ("Stop -> 'Stopped at step' (median)", statistics.median(s["stop_s"])),
        *((f"click while training: {k}", v) for k, v in s["clicks_while_training_s"].items()),
        (f"class: {c['sessions']} sessions, clicks spread over", c["clicks_spread_s"]),
        ("class: all runs finished after", c["all_finished_s"]),
        ("one run alone on the server (its own message)", s["run_alone_s"]),
        ("class: one run's training time (median)", c["run_seconds"].get("median")),
        ("class: server CPU, cores busy on average", c["server_cpu_cores"]),
        (
            "class: wait from Train to start (median / max)",
            pair(c["wait_to_start_s"]),
        ),
        ("class: /_stcore/health (median / max)", pair(c["health_s"])),
        *(
            (
                f"class: new session at {p['t']:.0f} s: page load / click",
                p["error"] if "error" in p else f"{p['page_load_s']:.2f} / {p['click_s']:.2f}",
            )
            for p in c["new_session_probes"]
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  seconds")
    for name, value in rows:
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown}")
    print(
        f"class: completed {c['completed']}/{c['sessions']}, errors {len(c['errors'])}, pages with exception "
        f"{c['pages_with_exception']}, sessions seeing only their browser's runs {c['isolated']}/{c['sessions']}, "
        f"queued {c['queued_sessions']} (deepest position {c['queue_max_position']})"
    )
    print(
        f"class: store wrote {c['store_events_written']} progress events ({c['store_events_per_s']} a second), "
        f"{c['store_runs_after_class']} runs, {c['store_mb_after_class']} MB after the class"
    )
    for text in c["queue_examples"]:
        print(f"  queue message: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument(
        "--contexts", type=int, default=0, help="browsers (contexts) the sessions are spread over; 0: one each"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="Train-to-first-point measurements")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument(
        "--probe-every",
        type=float,
        default=20,
        help="seconds between new sessions during the class (0: none; a probe holds up the page sweep while it loads)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds the class may take, then Stop")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: WANT_BROWSER=1 bash .ci/setup")
    from playwright.sync_api import sync_playwright

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    args.out.parent.mkdir(parents=True, exist_ok=True)
    store = args.out.with_suffix(".store.db")  # a store of its own, made anew: never the user's runs
    for old in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        old.unlink(missing_ok=True)
    try:
        proc, url = start_server(args.out.with_suffix(".server.log"), DASHBOARD_DB=f"sqlite:///{store}")
    except RuntimeError as err:
        sys.exit(str(err))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            single = single_user(browser, url, args.epochs, args.batch, args.repeats)
            single["first_point_median_s"] = statistics.median(single["first_point_s"])
            single["clicks_max_s"] = max(single["clicks_while_training_s"].values())
            contexts = args.contexts or args.sessions
            klass = classroom(
                browser,
                url,
                proc.pid,
                store,
                args.sessions,
                contexts,
                args.epochs,
                args.batch,
                args.timeout,
                args.probe_every,
            )
            browser.close()
    finally:
        stop_server(proc)

    from core.runs.jobs import default_max_running, default_threads

    trainers = default_max_running()
    result = {
        "load_average": {"start": LOAD_AT_START, "end": os.getloadavg()},
        "machine": {
            "cpus": os.cpu_count(),
            "threads_per_training": default_threads(trainers),
            "platform": platform.platform(),
            "max_trainings": trainers,
        },
        "targets": TARGETS,
        "single_user": single,
        "classroom": klass,
        "meets": {
            "first_point_s": single["first_point_median_s"] <= TARGETS["first_point_s"],
            "click_s": single["clicks_max_s"] <= TARGETS["click_s"],
            "no_errors": not klass["errors"] and klass["pages_with_exception"] == 0 and klass["unfinished"] == 0,
            "isolation": klass["isolated"] == klass["sessions"],
        },
    }
    print_table(result)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
