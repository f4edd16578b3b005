"""Photo → digits: turn a photo or scan of handwriting into 28x28 MNIST-style frames, one per digit.

The steps, in order, each a function below:

1. load: EXIF orientation applied; 16-bit, palette, alpha and CMYK images made plain RGB on white paper;
   read reduced, and where the digits come out small, read again closer (read_photo).
2. colour: of the grey and the three channels, the one where ink stands out most from the paper
   (blue ink on yellowish paper is darkest in the red channel).
3. light: the paper's brightness estimated at a large scale (a morphological closing that removes every
   stroke, rebuilt where it filled a shadow's corner, but never along a stroke: the rebuilding's floor
   is closed by a window wider than the writing's own strokes) and divided out, so shadows, gradients
   and vignetting are paper, not ink.
4. ink: a threshold with hysteresis on the flattened image, set from its own noise and ink levels.
5. digits: connected pieces of ink, specks dropped, the pieces of one digit joined (a detached top of a 5,
   a broken stroke), marks far shorter than a digit dropped (a shadow's tip), a piece much wider than a
   digit split, grouped into lines, left to right; and neighbours that may still be one digit (and the
   parts of a split piece) offered joined too, for the model to choose (reading.py).
6. strokes and framing: each digit's stroke width brought to MNIST's, then MNIST's own preparation:
   cropped, longer side 20 px, centre of mass at the centre of 28x28.

Nothing here imports TensorFlow: the predict command, the stages and the web app share this module and
classify its frames with the model themselves.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError
from scipy import ndimage

from mnist_dvc.common import IMAGE_SIZE, UserError

# Photos are read in parallel one per process (the photo benchmark, `make bench`); on images this small,
# OpenCV's own worker threads only add waiting.
cv2.setNumThreads(1)

MAX_PIXELS = 40_000_000  # a 40-megapixel photo; larger is refused before it is decoded
WORKING_SIDE = 800  # photos are read at most this large (longer side): plenty for digits, and fast
SMALL_DIGIT = 48  # digits less tall than this in the reduced photo are read again from the original's pixels
DIGIT_BOX = 20  # MNIST: the longer side of a digit fills 20 of the 28 pixels
STROKE_SCALE = 3  # strokes are measured and reshaped with the digit at 3x its final 20-px size
# MNIST's stroke width in 28x28 pixels, measured with stroke_width() on 5,000 random training digits
# upscaled 3x and cut at half intensity (median 2.73; 10th-90th percentile 1.95-3.79).
MNIST_STROKE_WIDTH = 2.73
# Bringing a digit's mask down from 60 to 20 px softens its edges: the frame measures about a tenth
# thinner than the mask it came from, so the mask is made this much wider.
RESAMPLING_LOSS = 1.1
# Two neighbours are offered to the model as one digit when the gap between them is at most this share of
# their height, and together they are at most this many heights wide.
MAX_JOIN_GAP = 0.3
MAX_JOIN_WIDTH = 1.1
# A piece less tall than SHORT_PIECE of a typical digit's height is part of a digit (a detached bar, a
# broken-off end): it joins the line it is near, or no line. One less tall than NOT_A_DIGIT that is still
# apart after the pieces of each digit were joined is not writing (a shadow's pointed tip, a stray mark).
SHORT_PIECE = 0.5
NOT_A_DIGIT = 0.4
# A piece of a line whose longer side is under FRAGMENT of the line's typical digit height is part of
# a digit, too small to be read alone: it joins its nearer neighbour, or is dropped (join_fragments).
FRAGMENT = 0.6
# A piece filling more than this share of its box, with "strokes" as wide as it is long, is not writing.
SOLID = 0.7
MIN_CONTRAST = 0.08  # ink must absorb at least 8 % more light than the paper around it
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

Box = tuple[int, int, int, int]  # left, top, width, height


@dataclass(frozen=True)
class Digit:
    """One digit found in a photo: what the model sees, and where it was."""

    frame: np.ndarray  # 28x28 uint8, white ink on black, as in MNIST
    box: Box  # in the pixels of the photo as displayed (EXIF orientation applied)
    line: int  # 0 for the top line of writing


# --- 1. load -------------------------------------------------------------------------------------

def file_bytes(source: str | Path | bytes, name: str) -> bytes:
    """The file's bytes, from its path or as given; `name` is how errors refer to it."""
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as error:
        raise UserError(f"{name}: cannot read ({error.strerror or type(error).__name__})") from None


