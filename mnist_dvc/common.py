"""Helpers shared by every stage: user-facing errors and interruptions, atomic writes of several outputs
together, bounded npz I/O, checksums, the checks on MNIST arrays and on a loaded model.

Nothing here imports TensorFlow, so stages that only move arrays stay light.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import io
import math
import os
import signal
import stat
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

# A fixed timestamp for every zip member, so the same arrays always give the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
IMAGE_SIZE = 28
NUM_CLASSES = 10
SPLITS = ("train", "test")
# The largest array any file may hold: ample for MNIST-sized data (the normalized training images are
# 188 MB), and refused from a file's header before anything that large is allocated.
MAX_ARRAY_BYTES = 1 << 30
# An error line longer than this keeps its start and its end: no value can flood the terminal.
MAX_MESSAGE_CHARS = 600


class UserError(Exception):
    """A mistake the user can fix (bad params, bad data, bad image): reported in one line."""


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line (whitespace runs become one space, other control characters escaped as \\x1b),
    its middle cut out if longer than `limit`."""
    flat = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in " ".join(text.split()))
    if len(flat) <= limit:
        return flat
    keep = limit - 3
    return f"{flat[:keep * 2 // 3]} … {flat[len(flat) - keep // 3:]}"


def fail(message: str) -> NoReturn:
    """Print one readable line to stderr and exit non-zero, without a traceback."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    raise SystemExit(1)


# --- interruptions ---------------------------------------------------------------------------------

class _Interruption:
    """What run_main's signal handler saw: the signal, and whether outputs were being renamed."""

    signal: int = 0
    holding: bool = False
    written: list[Path] = []  # noqa: RUF012 (one process, one list)


def _on_signal(signum: int, frame: object) -> None:
    _Interruption.signal = signum
    if not _Interruption.holding:
        raise KeyboardInterrupt


def _raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt for a signal that arrived earlier, even if some library swallowed it."""
    if _Interruption.signal:
        raise KeyboardInterrupt


def _dvc_note(outputs: Sequence[Path]) -> str:
    """Under `dvc repro`, which of the stage's outputs DVC removed before running it, and how to get them back."""
    stage = os.environ.get("DVC_STAGE")
    missing = [str(path) for path in outputs if not Path(path).exists()]
    if not stage or not missing:
        return ""
    return (f"; dvc removed {', '.join(missing)} before running the stage: "
            f"`dvc checkout {stage}` puts back the version dvc.lock records, if it records one")


def interrupted_message(outputs: Sequence[Path] = ()) -> str:
    written = list(dict.fromkeys(map(str, _Interruption.written)))
    if written:
        return one_line(f"interrupted after writing {', '.join(written)}; the rest was left as it was")
    return one_line("interrupted before writing anything: outputs were left as they were" + _dvc_note(outputs))


