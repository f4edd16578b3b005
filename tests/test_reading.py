"""Choosing between neighbours apart and joined, and the answer's shape, with a model whose certainty a test sets."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_dvc import inference
from mnist_dvc.photo import Digit, Found, Join
from mnist_dvc.reading import candidates, chosen_indices, classify_candidates, read_photos


class Model:
    """Reads the digit from each frame's first pixel and its logit (x10) from the second."""

    def __call__(self, images, training=False):
        pixels = np.round(np.asarray(images)[:, 0, :2] * 255)
        return np.eye(10)[pixels[:, 0].astype(int) % 10] * pixels[:, 1:2] / 10


@pytest.fixture(autouse=True)
def model_reads_the_first_pixels(monkeypatch):
    """The reader's probabilities come from Model instead of a trained network."""
    monkeypatch.setattr(inference, "probabilities",
                        lambda model, images: inference.softmax(np.asarray(model(images), dtype=np.float64)))


def choose_digits(model: Model, photos: list[Found]) -> list[list[Digit]]:
    """Each photo's digits with the joins the model prefers made."""
    return [[candidates(found)[index] for index in chosen_indices(found, rows)]
            for found, rows in zip(photos, classify_candidates(model, photos), strict=True)]


def digit(value: int, logit: float, left: int = 0) -> Digit:
    frame = np.zeros((28, 28), np.uint8)
    frame[0, :2] = value, round(logit * 10)
    return Digit(frame, (left, 0, 20, 30), 0)


def test_two_unsure_pieces_are_joined_when_the_model_is_surer_of_them_as_one():
    pieces = [digit(1, 1.0, 0), digit(6, 1.5, 20)]
    four = digit(4, 8.0, 0)
    assert choose_digits(Model(), [Found(pieces, [Join(0, four)])]) == [[four]]


def test_two_sure_digits_stay_apart_when_joined_they_read_less_surely():
    pieces = [digit(1, 8.0, 0), digit(1, 8.0, 20)]
    assert choose_digits(Model(), [Found(pieces, [Join(0, digit(4, 4.0))])]) == [pieces]


def test_of_two_joins_sharing_a_digit_the_better_is_made():
    pieces = [digit(3, 8.0, 0), digit(1, 1.0, 20), digit(7, 1.0, 40)]
    worse, better = Join(0, digit(8, 3.0)), Join(1, digit(4, 9.0, 20))
    assert choose_digits(Model(), [Found(pieces, [worse, better])]) == [[pieces[0], better.digit]]


def test_the_answer_reads_the_chosen_digits_for_each_photo():
    split = Found([digit(1, 1.0, 0), digit(6, 1.0, 20), digit(2, 8.0, 40)], [Join(0, digit(4, 8.0))])
    plain = Found([digit(7, 8.0)])
    answers = read_photos(Model(), [("a.png", split), ("b.png", plain), ("c.png", Found([]))])
    assert [answer.number for answer in answers] == ["42", "7", ""]
    assert [d.box[0] for d in answers[0].digits] == [0, 40]


def test_a_sure_one_beside_an_unsure_digit_stays_apart_even_if_joined_reads_surer_than_the_other():
    pieces = [digit(1, 8.0, 0), digit(4, 2.0, 20)]
    assert choose_digits(Model(), [Found(pieces, [Join(0, digit(4, 6.0))])]) == [pieces]


def test_the_parts_of_one_piece_cut_in_two_stay_joined_unless_each_is_surer_apart():
    sure_and_unsure = [digit(2, 8.0, 0), digit(1, 2.0, 20)]
    whole = Join(0, digit(2, 6.0), split=True)
    assert choose_digits(Model(), [Found(sure_and_unsure, [whole])]) == [[whole.digit]]
    both_sure = [digit(1, 8.0, 0), digit(7, 8.0, 20)]
    assert choose_digits(Model(), [Found(both_sure, [Join(0, digit(4, 6.0), split=True)])]) == [both_sure]
