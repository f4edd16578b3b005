"""Realistic phone photos of handwritten digits, rendered from 28x28 MNIST-style digits.

A photo is made the way a real one comes about, each step a function below:

1. pen: the digit's shape is cut out of the upscaled MNIST image, its filled loops opened, and redrawn
   along its centre line with a pen of a given width, from a fine ballpoint (thinner than MNIST's
   strokes) to a marker (thicker), with the pen's texture;
2. page: the digits placed on a line with natural spacing, size and baseline jitter (a number), or alone;
3. camera: the page slightly rotated and seen in perspective;
4. light: ink on tinted, textured paper, lit by an even light, a gradient, vignetting, or a soft or
   hard-edged shadow;
5. sensor: optical blur, sensor noise, and the file: JPEG at a varied quality, or PNG.

Every random choice comes from the numpy Generator passed in, so a seed gives the same photo, byte for
byte. The conditions drawn are returned with the photo as labels, for a breakdown of what fails.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

Box = tuple[int, int, int, int]  # left, top, width, height

# Pen stroke width as a share of the digit's height (MNIST's own: 2.7 px of 20, 0.135).
PENS = {"fine": (0.03, 0.05), "ballpoint": (0.05, 0.08), "felt": (0.08, 0.13), "marker": (0.13, 0.2)}
# Ink colours as the share of each of red, green and blue light they reflect.
INKS = {"black": ((0.07, 0.07, 0.09), (0.2, 0.2, 0.22)),
        "blue": ((0.08, 0.14, 0.42), (0.25, 0.35, 0.75)),
        "pencil": ((0.38, 0.38, 0.4), (0.55, 0.55, 0.58))}
PAPERS = {"white": ((0.88, 0.88, 0.88), (0.97, 0.97, 0.97)),
          "cream": ((0.92, 0.86, 0.7), (0.97, 0.93, 0.82)),
          "grey": ((0.68, 0.68, 0.66), (0.8, 0.8, 0.78)),
          "yellow": ((0.95, 0.88, 0.45), (1.0, 0.95, 0.6))}
LIGHTS = ("even", "gradient", "vignette", "soft_shadow", "hard_shadow")
# Gaussian blur sigma in pixels of a photo 1000 px on its longer side.
BLURS = {"sharp": (0.0, 0.6), "soft": (0.6, 1.4), "blurred": (1.4, 2.4)}
# JPEG quality (None = PNG), and how often each kind of file comes: phones write JPEGs, messaging apps
# recompress them; a PNG (a screenshot, a scan) is rarer and slow to write.
FILES = {"png": None, "jpeg_high": (80, 95), "jpeg_low": (35, 70)}
FILE_SHARES = {"png": 1 / 6, "jpeg_high": 1 / 2, "jpeg_low": 1 / 3}
CONDITIONS = {"pen": tuple(PENS), "ink": tuple(INKS), "paper": tuple(PAPERS), "light": LIGHTS,
              "blur": tuple(BLURS), "file": tuple(FILES)}
SIDES = (600, 1600)  # the photo's longer side, in pixels
INK_LEVEL = 40  # an MNIST pixel above this is part of the digit when it is cropped


@dataclass(frozen=True)
class Conditions:
    """How one photo was taken: a class per kind (the labels of the breakdown) and the exact values."""

    pen: str
    ink: str
    paper: str
    light: str
    blur: str
    file: str
    pen_ratio: float  # stroke width / digit height
    ink_rgb: tuple[float, float, float]
    paper_rgb: tuple[float, float, float]
    blur_sigma: float  # at 1000 px
    jpeg_quality: int  # 0 for PNG
    rotation: float  # degrees
    noise: float  # sensor noise, standard deviation in 0..255

    def labels(self) -> dict[str, str]:
        return {kind: getattr(self, kind) for kind in CONDITIONS}


@dataclass(frozen=True)
class Rendered:
    """A photo and its ground truth: the digits left to right, and where each one's ink is."""

    image: Image.Image  # RGB, as the camera saw it before the file was written
    data: bytes  # the file: JPEG or PNG
    labels: tuple[int, ...]
    boxes: tuple[Box, ...]  # in the image's pixels, in the order of `labels`
    conditions: Conditions

    @property
    def number(self) -> str:
        return "".join(str(label) for label in self.labels)

    @property
    def suffix(self) -> str:
        return ".png" if self.conditions.file == "png" else ".jpg"


