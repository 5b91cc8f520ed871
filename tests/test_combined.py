"""Issue 34: a table whose columns hold image paths beside numbers and categories, searched as one network (the
combined family), compared with the table alone and the images alone, and served on raw rows and images."""
from __future__ import annotations

import shutil
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

import automl
from automl.cli import main
from automl.context import Run
from automl.data.image_columns import looks_like_image_paths
from automl.data.inference import infer
from automl.errors import AutomlError, AutomlWarning
from automl.families import get_family
from automl.families.own_csv import track_from_csv
from automl.families.own_memory import track_from_frame
from automl.selection.choice import choose
from automl.selection.importance import Importance, leaks
from automl.selection.trials import only_when_best

CLASSES = ["dark_low", "dark_high", "bright_low", "bright_high"]


def shop(folder: Path, rows: int = 200, seed: int = 0) -> Path:
    """`rows` tiny PNGs (16 to 24 px, dark or bright) under folder/pics and folder/shop.csv: the label is the
    brightness of the photo and the sign of the table's column `x`, so neither alone can tell more than half."""
    rng = np.random.default_rng(seed)
    (folder / "pics").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(rows):
        bright = i % 2
        level = rng.integers(170, 230) if bright else rng.integers(25, 85)
        side = 16 + int(rng.integers(0, 9))
        pixels = np.clip(level + rng.normal(0, 12, size=(side, side, 3)), 0, 255).astype("uint8")
        Image.fromarray(pixels).save(folder / "pics" / f"{i}.png")
        x = float(rng.normal())
        records.append({"photo": f"pics/{i}.png", "x": x, "noise": float(rng.normal()),
                        "label": CLASSES[2 * bright + int(x > 0)]})
    csv = folder / "shop.csv"
    pd.DataFrame(records).to_csv(csv, index=False)
    return csv


@pytest.fixture
def shop_track(tmp_path: Path) -> Path:
    return track_from_csv(shop(tmp_path / "data"), "label", tracks_dir=tmp_path / "tracks").path


def with_rows(csv: Path, **rows: str) -> Path:
    """`csv` with the photo of the rows numbered by the keys (``r3="..."``) replaced by the values."""
    frame = pd.read_csv(csv)
    for key, value in rows.items():
        frame.loc[int(key[1:]), "photo"] = value
    frame.to_csv(csv, index=False)
    return csv


# Finding the column

def test_a_column_of_image_paths_is_found_said_in_a_note_and_written_into_the_track(tmp_path):
    written = track_from_csv(shop(tmp_path / "data", rows=30), "label", tracks_dir=tmp_path / "tracks")
    track = automl.load_track(written.path)
    assert track.data.images == ["photo"] and track.families == ("combined",)
    assert any(note.startswith("image column 'photo': paths of image files") for note in written.notes)
    assert track.model.image_encoder == "cnn"  # no pretrained weights in tests


def test_only_a_column_of_image_file_names_is_taken_for_images():
    assert looks_like_image_paths(pd.Series(["a/1.JPG", "b/2.png", "c.jpeg", None]))
    assert not looks_like_image_paths(pd.Series(["red", "green", "blue.png"]))
    assert not looks_like_image_paths(pd.Series([1.5, 2.0]))


def test_a_dataframe_s_image_paths_are_taken_from_the_working_folder(tmp_path, monkeypatch):
    frame = pd.read_csv(shop(tmp_path / "data", rows=30))
    monkeypatch.chdir(tmp_path / "data")
    track = track_from_frame(frame, "label", name="frame", tracks_dir=tmp_path / "tracks").path
    data = Run.open(track).data()
    assert Path(data.train.x["photo"].iloc[0]).is_file()


def test_the_inference_keeps_a_table_of_nothing_but_images():
    frame = pd.DataFrame({"photo": [f"p/{i}.png" for i in range(30)], "y": ["a", "b"] * 15})
    assert infer(frame, "y").images == ["photo"]


# Bad inputs: one clear error each

