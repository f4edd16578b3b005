"""The photo → digits path, step by step, on small synthetic photos drawn with known strokes."""

from __future__ import annotations

import io
import itertools

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_dvc import photo
from mnist_dvc.errors import UserError
from tests.conftest import REPO

# Strokes of a few digits in a unit box (x right, y down), as polylines.
STROKES = {
    "1": [[(0.5, 0.0), (0.5, 1.0)]],
    "7": [[(0.1, 0.0), (0.9, 0.0), (0.35, 1.0)]],
    "5_body": [[(0.2, 0.05), (0.15, 0.45), (0.6, 0.4), (0.85, 0.65), (0.6, 0.95), (0.1, 0.9)]],
    "5_top": [[(0.32, 0.0), (0.9, 0.0)]],  # drawn apart from the body: a detached top stroke
    "0": [[(0.5, 0.0), (0.85, 0.25), (0.85, 0.75), (0.5, 1.0), (0.15, 0.75), (0.15, 0.25), (0.5, 0.0)]],
}


def draw(canvas: Image.Image, strokes: list, left: float, top: float, size: float, width: int,
         ink: tuple | int = 20) -> None:
    pen = ImageDraw.Draw(canvas)
    for line in strokes:
        points = [(left + x * size * 0.6, top + y * size) for x, y in line]
        pen.line(points, fill=ink, width=width, joint="curve")


def sheet(size: tuple[int, int] = (300, 300), paper: int = 225) -> Image.Image:
    return Image.new("L", size, paper)


def add_noise(image: Image.Image, seed: int = 0, sigma: float = 3.0) -> Image.Image:
    values = np.asarray(image, dtype=np.float32)
    noisy = values + np.random.default_rng(seed).normal(0, sigma, values.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), image.mode if image.mode != "RGB" else "RGB")


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def clean_frame(strokes: list) -> np.ndarray:
    """The frame of the same strokes drawn plainly: black marker on white, no light effects."""
    image = sheet((200, 200), 255)
    draw(image, strokes, 50, 30, 140, 12, 0)
    return photo.read.read_photo(encode(image), "clean").digits[0].frame


