"""The dashboard as a browser sees it: `streamlit run streamlit_app.py` on a free port, and what to read off a page.

Shared by the real-browser tests (tests/test_browser.py) and the load benchmark (bench/bench_app.py):
`start_server` returns once /_stcore/health answers, `stop_server` ends the server's whole process group
(its training workers too) and `kill_server` SIGKILLs it; `CURVE_POINTS` counts the points of a page's live
training-loss curve, and `wait_for_points` waits for it to pass a count.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core import datasets

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and server logs of the browser tests (git-ignored)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# points of the training-loss line in the page's live chart (plotly keeps the decoded trace in _fullData)
CURVE_POINTS = """() => {
    const plot = document.querySelector('[class*="st-key-curves-"] .js-plotly-plot');
    if (!plot || !plot._fullData) return 0;
    const trace = plot._fullData.find(t => t.name === 'train loss');
    return trace ? (trace._length ?? trace.x.length) : 0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_seconds(url: str, timeout: float = 10.0) -> float | None:
    """Seconds for /_stcore/health to answer "ok"; None when it does not."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as reply:
            reply.read()
            return time.perf_counter() - start if reply.status == 200 else None
    except OSError:
        return None


def start_server(log_path: Path, timeout_s: float = 90, **env_vars: str) -> tuple[subprocess.Popen, str]:
    """`streamlit run streamlit_app.py` on a free port, its output in `log_path`; (process, url) once healthy.
    `env_vars` are set for it (DASHBOARD_DB="sqlite:///..." for a store of its own). RuntimeError when it does
    not come up within `timeout_s`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ) | env_vars
    env.setdefault("DASHBOARD_DATA", str(datasets.data_dir()))
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed with the server
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log
    deadline = time.monotonic() + timeout_s
    while health_seconds(url, 2) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"the streamlit server did not come up; see {log_path}")
        time.sleep(0.2)
    return proc, url


def kill_server(proc: subprocess.Popen) -> None:
    """SIGKILL the server and its trainers at once, as a crash or a power cut would: nothing gets to clean up."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(15)
    proc.log.close()


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
    proc.log.close()


def wait_for_points(page, more_than: int, timeout_s: float) -> int:
    """The curve's points once there are more than `more_than`, counted in the same browser tick as the test
    (plotly redraws the chart with each update: read apart, the count could fall between two draws and be 0)."""
    count = f"() => {{ const n = ({CURVE_POINTS})(); return n > {more_than} ? n : 0; }}"
    return page.wait_for_function(count, timeout=timeout_s * 1000, polling=100).json_value()
