"""core.lessons.tables: d2l 2.2's house_tiny step by step, each bad CSV answered by a message, a table trained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core import datasets
from core.lessons import tables
from core.train import RunConfig, train


def prepared_from(raw: bytes, target: str) -> tables.Prepared:
    result = tables.read_csv(raw, "t.csv")
    assert result.error is None, result.error
    return tables.prepare(result.frame, target)


def linear_csv(n: int = 200, seed: int = 0) -> bytes:
    """y = 3 a - 2 b + 5 (+2 when colour is red) + noise 0.01, with a few gaps in a and colour."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(10, 4, n), rng.normal(-3, 0.5, n)  # far from mean 0 / std 1: standardising matters
    colour = rng.choice(["red", "blue"], n)
    y = 3 * a - 2 * b + 5 + 2 * (colour == "red") + rng.normal(0, 0.01, n)
    frame = pd.DataFrame({"a": a, "b": b, "colour": colour, "y": y})
    return frame.to_csv(index=False).encode()


# --- house_tiny, as d2l 2.2 prints it ------------------------------------------------------------


def test_house_tiny_steps_reproduce_d2l():
    result = tables.read_csv(tables.example_csv("house_tiny"), "house_tiny.csv")
    assert result.error is None and result.notes == ()
    assert list(result.frame.columns) == ["NumRooms", "RoofType", "Price"]
    assert tables.numeric_columns(result.frame) == ["NumRooms", "Price"]
    p = tables.prepare(result.frame, "Price")
    assert p.error is None and p.notes == []
    steps = {s.title: s.frame for s in p.steps}
    fill = "Fill gaps with the column mean"
    assert list(steps) == ["Raw table", "Inputs", "Targets", "One-hot categories", fill, "Tensors"]
    one_hot = steps["One-hot categories"]
    assert list(one_hot.columns) == ["NumRooms", "RoofType_Slate", "RoofType_nan"]
    assert one_hot["NumRooms"].isna().sum() == 2
    assert one_hot["RoofType_nan"].tolist() == [True, True, False, True]
    filled = steps[fill]
    assert filled["NumRooms"].tolist() == [3.0, 2.0, 4.0, 3.0]  # NaN -> 3.0, the mean of 2 and 4
    assert p.X.shape == (4, 3) and p.X.dtype == torch.float64
    assert torch.equal(p.X, torch.tensor([[3.0, 0, 1], [2, 0, 1], [4, 1, 0], [3, 0, 1]], dtype=torch.float64))
    assert p.y.tolist() == [127500.0, 106000.0, 178100.0, 140000.0]
    assert p.feature_names == ("NumRooms", "RoofType_Slate", "RoofType_nan")
    assert "4 rows" in p.cannot_train and str(tables.MIN_ROWS_TRAIN) in p.cannot_train  # shown, not trained
    with pytest.raises(ValueError, match="too few to train"):
        tables.to_data(p)


def test_houses_example_trains_after_dropping_rows_without_price():
    result = tables.read_csv(tables.example_csv("houses"), "houses.csv")
    p = tables.prepare(result.frame, "Price")
    assert p.notes == ["Dropped 3 row(s) whose 'Price' is missing: a row without its answer cannot teach."]
    assert p.X.shape == (97, 6) and not p.X.isnan().any() and p.cannot_train is None


# --- Bad files: one clear sentence each, never an exception -------------------------------------

