"""The Teach your own page in AppTest: classes, the five-photo rule, a head taught in seconds, from scratch beside it.

AppTest cannot drop files, so the photos go into the browser's album through core, as the page's uploader hands
them on (tests/test_browser_teach.py drops them in Chromium). The cat and dog classes are filled with augmented
views of chelsea and darknet's dog (tests/teach_photos.py).
"""

from __future__ import annotations

import json
import time

import pytest
from owners import own
from teach_photos import teaching_set
from test_pages import open_page, session, texts

from core.datasets import PHOTO_FEATURES, PHOTOS
from core.vision import transfer

TIMEOUT = 120


def album_of(owner: str):
    from ui.photo import _albums

    return _albums().of(owner)


def fill(owner: str, per_class: int = 8) -> None:
    from ui.photo import backbone

    album = album_of(owner)
    for label, files in enumerate(teaching_set(per_class).values()):
        album.add(label, files, backbone())


def wait_done(at, dataset: str):
    from owners import runs_of

    deadline = time.monotonic() + TIMEOUT
    while True:
        mine = [r for r in runs_of(at.session_state["owner"]) if r.config.dataset == dataset]
        if mine and mine[-1].state == "done":
            at.run()
            assert not at.exception, at.exception
            return mine[-1]
        if time.monotonic() > deadline:
            pytest.fail(f"no {dataset} run finished in {TIMEOUT} s")
        time.sleep(0.3)
        at.run()


def test_the_page_names_three_classes_and_asks_for_five_photos_each():
    at = open_page(session(), "teach")
    assert [t.value for t in at.title] == ["Teach your own"]
    assert [t.label for t in at.tabs][:4] == ["cat (0)", "dog (0)", "neither (0)", "+ class"]
    assert any("at least 5 photos" in i.value for i in at.info), texts(at.info)
    assert at.button(key="teach").disabled and at.button(key="scratch").disabled
    assert len(at.get("file_uploader")) == 3  # one drop zone per class


def test_classes_are_renamed_added_and_refused_a_taken_name():
    at = session()
    owner = own(at)
    open_page(at, "teach")
    box = next(t for t in at.text_input if t.label == "Class name")
    box.set_value("kitten").run()
    assert album_of(owner).classes == ["kitten", "dog", "neither"]
    box = [t for t in at.text_input if t.label == "Class name"][1]
    box.set_value("Kitten").run()
    assert album_of(owner).classes[1] == "dog"
    assert any("already" in w.value for w in at.warning), texts(at.warning)
    at.text_input(key="new-class").set_value("bird").run()
    at.button(key="add-class").click().run()
    assert album_of(owner).classes == ["kitten", "dog", "neither", "bird"]
    assert "bird (0)" in [t.label for t in at.tabs]