# --- conditions ------------------------------------------------------------------------------------

def uniform_rgb(rng: np.random.Generator, bounds: tuple[tuple[float, ...], tuple[float, ...]]) -> tuple[float, ...]:
    """A colour between two corners, one shade drawn for all three channels plus a slight tint."""
    low, high = np.array(bounds[0]), np.array(bounds[1])
    shade = rng.uniform() + rng.uniform(-0.1, 0.1, 3)
    return tuple(float(v) for v in np.round(low + np.clip(shade, 0, 1) * (high - low), 4))


def draw_conditions(rng: np.random.Generator, **classes: str) -> Conditions:
    """Draw every condition, each class equally often (files as FILE_SHARES); `classes` fixes some
    (e.g. ink="blue").

    A pencil is never as wide as a felt pen or a marker.
    """
    unknown = set(classes) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition(s) {sorted(unknown)}; known: {list(CONDITIONS)}")
    chosen = {kind: str(rng.choice(names, p=[FILE_SHARES[name] for name in names] if kind == "file" else None))
              for kind, names in CONDITIONS.items()}
    chosen.update(classes)
    for kind, name in chosen.items():
        if name not in CONDITIONS[kind]:
            raise ValueError(f"{kind}={name!r}: must be one of {CONDITIONS[kind]}")
    if chosen["ink"] == "pencil" and chosen["pen"] in ("felt", "marker") and "pen" not in classes:
        chosen["pen"] = "fine" if chosen["pen"] == "felt" else "ballpoint"
    quality = FILES[chosen["file"]]
    return Conditions(
        **chosen,
        pen_ratio=round(float(rng.uniform(*PENS[chosen["pen"]])), 4),
        ink_rgb=uniform_rgb(rng, INKS[chosen["ink"]]),
        paper_rgb=uniform_rgb(rng, PAPERS[chosen["paper"]]),
        blur_sigma=round(float(rng.uniform(*BLURS[chosen["blur"]])), 3),
        jpeg_quality=int(rng.integers(quality[0], quality[1] + 1)) if quality else 0,
        rotation=round(float(rng.uniform(-7, 7)), 2),
        noise=round(float(rng.uniform(1.0, 5.0)), 2),
    )


# --- 1. pen ----------------------------------------------------------------------------------------

def crop_digit(digit: np.ndarray) -> np.ndarray:
    """The digit cut to its ink (pixels above INK_LEVEL), as uint8; the whole image when it has none."""
    rows = np.flatnonzero(digit.max(axis=1) > INK_LEVEL)
    cols = np.flatnonzero(digit.max(axis=0) > INK_LEVEL)
    if rows.size == 0:
        return np.asarray(digit, np.uint8)
    return np.asarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], np.uint8)


WORKING_HEIGHT = 80  # a digit's centre line is traced with the digit this tall
SHAPE_LEVEL = 64  # upscaled MNIST pixels from this level are stroke: faint joins between strokes hold


def digit_shape(digit: np.ndarray) -> np.ndarray:
    """The digit's strokes as a mask WORKING_HEIGHT px tall (wide digits capped at 1.3x that)."""
    crop = crop_digit(digit)
    scale = min(WORKING_HEIGHT / crop.shape[0], 1.3 * WORKING_HEIGHT / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    return np.pad(np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BICUBIC)) >= SHAPE_LEVEL, 2)


FILLED_LOOP = 1.6  # a part of a digit this many times as thick as its thinner strokes is a filled loop
MIN_LOOP_AREA = 10  # working pixels: a smaller thick spot (a stroke's corner) is left as it is


