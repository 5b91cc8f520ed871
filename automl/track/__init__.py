"""Tracks: the declarative TOML files that say what to solve, parsed and validated once into a typed `Track`.

`automl.families.own_csv` and `own_images` write one from a user's own CSV or images (they ask the family
registry which families fit the data, so they live above it).
"""
from automl.track.duration import parse_duration
from automl.track.parse import known_tracks, load_track, parse_track, track_dirs
from automl.track.sections import Track, infer_direction, search_settings

__all__ = ["Track", "infer_direction", "known_tracks", "load_track", "parse_duration", "parse_track",
           "search_settings", "track_dirs"]
