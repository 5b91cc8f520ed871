"""Diagnose a trial from its learning curves: diverged, over-fitting, under-fitting, stalled or healthy.

Pure functions over per-epoch numbers (no Keras), so every rule can be tested on hand-made curves.
Each diagnosis carries its label, the numbers behind it and one sentence a reader can check.

The rules, first match wins (a diverged trial's other signs mean nothing; an over-fitting trial
usually also stalls, and over-fitting is the more useful thing to say):

1. **diverged**: the training or validation loss is NaN or infinite at some epoch, or the
   training loss ends more than `explode_factor` times above its minimum.
2. **over-fitting**: after the epoch of lowest validation loss, at least `overfit_min_epochs`
   more epochs ran, the validation loss ended at least `overfit_rise` (relative) above its minimum
   and the training loss ended below its value at that epoch.
3. **under-fitting**: the trial's lowest training loss and lowest validation loss are both more
   than `underfit_margin` (relative) above the reference (the top-scoring trial's).
4. **stalled**: the objective did not improve by `min_improvement` (relative) over the last
   `stall_epochs` epochs, though those epochs ran.
5. **healthy**: none of the above.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

LABELS = ("diverged", "over-fitting", "under-fitting", "stalled", "healthy", "no curves")


@dataclass(frozen=True)
class Thresholds:
    """The numbers the rules compare against; the defaults are documented in the README."""

    explode_factor: float = 10.0   # training loss ending 10x above its minimum is not noise
    overfit_rise: float = 0.05     # validation loss 5 % above its minimum: more than epoch-to-epoch jitter
    overfit_min_epochs: int = 2    # one bad epoch after the minimum is noise; two in a row are a trend
    underfit_margin: float = 0.25  # 25 % more loss on both splits than the top trial: clearly worse, not noise
    stall_epochs: int = 5          # the last 5 epochs brought nothing
    min_improvement: float = 0.001  # improvements under 0.1 % count as none, as EarlyStopping's min_delta would


@dataclass(frozen=True)
class Reference:
    """The top-scoring trial's lowest training and validation loss, against which under-fitting is judged."""

    train_loss: float
    val_loss: float


@dataclass(frozen=True)
class Diagnosis:
    """A label, the numbers behind it, and one sentence that states them."""

    label: str
    sentence: str
    numbers: dict[str, float] = field(default_factory=dict)


