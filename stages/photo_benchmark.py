"""Stage photo_benchmark: how well the model reads realistic photos of handwriting.

Renders, deterministically, phone photos of MNIST test digits (mnist_dvc/render.py: pens from a fine
ballpoint to a marker, black, blue and pencil ink, tinted paper, gradients, vignetting and shadows,
rotation and perspective, blur, noise, JPEG or PNG), as single digits and as numbers of several digits on
one line. Each photo's file bytes go through the same photo → digits path as the predict command
(mnist_dvc/photo.py, mnist_dvc/reading.py). Writes:

- reports/photo_metrics.json: single-digit accuracy (and the model's on the same digits as 28x28 images),
  whole-number exact-match rate, digit-count-correct rate: the DVC metrics;
- reports/photo_conditions.csv: the same figures for each class of each condition (pen, ink, paper,
  light, blur, file): a DVC plot, kept out of the metrics so `dvc metrics show` stays one readable row;
- reports/photo_conditions.md: that breakdown as a table;
- reports/photo_failures.png: the first failures, each photo with the boxes read and what the model saw.

    python -m stages.photo_benchmark [--failures DIR]

--failures DIR also writes every failed photo's file, named by what it shows and what was read.
With `photo_benchmark.digits: validation` the photos show digits of the train stage's validation split
instead (train.validation_fraction, train.seed): the digits to tune the photo path on, so that the test
digits' figures stay a measure and not a target, e.g.
    dvc exp run -S photo_benchmark.digits=validation -S photo_benchmark.seed=11
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image, ImageDraw

from mnist_dvc import inference, params
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import atomic_path, atomic_paths, csv_text, write_bytes_atomic
from mnist_dvc.inference import load_model
from mnist_dvc.mnist import load_mnist, scale_pixels, split_validation
from mnist_dvc.paths import MODEL, RAW_MNIST
from mnist_dvc.photo import Found, read_photo
from mnist_dvc.reading import Answer, read_photos
from mnist_dvc.render import CONDITIONS, Conditions, Rendered, render_photo

DATA = RAW_MNIST
METRICS = Path("reports/photo_metrics.json")
CONDITIONS_CSV = Path("reports/photo_conditions.csv")
TABLE = Path("reports/photo_conditions.md")
FAILURES_PNG = Path("reports/photo_failures.png")


@dataclass(frozen=True)
class Job:
    """One photo to render: which test digits, and the seed that makes it."""

    name: str
    kind: str  # single or number
    seed: tuple[int, ...]
    digits: np.ndarray  # (n, 28, 28) uint8
    labels: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    """One photo's ground truth and conditions, and what was read in it."""

    name: str
    kind: str
    truth: str
    read: str  # the number read; lines of writing separated by a space
    digits: tuple[int, ...]  # the digits read, in reading order
    conditions: dict[str, str]

    @property
    def correct(self) -> bool:
        return self.read == self.truth

    @property
    def count_correct(self) -> bool:
        return len(self.digits) == len(self.truth)


# --- the photos --------------------------------------------------------------------------------------

def plan(config: params.PhotoBenchmarkParams, images: np.ndarray, labels: np.ndarray) -> list[Job]:
    """Which digits each photo shows: `images` in a seeded order, single digits first, then the
    numbers (each 3-5 digits by default), wrapping around when more are asked for than there are."""
    rng = np.random.default_rng([config.seed, 0])
    order = rng.permutation(len(images))
    fewest, most = config.number_digits
    lengths = rng.integers(fewest, most + 1, size=config.numbers)
    jobs = []
    for index in range(config.single_digits):
        picked = order[[index % len(order)]]
        jobs.append(Job(f"single-{index:04d}", "single", (config.seed, 1, index), images[picked],
                        tuple(int(label) for label in labels[picked])))
    start = config.single_digits
    for index, length in enumerate(lengths):
        picked = np.take(order, np.arange(start, start + length), mode="wrap")
        start += int(length)
        jobs.append(Job(f"number-{index:04d}", "number", (config.seed, 2, index), images[picked],
                        tuple(int(label) for label in labels[picked])))
    return jobs


