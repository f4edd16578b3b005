"""The normalize stage and the data checks every stage runs on the arrays it reads."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_dvc.errors import UserError
from mnist_dvc.files import file_digest, save_npz
from mnist_dvc.mnist import load_mnist, scale_pixels
from stages.normalize import normalize
from tests.conftest import REPO, run


def test_pixels_become_float32_in_0_to_1_and_labels_stay_digits(small_arrays):
    prepared = normalize(small_arrays)
    for split in ("train", "test"):
        x = prepared[f"x_{split}"]
        assert x.dtype == np.float32
        assert x.min() >= 0.0 and x.max() == 1.0
        np.testing.assert_array_equal(prepared[f"y_{split}"], small_arrays[f"y_{split}"])


def test_scaling_divides_by_255_not_by_the_row_norm():
    row = np.array([[0, 51, 255]], dtype=np.uint8)
    np.testing.assert_allclose(scale_pixels(row), [[0.0, 0.2, 1.0]], rtol=1e-7)


def test_save_npz_gives_identical_bytes_for_identical_arrays(tmp_path, small_arrays):
    save_npz(tmp_path / "a.npz", small_arrays)
    save_npz(tmp_path / "b.npz", dict(reversed(list(small_arrays.items()))))
    assert file_digest(tmp_path / "a.npz") == file_digest(tmp_path / "b.npz")
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def corrupt(arrays: dict[str, np.ndarray], key: str, value) -> dict[str, np.ndarray]:
    return {**arrays, key: value}


BAD_RAW = {
    "missing key": (lambda a: {k: v for k, v in a.items() if k != "y_test"}, r"missing array\(s\) y_test"),
    "images not 28x28": (lambda a: corrupt(a, "x_train", a["x_train"][:, :27, :]), "x_train has shape"),
    "flat images": (lambda a: corrupt(a, "x_test", a["x_test"].reshape(len(a["x_test"]), -1)), "x_test has shape"),
    "float pixels": (lambda a: corrupt(a, "x_train", a["x_train"].astype(np.float32)), "x_train has dtype float32"),
    "labels out of range": (lambda a: corrupt(a, "y_train", a["y_train"] + 10), "labels outside 0-9"),
    "fewer labels than images": (lambda a: corrupt(a, "y_test", a["y_test"][:-1]), "to match the images"),
    "signed labels": (lambda a: corrupt(a, "y_test", a["y_test"].astype(np.int8)), "y_test has dtype int8"),
    "already scaled": (lambda a: corrupt(a, "x_test", (a["x_test"] > 128).astype(np.uint8)), "already normalized"),
}


@pytest.mark.parametrize("case", list(BAD_RAW))
def test_bad_raw_data_is_refused_naming_the_file_and_the_fault(tmp_path, small_arrays, case):
    make, expected = BAD_RAW[case]
    path = tmp_path / "raw.npz"
    save_npz(path, make(small_arrays))
    with pytest.raises(UserError, match=expected) as raised:
        load_mnist(path, normalized=False)
    assert str(raised.value).startswith(str(path))


def test_prepared_data_that_was_never_normalized_is_refused(tmp_path, small_arrays):
    path = tmp_path / "prepared.npz"
    save_npz(path, {k: v.astype(np.float32) if k.startswith("x") else v for k, v in small_arrays.items()})
    with pytest.raises(UserError, match=r"pixels span 0\.\.255, expected 0\.\.1: was it normalized"):
        load_mnist(path, normalized=True)


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "empty"])
def test_a_damaged_npz_is_refused(tmp_path, small_arrays, damage):
    path = tmp_path / "raw.npz"
    save_npz(path, small_arrays)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "not a zip": b"hello" * 100, "empty": b""}[damage])
    with pytest.raises(UserError, match=r"not a readable \.npz archive"):
        load_mnist(path, normalized=False)


def test_a_pickled_object_array_is_not_loaded(tmp_path, small_arrays):
    path = tmp_path / "raw.npz"
    np.savez(path, **{**small_arrays, "y_test": np.array([{"evil": 1}] * 200, dtype=object)})
    with pytest.raises(UserError, match=r"y_test\.npy: holds Python objects, which are never loaded"):
        load_mnist(path, normalized=False)


def test_the_stage_refuses_bad_data_in_one_line_and_writes_nothing(tmp_path: Path, small_arrays):
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    raw = tmp_path / "data" / "raw" / "mnist.npz"
    save_npz(raw, corrupt(small_arrays, "y_train", small_arrays["y_train"] + 10))
    result = run(["python", "-m", "stages.normalize"], cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: data/raw/mnist.npz: y_train has labels outside 0-9 (max 19)"
    assert not (tmp_path / "data" / "prepared").exists()


def test_fetch_and_normalize_do_not_import_tensorflow():
    code = "import sys, stages.fetch, stages.normalize; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = run(["python", "-c", code], cwd=REPO)
    assert result.stdout.strip() == "False False"