def diagnose(
    history: Mapping[str, Sequence[float]],
    *,
    objective: str = "val_loss",
    direction: str = "min",
    epochs: Sequence[int] | None = None,
    reference: Reference | None = None,
    thresholds: Thresholds = Thresholds(),
) -> Diagnosis:
    """Diagnose one trial from its per-epoch curves.

    Parameters
    ----------
    history : mapping
        Keras' ``History.history``: ``loss``, ``val_loss`` and metrics, one value per epoch.
    objective, direction : str
        The validation metric the search selects on and whether it is minimised or maximised;
        stalling is judged on it (falls back to ``val_loss`` when the curves lack it).
    epochs : sequence of int, optional
        The 0-based epoch index of each value (Hyperband trials may start after epoch 0); the
        numbers and sentences use 1-based epochs as Keras prints them.
    reference : Reference, optional
        The top-scoring trial's lowest losses; without it under-fitting is not judged.

    Examples
    --------
    >>> diagnose({"loss": [1.0, 0.5, 0.3, 0.2], "val_loss": [1.0, 0.6, 0.7, 0.8]}).label
    'over-fitting'
    """
    loss, val_loss = _values(history, "loss"), _values(history, "val_loss")
    if not loss and not val_loss:
        return Diagnosis("no curves", "no learning curves were recorded for this trial")
    count = max(len(loss), len(val_loss))
    numbers_of_epochs = [int(e) + 1 for e in epochs] if epochs is not None and len(epochs) == count else None
    epoch_of = (lambda i: numbers_of_epochs[i]) if numbers_of_epochs else (lambda i: i + 1)
    base = {"epochs": float(count)}
    if loss and val_loss and math.isfinite(loss[-1]) and math.isfinite(val_loss[-1]):
        base["loss_gap"] = val_loss[-1] - loss[-1]  # the train/validation gap at the last epoch, for every trial
    for check in (_diverged, _overfitting):
        found = check(loss, val_loss, epoch_of, thresholds)
        if found:
            return Diagnosis(found.label, found.sentence, {**base, **found.numbers})
    if reference is not None:
        found = _underfitting(loss, val_loss, reference, thresholds)
        if found:
            return Diagnosis(found.label, found.sentence, {**base, **found.numbers})
    curve = _values(history, objective) or val_loss
    name = objective if _values(history, objective) else "val_loss"
    found = _stalled(curve, name, direction, epoch_of, thresholds)
    if found:
        return Diagnosis(found.label, found.sentence, {**base, **found.numbers})
    best = _best_index(curve, direction)
    if count == 1:
        sentence = (f"healthy as far as one epoch shows: {name} {curve[0]:.4g}; "
                    "too short to judge over-fitting or stalling")
    elif best == len(curve) - 1:
        sentence = f"healthy: {name} still improving at the last epoch ({curve[best]:.4g} at epoch {epoch_of(best)})"
    else:
        sentence = (f"healthy: best {name} {curve[best]:.4g} at epoch {epoch_of(best)} of {epoch_of(len(curve) - 1)}, "
                    "no sustained rise in validation loss")
    return Diagnosis("healthy", sentence, {**base, "best_epoch": float(epoch_of(best))})


def _values(history: Mapping[str, Sequence[float]], key: str) -> list[float]:
    return [float(v) for v in history.get(key, [])]


def _best_index(curve: list[float], direction: str) -> int:
    finite = [(v if direction == "min" else -v, i) for i, v in enumerate(curve) if math.isfinite(v)]
    return min(finite)[1] if finite else 0


def _diverged(loss, val_loss, epoch_of, t: Thresholds) -> Diagnosis | None:
    for name, curve in (("training", loss), ("validation", val_loss)):
        bad = next((i for i, v in enumerate(curve) if not math.isfinite(v)), None)
        if bad is not None:
            return Diagnosis("diverged", f"diverged: the {name} loss became {curve[bad]} at epoch {epoch_of(bad)}",
                             {"diverged_epoch": float(epoch_of(bad))})
    lowest = min(loss) if loss else math.nan
    if loss and lowest > 0 and loss[-1] > t.explode_factor * lowest:
        return Diagnosis(
            "diverged",
            f"diverged: the training loss exploded to {loss[-1]:.4g} at epoch {epoch_of(len(loss) - 1)}, "
            f"{loss[-1] / lowest:.0f}x its minimum {lowest:.4g} (threshold {t.explode_factor:g}x)",
            {"diverged_epoch": float(epoch_of(len(loss) - 1)), "loss_growth": loss[-1] / lowest},
        )
    return None


def _overfitting(loss, val_loss, epoch_of, t: Thresholds) -> Diagnosis | None:
    if len(val_loss) < 2 or len(loss) != len(val_loss):
        return None
    best = _best_index(val_loss, "min")
    after = len(val_loss) - 1 - best
    if after < t.overfit_min_epochs or val_loss[best] <= 0:
        return None
    rise = val_loss[-1] / val_loss[best] - 1.0
    fall = 1.0 - loss[-1] / loss[best] if loss[best] > 0 else 0.0
    if rise < t.overfit_rise or loss[-1] >= loss[best]:
        return None
    gap = val_loss[-1] - loss[-1]
    sentence = (
        f"over-fitting from epoch {epoch_of(best)}: validation loss rose {rise:.0%} "
        f"({val_loss[best]:.4g} to {val_loss[-1]:.4g}) over {after} epochs while training loss fell {fall:.0%}; "
        f"train/validation gap {gap:.4g} at the last epoch"
    )
    return Diagnosis("over-fitting", sentence, {
        "overfit_from_epoch": float(epoch_of(best)), "val_loss_rise": rise, "loss_gap": gap,
    })


