"""How a trained model copes with handwriting unlike MNIST's, measured on the validation split only.

    python -m benchmarks.robustness [--model models/model.keras] [--count 2000]

The validation digits (train.validation_fraction of the training images, split with train.seed exactly
as the train stage splits them) are read by the model:
  - as they are;
  - drawn 6x larger as ink masks with a thin pen, a marker, and each of those rotated by ±12°, then
    brought back to 28x28 by the photo path's own digit_frame (stroke width matched to MNIST's, MNIST's
    framing): what a photo of that digit becomes;
  - rotated by ±15°, slanted by ±20°, with strokes one pixel thinner or thicker, directly in 28x28;
  - redrawn by the photo benchmark's renderer with each of its pens, on clean paper with no camera, then
    framed by the photo path: what the benchmark's photos lose before any light or lens touches them.
Prints one JSON object of accuracies. The test digits are never read, so this can choose defaults.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_dvc import inference, params, photo
from mnist_dvc.errors import run_main
from mnist_dvc.inference import load_model
from mnist_dvc.mnist import IMAGE_SIZE, load_mnist, scale_pixels, split_validation
from mnist_dvc.paths import MODEL, PREPARED_MNIST
from mnist_dvc.render import conditions as render_conditions
from mnist_dvc.render import pen as render

INPUT = PREPARED_MNIST
UPSCALE = 6  # MNIST's strokes (about 2.7 px) become about 16 px wide: room for a thin pen and a marker
PEN_ANGLE = 12  # degrees, alternately clockwise and counter-clockwise


def ink_mask(image: np.ndarray) -> np.ndarray:
    """A 0..1 digit drawn UPSCALE times larger as a sharp ink mask."""
    side = IMAGE_SIZE * UPSCALE
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR)) > 0.45


def thin_pen(mask: np.ndarray) -> np.ndarray:
    """The same strokes, about half as wide (kept wider where that would erase most of the digit)."""
    inside = ndimage.distance_transform_edt(mask)
    thin = inside > 4
    return thin if thin.sum() >= 0.1 * mask.sum() else inside > 3


def marker(mask: np.ndarray) -> np.ndarray:
    """The same strokes, about 1.7 times as wide."""
    return ndimage.distance_transform_edt(~mask) <= 6


def rotated(mask: np.ndarray, degrees: float) -> np.ndarray:
    turned = Image.fromarray(mask.astype(np.uint8) * 255).rotate(degrees, Image.Resampling.BILINEAR, expand=True)
    return np.asarray(turned) > 127


def photo_frame(mask: np.ndarray) -> np.ndarray:
    """The 28x28 frame the photo path makes of a digit's ink mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return scale_pixels(photo.frame.digit_frame(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]))


def pen_conditions(images: np.ndarray) -> dict[str, np.ndarray]:
    """The photo path's frames of each digit drawn with the photo's pens, upright and rotated."""
    frames: dict[str, list[np.ndarray]] = {"photo path": [], "thin pen": [], "marker": [], "thin pen, rotated": [],
                                           "marker, rotated": []}
    for index, image in enumerate(images):
        mask = ink_mask(image)
        angle = PEN_ANGLE if index % 2 else -PEN_ANGLE
        thin, thick = thin_pen(mask), marker(mask)
        for name, drawn in (("photo path", mask), ("thin pen", thin), ("marker", thick),
                            ("thin pen, rotated", rotated(thin, angle)), ("marker, rotated", rotated(thick, -angle))):
            frames[name].append(photo_frame(drawn))
    return {name: np.stack(stack) for name, stack in frames.items()}


RENDERED_HEIGHT = 100  # px: a digit as tall as in a small phone photo


def renderer_pens(images: np.ndarray) -> dict[str, np.ndarray]:
    """The photo path's frames of each digit as the photo benchmark's renderer redraws it with a pen of
    each class, at the middle of the class's widths, upright and without texture."""
    lines = [render.centre_line(render.open_filled_loops(render.digit_shape(np.round(image * 255))))
             for image in images]
    frames = {}
    for pen, (narrowest, widest) in render_conditions.PENS.items():
        width = max(1.2, (narrowest + widest) / 2 * RENDERED_HEIGHT)
        coverages = (render.pen_coverage(points, pairs, RENDERED_HEIGHT / render.WORKING_HEIGHT, 0.0, width)
                     for points, pairs in lines)
        frames[f"renderer, {pen}"] = np.stack([photo_frame(coverage >= 0.5) for coverage in coverages])
    return frames


def direct_conditions(images: np.ndarray) -> dict[str, np.ndarray]:
    """Rotations, slants and stroke widths applied in 28x28 with the training augmentations' own functions."""
    import tensorflow as tf

    from mnist_dvc import network

    batch, ones = tf.constant(images), tf.ones([len(images)])
    alternate = tf.constant(np.where(np.arange(len(images)) % 2, 1.0, -1.0), tf.float32)

    def warp(rotation: float, shear: float) -> np.ndarray:
        matrices = network.affine_matrices(alternate * rotation, ones, alternate * shear)
        return network.warp_images(batch, matrices).numpy()

    return {"rotated ±15°": warp(15, 0), "slanted ±20°": warp(0, 20),
            "strokes 1 px thinner": network.change_stroke_width(batch, -ones).numpy(),
            "strokes 1 px thicker": network.change_stroke_width(batch, ones).numpy()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--count", type=int, default=2000, help="validation digits to redraw with other pens")
    args = parser.parse_args()
    config = params.load("train")
    arrays = load_mnist(INPUT, normalized=True, splits=("train",))
    _, val_idx = split_validation(len(arrays["y_train"]), config.validation_fraction, config.seed)
    images, labels = arrays["x_train"][val_idx], arrays["y_train"][val_idx]
    model = load_model(args.model)

    def accuracy(frames: np.ndarray, truth: np.ndarray) -> float:
        return round(float((inference.probabilities(model, frames).argmax(axis=1) == truth).mean()), 4)

    results = {"validation": accuracy(images, labels)}
    results |= {name: accuracy(frames, labels) for name, frames in direct_conditions(images).items()}
    pens = {name: accuracy(frames, labels[:args.count])
            for name, frames in pen_conditions(images[:args.count]).items()}
    results |= pens | {"pens, mean": round(float(np.mean(list(pens.values()))), 4)}
    results |= {name: accuracy(frames, labels[:args.count])
                for name, frames in renderer_pens(images[:args.count]).items()}
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    run_main(main)
