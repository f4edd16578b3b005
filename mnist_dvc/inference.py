"""The trained network: loaded from models/model.keras and run on 28x28 frames."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from mnist_dvc.errors import UserError, one_line
from mnist_dvc.files import MAX_ARRAY_BYTES, check_file
from mnist_dvc.mnist import IMAGE_SIZE, NUM_CLASSES


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities from the model's 10 logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def load_model(path: str | os.PathLike[str]):
    """Load a .keras model in Keras' safe mode (no code from the file); UserError if missing, damaged,
    or not a model of 28 x 28 images to 10 digits.

    TensorFlow is imported here, on first use, so that importing this module stays light.
    """
    model_path = check_file(path, "model file", "; run `dvc repro` to train it")
    try:
        with zipfile.ZipFile(model_path) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as error:
        size = model_path.stat().st_size
        what = "an empty file" if size == 0 else f"{size:,} bytes that are not a zip archive ({error})"
        raise UserError(f"{model_path}: not a Keras model: {what}; run `dvc repro` to train it") from None
    if "config.json" not in names:
        raise UserError(f"{model_path}: not a Keras model: the archive has no config.json")
    if unpacked > MAX_ARRAY_BYTES:
        raise UserError(f"{model_path}: unpacks to {unpacked:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed")
    from tensorflow import keras

    try:
        model = keras.models.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # a damaged archive surfaces as many different exception types
        reason = one_line(str(error), 200)
        raise UserError(f"{model_path}: cannot load the model ({type(error).__name__}: {reason})") from None
    check_model_shape(model_path, model)
    return model


def check_model_shape(path: Path, model) -> None:
    """Refuse a model that does not take (n, 28, 28) images and give 10 numbers per image."""
    try:
        inputs, outputs = model.input_shape, model.output_shape
    except (AttributeError, ValueError):
        raise UserError(f"{path}: the model has no defined input or output shape") from None
    expected_in, expected_out = (None, IMAGE_SIZE, IMAGE_SIZE), (None, NUM_CLASSES)
    if not isinstance(inputs, tuple) or tuple(inputs) != expected_in:
        raise UserError(f"{path}: the model takes inputs of shape {_shape(inputs)}, expected (28, 28) images")
    if not isinstance(outputs, tuple) or tuple(outputs) != expected_out:
        raise UserError(f"{path}: the model gives outputs of shape {_shape(outputs)}, expected 10, one per digit")


def _shape(shape) -> str:
    if isinstance(shape, tuple):
        return str(tuple(shape[1:]))
    return f"{len(shape)} tensors" if isinstance(shape, list) else one_line(str(shape), 80)


def probabilities(model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Softmax probabilities (float64, one row per image) from a loaded model, for images scaled to 0..1.

    A direct call for small batches: Keras' predict() costs tens of milliseconds of set-up per call.
    """
    if len(images) > batch_size:
        logits = model.predict(images, batch_size=batch_size, verbose=0)
    else:
        logits = np.asarray(model(images, training=False))
    if not np.isfinite(logits).all():
        raise UserError("the model's outputs are not finite numbers (NaN or infinity): its training diverged; "
                        "train it again with a smaller train.learning_rate")
    return softmax(logits.astype(np.float64))
