"""The paper's printing: plain (none), ruled (lines a line's height apart, sometimes a red margin) and
squared (a grid). Drawn on the page, in the page's pixels, before the camera sees it; the writing sits on
the lines because the lines are placed under the writing's baselines."""

from __future__ import annotations

import numpy as np

from mnist_dvc.render.conditions import uniform_rgb

# The printing's colours, as the share of red, green and blue light they reflect.
RULE_COLOURS = {"blue": ((0.55, 0.7, 0.88), (0.78, 0.88, 0.97)),
                "grey": ((0.62, 0.62, 0.64), (0.82, 0.82, 0.84))}
MARGIN_COLOUR = ((0.8, 0.3, 0.35), (0.95, 0.5, 0.55))
RULE_WIDTH = (0.012, 0.03)  # a printed line's width as a share of the distance between lines
MARGIN_SHARE = 0.5  # of ruled pages have a red margin line (when the writing leaves room for it)


def line_profile(length: int, positions: np.ndarray, width: float, strength: float) -> np.ndarray:
    """How much ink each pixel along one axis gets from lines at `positions`, `width` px wide,
    anti-aliased over one pixel."""
    if positions.size == 0:
        return np.zeros(length, np.float32)
    centres = np.arange(length, dtype=np.float32) + np.float32(0.5)
    nearest = np.abs(centres[:, None] - positions[None, :].astype(np.float32)).min(axis=1)
    return (np.clip(width / 2 - nearest + 0.5, 0, 1) * strength).astype(np.float32)


def every(pitch: float, phase: float, length: int) -> np.ndarray:
    """The positions phase + k * pitch inside 0..length, for every whole k."""
    first = phase - np.floor(phase / pitch) * pitch
    return np.arange(first, length, pitch)


def sheet_layers(rng: np.random.Generator, sheet: str, size: tuple[int, int], pitch: float, baseline: float,
                 writing_left: float) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
    """The printed layers of a `sheet` of `size` (width, height): each a (height, width) coverage in 0..1
    and its colour. Ruled lines (or the grid's rows) run `pitch` px apart through `baseline`; a ruled
    page's margin line, when drawn, is left of `writing_left`. Plain paper has none and draws nothing."""
    if sheet == "plain":
        return []
    width, height = size
    colour = RULE_COLOURS[str(rng.choice(tuple(RULE_COLOURS)))]
    rgb = uniform_rgb(rng, colour)
    line_width = max(1.0, float(rng.uniform(*RULE_WIDTH)) * pitch)
    strength = float(rng.uniform(0.7, 1.0))
    rows = line_profile(height, every(pitch, baseline, height), line_width, strength)
    if sheet == "ruled":
        layers = [(np.broadcast_to(rows[:, None], (height, width)).copy(), rgb)]
        margin_at = writing_left - float(rng.uniform(0.3, 1.0)) * pitch
        if rng.uniform() < MARGIN_SHARE and margin_at > 0.03 * width:
            columns = line_profile(width, np.array([margin_at]), line_width * 1.2, strength)
            layers.append((np.broadcast_to(columns[None, :], (height, width)).copy(),
                           uniform_rgb(rng, MARGIN_COLOUR)))
        return layers
    columns = line_profile(width, every(pitch, float(rng.uniform(0, pitch)), width), line_width, strength)
    return [(np.maximum(rows[:, None], columns[None, :]), rgb)]
