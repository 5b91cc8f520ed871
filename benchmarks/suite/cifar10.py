"""CIFAR-10: automl's default search against a plain Keras Tuner Hyperband, the same wall-clock budget each.

1. automl: `python -m automl search --track cifar10 --restart` (the track's 60-minute time limit), run as
   a subprocess so that its wall time and peak RSS are those of the command a user types.
2. Baseline: `keras_tuner.Hyperband` (max_epochs 10, factor 3, objective val_accuracy) over the CNN of
   Keras Tuner's guides (keras.io/guides/keras_tuner/visualize_tuning: 1-3 unpadded 3x3 ReLU convolutions
   of 32-128 filters, one 2x2 max-pooling, flatten, dropout 0/0.1/0.2, softmax; Adam), with the pixels
   scaled to 0-1, trained on the same 45,000 training images and scored on the same 5,000 validation
   images, stopped when automl's wall time is spent; its best model is scored on the same 10,000 test images.

Writes search_results/cifar10/benchmark.json and search_results/cifar10/plots/accuracy_vs_time.png.

With `--time-limit 20m`, the anytime figure: `python -m automl search --track cifar10 --time-limit 20m` (in a
scratch results folder, so the hour's reports stay), without the baseline, into
search_results/cifar10/benchmark_20m.json. Each file keeps every full run's test accuracy (`runs_so_far`); a
--restart of the hour keeps the others' files.

Usage: python -m benchmarks.suite.cifar10 [--quick] [--data PATH] [--results-dir DIR] [--time-limit LIMIT]
`--quick` runs both on the 500 images of tests/data/cifar10_tiny.npz for a minute each (a smoke run).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from automl.hypermodels.machine import bfloat16_instructions, cpu_flags
from benchmarks.suite.runs import ROOT, python_path

TINY = ROOT / "tests" / "data" / "cifar10_tiny.npz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on tiny data, about two minutes")
    parser.add_argument("--data", help="a CIFAR-10 npz (default: the imported copy, or Keras' download)")
    parser.add_argument("--results-dir", default=str(ROOT / "search_results"))
    parser.add_argument("--phase", choices=["baseline"],
                        help="run only the baseline for --seconds, writing its figures to --out")
    parser.add_argument("--seconds", type=float, help="the baseline's wall-clock budget (with --phase baseline)")
    parser.add_argument("--out", help="where --phase baseline writes its figures (JSON)")
    parser.add_argument("--baseline-from", metavar="JSON",
                        help="take the baseline's figures from an earlier `--phase baseline` run instead of running it")
    parser.add_argument("--time-limit", help="the anytime figure: the track with this --time-limit (e.g. 20m), "
                                             "no baseline, into benchmark_<limit>.json")
    args = parser.parse_args()
    if args.phase == "baseline":
        return run_baseline(args)
    if args.time_limit:
        return run_anytime(args)
    results = Path(args.results_dir)
    track = track_file(args, Path(tempfile.mkdtemp(prefix="automl-cifar10-")))
    folder = results / ("cifar10_quick" if args.quick else "cifar10")
    earlier = earlier_runs(folder / "benchmark.json")
    kept = {path.name: path.read_bytes() for path in folder.glob("benchmark_*.json")}  # the anytime figures
    commit, recipe = _commit(), recipe_commit()  # what runs, read now: commits made during the hour do not count
    automl = run_automl(track, results)  # --restart: clears the track's results, benchmark.json too
    for name, content in kept.items():
        (folder / name).write_bytes(content)
    if args.baseline_from:
        baseline = json.loads(Path(args.baseline_from).read_text(encoding="utf-8"))
        baseline["run"] = ("separately: python -m benchmarks.suite.cifar10 --phase baseline "
                           f"--seconds {baseline['budget_seconds']:g}")
    else:
        baseline = run_baseline_process(args, track, automl["search_seconds"])
        baseline["run"] = "after automl, in the same run, for automl's wall time"
    report = summarize(track, results, automl, baseline, quick=args.quick)
    out = results / report["track"] / "benchmark.json"
    report.update(runs_so_far(earlier, report, recipe, commit))
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_accuracy_vs_time(report, results / report["track"] / "plots" / "accuracy_vs_time.png")
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, (list, dict))}, indent=2))
    return 0


def run_anytime(args: argparse.Namespace) -> int:
    """The track searched with `--time-limit` in a scratch results folder; its figures, without a baseline, in
    <results-dir>/cifar10/benchmark_<limit>.json beside every earlier run's."""
    out = Path(args.results_dir) / "cifar10" / f"benchmark_{args.time_limit}.json"
    earlier = earlier_runs(out)
    commit, recipe = _commit(), recipe_commit()
    with tempfile.TemporaryDirectory(prefix="automl-cifar10-") as scratch:
        automl = run_automl("cifar10", Path(scratch), time_limit=args.time_limit)
        report = summarize("cifar10", Path(scratch), automl, None, quick=False)
    report["time_limit"] = args.time_limit
    report.update(runs_so_far(earlier, report, recipe, commit))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, (list, dict))}, indent=2))
    return 0


