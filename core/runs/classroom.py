"""A class on one server (or several sharing a store): a teacher's join code, the students who chose to join, and
the board of what they found together.

A teacher's browser starts a class and gets a six-character code that reads aloud well (no 0/O, 1/I/l) and a
teacher key, shown once, that lets another device of theirs take over. Students join with the code and a display
name they choose; names are checked here (length, characters, no duplicates in the class) and never carry
markup, formulas or control characters. Joining shares nothing but the board's rows: each run a member finishes on
a training page after joining is copied to `class_runs` (its model, settings and final numbers, never its owner's
id, weights or photos) the next time anyone reads the board, so every server on one store shows one class. Only the
class's teacher can end, freeze, clear, hide names or set a challenge; every such call checks the caller's owner
id. A class ends when its teacher ends it or `CLASS_HOURS` after it started, and is forgotten `KEEP_DAYS` later.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import math
import secrets
import time
import unicodedata
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from core import datasets
from core.runs.store import Store, explain, guarded
from core.runs.store import runs as runs_table
from core.train import RunConfig, recipe_parts

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/l: a code read aloud to a room
CODE_LENGTH = 6
CLASS_HOURS = 24.0
KEEP_DAYS = 30.0  # an ended class's board stays for its teacher's CSV this long
MAX_STUDENTS = 200
NAME_LENGTH = (2, 24)
BOARD_MODELS = {"linear": "Linear regression", "softmax": "Softmax regression", "mlp": "MLP", "resnet": "ResNet"}
COUNTED = ("completed", "guessing", "diverged")  # a stopped, failed or interrupted run did not finish
RECIPE = ("momentum", "weight_decay", "lr_schedule", "label_smoothing", "normalize")

meta = MetaData()
classes = Table(
    "classes",
    meta,
    Column("code", String(8), primary_key=True),
    Column("teacher", String(64), index=True, nullable=False),  # the owner id of the teacher's browser
    Column("key_hash", String(64), nullable=False),  # sha256 of the teacher key: the key itself is never kept
    Column("created", Float, nullable=False),
    Column("ends", Float, nullable=False),  # created + CLASS_HOURS, or when the teacher ended it
    Column("frozen", Float),  # since when the board takes no new runs (None: it does)
    Column("cleared", Float, nullable=False, default=0.0),  # nor one started before this
    Column("challenge", JSON),  # Challenge's fields
)
members = Table(
    "class_members",
    meta,
    Column("owner", String(64), primary_key=True),  # a browser is in one class at a time
    Column("code", String(8), index=True, nullable=False),
    Column("name", String(32), nullable=False),
    Column("name_key", String(32), nullable=False),  # the name folded: "Ada" and "ADA " are one name
    Column("hidden", Boolean, nullable=False, default=False),
    Column("joined", Float, nullable=False),
)
board_runs = Table(
    "class_runs",
    meta,
    Column("code", String(8), primary_key=True),
    Column("run_id", Integer, primary_key=True),
    Column("owner", String(64), index=True, nullable=False),  # joined to the name at read time; never shown
    Column("model", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("val_acc", Float),
    Column("val_loss", Float),
    Column("seconds", Float),
    Column("created", Float, nullable=False),
)


class ClassError(ValueError):
    """What the Class page says when an action cannot be taken: a sentence, never a traceback."""


def normal_code(text: str) -> str:
    """A code as typed or read aloud: any case, spaces and dashes ignored."""
    return "".join(ch for ch in text.upper() if ch not in " -_\t")


def check_name(name: str) -> str:
    """The display name to keep, or ClassError saying what is wrong. Letters (of any script), digits, spaces and
    . ' - _ inside; it starts with a letter or a digit, so it cannot be a formula (= + - @) or markup."""
    name = " ".join(unicodedata.normalize("NFKC", name).split())
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        raise ClassError(f"A display name has {low} to {high} characters.")
    for ch in name:  # combining marks too: Devanagari's vowel signs, an accent NFKC cannot compose
        if not (ch.isalnum() or ch in " .'-_" or unicodedata.category(ch) in ("Mn", "Mc")):
            shown = repr(ch) if unicodedata.category(ch).startswith("C") else f"“{ch}”"
            raise ClassError(f"A display name has letters, digits, spaces and . ' - _ only, not {shown}.")
    if not name[0].isalnum():
        raise ClassError("A display name starts with a letter or a digit.")
    return name


def cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: one that starts like a formula (= + - @, a tab or a return) is
    prefixed with a quote (OWASP's advice), whatever check let it in."""
    text_ = "" if value is None else str(value)
    return "'" + text_ if text_[:1] in ("=", "+", "-", "@", "\t", "\r") else text_


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Challenge:
    """The teacher's challenge: one page's model, and limits a run must keep to be ranked (None: no limit)."""

    model: str
    dataset: str | None = None
    max_epochs: int | None = None
    min_batch: int | None = None
    max_batch: int | None = None

    def outside(self, config: RunConfig) -> list[str]:
        """Why a run's settings fall outside the challenge, in words; empty when it keeps to it."""
        why = []
        if config.model != self.model:
            why.append(f"the challenge is on {BOARD_MODELS.get(self.model, self.model)}")
        if self.dataset and config.dataset != self.dataset:
            why.append(f"the challenge's dataset is {datasets.title(self.dataset)}")
        if self.max_epochs and config.epochs > self.max_epochs:
            why.append(f"{config.epochs} epochs is over the limit of {self.max_epochs}")
        if self.min_batch and config.batch_size < self.min_batch:
            why.append(f"batch size {config.batch_size} is under {self.min_batch}")
        if self.max_batch and config.batch_size > self.max_batch:
            why.append(f"batch size {config.batch_size} is over {self.max_batch}")
        return why

    def describe(self) -> str:
        parts = [BOARD_MODELS.get(self.model, self.model)]
        if self.dataset:
            parts.append(f"on {datasets.title(self.dataset)}")
        if self.max_epochs:
            parts.append(f"at most {self.max_epochs} epoch{'s' * (self.max_epochs > 1)}")
        if self.min_batch or self.max_batch:
            parts.append(f"batch size {self.min_batch or 1} to {self.max_batch or 'any'}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Lesson:
    """One class as stored (named so beside the dataset's classes)."""

    code: str
    teacher: str
    created: float
    ends: float
    frozen: float | None
    cleared: float
    challenge: Challenge | None

    def open(self, now: float | None = None) -> bool:
        return (now or time.time()) < self.ends


@dataclass(frozen=True)
class Member:
    name: str
    hidden: bool
    joined: float


@dataclass(frozen=True)
class BoardRow:
    """One finished run as the board shows it: whose (by display name only), its settings and what it reached."""

    name: str
    model: str
    config: RunConfig
    status: str
    val_acc: float | None
    val_loss: float | None
    seconds: float | None
    in_challenge: bool
    why_outside: tuple[str, ...] = ()


@dataclass(frozen=True)
class Board:
    lesson: Lesson
    rows: list[BoardRow]
    counts: dict[str, int]  # training, queued, finished, diverged


def _words(method):
    """A write that fails in the database becomes a ClassError worded for the page, and the store's `problem`."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            self._ready()
            return method(self, *args, **kwargs)
        except SQLAlchemyError as err:
            self.store.problem = explain(err, f"({self.store.where})")
            self.store.renew_connections()
            raise ClassError(self.store.problem + " Nothing was changed; try again in a moment.") from None

    return call


class Classroom:
    def __init__(self, store: Store, clock=time.time):
        self.store, self.clock = store, clock

    def _ready(self) -> None:
        self.store.create_tables(meta)  # the tables, once per server (the store remembers it made them)

    # --- the teacher ----------------------------------------------------------------------

    @_words
    def start(self, teacher: str) -> tuple[Lesson, str]:
        """A new class taught from this browser, and its teacher key (shown once). A teacher with a class open
        gets ClassError: one class at a time."""
        now = self.clock()
        if self.taught_by(teacher) is not None:
            raise ClassError("This browser teaches a class already: end it first.")
        key = "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))  # 59 bits
        with self.store.transaction() as conn:
            conn.execute(delete(classes).where(classes.c.ends < now - KEEP_DAYS * 86400))  # old boards go, and
            for table in (members, board_runs):  # what was left of them
                conn.execute(delete(table).where(table.c.code.not_in(select(classes.c.code))))
            for _ in range(20):  # 31^6 ~ 9e8 codes: a clash is rare, and tried again
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if conn.execute(select(classes.c.code).where(classes.c.code == code)).first() is None:
                    break
            row = dict(
                code=code, teacher=teacher, key_hash=_hash(normal_code(key)), created=now, ends=now + CLASS_HOURS * 3600
            )
            conn.execute(insert(classes).values(**row, cleared=0.0))
        return self.lesson(code), key

    def _taught(self, teacher: str, code: str) -> Lesson:
        """The class `code` if `teacher` teaches it; ClassError otherwise (a student can never act as the teacher)."""
        lesson = self.lesson(code)
        if lesson is None and self.store.problem:
            raise ClassError(self.store.problem)
        if lesson is None or not hmac.compare_digest(lesson.teacher, teacher):
            raise ClassError("Only this class's teacher can do that.")
        return lesson

    @_words
    def take_over(self, owner: str, code: str, key: str) -> Lesson:
        """This browser becomes the teacher of `code`, given its teacher key. A code or key that does not match is
        refused with one sentence that does not say which part was wrong."""
        row = self._class_row(normal_code(code))
        lesson, stored = (_lesson_of(row), row["key_hash"]) if row else (None, "")
        matches = hmac.compare_digest(stored or "", _hash(normal_code(key)))
        if lesson is None or not lesson.open(self.clock()) or not matches:
            raise ClassError("That code and teacher key do not match an open class.")
        with self.store.transaction() as conn:
            conn.execute(update(classes).where(classes.c.code == lesson.code).values(teacher=owner))
            conn.execute(delete(members).where(members.c.owner == owner))  # a teacher is not a student of it
        return self.lesson(lesson.code)

    @_words
    def end(self, teacher: str, code: str) -> None:
        self._taught(teacher, code)
        with self.store.transaction() as conn:
            conn.execute(update(classes).where(classes.c.code == code).values(ends=self.clock()))
            conn.execute(delete(members).where(members.c.code == code))

    @_words
    def freeze(self, teacher: str, code: str, frozen: bool = True) -> None:
        """A frozen board stays as it is (the runs that finish meanwhile wait); unfrozen, it takes them in."""
        lesson = self._taught(teacher, code)
        if frozen and lesson.frozen is None:
            self._copy_new_runs(lesson)  # what finished before now is on the frozen board, read or not
        with self.store.transaction() as conn:
            conn.execute(update(classes).where(classes.c.code == code).values(frozen=self.clock() if frozen else None))

    @_words
    def clear(self, teacher: str, code: str) -> None:
        """An empty board: the runs on it go, and no run started before now comes back. The runs stay their owners'."""
        self._taught(teacher, code)
        with self.store.transaction() as conn:
            conn.execute(delete(board_runs).where(board_runs.c.code == code))
            conn.execute(update(classes).where(classes.c.code == code).values(cleared=self.clock()))

    @_words
    def hide(self, teacher: str, code: str, name: str, hidden: bool = True) -> None:
        """A name the teacher hides leaves the board (its runs too) until shown again."""
        self._taught(teacher, code)
        mine = (members.c.code == code) & (members.c.name == name)
        with self.store.transaction() as conn:
            conn.execute(update(members).where(mine).values(hidden=hidden))

    @_words
    def set_challenge(self, teacher: str, code: str, challenge: Challenge | None) -> None:
        self._taught(teacher, code)
        if challenge is not None and challenge.model not in BOARD_MODELS:
            raise ClassError(f"A challenge is on one of: {', '.join(BOARD_MODELS.values())}.")
        if challenge and challenge.min_batch and challenge.max_batch and challenge.min_batch > challenge.max_batch:
            raise ClassError("The smallest batch size is above the largest.")
        values = dict(challenge=challenge.__dict__ if challenge else None)
        with self.store.transaction() as conn:
            conn.execute(update(classes).where(classes.c.code == code).values(**values))

    # --- students -------------------------------------------------------------------------

    @_words
    def join(self, owner: str, code: str, name: str) -> Lesson:
        """`owner` joins class `code` as `name` (leaving any other class). ClassError: a wrong or ended code, a
        refused or taken name, a full class, or the class's own teacher."""
        code, name = normal_code(code), check_name(name)
        lesson = self.lesson(code)
        if len(code) != CODE_LENGTH or lesson is None:
            raise ClassError(f"There is no class with the code “{code}”. Check it with your teacher.")
        if not lesson.open(self.clock()):
            raise ClassError(f"The class {code} has ended.")
        if lesson.teacher == owner:
            raise ClassError("This browser is this class's teacher; a student joins from their own device.")
        with self.store.transaction() as conn:
            conn.execute(delete(members).where(members.c.owner == owner))
            count = conn.execute(select(func.count()).select_from(members).where(members.c.code == code)).scalar()
            if count >= MAX_STUDENTS:
                raise ClassError(f"The class {code} is full ({MAX_STUDENTS} students).")
            key = name.casefold()
            if conn.execute(select(members.c.owner).where(members.c.code == code, members.c.name_key == key)).first():
                raise ClassError(f"Someone in this class is called “{name}” already: choose another name.")
            row = dict(owner=owner, code=code, name=name, name_key=key, hidden=False, joined=self.clock())
            conn.execute(insert(members).values(**row))
        return lesson

    @_words
    def leave(self, owner: str) -> None:
        """`owner` leaves their class: their name and their rows leave its board; their runs stay theirs."""
        with self.store.transaction() as conn:
            code = conn.execute(select(members.c.code).where(members.c.owner == owner)).scalar()
            conn.execute(delete(members).where(members.c.owner == owner))
            if code:
                conn.execute(delete(board_runs).where(board_runs.c.code == code, board_runs.c.owner == owner))

    # --- reading ------------------------------------------------------------------------

    @guarded(None)
    def lesson(self, code: str) -> Lesson | None:
        row = self._class_row(code)
        return _lesson_of(row) if row else None

    def _class_row(self, code: str):
        self._ready()
        with self.store.engine.connect() as conn:
            return conn.execute(select(classes).where(classes.c.code == code)).mappings().first()

    @guarded(None)
    def taught_by(self, teacher: str) -> Lesson | None:
        """The open class this browser teaches, if any."""
        self._ready()
        query = select(classes.c.code).where(classes.c.teacher == teacher, classes.c.ends > self.clock())
        with self.store.engine.connect() as conn:
            code = conn.execute(query.order_by(classes.c.created.desc())).scalar()
        return self.lesson(code) if code else None

    @guarded(None)
    def membership(self, owner: str) -> tuple[Lesson, Member] | None:
        """The open class `owner` has joined, and as whom; None when none."""
        self._ready()
        m = members
        query = select(classes, m.c.name, m.c.hidden, m.c.joined).join(m, m.c.code == classes.c.code)
        with self.store.engine.connect() as conn:  # one read: each rerun of a training page makes it
            row = conn.execute(query.where(m.c.owner == owner)).mappings().first()
        lesson = _lesson_of(row) if row else None
        if lesson is None or not lesson.open(self.clock()):
            return None
        return lesson, Member(row["name"], row["hidden"], row["joined"])

    @guarded(list)
    def names(self, code: str) -> list[tuple[str, bool]]:
        """The class's members as the teacher's tools list them: (display name, hidden), by name."""
        self._ready()
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(members.c.name, members.c.hidden).where(members.c.code == code)).all()
        return sorted(((name, hidden) for name, hidden in rows), key=lambda n: n[0].casefold())

    @guarded(None)
    def board(self, code: str) -> Board | None:
        """The board now: its new finished runs copied in first, then every row and the counts."""
        self._ready()
        lesson = self.lesson(code)
        if lesson is None:
            return None
        if lesson.frozen is None and lesson.open(self.clock()):
            self._copy_new_runs(lesson)
        m, r = members, runs_table
        with self.store.engine.connect() as conn:
            names = {row.owner: (row.name, row.hidden) for row in conn.execute(select(m).where(m.c.code == code))}
            query = select(board_runs).where(board_runs.c.code == code).order_by(board_runs.c.run_id)
            stored = [row for row in conn.execute(query).mappings() if not names.get(row["owner"], ("", True))[1]]
            mine = (r.c.owner == m.c.owner) & (m.c.code == code) & (r.c.created >= m.c.joined)
            live = select(r.c.state, func.count()).join(m, mine).where(r.c.task == "train", r.c.group == "")
            states = dict(conn.execute(live.where(r.c.state.in_(("queued", "running"))).group_by(r.c.state)).all())
        rows = [self._board_row(row, names[row["owner"]][0], lesson.challenge) for row in stored]
        counts = {
            "training": states.get("running", 0),
            "queued": states.get("queued", 0),
            "finished": len(rows),
            "diverged": sum(row.status == "diverged" for row in rows),
        }
        return Board(lesson, rows, counts)

    @staticmethod
    def _board_row(row, name: str, challenge: Challenge | None) -> BoardRow:
        config = RunConfig.from_dict(row["config"])
        why = tuple(challenge.outside(config)) if challenge else ()
        numbers = {k: row[k] for k in ("val_acc", "val_loss", "seconds")}
        numbers = {k: (v if v is not None and math.isfinite(v) else None) for k, v in numbers.items()}
        return BoardRow(name, row["model"], config, row["status"], **numbers, in_challenge=not why, why_outside=why)

    def _copy_new_runs(self, lesson: Lesson) -> None:
        """Each run a member started after joining (and after a clear) that has finished, onto the board, once."""
        r, m = runs_table, members
        mine = (r.c.owner == m.c.owner) & (m.c.code == lesson.code) & (r.c.created >= m.c.joined)
        on_board = select(board_runs.c.run_id).where(board_runs.c.code == lesson.code)
        query = (
            select(r.c.id, r.c.owner, r.c.config, r.c.outcome, r.c.created, r.c.elapsed)
            .join(m, mine)
            .where(r.c.state == "done", r.c.task == "train", r.c.group == "", r.c.error.is_(None))
            .where(r.c.created >= lesson.cleared, r.c.id.not_in(on_board))
        )
        with self.store.engine.connect() as conn:
            new = list(conn.execute(query).mappings())
        rows = []
        for run in new:
            status, model = (run["outcome"] or {}).get("status"), run["config"].get("model")
            if status not in COUNTED or model not in BOARD_MODELS:
                continue
            last_eval = next((p for p in reversed(self.store.history(run["id"])) if p.get("val_loss") is not None), {})
            rows.append(
                dict(code=lesson.code, run_id=run["id"], owner=run["owner"], model=model, config=run["config"])
                | dict(status=status, val_acc=_finite(last_eval.get("val_acc")), created=run["created"])
                | dict(val_loss=_finite(last_eval.get("val_loss")), seconds=run["elapsed"])
            )
        if rows:
            try:
                with self.store.transaction() as conn:
                    conn.execute(insert(board_runs), rows)
            except IntegrityError:  # another server copied the same runs a moment ago: theirs stand
                pass

    # --- taking it away ---------------------------------------------------------------------

    def csv(self, teacher: str, code: str) -> bytes:
        """The class's runs as one CSV: display names, settings and results; no owner ids. Teacher only."""
        self._taught(teacher, code)
        board = self.board(code)
        out = io.StringIO()
        writer = csv.writer(out)
        settings = ("lr", "batch_size", "epochs", "optimizer", *RECIPE, "dataset", "seed")
        writer.writerow(["name", "model", *settings, "status", "val_accuracy", "val_loss", "seconds", "in_challenge"])
        for row in board.rows if board else []:
            values = [getattr(row.config, k) for k in settings]
            numbers = [row.val_acc, row.val_loss, row.seconds]
            writer.writerow([cell(row.name), row.model, *map(cell, values), row.status, *numbers, row.in_challenge])
        return out.getvalue().encode()


def _lesson_of(row) -> Lesson:
    """A class's row (of `classes`, or a join that holds its columns) as a Lesson."""
    challenge = Challenge(**row["challenge"]) if row["challenge"] else None
    fields = {k: row[k] for k in ("code", "teacher", "created", "ends", "frozen", "cleared")}
    return Lesson(**fields, challenge=challenge)


def _finite(value) -> float | None:
    """A stored number (the store writes infinities and NaN as strings) as a float, None unless finite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def recipe(config: RunConfig) -> str:
    """The training recipe in a few words: the optimizer, then what differs from d2l's plain minibatch SGD."""
    optimizer = config.optimizer + (f" {config.momentum:g}" if config.optimizer in ("momentum", "nesterov") else "")
    return ", ".join([optimizer, *recipe_parts(config)])
