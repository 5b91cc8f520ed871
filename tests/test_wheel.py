"""The wheel as a user gets it: built with `python -m build`, installed into a fresh virtual environment, and run
from a folder outside the clone.

How the fresh environment gets its dependencies: installing TensorFlow and the rest into it would download about
2.5 GB on every run, so it borrows them from the environment running the tests. A folder of links to that
environment's site-packages, every entry except automl's own (its package, its dist-info, an editable install's
finder), is added to the fresh environment as a site directory (a .pth file), so that only the wheel can provide
automl. The wheel is then installed *with* its dependencies but with `--no-index`: pip looks for each requirement
the wheel declares among the borrowed distributions and fails on one that is missing or outside its bounds, so a
wheel that forgets a dependency still fails here, without a download. (`--system-site-packages` would not do:
the clone's editable install would be importable, and would hide a file the wheel lacks.)

Building needs the `build` package (the `test` extra) and, for its isolated build environment, setuptools and
wheel from the package index.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import automl

pytestmark = [pytest.mark.slow, pytest.mark.ci]

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "automl-hyperband"
_AUTOML_OWN = re.compile(r"^(__editable__[._]+)?automl([-_.]|$)", re.IGNORECASE)  # automl, automl_hyperband-*.dist-info


def _borrowed_site_packages(folder: Path) -> Path:
    """Links to this environment's installed distributions, automl's own left out."""
    folder.mkdir()
    for directory in dict.fromkeys(map(Path, (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]))):
        for entry in directory.iterdir():
            if not _AUTOML_OWN.match(entry.name) and not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> SimpleNamespace:
    """The wheel built from this clone, installed into a fresh virtual environment; `run` runs a command there."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(root / "dist"), str(REPO)],
                   check=True, capture_output=True, text=True, timeout=600)
    wheel = next((root / "dist").glob("*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    borrowed = _borrowed_site_packages(root / "borrowed")
    (Path(site) / "_borrowed.pth").write_text(f"import site; site.addsitedir({str(borrowed)!r})\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AUTOML_TRACKS")}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", PIP_CONFIG_FILE=os.devnull)
    subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-input", str(wheel)], env=env, check=True,
                   capture_output=True, text=True, timeout=600)
    work = root / "work"  # outside the clone: no tracks/ of its own
    work.mkdir()

    def run(*command: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)

    return SimpleNamespace(wheel=wheel, python=str(python), venv=root / "venv", work=work, run=run)


def test_the_wheel_holds_the_datasets_the_built_in_tracks_and_the_licence(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {n for n in names if n.startswith("automl/data/datasets/")} >= {
        f"automl/data/datasets/{f}" for f in ("boston.csv.gz", "caravan.csv.gz", "used_cars.csv.gz")}
    assert {n for n in names if n.startswith("automl/tracks/")} == {
        f"automl/tracks/{p.name}" for p in (REPO / "tracks").glob("*.toml")}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_automl_is_imported_from_the_wheel_not_from_the_clone(installed):
    done = installed.run(installed.python, "-c", "import automl; print(automl.__file__)")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed.venv)


def test_the_installed_command_prints_its_help(installed):
    done = installed.run("automl", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: automl"), done.stderr


def test_the_installed_command_prints_the_installed_version(installed):
    done = installed.run("automl", "--version")
    metadata = installed.run(installed.python, "-c", f"import importlib.metadata as m; print(m.version({DISTRIBUTION!r}))")
    assert done.stdout == f"automl {metadata.stdout.strip()}\n" == f"automl {automl.__version__}\n"


def test_the_built_in_tracks_and_their_data_are_found_outside_the_clone(installed):
    listed = installed.run("automl", "tracks")
    assert listed.returncode == 0 and {"boston", "caravan", "used_cars", "cifar10"} <= set(listed.stdout.split())
    data = installed.run(installed.python, "-c", "import automl; print(automl.load_track('boston').data_path())")
    assert data.returncode == 0 and Path(data.stdout.strip()).is_relative_to(installed.venv), data.stderr


def test_the_installed_command_searches_a_csv_whose_column_and_class_names_are_not_ascii(installed):
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    pd.DataFrame({"prix_😀": x, "größe": rng.uniform(size=80),
                  "classe_✓": np.where(x > 0, "oui_😀", "non_é")}).to_csv(installed.work / "prix.csv", index=False)
    done = installed.run("automl", "search", "--csv", "prix.csv", "--target", "classe_✓", "--time-limit", "5s",
                         timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (installed.work / "search_results" / "prix" / "best_model.keras").is_file()

