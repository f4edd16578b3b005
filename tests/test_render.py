"""Rendered photos: deterministic, phone-sized, and each condition visibly applied."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnist_dvc import render
from mnist_dvc.render import light, pen


def ring() -> np.ndarray:
    """A crude 28x28 '0': a thick ring, white on black like MNIST."""
    rows, cols = np.indices((28, 28))
    radius = np.hypot((rows - 14) / 9, (cols - 14) / 6)
    return np.where((radius > 0.7) & (radius < 1.0), 255, 0).astype(np.uint8)


def bar() -> np.ndarray:
    """A crude '1': a vertical bar three pixels wide."""
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 13:16] = 255
    return digit


def photo(seed: int, digits=None, labels=(0,), **classes) -> render.Rendered:
    rng = np.random.default_rng(seed)
    conditions = render.draw_conditions(rng, **classes) if classes else None
    return render.render_photo(digits if digits is not None else [ring()], labels, rng, conditions)


def pixels(rendered: render.Rendered) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(rendered.data)).convert("RGB"), np.float64)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_another_photo():
    assert photo(7).data == photo(7).data
    assert photo(7).conditions == photo(7).conditions
    assert photo(8).data != photo(7).data


def test_a_photo_is_phone_sized_and_its_file_is_what_its_suffix_says():
    for seed in range(6):
        rendered = photo(seed)
        assert render.SIDES[0] <= max(rendered.image.size) <= render.SIDES[1]
        decoded = Image.open(io.BytesIO(rendered.data))
        assert decoded.size == rendered.image.size
        assert decoded.format == ("PNG" if rendered.suffix == ".png" else "JPEG")
    assert photo(0, file="png").data.startswith(b"\x89PNG")
    assert photo(0, file="jpeg_low").data.startswith(b"\xff\xd8")


def ink_and_paper(rendered: render.Rendered) -> tuple[np.ndarray, np.ndarray]:
    """The darkest pixels inside the digit's box (ink) and the pixels outside every box (paper)."""
    values = pixels(rendered)
    inside = np.zeros(values.shape[:2], bool)
    for left, top, width, height in rendered.boxes:
        inside[top:top + height, left:left + width] = True
    grey = values.mean(axis=2)
    ink = values[inside & (grey <= np.percentile(grey[inside], 5))]
    return ink, values[~inside]


def test_blue_ink_is_blue_and_black_ink_is_grey():
    plain = {"pen": "marker", "paper": "white", "light": "even", "blur": "sharp", "file": "png"}
    blue, paper = ink_and_paper(photo(1, ink="blue", **plain))
    assert blue[:, 2].mean() > blue[:, 0].mean() + 30
    assert blue.mean() < paper.mean() - 60
    black, _ = ink_and_paper(photo(1, ink="black", **plain))
    assert abs(black[:, 2].mean() - black[:, 0].mean()) < 15
    assert black.mean() < blue.mean()


def test_a_tinted_paper_is_tinted():
    _, yellow = ink_and_paper(photo(2, paper="yellow", light="even"))
    _, white = ink_and_paper(photo(2, paper="white", light="even"))
    assert yellow[:, 2].mean() < yellow[:, 0].mean() - 50
    assert abs(white[:, 2].mean() - white[:, 0].mean()) < 12


@pytest.mark.parametrize("seed", range(5))
def test_each_light_is_applied(seed):
    size = (400, 300)
    lights = {name: light.illumination(np.random.default_rng(seed), name, size, blur=0.0)
              for name in render.conditions.LIGHTS}
    for field in lights.values():
        assert field.shape == (300, 400) and field.max() == pytest.approx(1.0)
    assert lights["even"].min() > 0.85
    assert lights["gradient"].min() < 0.75
    vignette = lights["vignette"]
    assert vignette[:10, :10].mean() < 0.85 * vignette[140:160, 190:210].mean()
    for shadow in ("soft_shadow", "hard_shadow"):
        assert lights[shadow].min() < 0.7 * np.percentile(lights[shadow], 95)
    step = lambda field: max(np.abs(np.diff(field, axis=0)).max(), np.abs(np.diff(field, axis=1)).max())  # noqa: E731
    assert step(lights["hard_shadow"]) > 0.05 > step(lights["soft_shadow"])


def test_blur_softens_the_ink_edges():
    fixed = {"pen": "marker", "ink": "black", "paper": "white", "light": "even", "file": "png"}
    sharp, blurred = (pixels(photo(3, blur=blur, **fixed)).mean(axis=2) for blur in ("sharp", "blurred"))
    edge = lambda grey: np.percentile(np.abs(np.diff(grey, axis=1)), 99.9)  # noqa: E731
    assert edge(blurred) < 0.6 * edge(sharp)


