"""The "Exercises" part of a page: the chapters' questions this page's experiments answer (`core.lessons.exercises`).

Each exercise shows its question, a "Set it up" button that puts the page's settings where the experiment needs
them (the same widgets and link keys as everything else, so the link beside it shares the setup), and, once the
student's own runs answer it, the evidence from those runs and the explanation; before that the explanation is
hidden behind a toggle, so the student tries first. Comparisons draw the student's runs together. The softmax
page adds two experiments of its own: the softmax and cross-entropy as written from their definitions, on a
slider for the logits' scale, and the data loader's read speed on this machine.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import plotly.graph_objects as go
import streamlit as st

from core.lessons.exercises import (
    BY_ID,
    DEMO_IDS,
    READ_IDS,
    Exercise,
    Progress,
    by_definition,
    measure_read_speed,
    of_page,
)
from ui.links import set_widget
from ui.live import training_now
from ui.server import book, my_runs, owner
from ui.text import md

ANSWERED = ":material/check_circle:"


@st.cache_resource(show_spinner=False)
def progress() -> Progress:
    return Progress(book().store)


def link(e: Exercise) -> str:
    values = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in e.setup.items()}
    return f"/{e.page}?{urlencode(values)}"


def _set_up(e: Exercise) -> None:
    for key, value in e.setup.items():
        set_widget(key, value)


def exercises(page: str) -> None:
    """Every exercise of `page`, after its experiments. While the page's run trains (its model is named as the
    page) each click redraws the whole page, so the comparison charts wait for the run's end; the expanders stay,
    with their keys, so an open one stays open."""
    items, me = of_page(page), owner()
    done = progress().of(me)
    shown = [e for e in items if e.id not in (*sum(DEMO_IDS.values(), ()), *READ_IDS)]
    runs = my_runs()
    training = training_now((page,), runs)
    answers = {e.id: e.check(runs) for e in shown if e.check}  # first: the count below includes this run's answers
    for e in shown:
        answer = answers.get(e.id)
        if answer is not None and answer.done and e.id not in done:
            progress().mark(me, e.id, answer.evidence, answer.run_ids[-1] if answer.run_ids else None)
            done[e.id] = answer.evidence
    st.header("Exercises", anchor="exercises")
    st.caption(f"The chapters' own questions that this page answers: {sum(e.id in done for e in items)} of "
               f"{len(items)} answered in this browser. Home lists the rest, derivations included.")  # fmt: skip
    if page == "softmax":
        definition_demo(me, done)
        read_speed_demo(me, done)
    for e in shown:
        exercise(e, answers.get(e.id), done, charts=not training)


def exercise(e: Exercise, answer, done: dict, charts: bool = True) -> None:
    # a stable key: the expander stays open when its tick appears (a new label alone would make a new one)
    key, icon = f"exercise-{e.id.replace('.', '-')}", ANSWERED if e.id in done else None
    with st.expander(f"{e.id}: {e.question}", key=key, icon=icon):
        st.caption(f"{e.source}, exercise {e.id.rsplit('.', 1)[1]}")
        if e.setup:
            row = st.container(horizontal=True, vertical_alignment="center")
            row.button("Set it up", key=f"setup-{e.id}", on_click=_set_up, args=(e,))
            row.caption(f"or share the link `{link(e)}`; then press **Train**.")
        if answer is not None and len(answer.points) >= 2:  # one point compares nothing
            if charts:
                st.plotly_chart(comparison(e, answer.points), key=f"points-{e.id}")
            else:
                st.caption("The comparison of your runs is drawn again once this run ends.")
        if e.id in done:
            st.success(f"Answered by your runs. {md(answer.evidence if answer and answer.done else done[e.id])}")
            st.markdown(e.explanation)
        else:
            if answer is not None:
                st.info(f"{md(answer.evidence)} Still to run: {answer.missing}.".strip())
            if st.toggle("Show the explanation (try it first)", key=f"why-{e.id}"):
                st.markdown(e.explanation)


def comparison(e: Exercise, points) -> go.Figure:
    """The student's runs of a comparison, one point each: the setting across, the outcome up."""
    x = [v for _, v, _ in points]
    y = [v if math.isfinite(v) else None for _, _, v in points]  # a diverged run leaves a gap
    fig = go.Figure(go.Scatter(x=x, y=y, text=[label for label, _, _ in points], mode="lines+markers"))
    numbers = all(isinstance(v, int | float) for v in x)
    fig.update_layout(height=260, margin=dict(t=10, b=10), xaxis_title=e.x_label, yaxis_title=e.y_label)
    if numbers and e.x_label == "learning rate":
        fig.update_xaxes(type="log")
    if e.y_label.endswith("accuracy"):
        fig.update_yaxes(tickformat=".0%")
    return fig


