"""Step 5 of the photo path on pages of several lines: read line by line, a stroke never joined to a digit
on another line, however close the lines; and a sheet written for the collect command."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_dvc.photo import read_photo
from mnist_dvc.photo.segment import segment
from mnist_dvc.render import Layout, draw_conditions, font_glyphs, render_glyphs
from tests.conftest import dejavu_fonts

SANS = str(dejavu_fonts() / "DejaVuSans.ttf")


def boxes_by_line(mask: np.ndarray) -> list[list[tuple[int, int, int]]]:
    """(left, top, height) of each digit segment() finds, line by line."""
    lines: dict[int, list[tuple[int, int, int]]] = {}
    for line, piece, *_ in segment(mask):
        lines.setdefault(line, []).append((piece.left, piece.top, piece.height))
    return [lines[line] for line in sorted(lines)]


def test_digits_over_each_other_on_close_lines_stay_on_their_lines():
    mask = np.zeros((500, 600), bool)
    for top in (40, 160, 280):  # lines 1.2 digit heights apart: 20 rows between a digit and the one under it
        for left in (100, 200, 300, 400):
            mask[top:top + 100, left:left + 10] = True
    digits = boxes_by_line(mask)
    assert [[left for left, _, _ in line] for line in digits] == [[100, 200, 300, 400]] * 3
    assert all(height == 100 for line in digits for _, _, height in line)


def test_a_digit_in_two_halves_on_a_page_is_one_digit_of_its_line():
    mask = np.zeros((500, 600), bool)
    for top in (40, 160, 280):
        for left in (100, 200, 300, 400):
            mask[top:top + 100, left:left + 10] = True
    mask[160:260, 200:210] = False  # the middle line's second 1, broken at a shadow's edge:
    mask[160:208, 200:210] = True  # its upper half
    mask[213:260, 203:213] = True  # and its lower half
    digits = boxes_by_line(mask)
    assert [len(line) for line in digits] == [4, 4, 4]
    assert digits[1][1] == (200, 160, 100)


def test_a_digit_a_marker_filled_in_is_kept_among_the_digits_of_its_line():
    mask = np.zeros((300, 600), bool)
    for left in (100, 160, 280):
        mask[100:150, left:left + 6] = True  # 1 1 _ 1
    rows, cols = np.indices(mask.shape)
    mask[(((rows - 125) / 25) ** 2 + ((cols - 230) / 16) ** 2) <= 1] = True  # a small 8, its loops filled
    assert [left for left, _, _ in boxes_by_line(mask)[0]] == [100, 160, 214, 280]


@pytest.mark.parametrize(("seed", "sheet"), [(0, "plain"), (1, "ruled"), (2, "squared")])
def test_a_collect_sheet_of_ten_lines_is_read_as_ten_lines_of_ten_digits(seed, sheet):
    """The collect command's sheet: ten lines of 0123456789, lines 1.5 digit heights apart."""
    rng = np.random.default_rng([seed, 24])
    conditions = draw_conditions(rng, sheet=sheet, pen="felt", ink="black")
    rendered = render_glyphs([font_glyphs("0123456789", SANS)] * 10, rng, conditions,
                             Layout(sides=(1500, 1500), spacing=(1.5, 1.5)))
    digits = read_photo(rendered.data, "sheet" + rendered.suffix).digits
    lines = [[digit for digit in digits if digit.line == line] for line in range(10)]
    assert [len(line) for line in lines] == [10] * 10 and len(digits) == 100
    tops = [np.median([digit.box[1] for digit in line]) for line in lines]
    assert tops == sorted(tops)  # top line first