@pytest.mark.parametrize("value, said", [
    ("pics/nowhere.png", "pics/nowhere.png does not exist"),
    ("notes.txt", "notes.txt is not an image file"),
    ("pics", "is a folder, not an image file"),
    ("fake.png", "fake.png cannot be decoded as an image"),
])
def test_a_bad_image_path_is_one_error_naming_the_line_and_the_path(shop_track, value, said):
    csv = Path(automl.load_track(shop_track).data_path())
    (csv.parent / "notes.txt").write_text("not a photo")
    (csv.parent / "fake.png").write_text("not a photo either")
    with_rows(csv, r3=value)
    run = Run.open(shop_track, shop_track.parent / "results")
    with pytest.raises(AutomlError, match=rf"shop\.csv: line 5, image column 'photo': .*{said}.*bad_images = \"drop\""):
        run.data()


def test_an_empty_image_column_is_an_error(shop_track):
    csv = Path(automl.load_track(shop_track).data_path())
    pd.read_csv(csv).assign(photo="").to_csv(csv, index=False)
    with pytest.raises(AutomlError, match="image column 'photo' is empty"):
        Run.open(shop_track).data()


def test_a_row_to_predict_with_a_bad_image_is_an_error_whose_fix_is_the_path_or_the_row(shop_track, tmp_path):
    run = Run.open(shop_track)
    schema = run.data().schema
    rows = with_rows(tmp_path / "data" / "shop.csv", r2="pics/nope.png")
    with pytest.raises(AutomlError, match=r"line 4, image column 'photo': .*nope.png does not exist; fix the path, "
                                          r"or remove the row: every row given is predicted$"):
        run.family.read_inputs([rows], schema, track_name="shop")


def test_rows_with_bad_images_are_left_out_when_the_track_says_drop(tmp_path):
    csv = with_rows(shop(tmp_path / "data", rows=60), r0="pics/gone.png", r7="pics")
    track = track_from_csv(csv, "label", tracks_dir=tmp_path / "tracks", drop_bad_images=True).path
    with pytest.warns(AutomlWarning, match="leaving out 2 of 60 rows"):
        data = Run.open(track).data()
    assert len(data.train) + len(data.validation) + len(data.test) == 58


def test_the_command_line_says_a_missing_image_in_one_line_with_exit_status_2(tmp_path, monkeypatch, capsys):
    csv = with_rows(shop(tmp_path / "data", rows=30), r2="pics/gone.png")
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--csv", str(csv), "--target", "label", "--time-limit", "30s"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "line 4, image column 'photo'" in error and "gone.png does not exist" in error


def test_a_table_track_that_lists_image_columns_must_use_the_combined_family(shop_track):
    shop_track.write_text(shop_track.read_text().replace('family = "combined"', 'family = "mlp"'))
    with pytest.raises(AutomlError, match='family "mlp" does not read image columns .*use family = "combined"'):
        Run.open(shop_track)


# The choice: a network over more inputs only when it scores best

def test_the_joined_network_is_not_chosen_when_a_part_alone_scores_best():
    table = pd.DataFrame({"trial_id": ["table", "joined"], "status": ["completed"] * 2, "score": [0.90, 0.89],
                          "latency_p50_ms": [2.0, 1.0], "model_bytes": [9000, 4000], "params": [900, 400]})
    assert choose(table, "max", 0.02).trial_id == "joined"  # the plain rule takes the faster one
    choice = choose(table, "max", 0.02, only_when_best=["joined"])
    assert choice.trial_id == "table" and "taken only when they score best" in choice.reason
    table.loc[1, "score"] = 0.95
    assert choose(table, "max", 0.02, only_when_best=["joined"]).trial_id == "joined"


def test_the_ensemble_takes_the_joined_network_only_where_it_scores_best(monkeypatch):
    family = get_family("combined")
    table = pd.DataFrame({"trial_id": ["a", "b", "c"], "inputs": ["images", "table+images", "table"],
                          "score": [0.9, 0.8, 0.7]})
    assert only_when_best(table, family) == ["b"]
    assert only_when_best(table, get_family("mlp")) == []


