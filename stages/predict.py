"""Classify photographed or scanned handwritten digits with models/model.keras.

    python -m stages.predict PATH... [--json] [--show-input DIR] [--csv FILE] [--model FILE]

Each PATH is an image file (PNG, JPEG, BMP, GIF, TIFF, WebP) or a folder of them. A photo of ink on
paper is turned into an MNIST-style image first, the way MNIST itself was made: grayscale, ink found
and paper noise suppressed, cropped to the ink, scaled so the longer side is 20 pixels, placed in a
28x28 frame with the ink's centre of mass at the centre, then scaled to 0..1 as the normalize stage does.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from mnist_dvc.common import (
    IMAGE_SIZE,
    UserError,
    atomic_path,
    class_probabilities,
    load_model,
    scale_pixels,
    write_text_atomic,
)

MODEL = Path("models/model.keras")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; larger is refused before it is decoded
DIGIT_BOX = 20  # MNIST: the longer side of the digit fills 20 of the 28 pixels
INK_MASS_TRIM = 0.005  # ignore this share of ink mass at each edge when cropping (stray specks)


@dataclass(frozen=True)
class Prediction:
    path: str
    digit: int
    probability: float
    runners_up: list[tuple[int, float]]

    def as_dict(self) -> dict:
        return {"path": self.path, "digit": self.digit, "probability": round(self.probability, 6),
                "runners_up": [{"digit": d, "probability": round(p, 6)} for d, p in self.runners_up]}

    def as_line(self) -> str:
        others = ", ".join(f"{d} ({percent(p)})" for d, p in self.runners_up)
        return f"{self.path}: {self.digit} ({percent(self.probability)}); runners-up: {others}"


def percent(probability: float) -> str:
    return f"{probability:.1%}" if probability >= 0.001 else "<0.1%"


# --- preprocessing ------------------------------------------------------------------------------

def read_grayscale(path: Path) -> np.ndarray:
    """The image as float 0..255 grayscale, transparent parts as white paper; UserError if unreadable."""
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UserError(f"{path}: {image.width}x{image.height} pixels is larger than the "
                                f"{MAX_PIXELS // 1_000_000}-megapixel limit; scale it down first")
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, "white")
                image = Image.alpha_composite(paper, rgba)
            return np.asarray(image.convert("L"), dtype=np.float32)
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise UserError(f"{path}: not a readable image ({type(error).__name__})") from None


def otsu_threshold(values: np.ndarray) -> float:
    """The threshold on 0..255 values that best separates two classes (Otsu's method)."""
    histogram = np.bincount(np.clip(values, 0, 255).astype(np.int64).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight_low = np.cumsum(histogram)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(histogram * levels)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(np.argmax(between))


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength 0..1 per pixel, paper 0: polarity from the border, noise smoothed and cut off."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    ink = paper - gray if paper > 127 else gray - paper
    ink = np.clip(ink, 0, None)
    radius = max(gray.shape) / 200
    if radius >= 0.5:
        smoothed = Image.fromarray(np.round(ink).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
        ink = np.asarray(smoothed, dtype=np.float32)
    strongest = float(np.percentile(ink, 99.5))
    if strongest < 24:  # less contrast than this is paper texture or sensor noise, not a pen stroke
        return np.zeros_like(ink)
    threshold = otsu_threshold(ink * (255 / strongest)) * strongest / 255
    ink = np.where(ink > threshold, ink, 0)
    return np.clip(ink / strongest, 0, 1)


def ink_bounds(mass: np.ndarray) -> tuple[int, int]:
    """First and last index holding the ink along one axis, ignoring a sliver of mass at each end."""
    cumulative = np.cumsum(mass) / mass.sum()
    first = int(np.searchsorted(cumulative, INK_MASS_TRIM))
    last = int(np.searchsorted(cumulative, 1 - INK_MASS_TRIM))
    return first, max(first, last)


def to_mnist_frame(ink: np.ndarray, source: str) -> np.ndarray:
    """Crop to the ink, scale the longer side to 20 px (anti-aliased), centre the mass in 28x28 uint8."""
    if not ink.any():
        raise UserError(f"{source}: no ink found (blank or uniform image)")
    top, bottom = ink_bounds(ink.sum(axis=1))
    left, right = ink_bounds(ink.sum(axis=0))
    crop = ink[top:bottom + 1, left:right + 1]
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    glyph = Image.fromarray(np.round(crop * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    glyph_array = np.asarray(glyph, dtype=np.float32)

    frame = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    top_left = [(IMAGE_SIZE - n) // 2 for n in glyph_array.shape]
    rows, cols = np.indices(glyph_array.shape)
    total = glyph_array.sum() or 1.0
    centre = np.array([(rows * glyph_array).sum(), (cols * glyph_array).sum()]) / total
    for axis in (0, 1):
        wanted = round(IMAGE_SIZE / 2 - 0.5 - centre[axis])
        top_left[axis] = int(np.clip(wanted, 0, IMAGE_SIZE - glyph_array.shape[axis]))
    frame[top_left[0]:top_left[0] + size[1], top_left[1]:top_left[1] + size[0]] = glyph_array
    return np.clip(np.round(frame), 0, 255).astype(np.uint8)


def preprocess(path: Path) -> np.ndarray:
    """An image file as the 28x28 uint8 MNIST-style digit (white ink on black) the model expects."""
    return to_mnist_frame(ink_map(read_grayscale(path)), str(path))


# --- classifying --------------------------------------------------------------------------------

def collect_images(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Image files named or found in named folders (sorted), and an error line for each bad path."""
    images, errors = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            images.append(path)
        else:
            errors.append(f"{path}: no such file or folder")
    return images, errors


def rank(path: str, probabilities: np.ndarray, runners_up: int) -> Prediction:
    order = np.argsort(-probabilities, kind="stable")
    return Prediction(path, int(order[0]), float(probabilities[order[0]]),
                      [(int(d), float(probabilities[d])) for d in order[1:1 + runners_up]])


def unique_png_name(path: Path, taken: set[str]) -> str:
    name, counter = f"{path.stem}.png", 1
    while name in taken:
        counter += 1
        name = f"{path.stem}-{counter}.png"
    taken.add(name)
    return name


def save_png(path: Path, frame: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(frame).save(tmp, format="PNG")


def predictions_csv(predictions: list[Prediction]) -> str:
    rows = [f"{p.path},{p.digit},{p.probability:.6f}" for p in predictions]
    return "\n".join(["path,digit,probability", *rows]) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stages.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    parser.add_argument("--model", type=Path, default=MODEL, help=f"the trained model (default {MODEL})")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument("--show-input", type=Path, metavar="DIR", help="write the 28x28 image the model saw")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write path,digit,probability rows")
    parser.add_argument("--runners-up", type=int, default=2, metavar="N", help="how many runners-up (default 2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images, errors = collect_images(args.paths)
    if not images and not errors:
        print(f"no images found in {', '.join(args.paths)}", file=sys.stderr)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    frames, good = [], []
    for path in images:
        try:
            frames.append(preprocess(path))
            good.append(path)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            errors.append(str(error))

    predictions = []
    if good:
        try:
            model = load_model(args.model)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        probabilities = class_probabilities(model, scale_pixels(np.stack(frames)))
        predictions = [rank(str(path), row, args.runners_up) for path, row in zip(good, probabilities, strict=True)]
    taken: set[str] = set()
    for path, frame, prediction in zip(good, frames, predictions, strict=True):
        print(json.dumps(prediction.as_dict()) if args.json else prediction.as_line())
        if args.show_input:
            save_png(args.show_input / unique_png_name(path, taken), frame)
    if args.csv:
        write_text_atomic(args.csv, predictions_csv(predictions))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