def run_main(main: Callable[[], None], outputs: Sequence[Path] = ()) -> None:
    """Run a stage's main(): a UserError becomes one `error:` line and exit status 1; SIGINT or SIGTERM
    one line saying what was written, and exit status 130 or 143. `outputs` are the stage's files."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # started with the signal ignored (nohup, `&`): keep it so
            signal.signal(signum, _on_signal)
    try:
        main()
        _raise_if_interrupted()
    except UserError as error:
        fail(str(error) + _dvc_note(outputs))
    except KeyboardInterrupt:
        print(interrupted_message(outputs), file=sys.stderr)
        raise SystemExit(128 + (_Interruption.signal or signal.SIGINT)) from None


# --- writing outputs -------------------------------------------------------------------------------

def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: Path) -> None:
    """Delete `.NAME.<pid>.*.tmp*` files beside `target` left by a process that no longer runs (kill -9)."""
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f"{glob.escape(prefix)}*.tmp*"):
            pid = leftover.name[len(prefix):].split(".", 1)[0]
            if not (pid.isdigit() and _pid_alive(int(pid))):
                leftover.unlink(missing_ok=True)


# How writing a file fails for reasons outside the program: full or read-only disks, permissions, a file
# where a folder should be. Any other OSError raised while outputs are written is not about writing them.
WRITE_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
    errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP,
})


def write_error(targets: Sequence[Path], error: OSError) -> UserError:
    """One line for a failed write (disk full, read-only folder, ...): which files, why, and that the old ones stay."""
    reason = os_reason(error)
    if error.filename and not Path(str(error.filename)).name.startswith("."):  # not one of our temporaries
        reason += f": {error.filename}"
    names = ", ".join(map(str, targets))
    return UserError(f"cannot write {names} ({reason}); the previous files were left as they were")


def os_reason(error: OSError) -> str:
    """The cause of an OSError in words: 'no space left on device', 'a loop of symbolic links', ..."""
    if error.errno == errno.ELOOP:
        return "a loop of symbolic links"
    return (error.strerror or str(error)).lower()


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of `paths`; once the block succeeds, rename them all into place.

    The renames happen together at the end, with SIGINT and SIGTERM held back until the last one, so
    an interrupted or failing stage leaves all the previous files or all the new ones, never a mix and
    never a half-written file. A write that fails (disk full, read-only folder) becomes one UserError.
    """
    targets = [Path(path) for path in paths]
    temporaries: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(target)
            fd, name = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent)
            os.close(fd)
            temporaries.append(Path(name))
        yield temporaries
        _raise_if_interrupted()
        _Interruption.holding = True
        try:
            for tmp, target in zip(temporaries, targets, strict=True):
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
                _Interruption.written.append(target)
        finally:
            _Interruption.holding = False
        _raise_if_interrupted()
    except OSError as error:
        if error.errno not in WRITE_ERRNOS:
            raise
        raise write_error(targets, error) from None
    finally:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    with atomic_paths(path) as (tmp,):
        yield tmp


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def csv_text(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    """A header and rows as CSV by the csv module (quoting whatever needs it), "\n" line ends."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def write_csv_atomic(path: str | os.PathLike[str], header: Iterable[str], rows: Iterable[Iterable]) -> None:
    write_text_atomic(path, csv_text(header, rows))


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed .npz with fixed member timestamps and key order.

    np.savez stamps each member with the current time; this does not, so equal arrays give
    byte-identical files and DVC sees no change. Stored, not deflated: reading is faster and the
    DVC cache deduplicates anyway.
    """
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)


def check_file(path: str | os.PathLike[str], kind: str = "file", hint: str = "") -> Path:
    """Refuse a path that is not a readable regular file, saying why: missing, a dangling or looping
    symbolic link, a folder, a device, unreadable. `hint` (what to do) follows a missing file's message."""
    source = Path(path)
    try:
        status = source.stat()
    except OSError as error:
        if error.errno == errno.ENOENT and source.is_symlink():
            raise UserError(f"{source}: a symbolic link to {os.readlink(source)}, which does not exist") from None
        if error.errno == errno.ENOENT:
            raise UserError(f"{source}: {kind} not found{hint}") from None
        raise UserError(f"{source}: cannot read it ({os_reason(error)})") from None
    if stat.S_ISDIR(status.st_mode):
        raise UserError(f"{source}: is a folder, expected a file")
    if not stat.S_ISREG(status.st_mode):
        raise UserError(f"{source}: not a regular file")
    if not os.access(source, os.R_OK):
        raise UserError(f"{source}: cannot read it (permission denied)")
    return source


