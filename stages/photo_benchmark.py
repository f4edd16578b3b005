"""Stage photo_benchmark: how well the model reads realistic photos of handwriting, and how often it
answers when a photo shows no digit.

Renders, deterministically, phone photos (mnist_dvc/render/: pens from a fine ballpoint to a marker, black,
blue and pencil ink, tinted plain, ruled or squared paper, gradients, vignetting and shadows, rotation and
perspective, blur, defocus, motion, noise, JPEG or PNG, some resent small) in six parts
(mnist_dvc/benchmark): plain (MNIST digits on plain paper), notebook (ruled and squared paper),
fonts (held-out handwriting fonts), small (small and blurred digits), pages (sheets of several lines) and
non_digit (letters, signs, marks, blank pages). Each photo's file bytes are read as the predict command
reads them (read() below, the one place that calls the reader). Writes, together:

- reports/photo_metrics.json: one figure per part (mnist_dvc/benchmark): the DVC metrics;
- reports/photo_conditions.csv: the figures of each part, each class of each condition, each hand (font
  family) and each kind of photo with no digit: a DVC plot, kept out of the metrics so that
  `dvc metrics show` stays narrow;
- reports/photo_conditions.md: that breakdown as a table;
- reports/photo_failures.png: the first failures of each part, each photo with the boxes read and what
  the model saw.

    python -m stages.photo_benchmark [--failures DIR]

--failures DIR also writes every failed photo's file, named by what it shows and what was read.
With `photo_benchmark.digits: validation` the photos show digits of the train stage's validation split
(train.validation_fraction, train.seed) and the fonts' validation families: what to tune the photo path
on, so that the test digits' and test families' figures stay a measure and not a target, e.g.
    dvc exp run -S photo_benchmark.digits=validation -S photo_benchmark.seed=11
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image, ImageDraw

from mnist_dvc import inference, params
from mnist_dvc.benchmark.figures import (
    CONDITION_COLUMNS,
    Outcome,
    condition_rows,
    conditions_table,
    figures_document,
    headline,
    percent,
    risk_coverage,
)
from mnist_dvc.benchmark.parts import PARTS, Job, plan
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import atomic_paths, csv_text, write_bytes_atomic
from mnist_dvc.mnist import NUM_CLASSES, load_mnist, scale_pixels, split_validation
from mnist_dvc.paths import FONTS, MODEL, RAW_MNIST
from mnist_dvc.render import Rendered, draw_conditions, render_glyphs
from mnist_dvc.render.fonts import family_fonts

METRICS = Path("reports/photo_metrics.json")
CONDITIONS_CSV = Path("reports/photo_conditions.csv")
TABLE = Path("reports/photo_conditions.md")
FAILURES_PNG = Path("reports/photo_failures.png")
RISK_COVERAGE = Path("reports/risk_coverage.csv")
FIGURES = Path("reports/photo_figures.json")


# --- rendering and reading ---------------------------------------------------------------------------

def render(job: Job) -> Rendered:
    rng = np.random.default_rng(list(job.seed))
    return render_glyphs(job.lines, rng, draw_conditions(rng, **dict(job.classes)), job.layout)


_reader = {}  # the model, loaded once in each process that reads


def start_reader(path: Path = MODEL) -> None:
    """Load the model into this process (one process reads on each core)."""
    _reader["model"] = inference.load_reader(path)


def read(job: Job) -> tuple[Outcome, object]:
    """Render one photo and read its file as predict reads an upload (mnist_dvc.photo, mnist_dvc.reading):
    the scored outcome, and the answer (for the failures' pictures). No ink found: no digits."""
    from mnist_dvc.photo import Found, read_photo
    from mnist_dvc.reading import read_photos

    if "model" not in _reader:
        start_reader()
    rendered = render(job)
    try:
        found = read_photo(rendered.data, job.name + rendered.suffix).found
    except UserError:
        found = Found([])
    answer = read_photos(_reader["model"], [(job.name, found)])[0]
    outcome = Outcome(job.name, job.part, job.kind, job.hand, job.truth, answer.number,
                      tuple(d.digit for d in answer.digits), answer.status,
                      min((d.probability for d in answer.digits), default=0.0), rendered.conditions.labels())
    return outcome, answer


def read_all(jobs: list[Job]) -> list[tuple[Outcome, object]]:
    """read() for every job, on every core (each photo has its own seed: the order changes nothing)."""
    workers = max(1, min(len(os.sched_getaffinity(0)), len(jobs)))
    if workers == 1:
        return [read(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=start_reader) as pool:
        return list(pool.map(read, jobs, chunksize=4))


def mnist_accuracy(reader, jobs: list[Job]) -> float | None:
    """The model's accuracy (best digit) on the plain part's single digits as MNIST gives them (28x28, no photo)."""
    singles = [job for job in jobs if job.part == "plain" and job.kind == "single"]
    if not singles:
        return None
    probabilities = reader.probabilities(scale_pixels(np.concatenate([job.digit_images for job in singles])))
    return float(np.mean(probabilities[:, :NUM_CLASSES].argmax(axis=1) == [int(job.truth) for job in singles]))


# --- the failures ------------------------------------------------------------------------------------

TILE = (360, 270)  # each failure's photo in the contact sheet
FRAME_ZOOM = 2


def failure_tile(rendered: Rendered, answer) -> Image.Image:
    """A failed photo, scaled down, with the boxes read (red) and the truth and reading above it, and
    below it the 28x28 frames the model saw, in order."""
    image = rendered.image.copy()
    scale = min(TILE[0] / image.width, TILE[1] / image.height)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BOX)
    draw = ImageDraw.Draw(image)
    for digit in answer.digits:
        left, top, width, height = (value * scale for value in digit.box)
        draw.rectangle((left, top, left + width, top + height), outline=(220, 30, 30), width=2)
    tile = Image.new("RGB", (TILE[0], 28 + TILE[1] + 28 * FRAME_ZOOM + 4), "white")
    text = ImageDraw.Draw(tile)
    conditions = rendered.conditions
    shown = rendered.number or ("no digit: " + " ".join(rendered.symbols) if rendered.symbols else "blank page")
    text.text((2, 1), f"{shown[:40]} read as {answer.number[:20] or '(nothing)'}", fill=(0, 0, 0))
    text.text((2, 14), f"{conditions.sheet} {conditions.pen} {conditions.ink} {conditions.light} {conditions.blur} "
              f"{conditions.optics} {conditions.file}", fill=(90, 90, 90))
    tile.paste(image, (0, 28))
    for index, digit in enumerate(answer.digits[:TILE[0] // (28 * FRAME_ZOOM + 2)]):
        frame = Image.fromarray(255 - digit.frame).resize((28 * FRAME_ZOOM, 28 * FRAME_ZOOM), Image.Resampling.NEAREST)
        tile.paste(frame, (index * (28 * FRAME_ZOOM + 2), 28 + TILE[1] + 2))
    return tile


def contact_sheet(tiles: list[Image.Image], columns: int = 4) -> Image.Image:
    if not tiles:
        sheet = Image.new("RGB", (TILE[0], 40), "white")
        ImageDraw.Draw(sheet).text((4, 12), "no failures", fill=(0, 0, 0))
        return sheet
    width, height = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (width + 6), rows * (height + 6)), (200, 200, 200))
    for index, tile in enumerate(tiles):
        sheet.paste(tile, ((index % columns) * (width + 6) + 3, (index // columns) * (height + 6) + 3))
    return sheet


def first_failures(outcomes: list[Outcome], count: int) -> list[int]:
    """The indices of up to `count` failed photos, taken from each part in turn so every part shows."""
    failed = {name: [i for i, o in enumerate(outcomes) if o.part == name and not o.correct] for name in PARTS}
    chosen = []
    for rank in range(max((len(indices) for indices in failed.values()), default=0)):
        chosen += [indices[rank] for indices in failed.values() if rank < len(indices)]
    return sorted(chosen[:count])


# --- the stage ---------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stages.photo_benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--failures", type=Path, metavar="DIR", help="also write every failed photo's file here")
    return parser.parse_args(argv)


def benchmark_digits(config: params.PhotoBenchmarkParams) -> tuple[np.ndarray, np.ndarray]:
    """The raw 28x28 digits and labels the photos are made of: the test set, or the train stage's
    validation split (its own params choose it, as in training)."""
    if config.digits == "test":
        arrays = load_mnist(RAW_MNIST, normalized=False, splits=("test",))
        return arrays["x_test"], arrays["y_test"]
    train = params.load("train")
    arrays = load_mnist(RAW_MNIST, normalized=False, splits=("train",))
    _, held_out = split_validation(len(arrays["y_train"]), train.validation_fraction, train.seed)
    return arrays["x_train"][held_out], arrays["y_train"][held_out]


def benchmark_fonts(config: params.PhotoBenchmarkParams, folder: Path = FONTS) -> dict[str, str]:
    """family → font file of the fonts' test or validation families (never the training ones)."""
    fonts = params.load("fonts")
    families = fonts.test if config.digits == "test" else fonts.validation
    leaked = sorted(set(families) & set(fonts.train))
    if leaked:
        raise UserError(f"params.yaml: the font families {leaked} are in fonts.train and in fonts.{config.digits}")
    return family_fonts(folder, families)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = params.load("photo_benchmark")
    images, labels = benchmark_digits(config)
    fonts = benchmark_fonts(config)
    model = inference.load_reader(MODEL)  # the one message for a missing or damaged model, before the photos are made
    jobs = plan(config, images, labels, fonts, split=0 if config.digits == "test" else 1)
    results = read_all(jobs)
    outcomes = [outcome for outcome, _ in results]
    figures = figures_document(outcomes)
    metrics = headline(figures)
    shown = first_failures(outcomes, config.failures_shown)
    sheet = contact_sheet([failure_tile(render(jobs[index]), results[index][1]) for index in shown])
    with atomic_paths(METRICS, CONDITIONS_CSV, TABLE, FAILURES_PNG, RISK_COVERAGE, FIGURES) as (
            metrics_tmp, csv_tmp, table_tmp, png_tmp, risk_tmp, figures_tmp):
        figures_tmp.write_text(json.dumps(figures, indent=2) + "\n")
        risk_tmp.write_text(csv_text(("least_probability", "coverage", "accuracy"), risk_coverage(outcomes)))
        metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        csv_tmp.write_text(csv_text(CONDITION_COLUMNS, condition_rows(outcomes)))
        table_tmp.write_text(conditions_table(outcomes, mnist_accuracy(model, jobs)))
        sheet.save(png_tmp, format="PNG", optimize=True)
    if args.failures:
        for index, (outcome, answer) in enumerate(results):
            if not outcome.correct:
                rendered = render(jobs[index])
                read_as = answer.number.replace(" ", "_")[:40] or "nothing"
                shown_as = (outcome.truth.replace(" ", "_")[:40] or outcome.kind)
                name = f"{jobs[index].name}-{shown_as}-read-{read_as}{rendered.suffix}"
                write_bytes_atomic(args.failures / name, rendered.data)
    print("photo_benchmark: " + ", ".join(f"{key} {percent(value)}" for key, value in figures.items()
                                          if key != "ece") + f", calibration error {figures['ece']}")


if __name__ == "__main__":
    run_main(main, outputs=(METRICS, CONDITIONS_CSV, TABLE, FAILURES_PNG, RISK_COVERAGE, FIGURES))
