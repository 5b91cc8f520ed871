"""The metadata is in setup.cfg; this file only puts the built-in tracks (./tracks/*.toml) in the wheel.

The tracks live at the clone's top level, beside automl/, where `automl tracks` finds them in a clone or an
editable install; a wheel has no such place, so the build copies them into the package as automl/tracks/, which
automl/track/parse.py reads when it exists. MANIFEST.in puts them in the sdist, which `python -m build` builds
the wheel from.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithTracks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads ./tracks in place
            return
        target = Path(self.build_lib, "automl", "tracks")
        self.mkpath(str(target))
        for track in sorted(Path("tracks").glob("*.toml")):
            self.copy_file(str(track), str(target / track.name))


setup(cmdclass={"build_py": BuildWithTracks})
