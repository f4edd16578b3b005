"""Bad inputs and faults, through the real commands: each ends in exactly one `error:` line (or one
`interrupted` line), the documented exit status, no traceback, and every existing output byte for byte
as it was, with no temporary files left beside it.

Cases that could allocate a lot run under a memory limit (RLIMIT_AS), so a regression fails the test
instead of harming the machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import weakref
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from mnist_dvc import errors, files, params
from mnist_dvc.files import save_npz
from mnist_dvc.mnist import scale_pixels
from tests.conftest import REPO, SMALL_TRAIN, VENV_BIN, synthetic_mnist
from tests.helpers.params import committed_params

MEMORY_LIMIT = 1 << 30  # the stages that read data run in well under this; the bombs below need more
OUTPUT_DIRS = ("data", "models", "reports")


# --- a workspace with outputs, and the checks every case makes ----------------------------------------

@pytest.fixture
def workspace(tmp_path) -> Path:
    """The stages and a params.yaml, with raw and prepared data, a model and reports already made."""
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    document = committed_params()
    document["train"].update(SMALL_TRAIN | {"photo_frames_fraction": 0.0})  # no photo frames made here
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    arrays = synthetic_mnist()
    save_npz(tmp_path / "data/raw/mnist.npz", arrays)
    save_npz(tmp_path / "data/prepared/mnist.npz",
             {key: scale_pixels(value) if key.startswith("x") else value for key, value in arrays.items()})
    for name, text in (("models/model.keras", "the last good model"), ("reports/metrics.json", "{}\n"),
                       ("reports/train/metrics.json", "{}\n"), ("reports/predictions.csv", "actual,predicted\n"),
                       ("reports/confusion_matrix.png", "png")):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def output_digests(root: Path) -> dict[str, str]:
    """md5 of every file under data/, models/ and reports/ (temporaries included, so leftovers show)."""
    return {str(path.relative_to(root)): hashlib.md5(path.read_bytes()).hexdigest()
            for folder in OUTPUT_DIRS for path in sorted((root / folder).rglob("*")) if path.is_file()}


def limits(memory: int | None = MEMORY_LIMIT, file_size: int | None = None):
    def apply() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    return apply


def run_stage(root: Path, stage: str, *, memory: int | None = MEMORY_LIMIT, file_size: int | None = None,
              prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"], "OPENBLAS_NUM_THREADS": "1"}
    env.pop("DVC_STAGE", None)
    return subprocess.run([*prefix, sys.executable, "-m", f"stages.{stage}"], cwd=root, env=env, text=True,
                          capture_output=True, timeout=300, preexec_fn=limits(memory, file_size))


def assert_refused(result: subprocess.CompletedProcess, expected: str, status: int = 1, prefix: str = "error:") -> str:
    """Exit status, exactly one line of `prefix`, no traceback; returns that line."""
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "interrupted"))]
    assert result.returncode == status, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(prefix) and expected in lines[0], lines[0][:1000]
    assert len(lines[0]) <= 1000
    return lines[0]


def refused_keeping_outputs(root: Path, stage: str, expected: str, **kwargs) -> str:
    before = output_digests(root)
    line = assert_refused(run_stage(root, stage, **kwargs), expected)
    assert output_digests(root) == before
    return line


# --- class 1: params.yaml that is not text or not sane ---------------------------------------------------

def alias_bomb(levels: int = 9) -> str:
    """YAML that is a few hundred bytes but, expanded, a list of 10^levels items."""
    lines = ["bomb0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"bomb{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def edit_params(root: Path, old: str, new: str, prepend: str = "") -> None:
    path = root / "params.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(prepend + text.replace(old, new, 1))


PARAMS_CASES = {
    "not UTF-8": (lambda root: (root / "params.yaml").write_bytes(
        (root / "params.yaml").read_bytes() + b"# caf\xe9\n"), "not UTF-8 text (byte 0xe9"),
    "binary garbage": (lambda root: (root / "params.yaml").write_bytes(bytes(range(256)) * 8), "not UTF-8 text"),
    "NUL bytes": (lambda root: (root / "params.yaml").write_bytes(b"train:\n  epochs: 3\x00\n"), "not valid YAML"),
    "deep nesting": (lambda root: edit_params(root, "evaluate:", "deep: " + "[" * 5000 + "]" * 5000 + "\nevaluate:"),
                     "nested more than 16 levels deep"),
    "null key": (lambda root: edit_params(root, "  epochs: 2", "  ~: 2"), "key null in section 'train' is not a name"),
    "number key": (lambda root: edit_params(root, "  epochs: 2", "  3: 2"), "key 3 in section 'train' is not a name"),
    "list key": (lambda root: edit_params(root, "\ntrain:\n", "\n? [a, b]\n: 1\ntrain:\n"),
                 "key ['a', 'b'] in the top level"),
    "100,000-digit integer": (lambda root: edit_params(root, "epochs: 2", "epochs: " + "9" * 100_000),
                              "a value of 100,000 characters at line"),
    "alias bomb as a value": (lambda root: edit_params(root, "  epochs: 2", "  epochs: *a8", alias_bomb()),
                              "train.epochs = [[[[[[[[[1, 1"),
    "alias bomb as an unknown key": (lambda root: edit_params(root, "  epochs: 2", "  epochs: 2\n  epoch: *a8",
                                                              alias_bomb()), "unknown key train.epoch (value [[["),
    "alias bomb as a section": (lambda root: edit_params(root, "\ntrain:\n", "\ntrain: *a8\nold_train:\n",
                                                         alias_bomb()),
                                "section 'train' must be a mapping"),
    "duplicate key": (lambda root: edit_params(root, "  epochs: 2", "  epochs: 2\n  epochs: 3"),
                      'found duplicate key "epochs"'),
    "100 layers of 8192": (lambda root: edit_params(root, "  hidden_units:\n  - 16\n  - 16",
                                                    "  hidden_units: [" + ", ".join(["8192"] * 100) + "]"),
                           "train.hidden_units = [8192, 8192"),
    "two layers of 8192": (lambda root: edit_params(root, "  hidden_units:\n  - 16\n  - 16",
                                                    "  hidden_units: [8192, 8192]"), "at most 20,000,000 weights"),
    "a 3,000-character value": (lambda root: edit_params(root, "activation: relu", "activation: " + "r" * 3000),
                                "train.activation = 'rrrr"),
    "a file of 2 MB": (lambda root: edit_params(root, "activation: relu", "activation: " + "r" * 2_000_000),
                       "larger than 1,048,576 bytes"),
    "params.yaml is a folder": (lambda root: ((root / "params.yaml").unlink(), (root / "params.yaml").mkdir()),
                                "params.yaml: is a folder, expected a file"),
    "params.yaml is a pipe": (lambda root: ((root / "params.yaml").unlink(), os.mkfifo(root / "params.yaml")),
                              "params.yaml: not a regular file"),
    "params.yaml is a symlink loop": (lambda root: ((root / "params.yaml").unlink(),
                                                    (root / "params.yaml").symlink_to("params.yaml")),
                                      "params.yaml: cannot read it (a loop of symbolic links)"),
}


@pytest.mark.parametrize("case", PARAMS_CASES)
def test_params_that_are_not_text_or_not_sane_are_one_line(workspace, case):
    spoil, expected = PARAMS_CASES[case]
    spoil(workspace)
    line = refused_keeping_outputs(workspace, "train", expected)
    assert len(line) <= errors.MAX_MESSAGE_CHARS + len("error: ")


@pytest.mark.parametrize(("text", "value"), [("1e-3", 0.001), ("1E-2", 0.01), ("2.0e-3", 0.002), ("5e-4", 0.0005)])
def test_numbers_are_read_as_dvc_reads_them(tmp_path, text, value):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text().replace("learning_rate: 0.002", f"learning_rate: {text}"))
    assert params.load("train", path).learning_rate == value


# --- class 2 is at the DVC level: tests/test_pipeline.py -------------------------------------------------

# --- class 3: data that is not finite or not small -------------------------------------------------------

def npz_with_member(path: Path, arrays: dict[str, np.ndarray], key: str, member: bytes,
                    method: int = zipfile.ZIP_STORED) -> None:
    """An .npz of `arrays` whose `key` member is the raw bytes `member`."""
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, array in arrays.items():
            if name == key:
                archive.writestr(f"{name}.npy", member)
            else:
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array)
                archive.writestr(f"{name}.npy", buffer.getvalue())


def npy_header(shape: tuple[int, ...], dtype: str = "|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def deflated_zeros(prefix: bytes, count: int) -> bytes:
    """Raw deflate of `prefix` and `count` zero bytes, made in milliseconds: a fully flushed block of
    16 MiB of zeros does not depend on what came before, so the same bytes repeat."""
    block = 1 << 24
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(bytes(count % block)) + compressor.flush(zlib.Z_FINISH)
    return head + zeros * (count // block) + tail


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """1.2 MB that inflates to 1.2 GB: an .npz whose x_train member is zeros behind an honest header."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    header = npy_header((1_500_000, 28, 28))
    size = len(header) + 1_500_000 * 28 * 28
    placeholder = deflated_zeros(header, size - len(header))
    npz_with_member(path, synthetic_mnist(), "x_train", placeholder)  # stored: then marked deflated, full size
    data = bytearray(path.read_bytes())
    name = b"x_train.npy"
    local = data.index(b"PK\x03\x04")
    while data[local + 30: local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<H", data, local + 8, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", data, local + 22, size)
    central = data.index(b"PK\x01\x02")
    while data[central + 46: central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<H", data, central + 10, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory) -> Path:
    """A folder of IDX files whose training images are 1 MB of gzip: a true header, then 1 GB."""
    folder = tmp_path_factory.mktemp("idx")
    header = gzip.compress(struct.pack(">IIII", 0x803, 60000, 28, 28))
    zeros = gzip.compress(bytes(1 << 24))  # gzip members one after another make one stream
    (folder / "train-images-idx3-ubyte.gz").write_bytes(header + zeros * 64)
    return folder


def spoil_prepared(root: Path, key: str, value: float) -> None:
    arrays = dict(np.load(root / "data/prepared/mnist.npz"))
    arrays[key] = arrays[key].copy()
    arrays[key][3, 10, 10] = value
    save_npz(root / "data/prepared/mnist.npz", arrays)


def raw_member(root: Path, member: bytes, key: str = "x_train") -> None:
    npz_with_member(root / "data/raw/mnist.npz", synthetic_mnist(), key, member)


def use_local_source(root: Path, local: Path) -> None:
    document = yaml.safe_load((root / "params.yaml").read_text())
    document["fetch"].update({"local_path": str(local), "sources": ["local"]})
    (root / "params.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


DATA_CASES = {
    "NaN pixel": ("train", lambda root: spoil_prepared(root, "x_train", float("nan")), "not finite numbers"),
    "infinite pixel": ("train", lambda root: spoil_prepared(root, "x_train", float("inf")), "not finite numbers"),
    "NaN test pixel": ("evaluate", lambda root: spoil_prepared(root, "x_test", float("nan")), "not finite numbers"),
    "header claims 10^12 images": ("normalize", lambda root: raw_member(root, npy_header((10**12, 28, 28))),
                                   "more than the 1,073,741,824 allowed"),
    "header claims more than it holds": ("normalize", lambda root: raw_member(
        root, npy_header((600, 28, 28)) + bytes(1000)), "but it holds 1,000"),
    "header claims less than it holds": ("normalize", lambda root: raw_member(
        root, npy_header((2, 28, 28)) + bytes(600 * 784)), "but it holds 470,400"),
    "labels of a 10^9-byte dtype": ("normalize", lambda root: raw_member(
        root, npy_header((600,), "|V1000000000"), "y_train"), "(600,000,000,000 bytes), more than"),
    "IDX header claims 10^12 images": ("fetch", lambda root: use_local_source(root, idx_folder(root, 10**6)),
                                       "more than the 1,073,741,824 allowed"),
}


def idx_folder(root: Path, count: int) -> Path:
    folder = root / "idx"
    folder.mkdir()
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as stream:
        stream.write(struct.pack(">IIII", 0x803, count, 1_000_000, 28))
    return folder


@pytest.mark.parametrize("case", DATA_CASES)
def test_data_that_is_not_finite_or_not_small_is_one_line(workspace, case):
    stage, spoil, expected = DATA_CASES[case]
    spoil(workspace)
    refused_keeping_outputs(workspace, stage, expected, memory=None if stage == "evaluate" else MEMORY_LIMIT)


def test_a_zip_bomb_is_refused_from_its_header(workspace, zip_bomb):
    shutil.copyfile(zip_bomb, workspace / "data/raw/mnist.npz")
    refused_keeping_outputs(workspace, "normalize", "x_train.npy unpacks to 1,176,000,128 bytes")


def test_a_gzip_bomb_in_the_local_copy_is_read_no_further_than_its_header_says(workspace, gzip_bomb):
    use_local_source(workspace, gzip_bomb)
    line = refused_keeping_outputs(workspace, "fetch", "no source yielded verified MNIST data")
    assert "47040017 bytes, but its header (60000, 28, 28) says 47040016" in line


# --- class 4: a model of the wrong shape ----------------------------------------------------------------

def keras_model(kind: str):
    from tensorflow import keras

    layers = keras.layers
    if kind == "5 outputs":
        return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(5)])
    if kind == "32x32 inputs":
        return keras.Sequential([keras.Input((32, 32)), layers.Flatten(), layers.Dense(10)])
    if kind == "flat inputs":
        return keras.Sequential([keras.Input((784,)), layers.Dense(10)])
    if kind == "two outputs":
        inputs = keras.Input((28, 28))
        flat = layers.Flatten()(inputs)
        return keras.Model(inputs, [layers.Dense(10)(flat), layers.Dense(10)(flat)])
    if kind == "unsafe Lambda layer":
        return keras.Sequential([keras.Input((28, 28)), layers.Lambda(lambda x: x * 2), layers.Flatten(),
                                 layers.Dense(10)])
    if kind == "NaN weights":
        model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(10)])
        model.set_weights([np.full_like(weights, np.nan) for weights in model.get_weights()])
        return model
    raise ValueError(kind)


