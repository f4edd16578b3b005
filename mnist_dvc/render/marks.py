"""Marks that are not digits, drawn by hand with the pen: a tick, a cross, a star, a tick in a box, an
arrow, a dash, a wavy line and scribbles. Each is a few strokes in a unit box, wobbled as a hand draws
them, and traced by the same pen as the MNIST digits (pen.pen_coverage)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from mnist_dvc.render.pen import pen_coverage, pen_texture

Stroke = np.ndarray  # (n, 2) points (x, y) in a unit box, y down


def tick(rng: np.random.Generator) -> list[Stroke]:
    corner = (rng.uniform(0.25, 0.45), rng.uniform(0.85, 1.0))
    return [np.array([(0.0, rng.uniform(0.45, 0.65)), corner, (rng.uniform(0.85, 1.0), 0.0)])]


def cross(rng: np.random.Generator) -> list[Stroke]:
    lean = rng.uniform(-0.1, 0.1)
    return [np.array([(0.0 + lean, 0.0), (1.0 - lean, 1.0)]), np.array([(1.0 + lean, 0.0), (0.0 - lean, 1.0)])]


def star(rng: np.random.Generator) -> list[Stroke]:
    """A five-pointed star drawn in one stroke, as a pentagram."""
    start = rng.uniform(-0.2, 0.2) - math.pi / 2
    angles = start + np.arange(6) * 4 * math.pi / 5
    return [np.column_stack([0.5 + 0.5 * np.cos(angles), 0.5 + 0.5 * np.sin(angles)])]


def box_tick(rng: np.random.Generator) -> list[Stroke]:
    square = np.array([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.02)])
    inner = tick(rng)[0] * 0.8 + 0.1 + np.array([0.1, -0.25])
    return [square, inner]


def arrow(rng: np.random.Generator) -> list[Stroke]:
    tip_y = rng.uniform(0.35, 0.65)
    return [np.array([(0.0, rng.uniform(0.4, 0.6)), (1.0, tip_y)]),
            np.array([(0.7, tip_y - 0.3), (1.0, tip_y), (0.7, tip_y + 0.3)])]


def dash(rng: np.random.Generator) -> list[Stroke]:
    return [np.array([(0.0, 0.5), (1.0, 0.5 + rng.uniform(-0.08, 0.08))])]


def wave(rng: np.random.Generator) -> list[Stroke]:
    x = np.linspace(0, 1, 40)
    turns = rng.uniform(1.5, 3.5)
    return [np.column_stack([x, 0.5 + 0.25 * np.sin(2 * math.pi * turns * x + rng.uniform(0, math.pi))])]


def scribble(rng: np.random.Generator) -> list[Stroke]:
    """A scrawl: the pen going back and forth across a patch (as when crossing something out), or a
    tangle of loops with a drifting centre and radius."""
    if rng.uniform() < 0.5:
        turns = int(rng.integers(5, 14))
        x = np.sort(rng.uniform(0, 1, turns + 1)) + rng.normal(0, 0.05, turns + 1)
        low, high = rng.uniform(0.0, 0.25, turns + 1), rng.uniform(0.75, 1.0, turns + 1)
        y = np.where(np.arange(turns + 1) % 2 == 0, low, high)
        return [np.column_stack([x, y])]
    steps = int(rng.integers(80, 200))
    t = np.linspace(0, rng.uniform(4, 10) * 2 * math.pi, steps)
    drift = np.linspace(0, 1, steps)
    radius = 0.2 + 0.15 * np.sin(t / rng.uniform(3, 7))
    x = drift + radius * np.cos(t)
    y = 0.5 + rng.uniform(0.5, 1.0) * radius * np.sin(t) + 0.1 * np.sin(t / rng.uniform(2, 5))
    return [np.column_stack([x, y])]


MARKS = {"tick": tick, "cross": cross, "star": star, "box_tick": box_tick, "arrow": arrow, "dash": dash,
         "wave": wave, "scribble": scribble}
# width / height of each mark's box (a dash is long and low; a wave and a scribble wide)
ASPECTS = {"tick": (0.7, 1.0), "cross": (0.7, 1.1), "star": (0.9, 1.1), "box_tick": (0.9, 1.1),
           "arrow": (1.5, 2.5), "dash": (1.0, 2.0), "wave": (2.0, 3.5), "scribble": (1.2, 2.5)}
HEIGHTS = {"dash": 0.08, "wave": 0.4, "arrow": 0.5}  # a mark's height as a share of a digit's, where not 1


def dense(stroke: Stroke, step: float) -> np.ndarray:
    """Points along the stroke about `step` apart (its corners kept)."""
    pieces = [stroke[:1]]
    for a, b in itertools.pairwise(stroke):
        count = max(1, math.ceil(float(np.hypot(*(b - a))) / step))
        pieces.append(a + (b - a) * (np.arange(1, count + 1)[:, None] / count))
    return np.concatenate(pieces)


def mark_strokes(rng: np.random.Generator, name: str, height: float) -> list[np.ndarray]:
    """The strokes of mark `name` for a digit `height` px tall, in pixels (x, y), wobbled by the hand."""
    aspect = rng.uniform(*ASPECTS[name])
    box_height = height * HEIGHTS.get(name, 1.0) * rng.uniform(0.8, 1.1)
    scale = np.array([box_height * aspect, max(box_height, 1.0)])
    placed = []
    for stroke in MARKS[name](rng):
        points = dense(stroke * scale, max(1.0, height / 40))
        wobble = np.cumsum(rng.normal(0, 0.004 * height, points.shape), axis=0)
        placed.append(points + wobble - wobble.mean(axis=0))
    return placed


def mark_coverage(rng: np.random.Generator, name: str, height: int, width: float, slant: float, ink: str,
                  pen: str) -> np.ndarray:
    """Mark `name` drawn for a digit `height` px tall with a pen `width` px wide, turned by `slant` degrees."""
    strokes = mark_strokes(rng, name, height)
    points = np.concatenate([stroke[:, ::-1] for stroke in strokes])  # pen_coverage takes (row, col)
    pairs, start = [], 0
    for stroke in strokes:
        pairs += [(start + i, start + i + 1) for i in range(len(stroke) - 1)]
        start += len(stroke)
    coverage = pen_coverage(points, np.array(pairs, np.int64).reshape(-1, 2), 1.0, slant, width)
    return pen_texture(rng, coverage, ink, pen, height)
