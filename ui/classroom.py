"""The Class page's pieces: the join code and its QR code, the live board (counts, the class's map, a leaderboard per
model), the projector's style, and the challenge's note on a training page. Every display name reaches the page as
data (a table's cell, a chart's point), never as Markdown or HTML; `core.runs.classroom` keeps markup out of them too.
"""

from __future__ import annotations

import io

import pandas as pd
import plotly.graph_objects as go
import segno
import streamlit as st

from core.runs.classroom import BOARD_MODELS, Board, ClassError, Classroom, recipe
from core.train import RunConfig
from ui.server import book, owner
from ui.text import svg

CODE_STYLE = "font: 700 4.5rem/1.1 monospace; letter-spacing: 0.12em; margin: 0; color: #000"
BOARD_SECONDS = 2.0  # the board polls the store this often: a run's end shows within 5 s
LEADERS = 10  # rows of a leaderboard: what a projector shows at once
MARKERS = {"completed": "circle", "guessing": "circle-open", "diverged": "x"}


@st.cache_resource(show_spinner=False)
def classroom() -> Classroom:
    return Classroom(book().store)


def join_link(code: str) -> str:
    """The Class page's address with the code in it (the one this browser sees, so a proxy's name stays)."""
    page = (st.context.url or "http://localhost:8501/class").split("?")[0].rstrip("/")
    if not page.endswith("/class"):
        page = page.rsplit("/", 1)[0] + "/class" if page.count("/") > 2 else page + "/class"
    return f"{page}?join={code}"


def qr_png(link: str) -> bytes:
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=12, border=2, dark="#000000", light="#ffffff")
    return out.getvalue()


def code_panel(code: str) -> None:
    """The code large, read aloud in groups of three, the QR code of the join link, and the link."""
    link = join_link(code)
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.html(f"<p class='join-code' style='{CODE_STYLE}'>{code[:3]} {code[3:]}</p>")  # six of CODE_ALPHABET
    left.caption("Join on the **Class** page with this code, or scan the QR code.")
    left.code(link, language=None)
    right.image(qr_png(link), caption="The join link as a QR code", width=300)
    host = link.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host in ("localhost", "127.0.0.1", "[::1]"):  # the address this browser used: only this machine reaches it
        st.warning(f"This browser opened the app as {host}, which students' devices cannot reach. Open the app by "
                   "this machine's network name or address (the *Network URL* that `streamlit run` prints) to "
                   "give them a link and a QR code that work.")  # fmt: skip


PROJECTOR_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header {display: none !important;}
.block-container {padding-top: 1rem; max-width: 100% !important;}
html, body, [data-testid="stMarkdownContainer"] p, [data-testid="stMetricValue"] {font-size: 1.35rem;}
[data-testid="stMetricValue"] {font-size: 2.6rem !important; font-weight: 700;}
.corner-code {position: fixed; top: 0.5rem; right: 1rem; z-index: 1000; background: #000; color: #fff;
  font: 700 2rem/1.2 monospace; padding: 0.2rem 0.8rem; border-radius: 0.4rem; letter-spacing: 0.15em;}