def track_file(args: argparse.Namespace, directory: Path) -> str:
    """The track to search: cifar10 itself, or (given data or --quick) a copy of it that reads that file."""
    if not args.quick and not args.data:
        return "cifar10"
    text = (ROOT / "tracks" / "cifar10.toml").read_text(encoding="utf-8")
    data = Path(args.data or TINY).resolve()
    text = text.replace('kind = "cifar10"', f'kind = "cifar10"\npath = "{data}"')
    if args.quick:  # tiny data and a tiny budget: the same code path, a minute of it
        text = (text.replace('name = "cifar10"', 'name = "cifar10_quick"')
                .replace('time_limit = "60m"', 'time_limit = "60s"')
                .replace("max_epochs = 27", "max_epochs = 3")
                .replace("images_per_epoch = 9000", "images_per_epoch = 200"))
    path = directory / "cifar10.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def run_automl(track: str, results: Path, time_limit: str | None = None) -> dict:
    limit = ["--time-limit", time_limit] if time_limit else []
    command = [sys.executable, "-m", "automl", "search", "--track", track, *limit, "--restart", "--quiet",
               "--results-dir", str(results)]
    started = time.monotonic()
    subprocess.run(command, check=True)
    seconds = time.monotonic() - started
    return {"search_seconds": round(seconds, 1), "peak_rss_mb": peak_rss_mb_of_children(),
            "command": (" ".join(["python -m automl search --track cifar10", *limit, "--restart"]) if track == "cifar10"
                        else " ".join(command[1:]))}


