"""airbench's levers in the CNN family (`model.levers`): each builds, trains, saves and reloads with safe_mode=True,
and does what it says: the mirror-and-shift average, the identity start, the fast bias, the alternating flip,
the Lookahead average and bfloat16."""
from __future__ import annotations

import time

import keras
import numpy as np
import pytest
from conftest import fixed

from automl.errors import AutomlError
from automl.hypermodels import cnn
from automl.hypermodels.cnn import LEVERS, CNNHyperModel
from automl.hypermodels.image_inputs import image_dataset
from automl.hypermodels.image_layers import Dirac, FastBias, FlipAverage
from automl.hypermodels.training import Lookahead

LIGHT = {"num_blocks": 2, "filters": 8, "convs_per_block": 2, "downsample": "early", "kernel_size": 3,
         "whitening": True, "batch_norm": True, "pooling": "global_max", "dense_units": 0, "dropout": 0.0, "l2": 0.0,
         "rotation": 0.0, "zoom": 0.0, "label_smoothing": 0.2, "optimizer": "sgd", "sgd_learning_rate": 0.2,
         "batch_size": 32}


@pytest.fixture(scope="module")
def tiny(tiny_cifar10):
    return tiny_cifar10


@pytest.mark.parametrize("levers", [sorted(LEVERS), ["frozen_scale_bn"], ["tta_shifts"], ["lookahead", "dirac"]],
                         ids=["all", "frozen_scale_bn", "tta_shifts", "lookahead+dirac"])
def test_a_cnn_with_levers_trains_on_the_clock_saves_and_reloads_with_the_same_outputs(tiny, tmp_path, levers,
                                                                                     monkeypatch):
    monkeypatch.setattr(cnn, "bfloat16_pays", lambda: True)  # the bfloat16 build, on any CPU
    hypermodel = CNNHyperModel(tiny.schema, "val_accuracy", "max", batch_sizes=[32], levers=levers)
    hp = fixed({**LIGHT, "flip_average": True})
    model = hypermodel.build(hp)
    history = hypermodel.fit_final(hp, model, tiny.train.x, tiny.train.y,
                                   validation_data=(tiny.validation.x, tiny.validation.y), seconds=3.0)
    assert np.isfinite(history.history["loss"]).all()
    assert len(history.history["val_accuracy"]) >= 1  # validated at the end, whatever the passes
    path = tmp_path / "levers.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    expected = model.predict(tiny.test.x, verbose=0)
    np.testing.assert_allclose(reloaded.predict(tiny.test.x, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-3)
    assert expected.dtype == np.float32  # the probabilities are float32 under bfloat16 too


def test_the_levers_build_airbench_s_network(tiny, monkeypatch):
    monkeypatch.setattr(cnn, "bfloat16_pays", lambda: True)
    model = CNNHyperModel(tiny.schema, "val_accuracy", "max", levers=sorted(LEVERS)).build(
        fixed({**LIGHT, "num_blocks": 3, "filters": 64, "flip_average": False}))
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.filters for layer in convolutions] == [64, 64, 256, 256, 256, 256]
    assert all(isinstance(layer.kernel_initializer, Dirac) for layer in convolutions)
    assert all(layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32" for layer in convolutions)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(not n.scale and not n.center and n.momentum == pytest.approx(0.6) for n in norms)
    assert len([layer for layer in model.layers if isinstance(layer, FastBias)]) == len(norms)
    assert "flip" not in {layer.name for layer in model.layers}  # the pipeline flips the images
    assert model.get_layer("logits").use_bias is False
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov
    assert optimizer.momentum == pytest.approx(0.85) and optimizer.weight_decay > 0
    assert keras.config.dtype_policy().name == "float32"  # bfloat16 stays inside the build


def test_the_bfloat16_lever_computes_in_float32_where_the_machine_has_no_bfloat16_instructions(tiny, monkeypatch):
    monkeypatch.setattr(cnn, "bfloat16_pays", lambda: False)
    model = CNNHyperModel(tiny.schema, "val_accuracy", "max", levers=["bfloat16"]).build(fixed(LIGHT))
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and all(layer.compute_dtype == "float32" for layer in convolutions)


def test_unknown_levers_are_refused_by_the_space_and_the_track(tiny, tmp_path):
    from automl.families import get_family
    from automl.track import parse_track

    with pytest.raises(ValueError, match="unknown levers"):
        CNNHyperModel(tiny.schema, "val_accuracy", "max", levers=["warp"])
    track = tmp_path / "t.toml"
    track.write_text('name = "t"\ntask = "multiclass"\nfamily = "cnn"\n[data]\nkind = "cifar10"\n'
                     '[search]\nobjective = "val_accuracy"\n[model]\nlevers = ["dirac", "warp"]\n')
    with pytest.raises(AutomlError, match="'warp'.*dirac"):
        get_family("cnn").check(parse_track(track))


def test_the_shift_average_weighs_the_mirror_average_half_and_the_two_shifted_ones_a_quarter_each(tmp_path):
    inputs = keras.Input((6, 6, 2))
    network = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    outer = keras.Input((6, 6, 2))
    model = keras.Model(outer, FlipAverage(network, shifts=True)(outer))
    x = np.random.default_rng(0).random((4, 6, 6, 2)).astype("float32")

    def mirrored(images):
        return (network.predict(images, verbose=0) + network.predict(images[:, :, ::-1], verbose=0)) / 2

    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    expected = mirrored(x) / 2 + (mirrored(padded[:, :-2, :-2]) + mirrored(padded[:, 2:, 2:])) / 4
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)
    assert not np.allclose(mirrored(x), expected, atol=1e-4)  # the shifts count
    np.testing.assert_allclose(model(x, training=True), network(x, training=True), atol=1e-6)  # training: once
    model.save(tmp_path / "shifts.keras")
    reloaded = keras.models.load_model(tmp_path / "shifts.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-6)


def test_dirac_passes_the_input_channels_through_and_draws_the_other_filters():
    kernel = keras.ops.convert_to_numpy(Dirac(seed=1)((3, 3, 4, 6)))
    x = np.random.default_rng(0).random((1, 5, 5, 4)).astype("float32")
    out = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, padding="same"))
    np.testing.assert_allclose(out[..., :4], x, atol=1e-6)  # the first 4 filters: identity
    assert np.abs(kernel[..., 4:]).max() > 0 and np.abs(kernel[..., 4:]).max() <= 1 / np.sqrt(36) + 1e-6
    np.testing.assert_allclose(Dirac(seed=1)((3, 3, 4, 6)), kernel)  # seeded


