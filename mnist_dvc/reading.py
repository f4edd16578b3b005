"""What was read in a photo: the digits the model chose, with their probabilities and boxes.

The one shape of an answer, shared by `predict --json`, the web app's API and the stages that score
photos: {"path", "number", "digit", "probability", "runners_up", "digits": [{"digit", "probability",
"runners_up", "box", "line"}, ...]}. The model itself is passed in, so nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_dvc.common import class_probabilities, scale_pixels
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


def choose_digits(model, photos: list[Found]) -> list[list[Digit]]:
    """Each photo's digits, with the neighbours that may be one digit joined where the model is surer of
    the joined digit than of either of the two apart (a 1 beside a 4 reads as a sure 1, and stays apart,
    though joined it may look like a 4). The best such joins are made first, each digit in one at most."""
    frames = [digit for found in photos for digit in [*found.digits, *(join.digit for join in found.joins)]]
    if not any(found.joins for found in photos):
        return [list(found.digits) for found in photos]
    confidence = np.log(np.maximum(class_probabilities(model, frames_of(frames)).max(axis=1), 1e-12))
    chosen, start = [], 0
    for found in photos:
        digits, joins = found.digits, found.joins
        apart, joined = confidence[start:start + len(digits)], confidence[start + len(digits):]
        start += len(digits) + len(joins)
        gains = [joined[k] - max(apart[join.first], apart[join.first + 1]) for k, join in enumerate(joins)]
        made: dict[int, Digit] = {}
        for k in sorted(range(len(joins)), key=lambda k: -gains[k]):
            first = joins[k].first
            if gains[k] > 0 and not {first - 1, first, first + 1} & made.keys():
                made[first] = joins[k].digit
        result, index = [], 0
        while index < len(digits):
            result.append(made.get(index, digits[index]))
            index += 2 if index in made else 1
        chosen.append(result)
    return chosen


def read_photos(model, photos: list[tuple[str, Found]], runners_up: int = 2) -> list[Answer]:
    """Read the digits found in every photo, (name, found) each: choose between the pieces apart and
    joined (choose_digits), then classify every digit in one batch; answer per photo."""
    chosen = choose_digits(model, [found for _, found in photos])
    counts = [len(digits) for digits in chosen]
    if not sum(counts):
        return [Answer(path, []) for path, _ in photos]
    probabilities = class_probabilities(model, frames_of([digit for digits in chosen for digit in digits]))
    answers, start = [], 0
    for (path, _), digits, count in zip(photos, chosen, counts, strict=True):
        answers.append(answer(path, digits, probabilities[start:start + count], runners_up))
        start += count
    return answers
