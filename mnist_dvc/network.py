"""The network and its training loop: everything that needs TensorFlow, used by the train stage.

Kept apart from stages/train.py so the stage can check its params and data before paying for the
TensorFlow import.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from tensorflow import keras

from mnist_dvc import params
from mnist_dvc.common import IMAGE_SIZE, NUM_CLASSES, ZIP_EPOCH, UserError, atomic_path

# Several steps per call into the compiled graph: per-step Python dispatch dominates an epoch otherwise.
STEPS_PER_EXECUTION = 64


def build_model(config: params.TrainParams) -> keras.Sequential:
    """Flatten (784) → Dense(units, activation) [→ Dropout] for each hidden size → Dense(10) logits."""
    layers: list[keras.layers.Layer] = [keras.Input((IMAGE_SIZE, IMAGE_SIZE)), keras.layers.Flatten()]
    for units in config.hidden_units:
        layers.append(keras.layers.Dense(units, activation=config.activation))
        if config.dropout > 0:
            layers.append(keras.layers.Dropout(config.dropout))
    layers.append(keras.layers.Dense(NUM_CLASSES))
    return keras.Sequential(layers, name="mnist_mlp")


def split_validation(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of 0..count-1 cut into (train indices, validation indices)."""
    order = np.random.default_rng(seed).permutation(count)
    held_out = max(1, round(count * fraction))
    if held_out >= count:
        raise UserError(f"train.validation_fraction = {fraction} leaves none of the {count} images for training")
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def shift_images(images: tf.Tensor, max_shift: int, seed: tf.Tensor) -> tf.Tensor:
    """Move a batch of images by one random whole number of pixels in -max_shift..max_shift per axis.

    One offset per batch, not per image: a slice instead of a gather, so augmentation costs almost
    nothing; batches are reshuffled every epoch, so each image still sees many offsets.
    """
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift]])
    offset = tf.random.stateless_uniform([2], seed, 0, 2 * max_shift + 1, dtype=tf.int32)
    return padded[:, offset[0]:offset[0] + IMAGE_SIZE, offset[1]:offset[1] + IMAGE_SIZE]


def make_dataset(images: np.ndarray, labels: np.ndarray, config: params.TrainParams, training: bool) -> tf.data.Dataset:
    """Batches of (images, one-hot labels); for training, reshuffled every epoch and optionally shifted.

    Shuffling indices and gathering whole batches is several times faster than shuffling single images.
    """
    images = tf.constant(images)
    one_hot = tf.constant(np.eye(NUM_CLASSES, dtype=np.float32)[labels])
    indices = tf.data.Dataset.range(len(labels))
    if training:
        indices = indices.shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True)
    dataset = indices.batch(config.batch_size).map(
        lambda batch: (tf.gather(images, batch), tf.gather(one_hot, batch)),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training and config.augment_shift_pixels:
        seeds = tf.data.Dataset.random(seed=config.seed).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda batch, seed: (shift_images(batch[0], config.augment_shift_pixels, seed), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


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
    arrays: dict[str, np.ndarray], config: params.TrainParams, extra_callbacks: tuple = ()
) -> tuple[keras.Sequential, dict[str, list[float]], dict[str, float]]:
    """Fit on the training split, validating on the held-out part.

    Returns the model, its per-epoch history and its final validation loss and accuracy (the restored
    best weights' when early stopping restored them).
    """
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    train_idx, val_idx = split_validation(len(arrays["y_train"]), config.validation_fraction, config.seed)
    x, y = arrays["x_train"], arrays["y_train"]
    train_data = make_dataset(x[train_idx], y[train_idx], config, training=True)
    val_data = make_dataset(x[val_idx], y[val_idx], config, training=False)

    model = build_model(config)
    steps_per_epoch = -(-len(train_idx) // config.batch_size)
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


def save_model(model: keras.Model, path: Path) -> None:
    """Save the .keras archive, then rewrite what varies from run to run (the save time, object
    addresses, zip timestamps) so that equal weights give byte-identical files."""
    with atomic_path(path) as tmp:
        staged = tmp.with_name(tmp.name + ".keras")
        try:
            model.save(staged)
            with zipfile.ZipFile(staged) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
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
