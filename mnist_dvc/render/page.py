"""Step 2, the page: how large the photo is, how tall the writing, and where each symbol goes: on one
line with natural spacing, size and baseline jitter, or on several lines a little more than a line's
height apart, as a person fills a sheet."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mnist_dvc.render.conditions import SIDES

Bounds = tuple[int, int, int, int]  # top, left, bottom, right (exclusive) on the page
Drawn = tuple[np.ndarray, int]  # a symbol's pen coverage, and the row of it that sits on the line


def ink_bounds(coverage: np.ndarray) -> Bounds:
    """top, left, bottom, right (exclusive) of the pixels at least half covered."""
    rows = np.flatnonzero(coverage.max(axis=1) >= 0.5)
    cols = np.flatnonzero(coverage.max(axis=0) >= 0.5)
    if rows.size == 0:
        return 0, 0, coverage.shape[0], coverage.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def photo_size(rng: np.random.Generator, count: int, sides: tuple[int, int] = SIDES) -> tuple[int, int]:
    """(width, height): 4:3, portrait or landscape (numbers mostly landscape)."""
    longer = int(rng.integers(sides[0], sides[1] + 1))
    shorter = round(longer * 3 / 4)
    landscape = rng.uniform() < (0.5 if count == 1 else 0.8)
    return (longer, shorter) if landscape else (shorter, longer)


def digit_height(rng: np.random.Generator, size: tuple[int, int], count: int) -> int:
    """A single digit fills 15-50 % of the shorter side; a number spans 30-80 % of the width."""
    if count == 1:
        return max(36, round(rng.uniform(0.15, 0.5) * min(size)))
    return max(36, round(rng.uniform(0.3, 0.8) * size[0] / (0.85 * count)))


def sheet_height(rng: np.random.Generator, size: tuple[int, int], line_lengths: Sequence[int],
                 spacing: float) -> int:
    """The digit height that fits `line_lengths` lines `spacing` heights apart on the page, and a little
    smaller: the writing fills 55-80 % of the page's height or width, whichever is tighter."""
    width, height = size
    fits = min(height / (len(line_lengths) * spacing + 0.5), width / (0.8 * max(line_lengths) + 0.5))
    return max(12, round(fits * rng.uniform(0.55, 0.8)))


def line_gaps(rng: np.random.Generator, height: int, count: int) -> list[float]:
    return [height * float(rng.uniform(0.04, 0.3)) for _ in range(count - 1)]


def line_span(drawn: Sequence[Drawn], gaps: Sequence[float]) -> float:
    return sum(right - left for _, left, _, right in (ink_bounds(c) for c, _ in drawn)) + sum(gaps)


def line_start(rng: np.random.Generator, size: tuple[int, int], span: float, height: int) -> tuple[float, float]:
    """Where a single line of writing `span` px long starts (x) and its baseline: anywhere, 10 % from
    the photo's edges."""
    page_width, page_height = size
    margin = 0.1
    x = rng.uniform(margin * page_width, max(margin * page_width, (1 - margin) * page_width - span))
    baseline = rng.uniform(margin * page_height + height, max(margin * page_height + height,
                                                               (1 - margin) * page_height))
    return float(x), float(baseline)


def sheet_starts(rng: np.random.Generator, size: tuple[int, int], spans: Sequence[float], height: int,
                 pitch: float) -> list[tuple[float, float]]:
    """Where each of several lines starts (x) and its baseline: lines `pitch` px apart, each starting
    near the same left margin, the block placed where it fits on the page."""
    page_width, page_height = size
    block = (len(spans) - 1) * pitch + height
    top = rng.uniform(0.05 * page_height, max(0.05 * page_height, 0.95 * page_height - block))
    left = rng.uniform(0.05 * page_width, max(0.05 * page_width, 0.95 * page_width - max(spans)))
    return [(float(max(0.0, left + rng.uniform(-0.15, 0.15) * height)), float(top + height + index * pitch))
            for index in range(len(spans))]


def paste(page: np.ndarray, glyph: np.ndarray, row: int, col: int) -> None:
    """Ink `glyph` onto `page` with its top-left corner at (row, col); what falls outside is cut off."""
    top, left = max(0, row), max(0, col)
    bottom, right = min(page.shape[0], row + glyph.shape[0]), min(page.shape[1], col + glyph.shape[1])
    if bottom > top and right > left:
        part = glyph[top - row:bottom - row, left - col:right - col]
        np.maximum(page[top:bottom, left:right], part, out=page[top:bottom, left:right])


def put_line(rng: np.random.Generator, page: np.ndarray, drawn: Sequence[Drawn], gaps: Sequence[float],
             start: tuple[float, float], height: int, jitter: bool) -> list[Bounds]:
    """Ink one line of symbols onto `page` from `start` (x, baseline), each on the baseline give or take
    6 % of the height when `jitter`; returns each symbol's ink bounds on the page."""
    x, baseline = start
    bounds = []
    for index, (coverage, base) in enumerate(drawn):
        top, left, bottom, right = ink_bounds(coverage)
        bottom_at = round(baseline + (rng.uniform(-0.06, 0.06) * height if jitter else 0))
        row, col = bottom_at - base, round(x) - left
        paste(page, coverage, row, col)
        bounds.append((row + top, col + left, row + bottom, col + right))
        x += right - left + (gaps[index] if index < len(gaps) else 0)
    return bounds
