"""The train stage and its network: layers from params, the validation split, augmentation, saving."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mnist_dvc import network, params
from mnist_dvc.errors import UserError
from mnist_dvc.files import file_digest
from stages import train
from tests.conftest import run
from tests.helpers.params import section


def train_params(**overrides) -> params.TrainParams:
    return section("train", **overrides)


def test_the_default_network_is_784_128_128_with_ten_digits_and_not_a_digit():
    model = network.build_model(train_params(hidden_units=(128, 128), dropout=0.0))
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [layer.units for layer in dense] == [128, 128, 11]
    assert [layer.get_config()["activation"] for layer in dense] == ["relu", "relu", "linear"]
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 11)
    assert model.count_params() == 784 * 128 + 128 + 128 * 128 + 128 + 128 * 11 + 11


@pytest.mark.parametrize("hidden_units", [(128, 128), (64,), (300, 100, 50)])
def test_the_weight_limit_counts_the_dense_networks_parameters(hidden_units):
    model = network.build_model(train_params(hidden_units=hidden_units, dropout=0.0))
    assert params.weight_count(hidden_units) == model.count_params()


def test_the_conv_architecture_is_small():
    model = network.build_model(train_params(architecture="conv", hidden_units=(128,), dropout=0.0))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:5] == ["Reshape", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D"]
    assert model.output_shape == (None, 11)
    assert model.count_params() <= 200_000


def test_layer_sizes_activation_and_dropout_come_from_params():
    model = network.build_model(train_params(hidden_units=(32, 16, 8), activation="tanh", dropout=0.3))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [32, 16, 8, 11]
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


def test_a_model_saved_twice_gives_identical_bytes_and_reads_as_keras_runs_it(tmp_path):
    from mnist_dvc import inference

    model = network.build_model(train_params(hidden_units=(8,)))
    network.write_model(model, tmp_path / "a.keras")
    network.write_model(model, tmp_path / "b.keras")
    assert file_digest(tmp_path / "a.keras") == file_digest(tmp_path / "b.keras")
    loaded = inference.load_model(tmp_path / "a.keras")
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(inference.logits(loaded, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def bar_image(rows: slice, columns: slice) -> np.ndarray:
    image = np.zeros((1, 28, 28), np.float32)
    image[0, rows, columns] = 1.0
    return image


def ink_centre(image: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((columns * image).sum() / image.sum())


def test_stroke_width_thickens_thins_or_keeps_a_stroke():
    import tensorflow as tf

    bar = bar_image(slice(6, 22), slice(12, 16))  # 4 pixels wide, 16 high
    width = {amount: network.change_stroke_width(tf.constant(bar), tf.constant([amount])).numpy()
             for amount in (-1.0, -0.5, 0.0, 0.5, 1.0)}
    np.testing.assert_array_equal(width[0.0], bar)
    assert width[1.0][0, 14].tolist().count(1.0) == 6, "one more pixel of ink on each side"
    assert width[1.0].sum() == 6 * 16 + 2 * 4, "and above and below"
    assert width[-1.0][0, 14].tolist().count(1.0) == 2 and width[-1.0].sum() == 2 * 14
    np.testing.assert_allclose(width[0.5], (bar + width[1.0]) / 2)
    np.testing.assert_allclose(width[-0.5], (bar + width[-1.0]) / 2)


def test_affine_rotation_scale_and_shear_move_ink_as_documented():
    import tensorflow as tf

    def warp(image: np.ndarray, rotation: float = 0.0, scale: float = 1.0, shear: float = 0.0) -> np.ndarray:
        matrices = network.affine_matrices(*(tf.constant([float(value)]) for value in (rotation, scale, shear)))
        return network.warp_images(tf.constant(image), matrices).numpy()[0]

    dot = bar_image(slice(13, 15), slice(19, 21))  # 6 pixels right of the centre (13.5, 13.5)
    np.testing.assert_array_equal(warp(dot), dot[0])
    assert ink_centre(warp(dot, rotation=90)) == pytest.approx((7.5, 13.5), abs=1e-4), "counter-clockwise: up"
    assert ink_centre(warp(dot, rotation=-90)) == pytest.approx((19.5, 13.5), abs=1e-4)
    assert ink_centre(warp(dot, scale=1.5)) == pytest.approx((13.5, 22.5), abs=0.05)
    assert warp(dot, scale=1.5).sum() == pytest.approx(dot.sum() * 1.5**2, rel=0.05)
    slanted = warp(bar_image(slice(4, 24), slice(13, 15)), shear=20)
    top, bottom = ink_centre(slanted[:14]), ink_centre(slanted[14:])
    assert top[1] - bottom[1] == pytest.approx(10 * np.tan(np.radians(20)), abs=0.1), "the top leans right"


def test_bilinear_sampling_matches_scipy_inside_at_the_edges_and_beyond_them():
    import tensorflow as tf
    from scipy import ndimage

    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28), dtype=np.float32)
    # whole and half pixels, every edge, and positions far outside (clipped: they read paper)
    rows = rng.uniform(-6, 34, (3, 28, 28)).astype(np.float32)
    columns = rng.uniform(-6, 34, (3, 28, 28)).astype(np.float32)
    rows[:, 0, :4], columns[:, 0, :4] = [-1, 0, 27, 28], [28, 27, 0, -1]
    rows[:, 1, :3], columns[:, 1, :3] = [13.5, 26.5, -0.5], [0.5, 27.5, 13.0]
    sampled = network.sample_bilinear(tf.constant(images), tf.constant(columns), tf.constant(rows)).numpy()
    expected = np.stack([ndimage.map_coordinates(image, [r, c], order=1, mode="grid-constant", cval=0.0)
                         for image, r, c in zip(images, rows, columns, strict=True)])
    np.testing.assert_allclose(sampled, expected, atol=1e-5)


def test_elastic_displacements_are_smooth_with_the_asked_size():
    import tensorflow as tf

    field = network.elastic_displacements(tf.constant(400), 1.5, 4.0, tf.constant([3, 4], tf.int64)).numpy()
    assert field.shape == (400, 2, 28, 28)
    assert field.std(axis=0).mean() == pytest.approx(1.5, rel=0.1)
    assert np.abs(field.std(axis=0) - 1.5).max() < 0.3, "as large at the edges as in the middle"
    neighbours = np.corrcoef(field[:, 0, :, :-1].ravel(), field[:, 0, :, 1:].ravel())[0, 1]
    far = np.corrcoef(field[:, 0, :, :-14].ravel(), field[:, 0, :, 14:].ravel())[0, 1]
    assert neighbours > 0.9 and far < 0.1


def test_elastic_distortion_moves_ink_locally_and_keeps_most_of_it():
    import tensorflow as tf

    bar = bar_image(slice(4, 24), slice(12, 16))
    identity = network.affine_matrices(tf.zeros([1]), tf.ones([1]), tf.zeros([1]))
    np.testing.assert_array_equal(network.warp_images(tf.constant(bar), identity, tf.zeros([1, 2, 28, 28])), bar)
    field = network.elastic_displacements(tf.constant(1), 2.0, 4.0, tf.constant([5, 6], tf.int64))
    bent = network.warp_images(tf.constant(bar), identity, field).numpy()
    assert not np.allclose(bent, bar)
    assert bent.sum() == pytest.approx(bar.sum(), rel=0.5)
    near_the_bar = np.zeros_like(bar, bool)
    near_the_bar[0, :, 12 - 8:16 + 8] = True
    assert bent[~near_the_bar].sum() == 0, "no ink moved farther than 4 standard deviations"


AUGMENTATIONS = {"augment_shift_pixels": 2, "augment_rotation_degrees": 15.0, "augment_scale": 0.15,
                 "augment_shear_degrees": 15.0, "augment_thickness": 0.5, "augment_elastic_pixels": 1.5}


def test_augmentation_off_is_the_identity_and_each_param_changes_the_batch():
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(0).random((8, 28, 28), dtype=np.float32))
    seed = tf.constant([1, 2], tf.int64)
    assert set(AUGMENTATIONS) == set(params.AUGMENTATIONS)
    off = train_params(**dict.fromkeys(params.AUGMENTATIONS, 0))
    assert not network.augmenting(off)
    np.testing.assert_array_equal(network.augment_batch(images, off, seed), images)
    for key, value in AUGMENTATIONS.items():
        changed = network.augment_batch(images, dataclasses.replace(off, **{key: value}), seed).numpy()
        assert changed.shape == images.shape
        assert not np.allclose(changed, images), key


def test_augmentation_is_the_same_for_the_same_seed_and_differs_between_seeds():
    import tensorflow as tf

    images = tf.constant(np.random.default_rng(0).random((8, 28, 28), dtype=np.float32))
    config = train_params(**AUGMENTATIONS)
    first = network.augment_batch(images, config, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(network.augment_batch(images, config, tf.constant([1, 2], tf.int64)), first)
    assert not np.allclose(network.augment_batch(images, config, tf.constant([1, 3], tf.int64)), first)
    per_image = [not np.allclose(augmented, image) for augmented, image in zip(first, images.numpy(), strict=True)]
    assert all(per_image)


def test_training_with_augmentation_gives_identical_weights_twice(small_arrays):
    arrays = {key: value.astype(np.float32) / 255 if key.startswith("x") else value
              for key, value in small_arrays.items()}
    config = train_params(hidden_units=(16,), epochs=2, batch_size=64, **AUGMENTATIONS)
    weights = [network.train(arrays, config)[0].get_weights() for _ in range(2)]
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)


def test_datasets_run_with_tf_data_autotuning_off_and_deliver_every_example_once(small_arrays):
    """Autotuning off (it serialised a third of the epochs onto one core); the data are unchanged."""
    images = small_arrays["x_train"][:300].astype(np.float32) / 255
    labels = small_arrays["y_train"][:300]
    for training in (True, False):
        dataset = network.make_dataset(images, labels, train_params(**AUGMENTATIONS), training=training)
        assert dataset.options().autotune.enabled is False
        delivered = np.concatenate([one_hot.numpy().argmax(axis=1) for _, one_hot in dataset])
        np.testing.assert_array_equal(np.sort(delivered), np.sort(labels))


def test_a_git_repository_with_no_commit_is_one_clear_error_for_dvclive(tmp_path, monkeypatch):
    run(["git", "init", "-q"], cwd=tmp_path)
    (tmp_path / ".dvc").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"commit once \(git add -A && git commit\)"):
        train.open_live()
