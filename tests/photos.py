"""Turn 28x28 MNIST-style digits into fake photos of ink on paper, as a phone or scanner would give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def photograph(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Upscale to 100-200 px, dark ink on light paper, a margin, off-centre, noise and slight blur."""
    size = int(rng.integers(100, 201))
    ink = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    canvas_size = int(size * rng.uniform(1.4, 1.8))
    canvas = np.zeros((canvas_size, canvas_size), dtype=np.float32)
    top, left = (int(rng.integers(0, canvas_size - size + 1)) for _ in range(2))
    canvas[top:top + size, left:left + size] = np.asarray(ink, dtype=np.float32)
    paper = rng.uniform(200, 240)
    page = paper - canvas * (paper - rng.uniform(20, 60)) / 255
    page += rng.normal(0, 6, page.shape)
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))


def write_photos(digits: np.ndarray, folder: Path, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index, digit in enumerate(digits):
        path = folder / f"digit-{index:04d}.png"
        photograph(digit, rng).save(path)
        paths.append(path)
    return paths