def test_an_image_column_is_never_flagged_as_a_leak():
    importance = Importance(pd.DataFrame({"column": ["photo", "x"], "importance": [0.5, 0.01], "std": [0.0, 0.0],
                                          "share": [0.9, 0.02], "negligible": [False, True]}),
                            "accuracy", 0.9, 0.25, 40, 3)
    x, y = pd.DataFrame({"photo": ["a.png"] * 40, "x": np.arange(40.0)}), np.arange(40) % 2
    assert [leak.column for leak in leaks(importance, x, y, "multiclass")] == ["photo"]
    assert leaks(importance, x, y, "multiclass", exempt=["photo"]) == []


# Learning: the joined network uses both the images and the table

def trained(space, data, inputs: str, epochs: int = 25) -> tuple[float, float]:
    """Validation and test accuracy of the space's network over `inputs`, its other choices at their defaults."""
    family = get_family("combined")
    hp = kt.HyperParameters()
    hp.Fixed("inputs", inputs)
    hp.Fixed("learning_rate", 0.01)
    keras.utils.set_random_seed(1)
    model = space.build(hp)
    x, y = family.model_inputs(data.train.x, data.schema), data.train.y
    validation = (family.model_inputs(data.validation.x, data.schema), data.validation.y)
    space.fit(hp, model, x, y, validation_data=validation, epochs=epochs, verbose=0)
    scores = []
    for split in (data.validation, data.test):
        said = model.predict(family.dataset(family.model_inputs(split.x, data.schema)), verbose=0).argmax(axis=1)
        scores.append(float((said == split.y).mean()))
    return scores[0], scores[1]


@pytest.mark.slow
@pytest.mark.ci
def test_the_joined_network_learns_from_both_and_beats_each_part_alone(shop_track):
    run = Run.open(shop_track)
    data = run.data()
    space = run.family.hypermodel(run.track, data.schema)
    table, images, joined = (trained(space, data, inputs) for inputs in ("table", "images", "table+images"))
    for split in (0, 1):  # validation, test: each part alone tells at most half of the four classes
        assert joined[split] >= 0.85, (table, images, joined)
        assert joined[split] >= max(table[split], images[split]) + 0.2, (table, images, joined)


# The start: each kind of input opens the search with the known-good parts

def test_the_search_opens_with_the_known_good_parts_over_each_kind_of_input(shop_track, tmp_path):
    from conftest import first_trials

    from automl.hypermodels import cnn, mlp

    text = shop_track.read_text()
    assert '[model.start]\noptimizer = "adamw"\nlearning_rate = 0.002\n"table/num_layers" = 3\n' in text
    opening = first_trials(shop_track, tmp_path / "results", 4)
    assert [trial["inputs"] for trial in opening[:3]] == ["table", "table+images", "images"]
    table, joined, images = opening[:3]
    for trial in opening[:3]:
        assert trial["tuner/epochs"] == 30 and trial["optimizer"] == "adamw" and trial["learning_rate"] == 2e-3
    assert {k: table[f"table/{k}"] for k in ("num_layers", "units_0", "numeric_encoding", "batch_norm")} == \
        {k: mlp.START[k] for k in ("num_layers", "units_0", "numeric_encoding", "batch_norm")}
    side = Run.open(shop_track).data().schema.image_shape[0]
    sized = cnn.start_for(side)
    for trial in (joined, images):
        assert {k: trial[f"images/{k}"] for k in ("whitening", "num_blocks", "filters", "convs_per_block", "l2")} \
            == {k: sized[k] for k in ("whitening", "num_blocks", "filters", "convs_per_block", "l2")}
    assert joined["fusion_units"] == 0 and not any(k.startswith("images/") for k in table)
    assert opening[3]["tuner/epochs"] < 30  # then Hyperband draws, from its first rung


