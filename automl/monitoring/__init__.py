"""Following a search: the line per trial, events (new best, diverged, ended), --notify, MLflow and W&B."""
