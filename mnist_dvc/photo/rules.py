"""Step 3b, printed lines: the ruled or squared paper's lines found and taken out of the ink image, so
that what is left is the writing, and the strokes that cross a line keep what they add to it.

A printed line is straight in the photo (a camera's perspective keeps lines straight), long (it crosses
most of the page), thin, fainter than writing, and one of several parallel ones. The Hough transform
finds the long straight lines of faint-or-stronger ink; those that come with a parallel neighbour, have
paper on both sides, are no darker than a printed line and run along most of the photo are the paper's,
and so is the next line where they lead, in a photo taken askew, which only crosses one of its corners.
Each is then measured where it runs: its profile across is the median along the whole line, and how
dark it runs at each point a running median (wider than any stroke that crosses it); only that is
subtracted, so a pen stroke across the line stands out from it as much as from bare paper.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage

from mnist_dvc.photo.ink import spread
from mnist_dvc.photo.morphology import maximum_3x3

# A printed line crosses at least this share of the photo's width (or height, for the vertical ones).
MIN_LENGTH = 0.5
# Where more than this share of the photo stands out of the paper's noise, it is the paper's own grain (a
# dithered palette image, a textured sheet), in which no line can be told from chance alignments. Squared
# paper photographed close covers about a sixth of the photo with its grid.
MAX_MASK_SHARE = 0.2
# Lines this close to horizontal or vertical, in degrees, are candidates: a photo taken slightly askew.
MAX_TILT = 12.0
HALF_WIDTH = 3  # a printed line's usual half width: its centre is sought within twice this
# The running median along a line spans this share of the photo's side: longer than any stroke across it.
MEDIAN_SPAN = 0.08
# Where a stroke runs along a line (a 4's bar, a 2's base on the line), the running median is the stroke's:
# the line's strength is never taken as more than this many times its median along the whole line.
MAX_LOCAL = 1.5
# A printed line is fainter than writing (light blue, grey): one absorbing more than this share of the
# light is a pen's stroke (a long 1 on a drawing pad), however straight.
MAX_STRENGTH = 0.6
# And it runs along most of the photo, not only as far as a digit's stroke: it is there along at least
# this share of its length in the photo.
MIN_COVERAGE = 0.6
# A line with no parallel neighbour is the paper's only when it runs along this much of the photo, as a
# notebook's margin line does: no stroke of writing is that long.
LONE_COVERAGE = 0.9
# A line must have paper beside it: its strength this many pixels out is under this share of its own. Its
# profile is subtracted as far out: all of a wide line (a margin line seen close), only paper past a thin one.
SIDE_OFFSET = HALF_WIDTH + 3
SIDE_SHARE = 0.5
# Within this share of the photo's side from its edges, a line running off the photo is too short to be
# found: there the darkest line that was found stands in for it.
EDGE_SHARE = 0.02
# Farther in, a paper's line that runs into the photo across a corner (a photo taken askew) is as short:
# it is where the lines found lead, when they are at least this many and evenly spaced (continued).
FAMILY = 3


class Line(NamedTuple):
    """A straight line: row = slope * column + intercept when `horizontal`, else column = slope * row + intercept."""

    horizontal: bool
    slope: float
    intercept: float


def hough_lines(mask: np.ndarray, horizontal: bool) -> list[Line]:
    """Long straight lines through `mask` within MAX_TILT of horizontal (or vertical), strongest first."""
    height, width = mask.shape
    votes = max(20, round(MIN_LENGTH * (width if horizontal else height)))
    tilt = math.radians(MAX_TILT)
    ranges = [(math.pi / 2 - tilt, math.pi / 2 + tilt)] if horizontal else [(0.0, tilt), (math.pi - tilt, math.pi)]
    lines = []
    for low, high in ranges:
        found = cv2.HoughLines(mask, 1, math.pi / 720, votes, min_theta=low, max_theta=high)
        for rho, theta in ([] if found is None else found[:, 0]):
            cos, sin = math.cos(theta), math.sin(theta)
            if horizontal:  # x cos + y sin = rho
                lines.append(Line(True, -cos / sin, rho / sin))
            else:
                lines.append(Line(False, -sin / cos, rho / cos))
    return lines


def refined(line: Line, ink: np.ndarray) -> Line:
    """The line fitted to its ink near the Hough transform's estimate, which is only as exact as its grid
    of angles: a straight fit to each column's (row's) centre of ink near the estimate, without the
    points far off a first fit (where strokes cross it); then once more around that fit, as a wide line
    seen off-centre has its centre of ink pulled towards the estimate."""
    image = ink if line.horizontal else ink.T
    for _ in range(2):
        positions = np.arange(image.shape[1])
        centre = line.slope * positions + line.intercept
        positions = positions[(centre >= 0) & (centre <= image.shape[0] - 1)]  # where it runs inside the photo
        if positions.size < 2:
            return line
        offsets = np.arange(-2 * HALF_WIDTH, 2 * HALF_WIDTH + 1)
        rows = np.round(line.slope * positions[None, :] + line.intercept + offsets[:, None]).astype(int)
        inside = (rows >= 0) & (rows < image.shape[0])
        values = image[np.clip(rows, 0, image.shape[0] - 1), positions[None, :]]
        weights = np.where(inside, np.maximum(values, 0), 0) + 1e-6
        best = (rows * weights).sum(axis=0) / weights.sum(axis=0)  # each column's centre of the line's ink
        slope, intercept = np.polyfit(positions, best, 1)
        close = np.abs(best - (slope * positions + intercept)) <= 1
        if close.sum() >= 2:
            slope, intercept = np.polyfit(positions[close], best[close], 1)
        line = Line(line.horizontal, float(slope), float(intercept))
    return line


def apart(line: Line, other: Line, length: int) -> float:
    """How far apart two lines of one direction come within the photo (`length` along them), in pixels
    across: at one of its edges, as both are straight. Two lines crossing near the middle at different
    angles are not one line (a row of upright strokes across a slightly tilted grid line)."""
    return max(abs((line.slope - other.slope) * end + line.intercept - other.intercept) for end in (0, length))


def halved(mask: np.ndarray) -> np.ndarray:
    """The mask at half resolution, a pixel set where any of its four is (an odd last row or column dropped):
    the Hough transform's cost is in the pixels it votes with, and a printed line keeps its length."""
    even = mask[:mask.shape[0] // 2 * 2, :mask.shape[1] // 2 * 2]
    return (even[0::2, 0::2] | even[1::2, 0::2] | even[0::2, 1::2] | even[1::2, 1::2]).astype(np.uint8)


def doubled(line: Line) -> Line:
    """A line found at half resolution in full-resolution pixels (half pixel k spans full pixels 2k, 2k + 1)."""
    return Line(line.horizontal, line.slope, 2 * line.intercept + 0.5 - 0.5 * line.slope)


def candidate_lines(mask: np.ndarray, ink: np.ndarray) -> list[tuple[Line, bool]]:
    """The printed lines' candidates: long straight lines through `mask`, nearly horizontal or vertical,
    each fitted to the ink, one per line (near-duplicates dropped); each with whether it has a parallel
    neighbour (ruling comes in parallel lines: one long line alone must pass for a margin)."""
    found: list[tuple[Line, bool]] = []
    coarse = halved(mask)
    for horizontal in (True, False):
        family: list[Line] = []
        length = mask.shape[1] if horizontal else mask.shape[0]
        rough: list[Line] = []  # the Hough transform's near-duplicates dropped before the costlier fit
        for line in map(doubled, hough_lines(coarse, horizontal)):
            if all(apart(line, other, length) > 2 * HALF_WIDTH for other in rough):
                rough.append(line)
        for line in (refined(line, ink) for line in rough):
            if all(apart(line, other, length) > 2 * HALF_WIDTH for other in family):
                family.append(line)
        found += [(line, len(family) >= 2) for line in family]
    return found


def band(line: Line, shape: tuple[int, int], reach: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pixels within `reach` of the line: their rows, columns, signed distance across the line (in
    pixels, fractional) and position along it."""
    length, across = (shape[1], shape[0]) if line.horizontal else (shape[0], shape[1])
    along = np.arange(length)
    centre = line.slope * along + line.intercept
    offsets = np.arange(-reach, reach + 1)
    crossing = np.round(centre[None, :] + offsets[:, None]).astype(int)
    distance = crossing - centre[None, :]
    along = np.broadcast_to(along[None, :], crossing.shape)
    inside = (crossing >= 0) & (crossing < across)
    rows, cols = (crossing, along) if line.horizontal else (along, crossing)
    return rows[inside], cols[inside], distance[inside], along[inside]


def group_medians(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The median of `values` in each group (numbered 0, 1, ... with none empty), as np.median gives it,
    from one sort instead of a median per group."""
    ordered = values[np.lexsort((values, group))]
    counts = np.bincount(group)
    starts = np.cumsum(counts) - counts
    return (ordered[starts + (counts - 1) // 2] + ordered[starts + counts // 2]) / values.dtype.type(2)


def line_strength(ink: np.ndarray, line: Line, span: int, coverage: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The line's own strength at each pixel of its band (rows, columns, strength), or None when it is
    not a printed line: no paper beside it (the edge of a dark area), darker than print, or there along
    less than `coverage` of its length.

    Its profile across (by quarter pixels) is the median along the whole line, which strokes crossing it
    hardly move; how dark it runs at each point (it fades, a pencil's varies) is a running median of its
    core, never taken as more than MAX_LOCAL times the whole line's (a stroke running along the line).
    """
    rows, cols, distance, along = band(line, ink.shape, SIDE_OFFSET)
    core = np.abs(distance) <= 1
    if not core.any():  # it runs outside the photo, or only its side does
        return None
    values = ink[rows, cols]
    core_level = float(np.median(values[core]))
    sides = [values[distance <= 1 - SIDE_OFFSET], values[distance >= SIDE_OFFSET - 1]]
    if not any(side.size for side in sides):
        return None
    # Along the photo's edge, the paper on the one side in the photo is what there is to go by.
    side_level = max(float(np.median(side)) for side in sides if side.size)
    if not 0 < core_level <= MAX_STRENGTH or side_level > SIDE_SHARE * core_level:
        return None
    order = np.argsort(along[core], kind="stable")
    running = ndimage.median_filter(values[core][order], size=span, mode="nearest")
    if (running >= core_level / 2).mean() < coverage:
        return None
    level = np.interp(along, along[core][order], running) / core_level
    _, index = np.unique(np.round(distance * 4).astype(int), return_inverse=True)
    strength = np.maximum(group_medians(values, index)[index], 0) * np.clip(level, 0, MAX_LOCAL)
    return rows, cols, strength.astype(np.float32)


def continued(family: list[Line]) -> list[Line]:
    """The lines that follow a family of parallel printed lines (of one direction) past its outermost
    ones, on either side: one more spacing out, turned by as much again as the outermost two differ (a
    camera's perspective spaces and turns them evenly). No line on a side where the family has fewer
    than FAMILY lines or its last two spacings differ by more than a quarter (a line between them was
    missed)."""
    lines = sorted(family, key=lambda line: line.intercept)
    if len(lines) < FAMILY:
        return []
    following = []
    for outer, inner, third in (lines[:3], lines[:-4:-1]):
        spacing, before = outer.intercept - inner.intercept, inner.intercept - third.intercept
        if before and 0.8 <= spacing / before <= 1.25:
            following.append(Line(outer.horizontal, 2 * outer.slope - inner.slope, outer.intercept + spacing))
    return following


def remove_printed_lines(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink image (0 = paper) with the paper's ruled or squared lines subtracted (unchanged when
    there are none), and how strong the printed lines were at each pixel (0 off them), a pixel wider
    either side: where what was subtracted may have left a trace."""
    smooth = cv2.blur(ink, (3, 3), borderType=cv2.BORDER_REFLECT)
    noise = max(spread(smooth[::4, ::4]), 0.006)
    mask = smooth > max(0.03, 4 * noise)
    line_image = np.zeros_like(ink)
    if mask.mean() > MAX_MASK_SHARE:
        return ink, line_image
    lines = candidate_lines(mask, smooth)
    if not lines:
        return ink, line_image
    span = max(15, round(MEDIAN_SPAN * max(ink.shape))) | 1
    measured = {line: line_strength(ink, line, span, MIN_COVERAGE if in_family else LONE_COVERAGE)
                for line, in_family in lines}
    for horizontal in (True, False):
        family = [line for line, found in measured.items() if found is not None and line.horizontal == horizontal]
        measured |= {line: line_strength(ink, line, span, MIN_COVERAGE)
                     for line in (refined(line, smooth) for line in continued(family))}
    for found in measured.values():
        if found is not None:
            rows, cols, strength = found
            np.maximum.at(line_image, (rows, cols), strength)
    printed = maximum_3x3(line_image)
    if line_image.any():
        border = max(3, round(EDGE_SHARE * max(ink.shape)))
        darkest = float(np.percentile(line_image[line_image > 0], 90))
        for edge in (printed[:border], printed[-border:], printed[:, :border], printed[:, -border:]):
            np.maximum(edge, darkest, out=edge)
    return ink - line_image, printed
