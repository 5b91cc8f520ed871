"""automl's exceptions: user mistakes (exit status 2) and searches that ran but failed (exit status 1)."""


class AutomlError(Exception):
    """A problem the user can fix; the message names the problem and the fix.

    Examples
    --------
    >>> raise AutomlError("unknown track 'bostn'; known tracks: boston, caravan")
    Traceback (most recent call last):
    ...
    automl.errors.AutomlError: unknown track 'bostn'; known tracks: boston, caravan
    """


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
