"""The data-preparation page through Streamlit's AppTest: house_tiny's steps, a training run to the end, the weights.

AppTest cannot upload a file (it has no file_uploader), so the upload path is tested through
core.lessons.tables in test_tables.py; here the page runs on its built-in tables. The page is run as its
own script, as `streamlit run pages/data_prep.py` would.
"""

from __future__ import annotations

import time
from pathlib import Path

from owners import own, runs_of, submit_for
from streamlit.testing.v1 import AppTest

from core.lessons import tables
from core.runs.jobs import Job
from core.train import RunConfig

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "data_prep.py")


def open_page(**url) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)  # the first run imports torch
    for key, value in url.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def train(at: AppTest, timeout: float = 20) -> None:
    """Press Train, then rerun as the browser's half-second fragment would until the outcome shows."""
    at.button(key="train").click().run()
    deadline = time.monotonic() + timeout
    while not (at.success or at.error) and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert not at.exception, at.exception


def test_house_tiny_step_by_step():
    at = open_page()
    assert at.title[0].value == "Data preparation"
    assert at.radio(key="table").value == "house_tiny"
    assert at.selectbox(key="target").value == "Price"
    assert [c.value for c in at.code][3] == "inputs = pd.get_dummies(inputs, dummy_na=True)"
    frames = [d.value for d in at.dataframe]
    assert list(frames[3].columns) == ["NumRooms", "RoofType_Slate", "RoofType_nan"]
    assert frames[4]["NumRooms"].tolist() == [3.0, 2.0, 4.0, 3.0]
    assert any("shape (4, 3)" in c.value for c in at.caption)
    assert "too few to train" in at.info[0].value and not at.error  # 4 rows: shown, not trained


def test_houses_train_to_the_end_and_show_the_weights():
    at = open_page(table="houses")
    assert at.radio(key="table").value == "houses"
    assert "Dropped 3 row(s) whose 'Price' is missing" in at.warning[0].value
    train(at)
    assert at.success and at.success[0].value.startswith("Trained 50 epochs"), [e.value for e in at.error]
    keys = [c.key for c in at.get("plotly_chart")]
    assert any(k.startswith("curves-") for k in keys) and any(k.startswith("weights-") for k in keys)
    weights = at.dataframe[-1].value
    assert list(weights["feature"][:2]) == ["Area", "NumRooms"]  # the price follows area and rooms most
    assert (weights["weight"][:2] > 0).all()

    # a reload: the run comes back from the run store, and its weights with this page's table
    owner = at.session_state["owner"]
    deadline = time.monotonic() + 10
    while isinstance(runs_of(owner)[-1], Job) and time.monotonic() < deadline:  # until its end is stored
        time.sleep(0.1)
    assert not isinstance(runs_of(owner)[-1], Job), "read from the store, not the trainer's job"
    reloaded = AppTest.from_file(PAGE, default_timeout=60)
    own(reloaded, owner)
    reloaded.query_params["table"] = "houses"
    reloaded.run()
    assert not reloaded.exception, reloaded.exception
    assert reloaded.success and reloaded.success[0].value.startswith("Trained 50 epochs")
    again = reloaded.dataframe[-1].value
    assert list(again["feature"]) == list(weights["feature"]) and list(again["weight"]) == list(weights["weight"])
    assert not any("trained on another table" in c.value for c in reloaded.caption)


def test_a_link_to_an_unknown_table_falls_back():
    at = open_page(table="nonsense")
    assert at.radio(key="table").value == "house_tiny"


def test_user_table_runs_stay_off_the_linear_page():
    """A finished run on the user's table, in the session: the linear page must not draw it as its own."""
    p = tables.prepare(tables.read_csv(tables.example_csv("houses"), "houses.csv").frame, "Price")
    at = AppTest.from_file(str(ROOT / "pages" / "linear.py"), default_timeout=60)
    job = submit_for(own(at), RunConfig(model="linear", dataset="table", epochs=1), data=tables.to_data(p))
    assert job.wait(30) and job.outcome.status == "completed"
    at.run()
    assert not at.exception, at.exception
    assert at.info and "press **Train**" in at.info[0].value
