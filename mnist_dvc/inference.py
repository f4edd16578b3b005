"""Reading digits with the trained network without TensorFlow: the layers of a .keras archive as NumPy
arrays, and the forward pass over them.

A .keras archive is a zip of config.json (the layers, in order, with their settings) and
model.weights.h5 (each layer's arrays under layers/<kind>[_k]/vars/<i>). This module reads both and
multiplies the arrays itself, giving Keras' answers to float32 rounding for the layers the project
builds: the dense network (Flatten, Dense, Dropout) and a small convolutional one (Reshape, Conv2D,
MaxPooling2D). Importing it costs NumPy and h5py, a fraction of a second, where TensorFlow costs seconds.
"""

from __future__ import annotations

import functools
import io
import json
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mnist_dvc.errors import UserError, one_line
from mnist_dvc.files import MAX_ARRAY_BYTES, check_file
from mnist_dvc.mnist import IMAGE_SIZE, NUM_CLASSES, NUM_OUTPUTS

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
# The most memory one chunk of images may take in its largest intermediate array: large inputs go
# through the layers this many bytes at a time, so 10,000 images cost no more memory than a few hundred.
CHUNK_BYTES = 64 << 20

# SELU's constants, as Keras (and TensorFlow) define them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# --- activations ----------------------------------------------------------------------------------

def linear(x: np.ndarray) -> np.ndarray:
    return x


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), computed from e^-|x| so that no large argument overflows."""
    small = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, small) / (1 + small)


def silu(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def selu(x: np.ndarray) -> np.ndarray:
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def gelu(x: np.ndarray) -> np.ndarray:
    """Keras' "gelu": the exact form x Φ(x) (approximate=False), written as TensorFlow writes it.

    NumPy has no erfc; SciPy's is imported only for a model that needs it.
    """
    from scipy.special import erfc

    return 0.5 * x * erfc(x * np.float32(-0.7071067811865476))


# The activations a Dense or Conv2D layer may name, by the names Keras writes in config.json. Each is
# given a fresh array and may overwrite it.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": linear, "relu": relu, "gelu": gelu, "elu": elu, "selu": selu, "swish": silu, "silu": silu,
    "tanh": np.tanh, "sigmoid": sigmoid,
}


# --- layers ---------------------------------------------------------------------------------------
# Each takes and returns a batch: an array whose first axis is the image.

@dataclass(frozen=True, eq=False)
class Dense:
    kernel: np.ndarray  # (inputs, units)
    bias: np.ndarray | None  # (units,)
    activation: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.kernel
        if self.bias is not None:
            y += self.bias
        return ACTIVATIONS[self.activation](y)


@dataclass(frozen=True, eq=False)
class Conv2D:
    """Stride 1, channels last. `matrix` is the kernel laid out as (filters, channels x rows x columns),
    the order in which sliding_window_view lists a window's pixels."""

    matrix: np.ndarray
    bias: np.ndarray | None  # (filters, 1)
    kernel_size: tuple[int, int]
    padding: str  # valid or same
    activation: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rows, columns = self.kernel_size
        if self.padding == "same":
            # As TensorFlow pads: the odd pixel, if any, after.
            x = np.pad(x, ((0, 0), ((rows - 1) // 2, rows // 2), ((columns - 1) // 2, columns // 2), (0, 0)))
        windows = sliding_window_view(x, (rows, columns), axis=(1, 2))  # (n, out rows, out columns, c, r, k)
        count, out_rows, out_columns = windows.shape[:3]
        columns_matrix = windows.reshape(count * out_rows * out_columns, -1)  # this copy is the im2col
        # Filters by pixels rather than pixels by filters: with a window of a few pixels (the first layer's
        # 3 x 3 x 1) OpenBLAS is several times faster this way round, and no slower otherwise.
        y = self.matrix @ columns_matrix.T
        if self.bias is not None:
            y += self.bias
        return np.ascontiguousarray(ACTIVATIONS[self.activation](y).T).reshape(count, out_rows, out_columns, -1)


@dataclass(frozen=True)
class MaxPooling2D:
    pool_size: tuple[int, int]
    strides: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]  # (before, after) per axis: all 0 for "valid"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if any(any(pair) for pair in self.padding):
            x = np.pad(x, ((0, 0), *self.padding, (0, 0)), constant_values=-np.inf)
        (rows, columns), (row_step, column_step) = self.pool_size, self.strides
        out_rows, out_columns = (x.shape[1] - rows) // row_step + 1, (x.shape[2] - columns) // column_step + 1
        # The maximum over the window's offsets, each a strided slice of whole pixels: several times
        # faster than reducing a sliding-window view.
        pooled = None
        for row in range(rows):
            for column in range(columns):
                part = x[:, row:row + (out_rows - 1) * row_step + 1:row_step,
                         column:column + (out_columns - 1) * column_step + 1:column_step]
                pooled = part.copy() if pooled is None else np.maximum(pooled, part, out=pooled)
        return pooled


@dataclass(frozen=True)
class Reshape:
    shape: tuple[int, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), *self.shape)


@dataclass(frozen=True)
class Flatten:
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1)


