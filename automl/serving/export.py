"""Export the chosen model for serving: a `.keras` file, or a TensorFlow SavedModel that takes raw rows."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from automl.context import Run
from automl.errors import AutomlError, on_disk
from automl.families.base import ServingInput
from automl.hypermodels.layers import decision_threshold_of, serving_name
from automl.serving.models import load_best_model
from automl.store import write_atomic

FORMATS = ("keras", "savedmodel")


def export(run: Run, directory: str | os.PathLike, *, format: str = "keras", overwrite: bool = False) -> Path:
    """Write the run's chosen model to `directory`; returns the file (keras) or the SavedModel folder.

    ``keras``: ``<directory>/<track>.keras``, for ``keras.models.load_model(path, safe_mode=True)``.
    ``savedmodel``: `directory` itself becomes a SavedModel whose ``serve`` (and ``serving_default``)
    signature takes one tensor per raw column, shaped ``(batch, 1)``, named by its column (`serving_name`: a name
    TensorFlow refuses, ``prix €``, becomes its ASCII part and a hash; `automl export` prints them): float32
    numbers (NaN for a blank), strings (or int64 codes) for categories; for a folder of images, the encoded
    bytes of each image (``image``, string ``(batch,)``), decoded inside (`Family.serving_input`); TensorFlow Serving
    loads it as a model version, e.g. ``models/<track>/1``. Both return the model's output; for a binary
    model with a decision threshold, ``serving_default`` returns ``probability`` (of the positive class)
    and ``decision`` (probability >= threshold) instead, both ``(batch, 1)`` (`served_outputs`). Nothing existing is
    overwritten unless `overwrite` is true.

    Examples
    --------
    >>> export(Run.open("boston"), "serving/boston/1", format="savedmodel")
    PosixPath('serving/boston/1')
    """
    if format not in FORMATS:
        raise AutomlError(f"export format '{format}' is unknown; use one of: {', '.join(FORMATS)}")
    model = load_best_model(run)  # checks the search and the model before anything is written
    directory = Path(directory)
    target = directory / f"{run.name}.keras" if format == "keras" else directory
    if _exists(target) and not overwrite:
        raise AutomlError(f"{target} already exists; remove it, choose another directory, or pass --overwrite")
    elsewhere = "export to another directory"
    if format == "keras":  # a file half copied onto a full disk is removed, so that the rerun needs no --overwrite
        return write_atomic(target, lambda temporary: shutil.copyfile(run.store.best_model, temporary), elsewhere)
    try:
        with on_disk(_existing_above(target), "exporting the SavedModel", elsewhere):
            if target.exists():
                shutil.rmtree(target)
            save_serving(model, target, run.family.serving_input(run.schema()))
    except AutomlError:
        shutil.rmtree(target, ignore_errors=True)  # half a SavedModel is no export: the rerun writes it whole
        raise
    except OSError as error:
        shutil.rmtree(target, ignore_errors=True)
        raise AutomlError(f"cannot write {target} ({error.strerror}); free disk space or fix permissions") from None
    return target


def _existing_above(path: Path) -> Path:
    """The folder that holds `path`, the first of its parents that exists (the disk a failure is reported on)."""
    return next((parent for parent in path.parents if parent.exists()), path.parent)


def save_serving(model: keras.Model, target: Path, served: ServingInput | None = None) -> None:
    """`model` as a SavedModel in `target`, with the endpoints of Keras' own export (``serve``,
    ``serving_default``), written by hand so that the model runs in inference mode: Keras' export calls it
    without ``training=False``, and its random augmentation layers (RandomFlip, RandomTranslation, ...) default
    to training, so an exported image model flipped and shifted the images it served. For a model with a
    decision threshold, ``serving_default`` returns the probability and the decision as named outputs (a server
    then needs no threshold of its own, and applies the report's); with `served` (encoded image bytes, say),
    the inputs are prepared inside the graph."""
    threshold = decision_threshold_of(model)
    prepare = served.prepare if served is not None else (lambda inputs: inputs)

    def predict(inputs):
        return model(prepare(inputs), training=False)

    def decide(inputs):
        probability = predict(inputs)
        return {"probability": probability, "decision": probability >= threshold}

    archive = keras.export.ExportArchive()
    archive.track(model)
    # One positional argument shaped like the model's inputs (a dict of named columns, or one tensor), with a
    # free batch size: the input signature `model.export` writes, so both endpoints take the same requests.
    # Its tensors are named by their column (`serving_name`: TensorFlow refuses some names, and made two columns
    # named outside ASCII one argument).
    signature = [served.spec] if served is not None else [_named_specs(model.input)]
    # `serve` stays what Keras' export gives (the probability tensor), so callers of `.serve(...)` keep working;
    # TensorFlow Serving and saved_model_cli use `serving_default`, which says the decision too.
    archive.add_endpoint("serve", predict, input_signature=signature)
    archive.add_endpoint("serving_default", predict if threshold is None else decide, input_signature=signature)
    archive.write_out(str(target), verbose=False)


def _named_specs(inputs):
    """The model's inputs as specs with a free batch size, a dict of columns named by `serving_name`."""
    def spec(tensor, name):
        return tf.TensorSpec((None, *tensor.shape[1:]), tensor.dtype, name=serving_name(name))
    if isinstance(inputs, dict):
        return {column: spec(tensor, column) for column, tensor in inputs.items()}
    return keras.tree.map_structure(lambda tensor: spec(tensor, tensor.name), inputs)


def served_outputs(model: keras.Model) -> str:
    """What the exported SavedModel's ``serving_default`` signature returns, in words."""
    threshold = decision_threshold_of(model)
    if threshold is None:
        return "returns the model's output ('output_0')"
    return (f"returns 'probability' float32 (batch, 1) and 'decision' bool (batch, 1): probability >= "
            f"{threshold:.4g}, the decision threshold")


def _exists(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))
