"""The NumPy forward pass: Keras' answers on the dense and convolutional networks, the refusals of a model
it cannot read, and no TensorFlow at run time."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_dvc import inference, network, params
from mnist_dvc.errors import UserError
from mnist_dvc.inference import softmax
from tests.conftest import REPO
from tests.helpers.keras_reference import keras_probabilities
from tests.helpers.params import section

keras = network.keras
TOLERANCE = 1e-5


def randomize(model, seed: int) -> None:
    """Replace every weight by a random value of the size training gives, biases included, so that
    each activation sees negative and positive inputs and no bias is zero."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for weight in layer.get_weights():
            spread = 1 / np.sqrt(np.prod(weight.shape[:-1])) if weight.ndim > 1 else 0.3
            values.append(rng.normal(0, spread, weight.shape).astype(np.float32))
        layer.set_weights(values)


def saved(model, path: Path, seed: int = 0) -> Path:
    randomize(model, seed)
    network.write_model(model, path)  # the project's own way of writing the archive
    return path


def dense_model(**overrides):
    return network.build_model(section("train", **overrides))


def conv_model(first_padding: str = "valid"):
    """A small convolutional network of the kinds of layer the conv architecture uses."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input((28, 28)), layers.Reshape((28, 28, 1)),
        layers.Conv2D(8, 3, padding=first_padding, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(32, activation="relu"), layers.Dropout(0.2), layers.Dense(10),
    ])


def odd_conv_model():
    """Even and non-square kernels, same-padded pooling of odd strides, no bias: TensorFlow's uneven padding."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input((28, 28)), layers.Reshape((28, 28, 1)),
        layers.Conv2D(6, (4, 2), padding="same", activation="tanh"),
        layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.Conv2D(5, 5, use_bias=False, activation="elu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10),
    ])


def random_images(count: int = 300, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.random((count, 28, 28), dtype=np.float32)
    images[: count // 2] *= rng.random((count // 2, 28, 28)) < 0.2  # mostly blank paper, as digits are
    return images


def assert_same_answers(path: Path, images: np.ndarray) -> None:
    expected = keras_probabilities(path, images)
    actual = inference.probabilities(inference.load_model(path), images)
    assert actual.dtype == np.float64 and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
    assert (actual.argmax(axis=1) == expected.argmax(axis=1)).all()


# --- Keras' answers -------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", params.ACTIVATIONS)
def test_dense_networks_give_keras_probabilities(tmp_path, activation):
    model = dense_model(hidden_units=(64, 32), activation=activation, dropout=0.25)
    assert_same_answers(saved(model, tmp_path / "model.keras", seed=3), random_images())


def test_the_default_network_gives_keras_probabilities(tmp_path):
    assert_same_answers(saved(dense_model(), tmp_path / "model.keras"), random_images(500))


@pytest.mark.parametrize("activation", ["linear", "silu"])
def test_other_keras_activations_give_keras_probabilities(tmp_path, activation):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(20, activation=activation), keras.layers.Dense(10)])
    assert_same_answers(saved(model, tmp_path / "model.keras"), random_images())


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_a_convolutional_network_gives_keras_probabilities(tmp_path, padding):
    assert_same_answers(saved(conv_model(padding), tmp_path / "model.keras", seed=5), random_images())


def test_uneven_kernels_and_pooling_give_keras_probabilities(tmp_path):
    assert_same_answers(saved(odd_conv_model(), tmp_path / "model.keras", seed=6), random_images())


def test_chunks_one_image_and_no_image_give_the_same_rows(tmp_path):
    loaded = inference.load_model(saved(conv_model(), tmp_path / "model.keras"))
    images = random_images(50)
    whole = inference.logits(loaded, images)
    chunked = inference.logits(dataclasses.replace(loaded, chunk_size=7), images)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(inference.logits(loaded, images[3:4]), whole[3:4], rtol=0, atol=1e-6)
    assert inference.probabilities(loaded, images[:0]).shape == (0, loaded.outputs)


def test_large_inputs_go_through_in_chunks(tmp_path):
    loaded = inference.load_model(saved(conv_model(), tmp_path / "model.keras"))
    # Each chunk's largest array, here the second convolution's windows (13 x 13 pixels, 3 x 3 x 8 each),
    # stays within CHUNK_BYTES.
    assert loaded.chunk_size == inference.CHUNK_BYTES // (4 * 13 * 13 * 3 * 3 * 8)
    assert inference.load_model(saved(dense_model(), tmp_path / "dense.keras")).chunk_size > 10_000


def test_temperature_divides_the_logits(tmp_path):
    loaded = inference.load_model(saved(dense_model(hidden_units=(16,)), tmp_path / "model.keras"))
    images = random_images(20)
    expected = softmax(inference.logits(loaded, images).astype(np.float64) / 2.5)
    np.testing.assert_allclose(inference.probabilities(loaded, images, temperature=2.5), expected, rtol=1e-12)
    with pytest.raises(UserError, match=r"temperature 0\.0 is not a positive number"):
        inference.probabilities(loaded, images, temperature=0.0)


