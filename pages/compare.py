"""Compare runs: every run of this browser, curves overlaid, settings and results in one table; take them away
(CSV, TensorBoard) or delete them."""

import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from core.runs.files import SETTINGS, summary_table, tensorboard_zip
from ui.live import history_frame
from ui.server import book, my_runs, owner, store_notice
from ui.text import svg

PALETTE, DASHES = qualitative.Dark24, ("solid", "dash", "dot", "dashdot")

st.title("Compare runs")
store_notice()
if message := st.session_state.pop("deleted", None):  # said first: deleting the last run leaves no page below
    st.success(message)
runs = my_runs()  # every training run, also one stopped before its first step: Home counts the same
if not runs:
    st.info("No runs yet in this browser. Train a model on any page; every run shows up here, and stays.")
    st.stop()
table = summary_table(runs)

metric = st.radio("Curve", ["val accuracy", "val loss", "train loss"], horizontal=True)
fig = go.Figure()
for i, run in enumerate(runs):
    points = history_frame(run).dropna(subset=[metric]) if run.history else None  # evaluations only, for val
    if points is not None and not points.empty:
        # 24 colours, then the same again dashed, dotted...: 18 runs no longer share 10 colours
        line = dict(color=PALETTE[i % len(PALETTE)], dash=DASHES[i // len(PALETTE) % len(DASHES)])
        fig.add_scatter(x=points["epoch"], y=points[metric], name=svg(run.label), mode="lines+markers", line=line)
rows = -(-len(fig.data) // 3)  # the legend below the plot, three names a row: every name in view, none scrolled
fig.update_layout(height=360 + 24 * rows, xaxis_title="epoch", yaxis_title=metric, margin=dict(t=10))
fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.15, xanchor="left", x=0))
if metric == "val accuracy":
    fig.update_yaxes(tickformat=".0%")
st.plotly_chart(fig, key="compare-curves")

varying = [k for k in SETTINGS if table[k].dropna().astype(str).nunique() > 1]
st.caption("Settings that differ between runs: " + (", ".join(varying) if varying else "none"))
# what a teacher reads first: the result, then what differs; a setting that applies to no run is left out
first = ["run", "final val accuracy", "final val loss", "status", "dataset", *[k for k in varying if k != "dataset"]]
shown = table[first + [c for c in table.columns if c not in first]].dropna(axis="columns", how="all")
percent = st.column_config.NumberColumn(format="percent")
st.dataframe(shown, hide_index=True, column_config={"final val accuracy": percent})
buttons = st.container(horizontal=True)  # each button as wide as its label: none cut off
csv = table.to_csv(index=False).encode()
buttons.download_button("Download as CSV", csv, "runs.csv", "text/csv", on_click="ignore")
buttons.download_button(
    "Download curves for TensorBoard",
    lambda: tensorboard_zip(runs),  # written only when asked for
    "runs-tensorboard.zip",
    "application/zip",
    help="Unzip, then `tensorboard --logdir runs`.",
    on_click="ignore",
)

with st.expander("Delete runs"):
    labels = {f"{run.label} (run {run.id})": run.id for run in runs}
    # no "Select all": deleting every run has its own button, behind its own confirmation
    chosen = st.multiselect("Runs to delete", list(labels), key="delete-chosen", select_all=False)
    many = len(chosen) > 1 and not st.checkbox(f"Yes, delete these {len(chosen)} runs", key="delete-chosen-sure")
    if st.button("Delete the chosen runs", disabled=not chosen or many, key="delete"):
        gone = book().delete(owner(), [labels[label] for label in chosen])
        st.session_state["deleted"] = f"Deleted {gone} run(s)."
        st.rerun()
    sure = st.checkbox(f"Yes, delete all {len(runs)} of my runs, curves and weights", key="delete-all-sure")
    if st.button("Delete all my runs", disabled=not sure, type="primary", key="delete-all"):
        gone = book().delete(owner(), [run.id for run in my_runs(None)])
        st.session_state["deleted"] = f"Deleted {gone} run(s)."
        st.rerun()
