"""Step 5, the sensor and the file: the exposure with its noise, the file the camera writes, and the
smaller JPEG a messaging app makes of it."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from mnist_dvc.render.camera import Region
from mnist_dvc.render.conditions import Conditions

# A printed layer of the paper (its ruled lines, its margin) as the camera sees it, and its colour.
Printed = tuple[np.ndarray, tuple[float, float, float]]


def expose(rng: np.random.Generator, conditions: Conditions, lighting: np.ndarray, ink: np.ndarray,
           region: Region, printed: Sequence[Printed] = ()) -> Image.Image:
    """What the sensor records, 8-bit RGB: paper x (the printing's colour where it is printed) x (ink's
    colour where there is ink) x light, plus the sensor's noise (luminance noise: a phone's processing
    removes most noise in colour)."""
    left, top, right, bottom = region
    absorbed = 1 - np.array(conditions.ink_rgb, np.float32)
    noise = np.float32(conditions.noise) * rng.standard_normal(lighting.shape, dtype=np.float32) + np.float32(0.5)
    photo = np.empty((*lighting.shape, 3), np.uint8)
    for channel in range(3):
        values = lighting * np.float32(conditions.paper_rgb[channel])
        for coverage, rgb in printed:
            values *= 1 - coverage * np.float32(1 - rgb[channel])
        values[top:bottom, left:right] *= 1 - ink * absorbed[channel]
        values += noise
        np.clip(values, 0, 255, out=values)
        photo[:, :, channel] = values
    return Image.fromarray(photo, "RGB")


def encode(image: Image.Image, conditions: Conditions) -> bytes:
    """The photo's file: a JPEG at the drawn quality, or a PNG."""
    stream = io.BytesIO()
    if conditions.file == "png":
        image.save(stream, format="PNG", compress_level=1)
    else:
        image.save(stream, format="JPEG", quality=conditions.jpeg_quality)
    return stream.getvalue()


def resend(data: bytes, conditions: Conditions) -> tuple[Image.Image, bytes]:
    """The camera's file as a messaging app passes it on: decoded, scaled down to
    `resolution_scale` of its size and encoded again as a JPEG of low quality."""
    with Image.open(io.BytesIO(data)) as taken:
        small = taken.convert("RGB").resize(
            (max(1, round(taken.width * conditions.resolution_scale)),
             max(1, round(taken.height * conditions.resolution_scale))), Image.Resampling.BILINEAR,
            reducing_gap=2.0)
    stream = io.BytesIO()
    small.save(stream, format="JPEG", quality=conditions.resend_quality)
    return small, stream.getvalue()
