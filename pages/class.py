"""Class: a teacher starts a class, students join it with its code and a name they choose, and the board shows what
the whole class found, live: a leaderboard per model and the class's map of learning rate against accuracy."""

import streamlit as st

from core.runs.classroom import ClassError
from ui import classroom as cls
from ui.class_teacher import teacher_tools
from ui.server import owner, store_notice
from ui.text import md

me, room = owner(), cls.classroom()
taught = room.taught_by(me)
joined = None if taught else room.membership(me)
projector = bool(taught) and st.toggle("Projector view", key="projector", help="Large type, no sidebar")
if not projector:
    st.title("Class")
store_notice()
if error := st.session_state.pop("class-error", None):
    st.error(error)
if done := st.session_state.pop("class-done", None):
    st.success(done)

if taught:
    code = taught.code
    if projector:
        cls.projector_style(code)
    else:
        if key := st.session_state.get("teacher-key"):  # shown in this session only, until put away
            st.info(f"Your teacher key: **{key}**. It is shown only here: write it down to take the class over "
                    "from another device (Class page → Teachers → Take over).")  # fmt: skip
            st.button("I have written it down", key="key-noted", on_click=st.session_state.pop, args=("teacher-key",))
        cls.code_panel(code)
        teacher_tools(me, taught)
    cls.live_board(code, projector)
elif joined:
    lesson, member = joined
    st.success(f"You are in class {lesson.code} as **{md(member.name)}**. Train on any training page: each run you "
               "finish shows up on the class's board. Your runs stay yours; only its board row is shared.")  # fmt: skip
    if member.hidden:
        st.warning("The teacher hid your name from the board. Leave, and join again with another name.")
    if lesson.challenge:
        st.info(f"The challenge: {lesson.challenge.describe()}.")
    st.button(
        "Leave the class",
        key="class-leave",
        on_click=cls.act,
        args=(room.leave, me),
        kwargs={"done": "You left the class."},
    )
    cls.live_board(lesson.code)
else:
    st.markdown("Join your teacher's class to put your runs on the class's board, or start one for your class.")
    with st.form("join"):
        code = st.text_input("Class code", key="join-code", value=st.query_params.get("join", "")[:12], max_chars=12)
        name = st.text_input("Display name (any name you like; not your real one)", key="join-name", max_chars=24)
        if st.form_submit_button("Join", type="primary", key="join"):
            cls.act(room.join, me, code, name, done="You joined the class.")
            st.rerun()
    with st.expander("Teachers: start a class, or take one over from another device"):
        if st.button("Start a class", key="class-start"):
            try:
                st.session_state["teacher-key"] = room.start(me)[1]
            except ClassError as err:
                st.session_state["class-error"] = str(err)
            st.rerun()
        with st.form("take-over"):
            code = st.text_input("Class code", max_chars=12, key="take-code")
            key = st.text_input("Teacher key", type="password", max_chars=20, key="take-key")
            if st.form_submit_button("Take over", key="take-over"):
                cls.act(room.take_over, me, code, key, done="This browser teaches the class now.")
                st.rerun()
