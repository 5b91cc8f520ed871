"""Keras Tuner HyperModels: the search spaces; they know nothing of track files."""
