"""The photo benchmark's plan and arithmetic, on hand-made outcomes."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from mnist_dvc import inference
from mnist_dvc.files import csv_text, save_npz
from mnist_dvc.mnist import split_validation
from mnist_dvc.reading import Answer, DigitAnswer
from mnist_dvc.render import CONDITIONS
from stages import photo_benchmark as bench
from tests.conftest import REPO, synthetic_mnist
from tests.helpers.params import section

PLAIN = {"pen": "felt", "ink": "black", "paper": "white", "light": "even", "blur": "sharp", "file": "png"}


def outcome(kind: str, truth: str, read: str, **conditions: str) -> bench.Outcome:
    digits = tuple(int(d) for d in read.replace(" ", ""))
    return bench.Outcome(f"{kind}-{truth}", kind, truth, read, digits, PLAIN | conditions)


OUTCOMES = [
    outcome("single", "3", "3"),
    outcome("single", "4", "4", ink="blue"),
    outcome("single", "5", "6", ink="blue"),
    outcome("single", "7", "", light="hard_shadow"),  # no ink found
    outcome("single", "1", "11", light="hard_shadow"),  # a shadow read as a second digit
    outcome("number", "123", "123"),
    outcome("number", "456", "457", ink="blue"),
    outcome("number", "789", "78", ink="blue"),
    outcome("number", "2026", "20 26"),  # read as two lines: every digit right, not the number
]


def test_the_headline_figures():
    metrics = bench.metrics_document(OUTCOMES, 0.98)
    assert metrics["single_photos"] == 5 and metrics["single_accuracy"] == 0.4
    assert metrics["number_photos"] == 4 and metrics["number_exact"] == 0.25
    assert metrics["number_count_correct"] == 0.75
    assert metrics["number_digit_accuracy"] == round(9 / 10, 4)  # of 123, 457 and 2026: one digit wrong
    assert metrics["no_ink"] == 1
    assert metrics["single_accuracy_28x28"] == 0.98


def test_the_breakdown_by_condition():
    conditions = bench.by_condition(OUTCOMES)
    assert set(conditions) == set(CONDITIONS)
    for kind, names in CONDITIONS.items():
        assert list(conditions[kind]) == list(names)
        assert sum(figures["single_photos"] for figures in conditions[kind].values()) == 5
    assert conditions["ink"]["blue"]["single_accuracy"] == 0.5
    assert conditions["ink"]["blue"]["number_exact"] == 0.0
    assert conditions["ink"]["blue"]["number_count_correct"] == 0.5
    assert conditions["light"]["hard_shadow"]["single_accuracy"] == 0.0
    assert conditions["light"]["hard_shadow"]["number_photos"] == 0
    assert conditions["light"]["hard_shadow"]["number_exact"] is None
    assert conditions["ink"]["pencil"] == {"single_photos": 0, "single_accuracy": None, "number_photos": 0,
                                           "number_exact": None, "number_count_correct": None,
                                           "number_digit_accuracy": None}


def test_the_metrics_are_the_headline_only_and_the_same_bytes_each_time():
    first = json.dumps(bench.metrics_document(OUTCOMES, 0.98), indent=2)
    assert first == json.dumps(bench.metrics_document(list(OUTCOMES), 0.98), indent=2)
    assert set(json.loads(first)) == {"single_photos", "single_accuracy", "number_photos", "number_exact",
                                      "number_count_correct", "number_digit_accuracy", "single_accuracy_28x28",
                                      "no_ink"}


def test_the_breakdown_csv_has_a_row_per_class_and_empty_cells_for_no_photos():
    rows = list(csv.reader(io.StringIO(csv_text(bench.CONDITION_COLUMNS, bench.condition_rows(OUTCOMES)))))
    assert tuple(rows[0]) == bench.CONDITION_COLUMNS
    assert len(rows) == 1 + sum(len(names) for names in CONDITIONS.values())
    by_name = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_name["ink: blue"]["single_accuracy"] == "0.5" and by_name["ink: blue"]["number_exact"] == "0.0"
    assert by_name["light: hard_shadow"]["number_exact"] == "" and by_name["ink: pencil"]["single_photos"] == "0"


def test_the_table_has_a_row_per_class():
    table = bench.conditions_table(OUTCOMES)
    lines = table.splitlines()
    assert len(lines) == 2 + 1 + sum(len(names) for names in CONDITIONS.values())
    assert "| all |  | 5 | 40.0% | 4 | 25.0% | 75.0% |" in lines
    assert "| ink | pencil | 0 | - | 0 | - | - |" in lines


def test_the_plan_is_seeded_and_gives_each_photo_its_digits():
    images = np.arange(50, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = (np.arange(50) % 10).astype(np.uint8)
    config = section("photo_benchmark", single_digits=30, numbers=12, number_digits=(3, 5), seed=1)
    jobs = bench.plan(config, images, labels)
    assert [job.kind for job in jobs] == ["single"] * 30 + ["number"] * 12
    assert all(len(job.labels) == 1 for job in jobs[:30])
    assert {len(job.labels) for job in jobs[30:]} <= {3, 4, 5}
    for job in jobs:
        assert [int(image[0, 0]) % 10 for image in job.digits] == list(job.labels)
    assert len({int(job.digits[0, 0, 0]) for job in jobs[:30]}) == 30, "single digits are all different"
    assert len({job.seed for job in jobs}) == len(jobs)
    again = bench.plan(config, images, labels)
    assert [(job.name, job.labels, job.seed) for job in again] == [(job.name, job.labels, job.seed) for job in jobs]
    other = bench.plan(section("photo_benchmark", single_digits=30, numbers=12, seed=2), images, labels)
    assert [job.labels for job in other] != [job.labels for job in jobs]


@pytest.mark.parametrize("digits", ["test", "validation"])
def test_the_photos_show_test_digits_or_the_train_stages_validation_split(tmp_path, monkeypatch, digits):
    arrays = synthetic_mnist(train=300, test=50)
    save_npz(tmp_path / bench.DATA, arrays)
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["train"].update(validation_fraction=0.2, seed=5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.chdir(tmp_path)
    images, labels = bench.benchmark_digits(section("photo_benchmark", digits=digits))
    if digits == "test":
        expected = np.arange(50)
        assert np.array_equal(images, arrays["x_test"]) and np.array_equal(labels, arrays["y_test"])
    else:
        _, expected = split_validation(300, 0.2, 5)
        assert np.array_equal(images, arrays["x_train"][expected])
        assert np.array_equal(labels, arrays["y_train"][expected])
    assert len(images) == len(expected)


def test_a_photo_with_no_ink_is_read_as_nothing():
    job = bench.Job("single-0000", "single", (0, 1, 0), np.zeros((1, 28, 28), np.uint8), (7,))
    conditions, found = bench.read_job(job)
    assert conditions.ink in CONDITIONS["ink"]
    assert found.digits == [] and found.joins == []


def test_a_failure_tile_shows_the_photo_the_boxes_and_the_frames():
    rendered = bench.render(bench.Job("number-0001", "number", (0, 2, 1),
                                      np.stack([np.eye(28, dtype=np.uint8) * 255] * 3), (1, 1, 1)))
    frame = np.zeros((28, 28), np.uint8)
    answer = Answer("number-0001", [DigitAnswer(7, 0.9, [], (10, 10, 50, 80), 0, frame)] * 2)
    tile = bench.failure_tile(rendered, answer)
    assert tile.size[0] == bench.TILE[0]
    pixels = np.asarray(tile)
    assert (pixels == (220, 30, 30)).all(axis=2).any(), "the boxes read are drawn in red"
    sheet = bench.contact_sheet([tile] * 5, columns=4)
    assert sheet.size == (4 * (tile.width + 6), 2 * (tile.height + 6))
    assert isinstance(bench.contact_sheet([]), Image.Image)


def test_the_28x28_reference_scores_the_single_digits_as_mnist_gives_them(monkeypatch):
    class Model:  # answers the digit written in each image's top-left pixel
        def __call__(self, images, training=False):
            return np.eye(10)[np.round(np.asarray(images)[:, 0, 0] * 255).astype(int) % 10] * 5

    def job(kind: str, shown: list[int], labels: tuple[int, ...]) -> bench.Job:
        digits = np.zeros((len(shown), 28, 28), np.uint8)
        digits[:, 0, 0] = shown
        return bench.Job(kind, kind, (0,), digits, labels)

    jobs = [job("single", [3], (3,)), job("single", [4], (4,)), job("single", [5], (6,)),
            job("number", [1, 1, 1], (2, 2, 2))]
    monkeypatch.setattr(inference, "probabilities",
                        lambda model, images: inference.softmax(np.asarray(model(images), dtype=np.float64)))
    assert bench.mnist_accuracy(Model(), jobs) == pytest.approx(2 / 3)
