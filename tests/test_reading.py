"""Choosing between neighbours apart and joined, and the answer's shape, with a model whose certainty a test sets."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from mnist_dvc import inference
from mnist_dvc.mnist import NOT_A_DIGIT, NUM_OUTPUTS
from mnist_dvc.photo import Digit, Found, Join
from mnist_dvc.reading import candidates, chosen_indices, classify_candidates, read_photos


class Model:
    """A stand-in reader: the class from each frame's first pixel (10: not a digit), its logit (x10) from
    the second, and a second class (+1; 0: none) and its logit from the third and fourth; digits under
    `sure` probability are unsure."""

    network = SimpleNamespace(outputs=NUM_OUTPUTS)

    def __init__(self, sure: float = 0.5, not_a_digit: float = 1.0):
        self.calibration = inference.Calibration(1.0, sure, inference.NO_VIEWS, not_a_digit)

    def probabilities(self, images):
        pixels = np.round(np.asarray(images)[:, 0, :4] * 255)
        logits = np.eye(NUM_OUTPUTS)[pixels[:, 0].astype(int) % NUM_OUTPUTS] * pixels[:, 1:2] / 10
        second = np.eye(NUM_OUTPUTS + 1)[pixels[:, 2].astype(int)][:, 1:] * pixels[:, 3:4] / 10
        return inference.softmax((logits + second).astype(np.float64))


def choose_digits(model: Model, photos: list[Found]) -> list[list[Digit]]:
    """Each photo's digits with the joins the model prefers made."""
    return [[candidates(found)[index] for index in chosen_indices(found, rows, model.calibration.sure_probability)]
            for found, rows in zip(photos, classify_candidates(model, photos), strict=True)]


def digit(value: int, logit: float, left: int = 0, line: int = 0, second: tuple[int, float] | None = None) -> Digit:
    frame = np.zeros((28, 28), np.uint8)
    frame[0, :2] = value, round(logit * 10)
    if second:
        frame[0, 2:4] = second[0] + 1, round(second[1] * 10)
    return Digit(frame, (left, 40 * line, 20, 30), line)


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


def test_a_lone_piece_cut_in_two_that_is_surely_not_a_digit_as_a_whole_is_left_out():
    strokes = [digit(1, 9.0, 0), digit(1, 9.0, 20)]  # a tick cut at its point: each stroke a fine 1
    tick = Join(0, digit(NOT_A_DIGIT, 9.0), split=True)
    (alone, in_a_number) = read_photos(Model(), [("t.png", Found(strokes, [tick])),
                                                 ("n.png", Found([*strokes, digit(7, 9.0, 40)], [tick]))])
    assert (alone.status, alone.number) == ("no_digits", "")
    assert in_a_number.number == "117"  # beside other digits, two touching 1s stay two digits
    (doubted,) = read_photos(Model(), [("d.png", Found(strokes, [Join(0, digit(NOT_A_DIGIT, 1.0), split=True)]))])
    assert doubted.number == "11"


def test_the_parts_of_a_piece_cut_where_its_ink_does_not_thin_are_read_apart_only_if_each_is_sure():
    sure_and_unsure = [digit(9, 9.0, 0), digit(2, 2.5, 20)]  # both surer than the whole, one under 90 %
    whole = Join(0, digit(8, 2.0), split=True, only_if_sure=True)
    assert choose_digits(Model(sure=0.9), [Found(sure_and_unsure, [whole])]) == [[whole.digit]]
    both_sure = [digit(9, 9.0, 0), digit(2, 9.0, 20)]
    assert choose_digits(Model(sure=0.9), [Found(both_sure, [whole])]) == [both_sure]


def test_without_a_model_a_loose_cut_is_taken_whole_and_a_cut_at_a_narrow_link_is_not():
    parts = [digit(1, 1.0, 0), digit(9, 1.0, 20), digit(3, 9.0, 40), digit(1, 9.0, 60), digit(7, 9.0, 80)]
    loose, linked = Join(0, digit(0, 1.0), split=True, only_if_sure=True), Join(3, digit(4, 1.0, 60), split=True)
    assert Found(parts, [loose, linked]).without_loose_cuts() == [loose.digit, *parts[2:]]


def test_a_sure_digit_is_read_and_an_unsure_one_says_so_with_its_runner_up():
    sure, unsure = read_photos(Model(sure=0.9), [("a.png", Found([digit(7, 9.0)])), ("b.png", Found([digit(4, 0.5)]))])
    assert (sure.status, sure.digits[0].sure, sure.number) == ("read", True, "7")
    assert (unsure.status, unsure.digits[0].sure, unsure.number) == ("unsure", False, "4")
    assert unsure.as_line().startswith("b.png: not sure: 4 or ")
    assert unsure.as_dict()["digits"][0]["sure"] is False and unsure.as_dict()["status"] == "unsure"


def test_one_unsure_digit_makes_the_number_unsure_and_it_still_holds_the_best_reading():
    (answer,) = read_photos(Model(sure=0.9), [("n.png", Found([digit(2, 9.0, 0), digit(5, 0.5, 40)]))])
    assert answer.status == "unsure" and answer.number == "25"
    assert "not sure of every digit" in answer.as_line() and "[not sure: 5 or" in answer.as_line()


def test_what_the_model_reads_as_not_a_digit_is_left_out_and_nothing_left_is_no_digits():
    mark = digit(NOT_A_DIGIT, 9.0, 40)
    (with_digits, only_marks, blank) = read_photos(Model(), [
        ("a.png", Found([digit(3, 9.0, 0), digit(8, 9.0, 20), mark])), ("b.png", Found([mark])), ("c.png", Found([]))])
    assert with_digits.number == "38" and with_digits.status == "read"
    for answer in (only_marks, blank):
        assert (answer.status, answer.number, answer.digits) == ("no_digits", "", [])
        assert answer.as_dict()["digits"] == [] and answer.as_line().endswith(": no digits found")