MODEL_CASES = {
    "5 outputs": "gives outputs of shape (5,), expected 10",
    "32x32 inputs": "takes inputs of shape (32, 32), expected (28, 28)",
    "flat inputs": "takes inputs of shape (784,), expected (28, 28)",
    "two outputs": "this reader knows only Sequential models",
    "unsafe Lambda layer": "has a Lambda layer, which this reader does not know",
    "NaN weights": "the model's outputs are not finite numbers (NaN or infinity): its training diverged",
}


@pytest.fixture(scope="module")
def wrong_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for kind in MODEL_CASES:
        paths[kind] = folder / f"{kind}.keras"
        keras_model(kind).save(paths[kind])
    return paths


@pytest.mark.parametrize("case", MODEL_CASES)
def test_a_model_of_the_wrong_shape_is_one_line(workspace, wrong_models, case, capsys, monkeypatch):
    """In this process (TensorFlow loads once): stages.evaluate through run_main, as its command runs it."""
    from stages import evaluate

    shutil.copyfile(wrong_models[case], workspace / "models/model.keras")
    before = output_digests(workspace)
    line = run_in_process(evaluate.main, evaluate.OUTPUTS, workspace, capsys, monkeypatch)
    assert MODEL_CASES[case] in line and len(line) < 400
    assert output_digests(workspace) == before


