"""The CNN's start: a folder of images is searched from a known-good network trained from scratch (issue 33)."""
from __future__ import annotations

import pytest
from conftest import first_trials
from test_image_folder import IMAGES

from automl import families, load_track
from automl.families import fitting, register_family
from automl.families.cnn import CNNFamily
from automl.families.own_images import track_from_images
from automl.hypermodels.base import SearchSpace
from automl.hypermodels.cnn import START, start_for
from automl.hypermodels.several import SeveralSpaces


@pytest.mark.parametrize(("side", "blocks", "filters"), [(32, 3, 32), (48, 3, 32), (64, 4, 16), (96, 4, 16),
                                                         (256, 4, 16)])
def test_the_start_has_a_block_per_halving_that_leaves_4_pixels_and_fewer_filters_on_large_images(side, blocks,
                                                                                                   filters):
    assert start_for(side) == {**START, "num_blocks": blocks, "filters": filters}


def test_a_folders_track_opens_with_the_start_trained_to_max_epochs(tmp_path):
    written = track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path / "tracks")
    text = written.path.read_text()
    assert "[model.start]\nwhitening = true\nnum_blocks = 3\nfilters = 32\n" in text
    track = load_track(written.path)
    assert track.model.start == start_for(32)
    first, second = first_trials(written.path, tmp_path / "results", 2)
    assert {k: first[k] for k in START} == START
    assert first["tuner/epochs"] == track.search.max_epochs and second["tuner/epochs"] < track.search.max_epochs


def test_the_start_of_a_search_over_several_families_names_its_family(tmp_path, monkeypatch):
    class Other(CNNFamily):  # a second image family, registered as a user's own would be
        name = "other"

    monkeypatch.setattr(families, "_registered", dict(families._registered))
    register_family(Other())
    written = track_from_images(IMAGES, name="clothes", image_size=32, tracks_dir=tmp_path / "tracks")
    written.path.write_text(written.path.read_text().replace('family = "cnn"', 'family = ["other", "cnn"]')
                            .replace("[model.start]\n", '[model.start]\nfamily = "cnn"\n'))
    (first,) = first_trials(written.path, tmp_path / "results", 1)
    assert first["family"] == "cnn" and first["cnn/filters"] == 32 and first["cnn/num_blocks"] == 3
    assert not any(name.startswith("other/") for name in first)


def test_a_start_in_a_space_is_scoped_by_family_and_only_there():
    space = SearchSpace.__new__(SearchSpace)
    assert space.starts_in_space({"filters": 32}) == [{"filters": 32}]
    assert space.starts_in_space({}) == []
    spaces = SeveralSpaces.__new__(SeveralSpaces)
    spaces.spaces = {"cnn": None, "backbone": None}
    assert spaces.starts_in_space({"filters": 32}) == [{"family": "cnn", "cnn/filters": 32}]
    assert spaces.starts_in_space({"family": "backbone", "dropout": 0.2}) == [{"family": "backbone",
                                                                              "backbone/dropout": 0.2}]
    assert spaces.starts_in_space({}) == []  # no start: the search opens as Keras Tuner's does


def test_one_start_between_families_the_first_that_offers_one(monkeypatch):
    from automl.data.inference import OwnData
    from automl.families import MODULES, get_family

    offers = {"cnn": {"start": {"filters": 32}}, "backbone": {"backbones": ["b"], "start": {"dropout": 0.1}}}
    monkeypatch.setattr("automl.families.MODULES", {name: MODULES[name] for name in offers})
    for name, settings in offers.items():
        monkeypatch.setattr(get_family(name), "fits", lambda data, settings=settings: settings)
    assert fitting(OwnData("image_dir", "multiclass", image_size=32)) == {
        "cnn": {"start": {"family": "cnn", "filters": 32}}, "backbone": {"backbones": ["b"]}}
