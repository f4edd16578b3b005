"""Read handwritten digits and numbers in photos or scans with models/model.keras.

    python -m mnist_dvc predict PATH... [--json] [--show-input DIR] [--csv FILE] [--model FILE] [--runners-up N]

Each PATH is an image file (PNG, JPEG, BMP, GIF, TIFF, WebP) or a folder of them. Every digit in a
photo is found and turned into an MNIST-style image by mnist_dvc.photo (upright, uneven light removed,
ink found, split into digits left to right, MNIST's stroke width and framing), then classified.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from PIL import Image

from mnist_dvc.commands import Parser
from mnist_dvc.errors import UserError, one_line, printable, run_main
from mnist_dvc.files import atomic_path, csv_text, write_text_atomic
from mnist_dvc.inference import load_reader
from mnist_dvc.paths import MODEL
from mnist_dvc.photo import IMAGE_SUFFIXES, Photo, draw_boxes, read_photo
from mnist_dvc.reading import Answer, read_photos

CSV_COLUMNS = ("path", "status", "number", "digit", "probability")


def runners_up_count(text: str) -> int:
    if not text.isdigit() or int(text) > 9:
        raise argparse.ArgumentTypeError(f"--runners-up must be a whole number in 0..9, got {text[:20]!r}")
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m mnist_dvc predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    parser.add_argument("--model", type=Path, default=MODEL, help=f"the trained model (default {MODEL})")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument("--show-input", type=Path, metavar="DIR",
                        help="write the 28x28 image(s) the model saw and the photo with the digit boxes")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write path,status,number,digit,probability rows")
    parser.add_argument("--skip-unreadable", dest="unreadable", action="store_const", const="warning: skipped",
                        default="error", help="a file that cannot be read as digits is a warning, not an error "
                                              "(the exit status stays 0): for folders that may hold anything")
    parser.add_argument("--runners-up", type=runners_up_count, default=2, metavar="N",
                        help="how many runners-up per digit, 0..9 (default 2)")
    return parser.parse_args(argv)


def check_output_paths(args: argparse.Namespace) -> None:
    """Refuse output paths that cannot be written, before any work is done."""
    if args.csv is not None:
        if args.csv.is_dir():
            raise UserError(f"--csv {args.csv}: is a folder; give a file name")
        check_folder(args.csv.parent, "--csv")
    if args.show_input is not None:
        if args.show_input.exists() and not args.show_input.is_dir():
            raise UserError(f"--show-input {args.show_input}: is a file; give a folder")
        check_folder(args.show_input, "--show-input")


def check_folder(folder: Path, option: str) -> None:
    """The first existing ancestor of `folder` must be a folder (not a file) for it to be creatable."""
    for ancestor in (folder, *folder.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UserError(f"{option} {folder}: {ancestor} is a file, not a folder")
            return


def collect_images(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Image files named or found in named folders (sorted), and an error line for each bad path. A named
    path that is not a regular file (a FIFO, a device) is kept, for the photo reader to refuse unread."""
    images, errors = [], []
    for name in paths:
        path = Path(name)
        try:
            if path.is_dir():
                images += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            elif path.exists():
                images.append(path)
            elif path.is_symlink():
                errors.append(f"{path}: a broken or looping symbolic link")
            else:
                errors.append(f"{path}: no such file or folder")
        except OSError as error:
            errors.append(f"{path}: cannot read ({error.strerror or type(error).__name__})")
    return images, errors


def answers_csv(answers: list[Answer]) -> str:
    return csv_text(CSV_COLUMNS, ([answer.path, answer.status, answer.number,
                                   answer.single.digit if answer.single else "",
                                   f"{answer.single.probability:.6f}" if answer.single else ""]
                                  for answer in answers))


def unique_stem(path: Path, taken: set[str]) -> str:
    stem, counter = path.stem, 1
    while stem in taken:
        counter += 1
        stem = f"{path.stem}-{counter}"
    taken.add(stem)
    return stem


def save_png(path: Path, image: Image.Image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def show_input(folder: Path, stem: str, photo: Photo, answer: Answer) -> None:
    """STEM.png (one digit) or STEM-1.png, STEM-2.png, ... : what the model saw; STEM-boxes.png: the photo."""
    digits = answer.digits
    for index, digit in enumerate(digits, start=1):
        name = f"{stem}.png" if len(digits) == 1 else f"{stem}-{index}.png"
        save_png(folder / name, Image.fromarray(digit.frame))
    save_png(folder / f"{stem}-boxes.png", draw_boxes(photo, [(d.box, str(d.digit)) for d in digits]))


class Output:
    """Standard output that a reader may close early (`predict ... | head -1`): then nothing more is printed,
    without a traceback, while the rest of the work (a CSV, pictures) still gets done."""

    def __init__(self) -> None:
        self.closed = False

    def print(self, line: str) -> None:
        if self.closed:
            return
        try:
            print(line, flush=True)
        except BrokenPipeError:
            self.closed = True
            # Python flushes stdout again at exit; pointing it at /dev/null keeps that quiet too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def predict(args: argparse.Namespace) -> int:
    """Read each photo, print its answer and drop it before the next (memory stays that of one photo);
    error lines for the files that cannot be read come last. The exit status: 1 if any could not be read."""
    check_output_paths(args)
    images, errors = collect_images(args.paths)
    if not images and not errors:
        print(f"no images found in {printable(', '.join(args.paths))} (a folder's own images are read, not "
              "its subfolders': your labelled samples in data/own/<digit>/ are scored by `dvc repro`)",
              file=sys.stderr)
    output, model = Output(), None
    answers: list[Answer] = []
    taken: set[str] = set()
    for path in images:
        if output.closed and not (args.csv or args.show_input):
            break  # nobody reads the answers and nothing else is asked for
        try:
            photo = read_photo(path, str(path))
        except UserError as error:
            errors.append(str(error))
            continue
        model = model or load_reader(args.model)
        answer = read_photos(model, [(str(path), photo.found)], args.runners_up)[0]
        output.print(json.dumps(answer.as_dict()) if args.json else printable(answer.as_line()))
        if args.show_input:
            show_input(args.show_input, unique_stem(path, taken), photo, answer)
        answers.append(answer)  # its digits' 28x28 frames only, for the CSV; the photo is dropped here
    if args.csv:
        write_text_atomic(args.csv, answers_csv(answers))
    for line in errors:
        print(f"{args.unreadable}: {one_line(printable(line))}", file=sys.stderr)
    return 1 if errors and args.unreadable == "error" else 0


def main(argv: list[str] | None = None) -> None:
    status = predict(parse_args(argv))
    if status:
        raise SystemExit(status)


if __name__ == "__main__":
    run_main(main)