def run_in_process(main, outputs, root: Path, capsys, monkeypatch, status: int = 1) -> str:
    monkeypatch.chdir(root)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as exited:
            errors.run_main(main, outputs)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    captured = capsys.readouterr()
    assert exited.value.code == status
    lines = [line for line in captured.err.splitlines() if line.startswith(("error:", "interrupted"))]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


# --- class 6: signals and disks -------------------------------------------------------------------------

@pytest.fixture
def fresh_interruption(monkeypatch):
    monkeypatch.setattr(errors.Interruption, "signal", 0)
    monkeypatch.setattr(errors.Interruption, "written", [])


def write_two(swallow: bool, interrupt_at: str):
    """A main() that writes two reports together and gets SIGINT at `interrupt_at`."""
    def main() -> None:
        with files.atomic_paths("reports/metrics.json", "reports/predictions.csv") as (first, second):
            first.write_text("new metrics")
            if interrupt_at == "between the files":
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                except KeyboardInterrupt:
                    if not swallow:  # as a library that catches everything would
                        raise
            second.write_text("new predictions")
    return main


@pytest.mark.parametrize("swallow", [False, True], ids=["delivered", "swallowed by a library"])
def test_an_interrupted_write_changes_nothing(workspace, capsys, monkeypatch, fresh_interruption, swallow):
    before = output_digests(workspace)
    line = run_in_process(write_two(swallow, "between the files"), (), workspace, capsys, monkeypatch,
                          status=128 + signal.SIGINT)
    assert line == "interrupted before writing anything: outputs were left as they were"
    assert output_digests(workspace) == before