Layer = Dense | Conv2D | MaxPooling2D | Reshape | Flatten


@dataclass(frozen=True, eq=False)
class Network:
    """The layers of a loaded model in order, their arrays float32 and read-only, how many images go
    through them at a time, and how many outputs it gives (10 digits, or 11 with "not a digit")."""

    layers: tuple[Layer, ...]
    chunk_size: int
    outputs: int = NUM_CLASSES


# --- reading the archive --------------------------------------------------------------------------

class Weights:
    """model.weights.h5's arrays by layer. Keras files a Sequential model's layers (its InputLayer
    aside) under their kind's snake_case name, numbered by kind in order: dense, dense_1, conv2d, ..."""

    def __init__(self, file: h5py.File, path: Path) -> None:
        self.file, self.path = file, path
        self.taken: dict[str, int] = {}

    def group(self, name: str) -> str:
        """The group of the next layer of this kind (every layer but the InputLayer has one, weights or not)."""
        number = self.taken.get(name, -1) + 1
        self.taken[name] = number
        return f"layers/{name}" if number == 0 else f"layers/{name}_{number}"

    def array(self, group: str, index: int, shape: tuple[int, ...]) -> np.ndarray:
        name = f"{group}/vars/{index}"
        dataset = self.file.get(name)
        if not isinstance(dataset, h5py.Dataset):
            raise UserError(f"{self.path}: the weights file has no {name}, which its config.json calls for")
        if dataset.shape != shape:
            raise UserError(f"{self.path}: the weights file's {name} has shape {dataset.shape}, expected {shape}")
        array = np.asarray(dataset[()], dtype=np.float32)
        array.setflags(write=False)
        return array


# The kinds of layer this module reads, with the group name Keras gives their weights.
GROUP_NAMES = {"Dense": "dense", "Conv2D": "conv2d", "MaxPooling2D": "max_pooling2d", "Reshape": "reshape",
               "Flatten": "flatten", "Dropout": "dropout"}
Shape = tuple[int, ...]


def activation_of(settings: dict, where: str) -> str:
    name = settings.get("activation") or "linear"
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise UserError(f"{where} uses the activation {one_line(str(name), 80)}, which this reader does not know "
                        f"(it knows: {', '.join(ACTIVATIONS)})")
    return name


def refuse_unsupported(settings: dict, where: str, expected: dict) -> None:
    """Refuse a setting that changes what the layer computes in a way this module does not follow."""
    for key, allowed in expected.items():
        value = settings.get(key, allowed[0])
        value = tuple(value) if isinstance(value, list) else value
        if value not in allowed:
            raise UserError(f"{where} has {key} = {one_line(str(value), 80)}, which this reader does not support")


def dense_layer(settings: dict, shape: Shape, weights: Weights, group: str, where: str) -> tuple[Layer, Shape, int]:
    refuse_unsupported(settings, where, {"quantization_config": (None,), "lora_rank": (None, 0)})
    units = int(settings["units"])
    kernel = weights.array(group, 0, (shape[-1], units))
    bias = weights.array(group, 1, (units,)) if settings.get("use_bias", True) else None
    return Dense(kernel, bias, activation_of(settings, where)), (*shape[:-1], units), 0


