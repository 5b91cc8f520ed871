"""Keep TensorFlow's start-up chatter off the user's terminal while automl's own notes still show."""
from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from automl.data.stderr import silenced_fd2
from automl.errors import AutomlWarning


@contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """Run the block with file descriptor 2 silenced: importing TensorFlow writes CUDA and oneDNN chatter
    straight to it, past Python. An error raised in the block is printed after it, as usual, and so are
    automl's notes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # automl's notes from the block (how a CSV was read, ...) are held and shown after it, not lost on fd 2.
    # Not warnings.catch_warnings: it would also undo the filters that modules imported in the block set.
    show, held = warnings.showwarning, []

    def hold(message, category, *where, **more) -> None:
        if issubclass(category, AutomlWarning):
            held.append((message, category, *where))
        else:
            show(message, category, *where, **more)

    warnings.showwarning = hold
    try:
        with silenced_fd2():
            yield
    finally:
        warnings.showwarning = show
        for note in held:
            show(*note)
        if "tensorflow" in sys.modules:
            # TensorFlow's Python logger warns of tf.function retracing, which every search does by design.
            sys.modules["tensorflow"].get_logger().setLevel("ERROR")
