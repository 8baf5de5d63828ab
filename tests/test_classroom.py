"""A class on the run store: codes, joining, the board and the teacher's powers (core.runs.classroom).

Runs reach the store as a trainer's messages would (`Store.record`: started, progress, end), so the board reads
real rows on a real SQLite file or PostgreSQL server; the training itself is tested in test_train and test_jobs.
"""

from __future__ import annotations

import csv
import io
import time

import pytest
from test_store import db, url  # noqa: F401 - the store fixtures: a SQLite file and a PostgreSQL database

from core.runs.classroom import CODE_ALPHABET, MAX_STUDENTS, Challenge, ClassError, Classroom, check_name
from core.runs.store import Begun, End, Event, Store
from core.train import Finished, Progress, RunConfig, Started

TEACHER, ADA, BOB, EVE = "t" * 32, "a" * 32, "b" * 32, "e" * 32


def finish(store: Store, owner: str, config: RunConfig, val_acc: float | None, status="completed") -> int:
    """A run of `owner` that trained and ended `status` at `val_acc`, written as a trainer's messages are."""
    run_id = store.new_run(owner, "Softmax regression #1", "train", config)
    store.record(Begun(run_id, Started("cpu", "CPU", 100, 10, 10), ("a", "b"), None))
    val_loss = float("nan") if status == "diverged" else 0.5
    store.record(Event(run_id, Progress(10, 10, 1.0, 0.4, val_loss, val_acc, 1000.0, 3.0)))
    store.record(End(run_id, Finished(status, "", 10, 3.0), None))
    assert store.flush()
    return run_id


@pytest.fixture
def room(tmp_path):
    return Classroom(Store(url(tmp_path)))


def test_a_code_reads_aloud_and_a_student_joins_with_it_in_any_case(room):
    lesson, key = room.start(TEACHER)
    assert len(lesson.code) == 6 and set(lesson.code) <= set(CODE_ALPHABET)
    assert not set(lesson.code) & set("0O1Il")
    assert room.join(ADA, f" {lesson.code[:3].lower()}-{lesson.code[3:]} ", "Ada").code == lesson.code
    (joined, member) = room.membership(ADA)
    assert joined.code == lesson.code and member.name == "Ada"
    with pytest.raises(ClassError, match="There is no class"):
        room.join(BOB, "ZZZZZZ" if lesson.code != "ZZZZZZ" else "YYYYYY", "Bob")
    with pytest.raises(ClassError, match="already"):
        room.join(BOB, lesson.code, "ADA")  # the same name in another case
    with pytest.raises(ClassError, match="teaches a class already"):
        room.start(TEACHER)
    with pytest.raises(ClassError, match="teacher"):
        room.join(TEACHER, lesson.code, "Me")


@pytest.mark.parametrize(
    "hostile",
    ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "<script>alert(1)</script>", "**bold**", "[a](http://x)",
     "a\u202ename", "x", "a" * 25, "$x$", ":red[x]", "\x00\x00"],
)  # fmt: skip
def test_a_hostile_display_name_is_refused_with_a_sentence(hostile):
    with pytest.raises(ClassError, match="display name"):
        check_name(hostile)


def test_names_of_any_script_are_kept_as_typed():
    assert check_name("  José   María ") == "José María"  # spaces folded
    assert check_name("tab\there\nand\rline") == "tab here and line"  # a tab or a line break becomes a space
    assert check_name("अनु") == "अनु" and check_name("O'Brien-Li") == "O'Brien-Li" and check_name("李雷") == "李雷"


