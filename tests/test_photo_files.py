"""What files the photo readers accept (predict, collect, prepare_own and the web app all load through
mnist_dvc.photo.load), how names are printed, and how predict streams: memory, pipes, batches."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_dvc.commands import predict
from mnist_dvc.errors import UserError
from mnist_dvc.inference import load_reader
from mnist_dvc.photo import load_image, read_photo
from mnist_dvc.reading import read_photos
from tests.conftest import REPO
from tests.helpers.strokes import draw, png_bytes

ALLOWED = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


def command(cwd: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if path:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "mnist_dvc", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("kind", ALLOWED)
def test_every_allowed_format_is_read(kind):
    buffer = io.BytesIO()
    draw("7", 96, 96).convert("RGB").save(buffer, format=kind)
    rgb, _, size = load_image(buffer.getvalue(), f"seven.{kind.lower()}")
    assert size == (96, 96) and rgb.shape == (96, 96, 3)


def test_an_eps_photo_or_sheet_never_starts_ghostscript(tmp_path, stroke_model):
    marker = tmp_path / "gs-ran"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "gs").write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\n")
    (tmp_path / "bin" / "gs").chmod(0o755)
    draw("7", 64, 64).save(tmp_path / "seven.eps", format="EPS")
    shutil.copy(tmp_path / "seven.eps", tmp_path / "seven.png")  # the name does not matter, the bytes do
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    assert subprocess.run(["gs", "--version"], env={"PATH": path}).returncode == 0 and marker.exists()
    marker.unlink()

    result = command(tmp_path, "predict", "seven.eps", "seven.png", "--model", str(stroke_model), path=path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {name}: a PostScript or EPS file; only PNG, JPEG, WebP, GIF, BMP or TIFF images are read"
        for name in ("seven.eps", "seven.png")]
    result = command(tmp_path, "collect", "seven.eps", "--labels", "7", "--into", "own", path=path)
    assert result.returncode == 1 and result.stderr.startswith("error: seven.eps: a PostScript or EPS file")
    assert not marker.exists(), "Ghostscript was started"


@pytest.fixture
def fifo(tmp_path) -> Path:
    os.mkfifo(tmp_path / "pipe.png")
    return tmp_path / "pipe.png"


@pytest.mark.parametrize(("source", "kind"), [("/dev/zero", "a device"), ("/dev/null", "a device"),
                                              ("fifo", "a named pipe (FIFO)")])
def test_a_device_or_a_fifo_as_a_photo_or_a_sheet_is_refused_unread(tmp_path, stroke_model, fifo, source, kind):
    name = str(fifo) if source == "fifo" else source
    result = command(tmp_path, "predict", name, "--model", str(stroke_model))  # a FIFO read would hang: timeout
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {name}: is {kind}, not an image file; it was not read"]
    result = command(tmp_path, "collect", name, "--labels", "7", "--into", "own")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {name}: is {kind}, not an image file; it was not read"]


def test_a_folder_given_as_a_photo_is_refused():
    with pytest.raises(UserError, match="is a folder"):
        load_image(REPO / "docs", "docs")


# --- names printed safely ----------------------------------------------------------------------------

FORGING = "seven\x1b[2J\x1b]0;title\x07\nerror: forged\u202e.png"


def test_control_characters_in_names_are_escaped_in_text_lines_and_errors_but_not_in_json_or_csv(
        tmp_path, stroke_model):
    draw("7", 200, 160).save(tmp_path / FORGING)
    (tmp_path / f"broken{FORGING}").write_bytes(b"not an image")
    text = command(tmp_path, "predict", FORGING, f"broken{FORGING}", "--model", str(stroke_model),
                   "--csv", "rows.csv")
    assert text.returncode == 1
    assert len(text.stdout.splitlines()) == 1 and text.stdout.startswith(
        "seven\\x1b[2J\\x1b]0;title\\x07\\nerror: forged\\u202e.png: 7 (")
    assert text.stderr.splitlines() == [
        "error: brokenseven\\x1b[2J\\x1b]0;title\\x07\\nerror: forged\\u202e.png: not an image in a format read "
        "here; only PNG, JPEG, WebP, GIF, BMP or TIFF images are read"]
    for output in (text.stdout, text.stderr):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    with open(tmp_path / "rows.csv", newline="") as stream:
        assert list(csv.reader(stream))[1][0] == FORGING
    as_json = command(tmp_path, "predict", FORGING, "--model", str(stroke_model), "--json")
    assert json.loads(as_json.stdout)["path"] == FORGING


# --- predict streams -----------------------------------------------------------------------------------

def photo_folder(folder: Path, count: int, size: tuple[int, int] = (1600, 1200)) -> list[Path]:
    """`count` copies of one photo-sized PNG of a drawn 7 on noisy paper."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    paper = Image.fromarray(rng.integers(200, 256, (size[1], size[0]), dtype=np.uint8))
    side = size[1] // 3
    paper.paste(draw("7", side, side), (size[0] // 2 - side // 2, side))
    paper.save(folder / "photo-000.png")
    for index in range(1, count):
        shutil.copy(folder / "photo-000.png", folder / f"photo-{index:03}.png")
    return sorted(folder.iterdir())


def test_predict_piped_into_head_exits_quietly_and_still_writes_the_csv(tmp_path, stroke_model):
    photo_folder(tmp_path / "photos", 6, size=(400, 300))
    script = (f"{sys.executable} -m mnist_dvc predict photos --model {stroke_model} --csv rows.csv | head -1; "
              "echo status ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("photos/photo-000.png: ") and lines[1] == "status 0"
    assert result.stderr == ""
    with open(tmp_path / "rows.csv", newline="") as stream:
        assert len(list(csv.reader(stream))) == 7


def peak_bytes(folder: Path, model: Path, capsys) -> int:
    tracemalloc.start()
    try:
        predict.main([str(folder), "--model", str(model)])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        capsys.readouterr()


def test_memory_while_reading_many_photos_stays_that_of_one(tmp_path, stroke_model, capsys):
    few = peak_bytes(photo_folder(tmp_path / "few", 2)[0].parent, stroke_model, capsys)
    many = peak_bytes(photo_folder(tmp_path / "many", 12)[0].parent, stroke_model, capsys)
    photo = 800 * 600 * 3 * 4  # one photo as kept before: float32 RGB at the working size
    assert many < few + photo, f"{few:,} bytes for 2 photos, {many:,} for 12"


def test_a_photos_probabilities_do_not_depend_on_the_other_photos_in_the_call(stroke_model):
    model = load_reader(stroke_model)
    photos = [(number, read_photo(png_bytes(draw(number, 100 + 60 * len(number), 128)), number).found)
              for number in ("7", "71", "12345", "90")]
    alone = [read_photos(model, [photo])[0] for photo in photos]
    together = read_photos(model, photos)
    reversed_ = read_photos(model, photos[::-1])[::-1]
    for one, two, three in zip(alone, together, reversed_, strict=True):
        assert one.as_dict() == two.as_dict() == three.as_dict()
        assert [d.probability for d in one.digits] == [d.probability for d in two.digits]