def test_a_table_of_nothing_but_image_paths_searches_the_images_alone(tmp_path):
    from conftest import first_trials

    csv = shop(tmp_path / "data", rows=60)
    pd.read_csv(csv)[["photo", "label"]].to_csv(tmp_path / "data" / "bare.csv", index=False)
    written = track_from_csv(tmp_path / "data" / "bare.csv", "label", tracks_dir=tmp_path / "tracks").path
    opening = first_trials(written, tmp_path / "results", 3)
    assert [trial["inputs"] for trial in opening] == ["images"] * 3  # one start: the images alone
    assert opening[0]["tuner/epochs"] == 30 > opening[1]["tuner/epochs"]
    assert not any(name.startswith("table/") for trial in opening for name in trial)


def test_a_text_column_beside_images_is_read_by_the_text_family_s_searched_encoder(tmp_path):
    csv = shop(tmp_path / "data", rows=80)
    frame = pd.read_csv(csv)
    words = [f"word{i}" for i in range(60)]
    rng = np.random.default_rng(0)
    frame["title"] = [" ".join(rng.choice(words, 8)) for _ in range(len(frame))]
    frame.to_csv(csv, index=False)
    written = track_from_csv(csv, "label", tracks_dir=tmp_path / "tracks").path
    assert 'text = ["title"]' in written.read_text()
    run = Run.open(written)
    data = run.data()
    space = run.family.hypermodel(run.track, data.schema)
    rows = run.family.dataset(run.family.model_inputs(data.validation.x[:4], data.schema))
    for encoder, layer in (("bag", "tf_idf"), ("embedding", "embedding"), ("cnn", "conv")):
        hp = kt.HyperParameters()
        hp.Fixed("inputs", "table+images")
        hp.Fixed("table/text_encoder", encoder)
        model = space.build(hp)
        assert any(layer in sub.name for sub in model.layers if "title" in sub.name), (encoder, model.layers)
        assert model.predict(rows, verbose=0).shape == (4, len(CLASSES))
    assert space.active_hyperparameters({"inputs": "images", "table/text_encoder": "bag"})["table/text_encoder"] is None


# Images too many for memory: decoded into memory-mapped files and read a batch at a time

def test_past_the_memory_limit_a_table_s_images_stream_from_disk(shop_track, monkeypatch):
    from automl.data import image_folder
    from automl.hypermodels.mlp import to_dataset

    run = Run.open(shop_track)
    family = run.family
    data = run.data()
    in_memory = family.model_inputs(data.train.x, data.schema)
    monkeypatch.setattr(image_folder, "memory_limit", lambda: 0)
    data = run.data()
    on_disk = family.model_inputs(data.train.x, data.schema)
    assert isinstance(on_disk["photo"], np.memmap) and not isinstance(in_memory["photo"], np.memmap)
    assert family.model_inputs(data.train.x, data.schema)["photo"] is on_disk["photo"]  # one file per split
    assert not list(run.store.images_cache.iterdir())  # unlinked at once: the mapping holds the pixels
    np.testing.assert_array_equal(on_disk["photo"], in_memory["photo"])
    # the pipeline gathers the other columns and reads each batch's images from the file, in the batch's order
    streamed = list(to_dataset(on_disk, data.train.y, 16, shuffle_seed=3).as_numpy_iterator())
    held = list(to_dataset(in_memory, data.train.y, 16, shuffle_seed=3).as_numpy_iterator())
    for (x_disk, y_disk), (x_held, y_held) in zip(streamed, held, strict=True):
        np.testing.assert_array_equal(y_disk, y_held)
        for column in x_held:
            np.testing.assert_array_equal(x_disk[column], x_held[column])
    monkeypatch.undo()
    assert not isinstance(family.model_inputs(run.data().train.x, data.schema)["photo"], np.memmap)


def test_the_worst_mistakes_show_the_rows_photos(shop_track):
    run = Run.open(shop_track)
    data = run.data()
    pictures = run.family.pictures(data.test.x, [2, 0], data.schema)
    photos = run.family.model_inputs(data.test.x, data.schema)["photo"]
    np.testing.assert_array_equal(pictures, photos[[2, 0]])
    assert pictures.dtype == np.uint8 and pictures.shape[1:] == tuple(data.schema.image_shape)


