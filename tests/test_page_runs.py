"""The pages on top of the run store, through AppTest: a reload keeps a browser's runs, Compare runs deletes
them (one, or all after a confirmation), an interrupted cat / dog / neither run answers on the photo page,
and a broken store is named on Home and on the training pages while training still works.

A reload is a new AppTest session with the same owner id, as the cookie gives it.
"""

from __future__ import annotations

import pytest
from owners import new_owner, own, runs_of, submit_for
from sqlalchemy import update
from streamlit.testing.v1 import AppTest
from test_pages import APP, SCRIPT_TIMEOUT, open_page, session, train

from core.train import Progress, RunConfig, Started

QUICK = RunConfig(model="linear", dataset="synthetic", epochs=1)


def as_browser(owner: str) -> AppTest:
    """A new session (a reload, a new tab) of the browser whose cookie holds `owner`."""
    at = AppTest.from_file(str(APP), default_timeout=SCRIPT_TIMEOUT)
    own(at, owner)
    at.run()
    assert not at.exception, at.exception
    return at


def finished_runs(owner: str, n: int) -> list:
    jobs = [submit_for(owner, QUICK, label=f"Linear regression #{i + 1}") for i in range(n)]
    assert all(job.wait(60) for job in jobs)
    return jobs


def test_a_reload_shows_the_same_runs_and_compare_deletes_one_then_all_after_a_confirmation():
    owner = new_owner()
    finished_runs(owner, 3)
    at = open_page(as_browser(owner), "compare")
    assert len(at.dataframe[0].value) == 3
    at.multiselect(key="delete-chosen").select(at.multiselect(key="delete-chosen").options[0]).run()
    at.button(key="delete").click().run()
    assert not at.exception, at.exception
    assert any("Deleted 1 run(s)" in s.value for s in at.success)
    assert [r.label for r in runs_of(owner)] == ["Linear regression #2", "Linear regression #3"]
    assert at.button(key="delete-all").disabled, "all of them only after the confirmation"
    at.checkbox(key="delete-all-sure").check().run()
    at.button(key="delete-all").click().run()
    assert not at.exception, at.exception
    assert runs_of(owner) == []
    assert any("No runs yet" in i.value for i in at.info)


def test_deleting_several_runs_needs_a_confirmation_and_the_last_one_deleted_is_said():
    owner = new_owner()
    finished_runs(owner, 3)
    at = open_page(as_browser(owner), "compare")
    chosen = at.multiselect(key="delete-chosen")
    assert chosen.proto.select_all == 0, "no one-click 'Select all' in the list of runs to delete"
    chosen.select(chosen.options[0]).select(chosen.options[1]).run()
    assert at.button(key="delete").disabled, "two runs only after a confirmation"
    at.checkbox(key="delete-chosen-sure").check().run()
    at.button(key="delete").click().run()
    assert [r.label for r in runs_of(owner)] == ["Linear regression #3"]
    assert any("Deleted 2 run(s)" in s.value for s in at.success)
    at.multiselect(key="delete-chosen").select(at.multiselect(key="delete-chosen").options[0]).run()
    at.button(key="delete").click().run()  # one run: no confirmation; the page then has no runs to show
    assert not at.exception, at.exception
    assert any("Deleted 1 run(s)" in s.value for s in at.success) and runs_of(owner) == []


def test_a_new_run_never_takes_the_label_of_a_deleted_one():
    from core.runs.book import next_label

    owner = new_owner()
    jobs = finished_runs(owner, 3)
    from ui.server import book

    book().delete(owner, [jobs[1].id])  # "#2" goes: the next run is "#4", not a second "#3"
    assert next_label("Linear regression", runs_of(owner)) == "Linear regression #4"
    at = open_page(as_browser(owner), "linear", epochs=1)
    at.button(key="train").click().run()
    assert not at.exception, at.exception
    labels = [r.label for r in runs_of(owner)]
    assert labels == ["Linear regression #1", "Linear regression #3", "Linear regression #4"]


@pytest.mark.usefixtures("fashion_available")
def test_a_run_trained_in_one_session_shows_in_the_next_with_its_results():
    first = open_page(session(), "softmax", epochs=1, batch=1024)
    job = train(first)
    reloaded = open_page(as_browser(first.session_state["owner"]), "softmax")
    assert any(s.value.startswith("Trained 1 epoch") for s in reloaded.success)
    assert "Mistakes" in [t.label for t in reloaded.tabs]
    assert "Download the trained model (.pt)" in [b.label for b in reloaded.get("download_button")]
    (run,) = runs_of(first.session_state["owner"])
    assert run.id == job.id and run.history == job.history


