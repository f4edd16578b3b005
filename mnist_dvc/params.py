"""The one place that reads params.yaml: each section becomes a typed, validated, frozen object.

A stage asks for its own section only (`load("train")`). Every mistake a user can make in the file
(wrong type, out of range, unknown choice, misspelt key, missing section) becomes a UserError that
names the key, the value given and what is allowed, before the stage reads data or writes anything.

The file is parsed the way DVC parses it (ruamel.yaml, YAML 1.2, safe): `1e-3` is a number, `yes` is
text, a duplicate key is refused. What no params file needs is refused before parsing finishes: more
than MAX_FILE_BYTES, nesting deeper than MAX_DEPTH, a single value longer than MAX_SCALAR_CHARS.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mnist_dvc.errors import UserError
from mnist_dvc.files import check_file, os_reason
from mnist_dvc.mnist import IMAGE_SIZE, NUM_OUTPUTS

PARAMS_FILE = Path("params.yaml")
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 16
MAX_SCALAR_CHARS = 4096  # a path may be this long (PATH_MAX); nothing else comes close
MAX_SHOWN_CHARS = 60  # how much of a refused value an error message shows

Check = Callable[[Any], bool]


def _spec(check: Check, allowed: str) -> Any:
    """A key with its check and what it allows; no default: params.yaml holds every value."""
    return field(metadata={"check": check, "allowed": allowed})


def _choice(*choices: str) -> Any:
    return _spec(lambda value: value in choices, f"one of {', '.join(choices)}")


SOURCES = ("local", "keras", "torchvision", "npm")
ACTIVATIONS = ("relu", "gelu", "elu", "selu", "swish", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine")
DEGREES = "a number of degrees in [0, 45] (0 = off)"
# The train params that switch a training augmentation on (0 = off).
AUGMENTATIONS = ("augment_shift_pixels", "augment_rotation_degrees", "augment_scale", "augment_shear_degrees",
                 "augment_thickness", "augment_elastic_pixels")


@dataclass(frozen=True)
class FetchParams:
    local_path: str | None = _spec(
        lambda value: value is None or (bool(value.strip()) and "\0" not in value),
        "null, or a path to mnist.npz or to a folder of the four IDX files",
    )
    sources: tuple[str, ...] = _spec(
        lambda value: len(value) > 0 and set(value) <= set(SOURCES),
        f"a non-empty list of {', '.join(SOURCES)}",
    )
    timeout_seconds: float = _spec(lambda value: 0 < value <= 3600, "a number of seconds in (0, 3600]")


MAX_LAYERS = 16
MAX_UNITS = 8192
MAX_WEIGHTS = 20_000_000  # 80 MB of float32 weights, about 320 MB once Adam's two moments and gradients are added


def dense_layer_shapes(hidden_units: tuple[int, ...]) -> list[tuple[int, int]]:
    """(inputs, outputs) of each Dense layer of the dense network: 784 → hidden_units → 11 (the ten digits
    and "not a digit")."""
    return list(itertools.pairwise((IMAGE_SIZE * IMAGE_SIZE, *hidden_units, NUM_OUTPUTS)))


def weight_count(hidden_units: tuple[int, ...]) -> int:
    """Weights and biases of the dense network."""
    return sum(inputs * outputs + outputs for inputs, outputs in dense_layer_shapes(hidden_units))


def _sane_network(hidden_units: tuple[int, ...]) -> bool:
    return (0 < len(hidden_units) <= MAX_LAYERS and all(0 < units <= MAX_UNITS for units in hidden_units)
            and weight_count(hidden_units) <= MAX_WEIGHTS)


@dataclass(frozen=True)
class TrainParams:
    # dense: 784 → hidden Dense layers → 11; conv: two small convolution layers before them
    architecture: str = _choice("dense", "conv")
    hidden_units: tuple[int, ...] = _spec(
        _sane_network,
        f"a list of 1..{MAX_LAYERS} layer sizes, each in 1..{MAX_UNITS}, "
        f"with at most {MAX_WEIGHTS:,} weights in all (784-128-128-11 has {weight_count((128, 128)):,})",
    )
    activation: str = _choice(*ACTIVATIONS)
    dropout: float = _spec(lambda value: 0 <= value < 1, "a fraction in [0, 1)")
    optimizer: str = _choice(*OPTIMIZERS)
    learning_rate: float = _spec(lambda value: 1e-6 <= value <= 10, "a number in 1e-6..10")
    lr_schedule: str = _choice(*SCHEDULES)
    label_smoothing: float = _spec(lambda value: 0 <= value < 1, "a fraction in [0, 1)")
    augment_shift_pixels: int = _spec(lambda value: 0 <= value <= 8, "a whole number of pixels in 0..8 (0 = off)")
    augment_rotation_degrees: float = _spec(lambda value: 0 <= value <= 45, DEGREES)
    augment_scale: float = _spec(lambda value: 0 <= value <= 0.5, "a fraction in [0, 0.5] (0 = off)")
    augment_shear_degrees: float = _spec(lambda value: 0 <= value <= 45, DEGREES)
    augment_thickness: float = _spec(lambda value: 0 <= value <= 1, "a fraction in [0, 1] (0 = off)")
    augment_elastic_pixels: float = _spec(lambda value: 0 <= value <= 8, "a number of pixels in [0, 8] (0 = off)")
    augment_elastic_sigma: float = _spec(lambda value: 0.5 <= value <= 8, "a number of pixels in [0.5, 8]")
    epochs: int = _spec(lambda value: 0 < value <= 10_000, "a whole number in 1..10000")
    batch_size: int = _spec(lambda value: 0 < value <= 60_000, "a whole number in 1..60000")
    early_stopping_patience: int = _spec(lambda value: 0 <= value <= 10_000, "a whole number >= 0 (0 = off)")
    validation_fraction: float = _spec(
        lambda value: 0 < value <= 0.5, "a fraction in (0, 0.5]: at least half the images are for training")
    seed: int = _spec(lambda value: 0 <= value < 2**31, "a whole number in 0..2147483647")
    own_data_fraction: float = _spec(
        lambda value: 0 <= value <= 0.5, "a fraction in [0, 0.5] of the training examples (0 = off)")
    photo_frames_fraction: float = _spec(
        lambda value: 0 <= value <= 0.5, "a fraction in [0, 0.5] of the training examples (0 = off)")


@dataclass(frozen=True)
class OwnParams:
    holdout_fraction: float = _spec(lambda value: 0 < value <= 1, "a fraction in (0, 1]")
    seed: int = _spec(lambda value: 0 <= value < 2**31, "a whole number in 0..2147483647")


@dataclass(frozen=True)
class EvaluateParams:
    misclassified_count: int = _spec(lambda value: 0 < value <= 100, "a whole number in 1..100")


def _photo_count(value: int) -> bool:
    return 0 <= value <= 10_000


PHOTO_COUNT = "a whole number of photos in 0..10000 (0 = none)"


@dataclass(frozen=True)
class PhotoBenchmarkParams:
    single_digits: int = _spec(lambda value: 0 < value <= 10_000, "a whole number of photos in 1..10000")
    numbers: int = _spec(lambda value: 0 < value <= 10_000, "a whole number of photos in 1..10000")
    number_digits: tuple[int, ...] = _spec(
        lambda value: len(value) == 2 and 2 <= value[0] <= value[1] <= 10,
        "[fewest, most] digits of a number, with 2 <= fewest <= most <= 10",
    )
    failures_shown: int = _spec(lambda value: 0 <= value <= 100, "a whole number in 0..100")
    seed: int = _spec(lambda value: 0 <= value < 2**31, "a whole number in 0..2147483647")
    # test: the headline figures; validation: the train stage's held-out split, to tune the photo path on
    digits: str = _choice("test", "validation")
    # the photos of each of the broader benchmark's parts (see stages/photo_benchmark.py)
    notebook_single: int = _spec(_photo_count, PHOTO_COUNT)
    notebook_numbers: int = _spec(_photo_count, PHOTO_COUNT)
    fonts_single: int = _spec(_photo_count, PHOTO_COUNT)
    fonts_numbers: int = _spec(_photo_count, PHOTO_COUNT)
    small_single: int = _spec(_photo_count, PHOTO_COUNT)
    pages: int = _spec(_photo_count, PHOTO_COUNT)
    page_lines: tuple[int, ...] = _spec(
        lambda value: len(value) == 2 and 1 <= value[0] <= value[1] <= 20,
        "[fewest, most] lines of a page, with 1 <= fewest <= most <= 20",
    )
    non_digit: int = _spec(_photo_count, PHOTO_COUNT)
    blank_pages: int = _spec(_photo_count, PHOTO_COUNT)


@dataclass(frozen=True)
class PhotoFramesParams:
    # photos rendered from the training digits and fonts, and from the validation ones (for calibration)
    photos: int = _spec(lambda value: 10 <= value <= 100_000, "a whole number of photos in 10..100000")
    validation_photos: int = _spec(lambda value: 10 <= value <= 100_000, "a whole number of photos in 10..100000")
    seed: int = _spec(lambda value: 0 <= value < 2**31 - 1, "a whole number in 0..2147483646")


@dataclass(frozen=True)
class GlyphFramesParams:
    # how many times each symbol of each training family (and each mark) is drawn
    variants: int = _spec(lambda value: 1 <= value <= 1000, "a whole number in 1..1000")
    seed: int = _spec(lambda value: 0 <= value < 2**31, "a whole number in 0..2147483647")


@dataclass(frozen=True)
class CalibrateParams:
    # a digit read with a (calibrated) probability under this is "not sure", shown with its runner-up
    sure_probability: float = _spec(lambda value: 0 <= value <= 1, "a probability in [0, 1]")
    # a digit that is not sure, with "not a digit" at least this probable, counts as a letter (1 = never)
    not_a_digit_probability: float = _spec(lambda value: 0 <= value <= 1, "a probability in [0, 1]")
    # each frame is also read moved this many pixels each way and turned by plus and minus this many
    # degrees, the logits averaged (0 = not)
    view_shift_pixels: int = _spec(lambda value: 0 <= value <= 3, "a whole number of pixels in 0..3 (0 = off)")
    view_rotation_degrees: float = _spec(lambda value: 0 <= value <= 30, "a number of degrees in [0, 30] (0 = off)")


NPM_PIN = re.compile(r"[a-z0-9][a-z0-9-]*@\d+\.\d+\.\d+ sha512-[A-Za-z0-9+/]{86}==")
FAMILY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _families(value: tuple[str, ...]) -> bool:
    return len(value) > 0 and len(set(value)) == len(value) and all(FAMILY.fullmatch(name) for name in value)


FAMILIES = "a non-empty list of different family names (letters, digits, '-', '_', '.')"


@dataclass(frozen=True)
class FontsParams:
    local_path: str | None = _spec(
        lambda value: value is None or (bool(value.strip()) and "\0" not in value),
        "null, or a path to a folder of font files named <family>.woff, .woff2, .ttf or .otf",
    )
    timeout_seconds: float = _spec(lambda value: 0 < value <= 3600, "a number of seconds in (0, 3600]")
    packages: tuple[str, ...] = _spec(
        lambda value: all(NPM_PIN.fullmatch(pin) for pin in value),
        "a list of npm pins 'family@1.2.3 sha512-<npm's dist.integrity>'",
    )
    train: tuple[str, ...] = _spec(_families, FAMILIES)
    validation: tuple[str, ...] = _spec(_families, FAMILIES)
    test: tuple[str, ...] = _spec(_families, FAMILIES)


SECTIONS: dict[str, type] = {"fetch": FetchParams, "train": TrainParams, "own": OwnParams,
                             "evaluate": EvaluateParams, "photo_benchmark": PhotoBenchmarkParams,
                             "fonts": FontsParams, "photo_frames": PhotoFramesParams, "glyph_frames": GlyphFramesParams,
                             "calibrate": CalibrateParams}

Section = TypeVar("Section")


def _pieces(value: Any) -> typing.Iterator[str]:
    """The text of `value` piece by piece, so that a caller can stop early: never repr() of a whole value
    that may be huge (a 2 MB string, a list shared a billion times over by YAML aliases)."""
    if value is None:
        yield "null"
    elif isinstance(value, str):
        yield repr(value[:MAX_SHOWN_CHARS + 1])
    elif isinstance(value, bool | float) or (isinstance(value, int) and value.bit_length() < 256):
        yield repr(value)
    elif isinstance(value, int):
        yield f"a {len(str(value))}-digit number"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            yield ", " if index else ""
            yield from _pieces(item)
        yield "]"
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ", " if index else ""
            yield from _pieces(key)
            yield ": "
            yield from _pieces(item)
        yield "}"
    else:
        yield f"a {type(value).__name__}"


def _describe(value: Any) -> str:
    """`value` as params.yaml would show it, cut at MAX_SHOWN_CHARS characters."""
    text = ""
    for piece in _pieces(value):
        text += piece
        if len(text) > MAX_SHOWN_CHARS:
            return text[:MAX_SHOWN_CHARS] + "…"
    return text


def _coerce(value: Any, annotation: Any) -> Any:
    """Return `value` as `annotation` (int, float, str, tuple[...] or optional), or raise TypeError."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _coerce(value, inner)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError("a list")
        (item_type, _) = typing.get_args(annotation)
        return tuple(_coerce(item, item_type) for item in value)
    if annotation is bool or isinstance(value, bool):
        raise TypeError(annotation.__name__)
    if annotation is int:
        if isinstance(value, int):
            return value
        raise TypeError("a whole number")
    if annotation is float:
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        raise TypeError("a finite number")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise TypeError("a string")
    raise TypeError(str(annotation))


