"""The robustness measure: validation digits redrawn with other pens, through the photo path's framing."""

from __future__ import annotations

import numpy as np

from benchmarks import robustness
from mnist_dvc import photo


def digit_one() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[4:24, 13:16] = 1.0
    return image


def test_pens_make_strokes_thinner_or_thicker_and_the_photo_path_frames_them():
    mask = robustness.ink_mask(digit_one())
    assert mask.shape == (28 * robustness.UPSCALE, 28 * robustness.UPSCALE)
    widths = [photo.frame.stroke_width(drawn) for drawn in (robustness.thin_pen(mask), mask, robustness.marker(mask))]
    assert widths[0] < 0.7 * widths[1] and widths[2] > 1.4 * widths[1]
    frame = robustness.photo_frame(robustness.thin_pen(mask))
    assert frame.shape == (28, 28) and frame.dtype == np.float32 and frame.min() >= 0 and frame.max() <= 1
    rows = np.flatnonzero(frame.max(axis=1) > 0.5)
    assert rows[-1] - rows[0] + 1 >= 18, "framed like MNIST: the longer side about 20 pixels"


def test_every_condition_gives_one_frame_per_digit():
    images = np.stack([digit_one(), np.rot90(digit_one()).copy()])
    pens = robustness.pen_conditions(images)
    assert set(pens) == {"photo path", "thin pen", "marker", "thin pen, rotated", "marker, rotated"}
    assert all(frames.shape == (2, 28, 28) for frames in pens.values())
    assert not np.allclose(pens["thin pen"], pens["thin pen, rotated"])
    direct = robustness.direct_conditions(images)
    assert all(frames.shape == (2, 28, 28) for frames in direct.values())
    assert direct["strokes 1 px thinner"].sum() < images.sum() < direct["strokes 1 px thicker"].sum()


def test_the_renderers_pens_each_give_a_frame_per_digit_at_mnists_width():
    images = np.stack([digit_one(), np.rot90(digit_one()).copy()])
    frames = robustness.renderer_pens(images)
    assert list(frames) == ["renderer, fine", "renderer, ballpoint", "renderer, felt", "renderer, marker"]
    assert all(stack.shape == (2, 28, 28) and stack.max() <= 1 for stack in frames.values())
    # the photo path brings every pen to MNIST's stroke width, so the frames differ little
    fine, marker = frames["renderer, fine"].sum(), frames["renderer, marker"].sum()
    assert abs(fine - marker) < 0.3 * marker
