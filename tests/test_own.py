"""Labelled own digits: the layout, content-hash naming, the sheet command, the held-out split, mixing
into training, and the prepare_own / evaluate_own stages with no samples and with some."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from mnist_dvc import own
from mnist_dvc.commands import collect
from mnist_dvc.errors import UserError
from mnist_dvc.files import save_npz
from stages import evaluate_own, prepare_own
from tests.conftest import REPO
from tests.helpers.hand import sheet
from tests.helpers.params import section


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (8, 8), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def write_sheet(path: Path, lines: list[str], seed: int = 0) -> Path:
    sheet(lines, seed).save(path, quality=90)
    return path


@pytest.fixture
def in_project(tmp_path, monkeypatch) -> Path:
    """An empty working folder with the project's params.yaml, as the stages see it."""
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- layout and naming ------------------------------------------------------------------------------

def test_only_images_in_digit_folders_are_labelled_samples(tmp_path):
    for name in ("3/a.png", "3/b.JPG", "0/c.png", "3/notes.txt", "x/d.png", "12/e.png", "f.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    samples = [(path.relative_to(tmp_path).as_posix(), digit) for path, digit in own.labelled_samples(tmp_path)]
    assert samples == [("0/c.png", 0), ("3/a.png", 3), ("3/b.JPG", 3)]
    assert own.sample_counts(tmp_path) == {0: 1, 1: 0, 2: 0, 3: 2, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0}


def test_a_missing_folder_has_no_samples(tmp_path):
    assert own.labelled_samples(tmp_path / "none") == []


def test_a_sample_is_named_by_its_content_and_never_stored_twice(tmp_path):
    path, saved, _ = own.save_sample(tmp_path, 7, png(1))
    assert saved and path.parent == tmp_path / "7" and len(path.stem) == 64 and path.read_bytes() == png(1)
    assert own.save_sample(tmp_path, 7, png(1)) == (path, False, None)
    assert own.save_sample(tmp_path, 7, png(2))[1]
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == sorted(
        own.sample_path(tmp_path, 7, data).name for data in (png(1), png(2)))


def test_a_sample_label_outside_0_9_is_refused(tmp_path):
    with pytest.raises(ValueError):
        own.save_sample(tmp_path, 10, png(1))


# --- the held-out split -------------------------------------------------------------------------------

def names_and_labels(per_digit: dict[int, int]) -> tuple[list[str], np.ndarray]:
    labels = np.array([digit for digit, count in per_digit.items() for _ in range(count)], np.uint8)
    return [f"data/own/{digit}/{index}.png" for index, digit in enumerate(labels)], labels


def test_the_held_out_share_is_taken_per_digit():
    names, labels = names_and_labels({0: 10, 1: 3, 2: 1, 5: 7})
    mask = own.holdout_mask(names, labels, 0.5, seed=0)
    assert {digit: int(mask[labels == digit].sum()) for digit in (0, 1, 2, 5)} == {0: 5, 1: 2, 2: 1, 5: 4}


def test_the_split_is_seeded_and_does_not_depend_on_order():
    names, labels = names_and_labels({digit: 20 for digit in range(10)})
    mask = own.holdout_mask(names, labels, 0.5, seed=3)
    assert np.array_equal(mask, own.holdout_mask(names, labels, 0.5, seed=3))
    assert not np.array_equal(mask, own.holdout_mask(names, labels, 0.5, seed=4))
    reverse = own.holdout_mask(names[::-1], labels[::-1], 0.5, seed=3)
    assert np.array_equal(reverse[::-1], mask)


def test_adding_samples_keeps_old_held_out_samples_held_out_or_moves_at_most_one():
    names, labels = names_and_labels({4: 20})
    before = set(np.array(names)[own.holdout_mask(names, labels, 0.5, 0)])
    more = [*names, *(f"data/own/4/new-{i}.png" for i in range(2))]
    after = set(np.array(more)[own.holdout_mask(more, np.full(22, 4, np.uint8), 0.5, 0)])
    assert len(before - after) <= 1


# --- mixing into training ---------------------------------------------------------------------------

def test_copies_make_up_the_asked_share_of_training_examples():
    frames = np.random.default_rng(0).random((20, 28, 28)).astype(np.float32)
    labels = (np.arange(20) % 10).astype(np.uint8)
    images, copied = own.training_copies(frames, labels, 54_000, 0.02, seed=1)
    assert len(copied) == round(54_000 * 0.02 / 0.98)
    assert images.shape == (len(copied), 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert np.ptp(np.bincount(copied, minlength=10)) <= 2  # every sample (two per digit) repeated about as often
    again, _ = own.training_copies(frames, labels, 54_000, 0.02, seed=1)
    assert np.array_equal(images, again)
    assert not np.array_equal(images[:20], frames)  # distorted, not plain copies


def test_no_samples_or_a_zero_share_gives_no_copies():
    assert own.copies_needed(0, 54_000, 0.1) == 0
    assert own.copies_needed(30, 54_000, 0.0) == 0
    assert own.copies_needed(30, 100, 0.01) == 30  # at least each sample once


# --- the sheet command --------------------------------------------------------------------------------

def test_a_sheet_is_cut_into_labelled_samples_and_collecting_it_again_saves_nothing(tmp_path, capsys):
    image = write_sheet(tmp_path / "sheet.jpg", ["0123456789", "0123456789"])
    into = tmp_path / "own"
    collect.main([str(image), "--labels", "0123456789", "--repeat", "2", "--into", str(into)])
    assert own.sample_counts(into) == dict.fromkeys(range(10), 2)
    assert "saved 20 new samples" in capsys.readouterr().out
    collect.main([str(image), "--labels", "0123456789", "--into", str(into)])
    assert "saved 0 new samples" in capsys.readouterr().out
    assert len(own.labelled_samples(into)) == 20


def test_each_saved_crop_reads_back_as_its_one_digit(tmp_path):
    from mnist_dvc.photo import read_photo

    image = write_sheet(tmp_path / "sheet.png", ["4071"])
    collect.main([str(image), "--labels", "4071", "--into", str(tmp_path / "own")])
    for path, _ in own.labelled_samples(tmp_path / "own"):
        assert len(read_photo(path, str(path)).digits) == 1


@pytest.mark.parametrize(("lines", "labels", "repeat", "message"), [
    (["0123456789"], "012345678", None, r"line 1 has 10 digits, expected 9"),
    (["0123456789", "01234567"], "0123456789", None, r"line 2 has 8 digits, expected 10"),
    (["0123456789"], "0123456789", 3, r"found 1 line\(s\) of digits \(10 digits\), expected 3 lines"),
])
def test_a_sheet_that_does_not_match_its_labels_saves_nothing(tmp_path, lines, labels, repeat, message):
    image = write_sheet(tmp_path / "sheet.png", lines)
    argv = [str(image), "--labels", labels, "--into", str(tmp_path / "own")]
    with pytest.raises(UserError, match=message + ".*nothing saved"):
        collect.main(argv + (["--repeat", str(repeat)] if repeat else []))
    assert not (tmp_path / "own").exists()


def test_a_blank_sheet_saves_nothing(tmp_path):
    Image.new("RGB", (400, 300), (235, 232, 225)).save(tmp_path / "blank.png")
    with pytest.raises(UserError, match="no digits found"):
        collect.main([str(tmp_path / "blank.png"), "--labels", "0123", "--into", str(tmp_path / "own")])
    assert not (tmp_path / "own").exists()


def test_a_dry_run_saves_nothing(tmp_path, capsys):
    image = write_sheet(tmp_path / "sheet.png", ["123"])
    collect.main([str(image), "--labels", "123", "--into", str(tmp_path / "own"), "--dry-run"])
    assert "3 digits match" in capsys.readouterr().out
    assert not (tmp_path / "own").exists()


@pytest.mark.parametrize("argv", [["x.png", "--labels", "12a"], ["x.png", "--labels", "12", "--repeat", "0"],
                                  ["missing.png", "--labels", "12"]])
def test_command_line_mistakes_are_one_error_line(tmp_path, argv):
    result = subprocess.run([sys.executable, "-m", "mnist_dvc", "collect", *argv], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


# --- the stages ---------------------------------------------------------------------------------------

def test_with_no_samples_the_stages_write_no_score_and_nothing_fails(in_project):
    prepare_own.main()
    for path in (prepare_own.TRAIN_SET, prepare_own.HOLDOUT_SET):
        assert len(own.load_set(path)["y"]) == 0
    evaluate_own.main()  # no model needed: there is nothing to score
    assert json.loads(evaluate_own.METRICS.read_text()) == {}
    assert evaluate_own.PREDICTIONS.read_text() == "path,actual,predicted\n"


def set_own_fraction(folder: Path, fraction: float) -> None:
    document = yaml.safe_load((folder / "params.yaml").read_text())
    document["train"]["own_data_fraction"] = fraction
    (folder / "params.yaml").write_text(yaml.safe_dump(document))


def test_no_sample_is_both_trained_on_and_scored(in_project):
    collect.main([str(write_sheet(in_project / "s.png", ["0123456789"] * 3)), "--labels", "0123456789"])
    (own.OWN / "3" / "broken.png").write_bytes(b"not an image")  # skipped with a warning
    set_own_fraction(in_project, 0.05)
    prepare_own.main()
    trained, held = own.load_set(prepare_own.TRAIN_SET), own.load_set(prepare_own.HOLDOUT_SET)
    assert not set(trained["names"]) & set(held["names"])
    assert len(trained["y"]) + len(held["y"]) == 30
    assert np.bincount(held["y"], minlength=10).tolist() == [2] * 10  # ceil(3 x 0.5) of each digit


def test_with_the_param_off_the_training_share_stays_empty(in_project):
    collect.main([str(write_sheet(in_project / "s.png", ["0123456789"])), "--labels", "0123456789"])
    prepare_own.main()
    assert len(own.load_set(prepare_own.TRAIN_SET)["y"]) == 0
    assert len(own.load_set(prepare_own.HOLDOUT_SET)["y"]) == 10


def test_scoring_some_samples_writes_accuracy_and_a_confusion_csv(in_project):
    from mnist_dvc import network

    frames = np.zeros((4, 28, 28), np.uint8)
    frames[:, 10:18, 12:16] = 255
    save_npz(prepare_own.HOLDOUT_SET, {"x": frames, "y": np.array([1, 1, 7, 7], np.uint8),
                                       "names": np.array([f"data/own/{d}/{i}.png" for i, d in enumerate("1177")])})
    model = network.build_model(section("train", hidden_units=(4,)))
    evaluate_own.MODEL.parent.mkdir(parents=True, exist_ok=True)
    network.write_model(model, evaluate_own.MODEL)
    evaluate_own.main()
    metrics = json.loads(evaluate_own.METRICS.read_text())
    assert list(metrics) == ["accuracy"] and 0 <= metrics["accuracy"] <= 1
    rows = evaluate_own.PREDICTIONS.read_text().splitlines()
    assert rows[0] == "path,actual,predicted" and len(rows) == 5
    assert rows[1].startswith("data/own/1/0.png,1,")


def test_the_own_metrics_are_one_column_the_accuracy():
    metrics = evaluate_own.metrics_document(np.array([0, 0, 3, 3]), np.array([0, 8, 3, 3]))
    assert metrics == {"accuracy": 0.75}


def test_the_own_data_stage_makes_the_folder_with_its_readme(in_project):
    from stages import own_data

    own_data.main()
    assert (own.OWN / "README.md").read_text() == own.OWN_README
    assert own.labelled_samples() == []
