"""The predict command: MNIST-style preprocessing of photos, and its handling of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mnist_dvc.common import UserError
from stages import predict
from tests.conftest import REPO, run
from tests.photos import photograph, write_photos


def seven() -> np.ndarray:
    """A crude 28x28 '7': a bar on top and a slanted stroke, white on black like MNIST."""
    digit = np.zeros((28, 28), np.uint8)
    digit[6:9, 7:21] = 255
    for row in range(9, 23):
        column = 20 - (row - 9) // 2
        digit[row, column - 1:column + 2] = 255
    return digit


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()


def test_a_photo_becomes_the_digit_again_centred_and_20_pixels_tall(tmp_path):
    path = tmp_path / "seven.png"
    photograph(seven(), np.random.default_rng(1)).save(path)
    frame = predict.preprocess(path)
    assert frame.shape == (28, 28) and frame.dtype == np.uint8
    ink_rows = np.flatnonzero(frame.max(axis=1) > 64)
    assert 18 <= ink_rows[-1] - ink_rows[0] + 1 <= 21
    np.testing.assert_allclose(centre_of_mass(frame.astype(float)), [13.5, 13.5], atol=1.0)
    reference = predict.to_mnist_frame(seven() / 255.0, "reference").astype(float)
    correlation = np.corrcoef(frame.ravel().astype(float), reference.ravel())[0, 1]
    assert correlation > 0.8


def test_light_ink_on_dark_paper_is_read_the_same_way(tmp_path):
    dark = tmp_path / "dark.png"
    light = tmp_path / "light.png"
    photo = photograph(seven(), np.random.default_rng(2))
    photo.save(dark)
    Image.fromarray(255 - np.asarray(photo)).save(light)
    assert np.abs(predict.preprocess(dark).astype(int) - predict.preprocess(light).astype(int)).max() <= 40


def test_a_transparent_png_counts_as_white_paper(tmp_path):
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[10:50, 28:33] = (0, 0, 0, 255)  # an opaque black "1" on a transparent background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "one.png")
    frame = predict.preprocess(tmp_path / "one.png")
    assert frame[:, 14].max() > 200 and frame[:, :8].max() == 0


def test_otsu_splits_two_levels():
    values = np.array([10] * 50 + [200] * 50, dtype=np.float32)
    assert 10 <= predict.otsu_threshold(values) < 200


@pytest.mark.parametrize(("content", "expected"), [
    (b"this is not an image", "not a readable image"),
    (b"", "not a readable image"),
])
def test_a_file_that_is_not_an_image_is_refused(tmp_path, content, expected):
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(UserError, match=expected):
        predict.preprocess(path)


@pytest.mark.parametrize("colour", [0, 255, 128])
def test_a_blank_image_has_no_ink(tmp_path, colour):
    path = tmp_path / "blank.png"
    Image.new("L", (80, 80), colour).save(path)
    with pytest.raises(UserError, match="no ink found"):
        predict.preprocess(path)


def test_paper_noise_alone_is_not_ink(tmp_path):
    noise = np.random.default_rng(0).normal(220, 5, (120, 120))
    Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(tmp_path / "paper.png")
    with pytest.raises(UserError, match="no ink found"):
        predict.preprocess(tmp_path / "paper.png")


def test_an_image_over_the_size_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(predict, "MAX_PIXELS", 100 * 100)
    Image.new("L", (101, 100), 255).save(tmp_path / "big.png")
    with pytest.raises(UserError, match="larger than the"):
        predict.preprocess(tmp_path / "big.png")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An (untrained) model of the project's shape, saved the project's way."""
    from mnist_dvc import network, params

    path = tmp_path_factory.mktemp("model") / "model.keras"
    network.save_model(network.build_model(params.TrainParams(hidden_units=(8,))), path)
    return path


def test_bad_files_are_reported_and_the_good_ones_still_classified(tmp_path, tiny_model):
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    write_photos(np.stack([seven(), seven()]), tmp_path / "photos")
    (tmp_path / "photos" / "notes.png").write_text("not an image")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    result = run(["python", "-m", "stages.predict", "photos", "blank.png", "missing.jpg", "--json",
                  "--model", str(tiny_model), "--show-input", "seen"], cwd=tmp_path, check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr
    assert sorted(line.split(":")[1].strip() for line in errors) == ["blank.png", "missing.jpg", "photos/notes.png"]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == ["photos/digit-0000.png", "photos/digit-0001.png"]
    assert all(0 <= row["digit"] <= 9 and len(row["runners_up"]) == 2 for row in rows)
    assert all(0 < row["probability"] <= 1 for row in rows)
    seen = sorted(p.name for p in (tmp_path / "seen").iterdir())
    assert seen == ["digit-0000.png", "digit-0001.png"]
    assert Image.open(tmp_path / "seen" / "digit-0000.png").size == (28, 28)


def test_a_missing_model_is_one_line_and_a_non_zero_exit(tmp_path):
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    photograph(seven(), np.random.default_rng(3)).save(tmp_path / "seven.png")
    result = run(["python", "-m", "stages.predict", "seven.png", "--model", "nowhere.keras"],
                 cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: nowhere.keras: model file not found; run `dvc repro` to train it"


def test_prediction_shares_the_normalize_stages_scaling():
    assert predict.scale_pixels is __import__("stages.normalize", fromlist=["x"]).scale_pixels
