"""The TOML automl writes reads back with tomllib as the same values: non-ASCII names, emoji, control characters."""
from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from automl.errors import AutomlError
from automl.families.own_csv import track_from_csv
from automl.track.parse import parse_track
from automl.track.toml_text import toml_key, toml_lines, toml_value

NAMES = ["prix_😀", "prix €", "größe", "площадь", "面积", "مساحة", "naïve café", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]


def _read_back(value):
    return tomllib.loads(toml_lines([f"value = {toml_value(value)}"]))["value"]


@pytest.mark.parametrize("name", NAMES)
def test_a_non_ascii_name_reads_back_as_itself(name):
    assert _read_back(name) == name


def test_an_emoji_is_written_as_itself_in_utf8_not_as_an_escape():
    assert toml_value("prix_😀") == '"prix_😀"'


def test_quotes_backslashes_and_control_characters_read_back():
    text = 'a "quoted" C:\\path\ttab\nnewline\r\x00nul\x1fus\x7fdel\x85next-line\u2028sep'
    assert _read_back(text) == text


def test_numbers_booleans_lists_and_inline_tables_read_back():
    value = [1, -2.5, 1e-05, True, False, ["prix_😀", 3], {"plain": 1, "prix_😀": "größe"}]
    assert _read_back(value) == value


def test_infinities_and_nan_read_back():
    inf, minus, nan = _read_back([float("inf"), float("-inf"), float("nan")])
    assert inf == float("inf") and minus == float("-inf") and nan != nan


def test_numpy_scalars_are_written_as_their_python_values():
    assert _read_back([np.int64(3), np.float64(0.5), np.bool_(True)]) == [3, 0.5, True]


def test_a_key_is_bare_where_toml_allows_it_and_quoted_where_not():
    assert toml_key("max_epochs") == "max_epochs"
    assert tomllib.loads(toml_lines([f"{toml_key('prix 😀')} = 1"])) == {"prix 😀": 1}


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_any_valid_unicode_string_reads_back(text):
    assert _read_back(text) == text


def test_a_comment_quoting_a_name_with_a_line_break_does_not_break_the_file():
    text = toml_lines(['x = 1   # column "a\nb = 2" was dropped\x00'])
    assert tomllib.loads(text) == {"x": 1}


def test_invalid_unicode_is_refused_with_a_reason():
    with pytest.raises(AutomlError, match="not valid Unicode"):
        toml_value("caf\udce9")


def test_a_csv_whose_column_and_class_names_are_not_ascii_gives_a_track_that_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    frame = pd.DataFrame({"prix_😀": x, "größe": rng.uniform(size=60), "面积": rng.choice(["北", "南"], size=60),
                          "classe_✓": np.where(x > 0, "oui_😀", "non_é")})
    csv = tmp_path / "données.csv"
    frame.to_csv(csv, index=False, encoding="utf-8")
    written = track_from_csv(csv, "classe_✓", name="donnees", tracks_dir=tmp_path / "tracks")
    raw = tomllib.loads(written.path.read_text(encoding="utf-8"))
    assert raw["data"]["target"] == "classe_✓" and raw["data"]["categorical"] == ["面积"]
    assert raw["data"]["positive"] == "oui_😀"
    assert parse_track(written.path).data.target == "classe_✓"
