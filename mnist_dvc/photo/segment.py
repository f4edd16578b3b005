"""Step 5, digits: the ink's connected pieces, specks dropped, the pieces of one digit joined, grouped
into lines and split where digits touch; and the neighbours that may still be one digit."""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import numpy as np

from mnist_dvc.photo.frame import filled_triangle, patch_like
from mnist_dvc.photo.morphology import piece_boxes
from mnist_dvc.photo.types import Piece, Segment

# Two neighbours are offered to the model as one digit when the gap between them is at most this share of
# their height, and together they are at most this many heights wide.
MAX_JOIN_GAP = 0.3
MAX_JOIN_WIDTH = 1.1
# A speck at least DOT of a piece's height, round and under its middle, is a question mark's dot (dot_under).
DOT = 0.08
# A piece less tall than SHORT_PIECE of a typical digit's height is part of a digit (a detached bar, a
# broken-off end): it joins the line it is near, or no line. One less tall than NOT_A_DIGIT that is still
# apart after the pieces of each digit were joined is not writing (a shadow's pointed tip, a stray mark).
SHORT_PIECE = 0.5
NOT_A_DIGIT = 0.4
# A piece of a line whose longer side is under FRAGMENT of the line's typical digit height is part of
# a digit, too small to be read alone: it joins its nearer neighbour, or is dropped (join_fragments).
FRAGMENT = 0.6
# Pieces over each other are joined only into one no taller than ONE_DIGIT typical digits, or than
# STACKED times the taller of the two (one_digit_tall).
ONE_DIGIT = 1.25
STACKED = 1.6
# A piece this many typical digits wide may be two touching digits (a 1 leaning on the 4 beside it): it is
# cut where its ink thins to a narrow link, if it does.
TWO_TOUCHING = 1.25
# A piece this many typical digits wide whose ink thins nowhere it is cut is one stroke drawn across (a
# wave, a zigzag, a crossing-out), not a run of touching digits: five or more digits each written into the
# next along a whole stroke are far rarer than a mark. It is dropped.
ONE_STROKE = 4.5
# A piece smaller than DUST_AREA of the largest piece's area, or whose longer side is under DUST_SIDE of the
# longest side, is dust or a stray dot, not writing (drop_specks).
DUST_AREA = 0.02
DUST_SIDE = 0.25


def connected_pieces(mask: np.ndarray) -> tuple[np.ndarray, list[Piece]]:
    """The mask's 8-connected pieces: a label per pixel, and the pieces in the order of their first
    pixels, row by row (scipy.ndimage.label's order, which the rules below were tuned with)."""
    count, labels, boxes = piece_boxes(mask)
    first_pixels, pieces = [], []
    for label in range(1, count):
        left, top, width, height, area = (int(value) for value in boxes[label])
        first_pixels.append((top, left + int(np.argmax(labels[top, left:left + width] == label))))
        pieces.append(Piece(top, left, top + height, left + width, area, [label]))
    order = sorted(range(len(pieces)), key=first_pixels.__getitem__)
    return labels, [pieces[index] for index in order]


def drop_specks(labels: np.ndarray, pieces: list[Piece]) -> list[Piece]:
    """Drop what is not writing: pieces cut by the picture's edge when others are not (the edge of a
    shadow, the paper's edge, a finger), unless they end a number; filled triangles (a shadow's corner,
    left where the light's estimate could not follow it into its point); and dust and stray dots (pieces
    far smaller than the writing's largest, once the corners are gone: a small digit is not dust beside
    a shadow's corner)."""
    height, width = labels.shape
    cut = [piece.top == 0 or piece.left == 0 or piece.bottom == height or piece.right == width for piece in pieces]
    inside = [piece for piece, at_edge in zip(pieces, cut, strict=True) if not at_edge]
    if inside:
        pieces = inside + [piece for piece, at_edge in zip(pieces, cut, strict=True)
                           if at_edge and continues_a_number(piece, inside)]
    if not pieces:
        return pieces
    largest = max(piece.area for piece in pieces)
    pieces = [piece for piece in pieces if piece.area < DUST_AREA * largest  # dust is not worth the look
              or not filled_triangle(labels[piece.top:piece.bottom, piece.left:piece.right] == piece.labels[0])]
    if not pieces:
        return pieces
    tallest = max(max(piece.height, piece.width) for piece in pieces)
    largest = max(piece.area for piece in pieces)
    large = [max(piece.height, piece.width) >= DUST_SIDE * tallest and piece.area >= DUST_AREA * largest
             for piece in pieces]
    writing = [piece for piece, keep in zip(pieces, large, strict=True) if keep]
    if not writing:  # the longest piece a thin line, the largest too short beside it: neither is writing
        return []
    dots = [piece for piece, keep in zip(pieces, large, strict=True) if not keep and pen_dot(piece)]
    nearest = [min(writing, key=lambda piece: box_distance(dot, piece)) for dot in dots]
    return [piece for piece in writing
            if not any(owner is piece and dot_under(dot, piece) for dot, owner in zip(dots, nearest, strict=True))]