def _underfitting(loss, val_loss, reference: Reference, t: Thresholds) -> Diagnosis | None:
    if not loss or not val_loss or not (reference.train_loss > 0 and reference.val_loss > 0):
        return None
    train_ratio, val_ratio = min(loss) / reference.train_loss, min(val_loss) / reference.val_loss
    if train_ratio <= 1 + t.underfit_margin or val_ratio <= 1 + t.underfit_margin:
        return None
    sentence = (
        f"under-fitting: lowest training loss {min(loss):.4g} and validation loss {min(val_loss):.4g} are "
        f"{train_ratio:.2f}x and {val_ratio:.2f}x the top trial's (threshold {1 + t.underfit_margin:.2f}x), "
        f"after {len(loss)} epoch{'s' if len(loss) != 1 else ''}"
    )
    return Diagnosis("under-fitting", sentence, {"train_loss_vs_top": train_ratio, "val_loss_vs_top": val_ratio})


def _stalled(curve, name: str, direction: str, epoch_of, t: Thresholds) -> Diagnosis | None:
    if len(curve) <= t.stall_epochs:
        return None
    before, last = curve[: -t.stall_epochs], curve[-t.stall_epochs:]
    sign = 1.0 if direction == "min" else -1.0
    best_before = min(sign * v for v in before)
    best_last = min(sign * v for v in last)
    # Improvement relative to the best so far: 0.1 % of a loss of 2.0 is 0.002.
    improvement = (best_before - best_last) / abs(best_before) if best_before != 0 else best_before - best_last
    if improvement > t.min_improvement:
        return None
    best = _best_index(curve, direction)
    sentence = (
        f"stalled: {name} did not improve over the last {t.stall_epochs} epochs "
        f"(best {curve[best]:.4g} at epoch {epoch_of(best)}, trained to epoch {epoch_of(len(curve) - 1)})"
    )
    return Diagnosis("stalled", sentence, {
        "epochs_since_best": float(len(curve) - 1 - best), "best_epoch": float(epoch_of(best)),
    })


def reference_of(record: Mapping[str, Any]) -> Reference | None:
    """The lowest losses in one trial's ``history.json`` record, to judge the others against."""
    history = record.get("history", {})
    loss = [v for v in _values(history, "loss") if math.isfinite(v)]
    val_loss = [v for v in _values(history, "val_loss") if math.isfinite(v)]
    return Reference(min(loss), min(val_loss)) if loss and val_loss else None


def diagnose_trials(
    table: pd.DataFrame, records: Mapping[str, Mapping[str, Any]], top_trial_id: str | None, *,
    objective: str, direction: str, thresholds: Thresholds = Thresholds(),
) -> pd.DataFrame:
    """Columns to join to the trials table: ``diagnosis``, ``diagnosis_detail`` and the numbers behind them."""
    reference = reference_of(records.get(top_trial_id, {})) if top_trial_id else None
    rows = []
    for trial_id in table["trial_id"]:
        record = records.get(str(trial_id), {})
        found = diagnose(record.get("history", {}), objective=objective, direction=direction,
                         epochs=record.get("epochs"), reference=reference, thresholds=thresholds)
        rows.append({"trial_id": trial_id, "diagnosis": found.label, "diagnosis_detail": found.sentence,
                     **{k: v for k, v in found.numbers.items() if k not in ("epochs", "best_epoch")}})
    columns = ["trial_id", "diagnosis", "diagnosis_detail", "overfit_from_epoch", "val_loss_rise", "loss_gap",
               "train_loss_vs_top", "val_loss_vs_top", "epochs_since_best", "diverged_epoch", "loss_growth"]
    return pd.DataFrame(rows).reindex(columns=columns)