def load_image(source: str | Path | bytes, name: str,
               region: Box | None = None) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The photo as float32 RGB 0..255 (height, width, 3), upright, transparency as white paper, how
    many of the original's pixels one of its pixels spans, and the upright original's (width, height).

    `source` is a path or the file's bytes; `name` is how errors refer to it. Larger photos are
    reduced so the longer side is at most WORKING_SIDE (JPEGs are decoded reduced, which is fast).
    With `region` (in the upright original's pixels), only that part is read, at full resolution
    before the same reduction.
    """
    stream = io.BytesIO(file_bytes(source, name))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings on odd metadata: the image still loads
            with Image.open(stream) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UserError(f"{name}: {image.width}x{image.height} pixels is larger than the "
                                    f"{MAX_PIXELS // 1_000_000}-megapixel limit; scale it down first")
                original_side = max(image.size)
                size = image.size
                if image.format == "JPEG" and region is None:
                    image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
                image.load()
                decoded = image.size
                ImageOps.exif_transpose(image, in_place=True)  # no copy of a photo already upright
                if image.size != decoded:  # a quarter turn
                    size = size[::-1]
                upright = image
                if region is not None:
                    left, top, width, height = region
                    upright = upright.crop((left, top, left + width, top + height))
                    original_side = max(width, height)
                working = to_rgb(upright, WORKING_SIDE)
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            NotImplementedError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
            MemoryError) as error:  # what Pillow's decoders raise on damaged or unsupported files
        raise UserError(f"{name}: not a readable image ({type(error).__name__})") from None
    return working, original_side / max(working.shape[:2]), size


def to_rgb(image: Image.Image, longest: int) -> np.ndarray:
    """Any Pillow mode as float32 RGB 0..255, shrunk (area-averaged) so its longer side is at most
    `longest`: high-bit-depth grey scaled down, alpha composited on white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = reduced(Image.fromarray(np.clip(values * (255.0 / top), 0, 255)), longest)
        return np.repeat(np.asarray(grey, dtype=np.float32)[:, :, None], 3, axis=2)
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(reduced(image if image.mode == "RGB" else image.convert("RGB"), longest), dtype=np.float32)


def reduced(image: Image.Image, longest: int) -> Image.Image:
    """Shrink (area-averaged) so the longer side is at most `longest`; smaller images are left alone."""
    factor = max(image.size) / longest
    if factor <= 1:
        return image
    size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
    return image.resize(size, Image.Resampling.BOX)


# --- 2 and 3. colour and light --------------------------------------------------------------------

GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# The strokes are removed from the light estimate's floor by a closing this many stroke widths wide.
STROKE_WINDOW_WIDTHS = 1.5
PAPER_SIDE = 200  # the paper's brightness is estimated on a copy this large
THUMBNAIL_SIDE = 200  # the channel and polarity are chosen on a copy this large: cheap, and enough


# Grey morphology by OpenCV: the same values as scipy.ndimage's (a minimum or maximum is exact), in
# several times less time on these small images. Edges repeat the outermost pixels (scipy's "nearest").
def square_morphology(image: np.ndarray, operation: int, size: int) -> np.ndarray:
    """OpenCV's `operation` (cv2.MORPH_CLOSE, MORPH_OPEN, MORPH_ERODE, MORPH_DILATE) by a size x size square."""
    return cv2.morphologyEx(np.ascontiguousarray(image), operation, np.ones((size, size), np.uint8),
                            borderType=cv2.BORDER_REPLICATE)


def grey_closing(image: np.ndarray, size: int) -> np.ndarray:
    return square_morphology(image, cv2.MORPH_CLOSE, size)


def grey_opening(image: np.ndarray, size: int) -> np.ndarray:
    return square_morphology(image, cv2.MORPH_OPEN, size)


def minimum_3x3(image: np.ndarray) -> np.ndarray:
    return square_morphology(image, cv2.MORPH_ERODE, 3)


def maximum_3x3(image: np.ndarray) -> np.ndarray:
    return square_morphology(image, cv2.MORPH_DILATE, 3)


def binary_erosion(mask: np.ndarray) -> np.ndarray:
    """scipy.ndimage.binary_erosion's default: by a 3x3 cross, with no ink beyond the edges."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    eroded = cv2.erode(np.ascontiguousarray(mask, dtype=np.uint8), cross, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return eroded.astype(bool)


def label_pieces(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """OpenCV's labelling of the mask's 8-connected pieces: how many labels (0, the background,
    included) and a label per pixel. Numbered in another order than scipy.ndimage.label's."""
    return cv2.connectedComponents(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8, ltype=cv2.CV_32S)


def paper_level(grey: np.ndarray, shadows: bool = True) -> np.ndarray:
    """The brightness of bare paper at each pixel, strokes removed.

    A grey closing (a dilation then an erosion) with a window a tenth of the image across, wider than
    any pen's stroke, removes the writing and keeps every straight step and slope of the light (a
    shadow's edge, a gradient). It fills a shadow's corner too, as it fills a stroke: with `shadows`,
    the closing is rebuilt downwards (a reconstruction by erosion) wherever the dark area it filled
    is joined to a larger dark area by pixels that are not strokes (the floor it is rebuilt to is a
    closing wider than the writing's own strokes: stroke_window), which gives a shadow its corners
    back, however long and thin they run, and leaves the writing removed.

    All of it runs on an area-averaged copy at most 200 px across (fast, and less noisy); the image is
    extended linearly beyond its edges so a slope is followed right up to them, and one more erosion
    keeps the upscaled estimate from spilling light over the dark side of a sharp shadow's edge.
    """
    height, width = grey.shape
    factor = max(1, math.ceil(max(height, width) / PAPER_SIDE))
    small = np.asarray(Image.fromarray(grey).reduce(factor)) if factor > 1 else grey
    window = max(3, round(max(small.shape) / 10) | 1)
    margin = window // 2 + 1
    padded = np.pad(small, margin, mode="reflect", reflect_type="odd")
    paper = grey_closing(padded, window)
    if shadows:
        floor = stroke_window(padded, paper, window)
        strokes_removed = grey_closing(padded, floor)
        paper = reconstruct_by_erosion(paper, strokes_removed, steps=3 * window)
    paper = minimum_3x3(paper)[margin:-margin, margin:-margin]
    if factor > 1:
        paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    return paper


def stroke_window(grey: np.ndarray, paper: np.ndarray, window: int) -> int:
    """An odd window wider than the writing's strokes (in `grey`'s pixels, with `paper` its estimate
    without shadows), so that a closing by it removes every stroke: STROKE_WINDOW_WIDTHS times their
    width, which is twice the median distance to the paper along their centre lines; at least 3, at
    most `window`."""
    mask = ink_mask(absorbed_light(grey, paper))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 3
    # The ink's box and a ring of paper around it hold every stroke's nearest paper: the rest is no work.
    mask = mask[max(rows[0] - 1, 0):rows[-1] + 2, max(cols[0] - 1, 0):cols[-1] + 2]
    distance = ndimage.distance_transform_edt(mask)
    ridge = mask & (distance >= maximum_3x3(distance))
    width = 2 * float(np.median(distance[ridge]))
    return int(min(window, max(3, math.ceil(STROKE_WINDOW_WIDTHS * width)))) | 1


def reconstruct_by_erosion(marker: np.ndarray, floor: np.ndarray, steps: int) -> np.ndarray:
    """Lower `marker` towards `floor` (marker >= floor) by repeated 3x3 erosions that never go below
    `floor`: every low area of `floor` spreads at most `steps` pixels into the marker."""
    for step in range(1, steps + 1):
        lowered = np.maximum(minimum_3x3(marker), floor)
        # Settled: further steps change nothing. Checked every 4th step, as a check costs about a step.
        if step % 4 == 0 and np.array_equal(lowered, marker):
            break
        marker = lowered
    return marker


def light_ink_on_dark(grey: np.ndarray) -> bool:
    """True for light writing on a dark ground (chalk on a board, a white-on-black scan or MNIST image):
    the picture is mostly dark, and what stands out of it is brighter, and thin: most of its bright
    pixels vanish in a grey opening (as strokes do, and a lit patch of a dim photo does not)."""
    low, middle, high = np.percentile(grey, [0.5, 50, 99.5])
    if not (middle < 100 and high - middle > middle - low):
        return False
    window = max(3, round(max(grey.shape) / 10) | 1)
    bright = grey > (middle + high) / 2
    thin = grey - grey_opening(grey, window) > (high - middle) / 4
    return bool((thin & bright).sum() > 0.5 * bright.sum())


def spread(values: np.ndarray) -> float:
    """A robust standard deviation (1.4826 median absolute deviations)."""
    values = np.array(values).ravel()  # a copy: the medians below reorder it
    deviations = np.abs(values - np.median(values, overwrite_input=True))
    return 1.4826 * float(np.median(deviations, overwrite_input=True))


def ink_contrast(ink: np.ndarray) -> float:
    """How clearly ink stands out: its strong level over the paper's noise."""
    return float(np.percentile(ink, 99.5)) / (spread(ink) + 0.03)


def absorbed_light(grey: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Share of the paper's light each pixel lacks (0 = paper, 1 = black), for dark ink on light paper;
    below 0 where the paper's noise is brighter than its estimate (kept, so the noise can be measured)."""
    absorbed = grey / np.maximum(paper, 1.0)
    np.subtract(1, absorbed, out=absorbed)
    return np.clip(absorbed, -1, 1, out=absorbed)


def best_grey(rgb: np.ndarray) -> np.ndarray:
    """The grey in which the ink stands out most: the luminance, or the red channel where that is
    clearly better (blue and violet pens on tinted paper); inverted for light writing on a dark ground.

    The channel is chosen on a thumbnail. The green and blue channels are not candidates: JPEG stores
    colour at half resolution in blocks, and those channels add block noise, not ink.
    """
    luminance = (rgb @ GREY_WEIGHTS).astype(np.float32)
    factor = max(1, round(max(rgb.shape[:2]) / THUMBNAIL_SIDE))
    inverted = light_ink_on_dark(luminance[::factor, ::factor])
    scores = []
    for grey in (luminance[::factor, ::factor], rgb[::factor, ::factor, 0]):
        grey = 255 - grey if inverted else grey
        scores.append(ink_contrast(absorbed_light(grey, paper_level(grey, shadows=False))))
    grey = rgb[:, :, 0].copy() if scores[1] > 1.4 * scores[0] else luminance
    return 255 - grey if inverted else grey


def ink_image(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ink strength 0..1 per pixel with uneven light removed, and how much the paper's noise is
    magnified at each pixel by that removal (1 where the paper is of typical brightness, more in shadow)."""
    grey = best_grey(rgb)
    paper = paper_level(grey)
    magnification = float(np.median(paper[::4, ::4])) / np.maximum(paper, 1.0)
    return absorbed_light(grey, paper), np.maximum(magnification, 1.0)


# --- 4. ink ---------------------------------------------------------------------------------------

def ink_mask(ink: np.ndarray, magnification: np.ndarray | float = 1.0) -> np.ndarray:
    """Where the ink is: pixels above a low threshold connected to pixels above a high one (hysteresis).

    The levels come from the image itself: the paper's noise (a robust spread, larger in shadows where
    the light was divided out) and the strong ink level (a high percentile), so a faint pencil and a
    black marker both work. All False when no stroke stands out (a blank page, a gradient, a shadow).
    """
    smooth = cv2.blur(ink, (3, 3), borderType=cv2.BORDER_REFLECT)  # the mean of each 3x3 window
    sample = smooth[::4, ::4]
    noise = max(spread(sample), 0.006)
    strong = float(np.percentile(sample, 99.8))
    if strong < max(MIN_CONTRAST, 10 * noise):
        strong = float(np.percentile(sample, 99.97))  # very little ink (a thin pen, small digits)
    if strong < max(MIN_CONTRAST, 10 * noise):
        strong = float(smooth.max())  # a few thin strokes in a large photo: found here, read closer later
    if strong < max(MIN_CONTRAST, 10 * noise):
        return np.zeros(ink.shape, dtype=bool)
    local_noise = noise * magnification
    high = np.maximum(max(0.5 * strong, MIN_CONTRAST), 8 * local_noise)
    low = np.maximum(max(0.3 * strong, MIN_CONTRAST * 0.6), 4 * local_noise)
    candidates = smooth > low
    count, labels = label_pieces(candidates)
    if count == 1:  # the background alone
        return candidates
    keep = np.zeros(count, dtype=bool)
    keep[labels[smooth > high]] = True
    keep[0] = False
    return keep[labels]


# --- 5. digits ------------------------------------------------------------------------------------

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


def connected_pieces(mask: np.ndarray) -> tuple[np.ndarray, list[Piece]]:
    """The mask's 8-connected pieces: a label per pixel, and the pieces in the order of their first
    pixels, row by row (scipy.ndimage.label's order, which the rules below were tuned with)."""
    count, labels = label_pieces(mask)
    areas = np.bincount(labels.ravel(), minlength=count)
    first_pixels, pieces = [], []
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), 1):
        first_pixels.append((rows.start, cols.start + int(np.argmax(labels[rows.start, cols] == label))))
        pieces.append(Piece(rows.start, cols.start, rows.stop, cols.stop, int(areas[label]), [label]))
    order = sorted(range(len(pieces)), key=first_pixels.__getitem__)
    return labels, [pieces[index] for index in order]


def drop_specks(labels: np.ndarray, pieces: list[Piece]) -> list[Piece]:
    """Drop what is not writing: pieces cut by the picture's edge when others are not (the edge of a
    shadow, the paper's edge, a finger), unless they end a number, and dust and stray dots (pieces far
    smaller than the writing's largest)."""
    height, width = labels.shape
    cut = [piece.top == 0 or piece.left == 0 or piece.bottom == height or piece.right == width for piece in pieces]
    inside = [piece for piece, at_edge in zip(pieces, cut, strict=True) if not at_edge]
    if inside:
        pieces = inside + [piece for piece, at_edge in zip(pieces, cut, strict=True)
                           if at_edge and continues_a_number(piece, inside)]
    if not pieces:
        return pieces
    tallest = max(max(piece.height, piece.width) for piece in pieces)
    largest = max(piece.area for piece in pieces)
    return [piece for piece in pieces
            if max(piece.height, piece.width) >= 0.25 * tallest and piece.area >= 0.02 * largest]


def continues_a_number(piece: Piece, others: list[Piece]) -> bool:
    """A piece the photo's edge cuts is the last digit of a number running off the photo when two or more
    digits share its rows, none much shorter than it, and the nearest is as close as digits are."""
    beside = [other for other in others
              if piece.height <= 1.2 * other.height and vertical_overlap(piece, other) >= 0.5]
    return len(beside) >= 2 and min(horizontal_gap(piece, other) / other.height for other in beside) <= 0.5


def solid(piece: Piece, labels: np.ndarray) -> bool:
    """A solid patch, not writing (a shadow's corner, a finger). Judged once stacked pieces are joined: a
    loop a marker filled is as solid, but joined to the rest of its digit it is not."""
    own = np.isin(labels[piece.top:piece.bottom, piece.left:piece.right], piece.labels)
    return stroke_width(own) > 0.3 * max(piece.height, piece.width) and piece.area > SOLID * piece.height * piece.width


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


def join_stacked(pieces: list[Piece]) -> list[Piece]:
    """Join pieces stacked closely over each other (the detached top of a 5, a 4 written in two
    strokes): lines of writing are further apart than a quarter of a digit's height."""
    changed = True
    while changed:  # a join makes a piece taller: go again until nothing joins
        changed = False
        kept: list[Piece] = []
        for piece in sorted(pieces, key=lambda p: (p.left, p.top)):
            for index, other in enumerate(kept):
                close = vertical_gap(other, piece) <= 0.25 * max(other.height, piece.height)
                if horizontal_overlap(other, piece) >= 0.5 and close:
                    kept[index] = other.joined(piece)
                    changed = True
                    break
            else:
                kept.append(piece)
        pieces = kept
    return pieces


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


def split_wide(piece: Piece, mask: np.ndarray, digit_width: float) -> list[Piece]:
    """Split a piece as wide as several digits (touching digits) at the thinnest columns near even cuts.

    `digit_width` is a typical digit's width in this line. A cut is made where the ink thins to a
    narrow link, or anywhere near the even cut when the piece is nearly two digits wide or more; so a
    single wide digit (a 2 or 5 with a long stroke) stays whole, as does a piece whose cut would leave
    a part much shorter or narrower than a digit.
    """
    count = round(piece.width / digit_width)
    if count < 2:
        return [piece]
    columns = mask[piece.top:piece.bottom, piece.left:piece.right].sum(axis=0)
    typical = float(np.median(columns[columns > 0]))
    cuts = [0]
    for k in range(1, count):
        centre = round(k * piece.width / count)
        reach = max(1, round(0.35 * piece.width / count))
        first = max(cuts[-1] + 1, centre - reach)
        window = columns[first:min(piece.width - 1, centre + reach)]
        if window.size:
            cut = first + int(np.argmin(window))
            if columns[cut] <= 0.5 * typical or piece.width >= 1.8 * digit_width:
                cuts.append(cut)
    cuts.append(piece.width)
    parts = []
    for start, stop in itertools.pairwise(cuts):
        part = mask[piece.top:piece.bottom, piece.left + start:piece.left + stop]
        rows = np.flatnonzero(part.any(axis=1))
        if rows.size:
            parts.append(Piece(piece.top + int(rows[0]), piece.left + start, piece.top + int(rows[-1]) + 1,
                               piece.left + stop, int(part.sum()), piece.labels))
    if any(part.height < 0.5 * piece.height or part.width < 0.3 * digit_width for part in parts):
        return [piece]  # a cut through one digit's stroke (a 5's bar, a 7's top), not between two digits
    return parts


def digit_width(line: list[Piece], piece: Piece) -> float:
    """A typical digit's width in this line, for telling one wide digit from several touching ones:
    the other digits' median width, but at least 0.55 of the line's height (a line of 1s says little),
    or 0.75 of the height when the piece is alone."""
    height = float(np.median([p.height for p in line]))
    others = [p.width for p in line if p is not piece]
    if not others:
        return 0.75 * max(height, piece.height)
    return max(float(np.median(others)), 0.55 * max(height, piece.height))


class Segment(NamedTuple):
    """One digit found in the ink mask."""

    line: int  # 0 for the top line of writing
    piece: Piece  # its box
    ink: np.ndarray  # its own ink, cropped to the box
    source: int  # the piece it was cut from: digits split_wide cut from one piece share it


def segment(mask: np.ndarray) -> list[Segment]:
    """Every digit in the mask, in reading order."""
    labels, pieces = connected_pieces(mask)
    pieces = [piece for piece in join_stacked(drop_specks(labels, pieces)) if not solid(piece, labels)]
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
            whole = np.zeros_like(mask)
            whole[rows, cols] = np.isin(labels[rows, cols], piece.labels)
            for part in split_wide(piece, whole, digit_width(joined, piece)):
                digits.append(Segment(number, part, whole[part.top:part.bottom, part.left:part.right], source))
    return digits


# --- 6. strokes and framing -----------------------------------------------------------------------

def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: ink area over half the boundary length (a stroke of width w and
    length L has area wL and about 2L boundary pixels)."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    boundary = int((mask & ~binary_erosion(mask)).sum())
    return 2 * area / max(1, boundary)


def scaled_mask(mask: np.ndarray, longest: int) -> np.ndarray:
    """Resize a digit's mask so its longer side is `longest` pixels (smoothly, then cut at half)."""
    height, width = mask.shape
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    soft = Image.fromarray(mask.astype(np.float32)).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(soft) >= 0.5


def match_stroke_width(mask: np.ndarray, target: float) -> np.ndarray:
    """Thicken a thin pen's strokes, or thin a marker's, to about `target` pixels wide.

    Both are Euclidean: a dilation or an erosion by half the difference. A dilation grows past the
    mask's edges. An erosion that would leave less than a third of the ink (strokes breaking apart) is
    not made.
    """
    width = stroke_width(mask)
    if width <= 0 or abs(width - target) < 0.1 * target:
        return mask
    radius = abs(target - width) / 2
    if width < target:
        return ndimage.distance_transform_edt(~np.pad(mask, math.ceil(radius))) <= radius  # room to grow
    thinner = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1] > radius
    return thinner if thinner.sum() >= 0.3 * mask.sum() else mask


