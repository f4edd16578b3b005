"""Evaluation arithmetic, checked against a small example worked out by hand."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from mnist_dvc.files import csv_text, write_text_atomic
from mnist_dvc.inference import softmax
from stages import evaluate

# Six test images. By hand:
#   digit 0: 2 images, both predicted 0          -> TP 2, FN 0; 1 predicted as 0 -> FP 1
#   digit 1: 3 images, 1 right, 1 -> 0, 1 -> 2   -> TP 1, FN 2, FP 0
#   digit 2: 1 image, predicted 2                -> TP 1, FN 0; 1 predicted as 2 -> FP 1
ACTUAL = np.array([0, 0, 1, 1, 1, 2])
PREDICTED = np.array([0, 0, 1, 0, 2, 2])


def test_confusion_matrix_counts_true_by_predicted():
    confusion = evaluate.confusion_matrix(ACTUAL, PREDICTED)
    assert confusion.shape == (10, 10)
    assert confusion[0, 0] == 2 and confusion[1, 1] == 1 and confusion[2, 2] == 1
    assert confusion[1, 0] == 1 and confusion[1, 2] == 1
    assert confusion.sum() == 6


def test_per_class_figures_match_the_hand_computed_example():
    rows = evaluate.per_class_figures(evaluate.confusion_matrix(ACTUAL, PREDICTED))
    assert [(r["tp"], r["fn"], r["fp"]) for r in rows[:3]] == [(2, 0, 1), (1, 2, 0), (1, 0, 1)]
    assert rows[0]["precision"] == pytest.approx(2 / 3) and rows[0]["recall"] == 1.0
    assert rows[1]["precision"] == 1.0 and rows[1]["recall"] == pytest.approx(1 / 3)
    assert rows[1]["f1"] == pytest.approx(0.5)
    assert rows[2]["precision"] == 0.5 and rows[2]["f1"] == pytest.approx(2 / 3)
    assert all(r["support"] == 0 and r["f1"] == 0.0 for r in rows[3:])


def test_the_metrics_are_the_headline_figures_and_per_digit_ones_go_to_their_own_table():
    rows = evaluate.per_class_figures(evaluate.confusion_matrix(ACTUAL, PREDICTED))
    document = evaluate.metrics_document(4 / 6, 0.05)
    assert document == {"test_accuracy": round(4 / 6, 6), "test_ece": 0.05}
    assert document["test_accuracy"] == pytest.approx(0.666667)
    assert evaluate.macro_f1(rows) == pytest.approx((0.8 + 0.5 + 2 / 3) / 10, abs=1e-6)
    table = evaluate.per_class_rows(rows)
    assert len(table) == 10
    assert table[0] == (0, 2, 2, 0, 1, 0.666667, 1.0, 0.8)
    assert table[1][evaluate.PER_CLASS_COLUMNS.index("recall")] == 0.333333


def test_the_prose_says_what_the_counts_mean():
    rows = evaluate.per_class_figures(evaluate.confusion_matrix(ACTUAL, PREDICTED))
    assert evaluate.describe_class(rows[1]) == (
        "- 1 is predicted correctly 1 times; 2 times the input was 1 but the model predicted another digit; "
        "0 times the model predicted 1 for another digit.")


def test_csv_files_are_written_by_the_csv_module_quoting_what_needs_it(tmp_path):
    write_text_atomic(tmp_path / "t.csv", csv_text(("path", "digit"), [("a,b.png", 1), ('say "hi"\n.png', 2)]))
    text = (tmp_path / "t.csv").read_text()
    assert text == 'path,digit\n"a,b.png",1\n"say ""hi""\n.png",2\n'
    assert list(csv.reader(io.StringIO(text)))[1:] == [["a,b.png", "1"], ['say "hi"\n.png', "2"]]


def test_cross_entropy_and_softmax():
    probabilities = softmax(np.array([[0.0, 0.0], [np.log(3.0), 0.0]]))
    np.testing.assert_allclose(probabilities, [[0.5, 0.5], [0.75, 0.25]])
    assert evaluate.cross_entropy(probabilities, np.array([0, 0])) == pytest.approx(-(np.log(0.5) + np.log(0.75)) / 2)


def test_most_confident_mistakes_come_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.05, 0.95]])
    actual = np.array([0, 0, 0, 1])
    assert evaluate.most_confident_mistakes(probabilities, actual, 5).tolist() == [1, 2]
    assert evaluate.most_confident_mistakes(probabilities, actual, 1).tolist() == [1]
