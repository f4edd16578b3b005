"""What was read in a photo: the digits the model chose, with their probabilities and boxes.

The one shape of an answer, shared by `predict --json`, the web app's API and the stages that score
photos: {"path", "number", "digit", "probability", "runners_up", "digits": [{"digit", "probability",
"runners_up", "box", "line"}, ...]}. The model itself is passed in, so nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_dvc import inference
from mnist_dvc.mnist import scale_pixels
from mnist_dvc.photo import Box, Digit, Found


@dataclass(frozen=True)
class DigitAnswer:
    digit: int
    probability: float
    runners_up: list[tuple[int, float]]
    box: Box
    line: int
    frame: np.ndarray  # the 28x28 image the model read (not in the JSON)

    def as_dict(self) -> dict:
        return {"digit": self.digit, "probability": round(self.probability, 6),
                "runners_up": [{"digit": d, "probability": round(p, 6)} for d, p in self.runners_up],
                "box": list(self.box), "line": self.line}


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
    def single(self) -> DigitAnswer | None:
        return self.digits[0] if len(self.digits) == 1 else None

    def as_dict(self) -> dict:
        single = self.single
        return {
            "path": self.path,
            "number": self.number,
            "digit": single.digit if single else None,
            "probability": round(single.probability, 6) if single else None,
            "runners_up": single.as_dict()["runners_up"] if single else None,
            "digits": [answer.as_dict() for answer in self.digits],
        }

    def as_line(self) -> str:
        single = self.single
        if single:
            others = ", ".join(f"{d} ({percent(p)})" for d, p in single.runners_up)
            return f"{self.path}: {single.digit} ({percent(single.probability)}); runners-up: {others}"
        each = " ".join(f"{answer.digit} ({percent(answer.probability)})" for answer in self.digits)
        return f"{self.path}: {self.number} ({len(self.digits)} digits: {each})"


def percent(probability: float) -> str:
    return f"{probability:.1%}" if probability >= 0.001 else "<0.1%"


def rank(probabilities: np.ndarray, runners_up: int) -> tuple[int, float, list[tuple[int, float]]]:
    """The most probable digit, its probability, and the next `runners_up` digits with theirs."""
    order = np.argsort(-probabilities, kind="stable")
    return (int(order[0]), float(probabilities[order[0]]),
            [(int(d), float(probabilities[d])) for d in order[1:1 + runners_up]])


def frames_of(digits: list[Digit]) -> np.ndarray:
    """The model's input for these digits: their 28x28 frames scaled as the normalize stage scales."""
    return scale_pixels(np.stack([digit.frame for digit in digits]))


def answer(path: str, digits: list[Digit], probabilities: np.ndarray, runners_up: int = 2) -> Answer:
    """An Answer from the digits found and one row of class probabilities per digit."""
    answers = []
    for digit, row in zip(digits, probabilities, strict=True):
        best, probability, others = rank(row, runners_up)
        answers.append(DigitAnswer(best, probability, others, digit.box, digit.line, digit.frame))
    return Answer(path, answers)


def candidates(found: Found) -> list[Digit]:
    """The digits found, then each possible join's digit: every frame the model is asked about."""
    return [*found.digits, *(join.digit for join in found.joins)]


def chosen_indices(found: Found, probabilities: np.ndarray) -> list[int]:
    """Which of candidates(found) are read, in order, given one row of class probabilities for each:
    the neighbours that may be one digit are joined where the model is surer of the joined digit than
    of either of the two apart (a 1 beside a 4 reads as a sure 1, and stays apart, though joined it may
    look like a 4). The parts of one piece of ink that was cut in two as too wide for a digit stay one
    digit unless the model is surer of each part apart (a wide 2 is not a 2 and a 1). The best joins are
    made first, each digit in one at most."""
    count = len(found.digits)
    confidence = np.log(np.maximum(probabilities.max(axis=1), 1e-12))
    apart, joined = confidence[:count], confidence[count:]
    gains = [joined[k] - (min if join.split else max)(apart[join.first], apart[join.first + 1])
             for k, join in enumerate(found.joins)]
    made: dict[int, int] = {}  # the first digit of a join made -> the join's candidate index
    for k in sorted(range(len(found.joins)), key=lambda k: -gains[k]):
        first = found.joins[k].first
        if gains[k] > 0 and not {first - 1, first, first + 1} & made.keys():
            made[first] = count + k
    chosen, index = [], 0
    while index < count:
        chosen.append(made.get(index, index))
        index += 2 if index in made else 1
    return chosen


def classify_candidates(model, photos: list[Found]) -> list[np.ndarray]:
    """Each photo's rows of probabilities, one per candidate. Each photo's candidates go through the model
    as a batch of their own: a matrix product's rounding depends on how many rows it has, and a photo's
    answer must not depend on which other photos share the call."""
    return [inference.probabilities(model, frames_of(candidates(found))) if candidates(found) else np.zeros((0, 10))
            for found in photos]


def read_photos(model, photos: list[tuple[str, Found]], runners_up: int = 2) -> list[Answer]:
    """Read the digits found in every photo, (name, found) each: each photo's candidates classified in one
    batch, the joins chosen (chosen_indices), one answer per photo."""
    answers = []
    for (path, found), rows in zip(photos, classify_candidates(model, [found for _, found in photos]), strict=True):
        chosen = chosen_indices(found, rows)
        answers.append(answer(path, [candidates(found)[index] for index in chosen], rows[chosen], runners_up))
    return answers
