"""Steps 2 and 3, colour and light: the grey where the ink stands out most, and the paper's uneven light
divided out, so shadows, gradients and vignetting are paper, not ink."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_dvc.photo.ink import ink_mask, spread
from mnist_dvc.photo.morphology import grey_closing, grey_opening, maximum_3x3, minimum_3x3

GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# The strokes are removed from the light estimate's floor by a closing this many stroke widths wide.
STROKE_WINDOW_WIDTHS = 1.5
PAPER_SIDE = 200  # the paper's brightness is estimated on a copy this large
THUMBNAIL_SIDE = 200  # the channel and polarity are chosen on a copy this large: cheap, and enough


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
    width, which is twice the distance to the paper along their centre lines (its lower quartile: a
    shadow's soft corner, filled like a stroke by the closing, has a long and wide centre line of its
    own, and would otherwise set the width of a faint or small digit's strokes); at least 3, at most
    `window`."""
    mask = ink_mask(absorbed_light(grey, paper))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 3
    # The ink's box and a ring of paper around it hold every stroke's nearest paper: the rest is no work.
    mask = mask[max(rows[0] - 1, 0):rows[-1] + 2, max(cols[0] - 1, 0):cols[-1] + 2]
    distance = ndimage.distance_transform_edt(mask)
    ridge = mask & (distance >= maximum_3x3(distance))
    width = 2 * float(np.percentile(distance[ridge], 25))
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
