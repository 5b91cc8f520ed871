"""search.log: the lines of a run, appended to the search's folder as they come, whoever follows the run."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


class SearchLog:
    """The search's lines: shown by `show` (the command line prints them; a progress bar writes them under itself;
    None shows nothing) and appended to `path` (``<results>/<track>/search.log``)."""

    def __init__(self, path: Path, show: Callable[[str], None] | None = None) -> None:
        self.path, self.show = path, show

    def say(self, line: str) -> None:
        if self.show is not None:
            self.show(line)
        try:  # opened per line: a --restart empties the directory under us, and the log must survive it
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
        except OSError:
            pass  # the log is a copy of what is shown; a results directory that cannot be written fails elsewhere
