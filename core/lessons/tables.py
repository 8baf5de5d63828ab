"""Data preparation (d2l 2.2): a CSV table with gaps and words, step by step to tensors, then to a `Data` to train on.

`read_csv` turns uploaded bytes into a DataFrame or into one sentence saying why it cannot (too large,
empty, binary, not a table, too few rows), trying UTF-8 then Latin-1. `prepare` follows d2l's recipe on
a chosen target column - drop rows without a target, split inputs from targets, one-hot the categorical
columns with a NaN column (`pd.get_dummies(dummy_na=True)`, at most `MAX_CATEGORIES` per column), fill
the numeric gaps with the column mean, and make float64 tensors - and keeps every intermediate table
with the pandas line that made it, so a page can show them. `to_data` splits the rows (seeded) into
training and validation and standardises the features with the training rows' mean and std. Nothing
here raises on bad user input: the results carry messages instead.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from core.datasets import PROJECT_DIR, USER_TABLE, Data

HOUSE_TINY = PROJECT_DIR / "assets" / "house_tiny.csv"
EXAMPLES = {"house_tiny": "house_tiny.csv (d2l 2.2, 4 rows)", "houses": "houses.csv (100 houses, with gaps)"}
MAX_MB = 10  # the largest table, in MB of 10^6 bytes as Streamlit's uploader counts them (it refuses larger ones)
MAX_BYTES = MAX_MB * 10**6  # refused before parsing: pandas needs several times the file's size in memory
MAX_CATEGORIES = 20  # one-hot columns per categorical column, the rarer categories lumped into "(other)"
MIN_ROWS_SHOW = 2
MIN_ROWS_TRAIN = 5  # at least 4 training rows and 1 validation row
VAL_FRACTION = 0.2
OTHER = "(other)"
HUGE = 1e150  # a number whose square overflows float64's 1.8e308 cannot be standardised or enter a squared loss
EXTREME = ("drop", "clip")


def example_csv(key: str) -> bytes:
    """The bytes of a built-in table, as if the user had uploaded it."""
    if key == "house_tiny":
        return HOUSE_TINY.read_bytes()
    return houses().to_csv(index=False).encode()


def houses(n: int = 100, seed: int = 0) -> pd.DataFrame:
    """house_tiny's columns plus Area, for 100 houses: a price that is linear in them, and gaps everywhere."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(1, 7, n).astype(float)
    area = (25 * rooms + rng.normal(0, 12, n)).round().clip(15)  # m2: about 25 per room
    roof = rng.choice(["Slate", "Tile", "Metal"], n).astype(object)
    roof_price = pd.Series(roof).map({"Slate": 20000, "Tile": 8000, "Metal": 0}).to_numpy()
    price = (40000 + 15000 * rooms + 900 * area + roof_price + rng.normal(0, 5000, n)).round(-2)
    rooms[rng.random(n) < 0.1] = np.nan  # the gaps that d2l's recipe fills
    area[rng.random(n) < 0.05] = np.nan
    roof[rng.random(n) < 0.15] = None
    price[rng.choice(n, 3, replace=False)] = np.nan  # rows that cannot teach: no answer
    return pd.DataFrame({"NumRooms": rooms, "Area": area, "RoofType": roof, "Price": price})


# --- Reading: bytes -> DataFrame, or the reason why not --------------------------------------


class ReadResult(NamedTuple):
    frame: pd.DataFrame | None
    error: str | None  # one sentence for the user; None when `frame` is there
    notes: tuple[str, ...] = ()  # what was done that the user should know


