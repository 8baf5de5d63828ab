"""Stop a browser session's runs soon after its page is gone (closed or reloaded), not a minute or two later.

Streamlit keeps a session whose websocket closed for `server.disconnectedSessionTTL` (120 s), so that a
dropped connection can come back to it, and only then forgets it; a run still training for a reloaded
page held a trainer all that while, and the next Train waited behind it (53-55 s, issue 12). A
`SessionWatch` asks the runtime every few seconds whether each session with unfinished jobs still has
its websocket, and stops the jobs of a session gone for more than `GRACE` seconds. A connection that
drops and comes back within it keeps its runs. Nothing is watched without a Streamlit server (AppTest).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

GRACE = 10.0  # seconds a session may be away before its runs stop: a reload is back in 1-3 s, as a new session
EVERY = 2.0


class SessionWatch:
    def __init__(self, is_active: Callable[[str], bool], grace: float = GRACE, clock=time.monotonic):
        self.is_active, self.grace, self.clock = is_active, grace, clock
        self._jobs: dict[str, Callable[[], Iterable]] = {}  # session id -> its jobs, read when needed
        self._gone_since: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, session_id: str, jobs: Callable[[], Iterable]) -> None:
        """Watch a session; `jobs()` gives its jobs (running or done) when it is gone."""
        with self._lock:
            self._jobs[session_id] = jobs
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="session-watch", daemon=True)
                self._thread.start()

    def check(self) -> list[str]:
        """One look at every watched session; the ids of those whose jobs were stopped now."""
        now, stopped = self.clock(), []
        with self._lock:
            watched = list(self._jobs.items())
        for session_id, jobs in watched:
            if self.is_active(session_id):
                self._gone_since.pop(session_id, None)
                continue
            if now - self._gone_since.setdefault(session_id, now) < self.grace:
                continue
            for job in jobs():
                if job.state != "done":
                    job.stop()
            with self._lock:
                self._jobs.pop(session_id, None)
            self._gone_since.pop(session_id, None)
            stopped.append(session_id)
        return stopped

    def _loop(self) -> None:
        while True:
            time.sleep(EVERY)
            self.check()


def runtime_is_active(session_id: str) -> bool:
    """Whether a session of this Streamlit server still has its websocket; True where no server runs."""
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)
