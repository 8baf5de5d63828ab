"""Data preparation (d2l 2.2): a table with gaps and words, step by step to tensors, then a linear regression on it.

The table is d2l's house_tiny, a larger built-in houses table, or a CSV the user uploads. Every step of
`core.lessons.tables.prepare` is shown as a table with the pandas line that made it; then the rows are split,
the features standardised, and the linear-regression model trains in the background like on every
training page, ending with the weight it learned for each feature.
"""

import plotly.graph_objects as go
import streamlit as st

from core.datasets import USER_TABLE
from core.lessons import tables
from ui.links import bound
from ui.live import live_view, train_controls
from ui.server import store_notice
from ui.settings import common_settings, make_config
from ui.text import md

URL = "query-params"
SHOW_ROWS = 200  # a step's first rows are enough to see it; the browser need not get 100,000 of them
UPLOAD = "upload"


@st.cache_data(max_entries=8, show_spinner="Reading the table...")
def read(raw: bytes, name: str) -> tables.ReadResult:
    return tables.read_csv(raw, name)


@st.cache_data(max_entries=8, show_spinner="Preparing the table...")
def prepare(raw: bytes, name: str, target: str, extreme: str) -> tables.Prepared:
    return tables.prepare(read(raw, name).frame, target, extreme)


def show_step(col, number: int, step: tables.Step) -> None:
    col.markdown(f"**{number}. {step.title}**")
    col.code(step.code, language="python", wrap_lines=True)  # wrapped: no scroll region a keyboard cannot reach
    rows = len(step.frame)
    col.dataframe(step.frame.head(SHOW_ROWS), height=min(38 + 35 * min(rows, SHOW_ROWS), 250))
    more = f" (first {SHOW_ROWS} of {rows:,} rows)" if rows > SHOW_ROWS else ""
    if step.note or more:
        col.caption(md(step.note) + more)


def draw_weights(job) -> None:
    """After training: the weight of each standardised feature, and the loss against guessing the mean."""
    run = job.run_on(data)  # a stored run (after a reload) takes this page's table, if it has the same columns
    if job.state != "done" or run is None or not job.history:
        return
    weights, target = tables.learned_weights(run.model, run.data.feature_names), run.data.target_name
    st.subheader(f"What the model learned about {target}")
    fig = go.Figure(go.Bar(x=weights["weight"], y=weights["feature"], orientation="h"))
    fig.update_layout(height=80 + 28 * len(weights), margin=dict(t=10, b=10), yaxis_autorange="reversed")
    left, right = st.columns([3, 2])
    left.plotly_chart(fig, key=f"weights-{job.id}")
    right.dataframe(weights, hide_index=True)
    b = float(run.model.b.detach().reshape(-1)[0])
    last = run.last_eval
    if last is not None:
        right.caption(f"Validation loss (MSE) {last.val_loss:.4g}; always guessing the training mean would give "
                      f"{tables.mean_guess_loss(run.data):.4g}.")  # fmt: skip
    st.caption(f"The features are standardised, so each weight is the change in {md(target)} when its feature "
               f"rises by one standard deviation, and the weights compare directly. The bias b = {b:.4g} is the "
               "prediction for an average row (every feature at its mean).")  # fmt: skip


st.title("Data preparation")
st.markdown(
    "Real tables have gaps and words; a model wants a tensor of numbers. Follow d2l 2.2 step by step: separate the "
    "inputs from the target, turn each category into a True/False column (with one for *missing*), fill the numeric "
    "gaps with the column mean, and make tensors. Then train the linear-regression model on the result."
)
captions = [*tables.EXAMPLES.values(), f"a CSV file of your own, up to {tables.MAX_MB} MB"]
source = bound(st.radio, "Table", [*tables.EXAMPLES, UPLOAD], captions=captions, horizontal=True, key="table")
if source == UPLOAD:
    file = st.file_uploader(
        f"Your CSV file (up to {tables.MAX_MB} MB): a header row, then one row per example",
        type=["csv", "txt", "tsv"],
        max_upload_size=tables.MAX_MB,  # the same number as core.lessons.tables' own check
    )
    if file is None:
        st.info(
            "Choose a CSV file. Any numeric column can be the target; the other columns become the inputs. "
            f"A file over {tables.MAX_MB} MB is refused before it is sent (its name turns red): keep fewer rows."
        )
        st.stop()
    raw, name = file.getvalue(), file.name
else:
    raw, name = tables.example_csv(source), f"{source}.csv"
    st.download_button(f"Download {name}", raw, name, "text/csv", on_click="ignore", key="download")

result = read(raw, name)
if result.error:
    st.error(md(result.error))  # messages name the file and its columns as the user wrote them
    st.stop()
for note in result.notes:
    st.warning(md(note))
numeric = tables.numeric_columns(result.frame)
if not numeric:
    st.error(
        f"No column of {md(name)} holds numbers, so there is nothing to predict: linear regression predicts a number."
    )
    st.dataframe(result.frame.head(SHOW_ROWS))
    st.stop()
# an upload's columns are not known to a link, so its target stays out of the URL
widget = {"key": "upload-target"} if source == UPLOAD else {"key": "target", "bind": URL}
target = st.selectbox("Target: the column to predict", numeric, index=len(numeric) - 1, **widget)
extreme = "drop"
if bad := tables.extreme_rows(result.frame):
    st.warning(
        f"{bad} row(s) of {md(name)} hold infinite values (inf, -inf) or numbers too large to square (beyond "
        f"±{tables.HUGE:.0e}). No mean, standard deviation or squared loss survives them, so they are not filled "
        "in like gaps: choose what to do with them."
    )
    choices = {"drop": "drop those rows", "clip": "clip the values to their column's ordinary range"}
    extreme = st.radio("Rows with infinite or huge values", list(choices), format_func=choices.get, key="extreme")
prepared = prepare(raw, name, target, extreme)
if prepared.error:
    st.error(md(prepared.error))
    st.stop()
for note in prepared.notes:
    st.warning(md(note))
for i in range(0, len(prepared.steps), 2):
    for col, number in zip(st.columns(2), range(i, min(i + 2, len(prepared.steps)))):
        show_step(col, number + 1, prepared.steps[number])

st.header("Train a linear regression on it")
settings = common_settings(default_epochs=50, default_lr=0.1, image=False, default_batch=32)
if prepared.cannot_train:
    st.info(f"{md(prepared.cannot_train)} Choose houses.csv or upload a larger table to train.")
    st.stop()
data = tables.to_data(prepared, seed=settings["seed"])
st.markdown(
    f"The rows are shuffled (by the seed) and split: {len(data.X_train)} to train on, {len(data.X_val)} to validate. "
    "Then each feature is **standardised** - minus its mean, divided by its standard deviation, both taken from the "
    "training rows only so that the validation rows stay unseen. Remember the exam scores on the linear-regression "
    "page: raw hours made the loss valley a thousand times steeper across than along, so a learning rate small enough "
    "not to diverge crawled. Standardised features make the valley round, and one learning rate suits every feature."
)
with st.expander("The training rows' mean and std of each feature"):
    st.dataframe(tables.standardization(prepared, seed=settings["seed"]), hide_index=True)
config = make_config(model="linear", dataset=USER_TABLE, **settings)
store_notice()
job = train_controls(config, ("linear",), f"Linear regression on {name}", data=data)
if job is None:
    st.info("Choose the settings in the sidebar and press **Train**. The loss curve grows while it trains.")
    st.stop()
if job.feature_names and job.feature_names != data.feature_names:
    st.caption(f"Showing your last run, **{md(job.label)}**, trained on another table.")
live_view(job, draw_extra=draw_weights)
