"""A folder of one's own images: listed, split, decoded through tf.data; broken files and bad layouts said in one line."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from automl.data import image_folder
from automl.data.image_folder import (
    decode_image,
    default_image_size,
    files_to_predict,
    list_folder,
    load_image_folder,
    split_folder,
)
from automl.data.images import image_inputs
from automl.errors import AutomlError, AutomlWarning
from automl.hypermodels.image_inputs import image_dataset

IMAGES = Path(__file__).parent / "data" / "images"  # 3 classes of clothing photos; see data/README.md
CLASSES = ["hat", "pants", "shoes"]


def copy_folder(target: Path, counts: dict[str, int] | None = None) -> Path:
    """The test images (or the first `counts` of each class) copied to `target`, one subfolder per class."""
    for name in counts or CLASSES:
        (target / name).mkdir(parents=True)
        files = sorted((IMAGES / name).iterdir())[: (counts or {}).get(name, 99)]
        for file in files:
            shutil.copy(file, target / name / file.name)
    return target


def load(root: Path, **options) -> object:
    return load_image_folder(root, **{"size": 32, "validation": 0.2, "test": 0.2, "seed": 42, **options})


def test_classes_are_the_subfolders_sorted_and_every_image_kind_is_listed():
    folder = list_folder(IMAGES)
    assert folder.classes == CLASSES
    assert folder.counts() == {"hat": 9, "pants": 10, "shoes": 9}
    assert {p.suffix for p in folder.paths} == {".jpg", ".png"}


def test_the_split_is_seeded_stratified_and_covers_every_image_once():
    folder = list_folder(IMAGES)
    parts = split_folder(folder, validation=0.2, test=0.2, seed=3)
    assert [len(parts[p]) for p in ("train", "validation", "test")] == [16, 6, 6]
    assert sorted(np.concatenate(list(parts.values()))) == list(range(28))
    assert all(set(folder.labels[parts[p]]) == {0, 1, 2} for p in parts)  # every class on every side
    again = split_folder(folder, validation=0.2, test=0.2, seed=3)
    assert all((again[p] == parts[p]).all() for p in parts)


def test_a_folder_with_train_and_validation_keeps_them_and_splits_test_off_train(tmp_path):
    copy_folder(tmp_path / "train", {c: 7 for c in CLASSES})
    for name in CLASSES:
        (tmp_path / "validation" / name).mkdir(parents=True)
        shutil.copy(sorted((IMAGES / name).glob("*.jpg"))[-1], tmp_path / "validation" / name / "kept.jpg")
    folder = list_folder(tmp_path)
    parts = split_folder(folder, validation=0.2, test=0.2, seed=1)
    assert folder.classes == CLASSES and all(p.name == "kept.jpg" for p in np.array(folder.paths)[parts["validation"]])
    assert len(parts["test"]) == 5 and len(parts["train"]) == 16  # a fifth of the 21 training images
    assert set(folder.parts[parts["test"]]) == {"train"}


@pytest.mark.parametrize("name", ["shoes/grey.png", "pants/rgba.png", "pants/palette.png", "hat/rgb.png"])
def test_grey_rgba_and_palette_images_become_rgb_uint8_of_the_size(name):
    image = decode_image((IMAGES / name).read_bytes(), 40).numpy()
    assert image.shape == (40, 40, 3) and image.dtype == np.uint8 and image.max() > image.min()
    if name == "shoes/grey.png":
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()


def test_loaded_splits_are_uint8_arrays_at_the_size_with_an_image_files_schema():
    data = load(IMAGES, size=48)
    assert data.schema.kind == "image_files" and data.schema.image_shape == [48, 48, 3]
    assert data.schema.classes == CLASSES and data.schema.task == "multiclass"
    assert data.train.x.shape == (16, 48, 48, 3) and data.train.x.dtype == np.uint8
    assert (len(data.validation), len(data.test)) == (6, 6)


def test_past_the_memory_limit_the_images_are_memory_mapped_from_disk(tmp_path, monkeypatch):
    in_memory = load(IMAGES)
    monkeypatch.setattr(image_folder, "memory_limit", lambda: 0)
    on_disk = load(IMAGES, cache_dir=tmp_path / "cache")
    assert isinstance(on_disk.train.x, np.memmap) and not isinstance(in_memory.train.x, np.memmap)
    np.testing.assert_array_equal(on_disk.train.x, in_memory.train.x)
    assert not list((tmp_path / "cache").iterdir())  # unlinked at once; the mapping holds the data
    streamed = [batch for batch, _ in image_dataset(on_disk.train.x, on_disk.train.y, 5).as_numpy_iterator()]
    np.testing.assert_array_equal(np.concatenate(streamed), in_memory.train.x)


def test_the_default_size_is_the_median_shorter_side_unless_the_time_affords_less():
    sizes = np.array([[200, 150], [640, 480], [1000, 90]])  # width, height: shorter sides 150, 480, 90
    assert default_image_size(sizes, 100, 3600) == (160, "the median shorter side is 150 px")  # to a multiple of 32
    size, why = default_image_size(sizes, 3000, 600)
    assert size == 32 * int(np.sqrt(288 * 600 / (20 * 3000)))  # 32: 20 passes of 3,000 images in 10 minutes
    assert "20 passes over 3,000 training images at 32x32 fit a 10m time limit" in why


def test_images_of_a_folder_model_may_have_any_height_and_width():
    schema = load(IMAGES).schema
    assert image_inputs(np.zeros((2, 50, 70, 3), dtype=np.uint8), schema).shape == (2, 50, 70, 3)
    with pytest.raises(AutomlError, match=r"expected uint8 images of shape \(N, any, any, 3\)"):
        image_inputs(np.zeros((2, 50, 70), dtype=np.uint8), schema)


# --- bad input: one line naming the fix, or a note ---

def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"has no subfolders; put each class's images in a subfolder"):
        list_folder(tmp_path)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"image folder .*nope does not exist"):
        list_folder(tmp_path / "nope")


def test_a_single_class_is_refused(tmp_path):
    with pytest.raises(AutomlError, match=r"has a single class \('hat'\); a classifier needs two or more"):
        list_folder(copy_folder(tmp_path, {"hat": 9}))


def test_a_class_with_too_few_images_is_refused_naming_the_minimum(tmp_path):
    copy_folder(tmp_path, {"hat": 9, "pants": 3, "shoes": 9})
    (tmp_path / "socks").mkdir()
    with pytest.raises(AutomlError, match=r"too few images in class 'pants' 3, 'socks' 0; each class needs at least 5"):
        list_folder(tmp_path)


def test_files_that_are_not_images_are_ignored_with_a_note(tmp_path):
    copy_folder(tmp_path)
    (tmp_path / "hat" / "notes.txt").write_text("bought in May")
    (tmp_path / "hat" / ".DS_Store").write_bytes(b"\0")  # hidden: not even mentioned
    with pytest.warns(AutomlWarning, match=r"ignoring 1 file that is not an image \(e.g. hat/notes.txt\)"):
        folder = list_folder(tmp_path)
    assert len(folder.paths) == 28


def test_a_corrupt_or_truncated_image_is_skipped_with_a_note_naming_it(tmp_path):
    copy_folder(tmp_path)
    jpeg = sorted((tmp_path / "hat").glob("*.jpg"))[0].read_bytes()
    (tmp_path / "hat" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (tmp_path / "pants" / "corrupt.png").write_bytes(b"not a picture at all")
    with pytest.warns(AutomlWarning, match=r"skipping 2 of 30 images cannot be decoded \(hat/truncated.jpg, "
                                           r"pants/corrupt.png\)"):
        data = load(tmp_path)
    assert len(data.train) + len(data.validation) + len(data.test) == 28


def test_broken_images_past_a_tenth_of_the_folder_are_an_error(tmp_path):
    copy_folder(tmp_path)
    for i in range(4):
        (tmp_path / "shoes" / f"broken{i}.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(AutomlError, match=r"4 of 32 images cannot be decoded .*over 10%"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load(tmp_path)


def test_predict_refuses_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(AutomlError, match=r"nope.jpg does not exist; give image files or folders of them"):
        files_to_predict([IMAGES / "hat" / "rgb.png", tmp_path / "nope.jpg"])


def test_predict_refuses_a_file_that_is_not_an_image(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(AutomlError, match=r"notes.txt is not an image file; give files ending in .jpg"):
        files_to_predict([tmp_path / "notes.txt"])


def test_predict_reads_folders_recursively_and_notes_what_is_not_an_image():
    files, notes = files_to_predict([IMAGES / "hat" / "rgb.png", IMAGES])
    assert len(files) == 29 and files[0].name == "rgb.png"
    assert notes == [f"ignoring 1 file that is not an image (e.g. {IMAGES / 'LICENSE'}); images end in "
                     ".jpg, .jpeg, .png, .bmp, .gif"]


def test_shuffled_images_streamed_from_disk_keep_their_labels(tmp_path):
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8, shape=(20, 4, 4, 3))
    y = np.arange(20) % 7
    x[:] = y[:, None, None, None]  # each image painted with its label
    batches = image_dataset(x, y, 6, shuffle_seed=1).take(5).as_numpy_iterator()
    images, labels = map(np.concatenate, zip(*batches, strict=True))
    assert len(labels) == 30 and (images[:, 0, 0, 0] == labels).all()
    assert labels[:20].tolist() != y.tolist()  # shuffled


def test_a_cnn_trains_on_images_memory_mapped_from_disk(tmp_path, monkeypatch):
    from test_cnn import LIGHTEST, fixed

    from automl.hypermodels.cnn import CNNHyperModel

    monkeypatch.setattr(image_folder, "memory_limit", lambda: 0)
    data = load(IMAGES, cache_dir=tmp_path)
    hypermodel = CNNHyperModel(data.schema, "val_accuracy", "max", batch_sizes=[8])
    hp = fixed(LIGHTEST)
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, data.train.x, data.train.y, epochs=1, verbose=0,
                             validation_data=(data.validation.x, data.validation.y))
    assert np.isfinite(history.history["val_loss"]).all()
    assert model.predict(np.zeros((1, 50, 70, 3), dtype=np.uint8), verbose=0).shape == (1, 3)  # resizes inside
