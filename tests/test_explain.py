"""The report explains the chosen model: a tiny search through the command line, on a table that leaks its target."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_table, write_track
from test_cnn import write_image_track

from automl.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _search(directory: Path, track: Path) -> str:
    """Search a tiny track through the command line; its stderr (a module-scoped fixture cannot take capsys)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["search", "--track", str(track), "--results-dir", str(directory / "results")])
    assert status == 0, err.getvalue()
    return err.getvalue()


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    """The results folder of a tiny binary search."""
    directory = tmp_path_factory.mktemp("binary")
    _search(directory, write_track(directory, name="yesno", task="binary", objective="val_auc"))
    return directory / "results" / "yesno"


@pytest.fixture(scope="module")
def leaky(tmp_path_factory) -> tuple[Path, Path, str]:
    """A search of a table that carries log(target) as another column: (track, results folder, stderr)."""
    directory = tmp_path_factory.mktemp("leaky")
    frame = make_table("regression", rows=200)
    frame["log_y"] = np.log(frame["y"])
    track = write_track(directory, name="leaky", frame=frame)
    return track, directory / "results" / "leaky", _search(directory, track)


def test_a_log_of_the_target_column_gets_the_leakage_note_in_the_terminal(leaky):
    _, _, err = leaky
    notes = [line for line in err.splitlines() if line.startswith("automl: note: column 'log_y' may leak")]
    assert notes, err


def test_the_page_shows_the_leakage_warning_and_the_importance(leaky):
    _, root, _ = leaky
    page = (root / "report.html").read_text()
    assert "Possible leakage: column &#x27;log_y&#x27; may leak the target" in page
    assert 'id="importance"' in page and "plots/importance.png" in page


def test_importance_csv_lists_every_raw_column_beside_report_csv(leaky):
    _, root, _ = leaky
    table = pd.read_csv(root / "importance.csv")
    assert set(table["column"]) == {"x1", "x2", "colour", "log_y"}
    assert {"mae_worsening", "std", "share", "could_do_without"} <= set(table.columns)
    assert table["mae_worsening"].is_monotonic_decreasing


def test_summary_md_has_the_importance_table(leaky):
    _, root, _ = leaky
    summary = (root / "summary.md").read_text()
    assert "## What the model relies on" in summary and "**Possible leakage:**" in summary


def test_a_classifiers_page_has_the_brier_scores_and_the_reliability_diagram(binary):
    page = (binary / "report.html").read_text()
    assert 'id="calibration"' in page and "plots/calibration.png" in page
    assert "Brier score" in page and "validation 0." in page and "test 0." in page
    assert (binary / "plots" / "calibration.png").read_bytes()[:8] == PNG_SIGNATURE


def test_a_regression_page_has_no_calibration(leaky):
    _, root, _ = leaky
    assert 'id="calibration"' not in (root / "report.html").read_text()


def test_a_regression_page_has_the_residuals_and_the_rows_with_the_largest_errors(leaky):
    _, root, _ = leaky
    page = (root / "report.html").read_text()
    assert 'id="mistakes"' in page and 'id="worst_rows"' in page and "plots/residuals.png" in page
    assert (root / "plots" / "residuals.png").read_bytes()[:8] == PNG_SIGNATURE


def test_a_classifiers_page_has_the_most_confused_class_pairs(binary):
    page = (binary / "report.html").read_text()
    assert 'id="mistakes"' in page and ('id="confused_pairs"' in page or "confuses most" in page)


@pytest.mark.slow
def test_an_image_page_has_the_worst_mistakes_grid_and_no_importance(tmp_path):
    _search(tmp_path, write_image_track(tmp_path))
    root = tmp_path / "results" / "tiny_images"
    page = (root / "report.html").read_text()
    assert "plots/worst_mistakes.png" in page and 'id="confused_pairs"' in page and "plots/calibration.png" in page
    assert 'id="importance"' not in page and not (root / "importance.csv").exists()
    assert (root / "plots" / "worst_mistakes.png").read_bytes()[:8] == PNG_SIGNATURE
