"""The photo benchmark's plan and arithmetic, on hand-made outcomes; and the stage end to end."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from PIL import Image

from mnist_dvc import inference
from mnist_dvc.benchmark import parts
from mnist_dvc.benchmark.figures import (
    CONDITION_COLUMNS,
    Outcome,
    breakdown,
    condition_rows,
    conditions_table,
    figures_document,
    headline,
    summary,
)
from mnist_dvc.files import csv_text, save_npz
from mnist_dvc.mnist import split_validation
from mnist_dvc.reading import Answer, DigitAnswer
from mnist_dvc.render import ALL_CONDITIONS, mnist_glyphs
from stages import photo_benchmark as bench
from tests.conftest import LOCAL_FONTS, REPO, dejavu_fonts, make_small_repo, run, synthetic_mnist
from tests.helpers.params import section

PLAIN = {"pen": "felt", "ink": "black", "paper": "white", "light": "even", "blur": "sharp", "file": "png",
         "sheet": "plain", "optics": "lens", "resolution": "full"}


def outcome(part: str, kind: str, truth: str, read: str, hand: str = "mnist", **conditions: str) -> Outcome:
    digits = tuple(int(d) for d in read.replace(" ", ""))
    status, confidence = ("read", 0.99) if digits else ("no_digits", 0.0)
    return Outcome(f"{part}-{kind}-{truth}", part, kind, hand, truth, read, digits, status, confidence,
                   PLAIN | conditions)


OUTCOMES = [
    outcome("plain", "single", "3", "3"),
    outcome("plain", "single", "4", "4", ink="blue"),
    outcome("plain", "single", "5", "6", ink="blue"),
    outcome("plain", "single", "7", "", light="hard_shadow"),  # no ink found
    outcome("plain", "single", "1", "11", light="hard_shadow"),  # a shadow read as a second digit
    outcome("plain", "number", "123", "123"),
    outcome("plain", "number", "456", "457", ink="blue"),
    outcome("plain", "number", "789", "78", ink="blue"),
    outcome("plain", "number", "2026", "20 26"),  # read as two lines: every digit right, not the number
    outcome("notebook", "single", "8", "8", sheet="ruled"),
    outcome("notebook", "number", "90", "910", sheet="squared"),
    outcome("fonts", "single", "2", "2", hand="schoolbell"),
    outcome("small", "single", "6", "5", optics="defocus"),
    outcome("pages", "page", "12 345 67", "12 345 67"),
    outcome("pages", "page", "12 345 67", "12 346 67"),  # two of three lines exact
    outcome("non_digit", "letters", "", "", hand="schoolbell"),
    outcome("non_digit", "mark", "", "4", hand="marks"),
    outcome("non_digit", "blank", "", "", hand="blank", sheet="ruled"),
    outcome("non_digit", "blank", "", "1000000", hand="blank", sheet="ruled"),
]


def test_the_headline_figures_one_per_part():
    metrics = figures_document(OUTCOMES)
    assert metrics == {"plain_single": 0.4, "plain_number": 0.25, "notebook_single": 1.0, "notebook_number": 0.0,
                       "fonts_single": 1.0, "fonts_number": None, "small_single": 0.0, "pages_exact": 0.5,
                       "lines_exact": 0.8333, "no_digit_not_read": 0.5, "non_digit_not_read": 0.5,
                       "blank_not_read": 0.5, "coverage": metrics["coverage"],
                       "read_accuracy": metrics["read_accuracy"], "ece": metrics["ece"]}
    assert 0 <= metrics["coverage"] <= 1 and 0 <= metrics["ece"] <= 1
    document = json.dumps(metrics, indent=2)
    assert document == json.dumps(figures_document(list(OUTCOMES)), indent=2)
    assert set(headline(metrics)) == {"plain", "notebook", "fonts", "small", "pages", "no_digit", "coverage",
                                      "read_accuracy"}


def test_a_group_is_scored_by_its_kind_of_photo():
    figures = summary(OUTCOMES)
    assert figures["number_count_correct"] == round(3 / 5, 4)
    assert figures["number_digit_accuracy"] == round(9 / 10, 4)  # 123, 457 and 2026: one digit wrong
    assert figures["page_photos"] == 2 and figures["pages_exact"] == 0.5
    assert figures["lines_exact"] == round(5 / 6, 4)
    assert figures["no_digit_photos"] == 4 and figures["not_read"] == 0.5


def test_the_breakdown_has_every_part_every_condition_and_every_hand():
    rows = {(kind, name): figures for kind, name, figures in breakdown(OUTCOMES)}
    assert rows[("all", "")]["photos"] == len(OUTCOMES)
    for name in parts.PARTS:
        assert ("part", name) in rows
    for kind, names in ALL_CONDITIONS.items():
        for name in names:
            assert (kind, name) in rows
    assert rows[("sheet", "ruled")]["single_accuracy"] == 1.0, "conditions are over the photos of digits only"
    assert rows[("ink", "blue")]["single_accuracy"] == 0.5 and rows[("ink", "blue")]["number_exact"] == 0.0
    assert rows[("ink", "pencil")]["single_photos"] == 0 and rows[("ink", "pencil")]["single_accuracy"] is None
    assert rows[("hand", "schoolbell")]["photos"] == 2
    assert rows[("no digit", "blank")]["not_read"] == 0.5


def test_the_breakdown_csv_and_table_have_a_row_per_line_of_it():
    rows = list(csv.reader(io.StringIO(csv_text(CONDITION_COLUMNS, condition_rows(OUTCOMES)))))
    assert tuple(rows[0]) == CONDITION_COLUMNS and len(rows) == 1 + len(breakdown(OUTCOMES))
    by_name = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_name["ink: blue"]["single_accuracy"] == "0.5" and by_name["ink: pencil"]["single_accuracy"] == ""
    table = conditions_table(OUTCOMES, 0.98).splitlines()
    assert table[0].startswith("The plain part's single digits as MNIST gives them") and "98.0%" in table[0]
    assert len(table) == 4 + len(breakdown(OUTCOMES))
    assert "| part | plain | 9 | 5 | 40.0% | 4 | 25.0% | 75.0% | 0 | - | - | 0 | - |" in table


def digit_images(count: int = 50) -> tuple[np.ndarray, np.ndarray]:
    images = np.arange(count, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    return images, (np.arange(count) % 10).astype(np.uint8)


FONTS = {family: str(dejavu_fonts() / f"{family}.ttf") for family in LOCAL_FONTS["test"]}


def test_the_plan_is_seeded_and_each_part_has_its_photos():
    images, labels = digit_images()
    config = section("photo_benchmark", single_digits=30, numbers=12, seed=1, notebook_single=4, notebook_numbers=2,
                                  fonts_single=4, fonts_numbers=2, small_single=6, pages=3, non_digit=10,
                                  blank_pages=3)
    jobs = parts.plan(config, images, labels, FONTS, split=0)
    counts = {name: sum(job.part == name for job in jobs) for name in parts.PARTS}
    assert counts == {"plain": 42, "notebook": 6, "fonts": 6, "small": 6, "pages": 3, "non_digit": 13}
    plain = [job for job in jobs if job.part == "plain"]
    assert [job.kind for job in plain] == ["single"] * 30 + ["number"] * 12
    assert {len(job.truth) for job in plain[30:]} <= {3, 4, 5}
    for job in jobs:
        if job.part != "fonts" and job.truth:
            assert [int(image[0, 0]) % 10 for image in job.digit_images] == [int(d) for d in job.truth.replace(" ", "")]
    assert len({int(job.digit_images[0, 0, 0]) for job in plain[:30]}) == 30, "single digits are all different"
    assert len({job.seed for job in jobs}) == len(jobs)
    assert {job.hand for job in jobs if job.part == "fonts"} == set(FONTS)
    assert all(not job.truth for job in jobs if job.part == "non_digit")
    assert {dict(job.classes)["sheet"] for job in jobs if job.kind == "blank"} == {"plain", "ruled", "squared"}
    assert all(all(not g.symbol.isdigit() for line in job.lines for g in line) for job in jobs
               if job.kind in ("letters", "signs")), "no digit among the letters and signs"
    again = parts.plan(config, images, labels, FONTS, split=0)
    assert [(job.name, job.truth, job.seed) for job in again] == [(job.name, job.truth, job.seed) for job in jobs]
    validation = parts.plan(config, images, labels, FONTS, split=1)
    assert [job.seed for job in validation if job.part == "notebook"] != [job.seed for job in jobs
                                                                         if job.part == "notebook"]


def test_the_plain_part_keeps_the_photos_the_benchmark_always_made():
    """The first benchmark's plan: a permutation from [seed, 0], number lengths drawn after it, singles
    first; seeds (seed, 1, i) and (seed, 2, i)."""
    images, labels = digit_images()
    config = section("photo_benchmark", single_digits=5, numbers=3, seed=9)
    rng = np.random.default_rng([9, 0])
    order = rng.permutation(50)
    lengths = rng.integers(3, 6, size=3)
    plain = [job for job in parts.plan(config, images, labels, {}, 0) if job.part == "plain"]
    assert [int(job.digit_images[0, 0, 0]) for job in plain[:5]] == list(order[:5])
    assert [len(job.truth) for job in plain[5:]] == list(lengths)
    assert plain[0].seed == (9, 1, 0) and plain[5].seed == (9, 2, 0)


@pytest.mark.parametrize("digits", ["test", "validation"])
def test_the_photos_show_test_digits_and_families_or_the_validation_ones(tmp_path, monkeypatch, digits):
    arrays = synthetic_mnist(train=300, test=50)
    save_npz(tmp_path / bench.RAW_MNIST, arrays)
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["train"].update(validation_fraction=0.2, seed=5)
    document["fonts"].update(LOCAL_FONTS)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.chdir(tmp_path)
    config = section("photo_benchmark", digits=digits)
    images, labels = bench.benchmark_digits(config)
    fonts = bench.benchmark_fonts(config, dejavu_fonts())
    if digits == "test":
        assert np.array_equal(images, arrays["x_test"]) and np.array_equal(labels, arrays["y_test"])
        assert sorted(fonts) == sorted(LOCAL_FONTS["test"])
    else:
        _, expected = split_validation(300, 0.2, 5)
        assert np.array_equal(images, arrays["x_train"][expected])
        assert sorted(fonts) == LOCAL_FONTS["validation"]
    assert not set(fonts) & set(LOCAL_FONTS["train"])


def test_a_photo_with_no_ink_is_not_read(monkeypatch):
    class Model:
        network = SimpleNamespace(outputs=11)
        calibration = inference.Calibration(1.0, 0.5, inference.NO_VIEWS)

        def probabilities(self, images):
            raise AssertionError("nothing to classify")

    monkeypatch.setitem(bench._reader, "model", Model())
    job = parts.Job("single-0000", "plain", "single", (0, 1, 0), (mnist_glyphs([np.zeros((28, 28), np.uint8)], [7]),))
    result, answer = bench.read(job)
    assert result.truth == "7" and result.read == "" and not result.answered and not result.correct
    assert result.conditions["ink"] in ALL_CONDITIONS["ink"] and answer.digits == []
    blank = parts.Job("blank-0000", "non_digit", "blank", (0, 7, 0), (), (("sheet", "plain"),), hand="blank")
    result, _ = bench.read(blank)
    assert result.correct and not result.answered


def test_a_failure_tile_shows_the_photo_the_boxes_and_the_frames():
    job = parts.Job("number-0001", "plain", "number", (0, 2, 1),
                    (mnist_glyphs([np.eye(28, dtype=np.uint8) * 255] * 3, [1, 1, 1]),))
    frame = np.zeros((28, 28), np.uint8)
    answer = Answer("number-0001", [DigitAnswer(7, 0.9, True, [], (10, 10, 50, 80), 0, frame)] * 2)
    tile = bench.failure_tile(bench.render(job), answer)
    assert tile.size[0] == bench.TILE[0]
    assert (np.asarray(tile) == (220, 30, 30)).all(axis=2).any(), "the boxes read are drawn in red"
    sheet = bench.contact_sheet([tile] * 5, columns=4)
    assert sheet.size == (4 * (tile.width + 6), 2 * (tile.height + 6))
    assert isinstance(bench.contact_sheet([]), Image.Image)


def test_the_failures_shown_come_from_every_part():
    chosen = bench.first_failures(OUTCOMES, 4)
    assert len(chosen) == 4 and len({OUTCOMES[index].part for index in chosen}) == 4
    assert all(not OUTCOMES[index].correct for index in chosen)


def test_the_28x28_reference_scores_the_plain_single_digits_as_mnist_gives_them():
    class Model:  # answers the digit written in each image's top-left pixel
        def probabilities(self, images):
            return np.eye(11)[np.round(np.asarray(images)[:, 0, 0] * 255).astype(int) % 10] * 0.9 + 0.01

    def job(part: str, kind: str, shown: list[int], labels: list[int]) -> parts.Job:
        digits = np.zeros((len(shown), 28, 28), np.uint8)
        digits[:, 0, 0] = shown
        return parts.Job(kind, part, kind, (0,), (mnist_glyphs(digits, labels),))

    jobs = [job("plain", "single", [3], [3]), job("plain", "single", [4], [4]), job("plain", "single", [5], [6]),
            job("plain", "number", [1, 1, 1], [2, 2, 2]), job("small", "single", [1], [2])]
    assert bench.mnist_accuracy(Model(), jobs) == pytest.approx(2 / 3)


@pytest.mark.slow
def test_the_stage_runs_end_to_end_in_a_small_repository(tmp_path):
    repo = make_small_repo(tmp_path, synthetic_mnist())
    result = run(["dvc", "repro", "photo_benchmark"], cwd=repo, timeout=900)
    assert "Running stage 'fonts'" in result.stdout
    metrics = json.loads((repo / "reports/photo_metrics.json").read_text())
    assert set(metrics) == {"plain", "notebook", "fonts", "small", "pages", "no_digit", "coverage", "read_accuracy"}
    assert all(value is None or 0 <= value <= 1 for value in metrics.values())
    assert sorted(path.name for path in (repo / "data/raw/fonts").iterdir()) == sorted(
        f"{family}.ttf" for split in LOCAL_FONTS.values() for family in split)
    rows = list(csv.DictReader(io.StringIO((repo / "reports/photo_conditions.csv").read_text())))
    assert {row["condition"] for row in rows} >= {f"part: {name}" for name in parts.PARTS}
    assert Image.open(repo / "reports/photo_failures.png").size[0] > 0
