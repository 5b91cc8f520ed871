"""A damaged ``oracle.json`` rebuilt from the trials' own records (`automl.tuning.restore`) holds the state the file
held, but for where the seeded random stream stood: Keras Tuner's own oracles, driven without training, through
Hyperband's whole cycle (two iterations, failed trials, a trial killed mid-run) and random and Bayesian search.
tests/test_faults.py damages the files of a real search."""
from __future__ import annotations

import json
import random
import shutil

import keras_tuner as kt
import pytest

from automl.errors import AutomlWarning
from automl.store import Store
from automl.tuning.restore import reload_oracle
from automl.tuning.tuners import RecipeFirstHyperbandOracle


def _oracle(kind: str, store: Store) -> kt.Oracle:
    space = kt.HyperParameters()
    space.Int("units", 4, 64)
    space.Choice("activation", ["relu", "gelu", "tanh"])
    space.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    common = {"objective": kt.Objective("val_loss", "min"), "hyperparameters": space, "seed": 7,
              "max_consecutive_failed_trials": 100}
    if kind == "hyperband":
        oracle = RecipeFirstHyperbandOracle(max_epochs=9, factor=3, hyperband_iterations=2, **common)
    elif kind == "random":
        oracle = kt.oracles.RandomSearchOracle(max_trials=40, **common)
    else:
        oracle = kt.oracles.BayesianOptimizationOracle(max_trials=24, num_initial_points=20, **common)
    oracle._set_project_dir(str(store.root), store.tuner_dir.name)
    oracle.verbose = 0
    return oracle


def _comparable(state: dict) -> dict:
    """The state as ``oracle.json`` holds it, less where the random stream stood (not restored) and the display's."""
    state = json.loads(json.dumps(state))
    state.pop("seed_state"), state.pop("display")
    state["tried_so_far"] = sorted(state["tried_so_far"])
    state["hyperparameters"] = sorted(hp["config"]["name"] for hp in state["hyperparameters"]["space"])
    return state


@pytest.mark.filterwarnings("ignore:The optimal value found")  # scikit-learn's, fitting Bayesian search's process
@pytest.mark.parametrize("kind", ["hyperband", "random", "bayesian"])
def test_a_rebuilt_oracle_holds_the_lost_state_but_the_random_stream(kind, tmp_path):
    scores = random.Random(0)
    store = Store("t", tmp_path / "search")
    oracle = _oracle(kind, store)
    compared = 0
    for step in range(60):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        if step % 7 != 3:  # else killed mid-run: left running, to be redone first on resume
            if scores.random() < 0.15:
                trial.status, trial.message = "FAILED", "diverged"
            else:
                oracle.update_trial(trial.trial_id, {"val_loss": scores.random()})
                trial.status = "COMPLETED"
            oracle.end_trial(trial)
            oracle.save()  # as the tuner does after each trial
        if step % 4 == 3:  # the process ends: resumed from a copy of the search, and from one whose oracle.json is cut
            whole, cut = Store("t", tmp_path / f"whole{step}"), Store("t", tmp_path / f"cut{step}")
            shutil.copytree(store.root, whole.root)
            shutil.copytree(store.root, cut.root)
            cut.oracle_file.write_bytes(cut.oracle_file.read_bytes()[:200])
            resumed, rebuilt = _oracle(kind, whole), _oracle(kind, cut)
            reload_oracle(resumed, whole)
            with pytest.warns(AutomlWarning, match="cannot be read"):
                reload_oracle(rebuilt, cut)
            assert _comparable(rebuilt.get_state()) == _comparable(resumed.get_state()), step
            # and it goes on as the whole one does: the random draws to come do not replay the trials' (which would
            # collide with them, and end a search after 20 collisions)
            assert rebuilt.create_trial("tuner0").status == resumed.create_trial("tuner0").status, step
            compared += 1
            oracle = _oracle(kind, store)
            reload_oracle(oracle, store)
    assert compared >= 5 and len(oracle.trials) >= 20