def box_distance(a: Piece, b: Piece) -> int:
    """How far apart two pieces' boxes are: the gap across plus the gap down (0 where they overlap)."""
    return max(0, horizontal_gap(a, b)) + max(0, vertical_gap(a, b))


def pen_dot(speck: Piece) -> bool:
    """Whether a speck is round and filled like a pen's dot."""
    round_enough = max(speck.height, speck.width) <= 2 * min(speck.height, speck.width)
    return round_enough and speck.area >= 0.5 * speck.height * speck.width


def dot_under(dot: Piece, piece: Piece) -> bool:
    """Whether a pen's dot is that of a question or exclamation mark under this piece: not dust (its
    longer side at least DOT of the piece's height), under the piece's middle and a little below it. A
    digit has no dot under it; a decimal point sits on the line, beside."""
    gap = dot.top - piece.bottom
    centre = (dot.left + dot.right) / 2
    return (0 <= gap <= 0.6 * piece.height and max(dot.height, dot.width) >= DOT * piece.height
            and piece.left + 0.2 * piece.width <= centre <= piece.right - 0.2 * piece.width)


def continues_a_number(piece: Piece, others: list[Piece]) -> bool:
    """A piece the photo's edge cuts is the last digit of a number running off the photo when two or more
    digits share its rows, none much shorter than it, and the nearest is as close as digits are."""
    beside = [other for other in others
              if piece.height <= 1.2 * other.height and vertical_overlap(piece, other) >= 0.5]
    return len(beside) >= 2 and min(horizontal_gap(piece, other) / other.height for other in beside) <= 0.5


def solid(piece: Piece, labels: np.ndarray) -> bool:
    """A solid patch, not writing (a shadow's corner, a finger). Judged once stacked pieces are joined: a
    loop a marker filled is as solid, but joined to the rest of its digit it is not."""
    return patch_like(np.isin(labels[piece.top:piece.bottom, piece.left:piece.right], piece.labels))


def among_digits(piece: Piece, pieces: list[Piece]) -> bool:
    """A piece in a line of digits as tall as it (two or more others sharing half its rows): a digit a
    marker filled in (a small, blurred 8), not a shadow's corner, however solid."""
    return sum(other is not piece and 0.7 * piece.height <= other.height <= 1.4 * piece.height
               and vertical_overlap(piece, other) >= 0.5 for other in pieces) >= 2


def horizontal_overlap(a: Piece, b: Piece) -> float:
    """Overlap of the two pieces' column ranges, as a share of the narrower one's width."""
    shared = min(a.right, b.right) - max(a.left, b.left)
    return shared / max(1, min(a.width, b.width))


def vertical_overlap(a: Piece, b: Piece) -> float:
    """Overlap of the two pieces' row ranges, as a share of the shorter one's height."""
    shared = min(a.bottom, b.bottom) - max(a.top, b.top)
    return shared / max(1, min(a.height, b.height))


def vertical_gap(a: Piece, b: Piece) -> int:
    """Rows between the two pieces (0 or less when their row ranges overlap)."""
    return max(a.top, b.top) - min(a.bottom, b.bottom)


def horizontal_gap(a: Piece, b: Piece) -> int:
    """Columns between the two pieces (0 or less when their column ranges overlap)."""
    return max(a.left, b.left) - min(a.right, b.right)