</style>"""


def projector_style(code: str) -> None:
    st.html(PROJECTOR_CSS + f"<div class='corner-code' aria-label='join code'>{code}</div>")


def board_frame(board: Board) -> pd.DataFrame:
    rows = []
    for r in board.rows:
        c = r.config
        rows.append(
            {"name": r.name, "model": BOARD_MODELS[r.model], "val accuracy": r.val_acc, "val loss": r.val_loss}
            | {"lr": c.lr, "batch size": c.batch_size, "epochs": c.epochs, "recipe": recipe(c), "seconds": r.seconds}
            | {"status": r.status, "in challenge": r.in_challenge, "outside because": "; ".join(r.why_outside)}
        )
    return pd.DataFrame(rows)


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """A board table as the projector shows it: numbers rounded to what a room reads, as text."""
    out = table.copy()
    out["val accuracy"] = [f"{v:.1%}" if pd.notna(v) else "–" for v in table["val accuracy"]]
    out["val loss"] = [f"{v:.4g}" if pd.notna(v) else "–" for v in table["val loss"]]
    out["lr"] = [f"{v:g}" for v in table["lr"]]
    out["seconds"] = [f"{v:.1f}" if pd.notna(v) else "–" for v in table["seconds"]]
    return out


def class_map(board: Board) -> go.Figure:
    """Every finished run: learning rate (log scale) against final accuracy, a colour per model."""
    fig = go.Figure()
    for model, title in BOARD_MODELS.items():
        for status, symbol in MARKERS.items():
            runs = [r for r in board.rows if r.model == model and r.status == status and r.model != "linear"]
            if runs:
                fig.add_scatter(
                    x=[r.config.lr for r in runs],
                    y=[r.val_acc if r.val_acc is not None else 0.0 for r in runs],  # a diverged run sits at 0
                    text=[svg(r.name) for r in runs],  # a name never becomes a tag
                    mode="markers",
                    marker=dict(symbol=symbol, size=14, line=dict(width=2)),
                    name=title + ("" if status == "completed" else f" ({status})"),
                    legendgroup=model,
                    hovertemplate="%{text}<br>lr %{x:g}<br>%{y:.1%}<extra></extra>",
                )
    fig.update_layout(height=400, margin=dict(t=10), xaxis_title="learning rate", yaxis_title="final val accuracy")
    fig.update_layout(showlegend=True, legend=dict(orientation="h", yanchor="bottom", y=1.0), font=dict(size=16))
    fig.update_xaxes(type="log")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


def draw_board(code: str, projector: bool = False) -> None:
    """The board as it is now; a fragment that redraws itself every BOARD_SECONDS. On the projector the map and
    the leaderboards stand side by side, with fewer columns, so the whole board fits 1280x720."""
    board = classroom().board(code)
    if board is None:
        st.warning("The board cannot be read right now (the run store is not answering). It comes back by itself.")
        return
    if board.lesson.frozen:
        st.info("The board is frozen: runs that finish now join it when the teacher unfreezes it.")
    counts = st.columns(4)
    for column, (what, n) in zip(counts, board.counts.items()):
        column.metric(what, n)
    if not board.rows:
        st.info("No finished runs yet. Each run a joined student finishes on a training page shows up here.")
        return
    table = board_frame(board)
    if board.lesson.challenge:
        st.caption(f"Challenge: {board.lesson.challenge.describe()}. Runs outside it are listed apart, not ranked.")
    chart, boards = st.columns(2) if projector else (st.container(), st.container())
    chart.plotly_chart(class_map(board), key="class-map")
    ranked = table[table["in challenge"]]
    for title in [t for t in BOARD_MODELS.values() if t in set(ranked["model"])]:
        runs = ranked[ranked["model"] == title]
        regression = title == BOARD_MODELS["linear"]  # no accuracy: the lowest loss leads
        best = runs.sort_values("val loss" if regression else "val accuracy", ascending=regression, na_position="last")
        best = best.drop_duplicates("name").head(LEADERS).reset_index(drop=True)  # each student's best run
        best.index += 1
        students = runs["name"].nunique()
        boards.subheader(f"{title}: {students} student{'s' * (students != 1)}, {len(runs)} run{'s' * (len(runs) != 1)}")
        columns = ["name", "val loss" if regression else "val accuracy", "lr", "batch size", "epochs"]
        if not projector:
            columns += ["recipe", "seconds"] + (["val loss"] if not regression else [])
        boards.table(shown(best)[columns])  # a table of text: large, and readable from the back
    outside = table[~table["in challenge"]]
    if not outside.empty:
        boards.subheader(f"Outside the challenge ({len(outside)} runs, not ranked)")
        boards.table(shown(outside)[["name", "model", "val accuracy", "outside because"]].reset_index(drop=True))


def live_board(code: str, projector: bool = False) -> None:
    st.fragment(run_every=BOARD_SECONDS)(draw_board)(code, projector)


def challenge_note(config: RunConfig, models: tuple[str, ...]) -> None:
    """On a training page: the class's challenge, when this browser has joined one on this page's model, and
    whether the settings keep to it."""
    joined = classroom().membership(owner())
    challenge = joined[0].challenge if joined else None
    if challenge is None or challenge.model not in models:
        return
    why = challenge.outside(config)
    text = f"Class {joined[0].code}'s challenge: {challenge.describe()}. "
    if why:
        st.warning(text + "These settings are outside it (" + "; ".join(why) + "): such a run is shown apart.")
    else:
        st.info(text + "These settings keep to it: your run is ranked on the board.")


def class_csv(teacher: str, code: str) -> bytes:
    """The teacher's download; a store that fails meanwhile gives a one-line file that says so, not a traceback."""
    try:
        return classroom().csv(teacher, code)
    except ClassError as err:
        return f"{err}\n".encode()


def act(action, *args, done: str = "") -> None:
    """A teacher's or a student's action; its ClassError is said, never raised."""
    try:
        action(*args)
        if done:
            st.session_state["class-done"] = done
    except ClassError as err:
        st.session_state["class-error"] = str(err)
