"""The teacher's tools on the Class page: a challenge, a name to hide or show, freeze, clear, end, the CSV. Each
calls `core.runs.classroom`, which checks that this browser teaches the class; a refusal is said, never raised."""

from __future__ import annotations

import streamlit as st

from core.runs.classroom import BOARD_MODELS, Challenge, Lesson
from ui import classroom as cls
from ui.server import dataset_choices
from ui.settings import BATCH_OPTIONS


def teacher_tools(me: str, taught: Lesson) -> None:
    room, code = cls.classroom(), taught.code
    with st.expander("Run the class: challenge, names, freeze, clear, end"):
        with st.form("challenge"):
            model = st.selectbox("Challenge page", list(BOARD_MODELS), format_func=BOARD_MODELS.get)
            sets = {"": "any dataset", **dataset_choices()}
            dataset = st.selectbox("Dataset", list(sets), format_func=sets.get)
            epochs = st.number_input("At most this many epochs (0: no limit)", 0, 200, 3)
            low, high = st.select_slider("Batch size", BATCH_OPTIONS, value=(BATCH_OPTIONS[0], BATCH_OPTIONS[-1]))
            if st.form_submit_button("Set the challenge", key="challenge-set"):
                challenge = Challenge(model, dataset or None, epochs or None, low, high)
                cls.act(room.set_challenge, me, code, challenge, done="The challenge is set.")
                st.rerun()
        if taught.challenge:
            st.button(
                "Remove the challenge",
                key="challenge-remove",
                on_click=cls.act,
                args=(room.set_challenge, me, code, None),
            )
        members = room.names(code)  # not the board: reading it copies the new runs in, work the board does
        names, hidden = [name for name, _ in members], {name for name, h in members if h}
        chosen = st.selectbox(
            "A student's name", names, key="class-name", index=None, placeholder="Choose a name to hide or show"
        )
        if chosen:
            verb = "Show" if chosen in hidden else "Hide"
            st.button(
                f"{verb} this name",
                key="class-hide",
                on_click=cls.act,
                args=(room.hide, me, code, chosen, verb == "Hide"),
            )
        row = st.container(horizontal=True)
        frozen = taught.frozen is not None
        row.button("Unfreeze the board" if frozen else "Freeze the board", key="class-freeze", on_click=cls.act,
                   args=(room.freeze, me, code, not frozen))  # fmt: skip
        row.download_button("Download the class's runs (CSV)", lambda: cls.class_csv(me, code), f"class-{code}.csv",
                            "text/csv", on_click="ignore")  # fmt: skip
        sure = st.checkbox("I am sure: clearing empties the board; ending sends every student out", key="class-sure")
        row = st.container(horizontal=True)
        cleared = {"done": "The board is empty; runs started from now on join it."}
        row.button("Clear the board", key="class-clear", disabled=not sure, on_click=cls.act,
                   args=(room.clear, me, code), kwargs=cleared)  # fmt: skip
        row.button("End the class", key="class-end", disabled=not sure, type="primary", on_click=cls.act,
                   args=(room.end, me, code), kwargs={"done": f"The class {code} has ended."})  # fmt: skip
