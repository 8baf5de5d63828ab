"""Compare runs: every run of this browser, curves overlaid, settings and results in one table; take them away
(CSV, TensorBoard) or delete them."""

import plotly.graph_objects as go
import streamlit as st

from core.run_files import SETTINGS, summary_table, tensorboard_zip
from ui.live import history_frame
from ui.server import book, my_runs, owner, store_notice

st.title("Compare runs")
store_notice()
if message := st.session_state.pop("deleted", None):  # said first: deleting the last run leaves no page below
    st.success(message)
runs = [run for run in my_runs() if run.history]
if not runs:
    st.info("No runs yet in this browser. Train a model on any page; every run shows up here, and stays.")
    st.stop()
table = summary_table(runs)

metric = st.radio("Curve", ["val accuracy", "val loss", "train loss"], horizontal=True)
fig = go.Figure()
for run in runs:
    points = history_frame(run).dropna(subset=[metric])  # evaluations only, for the validation curves
    if not points.empty:
        fig.add_scatter(x=points["epoch"], y=points[metric], name=run.label, mode="lines+markers")
fig.update_layout(height=380, xaxis_title="epoch", yaxis_title=metric, margin=dict(t=10))
if metric == "val accuracy":
    fig.update_yaxes(tickformat=".0%")
st.plotly_chart(fig, key="compare-curves")

varying = [k for k in SETTINGS if table[k].astype(str).nunique() > 1]
st.caption("Settings that differ between runs: " + (", ".join(varying) if varying else "none"))
st.dataframe(table, hide_index=True)
left, right, _ = st.columns([1, 1, 2])
left.download_button("Download as CSV", table.to_csv(index=False).encode(), "runs.csv", "text/csv", on_click="ignore")
right.download_button(
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
