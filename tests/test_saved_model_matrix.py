"""Issue 29's matrix: for every family and every kind of chosen model (a trial's own weights, the ensemble of the
best trials, a final fit, a refit), the model is saved as the pipeline saves it, then loaded in a fresh Python
process through every entry point a user has (`automl predict`, `automl export` in both formats, `automl.best_model`,
`automl.predict`, and a plain `keras.models.load_model` after `import automl`), and predicts what it predicted in
the search's process. `automl predict` once crashed on an image track whose chosen model was the ensemble: its
`WeightedMean` layer was registered only where `automl.hypermodels.ensemble` happened to be imported.

One tiny search per family (random search, two trials of one or two epochs) serves every kind: each kind is made
from it by the function the pipeline's stage calls (`load_trial_model`, `ensemble_model`, `final_model`,
`refit_model`), on a copy of the search's results. Each case runs all its entry points in one fresh process
(`saved_model_entry_points.py`), one after the other to spare TensorFlow's import; which entry point goes first,
into a process where nothing has loaded a model yet, varies from case to case, so that each one goes first
somewhere. Image families never refit, so they have no refit to load. A few cases run with the fast tests; the rest
are marked slow.

Last, the SavedModel export of an ensemble serves in a process with TensorFlow alone, as TensorFlow Serving runs it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import make_table, write_track
from saved_model_entry_points import ENTRY_POINTS
from test_combined import shop
from test_image_folder import IMAGES
from test_text_columns import titled_table

import automl
from automl import families
from automl.cli import main
from automl.context import Budget, Run
from automl.families import family_of, get_family
from automl.families.own_csv import track_from_csv
from automl.families.several import SeveralFamilies
from automl.hypermodels import weights
from automl.hypermodels.ensemble import ensemble_model
from automl.hypermodels.layers import with_decision_threshold
from automl.selection.scoring import model_outputs
from automl.selection.threshold import binary_threshold
from automl.serving.models import load_trial_model
from automl.store import ENSEMBLE_ID, Store
from automl.track.sections import Track
from automl.tuning import final_fit, refit
from automl.tuning.loop import search

ROOT = Path(automl.__file__).parents[1]  # the fresh process imports the automl under test
ENTRY_POINTS_SCRIPT = Path(__file__).with_name("saved_model_entry_points.py")
MOBILENET = "mobilenet_v1_0.25"
PREDICTED_IMAGES = [IMAGES / "hat" / "rgb.png", IMAGES / "shoes" / "grey.png", IMAGES / "pants" / "palette.png",
                    IMAGES / "pants" / "rgba.png", sorted((IMAGES / "hat").glob("*.jpg"))[0]]
IMAGE_TRACK = """\
name = "{name}"
task = "multiclass"
family = {family}
[data]
kind = "image_dir"
path = "{images}"
[split]
validation = 0.25
seed = 1
[search]
tuner = "random"
max_trials = 2
objective = "val_accuracy"
max_epochs = 1
time_limit = "5m"
patience = 1
[model]
batch_sizes = [16]
image_size = 32
backbones = ["{backbone}"]
"""
NO_REFIT = "image families never refit: only tables retrain the chosen configuration on training + validation"
COMBINED_ALONE = ("the combined family neither refits nor has a final fit: its trials' own weights (or their "
                  "ensemble) are the model")


def case(family: str, kind: str, first: str | None = None, slow: bool = True, reason: str = NO_REFIT):
    """One cell of the matrix, `first` its entry point to run first; slow unless it is in the fast subset."""
    if first is None:
        return pytest.param(family, kind, first, marks=pytest.mark.skip(reason=reason), id=f"{family}-{kind}")
    return pytest.param(family, kind, first, marks=[pytest.mark.slow] if slow else [],
                        id=f"{family}-{kind}-{first}-first")


CASES = [
    case("mlp", "trial", "keras_load"),
    case("mlp", "ensemble", "predict_cli", slow=False),
    case("mlp", "final_fit", "best_model", slow=False),
    case("mlp", "refit", "predict"),
    case("text", "trial", "export_savedmodel_cli"),
    case("text", "ensemble", "keras_load"),
    case("text", "final_fit", "export_keras_cli"),
    case("text", "refit", "best_model"),
    case("cnn", "trial", "predict"),
    case("cnn", "ensemble", "predict_cli", slow=False),
    case("cnn", "final_fit", "keras_load"),
    case("cnn", "refit"),
    case("backbone", "trial", "export_keras_cli"),
    case("backbone", "ensemble", "best_model"),
    case("backbone", "final_fit", "predict_cli"),
    case("backbone", "refit"),
    case("several", "trial", "predict_cli"),
    case("several", "ensemble", "export_savedmodel_cli"),
    case("several", "final_fit", "predict"),
    case("several", "refit"),
    case("combined", "trial", "export_savedmodel_cli"),
    case("combined", "ensemble", "predict_cli"),
    case("combined", "final_fit", reason=COMBINED_ALONE),
    case("combined", "refit", reason=COMBINED_ALONE),
]


@dataclass
class Searched:
    """A family's tiny search: its track, results, data and two trials, and the inputs to predict."""

    track_file: Path
    track: Track
    results: Path
    data: Any
    trial_ids: list[str]  # the chosen one first
    inputs: list[Path]  # what `automl predict` is given: a CSV of raw rows, or image files
    raw: Any  # the same as a user's code holds them: a DataFrame, or the decoded images

    @property
    def images(self) -> bool:
        return isinstance(self.raw, np.ndarray)


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory) -> Path:
    """An $AUTOML_HOME whose MobileNet weights are a randomly initialised network's: nothing is downloaded."""
    home = tmp_path_factory.mktemp("automl_home")
    (home / "weights").mkdir()
    network = keras.applications.MobileNet(include_top=False, weights=None, input_shape=(128, 128, 3), alpha=0.25)
    network.save_weights(home / "weights" / f"{MOBILENET}.weights.h5")
    return home


