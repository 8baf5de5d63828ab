"""Runs that last, in a real browser: a reload, a new tab, a server restart and a SIGKILL keep a browser's runs,
and two browsers never see each other's.

Each test starts its own `streamlit run` on a store file of its own (a restart is a second server on the
same file). A browser context is one browser: its cookie holds the owner id.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.runs.book import EVERY
from live_app import ARTIFACTS, CURVE_POINTS, kill_server, start_server, stop_server, wait_for_points

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fashion_available")]

VAL_POINTS = """() => {
    const plot = document.querySelector('[class*="st-key-curves-"] .js-plotly-plot');
    const trace = plot && plot._fullData && plot._fullData.find(t => t.name === 'val accuracy');
    return trace ? (trace._length ?? trace.x.length) : 0;
}"""


@pytest.fixture
def store(tmp_path) -> dict:
    return {"DASHBOARD_DB": f"sqlite:///{tmp_path / 'runs.db'}"}


def server(store: dict, log: str):
    try:
        return start_server(ARTIFACTS / log, timeout_s=60, **store)
    except RuntimeError as err:
        pytest.fail(str(err))


COMPARED = """() => {
    const plot = document.querySelector('[class*="st-key-compare-curves"] .js-plotly-plot');
    return plot && plot._fullData ? plot._fullData.map(t => t.name) : null;
}"""


def compared(page) -> list[str]:
    """The runs on Compare runs' chart, once it is drawn."""
    return page.wait_for_function(COMPARED, timeout=30_000).json_value()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})  # a new browser, no cookie yet
    return context, context.new_page()


def train_to_the_end(page, url: str) -> None:
    page.goto(f"{url}/softmax?epochs=1")
    train = page.get_by_role("button", name="Train", exact=True)
    expect(train).to_be_enabled(timeout=60_000)
    train.click()
    expect(page.get_by_text(re.compile(r"Trained 1 epoch"))).to_be_visible(timeout=90_000)


def start_a_long_run(page, url: str) -> None:
    """An MLP for 50 epochs of batch 16 on the MLP page: minutes of training, longer than any test here."""
    page.goto(f"{url}/mlp?epochs=50&batch=16")
    train = page.get_by_role("button", name="Train", exact=True)
    expect(train).to_be_enabled(timeout=60_000)
    train.click()


def no_traceback(page) -> None:
    assert page.get_by_test_id("stException").count() == 0


def downloads_of_compare_runs(page, url: str, folder) -> None:
    """Compare runs' two downloads, as a browser saves them: the CSV's one row, the zip's TensorBoard files."""
    page.goto(f"{url}/compare")
    assert compared(page) == ["Softmax regression #1"]
    buttons = page.get_by_test_id("stDownloadButton")  # the page's own, not the table toolbar's CSV button
    files = {}
    for name in ("Download as CSV", "Download curves for TensorBoard"):
        with page.expect_download(timeout=30_000) as download:
            buttons.get_by_role("button", name=name).click()
        files[name] = Path(download.value.path())
    rows = list(csv.DictReader(io.StringIO(files["Download as CSV"].read_text())))
    assert [(r["run"], r["model"], r["status"]) for r in rows] == [("Softmax regression #1", "softmax", "completed")]
    with zipfile.ZipFile(files["Download curves for TensorBoard"]) as archive:
        names = archive.namelist()
    assert names and all(n.startswith("runs/Softmax_regression_1/events.out.tfevents.") for n in names), names


