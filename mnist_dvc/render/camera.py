"""Step 3, the camera: the page turned and seen in perspective, and the lens's blur (Gaussian, a defocus
disk, or the line of a moving hand)."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_dvc.render.conditions import Box


def homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 projective map taking four source points (x, y) to four target points."""
    rows, values = [], []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    return np.append(np.linalg.solve(np.array(rows), np.array(values)), 1.0).reshape(3, 3)


def camera_view(rng: np.random.Generator, size: tuple[int, int], rotation: float) -> np.ndarray:
    """Where the camera sees each corner of the page: turned by `rotation` degrees about the centre,
    each corner moved by up to 4 % of the size (perspective). Returns the page → photo map."""
    width, height = size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    centre = np.array([width, height]) / 2
    angle = math.radians(rotation)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    seen = (corners - centre) @ turn.T + centre + rng.uniform(-0.04, 0.04, (4, 2)) * [width, height]
    return homography(corners, seen)


def project(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ transform.T
    return homogeneous[:, :2] / homogeneous[:, 2:]


Region = tuple[int, int, int, int]  # left, top, right, bottom (exclusive) in the photo


def ink_region(bounds: list[tuple[int, int, int, int]], transform: np.ndarray, size: tuple[int, int],
               margin: int) -> Region:
    """The part of the photo where the camera sees ink (every symbol's box), `margin` px wider; one
    pixel in the corner when nothing is written."""
    if not bounds:
        return 0, 0, 1, 1
    boxes = [seen_box(bound, transform, size) for bound in bounds]
    left = max(0, min(box[0] for box in boxes) - margin)
    top = max(0, min(box[1] for box in boxes) - margin)
    right = min(size[0], max(box[0] + box[2] for box in boxes) + margin)
    bottom = min(size[1], max(box[1] + box[3] for box in boxes) + margin)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def optics_kernel(rng: np.random.Generator, optics: str, pixels: float) -> np.ndarray | None:
    """The blur kernel of a defocused lens (a disk `pixels` in radius) or of a moving hand (a line
    `pixels` long at a drawn angle); None for the lens's own (Gaussian) blur only."""
    if optics == "lens" or pixels <= 0:
        return None
    reach = math.ceil(pixels) + 1
    rows, cols = np.mgrid[-reach:reach + 1, -reach:reach + 1].astype(np.float32)
    if optics == "defocus":
        kernel = np.clip(pixels + 0.5 - np.hypot(rows, cols), 0, 1)
    else:
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle) * pixels / 2, math.sin(angle) * pixels / 2
        canvas = Image.new("L", (2 * reach + 1,) * 2, 0)
        ImageDraw.Draw(canvas).line((reach - dx, reach - dy, reach + dx, reach + dy), fill=255, width=1)
        kernel = np.asarray(canvas, np.float32)
    return (kernel / kernel.sum()).astype(np.float32)


def lens_blur(image: np.ndarray, blur: float, kernel: np.ndarray | None) -> np.ndarray:
    """`image` blurred by the lens (Gaussian, sigma `blur` px) and then by `kernel`, if any."""
    if blur >= 0.3:
        image = ndimage.gaussian_filter(image, blur, mode="constant")
    if kernel is not None:
        image = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return image


def photograph(page: np.ndarray, transform: np.ndarray, region: Region, blur: float,
               kernel: np.ndarray | None = None) -> np.ndarray:
    """A layer of the page (ink, or the paper's printed lines) as the camera sees it in `region`
    (bilinear), blurred by the lens. Only the region is computed: everywhere else the camera sees bare
    paper."""
    left, top, right, bottom = region
    inverse = np.linalg.inv(transform) @ np.array([[1, 0, left], [0, 1, top], [0, 0, 1]], dtype=np.float64)
    inverse = inverse / inverse[2, 2]
    seen = Image.fromarray(page).transform((right - left, bottom - top), Image.Transform.PERSPECTIVE,
                                           tuple(inverse.ravel()[:8]), Image.Resampling.BILINEAR)
    return lens_blur(np.asarray(seen, np.float32), blur, kernel)


def seen_box(bounds: tuple[int, int, int, int], transform: np.ndarray, size: tuple[int, int]) -> Box:
    """A digit's page bounds as a (left, top, width, height) box in the photo, clipped to it."""
    top, left, bottom, right = bounds
    corners = project(np.array([[left, top], [right, top], [right, bottom], [left, bottom]], float), transform)
    x0, y0 = np.clip(np.floor(corners.min(axis=0)), 0, size).astype(int)
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)), 0, size).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
