"""Step 1, load: a photo file as upright RGB on white paper, reduced to a working size."""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_dvc.errors import UserError
from mnist_dvc.photo.types import Box

MAX_PIXELS = 40_000_000  # a 40-megapixel photo; larger is refused before it is decoded
WORKING_SIDE = 800  # photos are read at most this large (longer side): plenty for digits, and fast
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The only formats any reader decodes (what phones and scanners make). Pillow is told to try these
# decoders alone, so a file in any other format (EPS, whose decoder runs Ghostscript, PDF, SVG, ICO, ...)
# is refused from its first bytes before any decoder or program runs.
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
ALLOWED_NAMES = "PNG, JPEG, WebP, GIF, BMP or TIFF"
# What a refused file is, by its first bytes, for the message.
REFUSED_MAGIC = {b"%!PS": "a PostScript or EPS file", b"\xc5\xd0\xd3\xc6": "an EPS file", b"%PDF": "a PDF file",
                 b"<svg": "an SVG file", b"<?xml": "an XML or SVG file", b"\0\0\1\0": "an ICO file",
                 b"\0\0\2\0": "a CUR file", b"\x00\x00\x00\x0cjP": "a JPEG 2000 file", b"8BPS": "a Photoshop file"}
MAX_FILE_BYTES = 300 * 1024 * 1024  # an uncompressed 40-megapixel TIFF is 120 MB; nothing larger is read
FILE_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
              stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def file_bytes(source: str | Path | bytes, name: str) -> bytes:
    """The file's bytes, from its path or as given; `name` is how errors refer to it. Anything but a
    regular file (a FIFO, /dev/zero, a folder) is refused without reading it, as is a file over
    MAX_FILE_BYTES."""
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    try:
        # O_NONBLOCK: opening a FIFO does not wait for a writer; the checks below read nothing.
        descriptor = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise UserError(f"{name}: cannot read ({error.strerror or type(error).__name__})") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_FILE_BYTES:
        os.close(descriptor)
        if status.st_size > MAX_FILE_BYTES:
            raise UserError(f"{name}: {status.st_size:,} bytes is larger than an image may be "
                            f"({MAX_FILE_BYTES // (1024 * 1024)} MB); it was not read")
        kind = FILE_KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise UserError(f"{name}: is {kind}, not an image file; it was not read")
    with os.fdopen(descriptor, "rb") as stream:
        try:
            return stream.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
        except OSError as error:
            raise UserError(f"{name}: cannot read ({error.strerror or type(error).__name__})") from None


def refused_format(data: bytes, name: str) -> UserError:
    """The error for a file none of ALLOWED_FORMATS' decoders recognises, naming what it is when known."""
    head = data[:16].lstrip()
    kind = next((kind for magic, kind in REFUSED_MAGIC.items() if head.startswith(magic)), None)
    what = kind or "not an image in a format read here"
    return UserError(f"{name}: {what}; only {ALLOWED_NAMES} images are read")


def load_image(source: str | Path | bytes, name: str,
               region: Box | None = None) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The photo as float32 RGB 0..255 (height, width, 3), upright, transparency as white paper, how
    many of the original's pixels one of its pixels spans, and the upright original's (width, height).

    `source` is a path or the file's bytes; `name` is how errors refer to it. Larger photos are
    reduced so the longer side is at most WORKING_SIDE (JPEGs are decoded reduced, which is fast).
    With `region` (in the upright original's pixels), only that part is read, at full resolution
    before the same reduction.
    """
    data = file_bytes(source, name)
    stream = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings on odd metadata: the image still loads
            try:
                opened = Image.open(stream, formats=ALLOWED_FORMATS)
            except UnidentifiedImageError:
                raise refused_format(data, name) from None
            with opened as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UserError(f"{name}: {image.width}x{image.height} pixels is larger than the "
                                    f"{MAX_PIXELS // 1_000_000}-megapixel limit; scale it down first")
                original_side = max(image.size)
                size = image.size
                if image.format == "JPEG" and region is None:
                    image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
                image.load()
                decoded = image.size
                ImageOps.exif_transpose(image, in_place=True)  # no copy of a photo already upright
                if image.size != decoded:  # a quarter turn
                    size = size[::-1]
                upright = image
                if region is not None:
                    left, top, width, height = region
                    upright = upright.crop((left, top, left + width, top + height))
                    original_side = max(width, height)
                working = to_rgb(upright, WORKING_SIDE)
    except UserError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            NotImplementedError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
            MemoryError) as error:  # what Pillow's decoders raise on damaged or unsupported files
        raise UserError(f"{name}: not a readable image ({type(error).__name__})") from None
    return working, original_side / max(working.shape[:2]), size


def to_rgb(image: Image.Image, longest: int) -> np.ndarray:
    """Any Pillow mode as float32 RGB 0..255, shrunk (area-averaged) so its longer side is at most
    `longest`: high-bit-depth grey scaled down, alpha composited on white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = reduced(Image.fromarray(np.clip(values * (255.0 / top), 0, 255)), longest)
        return np.repeat(np.asarray(grey, dtype=np.float32)[:, :, None], 3, axis=2)
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(reduced(image if image.mode == "RGB" else image.convert("RGB"), longest), dtype=np.float32)


def reduced(image: Image.Image, longest: int) -> Image.Image:
    """Shrink (area-averaged) so the longer side is at most `longest`; smaller images are left alone."""
    factor = max(image.size) / longest
    if factor <= 1:
        return image
    size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
    return image.resize(size, Image.Resampling.BOX)