# A search end to end: the report compares the three, predict and export take raw rows with image paths

@pytest.mark.slow
def test_a_search_compares_the_three_and_its_model_serves_rows_with_image_paths(shop_track, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.chdir(tmp_path)
    searched = automl.search(shop_track, time_limit="40s", results_dir=results, verbose=0)
    summary = (results / "shop" / "summary.md").read_text()
    compared = summary.split("## Networks compared", 1)[1].split("\n## ", 1)[0]
    for kind in ("| table |", "| images |", "| table+images |"):
        assert kind in compared
    assert "test_accuracy" in compared
    assert (results / "shop" / "plots" / "worst_mistakes.png").is_file()  # the photos the model got most wrong

    # predict: a CSV elsewhere whose paths are relative to it, and a DataFrame whose paths are relative to here
    elsewhere = tmp_path / "new"
    shutil.copytree(tmp_path / "data" / "pics", elsewhere / "photos")
    rows = pd.read_csv(tmp_path / "data" / "shop.csv").head(8).drop(columns="label")
    rows.assign(photo=rows["photo"].str.replace("pics/", "photos/")).to_csv(elsewhere / "rows.csv", index=False)
    assert main(["predict", "--track", str(shop_track), str(elsewhere / "rows.csv"), "--proba", "-o",
                 str(tmp_path / "said.csv"), "--results-dir", str(results)]) == 0
    from_cli = pd.read_csv(tmp_path / "said.csv")[[f"proba_{c}" for c in sorted(CLASSES)]].to_numpy()
    frame = rows.assign(photo="data/" + rows["photo"])
    from_api = searched.predict_proba(frame).to_numpy()
    np.testing.assert_allclose(from_cli, from_api, rtol=1e-5, atol=1e-6)

    # the .keras file loads with safe_mode=True and takes the raw columns and uint8 images of any size
    path = searched.export(tmp_path / "export")
    model = keras.models.load_model(path, safe_mode=True)
    def one_by_one(photos: list[np.ndarray]) -> np.ndarray:
        return np.stack([model.predict({"x": frame[["x"]].to_numpy("float32")[i:i + 1],
                                        "noise": frame[["noise"]].to_numpy("float32")[i:i + 1],
                                        "photo": photos[i][None]}, verbose=0)[0] for i in range(len(frame))])

    side = searched.run.schema().image_shape[0]
    decoded = [tf.io.decode_png(tf.io.read_file(str(tmp_path / p)), channels=3) for p in frame["photo"]]
    as_trained = [tf.cast(tf.round(tf.image.resize(d, (side, side), antialias=True)), tf.uint8).numpy()
                  for d in decoded]
    np.testing.assert_allclose(one_by_one(as_trained), from_api, rtol=1e-4, atol=1e-5)
    # photos as they are (16 to 24 px): resized inside without decode_image's rounding to uint8, so the
    # probabilities move a little, never the class
    as_they_are = one_by_one([np.asarray(Image.open(tmp_path / p).convert("RGB")) for p in frame["photo"]])
    np.testing.assert_array_equal(as_they_are.argmax(axis=1), from_api.argmax(axis=1))
    np.testing.assert_allclose(as_they_are, from_api, atol=0.05)

    # the SavedModel takes the raw columns and each photo's encoded bytes
    served = searched.export(tmp_path / "serving" / "1", format="savedmodel")
    signature = tf.saved_model.load(str(served)).signatures["serving_default"]
    outputs = signature(x=tf.constant(frame[["x"]].to_numpy("float32")),
                        noise=tf.constant(frame[["noise"]].to_numpy("float32")),
                        photo=tf.constant([(tmp_path / p).read_bytes() for p in frame["photo"]]))
    np.testing.assert_allclose(outputs["output_0"].numpy(), from_api, rtol=1e-4, atol=1e-5)
