"""Property-based tests (hypothesis) of the track parser, durations and column-type inference."""
from __future__ import annotations

import string
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TRACK_TEMPLATE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automl.data.tabular import infer_column_types
from automl.errors import AutomlError
from automl.track import Track, parse_duration, parse_track

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.integers(0, 48), st.integers(0, 59), st.integers(0, 59))
def test_any_positive_h_m_s_duration_is_its_seconds(hours, minutes, seconds):
    total = hours * 3600 + minutes * 60 + seconds
    text = f"{hours}h{minutes}m{seconds}s"
    if total == 0:
        with pytest.raises(AutomlError):
            parse_duration(text)
    else:
        assert parse_duration(text) == total


@FAST
@given(st.text(max_size=20))
def test_any_text_is_a_positive_duration_or_a_one_line_error(text):
    try:
        assert parse_duration(text) > 0
    except AutomlError as error:
        assert "\n" not in str(error)


VALUES = st.one_of(
    st.integers(-5, 200), st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans(),
    st.text(alphabet=string.ascii_letters + "_", max_size=12), st.lists(st.integers(0, 300), max_size=3),
)
KEYS = ["max_epochs", "factor", "seed", "test", "validation", "tuner", "objective", "task", "time_limit",
        "batch_sizes", "patience", "class_weight", "nonsense_key"]


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value) if "e" in repr(value) or "." in repr(value) else f"{value}.0"
    return str(value).replace("'", '"')


def _base_track() -> str:
    return TRACK_TEMPLATE.format(
        name="prop", task="regression", path="data.csv", target="y", objective="val_mae", max_epochs=3,
        tuner="hyperband", data_extra="", search_extra="",
    )


@FAST
@given(st.sampled_from(KEYS), VALUES)
def test_any_single_edit_of_a_track_parses_or_names_the_key(key, value):
    text = _base_track()
    line = f"{key} = {_toml_value(value)}"
    lines = [line if row.split(" = ")[0] == key else row for row in text.splitlines()]
    if key == "nonsense_key":
        lines.insert(lines.index("[search]") + 1, line)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "prop.toml"
        path.write_text("\n".join(lines) + "\n")
        try:
            track = parse_track(path)
        except AutomlError as error:
            assert str(path) in str(error) and "\n" not in str(error)
            if key == "nonsense_key":
                assert "nonsense_key" in str(error)
        else:
            assert isinstance(track, Track) and key != "nonsense_key"


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_as_a_track_file_parse_or_fail_with_one_line(content):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "junk.toml"
        path.write_bytes(content)
        try:
            parse_track(path)
        except AutomlError as error:
            assert "\n" not in str(error)


@FAST
@given(st.integers(2, 40), st.integers(1, 4), st.integers(0, 10_000))
def test_numeric_columns_are_numeric(rows, columns, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"c{i}" for i in range(columns)])
    assert infer_column_types(frame, [], "t.csv") == (list(frame.columns), [])


@FAST
@given(st.lists(st.text(alphabet=string.ascii_letters, min_size=1, max_size=6), min_size=2, max_size=40))
def test_text_columns_are_categorical(words):
    frame = pd.DataFrame({"word": words, "n": range(len(words))})
    assert infer_column_types(frame, [], "t.csv") == (["n"], ["word"])


@FAST
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=10, max_size=60), st.data())
def test_one_stray_text_in_a_numeric_column_is_an_error_naming_it(numbers, data):
    values: list[object] = [str(n) for n in numbers]
    position = data.draw(st.integers(0, len(values) - 1))
    values[position] = "n/a?"
    frame = pd.DataFrame({"amount": values})
    with pytest.raises(AutomlError, match=rf"column 'amount' is numeric but line {position + 2} holds text \('n/a\?'\)"):
        infer_column_types(frame, [], "t.csv")
