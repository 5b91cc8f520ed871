"""A folder of images searched from scratch, with and without the CNN's start → results/cnn_start.json

As a user runs it: the track ``automl search --images FOLDER`` writes (no pretrained weights here, so the CNN
alone), searched with ``--time-limit`` in a fresh folder; "no_start" is the same track with its ``[model.start]``
table taken out, which is what the search did before the start. Beside each, on the same split, a logistic
regression on the raw pixels (standardized; C chosen on the validation images, then refit on training +
validation). Each folder is searched over `--seeds` splits (``split.seed``: the test images change).

    python -m benchmarks.studies.cnn_start make-folders OUT      # the real folders below, as image files
    taskset -c 0 python -m benchmarks.studies.cnn_start run OUT --folders digits --seconds 180
    taskset -c 1 python -m benchmarks.studies.cnn_start run OUT --folders cifar3k --seconds 180
    taskset -c 1 python -m benchmarks.studies.cnn_start run OUT --folders clothing/train --seconds 180
    python -m benchmarks.studies.cnn_start merge OUT --commit C # → results/cnn_start.json

and the start's width on larger images, one network trained as a trial would be (30 epochs, early stopping),
on the clothing photos at 96 px (a track ``search --images ../shared/data/clothing/train`` writes, at 96 px, with
``class_weight = "none"``), trained by SGD as the start was then:

    taskset -c 0 python -m benchmarks.studies.cnn_start one OUT --track T --filters 16 --optimizer "sgd 0.05"
    taskset -c 1 python -m benchmarks.studies.cnn_start one OUT --track T --filters 32 --optimizer "sgd 0.05"

and the start's optimizer, with and without balanced class weights (the clothing classes are imbalanced, 795
t-shirts to 112 skirts), on a track at 32 px (the same tracks with ``image_size = 32``):

    taskset -c 0 python -m benchmarks.studies.cnn_start optimizers OUT --track tracks/clothing32.toml --epochs 20

The folders: ``digits``, scikit-learn's bundled handwritten digits (1,797 8x8 grey images, 10 classes; UCI,
CC BY 4.0); ``cifar3k``, 3,000 of CIFAR-10's training images drawn with seed 0 (32x32 colour, 10 classes;
../shared/data/cifar10); any other name, a folder of ../shared/data (``clothing/train``: 3,068 clothing photos of
many sizes, 10 classes; the logistic regression sees them at 32x32). Each (folder, seed, variant) is a cached
cell, so a run cut short goes on where it was.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import RESULTS, ROOT

SEEDS = (42, 0, 1)
FOLDERS = ("digits", "cifar3k")  # made by make-folders; any other name is a folder of ../shared/data
VARIANTS = ("start", "no_start")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def make_folders(out: Path) -> None:
    """The study's real folders of image files under ``out/folders``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        path = out / "folders" / "digits" / str(label) / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype("uint8"), "L").save(path)
    with np.load(ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz") as arrays:
        x, y = arrays["x_train"], arrays["y_train"].ravel()
    for i in np.random.default_rng(0).choice(len(x), 3000, replace=False):
        path = out / "folders" / "cifar3k" / CIFAR_CLASSES[y[i]] / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i]).save(path)