@pytest.mark.slow
def test_teach_it_trains_a_head_in_seconds_then_from_scratch_beside_it():
    at = session()
    owner = own(at)
    fill(owner)
    open_page(at, "teach")
    assert [t.label for t in at.tabs][:3] == ["cat (8)", "dog (8)", "neither (8)"]
    assert not at.button(key="teach").disabled
    clicked = time.monotonic()
    at.button(key="teach").click().run()
    taught = wait_done(at, PHOTO_FEATURES)
    assert taught.outcome.status == "completed", taught.outcome
    assert time.monotonic() - clicked < 30
    assert taught.last_eval.val_acc == 1.0 and taught.classes == ("cat", "dog", "neither")
    keys = {c.key for c in at.get("plotly_chart")}
    assert {f"curves-{taught.id}", f"confusion-{taught.id}", f"per-class-{taught.id}"} <= keys, keys
    downloads = {d.proto.label for d in at.get("download_button")}
    assert {"Download the trained model (.pt)", "Download a script that uses it (predict.py)"} <= downloads

    at.number_input(key="scratch-lr").set_value(0.02).run()  # the lr its advice may name is a control here
    at.button(key="scratch").click().run()
    scratch = wait_done(at, PHOTOS)
    assert scratch.config.model == "resnet" and scratch.outcome.status in ("completed", "guessing")
    assert scratch.config.lr == 0.02 and taught.config.lr == 0.1
    assert {f"curves-{taught.id}", f"curves-{scratch.id}"} <= {c.key for c in at.get("plotly_chart")}
    # 8 photos a class hold out one each: 3 photos cannot tell the two apart, and the page says so, not the lesson
    warned = [w.value for w in at.warning if "Held-out accuracy" in w.value]
    assert warned and "transfer 100% (3 of 3 held-out photos)" in warned[0] and "too few" in warned[0], warned
    assert not any("ImageNet's 1.3 million" in m.value for m in at.markdown)

    # a reload: a new session of the same browser finds the taught run in the store, with its results
    again = session()
    own(again, owner)
    open_page(again, "teach")
    assert {f"curves-{taught.id}", f"confusion-{taught.id}"} <= {c.key for c in again.get("plotly_chart")}
    # the photo page offers it, newest first, and Compare runs lists both runs with the rest
    open_page(again, "photos")
    assert again.selectbox(key="own").value.startswith(taught.label)
    open_page(again, "compare")
    figure = json.loads(next(c for c in again.get("plotly_chart") if c.key == "compare-curves").proto.spec)
    assert {taught.label, scratch.label} <= {trace["name"] for trace in figure["data"]}


@pytest.mark.slow
def test_augmentation_adds_views_of_the_training_photos_only():
    at = session()
    owner = own(at)
    fill(owner, 6)
    open_page(at, "teach")
    at.toggle(key="augment").set_value(True).run()
    at.slider(key="views").set_value(2).run()
    at.radio(key="head").set_value("one hidden layer").run()
    at.button(key="teach").click().run()
    job = wait_done(at, PHOTO_FEATURES)
    assert job.config.model == "mlp" and job.outcome.status == "completed", job.outcome
    train, val = album_of(owner).split()
    assert job.started.steps_per_epoch == -(-3 * len(train) // 16)  # each training photo and 2 views of it


def test_a_photo_is_removed_with_its_button(tmp_path):
    at = session()
    owner = own(at)
    album = album_of(owner)
    from ui.photo import backbone

    album.add(0, teaching_set(3)["cat"], backbone())
    open_page(at, "teach")
    assert [t.label for t in at.tabs][0] == "cat (3)"
    newest = album.photo_ids(0)[-1]
    at.button(key=f"rm-{newest}").click().run()
    assert album.photo_ids(0) == album.photo_ids(0)[:2] and newest not in album.photo_ids(0)
    assert [t.label for t in at.tabs][0] == "cat (2)"
    assert album_of(owner).counts()[0] == 2 and album.features.shape[1] == transfer.NUM_FEATURES


def test_photos_a_full_disk_refused_are_counted_on_the_page_until_they_are_written():
    """Issue 21: after a drop on a full disk, 112 photos were gone after a reload without a word."""
    from sqlalchemy import event, text

    from ui.server import book

    at = session()
    owner = own(at)
    store = book().store
    with store.engine.connect() as conn:
        full = f"PRAGMA max_page_count = {conn.execute(text('PRAGMA page_count')).scalar()}"

    def limit(conn, _record):  # the database may not grow: as on a full disk
        conn.execute(full)

    event.listen(store.engine, "connect", limit)
    store.engine.dispose()
    try:
        fill(owner, per_class=2)
        open_page(at, "teach")
        warned = [w.value for w in at.warning if "in this server's memory only" in w.value]
        assert warned and warned[0].startswith("6 photo(s)") and "the disk is full" in warned[0], texts(at.warning)
        assert [t.label for t in at.tabs][:3] == ["cat (2)", "dog (2)", "neither (2)"]
    finally:
        event.remove(store.engine, "connect", limit)
        store.engine.dispose()
    at.run()  # the next visit writes them
    assert not [w for w in at.warning if "memory only" in w.value] and album_of(owner).unsaved == 0
