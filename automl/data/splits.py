"""A table's rows split three ways: at random (stratified by class), by a group column, in time order, or around
the validation and test rows the user gave (`split_rows`)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from automl.errors import AutomlError

Indices = tuple[np.ndarray, np.ndarray, np.ndarray]
OWN_PARTS = ("validation", "test")  # the order a table's own rows follow its data rows in (`split_rows`)


def split_rows(frame: pd.DataFrame, stratify: np.ndarray | None, *, test: float, validation: float, seed: int,
               group: str = "", time: str = "", own: dict[str, int] | None = None, where: str) -> Indices:
    """Train, validation and test row indices of `frame`. `own` holds how many of its last rows are the user's own
    validation and test rows, in the order of `OWN_PARTS`: they are those splits, and the part not given is carved
    off the rows before them (`test` or `validation` of them, at random, stratified). Otherwise the rows are split by
    the `group` column, in the `time` column's order, or at random."""
    own = own or {}
    if group and time:
        raise AutomlError(f"{where}: split by a group column or in time order, not both; give one of group and time")
    if own and (group or time):
        raise AutomlError(f"{where}: your own {' and '.join(own)} rows are the split; a split by "
                          f"{'group' if group else 'time'} carves rows you did not give: leave one of them out")
    if time:
        return time_split(frame[time], test=test, validation=validation, where=where)
    if group:
        return group_split(frame[group], test=test, validation=validation, seed=seed, where=where)
    rows = len(frame) - sum(own.values())
    if not own:
        return random_split(rows, stratify, test=test, validation=validation, seed=seed, where=where)
    parts, start = {}, rows
    for part in (p for p in OWN_PARTS if p in own):
        parts[part], start = np.arange(start, start + own[part]), start + own[part]
    train = np.arange(rows)
    for part in (p for p in OWN_PARTS if p not in own):
        train, parts[part] = _carve(train, stratify, test if part == "test" else validation, seed, where)
    return train, parts["validation"], parts["test"]


def random_split(rows: int, stratify: np.ndarray | None, *, test: float, validation: float, seed: int,
                 where: str) -> Indices:
    """Train, validation and test row indices, seeded, stratified by class when `stratify` holds the classes."""
    rest, test_idx = _carve(np.arange(rows), stratify, test, seed, where)
    train_idx, val_idx = _carve(rest, stratify, validation / (1.0 - test), seed, where)
    return train_idx, val_idx, test_idx


def _carve(indices: np.ndarray, stratify: np.ndarray | None, share: float, seed: int,
           where: str) -> tuple[np.ndarray, np.ndarray]:
    """`indices` less a seeded `share` of them, and that share, stratified by class when `stratify` holds them."""
    try:
        return train_test_split(indices, test_size=share, random_state=seed,
                                stratify=None if stratify is None else stratify[indices])
    except ValueError as error:
        raise AutomlError(f"{where}: cannot split the data ({error}); add rows or lower split fractions") from None


def group_split(groups: pd.Series, *, test: float, validation: float, seed: int, where: str) -> Indices:
    """Train, validation and test row indices with each value of `groups` on one side only (the fractions are of
    the groups), seeded."""
    labels = groups.astype(str).to_numpy()
    count = len(set(labels))
    if count < 3:
        raise AutomlError(f"{where}: the group column '{groups.name}' has {count} value{'s' if count > 1 else ''}; "
                          "a split by group needs 3 or more (train, validation and test each get whole groups)")
    indices = np.arange(len(labels))
    outer = GroupShuffleSplit(n_splits=1, test_size=test, random_state=seed)
    rest, test_idx = next(outer.split(indices, groups=labels))
    inner = GroupShuffleSplit(n_splits=1, test_size=validation / (1.0 - test), random_state=seed)
    train, val = next(inner.split(rest, groups=labels[rest]))
    return np.sort(rest[train]), np.sort(rest[val]), np.sort(test_idx)


def time_split(times: pd.Series, *, test: float, validation: float, where: str) -> Indices:
    """Train, validation and test row indices in time order: the latest `test` share of the rows is the test split,
    the `validation` share before it the validation split."""
    if pd.api.types.is_numeric_dtype(times):
        order_by = times
    else:
        order_by = pd.to_datetime(times, errors="coerce", format="mixed")
        if order_by.isna().sum() > times.isna().sum():
            raise AutomlError(f"{where}: the time column '{times.name}' has values that are neither numbers nor "
                              "dates (e.g. 2024-05-01); give a column of dates or numbers")
    if order_by.isna().any():
        raise AutomlError(f"{where}: the time column '{times.name}' has {int(order_by.isna().sum())} blank values; "
                          "fill them or leave those rows out")
    order = np.argsort(order_by.to_numpy(), kind="stable")
    rows = len(order)
    n_test, n_validation = math.ceil(test * rows), math.ceil(validation * rows)
    return (np.sort(order[:rows - n_test - n_validation]), np.sort(order[rows - n_test - n_validation:rows - n_test]),
            np.sort(order[rows - n_test:]))