def to_mnist_frame(glyph: np.ndarray) -> np.ndarray:
    """A digit's ink (0..1, any size) as MNIST prepared it: longer side 20 px, anti-aliased, its centre
    of mass at the centre of a 28x28 uint8 frame."""
    rows = np.flatnonzero(glyph.max(axis=1) > 0)
    cols = np.flatnonzero(glyph.max(axis=0) > 0)
    if rows.size == 0:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    crop = glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(np.round(crop * 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    glyph_array = np.asarray(small, dtype=np.float32)
    centre = np.array(ndimage.center_of_mass(glyph_array)) if glyph_array.sum() else np.array(size[::-1]) / 2
    frame = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    top_left = []
    for axis in (0, 1):
        wanted = round(IMAGE_SIZE / 2 - 0.5 - centre[axis])
        top_left.append(int(np.clip(wanted, 0, IMAGE_SIZE - glyph_array.shape[axis])))
    frame[top_left[0]:top_left[0] + size[1], top_left[1]:top_left[1] + size[0]] = glyph_array
    return np.clip(np.round(frame), 0, 255).astype(np.uint8)


def digit_frame(mask: np.ndarray) -> np.ndarray:
    """One digit's ink mask → its 28x28 MNIST frame, with MNIST's stroke width.

    A thin pen's strokes are thickened outwards, past the ink's box, as a wider pen would have drawn
    them; the digit is first scaled that much smaller, so that with its thicker strokes it still fills
    the frame as MNIST's digits do (a 1 keeps its width, and the outer strokes theirs).
    """
    longest = DIGIT_BOX * STROKE_SCALE
    target = MNIST_STROKE_WIDTH * STROKE_SCALE * RESAMPLING_LOSS
    big = scaled_mask(mask, longest)
    growth = target - stroke_width(big)
    if growth > 0.1 * target:
        big = scaled_mask(mask, round(longest - growth))
    return to_mnist_frame(match_stroke_width(big, target).astype(np.float32))


# --- all of it -------------------------------------------------------------------------------------

def find_digits(rgb: np.ndarray, name: str, scale: float = 1.0,
                size: tuple[int, int] | None = None) -> tuple[list[Digit], list[Join]]:
    """Every digit in an RGB photo, line by line, left to right, and the neighbours that may be the
    pieces of one digit; UserError when there is no ink.

    Boxes are given in pixels of an image `scale` times larger than `rgb` (the original photo's), and
    kept inside `size` (its width and height), which the rounding of a very narrow image can miss.
    """
    size = size or (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    mask = ink_mask(*ink_image(rgb))
    found = segment(mask) if mask.any() else []
    if not found:
        raise UserError(f"{name}: no ink found (blank or uniform image)")

    def framed(piece: Piece, ink: np.ndarray, line: int) -> Digit:
        return Digit(digit_frame(ink), original_box(piece, scale, size), line)

    digits = [framed(piece, own, line) for line, piece, own, _ in found]
    joins = [Join(pair.first, framed(pair.piece, pair.ink, found[pair.first].line), pair.split)
             for pair in join_candidates(found)]
    return digits, joins


class JoinCandidate(NamedTuple):
    """Two neighbouring segments, `first` and the one after it, taken together."""

    first: int
    piece: Piece  # their joint box
    ink: np.ndarray  # their ink together, cropped to that box
    split: bool  # they were cut from one piece (split_wide)


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
        candidates.append(JoinCandidate(first, both, ink, split))
    return candidates


def original_box(piece: Piece, scale: float, size: tuple[int, int]) -> Box:
    left = min(math.floor(piece.left * scale), size[0] - 1)
    top = min(math.floor(piece.top * scale), size[1] - 1)
    right = min(max(math.ceil(piece.right * scale), left + 1), size[0])
    bottom = min(max(math.ceil(piece.bottom * scale), top + 1), size[1])
    return left, top, right - left, bottom - top


@dataclass(frozen=True)
class Join:
    """Two neighbouring digits, `first` and the one after it, read as one: `digit`."""

    first: int
    digit: Digit
    split: bool = False  # the two were one piece of ink, cut in two as wider than a digit (split_wide)


@dataclass(frozen=True)
class Found:
    """What was found in a photo: its digits, and the neighbours among them that may be one digit (the
    model chooses: reading.read_photos)."""

    digits: list[Digit]
    joins: list[Join] = field(default_factory=list)


@dataclass(frozen=True)
class Photo:
    image: np.ndarray  # upright RGB, float32, reduced to at most WORKING_SIDE
    scale: float  # original pixels per pixel of `image`
    found: Found
    size: tuple[int, int]  # the upright original's width and height, which the boxes are in

    @property
    def digits(self) -> list[Digit]:
        return self.found.digits


def read_photo(source: str | Path | bytes, name: str) -> Photo:
    """Load a photo (a path or the file's bytes) and find its digits. Where they came out small in the
    reduced photo (a number written small on a page photographed whole), they are found again in the
    part of the original around them, read at full resolution."""
    data = file_bytes(source, name)
    rgb, scale, size = load_image(data, name)
    found = Found(*find_digits(rgb, name, scale, size))
    region = closer_look(found.digits, size, scale)
    if region is not None:
        crop, crop_scale, crop_size = load_image(data, name, region)
        with contextlib.suppress(UserError):  # nothing stood out in the closer look: keep the first
            found = shifted(Found(*find_digits(crop, name, crop_scale, crop_size)), region[0], region[1])
    return Photo(rgb, scale, found, size)


def closer_look(digits: list[Digit], size: tuple[int, int], scale: float) -> Box | None:
    """The part of the original photo (`size`: its width and height) to read again at full resolution,
    or None: when the digits' median height is under SMALL_DIGIT pixels of the photo as read (`scale`
    original pixels each), their joint box with a digit's height of margin all round, clipped to the
    photo, and only when that is clearly smaller than the whole photo."""
    height = float(np.median([digit.box[3] for digit in digits]))
    if height / scale >= SMALL_DIGIT or scale <= 1:
        return None
    margin = round(height)
    left = max(0, min(d.box[0] for d in digits) - margin)
    top = max(0, min(d.box[1] for d in digits) - margin)
    right = min(size[0], max(d.box[0] + d.box[2] for d in digits) + margin)
    bottom = min(size[1], max(d.box[1] + d.box[3] for d in digits) + margin)
    if max(right - left, bottom - top) >= 0.9 * max(size):
        return None  # hardly smaller than the whole photo: nothing to gain
    return left, top, right - left, bottom - top


def shifted(found: Found, dx: int, dy: int) -> Found:
    """The same digits with their boxes moved by (dx, dy): from a region's pixels to the whole photo's."""
    def move(digit: Digit) -> Digit:
        left, top, width, height = digit.box
        return replace(digit, box=(left + dx, top + dy, width, height))

    return Found([move(d) for d in found.digits], [replace(j, digit=move(j.digit)) for j in found.joins])


def draw_boxes(photo: Photo, answers: list[tuple[Box, str]]) -> Image.Image:
    """The photo with each box read and the answer for it drawn on, for showing what was read."""
    image = Image.fromarray(np.clip(photo.image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    thickness = max(2, round(max(image.size) / 300))
    for box, answer in answers:
        left, top, width, height = (round(value / photo.scale) for value in box)
        draw.rectangle((left, top, left + width - 1, top + height - 1), outline=(220, 30, 30), width=thickness)
        draw.text((left + thickness, max(0, top - 12 - thickness)), answer, fill=(220, 30, 30))
    return image
