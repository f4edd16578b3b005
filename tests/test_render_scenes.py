"""What the renderer adds beyond MNIST digits on plain paper: fonts, marks, ruled and squared paper, small
and blurred digits, pages of several lines, blank pages. Fonts: matplotlib's DejaVu, as stand-ins."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnist_dvc import render
from mnist_dvc.render import MARKS, Glyph, Layout, compose, font_glyphs, fonts, mnist_glyphs, papers, pen
from tests.conftest import dejavu_fonts
from tests.test_render import bar, ring

SANS = str(dejavu_fonts() / "DejaVuSans.ttf")
MONO = str(dejavu_fonts() / "DejaVuSansMono.ttf")


def grey(rendered: render.Rendered) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(rendered.data)).convert("L"), np.float64)


NEAR = Layout()


def photo(seed: int, lines, layout: Layout = NEAR, **classes) -> render.Rendered:
    rng = np.random.default_rng(seed)
    return render.render_glyphs(lines, rng, render.draw_conditions(rng, **classes), layout)


SCENES = {
    "font number on ruled paper": (lambda: [font_glyphs("2026", SANS)], {"sheet": "ruled"}, Layout()),
    "marks on squared paper": (lambda: [[Glyph(name) for name in MARKS]], {"sheet": "squared"}, Layout()),
    "a small digit, moved and resent": (lambda: [mnist_glyphs([ring()], [0])],
                                        {"optics": "motion", "resolution": "low"}, Layout(digit_height=(25, 60))),
    "a page": (lambda: [mnist_glyphs([ring(), bar()], [0, 1])] * 4, {"sheet": "ruled"}, Layout()),
    "a blank squared page": (lambda: [], {"sheet": "squared"}, Layout()),
}


@pytest.mark.parametrize("scene", SCENES)
def test_every_kind_of_photo_is_the_same_bytes_for_a_seed_and_other_bytes_for_another(scene):
    lines, classes, layout = SCENES[scene]
    first, again, other = (photo(seed, lines(), layout, **classes) for seed in (3, 3, 4))
    assert first.data == again.data and first.boxes == again.boxes
    assert other.data != first.data


def test_the_ground_truth_of_lines_letters_and_marks():
    rendered = photo(1, [mnist_glyphs([ring(), bar()], [0, 1]), font_glyphs("A7", SANS), [Glyph("tick")]])
    assert rendered.symbols == ("0", "1", "A", "7", "tick") and len(rendered.boxes) == 5
    assert rendered.lines == ("01", "A7", "tick")
    assert rendered.number == "01 7" and rendered.labels == (0, 1, 7)
    blank = photo(1, [])
    assert blank.symbols == () and blank.number == "" and blank.boxes == () and blank.lines == ()
    with pytest.raises(ValueError, match="not a mark"):
        Glyph("smiley")


@pytest.mark.parametrize("sheet", ["ruled", "squared"])
def test_the_printed_lines_run_under_each_digits_baseline(sheet):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        conditions = render.draw_conditions(rng, sheet=sheet)
        lines = [mnist_glyphs([ring(), bar(), ring()], [0, 1, 0])] * (1 + seed % 3)
        writing = compose.write(rng, lines, conditions, Layout())
        layers = compose.printing(rng, conditions, writing)
        rows = np.flatnonzero(layers[0][0][:, 0 if sheet == "ruled" else 1:].max(axis=1) >= 0.5)
        assert rows.size, "the paper has printed lines"
        for _, _, bottom, _ in writing.bounds:
            assert np.abs(rows - bottom).min() <= 0.07 * writing.height + 2, "a digit sits on a line"


def test_ruled_lines_are_evenly_spaced_and_a_margin_is_a_red_column():
    rng = np.random.default_rng(0)
    papers.MARGIN_SHARE, share = 1.0, papers.MARGIN_SHARE
    try:
        layers = papers.sheet_layers(rng, "ruled", (400, 300), pitch=40.0, baseline=105.0, writing_left=200.0)
    finally:
        papers.MARGIN_SHARE = share
    rules, margin = layers
    profile = rules[0][:, 0]
    labels, count = ndimage.label(profile > 0)
    centres = [centre[0] + 0.5 for centre in ndimage.center_of_mass(profile, labels, range(1, count + 1))]
    assert count == 7 and np.allclose(np.diff(centres), 40.0, atol=0.6)
    assert min(abs(centre - 105.0) for centre in centres) < 0.6
    red = margin[1]
    assert red[0] > red[1] + 0.2 and margin[0][0].max() > 0.5
    assert 0 < np.flatnonzero(margin[0][0] > 0.5).mean() < 200, "the margin is left of the writing"
    assert papers.sheet_layers(rng, "plain", (400, 300), 40.0, 105.0, 200.0) == []


@pytest.mark.parametrize("sheet", ["plain", "ruled", "squared"])
def test_a_blank_page_has_no_ink_and_only_its_printing_is_darker_than_paper(sheet):
    rng = np.random.default_rng(2)
    conditions = render.draw_conditions(rng, sheet=sheet, light="even", ink="black")
    writing = compose.write(rng, [], conditions, Layout())
    assert writing.ink.max() == 0 and writing.bounds == []
    rendered = photo(2, [], sheet=sheet, light="even", ink="black")
    values = grey(rendered)
    darkest = np.percentile(values, 0.5)
    if sheet == "plain":
        assert darkest > np.median(values) - 25
    else:  # printed lines are light: nowhere near as dark as black ink
        assert darkest > 0.45 * np.median(values)


def test_a_font_glyph_is_drawn_as_wide_as_the_pen_and_sits_on_its_baseline():
    def stroke_width(coverage: np.ndarray) -> float:
        return coverage.sum() / max(1, pen.thin(coverage >= 0.5).sum())

    rng = np.random.default_rng(0)
    widths = {}
    for width in (4.0, 20.0, 36.0):  # DejaVu Sans's own strokes are about 25 px wide at this size
        coverage, _ = fonts.font_coverage(rng, SANS, "7", 200, width, 0.0, 0.0, "black", "marker")
        widths[width] = stroke_width(coverage)
        assert ndimage.label(coverage >= 0.5)[1] == 1, "thinned or thickened, the 7 stays one stroke"
    assert widths[20.0] == pytest.approx(20.0, rel=0.2) and widths[36.0] / widths[20.0] > 1.5
    assert widths[4.0] < 0.7 * widths[20.0], "thinned, but never below THINNEST of its own width"
    zero, zero_base = fonts.font_coverage(rng, MONO, "0", 120, 8.0, 0.0, 0.0, "black", "marker")
    g, g_base = fonts.font_coverage(rng, MONO, "g", 120, 8.0, 0.0, 0.0, "black", "marker")
    assert abs(np.flatnonzero(zero.max(axis=1) >= 0.5)[-1] + 1 - zero_base) <= 3
    assert np.flatnonzero(g.max(axis=1) >= 0.5)[-1] > g_base + 10, "a g reaches below the line"
    assert 105 <= np.ptp(np.flatnonzero(zero.max(axis=1) >= 0.5)) + 1 <= 140


def test_a_slanted_glyph_leans_right():
    upright, _ = fonts.font_coverage(np.random.default_rng(0), SANS, "1", 150, 6.0, 0.0, 0.0, "black", "marker")
    slanted, _ = fonts.font_coverage(np.random.default_rng(0), SANS, "1", 150, 6.0, 20.0, 0.0, "black", "marker")

    def lean(coverage):
        rows = np.flatnonzero(coverage.max(axis=1) >= 0.5)
        top, bottom = coverage[rows[0] + 5], coverage[rows[-1] - 5]
        return np.flatnonzero(top >= 0.5).mean() - np.flatnonzero(bottom >= 0.5).mean()

    assert lean(slanted) > lean(upright) + 0.2 * 150 * np.tan(np.radians(20))


def test_small_digits_are_small_in_the_final_photo_and_a_resent_photo_is_a_smaller_jpeg():
    heights = []
    for seed in range(6):
        rendered = photo(seed, [mnist_glyphs([bar()], [1])], Layout(digit_height=(25, 60)),
                         resolution=("low", "full")[seed % 2], optics=("defocus", "motion", "lens")[seed % 3])
        heights.append(rendered.boxes[0][3])
        if seed % 2 == 0:
            assert rendered.data.startswith(b"\xff\xd8") and max(rendered.image.size) < render.SIDES[1]
            assert Image.open(io.BytesIO(rendered.data)).size == rendered.image.size
    assert min(heights) >= 20 and max(heights) <= 70


def test_defocus_and_motion_spread_the_ink():
    base = {"pen": "marker", "ink": "black", "paper": "white", "light": "even", "blur": "sharp", "file": "png"}
    sharp, defocused = (photo(5, [mnist_glyphs([bar()], [1])], optics=optics, **base) for optics in ("lens", "defocus"))
    edge = lambda values: np.percentile(np.abs(np.diff(values, axis=1)), 99.9)  # noqa: E731
    assert edge(grey(defocused)) < 0.8 * edge(grey(sharp))


def test_a_page_has_its_lines_a_little_more_than_a_digit_apart_and_in_order():
    lines = [mnist_glyphs([ring(), bar(), ring()], [0, 1, 0])] * 6
    rendered = photo(7, lines, Layout(sides=(1000, 2000)), sheet="plain")
    assert rendered.number == " ".join(["010"] * 6)
    tops = [rendered.boxes[3 * line][1] for line in range(6)]
    heights = [box[3] for box in rendered.boxes]
    assert tops == sorted(tops)
    steps = np.diff(tops) / np.median(heights)
    assert 1.0 < np.median(steps) < 2.0
