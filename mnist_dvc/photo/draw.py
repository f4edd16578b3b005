"""The photo with what was read drawn on it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mnist_dvc.photo.types import Box, Photo


def draw_boxes(photo: Photo, answers: list[tuple[Box, str]]) -> Image.Image:
    """The photo with each box read and the answer for it drawn on, for showing what was read."""
    image = Image.fromarray(np.clip(photo.image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    thickness = max(2, round(max(image.size) / 300))
    for box, answer in answers:
        left, top, width, height = (round(value / photo.scale) for value in box)
        draw.rectangle((left, top, left + width - 1, top + height - 1), outline=(220, 30, 30), width=thickness)
        draw.text((left + thickness, max(0, top - 12 - thickness)), answer, fill=(220, 30, 30))
    return image
