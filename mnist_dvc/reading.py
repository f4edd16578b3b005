"""What was read in a photo: the digits the model chose, how sure it is of each, and where they are.

The one shape of an answer, shared by `predict --json`, the web app's API and the stages that score
photos: {"path", "status", "number", "digit", "probability", "runners_up", "digits": [{"digit",
"probability", "sure", "runners_up", "box", "line"}, ...]}.
- status: "read" (every digit sure), "unsure" (at least one digit under the calibrated sure_probability;
  `number` still holds the best reading) or "no_digits" (nothing written, or only what is not a digit:
  letters, marks, printed lines; `number` is "" and `digits` is []).
- probability: calibrated (inference.Calibration), so that of the digits read at 90 %, about 90 % are right.
The reader (network and calibration) is passed in, so nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from mnist_dvc.inference import Calibration, Reader
from mnist_dvc.mnist import NOT_A_DIGIT, NUM_CLASSES, scale_pixels
from mnist_dvc.photo import Box, Digit, Found, Join
from mnist_dvc.photo.types import pairs_joined

READ, UNSURE, NO_DIGITS = "read", "unsure", "no_digits"
# In a number (a line with two frames or more read as digits), a frame is dropped as "not a digit" only when
# the model gives that at least this probability (chosen on the photo benchmark's validation part: a
# page's lines read exactly 70 -> 72 % between two digits, 73.6 -> 74.6 % at a number's ends). A lone
# piece cut in two is read whole when the model gives the whole "not a digit" so surely (chosen_indices).
SURELY_NOT_A_DIGIT = 0.9


@dataclass(frozen=True)
class DigitAnswer:
    digit: int
    probability: float
    sure: bool
    runners_up: list[tuple[int, float]]
    box: Box
    line: int
    frame: np.ndarray  # the 28x28 image the model read (not in the JSON)

    def as_dict(self) -> dict:
        return {"digit": self.digit, "probability": round(self.probability, 6), "sure": self.sure,
                "runners_up": [{"digit": d, "probability": round(p, 6)} for d, p in self.runners_up],
                "box": list(self.box), "line": self.line}

    def in_words(self) -> str:
        """'7 (99.1%)', or 'not sure: 4 or 9? (4 55.0%, 9 40.0%)'."""
        if self.sure:
            return f"{self.digit} ({percent(self.probability)})"
        candidates = [(self.digit, self.probability), *self.runners_up[:1]]
        return (f"not sure: {' or '.join(str(d) for d, _ in candidates)}? "
                f"({', '.join(f'{d} {percent(p)}' for d, p in candidates)})")


@dataclass(frozen=True)
class Answer:
    path: str
    digits: list[DigitAnswer]

    @property
    def number(self) -> str:
        """The digits read, left to right; lines of writing separated by a space."""
        lines: dict[int, str] = {}
        for answer in self.digits:
            lines[answer.line] = lines.get(answer.line, "") + str(answer.digit)
        return " ".join(lines[line] for line in sorted(lines))

    @property
    def status(self) -> str:
        if not self.digits:
            return NO_DIGITS
        return READ if all(answer.sure for answer in self.digits) else UNSURE

    @property
    def single(self) -> DigitAnswer | None:
        return self.digits[0] if len(self.digits) == 1 else None

    def as_dict(self) -> dict:
        single = self.single
        return {
            "path": self.path,
            "status": self.status,
            "number": self.number,
            "digit": single.digit if single else None,
            "probability": round(single.probability, 6) if single else None,
            "runners_up": single.as_dict()["runners_up"] if single else None,
            "digits": [answer.as_dict() for answer in self.digits],
        }

    def as_line(self) -> str:
        """The answer in words, on one line (the name as given: the caller escapes it for a terminal)."""
        single = self.single
        if not self.digits:
            return f"{self.path}: no digits found"
        if single and single.sure:
            others = ", ".join(f"{d} ({percent(p)})" for d, p in single.runners_up)
            return f"{self.path}: {single.in_words()}" + (f"; runners-up: {others}" if others else "")
        if single:
            return f"{self.path}: {single.in_words()}"
        each = " ".join(answer.in_words() if answer.sure else f"[{answer.in_words()}]" for answer in self.digits)
        unsure = "" if self.status == READ else ", not sure of every digit"
        return f"{self.path}: {self.number}{unsure} ({len(self.digits)} digits: {each})"


def percent(probability: float) -> str:
    return f"{probability:.1%}" if probability >= 0.001 else "<0.1%"


def rank(probabilities: np.ndarray, runners_up: int) -> tuple[int, float, list[tuple[int, float]]]:
    """The most probable digit, its probability, and the next `runners_up` digits with theirs (the
    digits only: "not a digit" is never a runner-up)."""
    digits = probabilities[:NUM_CLASSES]
    order = np.argsort(-digits, kind="stable")
    return (int(order[0]), float(digits[order[0]]),
            [(int(d), float(digits[d])) for d in order[1:1 + runners_up]])


def is_a_digit(probabilities: np.ndarray) -> bool:
    """Whether the model reads a frame as a digit rather than as "not a digit" (when it has that output)."""
    return len(probabilities) <= NOT_A_DIGIT or int(np.argmax(probabilities)) != NOT_A_DIGIT


def maybe_not_a_digit(probabilities: np.ndarray, calibration: Calibration) -> bool:
    """Whether "not a digit" has its calibrated not_a_digit_probability or more: of a frame with no sure
    digit, a letter or mark of a hand the model has not seen mostly splits its probability between a
    look-alike digit and "not a digit"; a real digit it doubts, between digits (4 or 9)."""
    return len(probabilities) > NOT_A_DIGIT and probabilities[NOT_A_DIGIT] >= calibration.not_a_digit_probability


def frames_of(digits: list[Digit]) -> np.ndarray:
    """The model's input for these digits: their 28x28 frames scaled as the normalize stage scales."""
    return scale_pixels(np.stack([digit.frame for digit in digits]))


