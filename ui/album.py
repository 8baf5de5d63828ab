"""The Teach page's classes: one tab each, with its name, a drop zone, the webcam, and its photos' thumbnails.

A drop is added once: the uploader then gets a new key (so it empties) and the page redraws; the files it
refused are said above the tabs after that redraw. The webcam asks for the camera only once its toggle is on.
"""

from __future__ import annotations

import streamlit as st

from core.vision.album import MAX_CLASSES, MIN_CLASSES, MIN_PER_CLASS, Album, AlbumError
from core.vision.photos import MAX_UPLOAD_MB
from ui.photo import backbone
from ui.text import md

PER_PAGE, THUMB_PX = 24, 100  # photos a page; a thumbnail's width


def class_tabs(album: Album) -> None:
    for message in st.session_state.pop("album-messages", []):
        st.warning(md(message))  # it names a class or a file as typed
    counts = album.counts()
    names = [f"{md(name)} ({n})" for name, n in zip(album.classes, counts)]  # a name is drawn as typed
    # a drop changes its tab's label (the count): open that tab again, not the first
    opened = min(st.session_state.get("teach-tab", 0), len(names) - 1)
    tabs = st.tabs([*names, "+ class"] if len(album.classes) < MAX_CLASSES else names, default=names[opened])
    for label, tab in enumerate(tabs[: len(album.classes)]):
        with tab:
            class_tab(album, label)
    if len(tabs) > len(album.classes):
        with tabs[-1]:
            new = st.text_input("Name of the new class", key="new-class", max_chars=40)
            if st.button("Add the class", disabled=not new.strip(), key="add-class"):
                _try(album.add_class, new)
                st.rerun()


def _try(change, *args) -> None:
    try:
        change(*args)
    except AlbumError as err:
        st.session_state.setdefault("album-messages", []).append(str(err))


def _rename(album: Album, label: int, key: str) -> None:
    """The name box's change: taken, or refused with a message and the box back to the old name."""
    _try(album.rename, label, st.session_state[key])
    st.session_state[key] = album.classes[label]
    st.session_state["teach-tab"] = label


def _remove(album: Album, label: int, ids: list[int], key: str | None = None) -> None:
    album.remove(ids)
    st.session_state["teach-tab"] = label
    if key:
        st.session_state[key] = False


def class_tab(album: Album, label: int) -> None:
    nonce = st.session_state.setdefault(f"nonce-{label}", 0)
    name = md(album.classes[label])  # for labels and messages, which Streamlit draws as Markdown
    left, right = st.columns([3, 1])
    key = f"name-{label}-{album.version}"
    rename = dict(on_change=_rename, args=(album, label, key))
    left.text_input("Class name", album.classes[label], key=key, max_chars=40, **rename)
    if len(album.classes) > MIN_CLASSES and right.button("Remove this class", key=f"drop-class-{label}"):
        st.session_state[f"sure-{label}"] = True
    if st.session_state.get(f"sure-{label}"):
        st.warning(f"Remove the class **{name}** and its {album.counts()[label]} photos?")
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button("Yes, remove it", type="primary", key=f"yes-{label}"):
            st.session_state.pop(f"sure-{label}")
            _try(album.remove_class, label)
            st.rerun()
        if no.button("Keep it", key=f"no-{label}"):
            st.session_state.pop(f"sure-{label}")
            st.rerun()
    files = st.file_uploader(
        f"Drop photos of {name} here (many at once; JPEG, PNG, WebP, GIF or BMP, up to {MAX_UPLOAD_MB} MB each)",
        type=["jpg", "jpeg", "png", "webp", "gif", "bmp"],
        accept_multiple_files=True,
        key=f"up-{label}-{nonce}",
        max_upload_size=MAX_UPLOAD_MB,
    )
    shot = None
    if st.toggle("Take photos with the webcam", key=f"cam-on-{label}"):
        shot = st.camera_input(f"A photo of {name}", key=f"cam-{label}-{nonce}")
    new = [(f.name, f.getvalue()) for f in files or []] + ([(f"webcam-{nonce}.jpg", shot.getvalue())] if shot else [])
    if new:
        add(album, label, new)
    thumbnails(album, label)


def add(album: Album, label: int, files: list[tuple[str, bytes]]) -> None:
    """Add a drop with a progress bar, then empty the uploader and redraw."""
    bar = st.progress(0.0, text=f"Adding {len(files)} photo(s)...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Adding photos: {done} of {total} (each one goes through the network once)")

    added, refused = album.add(label, files, backbone(), progress)
    st.session_state.setdefault("album-messages", []).extend(refused)
    st.session_state[f"nonce-{label}"] += 1
    st.session_state["teach-tab"] = label
    st.rerun()


def thumbnails(album: Album, label: int) -> None:
    ids = album.photo_ids(label)[::-1]  # the newest first
    if len(ids) < MIN_PER_CLASS:
        st.caption(f"{len(ids)} photo(s); at least {MIN_PER_CLASS} are needed to train.")
    if not ids:
        return
    pages = (len(ids) - 1) // PER_PAGE + 1
    page = st.number_input("Page", 1, pages, 1, key=f"page-{label}") if pages > 1 else 1
    shown = ids[(page - 1) * PER_PAGE : page * PER_PAGE]
    st.caption(f"{len(ids)} photos{f', page {page} of {pages}' if pages > 1 else ''}. ✕ removes one.")
    row = st.container(horizontal=True, gap="small")  # wraps: 8 a row on a projector, 3 on a phone (not stacked)
    for photo_id in shown:
        cell = row.container(width=THUMB_PX, gap=None)
        thumb = album.thumbnail(photo_id)
        if thumb is not None:
            cell.image(thumb, width="stretch", alt=f"a photo of {album.classes[label]}")
        cell.button("✕", key=f"rm-{photo_id}", on_click=_remove, args=(album, label, [photo_id]), help="Remove it")
    if st.checkbox(f"Remove all {len(ids)} photos of {md(album.classes[label])}", key=f"clear-{label}"):
        args = (album, label, ids, f"clear-{label}")
        st.button("Yes, remove them all", type="primary", key=f"clear-yes-{label}", on_click=_remove, args=args)