def conv_layer(settings: dict, shape: Shape, weights: Weights, group: str, where: str) -> tuple[Layer, Shape, int]:
    refuse_unsupported(settings, where, {
        "strides": ((1, 1),), "dilation_rate": ((1, 1),), "groups": (1,), "data_format": ("channels_last",),
        "padding": ("valid", "same"), "lora_rank": (None, 0)})
    if len(shape) != 3:
        raise UserError(f"{where} receives inputs of shape {shape}, expected (rows, columns, channels)")
    rows, columns = settings["kernel_size"]
    filters, padding = int(settings["filters"]), settings.get("padding", "valid")
    kernel = weights.array(group, 0, (rows, columns, shape[2], filters))
    bias = weights.array(group, 1, (filters,)).reshape(filters, 1) if settings.get("use_bias", True) else None
    matrix = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1).reshape(filters, -1))
    matrix.setflags(write=False)
    out = shape[:2] if padding == "same" else (shape[0] - rows + 1, shape[1] - columns + 1)
    if min(out) < 1:
        raise UserError(f"{where}'s {rows}x{columns} kernel does not fit its {shape[0]}x{shape[1]} inputs")
    # The im2col copy: every output pixel's window.
    window_floats = out[0] * out[1] * rows * columns * shape[2]
    layer = Conv2D(matrix, bias, (rows, columns), padding, activation_of(settings, where))
    return layer, (*out, filters), window_floats