def parse_section(name: str, raw: Any, cls: type[Section]) -> Section:
    """Turn the raw YAML mapping of one section into `cls`, or raise UserError."""
    if not isinstance(raw, dict):
        raise UserError(f"params.yaml: section '{name}' must be a mapping of keys to values, got {_describe(raw)}")
    fields = {spec.name: spec for spec in dataclasses.fields(cls)}
    _check_keys(raw, f"section '{name}'")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise UserError(
            f"params.yaml: unknown key {name}.{unknown[0]} (value {_describe(raw[unknown[0]])}); "
            f"allowed keys in '{name}': {', '.join(fields)}"
        )
    missing = [key for key in fields if key not in raw]
    if missing:
        raise UserError(f"params.yaml: {name}.{missing[0]} is missing; every key of '{name}' needs a value "
                        f"({', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        spec = fields[key]
        try:
            coerced = _coerce(value, hints[key])
            valid = spec.metadata["check"](coerced)
        except TypeError:
            valid = False
        if not valid:
            allowed = spec.metadata["allowed"]
            raise UserError(f"params.yaml: {name}.{key} = {_describe(value)} is not allowed: must be {allowed}")
        values[key] = coerced
    return cls(**values)


def _check_keys(mapping: dict, where: str) -> None:
    """Refuse keys that are not names (null, numbers, lists): no params key is anything but text."""
    for key in mapping:
        if not isinstance(key, str):
            raise UserError(f"params.yaml: key {_describe(key)} in {where} is not a name: keys are text")


def _decode(path: Path) -> str:
    check_file(path, "params file")  # not a folder, a pipe or a device, whose reading could block
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise UserError(f"{path}: cannot read the params file ({os_reason(error)})") from None
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes: not a params file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UserError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} on line {line})") from None


