"""Data loading and splitting; knows nothing of Keras Tuner."""