def pooling_layer(settings: dict, shape: Shape, weights: Weights, group: str, where: str) -> tuple[Layer, Shape, int]:
    refuse_unsupported(settings, where, {"data_format": ("channels_last",), "padding": ("valid", "same")})
    if len(shape) != 3:
        raise UserError(f"{where} receives inputs of shape {shape}, expected (rows, columns, channels)")
    pool = tuple(int(size) for size in settings["pool_size"])
    strides = tuple(int(size) for size in settings.get("strides") or pool)
    padding, out = [], []
    for size, window, stride in zip(shape[:2], pool, strides, strict=True):
        if settings.get("padding", "valid") == "same":
            count = -(-size // stride)
            total = max((count - 1) * stride + window - size, 0)
            padding.append((total // 2, total - total // 2))  # as TensorFlow pads: the odd pixel after
        else:
            count = (size - window) // stride + 1
            padding.append((0, 0))
        out.append(count)
    if min(out) < 1:
        raise UserError(f"{where}'s {pool} pool does not fit its {shape[0]}x{shape[1]} inputs")
    return MaxPooling2D(pool, strides, tuple(padding)), (*out, shape[2]), 0


def reshape_layer(settings: dict, shape: Shape, weights: Weights, group: str, where: str) -> tuple[Layer, Shape, int]:
    target = tuple(int(size) for size in settings["target_shape"])
    if -1 in target:
        known = math.prod(size for size in target if size != -1)
        target = tuple(math.prod(shape) // known if size == -1 else size for size in target)
    if math.prod(target) != math.prod(shape):
        raise UserError(f"{where} cannot reshape {shape} to {target}")
    return Reshape(target), target, 0


def flatten_layer(settings: dict, shape: Shape, weights: Weights, group: str, where: str) -> tuple[Layer, Shape, int]:
    refuse_unsupported(settings, where, {"data_format": ("channels_last",)})
    return Flatten(), (math.prod(shape),), 0


LAYER_READERS = {"Dense": dense_layer, "Conv2D": conv_layer, "MaxPooling2D": pooling_layer,
                 "Reshape": reshape_layer, "Flatten": flatten_layer}


def input_shape(config: dict, path: Path) -> Shape:
    """The per-image input shape: the InputLayer's, else the one the model was built for."""
    layers = config["config"]["layers"]
    if layers and layers[0].get("class_name") == "InputLayer":
        settings = layers[0]["config"]
        batch_shape = settings.get("batch_shape") or settings.get("batch_input_shape")
    else:
        batch_shape = config["config"].get("build_input_shape")
    if not isinstance(batch_shape, list) or len(batch_shape) < 2 or None in batch_shape[1:]:
        raise UserError(f"{path}: the model has no defined input or output shape")
    return tuple(int(size) for size in batch_shape[1:])


def check_dtype(settings: dict, where: str) -> None:
    """Refuse a layer that computes in another precision than float32 (a mixed-precision model)."""
    dtype = settings.get("dtype", "float32")
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    if name not in (None, "float32"):
        raise UserError(f"{where} computes in {one_line(str(name), 40)}, and this reader only in float32")


def read_network(config: dict, weights: Weights, path: Path) -> Network:
    """The layers of a Sequential config, their weights checked against the shapes flowing through them."""
    if config.get("class_name") != "Sequential":
        raise UserError(f"{path}: the model is a {one_line(str(config.get('class_name')), 60)}, and this reader "
                        "knows only Sequential models")
    shape = input_shape(config, path)
    if shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise UserError(f"{path}: the model takes inputs of shape {shape}, expected (28, 28) images")
    layers: list[Layer] = []
    largest = math.prod(shape)
    for entry in config["config"]["layers"]:
        kind, settings = entry.get("class_name"), entry.get("config", {})
        if kind == "InputLayer":
            continue
        where = f"{path}: the model's layer {one_line(str(settings.get('name')), 60)} ({kind})"
        if kind not in GROUP_NAMES:
            raise UserError(f"{path}: the model has a {one_line(str(kind), 60)} layer, which this reader does not "
                            f"know (it knows: {', '.join(GROUP_NAMES)})")
        check_dtype(settings, where)
        group = weights.group(GROUP_NAMES[kind])
        if kind == "Dropout":  # the identity when not training
            continue
        layer, shape, working = LAYER_READERS[kind](settings, shape, weights, group, where)
        layers.append(layer)
        largest = max(largest, working, math.prod(shape))
    if shape not in ((NUM_CLASSES,), (NUM_OUTPUTS,)):
        raise UserError(f"{path}: the model gives outputs of shape {shape}, expected 10, one per digit "
                        "(or 11: the digits and 'not a digit')")
    return Network(tuple(layers), max(1, CHUNK_BYTES // (4 * largest)), shape[0])


def load_model(path: str | Path) -> Network:
    """Read a .keras archive's layers and weights (no code from the file is run); UserError if missing,
    damaged, of a layer kind this module does not know, or not a model of 28 x 28 images to 10 digits."""
    model_path = check_file(path, "model file", "; run `dvc repro` to train it")
    try:
        archive = zipfile.ZipFile(model_path)
    except (zipfile.BadZipFile, OSError) as error:
        size = model_path.stat().st_size
        what = "an empty file" if size == 0 else f"{size:,} bytes that are not a zip archive ({error})"
        raise UserError(f"{model_path}: not a Keras model: {what}; run `dvc repro` to train it") from None
    with archive:
        names = archive.namelist()
        if CONFIG_FILE not in names:
            raise UserError(f"{model_path}: not a Keras model: the archive has no {CONFIG_FILE}")
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_ARRAY_BYTES:
            raise UserError(f"{model_path}: unpacks to {unpacked:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed")
        if WEIGHTS_FILE not in names:
            raise UserError(f"{model_path}: not a Keras model: the archive has no {WEIGHTS_FILE}")
        try:
            config = json.loads(archive.read(CONFIG_FILE))
            with h5py.File(io.BytesIO(archive.read(WEIGHTS_FILE)), "r") as file:
                return read_network(config, Weights(file, model_path), model_path)
        except UserError:
            raise
        except Exception as error:  # a damaged archive surfaces as many different exception types
            reason = one_line(str(error), 200)
            raise UserError(f"{model_path}: cannot load the model ({type(error).__name__}: {reason})") from None


# --- the forward pass -----------------------------------------------------------------------------

def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities from logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def logits(network: Network, images: np.ndarray) -> np.ndarray:
    """The network's outputs per image (float32): one per digit, and "not a digit" when it has that
    eleventh output; for images (n, 28, 28) scaled to 0..1."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected images of shape (n, 28, 28), got {images.shape}")
    outputs = np.empty((len(images), network.outputs), np.float32)
    for start in range(0, len(images), network.chunk_size):
        x = images[start:start + network.chunk_size]
        for layer in network.layers:
            x = layer(x)
        outputs[start:start + len(x)] = x
    return outputs


# --- views: the frame a pixel or a few degrees off ---------------------------------------------------

@dataclass(frozen=True)
class Views:
    """Besides each frame itself, the network reads it moved `shift_pixels` up, down, left and right, and
    turned by plus and minus `rotation_degrees` about its centre (0: not), and its logits are averaged:
    an answer that holds a pixel or a few degrees off does not hang on exactly where the framing put the
    digit, which a photo's framing gets only about right."""

    shift_pixels: int
    rotation_degrees: float

    def maps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each view but the frame itself, as where each of its pixels is sampled from (sampling)."""
        return view_maps(self.shift_pixels, self.rotation_degrees)


NO_VIEWS = Views(0, 0.0)


@functools.cache
def view_maps(shift_pixels: int, rotation_degrees: float) -> list[tuple[np.ndarray, np.ndarray]]:
    shift, turn = shift_pixels, math.radians(rotation_degrees)
    centre = (IMAGE_SIZE - 1) / 2
    matrices = [np.array([[1.0, 0.0, dy], [0.0, 1.0, dx]]) for dy, dx in
                ((shift, 0), (-shift, 0), (0, shift), (0, -shift))] if shift else []
    for angle in ((turn, -turn) if turn else ()):
        cos, sin = math.cos(angle), math.sin(angle)
        rotation = np.array([[cos, -sin], [sin, cos]])
        matrices.append(np.hstack([rotation, (centre - rotation @ [centre, centre])[:, None]]))
    return [sampling(matrix) for matrix in matrices]


def sampling(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a 2 x 3 matrix taking each output pixel's (row, column, 1) to where in the input it is read:
    the input pixels around that point (flat indices; IMAGE_SIZE**2 stands for off the frame, which
    reads as paper) and their bilinear weights, a row per neighbour that counts (one, for a whole-pixel
    shift; four in general) and a column per output pixel."""
    rows, columns = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].reshape(2, -1).astype(np.float64)
    source = matrix @ np.stack([rows, columns, np.ones_like(rows)])
    corner = np.floor(source)
    fraction = source - corner
    indices, weights = [], []
    for down, right in ((0, 0), (0, 1), (1, 0), (1, 1)):
        row, column = corner[0] + down, corner[1] + right
        inside = (row >= 0) & (row < IMAGE_SIZE) & (column >= 0) & (column < IMAGE_SIZE)
        weight = np.where(inside, (fraction[0] if down else 1 - fraction[0])
                          * (fraction[1] if right else 1 - fraction[1]), 0.0)
        if weight.any():
            indices.append(np.where(inside, row * IMAGE_SIZE + column, IMAGE_SIZE ** 2).astype(np.intp))
            weights.append(weight)
    return np.stack(indices), np.stack(weights).astype(np.float32)


def resampled(images: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The images (n, 28, 28) as seen through one view's sampling."""
    flat = np.concatenate([images.reshape(len(images), -1), np.zeros((len(images), 1), np.float32)], axis=1)
    seen = np.zeros((len(images), IMAGE_SIZE * IMAGE_SIZE), np.float32)
    for neighbour, weight in zip(indices, weights, strict=True):
        seen += flat[:, neighbour] * weight
    return seen.reshape(images.shape)


def viewed_logits(network: Network, images: np.ndarray, views: Views = NO_VIEWS) -> np.ndarray:
    """The network's logits (float64) averaged over each image and its views."""
    images = np.asarray(images, dtype=np.float32)
    total = logits(network, images).astype(np.float64)
    maps = views.maps()
    for indices, weights in maps:
        total += logits(network, resampled(images, indices, weights))
    return total / (1 + len(maps))


def probabilities(network: Network, images: np.ndarray, temperature: float = 1.0,
                  views: Views = NO_VIEWS) -> np.ndarray:
    """Softmax probabilities (float64, one row per image) of the logits, averaged over `views`, divided
    by `temperature`."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise UserError(f"the temperature {temperature} is not a positive number")
    values = viewed_logits(network, images, views)
    if not np.isfinite(values).all():
        raise UserError("the model's outputs are not finite numbers (NaN or infinity): its training diverged; "
                        "train it again with a smaller train.learning_rate")
    return softmax(values / temperature)


# --- calibrated reading ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    """What the calibrate stage fitted on the validation split: the temperature that divides the logits
    so that probabilities match how often the reader is right, the probability from which a digit
    counts as sure (params' calibrate.sure_probability) and the one of "not a digit" from which a digit
    that is not sure counts as a letter (calibrate.not_a_digit_probability; 1 = never)."""

    temperature: float
    sure_probability: float
    views: Views  # how each frame is read (params' calibrate.view_*), as the temperature was fitted
    not_a_digit_probability: float = 1.0

    def as_json(self) -> str:
        """The calibration file's text, as load_calibration reads it."""
        return json.dumps({"temperature": self.temperature, "sure_probability": self.sure_probability,
                           "not_a_digit_probability": self.not_a_digit_probability,
                           "view_shift_pixels": self.views.shift_pixels,
                           "view_rotation_degrees": self.views.rotation_degrees}, indent=2) + "\n"


# A model with no calibration beside it (a model trained elsewhere, or before `dvc repro calibrate`):
# the network's own probabilities of the frame alone, and every digit it reads counted sure.
UNCALIBRATED = Calibration(1.0, 0.0, NO_VIEWS)


@dataclass(frozen=True)
class Reader:
    """A loaded network and its calibration: what every command and stage that reads digits uses."""

    network: Network
    calibration: Calibration

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return probabilities(self.network, images, self.calibration.temperature, self.calibration.views)


def calibration_path(model_path: str | Path) -> Path:
    """models/model.keras → models/model.calibration.json."""
    path = Path(model_path)
    return path.with_name(path.stem + ".calibration.json")


def number(value: object) -> float:
    """A JSON number as a float; ValueError for anything else (true, "0.5"), as params.yaml refuses them."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def whole(value: object) -> int:
    """A JSON whole number; ValueError for anything else (1.9, true)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not a whole number: {value!r}")
    return value


def load_calibration(model_path: str | Path) -> Calibration:
    """The calibration written beside the model, or UNCALIBRATED when there is none; UserError if damaged."""
    path = calibration_path(model_path)
    if not path.exists():
        return UNCALIBRATED
    try:
        document = json.loads(check_file(path, "calibration file").read_text())
        # A file that names no views (written by hand) reads each frame alone, and drops no unsure digit.
        views = Views(whole(document.get("view_shift_pixels", 0)), number(document.get("view_rotation_degrees", 0)))
        calibration = Calibration(number(document["temperature"]), number(document["sure_probability"]), views,
                                  number(document.get("not_a_digit_probability", 1)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as error:
        raise UserError(f"{path}: not a calibration file ({type(error).__name__}); run `dvc repro calibrate`") from None
    if not (0 < calibration.temperature < 100 and 0 <= calibration.sure_probability <= 1
            and 0 <= calibration.not_a_digit_probability <= 1
            and 0 <= views.shift_pixels < IMAGE_SIZE // 2 and 0 <= views.rotation_degrees <= 180):
        raise UserError(f"{path}: temperature {calibration.temperature}, sure_probability "
                        f"{calibration.sure_probability}, not_a_digit_probability "
                        f"{calibration.not_a_digit_probability} or views {views.shift_pixels} px, "
                        f"{views.rotation_degrees} degrees out of range; run `dvc repro calibrate`")
    return calibration


def load_reader(model_path: str | Path) -> Reader:
    """The model at `model_path` and the calibration beside it."""
    return Reader(load_model(model_path), load_calibration(model_path))
