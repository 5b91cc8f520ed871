"""Each benchmark runs in its --quick mode on tiny data, so that the scripts do not rot between real runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cifar10_benchmark_quick_writes_its_figures_beside_the_baseline(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cifar10.py"), "--quick", "--results-dir", str(tmp_path)],
                   check=True, cwd=tmp_path, timeout=600)
    report = json.loads((tmp_path / "cifar10_quick" / "benchmark.json").read_text())
    assert report["quick"] is True and report["trials"] >= 1 and report["baseline_trials"] >= 1
    for key in ("test_accuracy", "baseline_test_accuracy", "top_trial_test_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["search_seconds"] >= 60 and abs(report["baseline_seconds"] - report["search_seconds"]) < 60
    assert report["train_images_per_second"] > 0 and report["peak_rss_mb"] > 100
    assert len(report["search_curve"]) == report["trials"]
    png = tmp_path / "cifar10_quick" / "plots" / "accuracy_vs_time.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
