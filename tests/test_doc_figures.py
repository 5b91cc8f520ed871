"""Every figure the README and the docs quote from a results file agrees with that file, as the text rounds it.

Each row: the document that quotes, the words it quotes with a format field for each figure, the results
file, and where each figure is in it (a path of keys and list indices, or a function of the reader for a
figure derived from several). A new run that changes a figure, or a doc edited by hand, fails here until
the two agree again. Whitespace (line breaks) in the document does not count.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "search_results/benchmarks/results.json"
QUALITY = "parts.quality.details"
UNSEEN = "benchmarks/results/quality_boston_seeds_47_51.json"
CIFAR10 = "search_results/cifar10/benchmark.json"
CNN_START = "benchmarks/results/cnn_start.json"


def ratio(top: str, bottom: str):
    return lambda read: read(top) / read(bottom)


def used_cars_seed_ratios(read) -> list[float]:
    runs, baselines = read(f"{QUALITY}.used_cars.automl_runs"), read(f"{QUALITY}.used_cars.baselines")
    return [run["test"]["mae"] / baseline["test"]["gbm"]["mae"] for run, baseline in zip(runs, baselines, strict=True)]


def sgd_or_adamw(read, optimizer: str) -> float:
    """The CNN start's validation accuracy after 8 epochs with balanced class weights, under `optimizer`."""
    (found,) = [t for t in read("optimizers") if t["optimizer"] == optimizer and t["class_weight"] == "balanced"]
    return found["val_accuracy"][7]


def seed(index: int, figure: str) -> str:
    return f"{QUALITY}.used_cars.automl_runs.{index}.{figure}"


