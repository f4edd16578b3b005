"""Cut a photographed sheet of handwritten digits into labelled samples in data/own/<digit>/.

    python -m mnist_dvc collect SHEET --labels 0123456789 [--repeat N] [--into data/own] [--dry-run]

Write the label string on paper once per line (e.g. 0123456789, five lines for --repeat 5), photograph
the sheet and run this. The digits are found by the same photo → digits path as predict; every line
must hold exactly the digits of --labels (and, with --repeat, there must be exactly N lines), else
nothing is saved. Each digit is saved as a PNG crop of the photo around it, named by the sha256 of its
bytes: collecting the same sheet twice saves nothing new. Then run `dvc repro`.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_dvc.commands import Parser
from mnist_dvc.errors import UserError, printable, run_main
from mnist_dvc.own import OWN, save_sample
from mnist_dvc.photo import Digit, Photo, read_photo

MARGIN = 0.25  # paper added around a digit's box, as a share of its longer side


def label_string(text: str) -> str:
    if not text or not text.isdigit() or not text.isascii():
        raise argparse.ArgumentTypeError(f"--labels must be digits 0-9 as written on one line, got {text[:30]!r}")
    return text


def line_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"--repeat must be a whole number in 1..100, got {text[:20]!r}")
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m mnist_dvc collect", description=__doc__.split("\n\n")[0],
                    epilog="Every line of the sheet must hold exactly the digits of --labels, else nothing is "
                           "saved. Each digit is saved as a PNG crop named by the sha256 of its bytes, so "
                           "collecting a sheet twice saves nothing new; then run `dvc repro`. Example: write "
                           "0123456789 five times, photograph it, then "
                           "`python -m mnist_dvc collect sheet.jpg --labels 0123456789 --repeat 5`.")
    parser.add_argument("sheet", type=Path, metavar="SHEET", help="a photo or scan of the written sheet")
    parser.add_argument("--labels", type=label_string, required=True,
                        help="the digits written on each line, left to right (e.g. 0123456789)")
    parser.add_argument("--repeat", type=line_count, metavar="N",
                        help="how many lines of --labels the sheet holds (default: any number, each checked)")
    parser.add_argument("--into", type=Path, default=OWN, metavar="DIR",
                        help=f"where the labelled folders 0-9 are (default {OWN})")
    parser.add_argument("--dry-run", action="store_true", help="check the sheet and say what would be saved")
    return parser.parse_args(argv)


def lines_of(digits: list[Digit]) -> list[list[Digit]]:
    """The digits grouped by line of writing, top line first, each left to right (as photo orders them)."""
    lines: dict[int, list[Digit]] = {}
    for digit in digits:
        lines.setdefault(digit.line, []).append(digit)
    return [lines[line] for line in sorted(lines)]


def match_labels(name: str, digits: list[Digit], labels: str, repeat: int | None) -> list[tuple[Digit, int]]:
    """Each digit found with its label, or UserError saying how the sheet differs from what was written."""
    lines = lines_of(digits)
    if not lines:
        raise UserError(f"{name}: no digits found (a blank sheet, or only marks that are not digits); nothing saved")
    counts = ", ".join(str(len(line)) for line in lines)
    if repeat is not None and len(lines) != repeat:
        raise UserError(f"{name}: found {len(lines)} line(s) of digits ({counts} digits), expected {repeat} lines "
                        f"of {labels}; nothing saved")
    for number, line in enumerate(lines, start=1):
        if len(line) != len(labels):
            raise UserError(f"{name}: line {number} has {len(line)} digits, expected {len(labels)} ({labels}); "
                            f"digits per line: {counts}; nothing saved")
    return [(digit, int(label)) for line in lines for digit, label in zip(line, labels, strict=True)]


def crop(photo: Photo, digit: Digit) -> bytes:
    """The photo around the digit's box as PNG bytes; the margin is filled with paper, not neighbours."""
    left, top, width, height = (round(value / photo.scale) for value in digit.box)
    image = np.clip(photo.image[top:top + height, left:left + width], 0, 255).astype(np.uint8)
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    paper = np.median(edges, axis=0).astype(np.uint8)
    margin = max(2, round(MARGIN * max(width, height)))
    canvas = np.empty((height + 2 * margin, width + 2 * margin, 3), np.uint8)
    canvas[:] = paper
    canvas[margin:margin + image.shape[0], margin:margin + image.shape[1]] = image
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    photo = read_photo(args.sheet, str(args.sheet))
    labelled = match_labels(str(args.sheet), photo.digits, args.labels, args.repeat)
    crops = [(label, crop(photo, digit)) for digit, label in labelled]
    if args.dry_run:
        print(f"{printable(str(args.sheet))}: {len(crops)} digits match {args.labels}; nothing saved (--dry-run)")
        return
    new: Counter[int] = Counter()
    for label, data in crops:
        new[label] += save_sample(args.into, label, data).new
    already = len(crops) - sum(new.values())
    per_digit = ", ".join(f"{digit}: {new[digit]}" for digit in sorted(new) if new[digit])
    sheet, into = printable(str(args.sheet)), printable(str(args.into))
    print(f"{sheet}: saved {sum(new.values())} new samples into {into}/<digit>/"
          + (f" ({per_digit})" if per_digit else "")
          + (f"; {already} already there" if already else ""))
    if sum(new.values()):
        print("next: `dvc repro` scores them (reports/own_metrics.json); `dvc push` shares them", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
