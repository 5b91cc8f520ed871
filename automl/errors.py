"""The one exception type for user mistakes: the CLI turns it into one line and exit status 2."""


class AutomlError(Exception):
    """A problem the user can fix; the message names the problem and the fix.

    Examples
    --------
    >>> raise AutomlError("unknown track 'bostn'; known tracks: boston, caravan")
    Traceback (most recent call last):
    ...
    automl.errors.AutomlError: unknown track 'bostn'; known tracks: boston, caravan
    """
