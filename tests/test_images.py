"""Image data: an npz in keras.datasets' CIFAR-10 format loads, splits and is refused with one-line errors when malformed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl import load_track
from automl.cli import main
from automl.data.images import (
    CIFAR10_CLASSES,
    cifar10_arrays,
    image_inputs,
    import_dataset,
    imported_path,
    load_images,
    read_npz,
)
from automl.errors import AutomlError
from automl.track import parse_track


def tiny_arrays(train: int = 40, test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images, 4 of each of the 10 classes in training, labels shaped (N, 1) as Keras gives them."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(train, 32, 32, 3), dtype=np.uint8),
        "y_train": (np.arange(train) % 10).astype(np.uint8).reshape(-1, 1),
        "x_test": rng.integers(0, 256, size=(test, 32, 32, 3), dtype=np.uint8),
        "y_test": (np.arange(test) % 10).astype(np.uint8).reshape(-1, 1),
    }


def write_npz(path: Path, **changes) -> Path:
    arrays = {**tiny_arrays(), **changes}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def offline() -> dict:
    raise OSError("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("AUTOML_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_npz_loads_and_validation_is_a_stratified_seeded_split_of_the_training_images(tmp_path):
    arrays = read_npz(write_npz(tmp_path / "images.npz"), classes=10)
    data = load_images(arrays, "multiclass", classes=CIFAR10_CLASSES, validation=0.25, seed=1)
    assert data.schema.kind == "images" and data.schema.image_shape == [32, 32, 3]
    assert data.schema.classes == CIFAR10_CLASSES
    assert (len(data.train), len(data.validation), len(data.test)) == (30, 10, 10)
    assert data.train.x.dtype == np.uint8 and data.train.y.dtype == np.int64 and data.train.y.ndim == 1
    assert sorted(data.validation.y) == list(range(10))  # one of each class
    again = load_images(arrays, "multiclass", classes=CIFAR10_CLASSES, validation=0.25, seed=1)
    np.testing.assert_array_equal(again.validation.x, data.validation.x)
    np.testing.assert_array_equal(data.test.x, arrays["x_test"])  # the test images stay as given


@pytest.mark.parametrize("changes, message", [
    ({"y_test": None}, r"no array named 'y_test' \(found: x_train, y_train, x_test\)"),
    ({"x_train": np.zeros((40, 32, 32, 3), dtype=np.float32)}, r"'x_train' has dtype float32; images must be uint8"),
    ({"x_test": np.zeros((10, 32, 32), dtype=np.uint8)}, r"'x_test' has shape \(10, 32, 32\); images must be \(N, height, width, 3\)"),
    ({"y_train": np.full((40, 1), 10, dtype=np.uint8)}, r"'y_train' holds label 10; labels must be 0 to 9"),
    ({"y_train": np.zeros(39, dtype=np.int64)}, r"'x_train' has 40 images but 'y_train' 39 labels"),
    ({"y_test": np.zeros((10, 2), dtype=np.int64)}, r"'y_test' has shape \(10, 2\); labels must be \(N,\) or \(N, 1\)"),
    ({"y_test": np.zeros(10, dtype=np.float64)}, r"'y_test' has dtype float64; labels must be integers"),
])
def test_malformed_npz_is_refused_with_a_one_line_error_naming_the_key(tmp_path, changes, message):
    path = write_npz(tmp_path / "bad.npz", **changes)
    with pytest.raises(AutomlError, match=message) as error:
        read_npz(path, classes=10)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_file_that_is_not_an_npz_is_refused(tmp_path):
    path = tmp_path / "images.npz"
    path.write_text("not an archive")
    with pytest.raises(AutomlError, match=r"cannot read .*images.npz as an npz archive"):
        read_npz(path)


def test_import_command_stores_the_copy_where_the_loader_finds_it(tmp_path, home, capsys):
    source = write_npz(tmp_path / "cifar.npz")
    assert main(["data", "import", "cifar10", str(source)]) == 0
    assert str(imported_path("cifar10")) in capsys.readouterr().out
    assert imported_path("cifar10") == home / "datasets" / "cifar10.npz"
    arrays = cifar10_arrays(download=offline)  # found without the network
    np.testing.assert_array_equal(arrays["x_train"], tiny_arrays()["x_train"])
    assert not list((home / "datasets").glob("*.part"))


def test_import_refuses_a_malformed_file_and_stores_nothing(tmp_path, home):
    source = write_npz(tmp_path / "cifar.npz", y_train=np.full((40, 1), 12, dtype=np.uint8))
    with pytest.raises(AutomlError, match="holds label 12"):
        import_dataset("cifar10", source)
    assert not imported_path("cifar10").exists()


def test_import_of_an_unknown_dataset_names_the_known_ones(tmp_path, home):
    with pytest.raises(AutomlError, match=r"cannot import dataset 'mnist'; known datasets: cifar10"):
        import_dataset("mnist", write_npz(tmp_path / "x.npz"))


def test_offline_without_an_imported_copy_names_both_fixes(home):
    with pytest.raises(AutomlError) as error:
        cifar10_arrays(download=offline)
    message = str(error.value)
    assert "`automl data import cifar10 PATH`" in message and "network" in message and "\n" not in message


def test_a_given_path_comes_before_the_imported_copy(tmp_path, home):
    import_dataset("cifar10", write_npz(tmp_path / "imported.npz"))
    given = write_npz(tmp_path / "given.npz", x_test=np.full((10, 32, 32, 3), 7, dtype=np.uint8))
    assert (cifar10_arrays(given, download=offline)["x_test"] == 7).all()


@pytest.mark.parametrize("images, found", [
    (np.zeros((2, 32, 32, 3), dtype=np.float32), "float32 of shape (2, 32, 32, 3)"),
    (np.zeros((2, 28, 28, 3), dtype=np.uint8), "uint8 of shape (2, 28, 28, 3)"),
    (np.zeros((32, 32, 3), dtype=np.uint8), "uint8 of shape (32, 32, 3)"),
    ([[0]], "list"),
])
def test_images_to_predict_must_be_uint8_of_the_trained_shape(images, found):
    schema = load_images(tiny_arrays(), "multiclass").schema
    with pytest.raises(AutomlError, match=r"expected uint8 images of shape \(N, 32, 32, 3\), got " + found.replace("(", r"\(").replace(")", r"\)")):
        image_inputs(images, schema)


def test_image_track_needs_the_cnn_family(tmp_path):
    path = tmp_path / "images.toml"
    path.write_text('name = "images"\ntask = "multiclass"\nfamily = "mlp"\n[data]\nkind = "cifar10"\n'
                    '[search]\nobjective = "val_accuracy"\n')
    with pytest.raises(AutomlError, match=r"family 'mlp' does not go with data.kind 'cifar10'"):
        load_track(path)  # the family's own check


def test_the_cifar10_track_is_valid():
    track = parse_track(Path(__file__).resolve().parents[1] / "tracks" / "cifar10.toml")
    assert (track.family, track.data["kind"], track.objective) == ("cnn", "cifar10", "val_accuracy")
    assert track.time_limit_seconds == 3600
