"""data/own/ holds plain image files only: links, FIFOs and devices stop the own_data stage before DVC
stores anything, odd folders are named, and broken images are warnings whether labelled or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_dvc.errors import UserError
from stages import own_data
from tests.conftest import REPO, make_small_repo, run, synthetic_mnist
from tests.helpers.strokes import draw

SECRET = "a-secret-line-that-must-never-reach-the-cache"


@pytest.fixture
def own(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "own" / "3").mkdir(parents=True)
    draw("3", 64, 64).save(tmp_path / "data" / "own" / "3" / "good.png")
    return tmp_path / "data" / "own"


@pytest.mark.parametrize(("make", "kind"), [
    (lambda own: (own / "3" / "x.png").symlink_to("/etc/passwd"), "a symbolic link to /etc/passwd"),
    (lambda own: (own / "7").symlink_to("/etc"), "a symbolic link to /etc"),
    (lambda own: os.mkfifo(own / "3" / "pipe.png"), "a named pipe (FIFO)"),
    (lambda own: (own / "3" / "gone.png").symlink_to(own / "nowhere.png"), "a symbolic link to"),
])
def test_links_fifos_and_devices_in_data_own_stop_the_stage_in_one_line(own, make, kind):
    make(own)
    with pytest.raises(UserError, match="DVC must not store") as raised:
        own_data.main()
    assert kind in str(raised.value) and "\n" not in str(raised.value)
    assert not (own / "README.md").exists()


def test_data_own_itself_a_link_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "own").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserError, match=r"data/own \(a symbolic link to"):
        own_data.main()


def test_folders_that_are_not_a_digit_are_named_in_a_warning(own, capsys):
    for name in ("x", "12", "seven\x1b[2J"):
        (own / name).mkdir()
    own_data.main()
    warnings = capsys.readouterr().err.splitlines()
    assert warnings == [f"warning: data/own/{name}/ is not a digit folder 0-9: its images are neither labelled "
                        "samples nor classified" for name in ("12", "seven\\x1b[2J", "x")]


def test_a_file_that_is_not_an_image_stops_the_stage(own):
    (own / "3" / "notes.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(UserError, match=r"data/own/3/notes.png \(not an image\)"):
        own_data.main()


def test_a_broken_unlabelled_image_warns_like_a_broken_labelled_one(own, stroke_model, capsys):
    broken = (own / "3" / "good.png").read_bytes()[:60]  # a PNG's header, cut off
    (own / "3" / "broken.png").write_bytes(broken)
    (own / "broken.png").write_bytes(broken)
    own_data.main()  # damaged images are not the stage's to refuse
    capsys.readouterr()
    from stages.prepare_own import read_samples

    read_samples([(Path("data/own/3/broken.png"), 3)])
    labelled = capsys.readouterr().err.strip()
    result = subprocess.run([sys.executable, "-m", "mnist_dvc", "predict", "data/own", "--skip-unreadable",
                             "--model", str(stroke_model)], cwd=own.parents[1], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert result.returncode == 0
    unlabelled = result.stderr.strip()
    assert labelled.startswith("warning: skipped: data/own/3/broken.png: not a readable image")
    assert unlabelled == labelled.replace("data/own/3/", "data/own/")


@pytest.mark.slow
def test_dvc_repro_with_a_link_in_data_own_fails_and_stores_nothing(tmp_path):
    repo = make_small_repo(tmp_path, synthetic_mnist())
    run(["dvc", "repro", "own_data"], cwd=repo)
    lock = (repo / "dvc.lock").read_text()
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (repo / "data" / "own" / "3").mkdir()
    (repo / "data" / "own" / "3" / "x.png").symlink_to(secret)

    result = run(["dvc", "repro", "own_data"], cwd=repo, check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    # DVC has replaced the link by a copy of what it points to before the stage ran (it "unprotects" a
    # persisted output); the stage refuses that copy, so the failed run records nothing.
    assert len(errors) == 1 and "data/own/3/x.png (not an image)" in errors[0], result.stderr
    cached = [path for path in (repo / ".dvc" / "cache").rglob("*") if path.is_file()]
    assert not [path for path in cached if SECRET.encode() in path.read_bytes()], "the link's target was cached"
    assert (repo / "dvc.lock").read_text() == lock