def test_a_line_with_as_many_frames_not_digits_as_digits_is_a_word_and_none_of_it_is_read():
    letter = NOT_A_DIGIT
    word = [digit(letter, 9.0, 0), digit(4, 9.0, 40), digit(letter, 9.0, 80)]  # "Hug" read as "4"
    number = [digit(1, 9.0, 0, line=1), digit(letter, 9.0, 40, line=1), digit(7, 9.0, 80, line=1)]
    tie = [digit(5, 9.0, 0, line=2), digit(letter, 9.0, 40, line=2)]  # "Sx": as many letters as digits
    digits_and_a_letter = [digit(6, 9.0, 0, line=3), digit(2, 9.0, 40, line=3), digit(letter, 9.0, 80, line=3)]
    (only_word, only_tie, page) = read_photos(Model(), [("w.png", Found(word)), ("t.png", Found(tie)),
                                                        ("p.png", Found(word + number + tie + digits_and_a_letter))])
    assert (only_word.status, only_word.number) == ("no_digits", "")
    assert (only_tie.status, only_tie.number) == ("no_digits", "")
    assert page.number == "17 62" and {answer.line for answer in page.digits} == {1, 3}


def test_a_line_whose_digits_are_unsure_beside_a_frame_not_a_digit_is_a_word_but_one_of_sure_digits_is_not():
    letter = NOT_A_DIGIT
    word = [digit(4, 2.0, 0), digit(9, 1.0, 40), digit(letter, 9.0, 80)]  # "Hgy": two letters read as unsure digits
    number = [digit(2, 9.0, 0), digit(5, 9.0, 40), digit(7, 1.0, 80), digit(letter, 9.0, 120)]  # "257" and a mark
    (read_word, read_number) = read_photos(Model(sure=0.9), [("w.png", Found(word)), ("n.png", Found(number))])
    assert (read_word.status, read_word.number) == ("no_digits", "")
    assert (read_number.status, read_number.number) == ("unsure", "257")


def test_in_a_number_a_frame_is_dropped_as_not_a_digit_only_when_the_model_is_sure():
    unsure_mark = digit(NOT_A_DIGIT, 1.0, 40, second=(7, 0.8))  # not a digit at 23 %, 7 at 19 %: not sure
    sure_mark = digit(NOT_A_DIGIT, 9.0, 40)
    (inside, sure, first, last, last_sure) = read_photos(Model(), [
        ("a.png", Found([digit(2, 9.0, 0), unsure_mark, digit(9, 9.0, 80)])),
        ("b.png", Found([digit(2, 9.0, 0), sure_mark, digit(9, 9.0, 80)])),
        ("c.png", Found([replace(unsure_mark, box=(0, 0, 20, 30)), digit(2, 9.0, 40), digit(9, 9.0, 80)])),
        ("d.png", Found([digit(2, 9.0, 0), digit(9, 9.0, 20), replace(unsure_mark, box=(80, 0, 20, 30))])),
        ("e.png", Found([digit(2, 9.0, 0), digit(9, 9.0, 20), replace(sure_mark, box=(80, 0, 20, 30))]))])
    assert (inside.number, inside.status, inside.digits[1].sure) == ("279", "unsure", False)
    assert (first.number, first.status) == ("729", "unsure") and (last.number, last.status) == ("297", "unsure")
    assert sure.number == "29" and last_sure.number == "29"


def test_an_unsure_digit_with_not_a_digit_close_behind_is_a_letter_but_in_a_number_an_unsure_digit():
    letter = digit(4, 1.6, second=(NOT_A_DIGIT, 1.6))  # 4 and "not a digit" at 26 % each: a letter half taken for a 4
    doubt = digit(4, 1.6, second=(9, 1.6))  # doubted between two digits: still a digit
    number = [digit(9, 9.0, 0), digit(3, 9.0, 40), digit(6, 1.6, 80, second=(NOT_A_DIGIT, 1.6))]
    (read_letter, read_doubt, read_number) = read_photos(Model(sure=0.9, not_a_digit=0.25), [
        ("l.png", Found([letter])), ("d.png", Found([doubt])), ("n.png", Found(number))])
    assert (read_letter.status, read_letter.number) == ("no_digits", "")
    assert (read_doubt.status, read_doubt.number) == ("unsure", "4")
    assert (read_number.status, read_number.number) == ("unsure", "936")  # not a sure, wrong "93"
    sure = digit(4, 3.0, second=(NOT_A_DIGIT, 2.3))  # 4 at 51 %, sure at 0.5, "not a digit" at 26 %
    (read_sure,) = read_photos(Model(sure=0.5, not_a_digit=0.25), [("s.png", Found([sure]))])
    assert (read_sure.status, read_sure.number) == ("read", "4") and read_sure.digits[0].probability > 0.5
    (never,) = read_photos(Model(sure=0.9, not_a_digit=1.0), [("l.png", Found([letter]))])
    assert (never.status, never.number) == ("unsure", "4")


def test_not_a_digit_is_never_a_runner_up():
    (answer,) = read_photos(Model(), [("a.png", Found([digit(3, 2.0)]))], runners_up=9)
    assert len(answer.digits[0].runners_up) == 9
    assert all(d < NOT_A_DIGIT for d, _ in answer.digits[0].runners_up)
