"""Plain photos of 28x28 MNIST-style digits for the predict tests: a black marker on white paper, evenly
lit and sharp, saved as PNG. mnist_dvc/render/ makes them; the photo benchmark uses every condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mnist_dvc.render import draw_conditions, render_photo

PLAIN = {"pen": "marker", "ink": "black", "paper": "white", "light": "even", "blur": "sharp", "file": "png"}


def photograph(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone-sized photo of one digit (its label plays no part in how it looks)."""
    return render_photo([digit], [0], rng, draw_conditions(rng, **PLAIN)).image


def write_photos(digits: np.ndarray, folder: Path, seed: int = 0) -> list[Path]:
    """One PNG file per digit, its bytes as the renderer encoded them (saving the image again would
    encode every photo twice, which took most of the time)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index, digit in enumerate(digits):
        path = folder / f"digit-{index:04d}.png"
        path.write_bytes(render_photo([digit], [0], rng, draw_conditions(rng, **PLAIN)).data)
        paths.append(path)
    return paths
