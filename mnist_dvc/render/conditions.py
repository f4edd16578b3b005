"""How a photo is taken: the classes of each condition, drawn from a seeded Generator, and the photo's types."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from PIL import Image

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

# What the page and the camera add, chosen by the caller rather than drawn: the first class of each is
# the default, and a photo with every default is drawn exactly as before these existed.
SHEETS = ("plain", "ruled", "squared")  # the paper's printing
# lens: the Gaussian blur above only; defocus: a disk (the camera focused elsewhere); motion: a line
# (the hand moved). Sizes in pixels of the photo as written.
OPTICS = {"lens": (0.0, 0.0), "defocus": (1.0, 3.5), "motion": (3.0, 10.0)}
# full: the file as the camera wrote it; low: downscaled to this share and re-encoded as a JPEG of low
# quality, as a messaging app sends it on.
RESOLUTIONS = {"full": (1.0, 1.0), "low": (0.35, 0.6)}
SCENE = {"sheet": SHEETS, "optics": tuple(OPTICS), "resolution": tuple(RESOLUTIONS)}
ALL_CONDITIONS = {**CONDITIONS, **SCENE}
SIDES = (600, 1600)  # the photo's longer side, in pixels


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
    sheet: str = "plain"
    optics: str = "lens"
    resolution: str = "full"
    optics_pixels: float = 0.0  # the defocus disk's radius or the motion's length
    resolution_scale: float = 1.0  # the final photo's size / the size it was taken at
    resend_quality: int = 0  # the JPEG quality of the re-encoded low-resolution file

    def labels(self) -> dict[str, str]:
        return {kind: getattr(self, kind) for kind in ALL_CONDITIONS}


@dataclass(frozen=True)
class Rendered:
    """A photo and its ground truth: everything written, line by line, and where each symbol's ink is.

    A symbol is a digit '0'-'9', a letter or sign ('A', '%'), or a mark's name ('tick', 'scribble').
    """

    image: Image.Image  # RGB, as the camera (or the app that resent it) saw it before the file was written
    data: bytes  # the file: JPEG or PNG
    symbols: tuple[str, ...]  # in reading order: line by line, left to right
    boxes: tuple[Box, ...]  # in the image's pixels, one per symbol
    conditions: Conditions
    line_lengths: tuple[int, ...] = ()  # symbols per line; () = all on one line

    def symbols_by_line(self) -> list[tuple[str, ...]]:
        lengths = self.line_lengths or ((len(self.symbols),) if self.symbols else ())
        return [self.symbols[a:b] for a, b in itertools.pairwise(np.cumsum((0, *lengths)))]

    @property
    def lines(self) -> tuple[str, ...]:
        """What each line says, its symbols joined (marks by name)."""
        return tuple("".join(line) for line in self.symbols_by_line())

    @property
    def labels(self) -> tuple[int, ...]:
        """The digits written, in reading order."""
        return tuple(int(symbol) for symbol in self.symbols if is_digit(symbol))

    @property
    def number(self) -> str:
        """The digits as the reader should give them: each line's digits, lines separated by a space;
        "" when nothing written is a digit."""
        lines = ("".join(symbol for symbol in line if is_digit(symbol)) for line in self.symbols_by_line())
        return " ".join(line for line in lines if line)

    @property
    def suffix(self) -> str:
        return ".png" if self.data.startswith(b"\x89PNG") else ".jpg"


def is_digit(symbol: str) -> bool:
    return len(symbol) == 1 and symbol in "0123456789"


def uniform_rgb(rng: np.random.Generator, bounds: tuple[tuple[float, ...], tuple[float, ...]]) -> tuple[float, ...]:
    """A colour between two corners, one shade drawn for all three channels plus a slight tint."""
    low, high = np.array(bounds[0]), np.array(bounds[1])
    shade = rng.uniform() + rng.uniform(-0.1, 0.1, 3)
    return tuple(float(v) for v in np.round(low + np.clip(shade, 0, 1) * (high - low), 4))


def draw_conditions(rng: np.random.Generator, **classes: str) -> Conditions:
    """Draw every condition, each class equally often (files as FILE_SHARES); `classes` fixes some
    (e.g. ink="blue", sheet="ruled"). The page's and camera's extras (SCENE) are never drawn: they are
    their defaults unless given, and only a class other than the default draws its exact values.

    A pencil is never as wide as a felt pen or a marker.
    """
    unknown = set(classes) - set(ALL_CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition(s) {sorted(unknown)}; known: {list(ALL_CONDITIONS)}")
    chosen = {kind: str(rng.choice(names, p=[FILE_SHARES[name] for name in names] if kind == "file" else None))
              for kind, names in CONDITIONS.items()}
    chosen.update({kind: names[0] for kind, names in SCENE.items()})
    chosen.update(classes)
    for kind, name in chosen.items():
        if name not in ALL_CONDITIONS[kind]:
            raise ValueError(f"{kind}={name!r}: must be one of {ALL_CONDITIONS[kind]}")
    if chosen["ink"] == "pencil" and chosen["pen"] in ("felt", "marker") and "pen" not in classes:
        chosen["pen"] = "fine" if chosen["pen"] == "felt" else "ballpoint"
    quality = FILES[chosen["file"]]
    conditions = Conditions(
        **chosen,
        pen_ratio=round(float(rng.uniform(*PENS[chosen["pen"]])), 4),
        ink_rgb=uniform_rgb(rng, INKS[chosen["ink"]]),
        paper_rgb=uniform_rgb(rng, PAPERS[chosen["paper"]]),
        blur_sigma=round(float(rng.uniform(*BLURS[chosen["blur"]])), 3),
        jpeg_quality=int(rng.integers(quality[0], quality[1] + 1)) if quality else 0,
        rotation=round(float(rng.uniform(-7, 7)), 2),
        noise=round(float(rng.uniform(1.0, 5.0)), 2),
    )
    extras = {}
    if chosen["optics"] != "lens":
        extras["optics_pixels"] = round(float(rng.uniform(*OPTICS[chosen["optics"]])), 2)
    if chosen["resolution"] != "full":
        extras["resolution_scale"] = round(float(rng.uniform(*RESOLUTIONS[chosen["resolution"]])), 3)
        extras["resend_quality"] = int(rng.integers(30, 71))
    return Conditions(**{**conditions.__dict__, **extras}) if extras else conditions
