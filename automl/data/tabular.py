"""Tables: read a CSV, check it, infer column types, split it and describe it for the model."""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.data.dialect import UNREADABLE, decode, detect, read_bytes
from automl.data.schema import Data, Schema, Split
from automl.data.splits import OWN_PARTS, split_rows
from automl.data.text import MAX_TEXT_CHARS, as_text, describe_text
from automl.errors import AutomlError, AutomlWarning, first_line

MIN_ROWS = 20
NUMERIC_SHARE = 0.9  # an object column this numeric is a numeric column with stray text
QUANTILE_BINS = 32  # the piecewise-linear encoding's bins per column: Gorishniy et al. 2022 use 8-64
BLANK_TARGET_SHARE = 0.5  # rows with a blank target are left out, unless more than this share of them


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV (plain or compressed) as saved: its encoding, separator and decimal mark are found by trying.

    Anything but a UTF-8 comma CSV is read with a note saying how (`automl/data/dialect.py` has the rules);
    a file that cannot be read is an error that says what is wrong with it.
    """
    try:
        text, encoding = decode(read_bytes(path), str(path))
    except FileNotFoundError:
        raise AutomlError(f"data file {path} does not exist; check the path") from None
    except UNREADABLE as error:
        raise AutomlError(f"cannot read {path} as CSV ({first_line(error)}); check the file format") from None
    dialect = detect(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=dialect.sep, decimal=dialect.decimal)
    except pd.errors.EmptyDataError:
        raise AutomlError(f"data file {path} is empty; it needs a header row and data rows") from None
    except pd.errors.ParserError as error:
        raise AutomlError(f"cannot read {path} as CSV ({first_line(error)}); check the file format") from None
    # Named by the file's name alone, the same however the path was written: `search --csv` reads it twice.
    for note in (f"{path.name}: read as {encoding}" if encoding else None, dialect.note(path.name)):
        if note:
            warnings.warn(note, AutomlWarning, stacklevel=1)
    if frame.empty:
        raise AutomlError(f"data file {path} has a header but no rows; add data rows")
    return frame


def load_tabular(
    path: Path,
    target: str,
    task: str,
    *,
    categorical: list[str] = (),
    text: list[str] = (),
    drop: list[str] = (),
    positive: str | int = "",
    test: float = 0.2,
    validation: float = 0.2,
    seed: int = 42,
    target_transform: str = "standardize",
    group: str = "",
    time: str = "",
    validation_path: Path | None = None,
    test_path: Path | None = None,
    images: list[str] = (),
    frame: pd.DataFrame | None = None,
) -> Data:
    """Read, check and split a table; the schema is learned on the training split only. With `group`, the rows of
    one value of that column (a customer, a sender) fall on one side only; with `time`, the latest rows are the test
    split and those before them the validation split. Neither column is a feature. `validation_path` and `test_path`
    are the user's own rows for those splits (CSVs with the same columns); what is not given is carved off `path`.
    `images`: columns kept as they are (image file paths, which `automl.data.image_columns` reads). `frame`: the
    CSV's rows, if read already."""
    frame = read_csv(path) if frame is None else frame
    where = f"{path.name}"
    split_by = [c for c in (group, time) if c]
    check_columns(frame, [target, *categorical, *text, *images, *drop, *split_by], where)
    frame = rows_with_target(frame, target, where)
    if len(frame) < MIN_ROWS:
        raise AutomlError(f"{where} has {len(frame)} rows; a search needs at least {MIN_ROWS}")
    used = [c for c in frame.columns if c not in (*drop, *split_by)]
    files = dict(zip(OWN_PARTS, (validation_path, test_path), strict=True))
    own = {part: own_rows(file, used, target) for part, file in files.items() if file}
    if own:  # after the data's rows, in the order split_rows reads them
        frame = pd.concat([frame, *own.values()], ignore_index=True)
    y_raw = frame[target]
    check_target(y_raw, target, task, where)
    features = frame.drop(columns=[target, *dict.fromkeys([*drop, *split_by])])
    numeric, categorical_columns = infer_column_types(features.drop(columns=[*text, *images]), categorical, where)
    features = features[numeric + categorical_columns + list(text) + list(images)]

    classes = target_classes(y_raw, task, positive, where)
    y = _encode_target(y_raw, task, classes)
    stratify = y if task != "regression" else None
    train_idx, val_idx, test_idx = split_rows(frame, stratify, test=test, validation=validation, seed=seed, group=group,
                                              time=time, own={part: len(rows) for part, rows in own.items()},
                                              where=where)

    train_x = features.iloc[train_idx].reset_index(drop=True)
    schema = describe(train_x, numeric, categorical_columns, task, target, classes, y[train_idx], target_transform)
    check_text_columns(train_x, list(text), where)
    schema.text = {column: describe_text(train_x[column]) for column in text}
    schema.images = list(images)
    split = lambda idx: Split(features.iloc[idx].reset_index(drop=True), y[idx])
    return Data(schema, split(train_idx), split(val_idx), split(test_idx))