def definition_demo(me: str, done: dict) -> None:
    ids = sorted(set(sum(DEMO_IDS.values(), ())))
    icon = ANSWERED if all(i in done for i in ids) else None
    title = f"{', '.join(ids)}: the softmax and the cross-entropy, as written from their definitions"
    with st.expander(title, key="exercise-definitions", icon=icon):
        st.markdown(f"**3.6.1** {BY_ID['3.6.1'].question} **3.6.2** {BY_ID['3.6.2'].question} "
                    f"**3.6.3** {BY_ID['3.6.3'].question}")  # fmt: skip
        scale = st.slider("Scale of the logits (x -1, 0.5, 2; the true class is the first)", 1, 100, 1, key="scale")
        out = by_definition(scale)
        rows = {"logits": out["logits"], "softmax, from the definition": out["softmax_definition"]}
        rows["softmax, max subtracted first"] = out["softmax"]
        st.table({name: [_cell(v) for v in values] for name, values in rows.items()})
        left, right = st.columns(2)
        left.metric("cross-entropy, -log(ŷ) from the definition", _cell(out["cross_entropy_definition"]))
        right.metric("cross-entropy from the logits (log_softmax)", _cell(out["cross_entropy"]))
        broke = {"softmax": any(math.isnan(v) for v in out["softmax_definition"])}
        broke["log"] = math.isinf(out["cross_entropy_definition"])
        for what, ids_ in DEMO_IDS.items():
            if broke.get(what) or (what == "both" and all(i in done for i in DEMO_IDS["softmax"] + DEMO_IDS["log"])):
                for i in ids_:
                    if i not in done:
                        progress().mark(me, i, f"seen at logits x {scale}")
                        done[i] = f"seen at logits x {scale}"
        if not (broke["softmax"] or broke["log"]):
            st.info("Both agree at this scale. Move the slider up until one of them breaks.")
            if st.toggle("Show the explanation (try it first)", key="why-definition"):
                st.markdown(BY_ID["3.6.1"].explanation + "\n\n" + BY_ID["3.6.2"].explanation)
        else:
            st.warning(("The softmax from its definition is nan: exp overflowed to inf. " if broke["softmax"] else "")
                       + ("Its cross-entropy is inf: the true class's probability underflowed to 0, and log(0) = -inf."
                          if broke["log"] else ""))  # fmt: skip
            st.markdown(BY_ID["3.6.3"].explanation)


def _cell(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.4g}")


def read_speed_demo(me: str, done: dict) -> None:
    icon = ANSWERED if all(i in done for i in READ_IDS) else None
    with st.expander(f"{', '.join(READ_IDS)}: how fast the data loader reads", key="exercise-reading", icon=icon):
        st.markdown(f"**3.5.1** {BY_ID['3.5.1'].question} **3.5.2** {BY_ID['3.5.2'].question}")
        if st.button("Measure on this machine", key="read-speed", help="About half a minute"):
            with st.spinner("Reading Fashion-MNIST through torch's DataLoader..."):
                try:
                    st.session_state["read-speed-result"] = measure_read_speed()
                except RuntimeError as err:
                    st.error(str(err))
        result = st.session_state.get("read-speed-result")
        if result is None:
            st.caption("Reads 4,096 images at batch sizes 1, 16 and 256, with 0, 1 and 2 worker processes.")
            return
        fig = go.Figure()
        for workers in sorted({r["workers"] for r in result}):
            rows = [r for r in result if r["workers"] == workers]
            fig.add_scatter(x=[r["batch_size"] for r in rows], y=[r["images_per_s"] for r in rows],
                            name=f"{workers} worker{'s' * (workers != 1)}", mode="lines+markers")  # fmt: skip
        fig.update_layout(height=300, margin=dict(t=10), xaxis_title="batch size", yaxis_title="images a second")
        fig.update_xaxes(type="log")
        st.plotly_chart(fig, key="read-speed-chart")
        best = max(result, key=lambda r: r["images_per_s"])
        one = next(r for r in result if r["batch_size"] == 1 and r["workers"] == 0)
        evidence = (f"batch 1: {one['images_per_s']:,.0f} images/s; best: {best['images_per_s']:,.0f} images/s at "
                    f"batch {best['batch_size']} with {best['workers']} workers")  # fmt: skip
        st.success(f"Measured here: {evidence}.")
        st.markdown(BY_ID["3.5.1"].explanation + "\n\n" + BY_ID["3.5.2"].explanation)
        for i in READ_IDS:
            if i not in done:
                progress().mark(me, i, evidence)
                done[i] = evidence
