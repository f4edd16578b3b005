"""One consistent synthetic hand, drawn from strokes (no font, no MNIST image), and sheets of it as photos.

The hand has habits MNIST writers mostly lack: a strong right slant, a 1 with a long flag and a foot,
a slashed 0, a 2 with a loop, a flat-topped 3, a closed 4 drawn in one stroke, a 6 and a 9 with
small loops, a 7 with a crossbar. Each digit is drawn with small random
wobbles, so no two samples are the same. Used by the tests and to measure learning from own digits:

    python -m tests.helpers.hand SHEET.jpg [--lines 2] [--seed 0]

writes a photo of LINES lines of 0123456789 in this hand.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 12) -> list:
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, steps)]


# Each digit's strokes as polylines in a unit box (x right, y down).
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.32, 0.5, -90, 275, 20), [(0.85, 0.0), (0.15, 1.0)]],
    1: [[(0.0, 0.45), (0.6, 0.0), (0.6, 1.0)], [(0.2, 1.0), (1.0, 1.0)]],
    2: [[*_arc(0.5, 0.28, 0.32, 0.28, 200, 380, 10), (0.15, 0.95), *_arc(0.28, 0.88, 0.12, 0.1, 0, 360, 8),
         (0.95, 0.98)]],
    3: [[(0.15, 0.0), (0.85, 0.0), (0.4, 0.42), *_arc(0.5, 0.7, 0.34, 0.28, 270, 510, 10)]],
    4: [[(0.7, 0.6), (0.15, 0.6), (0.6, 0.0), (0.7, 1.0)]],
    5: [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.45), *_arc(0.5, 0.7, 0.35, 0.3, 240, 500, 12)]],
    6: [[(0.9, 0.0), (0.3, 0.5), (0.35, 0.9), *_arc(0.5, 0.82, 0.17, 0.15, 180, 540, 12)]],
    7: [[(0.0, 0.2), (0.1, 0.05), (0.9, 0.0), (0.3, 1.0)], [(0.25, 0.5), (0.9, 0.5)]],
    8: [_arc(0.5, 0.25, 0.27, 0.25, 90, 450, 14) + _arc(0.5, 0.73, 0.33, 0.27, -90, 270, 14)],
    9: [[*_arc(0.55, 0.18, 0.22, 0.17, 0, 360, 14), (0.77, 0.18), (0.6, 1.0)]],
}
SLANT = 0.55  # x moves right by 0.55 x height from bottom to top


def glyph_points(digit: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The digit's strokes with this hand's slant and one sample's wobble, in the unit box."""
    stretch, shift = rng.normal(1, 0.04, 2), rng.normal(0, 0.03, 2)
    strokes = []
    for line in STROKES[digit]:
        points = np.array(line) * stretch + shift + rng.normal(0, 0.015, (len(line), 2))
        points[:, 0] += SLANT * (1 - points[:, 1]) - SLANT / 2
        strokes.append(points)
    return strokes


def draw_digit(pen: ImageDraw.ImageDraw, digit: int, left: float, top: float, height: float, width: int,
               rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    for points in glyph_points(digit, rng):
        pen.line([(left + x * height * 0.6, top + y * height) for x, y in points], fill=ink, width=width,
                 joint="curve")


def sheet(lines: list[str], seed: int = 0, height: int = 70) -> Image.Image:
    """A photo of the given lines of digits in this hand: blue ballpoint on off-white paper, uneven light."""
    rng = np.random.default_rng(seed)
    pitch, gap = height * 0.95, height * 0.9
    size = (int(60 + pitch * max(map(len, lines))), int(60 + (height + gap) * len(lines)))
    image = Image.new("RGB", size, (238, 234, 222))
    pen = ImageDraw.Draw(image)
    for row, text in enumerate(lines):
        for column, char in enumerate(text):
            left = 40 + column * pitch + rng.normal(0, 3)
            top = 40 + row * (height + gap) + rng.normal(0, 3)
            draw_digit(pen, int(char), left, top, height * rng.uniform(0.92, 1.05), 4, rng, (30, 40, 120))
    pixels = np.asarray(image, np.float32)
    ys, xs = np.mgrid[0:size[1], 0:size[0]]
    light = 1 - 0.18 * (xs / size[0]) * (ys / size[1])  # darker towards one corner
    pixels = pixels * light[..., None] + rng.normal(0, 3, pixels.shape)
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return photo.filter(ImageFilter.GaussianBlur(0.8))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.helpers.hand", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sheet(["0123456789"] * args.lines, args.seed).save(args.path, quality=90)


if __name__ == "__main__":
    main()