def test_the_fast_bias_learns_gain_squared_times_faster_under_sgd():
    def moved(layer):
        inputs = keras.Input((2,))
        model = keras.Model(inputs, layer(inputs))
        model.compile(keras.optimizers.SGD(0.01), "mse")
        model.train_on_batch(np.zeros((4, 2), "float32"), np.ones((4, 2), "float32"))
        return model.predict(np.zeros((1, 2), "float32"), verbose=0)[0, 0]

    plain = moved(keras.layers.Dense(2, kernel_initializer="zeros"))  # a bias at the usual rate
    assert moved(FastBias(gain=8.0)) == pytest.approx(64 * plain, rel=1e-4)


@pytest.mark.parametrize("batch", [4, 7])
def test_the_alternating_flip_mirrors_every_image_in_every_other_pass(batch):
    count = 12
    x = np.zeros((count, 2, 3, 1), dtype="uint8")
    x[:, 0, 0, 0] = np.arange(count)  # each image's id in its top-left pixel; its mirror has it top-right
    stream = image_dataset(x, np.arange(count), batch, shuffle_seed=3, alternating_flip=True)
    seen = {i: [] for i in range(count)}
    for images, labels in stream.take(-(-4 * count // batch)):
        for image, label in zip(images.numpy(), labels.numpy(), strict=True):
            assert image[0, 0, 0] == label or image[0, 2, 0] == label
            seen[int(label)].append(bool(image[0, 2, 0] == label and label))
    for label, flips in seen.items():
        if label:  # image 0 looks the same either way
            passes = flips[:4]
            assert passes[0] != passes[1] and passes[1] != passes[2] and passes[2] != passes[3]
    firsts = [flips[0] for label, flips in seen.items() if label]
    assert 0 < sum(firsts) < len(firsts)  # the first pass mirrors some images, not all


def test_lookahead_pulls_the_weights_to_their_running_average_and_ends_on_it():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    lookahead = Lookahead(seconds=60.0)
    lookahead.set_model(model)
    lookahead.on_train_begin()
    start = [w.numpy().copy() for w in model.weights]
    model.weights[0].assign(start[0] + 1.0)
    lookahead.step(0.25)
    np.testing.assert_allclose(model.weights[0].numpy(), start[0] + 0.75, atol=1e-6)  # 0.25 x old + 0.75 x new
    lookahead.step(0.0)  # decay 0 (the start of training): the weights as they are
    np.testing.assert_allclose(model.weights[0].numpy(), start[0] + 0.75, atol=1e-6)
    model.weights[0].assign(start[0] + 5.0)
    lookahead.on_train_end()  # the end: the network keeps the average
    np.testing.assert_allclose(model.weights[0].numpy(), start[0] + 0.75, atol=1e-6)
    assert lookahead.top * 0.5 ** 3 < lookahead.top  # the decay grows with the cube of the time gone


@pytest.mark.parametrize("seconds", [4.0, 9.0])
def test_the_recipe_s_final_fit_ends_annealed_at_the_deadline_of_any_time_limit(tiny, seconds):
    hypermodel = CNNHyperModel(tiny.schema, "val_accuracy", "max", batch_sizes=[32], levers=sorted(LEVERS))
    hp = fixed({**LIGHT, "flip_average": True})
    model = hypermodel.build(hp)
    started = time.monotonic()
    hypermodel.fit_final(hp, model, tiny.train.x, tiny.train.y,
                         validation_data=(tiny.validation.x, tiny.validation.y), seconds=seconds)
    assert seconds <= time.monotonic() - started < seconds + 60.0
    assert float(model.optimizer.learning_rate.numpy()) < LIGHT["sgd_learning_rate"] * 0.1
