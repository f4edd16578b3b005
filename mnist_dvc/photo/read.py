"""All the steps together: a photo's file to the digits found in it, read closer where they are small."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from mnist_dvc.photo.frame import digit_frame
from mnist_dvc.photo.ink import ink_mask
from mnist_dvc.photo.light import ink_image
from mnist_dvc.photo.load import WORKING_SIDE, file_bytes, load_image
from mnist_dvc.photo.rules import remove_printed_lines
from mnist_dvc.photo.segment import join_candidates, segment_writing, writing
from mnist_dvc.photo.types import Box, Digit, Found, Join, Photo, Piece

SMALL_DIGIT = 48  # digits less tall than this in the reduced photo are read again from the original's pixels


def read_photo(source: str | Path | bytes, name: str) -> Photo:
    """Load a photo (a path or the file's bytes) and find its digits. Where they came out small in the
    reduced photo (a number written small on a page photographed whole), they are found again in the
    part of the original around them, read at full resolution."""
    data = file_bytes(source, name)
    rgb, scale, size = load_image(data, name)
    digits, joins, unread_ink = find_digits(rgb, scale, size)
    found = Found(digits, joins)
    region = closer_look([digit.box for digit in digits] or unread_ink, size, scale)
    if region is not None:
        crop, crop_scale, crop_size = load_image(data, name, region)
        closer = Found(*find_digits(crop, crop_scale, crop_size)[:2])
        if closer.digits:  # nothing stood out in the closer look: keep the first
            found = shifted(closer, region[0], region[1])
    return Photo(rgb, scale, found, size)


def find_digits(rgb: np.ndarray, scale: float = 1.0,
                size: tuple[int, int] | None = None) -> tuple[list[Digit], list[Join], list[Box]]:
    """Every digit in an RGB photo, line by line, left to right, and the neighbours that may be the
    pieces of one digit; none for a blank page (a result, not an error). Where no digit is found, also
    the boxes of the ink that may still be writing: a digit too small and blurred in the reduced photo
    to be told from a blot is worth a closer look.

    Boxes are given in pixels of an image `scale` times larger than `rgb` (the original photo's), and
    kept inside `size` (its width and height), which the rounding of a very narrow image can miss.
    """
    size = size or (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    ink, magnification = ink_image(rgb)
    clean, printed = remove_printed_lines(ink)
    mask = ink_mask(clean, magnification, printed)
    labels, pieces = writing(mask) if mask.any() else (mask, [])
    found = segment_writing(labels, pieces)
    if not found:
        return [], [], [original_box(piece, scale, size) for piece in pieces]

    def framed(piece: Piece, ink: np.ndarray, line: int) -> Digit:
        return Digit(digit_frame(ink), original_box(piece, scale, size), line)

    digits = [framed(segment.piece, segment.ink, segment.line) for segment in found]
    joins = [Join(pair.first, framed(pair.piece, pair.ink, found[pair.first].line), pair.split, pair.only_if_sure)
             for pair in join_candidates(found)]
    return digits, joins, []


def original_box(piece: Piece, scale: float, size: tuple[int, int]) -> Box:
    left = min(math.floor(piece.left * scale), size[0] - 1)
    top = min(math.floor(piece.top * scale), size[1] - 1)
    right = min(max(math.ceil(piece.right * scale), left + 1), size[0])
    bottom = min(max(math.ceil(piece.bottom * scale), top + 1), size[1])
    return left, top, right - left, bottom - top


def closer_look(boxes: list[Box], size: tuple[int, int], scale: float) -> Box | None:
    """The part of the original photo (`size`: its width and height) to read again at full resolution,
    or None: when the median height of the digits (their `boxes`) is under SMALL_DIGIT pixels of the
    photo as read (`scale` original pixels each), their joint box with a digit's height of margin all
    round, widened to as much of the photo as is still read at full resolution (WORKING_SIDE a side):
    the paper around the digits is what the light and the ink are judged against, and a crop hardly
    larger than a small, blurred digit has too little of it. Clipped to the photo, and only when that is
    clearly smaller than the whole photo."""
    if not boxes:
        return None
    height = float(np.median([box[3] for box in boxes]))
    if height / scale >= SMALL_DIGIT or scale <= 1:
        return None
    margin = round(height)
    left = max(0, min(box[0] for box in boxes) - margin)
    top = max(0, min(box[1] for box in boxes) - margin)
    right = min(size[0], max(box[0] + box[2] for box in boxes) + margin)
    bottom = min(size[1], max(box[1] + box[3] for box in boxes) + margin)
    left, right = widened(left, right, size[0])
    top, bottom = widened(top, bottom, size[1])
    if max(right - left, bottom - top) >= 0.9 * max(size):
        return None  # hardly smaller than the whole photo: nothing to gain
    return left, top, right - left, bottom - top


def widened(start: int, stop: int, side: int) -> tuple[int, int]:
    """The span [start, stop) grown evenly to WORKING_SIDE pixels where it is shorter, kept inside [0, side)."""
    length = min(max(stop - start, WORKING_SIDE), side)
    start = min(max(0, (start + stop - length) // 2), side - length)
    return start, start + length


def shifted(found: Found, dx: int, dy: int) -> Found:
    """The same digits with their boxes moved by (dx, dy): from a region's pixels to the whole photo's."""
    def move(digit: Digit) -> Digit:
        left, top, width, height = digit.box
        return replace(digit, box=(left + dx, top + dy, width, height))

    return Found([move(d) for d in found.digits], [replace(j, digit=move(j.digit)) for j in found.joins])