def run_baseline_process(args: argparse.Namespace, track: str, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "baseline.json"
        command = [sys.executable, "-m", "benchmarks.suite.cifar10", "--phase", "baseline", "--seconds", str(seconds),
                   "--out", str(out)]
        if args.quick or args.data:
            command += ["--data", str(Path(args.data or TINY).resolve())]
        subprocess.run(command, check=True, env=python_path())
        baseline = json.loads(out.read_text(encoding="utf-8"))
    return baseline


def peak_rss_mb_of_children() -> float:
    # Linux reports ru_maxrss in kilobytes: the largest of the finished child processes.
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def peak_rss_mb_self() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def guide_cnn(hp):
    """Keras Tuner's guide CNN (visualize_tuning), for 32x32x3 uint8 images: pixels scaled to 0-1 first."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    for i in range(hp.Int("cnn_layers", 1, 3)):
        x = layers.Conv2D(hp.Int(f"filters_{i}", 32, 128, step=32), kernel_size=(3, 3), activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(hp.Choice("dropout", [0.0, 0.1, 0.2]))(x)
    outputs = layers.Dense(units=10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_baseline(args: argparse.Namespace) -> int:
    """The plain Keras Tuner search, in its own process, on automl's split, until `--seconds` are spent."""
    from automl.data import images
    from benchmarks.suite.plain_keras_tuner import timed_hyperband

    arrays = images.cifar10_arrays(args.data)
    data = images.load_images(arrays, "multiclass", classes=images.CIFAR10_CLASSES, validation=0.1, seed=42)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        tuner = timed_hyperband(guide_cnn, started + args.seconds, (data.train.x, data.train.y),
                                {"validation_data": (data.validation.x, data.validation.y)},
                                objective="val_accuracy", max_epochs=10, factor=3, seed=42,
                                directory=directory, project_name="baseline")
        seconds = time.monotonic() - started
        trials = [t for t in tuner.oracle.trials.values() if t.score is not None]
        best = tuner.get_best_models(1)[0]
        _, accuracy = best.evaluate(data.test.x, data.test.y, batch_size=500, verbose=0)
        best_trial = tuner.oracle.get_best_trials(1)[0]
    Path(args.out).write_text(json.dumps({
        "test_accuracy": round(float(accuracy), 4),
        "val_accuracy": round(float(best_trial.score), 4),
        "trials": len(trials),
        "seconds": round(seconds, 1),
        "budget_seconds": args.seconds,
        "peak_rss_mb": peak_rss_mb_self(),
        "best_hyperparameters": best_trial.hyperparameters.values,
    }), encoding="utf-8")
    return 0


def summarize(track: str, results: Path, automl_run: dict, baseline: dict | None, *, quick: bool) -> dict:
    """benchmark.json: automl's test accuracy, time, speed and trials beside the baseline's (if any)."""
    from automl.track import load_track

    name = load_track(track).name
    root = results / name
    metrics = json.loads((root / "test_metrics.json").read_text(encoding="utf-8"))
    trials, images_trained, train_seconds, curve = [], 0, 0.0, []
    elapsed, best = 0.0, 0.0
    images_per_epoch = load_track(track).model.images_per_epoch
    for trial_dir in sorted((root / "tuner").glob("trial_*")):
        history_path = trial_dir / "history.json"
        if not history_path.is_file():
            continue
        record = json.loads(history_path.read_text(encoding="utf-8"))
        trials.append(trial_dir.name)
        images_trained += len(record["epochs"]) * images_per_epoch
        train_seconds += record["seconds"]
        elapsed += record["seconds"]
        best = max([best, *record["history"].get("val_accuracy", [0.0])])
        curve.append([round(elapsed, 1), round(best, 4)])
    final = metrics.get("final_fit") or {}
    final_curve = []
    if final:
        passes = final.get("history", {}).get("val_accuracy", [])
        for i, value in enumerate(passes):
            final_curve.append([round(elapsed + final["seconds"] * (i + 1) / len(passes), 1), round(value, 4)])
    return {
        "track": name,
        "date": time.strftime("%Y-%m-%d"),
        "machine": (f"{os.cpu_count()} CPU cores, {cpu_name()}, "
                    f"Python {platform.python_version()}"),
        "quick": quick,
        "command": automl_run["command"],
        "test_accuracy": round(metrics["accuracy"], 4),
        "search_seconds": automl_run["search_seconds"],
        "train_images_per_second": round(images_trained / train_seconds, 1) if train_seconds else 0.0,
        "final_fit_images_per_second": final.get("images_per_second"),
        "final_fit_seconds": final.get("seconds"),
        "final_fit_passes": final.get("epochs"),
        "trials": len(trials),
        "chosen_trial": metrics["trial_id"],
        "top_trial_test_accuracy": round(metrics["top"]["accuracy"], 4),
        "peak_rss_mb": automl_run["peak_rss_mb"],
        **({} if baseline is None else {
            "baseline_test_accuracy": baseline["test_accuracy"],
            "baseline_val_accuracy": baseline["val_accuracy"],
            "baseline_trials": baseline["trials"],
            "baseline_seconds": baseline["seconds"],
            "baseline_peak_rss_mb": baseline["peak_rss_mb"],
            "baseline_best_hyperparameters": baseline["best_hyperparameters"],
            "baseline_run": baseline["run"]}),
        "search_curve": curve,  # [seconds of training so far, best validation accuracy so far], per trial
        "final_fit_curve": final_curve,  # [seconds, validation accuracy], per pass of the final fit
    }


def cpu_name() -> str:
    """The CPU's model name and its bfloat16 instructions (the `bfloat16` lever is pulled only with them)."""
    name = cpu_flags()[0]
    bf16 = bfloat16_instructions()
    return f"{name} ({', '.join(bf16) if bf16 else 'no bfloat16 instructions'})"


def earlier_runs(path: Path) -> list[dict]:
    """The full runs a benchmark.json recorded (before this run's --restart clears it); none from a quick one."""
    if not path.is_file():
        return []
    previous = json.loads(path.read_text(encoding="utf-8"))
    if previous.get("quick"):
        return []
    return previous.get("test_accuracy_runs") or [
        {"date": previous["date"], "commit": "not recorded", "test_accuracy": previous["test_accuracy"]}]


def runs_so_far(earlier: list[dict], report: dict, recipe: str | None = None, commit: str | None = None) -> dict:
    """Every full run's test accuracy, `earlier` ones and this one, with the commit each ran and its `recipe`
    (the last commit that changed the track's network, training or final fit: `recipe_commit`).

    `test_accuracy` is the median and `test_accuracy_lowest` the minimum of the runs of this run's recipe, as a
    result must hold run after run; runs of earlier recipes stay listed, for the record. A quick run records
    only itself.
    """
    recipe = recipe or recipe_commit()
    this = {"date": report["date"], "commit": commit or _commit(), "recipe": recipe,
            "test_accuracy": report["test_accuracy"]}
    runs = [*([] if report["quick"] else earlier), this]
    accuracies = sorted(run["test_accuracy"] for run in runs if run.get("recipe") == recipe)
    middle = len(accuracies) // 2
    median = accuracies[middle] if len(accuracies) % 2 else (accuracies[middle - 1] + accuracies[middle]) / 2
    return {"test_accuracy_this_run": this["test_accuracy"], "test_accuracy": round(median, 4),
            "test_accuracy_lowest": accuracies[0], "recipe": recipe, "recipe_runs": len(accuracies),
            "test_accuracy_runs": runs}


# What decides CIFAR-10's result: the track, the CNN space and its layers, training and the final fit.
RECIPE_FILES = ("tracks/cifar10.toml", "automl/hypermodels/cnn.py", "automl/hypermodels/image_layers.py",
                "automl/hypermodels/training.py", "automl/hypermodels/image_inputs.py", "automl/tuning/final_fit.py",
                "automl/data/whitening.py")


def recipe_commit() -> str:
    """The last commit that changed one of `RECIPE_FILES`: runs of the same recipe share it."""
    try:
        return subprocess.run(["git", "log", "-1", "--format=%h", "--", *RECIPE_FILES], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def plot_accuracy_vs_time(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    if report["search_curve"]:
        seconds, accuracy = zip(*report["search_curve"], strict=True)
        axes.step([s / 60 for s in seconds], accuracy, where="post", label="search: best validation accuracy")
    if report["final_fit_curve"]:
        seconds, accuracy = zip(*report["final_fit_curve"], strict=True)
        axes.plot([s / 60 for s in seconds], accuracy, marker=".", label="final fit: validation accuracy")
    end = report["search_seconds"] / 60
    axes.scatter([end], [report.get("test_accuracy_this_run", report["test_accuracy"])], color="black", zorder=3,
                 label="automl: test accuracy")
    axes.axhline(report["baseline_test_accuracy"], color="grey", linestyle="--",
                 label="plain Keras Tuner, same time: test accuracy")
    axes.set_xlabel("minutes")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{report['track']}: accuracy against wall time ({report['machine'].split(',')[0]})")
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