BAD = {
    "empty": (b"", "is empty"),
    "fifty megabytes": (b"a,b\n" + b"1,2\n" * (50 * 2**20 // 4), "tables up to 10 MB"),
    "binary bytes": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file"),
    "random bytes": (np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(), "binary file"),
    "excel workbook": (b"PK\x03\x04" + bytes(200), "Excel workbook"),
    "random text": (b"Lorem ipsum dolor sit\nconsectetur adipiscing\nsed do eiusmod\n", "does not look like a CSV"),
    "blank lines": (b"  \n\n\n", "not even a header row"),
    "header only": (b"a,b\n", "0 row(s)"),
    "one row": (b"a,b\n1,2\n", "1 row(s) of data"),
    "ragged rows": (b"a,b\n1,2\n3,4,5,6\n", "not a well-formed CSV"),
    "one column with values": (b"a,b\n1,\n2,\n3,\n", "one column only"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_csv_gets_a_message(case):
    raw, expected = BAD[case]
    result = tables.read_csv(raw, "upload.csv")
    assert result.frame is None
    assert expected in result.error and result.error.startswith("upload.csv")


def test_no_numeric_column_to_predict():
    result = tables.read_csv(b"name,colour\nann,red\nbob,blue\n", "words.csv")
    assert result.error is None and tables.numeric_columns(result.frame) == []
    p = tables.prepare(result.frame, "colour")
    assert p.X is None and "nothing to predict" in p.error


def test_latin1_file_is_read_and_said_so():
    raw = "Stadt,Preis\nK\xf6ln,1\nM\xfcnchen,2\n".encode("latin-1")
    result = tables.read_csv(raw, "staedte.csv")
    assert result.error is None and result.frame["Stadt"].tolist() == ["K\xf6ln", "M\xfcnchen"]
    assert "read as Latin-1" in result.notes[0]


def test_semicolons_and_decimal_commas_as_excel_writes_them():
    result = tables.read_csv(b"x;y\n1,5;2\n3,5;4\n", "excel.csv")
    assert result.frame["x"].tolist() == [1.5, 3.5]


def test_rows_without_a_target_are_dropped_and_counted():
    p = prepared_from(b"x,y\n1,2\n2,\n3,6\n4,\n5,10\n6,12\n", "y")
    assert p.notes == ["Dropped 2 row(s) whose 'y' is missing: a row without its answer cannot teach."]
    assert p.y.tolist() == [2, 6, 10, 12] and p.cannot_train  # 4 rows left: shown, too few to train


def test_categories_are_capped_and_said_so():
    raw = ("id,x,y\n" + "".join(f"u{i},{i},{2 * i}\n" for i in range(50))).encode()
    p = prepared_from(raw, "y")
    assert len(p.notes) == 1 and "'id' has 50 categories" in p.notes[0] and "identifier" in p.notes[0]
    id_columns = [c for c in p.feature_names if c.startswith("id_")]
    assert len(id_columns) == tables.MAX_CATEGORIES + 1  # 19 commonest + (other) + nan
    assert "id_(other)" in id_columns and p.X.shape == (50, 1 + len(id_columns))


def test_non_numeric_target_is_refused_with_the_choices():
    p = prepared_from(tables.example_csv("house_tiny"), "RoofType")
    assert p.error == "'RoofType' is not a numeric column; choose one of: NumRooms, Price."


# --- To training data, and training ------------------------------------------------------------


def test_to_data_splits_by_seed_and_standardises_with_training_rows():
    p = prepared_from(linear_csv(), "y")
    data = tables.to_data(p, seed=3)
    assert data.name == datasets.USER_TABLE and data.feature_names == p.feature_names and data.target_name == "y"
    assert data.X_train.shape == (160, 5) and data.X_val.shape == (40, 5) and data.y_train.shape == (160, 1)
    assert data.X_train.dtype == data.y_train.dtype == torch.float32
    assert torch.allclose(data.X_train[:, :2].mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(data.X_train[:, :2].std(0, correction=0), torch.ones(2), atol=1e-5)
    assert not torch.allclose(data.X_val[:, :2].mean(0), torch.zeros(2), atol=1e-3)  # validation rows unseen
    assert torch.equal(tables.to_data(p, seed=3).y_val, data.y_val)
    assert not torch.equal(tables.to_data(p, seed=4).y_val, data.y_val)
    stats = tables.standardization(p, seed=3)
    assert stats["feature"].tolist()[:2] == ["a", "b"] and stats["train mean"][0] == pytest.approx(10, abs=1)


def test_prepared_table_trains_to_a_low_loss():
    p = prepared_from(linear_csv(), "y")
    data = tables.to_data(p, seed=0)
    config = RunConfig(model="linear", dataset="table", lr=0.1, batch_size=32, epochs=30)
    run = train(config, data=data)
    assert run.outcome.status == "completed"
    assert run.last_eval.val_loss < 1e-3 < tables.mean_guess_loss(data)
    weights = tables.learned_weights(run.model, data.feature_names).set_index("feature")["weight"]
    std_a = p.X[:, 0].std(correction=0).item()
    assert weights["a"] == pytest.approx(3 * std_a, rel=0.05)  # per standard deviation of a
    assert weights.index[0] == "a"  # the largest effect first


def test_user_table_is_a_dataset_only_with_its_data():
    assert datasets.status("table").available is False
    with pytest.raises(ValueError, match="Data preparation page"):
        datasets.load("table")
    RunConfig(model="linear", dataset="table")  # valid: the page passes the data to start()


# --- Hostile tables (issue 12) -----------------------------------------------------------------


def arrow_ok(frame: pd.DataFrame) -> bool:
    """What st.dataframe does with a table: a frame pyarrow cannot convert is the page's crash."""
    from streamlit import dataframe_util

    return bool(dataframe_util.convert_pandas_df_to_arrow_bytes(frame))


@pytest.mark.parametrize(
    "csv",
    [
        "order_id,rooms,price\n" + "".join(f"{10**21 + i},{i % 4 + 1},{100 + 7 * i}\n" for i in range(8)),
        "a,b\n1,2\n" + f"{10**400},3\n" + "".join(f"{i},{i + 1}\n" for i in range(6)),
        "id,name\n" + "".join(f"{10**25 + i},x{i}\n" for i in range(6)),  # no numeric column at all
    ],
    ids=["22-digit ids", "10**400", "nothing numeric"],
)
def test_integers_too_large_for_64_bits_are_read_as_text_and_every_step_draws(csv):
    result = tables.read_csv(csv.encode(), "big.csv")
    assert result.error is None and arrow_ok(result.frame)
    assert any("too large for 64-bit numbers" in note and "text" in note for note in result.notes), result.notes
    numeric = tables.numeric_columns(result.frame)
    if not numeric:
        return
    prepared = tables.prepare(result.frame, numeric[-1])
    assert prepared.error is None
    assert all(arrow_ok(step.frame) for step in prepared.steps)


INFINITE = "x,z,y\n" + "".join(f"{i},{i % 3},{2 * i + 1}\n" for i in range(20))
INFINITE += "inf,1,5\n-inf,2,6\n3,1e308,7\n4,1,inf\n"  # four rows no mean or squared loss survives


def test_infinite_and_huge_values_are_named_not_filled_with_the_mean():
    frame = tables.read_csv(INFINITE.encode()).frame
    assert tables.extreme_rows(frame) == 4
    prepared = tables.prepare(frame, "y")  # dropped by default
    assert len(prepared.X) == 20 and torch.isfinite(prepared.X).all() and torch.isfinite(prepared.y).all()
    note = " ".join(prepared.notes)
    assert "4 row(s)" in note and "infinite" in note and "too large to square" in note, note
    clipped = tables.prepare(frame, "y", extreme="clip")
    assert len(clipped.X) == 24, "clipped: every row stays"
    assert clipped.X[:, 0].max() == 19 and clipped.X[:, 0].min() == 0 and clipped.X[:, 1].max() == 2
    assert clipped.y.max() == 39, "the infinite target becomes the largest ordinary one"
    assert "clipped" in " ".join(clipped.notes)


def test_a_table_with_huge_values_trains_once_they_are_dropped():
    data = tables.to_data(tables.prepare(tables.read_csv(INFINITE.encode()).frame, "y"))
    run = train(RunConfig(model="linear", dataset="table", lr=0.1, batch_size=4, epochs=30), data)
    assert run.outcome.status == "completed", run.outcome.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_utf16_and_bom_files_are_read(encoding):
    text = "Größe,Preis\n" + "".join(f"{i},{3 * i}\n" for i in range(6))
    raw = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        raw = ("\ufeff" + text).encode(encoding)  # with the byte-order mark Windows writes
    result = tables.read_csv(raw, "excel.csv")
    assert result.error is None, result.error
    assert list(result.frame.columns) == ["Größe", "Preis"] and len(result.frame) == 6


@pytest.mark.parametrize("name", ["'+str(__import__('os').system('touch x'))+'", "Kid's score", 'a "quoted" name'])
def test_the_steps_code_quotes_a_column_name_whatever_it_holds(name):
    """Issue 21: a target named '+str(__import__('os').system('touch x'))+' was pasted into the code as code."""
    import ast

    frame = pd.DataFrame({"Rooms": [1, 2, 3, 4, 5, 6], name: [1.0, 2.0, 2.5, 4.0, 5.5, 6.0]})
    steps = {step.title: step.code for step in tables.prepare(frame, name).steps}
    for title in ("Inputs", "Targets"):
        tree = ast.parse(steps[title])  # "Kid's score" was a SyntaxError
        strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)]
        assert strings == [name], (title, steps[title])
        assert not any(
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" for node in ast.walk(tree)
        )
