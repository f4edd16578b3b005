"""Digits drawn with a pen, as on the web app's pad, and a small model that reads such drawings.

The model stands in for the trained one where the pipeline has not run (a fresh clone in CI): it is
trained in seconds on jittered drawings of the skeletons below, each turned into its 28x28 frame by the
same photo → digits path the app uses. It checks the app's plumbing (pointer moves → canvas → API →
number shown), not how well MNIST was learned; that is the end-to-end tests' job.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_dvc.photo.frame import digit_frame
from tests.helpers.params import section

Stroke = list[tuple[float, float]]


def ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 16) -> Stroke:
    return [(cx + rx * math.sin(2 * math.pi * k / points), cy - ry * math.cos(2 * math.pi * k / points))
            for k in range(points + 1)]


# Each digit's pen strokes in a unit box (x right, y down).
SKELETONS: dict[int, list[Stroke]] = {
    0: [ellipse(0.5, 0.5, 0.38, 0.5)],
    1: [[(0.5, 0.0), (0.5, 1.0)]],
    2: [[(0.12, 0.25), (0.3, 0.04), (0.6, 0.0), (0.85, 0.2), (0.8, 0.45), (0.12, 1.0), (0.92, 1.0)]],
    3: [[(0.12, 0.1), (0.5, 0.0), (0.82, 0.15), (0.75, 0.4), (0.42, 0.5), (0.82, 0.6), (0.88, 0.85),
         (0.5, 1.0), (0.12, 0.9)]],
    4: [[(0.68, 1.0), (0.68, 0.0), (0.08, 0.7), (0.92, 0.7)]],
    5: [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.45), (0.55, 0.38), (0.86, 0.6), (0.8, 0.9), (0.45, 1.0), (0.12, 0.9)]],
    6: [[(0.75, 0.0), (0.35, 0.3), (0.2, 0.7), (0.4, 1.0), (0.75, 0.92), (0.8, 0.65), (0.5, 0.5), (0.22, 0.66)]],
    7: [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    8: [ellipse(0.5, 0.24, 0.28, 0.24), ellipse(0.5, 0.73, 0.33, 0.27)],
    9: [ellipse(0.45, 0.28, 0.3, 0.28), [(0.75, 0.28), (0.7, 1.0)]],
}


def jittered(strokes: list[Stroke], rng: np.random.Generator) -> list[Stroke]:
    """The strokes narrowed, sheared, rotated and wobbled a little, as a hand would."""
    width = rng.uniform(0.75, 1.15)
    shear = rng.uniform(-0.25, 0.25)
    angle = math.radians(rng.uniform(-12, 12))
    cos, sin = math.cos(angle), math.sin(angle)
    result = []
    for stroke in strokes:
        moved = []
        for x, y in stroke:
            x, y = (x - 0.5) * width + shear * (0.5 - y), y - 0.5
            x, y = x + rng.normal(0, 0.02), y + rng.normal(0, 0.02)
            moved.append((0.5 + cos * x - sin * y, 0.5 + sin * x + cos * y))
        result.append(moved)
    return result


def draw(number: str, width: int, height: int, pen: float = 0.055, rng: np.random.Generator | None = None,
         paper: int = 255, ink: int = 0) -> Image.Image:
    """`number`'s digits drawn side by side on a width x height page, the pen `pen` x height wide."""
    page = Image.new("L", (width, height), paper)
    pencil = ImageDraw.Draw(page)
    digit_height = 0.6 * height
    step = width / (len(number) + 1)
    for index, char in enumerate(number):
        strokes = SKELETONS[int(char)] if rng is None else jittered(SKELETONS[int(char)], rng)
        left, top = step * (index + 1) - 0.3 * digit_height, 0.2 * height
        for stroke in strokes:
            points = [(left + x * 0.6 * digit_height, top + y * digit_height) for x, y in stroke]
            pencil.line(points, fill=ink, width=max(1, round(pen * height)), joint="curve")
    return page


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def training_frames(per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 frames of jittered drawings, through the app's own framing, and their digits."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for _ in range(per_digit):
        for digit in range(10):
            side = 96
            glyph = Image.new("L", (side, side), 0)
            pencil = ImageDraw.Draw(glyph)
            pen = round(side * rng.uniform(0.05, 0.14))
            for stroke in jittered(SKELETONS[digit], rng):
                pencil.line([(27 + x * 42, 12 + y * 72) for x, y in stroke], fill=255, width=pen, joint="curve")
            frames.append(digit_frame(np.asarray(glyph) > 127))
            labels.append(digit)
    return np.stack(frames), np.array(labels, np.uint8)


def train_stroke_model(path: Path, per_digit: int = 120, seed: int = 0) -> Path:
    """A 784-64-11 network trained on drawn digits (never on "not a digit"), saved at `path`."""
    from tensorflow import keras

    from mnist_dvc import network
    from mnist_dvc.mnist import scale_pixels

    frames, labels = training_frames(per_digit, seed)
    keras.utils.set_random_seed(seed)
    model = network.build_model(section("train", hidden_units=(64,), dropout=0.0))
    model.compile(optimizer=keras.optimizers.Adam(0.003),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), steps_per_execution=32)
    model.fit(scale_pixels(frames), labels, epochs=25, batch_size=64, verbose=0)
    network.write_model(model, path)
    return path