def stored_interrupted_catdog_run(owner: str) -> int:
    """A cat / dog / neither ResNet that was evaluated once, then lost its server (as after a SIGKILL)."""
    from core import checkpoint
    from core.models import build_model
    from core.runs.store import Begun, Checkpoint, Event, runs
    from ui.server import book

    store = book().store
    config = RunConfig(model="resnet", dataset="cifar10_catdog", resnet_width=4, resnet_stages=1)
    run_id = store.new_run(owner, "ResNet #1", "train", config)
    store.record(Begun(run_id, Started("cpu", "CPU", 1000, 100, 1000), ("cat", "dog", "neither"), None))
    store.record(Event(run_id, Progress(100, 1000, 1.0, 0.9, 0.8, 0.61, 900.0, 10.0)))
    weights = build_model(config, (3, 32, 32), 3).state_dict()
    make = lambda: checkpoint.pack(config, (3, 32, 32), ("cat", "dog", "neither"), weights)  # noqa: E731
    store.record(Checkpoint(run_id, 100, False, make))
    assert store.flush()
    with store.engine.begin() as conn:  # its server is gone (this test's server, the tests' process, is not)
        conn.execute(update(runs).where(runs.c.id == run_id).values(server="gone", state="interrupted"))
    return run_id


def test_an_interrupted_cat_dog_run_answers_on_the_photo_page():
    owner = new_owner()
    stored_interrupted_catdog_run(owner)
    at = open_page(as_browser(owner), "photos")
    options = at.selectbox(key="own").options
    assert options[1] == "ResNet #1 (61% val accuracy)", options
    at.selectbox(key="own").select(options[1]).run()
    assert not at.exception and not at.sidebar.error, [e.value for e in at.sidebar.error]
    assert any("Your model saw only 32x32" in c.value for c in at.caption)


def test_a_broken_store_is_named_on_home_and_the_training_pages_and_training_still_works(tmp_path, monkeypatch):
    from ui import server as _server

    broken = tmp_path / "runs.db"
    broken.write_bytes(b"not a database at all\n" * 64)
    monkeypatch.setenv("DASHBOARD_DB", f"sqlite:///{broken}")
    _server.book.clear()  # this server's store is opened anew, on the broken file
    try:
        at = session()
        notes = [w.value for w in at.warning]
        assert any("is damaged" in n and "will not last" in n for n in notes), notes
        assert any(
            "kept in this server's memory only" in m.value and "not after a restart" in m.value for m in at.markdown
        )
        open_page(at, "linear", epochs=1)
        assert any("is damaged" in w.value for w in at.warning)
        job = train(at)
        assert job.outcome.status == "completed"
        assert [run.id for run in runs_of(at.session_state["owner"])] == [job.id], "kept, in memory"
        assert broken.read_bytes().startswith(b"not a database"), "the file is left as it was"
    finally:
        _server.book.clear()  # the next test's book opens the tests' store again


def test_a_learning_rate_sweep_is_there_after_a_reload_and_a_new_one_replaces_it():
    from test_page_tools import find_and_use_lr

    at = open_page(session(), "linear")
    owner = at.session_state["owner"]
    find_and_use_lr(at)
    (sweep,) = runs_of(owner, "find_lr")
    reloaded = open_page(as_browser(owner), "linear")
    assert any("Lowest loss at lr" in m.value for m in reloaded.markdown), "the sweep, drawn again"
    assert reloaded.button(key="use-lr").label.startswith("Use lr = ")
    reloaded.button(key="lr-finder").click().run()
    assert [s.id for s in runs_of(owner, "find_lr")] != [sweep.id], "one sweep a browser: the new one"
    assert len(runs_of(owner, "find_lr")) == 1


