"""A browser's identity in AppTest, which sends no cookies: give a session an owner id, and runs of that owner."""

from __future__ import annotations

import secrets

from streamlit.testing.v1 import AppTest


def new_owner() -> str:
    return secrets.token_urlsafe(24)


def own(at: AppTest, owner: str | None = None) -> str:
    """Make `at` a page of `owner` (a new browser if None), as its cookie would; the owner id."""
    at.session_state["owner"] = owner = owner or new_owner()
    return owner


def submit_for(owner: str, config, data=None, label: str = "", **task):
    """A run of `owner` on the server's trainers, as a page's Train would start it; its job."""
    from ui.server import book

    return book().submit(owner, config, data, label, **task)


def runs_of(owner: str, task: str = "train") -> list:
    from ui.server import book

    return book().runs(owner, task)
