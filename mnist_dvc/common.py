"""Helpers shared by every stage: user-facing errors, atomic writes, npz I/O, checksums.

Nothing here imports TensorFlow, so stages that only move arrays stay light.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import numpy as np

# A fixed timestamp for every zip member, so the same arrays always give the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
IMAGE_SIZE = 28
NUM_CLASSES = 10
SPLITS = ("train", "test")


class UserError(Exception):
    """A mistake the user can fix (bad params, bad data, bad image): reported in one line."""


def fail(message: str) -> NoReturn:
    """Print one readable line to stderr and exit non-zero, without a traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)


def run_main(main: Callable[[], None]) -> None:
    """Run a stage's main(), turning a UserError into one line and exit status 1."""
    try:
        main()
    except UserError as error:
        fail(str(error))
    except KeyboardInterrupt:
        print("interrupted: outputs were left as they were", file=sys.stderr)
        raise SystemExit(130) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    A stage killed at any moment leaves either the previous file or none, never a half-written one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_csv_atomic(path: str | os.PathLike[str], header: Iterable[str], rows: Iterable[Iterable]) -> None:
    """Write a header and rows with the csv module (quoting whatever needs it), "\n" line ends."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed .npz with fixed member timestamps and key order.

    np.savez stamps each member with the current time; this does not, so equal arrays give
    byte-identical files and DVC sees no change. Stored, not deflated: reading is faster and the
    DVC cache deduplicates anyway.
    """
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)


def load_npz(path: str | os.PathLike[str], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays from an .npz with pickles disallowed; UserError on anything wrong."""
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: file not found")
    try:
        with np.load(source, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise UserError(
                    f"{source}: missing array(s) {', '.join(missing)} (has: {', '.join(archive.files) or 'none'})"
                )
            return {key: archive[key] for key in keys}
    except UserError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise UserError(f"{source}: not a readable .npz archive ({error})") from None


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def bytes_digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-ordered bytes: the same content, the same digest."""
    hasher = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()


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
        low, high = float(images.min()), float(images.max())
        if normalized and (low < 0 or high > 1):
            raise UserError(f"{path}: x_{split} pixels span {low:g}..{high:g}, expected 0..1: was it normalized?")
        if not normalized and high <= 1:
            raise UserError(f"{path}: x_{split} pixels span {low:g}..{high:g}, expected 0..255: already normalized?")
    return arrays


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """Map 0..255 pixel values to float32 0..1 (÷ 255): the one scaling training and prediction share."""
    return np.divide(images, np.float32(255), dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities from the model's 10 logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def load_model(path: str | os.PathLike[str]):
    """Load a .keras model in Keras' safe mode (no code from the file); UserError if missing or damaged.

    TensorFlow is imported here, on first use, so that importing this module stays light.
    """
    model_path = Path(path)
    if not model_path.is_file():
        raise UserError(f"{model_path}: model file not found; run `dvc repro` to train it")
    from tensorflow import keras

    try:
        return keras.models.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # a damaged archive surfaces as many different exception types
        raise UserError(f"{model_path}: cannot load the model ({type(error).__name__}: {error})") from None


def class_probabilities(model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Softmax probabilities (float64, one row per image) from a loaded model, for images scaled to 0..1.

    A direct call for small batches: Keras' predict() costs tens of milliseconds of set-up per call.
    """
    if len(images) > batch_size:
        logits = model.predict(images, batch_size=batch_size, verbose=0)
    else:
        logits = np.asarray(model(images, training=False))
    return softmax(logits.astype(np.float64))
