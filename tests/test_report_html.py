"""The report of a real (tiny) search: report.csv with every column, report.html rendered in headless Chromium."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import CHOSEN_LINE, trials_only, write_track

import automl
from automl.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, Path]:
    """One tiny search for the whole module: (track file, the track's results folder)."""
    directory = tmp_path_factory.mktemp("report")
    track = write_track(directory)
    automl.search(str(track), results_dir=directory / "results")
    return track, directory / "results" / "tiny"


def _chromium() -> str:
    """Headless Chromium's command. Without one, a browser test skips and says why (the README's test command on
    a machine without a browser), unless AUTOML_REQUIRE_CHROMIUM=1, which .ci/run sets: there it fails."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        reason = "headless Chromium is needed to check report.html: apt-get install -y chromium (.ci/run does)"
        if os.environ.get("AUTOML_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{reason}; AUTOML_REQUIRE_CHROMIUM=1 says it must be there")
        pytest.skip(reason)
    return found


def _run_chromium(page: Path, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)


class _Page(HTMLParser):
    """What the test looks for in the rendered DOM: images, tables and their body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.rows: dict[str, int] = {}
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self._table = attrs.get("id", "")
            self.rows[self._table] = 0
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self.rows[self._table] += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False


def test_a_browser_test_without_chromium_skips_and_says_why(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("AUTOML_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="headless Chromium is needed"):
        _chromium()


def test_a_browser_test_without_chromium_fails_where_ci_requires_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("AUTOML_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="headless Chromium is needed"):
        _chromium()


def test_ci_installs_chromium_and_requires_it_before_running_the_tests():
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    install, require = script.find("apt-get install -y -qq chromium"), script.find("export AUTOML_REQUIRE_CHROMIUM=1")
    assert 0 <= install < require < script.find("python -m pytest")


def test_report_csv_has_every_trial_with_diagnosis_and_latency(searched):
    _, root = searched
    table = pd.read_csv(root / "report.csv")
    assert len(trials_only(table)) == len(list((root / "tuner").glob("trial_*/trial.json")))
    assert {"diagnosis", "diagnosis_detail", "latency_p50_ms", "latency_p95_ms", "rows_per_second", "model_bytes",
            "params", "seconds", "chosen", "top_score", "within_tolerance"} <= set(table.columns)
    assert table["diagnosis"].notna().all() and table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    assert chosen["latency_p50_ms"] > 0 and chosen["model_bytes"] > 0


def test_report_returns_the_csv_table(searched):
    track, root = searched
    table = automl.report(str(track), results_dir=root.parent)
    written = pd.read_csv(root / "report.csv", dtype={"trial_id": str})
    assert list(table.columns) == list(written.columns)
    assert list(table["trial_id"]) == list(written["trial_id"])


def test_measures_are_cached_not_repeated(searched):
    track, root = searched
    caches = {p: p.stat().st_mtime_ns for p in (root / "tuner").glob("trial_*/measures.json")}
    assert caches
    automl.report(str(track), results_dir=root.parent)
    assert {p: p.stat().st_mtime_ns for p in caches} == caches


def test_test_metrics_keep_the_chosen_and_the_top_models_figures(searched):
    _, root = searched
    metrics = json.loads((root / "test_metrics.json").read_text())
    table = pd.read_csv(root / "report.csv", dtype={"trial_id": str})
    assert metrics["trial_id"] == table.loc[table["chosen"], "trial_id"].item()
    assert metrics["top"]["trial_id"] == table.loc[table["top_score"], "trial_id"].item() == table["trial_id"][0]
    assert {"rmse", "mae", "r2"} <= set(metrics) and {"rmse", "mae", "r2"} <= set(metrics["top"])


def test_best_model_by_score_is_the_top_scoring_trials_model(searched):
    track, root = searched
    table = automl.report(str(track), results_dir=root.parent)
    top = automl.best_model(str(track), by="score", results_dir=root.parent)
    chosen = automl.best_model(str(track), results_dir=root.parent)
    assert top.count_params() == table.loc[table["top_score"], "params"].item()
    assert chosen.count_params() == table.loc[table["chosen"], "params"].item()


def test_report_command_writes_the_html_and_names_the_chosen_model(searched, capsys):
    track, root = searched
    assert main(["report", "--track", str(track), "--results-dir", str(root.parent)]) == 0
    out = capsys.readouterr().out
    assert CHOSEN_LINE.search(out) and re.search(r"why: (Trial|The ensemble)", out)
    assert "report.html" in out and "diagnosis" in out


def test_report_html_in_headless_chromium_has_the_trial_table_and_every_image(searched, tmp_path):
    _, root = searched
    page = root / "report.html"
    dom = _run_chromium(page, tmp_path / "profile", "--dump-dom").stdout
    parsed = _Page()
    parsed.feed(dom)
    assert parsed.rows["trials"] == len(pd.read_csv(root / "report.csv"))
    assert parsed.rows["comparison"] > 5
    assert {Path(src).name for src in parsed.images} >= {
        "learning_curves.png", "score_vs_latency.png", "score_vs_hyperparameters.png", "test_predictions.png"}
    for src in parsed.images:
        assert (root / src).read_bytes()[:8] == PNG_SIGNATURE, src
    assert "is the fastest" in dom or "is also the fastest" in dom  # the justification is on the page


def test_report_html_renders_to_a_screenshot(searched, tmp_path):
    _, root = searched
    shot = tmp_path / "report.png"
    _run_chromium(root / "report.html", tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.read_bytes()[:8] == PNG_SIGNATURE and shot.stat().st_size > 20_000


def test_report_html_shows_what_the_chosen_model_relies_on_and_where_it_goes_wrong(searched, tmp_path):
    _, root = searched
    dom = _run_chromium(root / "report.html", tmp_path / "profile", "--dump-dom").stdout
    parsed = _Page()
    parsed.feed(dom)
    assert {Path(src).name for src in parsed.images} >= {"importance.png", "residuals.png"}
    for name in ("importance.png", "residuals.png"):
        assert (root / "plots" / name).read_bytes()[:8] == PNG_SIGNATURE, name
    assert parsed.rows["importance"] == 3 and parsed.rows["worst_rows"] > 0
    assert (root / "importance.csv").is_file()
