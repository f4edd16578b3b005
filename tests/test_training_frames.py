"""The frames the network learns besides MNIST's: photo frames labelled by what was drawn where they were
found, glyph frames of the training fonts; and the calibration fitted on the validation split."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_dvc.mnist import NOT_A_DIGIT
from mnist_dvc.photo import Digit
from stages import calibrate, glyph_frames, photo_frames
from tests.conftest import dejavu_fonts


def found_at(box: tuple[int, int, int, int]) -> Digit:
    return Digit(np.zeros((28, 28), np.uint8), box, 0)


BOXES = ((10, 10, 40, 60), (60, 10, 40, 60), (110, 10, 40, 60))
SYMBOLS = ("4", "x", "7")


@pytest.mark.parametrize(("box", "label"), [
    ((12, 8, 38, 62), 4),  # the 4's own box
    ((62, 12, 36, 58), NOT_A_DIGIT),  # the letter's
    ((300, 200, 30, 30), NOT_A_DIGIT),  # where nothing was drawn: what is left of a printed line
    ((10, 10, 90, 60), None),  # the 4 and the x together: left out
    ((10, 10, 20, 30), None),  # a piece of the 4: left out
])
def test_a_frame_is_labelled_by_what_was_drawn_where_it_was_found(box, label):
    assert photo_frames.label_of(found_at(box), BOXES, SYMBOLS) == label


def test_glyph_frames_are_the_training_fonts_symbols_and_marks_framed_like_mnist():
    fonts = {"DejaVuSans": str(dejavu_fonts() / "DejaVuSans.ttf")}
    x, y = glyph_frames.frames(fonts, variants=1, seed=0)
    assert x.shape[1:] == (28, 28) and x.dtype == np.uint8 and len(x) == len(y)
    assert set(y[:10].tolist()) == set(range(10))  # the digits first, labelled as themselves
    assert (y == NOT_A_DIGIT).sum() > 30  # letters, signs and marks: not a digit
    rows = np.flatnonzero(x.max(axis=(0, 2)) > 127)
    assert rows.min() >= 1 and rows.max() <= 26  # framed as MNIST frames: centred, the longer side 20 px
    again, _ = glyph_frames.frames(fonts, variants=1, seed=0)
    np.testing.assert_array_equal(x, again)


def test_the_fitted_temperature_is_the_one_that_made_the_labels():
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 3, size=(4000, 11))
    scaled = raw / 2.5
    probabilities = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(11, p=row) for row in probabilities])
    assert calibrate.fit_temperature(raw, labels) == pytest.approx(2.5, rel=0.1)


def test_sure_figures_count_the_digits_read_at_the_sure_probability():
    probabilities = np.array([[0.95, 0.05] + [0] * 9, [0.6, 0.4] + [0] * 9, [0.05, 0.95] + [0] * 9])
    coverage, accuracy = calibrate.sure_figures(probabilities, np.array([0, 0, 0]), 0.9)
    assert coverage == pytest.approx(2 / 3) and accuracy == pytest.approx(0.5)
