"""A table trial's fit on a shuffle buffer of rows against gathered batches → results/pipeline_speed_{track}.json

The measurement behind `automl.hypermodels.mlp.to_dataset`: rows through a shuffle buffer, against gathered batches.

One fixed configuration of the track's recipe (``model.fixed``, with the open knobs at their defaults) is
built and trained for a 2-epoch Hyperband trial, with its validation data, as the search trains it,
alternately on two pipelines over the same in-memory columns:

- ``rows``: ``from_tensor_slices`` over the rows, a shuffle buffer of all of them, then batches, prefetched
  with tf.data's autotuning (automl's pipeline before 2026-11-30);
- ``gather``: `automl.hypermodels.mlp.to_dataset`, which shuffles row numbers and gathers each batch, with
  tf.data's autotuning off.

It reports each fit's wall time and the part of it outside Keras' ``on_train_begin``..``on_train_end``:
with autotuning on, a single core's fit spent seconds there, in freeing each epoch's iterator.
Run it pinned to one core:

    taskset -c 0 python -m benchmarks.studies.pipeline_speed used_cars --repeats 4

It writes benchmarks/results/pipeline_speed_<track>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import RESULTS

EPOCHS = 2  # the first rung of the tracks' Hyperband (max_epochs 30, factor 3)


def rows_pipeline(x, y, batch_size: int, shuffle_seed: int | None = None):
    """The reference: a pipeline of rows, shuffled through a buffer of every row."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(y), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("track")
    parser.add_argument("--repeats", type=int, default=4, help="fits per pipeline, alternating")
    args = parser.parse_args()

    import keras
    import keras_tuner as kt

    from automl.families import family_of
    from automl.hypermodels.mlp import to_dataset
    from automl.hypermodels.training import FitTimer
    from automl.track import load_track

    track = load_track(args.track)
    family = family_of(track)
    data = family.load(track)
    hypermodel = family.hypermodel(track, data.schema)
    hp = kt.HyperParameters()
    for name, value in (track.model.fixed or {}).items():
        hp.Fixed(name, value)
    batch_size = track.model.batch_sizes[0]
    x = family.model_inputs(data.train.x, data.schema)
    validation_x = family.model_inputs(data.validation.x, data.schema)
    pipelines = {"rows": rows_pipeline, "gather": to_dataset}
    fits: dict[str, list[dict[str, float]]] = {name: [] for name in pipelines}
    for _ in range(args.repeats):
        for name, pipeline in pipelines.items():
            keras.backend.clear_session()
            model = hypermodel.build(hp)
            timer = FitTimer()
            started = time.perf_counter()
            model.fit(pipeline(x, data.train.y, batch_size, shuffle_seed=track.search.seed), epochs=EPOCHS,
                      validation_data=pipeline(validation_x, data.validation.y, max(1024, batch_size)),
                      callbacks=[timer], verbose=0)
            seconds = time.perf_counter() - started
            fits[name].append({"seconds": round(seconds, 3), "outside_callbacks": round(seconds - timer.seconds, 3)})
            print(name, fits[name][-1], flush=True)
    summary = {name: {"median_seconds": statistics.median(f["seconds"] for f in runs),
                      "median_outside_callbacks": statistics.median(f["outside_callbacks"] for f in runs)}
               for name, runs in fits.items()}
    result = {"track": track.name, "rows": len(data.train.y), "batch_size": batch_size, "epochs": EPOCHS,
              "cpus": len(os.sched_getaffinity(0)), "summary": summary, "fits": fits}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"pipeline_speed_{track.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
