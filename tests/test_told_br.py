"""The ToLD-BR track: not shipped, found as an imported copy; a missing copy names both fixes."""
from __future__ import annotations

import pandas as pd
import pytest

from automl import load_track
from automl.cli import main
from automl.data.home import imported_path
from automl.errors import AutomlError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _tweets(path, columns=("text", "toxic")):
    pd.DataFrame({columns[0]: ["que coisa ótima", "vai à merda"] * 15, columns[1]: ["no", "yes"] * 15}).to_csv(
        path, index=False)
    return path


def test_the_track_is_a_binary_text_search_on_an_imported_copy():
    track = load_track("told_br")
    assert (track.family, track.task, track.objective, track.search.time_limit) == ("text", "binary", "val_auc", "15m")
    assert track.data.text == ["text"] and track.data.target == "toxic"


def test_without_a_copy_the_error_names_both_fixes(home):
    with pytest.raises(AutomlError) as error:
        load_track("told_br").data_path()
    message = str(error.value)
    assert "`automl data import told_br PATH`" in message and "data.path" in message and "\n" not in message


def test_the_imported_copy_is_where_the_track_finds_it(tmp_path, home, capsys):
    assert main(["data", "import", "told_br", str(_tweets(tmp_path / "told.csv"))]) == 0
    assert str(imported_path("told_br")) in capsys.readouterr().out
    assert load_track("told_br").data_path() == home / "datasets" / "told_br.csv"


def test_import_refuses_a_csv_without_the_columns_and_stores_nothing(tmp_path, home):
    assert main(["data", "import", "told_br", str(_tweets(tmp_path / "x.csv", ("tweet", "toxic")))]) == 2
    assert not imported_path("told_br").exists()
