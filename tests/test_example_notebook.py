"""examples/quickstart.ipynb, executed in a real Jupyter kernel: a DataFrame and a folder of images searched, their
reports shown inline, predictions made."""
from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"

# As the tests' own fixture (conftest.no_weights_from_outside): the kernel downloads no pretrained weights, so the
# image search is the CNN's alone on every machine. The kernel inherits the test's $AUTOML_HOME and $KERAS_HOME.
OFFLINE = """\
from automl.hypermodels import weights

def _offline(entry):
    raise OSError(f"tests do not download {entry.file_name}")

weights.keras_download = _offline
"""


def _outputs(cell) -> tuple[str, str]:
    """A cell's text/plain and text/html outputs, each joined."""
    plain, page = [], []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        plain.append(data.get("text/plain", "") + output.get("text", ""))
        page.append(data.get("text/html", ""))
    return "".join(plain), "".join(page)


@pytest.mark.slow
@pytest.mark.ci
def test_the_quickstart_notebook_runs_and_shows_its_reports_and_predictions(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(OFFLINE))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = {cell.source: cell for cell in notebook.cells if cell.cell_type == "code"}
    errors = [o for cell in cells.values() for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    _, page = _outputs(cells["result"])
    assert "<h4>Chosen model: " in page and "data:image/png;base64," in page  # a trial, or the best trials' ensemble
    predictions = next(cell for source, cell in cells.items() if source.startswith("predictions ="))
    assert _outputs(predictions)[0].startswith("array([")
    shown = next(cell for source, cell in cells.items() if source.startswith("shades = automl.search"))
    assert "<h4>Chosen model: " in _outputs(shown)[1]
    said = next(cell for source, cell in cells.items() if source.startswith("shades.predict"))
    assert "'dark'" in _outputs(said)[0] or "'light'" in _outputs(said)[0]
    assert (tmp_path / "tracks" / "houses.toml").is_file() and (tmp_path / "tracks" / "shades.toml").is_file()