def text_lines(digits: list[Digit], read_as_digit: list[bool], read_surely: list[bool]) -> set[int]:
    """The lines of writing with a frame that is not a digit, and no more digits the model is sure of
    than such frames: words, whose letters that look like digits (a u read as 4, a D as 0) are letters
    too, as is the one letter of two ("x3"). A letter read as a digit is seldom read surely; a number's
    digits mostly are."""
    counts: dict[int, list[int]] = {}  # line -> [frames not a digit, digits read surely]
    for digit, a_digit, sure in zip(digits, read_as_digit, read_surely, strict=True):
        count = counts.setdefault(digit.line, [0, 0])
        count[0] += not a_digit
        count[1] += a_digit and sure
    return {line for line, (others, sure) in counts.items() if others and others >= sure}


def in_numbers(digits: list[Digit], read_as_digit: list[bool]) -> list[bool]:
    """Which frames stand in a line of writing with two frames or more read as digits: in a number."""
    counts = Counter(digit.line for digit, a_digit in zip(digits, read_as_digit, strict=True) if a_digit)
    return [counts[digit.line] >= 2 for digit in digits]


def answer(path: str, digits: list[Digit], probabilities: np.ndarray, calibration: Calibration,
           runners_up: int = 2) -> Answer:
    """An Answer from the digits found and one row of class probabilities per digit; what the model reads
    as not a digit is left out, but for a frame in a number: that one is taken for a digit unless the
    model is sure it is not (a badly written 0 in "2095", a first 4 written open in "4697"), and shown
    unsure."""
    read_as_digit = [is_a_digit(row) for row in probabilities]
    read_surely = [bool(row[:NUM_CLASSES].max() >= calibration.sure_probability) for row in probabilities]
    # none of a word is read, whatever stands between its letters; a frame that may not be a digit counts
    # as a letter there, and as an unsure digit in a number
    counted_as_digit = [a_digit and (sure or not maybe_not_a_digit(row, calibration))
                        for a_digit, sure, row in zip(read_as_digit, read_surely, probabilities, strict=True)]
    text = text_lines(digits, counted_as_digit, read_surely)
    in_a_number = in_numbers(digits, read_as_digit)
    read_as_digit = [a_digit or (among and row[NOT_A_DIGIT] < SURELY_NOT_A_DIGIT)
                     for a_digit, among, row in zip(read_as_digit, in_a_number, probabilities, strict=True)]
    answers = []
    for digit, row, a_digit, sure in zip(digits, probabilities, read_as_digit, read_surely, strict=True):
        if a_digit and digit.line not in text:
            best, probability, others = rank(row, runners_up)
            answers.append(DigitAnswer(best, probability, sure, others, digit.box, digit.line, digit.frame))
    return Answer(path, answers)