def test_a_signal_while_the_import_system_runs_is_raised_at_the_next_check(workspace, capsys, monkeypatch,
                                                                          fresh_interruption):
    # Raised inside importlib, it could land in a module lock's weakref callback, which Python prints with a
    # traceback and drops: the server then started as if nothing had happened.
    import_system = SimpleNamespace(f_code=SimpleNamespace(co_filename="<frozen importlib._bootstrap>"))
    with pytest.raises(KeyboardInterrupt):
        errors._on_signal(signal.SIGINT, sys._getframe())
    errors.Interruption.signal = 0
    before = output_digests(workspace)

    class ModuleLock:
        pass

    dropped_exceptions = []
    monkeypatch.setattr(sys, "unraisablehook", lambda raised: dropped_exceptions.append(raised.exc_type))

    def main() -> None:
        lock = ModuleLock()
        # as importlib's module lock's callback runs: what it raises, Python prints and drops
        dropped = weakref.ref(lock, lambda _: errors._on_signal(signal.SIGINT, import_system))
        del lock
        assert dropped() is None
        with files.atomic_paths("reports/metrics.json") as (metrics,):
            metrics.write_text("new metrics")

    line = run_in_process(main, (), workspace, capsys, monkeypatch, status=128 + signal.SIGINT)
    assert line == "interrupted before writing anything: outputs were left as they were"
    assert output_digests(workspace) == before and dropped_exceptions == []


