"""The shapes the photo path passes along: boxes, pieces of ink, segments, digits and what was found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import numpy as np

Box = tuple[int, int, int, int]  # left, top, width, height
T = TypeVar("T")


@dataclass(frozen=True)
class Digit:
    """One digit found in a photo: what the model sees, and where it was."""

    frame: np.ndarray  # 28x28 uint8, white ink on black, as in MNIST
    box: Box  # in the pixels of the photo as displayed (EXIF orientation applied)
    line: int  # 0 for the top line of writing


@dataclass
class Piece:
    """A group of connected ink components that together make (part of) one digit."""

    top: int
    left: int
    bottom: int  # exclusive
    right: int  # exclusive
    area: int
    labels: list[int]

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def joined(self, other: Piece) -> Piece:
        return Piece(min(self.top, other.top), min(self.left, other.left), max(self.bottom, other.bottom),
                     max(self.right, other.right), self.area + other.area, self.labels + other.labels)


class Segment(NamedTuple):
    """One digit found in the ink mask."""

    line: int  # 0 for the top line of writing
    piece: Piece  # its box
    ink: np.ndarray  # its own ink, cropped to the box
    source: int  # the piece it was cut from: digits split_wide cut from one piece share it
    loose: bool = False  # cut from its piece where the ink does not thin (split_wide)


@dataclass(frozen=True)
class Join:
    """Two neighbouring digits, `first` and the one after it, read as one: `digit`."""

    first: int
    digit: Digit
    split: bool = False  # the two were one piece of ink, cut in two as wider than a digit (split_wide)
    only_if_sure: bool = False  # the cut found no narrow link: they are read apart only if each is sure


def pairs_joined(items: list[T], joined: dict[int, T]) -> list[T]:
    """`items` in order, with each two from `first` on replaced by joined[first]."""
    result, index = [], 0
    while index < len(items):
        result.append(joined.get(index, items[index]))
        index += 2 if index in joined else 1
    return result


@dataclass(frozen=True)
class Found:
    """What was found in a photo: its digits, and the neighbours among them that may be one digit (the
    model chooses: reading.read_photos)."""

    digits: list[Digit]
    joins: list[Join] = field(default_factory=list)

    def without_loose_cuts(self) -> list[Digit]:
        """The digits, with the two parts of each piece cut where its ink does not thin taken whole again:
        what the photo path finds on its own, with no model to say whether each part is a sure digit."""
        return pairs_joined(self.digits, {join.first: join.digit for join in self.joins if join.only_if_sure})


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # upright RGB, float32, reduced to at most WORKING_SIDE
    scale: float  # original pixels per pixel of `image`
    found: Found
    size: tuple[int, int]  # the upright original's width and height, which the boxes are in

    @property
    def digits(self) -> list[Digit]:
        """The digits found, for a use with no model to choose among the joins (collecting samples)."""
        return self.found.without_loose_cuts()