def linear(folder: Path, seed: int) -> dict:
    """A logistic regression on the standardized pixels of automl's split of `folder` (its default shares)."""
    from PIL import Image
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from automl.data.image_folder import list_folder, split_folder
    from automl.track.sections import SECTIONS

    listed, split = list_folder(folder), SECTIONS["split"]()
    parts = split_folder(listed, validation=split.validation, test=split.test, seed=seed)

    def read(path: Path) -> Image.Image:  # photos of many sizes at 32x32, as a search of 3 minutes sees them
        image = Image.open(path).convert("RGB")
        return image if folder.name in FOLDERS else image.resize((32, 32), Image.BILINEAR)

    def pixels(part: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.stack([np.asarray(read(listed.paths[i]), dtype="float32").ravel() for i in parts[part]])
        return x, listed.labels[parts[part]]

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (pixels(p) for p in ("train", "validation", "test"))

    def model(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))

    c = max((0.01, 0.1, 1.0), key=lambda c: model(c).fit(x_train, y_train).score(x_val, y_val))
    final = model(c).fit(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    return {"test_accuracy": round(float(final.score(x_test, y_test)), 4), "C": c}


def search(folder: Path, seed: int, variant: str, seconds: int, work: Path) -> dict:
    """``automl search`` of `folder`'s track (split seed `seed`), with or without its start, in a fresh `work`."""
    from automl.families.own_images import track_from_images

    work.mkdir(parents=True, exist_ok=True)
    written = track_from_images(folder, name=folder.name, time_limit=f"{seconds}s", tracks_dir=work / "tracks",
                                replace=True)
    text = written.path.read_text(encoding="utf-8").replace("seed = 42", f"seed = {seed}")
    if variant == "no_start":
        text = re.sub(r"\n(# [^\n]*\n)?\[model\.start\]\n(?:[^\n\[]+\n?)*", "\n", text)
    written.path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "automl", "search", "--track", str(written.path), "--time-limit",
                           f"{seconds}s"], cwd=work, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"automl search failed in {work} ({done.returncode}): {done.stderr[-2000:]}")
    metrics = json.loads((work / "search_results" / folder.name / "test_metrics.json").read_text(encoding="utf-8"))
    return {"test_accuracy": round(metrics["accuracy"], 4), "chosen": metrics["trial_id"],
            "wall_seconds": round(wall, 1), "has_start": "[model.start]" in text}


def run(out: Path, folders: list[str], seconds: int, seeds: list[int]) -> None:
    for name in folders:
        folder = out / "folders" / name if name in FOLDERS else ROOT.parent / "shared" / "data" / name
        name = name.split("/")[0]  # clothing/train: clothing
        for seed in seeds:
            for variant in (*VARIANTS, "linear"):
                cell = out / "cells" / f"{name}_seed{seed}_{variant}_{seconds}s.json"
                if cell.is_file():
                    continue
                found = (linear(folder, seed) if variant == "linear" else
                         search(folder, seed, variant, seconds, out / "work" / f"{name}_{seed}_{variant}"))
                cell.parent.mkdir(parents=True, exist_ok=True)
                cell.write_text(json.dumps({"folder": name, "seed": seed, "variant": variant, "seconds": seconds,
                                            **found}, indent=1), encoding="utf-8")
                print(cell.name, found, flush=True)


OPTIMIZERS = {"sgd 0.05": {"optimizer": "sgd", "sgd_learning_rate": 0.05},
              "sgd 0.02": {"optimizer": "sgd", "sgd_learning_rate": 0.02},
              "sgd 0.01": {"optimizer": "sgd", "sgd_learning_rate": 0.01},
              "adamw 2e-3": {"optimizer": "adamw", "learning_rate": 2e-3}}


def trained(track_file: Path, values: dict, epochs: int, *, balanced: bool = False, batch: int | None = None):
    """The start of the track's image size, with `values` over it, trained once as a trial would be (early stopping,
    patience 8), optionally with balanced class weights: its history, test accuracy, seconds and model."""
    import keras_tuner as kt

    from automl import load_track
    from automl.families import get_family
    from automl.hypermodels.cnn import CNNHyperModel, start_for

    track = load_track(track_file)
    data = get_family("cnn").load(track)
    counts = np.bincount(data.train.y)
    weights = {i: len(data.train.y) / (len(counts) * n) for i, n in enumerate(counts)} if balanced else None
    space = CNNHyperModel(data.schema, "val_accuracy", "max", patience=8,
                          **({"batch_sizes": [batch]} if batch else {}))
    hp = kt.HyperParameters()
    for name, value in {**start_for(track.model.image_size), **values}.items():
        hp.Fixed(name, value)
    model = space.build(hp)
    started = time.monotonic()
    history = space.fit(hp, model, data.train.x, data.train.y, epochs=epochs, verbose=0, class_weight=weights,
                        validation_data=(data.validation.x, data.validation.y))
    seconds = time.monotonic() - started
    accuracy = float((model.predict(data.test.x, verbose=0).argmax(axis=1) == data.test.y).mean())
    return track, history.history, round(accuracy, 4), round(seconds, 1), model, len(data.train.y)


