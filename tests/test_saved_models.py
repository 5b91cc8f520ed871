"""Every layer automl saves is registered wherever a saved model can be loaded (issue 29: the ensemble's
`WeightedMean` was not, and `automl predict` crashed on image tracks that chose it)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import automl

PACKAGE = Path(automl.__file__).parent


def test_every_module_that_registers_a_layer_is_imported_by_the_registry():
    from automl.hypermodels import registered

    registering = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py")
        if re.search(r"register_keras_serializable\(", path.read_text(encoding="utf-8"))
    }
    assert registering, "the scan found no module that registers a layer"
    assert registering <= {module.__name__ for module in registered.MODULES}


def _saved_ensemble(path: Path) -> np.ndarray:
    import keras

    from automl.hypermodels.ensemble import ensemble_model

    members = []
    for seed in (1, 2):
        inputs = keras.Input((3,), name="x")
        members.append(keras.Model(inputs, keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)))
    model = ensemble_model(members, [0.25, 0.75], ["a", "b"])
    model.save(path)
    return model.predict(np.ones((2, 3), "float32"), verbose=0)


@pytest.mark.parametrize("imports", [
    "import automl; import keras; load = keras.models.load_model",
    "import keras; import automl; load = keras.models.load_model",
    "import automl; import tensorflow as tf; load = tf.keras.models.load_model",
    "import tensorflow as tf; import automl; load = tf.keras.models.load_model",
])
def test_a_plain_keras_load_after_import_automl_reads_an_ensemble_in_a_fresh_process(tmp_path, imports):
    path = tmp_path / "ensemble.keras"
    expected = _saved_ensemble(path)
    code = (f"{imports}\nimport numpy as np\nmodel = load({str(path)!r}, safe_mode=True)\n"
            "print(model.predict(np.ones((2, 3), 'float32'), verbose=0).ravel().tolist())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = [float(value) for value in done.stdout.strip().splitlines()[-1].strip("[]").split(",")]
    np.testing.assert_allclose(got, expected.ravel(), rtol=1e-6)


def test_import_automl_still_does_not_load_tensorflow():
    done = subprocess.run([sys.executable, "-c", "import sys, automl; print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]