def join_stacked(pieces: list[Piece], typical: int, labels: np.ndarray) -> list[Piece]:
    """Join pieces stacked closely over each other (the detached top of a 5, a 4 written in two
    strokes, a 9's loop apart from its stem): lines of writing are further apart than a quarter of a
    digit's height. But never into a piece taller than a digit when either piece has a neighbour
    beside it in a line the other is not in (lines_apart): a page's lines may be closer than that, and
    two digits over each other there are two lines, not one digit. `typical` is a digit's height
    (typical_height). A solid patch (a shadow's corner) is no neighbour: `labels` tells it."""
    rows = Rows([piece for piece in pieces if not solid(piece, labels)])
    changed = True
    while changed:  # a join makes a piece taller: go again until nothing joins
        changed = False
        kept: list[Piece] = []
        reaching: list[int] = []  # the kept pieces reaching right of the last left edge: the only ones to join
        for piece in sorted(pieces, key=lambda p: (p.left, p.top)):
            reaching = [index for index in reaching if kept[index].right > piece.left]
            for index in reaching:
                other = kept[index]
                close = vertical_gap(other, piece) <= 0.25 * max(other.height, piece.height)
                if (horizontal_overlap(other, piece) >= 0.5 and close
                        and (one_digit_tall(other, piece, rows.digit_height(other, piece, typical))
                             or not rows.lines_apart(other, piece))):
                    kept[index] = other.joined(piece)
                    changed = True
                    break
            else:
                reaching.append(len(kept))
                kept.append(piece)
        pieces = kept
    return pieces


def one_digit_tall(a: Piece, b: Piece, digit_height: float) -> bool:
    """Whether two pieces over each other are together no taller than one digit: than a digit of their
    line (Rows.digit_height), or than the taller of the two with a bar or a cap on it. Two digits on
    lines of a page, even close ones, are twice as tall."""
    height = max(a.bottom, b.bottom) - min(a.top, b.top)
    return height <= ONE_DIGIT * digit_height or height <= STACKED * max(a.height, b.height)


class Rows:
    """The rows and columns of a set of pieces, to ask which of them stand beside a piece."""

    def __init__(self, pieces: list[Piece]) -> None:
        self.top, self.bottom, self.left, self.right = (np.array([getattr(p, side) for p in pieces], dtype=np.int64)
                                                        for side in ("top", "bottom", "left", "right"))

    def share_rows(self, piece: Piece) -> np.ndarray:
        """Which pieces share at least half the rows of the shorter of it and them (vertical_overlap)."""
        shared = np.minimum(self.bottom, piece.bottom) - np.maximum(self.top, piece.top)
        return shared >= 0.5 * np.maximum(1, np.minimum(self.bottom - self.top, piece.height))

    def beside(self, piece: Piece) -> np.ndarray:
        """Which pieces stand beside it in its line: sharing its rows, hardly any of its columns, and
        at least half as tall (not a bar or a speck)."""
        shared = np.minimum(self.right, piece.right) - np.maximum(self.left, piece.left)
        apart = shared <= 0.25 * np.maximum(1, np.minimum(self.right - self.left, piece.width))
        return self.share_rows(piece) & apart & (self.bottom - self.top >= 0.5 * piece.height)

    def digit_height(self, a: Piece, b: Piece, typical: int) -> float:
        """A digit's height where two pieces over each other are: the taller quarter of the pieces beside
        either (whole digits, not the broken pieces of some), or `typical` if that is taller."""
        heights = (self.bottom - self.top)[self.beside(a) | self.beside(b)]
        return max(float(typical), float(np.percentile(heights, 75)) if heights.size else 0.0)

    def lines_apart(self, a: Piece, b: Piece) -> bool:
        """Whether one of two pieces over each other has a neighbour in a line the other is not in:
        they are on two lines of writing (a single digit in two halves has no neighbour, and in a
        number its neighbours stand beside both halves)."""
        return bool((self.beside(a) & ~self.share_rows(b)).any() or (self.beside(b) & ~self.share_rows(a)).any())


def group_lines(pieces: list[Piece], typical: int) -> list[list[Piece]]:
    """Group pieces into lines of writing, top line first. Going left to right, a tall piece continues
    the line whose last tall piece shares at least half of its rows (so a line may climb or sink
    across the page); short pieces (a detached bar, a broken-off end) then join the nearest line if it
    is within half a digit's height, and are dropped if no line is (a shadow's tip far from the writing).
    `typical` is a digit's height (typical_height)."""
    lines: list[list[Piece]] = []
    short = []
    for piece in sorted(pieces, key=lambda p: p.left):
        if piece.height < SHORT_PIECE * typical:
            short.append(piece)
            continue
        overlaps = [vertical_overlap(piece, line[-1]) for line in lines]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best >= 0 and overlaps[best] >= 0.5:
            lines[best].append(piece)
        else:
            lines.append([piece])
    for piece in short:
        centre = (piece.top + piece.bottom) / 2
        distances = [min(max(0.0, p.top - centre, centre - p.bottom) + abs(
            (p.left + p.right) / 2 - (piece.left + piece.right) / 2) / 4 for p in line) for line in lines]
        if distances and min(distances) <= 0.5 * typical:
            lines[int(np.argmin(distances))].append(piece)
    lines = merge_side_by_side(lines)
    lines.sort(key=lambda line: float(np.median([p.top + p.bottom for p in line])))
    return [sorted(line, key=lambda p: p.left) for line in lines]