@pytest.fixture(autouse=True)
def backbone_weights(no_weights_from_outside, weights_home, monkeypatch):
    """Each test's $AUTOML_HOME is the module's, with the backbone's weights (conftest gives it an empty one)."""
    monkeypatch.setenv("AUTOML_HOME", str(weights_home))


def offline(entry):
    raise OSError(f"tests do not download {entry.file_name}")


@pytest.fixture(scope="module")
def searches(tmp_path_factory, weights_home):
    """The tiny search of a family, made once for the module when a test first asks for it."""
    done: dict[str, Searched] = {}

    def searched(family: str) -> Searched:
        if family not in done:
            with pytest.MonkeyPatch.context() as patch:  # no weights but the module's, and no download
                patch.setenv("AUTOML_HOME", str(weights_home))
                patch.setenv("KERAS_HOME", str(weights_home / "keras"))
                patch.setattr(weights, "keras_download", offline)
                done[family] = tiny_search(family, tmp_path_factory.mktemp(family))
        return done[family]

    return searched


def tiny_search(family: str, directory: Path) -> Searched:
    if family in ("mlp", "text"):
        frame = make_table(rows=120) if family == "mlp" else titled_table(90)
        track_file = write_track(directory, name=family, task="regression" if family == "mlp" else "binary",
                                 frame=frame, tuner="random", max_epochs=2,
                                 objective="val_mae" if family == "mlp" else "val_auc",
                                 data_extra='text = ["title"]' if family == "text" else "",
                                 search_extra="max_trials = 2\nfinal_fit_members = 2")
        track_file.write_text(track_file.read_text().replace('family = "mlp"', f'family = "{family}"'))
        rows = (make_table(rows=6, seed=5) if family == "mlp" else titled_table(6, seed=3)).drop(columns="y")
        rows.to_csv(directory / "new.csv", index=False)
        inputs, raw = [directory / "new.csv"], rows
    elif family == "combined":
        track_file = track_from_csv(shop(directory / "data", rows=60), "label", tracks_dir=directory).path
        track_file.write_text(track_file.read_text().replace('time_limit = "15m"', 'time_limit = "5m"').replace(
            'tuner = "hyperband"', 'tuner = "random"\nmax_trials = 2').replace("max_epochs = 30", "max_epochs = 1"))
        rows = pd.read_csv(directory / "data" / "shop.csv").tail(6).drop(columns="label")
        rows.to_csv(directory / "data" / "new.csv", index=False)  # its paths relative to its folder, as a user's
        inputs, raw = [directory / "data" / "new.csv"], rows.assign(photo=str(directory / "data") + "/" + rows["photo"])
    else:
        spec = '["cnn", "backbone"]' if family == "several" else f'"{family}"'
        track_file = directory / f"{family}.toml"
        track_file.write_text(IMAGE_TRACK.format(name=family, family=spec, images=IMAGES, backbone=MOBILENET))
        inputs, raw = PREDICTED_IMAGES, None
    results = directory / "results"
    opened = Run.open(str(track_file), results)
    track, store = opened.track, opened.store
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' and TensorFlow's chatter on tiny data
        run = search(opened.started(), keep_checkpoints=True)
    if raw is None:
        raw = family_of(track).read_inputs(inputs, store.schema(), track_name=track.name).raw
    # The chosen trial first: of the two, the smaller, the choice rule's tie-break (any trial loads alike; in the
    # search of several families, the CNN, which is quicker to load than the backbone, in the ensemble too).
    trials = sorted(store.trials(), key=lambda t: t.history()["params"])
    assert len(trials) == 2 and all(t.checkpoint.is_file() for t in trials), "two trials: the ensemble needs both"
    return Searched(track_file, track, results, run.data, [t.trial_id for t in trials], inputs, raw)