# --- views: each frame also read a pixel or a few degrees off --------------------------------------

def view(images: np.ndarray, matrix: list[list[float]]) -> np.ndarray:
    return inference.resampled(images.astype(np.float32), *inference.sampling(np.array(matrix, float)))


def test_a_shifted_view_is_the_frame_moved_with_paper_coming_in():
    images = random_images(3)
    down = view(images, [[1, 0, -1], [0, 1, 0]])  # each pixel read from the row above
    np.testing.assert_array_equal(down[:, 1:], images[:, :-1])
    assert not down[:, 0].any()


def test_a_quarter_turn_view_is_the_frame_turned():
    images = random_images(3)
    turned = inference.Views(0, 90.0).maps()[0]
    np.testing.assert_allclose(inference.resampled(images, *turned), np.rot90(images, -1, axes=(1, 2)), atol=1e-5)


def test_the_views_logits_are_averaged_and_no_views_read_the_frame_alone(tmp_path):
    loaded = inference.load_model(saved(dense_model(hidden_units=(16,)), tmp_path / "model.keras"))
    images = random_images(20)
    alone = inference.logits(loaded, images).astype(np.float64)
    np.testing.assert_array_equal(inference.viewed_logits(loaded, images), alone)
    views = inference.Views(1, 8.0)
    seen = [images] + [inference.resampled(images, *maps) for maps in views.maps()]
    assert len(seen) == 7
    expected = np.mean([inference.logits(loaded, x).astype(np.float64) for x in seen], axis=0)
    np.testing.assert_allclose(inference.viewed_logits(loaded, images, views), expected, rtol=1e-6)
    assert not np.allclose(expected, alone, rtol=1e-3)


def test_the_calibration_file_says_how_frames_are_read(tmp_path):
    model = tmp_path / "model.keras"
    path = inference.calibration_path(model)
    path.write_text(json.dumps({"temperature": 1.5, "sure_probability": 0.9, "view_shift_pixels": 1,
                                "view_rotation_degrees": 8.0}))
    assert inference.load_calibration(model) == inference.Calibration(1.5, 0.9, inference.Views(1, 8.0))
    path.write_text(json.dumps({"temperature": 1.5, "sure_probability": 0.9}))  # written by hand
    assert inference.load_calibration(model).views == inference.NO_VIEWS
    path.write_text(json.dumps({"temperature": 1.5, "sure_probability": 0.9, "view_shift_pixels": 40}))
    with pytest.raises(UserError, match=r"views 40 px, 0\.0 degrees out of range; run `dvc repro calibrate`"):
        inference.load_calibration(model)


@pytest.mark.parametrize("damage", [
    {"not_a_digit_probability": 10**400}, {"temperature": 10**400}, {"not_a_digit_probability": True},
    {"sure_probability": "0.9"}, {"view_shift_pixels": 1.9}, {"view_shift_pixels": float("inf")},
    {"not_a_digit_probability": [0.25]}, {"not_a_digit_probability": None}])
def test_a_calibration_value_that_is_not_a_number_in_range_is_one_clear_error(tmp_path, damage):
    model = tmp_path / "model.keras"
    inference.calibration_path(model).write_text(json.dumps({"temperature": 1.5, "sure_probability": 0.9, **damage}))
    with pytest.raises(UserError, match=r"not a calibration file|out of range"):
        inference.load_calibration(model)


