"""Each benchmark runs in its --quick mode on tiny data, so that the scripts do not rot between real runs; the
index of benchmarks/README.md says what each module measures, and where each study's figures are."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from automl.data.schema import Schema
from automl.selection import scoring
from benchmarks import RESULTS, ROOT
from benchmarks.suite import run_all
from benchmarks.suite.baselines import scores
from benchmarks.suite.cifar10 import earlier_runs, runs_so_far
from benchmarks.suite.readme import readme
from benchmarks.suite.runs import Context, python_path


@pytest.mark.slow
def test_cifar10_benchmark_quick_writes_its_figures_beside_the_baseline(tmp_path):
    subprocess.run([sys.executable, "-m", "benchmarks.suite.cifar10", "--quick", "--results-dir", str(tmp_path)],
                   check=True, cwd=tmp_path, env=python_path(), timeout=600)
    report = json.loads((tmp_path / "cifar10_quick" / "benchmark.json").read_text())
    assert report["quick"] is True and report["trials"] >= 1 and report["baseline_trials"] >= 1
    for key in ("test_accuracy", "baseline_test_accuracy", "top_trial_test_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["search_seconds"] >= 60 and abs(report["baseline_seconds"] - report["search_seconds"]) < 60
    assert report["train_images_per_second"] > 0 and report["peak_rss_mb"] > 100
    assert len(report["search_curve"]) == report["trials"]
    png = tmp_path / "cifar10_quick" / "plots" / "accuracy_vs_time.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


RESULT_KEYS = ["boston_rmse_ratio_vs_gbm", "used_cars_mae_ratio_vs_gbm", "caravan_auc_minus_gbm",
               "used_cars_vs_plain_kt_mae_ratio", "trial_overhead_share", "rss_growth_mb_trial5_to_50",
               "trial_overhead_growth_s", "used_cars_search_disk_mb", "boston_latency_p50_ms", "used_cars_rows_per_s",
               "caravan_latency_p50_ms",
               "boston_top5_rmse_ratio_vs_gbm", "used_cars_top5_mae_ratio_vs_gbm", "caravan_top5_auc_minus_gbm",
               "cifar10_test_accuracy", "caravan_auc_minus_gbm_grid_best", "used_cars_mae_ratio_vs_gbm_grid_best",
               "used_cars_60s_mae_ratio_vs_gbm", "boston_60s_mae_ratio_vs_gbm", "caravan_60s_auc_minus_gbm"]


@pytest.mark.slow
def test_run_all_quick_writes_every_figure_and_the_readme_table(tmp_path):
    cifar10 = tmp_path / "cifar10.json"  # the 2-hour CIFAR-10 benchmark is read, not run
    cifar10.write_text(json.dumps({"test_accuracy": 0.7, "baseline_test_accuracy": 0.6, "search_seconds": 3600.0,
                                   "trials": 40, "date": "2026-01-01", "command": "python -m automl search"}))
    subprocess.run([sys.executable, "-m", "benchmarks.suite.run_all", "--quick", "--results-dir", str(tmp_path),
                    "--cifar10-json", str(cifar10)], check=True, cwd=tmp_path, env=python_path(), timeout=900)
    out = tmp_path / "benchmarks_quick"
    assert not (tmp_path / "benchmarks").exists()  # a quick run never writes over the real figures
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] is True and results["machine"]["cores"] >= 1
    for key in RESULT_KEYS:
        assert isinstance(results[key], (int, float)), key
    assert results["cifar10_test_accuracy"] == 0.7
    summary = results["parts"]["quality"]["details"]["used_cars"]["summary"]
    assert {"automl", "gbm", "ridge_cv", "keras_mlp_2x64"} <= set(summary) and summary["automl"]["mae"]["n"] == 2
    readme = (out / "README.md").read_text()
    assert "| measure | key | value | goal | met |" in readme
    assert all(f"`{key}`" in readme for key in RESULT_KEYS)
    assert "benchmarks.suite.run_all --quick" in readme and "automl search --track" in readme


def test_benchmark_readme_says_which_goals_are_met(tmp_path):
    goals = {"boston_rmse_ratio_vs_gbm": ("Boston RMSE ratio", "≤ 1.00", lambda v, _: v <= 1.0),
             "trial_overhead_share": ("overhead", "≤ 0.05", lambda v, _: v <= 0.05)}
    document = {"date": "2026-01-01 10:00", "quick": False, "machine": {"cores": 2}, "command": "python run_all.py",
                "parts": {"overhead": {"commands": ["automl search --track boston"]}}}
    text = readme(document, goals, {"boston_rmse_ratio_vs_gbm": 0.97, "trial_overhead_share": 0.2, "extra": 3})
    assert "| Boston RMSE ratio | `boston_rmse_ratio_vs_gbm` | 0.97 | ≤ 1.00 | yes |" in text
    assert "| overhead | `trial_overhead_share` | 0.2 | ≤ 0.05 | **no** |" in text
    assert "`extra`" in text and "automl search --track boston" in text and "Measured 2026-01-01 10:00" in text


def test_two_runs_pinned_to_one_core_each_merge_into_one_results_json(tmp_path):
    ctx = Context(quick=False, out=tmp_path, results_dir=tmp_path, seeds=5)
    ctx.out.mkdir(exist_ok=True)

    def quality_of(track: str, ratio: float) -> dict:
        stats = {"rmse": {"mean": ratio, "std": 0.0, "n": 5}}
        detail = {"task": "regression", "test_rows": 100, "time_limit": "5m", "automl_runs": [{"trials": 9, "trials_pruned": 3}],
                  "summary": {"automl": stats, "gbm": stats}, "commands": [f"automl search --track {track}_seed42.toml"]}
        return {"figures": {f"{track}_rmse_ratio_vs_gbm": ratio}, "details": {track: detail}, "commands": []}

    def run(command: str, cores: int, parts: dict) -> None:
        report = {"date": "2026-01-01 10:00", "quick": False, "machine": {"cores": 2}, "seeds": 5,
                  "command": command, "parts": parts}
        run_all.write(ctx, report, {"command": command, "cores_used": cores, "started": command}, fresh=False)

    run("run_all.py --only quality --tracks used_cars", 1, {"quality": quality_of("used_cars", 0.98)})
    run("run_all.py --only quality --tracks boston", 1, {"quality": quality_of("boston", 1.10)})
    run("run_all.py --only memory", 1, {"memory": {"figures": {"rss_growth_mb_trial5_to_50": 12.0}, "commands": []}})
    run("run_all.py --only quality --tracks boston", 1, {"quality": quality_of("boston", 1.02)})  # boston again
    for track, ratio in (("used_cars", 1.01), ("boston", 0.99)):  # the anytime part, one track per core
        run(f"run_all.py --only anytime --tracks {track}", 1, {"anytime": {
            "figures": {f"{track}_60s_mae_ratio_vs_gbm": ratio},
            "details": {track: {"commands": [f"automl search --track {track}_seed42.toml --time-limit 60s"]}},
            "commands": []}})

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["used_cars_rmse_ratio_vs_gbm"] == 0.98 and results["boston_rmse_ratio_vs_gbm"] == 1.02
    assert results["rss_growth_mb_trial5_to_50"] == 12.0
    assert set(results["parts"]["quality"]["details"]) == {"used_cars", "boston"}
    assert results["used_cars_60s_mae_ratio_vs_gbm"] == 1.01 and results["boston_60s_mae_ratio_vs_gbm"] == 0.99
    assert set(results["parts"]["anytime"]["details"]) == {"used_cars", "boston"}
    assert len(results["invocations"]) == 5  # the rerun of boston replaces its first run
    readme = (tmp_path / "README.md").read_text()
    assert "| `run_all.py --only memory` | – | 1 of 2 |" in readme
    assert "automl search --track used_cars_seed42.toml" in readme and "automl search --track boston" in readme
    assert "automl search --track boston_seed42.toml --time-limit 60s" in readme


def test_cifar10_keeps_every_full_runs_test_accuracy_and_reports_their_median_and_lowest(tmp_path):
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps({"date": "2026-11-25", "quick": False, "test_accuracy": 0.8576}))
    runs = runs_so_far(earlier_runs(path), {"date": "2026-11-29", "quick": False, "test_accuracy": 0.80}, "a1")
    assert [r["test_accuracy"] for r in runs["test_accuracy_runs"]] == [0.8576, 0.80]
    # the first run's recipe was not recorded: it is listed, but the figures are this recipe's alone
    assert runs["test_accuracy"] == 0.80 and runs["test_accuracy_lowest"] == 0.80 and runs["recipe_runs"] == 1
    path.write_text(json.dumps({"date": "2026-11-29", "quick": False, **runs}))
    third = runs_so_far(earlier_runs(path), {"date": "2026-11-30", "quick": False, "test_accuracy": 0.9}, "a1")
    assert third["test_accuracy"] == 0.85 and third["test_accuracy_lowest"] == 0.80
    assert len(third["test_accuracy_runs"]) == 3 and third["recipe_runs"] == 2
    path.write_text(json.dumps({"date": "2026-11-30", "quick": False, **third}))
    other = runs_so_far(earlier_runs(path), {"date": "2026-12-01", "quick": False, "test_accuracy": 0.7}, "b2")
    assert other["test_accuracy"] == 0.7 and len(other["test_accuracy_runs"]) == 4
    quick = runs_so_far(earlier_runs(path), {"date": "x", "quick": True, "test_accuracy": 0.5}, "a1")
    assert len(quick["test_accuracy_runs"]) == 1 and earlier_runs(tmp_path / "none.json") == []


@pytest.mark.slow
def test_ablation_quick_writes_each_variants_figure_and_its_table(tmp_path):
    subprocess.run([sys.executable, "-m", "benchmarks.studies.ablation", "--quick", "--out", str(tmp_path),
                    "--only", "automl,no_numeric_embeddings"], check=True, cwd=tmp_path, env=python_path(), timeout=600)
    results = json.loads((tmp_path / "ablation_used_cars_quick.json").read_text())
    assert list(results["variants"]) == ["automl", "no_numeric_embeddings"]
    assert all(v["mae"]["n"] == 1 and v["mae"]["mean"] > 0 for v in results["variants"].values())
    table = (tmp_path / "ablation_used_cars_quick.md").read_text()
    assert "| no_numeric_embeddings | numeric embeddings" in table and "| automl | nothing" in table


def test_a_baseline_is_scored_as_automl_scores_its_own_models():
    y, probability = np.array([0, 1, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.1, 0.9])
    automl, _ = scoring.test_figures(Schema("binary", "y"), y, np.column_stack([1 - probability, probability]))
    assert scores("binary", y, probability) == {k: automl[k] for k in ("roc_auc", "balanced_accuracy")}
    values, predicted = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    automl, _ = scoring.test_figures(Schema("regression", "y"), values, predicted)
    assert scores("regression", values, predicted) == {k: automl[k] for k in ("rmse", "mae", "r2")}


MODULES = sorted(p for p in (ROOT / "benchmarks").glob("*/*.py") if p.name != "__init__.py")


def first_line(path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).splitlines()[0]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_index_says_what_each_benchmark_module_measures_in_its_docstrings_words(path):
    index = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert f"| `{path.parent.name}/{path.name}` | {first_line(path)} |" in index


@pytest.mark.parametrize("path", [p for p in MODULES if p.parent.name == "studies"], ids=lambda p: p.name)
def test_each_study_names_its_committed_figures_in_its_first_line(path):
    named = re.findall(r"results/(\S+\.json)", first_line(path).split("→")[-1])
    assert named and all(list(RESULTS.glob(re.sub(r"\{\w+\}", "*", name))) for name in named)
