"""Teach your own in Chromium, the whole way: photos dropped on three classes and one from the webcam, Teach it,
then a new photo on the photo page answered by the taught model, with its Grad-CAM heatmap.

The cat and dog classes are filled with augmented views of chelsea and darknet's dog (tests/teach_photos.py);
the new photo is a view of chelsea the model was not taught. Chromium's fake camera stands in for a webcam.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from needs import require
from teach_photos import chelsea, teaching_set, views

from live_app import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # a test pattern, no prompt


@pytest.fixture(scope="module")
def camera_browser() -> Iterator:
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing; CI must run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_CAMERA)
        yield chromium
        chromium.close()


@pytest.fixture
def server(camera_browser, live_server) -> str:
    return live_server


def test_teach_three_classes_then_the_taught_model_answers_a_new_photo_with_its_heatmap(
    server, camera_browser, tmp_path
):
    from playwright.sync_api import expect

    context = camera_browser.new_context(viewport={"width": 1400, "height": 1400}, permissions=["camera"])
    page = context.new_page()
    page.goto(f"{server}/teach")
    expect(page.get_by_role("tab", name="cat (0)")).to_be_visible(timeout=60_000)
    for k, (name, files) in enumerate(teaching_set(8).items()):
        paths = []
        for file_name, raw in files:
            (tmp_path / file_name).write_bytes(raw)
            paths.append(tmp_path / file_name)
        page.get_by_role("tab", name=f"{name} (0)").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").nth(k).set_input_files(paths)
        tab = page.get_by_role("tab", name=f"{name} (8)")
        expect(tab).to_have_attribute("aria-selected", "true", timeout=60_000)  # its tab stays open
    assert page.get_by_test_id("stImage").count() >= 8  # the open tab's thumbnails

    # one more of "neither" from the webcam (Chromium's fake camera: a test pattern)
    page.get_by_role("tab", name="neither (8)").click()
    page.get_by_test_id("stTabPanel").filter(has_text="Drop photos of neither").get_by_text(
        "Take photos with the webcam"
    ).click()
    shoot = page.get_by_role("button", name="Take Photo")
    expect(shoot).to_be_enabled(timeout=30_000)
    ready = "() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2 && v.videoWidth > 0)"
    page.wait_for_function(ready, timeout=30_000)  # the camera's stream has started: a photo has pixels
    shoot.click()
    expect(page.get_by_role("tab", name="neither (9)")).to_be_visible(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "teach-photos.png", full_page=True)

    page.get_by_role("button", name="Teach it").click()
    expect(page.get_by_text("val accuracy 100.0%")).to_be_visible(timeout=90_000)
    expect(page.get_by_role("tab", name="Confusion matrix")).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=ARTIFACTS / "teach-trained.png", full_page=True)

    name, raw = views(chelsea(), 1, 500, "new-chelsea")[0]  # a view of the cat it was not taught
    (tmp_path / name).write_bytes(raw)
    page.goto(f"{server}/photos")
    sidebar = page.get_by_test_id("stSidebar")
    chosen = sidebar.get_by_role("combobox", name="Your model")  # the newest taught run, by default
    expect(chosen).to_have_value(re.compile(r"^Taught cat/dog/neither #1"), timeout=60_000)
    page.get_by_test_id("stFileUploaderDropzoneInput").last.set_input_files(tmp_path / name)
    card = page.locator('[class*="st-key-photo-"]')
    expect(card.get_by_text("Your model: cat")).to_be_visible(timeout=60_000)
    # the drop's tally counts the taught model's answers too, not only the pretrained verdicts (issue 20)
    expect(page.get_by_text("Your model: cat 1", exact=True)).to_be_visible()
    sidebar.get_by_text("Show where each model looked").click()
    # the pretrained verdict's heatmap and the taught one's
    expect(page.get_by_text("Grad-CAM for cat")).to_have_count(2, timeout=60_000)
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=ARTIFACTS / "teach-verdict-heatmap.png", full_page=True)
    context.close()


def test_a_class_name_is_drawn_as_typed_never_as_markdown(server, camera_browser):
    """Issue 21: a class name holding an image made every browser that showed it fetch an outside address, and a
    link became a link. The name is drawn as text: no image, no link, the marks shown as typed."""
    from playwright.sync_api import expect

    name = "![x](http://127.0.0.1:9/x.png) [win](http://127.0.0.1:9)"
    context = camera_browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if ":9/" in request.url else None)
    page.goto(f"{server}/teach")
    box = page.get_by_role("textbox", name="Class name").first
    expect(box).to_be_visible(timeout=60_000)
    box.fill(name[:40])  # the field takes 40 characters, as the album does
    box.press("Enter")
    tab = page.get_by_role("tab").first
    expect(tab).to_contain_text("![x](http", timeout=30_000)
    shown = tab.inner_text().replace("\u2060", "")  # an invisible word joiner keeps a bare address from linking
    assert shown.startswith("![x](http://127.0.0.1:9/x.png) [win](htt"), shown
    main = page.get_by_test_id("stMain")
    assert main.locator("img[src*='127.0.0.1:9']").count() == 0 and main.locator("a[href*='127.0.0.1:9']").count() == 0
    assert not fetched, fetched
    context.close()