def test_a_signal_while_renaming_waits_until_every_output_is_in_place(workspace, capsys, monkeypatch,
                                                                       fresh_interruption):
    real_replace = os.replace

    def replace_then_signal(source, target):
        real_replace(source, target)
        if str(target).endswith("metrics.json"):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace_then_signal)
    line = run_in_process(write_two(False, "never"), (), workspace, capsys, monkeypatch, status=128 + signal.SIGINT)
    assert line.startswith("interrupted after writing reports/metrics.json, reports/predictions.csv")
    assert (workspace / "reports/predictions.csv").read_text() == "new predictions"


def unshare(*mount_commands: str) -> tuple[str, ...]:
    """A command prefix that runs in a private mount namespace after `mount_commands` (skip if impossible)."""
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True,
                           check=False) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("needs user and mount namespaces (unshare) to make a full or read-only folder")
    script = " && ".join([*mount_commands, 'exec "$@"'])
    return ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh")


def file_for_folder(folder: Path) -> dict:
    shutil.rmtree(folder)
    folder.write_text("not a folder")
    return {}


DISK_CASES = {
    "file size limit (EFBIG)": (lambda root: {"file_size": 500_000}, "(file too large)"),
    "read-only folder (EROFS)": (lambda root: {"prefix": unshare(
        "mount --bind data/prepared data/prepared", "mount -o remount,bind,ro data/prepared")},
        "(read-only file system)"),
    "a file where the folder should be": (lambda root: file_for_folder(root / "data/prepared"),
                                          "cannot write data/prepared/mnist.npz (file exists"),
}


