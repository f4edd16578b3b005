"""Your own handwriting as data: labelled samples in data/own/<digit>/, their held-out share, and the
repeated, slightly distorted copies that training mixes in.

Layout: `data/own/<digit>/<name>.<image>` is a labelled sample (folders 0-9); an image directly in
`data/own/` is unlabelled and only classified. A sample is named by the sha256 of its bytes, so the same
image is never stored twice. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from mnist_dvc.errors import UserError
from mnist_dvc.files import bytes_digest, load_npz, write_bytes_atomic, write_error
from mnist_dvc.mnist import IMAGE_SIZE, NUM_CLASSES, check_labels
from mnist_dvc.paths import OWN
from mnist_dvc.photo import IMAGE_SUFFIXES

DIGITS = tuple(str(digit) for digit in range(NUM_CLASSES))
OWN_README = """\
Your own handwritten digits.

- data/own/<digit>/<name>.png (folders 0-9): labelled samples. `dvc repro` scores the model on a held-out
  share of them (reports/own_metrics.json) and, when params.yaml train.own_data_fraction > 0, trains on the rest.
  Add them with `python -m mnist_dvc collect SHEET --labels 0123456789` or the web app's "this should be a" row.
- data/own/<name>.png: unlabelled images, classified by the classify_own stage (reports/own_digits.csv).

The folder is a DVC-tracked output (stage own_data): `dvc push` sends your samples, `dvc pull` brings them back.
"""


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def labelled_samples(root: Path = OWN) -> list[tuple[Path, int]]:
    """Every labelled sample under `root` as (path, digit), by digit then file name."""
    samples = []
    for name in DIGITS:
        folder = root / name
        if folder.is_dir():
            samples += [(path, int(name)) for path in sorted(folder.iterdir()) if is_image(path)]
    return samples


def sample_counts(root: Path = OWN) -> dict[int, int]:
    """How many labelled samples each digit has (every digit listed, 0 when none)."""
    counts = dict.fromkeys(range(NUM_CLASSES), 0)
    for _, digit in labelled_samples(root):
        counts[digit] += 1
    return counts


def sample_path(root: Path, digit: int, data: bytes, suffix: str = ".png") -> Path:
    """Where a sample with these bytes lives: its content decides its name."""
    return root / str(digit) / f"{bytes_digest(data)}{suffix}"


class Saved(NamedTuple):
    path: Path
    new: bool  # False: these bytes were already a sample of this digit
    previous: int | None  # the digit these bytes were a sample of until now, when labelled again


def save_sample(root: Path, digit: int, data: bytes, suffix: str = ".png") -> Saved:
    """Store an image's bytes as a labelled sample of `digit`, atomically.

    An image is a sample of one digit only: the same bytes labelled again with another digit move to
    that digit's folder (the latest label wins; the user corrected a slip), in one rename, so the image
    is never under two labels nor under none."""
    if digit not in range(NUM_CLASSES):
        raise ValueError(f"digit {digit} is not in 0-9")
    path = sample_path(root, digit, data, suffix)
    if path.exists():
        return Saved(path, False, None)
    others = [root / other / path.name for other in DIGITS if other != str(digit)]
    labelled = [other for other in others if other.is_file()]
    if not labelled:
        write_bytes_atomic(path, data)
        return Saved(path, True, None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(labelled[0], path)
        for extra in labelled[1:]:
            extra.unlink()
    except OSError as error:
        raise write_error([path], error) from None
    return Saved(path, True, int(labelled[0].parent.name))


# --- the held-out share ----------------------------------------------------------------------------

def split_key(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def holdout_mask(names: list[str], labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the samples held out for scoring: per digit, ceil(fraction x its count) of them.

    Which ones is decided by a seeded hash of each sample's name, not by its position, so adding samples
    never moves an old one between the trained-on and the scored share, except at the boundary of
    its own digit's count.
    """
    mask = np.zeros(len(names), dtype=bool)
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        ordered = sorted(members, key=lambda index: split_key(names[index], seed))
        mask[ordered[:math.ceil(len(members) * fraction)]] = True
    return mask


# --- mixing into training ----------------------------------------------------------------------------

def copies_needed(own_count: int, mnist_count: int, fraction: float) -> int:
    """How many own examples make up `fraction` of a training set that also holds `mnist_count` images."""
    if own_count == 0 or fraction == 0:
        return 0
    return max(own_count, round(mnist_count * fraction / (1 - fraction)))


def distort(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random small rotation (±10°), scale (0.9-1.1) and shear (±0.15) about the frame's centre."""
    angle = math.radians(rng.uniform(-10, 10))
    scale = rng.uniform(0.9, 1.1)
    shear = rng.uniform(-0.15, 0.15)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = np.linalg.inv(rotation @ np.array([[1.0, shear], [0.0, 1.0]]) * scale)
    centre = np.array([IMAGE_SIZE / 2 - 0.5] * 2)
    offset = centre - matrix @ centre
    return ndimage.affine_transform(frame, matrix, offset=offset, order=1, mode="constant", cval=0.0)


def training_copies(frames: np.ndarray, labels: np.ndarray, mnist_count: int, fraction: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The own samples repeated (each as evenly as the count allows) and distorted, to make up `fraction`
    of the training examples; frames are float32 0..1 like the prepared MNIST images."""
    count = copies_needed(len(labels), mnist_count, fraction)
    rng = np.random.default_rng(seed)
    picks = np.resize(np.arange(len(labels)), count)
    images = np.stack([distort(frames[index], rng) for index in picks]) if count else frames[:0]
    return np.clip(images, 0, 1).astype(np.float32), labels[picks]


# --- the prepared frames -----------------------------------------------------------------------------

OWN_KEYS = ("x", "y", "names")


def empty_set() -> dict[str, np.ndarray]:
    return {"x": np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), "y": np.zeros(0, np.uint8),
            "names": np.zeros(0, "<U1")}


def load_set(path: Path) -> dict[str, np.ndarray]:
    """Load a set of own frames (x: n x 28 x 28 uint8, y: labels, names: sample paths) written by save_npz;
    UserError when it is missing or not such a set."""
    arrays = load_npz(path, OWN_KEYS)
    count = len(arrays["y"])
    if arrays["x"].shape != (count, IMAGE_SIZE, IMAGE_SIZE) or arrays["x"].dtype != np.uint8:
        raise UserError(f"{path}: x has shape {arrays['x'].shape} ({arrays['x'].dtype}), "
                        f"expected ({count}, 28, 28) uint8")
    check_labels(path, "y", arrays["y"], count)
    return arrays
