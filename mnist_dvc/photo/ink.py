"""Step 4, ink: which pixels are ink, by a threshold with hysteresis set from the image's own noise."""

from __future__ import annotations

import cv2
import numpy as np

from mnist_dvc.photo.frame import wide_strokes
from mnist_dvc.photo.morphology import piece_boxes

MIN_CONTRAST = 0.08  # ink must absorb at least 8 % more light than the paper around it
# On a ruled or squared paper's printed line, writing is at least this many times as strong as the line.
PRINTED_MARGIN = 1.2
# Inside a piece of ink, paper enclosed by pixels at least this share of the piece's strong level is a
# loop's hole, however much ink the blur spread into it.
LOOP_WALL = 0.6
# A loop whose hole is this share paper already is open: the ink around it is stroke, and stays.
OPEN_ALREADY = 0.5
# A piece whose strokes are wide for its size is cut again at this share of its own strong level.
RIDGE = 0.5


def spread(values: np.ndarray) -> float:
    """A robust standard deviation (1.4826 median absolute deviations)."""
    values = np.array(values).ravel()  # a copy: the medians below reorder it
    deviations = np.abs(values - np.median(values, overwrite_input=True))
    return 1.4826 * float(np.median(deviations, overwrite_input=True))


def ink_mask(ink: np.ndarray, magnification: np.ndarray | float = 1.0,
             printed: np.ndarray | float = 0.0) -> np.ndarray:
    """Where the ink is: pixels above a low threshold connected to pixels above a high one (hysteresis).

    The levels come from the image itself: the paper's noise (a robust spread, larger in shadows where
    the light was divided out) and the strong ink level (a high percentile), so a faint pencil and a
    black marker both work. All False when no stroke stands out (a blank page, a gradient, a shadow).
    `printed` is how strong the paper's printed lines were at each pixel (rules.remove_printed_lines):
    on a line, a stroke must stand out of the line's own strength to count as writing, so what is left
    of a line is never taken for a stroke; off the lines, writing fainter than the lines is still ink.
    A piece whose strokes are wide for its size is cut again higher (ridges), and each piece's loops that
    blur filled are opened again (with_loops_open).
    """
    smooth = cv2.blur(ink, (3, 3), borderType=cv2.BORDER_REFLECT)  # the mean of each 3x3 window
    # Most photos have no printed lines: then no copy of the image is made for them.
    beyond_print = smooth - PRINTED_MARGIN * np.asarray(printed, dtype=np.float32) if np.any(printed) else smooth
    noise = max(spread(smooth[::4, ::4]), 0.006)
    least = max(MIN_CONTRAST, 10 * noise)
    sample = beyond_print[::4, ::4]
    strong = float(np.percentile(sample, 99.8))
    if strong < least:
        strong = float(np.percentile(sample, 99.97))  # very little ink (a thin pen, small digits)
    if strong < least:
        strong = float(beyond_print.max())  # a few thin strokes in a large photo: found here, read closer later
    if strong < least:
        return np.zeros(ink.shape, dtype=bool)
    local_noise = noise * magnification
    high = np.maximum(max(0.5 * strong, MIN_CONTRAST), 8 * local_noise)
    low = np.maximum(max(0.3 * strong, MIN_CONTRAST * 0.6), 4 * local_noise)
    candidates = smooth > low
    count, labels, boxes = piece_boxes(candidates)
    if count == 1:  # the background alone
        return candidates
    keep = np.zeros(count, dtype=bool)
    keep[labels[beyond_print > high]] = True
    mask = np.zeros(ink.shape, dtype=bool)
    # Piece by piece, in its box: a few pieces cost far less than the whole image, however large.
    for label in np.flatnonzero(keep[1:]) + 1:
        left, top, width, height = boxes[label, :4]
        box = slice(top, top + height), slice(left, left + width)
        piece = labels[box] == label
        if wide_strokes(piece):
            piece = ridges(piece, beyond_print[box])
        mask[box] |= with_loops_open(piece, beyond_print[box])
    return mask


def ridges(piece: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """A piece of ink whose strokes are wide for its size (its mask, cropped to its box, and the ink's
    strength there), cut at RIDGE of its own strong level when that leaves narrow strokes. Blur spreads a
    small digit's ink between its strokes, a 3 or a 9 30 px tall becomes a blob or a fat hook at the low
    threshold, and its strokes stand out of that grey as ridges. A marker's sharp-edged strokes, a
    shadow's patch or its pointed tip are as wide higher up: they stay as they are (and segment drops a
    solid patch)."""
    ridge = piece & (strength > RIDGE * np.percentile(strength[piece], 90))
    left, top, width, height = cv2.boundingRect(ridge.astype(np.uint8))
    return piece if wide_strokes(ridge[top:top + height, left:left + width]) else ridge


def with_loops_open(piece: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """One piece of ink (its mask, cropped to its box, and the ink's strength there) with the loops blur
    filled opened again (a small or out-of-focus 8, 9 or 0 is a blob at the low threshold): a hole that
    the piece's strong pixels (LOOP_WALL of its own strong level) enclose is paper, unless OPEN_ALREADY of
    it was paper already (that loop is open, and the ink around it is stroke: it stays)."""
    if min(piece.shape) < 3:  # too thin to enclose anything
        return piece
    wall = (piece & (strength > LOOP_WALL * np.percentile(strength[piece], 90))).astype(np.uint8)
    # The paper outside the walls, flooded from a one-pixel border of paper: what it cannot reach is a hole.
    outside = np.pad(1 - wall, 1, constant_values=1)
    cv2.floodFill(outside, None, (0, 0), 2)
    holes = outside[1:-1, 1:-1] == 1
    if not holes.any():
        return piece
    count, hole_labels = cv2.connectedComponents(holes.astype(np.uint8), connectivity=4)
    paper = np.bincount(hole_labels[holes & ~piece], minlength=count)
    open_already = paper >= OPEN_ALREADY * np.bincount(hole_labels[holes], minlength=count)
    return piece & ~(holes & ~open_already[hole_labels])