def candidates(found: Found) -> list[Digit]:
    """The digits found, then each possible join's digit: every frame the model is asked about."""
    return [*found.digits, *(join.digit for join in found.joins)]


def chosen_indices(found: Found, probabilities: np.ndarray, sure_probability: float) -> list[int]:
    """Which of candidates(found) are read, in order, given one row of class probabilities for each:
    the neighbours that may be one digit are joined where the model is surer of the joined digit than
    of either of the two apart (a 1 beside a 4 reads as a sure 1, and stays apart, though joined it may
    look like a 4). The parts of one piece of ink that was cut in two as too wide for a digit stay one
    digit unless the model is surer of each part apart (a wide 2 is not a 2 and a 1), and, where the cut
    found no narrow link, sure of each (`sure_probability`). The best joins are made first, each digit in
    one at most. A piece cut in two that is alone in its line and that the model is sure is not a digit
    as a whole (a tick cut at its point into two strokes, each a fine 1) stays whole, and is left out."""
    count = len(found.digits)
    confidence = np.log(np.maximum(probabilities[:, :NUM_CLASSES].max(axis=1), 1e-12))  # as some digit
    apart, joined = confidence[:count], confidence[count:]
    per_line = Counter(digit.line for digit in found.digits)

    def gain(k: int, join: Join) -> float:
        """How much surer the model is of the joined digit than of the two apart: joined if positive."""
        pair = apart[join.first], apart[join.first + 1]
        if join.only_if_sure and min(pair) < np.log(sure_probability):
            return np.inf
        if (join.split and per_line[found.digits[join.first].line] == 2
                and probabilities[count + k, NOT_A_DIGIT] >= SURELY_NOT_A_DIGIT):
            return np.inf
        return joined[k] - (min(pair) if join.split else max(pair))

    gains = [gain(k, join) for k, join in enumerate(found.joins)]
    made: dict[int, int] = {}  # the first digit of a join made -> the join's candidate index
    for k in sorted(range(len(found.joins)), key=lambda k: -gains[k]):
        first = found.joins[k].first
        if gains[k] > 0 and not {first - 1, first, first + 1} & made.keys():
            made[first] = count + k
    return pairs_joined(list(range(count)), made)


def classify_candidates(reader: Reader, photos: list[Found]) -> list[np.ndarray]:
    """Each photo's rows of probabilities, one per candidate. Each photo's candidates go through the model
    as a batch of their own: a matrix product's rounding depends on how many rows it has, and a photo's
    answer must not depend on which other photos share the call."""
    return [reader.probabilities(frames_of(candidates(found))) if candidates(found)
            else np.zeros((0, reader.network.outputs)) for found in photos]


def read_photos(reader: Reader, photos: list[tuple[str, Found]], runners_up: int = 2) -> list[Answer]:
    """Read the digits found in every photo, (name, found) each: each photo's candidates classified in one
    batch, the joins chosen (chosen_indices), one answer per photo."""
    answers = []
    for (path, found), rows in zip(photos, classify_candidates(reader, [found for _, found in photos]), strict=True):
        chosen = chosen_indices(found, rows, reader.calibration.sure_probability)
        answers.append(answer(path, [candidates(found)[index] for index in chosen], rows[chosen],
                              reader.calibration, runners_up))
    return answers
