"""Stage glyph_frames: letters, signs, marks and digits of the training font families, framed as the photo
path frames what it finds (mnist_dvc.photo.frame), with no photo in between.

Rendering and reading whole photos (the photo_frames stage) is slow, so it yields few of the shapes a
reader must learn to turn down; a glyph drawn straight into a mask costs a millisecond. Each symbol of
each training family (params' fonts.train, never the validation or test ones) is drawn several times,
slanted, turned and with a pen of its own width, and so is each hand-drawn mark (ticks, stars,
scribbles, ...). Letters a person would read as a digit (O, I, l, Z, S, b, G, B, g, q and the like) are
left out, as the photo benchmark leaves them out. Labels: the digit, or 10 for what is not a digit.
Writes data/prepared/glyph_frames.npz: x, y.
"""

from __future__ import annotations

import numpy as np

from mnist_dvc import params
from mnist_dvc.benchmark.parts import LETTERS, SIGNS
from mnist_dvc.errors import run_main
from mnist_dvc.files import save_npz
from mnist_dvc.mnist import NOT_A_DIGIT
from mnist_dvc.paths import FONTS, GLYPH_FRAMES
from mnist_dvc.photo.frame import digit_frame
from mnist_dvc.render import MARKS, family_fonts
from mnist_dvc.render.fonts import glyph_image, with_stroke_width
from mnist_dvc.render.marks import mark_coverage

HEIGHT = 60  # px: a digit drawn this tall, then framed at 20 px like every other
PEN_WIDTHS = (0.04, 0.2)  # the pen's width as a share of a digit's height, fine pen to marker


def glyph_frame(rng: np.random.Generator, font: str, symbol: str) -> np.ndarray:
    """One symbol of a font, slanted, turned and re-stroked at random, as a 28x28 frame."""
    glyph, _ = glyph_image(font, symbol, HEIGHT, float(rng.uniform(-15, 20)), float(rng.uniform(-8, 8)))
    stroked = with_stroke_width(glyph, float(rng.uniform(*PEN_WIDTHS)) * HEIGHT)
    return digit_frame(stroked >= 0.5)


def mark_frame(rng: np.random.Generator, name: str) -> np.ndarray:
    width = float(rng.uniform(*PEN_WIDTHS)) * HEIGHT
    coverage = mark_coverage(rng, name, HEIGHT, width, float(rng.uniform(-20, 20)), "black", "felt")
    return digit_frame(coverage >= 0.5)


def frames(fonts: dict[str, str], variants: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every family's digits and non-digits, `variants` times each, and as many marks of each kind."""
    rng = np.random.default_rng(seed)
    shown, labels = [], []
    for family in sorted(fonts):
        for symbol in "0123456789" + LETTERS + SIGNS:
            for _ in range(variants):
                frame = glyph_frame(rng, fonts[family], symbol)
                if frame.any():
                    shown.append(frame)
                    labels.append(int(symbol) if symbol.isdigit() else NOT_A_DIGIT)
    for name in sorted(MARKS):
        for _ in range(variants * len(fonts)):
            shown.append(mark_frame(rng, name))
            labels.append(NOT_A_DIGIT)
    return np.stack(shown), np.array(labels, np.uint8)


def main() -> None:
    config = params.load("glyph_frames")
    fonts = params.load("fonts")
    x, y = frames(family_fonts(FONTS, fonts.train), config.variants, config.seed)
    save_npz(GLYPH_FRAMES, {"x": x, "y": y})
    print(f"glyph_frames: {len(y)} frames ({int((y == NOT_A_DIGIT).sum())} not a digit) from "
          f"{len(fonts.train)} training font families")


if __name__ == "__main__":
    run_main(main, outputs=(GLYPH_FRAMES,))
