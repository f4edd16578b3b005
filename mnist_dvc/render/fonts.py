"""A second source of shapes beside MNIST: digits, letters and signs from handwriting fonts.

A symbol is drawn from its font glyph at a working size, slanted and turned as a hand writes it, its
outline moved out or in (morphology on the signed distance to the outline) so that its strokes are as
wide as the pen's, then scaled to its size on the page. Fonts are files (.woff, .woff2, .ttf, .otf) in a
folder, named by family: data/raw/fonts/caveat.woff (the fonts stage writes them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from mnist_dvc.errors import UserError
from mnist_dvc.render.pen import pen_texture

FONT_SUFFIXES = (".woff", ".woff2", ".ttf", ".otf")
WORKING_LIMITS = (48, 200)  # a glyph's outline is moved at a digit height in this range, then scaled
MEASURE_SIZE = 200  # the font size at which a font's digits are measured
THINNEST = 0.4  # a glyph's strokes are never thinned to less than this share of their own width


def font_file(folder: Path, family: str) -> Path:
    """The font file of `family` in `folder` (the first of FONT_SUFFIXES that is there)."""
    for suffix in FONT_SUFFIXES:
        path = folder / f"{family}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{folder}: no font file for the family {family!r} ({', '.join(FONT_SUFFIXES)})")


def family_fonts(folder: Path, families: Sequence[str]) -> dict[str, str]:
    """family → font file for each of `families` in `folder` (e.g. data/raw/fonts and params' fonts.train,
    to make training photos of the training families only); UserError when one is missing."""
    try:
        return {family: str(font_file(folder, family)) for family in families}
    except FileNotFoundError as error:
        raise UserError(f"{error}; run `dvc repro fonts`") from None


@lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=64)
def digit_height_per_size(path: str) -> float:
    """How tall the font's digits are (their mean ink height, baseline anchored) per unit of font size."""
    font = load_font(path, MEASURE_SIZE)
    heights = [font.getbbox(digit, anchor="ls")[3] - font.getbbox(digit, anchor="ls")[1] for digit in "0123456789"]
    return max(1.0, float(np.mean(heights))) / MEASURE_SIZE


def glyph_image(path: str, symbol: str, digit_height: float, slant: float, rotation: float
                ) -> tuple[np.ndarray, float]:
    """`symbol` in the font, in 0..1, at the size where its digits are `digit_height` px tall, slanted by
    `slant` and turned by `rotation` degrees about its baseline's start; and the baseline's row."""
    font = load_font(path, max(4, round(digit_height / digit_height_per_size(path))))
    left, top, right, bottom = font.getbbox(symbol, anchor="ls")
    pad = 2
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    origin = np.array([pad - left, pad - top], np.float64)
    ImageDraw.Draw(canvas).text(tuple(origin), symbol, font=font, fill=255, anchor="ls")
    angle = math.radians(rotation)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    forward = turn @ np.array([[1.0, -math.tan(math.radians(slant))], [0.0, 1.0]])  # a positive slant leans right
    corners = (np.array([[0, 0], [canvas.width, 0], [canvas.width, canvas.height], [0, canvas.height]])
               - origin) @ forward.T
    low = np.floor(corners.min(axis=0)) - 1
    size = tuple(int(v) for v in np.ceil(corners.max(axis=0)) - low + 1)
    inverse = np.linalg.inv(forward)
    # output (x, y) → input: inverse @ ((x, y) + low) + origin
    offset = inverse @ low + origin
    data = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    turned = canvas.transform(size, Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    return np.asarray(turned, np.float32) / 255, float(-low[1])


def stroke_half_width(inside: np.ndarray, mask: np.ndarray) -> float:
    """Half the typical width of a glyph's strokes: the distance to the outline along their centres."""
    ridge = mask & (inside >= ndimage.maximum_filter(inside, size=3))
    return max(0.5, float(np.median(inside[ridge])) - 0.5) if ridge.any() else 0.5


def with_stroke_width(glyph: np.ndarray, width: float) -> np.ndarray:
    """The glyph's outline moved out or in so that its strokes are about `width` px wide, anti-aliased
    over one pixel. The font's own variation of width along a stroke is kept."""
    mask = glyph >= 0.5
    if not mask.any():
        return np.zeros_like(glyph)
    grow = math.ceil(max(0.0, width)) + 2
    mask = np.pad(mask, grow)
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    signed = np.where(mask, inside - 0.5, 0.5 - outside)
    half = stroke_half_width(inside, mask)
    delta = max(width / 2 - half, -(1 - THINNEST) * half)
    return np.clip(signed + delta + 0.5, 0, 1).astype(np.float32)


def font_coverage(rng: np.random.Generator, path: str, symbol: str, height: int, width: float, slant: float,
                  rotation: float, ink: str, pen: str) -> tuple[np.ndarray, int]:
    """`symbol` written in the font at a size where its digits are `height` px tall, with strokes `width`
    px wide; and the row of its baseline (a 'g' reaches below it)."""
    working = float(np.clip(height, *WORKING_LIMITS))
    scale = height / working
    glyph, baseline = glyph_image(path, symbol, working, slant, rotation)
    grow = math.ceil(max(0.0, width / scale)) + 2
    coverage = with_stroke_width(glyph, width / scale)
    size = (max(1, round(coverage.shape[1] * scale)), max(1, round(coverage.shape[0] * scale)))
    coverage = np.asarray(Image.fromarray(coverage).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0),
                          np.float32)
    return pen_texture(rng, coverage, ink, pen, height), round((baseline + grow) * scale)