def _decode(raw: bytes, name: str) -> tuple[str | None, str | None, list[str]]:
    """bytes -> (text, error, notes): UTF-8 (with or without a BOM), else Latin-1; binary files refused."""
    head = raw[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 byte-order mark: Excel's "Unicode text"
        try:
            return raw.decode("utf-16"), None, []
        except UnicodeDecodeError:
            return None, f"{name} starts as UTF-16 text but does not decode as it: save it as CSV UTF-8.", []
    if head.startswith(b"PK\x03\x04"):
        return None, f"{name} is a zip archive or an Excel workbook, not CSV text: save it as CSV and upload that.", []
    if b"\x00" in head:
        return None, f"{name} is a binary file (an image, a program, a spreadsheet...), not CSV text.", []
    try:
        return raw.decode("utf-8-sig"), None, []
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # never fails: every byte is a Latin-1 character
    control = sum(ch < " " and ch not in "\t\r\n" for ch in text[:8192])
    if control > 0.05 * min(len(text), 8192):  # text files have next to no control characters
        return None, f"{name} is a binary file, not CSV text.", []
    return text, None, [f"{name} is not UTF-8; it was read as Latin-1. If letters look wrong, save it as CSV UTF-8."]


def read_csv(raw: bytes, name: str = "the file") -> ReadResult:
    """Uploaded bytes -> a table of at least 2 columns and MIN_ROWS_SHOW rows, or an error saying why not."""
    if not raw:
        return ReadResult(None, f"{name} is empty (0 bytes).")
    if len(raw) > MAX_BYTES:
        size = len(raw) / 10**6
        return ReadResult(None, f"{name} is {size:.1f} MB; tables up to {MAX_MB} MB are read here. Keep fewer rows.")
    text, error, notes = _decode(raw, name)
    if error:
        return ReadResult(None, error)
    first_line = text.lstrip().split("\n", 1)[0]
    sep = max([",", ";", "\t", "|"], key=first_line.count)  # Excel writes ";" where "," is the decimal mark
    sep = sep if first_line.count(sep) else ","
    try:
        decimal = "," if sep == ";" else "."
        frame = pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        return ReadResult(None, f"{name} has no text in it, not even a header row.")
    except (pd.errors.ParserError, ValueError) as err:
        reason = (str(err).strip().splitlines() or ["unreadable"])[-1].removeprefix("Error tokenizing data. C error: ")
        rule = "every row needs one value per column"
        return ReadResult(None, f"{name} is not a well-formed CSV table ({reason}): {rule}.")
    need = "a header row and at least two comma-separated columns: inputs and a value to predict"
    if frame.shape[1] < 2:
        return ReadResult(None, f"{name} does not look like a CSV table: it reads as one column. A table needs {need}.")
    if len(frame) < MIN_ROWS_SHOW:
        need = f"at least {MIN_ROWS_SHOW} are needed to show the steps and {MIN_ROWS_TRAIN} to train"
        return ReadResult(None, f"{name} has {len(frame)} row(s) of data under its header; {need}.")
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    frame = frame.drop(columns=empty)  # e.g. "Unnamed: 3" from a comma at the end of every line
    if empty:
        notes.append(f"Dropped {len(empty)} empty column(s): {', '.join(empty)}.")
    if frame.shape[1] < 2:
        return ReadResult(
            None, f"{name} has values in one column only; a table to learn from needs inputs and a target."
        )
    frame.columns = [str(c) for c in frame.columns]
    for c in _huge_integer_columns(frame):  # pandas keeps them as Python ints, which no table drawing converts
        frame[c] = frame[c].map(lambda v: str(v) if isinstance(v, int) else v)
        notes.append(
            f"'{c}' holds whole numbers too large for 64-bit numbers (up to {len(max(frame[c].dropna(), key=len))} "
            "digits), so it is read as text, as identifiers are: it will not be a number to predict."
        )
    return ReadResult(frame, None, tuple(notes))


def _huge_integer_columns(frame: pd.DataFrame) -> list[str]:
    def huge(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**64

    return [c for c in frame.columns if frame[c].dtype == object and frame[c].map(huge).any()]


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """The columns a linear regression can predict: numbers (not True/False) with at least one value."""
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and frame[c].notna().any()
    ]


# --- Preparing: d2l 2.2's recipe, every intermediate table kept ------------------------------


@dataclass(frozen=True)
class Step:
    title: str
    code: str  # the pandas / torch line that made `frame`
    frame: pd.DataFrame
    note: str = ""


@dataclass
class Prepared:
    steps: list[Step] = field(default_factory=list)
    X: torch.Tensor | None = None  # (n, d) float64, as d2l makes it
    y: torch.Tensor | None = None  # (n,) float64
    feature_names: tuple[str, ...] = ()
    target_name: str = ""
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # the table cannot become tensors at all

    @property
    def cannot_train(self) -> str | None:
        """Why these tensors cannot train (too few rows), or None."""
        if self.error:
            return self.error
        if len(self.X) < MIN_ROWS_TRAIN:
            return (f"{len(self.X)} rows are enough to show the steps but too few to train: a training part and a "
                    f"validation part need at least {MIN_ROWS_TRAIN} rows together.")  # fmt: skip
        return None


def _cap_categories(inputs: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Keep the MAX_CATEGORIES - 1 commonest values of each categorical column; the rest become OTHER."""
    inputs = inputs.copy()
    for c in inputs.columns:
        if pd.api.types.is_numeric_dtype(inputs[c]):
            continue
        counts = inputs[c].value_counts()
        if len(counts) > MAX_CATEGORIES:
            keep = counts.index[: MAX_CATEGORIES - 1]
            inputs[c] = inputs[c].where(inputs[c].isin(keep) | inputs[c].isna(), OTHER)
            unique = counts.max() == 1
            hint = " Every value is different: an identifier like this tells the model nothing." if unique else ""
            notes.append(
                f"'{c}' has {len(counts)} categories; one-hot keeps the {MAX_CATEGORIES - 1} commonest and "
                f"puts the other {len(counts) - len(keep)} into '{c}_{OTHER}'.{hint}"
            )
    return inputs


def _extreme(frame: pd.DataFrame) -> pd.DataFrame:
    """True where a numeric cell is infinite or too large to square in float64 (|x| > HUGE)."""
    numeric = frame[[c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]]
    numeric = numeric.astype(float)
    return ~np.isfinite(numeric) & numeric.notna() | (numeric.abs() > HUGE)


def extreme_rows(frame: pd.DataFrame) -> int:
    """How many rows hold an infinite or huge number: no mean, std or squared loss survives them."""
    return int(_extreme(frame).any(axis=1).sum())


def _tame(frame: pd.DataFrame, how: str, notes: list[str]) -> pd.DataFrame:
    """Drop the rows with infinite or huge numbers, or clip those numbers to their column's ordinary range."""
    bad = _extreme(frame)
    rows = bad.any(axis=1)
    if not rows.any():
        return frame
    where = ", ".join(f"{c} ({int(n)})" for c, n in bad.sum().items() if n)
    what = f"{int(rows.sum())} row(s) hold infinite values or values too large to square (beyond ±{HUGE:.0e}): {where}"
    if how == "drop":
        notes.append(f"{what}. They were dropped: no mean, standard deviation or squared loss survives them.")
        return frame[~rows]
    frame = frame.copy()
    for c in bad.columns[bad.any()]:
        ordinary = frame.loc[~bad[c], c]
        low, high = (ordinary.min(), ordinary.max()) if ordinary.notna().any() else (np.nan, np.nan)
        frame[c] = frame[c].astype(float).clip(low, high)  # inf and +huge -> high, -inf and -huge -> low
    notes.append(f"{what}. Their values were clipped to the smallest and largest ordinary value of their column.")
    return frame


def prepare(frame: pd.DataFrame, target: str, extreme: str = "drop") -> Prepared:
    """d2l 2.2 on `frame`, predicting `target`: the tables of every step, then X (n, d) and y (n,).

    `extreme`: what to do first with the rows that hold an infinite or huge number, "drop" or "clip" them."""
    if extreme not in EXTREME:
        raise ValueError(f"extreme must be one of {', '.join(EXTREME)}, not {extreme!r}")
    out = Prepared(target_name=target)
    numeric = numeric_columns(frame)
    if not numeric:
        out.error = "No column holds numbers, so there is nothing to predict: linear regression predicts a number."
        return out
    if target not in numeric:
        out.error = f"'{target}' is not a numeric column; choose one of: {', '.join(numeric)}."
        return out
    out.steps.append(
        Step(
            "Raw table",
            "data = pd.read_csv(file)",
            frame,
            "Missing values show as None here; pandas holds them as NaN.",
        )
    )

    frame = _tame(frame, extreme, out.notes)
    values = frame[target].replace([np.inf, -np.inf], np.nan)
    data = frame[values.notna()]
    if len(data) < len(frame):
        gone = len(frame) - len(data)
        out.notes.append(f"Dropped {gone} row(s) whose '{target}' is missing: a row without its answer cannot teach.")
    if len(data) < MIN_ROWS_SHOW:
        out.error = f"Only {len(data)} row(s) have a value of '{target}'; at least {MIN_ROWS_SHOW} are needed."
        return out
    inputs, targets = data.drop(columns=[target]), data[target].astype(float)
    # repr quotes any name: a column called "'+str(__import__('os').system(...))+'" stays a string when pasted
    out.steps.append(Step("Inputs", f"inputs = data.drop(columns=[{target!r}])", inputs))
    out.steps.append(Step("Targets", f"targets = data[{target!r}]", targets.to_frame()))

    inputs = pd.get_dummies(_cap_categories(inputs, out.notes), dummy_na=True)
    words = [c for c in data.columns if c != target and not pd.api.types.is_numeric_dtype(data[c])]
    note = (f"Each category of {', '.join(words)} became a True/False column; _nan marks a missing one."
            if words else "No column holds words, so nothing changes here.")  # fmt: skip
    out.steps.append(Step("One-hot categories", "inputs = pd.get_dummies(inputs, dummy_na=True)", inputs, note))

    inputs = inputs.replace([np.inf, -np.inf], np.nan)
    empty = [c for c in inputs.columns if inputs[c].isna().all()]
    if empty:
        inputs = inputs.drop(columns=empty)
        out.notes.append(f"Dropped column(s) with no value at all: {', '.join(empty)}.")
    if inputs.shape[1] == 0:
        out.error = f"No input column is left beside '{target}', so there is nothing to predict it from."
        return out
    means = inputs.mean()
    filled = {c: int(n) for c, n in inputs.isna().sum().items() if n}
    inputs = inputs.fillna(means)
    note = "; ".join(f"{c}: {n} gap(s) -> {means[c]:.4g}" for c, n in filled.items()) or "No gaps to fill."
    out.steps.append(Step("Fill gaps with the column mean", "inputs = inputs.fillna(inputs.mean())", inputs, note))

    out.X = torch.tensor(inputs.to_numpy(dtype=float))  # (n, d) float64
    out.y = torch.tensor(targets.to_numpy(dtype=float))  # (n,) float64
    out.feature_names = tuple(str(c) for c in inputs.columns)
    tensor_table = pd.DataFrame(out.X.numpy(), index=inputs.index, columns=list(out.feature_names)).assign(
        **{f"y: {target}": out.y.numpy()}
    )
    note = f"X: {out.X.dtype}, shape {tuple(out.X.shape)}; y: {out.y.dtype}, shape {tuple(out.y.shape)}"
    code = "X = torch.tensor(inputs.to_numpy(dtype=float))\ny = torch.tensor(targets.to_numpy(dtype=float))"
    out.steps.append(Step("Tensors", code, tensor_table, note))
    return out


# --- Training data: split, standardise, float32 ------------------------------------------------


def _split(n: int, seed: int, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded shuffled row indices -> (train, validation); at least one row in each."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    num_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[num_val:], order[:num_val]


def _scale(X_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (d,) of the training rows; a constant column keeps std 1 (it is 0 once centred)."""
    mean, std = X_train.mean(0), X_train.std(0, correction=0)
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def to_data(prepared: Prepared, seed: int = 0, val_fraction: float = VAL_FRACTION) -> Data:
    """Prepared tensors -> a `Data`: seeded train/validation split, features standardised with the training
    rows' statistics only (validation stays unseen), float32, targets (n, 1)."""
    if prepared.cannot_train:
        raise ValueError(prepared.cannot_train)
    train, val = _split(len(prepared.X), seed, val_fraction)
    mean, std = _scale(prepared.X[train])
    X = ((prepared.X - mean) / std).float()  # (n, d)
    y = prepared.y.float().reshape(-1, 1)  # (n, 1)
    names = prepared.feature_names
    return Data(USER_TABLE, X[train], y[train], X[val], y[val], feature_names=names, target_name=prepared.target_name)


def standardization(prepared: Prepared, seed: int = 0, val_fraction: float = VAL_FRACTION) -> pd.DataFrame:
    """The mean and std that `to_data` takes from the training rows, one row per feature."""
    train, _ = _split(len(prepared.X), seed, val_fraction)
    mean, std = _scale(prepared.X[train])
    return pd.DataFrame({"feature": prepared.feature_names, "train mean": mean.numpy(), "train std": std.numpy()})


def learned_weights(model: nn.Module, feature_names: tuple[str, ...]) -> pd.DataFrame:
    """A trained linear model's weight per (standardised) feature, largest effect first."""
    w = model.w.detach().reshape(-1).cpu().double().numpy()  # (d,)
    frame = pd.DataFrame({"feature": feature_names, "weight": w})
    return frame.sort_values("weight", key=abs, ascending=False, ignore_index=True)


def mean_guess_loss(data: Data) -> float:
    """Validation MSE of always predicting the training mean: the loss a model has to beat."""
    return float(((data.y_val - data.y_train.mean()) ** 2).mean())
