"""Serving: load the chosen model, predict raw inputs with it, export it as a .keras file or a SavedModel."""
