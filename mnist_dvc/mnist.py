"""MNIST's shape and its checks: 28x28 images of 10 digits, the splits, the pixel scaling."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

from mnist_dvc.errors import UserError
from mnist_dvc.files import load_npz

IMAGE_SIZE = 28
NUM_CLASSES = 10  # the digits 0-9
# The network's outputs: the ten digits and an eleventh, "not a digit" (letters, marks, printed lines),
# which is also the label of the frames that are not digits.
NOT_A_DIGIT = NUM_CLASSES
NUM_OUTPUTS = NUM_CLASSES + 1
SPLITS = ("train", "test")


def check_images(path: str | os.PathLike[str], name: str, images: np.ndarray, dtype: str) -> None:
    """Refuse image arrays that are not (n, 28, 28) of the expected dtype."""
    expected = (IMAGE_SIZE, IMAGE_SIZE)
    if images.ndim != 3 or images.shape[1:] != expected or images.shape[0] == 0:
        raise UserError(f"{path}: {name} has shape {images.shape}, expected (n, 28, 28) with n > 0")
    if images.dtype != np.dtype(dtype):
        raise UserError(f"{path}: {name} has dtype {images.dtype}, expected {dtype}")


def check_labels(path: str | os.PathLike[str], name: str, labels: np.ndarray, count: int) -> None:
    """Refuse labels that are not `count` integers in 0..9."""
    if labels.ndim != 1 or labels.shape[0] != count:
        raise UserError(f"{path}: {name} has shape {labels.shape}, expected ({count},) to match the images")
    if labels.dtype != np.uint8:
        raise UserError(f"{path}: {name} has dtype {labels.dtype}, expected uint8")
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise UserError(f"{path}: {name} has labels outside 0-9 (max {int(labels.max())})")


MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def check_shapes(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], pixel_dtype: str, splits: tuple[str, ...] = SPLITS
) -> None:
    """Refuse MNIST arrays whose images are not (n, 28, 28) of `pixel_dtype` with n uint8 labels in 0..9."""
    for split in splits:
        images = arrays[f"x_{split}"]
        check_images(path, f"x_{split}", images, pixel_dtype)
        check_labels(path, f"y_{split}", arrays[f"y_{split}"], images.shape[0])


def load_mnist(
    path: str | os.PathLike[str], normalized: bool, splits: tuple[str, ...] = SPLITS
) -> dict[str, np.ndarray]:
    """Load and check the given splits of an MNIST .npz: raw (uint8, 0..255) or normalized (float32, 0..1)."""
    arrays = load_npz(path, tuple(f"{kind}_{split}" for split in splits for kind in ("x", "y")))
    check_shapes(path, arrays, "float32" if normalized else "uint8", splits)
    for split in splits:
        images = arrays[f"x_{split}"]
        low, high = float(images.min()), float(images.max())  # NaN propagates into both
        if not (math.isfinite(low) and math.isfinite(high)):
            raise UserError(f"{path}: x_{split} has pixels that are not finite numbers (NaN or infinity)")
        if normalized and (low < 0 or high > 1):
            raise UserError(f"{path}: x_{split} pixels span {low:g}..{high:g}, expected 0..1: was it normalized?")
        if not normalized and high <= 1:
            raise UserError(f"{path}: x_{split} pixels span {low:g}..{high:g}, expected 0..255: already normalized?")
    return arrays


def split_validation(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of 0..count-1 cut into (train indices, validation indices): the train stage's
    split, which the photo benchmark and benchmarks/robustness.py also draw validation digits from."""
    order = np.random.default_rng(seed).permutation(count)
    held_out = max(1, round(count * fraction))
    if held_out >= count:
        raise UserError(f"train.validation_fraction = {fraction} leaves none of the {count} images for training")
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """Map 0..255 pixel values to float32 0..1 (÷ 255): the one scaling training and prediction share."""
    return np.divide(images, np.float32(255), dtype=np.float32)
