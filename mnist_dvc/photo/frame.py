"""Step 6, strokes and framing: a digit's stroke width brought to MNIST's, then MNIST's own preparation
(cropped, longer side 20 px, centre of mass at the centre of 28x28)."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from mnist_dvc.mnist import IMAGE_SIZE
from mnist_dvc.photo.morphology import binary_erosion

DIGIT_BOX = 20  # MNIST: the longer side of a digit fills 20 of the 28 pixels
STROKE_SCALE = 3  # strokes are measured and reshaped with the digit at 3x its final 20-px size
# MNIST's stroke width in 28x28 pixels, measured with stroke_width() on 5,000 random training digits
# upscaled 3x and cut at half intensity (median 2.73; 10th-90th percentile 1.95-3.79).
MNIST_STROKE_WIDTH = 2.73
# Bringing a digit's mask down from 60 to 20 px softens its edges: the frame measures about a tenth
# thinner than the mask it came from, so the mask is made this much wider.
RESAMPLING_LOSS = 1.1
# A piece filling more than this share of its box, with strokes wider than WIDE of its longer side, is a patch.
SOLID = 0.7
WIDE = 0.3
# A piece filling more than this share of the smallest triangle around it is a filled triangle.
TRIANGLE = 0.8
# The four corners of a pixel, from its centre.
PIXEL_CORNERS = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]], dtype=np.float32)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: ink area over half the boundary length (a stroke of width w and
    length L has area wL and about 2L boundary pixels)."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    boundary = int((mask & ~binary_erosion(mask)).sum())
    return 2 * area / max(1, boundary)


def wide_strokes(own: np.ndarray) -> bool:
    """Whether a piece's mask (cropped to its box) has strokes wider than WIDE of its longer side."""
    return stroke_width(own) > WIDE * max(own.shape)


def patch_like(own: np.ndarray) -> bool:
    """Whether a piece's mask (cropped to its box) fills the box like a patch of ink, not strokes."""
    return int(own.sum()) > SOLID * own.size and wide_strokes(own)


def filled_triangle(own: np.ndarray) -> bool:
    """Whether a piece's mask (cropped to its box) is a filled triangle: what dividing out the light
    leaves of a shadow's sharp corner. Strokes fill at most half of any triangle around them (a straight
    one, a rectangle, fills half of the smallest), a filled digit's loops little more. The pixels'
    corners, not their centres, bound the piece, so a thin stroke is not taken for a filled area."""
    centres = cv2.findNonZero(own.astype(np.uint8))
    if centres is None:
        return False
    outline = cv2.convexHull(centres).reshape(-1, 1, 2).astype(np.float32)
    hull = cv2.convexHull((outline + PIXEL_CORNERS[None]).reshape(-1, 1, 2))
    area, _ = cv2.minEnclosingTriangle(hull)
    return int(own.sum()) > TRIANGLE * area


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
