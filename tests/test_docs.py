"""The docs cannot drift from the code: docs/layout.md names every module of automl/, and no module it names is gone."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "automl"


def layout_names() -> set[str]:
    """The first word of each line of docs/layout.md's lists of automl/ (its code blocks that start with automl/)."""
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\nautoml/\n(.*?)```", text, re.S)
    return {line.split()[0] for block in blocks for line in block.splitlines() if line.startswith("  ") and line.strip()}


def modules() -> list[str]:
    """Every module of automl/ as layout.md names it: `cli.py`, `tuning/refit.py`; a package's `__init__.py` is
    named by the package's own line (`tuning/`)."""
    paths = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))
    return [p.removesuffix("__init__.py") if p.endswith("/__init__.py") else p for p in paths]


def test_layout_names_every_module_of_automl():
    missing = [m for m in modules() if m not in layout_names()]
    assert not missing, f"docs/layout.md does not name {missing}"


def test_every_module_layout_names_exists():
    gone = [name for name in layout_names() if name.endswith((".py", "/")) and not (PACKAGE / name).exists()]
    assert not gone, f"docs/layout.md names {gone}, which automl/ no longer has"
