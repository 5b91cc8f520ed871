"""automl's exceptions: user mistakes (exit status 2), searches that ran but failed (exit status 1), and a machine
that failed under the run (exit status 3: a full disk, a read-only or vanished folder; rerun to continue)."""
from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class AutomlError(Exception):
    """A problem the user can fix; the message names the problem and the fix.

    Examples
    --------
    >>> raise AutomlError("unknown track 'bostn'; known tracks: boston, caravan")
    Traceback (most recent call last):
    ...
    automl.errors.AutomlError: unknown track 'bostn'; known tracks: boston, caravan
    """


class ResourceError(AutomlError):
    """The machine failed under the run, not the user: the disk is full, a folder is read-only or has vanished.
    Finished work is kept; once the cause is fixed, rerunning the same command continues where the run stopped.
    The command line exits with status 3 (2 is a user's mistake), so that a script can tell the two apart."""


# How a failed write names its cause, when the error carries no errno (TensorFlow's file errors, h5py's).
_FAILURES = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded",
             errno.EROFS: "Read-only file system", errno.EACCES: "Permission denied"}
_VANISHED = "No such file or directory"


def disk_failure(error: BaseException, folder: Path) -> int | None:
    """The errno of a failure of the machine under `folder` behind `error` (or its causes): a full disk (ENOSPC,
    EDQUOT), a read-only or forbidden folder (EROFS, EACCES, EPERM), or `folder` gone (ENOENT while it no longer
    exists); None for any other error, which is not the machine's, and for automl's own one-line errors."""
    if isinstance(error, AutomlError):
        return None
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        code = getattr(error, "errno", None)
        text = str(error)
        if code in _FAILURES or code == errno.EPERM:
            return code
        for known, words in _FAILURES.items():
            if words in text:
                return known
        if (isinstance(error, OSError) or _VANISHED in text) and not folder.exists():
            return errno.ENOENT
        error = error.__cause__ or error.__context__
    return None


def resource_error(code: int, folder: Path, doing: str, elsewhere: str = "use --results-dir") -> ResourceError:
    """The one line for a failure of the machine (`disk_failure`) while `doing` something in `folder`: what failed,
    the fix, and that a rerun continues."""
    rerun = "rerun the same command to continue"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return ResourceError(f"the disk holding {folder} is full ({doing}): free space or {elsewhere}; {rerun}")
    if code == errno.ENOENT:
        return ResourceError(f"{folder} vanished ({doing}): check that its disk is still mounted, or "
                             f"{elsewhere}; {rerun}")
    reason = "read-only file system" if code == errno.EROFS else "permission denied"
    return ResourceError(f"{folder} cannot be written ({reason}; {doing}): make it writable or {elsewhere}; {rerun}")


@contextmanager
def on_disk(folder: Path, doing: str, elsewhere: str = "use --results-dir") -> Iterator[None]:
    """Turn a failure of the machine under `folder` (`disk_failure`) while `doing` something into one
    `ResourceError` line; every other error passes through unchanged.

    >>> import errno, os
    >>> try:
    ...     with on_disk(Path("."), "writing the report"):
    ...         raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    ... except ResourceError as error:
    ...     print(error)
    the disk holding . is full (writing the report): free space or use --results-dir; rerun the same command to continue
    """
    try:
        yield
    except AutomlError:  # already one line: a ResourceError, or a user's mistake (an unreadable data file, ...)
        raise
    except Exception as error:
        code = disk_failure(error, Path(folder))
        if code is None:
            raise
        raise resource_error(code, Path(folder), doing, elsewhere) from None


class SearchFailed(Exception):
    """The search ran but produced no usable model (every trial failed); finished work is kept."""


class AutomlWarning(UserWarning):
    """Something the user should know that does not stop the work (a stale lock taken over, ...)."""


def first_line(message: object, limit: int | None = None) -> str:
    """The first line of an error's message (a parser's, a download's), trimmed to `limit`; its type if it has none."""
    lines = str(message or "").strip().splitlines()
    if not lines:
        return type(message).__name__ if isinstance(message, BaseException) else ""
    return lines[0][:limit] if limit else lines[0]


def last_line(message: object, limit: int | None = None) -> str:
    """The last non-blank line of an error or message (Keras Tuner keeps whole tracebacks), trimmed to `limit`.

    Examples
    --------
    >>> last_line("Traceback (most recent call last):\\n  ...\\nValueError: bad shape")
    'ValueError: bad shape'
    """
    lines = [line.strip() for line in str(message or "").strip().splitlines() if line.strip()]
    if not lines:
        return type(message).__name__ if isinstance(message, BaseException) else ""
    return lines[-1][:limit] if limit else lines[-1]
