"""File descriptor 2 silenced for a block: C libraries (TensorFlow's start-up, libjpeg's "Improper call to JPEG
library in state 201") write straight to it, past Python's `sys.stderr` and TensorFlow's log level."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silenced_fd2() -> Iterator[None]:
    """Run the block with file descriptor 2 pointed at the null device, and restore it after, whatever happens;
    Python's own errors and warnings raised in the block still reach the user once it ends."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
