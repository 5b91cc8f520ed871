"""The benchmarks' README.md: the machine, the date, the commands and every figure, from results.json."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL_NAMES = {"automl": "automl (chosen model)", "automl_chosen": "automl (chosen model)",
               "automl_top": "automl (top-scoring trial)",
               "gbm": "HistGradientBoosting (better of default/tuned, by validation)",
               "gbm_default": "HistGradientBoosting, defaults", "gbm_tuned": "HistGradientBoosting, best of the grid",
               "ridge_cv": "RidgeCV", "logistic_regression": "LogisticRegression (class weights)",
               "keras_mlp_2x64": "Keras MLP 2×64 ReLU, Adam"}


def readme(document: dict[str, Any], goals: dict[str, tuple[str, str, Callable[[float, dict], bool] | None]],
           figures: dict[str, Any], out: Path | None = None) -> str:
    parts = document.get("parts", {})
    lines = ["# automl benchmarks", ""]
    if document.get("quick"):
        lines += [("**A `--quick` smoke run on a few hundred rows and searches of seconds: these figures show that "
                  "the scripts work, not how good automl is.**"), ""]
    m = document.get("machine", {})
    lines += [
        (f"Measured {document.get('date')} on {m.get('cores')} CPU cores ({m.get('processor')}, {m.get('system')}, "
        f"{m.get('gpus', 0)} GPU), Python {m.get('python')}, TensorFlow {m.get('tensorflow')}, Keras {m.get('keras')}, "
        f"Keras Tuner {m.get('keras-tuner')}, scikit-learn {m.get('scikit-learn')}. Load average "
        f"{m.get('load_average')} at the start, {document.get('load_average_end')} at the end: on a shared CPU "
        "every time below is longer."),
        "",
        (f"Command: `{document.get('command')}`. Each figure is taken side by side in the same run, on the same "
        f"splits, on the same machine; {document.get('seeds')} search seeds per tabular track."),
        "",
        *_invocations(document.get("invocations", []), m.get("cores")),
        "## Figures", "",
        "| measure | key | value | goal | met |", "|---|---|---|---|---|",
    ]
    for key, (what, goal, test) in goals.items():
        value = figures.get(key)
        met = "" if value is None or test is None else ("yes" if test(value, figures) else "**no**")
        lines.append(f"| {what} | `{key}` | {_number(value)} | {goal} | {met} |")
    for key, value in figures.items():
        if key not in goals:
            lines.append(f"| | `{key}` | {_number(value)} | | |")
    lines += [""]
    lines += _quality(parts.get("quality", {}).get("details", {}), figures)
    lines += _efficiency(parts.get("efficiency", {}).get("details", {}))
    lines += _overhead(parts.get("overhead", {}).get("details", {}))
    lines += _memory(parts.get("memory", {}).get("details", {}), figures)
    lines += _disk(parts.get("disk", {}).get("details", {}), figures)
    lines += _latency(parts.get("latency", {}).get("details", {}))
    lines += _ensemble(parts.get("ensemble", {}).get("details", {}))
    lines += _cifar10(parts.get("cifar10", {}).get("details", {}), out)
    commands = [c for part in parts.values() for c in part.get("commands", [])]
    lines += ["## Commands run", "", "```", document.get("command", ""), *commands, "```", ""]
    return "\n".join(lines)


def _invocations(invocations: list[dict[str, Any]], cores: int | None) -> list[str]:
    """The runs that wrote results.json, and the cores each was pinned to, when there was more than one."""
    if len(invocations) < 2 and all(i.get("cores_used") == cores for i in invocations):
        return []
    lines = [("The figures come from these runs, merged into one results.json (a run pinned to fewer cores than "
             "the machine has shared it with another run; its searches had that many cores, and so had the "
             "baselines beside them):"), "",
             "| command | commit | cores | started | ended |", "|---|---|---|---|---|"]
    lines += [f"| `{i['command']}` | {i.get('commit') or '–'} | {i.get('cores_used')} of {cores} | "
              f"{i.get('started')} | {i.get('ended', '–')} |" for i in invocations]
    return lines + [""]


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['mean']:.4g} ± {stats['std']:.2g}"


def _quality(details: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    if not details:
        return []
    lines = ["## 1. Tabular quality", "",
             ("Test split, mean ± std over the search seeds (the split stays the track's). automl searches with the "
             "track's own time limit; the baselines train on the same training split."), ""]
    for name, detail in details.items():
        metrics = list(next(iter(detail["summary"].values())))
        lines += [f"### {name} ({detail['test_rows']} test rows, automl time limit {detail['time_limit']})", "",
                  "| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for model, stats in detail["summary"].items():
            lines.append(f"| {MODEL_NAMES.get(model, model)} | " + " | ".join(_ms(stats[m]) for m in metrics) + " |")
        runs = detail["automl_runs"]
        lines += ["", (f"automl: {sum(r['trials'] for r in runs) / len(runs):.3g} trials per search on average, "
                      f"{sum(r['trials_pruned'] for r in runs) / len(runs):.3g} of them with pruned checkpoints.")]
        lines += [_gap(name, detail, figures), ""]
    return lines


def _gap(name: str, detail: dict[str, Any], figures: dict[str, Any]) -> str:
    """How far automl is from the GBM, in words."""
    if detail["task"] == "regression":
        ratio = figures.get(f"{name}_mae_ratio_vs_gbm" if name == "used_cars" else f"{name}_rmse_ratio_vs_gbm")
        metric = "MAE" if name == "used_cars" else "RMSE"
        if ratio is None:
            return ""
        side = "below" if ratio <= 1 else "above"
        return f"automl's test {metric} is {abs(ratio - 1):.1%} {side} the GBM's."
    difference = figures.get(f"{name}_auc_minus_gbm")
    if difference is None:
        return ""
    return f"automl's test ROC AUC is {abs(difference):.3f} {'above' if difference >= 0 else 'below'} the GBM's."


def _efficiency(details: dict[str, Any]) -> list[str]:
    if "automl" not in details:
        return []
    automl, plain = details["automl"], details["plain_keras_tuner"]
    rows = [("validation MAE (£, chosen/best model)", "validation_mae"), ("test MAE (£)", "test_mae"),
            ("trials completed", "trials_completed"), ("seconds", "seconds"),
            ("disk of the tuner directory (MB)", "disk_mb")]
    lines = ["## 2. Search efficiency: used cars, automl against a plain Keras Tuner Hyperband, same wall time", "",
             "| | automl | plain Keras Tuner (getting-started hypermodel) |", "|---|---|---|"]
    lines += [f"| {label} | {_number(automl.get(key))} | {_number(plain.get(key))} |" for label, key in rows]
    return lines + [""]


def _overhead(details: dict[str, Any]) -> list[str]:
    tracks = details.get("tracks")
    if not tracks:
        return []
    lines = ["## 3. Overhead: time outside model.fit", "",
             ("| track | trials | share of search time outside fit | share of trial time outside fit | "
             "seconds outside fit per trial | the same, first 10 trials of a search | last 10 trials |"),
             "|---|---|---|---|---|---|---|"]
    for name, t in tracks.items():
        name = f"{name} (as recorded when its searches ran)" if t.get("recorded") else name
        lines.append(f"| {name} | {t['trials']} | {_number(t['share_outside_fit'])} | "
                     f"{_number(t['share_outside_fit_within_trials'])} | "
                     f"{_number(t['seconds_outside_fit_per_trial'])} | "
                     f"{_number(t.get('outside_fit_first_trials_s'))} | "
                     f"{_number(t.get('outside_fit_last_trials_s'))} |")
    return lines + [""]


def _memory(details: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    if "trials" not in details:
        return []
    return ["## 4. Memory", "",
            (f"A used-cars search in its own process, {details['trials']} trials; RSS ({details['sampler']}) grew "
            f"{_number(figures.get('rss_growth_mb_trial5_to_50'))} MB from trial {details['growth_from_trial']} to "
            f"trial {details['growth_to_trial']}; peak {_number(figures.get('search_peak_rss_mb'))} MB."), ""]


def _disk(details: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    if "trials" not in details:
        return []
    return ["## 5. Disk", "",
            (f"After a used-cars search of {details['trials']} trials: "
            f"{_number(figures.get('used_cars_search_disk_mb'))} MB, "
            f"of which {details['checkpoints_kept']} checkpoints kept ({_number(details['checkpoint_mb_kept'])} MB; "
            f"k × model size = {_number(figures.get('used_cars_k_times_model_mb'))} MB) and "
            f"{_number(details['other_files_mb'])} MB of other files (exported models, reports, trial records). "
            f"Pruning deleted {details['checkpoints_pruned']} checkpoints ({_number(details['freed_mb'])} MB); "
            f"without it the search would take {_number(figures.get('used_cars_search_disk_mb_without_pruning'))} MB. "
            "A search stopped by its time limit keeps every checkpoint of its open Hyperband bracket, which a rerun "
            "may still continue."),
            ""]


def _latency(details: dict[str, Any]) -> list[str]:
    if not details:
        return []
    lines = ["## 6. Latency on this CPU (chosen models, mean ± std over the seeds)", "",
             "| track | automl p50 ms, batch 1 | automl rows/s, batch 256 | GBM p50 ms, batch 1 | "
             "GBM rows/s, batch 256 |",
             "|---|---|---|---|---|"]
    for name, d in details.items():
        lines.append(f"| {name} | {_ms(d['automl']['latency_p50_ms'])} | {_ms(d['automl']['rows_per_second'])} | "
                     f"{_ms(d['gbm']['latency_p50_ms'])} | {_ms(d['gbm']['rows_per_second'])} |")
    return lines + ["", ("automl's model is the exported `.keras` file called through a `tf.function`; the GBM is "
                        "scikit-learn's `predict` on a DataFrame row."), ""]


def _ensemble(details: dict[str, Any]) -> list[str]:
    if not details or "skipped" in details:
        return []
    lines = ["## What would close the gap: the mean of each search's top trials", "",
             ("Not what automl exports (one network, the chosen one): each quality search's best trials by validation "
              "score, loaded from the checkpoints the search keeps, their test predictions averaged. Test split, mean "
              "± std over the seeds."), ""]
    for name, detail in details.items():
        metrics = list(next(iter(detail["summary"].values())))
        lines += [f"### {name}", "", "| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for model, stats in detail["summary"].items():
            label = (f"mean of the top {detail['k']} trials" if model.startswith("top")
                     else MODEL_NAMES.get(model, model))
            lines.append(f"| {label} | " + " | ".join(_ms(stats[m]) for m in metrics) + " |")
        lines.append("")
    return lines


def _cifar10(details: dict[str, Any], out: Path | None) -> list[str]:
    if not details:
        return []
    if "skipped" in details:
        return ["## 7. CIFAR-10", "", f"Not measured: {details['skipped']}.", ""]
    lines = ["## 7. CIFAR-10", "",
             (f"Test accuracy {_number(details.get('test_accuracy'))} after {_number(details.get('search_seconds'))} s "
             f"({details.get('trials')} trials); plain Keras Tuner in the same time: "
             f"{_number(details.get('baseline_test_accuracy'))}. Figures {details['how']} (measured "
             f"{details.get('date')}, `{details.get('command')}`).")]
    plot = details.get("plot")
    if plot:
        link = os.path.relpath(plot, out) if out else plot
        lines += ["", f"![accuracy against wall time]({link})"]
    return lines + [""]