@pytest.mark.parametrize("case", DISK_CASES)
def test_a_failed_write_names_the_path_and_the_cause_and_keeps_the_old_output(workspace, case):
    setup, expected = DISK_CASES[case]
    line = refused_keeping_outputs(workspace, "normalize", expected, **setup(workspace))
    assert "the previous files were left as they were" in line


def test_a_full_disk_names_the_path_and_keeps_the_old_output(workspace):
    """A tmpfs with room for the old output and 1 MB more: the new one (2.5 MB) cannot fit. Checked inside
    the namespace, where the tmpfs is."""
    keep = workspace / "old-prepared"
    shutil.copytree(workspace / "data/prepared", keep)
    before = hashlib.md5((keep / "mnist.npz").read_bytes()).hexdigest()
    room = (keep / "mnist.npz").stat().st_size + (1 << 20)
    prefix = unshare(f"mount -t tmpfs -o size={room} none data/prepared", "cp old-prepared/mnist.npz data/prepared/")
    script = '"$@"; status=$?; md5sum data/prepared/mnist.npz; ls -A data/prepared; exit $status'
    result = run_stage(workspace, "normalize", prefix=(*prefix, "sh", "-c", script, "sh"))
    assert_refused(result, "cannot write data/prepared/mnist.npz (no space left on device)")
    assert result.stdout.split() == [before, "data/prepared/mnist.npz", "mnist.npz"]


def test_temporaries_of_a_killed_run_are_removed_by_the_next(workspace):
    folder = workspace / "data/prepared"
    stale = [folder / ".mnist.npz.4194305.k3j2.tmp", folder / ".mnist.npz.abcd1234.tmp",
             folder / ".mnist.npz.4194306.x1.tmp.keras"]
    live = folder / f".mnist.npz.{os.getpid()}.busy.tmp"  # another run still writing: kept
    other = folder / ".other.npz.4194305.k3j2.tmp"  # not this output's: kept
    for path in [*stale, live, other]:
        path.write_text("partial")
    result = run_stage(workspace, "normalize")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(["mnist.npz", live.name, other.name])


# --- class 7: messages that mislead ---------------------------------------------------------------------

