"""Reload a search's oracle from disk when a rerun resumes it, a damaged ``trial.json`` or ``oracle.json`` included.

Keras Tuner's `Oracle.reload` reads every trial's ``trial.json``, then ``oracle.json``, and stops at the first that is
cut short or corrupted (a disk that failed, a copy that stopped): the search could only be thrown away with --restart.
`reload_oracle` goes on, with a note:

- a damaged ``trial.json``: the trial is recorded as failed, its record rewritten so, with why in its message. Its
  hyperparameters are lost with the file, so it cannot be redone; it is left out of the choice, its id is not reused,
  and a Hyperband bracket that counted it counts it as failed. The other trials are untouched.
- a damaged (or missing) ``oracle.json``: its state is rebuilt from the trials' own records and written again. Restored:
  every trial (none is redone), the order they started and ended in (their ids'), which were running when the search
  stopped (redone first, as usual), the hashes of the values tried (no configuration is tried twice), the search space,
  and Hyperband's brackets and place in its cycle (each trial's ``tuner/bracket``, ``tuner/round`` and
  ``tuner/trial_id``, replayed through the oracle's own bookkeeping). Not restored: where the seeded random stream
  stood, which the trials cannot tell; it starts past every draw they can have made, so the trials still to come
  draw other values than the lost state would have (none already tried). A trial whose record is damaged too is in no
  bracket, so Hyperband fills its place with a new one.
"""
from __future__ import annotations

import warnings

import keras_tuner as kt
from keras_tuner.src import utils as kt_utils

from automl.errors import AutomlWarning, last_line
from automl.selection.trials import damaged_record
from automl.store import Store

# What loading one of Keras Tuner's files raises when it is damaged: cut short or garbage (ValueError: JSON, UTF-8),
# unreadable or missing (OSError), or whole JSON that is not what it should be (KeyError, TypeError).
DAMAGED = (OSError, ValueError, KeyError, TypeError)
RUNNING = "RUNNING"  # a trial's status while it runs: one stopped mid-trial is redone


def reload_oracle(oracle: kt.Oracle, store: Store) -> None:
    """Keras Tuner's `Oracle.reload` of the search in `store` (its trials, then its state; the trials that were running
    are redone first), but a damaged file is repaired with a note rather than stopping the rerun (see the module)."""
    damaged = _reload_trials(oracle, store)
    fresh = oracle.get_state()  # the state of a new search, kept in case the file's proves unusable half-way
    try:
        oracle.set_state(kt_utils.load_json(str(store.oracle_file)))
        rebuilt = False
    except DAMAGED as error:
        oracle.set_state(fresh)
        _rebuild(oracle)
        rebuilt = True
        warnings.warn(f"{store.oracle_file} cannot be read ({last_line(error, 120)}): the search's state is rebuilt "
                      f"from its {len(oracle.trials)} trials' own records, none redone; the trials still to come draw "
                      "other random values than the lost state would have", AutomlWarning, stacklevel=2)
    # Keras Tuner's reload: the trials running when the search stopped go first; a damaged one cannot run again.
    oracle._retry_queue.extend(trial.trial_id for trial in oracle.ongoing_trials.values())
    oracle.ongoing_trials = {}
    oracle._retry_queue = [trial_id for trial_id in oracle._retry_queue if trial_id not in damaged]
    if rebuilt or damaged:
        oracle.save()  # repaired on disk too: the next rerun, and pruning (which reads the brackets), see it whole


def _reload_trials(oracle: kt.Oracle, store: Store) -> set[str]:
    """Every trial on disk into the oracle; returns the ids of those whose record was damaged, now failed."""
    damaged = set()
    for found in store.trials():
        try:
            trial = kt.engine.trial.Trial.load(str(store.trial_file(found.trial_id)))
        except DAMAGED as error:
            trial = kt.engine.trial.Trial(oracle.hyperparameters.copy(), trial_id=found.trial_id, status="FAILED")
            trial.hyperparameters.values = {}
            trial.message = damaged_record(store, found.trial_id, error)  # its row in the report says why it failed
            oracle._save_trial(trial)  # its id stays taken: Keras Tuner numbers a new trial by the count of trials
            damaged.add(trial.trial_id)
            warnings.warn(f"trial {trial.trial_id} is left out of the search: {trial.message}; it is recorded as "
                          "failed and the search goes on", AutomlWarning, stacklevel=3)
        oracle.trials[trial.trial_id] = trial
    return damaged


def _rebuild(oracle: kt.Oracle) -> None:
    """The oracle's state from its trials alone (see the module for what is restored and what is not)."""
    trials = [oracle.trials[trial_id] for trial_id in sorted(oracle.trials)]  # ids count up in the order trials began
    oracle.start_order = [trial.trial_id for trial in trials]
    oracle.end_order = [trial.trial_id for trial in trials if trial.status != RUNNING]
    oracle._run_times.update({trial_id: 1 for trial_id in oracle.end_order})
    oracle._retry_queue = [trial.trial_id for trial in trials if trial.status == RUNNING]
    for trial in trials:
        if trial.hyperparameters.values:  # a damaged record's trial has none
            oracle.update_space(trial.hyperparameters)  # what Keras Tuner does as each trial ends
            oracle._record_values(trial)
    if isinstance(oracle, kt.oracles.HyperbandOracle):
        _rebuild_brackets(oracle, trials)
    # The draws that made the trials cannot be replayed (the space grew as they were built): start past every draw
    # they can have made, each at most `_max_collisions` + 1 tries of one value per hyperparameter.
    draws = len(trials) * (oracle._max_collisions + 1) * max(len(oracle.hyperparameters.space), 1)
    oracle._seed_state = oracle.seed + draws


def _rebuild_brackets(oracle: kt.oracles.HyperbandOracle, trials: list[kt.engine.trial.Trial]) -> None:
    """Hyperband's brackets, replayed from each trial's ``tuner/bracket``, ``tuner/round`` and ``tuner/trial_id`` in
    the order the oracle made them, through its own bookkeeping (`HyperbandOracle.populate_space`)."""
    for trial in trials:
        values = trial.hyperparameters.values
        number, round_num = values.get("tuner/bracket"), values.get("tuner/round")
        if number is None or round_num is None or not 0 <= number < oracle._get_num_brackets():
            continue
        oracle._remove_completed_brackets()  # as the oracle does before it makes each trial
        if round_num == 0:  # a new configuration: the open bracket of its size, else the next of the cycle
            bracket = next((b for b in reversed(oracle._brackets) if b["bracket_num"] == number
                            and len(b["rounds"][0]) < oracle._get_size(number, 0)), None)
            if bracket is None:
                for _ in range(oracle._get_num_brackets()):
                    oracle._increment_bracket_num()
                    if oracle._current_bracket == number:
                        break
                oracle._start_new_bracket()
                bracket = oracle._brackets[-1]
            bracket["rounds"][0].append({"past_id": None, "id": trial.trial_id})
            continue
        past = values.get("tuner/trial_id")  # a continuation: in the bracket of the trial it continues
        bracket = next((b for b in reversed(oracle._brackets) if len(b["rounds"]) > round_num
                        and any(info["id"] == past for info in b["rounds"][round_num - 1])), None)
        if bracket is not None:
            bracket["rounds"][round_num].append({"past_id": past, "id": trial.trial_id})
