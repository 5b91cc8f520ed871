"""One run, resolved once: the track, its family, its store and its clock are made at the edges and passed down;
the store is the one module that joins the search folder's file names; the test figures are one typed record."""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest

import automl
from automl.cli import main
from automl.context import Budget, Run
from automl.errors import AutomlError
from automl.selection.scoring import HeldOutFigures

PACKAGE = Path(automl.__file__).parent
# The edges take names, paths and Track objects and make the Run; context.py makes it; the CSV writer checks the
# track it wrote with its families.
EDGES = {"__init__.py", "cli.py", "context.py"}


def _calls(name: str) -> list[str]:
    """Every module of the package outside the edges that calls `name`, as ``module:line``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in EDGES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
                found.append(f"{relative}:{node.lineno}")
    return found


def test_no_stage_loads_a_track_or_builds_a_store_again():
    assert _calls("load_track") == []
    assert _calls("Store") == []


def test_only_the_csv_writer_looks_a_family_up_by_its_track():
    # The writer checks the track it has just written; every stage of a run reads `run.family`.
    assert [call.split(":")[0] for call in _calls("family_of")] == ["families/own_csv.py"]


def test_no_module_but_the_store_joins_a_file_name_of_the_search_folder():
    constants = {node.targets[0].id for node in ast.parse((PACKAGE / "store.py").read_text()).body
                 if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                 and node.targets[0].id.endswith(("_FILE", "_JSON", "_CSV", "_HTML", "_MD", "_DIR", "_LOG", "_CACHE",
                                                  "_METRICS", "_PROJECT"))}
    assert {"BEST_MODEL_FILE", "TEST_METRICS", "PLOTS_DIR", "LOCK_FILE"} <= constants
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "store.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "automl.store":
                importers += [f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names if a.name in constants]
    assert importers == []


def test_the_track_layer_imports_nothing_above_it():
    for path in (PACKAGE / "track").glob("*.py"):
        imported = {node.module for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                    if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in imported if m.startswith(("automl.families", "automl.tuning", "automl.pipeline"))}


def test_a_run_is_resolved_once_and_its_clock_starts_when_asked(tiny_track, results_dir):
    run = Run.open(str(tiny_track), results_dir)
    assert run.budget is None and run.store.root == results_dir / "tiny" and run.family.name == "mlp"
    started = run.started("90s")
    assert started.track is run.track and started.family is run.family and started.store is run.store
    assert started.budget.seconds == pytest.approx(90.0)
    # A table's family keeps its refit share (the track's default 10 %) at the end of the clock.
    assert started.budget.final_deadline - started.budget.search_deadline == pytest.approx(9.0)
    assert math.isinf(run.started("90s", worker=True).budget.seconds)  # a worker keeps the chief's clock


def test_a_time_limit_that_is_not_a_duration_is_one_line(tiny_track):
    with pytest.raises(AutomlError, match=r"--time-limit"):
        Run.open(str(tiny_track)).started("ten minutes")


def test_a_search_resolves_its_run_once_and_its_progress_reads_the_same_clock(tiny_track, results_dir, monkeypatch,
                                                                              capsys):
    made, clocks = [], []
    real_open, real_start = Run.open.__func__, Budget.start.__func__
    monkeypatch.setattr(Run, "open", classmethod(lambda cls, *a, **k: made.append(a) or real_open(cls, *a, **k)))
    monkeypatch.setattr(Budget, "start", classmethod(lambda cls, *a: clocks.append(a) or real_start(cls, *a)))
    assert main(["search", "--track", str(tiny_track), "--results-dir", str(results_dir), "--time-limit", "45s"]) == 0
    assert len(made) == 1 and len(clocks) == 1 and clocks[0][0] == 45.0
    assert "for up to 45s" in capsys.readouterr().out


def test_the_test_figures_are_written_and_read_as_one_record(tmp_path):
    store = Run.open("boston", tmp_path).store
    tested = HeldOutFigures("0003", {"mae": 2.5, "rmse": 3.1, "rows": 102, "decision_threshold": 0.4},
                            {"trial_id": "0001", "mae": 2.4, "rmse": 3.0, "rows": 102},
                            compared={"mlp": {"trial_id": "0001", "mae": 2.4}}, refit={"used": False})
    tested.write(store)
    record = json.loads(store.test_metrics.read_text())
    assert record["trial_id"] == "0003" and record["mae"] == 2.5 and record["top"]["trial_id"] == "0001"
    assert "final_fit" not in record and record["refit"] == {"used": False}
    again = HeldOutFigures.read(store)
    assert again == tested and again.rows == 102
    assert again.shared() == ["mae", "rmse", "rows"]  # the threshold is the chosen model's alone
    assert HeldOutFigures.read(Run.open("boston", tmp_path / "none").store) is None