def _check_shape(yaml: YAML, text: str, path: Path) -> None:
    """Walk the parser's events: refuse deep nesting and huge values before anything is built from them."""
    depth = 0
    for event in yaml.parse(text):
        kind = type(event).__name__
        line = event.start_mark.line + 1 if event.start_mark else 0
        if kind in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                raise UserError(f"{path}: nested more than {MAX_DEPTH} levels deep at line {line}")
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1
        elif kind == "ScalarEvent" and len(event.value) > MAX_SCALAR_CHARS:
            raise UserError(f"{path}: a value of {len(event.value):,} characters at line {line}, "
                            f"more than the {MAX_SCALAR_CHARS:,} allowed")


def read_params_file(path: Path = PARAMS_FILE) -> dict[str, Any]:
    text = _decode(path)
    yaml = YAML(typ="safe", pure=True)
    try:
        _check_shape(yaml, text, path)
        document = yaml.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or ""
        detail = f": {problem}" if "duplicate key" in problem else ""
        raise UserError(f"{path}: not valid YAML{where}{detail}") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a mapping of sections ({', '.join(SECTIONS)})")
    _check_keys(document, "the top level")
    return document


def load(name: str, path: Path = PARAMS_FILE) -> Any:
    """Load and validate one section of params.yaml (fetch, train, own, evaluate, photo_benchmark or fonts)."""
    document = read_params_file(path)
    if name not in document:
        raise UserError(f"params.yaml: section '{name}' is missing; expected keys: "
                        f"{', '.join(spec.name for spec in dataclasses.fields(SECTIONS[name]))}")
    return parse_section(name, document[name], SECTIONS[name])
