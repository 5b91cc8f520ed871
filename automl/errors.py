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