QUOTES = [
    # The README's status paragraph
    ("README.md", "test MAE is {:.2f}× on Boston", RESULTS, ["boston_mae_ratio_vs_gbm"]),
    ("README.md", "its ROC AUC {:+.2f} on Caravan", RESULTS, ["caravan_auc_minus_gbm"]),
    ("README.md", "from 1.065× to {:.3f}× (£{:,.0f} ± {:.0f} against £{:,.0f})", RESULTS,
     ["used_cars_mae_ratio_vs_gbm", f"{QUALITY}.used_cars.summary.automl.mae.mean",
      f"{QUALITY}.used_cars.summary.automl.mae.std", f"{QUALITY}.used_cars.summary.gbm.mae.mean"]),
    ("README.md", "test ROC AUC {:.3f} against {:.3f} for TF-IDF", RESULTS,
     ["told_br_test_roc_auc", "told_br_tfidf_test_roc_auc"]),
    ("README.md", "a CNN from scratch, the search's start, reached test accuracy {:.2f}, a pretrained MobileNet "
     "{:.2f}, the ensemble of both, chosen, {:.2f};", "search_results/clothing/test_metrics.json",
     ["compared.cnn.accuracy", "compared.backbone.accuracy", "accuracy"]),
    ("README.md", "reached {:.4f} and {:.4f} test accuracy in two runs", CIFAR10,
     ["test_accuracy_runs.-2.test_accuracy", "test_accuracy_runs.-1.test_accuracy"]),
    ("README.md", "(plain Keras Tuner in the same hour: {:.4f};", CIFAR10, ["baseline_test_accuracy"]),
    ("README.md", "reached a mean test accuracy of {:.3f} on 1,797 small digits (3 splits; a logistic regression on "
     "their pixels {:.3f}) and {:.3f} on 3,000 CIFAR-10 images ({:.3f}), where they reached {:.3f} and {:.3f}",
     CNN_START, ["summary.digits/start.mean", "summary.digits/linear.mean", "summary.cifar3k/start.mean",
                 "summary.cifar3k/linear.mean", "summary.digits/no_start.mean", "summary.cifar3k/no_start.mean"]),
    # docs/own-data.md: the CNN's start on two real folders of images
    *[("docs/own-data.md", f"{words} | **{{:.3f}}** ({{:.3f}}–{{:.3f}}) | {{:.3f}} ({{:.3f}}–{{:.3f}}) | "
       "{:.3f} ({:.3f}–{:.3f}) |", CNN_START,
       [f"summary.{folder}/{variant}.{figure}" for variant in ("start", "no_start", "linear")
        for figure in ("mean", "min", "max")])
      for folder, words in (("digits", "10 classes"), ("cifar3k", "32x32, 10 classes"))],
    ("docs/own-data.md", "10 imbalanced classes | **{:.3f}** ({:.3f}–{:.3f}) | {:.3f} ({:.3f}–{:.3f}; 2 splits) | "
     "{:.3f} ({:.3f}–{:.3f}; 2 splits) |", CNN_START,
     [f"summary.clothing/{variant}.{figure}" for variant in ("start", "no_start", "linear")
      for figure in ("mean", "min", "max")]),
    ("docs/own-data.md", "as airbench and the CIFAR-10 track do: {:.3f} and {:.3f} in the same runs", CNN_START,
     ["summary.digits/start_sgd.mean", "summary.cifar3k/start_sgd.mean"]),
    ("docs/own-data.md", "it reached {:.3f} test accuracy (in {:.0f} s of one core)", CNN_START,
     ["networks.0.test_accuracy", "networks.0.seconds"]),
    ("docs/own-data.md", "validation accuracy {:.3f} at epoch 8 against AdamW's {:.3f}", CNN_START,
     [lambda read: sgd_or_adamw(read, "sgd 0.05"), lambda read: sgd_or_adamw(read, "adamw 2e-3")]),
    # docs/benchmarks.md: the table of the measured figures
    ("docs/benchmarks.md", "| **{:.3f}** ({:.3f} ± {:.3f} against {:.3f};", RESULTS,
     ["boston_mae_ratio_vs_gbm", f"{QUALITY}.boston.summary.automl.mae.mean",
      f"{QUALITY}.boston.summary.automl.mae.std", f"{QUALITY}.boston.summary.gbm.mae.mean"]),
    ("docs/benchmarks.md", "on five seeds no rule was designed on, 47–51: {:.3f}, on the same 102 test rows", UNSEEN,
     [ratio("summary.automl.mae.mean", "summary.gbm.mae.mean")]),
    ("docs/benchmarks.md", "| Boston test RMSE, automl / GBM | {:.3f} (seeds 47–51:", RESULTS, ["boston_rmse_ratio_vs_gbm"]),
    ("docs/benchmarks.md", "| Boston test RMSE, automl / GBM | 0.833 (seeds 47–51: {:.3f}) |", UNSEEN,
     [ratio("summary.automl.rmse.mean", "summary.gbm.rmse.mean")]),
    ("docs/benchmarks.md", "| **{:.3f}** (£{:,.0f} ± {:.0f} against £{:,.0f}; RMSE {:.3f}) |", RESULTS,
     ["used_cars_mae_ratio_vs_gbm", f"{QUALITY}.used_cars.summary.automl.mae.mean",
      f"{QUALITY}.used_cars.summary.automl.mae.std", f"{QUALITY}.used_cars.summary.gbm.mae.mean",
      "used_cars_rmse_ratio_vs_gbm"]),
    ("docs/benchmarks.md", "automl − GBM chosen on validation | {:+.3f} |", RESULTS, ["caravan_auc_minus_gbm"]),
    ("docs/benchmarks.md", "the grid's best GBM *on test* | {:+.3f} |", RESULTS, ["caravan_auc_minus_gbm_grid_best"]),
    ("docs/benchmarks.md", "| Used cars test MAE after a 60 s search, automl / GBM | {:.3f} |", RESULTS,
     ["used_cars_60s_mae_ratio_vs_gbm"]),
    ("docs/benchmarks.md", "| Boston test MAE after a 60 s search, automl / GBM | {:.3f} |", RESULTS,
     ["boston_60s_mae_ratio_vs_gbm"]),
    ("docs/benchmarks.md", "| Caravan test ROC AUC after a 60 s search, automl − GBM | {:+.3f} |", RESULTS,
     ["caravan_60s_auc_minus_gbm"]),
    ("docs/benchmarks.md", "| {:.3f} (£{:,.0f} against £{:,.0f}), the first recipe's run;", RESULTS,
     ["used_cars_vs_plain_kt_mae_ratio", "parts.efficiency.details.automl.test_mae",
      "parts.efficiency.details.plain_keras_tuner.test_mae"]),
    ("docs/benchmarks.md", "| **{:.3f}** (Boston {:.3f}, Caravan {:.3f}, used cars {:.3f}) |", RESULTS,
     ["trial_overhead_share", "parts.overhead.details.tracks.boston.share_outside_fit",
      "parts.overhead.details.tracks.caravan.share_outside_fit",
      "parts.overhead.details.tracks.used_cars.share_outside_fit"]),
    ("docs/benchmarks.md", "last 10 trials − first 10 (a leak) | {:+.3f} |", RESULTS, ["trial_overhead_growth_s"]),
    ("docs/benchmarks.md", "| {:.0f} MB ({:.0f} → {:.0f} MB;", RESULTS,
     ["rss_growth_mb_trial5_to_50", "parts.memory.details.rss_mb_after_each_trial.4",
      "parts.memory.details.rss_mb_after_each_trial.-1"]),
    ("docs/benchmarks.md", "| {:.1f} MB ({:.1f} of checkpoints) | ≤ {:.1f} MB (k × checkpoint) | missed by {:.0f} MB |",
     RESULTS, ["used_cars_search_disk_mb", "used_cars_k_times_model_mb", "used_cars_k_times_model_mb",
               lambda read: read("used_cars_search_disk_mb") - read("used_cars_k_times_model_mb")]),
    ("docs/benchmarks.md", "| {:.2f} / {:.2f} / {:.2f} ms | | GBM: {:.2f} / {:.2f} / {:.2f} ms |", RESULTS,
     ["boston_latency_p50_ms", "used_cars_latency_p50_ms", "caravan_latency_p50_ms",
      "boston_gbm_latency_p50_ms", "used_cars_gbm_latency_p50_ms", "caravan_gbm_latency_p50_ms"]),
    ("docs/benchmarks.md", "| {:+.3f} ({:.3f} against {:.3f}) | ≥ 0 |", RESULTS,
     ["told_br_auc_minus_tfidf", "told_br_test_roc_auc", "told_br_tfidf_test_roc_auc"]),
    ("docs/benchmarks.md", "median of the recipe's runs | {:.4f} ({:.4f}, {:.4f}) |", CIFAR10,
     ["test_accuracy", "test_accuracy_runs.-2.test_accuracy", "test_accuracy_runs.-1.test_accuracy"]),
    ("docs/benchmarks.md", "met; plain Keras Tuner {:.4f} |", RESULTS, ["cifar10_plain_kt_test_accuracy"]),
    # docs/benchmarks.md: the goals, one by one
    ("docs/benchmarks.md", "*Used cars, now {:.3f}× the GBM*", RESULTS, ["used_cars_mae_ratio_vs_gbm"]),
    ("docs/benchmarks.md", "the five seeds were {:.3f}–{:.3f}× their GBM", RESULTS,
     [lambda read: min(used_cars_seed_ratios(read)), lambda read: max(used_cars_seed_ratios(read))]),
    ("docs/benchmarks.md", "*Boston, now {:.3f}× the GBM", RESULTS, ["boston_mae_ratio_vs_gbm"]),
    ("docs/benchmarks.md", "test MAE {:.3f}× the GBM ({:.3f} against {:.3f}), RMSE {:.3f}×", UNSEEN,
     [ratio("summary.automl.mae.mean", "summary.gbm.mae.mean"), "summary.automl.mae.mean", "summary.gbm.mae.mean",
      ratio("summary.automl.rmse.mean", "summary.gbm.rmse.mean")]),
    ("docs/benchmarks.md", "*Time outside `fit`, {:.3f} (met;", RESULTS, ["trial_overhead_share"]),
    ("docs/benchmarks.md", "Per trial outside `fit`: Boston {:.3f} s", RESULTS,
     ["parts.overhead.details.tracks.boston.seconds_outside_fit_per_trial"]),
    ("docs/benchmarks.md", "Caravan {:.3f} s (was 0.242), used cars {:.3f} s", RESULTS,
     ["parts.overhead.details.tracks.caravan.seconds_outside_fit_per_trial",
      "parts.overhead.details.tracks.used_cars.seconds_outside_fit_per_trial"]),
    ("docs/benchmarks.md", "*Disk, {:.1f} MB*", RESULTS, ["used_cars_search_disk_mb"]),
    ("docs/benchmarks.md", "The {} checkpoints ({:.1f} MB each) are kept", RESULTS,
     ["used_cars_checkpoints_kept", "parts.disk.details.largest_checkpoint_mb"]),
    # docs/benchmarks.md: the reference runs
    ("docs/benchmarks.md", "its own weights: MAE {:.3f}, RMSE {:.3f}, R² {:.3f} ({} rows)",
     "search_results/boston/test_metrics.json", ["mae", "rmse", "r2", "rows"]),
    ("docs/benchmarks.md", "the ensemble: ROC AUC {:.3f} (as in the run before), balanced accuracy {:.3f} at 0.5 and "
     "{:.3f} at its decision threshold {:.3f} ({:,} rows)", "search_results/caravan/test_metrics.json",
     ["roc_auc", "balanced_accuracy", "balanced_accuracy_at_threshold", "decision_threshold", "rows"]),
    ("docs/benchmarks.md", "MAE £{:,.0f}, RMSE £{:,.0f}, R² {:.3f} ({:,} rows;", "search_results/used_cars/test_metrics.json",
     ["mae", "rmse", "r2", "rows"]),
    ("docs/benchmarks.md", "refitted on training + validation: ROC AUC {:.3f} ({:,} rows;",
     "search_results/told_br/test_metrics.json", ["roc_auc", "rows"]),
    ("docs/benchmarks.md", "accuracy {:.4f}, balanced accuracy {:.3f} ({} images; the CNN family's best: {:.3f})",
     "search_results/clothing/test_metrics.json", ["accuracy", "balanced_accuracy", "rows", "compared.cnn.accuracy"]),
    ("docs/benchmarks.md", "| accuracy {:.4f} ({:,} images;", "search_results/cifar10/test_metrics.json",
     ["accuracy", "rows"]),
    # docs/image-columns.md: the clothing table, split by sender and at random
    *[("docs/image-columns.md", f"| {row} | {{:.4f}} |", f"search_results/{run}/test_metrics.json",
       [f"compared.{kind}.accuracy"])
      for run, kind, row in (("clothing_table", "images", "images alone (0002, the start; chosen) | 0.6035"),
                             ("clothing_table", "table+images", "table + images (0001, the start) | 0.5808"),
                             ("clothing_table", "table", "table alone (0008) | 0.2273"),
                             ("clothing_table_random", "table+images", "table + images (0001, the start) | 0.7026"),
                             ("clothing_table_random", "images", "images alone (0002, the start) | 0.6682"),
                             ("clothing_table_random", "table", "table alone (0010) | 0.1600"))],
    ("docs/image-columns.md", "| chosen: the ensemble of the best trials | 0.7062 | {:.4f} |",
     "search_results/clothing_table_random/test_metrics.json", ["accuracy"]),
    ("docs/image-columns.md", "the images alone 0.6035 validation and {:.4f} test accuracy, the table and images "
     "0.5985 and {:.4f}, the chosen ensemble of 5 trials 0.6462 and {:.4f}",
     "search_results/clothing_table_backbone/test_metrics.json",
     ["compared.images.accuracy", "compared.table+images.accuracy", "accuracy"]),
    # docs/tracks.md: the used-cars recipe over the benchmark's seeds, and the CIFAR-10 recipe's runs
    ("docs/tracks.md", "test MAE £{:,.0f} ± {:.0f} against the GBM's £{:,.0f}: **{:.3f}×**", RESULTS,
     [f"{QUALITY}.used_cars.summary.automl.mae.mean", f"{QUALITY}.used_cars.summary.automl.mae.std",
      f"{QUALITY}.used_cars.summary.gbm.mae.mean", "used_cars_mae_ratio_vs_gbm"]),
    ("docs/tracks.md", "Per seed £{:,.0f}, £{:,.0f}, £{:,.0f}, £{:,.0f} and £{:,.0f}", RESULTS,
     [seed(i, "test.mae") for i in range(5)]),
    ("docs/tracks.md", "against that seed's GBM {:.3f}, {:.3f}, {:.3f}, {:.3f} and {:.3f} (the run before", RESULTS,
     [lambda read, i=i: used_cars_seed_ratios(read)[i] for i in range(5)]),
    ("docs/tracks.md", "Hyperband completes in {:.0f}–{:.0f} s ({} trials)", RESULTS,
     [lambda read: min(read(seed(i, "search_seconds")) for i in range(5)),
      lambda read: max(read(seed(i, "search_seconds")) for i in range(5)), seed(0, "trials")]),
    ("docs/tracks.md", "the track as it is now): {:.4f} and {:.4f}.**", CIFAR10,
     ["test_accuracy_runs.-2.test_accuracy", "test_accuracy_runs.-1.test_accuracy"]),
    ("docs/tracks.md", "(`test_accuracy` {:.4f} is their median, `test_accuracy_lowest` {:.4f})", CIFAR10,
     ["test_accuracy", "test_accuracy_lowest"]),
    *[("docs/tracks.md", row, f"benchmarks/results/cifar10_levers_{variant}.json",
       ["images_per_second", "passes", "test_accuracy"])
      for variant, row in (("all", "| every lever | {:.0f} | {:.1f} | **{:.4f}** |"),
                           ("no_bfloat16", "| without `bfloat16` | {:.0f} | {:.2f} | {:.4f} |"),
                           ("no_frozen_scale_bn", "| without `frozen_scale_bn` | {:.0f} | {:.1f} | {:.4f} |"),
                           ("no_lookahead", "| without `lookahead` | {:.0f} | {:.1f} | {:.4f} |"),
                           ("no_alternating_flip", "| without `alternating_flip` | {:.0f} | {:.2f} | {:.4f} |"),
                           ("plain", "SGD 0.1) | {:.0f} | {:.2f} | {:.4f} |"))],
    ("README.md", "of an AVX2-only EPYC, where the same network trains 6 times slower, it reached {:.4f}",
     "search_results/cifar10/benchmark_20m.json", ["test_accuracy"]),
    ("docs/tracks.md", "then {:.2f} passes of the final fit at {:.0f} images/s", "search_results/cifar10/benchmark_20m.json",
     ["final_fit_passes", "final_fit_images_per_second"]),
    *[("docs/tracks.md", text, "benchmarks/results/cifar10_levers_20m.json", [f"test_accuracy_runs.{i}.test_accuracy"])
      for i, text in ((0, "(0.06 passes; test {:.4f})"), (1, "test {:.4f}, kept with the other in"))],
    ("docs/tracks.md", "scored with the mirror average alone: {:.4f}; with no test-time average: {:.4f}",
     "benchmarks/results/cifar10_levers_all.json", ["test_accuracy_mirror_only", "test_accuracy_no_average"]),
    ("docs/tracks.md", "| Nesterov SGD | 0.1 | {:.1f} | {:.0f} | **{:.4f}** |", "benchmarks/results/cifar10_recipe_sgd.json",
     ["passes", "images_per_second", "test_accuracy"]),
    ("docs/tracks.md", "| Adam | 2e-3 | {:.1f} | {:.0f} | {:.4f} |", "benchmarks/results/cifar10_recipe_adam.json",
     ["passes", "images_per_second", "test_accuracy"]),
    *[("docs/tracks.md", f"{row} | {{:,}} | {{:,.0f}} | {{:,.0f}} |", "benchmarks/results/cnn_speed.json",
       [f"{candidate}.params", f"{candidate}.train_images_per_second", f"{candidate}.predict_images_per_second"])
      for candidate, row in (("lightest", "2 blocks, 16 filters, 1 conv"), ("middle", "3 blocks, 32 filters, 2 convs"),
                             ("heaviest", "5×5 first, flatten, dense 256"))],
    *[("docs/tracks.md", f"| {row} | {{:,.0f}} |", "benchmarks/results/cpu_speed.json",
       [f"settings.{setting}.images_per_second"])
      for setting, row in (("float32, batch 128", "float32, batch 128 (what automl uses)"),
                           ("float32, batch 256", "float32, batch 256"),
                           ("bfloat16, batch 128", "bfloat16 mixed precision, batch 128"),
                           ("bfloat16, batch 256", "bfloat16 mixed precision, batch 256"),
                           ("float32, batch 128, whitening", "float32, batch 128, patch-whitening first layer"),
                           ("float32, batch 128, 1 intra-op thread", "float32, batch 128, one intra-op thread"))],
    # docs/benchmarks.md: the ablation of the tables' techniques
    *[("docs/benchmarks.md", f"{ending} | {{:,.1f}} | {{:.3f}} |", "benchmarks/results/ablation_used_cars.json",
       [f"variants.{variant}.mae.mean", ratio(f"variants.{variant}.mae.mean", "variants.automl.mae.mean")])
      for variant, ending in (("automl", "(trial 0017's configuration, 114 passes)"),
                              ("no_final_fit", "the refit on training + validation or the best trials' ensemble"))],
]


@cache
def results(path: str):
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def at(document, path: str):
    """The value at `path` ("parts.quality.details", "test_accuracy_runs.-1.test_accuracy") in a JSON document."""
    for key in path.split("."):
        document = document[int(key)] if isinstance(document, list) else document[key]
    return document


@cache
def words(doc: str) -> str:
    return " ".join((ROOT / doc).read_text(encoding="utf-8").split())


@pytest.mark.parametrize("doc, text, source, figures", QUOTES, ids=[f"{q[0]}: {q[1][:40]}" for q in QUOTES])
def test_the_docs_quote_each_figure_as_its_results_file_has_it(doc, text, source, figures):
    read = lambda path: at(results(source), path)
    quoted = text.format(*(figure(read) if callable(figure) else read(figure) for figure in figures))
    assert " ".join(quoted.split()) in words(doc)
