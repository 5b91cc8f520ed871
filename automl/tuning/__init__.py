"""The search stage: Keras Tuner's loop with a budget, a clean stop and resume; pruning, the lock, the final fit,
several machines, and the housekeeping that keeps trials fast."""
