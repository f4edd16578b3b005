"""Stage photo_frames: the 28x28 frames the photo path itself makes from photos of training material, for
the network to learn what the photo path gives it (issue: read the photos people really take) and what
is not a digit at all.

Photos are rendered as the photo benchmark renders them (mnist_dvc.render, mnist_dvc.benchmark.parts),
but only from the train stage's training digits and the training font families (params' fonts.train),
never the validation digits or families the benchmark tunes on, nor the test ones it reports:
MNIST digits on plain, ruled and squared paper, small and blurred digits, pages of several lines, digits
in the training fonts, and letters, signs, marks and blank pages in them. Each photo is read by the photo
path (mnist_dvc.photo) and every frame it finds is labelled by what was drawn there:
  - a digit's frame (its box and the drawn glyph's overlap by half or more): that digit, 0-9;
  - a letter's, a sign's or a mark's frame: 10, not a digit;
  - a frame where nothing was drawn (what is left of a printed line, a shadow's edge): 10;
  - a frame overlapping a glyph only in part (a piece of a digit, two digits together): left out.
The validation photos are made the same way from the validation digits and validation families, for the
calibrate stage. Writes data/prepared/photo_frames.npz: x_train, y_train, x_validation, y_validation.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from mnist_dvc import params
from mnist_dvc.benchmark.parts import (
    Deck,
    Job,
    font_jobs,
    non_digit_jobs,
    notebook_jobs,
    page_jobs,
    plain_jobs,
    small_jobs,
)
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import save_npz
from mnist_dvc.mnist import NUM_CLASSES, load_mnist, split_validation
from mnist_dvc.paths import FONTS, PHOTO_FRAMES, RAW_MNIST
from mnist_dvc.photo import Digit, read_photo
from mnist_dvc.render import draw_conditions, family_fonts, render_glyphs
from mnist_dvc.render.conditions import is_digit

NOT_A_DIGIT = NUM_CLASSES  # the label of a frame that is not a digit
MATCH = 0.6  # a frame is a glyph's when their boxes overlap by at least this share of their union,
OTHERS = 0.15  # and no other glyph covers more than this share of the frame's box (a 1 joined to a 0)
UNRELATED = 0.05  # and nothing's when it overlaps every glyph by less than this
# Shares of the photos of each kind (the rest of the counts follow from `photos`).
SHARES = {"plain_single": 0.12, "plain_number": 0.1, "notebook_single": 0.12, "notebook_number": 0.1,
          "fonts_single": 0.1, "fonts_number": 0.08, "small": 0.08, "pages": 0.02, "non_digit": 0.24,
          "blank": 0.04}


def shared_area(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """The area two (left, top, width, height) boxes share."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two boxes."""
    shared = shared_area(a, b)
    return shared / (a[2] * a[3] + b[2] * b[3] - shared) if shared else 0.0


def label_of(digit: Digit, boxes: tuple, symbols: tuple) -> int | None:
    """The label of one frame found in a photo (see the module's docstring), or None to leave it out."""
    overlaps = [overlap(digit.box, box) for box in boxes]
    if not overlaps or max(overlaps) < UNRELATED:
        return NOT_A_DIGIT
    best = int(np.argmax(overlaps))
    area = digit.box[2] * digit.box[3]
    others = max((shared_area(digit.box, box) / area for k, box in enumerate(boxes) if k != best), default=0.0)
    if overlaps[best] < MATCH or others > OTHERS:
        return None
    return int(symbols[best]) if is_digit(symbols[best]) else NOT_A_DIGIT


def frames_of(job: Job) -> tuple[np.ndarray, np.ndarray]:
    """Render one photo, read it with the photo path, and label every frame found (joins included)."""
    rng = np.random.default_rng(list(job.seed))
    rendered = render_glyphs(job.lines, rng, draw_conditions(rng, **dict(job.classes)), job.layout)
    try:
        found = read_photo(rendered.data, job.name).found
    except UserError:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    frames, labels = [], []
    for digit in [*found.digits, *(join.digit for join in found.joins)]:
        label = label_of(digit, rendered.boxes, rendered.symbols)
        if label is not None:
            frames.append(digit.frame)
            labels.append(label)
    if not frames:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    return np.stack(frames), np.array(labels, np.uint8)


def counts(photos: int) -> dict[str, int]:
    return {kind: max(1, round(share * photos)) for kind, share in SHARES.items()}


def plan(photos: int, images: np.ndarray, labels: np.ndarray, fonts: dict[str, str], seed: int) -> list[Job]:
    """The photos to render: each kind's share of `photos`, from these digits and font families."""
    number = (3, 5)
    share = counts(photos)
    deck = Deck(images, labels, seed)
    jobs = plain_jobs(deck, share["plain_single"], share["plain_number"], number, seed)
    jobs += notebook_jobs(deck, share["notebook_single"], share["notebook_number"], number, (seed, 3))
    jobs += font_jobs(fonts, share["fonts_single"], share["fonts_number"], number, (seed, 4))
    jobs += small_jobs(deck, share["small"], (seed, 5))
    jobs += page_jobs(deck, share["pages"], (3, 8), (seed, 6))
    jobs += non_digit_jobs(fonts, share["non_digit"], share["blank"], (seed, 7))
    return jobs


def read_all(jobs: list[Job]) -> tuple[np.ndarray, np.ndarray]:
    """frames_of() for every job, on every core; all frames and labels, in the jobs' order."""
    workers = max(1, min(len(os.sched_getaffinity(0)), len(jobs)))
    if workers == 1:
        results = [frames_of(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(frames_of, jobs, chunksize=8))
    return np.concatenate([x for x, _ in results]), np.concatenate([y for _, y in results])


def main() -> None:
    config = params.load("photo_frames")
    train = params.load("train")
    fonts = params.load("fonts")
    arrays = load_mnist(RAW_MNIST, normalized=False, splits=("train",))
    fit, held_out = split_validation(len(arrays["y_train"]), train.validation_fraction, train.seed)
    x, y = arrays["x_train"], arrays["y_train"]
    started = time.perf_counter()
    x_fit, y_fit = read_all(plan(config.photos, x[fit], y[fit], family_fonts(FONTS, fonts.train), config.seed))
    x_val, y_val = read_all(plan(config.validation_photos, x[held_out], y[held_out],
                                 family_fonts(FONTS, fonts.validation), config.seed + 1))
    save_npz(PHOTO_FRAMES, {"x_train": x_fit, "y_train": y_fit, "x_validation": x_val, "y_validation": y_val})
    not_digits = int((y_fit == NOT_A_DIGIT).sum())
    print(f"photo_frames: {len(y_fit)} training frames ({not_digits} not a digit) and {len(y_val)} validation "
          f"frames from {config.photos + config.validation_photos} photos in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    run_main(main, outputs=(PHOTO_FRAMES,))