def test_a_finished_run_of_a_joined_student_is_on_the_board_and_nothing_else_is(room):
    lesson, _ = room.start(TEACHER)
    store = room.store
    finish(store, ADA, RunConfig(lr=0.1), 0.80)  # before joining: not the class's
    room.join(ADA, lesson.code, "Ada")
    room.join(BOB, lesson.code, "Bob")
    finish(store, ADA, RunConfig(lr=0.1), 0.82)
    finish(store, ADA, RunConfig(lr=0.3), 0.84)
    finish(store, BOB, RunConfig(lr=3.0), None, status="diverged")
    finish(store, BOB, RunConfig(lr=0.1), 0.80, status="cancelled")  # stopped: not finished
    finish(store, EVE, RunConfig(lr=0.1), 0.90)  # not in the class
    store.new_run(BOB, "MLP #1", "train", RunConfig(model="mlp"))  # still queued
    board = room.board(lesson.code)
    assert sorted((r.name, r.config.lr, r.val_acc) for r in board.rows) == [
        ("Ada", 0.1, 0.82), ("Ada", 0.3, 0.84), ("Bob", 3.0, None)
    ]  # fmt: skip
    assert board.counts == {"training": 0, "queued": 1, "finished": 3, "diverged": 1}
    assert room.board(lesson.code).rows == board.rows  # copied once, not again at the next read


def test_the_teacher_alone_freezes_clears_hides_and_ends(room):
    lesson, _ = room.start(TEACHER)
    code = lesson.code
    room.join(ADA, code, "Ada")
    for act, args in [(room.freeze, ()), (room.clear, ()), (room.end, ()), (room.hide, ("Ada",))]:
        with pytest.raises(ClassError, match="Only this class's teacher"):
            act(ADA, code, *args)
    with pytest.raises(ClassError, match="Only this class's teacher"):
        room.set_challenge(ADA, code, Challenge("softmax"))
    with pytest.raises(ClassError, match="Only this class's teacher"):
        room.csv(ADA, code)

    finish(room.store, ADA, RunConfig(), 0.8)
    room.freeze(TEACHER, code)
    finish(room.store, ADA, RunConfig(lr=0.3), 0.83)
    assert len(room.board(code).rows) == 1  # frozen: the new run waits
    room.freeze(TEACHER, code, False)
    assert len(room.board(code).rows) == 2
    room.hide(TEACHER, code, "Ada")
    assert room.board(code).rows == [] and room.membership(ADA)[1].hidden
    room.hide(TEACHER, code, "Ada", False)
    room.clear(TEACHER, code)
    assert room.board(code).rows == []  # and the runs before the clear do not come back
    assert len(room.store.runs(ADA)) == 2  # the runs stay Ada's
    room.end(TEACHER, code)
    assert room.membership(ADA) is None
    with pytest.raises(ClassError, match="has ended"):
        room.join(BOB, code, "Bob")


def test_a_class_ends_by_itself_after_a_day(tmp_path):
    now = [time.time()]
    room = Classroom(Store(url(tmp_path)), clock=lambda: now[0])
    lesson, _ = room.start(TEACHER)
    now[0] += 24 * 3600 + 1
    with pytest.raises(ClassError, match="has ended"):
        room.join(ADA, lesson.code, "Ada")
    assert room.taught_by(TEACHER) is None
    room.start(TEACHER)  # and the teacher may start the next one


def test_an_ended_class_is_forgotten_after_30_days_with_its_names_and_rows(tmp_path):
    now = [time.time()]
    room = Classroom(Store(url(tmp_path)), clock=lambda: now[0])
    old, _ = room.start(TEACHER)
    room.join(ADA, old.code, "Ada")
    finish(room.store, ADA, RunConfig(), 0.8)
    assert len(room.board(old.code).rows) == 1
    now[0] += 29 * 86400  # ended by itself after a day, 28 days ago
    room.start(BOB)
    assert room.lesson(old.code) is not None, "kept a while, for the teacher's CSV"
    now[0] += 3 * 86400
    room.start(EVE)  # each new class sweeps the old ones
    assert room.lesson(old.code) is None and room.board(old.code) is None
    with room.store.engine.connect() as conn:
        from core.runs.classroom import board_runs, members

        assert conn.execute(board_runs.select().where(board_runs.c.code == old.code)).first() is None
        assert conn.execute(members.select().where(members.c.code == old.code)).first() is None


