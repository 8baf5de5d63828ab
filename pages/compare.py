"""Compare runs: every run of this browser session, curves overlaid, settings and results in one table."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import datasets
from pages._ui import history_frame, session_runs

st.title("Compare runs")
runs = [job for job in session_runs() if job.history]
if not runs:
    st.info("No runs yet in this browser session. Train a model on any page; every run shows up here.")
    st.stop()

# settings that differ between the runs, then what each run reached
keys = [
    "model",
    "implementation",
    "dataset",
    "lr",
    "batch_size",
    "epochs",
    "optimizer",
    "loss",
    "seed",
    "num_hiddens",
    "num_layers",
    "activation",
    "init_std",
    "resnet_width",
    "resnet_blocks",
    "resnet_stages",
    "train_examples",
    "device",
]
rows = []
for job in runs:
    last, last_eval = job.history[-1], job.run.last_eval
    rows.append(
        {
            "run": job.label,
            **{k: getattr(job.config, k) for k in keys},
            "dataset": datasets.title(job.config.dataset),
            "status": job.outcome.status if job.outcome else job.state,
            "epochs done": round(last.epoch, 2),
            "final train loss": last.train_loss,
            "final val loss": last_eval.val_loss if last_eval else None,
            "final val accuracy": last_eval.val_acc if last_eval else None,
            "examples/s": round(last.examples_per_s),
            "seconds": round(last.elapsed, 1),
        }
    )
table = pd.DataFrame(rows)

metric = st.radio("Curve", ["val accuracy", "val loss", "train loss"], horizontal=True)
fig = go.Figure()
for job in runs:
    points = history_frame(job).dropna(subset=[metric])  # evaluations only, for the validation curves
    if not points.empty:
        fig.add_scatter(x=points["epoch"], y=points[metric], name=job.label, mode="lines+markers")
fig.update_layout(height=380, xaxis_title="epoch", yaxis_title=metric, margin=dict(t=10))
if metric == "val accuracy":
    fig.update_yaxes(tickformat=".0%")
st.plotly_chart(fig, key="compare-curves")

varying = [k for k in keys if table[k].astype(str).nunique() > 1]
st.caption("Settings that differ between runs: " + (", ".join(varying) if varying else "none"))
st.dataframe(table, hide_index=True)
st.download_button("Download as CSV", table.to_csv(index=False).encode(), "runs.csv", "text/csv")
