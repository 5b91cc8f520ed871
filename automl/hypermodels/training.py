"""What every trial shares whatever the model family: optimizers and the standard callbacks."""
from __future__ import annotations

import keras

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """One of the searched optimizers; SGD always with Nesterov momentum, as it is used in practice."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=1e-4)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")


def trial_callbacks(objective: str, direction: str, patience: int, reduce_lr: bool) -> list[keras.callbacks.Callback]:
    """EarlyStopping and TerminateOnNaN in every trial; ReduceLROnPlateau when the space picks it."""
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor=objective, mode=direction, patience=patience, restore_best_weights=True
        ),
        keras.callbacks.TerminateOnNaN(),
    ]
    if reduce_lr:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=objective, mode=direction, factor=0.3, patience=max(2, patience // 3), min_lr=1e-6
            )
        )
    return callbacks
