"""The predict command: its outputs (text, JSON, CSV, pictures) and its handling of bad input and paths."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from mnist_dvc.mnist import NOT_A_DIGIT
from tests.conftest import REPO, run
from tests.helpers.params import section
from tests.helpers.photos import photograph, write_photos


def seven() -> np.ndarray:
    """A crude 28x28 '7': a bar on top and a slanted stroke, white on black like MNIST."""
    digit = np.zeros((28, 28), np.uint8)
    digit[6:9, 7:21] = 255
    for row in range(9, 23):
        column = 20 - (row - 9) // 2
        digit[row, column - 1:column + 2] = 255
    return digit


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An (untrained) model of the project's shape, saved the project's way, that never answers "not a
    digit" (its random weights would, for some frames, and these tests are about the digits' answers)."""
    from mnist_dvc import network

    path = tmp_path_factory.mktemp("model") / "model.keras"
    model = network.build_model(section("train", hidden_units=(8,)))
    weights, biases = model.layers[-1].get_weights()
    biases[NOT_A_DIGIT] = -100.0
    model.layers[-1].set_weights([weights, biases])
    network.write_model(model, path)
    return path


def test_bad_files_are_reported_and_the_good_ones_still_classified(tmp_path, tiny_model):
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    write_photos(np.stack([seven(), seven()]), tmp_path / "photos")
    (tmp_path / "photos" / "notes.png").write_text("not an image")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    result = run(["python", "-m", "mnist_dvc", "predict", "photos", "blank.png", "missing.jpg", "--json",
                  "--model", str(tiny_model), "--show-input", "seen"], cwd=tmp_path, check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr
    assert sorted(line.split(":")[1].strip() for line in errors) == ["missing.jpg", "photos/notes.png"]
    assert result.stderr.splitlines()[-2:] == errors, "the errors come last, after the model's loading"
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == ["photos/digit-0000.png", "photos/digit-0001.png", "blank.png"]
    assert all(0 <= row["digit"] <= 9 and len(row["runners_up"]) == 2 for row in rows[:2])
    assert all(0 < row["probability"] <= 1 and row["status"] in ("read", "unsure") for row in rows[:2])
    # a blank photo is a result, not an error
    assert (rows[2]["status"], rows[2]["number"], rows[2]["digits"]) == ("no_digits", "", [])
    seen = sorted(p.name for p in (tmp_path / "seen").iterdir())
    assert seen == ["blank-boxes.png", "digit-0000-boxes.png", "digit-0000.png", "digit-0001-boxes.png",
                    "digit-0001.png"]
    assert Image.open(tmp_path / "seen" / "digit-0000.png").size == (28, 28)


def test_a_missing_model_is_one_line_and_a_non_zero_exit(tmp_path):
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    photograph(seven(), np.random.default_rng(3)).save(tmp_path / "seven.png")
    result = run(["python", "-m", "mnist_dvc", "predict", "seven.png", "--model", "nowhere.keras"],
                 cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: nowhere.keras: model file not found; run `dvc repro` to train it"


def test_prediction_shares_the_normalize_stages_scaling():
    from mnist_dvc import reading
    from stages import normalize

    assert reading.scale_pixels is normalize.scale_pixels


def command(tmp_path, *args: str):
    for package in ("stages", "mnist_dvc"):
        if not (tmp_path / package).exists():
            (tmp_path / package).symlink_to(REPO / package)
    return run(["python", "-m", "mnist_dvc", "predict", *args], cwd=tmp_path, check=False)


def number_photo(path) -> None:
    """Three MNIST-style 7s side by side, as one photo."""
    row = np.concatenate([np.pad(seven(), ((4, 4), (4, 4)))] * 3, axis=1)
    Image.fromarray(255 - np.kron(row, np.ones((4, 4), np.uint8))).save(path)


def test_a_number_is_read_as_digits_with_boxes_in_json_text_and_pictures(tmp_path, tiny_model):
    number_photo(tmp_path / "777.png")
    result = command(tmp_path, "777.png", "--json", "--model", str(tiny_model), "--show-input", "seen")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"path", "status", "number", "digit", "probability", "digits"}
    assert answer["digit"] is None and answer["probability"] is None
    assert len(answer["number"]) == 3 and len(answer["digits"]) == 3
    lefts = [digit["box"][0] for digit in answer["digits"]]
    assert lefts == sorted(lefts) and all(len(digit["box"]) == 4 for digit in answer["digits"])
    assert all(set(digit) >= {"digit", "probability", "runners_up", "box"} for digit in answer["digits"])
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == [
        "777-1.png", "777-2.png", "777-3.png", "777-boxes.png"]
    text = command(tmp_path, "777.png", "--model", str(tiny_model))
    assert text.stdout.startswith(f"777.png: {answer['number']} (3 digits: ")


def test_csv_rows_survive_commas_quotes_and_newlines_in_paths(tmp_path, tiny_model):
    name = 'a, "quoted"\nname.png'
    photograph(seven(), np.random.default_rng(4)).save(tmp_path / name)
    result = command(tmp_path, name, "--model", str(tiny_model), "--csv", "out/rows.csv")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "out" / "rows.csv", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["path", "status", "number", "digit", "probability"]
    assert rows[1][0] == name and rows[1][1] in ("read", "unsure") and rows[1][2] == rows[1][3]


@pytest.mark.parametrize("args", [
    ["--runners-up", "-1"], ["--runners-up", "x"], ["--runners-up", "10"], ["--no-such-option"], [],
])
def test_usage_mistakes_are_one_error_line_and_exit_1(tmp_path, args):
    result = command(tmp_path, *(["seven.png"] if args else []), *args)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()][-1].startswith("error: ")
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr


@pytest.mark.parametrize(("option", "make"), [
    ("--csv", lambda tmp: (tmp / "adir").mkdir() or "adir"),
    ("--csv", lambda tmp: (tmp / "afile").write_text("x") and "afile/rows.csv"),
    ("--show-input", lambda tmp: (tmp / "afile").write_text("x") and "afile"),
    ("--show-input", lambda tmp: (tmp / "afile").write_text("x") and "afile/seen"),
])
def test_output_paths_that_cannot_be_written_are_refused_before_any_work(tmp_path, option, make):
    photograph(seven(), np.random.default_rng(5)).save(tmp_path / "seven.png")
    target = make(tmp_path)
    result = command(tmp_path, "seven.png", option, target, "--model", "nowhere.keras")
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"error: {option} ") and "Traceback" not in result.stderr


def test_an_unreadable_folder_is_reported_and_the_others_still_read(tmp_path, tiny_model):
    photograph(seven(), np.random.default_rng(6)).save(tmp_path / "seven.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who can read any folder")
        result = command(tmp_path, "locked", "seven.png", "--model", str(tiny_model))
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1
    assert "error: locked: cannot read" in result.stderr and result.stdout.startswith("seven.png: ")
