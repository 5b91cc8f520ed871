"""Checkpoint pruning: only weights that can no longer be chosen nor continued go; the report and resume still work."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import search_track, trials_only, write_track

import automl
from automl.context import Run
from automl.errors import AutomlError
from automl.serving.models import load_trial_model
from automl.store import CHECKPOINT_FILE, PRUNED_FILE, Store
from automl.tuning import pruning
from automl.tuning.loop import StopSearch
from automl.tuning.pruning import (
    TrialState,
    checkpoints_to_keep,
    open_bracket_trials,
    prune_checkpoints,
)

# Hyperband with max_epochs 3 and factor 3: bracket 1 runs 3 trials for 1 epoch, then the best for 3;
# bracket 0 runs 2 trials for 3 epochs.
HYPERBAND = {"max_epochs": 3, "factor": 3}


def _bracket(number: int, *rounds: list[tuple[str | None, str]]) -> dict:
    return {"bracket_num": number, "rounds": [[{"past_id": p, "id": i} for p, i in r] for r in rounds]}


def _done(trial_id: str, score: float, continues: str | None = None) -> TrialState:
    return TrialState(trial_id, "COMPLETED", score, continues)


def test_keeps_the_trials_within_the_tolerance_and_prunes_the_rest_of_finished_brackets():
    trials = [_done("0", 1.00), _done("1", 1.01), _done("2", 1.50), _done("3", 3.00)]
    state = {**HYPERBAND, "brackets": [_bracket(0, [(None, t.trial_id) for t in trials[:2]])]}  # full: finished
    assert checkpoints_to_keep(trials, state, "min", 0.02, keep_top=1) == {"0", "1"}


def test_keeps_the_top_few_whatever_the_tolerance():
    trials = [_done("0", 1.0), _done("1", 2.0), _done("2", 3.0)]
    assert checkpoints_to_keep(trials, {}, "min", 0.0, keep_top=2) == {"0", "1"}


def test_maximised_objectives_keep_the_highest_scores():
    trials = [_done("0", 0.90), _done("1", 0.89), _done("2", 0.70)]
    assert checkpoints_to_keep(trials, {}, "max", 0.02, keep_top=1) == {"0", "1"}


def test_keeps_every_trial_of_a_bracket_hyperband_may_still_continue():
    trials = [_done("0", 1.0), _done("1", 5.0), _done("2", 9.0)]
    # Round 0 is full, round 1 (one trial) not created yet: any of the three may be continued.
    state = {**HYPERBAND, "brackets": [_bracket(1, [(None, "0"), (None, "1"), (None, "2")], [])]}
    assert open_bracket_trials(state) == {"0", "1", "2"}
    assert checkpoints_to_keep(trials, state, "min", 0.0, keep_top=1) == {"0", "1", "2"}


def test_a_bracket_whose_last_round_is_full_is_finished_even_if_the_oracle_still_lists_it():
    state = {**HYPERBAND, "brackets": [_bracket(1, [(None, "0"), (None, "1"), (None, "2")], [("0", "3")])]}
    assert open_bracket_trials(state) == set()


def test_keeps_the_start_of_a_continuation_that_has_not_finished():
    trials = [_done("0", 1.0), _done("1", 5.0), TrialState("2", "RUNNING", None, "1")]
    state = {**HYPERBAND, "brackets": [_bracket(1, [(None, "0"), (None, "1"), (None, "x")], [("1", "2")])]}
    assert checkpoints_to_keep(trials, state, "min", 0.0, keep_top=1) == {"0", "1", "2"}


def test_the_threshold_moves_as_better_trials_arrive():
    before = [_done("0", 2.0), _done("1", 2.02)]
    assert checkpoints_to_keep(before, {}, "min", 0.02, keep_top=1) == {"0", "1"}
    after = [*before, _done("2", 1.0)]
    assert checkpoints_to_keep(after, {}, "min", 0.02, keep_top=1) == {"2"}


def _fake_search(root: Path, trials: list[TrialState], state: dict) -> Store:
    store = Store("fake", root)
    store.tuner_dir.mkdir(parents=True)
    (store.tuner_dir / "oracle.json").write_text(json.dumps(state))
    for trial in trials:
        folder = store.tuner_dir / f"trial_{trial.trial_id}"
        folder.mkdir()
        values = {"tuner/trial_id": trial.continues} if trial.continues else {}
        (folder / "trial.json").write_text(json.dumps({"trial_id": trial.trial_id, "status": trial.status,
                                                       "score": trial.score, "hyperparameters": {"values": values}}))
        (folder / CHECKPOINT_FILE).write_bytes(b"w" * 1000)
    return store


def test_prune_deletes_the_checkpoint_and_records_why(tmp_path):
    store = _fake_search(tmp_path, [_done("0", 1.0), _done("1", 4.0), TrialState("2", "FAILED", None, None)], {})
    assert prune_checkpoints(store, "min", 0.02, keep_top=1) == ["1", "2"]
    assert (store.tuner_dir / "trial_0" / CHECKPOINT_FILE).is_file()
    assert not (store.tuner_dir / "trial_1" / CHECKPOINT_FILE).exists()
    record = json.loads((store.tuner_dir / "trial_1" / PRUNED_FILE).read_text())
    assert record["score"] == 4.0 and record["threshold"] == pytest.approx(1.02) and record["bytes"] == 1000


def test_a_trial_file_being_written_prunes_nothing(tmp_path):
    store = _fake_search(tmp_path, [_done("0", 1.0), _done("1", 4.0)], {})
    (store.tuner_dir / "trial_1" / "trial.json").write_text('{"trial_id": "1", "sta')
    assert prune_checkpoints(store, "min", 0.02, keep_top=1) == []


def test_a_search_reads_each_finished_trial_once_across_its_prunings(tmp_path, monkeypatch):
    store = _fake_search(tmp_path, [_done("0", 1.0), _done("1", 4.0), TrialState("2", "RUNNING", None, None)], {})
    finished: dict = {}
    assert prune_checkpoints(store, "min", 0.02, keep_top=1, finished=finished) == ["1"]
    assert sorted(finished) == ["trial_0", "trial_1"]  # the running trial's record may still change
    reads = []
    monkeypatch.setattr("automl.store.read_json_file", lambda path, default=None: reads.append(path.parent.name)
                        or json.loads(path.read_text()))
    (store.tuner_dir / "trial_2" / "trial.json").write_text(json.dumps(
        {"trial_id": "2", "status": "COMPLETED", "score": 9.0, "hyperparameters": {"values": {}}}))
    assert prune_checkpoints(store, "min", 0.02, keep_top=1, finished=finished) == ["2"]
    assert [r for r in reads if r.startswith("trial_")] == ["trial_2"]  # only the one that was running is read
    assert [t.trial_id for t in store.trials()] == ["0", "1", "2"]  # without the memory, all are read as before


def _checkpoints(results: Path) -> set[str]:
    return {p.parent.name.removeprefix("trial_") for p in (results / "tiny" / "tuner").glob(f"trial_*/{CHECKPOINT_FILE}")}


def _trial_records(results: Path) -> dict[str, dict]:
    return {p.parent.name.removeprefix("trial_"): json.loads(p.read_text())
            for p in (results / "tiny" / "tuner").glob("trial_*/trial.json")}


def test_search_prunes_out_of_tolerance_checkpoints_and_the_report_still_works(tmp_path, results_dir, monkeypatch):
    monkeypatch.setattr(pruning, "KEEP_TOP", 1)  # a tiny search has few trials: keep only the candidates
    track = write_track(tmp_path, search_extra="tolerance = 0.01")
    table = trials_only(automl.search(str(track), results_dir=results_dir).leaderboard())
    assert set(table["status"]) == {"completed"}  # every continuation found the checkpoint it starts from
    best = table["score"].min()
    kept = set(table.loc[table["score"] <= best * 1.01, "trial_id"])
    assert _checkpoints(results_dir) == kept
    assert set(table.loc[table["pruned"], "trial_id"]) == set(table["trial_id"]) - kept
    assert table["pruned"].any() and len(table) == len(_trial_records(results_dir))  # pruned rows stay
    assert table.loc[table["chosen"], "trial_id"].item() in kept
    pruned_id = table.loc[table["pruned"], "trial_id"].iloc[0]
    store = Store("tiny", results_dir)
    with pytest.raises(AutomlError, match=r"checkpoint was pruned .* --keep-checkpoints"):
        load_trial_model(Run.open(str(track), results_dir), pruned_id)
    freed = sum(json.loads(p.read_text())["bytes"] for p in store.tuner_dir.glob(f"trial_*/{PRUNED_FILE}"))
    assert freed > 0
    history = json.loads((store.tuner_dir / f"trial_{pruned_id}" / "history.json").read_text())
    assert 0 < history["fit_seconds"] <= history["seconds"]


def test_an_interrupted_search_keeps_its_open_bracket_and_resumes(tmp_path, results_dir, monkeypatch):
    monkeypatch.setattr(pruning, "KEEP_TOP", 1)
    track = write_track(tmp_path, search_extra="tolerance = 0.0")
    seen = []

    def stop_after_two(trial):
        seen.append(trial.trial_id)
        if len(seen) == 2:
            raise StopSearch("test stop")

    search_track(str(track), results_dir=results_dir, on_trial_done=stop_after_two)
    assert _checkpoints(results_dir) == set(seen)  # bracket 1 is open: both may still be continued
    automl.search(str(track), results_dir=results_dir)
    records = _trial_records(results_dir)
    assert {r["status"] for r in records.values()} == {"COMPLETED"}
    assert any("tuner/trial_id" in r["hyperparameters"]["values"] for r in records.values())
    assert (results_dir / "tiny" / "report.csv").is_file()


def test_keep_checkpoints_keeps_them_all(tmp_path, results_dir, monkeypatch):
    monkeypatch.setattr(pruning, "KEEP_TOP", 1)
    track = write_track(tmp_path, search_extra="tolerance = 0.0")
    search_track(str(track), results_dir=results_dir, keep_checkpoints=True)
    assert _checkpoints(results_dir) == set(_trial_records(results_dir))


def test_the_best_trial_of_each_kind_of_network_keeps_its_checkpoint_for_the_comparison():
    trials = [TrialState("0", "COMPLETED", 1.0, None, "cnn"), TrialState("1", "COMPLETED", 1.01, None, "cnn"),
              TrialState("2", "COMPLETED", 3.0, None, "bag"), TrialState("3", "COMPLETED", 4.0, None, "bag")]
    keep = checkpoints_to_keep(trials, {}, "min", 0.02, keep_top=1)
    assert keep == {"0", "1", "2"}  # 0 and 1 within the tolerance; 2 the best bag; 3 goes
