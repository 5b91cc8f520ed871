"""What a trial's model costs in production: size on disk and CPU inference latency, measured once and cached.

Latency is what a server holding the exported model would see: the `.keras` file is loaded
back (as production would load it) and called through a `tf.function` that wraps
``model(inputs, training=False)``, so Python and Keras' per-call `predict` machinery (about a
millisecond per call, more than a small MLP's own work) are not counted. Batch 1: one row per call,
p50 and p95 over `TIMED_CALLS` calls after `WARMUP_CALLS` warm-up calls. Batch 256: rows per
second from the median of `THROUGHPUT_CALLS` calls. The figures are for the CPU this runs on,
shared with whatever else runs there; compare trials measured on the same machine only.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from automl.context import Run
from automl.errors import AutomlWarning
from automl.serving.models import DamagedCheckpoint, load_model_file, load_trial_model
from automl.store import read_json_file, write_json

WARMUP_CALLS = 5
TIMED_CALLS = 30
THROUGHPUT_BATCH = 256
THROUGHPUT_CALLS = 5
LATENCY_ROWS = 64  # validation rows cycled through for the latency calls; the test split stays untouched
COLUMNS = ["model_bytes", "latency_p50_ms", "latency_p95_ms", "rows_per_second"]
DAMAGED = "damaged"  # the column of `measure_trials` that holds why a trial's checkpoint cannot be read, else None


def measure_model(model, rows: dict[str, np.ndarray] | np.ndarray, workdir: Path) -> dict[str, float]:
    """Save `model` as one `.keras` file, load it back, and time it on `rows` (model inputs: one array per
    column, or one array of images; a "row" is then one image).

    Examples
    --------
    >>> measure_model(model, model_inputs(frame, schema), Path("/tmp"))["latency_p50_ms"]
    0.21
    """
    with tempfile.TemporaryDirectory(dir=workdir) as temporary:
        path = Path(temporary) / "model.keras"
        model.save(path)
        size = path.stat().st_size
        exported = load_model_file(path)
    serve = tf.function(lambda inputs: exported(inputs, training=False), reduce_retracing=True)
    count = len(tf.nest.flatten(rows)[0])
    singles = [tf.nest.map_structure(lambda v, i=i: tf.constant(v[i % count: i % count + 1]), rows)
               for i in range(TIMED_CALLS)]
    repeat = int(np.ceil(THROUGHPUT_BATCH / count))
    batch = tf.nest.map_structure(lambda v: tf.constant(np.concatenate([v] * repeat)[:THROUGHPUT_BATCH]), rows)
    for inputs in singles[:WARMUP_CALLS]:
        serve(inputs).numpy()
    serve(batch).numpy()
    single_seconds = [_timed(serve, inputs) for inputs in singles]
    batch_seconds = [_timed(serve, batch) for _ in range(THROUGHPUT_CALLS)]
    return {
        "model_bytes": float(size),
        "latency_p50_ms": float(np.percentile(single_seconds, 50) * 1000),
        "latency_p95_ms": float(np.percentile(single_seconds, 95) * 1000),
        "rows_per_second": float(THROUGHPUT_BATCH / np.median(batch_seconds)),
    }


def _timed(serve, inputs) -> float:
    started = time.perf_counter()
    serve(inputs).numpy()  # .numpy() waits for the result, as a server answering the request would
    return time.perf_counter() - started


def trial_measures(run: Run, trial_id: str,
                   rows: Callable[[], dict[str, np.ndarray] | np.ndarray]) -> dict[str, Any]:
    """A completed trial's measures, read from its `measures.json` or measured now on `rows()` and cached there.

    `rows` is called only when something must be measured, so a cached report loads no data. The cache is
    keyed by the checkpoint's size and modification time: a retrained trial is measured again; a pruned
    trial keeps its cached measures, or gets blanks.
    """
    store = run.store
    checkpoint, record = store.checkpoint(trial_id), store.measures_record(trial_id)
    key = f"{checkpoint.stat().st_size}:{checkpoint.stat().st_mtime_ns}" if checkpoint.is_file() else ""
    cached = read_json_file(record, {})  # a half-written cache is measured again
    if cached.get("checkpoint") == key and all(c in cached for c in COLUMNS):
        return cached
    if not checkpoint.is_file() and store.pruned_record(trial_id).is_file():
        # Pruned (automl.tuning.pruning): what was measured before stays; nothing can be measured now.
        return cached if all(c in cached for c in COLUMNS) else dict.fromkeys(COLUMNS, float("nan"))
    try:
        model = load_trial_model(run, trial_id)
    except DamagedCheckpoint as error:
        # One trial's weights cut short or corrupted (a disk that failed, a copy stopped) must not stop the report:
        # the trial is left out of the choice, its row kept, and said so.
        warnings.warn(f"trial {trial_id} is left out of the choice: {error}", AutomlWarning, stacklevel=2)
        return {**dict.fromkeys(COLUMNS, float("nan")), DAMAGED: str(error)}
    try:
        measures = {"checkpoint": key, **measure_model(model, rows(), store.trial_dir(trial_id)),
                    "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    finally:
        keras.backend.clear_session()  # many trials in a row: do not let Keras' graph state pile up
    write_json(record, measures)
    return measures


def measure_trials(run: Run, trial_ids: list[str],
                   rows: Callable[[], dict[str, np.ndarray] | np.ndarray]) -> pd.DataFrame:
    """Measures of the given trials as columns to join to the trials table (`trial_id` plus `COLUMNS`)."""
    records = [{"trial_id": t, **{c: measured.get(c) for c in (*COLUMNS, DAMAGED)}}
               for t, measured in ((t, trial_measures(run, t, rows)) for t in trial_ids)]
    return pd.DataFrame(records, columns=["trial_id", *COLUMNS, DAMAGED])