def centre_of_mass(frame: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(frame.shape)
    return np.array([(rows * frame).sum(), (cols * frame).sum()]) / frame.sum()


# --- 1. load --------------------------------------------------------------------------------------

def test_exif_orientation_is_applied_before_reading(tmp_path):
    upright = sheet()
    draw(upright, STROKES["7"], 100, 60, 180, 10)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a phone held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(stored, "JPEG", exif=exif, quality=92)
    rgb, _, _ = photo.load.load_image(data, "phone.jpg")
    assert rgb.shape[:2] == (300, 300)
    read = photo.read.read_photo(data, "phone.jpg").digits[0].frame
    assert similarity(read, photo.read.read_photo(encode(upright), "upright").digits[0].frame) > 0.9


def test_a_16_bit_png_is_scaled_not_clipped():
    eight_bit = sheet()
    draw(eight_bit, STROKES["7"], 100, 60, 180, 10)
    sixteen = Image.fromarray(np.asarray(eight_bit, dtype=np.uint16) * 257)
    assert sixteen.mode == "I;16"
    rgb, _, _ = photo.load.load_image(encode(sixteen), "deep.png")
    assert 200 < float(np.median(rgb)) < 240  # paper stays paper, not clipped to white
    assert similarity(photo.read.read_photo(encode(sixteen), "deep.png").digits[0].frame,
                      photo.read.read_photo(encode(eight_bit), "plain.png").digits[0].frame) > 0.95


@pytest.mark.parametrize("mode", ["P", "LA", "RGBA", "CMYK", "1"])
def test_every_image_mode_reads_as_paper_and_ink(mode):
    image = sheet().convert("RGB")
    draw(image, STROKES["1"], 140, 60, 180, 12, (10, 10, 10))
    converted = image.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    digits = photo.read.read_photo(encode(converted, fmt), f"one.{fmt.lower()}").digits
    assert len(digits) == 1 and digits[0].frame[:, 13:15].max() > 200


def test_transparent_background_counts_as_white_paper():
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[10:70, 38:44] = (0, 0, 0, 255)  # an opaque black "1" on a fully transparent sheet
    digits = photo.read.read_photo(encode(Image.fromarray(rgba, "RGBA")), "one.png").digits
    assert len(digits) == 1 and digits[0].frame[:, 13:15].max() > 200 and digits[0].frame[:, :8].max() == 0


def dds_of_unknown_format() -> bytes:
    """A DDS header naming a pixel format Pillow does not know (it raises NotImplementedError)."""
    header = bytearray(128)
    header[:4] = b"DDS "
    for offset, value in ((4, 124), (8, 0x1007), (12, 64), (16, 64), (76, 32), (80, 0x4)):
        header[offset:offset + 4] = value.to_bytes(4, "little")
    header[84:88] = b"ABCD"
    return bytes(header) + bytes(4096)


@pytest.mark.parametrize(("content", "expected"), [
    (b"this is not an image", "not an image in a format read here"),
    (b"", "not an image in a format read here"),
    (encode(sheet())[:60], "not a readable image"),  # a truncated PNG
    (dds_of_unknown_format(), "not an image in a format read here"),
])
def test_a_file_that_is_not_an_image_is_one_clear_error(content, expected):
    with pytest.raises(UserError, match=expected):
        photo.read.read_photo(content, "fake.png")


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(photo.load, "MAX_PIXELS", 100 * 100)
    with pytest.raises(UserError, match="larger than the"):
        photo.read.read_photo(encode(Image.new("L", (101, 100), 255)), "big.png")


def test_large_photos_are_read_reduced_and_boxes_come_back_in_original_pixels():
    big = sheet((2400, 1800))
    draw(big, STROKES["7"], 1000, 500, 800, 40)
    found = photo.read.read_photo(encode(big, "JPEG", quality=90), "big.jpg")
    assert max(found.image.shape[:2]) == photo.load.WORKING_SIDE
    left, top, _, height = found.digits[0].box
    assert abs(top - 500) < 40 and abs(top + height - 1300) < 40 and abs(left - 1000) < 60


# --- 2 and 3. colour and light ------------------------------------------------------------------

def test_a_gradient_and_a_shadow_with_no_writing_have_no_digits():
    ramp = np.linspace(120, 240, 400, dtype=np.float32)[None, :].repeat(300, axis=0)
    ramp[:150, :200] *= 0.55  # and a hard-edged shadow over one corner
    image = add_noise(Image.fromarray(ramp.astype(np.uint8)))
    assert photo.read.read_photo(encode(image), "gradient.png").digits == []  # a result (no digits), not an error


@pytest.mark.parametrize("colour", [0, 128, 255])
def test_a_uniform_image_has_no_digits(colour):
    assert photo.read.read_photo(encode(Image.new("L", (80, 80), colour)), "blank.png").digits == []


def test_paper_noise_alone_has_no_digits():
    noise = add_noise(sheet((160, 160), 220), sigma=6)
    assert photo.read.read_photo(encode(noise), "paper.png").digits == []  # a result (no digits), not an error


def test_opencvs_morphology_gives_scipys_values_up_to_the_edges():
    """The photo path was tuned with scipy.ndimage; its OpenCV morphology must give the same values."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    grey = rng.uniform(0, 255, (37, 53)).astype(np.float32)
    for size in (3, 7, 21):
        np.testing.assert_array_equal(photo.morphology.grey_closing(grey, size),
                                      ndimage.grey_closing(grey, size=(size, size), mode="nearest"))
        np.testing.assert_array_equal(photo.morphology.grey_opening(grey[::2, ::3], size),
                                      ndimage.grey_opening(grey[::2, ::3], size=(size, size), mode="nearest"))
    expected = ndimage.minimum_filter(grey, size=3, mode="nearest")
    np.testing.assert_array_equal(photo.morphology.minimum_3x3(grey), expected)
    distance = rng.uniform(0, 9, (20, 31))
    np.testing.assert_array_equal(photo.morphology.maximum_3x3(distance), ndimage.maximum_filter(distance, size=3))
    mask = rng.random((40, 60)) < 0.6
    np.testing.assert_array_equal(photo.morphology.binary_erosion(mask), ndimage.binary_erosion(mask, border_value=0))


def test_ink_pieces_come_in_scipys_order_with_their_boxes_areas_and_pixels():
    from scipy import ndimage

    mask = np.random.default_rng(4).random((60, 80)) < 0.3
    labels, pieces = photo.segment.connected_pieces(mask)
    expected, count = ndimage.label(mask, structure=np.ones((3, 3)))
    assert len(pieces) == count > 10
    for number, (piece, (rows, cols)) in enumerate(zip(pieces, ndimage.find_objects(expected), strict=True), 1):
        assert (piece.top, piece.bottom, piece.left, piece.right) == (rows.start, rows.stop, cols.start, cols.stop)
        np.testing.assert_array_equal(labels == piece.labels[0], expected == number)
        assert piece.area == int((expected == number).sum())


def test_paper_level_follows_a_shadow_edge_and_ignores_the_strokes():
    grey = np.full((200, 300), 220, np.float32)
    grey[:, 150:] = 110  # a hard shadow over the right half
    grey[50:150, 60:66] = 30  # a stroke in the light
    grey[50:150, 220:226] = 15  # and one in the shadow
    paper = photo.light.paper_level(grey)
    assert np.all(np.abs(paper[:, :140] - 220) < 3) and np.all(np.abs(paper[:, 160:] - 110) < 3)
    ink = photo.light.absorbed_light(grey, paper)
    assert ink[100, 62] > 0.8 and ink[100, 222] > 0.8
    assert ink[:, 140:160].max() < 0.05  # the shadow's edge is not ink


def shadow_wedge(size: tuple[int, int], tip: tuple[int, int], depth: float = 0.5) -> np.ndarray:
    """How much light reaches each pixel under a hard-edged shadow whose pointed corner (60 degrees)
    lies at `tip` (x, y), inside the photo, its body running off to the right."""
    rows, cols = np.indices(size[::-1], dtype=np.float32)
    inside = np.abs(rows - tip[1]) < (cols - tip[0]) * np.tan(np.radians(30))
    return np.where(inside, depth, 1.0).astype(np.float32)


def test_a_shadows_corner_inside_the_photo_has_no_digits():
    light = shadow_wedge((400, 300), (120, 150))
    image = add_noise(Image.fromarray((225 * light).astype(np.uint8)))
    assert photo.read.read_photo(encode(image), "corner.png").digits == []  # a result (no digits), not an error


def test_a_digit_beside_a_shadows_corner_is_the_only_thing_read():
    image = sheet((400, 300))
    draw(image, STROKES["7"], 30, 40, 120, 5)
    shaded = np.asarray(image, dtype=np.float32) * shadow_wedge((400, 300), (200, 200))
    digits = photo.read.read_photo(encode(add_noise(Image.fromarray(shaded.astype(np.uint8)))), "beside.png").digits
    assert len(digits) == 1 and similarity(digits[0].frame, clean_frame(STROKES["7"])) > 0.8


def masked(shapes: list) -> np.ndarray:
    """A mask (300 x 400) with each shape drawn filled: ("polygon", points), ("disc", box) or
    ("strokes", strokes, left, top, size, width)."""
    image = Image.new("L", (400, 300), 0)
    pen = ImageDraw.Draw(image)
    for kind, *args in shapes:
        if kind == "polygon":
            pen.polygon(args[0], fill=255)
        elif kind == "disc":
            pen.ellipse(args[0], fill=255)
        else:
            draw(image, *args, ink=255)
    return np.asarray(image) > 128


@pytest.mark.parametrize("corner", [[(300, 40), (390, 20), (390, 60)],  # a sharp point, 25 degrees
                                    [(200, 100), (300, 100), (200, 220)]])  # a right angle
def test_a_shadows_corner_left_in_the_ink_is_dropped_and_a_small_digit_beside_it_kept(corner):
    mask = masked([("polygon", corner), ("strokes", STROKES["7"], 60, 120, 40, 3)])
    _, pieces = photo.segment.writing(mask)
    assert [(piece.left, piece.top) for piece in pieces] == [(62, 119)]  # the 7 alone, however small beside the corner


@pytest.mark.parametrize("shapes", [
    [("strokes", STROKES["1"], 100, 50, 200, 30)],  # a marker's 1: a thick bar, half its triangle
    [("strokes", [[(0.2, 0.0), (0.6, 1.0)]], 100, 50, 200, 4)],  # a thin slanted stroke
    [("strokes", STROKES["7"], 100, 50, 200, 25)],
    [("disc", (100, 50, 180, 190))],  # a blot a marker filled in
    [("polygon", [(100, 50), (300, 50), (300, 250), (100, 250)])],  # a square patch (a finger, a sticker)
])
def test_strokes_blots_and_patches_are_no_filled_triangles(shapes):
    mask = masked(shapes)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert not photo.frame.filled_triangle(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])


def test_a_wide_grey_stroke_crossing_a_shadows_edge_keeps_its_ink_on_both_sides():
    image = sheet((600, 450), 225)
    draw(image, STROKES["0"], 200, 80, 300, 16, 120)  # a soft pencil, its 0 half in the shadow
    shaded = np.asarray(image, dtype=np.float32)
    shaded[:, 300:] *= 0.45
    ink = photo.ink.ink_mask(*photo.light.ink_image(np.repeat(shaded[:, :, None], 3, axis=2)))
    drawn = np.asarray(image) < 200
    assert ink[drawn].mean() > 0.9  # the stroke's pixels on both sides of the edge are ink
    assert ink[~drawn].mean() < 0.01


def test_a_small_blurred_zero_keeps_its_loop_open():
    image = sheet((200, 150))
    draw(image, STROKES["0"], 90, 55, 30, 5)  # a 0 30 px tall, out of focus: its hole fills with grey
    blurred = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), 3.5)
    mask = photo.ink.ink_mask(*photo.light.ink_image(np.repeat(blurred[:, :, None], 3, axis=2)))
    hole = ndimage.binary_fill_holes(mask) & ~mask
    rows = np.flatnonzero(mask.any(axis=1))
    assert hole[70, 99] and hole.sum() >= 40  # the threshold alone leaves a hole of about 12 pixels
    assert mask[rows[0]:rows[-1] + 1, 99].sum() >= 8 and rows[-1] - rows[0] >= 28  # both strokes there


def test_a_small_blurred_three_is_cut_to_its_strokes():
    three = [[(0.15, 0.05), (0.6, 0.0), (0.85, 0.2), (0.5, 0.48), (0.85, 0.7), (0.65, 1.0), (0.1, 0.92)]]
    image = sheet((200, 150))
    draw(image, three, 90, 55, 25, 5)  # 25 px tall, out of focus: grey fills the gaps between its arms
    blurred = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), 2.5)
    rgb = np.repeat(blurred[:, :, None], 3, axis=2)
    mask = photo.ink.ink_mask(*photo.light.ink_image(rgb))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert not photo.frame.patch_like(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])  # a patch before
    assert len(photo.find_digits(rgb)[0]) == 1  # before, segment dropped it as solid


def test_a_blurred_strokes_grey_halo_is_cut_away_though_it_does_not_fill_the_box():
    core = np.zeros((150, 150), np.uint8)
    core[50:90, 50:56] = core[84:90, 50:86] = 1  # an L drawn with a 6 px pen
    halo = cv2.dilate(core, np.ones((21, 21), np.uint8))  # blur spread grey 10 px around it
    ink = np.where(core > 0, 0.6, np.where(halo > 0, 0.25, 0.0)).astype(np.float32)
    ink += np.random.default_rng(0).normal(0, 0.004, ink.shape).astype(np.float32)
    blob = ndimage.binary_fill_holes(halo > 0)
    assert not photo.frame.patch_like(blob[40:100, 40:96])  # with its halo, the L is no patch
    mask = photo.ink.ink_mask(ink)
    assert mask[70].sum() <= 10  # the upright stroke: 6 px and the smoothing's, not the halo's 24
    assert mask[core > 0].mean() > 0.95


def test_a_small_blurred_zero_the_reduced_photo_takes_for_a_blot_is_found_in_a_closer_look():
    image = sheet((2400, 1800), 215)  # read reduced to a third: the 0 is 13 px tall and a blot there
    draw(image, STROKES["0"], 1200, 800, 40, 8)
    blurred = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), 3)
    data = encode(add_noise(Image.fromarray(blurred.astype(np.uint8))))
    rgb, scale, size = photo.load_image(data, "far.png")
    digits, _, unread_ink = photo.find_digits(rgb, scale, size)
    assert not digits and len(unread_ink) == 1
    found = photo.read_photo(data, "far.png").digits
    assert len(found) == 1 and similarity(found[0].frame, clean_frame(STROKES["0"])) > 0.8


def test_stroke_window_is_wider_than_the_writings_strokes():
    for pen in (3, 9):
        grey = np.full((150, 200), 220, np.float32)
        grey[30:120, 50:50 + pen] = grey[30:120, 120:120 + pen] = 40
        window = photo.light.stroke_window(grey, photo.light.paper_level(grey, shadows=False), 21)
        assert window % 2 == 1 and pen < window <= 2 * pen + 3


def test_a_shadows_long_soft_corner_does_not_widen_the_stroke_window():
    rows, cols = np.indices((150, 200), dtype=np.float32)
    corner = np.abs(rows - 100) < (cols - 20) * np.tan(np.radians(5))  # a narrow corner, as long as the photo
    grey = (220 * ndimage.gaussian_filter(np.where(corner, 0.5, 1.0), 2)).astype(np.float32)
    for pen in (2, 3):
        grey[15:45, 150:150 + pen] = grey[15:45, 170:170 + pen] = 110  # two faint strokes
        window = photo.light.stroke_window(grey, photo.light.paper_level(grey, shadows=False), 21)
        assert pen < window <= 2 * pen + 3


def test_dark_writing_in_a_mostly_shadowed_photo_is_not_taken_for_light_writing():
    image = sheet((400, 300), 90)  # a dim photo...
    values = np.asarray(image, dtype=np.float32)
    values[:, 300:] = 220  # ...with a lit strip along one side
    shaded = Image.fromarray(values.astype(np.uint8))
    draw(shaded, STROKES["7"], 120, 60, 180, 6, 25)
    digits = photo.read.read_photo(encode(add_noise(shaded)), "dim.png").digits
    assert len(digits) == 1 and similarity(digits[0].frame, clean_frame(STROKES["7"])) > 0.8


def test_blue_ink_on_yellow_paper_is_ink():
    image = Image.new("RGB", (300, 300), (240, 225, 150))
    draw(image, STROKES["7"], 100, 60, 180, 6, (40, 60, 170))
    digits = photo.read.read_photo(encode(image, "JPEG", quality=85), "blue.jpg").digits
    assert len(digits) == 1 and similarity(digits[0].frame, clean_frame(STROKES["7"])) > 0.7


def test_light_writing_on_a_dark_ground_reads_like_dark_on_light():
    dark = sheet()
    draw(dark, STROKES["7"], 100, 60, 180, 10)
    light = Image.fromarray(255 - np.asarray(dark))
    assert similarity(photo.read.read_photo(encode(dark), "d").digits[0].frame,
                      photo.read.read_photo(encode(light), "l").digits[0].frame) > 0.95


# --- 4 and 6. ink, strokes and framing ----------------------------------------------------------

def test_a_thin_pen_under_a_shadow_gives_the_digits_frame():
    image = sheet((400, 400), 230)
    draw(image, STROKES["7"], 140, 80, 240, 2, 60)
    values = np.asarray(image, dtype=np.float32)
    values[:, 200:] *= 0.5  # a shadow over the right half, across the digit
    shadowed = add_noise(Image.fromarray(values.astype(np.uint8)), sigma=2)
    digits = photo.read.read_photo(encode(shadowed, "JPEG", quality=90), "thin.jpg").digits
    assert len(digits) == 1
    frame = digits[0].frame
    assert similarity(frame, clean_frame(STROKES["7"])) > 0.75
    width = photo.frame.stroke_width(frame > 127)
    assert 0.6 * photo.frame.MNIST_STROKE_WIDTH < width < 1.6 * photo.frame.MNIST_STROKE_WIDTH


def test_a_marker_is_thinned_and_a_fine_pen_thickened_towards_mnist_width():
    target = photo.frame.MNIST_STROKE_WIDTH * photo.frame.STROKE_SCALE
    bar = np.zeros((60, 60), bool)
    fine, thick = bar.copy(), bar.copy()
    fine[5:55, 29:31] = True
    thick[5:55, 15:45] = True
    assert photo.frame.stroke_width(photo.frame.match_stroke_width(fine, target)) > photo.frame.stroke_width(fine) + 3
    assert photo.frame.stroke_width(photo.frame.match_stroke_width(thick, target)) < photo.frame.stroke_width(thick) - 3


def test_a_one_written_with_a_fine_pen_is_framed_as_wide_as_mnists_ones():
    one = np.ones((200, 6), bool)  # the ink's box is the stroke itself: thickening must grow past it
    frame = photo.frame.digit_frame(one)
    rows, cols = np.flatnonzero(frame.max(axis=1) > 127), np.flatnonzero(frame.max(axis=0) > 127)
    assert rows.size == photo.frame.DIGIT_BOX
    assert 2 <= cols.size <= 4  # MNIST's strokes are about 2.7 px wide


def test_frames_follow_mnists_preparation():
    image = sheet()
    draw(image, STROKES["7"], 40, 30, 150, 10)  # off-centre on the sheet
    frame = photo.read.read_photo(encode(image), "seven").digits[0].frame
    assert frame.shape == (28, 28) and frame.dtype == np.uint8
    rows = np.flatnonzero(frame.max(axis=1) > 64)
    assert 18 <= rows[-1] - rows[0] + 1 <= 21  # the longer side is 20 pixels
    np.testing.assert_allclose(centre_of_mass(frame.astype(float)), [13.5, 13.5], atol=1.0)


# --- 5. digits ----------------------------------------------------------------------------------

def test_three_digits_with_a_detached_stroke_give_three_boxes_in_order():
    image = sheet((600, 260))
    draw(image, STROKES["5_body"] + STROKES["5_top"], 60, 50, 150, 8)
    draw(image, STROKES["1"], 230, 50, 150, 8)
    draw(image, STROKES["7"], 380, 55, 150, 8)
    digits = photo.read.read_photo(encode(add_noise(image)), "517.png").digits
    assert len(digits) == 3
    lefts = [digit.box[0] for digit in digits]
    assert lefts == sorted(lefts)
    assert abs(lefts[0] - 60) < 15 and abs(lefts[2] - 380) < 15
    assert all(130 < digit.box[3] < 175 for digit in digits)  # each box spans a whole digit's height


def test_a_digit_in_two_pieces_side_by_side_is_offered_joined():
    image = sheet((400, 300))
    draw(image, [[(0.0, 0.0), (-0.1, 0.6), (0.9, 0.6)]], 100, 60, 180, 8)  # a 4's open top...
    draw(image, [[(1.25, 0.1), (1.25, 1.0)]], 100, 60, 180, 8)  # ...and its stem, written apart
    draw(image, STROKES["1"], 300, 60, 180, 8)  # and a 1, well apart from both
    found = photo.read.read_photo(encode(image), "four.png").found
    assert len(found.digits) == 3 and [join.first for join in found.joins] == [0]
    left, top, width, _ = found.joins[0].digit.box
    first, second = found.digits[0].box, found.digits[1].box
    assert (left, left + width) == (first[0], second[0] + second[2])
    assert top == min(first[1], second[1]) and found.joins[0].digit.line == 0


def test_specks_and_dust_are_dropped():
    image = sheet()
    draw(image, STROKES["7"], 100, 60, 180, 10)
    pen = ImageDraw.Draw(image)
    for x, y in ((20, 20), (260, 270), (40, 250)):
        pen.ellipse((x, y, x + 3, y + 3), fill=30)
    assert len(photo.read.read_photo(encode(image), "dusty.png").digits) == 1


def test_a_thin_line_beside_a_large_filled_square_is_no_writing_and_no_error():
    # The line is the longest piece but too thin to count beside the square; the square is too short
    # beside the line. Neither is writing, and the square, round enough for a dot, has no piece to be under.
    mask = np.zeros((600, 1400), bool)
    mask[50, 150:1250] = True
    mask[200:460, 500:760] = True
    assert photo.segment.segment(mask) == []


def hook(mask: np.ndarray, left: int) -> None:
    """A 7-like hook 80 wide, rows 60-190: a question mark's upper part, or a 7."""
    mask[60:72, left:left + 80] = True
    mask[60:130, left + 68:left + 80] = True
    mask[118:130, left + 34:left + 80] = True
    mask[118:190, left + 34:left + 46] = True


def test_a_question_mark_is_not_a_digit_but_a_seven_with_a_decimal_point_beside_it_is():
    mask = np.zeros((400, 700), bool)
    rows, cols = np.indices(mask.shape)
    hook(mask, 100)
    mask |= np.hypot(rows - 215, cols - 140) <= 9  # a round dot under the hook's middle: "?"
    hook(mask, 400)
    mask |= np.hypot(rows - 182, cols - 500) <= 9  # a dot on the line, to the right: "7."
    assert [piece.left for _, piece, *_ in photo.segment.segment(mask)] == [400]


def test_a_loop_a_marker_filled_is_writing_and_a_solid_patch_is_not():
    rows, cols = np.indices((400, 600))
    mask = np.hypot(rows - 120, cols - 150) < 50  # a 9's loop, filled, just above its stem
    mask[175:280, 170:200] = True
    mask[100:190, 400:520] = True  # a solid dark patch (a shadow's corner) as large as a digit
    digits = photo.segment.segment(mask)
    assert [(piece.left, piece.top, piece.bottom) for _, piece, *_ in digits] == [(101, 71, 280)]


def test_a_number_running_off_the_photo_keeps_its_last_digit_and_a_lone_digit_gains_none():
    mask = np.zeros((300, 240), bool)
    for left in (100, 160):
        mask[60:180, left:left + 8] = True  # 1 1, and a 7 whose bar the photo's right edge cuts
    mask[70:80, 222:240] = mask[70:180, 222:230] = True
    assert [piece.left for _, piece, *_ in photo.segment.segment(mask)] == [100, 160, 222]
    mask[:, :150] = False  # a single 1 beside a piece the edge cuts (a shadow): only the 1
    assert [piece.left for _, piece, *_ in photo.segment.segment(mask)] == [160]


def test_a_shadows_tip_or_a_short_mark_apart_from_the_writing_is_not_a_digit():
    mask = np.zeros((400, 500), bool)
    for left in (100, 200, 300):
        mask[60:180, left:left + 8] = True  # a line of three 1s
    tip = np.tril(np.ones((30, 40), bool))
    mask[320:350, 200:240] = tip  # a shadow's tip far below them
    mask[90:120, 410:450] = tip  # and one beside them, a quarter as tall
    digits = photo.segment.segment(mask)
    assert [(line, piece.left) for line, piece, *_ in digits] == [(0, 100), (0, 200), (0, 300)]


def test_a_stroke_broken_in_two_is_one_digit_and_a_mark_far_from_the_digits_is_none():
    mask = np.zeros((300, 760), bool)
    for left in (60, 160, 360, 460):
        mask[60:180, left:left + 8] = True  # 1 1 _ 1 1, and the middle 1 broken at a shadow's edge:
    mask[60:118, 272:280] = True  # its upper half
    mask[122:180, 260:268] = True  # and its lower half, shifted left: no column in common
    mask[100:150, 620:628] = True  # a mark under half a digit tall, well apart from the last 1
    digits = photo.segment.segment(mask)
    assert [(piece.left, piece.top, piece.right, piece.bottom) for _, piece, *_ in digits] == [
        (60, 60, 68, 180), (160, 60, 168, 180), (260, 60, 280, 180), (360, 60, 368, 180), (460, 60, 468, 180)]


def test_the_parts_of_a_piece_split_as_too_wide_are_offered_joined_however_wide():
    wide_zero = [[(0.5, 0.0), (1.2, 0.25), (1.2, 0.75), (0.5, 1.0), (-0.2, 0.75), (-0.2, 0.25), (0.5, 0.0)]]
    image = sheet((520, 260))
    draw(image, wide_zero, 100, 50, 160, 9)
    draw(image, wide_zero, 232, 50, 160, 9)  # touching the first: one piece of ink, cut in two
    found = photo.read.read_photo(encode(image), "00.png").found
    assert len(found.digits) == 2 and [(join.first, join.split) for join in found.joins] == [(0, True)]


def test_two_touching_digits_are_split():
    image = sheet((400, 260))
    draw(image, STROKES["0"], 100, 50, 160, 9)
    draw(image, STROKES["0"], 180, 50, 160, 9)  # the second 0 touches the first
    digits = photo.read.read_photo(encode(image), "00.png").digits
    assert len(digits) == 2 and digits[0].box[0] < digits[1].box[0]


def ring(mask: np.ndarray, left: int, top: int, width: int, height: int = 100, pen: int = 8) -> None:
    mask[top:top + height, left:left + width] = True
    mask[top + pen:top + height - pen, left + pen:left + width - pen] = False


def test_two_narrow_digits_touching_by_a_thin_link_are_split_though_together_not_two_digits_wide():
    mask = np.zeros((260, 700), bool)
    for left in (60, 160):
        ring(mask, left, 60, 60)  # two 0s 60 px wide
    ring(mask, 260, 60, 40)
    ring(mask, 306, 60, 40)  # then two narrow ones, 86 px together: 1.4 digits wide
    mask[105:111, 299:307] = True  # joined by a short thin stroke
    digits = photo.segment.segment(mask)
    assert [(piece.left, piece.right) for _, piece, *_ in digits][2:] == [(260, 300), (300, 346)]


def test_two_digits_touching_along_a_stroke_are_cut_and_read_apart_only_if_sure():
    mask = np.zeros((260, 700), bool)
    for left in (60, 160):
        ring(mask, left, 60, 60)  # two 0s 60 px wide
    ring(mask, 260, 60, 50)
    ring(mask, 306, 60, 50)  # then two overlapping by their sides, 96 px together: no column thins
    ring(mask, 420, 60, 40)
    ring(mask, 466, 60, 40)
    mask[105:111, 459:467] = True  # and two joined by a short thin stroke
    found = photo.segment.segment(mask)
    lefts_and_rights = [(piece.left, piece.right) for _, piece, *_ in found]
    assert len(found) == 6 and lefts_and_rights[2][0] == 260 and lefts_and_rights[3][1] == 356
    assert [(join.first, join.split, join.only_if_sure) for join in photo.segment.join_candidates(found)] == [
        (2, True, True), (4, True, False)]


def test_a_wave_drawn_across_is_not_read_as_touching_digits_but_six_digits_linked_thinly_are():
    wave = np.zeros((300, 800), bool)
    for column in range(100, 700):  # three periods of a wave, 600 px wide and under 100 tall
        middle = round(150 + 40 * np.sin((column - 100) / 600 * 6 * np.pi))
        wave[middle - 4:middle + 4, column] = True
    assert photo.segment.segment(wave) == []
    digits = np.zeros((260, 700), bool)
    zeros = range(60, 510, 75)
    for left in zeros:
        ring(digits, left, 60, 70)  # six 0s in a row, 6 digits wide,
    for left in zeros[:-1]:
        digits[105:111, left + 70:left + 75] = True  # each joined to the next by a short thin stroke
    lefts = [piece.left for _, piece, *_ in photo.segment.segment(digits)]
    assert len(lefts) == 6 and all(abs(left - zero) <= 5 for left, zero in zip(lefts, zeros, strict=True))


def test_two_lines_are_read_top_line_first():
    image = sheet((420, 500))
    draw(image, STROKES["1"], 80, 40, 150, 8)
    draw(image, STROKES["7"], 220, 40, 150, 8)
    draw(image, STROKES["0"], 80, 300, 150, 8)
    digits = photo.read.read_photo(encode(image), "lines.png").digits
    assert [digit.line for digit in digits] == [0, 0, 1]
    assert digits[2].box[1] > digits[0].box[1] + 200


def test_a_line_written_half_as_tall_as_the_line_above_keeps_all_its_digits():
    mask = np.zeros((400, 500), bool)
    for left in (100, 200, 300):
        mask[60:180, left:left + 8] = True  # 1 1 1
    for left in (100, 140):
        mask[250:310, left:left + 6] = True  # and 1 1 below, half as tall and close together
    digits = photo.segment.segment(mask)
    assert [(line, piece.left, piece.height) for line, piece, *_ in digits] == [
        (0, 100, 120), (0, 200, 120), (0, 300, 120), (1, 100, 60), (1, 140, 60)]


def test_a_small_number_on_a_large_photo_is_read_again_from_the_originals_pixels():
    image = sheet((3000, 2250), 215)  # a page photographed whole, a number written small on it
    draw(image, STROKES["7"], 1300, 1000, 60, 3, 40)
    draw(image, STROKES["1"], 1360, 1000, 60, 3, 40)
    found = photo.read.read_photo(encode(add_noise(image).convert("RGB"), "JPEG", quality=90), "page.jpg")
    assert len(found.digits) == 2
    (left, top, width, height), one = found.digits[0].box, found.digits[1].box
    assert abs(left - 1300) <= 3 and abs(top - 1000) <= 3 and 60 <= height <= 66 and width >= 30
    assert abs(one[0] + one[2] / 2 - 1378) <= 3  # boxes in the original photo's pixels
    assert similarity(found.digits[0].frame, clean_frame(STROKES["7"])) > 0.8


def test_a_closer_look_takes_in_as_much_paper_as_is_still_read_at_full_resolution():
    left, top, width, height = photo.read.closer_look([(1300, 1000, 30, 60)], (3000, 2250), 3000 / 800)
    assert (width, height) == (photo.load.WORKING_SIDE, photo.load.WORKING_SIDE)
    assert abs(left + width / 2 - 1315) <= 1 and abs(top + height / 2 - 1030) <= 1  # centred on the digit
    edge = (10, 2200, 30, 40)  # by the corner: kept inside
    assert photo.read.closer_look([edge], (3000, 2250), 3000 / 800) == (0, 2250 - 800, 800, 800)
    assert photo.read.closer_look([], (3000, 2250), 3000 / 800) is None


def test_a_page_of_many_small_marks_is_read_without_stalling():
    image = sheet((600, 600), 255)
    pen = ImageDraw.Draw(image)
    columns = range(10, 580, 14)
    for x, y in itertools.product(columns, repeat=2):  # a bubble sheet: 1,681 squares, 3 px apart
        pen.rectangle((x, y, x + 10, y + 10), outline=0)
    digits = photo.read.read_photo(encode(image), "grid.png").digits
    assert len(digits) == len(columns) ** 2 and {d.line for d in digits} == set(range(len(columns)))  # a row a line


@pytest.mark.parametrize("size", [(1, 5000), (5000, 1), (8000, 1055)])
def test_boxes_stay_inside_very_narrow_or_odd_sized_photos(size):
    image = Image.new("L", size, 255)
    pen = ImageDraw.Draw(image)
    width, height = size
    pen.line((width // 2, height * 0.48, width // 2, height * 0.52) if width < height else
             (width * 0.48, height // 2, width * 0.52, height // 2), fill=0, width=3)
    if size == (8000, 1055):
        pen.line((7600, 263, 7999, 263, 7750, 1054), fill=0, width=87)  # a 7 running off the bottom
    found = photo.read.read_photo(encode(image), "strip.png")
    assert found.size == size
    for left, top, box_width, box_height in (digit.box for digit in found.digits):
        assert left >= 0 and left + box_width <= width and top >= 0 and top + box_height <= height


def test_a_float_image_with_missing_values_still_reads_its_digit():
    image = sheet()
    draw(image, STROKES["7"], 100, 60, 180, 10)
    values = np.asarray(image, dtype=np.float32)
    values[:20, :20] = np.nan
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format="TIFF")
    digits = photo.read.read_photo(buffer.getvalue(), "float.tif").digits
    assert len(digits) == 1 and similarity(digits[0].frame, clean_frame(STROKES["7"])) > 0.8


def test_boxes_are_drawn_on_the_photo():
    image = sheet()
    draw(image, STROKES["7"], 100, 60, 180, 10)
    found = photo.read.read_photo(encode(image), "seven")
    picture = np.asarray(photo.draw.draw_boxes(found, [(found.digits[0].box, "7")]))
    left, top, _, _ = found.digits[0].box
    assert tuple(picture[top + 20, left]) == (220, 30, 30)


# --- printed lines ------------------------------------------------------------------------------------

def ruled_ink(tilt: float = 0.02, pitch: int = 40, strength: float = 0.3) -> np.ndarray:
    """An ink image (0 = paper) of ruled lines slightly askew, `pitch` px apart, each 3 px wide with soft
    edges as a camera sees a printed line."""
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    ink = np.zeros((300, 400), np.float32)
    for start in range(20, 300, pitch):
        ink = np.maximum(ink, strength * np.clip(2 - np.abs(rows - (start + tilt * cols)), 0, 1))
    return ink


def test_ruled_lines_are_taken_out_and_a_stroke_across_them_keeps_its_strength():
    ink = ruled_ink()
    ink[50:200, 200:206] = np.maximum(ink[50:200, 200:206], 0.8)  # a 1 written across three lines
    clean = photo.rules.remove_printed_lines(ink)[0]
    paper = np.ones_like(ink, bool)
    paper[:, 190:216] = False
    assert np.abs(clean[paper]).max() < 0.1  # the lines are gone away from the stroke
    assert clean[50:200, 201:205].min() > 0.45  # the stroke, where it crosses a line too, is still ink


def test_a_dense_grid_photographed_close_is_taken_out():
    # Squared paper seen close: its lines, 3 px wide with their soft edges, cover a sixth of the photo.
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    grid = np.zeros((300, 400), np.float32)
    for start in range(10, 400, 50):
        grid = np.maximum(grid, 0.3 * np.clip(1.5 - np.abs(cols - (start - 0.02 * rows)), 0, 1))
        grid = np.maximum(grid, 0.3 * np.clip(1.5 - np.abs(rows - (start + 0.02 * cols)), 0, 1))
    assert 0.15 < (cv2.blur(grid, (3, 3)) > 0.03).mean() < photo.rules.MAX_MASK_SHARE
    clean, printed = photo.rules.remove_printed_lines(grid)
    assert printed.max() > 0.2 and not photo.ink.ink_mask(clean, 1.0, printed).any()


def test_a_grid_line_running_in_across_a_corner_is_taken_out_as_its_family_leads_to_it():
    # Squared paper photographed askew: the lines lean, and the next one after the last runs into the
    # photo only across its lower right corner, a third of its height: too short to be found alone.
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    grid = np.zeros((300, 400), np.float32)
    for start in range(40, 520, 80):
        grid = np.maximum(grid, 0.3 * np.clip(1.5 - np.abs(cols - (start - 0.2 * rows)), 0, 1))
    assert grid[:190, 390:].max() == 0 and grid[250:, 380:].max() > 0.2  # the corner's line
    clean, printed = photo.rules.remove_printed_lines(grid)
    assert not photo.ink.ink_mask(clean, 1.0, printed).any()


def test_a_family_of_printed_lines_is_continued_only_where_its_spacing_is_even():
    line = photo.rules.Line
    family = [line(False, -0.1 + 0.005 * k, 40 + 80 * k) for k in range(4)]  # turning as perspective turns them
    following = photo.rules.continued(family)
    assert [(next_line.slope, next_line.intercept) for next_line in following] == [
        (pytest.approx(-0.105), -40), (pytest.approx(-0.08), 360)]
    assert photo.rules.continued(family[:2] + family[3:]) == []  # one between them missed: no spacing to go by
    assert photo.rules.continued(family[:2]) == []


def test_one_long_stroke_alone_is_writing_not_a_printed_line():
    ink = np.zeros((300, 400), np.float32)
    ink[150:155, 40:360] = 0.8  # a long dash: no parallel neighbour, so no ruling
    np.testing.assert_array_equal(photo.rules.remove_printed_lines(ink)[0], ink)


def test_a_blank_ruled_page_has_no_ink_left():
    clean, printed = photo.rules.remove_printed_lines(ruled_ink())
    assert printed.max() > 0.2 and not photo.ink.ink_mask(clean, 1.0, printed).any()


def test_a_pencil_fainter_than_the_ruling_is_still_ink_but_no_trace_of_a_line_is():
    ink = ruled_ink(strength=0.4)
    ink[80:220, 150:155] = np.maximum(ink[80:220, 150:155], 0.25)  # a faint 1 across three lines
    clean, printed = photo.rules.remove_printed_lines(ink)
    mask = photo.ink.ink_mask(clean, 1.0, printed)
    assert mask[80:220, 150:155].mean() > 0.9
    assert not mask[:, :140].any() and not mask[:, 170:].any()


def test_a_line_crossing_a_printed_line_at_another_angle_does_not_hide_it(monkeypatch):
    # Upright strokes of several lines of writing, one under another, make a long straight line that
    # crosses a slightly tilted grid line near the photo's middle: the two are not one line.
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    tilted = photo.rules.Line(False, 0.05, 192.5)
    grid = np.zeros((300, 400), np.float32)
    for shift in (-90, -45, 0, 45, 90):
        centre = tilted.slope * rows + tilted.intercept + shift
        grid = np.maximum(grid, 0.3 * np.clip(1.5 - np.abs(cols - centre), 0, 1))
    ink = grid.copy()
    for top in range(20, 280, 65):
        ink[top:top + 45, 195:200] = 0.8
    found = photo.rules.hough_lines

    # In a photo the strokes' line may get more votes than the grid line (broken under a shadow's edge):
    # it comes first, as the upright line through the strokes, at the Hough transform's half resolution.
    def upright_first(mask: np.ndarray, horizontal: bool) -> list[photo.rules.Line]:
        lines = found(mask, horizontal)
        return lines if horizontal else [photo.rules.Line(False, 0.0, 197.0 / 2), *lines]

    monkeypatch.setattr(photo.rules, "hough_lines", upright_first)
    middles = [line.intercept + line.slope * 150 for line, _ in photo.rules.candidate_lines(ink > 0.03, ink)]
    assert any(abs(middle - 200) < 1 for middle in middles)
    clean, printed = photo.rules.remove_printed_lines(ink)
    mask = photo.ink.ink_mask(clean, 1.0, printed)
    strokes = ndimage.binary_dilation(ink > 0.5, iterations=2)
    assert mask[ink > 0.5].mean() > 0.9 and not (mask & ~strokes).any()  # the strokes stay, and only they


def test_a_line_running_off_the_photo_is_fitted_where_it_runs_inside():
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    ink = 0.3 * np.clip(2 - np.abs(cols - (0.1 * rows - 10)), 0, 1)  # enters the photo a third of the way down
    line = photo.rules.refined(photo.rules.Line(False, 0.09, -8.0), ink)
    assert abs(line.slope - 0.1) < 0.005 and abs(line.intercept + 10) < 1


def test_a_long_dark_stroke_beside_another_is_writing_not_ruling():
    ink = np.zeros((128, 256), np.float32)
    ink[10:120, 150:155] = 1.0  # a 1 drawn on a pad, as dark as ink gets
    ink[10:120, 100:105] = 1.0  # and a second
    np.testing.assert_array_equal(photo.rules.remove_printed_lines(ink)[0], ink)


def test_a_drawn_seven_and_one_are_two_digits():
    assert len(photo.read.read_photo(REPO / "docs" / "drawing-71.png", "drawing-71.png").digits) == 2


def test_a_wide_margin_line_is_taken_out_edge_to_edge():
    # A margin line seen close, 9 px wide with soft edges: wider than the core a line is measured on,
    # and its edges alone would be two long thin strokes, read as a "1".
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    margin = 0.3 * np.clip(4.5 - np.abs(cols - (60 + 0.01 * rows)), 0, 1)
    clean, printed = photo.rules.remove_printed_lines(margin)
    assert np.abs(clean).max() < 0.05
    assert not photo.ink.ink_mask(clean, 1.0, printed).any()


def test_a_notebooks_margin_line_alone_is_taken_out_but_a_shorter_lone_line_is_not():
    rows, cols = np.mgrid[0:300, 0:400].astype(np.float32)
    margin = 0.3 * np.clip(2 - np.abs(cols - (60 + 0.01 * rows)), 0, 1)  # the whole height of the photo
    assert np.abs(photo.rules.remove_printed_lines(margin)[0]).max() < 0.1
    stroke = margin * (rows < 200)  # two thirds of it: as long as writing gets, and alone
    np.testing.assert_array_equal(photo.rules.remove_printed_lines(stroke)[0], stroke)