def merge_side_by_side(lines: list[list[Piece]]) -> list[list[Piece]]:
    """Two "lines" that sit side by side, sharing some rows but no columns, are one line of writing
    whose digits jump up or down (lines of a page lie over each other and share columns)."""
    spans = [functools.reduce(Piece.joined, line) for line in lines]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(lines)), 2):
            a, b = spans[i], spans[j]
            if horizontal_overlap(a, b) <= 0 and min(a.bottom, b.bottom) > max(a.top, b.top):
                lines[i] += lines[j]
                spans[i] = a.joined(b)
                del lines[j], spans[j]
                merged = True
                break
    return lines


def join_pieces(line: list[Piece]) -> list[Piece]:
    """Join the pieces of one digit. In a line of writing, digits follow each other left to right, so
    pieces whose columns overlap belong together (the detached top of a 5, a 4's two strokes)."""
    digits: list[Piece] = []
    for piece in sorted(line, key=lambda p: p.left):
        if (digits and horizontal_overlap(digits[-1], piece) >= 0.25
                and vertical_gap(digits[-1], piece) <= 0.5 * max(digits[-1].height, piece.height)):
            digits[-1] = digits[-1].joined(piece)
        else:
            digits.append(piece)
    return digits


def join_fragments(digits: list[Piece]) -> list[Piece]:
    """Pieces of one line too small to be a digit (their longer side under FRAGMENT of the line's
    typical digit height: a stroke broken at a shadow's edge, a stray mark), smallest first: each
    joined to the nearer of its neighbours when that is within MAX_JOIN_GAP of that height, else
    dropped. The line's own height, so a line written smaller than another keeps its digits."""
    digits = list(digits)
    typical = typical_height(digits)
    while small := [i for i, d in enumerate(digits) if max(d.height, d.width) < FRAGMENT * typical]:
        index = min(small, key=lambda i: digits[i].area)
        piece = digits.pop(index)
        gaps = {i: horizontal_gap(digits[i], piece) for i in (index - 1, index) if 0 <= i < len(digits)}
        if gaps and min(gaps.values()) <= MAX_JOIN_GAP * typical:
            nearest = min(gaps, key=gaps.get)
            digits[nearest] = digits[nearest].joined(piece)
    return digits


