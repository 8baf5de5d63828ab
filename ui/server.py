"""What one server shares between its sessions, and who a session belongs to.

The trainers (`core.runs.jobs.Scheduler`, on the local Ray it starts or a cluster's: `core.runs.trainers`), the run
store (`core.runs.store`) and the book of runs on top of them (`core.runs.book.RunBook`) are made once per server; so
are the datasets. A browser is an *owner*: a random id
of 192 bits kept in a cookie, which a reload, a new tab and a server restart all send back, and which a
shared link never carries (README: "Your runs"). Every page calls `owner()` first: it reads or makes
the id, and tells the book that a page of that owner is open, so that their runs go on training while
any page of theirs is. `my_runs` is what the pages draw: the owner's runs, live or from the store.
"""

from __future__ import annotations

import logging
import re
import threading

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import datasets, settings
from core.device import describe, resolve_device
from core.runs.book import RunBook
from core.runs.jobs import Scheduler
from core.runs.store import Store

COOKIE = "dashboard_owner"
OWNER_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")  # what we make: 24 random bytes, base64url (32 characters)
COOKIE_DAYS = 400  # the longest a browser keeps a cookie; each visit renews it


@st.cache_resource(show_spinner=False)
def scheduler() -> Scheduler:
    """The server's trainers, started at once in the background (Ray, then each trainer importing PyTorch and
    loading Fashion-MNIST): the first page does not wait for them, and the first Train rarely does."""
    for refusal in settings.refusals():  # once per server, in its log; Home shows them to every visitor
        logging.getLogger(__name__).warning(refusal)
    trainers = Scheduler()
    preload = ("fashion_mnist",) if datasets.status("fashion_mnist").available else ()
    threading.Thread(target=trainers.warm_up, args=(preload,), name="warm-up", daemon=True).start()
    return trainers


@st.cache_resource(show_spinner="Opening the run store...")
def book() -> RunBook:
    return RunBook(scheduler(), Store(), runtime_is_active)


def runtime_is_active(session_id: str) -> bool:
    """Whether a session of this Streamlit server still has its websocket; True where no server runs."""
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


@st.cache_resource(show_spinner="Loading the dataset (once per server)...")
def load_dataset(key: str) -> datasets.Data:
    return datasets.load(key)


@st.cache_data(ttl=60)
def dataset_choices() -> dict[str, str]:
    """Image datasets ready here: key -> title."""
    return {s.key: s.title for s in datasets.all_status() if s.available and s.key not in datasets.TABLE_SETS}


def owner() -> str:
    """This browser's owner id: its cookie's, or a new one that this page writes into the cookie."""
    state = st.session_state
    sent = st.context.cookies.get(COOKIE)
    if "owner" not in state:
        # (AppTest sends no cookies: its st.context is a mock)
        # only an id the server issued: a made-up one, or one a page on another port planted, gets a new id
        well_formed = isinstance(sent, str) and OWNER_ID.fullmatch(sent)
        state["owner"] = sent if well_formed and book().knows_owner(sent) else book().issue_owner()
    if not state.get("owner-cookie"):  # once a session: renewed, or written for the first time
        state["owner-cookie"] = True
        age = COOKIE_DAYS * 86400
        cookie = f"{COOKIE}={state['owner']}; Max-Age={age}; Path=/; SameSite=Lax"
        st.sidebar.html(f"<script>document.cookie = {cookie!r};</script>", unsafe_allow_javascript=True)
    ctx = get_script_run_ctx()
    if ctx is not None:
        book().visit(state["owner"], ctx.session_id)
    return state["owner"]


def my_runs(task: str = "train") -> list:
    """This browser's runs of `task`, oldest first (live Jobs and stored runs alike)."""
    return book().runs(owner(), task)


def store_notice() -> None:
    """The run store's trouble, if any, where the runs are drawn: what is wrong, and that runs will not last."""
    problem = book().store.problem
    if problem:
        st.warning(problem, icon="⚠️")


def device_caption() -> str:
    """Where training runs: the trainers' device and threads (not this server process's), and how many train at once;
    on a Ray cluster, its machines."""
    trainers = scheduler()
    at_once = f"{trainers.max_running} training{'s' * (trainers.max_running > 1)} at once"
    if trainers.cluster:
        machines = trainers.machines()
        where = f"a Ray cluster of {machines} machine{'s' * (machines > 1)} ({trainers.capacity('gpu')} GPUs)"
        return f"{where}, {at_once}; more wait in a queue"
    return f"{describe(resolve_device('auto'), trainers.threads)}, {at_once}; more wait in a queue"
