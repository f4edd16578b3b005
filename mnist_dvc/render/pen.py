"""Step 1, the pen: an MNIST digit's shape cut out of the upscaled 28x28 image, its filled loops opened,
and redrawn along its centre line with a pen of a given width and texture.

The same pen draws the synthetic marks (marks.py) from their stroke points.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_dvc.render.light import smooth_noise

INK_LEVEL = 40  # an MNIST pixel above this is part of the digit when it is cropped


def crop_digit(digit: np.ndarray) -> np.ndarray:
    """The digit cut to its ink (pixels above INK_LEVEL), as uint8; the whole image when it has none."""
    rows = np.flatnonzero(digit.max(axis=1) > INK_LEVEL)
    cols = np.flatnonzero(digit.max(axis=0) > INK_LEVEL)
    if rows.size == 0:
        return np.asarray(digit, np.uint8)
    return np.asarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], np.uint8)


WORKING_HEIGHT = 80  # a digit's centre line is traced with the digit this tall
SHAPE_LEVEL = 64  # upscaled MNIST pixels from this level are stroke: faint joins between strokes hold


def digit_shape(digit: np.ndarray) -> np.ndarray:
    """The digit's strokes as a mask WORKING_HEIGHT px tall (wide digits capped at 1.3x that)."""
    crop = crop_digit(digit)
    scale = min(WORKING_HEIGHT / crop.shape[0], 1.3 * WORKING_HEIGHT / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    return np.pad(np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC)) >= SHAPE_LEVEL, 2)


FILLED_LOOP = 1.6  # a part of a digit this many times as thick as its thinner strokes is a filled loop
MIN_LOOP_AREA = 10  # working pixels: a smaller thick spot (a stroke's corner) is left as it is


def open_filled_loops(shape: np.ndarray) -> np.ndarray:
    """The digit's shape with a hole wherever it is much thicker than its strokes.

    MNIST's writers' pens filled small loops (a 9's, an 8's lower one, a 2's curl) with ink. Traced
    along its centre line, a filled loop becomes a line, and a 9 drawn again with a fine pen reads as a
    1 or a 7. With a hole in it, the centre line goes round the loop, as the writer's pen did: a fine pen
    then draws an open loop, and a marker fills it again.
    """
    distance = ndimage.distance_transform_edt(shape)
    ridge = shape & (distance >= ndimage.maximum_filter(distance, size=3))
    if not ridge.any():
        return shape
    # The strokes' half width from the thinner part of the centre ridge: a large blob has a long ridge
    # of its own, which a median would take for the stroke.
    half_width = float(np.percentile(distance[ridge], 30))
    labels, count = ndimage.label(distance > FILLED_LOOP * half_width)
    hole = np.bincount(labels.ravel(), minlength=count + 1) >= MIN_LOOP_AREA
    hole[0] = False
    return shape & ~hole[labels]


def thin(mask: np.ndarray) -> np.ndarray:
    """The one-pixel centre line of a mask's strokes (Zhang and Suen's thinning, 1984)."""
    image = np.pad(mask, 1).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = image
            ring = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:],  # clockwise from the top
                    p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            n, e, s, w = ring[0], ring[2], ring[4], ring[6]
            count = sum(ring, np.zeros_like(n))
            turns = sum((a == 0) & (b == 1) for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
            side = (n * e * s == 0) & (e * s * w == 0) if step == 0 else (n * e * w == 0) & (n * s * w == 0)
            remove = (p[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (turns == 1) & side
            if remove.any():
                image[1:-1, 1:-1][remove] = 0
                changed = True
    return image[1:-1, 1:-1].astype(bool)


NEIGHBOURS = ((0, 1), (1, -1), (1, 0), (1, 1))  # each pair of touching pixels once


def centre_line(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strokes' centre line as points (row, col) and segments (pairs of point indices), each
    point moved to the mean of itself and its neighbours so that pixel steps become smooth."""
    line = thin(mask)
    index = np.full(line.shape, -1)
    rows, cols = np.nonzero(line)
    index[rows, cols] = np.arange(rows.size)
    padded = np.pad(index, 1, constant_values=-1)
    segments = []
    for dr, dc in NEIGHBOURS:
        other = padded[1 + rows + dr, 1 + cols + dc]
        segments += [(a, b) for a, b in zip(index[rows, cols], other, strict=True) if b >= 0]
    points = np.column_stack([rows, cols]).astype(np.float64)
    pairs = np.array(segments, dtype=np.int64).reshape(-1, 2)
    total, count = points.copy(), np.ones(len(points))
    for a, b in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0])):
        np.add.at(total, a, points[b])
        np.add.at(count, a, 1)
    return total / count[:, None], pairs


def pen_coverage(points: np.ndarray, pairs: np.ndarray, scale: float, slant: float, width: float) -> np.ndarray:
    """How much of each pixel a pen `width` px wide covers as it traces the centre line (`points` in
    working pixels, scaled by `scale` and turned by `slant` degrees): within width / 2 of the line,
    anti-aliased over one pixel. Returns the glyph (rows, cols) with a margin of the pen's radius."""
    if len(points) == 0:
        return np.zeros((3, 3), np.float32)
    angle = math.radians(slant)
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    placed = (points - points.mean(axis=0)) * scale @ turn.T
    margin = math.ceil(width / 2) + 2
    placed = placed - placed.min(axis=0) + margin
    height, breadth = (np.ceil(placed.max(axis=0)).astype(int) + margin + 1).tolist()
    canvas = Image.new("1", (breadth, height), 0)
    draw = ImageDraw.Draw(canvas)
    xy = [(float(c), float(r)) for r, c in placed]
    for a, b in pairs:
        draw.line((xy[a], xy[b]), fill=1)
    for point in xy:
        draw.point(point, fill=1)
    distance = ndimage.distance_transform_edt(~np.asarray(canvas))
    return np.clip(width / 2 - distance + 0.5, 0, 1).astype(np.float32)


def pen_texture(rng: np.random.Generator, coverage: np.ndarray, ink: str, pen: str, height: int) -> np.ndarray:
    """Uneven ink: a ballpoint's pressure, a pencil's grain on the paper's tooth; markers are even."""
    if pen == "marker" or (pen == "felt" and ink != "pencil"):
        return coverage
    pressure = 0.85 + 0.15 * smooth_noise(rng, coverage.shape, max(4.0, height / 4))
    if ink == "pencil":
        grain = ndimage.uniform_filter(rng.uniform(0.45, 1.0, coverage.shape).astype(np.float32), 2)
        pressure = pressure * grain
    return coverage * pressure


def mnist_coverage(rng: np.random.Generator, digit: np.ndarray, height: int, width: float, slant: float,
                   ink: str, pen: str) -> np.ndarray:
    """An MNIST digit redrawn `height` px tall with a pen `width` px wide, slanted by `slant` degrees."""
    points, pairs = centre_line(open_filled_loops(digit_shape(digit)))
    coverage = pen_coverage(points, pairs, height / WORKING_HEIGHT, slant, width)
    return pen_texture(rng, coverage, ink, pen, height)
