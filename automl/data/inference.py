"""Guess what a user's own CSV is about: the task from its target, and the role of every other column.

The rule for a column of strings (not numbers, not dates), in order:

1. **free text** when its values are long *and* many: at least `TEXT_MIN_WORDS` words per value on
   average, at least `TEXT_MIN_DISTINCT` distinct values, and distinct values on at least
   `TEXT_MIN_DISTINCT_SHARE` of its non-blank rows. Free text is kept: its words enter the model.
2. **ID-like** when it holds a different short value on every row (codes, names), or more than
   `MAX_CATEGORIES` short values that are mostly unique: dropped.
3. **categorical** otherwise: a column with few distinct values is a category however many words its
   values have ("1. < HS Grad", "4. College Grad", ... is a category).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from automl.data.image_columns import looks_like_image_paths
from automl.data.tabular import (
    MIN_ROWS,
    NUMERIC_SHARE,
    check_target,
    infer_column_types,
    plain,
    rows_with_target,
    same_value,
    target_classes,
)
from automl.errors import AutomlError

# The rules' thresholds, in one place; the README lists them.
MAX_INTEGER_CLASSES = 10      # a whole-number target with 3..10 values is a class label, beyond that a quantity
MAX_TEXT_CLASSES = 50         # a text target with more labels than this is not a classification we guess
MAX_INTEGER_CATEGORIES = 10   # a whole-number feature with at most this many values is a category (codes, counts)
TEXT_MIN_WORDS = 3.0          # free text averages this many words per value or more ...
TEXT_MIN_DISTINCT = 20        # ... has at least this many distinct values ...
TEXT_MIN_DISTINCT_SHARE = 0.5  # ... and distinct values on at least this share of its non-blank rows
MAX_CATEGORIES = 100          # short strings with more values than this, each seen about once, are ID-like
DATE_SHARE = 0.9              # a text column is a date column when this share of its values are dates
IMBALANCE_RATIO = 1 / 3       # rarest class under a third of the commonest: weight classes ("balanced")

_DATE = (
    r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?"
    r"|\d{4}/\d{1,2}/\d{1,2}"
)
_ID_NAME = re.compile(r"(^|[_\s.-])(id|key|uuid|guid|index)$|^(id|key|uuid|guid)([_\s.-]|$)", re.IGNORECASE)
DROPPED = {
    "id": "ID-like",
    "date": "dates (automl does not derive date parts; add year/month columns yourself to use them)",
    "constant": "the same value on every row",
    "user": "dropped with --drop",
}


@dataclass(frozen=True)
class OwnData:
    """What a track writer found in a user's own data (`automl.families.own_csv`, `own_images`), for each family to
    say whether it fits (`Family.fits`): the ``data.kind`` it will have, the task, and a table's columns by role."""

    kind: str
    task: str
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # columns of image file paths
    image_size: int = 0  # the side a folder's images are resized to (``model.image_size``); 0 for a table


@dataclass
class Inference:
    """What automl guessed about a CSV: the task, each column's role and why, and notes for the user."""

    target: str
    task: str
    task_reason: str
    rows: int
    roles: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (role, reason)
    classes: list[Any] = field(default_factory=list)
    class_weight: str = "none"
    class_weight_reason: str = ""
    notes: list[str] = field(default_factory=list)

    def columns(self, *roles: str) -> list[str]:
        return [c for c, (role, _) in self.roles.items() if role in roles]

    @property
    def numeric(self) -> list[str]:
        return self.columns("numeric")

    @property
    def categorical(self) -> list[str]:
        return self.columns("categorical")

    @property
    def text(self) -> list[str]:
        return self.columns("text")

    @property
    def images(self) -> list[str]:
        return self.columns("image")

    @property
    def drop(self) -> list[str]:
        return self.columns(*DROPPED)

    def own_data(self) -> OwnData:
        """What the families are asked whether they fit (`automl.families.fitting`)."""
        return OwnData("csv", self.task, tuple(self.numeric), tuple(self.categorical), tuple(self.text),
                       tuple(self.images))


def infer(frame: pd.DataFrame, target: str, *, task: str | None = None, drop: list[str] = (),
          where: str = "the CSV") -> Inference:
    """The task (unless given) and every column's role; mistakes raise `AutomlError` before anything is written.

    Examples
    --------
    >>> inference = infer(pd.read_csv("houses.csv"), "price")
    >>> inference.task, inference.drop
    ('regression', ['listing_id'])
    """
    missing = [c for c in [target, *drop] if c not in frame.columns]
    if missing:
        raise AutomlError(
            f"{where}: column {', '.join(repr(c) for c in missing)} not found; "
            f"the columns are: {', '.join(map(str, frame.columns))}"
        )
    if frame[target].isna().all():
        raise AutomlError(f"{where}: target '{target}' is empty (all values missing); choose another --target")
    frame = rows_with_target(frame, target, where)  # as the search will: the track must describe the same rows
    if len(frame) < MIN_ROWS:
        raise AutomlError(f"{where} has {len(frame)} row{'s' * (len(frame) != 1)}; a search needs at least {MIN_ROWS}")
    y = frame[target]
    if task is None:
        task, task_reason = infer_task(y, target, where)
    else:
        task_reason = "given with --task"
    check_target(y, target, task, where)
    classes = target_classes(y, task, "", where)
    inference = Inference(target, task, task_reason, len(frame), classes=classes)
    for column in frame.columns:
        if column == target:
            continue
        if column in drop:
            inference.roles[column] = ("user", DROPPED["user"])
        else:
            inference.roles[column] = column_role(frame[column], str(column), where)
    if not inference.numeric and not inference.categorical and not inference.text and not inference.images:
        raise AutomlError(f"{where}: no column is left to learn from (all are dropped: "
                          f"{', '.join(map(str, inference.drop))}); check the CSV")
    # The same checks the search makes (e.g. stray text in a numeric column), made before a track is written.
    infer_column_types(frame[inference.numeric + inference.categorical], inference.categorical, where)
    if task != "regression":
        inference.class_weight, inference.class_weight_reason = suggest_class_weight(y)
    inference.notes = _notes(inference)
    return inference