# Each kind of chosen model, made as the pipeline's stage makes it (`automl.pipeline.finish`).

def trial_model(searched: Searched, run: Run, monkeypatch) -> keras.Model:
    return load_trial_model(run, searched.trial_ids[0])


def ensemble(searched: Searched, run: Run, monkeypatch) -> keras.Model:
    """The choice stage's ensemble of the two trials (`build_ensemble`, when it is a candidate), as `finish` loads it
    when the choice picks it."""
    members = [load_trial_model(run, t) for t in searched.trial_ids]
    ensemble_model(members, [0.6, 0.4], [f"trial_{t}" for t in searched.trial_ids]).save(run.store.ensemble_model)
    return load_trial_model(run, ENSEMBLE_ID)


def final_fit_model(searched: Searched, run: Run, monkeypatch) -> keras.Model:
    """The final fit of the chosen trial, in 1.5 seconds: one network (images), or two averaged (tables, whose tracks
    here ask for ``final_fit_members = 2`` as the used-cars recipe does)."""
    monkeypatch.setattr(final_fit, "MIN_SECONDS", 0.5)
    monkeypatch.setattr(final_fit, "MIN_MEMBER_SECONDS", 0.5)
    unbeatable = -math.inf if searched.track.direction == "max" else math.inf  # the final fit becomes the model
    model, record = final_fit.final_model(dataclasses.replace(run, budget=Budget.start(1.5)), searched.trial_ids[0],
                                          unbeatable, searched.data)
    assert record["used"] and record["members"] == searched.track.search.final_fit_members
    return model


def refit_model(searched: Searched, run: Run, monkeypatch) -> keras.Model:
    """The refit of the chosen trial on training + validation, for one epoch; its cross-fit said yes."""
    monkeypatch.setattr(refit, "_cross_fit", cross_fit_says_yes)
    row = pd.Series({"trial_id": searched.trial_ids[0], "best_epoch": 1, "seconds": 1.0, "epochs_run": 1,
                     "train_loss": math.nan})
    model, record = refit.refit_model(dataclasses.replace(run, budget=Budget.start(60.0)), row, searched.data)
    assert record["used"], record["reason"]
    return model


def cross_fit_says_yes(train, measure, *_) -> tuple[float, float]:
    """(The cross-fit's score, the trial's): the cross-fit better, by the measure's direction."""
    return (1.0, 0.0) if measure.direction == "max" else (0.0, 1.0)


KINDS = {"trial": trial_model, "ensemble": ensemble, "final_fit": final_fit_model, "refit": refit_model}


def save_chosen(model: keras.Model, searched: Searched, run: Run) -> keras.Model:
    """Save `model` as `finish` saves the chosen model: a binary one with its decision threshold."""
    family, schema, data = run.family, run.schema(), searched.data
    if schema.task == "binary":
        threshold = binary_threshold(schema, searched.track.search.decision_metric,
                                     (data.validation.y, model_outputs(model, family, schema, data.validation.x)),
                                     (data.test.y, model_outputs(model, family, schema, data.test.x)))
        model = with_decision_threshold(model, threshold.value)
    model.save(run.store.best_model)
    return model


