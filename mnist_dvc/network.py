"""The network and its training loop: everything that needs TensorFlow, used by the train stage.

Kept apart from stages/train.py so the stage can check its params and data before paying for the
TensorFlow import.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras

from mnist_dvc import params
from mnist_dvc.files import ZIP_EPOCH
from mnist_dvc.mnist import IMAGE_SIZE, NUM_OUTPUTS, split_validation
from mnist_dvc.own import training_copies

# Several steps per call into the compiled graph: per-step Python dispatch dominates an epoch otherwise.
STEPS_PER_EXECUTION = 64


def build_model(config: params.TrainParams) -> keras.Sequential:
    """The dense network: Flatten (784) → Dense(units, activation) [→ Dropout] for each hidden size → Dense(11)
    logits, the ten digits and "not a digit". The conv network puts two small convolution and pooling
    layers (16 and 32 filters of 3x3) before the same hidden Dense layers."""
    layers: list[keras.layers.Layer] = [keras.Input((IMAGE_SIZE, IMAGE_SIZE))]
    if config.architecture == "conv":
        layers += [keras.layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1)),
                   keras.layers.Conv2D(16, 3, activation=config.activation), keras.layers.MaxPooling2D(2),
                   keras.layers.Conv2D(32, 3, activation=config.activation), keras.layers.MaxPooling2D(2)]
    layers.append(keras.layers.Flatten())
    for units in config.hidden_units:
        layers.append(keras.layers.Dense(units, activation=config.activation))
        if config.dropout > 0:
            layers.append(keras.layers.Dropout(config.dropout))
    layers.append(keras.layers.Dense(NUM_OUTPUTS))
    return keras.Sequential(layers, name=f"mnist_{config.architecture}")


def shift_images(images: tf.Tensor, max_shift: int, seed: tf.Tensor) -> tf.Tensor:
    """Move a batch of images by one random whole number of pixels in -max_shift..max_shift per axis.

    One offset per batch, not per image: a slice instead of a gather, so augmentation costs almost
    nothing; batches are reshuffled every epoch, so each image still sees many offsets.
    """
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift]])
    offset = tf.random.stateless_uniform([2], seed, 0, 2 * max_shift + 1, dtype=tf.int32)
    return padded[:, offset[0]:offset[0] + IMAGE_SIZE, offset[1]:offset[1] + IMAGE_SIZE]


def change_stroke_width(images: tf.Tensor, amounts: tf.Tensor) -> tf.Tensor:
    """Thicken (amount > 0) or thin (amount < 0) each image's strokes, amounts in [-1, 1] per image.

    A blend between the image and its grey-scale dilation (or erosion) by a 3x3 cross, i.e. up to one
    pixel more (or less) ink on every edge; 0 leaves the image as it is.
    """
    def dilate(batch: tf.Tensor) -> tf.Tensor:
        return tf.maximum(tf.nn.max_pool2d(batch, (1, 3), 1, "SAME"), tf.nn.max_pool2d(batch, (3, 1), 1, "SAME"))

    # The batch as the channels of one image: pooling is several times faster than over 1-channel images.
    batch = tf.transpose(images, [1, 2, 0])[None]
    thicker = tf.transpose(dilate(batch)[0], [2, 0, 1]) - images
    thinner = tf.transpose(dilate(-batch)[0], [2, 0, 1]) + images
    amounts = tf.reshape(amounts, [-1, 1, 1])
    return images + tf.nn.relu(amounts) * thicker - tf.nn.relu(-amounts) * thinner


def affine_matrices(rotation_degrees: tf.Tensor, scale: tf.Tensor, shear_degrees: tf.Tensor) -> tf.Tensor:
    """Per-image 2x2 matrices on (column, row) coordinates: shear (slant, the top moving right for a
    positive angle), then scale, then rotation (counter-clockwise as displayed for a positive angle)."""
    angle = rotation_degrees * (np.pi / 180)
    cos, sin, ones, zeros = tf.cos(angle), tf.sin(angle), tf.ones_like(angle), tf.zeros_like(angle)
    rotation = tf.reshape(tf.stack([cos, sin, -sin, cos], axis=1), [-1, 2, 2])
    shear = tf.reshape(tf.stack([ones, -tf.tan(shear_degrees * (np.pi / 180)), zeros, ones], axis=1), [-1, 2, 2])
    return rotation @ shear * tf.reshape(scale, [-1, 1, 1])


def sample_bilinear(images: tf.Tensor, columns: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """out[b, i, j] = images[b] read at the real-valued position (rows[b, i, j], columns[b, i, j]),
    interpolated between its four neighbours; positions outside the image read 0 (paper)."""
    height, width = images.shape[1], images.shape[2]
    # A zero border of 3 holds every clipped position and its right and lower neighbours.
    stride = width + 6
    flat = tf.reshape(tf.pad(images, [[0, 0], [3, 3], [3, 3]]), [-1])
    rows, columns = tf.clip_by_value(rows, -2, height + 1), tf.clip_by_value(columns, -2, width + 1)
    top, left = tf.floor(rows), tf.floor(columns)
    down, right = rows - top, columns - left
    image_base = tf.reshape(tf.range(tf.shape(images)[0]) * (height + 6) * stride, [-1, 1, 1])
    index = image_base + (tf.cast(top, tf.int32) + 3) * stride + tf.cast(left, tf.int32) + 3
    top_left, top_right, bottom_left, bottom_right = tf.numpy_function(
        lambda flat, index: four_neighbours(flat, index, stride), [flat, index], [tf.float32] * 4, stateful=False)
    upper = top_left + right * (top_right - top_left)
    lower = bottom_left + right * (bottom_right - bottom_left)
    return tf.ensure_shape(upper + down * (lower - upper), index.shape)


def four_neighbours(flat: np.ndarray, index: np.ndarray, stride: int) -> tuple[np.ndarray, ...]:
    """flat[index] and its right, lower and lower-right neighbours (rows `stride` long). NumPy's take
    does this in a fifth of the processor time of tf.gather, which made up most of an augmented epoch."""
    return tuple(np.take(flat, index + offset) for offset in (0, 1, stride, stride + 1))


def smoothing_matrix(sigma: float, size: int = IMAGE_SIZE) -> np.ndarray:
    """G (size x nodes) such that G @ noise @ G.T turns white noise on a grid of nodes about `sigma`
    pixels apart into a field blurred by a Gaussian of `sigma` pixels. Rows have unit length, so noise
    of variance 1 gives variance 1 at every pixel. The coarse grid draws far fewer random numbers than
    blurring per-pixel noise, for the same smooth field."""
    spacing = max(1, round(sigma))
    nodes = np.arange(-spacing, size + spacing, spacing)
    matrix = np.exp(-0.5 * ((np.arange(size)[:, None] - nodes[None, :]) / sigma) ** 2)
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def elastic_displacements(count: tf.Tensor, pixels: float, sigma: float, seed: tf.Tensor) -> tf.Tensor:
    """(count, 2, 28, 28) smooth random displacements (Simard et al. 2003): random noise blurred by a
    Gaussian of `sigma` pixels, each component with a standard deviation of `pixels` at every pixel."""
    smooth = tf.constant(smoothing_matrix(sigma))
    nodes = smooth.shape[1]
    noise = tf.random.stateless_uniform(tf.stack([count, 2, nodes, nodes]), seed, -3**0.5, 3**0.5)  # variance 1
    return pixels * tf.einsum("ij,bcjk,lk->bcil", smooth, noise, smooth)


def warp_images(images: tf.Tensor, matrices: tf.Tensor, displacements: tf.Tensor | None = None) -> tf.Tensor:
    """Transform each image about its centre by its 2x2 matrix and distort it by per-pixel
    displacements (columns, rows), in one bilinear resampling."""
    centre = (IMAGE_SIZE - 1) / 2
    rows, columns = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE].astype(np.float32) - centre
    x, y = columns[None], rows[None]
    if displacements is not None:
        x, y = x + displacements[:, 0], y + displacements[:, 1]
    # Each output pixel reads the source at inverse(matrix) @ (its position + its displacement).
    inverse = tf.reshape(tf.linalg.inv(matrices), [-1, 4, 1, 1])
    return sample_bilinear(images, inverse[:, 0] * x + inverse[:, 1] * y + centre,
                           inverse[:, 2] * x + inverse[:, 3] * y + centre)


def augmenting(config: params.TrainParams) -> bool:
    return any(getattr(config, key) for key in params.AUGMENTATIONS)


def warping(config: params.TrainParams) -> bool:
    return any((config.augment_rotation_degrees, config.augment_scale, config.augment_shear_degrees,
                config.augment_elastic_pixels))


def augment_batch(images: tf.Tensor, config: params.TrainParams, seed: tf.Tensor) -> tf.Tensor:
    """Random stroke width, affine transform and elastic distortion per image, then the batch shift;
    each only when its param is not 0, and each drawn from `seed` alone (stateless)."""
    count = tf.shape(images)[0]

    def uniform(stream: int, limit: float) -> tf.Tensor:
        return tf.random.stateless_uniform([count], tf.random.experimental.stateless_fold_in(seed, stream),
                                           -limit, limit)

    if config.augment_thickness:
        images = change_stroke_width(images, uniform(1, config.augment_thickness))
    if warping(config):
        matrices = affine_matrices(uniform(2, config.augment_rotation_degrees), 1 + uniform(3, config.augment_scale),
                                   uniform(4, config.augment_shear_degrees))
        displacements = None
        if config.augment_elastic_pixels:
            displacements = elastic_displacements(count, config.augment_elastic_pixels, config.augment_elastic_sigma,
                                                  tf.random.experimental.stateless_fold_in(seed, 5))
        images = warp_images(images, matrices, displacements)
    if config.augment_shift_pixels:
        images = shift_images(images, config.augment_shift_pixels, seed)
    return images


def make_dataset(images: np.ndarray, labels: np.ndarray, config: params.TrainParams, training: bool) -> tf.data.Dataset:
    """Batches of (images, one-hot labels); for training, reshuffled every epoch and optionally augmented.

    Shuffling indices and gathering whole batches is several times faster than shuffling single images.
    """
    images = tf.constant(images)
    one_hot = tf.constant(np.eye(NUM_OUTPUTS, dtype=np.float32)[labels])
    indices = tf.data.Dataset.range(len(labels))
    if training:
        indices = indices.shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True)
    dataset = indices.batch(config.batch_size).map(
        lambda batch: (tf.gather(images, batch), tf.gather(one_hot, batch)),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training and augmenting(config):
        seeds = tf.data.Dataset.random(seed=config.seed).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda batch, seed: (augment_batch(batch[0], config, seed), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # tf.data's autotuning made about a third of the augmented epochs run on one core, 1.7 times slower
    # (2-core CPU); with it off, AUTOTUNE stands for a fixed parallelism and every epoch overlaps.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def make_optimizer(config: params.TrainParams, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
    }
    return optimizers[config.optimizer](learning_rate=learning_rate)


def train(
    arrays: dict[str, np.ndarray], config: params.TrainParams, extra_callbacks: tuple = (),
    own: tuple[np.ndarray, np.ndarray] | None = None, photo_frames: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[keras.Sequential, dict[str, list[float]], dict[str, float]]:
    """Fit on the training split, validating on the held-out part. `own` (images 0..1, labels), if given
    and not empty, is mixed into the training part: repeated and distorted to make up
    `own_data_fraction` of it; `photo_frames` (the photo path's frames of training photos, digits and
    "not a digit") likewise make up `photo_frames_fraction` of it.

    Returns the model, its per-epoch history and its final validation loss and accuracy (the restored
    best weights' when early stopping restored them).
    """
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    train_idx, val_idx = split_validation(len(arrays["y_train"]), config.validation_fraction, config.seed)
    x, y = arrays["x_train"], arrays["y_train"]
    x_fit, y_fit = x[train_idx], y[train_idx]
    for extra, fraction in ((own, config.own_data_fraction), (photo_frames, config.photo_frames_fraction)):
        if extra is not None and len(extra[1]):
            x_extra, y_extra = training_copies(*extra, len(train_idx), fraction, config.seed)
            x_fit, y_fit = np.concatenate([x_fit, x_extra]), np.concatenate([y_fit, y_extra])
    train_data = make_dataset(x_fit, y_fit, config, training=True)
    val_data = make_dataset(x[val_idx], y[val_idx], config, training=False)

    model = build_model(config)
    steps_per_epoch = -(-len(y_fit) // config.batch_size)
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        # XLA is off: Keras disables it under deterministic ops anyway, and it was no faster here.
        jit_compile=False,
        steps_per_execution=min(STEPS_PER_EXECUTION, steps_per_epoch),
    )
    callbacks = list(extra_callbacks)
    if config.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True))
    fit = model.fit(train_data, validation_data=val_data, epochs=config.epochs, callbacks=callbacks, verbose=2,
                    shuffle=False)  # the dataset reshuffles itself every epoch
    validation = model.evaluate(val_data, verbose=0, return_dict=True)
    return model, fit.history, validation


def renumber_shared_objects(node: object, numbers: dict[int, int]) -> object:
    """Replace Keras' memory-address shared_object_ids by 1, 2, ... in order of first appearance."""
    if isinstance(node, dict):
        return {key: numbers.setdefault(value, len(numbers) + 1) if key == "shared_object_id"
                else renumber_shared_objects(value, numbers) for key, value in node.items()}
    if isinstance(node, list):
        return [renumber_shared_objects(item, numbers) for item in node]
    return node


def write_model(model: keras.Model, path: Path) -> None:
    """Write the .keras archive to `path`, then rewrite what varies from run to run (the save time,
    object addresses, zip timestamps) so that equal weights give byte-identical files."""
    staged = path.with_name(path.name + ".keras")  # Keras insists on the suffix
    try:
        model.save(staged)
        with zipfile.ZipFile(staged) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
            for name in sorted(source.namelist()):
                data = source.read(name)
                if name == "metadata.json":
                    metadata = json.loads(data)
                    metadata.pop("date_saved", None)
                    data = json.dumps(metadata).encode()
                elif name == "config.json":
                    data = json.dumps(renumber_shared_objects(json.loads(data), {})).encode()
                target.writestr(zipfile.ZipInfo(name, date_time=ZIP_EPOCH), data, zipfile.ZIP_DEFLATED)
    finally:
        staged.unlink(missing_ok=True)