def own_rows(path: Path, columns: list[str], target: str) -> pd.DataFrame:
    """A table's own validation or test rows, read from `path`: the data's `columns`, the rows with a target."""
    rows = read_csv(path)
    check_own_rows(rows, columns, path.name)
    return rows_with_target(rows, target, path.name)[columns]


def check_own_rows(rows: pd.DataFrame, columns: list[str], where: str) -> None:
    """A table's own validation or test rows have rows, and the training data's `columns`."""
    if rows.empty:
        raise AutomlError(f"{where} has no rows; give rows with the training data's columns, or leave it out")
    check_columns(rows, columns, where)


def check_columns(frame: pd.DataFrame, wanted: list[str], where: str) -> None:
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise AutomlError(
            f"{where}: column {', '.join(repr(c) for c in missing)} not found; "
            f"the columns are: {', '.join(map(str, frame.columns))}"
        )


def rows_with_target(frame: pd.DataFrame, target: str, where: str) -> pd.DataFrame:
    """The rows whose target is filled in; the others are left out with a note, as AutoGluon does.

    A target blank on most rows is refused instead: that is a wrong column or a broken file, not a few gaps.
    The rows keep their index, so later messages still name a row by its line in the file.
    """
    blank = frame[target].isna()
    if not blank.any():
        return frame
    count, rows = int(blank.sum()), len(frame)
    if count == rows:
        raise AutomlError(f"{where}: target '{target}' is blank on every row; choose another target column")
    if count > BLANK_TARGET_SHARE * rows:
        raise AutomlError(
            f"{where}: target '{target}' is blank on {count} of {rows} rows (more than {BLANK_TARGET_SHARE:.0%}); "
            "fill it in, or choose another target column"
        )
    lines = ", ".join(str(i + 2) for i in np.flatnonzero(blank)[:5]) + (", ..." if count > 5 else "")
    warnings.warn(f"{where}: leaving out {count} of {rows} rows whose target '{target}' is blank (line {lines})",
                  AutomlWarning, stacklevel=1)
    return frame[~blank]


def check_text_columns(train_x: pd.DataFrame, text: list[str], where: str) -> None:
    """Text columns hold words in the training split; numbers listed as text are the track's mistake."""
    for column in text:
        if not as_text(train_x[column]).str.strip().str.len().any():
            raise AutomlError(f"{where}: text column '{column}' is empty in every training row; "
                              "fill it, or remove it from data.text and add it to data.drop")
        present = train_x[column].dropna()
        if pd.api.types.is_numeric_dtype(train_x[column]) or (
            len(present) and pd.to_numeric(present, errors="coerce").notna().mean() >= NUMERIC_SHARE
        ):
            raise AutomlError(f"{where}: column '{column}' is listed in data.text but holds numbers; remove it "
                              "from data.text (numbers are read as numbers), or list it under data.categorical")
        long = int((as_text(present).str.len() > MAX_TEXT_CHARS).sum())
        if long:
            warnings.warn(f"text column '{column}': {long} training text{'s' * (long > 1)} longer than "
                          f"{MAX_TEXT_CHARS} characters; the model reads the first {MAX_TEXT_CHARS} of every text",
                          AutomlWarning, stacklevel=2)


def check_target(y: pd.Series, target: str, task: str, where: str) -> None:
    if task == "regression":
        numbers = pd.to_numeric(y, errors="coerce")
        if numbers.isna().any():
            bad = y[numbers.isna()].iloc[0]
            raise AutomlError(
                f"{where}: target '{target}' has text ({bad!r}) but the task is regression; "
                "fix the values or set task = \"binary\"/\"multiclass\""
            )
        if not np.isfinite(numbers.to_numpy(dtype=float)).all():
            raise AutomlError(f"{where}: target '{target}' has infinite values; drop or fix those rows")
        if numbers.nunique() == 1:
            raise AutomlError(same_value(numbers, target, where))


def same_value(y: pd.Series, target: str, where: str) -> str:
    """The message for a numeric target with one value: there is no class, and nothing to predict."""
    return f"{where}: the target '{target}' is the same value ({plain(y.dropna().iloc[0])!r}) on every row; " \
        "there is nothing to predict"