def infer_task(y: pd.Series, target: str, where: str = "the CSV") -> tuple[str, str]:
    """Two values: binary; a few labels: multiclass; numbers with many values: regression."""
    present = y.dropna()
    distinct = present.nunique()
    numbers = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if distinct < 2 and numbers:
        raise AutomlError(same_value(present, target, where))
    if distinct < 2:
        value = plain(present.iloc[0])
        raise AutomlError(
            f"{where}: target '{target}' has a single class ({value!r}); a model needs two or more values"
        )
    if distinct == 2:
        return "binary", "two distinct values"
    if numbers:
        if (present % 1 == 0).all() and distinct <= MAX_INTEGER_CLASSES:
            return "multiclass", f"{distinct} whole-number labels"
        return "regression", f"numbers with {distinct} distinct values"
    if distinct <= MAX_TEXT_CLASSES:
        return "multiclass", f"{distinct} text labels"
    raise AutomlError(
        f"{where}: target '{target}' is text with {distinct} distinct values, too many to be class labels; "
        "fix the values or pass --task"
    )


def column_role(values: pd.Series, name: str, where: str = "the CSV") -> tuple[str, str]:
    """One of numeric, categorical, id, text, image, date or constant, with the reason in a few words."""
    present = values.dropna()
    if present.empty:
        raise AutomlError(
            f"{where}: column '{name}' is empty (all values missing); remove it from the CSV or pass --drop {name}"
        )
    distinct = present.nunique()
    if distinct == 1 and len(present) == len(values):
        return "constant", DROPPED["constant"]
    if pd.api.types.is_bool_dtype(present):
        return "categorical", "true/false values"
    if pd.api.types.is_numeric_dtype(present):
        whole = bool((present % 1 == 0).all())
        if whole and _looks_like_id(values, name):
            return "id", "ID-like: a different whole number on every row"
        if whole and distinct <= MAX_INTEGER_CATEGORIES:
            return "categorical", f"whole numbers with {distinct} distinct values"
        return "numeric", "numbers"
    if looks_like_image_paths(present):
        return "image", "paths of image files: their images enter the model"
    text = present.astype(str).str.strip()
    if pd.to_numeric(text, errors="coerce").notna().mean() >= NUMERIC_SHARE:
        return "numeric", "numbers"  # the stray text in it is reported by the search's own check
    if _looks_like_dates(text):
        return "date", DROPPED["date"]
    words = float(text.str.split().str.len().mean())
    share = distinct / len(present)
    if words >= TEXT_MIN_WORDS and distinct >= TEXT_MIN_DISTINCT and share >= TEXT_MIN_DISTINCT_SHARE:
        return "text", (f"free text ({words:.1f} words per value on average, {distinct} distinct values "
                        f"in {len(present)} rows); its words are used")
    if distinct == len(values):
        return "id", "ID-like: a different value on every row"
    if distinct > MAX_CATEGORIES and share > TEXT_MIN_DISTINCT_SHARE:
        return "id", f"ID-like: {distinct} short values, mostly unique, too many to be categories"
    if words >= TEXT_MIN_WORDS:
        return "categorical", f"text with {distinct} distinct values, too few to be free text"
    return "categorical", f"text with {distinct} distinct values"


def _looks_like_id(values: pd.Series, name: str) -> bool:
    # A unique whole number per row is an ID when its name says so or it counts rows (1, 2, 3, ...);
    # otherwise it may be a quantity (a price in whole pounds) that happens to be unique.
    if values.isna().any() or values.nunique() != len(values):
        return False
    ordered = values.sort_values().diff().dropna()
    return bool(_ID_NAME.search(name)) or (ordered.nunique() == 1 and values.is_monotonic_increasing)


def _looks_like_dates(text: pd.Series) -> bool:
    if text.str.fullmatch(_DATE).mean() < DATE_SHARE:
        return False
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


def suggest_class_weight(y: pd.Series) -> tuple[str, str]:
    counts = y.value_counts()
    ratio = counts.min() / counts.max()
    share = counts.min() / counts.sum()
    if ratio < IMBALANCE_RATIO:
        return "balanced", f"imbalanced: the rarest class ({plain(counts.idxmin())!r}) is {share:.0%} of rows"
    return "none", f"classes are roughly balanced (the rarest is {share:.0%} of rows)"


def _notes(inference: Inference) -> list[str]:
    notes = [f"task: {inference.task} ({inference.task_reason}; target '{inference.target}')"]
    if inference.numeric:
        notes.append(f"numeric columns: {', '.join(inference.numeric)}")
    if inference.categorical:
        notes.append(f"categorical columns: {', '.join(inference.categorical)}")
    for column in inference.text:
        notes.append(f"text column '{column}': {inference.roles[column][1]}")
    for column in inference.images:
        notes.append(f"image column '{column}': {inference.roles[column][1]} (paths relative to the CSV's folder)")
    for column, (role, reason) in inference.roles.items():
        if role in DROPPED and role != "user":
            notes.append(f"dropping column '{column}': {reason}")
    if inference.class_weight == "balanced":
        notes.append(f"class weights: balanced ({inference.class_weight_reason})")
    return notes