def one(out: Path, track_file: Path, filters: int, epochs: int, optimizer: str) -> None:
    """The start at `filters` under `optimizer` (of `OPTIMIZERS`), sized for the track's images, trained once as a
    trial would be (batch 64), and tested."""
    track, history, accuracy, seconds, model, train_images = trained(
        track_file, {"filters": filters, **OPTIMIZERS[optimizer]}, epochs)
    cell = out / "networks" / f"{track.name}_{track.model.image_size}px_{filters}filters.json"
    _write(cell, {"track": track.name, "image_size": track.model.image_size, "filters": filters, "optimizer": optimizer,
                  "val_accuracy": round(max(history["val_accuracy"]), 4), "test_accuracy": accuracy,
                  "epochs": len(history["val_accuracy"]), "seconds": seconds, "parameters": model.count_params(),
                  "train_images": train_images})


def optimizers(out: Path, track_file: Path, epochs: int) -> None:
    """The start under each of `OPTIMIZERS`, without and with balanced class weights, trained as a trial would be
    (batch 32, a track's default first)."""
    for name, values in OPTIMIZERS.items():
        for weights in ("none", "balanced"):
            track, history, accuracy, *_ = trained(track_file, values, epochs, balanced=weights == "balanced",
                                                   batch=32)
            _write(out / "optimizers" / f"{track.name}_{name.replace(' ', '_')}_{weights}.json", {
                "track": track.name, "image_size": track.model.image_size, "optimizer": name, "class_weight": weights,
                "val_accuracy": [round(v, 4) for v in history["val_accuracy"]], "test_accuracy": accuracy})


def _write(cell: Path, figures: dict) -> None:
    cell.parent.mkdir(parents=True, exist_ok=True)
    cell.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(cell.read_text(encoding="utf-8"), flush=True)


def merge(out: Path, commit: str) -> dict:
    cells = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "cells").glob("*.json"))]
    summary = {}
    for folder in sorted({c["folder"] for c in cells}):
        for variant in sorted({c["variant"] for c in cells}):
            found = [c["test_accuracy"] for c in cells if c["folder"] == folder and c["variant"] == variant]
            if found:
                summary[f"{folder}/{variant}"] = {"mean": round(float(np.mean(found)), 4), "min": min(found),
                                                  "max": max(found), "splits": len(found)}
    networks = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "networks").glob("*.json"))]
    tried = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "optimizers").glob("*.json"))]
    result = {"study": "cnn_start", "commit": commit, "machine": "2 CPU cores; each run pinned to one (taskset)",
              "note": "a cell's own commit, where it has one, is the code it ran at",
              "optimizers": tried, "cells": cells,
              "summary": summary, "networks": networks}
    path = RESULTS / "cnn_start.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("make-folders", "run", "one", "optimizers", "merge"))
    parser.add_argument("out", type=Path)
    parser.add_argument("--track", type=Path, help="one: the track of the folder to train on")
    parser.add_argument("--filters", type=int, default=16, help="one: the first block's filters")
    parser.add_argument("--optimizer", default="adamw 2e-3", choices=list(OPTIMIZERS), help="one: how it trains")
    parser.add_argument("--epochs", type=int, default=30, help="one: at most this many epochs")
    parser.add_argument("--commit", default="", help="merge: the commit the cells ran at")
    parser.add_argument("--folders", default="digits,cifar3k")
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    args = parser.parse_args()
    if args.command == "make-folders":
        make_folders(args.out)
    elif args.command == "optimizers":
        optimizers(args.out, args.track, args.epochs)
    elif args.command == "one":
        one(args.out, args.track, args.filters, args.epochs, args.optimizer)
    elif args.command == "run":
        run(args.out, args.folders.split(","), args.seconds, [int(s) for s in args.seeds.split(",")])
    else:
        print(json.dumps(merge(args.out, args.commit)["summary"], indent=1))


if __name__ == "__main__":
    main()