def stroke_width(coverage: np.ndarray) -> float:
    """Ink area over centre-line length."""
    mask = coverage >= 0.5
    return coverage.sum() / max(1, pen.thin(mask).sum())


@pytest.mark.parametrize("width", [2.0, 5.0, 12.0])
def test_the_pen_draws_strokes_of_its_own_width(width):
    points, pairs = pen.centre_line(pen.digit_shape(ring()))
    coverage = pen.pen_coverage(points, pairs, 300 / pen.WORKING_HEIGHT, 0.0, width)
    assert stroke_width(coverage) == pytest.approx(width, rel=0.25)
    assert ndimage.label(coverage >= 0.5)[1] == 1  # one unbroken stroke, however thin
    assert ndimage.label(coverage < 0.5)[1] == 2  # the ring's hole stays open


def filled_nine() -> np.ndarray:
    """A crude '9' whose loop the pen filled: a solid disc on a stem three pixels wide."""
    rows, cols = np.indices((28, 28))
    digit = np.where(np.hypot(rows - 9, cols - 13) < 5.5, 255, 0).astype(np.uint8)
    digit[9:25, 16:19] = 255
    return digit


def test_a_filled_loop_is_redrawn_open_and_a_plain_stroke_is_not_touched():
    shape = pen.digit_shape(filled_nine())
    opened = pen.open_filled_loops(shape)
    assert ndimage.label(~opened)[1] == 2  # a hole in the disc
    assert opened.sum() > 0.7 * shape.sum()
    points, pairs = pen.centre_line(opened)
    coverage = pen.pen_coverage(points, pairs, 1.0, 0.0, 3.0)
    assert ndimage.label(coverage < 0.5)[1] == 2  # the fine pen draws a loop, not a line
    for plain in (bar(), ring()):
        assert np.array_equal(pen.open_filled_loops(pen.digit_shape(plain)), pen.digit_shape(plain))


def test_a_fine_pen_writes_thinner_than_a_marker():
    fixed = {"ink": "black", "paper": "white", "light": "even", "blur": "sharp", "file": "png"}
    dark = {pen: (pixels(photo(4, pen=pen, **fixed)).mean(axis=2) < 128).sum() for pen in ("fine", "marker")}
    assert dark["marker"] > 2.5 * dark["fine"]


def test_thinning_leaves_a_connected_line_one_pixel_wide():
    thick = np.zeros((40, 60), bool)
    thick[10:30, 5:55] = True
    line = pen.thin(thick)
    assert ndimage.label(line, structure=np.ones((3, 3)))[1] == 1
    assert line.sum() < 0.1 * thick.sum()
    assert line[:, 20:40].sum(axis=0).max() == 1


def test_a_number_keeps_its_digits_in_order_left_to_right():
    digits = [ring(), bar(), ring(), bar(), ring()]
    for seed in range(4):
        rendered = photo(seed, digits=digits, labels=(0, 1, 0, 1, 0))
        assert rendered.labels == (0, 1, 0, 1, 0) and rendered.number == "01010"
        assert len(rendered.boxes) == 5
        centres = [left + width / 2 for left, _, width, _ in rendered.boxes]
        assert centres == sorted(centres) and len(set(centres)) == 5
        image_width, image_height = rendered.image.size
        grey = pixels(rendered).mean(axis=2)
        for left, top, width, height in rendered.boxes:
            assert width > 0 and height > 0 and left + width <= image_width and top + height <= image_height
            assert grey[top:top + height, left:left + width].min() < np.median(grey) - 20, "ink in each box"


def test_conditions_can_be_fixed_and_a_pencil_is_never_a_marker():
    rng = np.random.default_rng(0)
    drawn = [render.draw_conditions(rng) for _ in range(300)]
    for kind, names in render.CONDITIONS.items():
        assert {getattr(c, kind) for c in drawn} == set(names)
    assert not [c for c in drawn if c.ink == "pencil" and c.pen in ("felt", "marker")]
    assert render.draw_conditions(rng, ink="blue", light="hard_shadow").labels()["light"] == "hard_shadow"
    with pytest.raises(ValueError, match="ink='red'"):
        render.draw_conditions(rng, ink="red")
    with pytest.raises(ValueError, match="unknown condition"):
        render.draw_conditions(rng, lens="wide")


def test_a_digit_with_no_ink_still_renders_as_blank_paper():
    rendered = photo(5, digits=[np.zeros((28, 28), np.uint8)], labels=(3,), light="even")
    grey = pixels(rendered).mean(axis=2)
    assert grey.min() > np.median(grey) - 60 and rendered.labels == (3,)
