"""pages._session_watch: a session gone for a few seconds (closed or reloaded) has its unfinished runs stopped."""

from __future__ import annotations

from pages._session_watch import SessionWatch


class FakeJob:
    def __init__(self, state: str = "running"):
        self.state, self.stopped = state, False

    def stop(self) -> None:
        self.stopped = True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_reloaded_pages_runs_stop_after_the_grace_period_and_others_go_on():
    active = {"reloaded": True, "open": True}
    clock = Clock()
    watch = SessionWatch(lambda sid: active[sid], grace=10, clock=clock)
    running, finished, other = FakeJob(), FakeJob("done"), FakeJob()
    watch._thread = object()  # no background thread: the test calls check() itself
    watch.watch("reloaded", lambda: [running, finished])
    watch.watch("open", lambda: [other])
    assert watch.check() == []
    active["reloaded"] = False  # the tab reloads: its old session's websocket is gone for good
    clock.now = 5.0
    assert watch.check() == [] and not running.stopped, "a dropped connection may come back within the grace"
    clock.now = 16.0
    assert watch.check() == ["reloaded"]
    assert running.stopped and not finished.stopped and not other.stopped
    assert watch.check() == [], "stopped once, then no longer watched"


def test_a_connection_that_comes_back_keeps_its_runs():
    active = {"s": False}
    clock = Clock()
    watch = SessionWatch(lambda sid: active[sid], grace=10, clock=clock)
    job = FakeJob()
    watch._thread = object()
    watch.watch("s", lambda: [job])
    watch.check()
    clock.now, active["s"] = 8.0, True  # back before the grace ran out
    watch.check()
    clock.now, active["s"] = 15.0, False  # gone again: the grace starts anew
    watch.check()
    clock.now = 20.0
    assert watch.check() == [] and not job.stopped
    clock.now = 25.5
    assert watch.check() == ["s"] and job.stopped
