"""The rule that tells free text from a category and from an ID (automl/data/inference.py), at its edges."""
from __future__ import annotations

import pandas as pd
import pytest

from automl import load_track
from automl.data.inference import (
    MAX_CATEGORIES,
    TEXT_MIN_DISTINCT,
    TEXT_MIN_DISTINCT_SHARE,
    TEXT_MIN_WORDS,
    column_role,
    infer,
)
from automl.data.tabular import read_csv
from automl.families import fitting
from automl.families.own_csv import family_notes


def _values(distinct: int, rows: int, words: int = 4) -> pd.Series:
    """`rows` values cycling over `distinct` different texts of `words` words each."""
    texts = [" ".join([f"word{i}"] + ["common"] * (words - 1)) for i in range(distinct)]
    return pd.Series([texts[i % distinct] for i in range(rows)])


def test_the_rule_thresholds_are_the_stated_ones():
    assert (TEXT_MIN_WORDS, TEXT_MIN_DISTINCT, TEXT_MIN_DISTINCT_SHARE) == (3.0, 20, 0.5)


def test_few_distinct_values_are_a_category_however_many_words():
    education = ["1. < HS Grad", "2. HS Grad", "3. Some College", "4. College Grad", "5. Advanced Degree"]
    role, reason = column_role(pd.Series(education * 40), "education")
    assert role == "categorical" and "too few to be free text" in reason


def test_many_distinct_long_values_are_free_text():
    role, reason = column_role(_values(40, 40), "review")
    assert role == "text" and "4.0 words per value" in reason and "40 distinct values in 40 rows" in reason


def test_exactly_three_words_per_value_on_average_is_free_text():
    values = _values(30, 30, words=3)
    assert column_role(values, "note")[0] == "text"


def test_just_under_three_words_per_value_is_not_free_text():
    values = _values(30, 30, words=3)
    values.iloc[0] = "word0 common"  # 89 words over 30 values: 2.97 per value
    assert column_role(values, "note")[0] == "id"


def test_twenty_distinct_long_values_are_free_text_nineteen_a_category():
    assert column_role(_values(TEXT_MIN_DISTINCT, 2 * TEXT_MIN_DISTINCT), "title")[0] == "text"
    assert column_role(_values(TEXT_MIN_DISTINCT - 1, 2 * TEXT_MIN_DISTINCT), "title")[0] == "categorical"


def test_distinct_values_on_half_the_rows_are_free_text_fewer_a_category():
    assert column_role(_values(30, 60), "title")[0] == "text"
    assert column_role(_values(30, 61), "title")[0] == "categorical"


def test_many_short_mostly_unique_values_are_id_like_not_text():
    names = pd.Series([f"name{i}" for i in range(MAX_CATEGORIES + 1)] * 1 + ["name0"])
    role, reason = column_role(names, "customer")
    assert role == "id" and "mostly unique" in reason


def test_a_unique_short_value_per_row_is_id_like():
    assert column_role(pd.Series([f"Ana{i} Souza" for i in range(30)]), "name")[0] == "id"


def test_free_text_is_kept_and_named_in_the_notes():
    frame = pd.DataFrame({"review": _values(40, 40), "y": ["yes", "no"] * 20, "x": range(40)})
    inference = infer(frame.assign(x=frame.x * 1.5), "y")
    assert inference.text == ["review"] and "review" not in inference.drop
    assert any(n.startswith("text column 'review': free text") for n in inference.notes)
    assert list(fitting(inference.own_data())) == ["mlp"]


def test_only_text_to_learn_from_chooses_the_text_family():
    inference = infer(pd.DataFrame({"review": _values(40, 40), "y": ["yes", "no"] * 20}), "y")
    assert list(fitting(inference.own_data())) == ["text"]
    assert any('family: "text"' in n for n in family_notes(inference))


@pytest.mark.parametrize("name", ["boston", "used_cars", "caravan"])
def test_the_table_tracks_infer_no_text_column(name):
    track = load_track(name)
    inference = infer(read_csv(track.data_path()), track.data.target)
    assert inference.text == [] and list(fitting(inference.own_data())) == ["mlp"]
