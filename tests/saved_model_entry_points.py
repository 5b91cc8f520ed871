"""Run by `test_saved_model_matrix.py` in a fresh Python process: a search's chosen model loaded through each of
the entry points a user has, in the order the case gives, and what each predicted (or the error it met) written
as JSON.

    python tests/saved_model_entry_points.py CASE.json

A case names the track, its results directory, a working directory, the inputs to predict (a CSV of raw rows, or
image files, with ``raw``: the same as pandas or numpy reads them) and the entry points' order. Up front nothing is
imported but the standard library: each entry point imports what a user's process would, and what this script
imports to prepare inputs or read outputs comes after the model is loaded; so the first entry point of a case meets
a process where nothing has loaded a model yet, and the others meet it after those before them. Each result is in
the search's terms: a table's values (regression) or every class's probability (classification).
"""
from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys
from pathlib import Path


def main(case_file: str) -> None:
    case = json.loads(Path(case_file).read_text())
    said = {}
    for name in case["order"]:
        try:
            said[name] = {"values": ENTRY_POINTS[name](case)}
        except BaseException as error:  # noqa: BLE001  a crash is what this records: the CLI's SystemExit too
            said[name] = {"error": f"{type(error).__name__}: {root_cause(str(error))}"}
    Path(case["work"], "said.json").write_text(json.dumps(said))


def root_cause(message: str) -> str:
    """An error's message without the models' whole configurations, which Keras writes into it: the innermost
    exception Keras names ("Could not locate class 'WeightedMean'...")."""
    cause = message.rsplit("Exception encountered:", 1)[-1].strip()
    return cause.split(" Make sure custom classes")[0][:1500]


def cli(*argv) -> None:
    """``python -m automl ARGV``, in this process: runpy runs ``automl/__main__.py`` as ``-m`` does."""
    sys.argv = ["automl", *map(str, argv)]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            runpy.run_module("automl", run_name="__main__", alter_sys=True)
        status = 0
    except SystemExit as exit:
        status = exit.code
    if status:
        raise RuntimeError(f"`automl {argv[0]}` exited with status {status}: {errors.getvalue()[-1500:]}")


def predict_cli(case) -> list:
    """``automl predict`` of the inputs' files, as the user runs it."""
    out = Path(case["work"], "predicted.csv")
    proba = ["--proba"] if case["classes"] else []
    cli("predict", "--track", case["track"], *case["inputs"], "-o", out, *proba, "--results-dir", case["results"])
    import pandas as pd

    table = pd.read_csv(out)
    if not case["classes"]:
        return table["prediction"].tolist()
    return table[[f"proba_{c}" for c in case["classes"]]].to_numpy().tolist()


def export_keras_cli(case) -> list:
    """``automl export --format keras``, then the file it wrote loaded by Keras alone."""
    cli("export", "--track", case["track"], "--format", "keras", Path(case["work"], "keras"),
        "--results-dir", case["results"])
    import keras

    (path,) = Path(case["work"], "keras").glob("*.keras")
    return said_by(keras.models.load_model(path), case)


def export_savedmodel_cli(case) -> list:
    """``automl export --format savedmodel``, then its ``serving_default`` signature fed the raw inputs: the named
    columns of a table, or the encoded bytes of image files."""
    served = Path(case["work"], "savedmodel", "1")
    cli("export", "--track", case["track"], "--format", "savedmodel", served, "--results-dir", case["results"])
    import tensorflow as tf

    signature = tf.saved_model.load(str(served)).signatures["serving_default"]
    outputs = signature(**serving_inputs(case))
    # A binary model with a decision threshold says its probability and its decision; others their output.
    return as_said((outputs["probability"] if "probability" in outputs else outputs["output_0"]).numpy(), case)


def serving_inputs(case) -> dict:
    import numpy as np
    import tensorflow as tf

    if case["images"]:
        return {"image": tf.constant([Path(path).read_bytes() for path in case["inputs"]])}
    from automl.families import family_of
    from automl.store import Store
    from automl.track import load_track

    track = load_track(case["track"])
    schema = Store(track.name, case["results"]).schema()
    rows = raw(case)
    inputs = family_of(track).model_inputs(rows, schema)
    # a column of image files (the combined family's) is served as the files' encoded bytes
    inputs.update({name: np.asarray([Path(path).read_bytes() for path in rows[name]], dtype=object)
                   for name in schema.images})
    return {name: tf.constant(values.astype(str) if values.dtype == object and name not in schema.images else values)
            for name, values in inputs.items()}


def best_model(case) -> list:
    """``automl.best_model()``, then that model's predictions."""
    import automl

    return said_by(automl.best_model(case["track"], results_dir=case["results"]), case)


def predict(case) -> list:
    """``automl.predict()``: values, or with ``proba=True`` every class's probability."""
    import automl

    said = automl.predict(case["track"], raw(case), proba=bool(case["classes"]), results_dir=case["results"])
    return (said.to_numpy() if case["classes"] else said).tolist()


def keras_load(case) -> list:
    """A plain ``keras.models.load_model(path)`` of the chosen model's file, after ``import automl``."""
    # automl first, as a serving process does: its registration then waits for Keras' import to finish.
    # isort: off
    import automl  # noqa: F401  what a serving process imports (docs/python.md)
    import keras
    # isort: on

    model = keras.models.load_model(Path(case["results"], case["name"], "best_model.keras"))
    return said_by(model, case)


def said_by(model, case) -> list:
    """A loaded model's predictions of the raw inputs, prepared as the family prepares them."""
    from automl.families import family_of
    from automl.store import Store
    from automl.track import load_track

    track = load_track(case["track"])
    family = family_of(track)
    inputs = family.model_inputs(raw(case), Store(track.name, case["results"]).schema())
    return as_said(model.predict(family.dataset(inputs), verbose=0), case)


def as_said(outputs, case) -> list:
    """A model's outputs in the search's terms: values, or every class's probability (binary: [1 - p, p])."""
    import numpy as np

    if not case["classes"]:
        return outputs.reshape(-1).tolist()
    if len(case["classes"]) == 2:
        positive = outputs.reshape(-1)
        return np.stack([1.0 - positive, positive], axis=1).tolist()
    return outputs.tolist()


def raw(case):
    """The raw inputs as a user's code holds them: a DataFrame of the CSV, or an array of the decoded images."""
    if case["images"]:
        import numpy as np

        return np.load(case["raw"])
    import pandas as pd

    return pd.read_csv(case["raw"])


ENTRY_POINTS = {"predict_cli": predict_cli, "export_keras_cli": export_keras_cli,
                "export_savedmodel_cli": export_savedmodel_cli, "best_model": best_model, "predict": predict,
                "keras_load": keras_load}

if __name__ == "__main__":
    main(sys.argv[1])