def typical_height(pieces: list[Piece]) -> int:
    """The height of a typical digit among these pieces: the upper median, so that of a digit and a
    shorter speck beside it, the digit's."""
    return sorted(piece.height for piece in pieces)[len(pieces) // 2]


def split_wide(piece: Piece, own: np.ndarray, digit_width: float) -> tuple[list[Piece], bool]:
    """Split a piece as wide as several digits (touching digits) at the thinnest columns near even cuts.

    `own` is the piece's own ink, cropped to its box; `digit_width` a typical digit's width in this
    line. A cut is made from TWO_TOUCHING digits wide, at the thinnest column near the even cut, unless it
    would leave a part much shorter or narrower than a digit. The parts may still be read as one digit
    (join_candidates): a wide 2 or 5 with a long stroke stays whole. Also returned: whether a cut found no
    narrow link where the ink thins, in a piece less than nearly two digits wide; one wide digit is then
    as likely as two, and the parts are read apart only if the model is sure of each (two bold digits
    written close, "92" in a marker, touch along a stroke). A piece ONE_STROKE digits wide or more with no
    narrow link at any cut gives no parts.
    """
    if piece.width < TWO_TOUCHING * digit_width:
        return [piece], False
    count = max(2, round(piece.width / digit_width))
    columns = own.sum(axis=0)
    typical = float(np.median(columns[columns > 0]))
    cuts = [0]
    for k in range(1, count):
        centre = round(k * piece.width / count)
        reach = max(1, round(0.35 * piece.width / count))
        first = max(cuts[-1] + 1, centre - reach)
        window = columns[first:min(piece.width - 1, centre + reach)]
        if window.size:
            cuts.append(first + int(np.argmin(window)))
    linked = [columns[cut] > 0.5 * typical for cut in cuts[1:]]  # the ink does not thin at this cut
    if piece.width >= ONE_STROKE * digit_width and all(linked):
        return [], False
    loose = any(linked) and piece.width < 1.8 * digit_width
    cuts.append(piece.width)
    parts = []
    for start, stop in itertools.pairwise(cuts):
        part = own[:, start:stop]
        rows = np.flatnonzero(part.any(axis=1))
        if rows.size:
            parts.append(Piece(piece.top + int(rows[0]), piece.left + start, piece.top + int(rows[-1]) + 1,
                               piece.left + stop, int(part.sum()), piece.labels))
    if any(part.height < 0.5 * piece.height or part.width < 0.3 * digit_width for part in parts):
        return [piece], False  # a cut through one digit's stroke (a 5's bar, a 7's top), not between two digits
    return parts, loose


def digit_width(line: list[Piece], piece: Piece) -> float:
    """A typical digit's width in this line, for telling one wide digit from several touching ones:
    the other digits' median width, but at least 0.55 of the line's height (a line of 1s says little),
    or 0.75 of the height when the piece is alone."""
    height = float(np.median([p.height for p in line]))
    others = [p.width for p in line if p is not piece]
    if not others:
        return 0.75 * max(height, piece.height)
    return max(float(np.median(others)), 0.55 * max(height, piece.height))


def writing(mask: np.ndarray) -> tuple[np.ndarray, list[Piece]]:
    """The mask's pieces that may be writing (drop_specks), and the label of each pixel."""
    labels, pieces = connected_pieces(mask)
    return labels, drop_specks(labels, pieces)


def segment(mask: np.ndarray) -> list[Segment]:
    """Every digit in the mask, in reading order."""
    return segment_writing(*writing(mask))


def segment_writing(labels: np.ndarray, pieces: list[Piece]) -> list[Segment]:
    """Every digit made of the pieces that may be writing (`writing`), in reading order."""
    if not pieces:
        return []
    pieces = join_stacked(pieces, typical_height(pieces), labels)
    pieces = [piece for piece in pieces if not (solid(piece, labels) and not among_digits(piece, pieces))]
    if not pieces:
        return []
    digits = []
    typical = typical_height(pieces)
    sources = itertools.count()
    for number, line in enumerate(group_lines(pieces, typical)):
        digits_of_line = join_fragments(join_pieces(line))
        joined = [piece for piece in digits_of_line if piece.height >= NOT_A_DIGIT * typical]
        for piece, source in zip(joined, sources, strict=False):  # sources never ends
            rows, cols = slice(piece.top, piece.bottom), slice(piece.left, piece.right)
            own = np.isin(labels[rows, cols], piece.labels)
            parts, loose = split_wide(piece, own, digit_width(joined, piece))
            for part in parts:
                ink = own[part.top - piece.top:part.bottom - piece.top, part.left - piece.left:part.right - piece.left]
                digits.append(Segment(number, part, ink, source, loose))
    return digits


class JoinCandidate(NamedTuple):
    """Two neighbouring segments, `first` and the one after it, taken together."""

    first: int
    piece: Piece  # their joint box
    ink: np.ndarray  # their ink together, cropped to that box
    split: bool  # they were cut from one piece (split_wide)
    only_if_sure: bool = False  # ... with no narrow link between them: apart only if each is sure


def join_candidates(found: list[Segment]) -> list[JoinCandidate]:
    """Neighbours in a line close enough, and together narrow enough, to be one digit in two pieces (a 4
    written in two strokes, a 5 with its bar apart), and the parts of any piece split_wide cut (a wide 2
    or 0 may be one digit however wide it is). Which reading is right is the model's to say."""
    candidates = []
    for first, (this, after) in enumerate(itertools.pairwise(found)):
        a, b = this.piece, after.piece
        height = max(a.height, b.height)
        near = b.left - a.right <= MAX_JOIN_GAP * height and max(a.right, b.right) - a.left <= MAX_JOIN_WIDTH * height
        split = this.source == after.source
        if after.line != this.line or not (near or split):
            continue
        both = a.joined(b)
        ink = np.zeros((both.height, both.width), dtype=bool)
        for piece, own in ((a, this.ink), (b, after.ink)):
            ink[piece.top - both.top:piece.bottom - both.top, piece.left - both.left:piece.right - both.left] |= own
        candidates.append(JoinCandidate(first, both, ink, split, split and this.loose))
    return candidates
