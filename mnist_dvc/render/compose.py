"""All of it: a photo of what is written (MNIST digits, a font's symbols, marks, or nothing), made by the
steps in order: pen, page (and its printing), camera, light, sensor, file.

Every random choice comes from the numpy Generator passed in, so a seed gives the same photo, byte for
byte. A photo of MNIST digits on plain paper with every default draws exactly what it drew before the
papers, fonts, marks and far-away cameras were added.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_dvc.render import camera, light, page, papers, sensor
from mnist_dvc.render.conditions import SIDES, Conditions, Rendered, draw_conditions
from mnist_dvc.render.fonts import font_coverage
from mnist_dvc.render.marks import MARKS, mark_coverage
from mnist_dvc.render.pen import mnist_coverage


@dataclass(frozen=True)
class Glyph:
    """One thing written: an MNIST digit (`image`), a symbol in a font (`font`, a font file's path), or
    a mark drawn by hand (neither; `symbol` is the mark's name, one of marks.MARKS)."""

    symbol: str
    image: np.ndarray | None = None  # 28x28 uint8, white on black as in MNIST
    font: str | None = None

    def __post_init__(self) -> None:
        if self.image is None and self.font is None and self.symbol not in MARKS:
            raise ValueError(f"{self.symbol!r}: not a mark ({', '.join(MARKS)}); give an image or a font")


def mnist_glyphs(digits: Sequence[np.ndarray], labels: Sequence[int]) -> tuple[Glyph, ...]:
    return tuple(Glyph(str(int(label)), image=np.asarray(digit)) for digit, label in zip(digits, labels, strict=True))


def font_glyphs(text: str, font: str) -> tuple[Glyph, ...]:
    """Each character of `text` written in the font file `font`."""
    return tuple(Glyph(symbol, font=str(font)) for symbol in text)


@dataclass(frozen=True)
class Layout:
    """How large the writing and the photo are. The defaults: a note photographed from near by."""

    digit_height: tuple[float, float] | None = None  # px in the final photo; None: 15-50 % of the photo
    sides: tuple[int, int] = SIDES  # the longer side of the photo as taken, in px
    spacing: tuple[float, float] = (1.3, 1.6)  # several lines: baseline to baseline, in digit heights


# A digit's height over the printed lines' distance: on ruled paper a digit fills most of a line and
# sometimes crosses the line above; on squared paper (5 mm) it spans one or two squares.
SHEET_FILL = {"ruled": (0.6, 1.15), "squared": (0.8, 2.2)}


def draw_glyph(rng: np.random.Generator, glyph: Glyph, height: int, conditions: Conditions, jitter: bool,
               hand_slant: float) -> page.Drawn:
    """The glyph's pen coverage for a digit `height` px tall, and its baseline row. With `jitter`, each
    symbol's own size (±10 %) and slant (±6°) vary, and a font's symbols turn a little (±4°)."""
    own = round(height * (rng.uniform(0.9, 1.1) if jitter else 1.0))
    width = max(1.2, conditions.pen_ratio * own)
    slant = float(rng.uniform(-6, 6)) if jitter else 0.0
    if glyph.image is not None:
        coverage = mnist_coverage(rng, glyph.image, own, width, slant, conditions.ink, conditions.pen)
        return coverage, page.ink_bounds(coverage)[2]
    if glyph.font is not None:
        rotation = float(rng.uniform(-4, 4)) if jitter else 0.0
        return font_coverage(rng, glyph.font, glyph.symbol, own, width, hand_slant + slant / 2, rotation,
                             conditions.ink, conditions.pen)
    coverage = mark_coverage(rng, glyph.symbol, own, width, slant, conditions.ink, conditions.pen)
    return coverage, page.ink_bounds(coverage)[2]


@dataclass(frozen=True)
class Writing:
    """The page with the writing on it, and where the paper's printing must go to sit under it."""

    size: tuple[int, int]  # width, height
    ink: np.ndarray  # (height, width) pen coverage
    bounds: list[page.Bounds]  # each symbol's
    height: int  # of a digit
    baseline: float  # the first line's
    left: float  # the writing's left edge
    pitch: float  # baseline to baseline of several lines; 0 for one line


def write(rng: np.random.Generator, lines: Sequence[Sequence[Glyph]], conditions: Conditions,
          layout: Layout) -> Writing:
    """Every line of glyphs drawn and placed on a page of the photo's size."""
    count = sum(len(line) for line in lines)
    scale = conditions.resolution_scale
    several = len(lines) > 1
    size = page.photo_size(rng, max(count, 1), layout.sides)
    spacing = 0.0
    if several:
        spacing = float(rng.uniform(*layout.spacing))
        if len(lines) >= 5 and size[0] > size[1]:
            size = size[::-1]
        height = page.sheet_height(rng, size, [len(line) for line in lines], spacing)
    elif layout.digit_height is None:
        height = page.digit_height(rng, size, max(count, 1))
    else:
        height = max(8, round(rng.uniform(*layout.digit_height) / scale))
    hand_slant = float(rng.uniform(-10, 15)) if any(g.font for line in lines for g in line) else 0.0
    jitter = count > 1
    drawn = [[draw_glyph(rng, glyph, height, conditions, jitter, hand_slant) for glyph in line] for line in lines]
    gaps = [page.line_gaps(rng, height, len(line)) for line in drawn]
    spans = [page.line_span(line, line_gaps) for line, line_gaps in zip(drawn, gaps, strict=True)]
    if several:
        starts = page.sheet_starts(rng, size, spans, height, spacing * height)
    else:
        starts = [page.line_start(rng, size, spans[0] if spans else 0.0, height)]
    ink = np.zeros((size[1], size[0]), np.float32)
    bounds = [bound for line, line_gaps, start in zip(drawn, gaps, starts, strict=False)
              for bound in page.put_line(rng, ink, line, line_gaps, start, height, jitter)]
    return Writing(size, ink, bounds, height, starts[0][1], min(start[0] for start in starts), spacing * height)


def printing(rng: np.random.Generator, conditions: Conditions, writing: Writing) -> list:
    """The paper's printed layers (none for plain paper: nothing is drawn from `rng` then)."""
    if conditions.sheet == "plain":
        return []
    if not writing.bounds:  # a blank page: 6 to 18 lines across its shorter side
        pitch = min(writing.size) / rng.uniform(6, 18)
    elif writing.pitch:  # several lines: one on every ruled line, or on every other line of squares
        pitch = writing.pitch if conditions.sheet == "ruled" else writing.pitch / 2
    else:
        pitch = writing.height / rng.uniform(*SHEET_FILL[conditions.sheet])
    return papers.sheet_layers(rng, conditions.sheet, writing.size, pitch, writing.baseline, writing.left)


def render_glyphs(lines: Sequence[Sequence[Glyph]], rng: np.random.Generator,
                  conditions: Conditions | None = None, layout: Layout = Layout()) -> Rendered:
    """A photo of `lines` of glyphs (no lines: a blank page), with its ground truth.

    Public and pure, for benchmarks and for making training photos alike: the same glyphs, Generator
    state, conditions and layout give the same bytes. `conditions` defaults to ones drawn from `rng`.
    """
    lines = [tuple(line) for line in lines if len(line)]
    conditions = conditions or draw_conditions(rng)
    writing = write(rng, lines, conditions, layout)
    size, bounds = writing.size, writing.bounds
    printed_page = printing(rng, conditions, writing)
    transform = camera.camera_view(rng, size, conditions.rotation)
    blur = conditions.blur_sigma * max(size) / 1000
    kernel = camera.optics_kernel(rng, conditions.optics, conditions.optics_pixels / conditions.resolution_scale)
    reach = 0 if kernel is None else kernel.shape[0] // 2
    region = camera.ink_region(bounds, transform, size, margin=math.ceil(3 * blur) + 2 + reach)
    ink = camera.photograph(writing.ink, transform, region, blur, kernel)
    whole = (0, 0, size[0], size[1])
    printed = [(camera.photograph(layer, transform, whole, blur, kernel), rgb) for layer, rgb in printed_page]
    exposure = np.float32(255 * rng.uniform(0.8, 1.0))
    lighting = light.illumination(rng, conditions.light, size, blur) * light.paper_texture(rng, size) * exposure
    image = sensor.expose(rng, conditions, lighting, ink, region, printed)
    boxes = tuple(camera.seen_box(bound, transform, size) for bound in bounds)
    data = sensor.encode(image, conditions)
    if conditions.resolution != "full":
        image, data = sensor.resend(data, conditions)
        boxes = tuple(scaled_box(box, conditions.resolution_scale) for box in boxes)
    symbols = tuple(glyph.symbol for line in lines for glyph in line)
    return Rendered(image, data, symbols, boxes, conditions, tuple(len(line) for line in lines))


def scaled_box(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    left, top, width, height = box
    return (math.floor(left * scale), math.floor(top * scale),
            max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))


def render_photo(digits: Sequence[np.ndarray], labels: Sequence[int], rng: np.random.Generator,
                 conditions: Conditions | None = None, layout: Layout = Layout()) -> Rendered:
    """A photo of `digits` (28x28 uint8, white on black as in MNIST) written left to right on one line.

    One digit gives a photo of a single digit. `conditions` defaults to ones drawn from `rng`.
    """
    if len(digits) == 0 or len(digits) != len(labels):
        raise ValueError(f"need one label per digit and at least one digit, got {len(digits)} and {len(labels)}")
    return render_glyphs([mnist_glyphs(digits, labels)], rng, conditions, layout)