def render(job: Job) -> Rendered:
    return render_photo(job.digits, job.labels, np.random.default_rng(list(job.seed)))


def read_job(job: Job) -> tuple[Conditions, Found]:
    """Render one photo and read its file as predict reads an upload: its conditions and what was found
    (only that passes between processes, not the photo's pixels). No ink found: no digits."""
    rendered = render(job)
    try:
        return rendered.conditions, read_photo(rendered.data, job.name + rendered.suffix).found
    except UserError:
        return rendered.conditions, Found([])


def read_all(jobs: list[Job]) -> list[tuple[Conditions, Found]]:
    """read_job for every job, on every core (each photo has its own seed: the order changes nothing)."""
    workers = max(1, min(len(os.sched_getaffinity(0)), len(jobs)))
    if workers == 1:
        return [read_job(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(read_job, jobs, chunksize=8))


# --- the figures -------------------------------------------------------------------------------------

def outcome(job: Job, conditions: Conditions, answer: Answer) -> Outcome:
    truth = "".join(str(label) for label in job.labels)
    return Outcome(job.name, job.kind, truth, answer.number, tuple(d.digit for d in answer.digits),
                   conditions.labels())


def rate(hits: Iterable[bool]) -> float | None:
    values = list(hits)
    return round(sum(values) / len(values), 4) if values else None


def summary(outcomes: list[Outcome]) -> dict:
    """The headline figures of a group of photos (singles and numbers scored separately)."""
    singles = [o for o in outcomes if o.kind == "single"]
    numbers = [o for o in outcomes if o.kind == "number"]
    counted = [o for o in numbers if o.count_correct]
    return {
        "single_photos": len(singles),
        "single_accuracy": rate(o.correct for o in singles),
        "number_photos": len(numbers),
        "number_exact": rate(o.correct for o in numbers),
        "number_count_correct": rate(o.count_correct for o in numbers),
        "number_digit_accuracy": rate(str(a) == b for o in counted for a, b in zip(o.digits, o.truth, strict=True)),
    }


def by_condition(outcomes: list[Outcome]) -> dict[str, dict[str, dict]]:
    """summary() of the photos of each class of each condition (pen, ink, paper, light, blur, file)."""
    return {kind: {name: summary([o for o in outcomes if o.conditions[kind] == name]) for name in names}
            for kind, names in CONDITIONS.items()}


def metrics_document(outcomes: list[Outcome], mnist_accuracy: float) -> dict:
    """The overall figures. `mnist_accuracy` is the model's accuracy on the single digits' own 28x28
    images: what the photos would score if the photo path lost nothing."""
    return {**summary(outcomes), "single_accuracy_28x28": round(mnist_accuracy, 4),
            "no_ink": sum(not o.digits for o in outcomes)}


CONDITION_COLUMNS = ("condition", "kind", "class", "single_photos", "single_accuracy", "number_photos",
                     "number_exact", "number_count_correct", "number_digit_accuracy")


def condition_rows(outcomes: list[Outcome]) -> list[tuple]:
    """One CSV row per class of each condition ("light: hard_shadow", ...); a figure with no photos is empty."""
    rows = []
    for kind, classes in by_condition(outcomes).items():
        for name, figures in classes.items():
            values = ["" if figures[key] is None else figures[key] for key in CONDITION_COLUMNS[3:]]
            rows.append((f"{kind}: {name}", kind, name, *values))
    return rows


def mnist_accuracy(model, jobs: list[Job]) -> float:
    """The model's accuracy on the single digits as MNIST gives them (28x28, no photo)."""
    singles = [job for job in jobs if job.kind == "single"]
    probabilities = inference.probabilities(model, scale_pixels(np.concatenate([job.digits for job in singles])))
    return float(np.mean(probabilities.argmax(axis=1) == [job.labels[0] for job in singles]))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def conditions_table(outcomes: list[Outcome]) -> str:
    """All photos, then each class of each condition, as a Markdown table."""
    lines = ["| condition | class | single digits | read right | numbers | read exactly | right digit count |",
             "|---|---|---|---|---|---|---|"]
    rows = [("all", "", summary(outcomes))] + [(kind, name, figures)
                                               for kind, classes in by_condition(outcomes).items()
                                               for name, figures in classes.items()]
    for kind, name, figures in rows:
        lines.append(f"| {kind} | {name} | {figures['single_photos']} | {percent(figures['single_accuracy'])} | "
                     f"{figures['number_photos']} | {percent(figures['number_exact'])} | "
                     f"{percent(figures['number_count_correct'])} |")
    return "\n".join(lines) + "\n"


# --- the failures ------------------------------------------------------------------------------------

TILE = (360, 270)  # each failure's photo in the contact sheet
FRAME_ZOOM = 2


def failure_tile(rendered: Rendered, answer: Answer) -> Image.Image:
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
    text.text((2, 1), f"{rendered.number} read as {answer.number or '(nothing)'}", fill=(0, 0, 0))
    text.text((2, 14), f"{conditions.pen} {conditions.ink} {conditions.light} {conditions.blur} {conditions.file}",
              fill=(90, 90, 90))
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


def save_png(image: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)


# --- the stage ---------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stages.photo_benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--failures", type=Path, metavar="DIR", help="also write every failed photo's file here")
    return parser.parse_args(argv)


def benchmark_digits(config: params.PhotoBenchmarkParams) -> tuple[np.ndarray, np.ndarray]:
    """The raw 28x28 digits and labels the photos are made of: the test set, or the train stage's
    validation split (its own params choose it, as in training)."""
    if config.digits == "test":
        arrays = load_mnist(DATA, normalized=False, splits=("test",))
        return arrays["x_test"], arrays["y_test"]
    train = params.load("train")
    arrays = load_mnist(DATA, normalized=False, splits=("train",))
    _, held_out = split_validation(len(arrays["y_train"]), train.validation_fraction, train.seed)
    return arrays["x_train"][held_out], arrays["y_train"][held_out]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = params.load("photo_benchmark")
    images, labels = benchmark_digits(config)
    if not MODEL.is_file():
        load_model(MODEL)  # the one message for a missing model, before the photos are made
    jobs = plan(config, images, labels)
    read = read_all(jobs)
    model = load_model(MODEL)
    answers = read_photos(model, [(job.name, found) for job, (_, found) in zip(jobs, read, strict=True)])
    outcomes = [outcome(job, conditions, answer)
                for job, (conditions, _), answer in zip(jobs, read, answers, strict=True)]

    metrics = metrics_document(outcomes, mnist_accuracy(model, jobs))
    with atomic_paths(METRICS, CONDITIONS_CSV, TABLE) as (metrics_tmp, csv_tmp, table_tmp):
        metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        csv_tmp.write_text(csv_text(CONDITION_COLUMNS, condition_rows(outcomes)))
        table_tmp.write_text(conditions_table(outcomes))
    failed = [index for index, result in enumerate(outcomes) if not result.correct]
    tiles = [failure_tile(render(jobs[index]), answers[index])
             for index in failed[:config.failures_shown]]
    save_png(contact_sheet(tiles), FAILURES_PNG)
    if args.failures:
        for index in failed:
            rendered = render(jobs[index])
            read_as = answers[index].number.replace(" ", "_") or "nothing"
            name = f"{jobs[index].name}-{rendered.number}-read-{read_as}{rendered.suffix}"
            write_bytes_atomic(args.failures / name, rendered.data)

    print(f"photo_benchmark: single digits {percent(metrics['single_accuracy'])} of {metrics['single_photos']} "
          f"(as 28x28 images {percent(metrics['single_accuracy_28x28'])}), "
          f"numbers read exactly {percent(metrics['number_exact'])} of {metrics['number_photos']} "
          f"(right digit count {percent(metrics['number_count_correct'])}); no ink found in {metrics['no_ink']}")


if __name__ == "__main__":
    run_main(main)