def bomb_model(path: Path) -> None:
    """A .keras archive whose weights member says it unpacks to 2 GB (its size field is all that is read)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"")
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)  # the second member's entry
    struct.pack_into("<I", data, central + 24, 2_000_000_000)
    path.write_bytes(bytes(data))


def replace_model(root: Path, make) -> None:
    model = root / "models/model.keras"
    model.unlink()
    make(model)


MESSAGE_CASES = {
    "empty model": ("evaluate", lambda root: (root / "models/model.keras").write_bytes(b""),
                    "models/model.keras: not a Keras model: an empty file"),
    "random bytes for a model": ("evaluate", lambda root: (root / "models/model.keras").write_bytes(
        np.random.default_rng(0).bytes(5000)), "not a Keras model: 5,000 bytes that are not a zip archive"),
    "a model that unpacks to 2 GB": ("evaluate", lambda root: bomb_model(root / "models/model.keras"),
                                     "models/model.keras: unpacks to 2,000,000,002 bytes, more than"),
    "a zip that is no model": ("evaluate", lambda root: zipfile.ZipFile(root / "models/model.keras", "w").close(),
                               "not a Keras model: the archive has no config.json"),
    "symlink loop for a model": ("evaluate", lambda root: replace_model(root, lambda p: p.symlink_to(p.name)),
                                 "models/model.keras: cannot read it (a loop of symbolic links)"),
    "dangling symlink for data": ("train", lambda root: ((root / "data/prepared/mnist.npz").unlink(),
                                                         (root / "data/prepared/mnist.npz").symlink_to("gone.npz")),
                                  "a symbolic link to gone.npz, which does not exist"),
    "a folder for data": ("normalize", lambda root: ((root / "data/raw/mnist.npz").unlink(),
                                                     (root / "data/raw/mnist.npz").mkdir()),
                          "data/raw/mnist.npz: is a folder, expected a file"),
    "a local copy in the home of no user": ("fetch", lambda root: use_local_source(root, "~nosuchuser/mnist.npz"),
                                            "~nosuchuser/mnist.npz: no home folder for ~nosuchuser"),
    "a device for the local copy": ("fetch", lambda root: use_local_source(root, "/dev/zero"),
                                    "/dev/zero: not a regular file"),
    "a terminal escape in a path": ("fetch", lambda root: use_local_source(root, "\x1b[31mred.npz"),
                                    "(\\x1b[31mred.npz: not found;"),
    "a NUL byte in a path": ("fetch", lambda root: use_local_source(root, "a\0b"),
                             "fetch.local_path = 'a\\x00b' is not allowed"),
    "a 4,000-character local path": ("fetch", lambda root: use_local_source(root, root / ("d" * 4000)),
                                     "no source yielded verified MNIST data"),
}


@pytest.mark.parametrize("case", MESSAGE_CASES)
def test_messages_say_what_is_wrong(workspace, case):
    stage, spoil, expected = MESSAGE_CASES[case]
    spoil(workspace)
    line = refused_keeping_outputs(workspace, stage, expected, memory=None if stage == "evaluate" else MEMORY_LIMIT)
    assert len(line) <= errors.MAX_MESSAGE_CHARS + len("error: ")


def test_a_long_message_keeps_its_start_and_its_end():
    text = "start " + "x" * 10_000 + " what to do"
    cut = errors.one_line(text)
    assert len(cut) <= errors.MAX_MESSAGE_CHARS and cut.startswith("start ") and cut.endswith(" what to do")
    assert errors.one_line("two\nlines") == "two lines"


# --- class 8: silently useless runs ---------------------------------------------------------------------

USELESS_CASES = {
    "learning rate 1e-300": ("learning_rate: 0.002", "learning_rate: 1e-300", "train.learning_rate = 1e-300"),
    "learning rate 1e-7": ("learning_rate: 0.002", "learning_rate: 1.0e-7", "must be a number in 1e-6..10"),
    "validation leaves one image": ("validation_fraction: 0.2", "validation_fraction: 0.99999",
                                    "at least half the images are for training"),
    "validation of 60%": ("validation_fraction: 0.2", "validation_fraction: 0.6", "train.validation_fraction = 0.6"),
}


@pytest.mark.parametrize("case", USELESS_CASES)
def test_params_that_cannot_learn_are_refused(workspace, case):
    old, new, expected = USELESS_CASES[case]
    edit_params(workspace, old, new)
    refused_keeping_outputs(workspace, "train", expected)


def test_training_that_ends_at_chance_level_says_so(workspace, capsys, monkeypatch):
    from stages import train

    arrays = dict(np.load(workspace / "data/prepared/mnist.npz"))
    arrays["y_train"] = np.random.default_rng(1).permutation(arrays["y_train"])  # nothing to learn
    save_npz(workspace / "data/prepared/mnist.npz", arrays)
    edit_params(workspace, "epochs: 2", "epochs: 1")
    monkeypatch.chdir(workspace)
    train.main()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "is chance level" in warnings[0]
    assert json.loads((workspace / "reports/train/metrics.json").read_text())["eval"]["accuracy"] < train.CHANCE_LEVEL


def test_npz_members_load_as_numpy_would(tmp_path):
    """The bounded reader gives the same arrays as np.load for C and Fortran order, compressed or not."""
    arrays = {"a": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "b": np.asfortranarray(np.eye(3)),
              "c": np.zeros((0, 28, 28), np.uint8)}
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    np.savez(tmp_path / "u.npz", **arrays)
    for name in ("c.npz", "u.npz"):
        loaded = files.load_npz(tmp_path / name, ("a", "b", "c"))
        for key, array in arrays.items():
            np.testing.assert_array_equal(loaded[key], array)
            assert loaded[key].dtype == array.dtype and loaded[key].flags.writeable



def test_a_signal_the_caller_ignores_stays_ignored(workspace, monkeypatch, fresh_interruption):
    """Started with SIGINT ignored (`nohup`, `cmd &` in a script): Ctrl-C elsewhere must not stop the stage."""
    monkeypatch.chdir(workspace)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        errors.run_main(write_two(False, "between the files"), ())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (workspace / "reports/predictions.csv").read_text() == "new predictions"