def test_compare_with_many_runs_keeps_each_curve_apart_and_the_result_first():
    """Issue 20: 18 curves shared 10 colours, the accuracy was the 31st column, momentum was listed for plain SGD and
    hidden units for linear regression, a button label was cut off, and Home counted a sweep Compare did not list."""
    import json

    owner = new_owner()
    configs = [RunConfig(**{**QUICK.as_dict(), "lr": 0.01 * (i + 1)}) for i in range(17)]
    configs.append(RunConfig(**{**QUICK.as_dict(), "optimizer": "momentum", "momentum": 0.5}))
    jobs = [submit_for(owner, c, label=f"Linear regression #{i + 1}") for i, c in enumerate(configs)]
    sweep = submit_for(owner, QUICK, label="Learning-rate sweep", task="find_lr", options={"num_steps": 20})
    assert all(job.wait(120) for job in [*jobs, sweep])
    at = open_page(as_browser(owner), "compare")
    at.radio[0].set_value("val loss").run()  # linear regression has no accuracy
    figure = json.loads(next(c for c in at.get("plotly_chart") if c.key == "compare-curves").proto.spec)
    styles = {(t["line"]["color"], t["line"].get("dash", "solid")) for t in figure["data"]}
    assert len(figure["data"]) == 18 and len(styles) == 18, "each run its own line"
    assert figure["layout"]["legend"]["orientation"] == "h", "every name below the plot, none scrolled away"
    table = at.dataframe[0].value
    assert len(table) == 18
    # the result first (linear regression has no accuracy, so that column is left out with the other empty ones)
    assert list(table.columns[:4]) == ["run", "final val loss", "status", "dataset"]
    assert list(table.columns[4:6]) == ["lr", "optimizer"], "then the settings that differ"
    assert "num_hiddens" not in table.columns and "resnet_width" not in table.columns
    assert table["momentum"].isna().sum() == 17, "momentum is blank where the optimizer has none"
    assert at.get("download_button")[1].proto.label == "Download curves for TensorBoard"
    home = open_page(at, "home")
    assert any("**18 run(s)** (and 1 learning-rate sweep(s))" in m.value for m in home.markdown), "as Compare lists"


@pytest.mark.usefixtures("fashion_available")
def test_a_page_shows_only_the_runs_it_made():
    """Issue 21: while Teach's head trained, the Softmax page drew it as its own (and its results ended in a
    RuntimeError), and the ladder's ResNet rung disabled the ResNet page's Train."""
    import torch

    from core import datasets

    owner = new_owner()
    X, y = torch.randn(30, 1280), torch.arange(30) % 3
    features = datasets.Data(datasets.PHOTO_FEATURES, X[:24], y[:24], X[24:], y[24:], classes=("cat", "dog", "x"))
    head = RunConfig(model="softmax", dataset=datasets.PHOTO_FEATURES, epochs=1, batch_size=8)
    taught = submit_for(owner, head, features, label="Taught cat/dog/x #1")
    rung = RunConfig(model="resnet", epochs=50, train_examples=2000, resnet_width=8)  # trains long: still running
    ladder = submit_for(owner, rung, label="Ladder: ResNet (small)", group="ladder:fashion_mnist:1:resnet")
    try:
        assert taught.wait(60) and taught.outcome.status in ("completed", "guessing")
        at = open_page(as_browser(owner), "softmax")
        assert any("press **Train**" in i.value for i in at.info), "no run of its own yet"
        assert not at.button(key="train").disabled
        open_page(at, "resnet")
        assert not at.button(key="train").disabled, "the ladder's rung is the ladder's"
        assert any("press **Train**" in i.value for i in at.info)
    finally:
        ladder.stop()


@pytest.mark.usefixtures("fashion_available")
def test_a_browser_may_keep_only_so_many_runs_waiting(monkeypatch):
    """Issue 21: one browser queued 12 runs through the pages' own controls. Past the cap its Train says why and
    queues nothing; the runs it has go on."""
    monkeypatch.setenv("DASHBOARD_MAX_WAITING", "2")
    owner = new_owner()
    long = RunConfig(model="linear", dataset="synthetic", lr=0.01, batch_size=1, epochs=1000)
    from ui.server import scheduler

    busy = [submit_for(new_owner(), long, label="someone else's") for _ in range(scheduler().max_running)]
    mine = [submit_for(owner, long, label=f"Linear regression #{i + 1}") for i in range(2)]
    try:
        at = open_page(as_browser(owner), "softmax")  # the linear page's Train waits for its own runs anyway
        before = len(runs_of(owner))
        at.button(key="train").click().run()
        assert len(runs_of(owner)) == before, "nothing queued past the cap"
        assert any("a browser may have 2 waiting" in w.value for w in at.warning), [w.value for w in at.warning]
    finally:
        for job in busy + mine:
            job.stop()
