"""Files: outputs written atomically and together, CSV text, bounded .npz reading and writing, digests."""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import io
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from mnist_dvc.errors import Interruption, UserError, raise_if_interrupted

# A fixed timestamp for every zip member, so the same arrays always give the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# The largest array any file may hold: ample for MNIST-sized data (the normalized training images are
# 188 MB), and refused from a file's header before anything that large is allocated.
MAX_ARRAY_BYTES = 1 << 30


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


class WriteError(UserError):
    """A write that failed for a reason outside the program; `errno` and `reason` tell which (the web app
    answers a full disk differently from a read-only folder)."""

    def __init__(self, message: str, errno: int | None, reason: str):
        super().__init__(message)
        self.errno = errno
        self.reason = reason


def write_error(targets: Sequence[Path], error: OSError) -> WriteError:
    """One line for a failed write (disk full, read-only folder, ...): which files, why, and that the old ones stay."""
    reason = os_reason(error)
    where = reason
    if error.filename and not Path(str(error.filename)).name.startswith("."):  # not one of our temporaries
        where += f": {error.filename}"
    names = ", ".join(map(str, targets))
    return WriteError(f"cannot write {names} ({where}); the previous files were left as they were", error.errno, reason)


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
        raise_if_interrupted()
        Interruption.holding = True
        try:
            for tmp, target in zip(temporaries, targets, strict=True):
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
                Interruption.written.append(target)
        finally:
            Interruption.holding = False
        raise_if_interrupted()
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

def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an .npz atomically (see write_npz)."""
    with atomic_path(path) as tmp:
        write_npz(tmp, arrays)


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to `path` as an uncompressed .npz with fixed member timestamps and key order.

    np.savez stamps each member with the current time; this does not, so equal arrays give
    byte-identical files and DVC sees no change. Stored, not deflated: reading is faster and the
    DVC cache deduplicates anyway.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
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