def test_a_finished_run_is_there_after_a_reload_in_a_new_tab_and_after_a_restart_and_never_in_another_browser(
    browser, store, tmp_path
):
    proc, url = server(store, "runs-restart-1.log")
    context, page = new_page(browser)
    second, other = new_page(browser)  # another browser: no cookie of the first
    try:
        train_to_the_end(page, url)
        points = wait_for_points(page, 0, timeout_s=10)
        owner = next(c["value"] for c in context.cookies() if c["name"] == "dashboard_owner")
        assert len(owner) >= 32 and owner not in page.url, "the owner id is in the cookie, never in a shared link"
        page.reload()
        expect(page.get_by_text(re.compile(r"Trained 1 epoch"))).to_be_visible(timeout=30_000)
        assert wait_for_points(page, 0, timeout_s=10) == points, "the same curve, every point"
        tab = context.new_page()  # a new tab of the same browser
        tab.goto(f"{url}/compare")
        assert compared(tab) == ["Softmax regression #1"]
        tab.close()
        other.goto(f"{url}/compare")
        expect(other.get_by_text("No runs yet in this browser")).to_be_visible(timeout=30_000)
        other.goto(f"{url}/softmax")
        expect(other.get_by_text("Choose the settings in the sidebar and press")).to_be_visible(timeout=30_000)
        assert other.evaluate(CURVE_POINTS) == 0, "the other browser never sees the first one's run"
        no_traceback(other)
    finally:
        second.close()
        stop_server(proc)
    proc, url = server(store, "runs-restart-2.log")  # the server restarts
    try:
        page.goto(f"{url}/softmax")
        expect(page.get_by_text(re.compile(r"Trained 1 epoch"))).to_be_visible(timeout=60_000)
        assert wait_for_points(page, 0, timeout_s=10) == points
        expect(page.get_by_role("tab", name="Mistakes")).to_be_visible()  # its model, rebuilt from the store
        no_traceback(page)
        page.screenshot(path=ARTIFACTS / "runs-after-restart.png")
        downloads_of_compare_runs(page, url, tmp_path)
    finally:
        context.close()
        stop_server(proc)


def test_a_reload_mid_run_reattaches_stop_stops_and_a_run_killed_with_its_server_shows_as_interrupted(browser, store):
    """One server for both: a reload mid-run finds the curve still growing and Stop freezes it; then a second run
    is cut by a SIGKILL of the server (and its trainer), and the restarted server shows it interrupted."""
    proc, url = server(store, "runs-kill-1.log")
    context, page = new_page(browser)
    try:
        start_a_long_run(page, url)
        before = wait_for_points(page, 2, timeout_s=90)
        page.reload()
        after = wait_for_points(page, before, timeout_s=30)  # the same run, further on
        grown = wait_for_points(page, after, timeout_s=30)  # and it still grows, with no click
        assert grown > after > before
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_disabled()
        page.screenshot(path=ARTIFACTS / "runs-reloaded-mid-run.png")
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.get_by_text("Stopped at step")).to_be_visible(timeout=30_000)
        stopped = wait_for_points(page, 0, timeout_s=10)
        time.sleep(2)
        assert page.evaluate(CURVE_POINTS) == stopped, "the curve still grows after Stop"
        no_traceback(page)
        start_a_long_run(page, url)  # the second run, which the kill cuts
        page.wait_for_function(f"() => ({VAL_POINTS})() >= 2", timeout=90_000)  # two evaluations
        time.sleep(1.5)  # the store writes every half second
        seen = page.evaluate(CURVE_POINTS)
    finally:
        kill_server(proc)  # SIGKILL: the server and its trainer, mid-run
    proc, url = server(store, "runs-kill-2.log")
    try:
        page.goto(f"{url}/mlp")
        expect(page.get_by_text(re.compile(r"Interrupted at step \d+ of \d+"))).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"the weights of its last evaluation \(step \d+\)"))).to_be_visible()
        assert wait_for_points(page, 0, timeout_s=10) >= seen - 2, "its curve so far (but the last half second)"
        expect(page.get_by_role("button", name="Download its last evaluation's weights (.pt)")).to_be_visible()
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
        no_traceback(page)
        page.screenshot(path=ARTIFACTS / "runs-interrupted.png")
    finally:
        context.close()
        stop_server(proc)


def test_a_browsers_runs_stop_once_its_last_page_has_been_closed_for_the_grace_not_before(browser, store):
    """One of two tabs closes: the run trains on. The last one closes: after the grace (4 s here, 90 s by default)
    the run stops, so a forgotten run does not hold a trainer."""
    grace = 4
    proc, url = server(store | {"DASHBOARD_GRACE_S": str(grace)}, "runs-grace.log")
    context, page = new_page(browser)
    try:
        start_a_long_run(page, url)
        wait_for_points(page, 0, timeout_s=90)
        other = context.new_page()  # a second tab of the same browser
        other.goto(f"{url}/compare")
        compared(other)
        page.close()
        time.sleep(grace + 2 * EVERY + 2)  # well past the grace, and the book's next looks
        other.goto(f"{url}/mlp")
        before = wait_for_points(other, 0, timeout_s=30)
        wait_for_points(other, before, timeout_s=30)  # still training
        other.close()  # the last page of the browser
        time.sleep(grace + 2 * EVERY + 2)
        back = context.new_page()
        back.goto(f"{url}/mlp")
        expect(back.get_by_text("Stopped at step")).to_be_visible(timeout=30_000)
        no_traceback(back)
    finally:
        context.close()
        stop_server(proc)