def test_a_teacher_key_lets_another_device_take_over_and_a_wrong_one_says_nothing_more(room):
    lesson, key = room.start(TEACHER)
    other = "o" * 32
    wrong_key = ClassError, "That code and teacher key do not match an open class."
    for code, k in [(lesson.code, "AAAA-BBBB-CCCC"), ("QQQQQQ", key), ("", "")]:
        with pytest.raises(wrong_key[0]) as err:
            room.take_over(other, code, k)
        assert str(err.value) == wrong_key[1]  # the same sentence, whichever part was wrong
    assert room.take_over(other, lesson.code.lower(), key.lower().replace("-", " ")).teacher == other
    with pytest.raises(ClassError, match="Only this class's teacher"):
        room.clear(TEACHER, lesson.code)  # the first device has handed it over


def test_a_full_class_says_so(room):
    lesson, _ = room.start(TEACHER)
    with room.store.transaction() as conn:  # 200 students at once, as 200 joins would leave it
        from core.runs.classroom import members

        rows = [dict(owner=f"{i:032d}", code=lesson.code, name=f"S{i}", name_key=f"s{i}", hidden=False, joined=0.0)
                for i in range(MAX_STUDENTS)]  # fmt: skip
        conn.execute(members.insert(), rows)
    with pytest.raises(ClassError, match="full"):
        room.join(ADA, lesson.code, "Ada")


def test_a_challenge_ranks_the_runs_in_its_limits_and_shows_the_rest_apart(room):
    lesson, _ = room.start(TEACHER)
    room.join(ADA, lesson.code, "Ada")
    room.set_challenge(TEACHER, lesson.code, Challenge("softmax", "fashion_mnist", max_epochs=3, min_batch=64))
    finish(room.store, ADA, RunConfig(epochs=3, batch_size=256), 0.8)
    finish(room.store, ADA, RunConfig(epochs=10, batch_size=256), 0.84)
    finish(room.store, ADA, RunConfig(epochs=2, batch_size=16), 0.81)
    rows = sorted(room.board(lesson.code).rows, key=lambda r: r.val_acc)
    assert [r.in_challenge for r in rows] == [True, False, False]
    assert rows[1].why_outside == ("batch size 16 is under 64",)
    assert rows[2].why_outside == ("10 epochs is over the limit of 3",)
    with pytest.raises(ClassError, match="above the largest"):
        room.set_challenge(TEACHER, lesson.code, Challenge("softmax", min_batch=512, max_batch=64))


def test_the_csv_has_names_settings_and_results_written_safely_and_no_owner_ids(room):
    lesson, _ = room.start(TEACHER)
    room.join(ADA, lesson.code, "Ada")
    finish(room.store, ADA, RunConfig(lr=0.3, batch_size=128), 0.83)
    with room.store.transaction() as conn:  # a name from before the checks (or any that slipped past them)
        from core.runs.classroom import members

        conn.execute(members.update().where(members.c.owner == ADA).values(name="=cmd|' /C calc'!A0"))
    data = room.csv(TEACHER, lesson.code).decode()
    (row,) = list(csv.DictReader(io.StringIO(data)))
    assert row["name"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it as text, never runs it
    assert (row["lr"], row["batch_size"], row["val_accuracy"], row["status"]) == ("0.3", "128", "0.83", "completed")
    assert ADA not in data and TEACHER not in data


def test_a_student_who_leaves_takes_their_rows_off_the_board_but_keeps_their_runs(room):
    lesson, _ = room.start(TEACHER)
    room.join(ADA, lesson.code, "Ada")
    finish(room.store, ADA, RunConfig(), 0.8)
    assert len(room.board(lesson.code).rows) == 1
    room.leave(ADA)
    assert room.board(lesson.code).rows == [] and room.membership(ADA) is None
    assert len(room.store.runs(ADA)) == 1


def test_two_servers_on_one_store_show_one_class(db):  # noqa: F811
    one, two = Classroom(Store(db)), Classroom(Store(db))
    lesson, _ = one.start(TEACHER)
    two.join(ADA, lesson.code, "Ada")  # joined through the other server
    finish(two.store, ADA, RunConfig(lr=0.2), 0.81)
    assert [r.val_acc for r in one.board(lesson.code).rows] == [0.81]
    assert [r.val_acc for r in two.board(lesson.code).rows] == [0.81]  # copied once, whoever read first