def open_filled_loops(shape: np.ndarray) -> np.ndarray:
    """The digit's shape with a hole wherever it is much thicker than its strokes.

    MNIST's writers' pens filled small loops (a 9's, an 8's lower one, a 2's curl) with ink. Traced
    along its centre line, a filled loop becomes a line, and a 9 drawn again with a fine pen reads as a
    1 or a 7. With a hole in it, the centre line goes round the loop, as the writer's pen did: a fine pen
    then draws an open loop, and a marker fills it again.
    """
    distance = ndimage.distance_transform_edt(shape)
    ridge = shape & (distance >= ndimage.maximum_filter(distance, size=3))
    if not ridge.any():
        return shape
    # The strokes' half width from the thinner part of the centre ridge: a large blob has a long ridge
    # of its own, which a median would take for the stroke.
    half_width = float(np.percentile(distance[ridge], 30))
    labels, count = ndimage.label(distance > FILLED_LOOP * half_width)
    hole = np.bincount(labels.ravel(), minlength=count + 1) >= MIN_LOOP_AREA
    hole[0] = False
    return shape & ~hole[labels]


def thin(mask: np.ndarray) -> np.ndarray:
    """The one-pixel centre line of a mask's strokes (Zhang and Suen's thinning, 1984)."""
    image = np.pad(mask, 1).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = image
            ring = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:],  # clockwise from the top
                    p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            n, e, s, w = ring[0], ring[2], ring[4], ring[6]
            count = sum(ring, np.zeros_like(n))
            turns = sum((a == 0) & (b == 1) for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
            side = (n * e * s == 0) & (e * s * w == 0) if step == 0 else (n * e * w == 0) & (n * s * w == 0)
            remove = (p[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (turns == 1) & side
            if remove.any():
                image[1:-1, 1:-1][remove] = 0
                changed = True
    return image[1:-1, 1:-1].astype(bool)


NEIGHBOURS = ((0, 1), (1, -1), (1, 0), (1, 1))  # each pair of touching pixels once


def centre_line(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strokes' centre line as points (row, col) and segments (pairs of point indices), each
    point moved to the mean of itself and its neighbours so that pixel steps become smooth."""
    line = thin(mask)
    index = np.full(line.shape, -1)
    rows, cols = np.nonzero(line)
    index[rows, cols] = np.arange(rows.size)
    padded = np.pad(index, 1, constant_values=-1)
    segments = []
    for dr, dc in NEIGHBOURS:
        other = padded[1 + rows + dr, 1 + cols + dc]
        segments += [(a, b) for a, b in zip(index[rows, cols], other, strict=True) if b >= 0]
    points = np.column_stack([rows, cols]).astype(np.float64)
    pairs = np.array(segments, dtype=np.int64).reshape(-1, 2)
    total, count = points.copy(), np.ones(len(points))
    for a, b in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 1], pairs[:, 0])):
        np.add.at(total, a, points[b])
        np.add.at(count, a, 1)
    return total / count[:, None], pairs


def pen_coverage(points: np.ndarray, pairs: np.ndarray, scale: float, slant: float, width: float) -> np.ndarray:
    """How much of each pixel a pen `width` px wide covers as it traces the centre line (`points` in
    working pixels, scaled by `scale` and turned by `slant` degrees): within width / 2 of the line,
    anti-aliased over one pixel. Returns the glyph (rows, cols) with a margin of the pen's radius."""
    if len(points) == 0:
        return np.zeros((3, 3), np.float32)
    angle = math.radians(slant)
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    placed = (points - points.mean(axis=0)) * scale @ turn.T
    margin = math.ceil(width / 2) + 2
    placed = placed - placed.min(axis=0) + margin
    height, breadth = (np.ceil(placed.max(axis=0)).astype(int) + margin + 1).tolist()
    canvas = Image.new("1", (breadth, height), 0)
    draw = ImageDraw.Draw(canvas)
    xy = [(float(c), float(r)) for r, c in placed]
    for a, b in pairs:
        draw.line((xy[a], xy[b]), fill=1)
    for point in xy:
        draw.point(point, fill=1)
    distance = ndimage.distance_transform_edt(~np.asarray(canvas))
    return np.clip(width / 2 - distance + 0.5, 0, 1).astype(np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Noise in -1..1 that varies smoothly over about `cell` pixels."""
    small = (max(2, math.ceil(shape[0] / cell) + 1), max(2, math.ceil(shape[1] / cell) + 1))
    coarse = rng.uniform(-1, 1, small).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BICUBIC), np.float32)


def pen_texture(rng: np.random.Generator, coverage: np.ndarray, ink: str, pen: str, height: int) -> np.ndarray:
    """Uneven ink: a ballpoint's pressure, a pencil's grain on the paper's tooth; markers are even."""
    if pen == "marker" or (pen == "felt" and ink != "pencil"):
        return coverage
    pressure = 0.85 + 0.15 * smooth_noise(rng, coverage.shape, max(4.0, height / 4))
    if ink == "pencil":
        grain = ndimage.uniform_filter(rng.uniform(0.45, 1.0, coverage.shape).astype(np.float32), 2)
        pressure = pressure * grain
    return coverage * pressure


# --- 2. page ---------------------------------------------------------------------------------------

def ink_bounds(coverage: np.ndarray) -> tuple[int, int, int, int]:
    """top, left, bottom, right (exclusive) of the pixels at least half covered."""
    rows = np.flatnonzero(coverage.max(axis=1) >= 0.5)
    cols = np.flatnonzero(coverage.max(axis=0) >= 0.5)
    if rows.size == 0:
        return 0, 0, coverage.shape[0], coverage.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def photo_size(rng: np.random.Generator, count: int) -> tuple[int, int]:
    """(width, height): 4:3, portrait or landscape (numbers mostly landscape)."""
    longer = int(rng.integers(SIDES[0], SIDES[1] + 1))
    shorter = round(longer * 3 / 4)
    landscape = rng.uniform() < (0.5 if count == 1 else 0.8)
    return (longer, shorter) if landscape else (shorter, longer)


def digit_height(rng: np.random.Generator, size: tuple[int, int], count: int) -> int:
    """A single digit fills 15-50 % of the shorter side; a number spans 30-80 % of the width."""
    if count == 1:
        return max(36, round(rng.uniform(0.15, 0.5) * min(size)))
    return max(36, round(rng.uniform(0.3, 0.8) * size[0] / (0.85 * count)))


def write_line(rng: np.random.Generator, digits: Sequence[np.ndarray], conditions: Conditions,
               size: tuple[int, int]) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The page's ink coverage (height, width) with the digits written on one line, and each digit's
    ink bounds (top, left, bottom, right) on the page."""
    count = len(digits)
    height = digit_height(rng, size, count)
    glyphs = []
    for digit in digits:
        own = round(height * (rng.uniform(0.9, 1.1) if count > 1 else 1.0))
        width = max(1.2, conditions.pen_ratio * own)
        slant = float(rng.uniform(-6, 6)) if count > 1 else 0.0
        points, pairs = centre_line(open_filled_loops(digit_shape(digit)))
        coverage = pen_coverage(points, pairs, own / WORKING_HEIGHT, slant, width)
        coverage = pen_texture(rng, coverage, conditions.ink, conditions.pen, own)
        glyphs.append((coverage, ink_bounds(coverage)))
    gaps = [height * float(rng.uniform(0.04, 0.3)) for _ in range(count - 1)]
    span = sum(right - left for _, (_, left, _, right) in glyphs) + sum(gaps)
    page_width, page_height = size
    margin = 0.1
    x = rng.uniform(margin * page_width, max(margin * page_width, (1 - margin) * page_width - span))
    baseline = rng.uniform(margin * page_height + height, max(margin * page_height + height,
                                                               (1 - margin) * page_height))
    page = np.zeros((page_height, page_width), np.float32)
    bounds = []
    for index, (coverage, (top, left, bottom, right)) in enumerate(glyphs):
        bottom_at = round(baseline + (rng.uniform(-0.06, 0.06) * height if count > 1 else 0))
        row, col = bottom_at - bottom, round(x) - left
        paste(page, coverage, row, col)
        bounds.append((row + top, col + left, row + bottom, col + right))
        x += right - left + (gaps[index] if index < len(gaps) else 0)
    return page, bounds


def paste(page: np.ndarray, glyph: np.ndarray, row: int, col: int) -> None:
    """Ink `glyph` onto `page` with its top-left corner at (row, col); what falls outside is cut off."""
    top, left = max(0, row), max(0, col)
    bottom, right = min(page.shape[0], row + glyph.shape[0]), min(page.shape[1], col + glyph.shape[1])
    if bottom > top and right > left:
        part = glyph[top - row:bottom - row, left - col:right - col]
        np.maximum(page[top:bottom, left:right], part, out=page[top:bottom, left:right])


# --- 3. camera -------------------------------------------------------------------------------------

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
    """The part of the photo where the camera sees ink (every digit's box), `margin` px wider."""
    boxes = [seen_box(bound, transform, size) for bound in bounds]
    left = max(0, min(box[0] for box in boxes) - margin)
    top = max(0, min(box[1] for box in boxes) - margin)
    right = min(size[0], max(box[0] + box[2] for box in boxes) + margin)
    bottom = min(size[1], max(box[1] + box[3] for box in boxes) + margin)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def photograph_ink(page: np.ndarray, transform: np.ndarray, region: Region, blur: float) -> np.ndarray:
    """The page's ink as the camera sees it in `region` (bilinear), blurred by the lens (sigma `blur`
    px). Only the region is computed: everywhere else the camera sees bare paper."""
    left, top, right, bottom = region
    inverse = np.linalg.inv(transform) @ np.array([[1, 0, left], [0, 1, top], [0, 0, 1]], dtype=np.float64)
    inverse = inverse / inverse[2, 2]
    seen = Image.fromarray(page).transform((right - left, bottom - top), Image.Transform.PERSPECTIVE,
                                           tuple(inverse.ravel()[:8]), Image.Resampling.BILINEAR)
    ink = np.asarray(seen, np.float32)
    return ndimage.gaussian_filter(ink, blur, mode="constant") if blur >= 0.3 else ink


def seen_box(bounds: tuple[int, int, int, int], transform: np.ndarray, size: tuple[int, int]) -> Box:
    """A digit's page bounds as a (left, top, width, height) box in the photo, clipped to it."""
    top, left, bottom, right = bounds
    corners = project(np.array([[left, top], [right, top], [right, bottom], [left, bottom]], float), transform)
    x0, y0 = np.clip(np.floor(corners.min(axis=0)), 0, size).astype(int)
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)), 0, size).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


# --- 4. light --------------------------------------------------------------------------------------

def smoothstep(values: np.ndarray) -> np.ndarray:
    t = np.clip(values, 0, 1)
    return t * t * (3 - 2 * t)


def illumination(rng: np.random.Generator, light: str, size: tuple[int, int], blur: float) -> np.ndarray:
    """How much light falls on each pixel (height, width), 1 = the brightest part of the paper.

    Every photo gets a mild gradient (no phone photo is lit perfectly evenly); `light` adds a strong
    gradient, vignetting, or a shadow whose edge is soft (a large diffuse one) or hard (a phone or a
    hand under a lamp: a penumbra of a few pixels, widened by the lens's blur of `blur` px).
    """
    width, height = size
    scale = max(size)
    x = (np.arange(width, dtype=np.float32)[None, :] - width / 2) / scale
    y = (np.arange(height, dtype=np.float32)[:, None] - height / 2) / scale
    direction = rng.uniform(0, 2 * math.pi)
    along = x * math.cos(direction) + y * math.sin(direction)  # -0.5..0.5 across the photo
    strength = rng.uniform(0.3, 0.5) if light == "gradient" else rng.uniform(0.0, 0.12)
    field = 1 - strength * (along + 0.5)
    if light == "vignette":
        field = field * (1 - rng.uniform(0.6, 1.2) * (x * x + y * y))
    if light in ("soft_shadow", "hard_shadow"):
        soft = light == "soft_shadow"
        penumbra = rng.uniform(0.08, 0.25) if soft else (rng.uniform(1.0, 4.0) + 2.5 * blur) / scale
        inside = None
        for _ in range(int(rng.integers(1, 3))):  # one edge, or two meeting in a corner
            angle = rng.uniform(0, 2 * math.pi)
            offset = rng.uniform(-0.25, 0.25)
            edge = smoothstep((x * math.cos(angle) + y * math.sin(angle) - offset) / penumbra + 0.5)
            inside = edge if inside is None else np.minimum(inside, edge)
        field = field * (1 - rng.uniform(0.3, 0.6) * inside)
    return (field / max(float(field.max()), 1e-6)).astype(np.float32)


def paper_texture(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """The paper's fibres and unevenness: a factor near 1, blotchy at two scales."""
    shape = (size[1], size[0])
    return 1 + 0.015 * smooth_noise(rng, shape, max(size) / 12) + 0.01 * smooth_noise(rng, shape, 12)


# --- 5. sensor and file ----------------------------------------------------------------------------

def expose(rng: np.random.Generator, conditions: Conditions, lighting: np.ndarray, ink: np.ndarray,
           region: Region) -> Image.Image:
    """What the sensor records, 8-bit RGB: paper x (ink's colour where there is ink) x light, plus the
    sensor's noise (luminance noise: a phone's processing removes most noise in colour)."""
    left, top, right, bottom = region
    absorbed = 1 - np.array(conditions.ink_rgb, np.float32)
    noise = np.float32(conditions.noise) * rng.standard_normal(lighting.shape, dtype=np.float32) + np.float32(0.5)
    photo = np.empty((*lighting.shape, 3), np.uint8)
    for channel in range(3):
        values = lighting * np.float32(conditions.paper_rgb[channel])
        values[top:bottom, left:right] *= 1 - ink * absorbed[channel]
        values += noise
        np.clip(values, 0, 255, out=values)
        photo[:, :, channel] = values
    return Image.fromarray(photo, "RGB")


def encode(image: Image.Image, conditions: Conditions) -> bytes:
    """The photo's file: a JPEG at the drawn quality, or a PNG."""
    stream = io.BytesIO()
    if conditions.file == "png":
        image.save(stream, format="PNG", compress_level=1)
    else:
        image.save(stream, format="JPEG", quality=conditions.jpeg_quality)
    return stream.getvalue()


# --- all of it -------------------------------------------------------------------------------------

def render_photo(digits: Sequence[np.ndarray], labels: Sequence[int], rng: np.random.Generator,
                 conditions: Conditions | None = None) -> Rendered:
    """A photo of `digits` (28x28 uint8, white on black as in MNIST) written left to right on one line.

    One digit gives a photo of a single digit. `conditions` defaults to ones drawn from `rng`.
    """
    if len(digits) == 0 or len(digits) != len(labels):
        raise ValueError(f"need one label per digit and at least one digit, got {len(digits)} and {len(labels)}")
    conditions = conditions or draw_conditions(rng)
    size = photo_size(rng, len(digits))
    page, bounds = write_line(rng, digits, conditions, size)
    transform = camera_view(rng, size, conditions.rotation)
    blur = conditions.blur_sigma * max(size) / 1000
    region = ink_region(bounds, transform, size, margin=math.ceil(3 * blur) + 2)
    ink = photograph_ink(page, transform, region, blur)
    exposure = np.float32(255 * rng.uniform(0.8, 1.0))
    lighting = illumination(rng, conditions.light, size, blur) * paper_texture(rng, size) * exposure
    image = expose(rng, conditions, lighting, ink, region)
    boxes = tuple(seen_box(bound, transform, size) for bound in bounds)
    return Rendered(image, encode(image, conditions), tuple(int(label) for label in labels), boxes, conditions)


def conditions_dict(conditions: Conditions) -> dict:
    """Every condition of a photo, for a JSON record."""
    return asdict(conditions)
