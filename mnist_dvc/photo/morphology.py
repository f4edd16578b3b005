"""Grey and binary morphology and labelling by OpenCV, with the values scipy.ndimage gives.

Photos are read in parallel one per process (the photo benchmark, `make bench`); on images this small,
OpenCV's own worker threads only add waiting, so it runs on one.
"""

from __future__ import annotations

import cv2
import numpy as np

cv2.setNumThreads(1)



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


def piece_boxes(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The mask's 8-connected pieces: how many labels (0, the background, included), a label per pixel
    (numbered in another order than scipy.ndimage.label's), and each label's box: left, top, width,
    height, area. By the Grana (block-based) algorithm: with the boxes, OpenCV's default one takes five
    times as long as labelling alone; this one, a third longer."""
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        np.ascontiguousarray(mask, dtype=np.uint8), 8, cv2.CV_32S, cv2.CCL_GRANA)
    return count, labels, stats