def in_a_fresh_process(searched: Searched, results: Path, work: Path, order: list[str]) -> dict[str, Any]:
    """What each entry point said in one fresh process (`saved_model_entry_points.py`), in `order`."""
    schema = Store(searched.track.name, results).schema()
    raw = work / ("raw.npy" if searched.images else "raw.csv")
    np.save(raw, searched.raw) if searched.images else searched.raw.to_csv(raw, index=False)
    case_file = work / "case.json"
    case_file.write_text(json.dumps({
        "track": str(searched.track_file), "name": searched.track.name, "results": str(results), "work": str(work),
        "inputs": [str(p) for p in searched.inputs], "raw": str(raw), "images": searched.images,
        "classes": [str(c) for c in schema.classes] if schema.task != "regression" else [], "order": order,
    }))
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run([sys.executable, str(ENTRY_POINTS_SCRIPT), str(case_file)], capture_output=True, text=True,
                          timeout=300, env=environment, cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((work / "said.json").read_text())


def chosen_of_kind(searched: Searched, kind: str, directory: Path, monkeypatch) -> tuple[Path, np.ndarray]:
    """A copy of the search's results in `directory` whose chosen model is of `kind`, and what that model predicts
    of the inputs in this, the search's, process (values, or every class's probability)."""
    results = directory / "results"
    shutil.copytree(searched.results, results)
    run = Run.open(searched.track_file, results)
    chosen = save_chosen(KINDS[kind](searched, run, monkeypatch), searched, run)
    return results, model_outputs(chosen, run.family, run.schema(), searched.raw)


@pytest.mark.parametrize("family, kind, first", CASES)
def test_the_chosen_model_predicts_alike_in_a_fresh_process_through_every_entry_point(
        searches, tmp_path, monkeypatch, family, kind, first):
    searched = searches(family)
    results, expected = chosen_of_kind(searched, kind, tmp_path, monkeypatch)
    order = [first, *(e for e in ENTRY_POINTS if e != first)]
    said = in_a_fresh_process(searched, results, tmp_path, order)
    failed = {name: got["error"] for name, got in said.items() if "error" in got}
    assert not failed, f"entry points that failed in a fresh process, in the order run: {failed}"
    for name in order:
        np.testing.assert_allclose(np.asarray(said[name]["values"]), expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_the_matrix_has_every_family_and_searches_of_several():
    assert {values[0] for values, *_ in CASES} == {*families.MODULES, "several"}


def test_the_matrix_leaves_out_the_refit_of_image_families_because_they_never_refit():
    several = SeveralFamilies((get_family("cnn"), get_family("backbone")))
    assert [f.name for f in (*map(get_family, ("mlp", "text", "cnn", "backbone")), several) if f.refits] == [
        "mlp", "text"]


# The SavedModel of an ensemble serves with TensorFlow alone, as TensorFlow Serving runs it: the named raw columns of
# a table, or the encoded bytes of image files.

SERVE = """\
import json
import sys

import tensorflow as tf

request = json.loads(open(sys.argv[2]).read())
signature = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
if "image" in request:
    inputs = {"image": tf.constant([open(path, "rb").read() for path in request["image"]])}
else:
    inputs = {name: tf.constant(column["values"], column["dtype"]) for name, column in request.items()}
outputs = {name: tensor.numpy().tolist() for name, tensor in signature(**inputs).items()}
print(json.dumps({"automl imported": "automl" in sys.modules, **outputs}))
"""


def serving_request(searched: Searched, results: Path) -> dict[str, Any]:
    """What a client sends the SavedModel: the image files, or each raw column by name, as JSON has it."""
    if searched.images:
        return {"image": [str(path) for path in searched.inputs]}
    inputs = family_of(searched.track).model_inputs(searched.raw, Store(searched.track.name, results).schema())
    return {name: {"values": values.astype(str).tolist() if values.dtype == object else values.tolist(),
                   "dtype": "string" if values.dtype == object else values.dtype.name}
            for name, values in inputs.items()}


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_the_savedmodel_export_of_an_ensemble_serves_alike_with_tensorflow_alone(
        searches, tmp_path, monkeypatch, capsys, family):
    searched = searches(family)
    results, expected = chosen_of_kind(searched, "ensemble", tmp_path, monkeypatch)
    served = tmp_path / "serving" / "1"
    status = main(["export", "--track", str(searched.track_file), "--format", "savedmodel", str(served),
                   "--results-dir", str(results)])
    assert status == 0, capsys.readouterr().err
    request = tmp_path / "request.json"
    request.write_text(json.dumps(serving_request(searched, results)))
    done = subprocess.run([sys.executable, "-c", SERVE, str(served), str(request)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert not said["automl imported"]
    np.testing.assert_allclose(np.reshape(said["output_0"], expected.shape), expected, rtol=1e-5, atol=1e-6)
