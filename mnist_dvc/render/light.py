"""Step 4, the light: how much light falls on each part of the page, and the paper's own texture."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Noise in -1..1 that varies smoothly over about `cell` pixels."""
    small = (max(2, math.ceil(shape[0] / cell) + 1), max(2, math.ceil(shape[1] / cell) + 1))
    coarse = rng.uniform(-1, 1, small).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BICUBIC), np.float32)


def smoothstep(values: np.ndarray) -> np.ndarray:
    t = np.clip(values, 0, 1)
    return t * t * (3 - 2 * t)


def illumination(rng: np.random.Generator, light: str, size: tuple[int, int], blur: float) -> np.ndarray:
    """How much light falls on each pixel (height, width), 1 = the brightest part of the paper.

    Every photo gets a mild gradient (no phone photo is lit perfectly evenly); `light` adds a strong
    gradient, vignetting, or a shadow whose edge is soft (a large diffuse one) or hard (a phone or a
    hand under a lamp: a penumbra of a few pixels, widened by the lens's blur of `blur` px).
    """
    width, height = size
    scale = max(size)
    x = (np.arange(width, dtype=np.float32)[None, :] - width / 2) / scale
    y = (np.arange(height, dtype=np.float32)[:, None] - height / 2) / scale
    direction = rng.uniform(0, 2 * math.pi)
    along = x * math.cos(direction) + y * math.sin(direction)  # -0.5..0.5 across the photo
    strength = rng.uniform(0.3, 0.5) if light == "gradient" else rng.uniform(0.0, 0.12)
    field = 1 - strength * (along + 0.5)
    if light == "vignette":
        field = field * (1 - rng.uniform(0.6, 1.2) * (x * x + y * y))
    if light in ("soft_shadow", "hard_shadow"):
        soft = light == "soft_shadow"
        penumbra = rng.uniform(0.08, 0.25) if soft else (rng.uniform(1.0, 4.0) + 2.5 * blur) / scale
        inside = None
        for _ in range(int(rng.integers(1, 3))):  # one edge, or two meeting in a corner
            angle = rng.uniform(0, 2 * math.pi)
            offset = rng.uniform(-0.25, 0.25)
            edge = smoothstep((x * math.cos(angle) + y * math.sin(angle) - offset) / penumbra + 0.5)
            inside = edge if inside is None else np.minimum(inside, edge)
        field = field * (1 - rng.uniform(0.3, 0.6) * inside)
    return (field / max(float(field.max()), 1e-6)).astype(np.float32)


def paper_texture(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """The paper's fibres and unevenness: a factor near 1, blotchy at two scales."""
    shape = (size[1], size[0])
    return 1 + 0.015 * smooth_noise(rng, shape, max(size) / 12) + 0.01 * smooth_noise(rng, shape, 12)
