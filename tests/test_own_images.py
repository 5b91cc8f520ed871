"""Your own images: `search --images` writes a readable track that reruns; predict and export take image files."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_image_folder import CLASSES, IMAGES, copy_folder

from automl import load_track
from automl.cli import main
from automl.errors import AutomlError, AutomlWarning
from automl.families import get_family, own_images
from automl.families.own_images import track_from_images
from automl.hypermodels.cnn import start_for


def _run(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _one_line_error(capsys, *argv) -> str:
    status, _, err = _run(capsys, *argv)
    lines = err.strip().splitlines()
    assert status == 2 and "Traceback" not in err and len(lines) == 1 and lines[0].startswith("automl: error: "), err
    return lines[0]


def test_the_written_track_validates_and_says_what_was_found(tmp_path):
    written = track_from_images(IMAGES, name="clothes", image_size=64, tracks_dir=tmp_path / "tracks")
    track = load_track(written.path)
    assert (track.family, track.data.kind, track.task, track.objective) == ("cnn", "image_dir", "multiclass",
                                                                           "val_accuracy")
    assert track.model.image_size == 64 and track.search.class_weight == "none"
    text = written.path.read_text()
    assert "# Classes (the subfolders) and their images: hat 9, pants 10, shoes 9" in text
    assert "# Image sizes: median 48x64" in text and "given with --image-size" in text
    assert written.notes[0] == f"3 classes in {IMAGES}: hat 9, pants 10, shoes 9 (28 images)"
    describe = get_family("cnn").describe_data(track, get_family("cnn").load(track).schema)
    assert describe.endswith("3 classes, 28 JPEG/PNG images resized to 64x64")


def test_the_name_defaults_to_the_folder_and_the_size_is_chosen_and_said(tmp_path):
    written = track_from_images(copy_folder(tmp_path / "my photos"), tracks_dir=tmp_path / "tracks")
    assert written.name == "my_photos" and written.path.name == "my_photos.toml"
    assert "images resized to 64x64: the median shorter side is 48 px" in written.notes
    assert load_track(written.path).model.image_size == 64


def test_rerunning_keeps_the_track_and_restart_rewrites_an_edited_one(tmp_path):
    first = track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path)
    assert "unchanged" in track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path).notes[-1]
    first.path.write_text(first.path.read_text().replace("patience = 8", "patience = 2"))
    with pytest.raises(AutomlError, match=r"already exists and differs.*--restart"):
        track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path)
    track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path, replace=True)
    assert "patience = 8" in first.path.read_text()


def test_imbalanced_classes_get_balanced_class_weights(tmp_path):
    copy_folder(tmp_path / "photos", {"hat": 5, "pants": 9, "shoes": 9})
    for i, file in enumerate(sorted((tmp_path / "photos" / "shoes").iterdir()) * 2):
        shutil.copy(file, tmp_path / "photos" / "shoes" / f"again{i}{file.suffix}")  # 27 shoes, 5 hats
    written = track_from_images(tmp_path / "photos", image_size=32, tracks_dir=tmp_path / "tracks")
    assert load_track(written.path).search.class_weight == "balanced"
    assert "class weights: balanced (imbalanced: 'shoes' has 27 images, 'hat' 5)" in written.notes


def test_several_default_families_are_written_as_a_toml_list(tmp_path, monkeypatch):
    monkeypatch.setattr(own_images, "image_families",
                        lambda size: {"cnn": {}, "backbone": {"backbones": ["mobilenet_v1_0.25"]}})
    folder = own_images.list_folder(IMAGES)
    text = own_images.render_track("x", IMAGES, folder, tmp_path, size=32, why="", sizes="", time_limit="1m",
                                   class_weight=("none", ""))
    assert 'family = ["cnn", "backbone"]' in text and 'backbones = ["mobilenet_v1_0.25"]' in text


def test_images_are_searched_with_every_backbone_whose_weights_are_found(tmp_path, monkeypatch):
    from automl.hypermodels import weights

    monkeypatch.setattr(weights, "find", lambda name: tmp_path / "w.h5" if name == "mobilenet_v1_0.25" else None)
    monkeypatch.setattr(weights, "_failed_downloads", {})
    monkeypatch.setattr(weights, "keras_download", lambda entry: (_ for _ in ()).throw(OSError("offline")))
    with pytest.warns(AutomlWarning, match=r"backbones mobilenet_v3_small, efficientnet_b0 skipped: no ImageNet "
                                           r"weights .* `automl weights import NAME FILE`"):
        found = own_images.image_families(32)
    # one start for the search, the CNN's, naming its family
    assert found == {"cnn": {"start": {"family": "cnn", **start_for(32)}},
                     "backbone": {"backbones": ["mobilenet_v1_0.25"]}}
    monkeypatch.setattr(weights, "find", lambda name: None)
    with pytest.warns(AutomlWarning, match=r"no pretrained backbone: .* the CNN alone is searched"):
        assert own_images.image_families(32) == {"cnn": {"start": start_for(32)}}


def test_the_saved_model_signature_takes_encoded_image_bytes(tmp_path):
    import tensorflow as tf

    track = load_track(track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path).path)
    family = get_family("cnn")
    schema = family.load(track).schema
    assert family.signature(schema).startswith("takes 'image': encoded image bytes (JPEG, PNG, BMP or GIF), string "
                                               "(batch,)")
    served = family.serving_input(schema)
    assert served.spec.shape.as_list() == [None] and served.spec.dtype.name == "string"
    contents = [(IMAGES / "shoes" / "grey.png").read_bytes(), (IMAGES / "hat" / "rgb.png").read_bytes()]
    images = served.prepare(tf.constant(contents))
    assert tuple(images.shape) == (2, 32, 32, 3) and images.dtype.name == "uint8"


# --- bad input: one line, exit status 2 ---

def test_search_images_of_a_missing_folder_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(capsys, "search", "--images", "nope")
    assert "image folder nope does not exist" in line and not (tmp_path / "tracks").exists()


def test_search_images_with_csv_options_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "--target go with --csv; --images learns the class from the subfolders" in _one_line_error(
        capsys, "search", "--images", IMAGES, "--target", "y")


def test_image_size_with_a_track_is_one_line(capsys):
    assert "--image-size go with --csv or --images" in _one_line_error(capsys, "search", "--track", "boston",
                                                                       "--image-size", "64")


def test_an_image_track_whose_folder_is_gone_is_one_line(tmp_path, capsys):
    written = track_from_images(copy_folder(tmp_path / "photos"), image_size=32, tracks_dir=tmp_path / "tracks")
    shutil.rmtree(tmp_path / "photos")
    line = _one_line_error(capsys, "search", "--track", written.path, "--results-dir", tmp_path / "results")
    assert "image folder '../photos' not found" in line and "fix data.path" in line


def test_predict_refuses_an_image_that_cannot_be_decoded(tmp_path):
    track = load_track(track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path).path)
    schema = get_family("cnn").load(track).schema
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(AutomlError, match=r"cannot decode 1 of 2 images \(.*broken.jpg\); remove them"):
        get_family("cnn").read_inputs([IMAGES / "hat" / "rgb.png", tmp_path / "broken.jpg"], schema, track_name="x")


def test_a_too_small_image_size_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"--image-size is 8; give the side in pixels, 32 or more"):
        track_from_images(IMAGES, image_size=8, tracks_dir=tmp_path)


def test_a_table_track_predicts_one_csv_only(tmp_path):
    with pytest.raises(AutomlError, match=r"predicts the rows of one CSV; got 2 inputs"):
        get_family("mlp").read_inputs([tmp_path / "a.csv", tmp_path / "b.csv"], None, track_name="boston")


# --- end to end: a real search from the command line, predictions, and both exports ---

@pytest.mark.slow
@pytest.mark.ci
def test_search_predict_and_export_a_folder_of_images(tmp_path, capsys, monkeypatch):
    import keras
    import tensorflow as tf

    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    status, out, err = _run(capsys, "search", "--images", IMAGES, "--name", "clothes", "--image-size", 32,
                            "--time-limit", "8s", "--results-dir", results, "--quiet")
    assert status == 0, err
    assert "automl: note: 3 classes in" in err and (tmp_path / "tracks" / "clothes.toml").is_file()

    files = [IMAGES / "hat" / "rgb.png", IMAGES / "shoes" / "grey.png"]
    status, out, err = _run(capsys, "predict", "--track", "clothes", *files, IMAGES / "pants", "-o", "p.csv",
                            "--proba", "--results-dir", results)
    assert status == 0, err
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["file", "prediction", *(f"proba_{c}" for c in CLASSES)]
    assert table["file"].tolist()[:2] == [str(f) for f in files] and len(table) == 12
    assert set(table["prediction"]) <= set(CLASSES)

    status, _, err = _run(capsys, "export", "--track", "clothes", str(tmp_path / "k"), "--results-dir", results)
    assert status == 0, err
    model = keras.models.load_model(tmp_path / "k" / "clothes.keras", safe_mode=True)
    assert model.predict(np.zeros((1, 50, 70, 3), dtype=np.uint8), verbose=0).shape == (1, 3)  # any size

    status, out, err = _run(capsys, "export", "--track", "clothes", "--format", "savedmodel", tmp_path / "s" / "1",
                            "--results-dir", results)
    assert status == 0, err
    assert "takes 'image': encoded image bytes" in out
    serving = tf.saved_model.load(str(tmp_path / "s" / "1")).signatures["serving_default"]
    contents = tf.constant([Path(f).read_bytes() for f in table["file"]])
    probabilities = serving(image=contents)["output_0"].numpy()
    np.testing.assert_allclose(probabilities, table[[f"proba_{c}" for c in CLASSES]].to_numpy(), atol=1e-5)
    assert [CLASSES[i] for i in probabilities.argmax(axis=1)] == table["prediction"].tolist()