def _read_npy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path) -> np.ndarray:
    """One array of an .npz, its size checked against its header and MAX_ARRAY_BYTES before allocating."""
    where = f"{source}: {info.filename}"
    if info.file_size > MAX_ARRAY_BYTES + (1 << 16):
        raise UserError(f"{where} unpacks to {info.file_size:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise UserError(f"{where}: unsupported .npy format version {version}")
        if dtype.hasobject:
            raise UserError(f"{where}: holds Python objects, which are never loaded")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > MAX_ARRAY_BYTES:
            raise UserError(f"{where}: its header says shape {shape} ({nbytes:,} bytes), "
                            f"more than the {MAX_ARRAY_BYTES:,} allowed")
        if nbytes != info.file_size - member.tell():
            raise UserError(f"{where}: its header says shape {shape} ({nbytes:,} bytes) "
                            f"but it holds {info.file_size - member.tell():,}")
        flat = np.empty(math.prod(shape), dtype)
        view = memoryview(flat.view(np.uint8))
        filled = 0
        while filled < nbytes:
            count = member.readinto(view[filled:])
            if not count:
                raise UserError(f"{where}: ends after {filled:,} of {nbytes:,} bytes")
            filled += count
    return flat.reshape(shape, order="F" if fortran_order else "C")


def load_npz(path: str | os.PathLike[str], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays from an .npz with pickles disallowed; UserError on anything wrong.

    Each array's size comes from its header and is checked before it is allocated, so a header that
    claims 10^12 images or a zip bomb is one line, not a MemoryError.
    """
    source = check_file(path, "file", "; run `dvc repro` to make it")
    try:
        with zipfile.ZipFile(source) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [key for key in keys if key not in members]
            if missing:
                raise UserError(
                    f"{source}: missing array(s) {', '.join(missing)} (has: {', '.join(members) or 'none'})"
                )
            return {key: _read_npy_member(archive, members[key], source) for key in keys}
    except UserError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error, NotImplementedError) as error:
        raise UserError(f"{source}: not a readable .npz archive ({error})") from None


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def bytes_digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-ordered bytes: the same content, the same digest."""
    hasher = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()


def check_images(path: str | os.PathLike[str], name: str, images: np.ndarray, dtype: str) -> None:
    """Refuse image arrays that are not (n, 28, 28) of the expected dtype."""
    expected = (IMAGE_SIZE, IMAGE_SIZE)
    if images.ndim != 3 or images.shape[1:] != expected or images.shape[0] == 0:
        raise UserError(f"{path}: {name} has shape {images.shape}, expected (n, 28, 28) with n > 0")
    if images.dtype != np.dtype(dtype):
        raise UserError(f"{path}: {name} has dtype {images.dtype}, expected {dtype}")


def check_labels(path: str | os.PathLike[str], name: str, labels: np.ndarray, count: int) -> None:
    """Refuse labels that are not `count` integers in 0..9."""
    if labels.ndim != 1 or labels.shape[0] != count:
        raise UserError(f"{path}: {name} has shape {labels.shape}, expected ({count},) to match the images")
    if labels.dtype != np.uint8:
        raise UserError(f"{path}: {name} has dtype {labels.dtype}, expected uint8")
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise UserError(f"{path}: {name} has labels outside 0-9 (max {int(labels.max())})")


MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def check_shapes(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], pixel_dtype: str, splits: tuple[str, ...] = SPLITS
) -> None:
    """Refuse MNIST arrays whose images are not (n, 28, 28) of `pixel_dtype` with n uint8 labels in 0..9."""
    for split in splits:
        images = arrays[f"x_{split}"]
        check_images(path, f"x_{split}", images, pixel_dtype)
        check_labels(path, f"y_{split}", arrays[f"y_{split}"], images.shape[0])


def load_mnist(
    path: str | os.PathLike[str], normalized: bool, splits: tuple[str, ...] = SPLITS
) -> dict[str, np.ndarray]:
    """Load and check the given splits of an MNIST .npz: raw (uint8, 0..255) or normalized (float32, 0..1)."""
    arrays = load_npz(path, tuple(f"{kind}_{split}" for split in splits for kind in ("x", "y")))
    check_shapes(path, arrays, "float32" if normalized else "uint8", splits)
    for split in splits:
        images = arrays[f"x_{split}"]
        low, high = float(images.min()), float(images.max())  # NaN propagates into both
        if not (math.isfinite(low) and math.isfinite(high)):
            raise UserError(f"{path}: x_{split} has pixels that are not finite numbers (NaN or infinity)")
        if normalized and (low < 0 or high > 1):
            raise UserError(f"{path}: x_{split} pixels span {low:g}..{high:g}, expected 0..1: was it normalized?")
        if not normalized and high <= 1:
            raise UserError(f"{path}: x_{split} pixels span {low:g}..{high:g}, expected 0..255: already normalized?")
    return arrays


def split_validation(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of 0..count-1 cut into (train indices, validation indices): the train stage's
    split, which the photo benchmark and benchmarks/robustness.py also draw validation digits from."""
    order = np.random.default_rng(seed).permutation(count)
    held_out = max(1, round(count * fraction))
    if held_out >= count:
        raise UserError(f"train.validation_fraction = {fraction} leaves none of the {count} images for training")
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """Map 0..255 pixel values to float32 0..1 (÷ 255): the one scaling training and prediction share."""
    return np.divide(images, np.float32(255), dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities from the model's 10 logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def load_model(path: str | os.PathLike[str]):
    """Load a .keras model in Keras' safe mode (no code from the file); UserError if missing, damaged,
    or not a model of 28 x 28 images to 10 digits.

    TensorFlow is imported here, on first use, so that importing this module stays light.
    """
    model_path = check_file(path, "model file", "; run `dvc repro` to train it")
    try:
        with zipfile.ZipFile(model_path) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as error:
        size = model_path.stat().st_size
        what = "an empty file" if size == 0 else f"{size:,} bytes that are not a zip archive ({error})"
        raise UserError(f"{model_path}: not a Keras model: {what}; run `dvc repro` to train it") from None
    if "config.json" not in names:
        raise UserError(f"{model_path}: not a Keras model: the archive has no config.json")
    if unpacked > MAX_ARRAY_BYTES:
        raise UserError(f"{model_path}: unpacks to {unpacked:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed")
    from tensorflow import keras

    try:
        model = keras.models.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # a damaged archive surfaces as many different exception types
        reason = one_line(str(error), 200)
        raise UserError(f"{model_path}: cannot load the model ({type(error).__name__}: {reason})") from None
    check_model_shape(model_path, model)
    return model


def check_model_shape(path: Path, model) -> None:
    """Refuse a model that does not take (n, 28, 28) images and give 10 numbers per image."""
    try:
        inputs, outputs = model.input_shape, model.output_shape
    except (AttributeError, ValueError):
        raise UserError(f"{path}: the model has no defined input or output shape") from None
    expected_in, expected_out = (None, IMAGE_SIZE, IMAGE_SIZE), (None, NUM_CLASSES)
    if not isinstance(inputs, tuple) or tuple(inputs) != expected_in:
        raise UserError(f"{path}: the model takes inputs of shape {_shape(inputs)}, expected (28, 28) images")
    if not isinstance(outputs, tuple) or tuple(outputs) != expected_out:
        raise UserError(f"{path}: the model gives outputs of shape {_shape(outputs)}, expected 10, one per digit")


def _shape(shape) -> str:
    if isinstance(shape, tuple):
        return str(tuple(shape[1:]))
    return f"{len(shape)} tensors" if isinstance(shape, list) else one_line(str(shape), 80)


def class_probabilities(model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Softmax probabilities (float64, one row per image) from a loaded model, for images scaled to 0..1.

    A direct call for small batches: Keras' predict() costs tens of milliseconds of set-up per call.
    """
    if len(images) > batch_size:
        logits = model.predict(images, batch_size=batch_size, verbose=0)
    else:
        logits = np.asarray(model(images, training=False))
    if not np.isfinite(logits).all():
        raise UserError("the model's outputs are not finite numbers (NaN or infinity): its training diverged; "
                        "train it again with a smaller train.learning_rate")
    return softmax(logits.astype(np.float64))