def test_a_calibration_file_nested_past_the_recursion_limit_is_one_clear_error(tmp_path):
    model = tmp_path / "model.keras"
    inference.calibration_path(model).write_text('{"temperature": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(UserError, match=r"not a calibration file \(RecursionError\)"):
        inference.load_calibration(model)


def test_the_loaded_weights_are_read_only(tmp_path):
    loaded = inference.load_model(saved(dense_model(hidden_units=(16,)), tmp_path / "model.keras"))
    with pytest.raises(ValueError, match="read-only"):
        loaded.layers[1].kernel[0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.chunk_size = 1


# --- refusals, one line each ----------------------------------------------------------------------

def refusal(path: Path) -> str:
    with pytest.raises(UserError) as caught:
        inference.load_model(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    return message


def rewritten(source: Path, target: Path, replace: dict[str, bytes | None]) -> Path:
    """A copy of the archive `source` with members replaced (or left out, for None)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = replace.get(name, old.read(name))
            if data is not None:
                new.writestr(name, data)
    return target


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    return saved(dense_model(hidden_units=(8,)), tmp_path_factory.mktemp("good") / "model.keras")


def test_a_missing_file_is_refused(tmp_path):
    assert "model file not found; run `dvc repro` to train it" in refusal(tmp_path / "model.keras")


def test_an_empty_or_non_zip_file_is_refused(tmp_path):
    (tmp_path / "empty.keras").write_bytes(b"")
    assert "not a Keras model: an empty file" in refusal(tmp_path / "empty.keras")
    (tmp_path / "text.keras").write_text("not a model\n" * 3)
    assert "not a Keras model: 36 bytes that are not a zip archive" in refusal(tmp_path / "text.keras")


def test_an_archive_without_config_or_weights_is_refused(tmp_path, good_model):
    no_config = rewritten(good_model, tmp_path / "a.keras", {"config.json": None})
    assert "not a Keras model: the archive has no config.json" in refusal(no_config)
    no_weights = rewritten(good_model, tmp_path / "b.keras", {"model.weights.h5": None})
    assert "not a Keras model: the archive has no model.weights.h5" in refusal(no_weights)


def test_a_too_large_archive_is_refused_before_reading_it(good_model, monkeypatch):
    monkeypatch.setattr(inference, "MAX_ARRAY_BYTES", 1000)
    assert "bytes, more than the 1,000 allowed" in refusal(good_model)


def test_damaged_config_or_weights_are_refused(tmp_path, good_model):
    bad_json = rewritten(good_model, tmp_path / "a.keras", {"config.json": b"{not json"})
    assert "cannot load the model (JSONDecodeError" in refusal(bad_json)
    bad_weights = rewritten(good_model, tmp_path / "b.keras", {"model.weights.h5": b"\x89HDF garbage" * 50})
    assert "cannot load the model (" in refusal(bad_weights)


def test_damaged_compressed_bytes_are_refused(tmp_path, good_model):
    data = bytearray(good_model.read_bytes())
    with zipfile.ZipFile(good_model) as archive:
        member = archive.getinfo("model.weights.h5")
    start = member.header_offset + 30 + len(member.filename)  # the local header, then the compressed bytes
    data[start + 100:start + 400] = bytes(300)
    (tmp_path / "model.keras").write_bytes(bytes(data))
    assert "cannot load the model (" in refusal(tmp_path / "model.keras")


def test_weights_of_the_wrong_size_are_refused(tmp_path, good_model):
    other = saved(dense_model(hidden_units=(9,)), tmp_path / "other.keras")
    with zipfile.ZipFile(other) as archive:
        weights = archive.read("model.weights.h5")
    mixed = rewritten(good_model, tmp_path / "mixed.keras", {"model.weights.h5": weights})
    assert "weights file's layers/dense/vars/0 has shape (784, 9), expected (784, 8)" in refusal(mixed)


@pytest.mark.parametrize(("layers", "expected"), [
    ([keras.layers.LayerNormalization()], "has a LayerNormalization layer, which this reader does not know"),
    ([keras.layers.Dense(16, activation="softplus")], "uses the activation softplus, which this reader does not"),
    ([keras.layers.Reshape((28, 28, 1)), keras.layers.Conv2D(4, 3, strides=2)],
     "has strides = (2, 2), which this reader does not support"),
    ([keras.layers.Reshape((28, 28, 1)), keras.layers.Conv2D(4, 3, dilation_rate=2)],
     "has dilation_rate = (2, 2), which this reader does not support"),
])
def test_layers_it_does_not_know_are_refused(tmp_path, layers, expected):
    model = keras.Sequential([keras.Input((28, 28)), *layers, keras.layers.Flatten(), keras.layers.Dense(10)])
    assert expected in refusal(saved(model, tmp_path / "model.keras"))


def test_a_model_of_the_wrong_shape_is_refused(tmp_path):
    flat = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])
    assert "takes inputs of shape (784,), expected (28, 28) images" in refusal(saved(flat, tmp_path / "a.keras"))
    five = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(5)])
    assert "gives outputs of shape (5,), expected 10, one per digit" in refusal(saved(five, tmp_path / "b.keras"))
    per_row = keras.Sequential([keras.Input((28, 28)), keras.layers.Dense(10)])
    assert "gives outputs of shape (28, 10), expected 10" in refusal(saved(per_row, tmp_path / "c.keras"))


def test_a_functional_model_is_refused(tmp_path):
    inputs = keras.Input((28, 28))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    assert "knows only Sequential models" in refusal(saved(model, tmp_path / "model.keras"))


def test_outputs_that_are_not_finite_are_refused(tmp_path):
    model = dense_model(hidden_units=(8,))
    path = saved(model, tmp_path / "model.keras")
    model.layers[-1].set_weights([np.full((8, 11), np.nan, np.float32), np.zeros(11, np.float32)])
    network.write_model(model, path)
    with pytest.raises(UserError, match=r"outputs are not finite numbers \(NaN or infinity\): its training diverged"):
        inference.probabilities(inference.load_model(path), random_images(3))


# --- no TensorFlow --------------------------------------------------------------------------------

def test_reading_digits_imports_neither_tensorflow_nor_keras(good_model):
    script = (
        "import sys, numpy as np\n"
        "from mnist_dvc import inference\n"
        f"loaded = inference.load_model({str(good_model)!r})\n"
        "rows = inference.probabilities(loaded, np.zeros((2, 28, 28), np.float32))\n"
        "assert rows.shape == (2, 11), rows.shape\n"
        "heavy = sorted(name for name in sys.modules if name.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
