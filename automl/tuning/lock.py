"""One search per track directory at a time: a lock file (the store's `Store.lock_file`) holding the owner's PID and
host."""
from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from automl.errors import AutomlError, AutomlWarning


@contextmanager
def search_lock(path: Path) -> Iterator[Path]:
    """Hold the lock file `path` (``<results>/<track>/search.lock``) while the block runs.

    A lock held by a live process refuses the second search; a lock left by a dead process on this
    host is taken over with a warning. A lock from another host is never taken over: its process
    cannot be checked from here.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    while not _create(path, owner):
        holder = _read(path)
        if holder is None:
            continue  # removed between our attempt and our read: try again
        if holder.get("host") not in (None, owner["host"]):
            raise AutomlError(
                f"{directory} is locked by a search on host {holder.get('host')} (PID {holder.get('pid')}, "
                f"since {holder.get('since')}); wait for it, or delete {path} if that search is gone"
            )
        if _alive(holder.get("pid")):
            raise AutomlError(
                f"track directory {directory} is in use by another search (PID {holder.get('pid')}, "
                f"since {holder.get('since')}); wait for it to finish or stop it"
            )
        warnings.warn(
            f"took over the lock of a search that is no longer running (PID {holder.get('pid')}, "
            f"since {holder.get('since')}); its finished trials are kept",
            AutomlWarning, stacklevel=3,
        )
        path.unlink(missing_ok=True)
    try:
        yield path
    finally:
        if (_read(path) or {}).get("pid") == owner["pid"]:
            path.unlink(missing_ok=True)


def _create(path: Path, owner: dict) -> bool:
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as error:
        raise AutomlError(f"cannot write in {path.parent} ({error.strerror}); "
                          "fix permissions or free disk space") from None
    with os.fdopen(descriptor, "w") as handle:
        json.dump(owner, handle)
    return True


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return {}  # half-written by an owner killed at once: no live PID, so it is taken over


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
