"""A user's own folder of images, one subfolder per class: listed, split, decoded and resized through tf.data.

The folder is laid out as `keras.utils.image_dataset_from_directory` reads it (``photos/<class>/<image>``),
or already split (``photos/train/<class>/...`` with ``validation/`` and/or ``test/`` beside it). One function,
`decode_image`, turns a file's bytes into the uint8 (S, S, 3) image the model trains on; training, `automl
predict` and the exported SavedModel all call it, so the three see the same pixels.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from sklearn.model_selection import train_test_split

from automl.data.image_columns import IMAGE_EXTENSIONS, is_image
from automl.data.schema import Data, Schema, Split
from automl.data.stderr import silenced_fd2
from automl.data.whitening import patch_whitening
from automl.errors import AutomlError, AutomlWarning

PARTS = ("train", "validation", "test")
MIN_PER_CLASS = 5  # fewer images than this in a class leaves none of it to validate or test on
MAX_BAD_SHARE = 0.10  # unreadable images past this share of a folder are a broken copy, not a few stray files
SHOWN_EXAMPLES = 3
DECODE_BATCH = 64
# Decoded images are held in memory up to this many bytes, and in a memory-mapped .npy file on disk past
# it: a quarter of the machine's memory (the model, TensorFlow and the validation outputs need the rest),
# capped at 8 GiB. 8 GiB is 29,000 images at 300x300 or 170,000 at 128x128.
MEMORY_CAP_BYTES = 8 * 2**30


def memory_limit() -> int:
    """The bytes of decoded images kept in memory (`MEMORY_CAP_BYTES` and a quarter of the machine's memory)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: take the cap
        return MEMORY_CAP_BYTES
    return min(total // 4, MEMORY_CAP_BYTES)


def past_memory(images: int, size: int) -> bool:
    """Whether `images` decoded at `size` x `size` take more than `memory_limit()`: then they go to disk."""
    return images * size * size * 3 > memory_limit()


def mapped(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """A new uint8 array of `shape` memory-mapped from a .npy file at `path`, the file removed from its folder at once
    where the system allows (the mapping keeps it until the array is freed; Windows keeps a mapped file, which is
    overwritten next time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    try:
        path.unlink()
    except OSError:
        pass
    return array


@dataclass
class ImageFolder:
    """The image files of a folder: their classes (the subfolder names, sorted) and the split each came in."""

    root: Path
    classes: list[str]
    paths: list[Path]
    labels: np.ndarray
    parts: np.ndarray  # "train", "validation" or "test" where the folder says; "" where automl splits
    ignored: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}


def ignored_note(ignored: list[Path], example: Path) -> str:
    """The note on files left out because they are not images."""
    what = "1 file that is not an image" if len(ignored) == 1 else f"{len(ignored)} files that are not images"
    return f"ignoring {what} (e.g. {example}); images end in {', '.join(IMAGE_EXTENSIONS)}"


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _files_under(directory: Path) -> list[Path]:
    """Every visible file under `directory`, recursively, in a fixed order; hidden files and folders skipped."""
    found = []
    for parent, folders, files in os.walk(directory):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found += [Path(parent) / f for f in sorted(files) if not f.startswith(".")]
    return found


def list_folder(root: str | os.PathLike) -> ImageFolder:
    """The images of `root`, one subfolder per class (or ``train/`` and ``validation/``/``test/`` beside it).

    Refuses, with the fix: a missing or empty folder, a single class, and a class with fewer than
    `MIN_PER_CLASS` images. Files that are not images are left out (`ImageFolder.ignored_note` says so).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise AutomlError(f"image folder {root} does not exist; give a folder with one subfolder of images per class")
    split_parts = [part for part in PARTS if (root / part).is_dir()]
    # A train/ subfolder means the folder is split already: its classes are the subfolders of train/.
    class_roots = {part: root / part for part in split_parts} if "train" in split_parts else {"": root}
    train_root = class_roots.get("train", root)
    classes = sorted(d.name for d in train_root.iterdir() if d.is_dir() and _visible(d))
    stray = [p for p in train_root.iterdir() if p.is_file() and _visible(p) and is_image(p)]
    if not classes:
        found = f"{len(stray)} images but no subfolders" if stray else "no subfolders"
        raise AutomlError(f"image folder {train_root} has {found}; put each class's images in a subfolder "
                          "named after the class (e.g. photos/cats/1.jpg, photos/dogs/2.jpg)")
    paths, labels, parts, ignored = [], [], [], []
    for part, directory in class_roots.items():
        for folder in sorted(d for d in directory.iterdir() if d.is_dir() and _visible(d)):
            if folder.name not in classes:
                raise AutomlError(f"{folder} is a class the training images ({train_root}) do not have; "
                                  f"the classes are: {', '.join(classes)}")
            for path in _files_under(folder):
                if is_image(path):
                    paths.append(path)
                    labels.append(classes.index(folder.name))
                    parts.append(part)
                else:
                    ignored.append(path)
    folder = ImageFolder(root, classes, paths, np.asarray(labels, dtype="int64"), np.asarray(parts, dtype=object),
                         ignored)
    _check_counts(folder, train_root)
    if ignored:
        warnings.warn(ignored_note(ignored, ignored[0].relative_to(root)), AutomlWarning, stacklevel=2)
    return folder


def _check_counts(folder: ImageFolder, train_root: Path) -> None:
    counts = folder.counts()
    if not folder.paths:
        raise AutomlError(f"image folder {folder.root} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                          "put each class's images in a subfolder named after the class")
    if len(folder.classes) < 2:
        raise AutomlError(f"image folder {train_root} has a single class ('{folder.classes[0]}'); a classifier "
                          "needs two or more subfolders of images, one per class")
    few = {c: n for c, n in counts.items() if n < MIN_PER_CLASS}
    if few:
        listed = ", ".join(f"'{c}' {n}" for c, n in few.items())
        raise AutomlError(f"image folder {folder.root}: too few images in class {listed}; each class needs at least "
                          f"{MIN_PER_CLASS}: add images or remove the subfolder")


def split_folder(folder: ImageFolder, *, validation: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Indices into `folder.paths` for each of train, validation and test: seeded and stratified by class.

    A split the folder has (``train/``, ``validation/``, ``test/``) is kept; a missing one is split off
    the training images, with `test` and `validation` the shares of all images, as a CSV's are.
    """
    given = {part: np.flatnonzero(folder.parts == part) for part in PARTS}
    unsplit = not given["train"].size  # one subfolder per class: automl splits all three
    rest = np.flatnonzero(folder.parts == "") if unsplit else given["train"]
    try:
        if not given["test"].size:
            rest, given["test"] = _split_off(rest, folder.labels, test, seed)
        if not given["validation"].size:
            share = validation / (1.0 - test) if unsplit else validation
            rest, given["validation"] = _split_off(rest, folder.labels, share, seed)
    except ValueError as error:
        raise AutomlError(f"image folder {folder.root}: cannot split the images ({error}); add images or lower "
                          "split.test and split.validation") from None
    given["train"] = rest
    return {part: np.sort(given[part]) for part in PARTS}


def _split_off(indices: np.ndarray, labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return train_test_split(indices, test_size=share, random_state=seed, stratify=labels[indices])


def decode_image(contents: tf.Tensor, size: int) -> tf.Tensor:
    """A file's bytes (JPEG, PNG, BMP, GIF) as a uint8 (size, size, 3) RGB image; the one decoder automl uses.

    Grey, RGBA and palette images become RGB; a GIF gives its first frame. The image is resized to a square
    (as `keras.utils.image_dataset_from_directory` does), antialiased so that a large photo shrunk to a
    small size keeps its detail instead of aliasing, then rounded back to uint8.
    """
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image = tf.image.resize(image, (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def read_images(paths: list[Path], size: int, *, on_disk: Path | None = None) -> tuple[np.ndarray, list[int]]:
    """The images at `paths`, decoded and resized by tf.data, and the positions of those that could not be.

    The images come back in the order of `paths`, without the unreadable ones: a uint8 (N, size, size, 3)
    array in memory, or, with `on_disk`, a memory-mapped .npy file there (removed from the folder at once
    where the system allows: the mapping keeps it until the array is freed).
    """
    shape = (len(paths), size, size, 3)
    images = np.empty(shape, dtype=np.uint8) if on_disk is None else mapped(on_disk, shape)
    # Each image keeps its position; a file that cannot be read or decoded is dropped by `ignore_errors`, and
    # the positions missing at the end are the bad files. No Python loop touches a pixel.
    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), [str(p) for p in paths]))
    dataset = dataset.map(lambda i, path: (i, decode_image(tf.io.read_file(path), size)),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.ignore_errors().batch(DECODE_BATCH).prefetch(tf.data.AUTOTUNE)
    written, kept = 0, []
    with silenced_fd2():  # libjpeg's own line for each damaged file, before automl's note names them
        for positions, batch in dataset.as_numpy_iterator():
            images[written:written + len(batch)] = batch  # the good images, packed in order
            written += len(batch)
            kept.append(positions)
    bad = sorted(set(range(len(paths))) - set(np.concatenate(kept).tolist() if kept else []))
    return images[:written], bad


class DecodedImages:
    """Decoded images by file and side, each decoded once (tf.data, `read_images`) and then read from memory, or,
    after `spill_to` (images too many for `memory_limit`), from memory-mapped files on disk.

    On disk, a large request (`pixels` of a split) is one memory-mapped array of its own, in the order asked,
    that training reads a batch at a time (`automl.hypermodels.mlp.to_dataset`); the last `KEPT_ON_DISK` such
    arrays are kept, as a search asks for the same splits again and again.
    """

    KEPT_ON_DISK = 8

    def __init__(self) -> None:
        self._images: dict[tuple[str, int], np.ndarray] = {}
        self._folder: Path | None = None
        self._arrays: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}  # on disk, by side and files
        self._written = 0

    def spill_to(self, folder: Path | None) -> None:
        """Decode into memory-mapped files in `folder` from now on (None: into memory)."""
        self._folder = folder

    def _file(self, what: str) -> Path | None:
        if self._folder is None:
            return None
        self._written += 1
        return self._folder / f"{what}_{os.getpid()}_{self._written}.npy"

    def undecodable(self, files: list[str], size: int) -> list[int]:
        """Decode the `files` not decoded yet; the positions of those that cannot be."""
        new = list(dict.fromkeys(f for f in files if (f, size) not in self._images))
        if new:
            images, bad = read_images([Path(f) for f in new], size, on_disk=self._file("decoded"))
            failed = set(bad)
            for file, image in zip([f for i, f in enumerate(new) if i not in failed], images, strict=True):
                self._images[(file, size)] = image
        return [i for i, f in enumerate(files) if (f, size) not in self._images]

    def pixels(self, files: list[str], size: int) -> np.ndarray:
        """The images of `files` (all decodable: see `undecodable`), uint8 (N, size, size, 3): in memory, or a
        memory-mapped array on disk for more than `DECODE_BATCH` images once spilled."""
        if not files:
            return np.zeros((0, size, size, 3), dtype=np.uint8)
        if self._folder is None or len(files) <= DECODE_BATCH:
            return self._stacked(files, size)
        key = (size, tuple(files))
        if key not in self._arrays:
            array = mapped(self._file("pixels"), (len(files), size, size, 3))
            for start in range(0, len(files), DECODE_BATCH):  # a batch at a time: never all of them in memory
                chosen = files[start:start + DECODE_BATCH]
                array[start:start + len(chosen)] = self._stacked(chosen, size)
            while len(self._arrays) >= self.KEPT_ON_DISK:
                self._arrays.pop(next(iter(self._arrays)))
            self._arrays[key] = array
        return self._arrays[key]

    def _stacked(self, files: list[str], size: int) -> np.ndarray:
        return np.stack([self._images[(f, size)] for f in files])


def image_sizes(paths: list[Path]) -> np.ndarray:
    """(width, height) of each image, read from the file's header without decoding it; unreadable ones left out."""
    sizes = []
    for path in paths:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
        except (OSError, ValueError, Image.DecompressionBombError):
            continue  # a broken file: the decoder finds it and says so
    return np.asarray(sizes, dtype="int64").reshape(-1, 2)


def describe_sizes(sizes: np.ndarray) -> str:
    """'median 300x400, from 120x90 to 1024x768' (width x height)."""
    if not len(sizes):
        return "sizes unknown"
    median = np.median(sizes, axis=0).astype(int)
    areas = sizes.prod(axis=1)
    small, large = sizes[areas.argmin()], sizes[areas.argmax()]
    return f"median {median[0]}x{median[1]}, from {small[0]}x{small[1]} to {large[0]}x{large[1]} (width x height)"


def default_image_size(sizes: np.ndarray, train_images: int, seconds: float) -> tuple[int, str]:
    """The side S the images are resized to, and why: what the images have, and what the time affords.

    The data's size is the median shorter side, rounded to a multiple of 32: larger gives no detail the
    photos have. The time's: training costs about S x S per image, and the middle CNN candidate trains
    `CPU_IMAGES_PER_SECOND` images a second at 32x32 on a 2-core CPU; a search needs `PASSES` passes over
    the training images, so S is the largest multiple of 32 for which those fit in the time limit. The
    smaller of the two wins, within `MIN_SIZE` and `MAX_SIZE`. A GPU affords more: give `--image-size`.
    """
    shorter = int(np.median(sizes.min(axis=1))) if len(sizes) else MAX_SIZE
    from_data = _within(round(shorter / 32) * 32)
    affordable = 32 * math.sqrt(CPU_IMAGES_PER_SECOND * seconds / (PASSES * max(train_images, 1)))
    from_time = _within(int(affordable // 32) * 32)
    size = min(from_data, from_time)
    why = (f"the median shorter side is {shorter} px" if from_data <= from_time else
           f"{PASSES} passes over {train_images:,} training images at {size}x{size} fit a {_minutes(seconds)} "
           f"time limit on a CPU (the median shorter side is {shorter} px)")
    return size, why


CPU_IMAGES_PER_SECOND = 288  # benchmarks/results/cnn_speed.json, "middle": 290k parameters, 32x32, 2 cores
PASSES = 20  # Hyperband (factor 3) trains about 20 full passes over a search's brackets
MIN_SIZE, MAX_SIZE = 32, 256


def _within(size: int) -> int:
    return max(MIN_SIZE, min(MAX_SIZE, size))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}m" if math.isfinite(seconds) else "unlimited"


def load_image_folder(root: str | os.PathLike, *, size: int, validation: float, test: float, seed: int,
                      cache_dir: Path | None = None) -> Data:
    """The folder's images at `size` x `size`, split three ways; unreadable images skipped with a note.

    The split's images are uint8 (N, size, size, 3) arrays: in memory, or memory-mapped files in
    `cache_dir` when all of them would take more than `memory_limit()` bytes.
    """
    folder = list_folder(root)
    indices = split_folder(folder, validation=validation, test=test, seed=seed)
    on_disk = past_memory(len(folder.paths), size) and cache_dir is not None
    splits, bad = {}, []
    for part, chosen in indices.items():
        images, failed = read_images([folder.paths[i] for i in chosen], size,
                                     on_disk=cache_dir / f"{part}.npy" if on_disk else None)
        kept = np.delete(chosen, failed)
        splits[part] = Split(images, folder.labels[kept])
        bad += [folder.paths[i] for i in chosen[failed]]
    _check_bad(folder, bad)
    schema = Schema(task="multiclass", target="label", classes=list(folder.classes), kind="image_files",
                    image_shape=[size, size, 3], whitening=patch_whitening(splits["train"].x, seed=seed))
    return Data(schema, splits["train"], splits["validation"], splits["test"])


def _check_bad(folder: ImageFolder, bad: list[Path]) -> None:
    if not bad:
        return
    shown = ", ".join(str(p.relative_to(folder.root)) for p in sorted(bad)[:SHOWN_EXAMPLES])
    more = ", ..." if len(bad) > SHOWN_EXAMPLES else ""
    what = f"{len(bad)} of {len(folder.paths)} images cannot be decoded ({shown}{more})"
    if len(bad) > MAX_BAD_SHARE * len(folder.paths):
        raise AutomlError(f"image folder {folder.root}: {what}: over {MAX_BAD_SHARE:.0%}; check the copy of the "
                          "folder, or remove the broken files")
    warnings.warn(f"skipping {what}", AutomlWarning, stacklevel=3)


def choose_size(folder: ImageFolder, *, validation: float, test: float, seed: int,
                seconds: float) -> tuple[int, str]:
    """`default_image_size` for the folder: its training images' sizes and count, and the time limit."""
    train = split_folder(folder, validation=validation, test=test, seed=seed)["train"]
    return default_image_size(image_sizes([folder.paths[i] for i in train]), len(train), seconds)


def files_to_predict(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The image files given, and those in the folders given (recursively), in order; and the notes.

    A path that does not exist, or a file given by name that is not an image, is refused; files in a
    folder that are not images are left out with a note.
    """
    files, ignored = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = _files_under(path)
            files += [p for p in found if is_image(p)]
            ignored += [p for p in found if not is_image(p)]
        elif not path.exists():
            raise AutomlError(f"{path} does not exist; give image files or folders of them")
        elif not is_image(path):
            raise AutomlError(f"{path} is not an image file; give files ending in {', '.join(IMAGE_EXTENSIONS)}")
        else:
            files.append(path)
    if not files:
        raise AutomlError(f"no image files in {', '.join(map(str, paths))}; "
                          f"images end in {', '.join(IMAGE_EXTENSIONS)}")
    return files, [ignored_note(ignored, ignored[0])] if ignored else []
