"""The train stage and its network: layers from params, the validation split, augmentation, saving."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mnist_dvc import network, params
from mnist_dvc.common import file_digest
from stages import train


def train_params(**overrides) -> params.TrainParams:
    return dataclasses.replace(params.TrainParams(), **overrides)


def test_the_default_network_is_784_128_128_10_with_ten_logits():
    model = network.build_model(train_params(hidden_units=(128, 128), dropout=0.0))
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [layer.units for layer in dense] == [128, 128, 10]
    assert [layer.get_config()["activation"] for layer in dense] == ["relu", "relu", "linear"]
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert model.count_params() == 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10


def test_layer_sizes_activation_and_dropout_come_from_params():
    model = network.build_model(train_params(hidden_units=(32, 16, 8), activation="tanh", dropout=0.3))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [32, 16, 8, 10]
    assert model.layers[1].get_config()["activation"] == "tanh"
    assert model.layers[2].rate == pytest.approx(0.3)


def test_validation_split_is_seeded_disjoint_and_complete():
    train_idx, val_idx = network.split_validation(100, 0.2, seed=7)
    assert len(val_idx) == 20 and len(train_idx) == 80
    assert sorted(np.concatenate([train_idx, val_idx]).tolist()) == list(range(100))
    again = network.split_validation(100, 0.2, seed=7)
    np.testing.assert_array_equal(again[1], val_idx)
    assert not np.array_equal(network.split_validation(100, 0.2, seed=8)[1], val_idx)


def test_shifting_moves_a_batch_by_at_most_the_limit_and_keeps_the_shape():
    import tensorflow as tf

    images = np.zeros((4, 28, 28), np.float32)
    images[:, 14, 14] = 1.0
    positions = set()
    for seed in range(40):
        shifted = network.shift_images(tf.constant(images), 2, tf.constant([seed, 0])).numpy()
        assert shifted.shape == images.shape
        assert np.all(shifted.reshape(4, -1).sum(axis=1) == 1.0)
        spots = {tuple(np.argwhere(image)[0]) for image in shifted}
        assert len(spots) == 1, "one offset per batch"
        positions |= spots
    assert all(12 <= row <= 16 and 12 <= col <= 16 for row, col in positions)
    assert len(positions) > 10


def test_shared_object_ids_are_renumbered_consistently():
    config = {"a": {"shared_object_id": 987}, "b": [{"shared_object_id": 123}, {"shared_object_id": 987}]}
    assert network.renumber_shared_objects(config, {}) == {
        "a": {"shared_object_id": 1}, "b": [{"shared_object_id": 2}, {"shared_object_id": 1}]}


def test_a_model_saved_twice_gives_identical_bytes_and_loads_in_safe_mode(tmp_path):
    from mnist_dvc.common import load_model

    model = network.build_model(train_params(hidden_units=(8,)))
    network.save_model(model, tmp_path / "a.keras")
    network.save_model(model, tmp_path / "b.keras")
    assert file_digest(tmp_path / "a.keras") == file_digest(tmp_path / "b.keras")
    loaded = load_model(tmp_path / "a.keras")
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_history_csv_has_one_row_per_epoch():
    history = {"loss": [0.5, 0.25], "accuracy": [0.8, 0.9], "val_loss": [0.4, 0.3], "val_accuracy": [0.85, 0.95]}
    assert train.history_csv(history) == (
        "epoch,loss,accuracy,val_loss,val_accuracy\n1,0.500000,0.800000,0.400000,0.850000\n"
        "2,0.250000,0.900000,0.300000,0.950000\n")
