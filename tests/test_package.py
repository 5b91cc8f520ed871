"""The package as a user installs it: its own name in every install hint, one version, a licence, the Python
versions it says, and the Keras Tuner and TensorFlow versions its private imports were checked on."""
from __future__ import annotations

import configparser
import importlib
import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import automl
from automl.cli import main

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "automl-hyperband"  # `automl` on PyPI is an unrelated project
# The versions the code's private imports (below) were checked on; setup.cfg's upper bounds stop above them.
CHECKED_ON = {"tensorflow": "2.21.0", "keras-tuner": "1.4.8"}
# `pip install` followed by a package to fetch (not a path such as `-e .` or a wheel file): group 1 is its name.
INSTALL_HINT = re.compile(r"pip install\s+(?:-[-\w]+\s+)*['\"]?([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?")


def _setup() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg", encoding="utf-8")
    return parser


def _requirements() -> dict[str, Requirement]:
    lines = _setup()["options"]["install_requires"].split("\n")
    return {r.name: r for r in map(Requirement, filter(None, (line.strip() for line in lines)))}


def test_the_distribution_has_a_name_of_its_own_and_the_import_name_stays_automl():
    assert _setup()["metadata"]["name"] == DISTRIBUTION
    assert _setup()["options.packages.find"]["include"].split(",")[0].strip() == "automl"


def test_every_install_hint_names_the_distribution():
    files = [*REPO.glob("automl/**/*.py"), REPO / "README.md", REPO / "CHANGELOG.md", *REPO.glob("docs/*.md")]
    hints = [(path.name, match[0]) for path in files
             for match in INSTALL_HINT.finditer(path.read_text(encoding="utf-8")) if match[1].startswith("automl")]
    assert hints, "no install hint found: the pattern no longer matches the hints"
    assert [hint for hint in hints if not re.search(rf"\b{DISTRIBUTION}\b", hint[1])] == []


def test_version_flag_prints_automl_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"automl {automl.__version__}\n"


def test_the_metadata_takes_its_version_from_automl():
    assert _setup()["metadata"]["version"].strip() == "attr: automl.__version__"


def test_the_changelog_has_an_entry_for_this_version():
    assert re.search(rf"^## {re.escape(automl.__version__)}\b", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)


def test_the_licence_file_is_the_apache_2_0_the_metadata_names():
    assert _setup()["metadata"]["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_the_python_versions_said_are_those_required_and_tested():
    required = SpecifierSet(_setup()["options"]["python_requires"])
    assert required == SpecifierSet(">=3.11") and f"{sys.version_info.major}.{sys.version_info.minor}" in required
    assert "Programming Language :: Python :: 3.11" in _setup()["metadata"]["classifiers"]
    assert "Python 3.11 or later (tested on 3.11)" in (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CHECKED_ON))
def test_a_dependency_whose_private_modules_are_used_has_an_upper_bound(name):
    bound = _requirements()[name].specifier
    assert any(spec.operator == "<" for spec in bound), f"{name} {bound}: no upper bound"
    assert CHECKED_ON[name] in bound


@pytest.mark.parametrize("name", sorted(CHECKED_ON))
def test_the_installed_version_is_within_the_range_checked(name):
    installed, bound = version(name), _requirements()[name].specifier
    assert installed in bound, (
        f"{name} {installed} is installed; automl was checked on {name} {CHECKED_ON[name]} and allows {bound}: "
        "run the tests on it, then move setup.cfg's bound and CHECKED_ON"
    )


@pytest.mark.parametrize(("module", "names"), [
    ("keras_tuner.src.config", ["DEBUG"]),
    ("keras_tuner.src.protos", ["get_service_grpc"]),
    ("keras_tuner.src.distribute.oracle_chief", ["OracleServicer", "exit_chief"]),
    ("keras_tuner.src.engine.trial", ["Trial", "TrialStatus"]),
])
def test_the_private_keras_tuner_names_the_code_uses_exist(module, names):
    found = importlib.import_module(module)
    assert [n for n in names if not hasattr(found, n)] == [], f"checked on Keras Tuner {CHECKED_ON['keras-tuner']}"


def test_the_private_tensorflow_gradient_registry_the_code_uses_exists():
    from automl.tuning.housekeeping import _gradient_registry

    assert isinstance(_gradient_registry(), dict), f"checked on TensorFlow {CHECKED_ON['tensorflow']}"