def target_classes(y: pd.Series, task: str, positive: str | int, where: str) -> list[Any]:
    if task == "regression":
        return []
    classes = sorted(y.unique().tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise AutomlError(f"{where}: the target has a single class ({classes[0]!r}); a classifier needs two or more")
    if task == "binary":
        if len(classes) != 2:
            raise AutomlError(
                f"{where}: task is binary but the target has {len(classes)} classes; set task = \"multiclass\""
            )
        if positive != "":
            if positive not in classes:
                raise AutomlError(f"{where}: positive class {positive!r} is not among the target's values {classes}")
            classes = [c for c in classes if c != positive] + [positive]
    return [plain(c) for c in classes]


def _encode_target(y: pd.Series, task: str, classes: list[Any]) -> np.ndarray:
    if task == "regression":
        return pd.to_numeric(y).to_numpy(dtype="float32")
    index = {c: i for i, c in enumerate(classes)}
    return y.map(index).to_numpy(dtype="int64")


def infer_column_types(features: pd.DataFrame, categorical: list[str], where: str) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns; text in a mostly numeric column is an error, not a category."""
    numeric, categories = [], list(categorical)
    for column in features.columns:
        if column in categories:
            continue
        values = features[column]
        if pd.api.types.is_bool_dtype(values):
            categories.append(column)
        elif pd.api.types.is_numeric_dtype(values):
            numeric.append(column)
        else:
            present = values.dropna()
            as_numbers = pd.to_numeric(present, errors="coerce")
            if len(present) and as_numbers.notna().mean() >= NUMERIC_SHARE:
                row = as_numbers.index[as_numbers.isna()][0]
                raise AutomlError(
                    f"{where}: column '{column}' is numeric but line {row + 2} holds text "
                    f"({present[row]!r}); fix the value, or list the column under data.categorical"
                )
            categories.append(column)
    for column in [*numeric, *categories]:
        if features[column].isna().all():
            raise AutomlError(f"{where}: column '{column}' is empty (all values missing); drop it (data.drop)")
    return numeric, categories


def describe(
    train_x: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    task: str,
    target: str,
    classes: list[Any],
    train_y: np.ndarray,
    target_transform: str = "standardize",
) -> Schema:
    """Normalization statistics, vocabularies and target scaling, from the training split."""
    schema = Schema(task=task, target=target, classes=classes, target_transform=target_transform)
    for column in numeric:
        values = train_x[column].to_numpy(dtype="float64")
        variance = float(np.nanvar(values))
        schema.numeric[column] = {
            "mean": float(np.nanmean(values)),
            "variance": variance if variance > 0 else 1.0,
            "quantiles": quantile_edges(values),
        }
        if np.isnan(values).any():
            schema.missing_indicators.append(column)
    for column in categorical:
        values = train_x[column]
        kind = "int" if pd.api.types.is_integer_dtype(values) else "string"
        cleaned = values if kind == "int" else _as_text(values)
        vocabulary = sorted(pd.unique(cleaned).tolist())
        schema.categorical[column] = {"dtype": kind, "vocabulary": [plain(v) for v in vocabulary]}
    if task == "regression":
        y = train_y.astype("float64")
        if target_transform == "log":
            if (y <= 0).any():
                raise AutomlError(f"target '{target}' has values <= 0; a log target transform needs positive values")
            y = np.log(y)
        schema.target_mean = float(y.mean())
        schema.target_std = float(y.std()) or 1.0
    return schema


def quantile_edges(values: np.ndarray, bins: int = QUANTILE_BINS) -> list[float]:
    """The distinct edges of `bins` equal-count bins of the known (not NaN) `values`: the piecewise-linear
    encoding's bins (`automl.hypermodels.numeric`); fewer where values repeat (a 0/1 column has two)."""
    known = values[~np.isnan(values)]
    if known.size == 0:
        return []
    return [float(v) for v in np.unique(np.quantile(known, np.linspace(0.0, 1.0, bins + 1)))]


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (5.0, not np.float64(5.0)): for messages and JSON."""
    return value.item() if hasattr(value, "item") else value


def _as_text(values: pd.Series) -> pd.Series:
    # A missing category becomes its own token (""), so raw rows with blanks still predict.
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        # Integer codes with blanks are read as floats; "3.0" must be the same category as "3".
        values = values.astype("Int64")
    return values.astype("string").fillna("").astype(str)


def model_inputs(frame: pd.DataFrame, schema: Schema) -> dict[str, np.ndarray]:
    """Raw columns -> the named arrays the model takes (float32 numbers, str or int64 categories)."""
    missing = [c for c in schema.columns if c not in frame.columns]
    if missing:
        raise AutomlError(
            f"input is missing column {', '.join(repr(c) for c in missing)}; "
            f"the model needs: {', '.join(schema.columns)}"
        )
    inputs: dict[str, np.ndarray] = {}
    for column in schema.numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            raise AutomlError(
                f"column '{column}' must be numeric but holds {plain(frame[column][bad].iloc[0])!r}; fix the value"
            )
        inputs[column] = values.to_numpy(dtype="float32").reshape(-1, 1)
    for column, spec in schema.categorical.items():
        if spec["dtype"] == "int":
            values = pd.to_numeric(frame[column], errors="coerce").fillna(-1)
            inputs[column] = values.to_numpy(dtype="int64").reshape(-1, 1)
        else:
            inputs[column] = _as_text(frame[column]).to_numpy(dtype=object).reshape(-1, 1)
    for column in schema.text:
        inputs[column] = as_text(frame[column]).to_numpy(dtype=object).reshape(-1, 1)
    return inputs
