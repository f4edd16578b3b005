"""The photo benchmark's figures: what was read in each photo, scored; the headline metrics (one small flat
set, so `dvc metrics show` stays narrow) and the breakdown by part, condition and hand (the report beside
them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mnist_dvc.benchmark.parts import PARTS
from mnist_dvc.calibration import calibration_error
from mnist_dvc.render import ALL_CONDITIONS

DIGIT_PARTS = ("plain", "notebook", "fonts", "small")


@dataclass(frozen=True)
class Outcome:
    """One photo's ground truth and conditions, and what was read in it."""

    name: str
    part: str
    kind: str  # single, number, page, letters, signs, mark, blank
    hand: str  # mnist, a font family, marks, blank
    truth: str  # the digits written; lines separated by a space; "" when none
    read: str  # the number read; lines of writing separated by a space
    digits: tuple[int, ...]  # the digits read, in reading order
    status: str  # read, unsure or no_digits (mnist_dvc.reading)
    confidence: float  # the least probability among the digits read; 0 when none
    conditions: dict[str, str]

    @property
    def answered(self) -> bool:
        """Digits were read: of a photo with no digit on it, a mistake, be they sure or not."""
        return self.status != "no_digits"

    @property
    def correct(self) -> bool:
        return not self.answered if not self.truth else self.read == self.truth

    @property
    def count_correct(self) -> bool:
        return len(self.digits) == len(self.truth.replace(" ", ""))

    @property
    def lines_exact(self) -> int:
        """How many of the written lines were read exactly, each in its place."""
        read = self.read.split(" ")
        return sum(index < len(read) and read[index] == line for index, line in enumerate(self.truth.split(" ")))


def rate(hits: Iterable[bool]) -> float | None:
    values = list(hits)
    return round(sum(values) / len(values), 4) if values else None


def summary(outcomes: list[Outcome]) -> dict:
    """The figures of a group of photos: singles, numbers, pages and photos with no digit, each scored
    their own way."""
    singles = [o for o in outcomes if o.kind == "single"]
    numbers = [o for o in outcomes if o.kind == "number"]
    pages = [o for o in outcomes if o.kind == "page"]
    empty = [o for o in outcomes if not o.truth]
    counted = [o for o in numbers if o.count_correct]
    return {
        "photos": len(outcomes),
        "single_photos": len(singles),
        "single_accuracy": rate(o.correct for o in singles),
        "number_photos": len(numbers),
        "number_exact": rate(o.correct for o in numbers),
        "number_count_correct": rate(o.count_correct for o in numbers),
        "number_digit_accuracy": rate(str(a) == b for o in counted
                                      for a, b in zip(o.digits, o.truth, strict=True)),
        "page_photos": len(pages),
        "pages_exact": rate(o.correct for o in pages),
        "lines_exact": rate(hit for o in pages for hit in [True] * o.lines_exact
                            + [False] * (len(o.truth.split(" ")) - o.lines_exact)),
        "no_digit_photos": len(empty),
        "not_read": rate(not o.answered for o in empty),
    }


def part(outcomes: list[Outcome], name: str, kinds: tuple[str, ...] | None = None) -> list[Outcome]:
    return [o for o in outcomes if o.part == name and (kinds is None or o.kind in kinds)]


def digit_photos(outcomes: list[Outcome]) -> list[Outcome]:
    """The photos of single digits and numbers (plain, notebook, fonts, small): those read by coverage."""
    return [o for o in outcomes if o.part in DIGIT_PARTS and o.kind in ("single", "number")]


def risk_coverage(outcomes: list[Outcome], points: int = 20) -> list[tuple[float, float, float]]:
    """(least probability kept, coverage, accuracy among those kept) as the probability a photo's every
    digit must reach rises: what answering fewer photos buys."""
    photos = sorted(digit_photos(outcomes), key=lambda o: -o.confidence)
    rows = []
    for step in range(1, points + 1):
        kept = photos[:max(1, round(len(photos) * step / points))]
        rows.append((round(kept[-1].confidence, 4), round(len(kept) / len(photos), 4),
                     rate(o.correct for o in kept)))
    return rows if photos else []


def headline(figures: dict) -> dict:
    """The few figures `dvc metrics show` lists (it must stay narrow): single digits read right on each
    kind of photo, lines of pages read exactly, photos with no digit answered "no digits", and of the
    photos of digits, the share read sure and the accuracy among those. The rest: figures_document."""
    return {"plain": figures["plain_single"], "notebook": figures["notebook_single"], "fonts": figures["fonts_single"],
            "small": figures["small_single"], "pages": figures["lines_exact"], "no_digit": figures["no_digit_not_read"],
            "coverage": figures["coverage"], "read_accuracy": figures["read_accuracy"]}


def figures_document(outcomes: list[Outcome]) -> dict:
    """Every part's figures (single digits read right, numbers read exactly, pages with every line and
    lines read exactly, photos with no digit not read), coverage, accuracy among sure answers and the
    calibration error of single digits' probabilities."""
    by_part = {name: summary(part(outcomes, name)) for name in PARTS}
    non_digit = [o for o in part(outcomes, "non_digit") if o.kind != "blank"]
    singles = [o for o in digit_photos(outcomes) if o.kind == "single"]
    return {
        "plain_single": by_part["plain"]["single_accuracy"],
        "plain_number": by_part["plain"]["number_exact"],
        "notebook_single": by_part["notebook"]["single_accuracy"],
        "notebook_number": by_part["notebook"]["number_exact"],
        "fonts_single": by_part["fonts"]["single_accuracy"],
        "fonts_number": by_part["fonts"]["number_exact"],
        "small_single": by_part["small"]["single_accuracy"],
        "pages_exact": by_part["pages"]["pages_exact"],
        "lines_exact": by_part["pages"]["lines_exact"],
        "no_digit_not_read": rate(not o.answered for o in part(outcomes, "non_digit")),
        "non_digit_not_read": rate(not o.answered for o in non_digit),
        "blank_not_read": rate(not o.answered for o in part(outcomes, "non_digit", ("blank",))),
        "coverage": rate(o.status == "read" for o in digit_photos(outcomes)),
        "read_accuracy": rate(o.correct for o in digit_photos(outcomes) if o.status == "read"),
        "ece": calibration_error([o.confidence for o in singles if o.answered],
                                 [o.correct for o in singles if o.answered]),
    }


FIGURES = ("photos", "single_photos", "single_accuracy", "number_photos", "number_exact", "number_count_correct",
           "number_digit_accuracy", "page_photos", "pages_exact", "lines_exact", "no_digit_photos", "not_read")
CONDITION_COLUMNS = ("condition", "kind", "class", *FIGURES)


def breakdown(outcomes: list[Outcome]) -> list[tuple[str, str, dict]]:
    """(kind, class, figures): every photo; each part; each class of each condition over the photos of
    digits (plain, notebook, fonts, small); each hand (MNIST, each font family, the marks); each kind of
    photo with no digit."""
    digits = [o for o in outcomes if o.part in DIGIT_PARTS]
    rows = [("all", "", summary(outcomes))]
    rows += [("part", name, summary(part(outcomes, name))) for name in PARTS]
    rows += [(kind, name, summary([o for o in digits if o.conditions[kind] == name]))
             for kind, names in ALL_CONDITIONS.items() for name in names]
    rows += [("hand", hand, summary([o for o in outcomes if o.hand == hand]))
             for hand in sorted({o.hand for o in outcomes})]
    rows += [("no digit", kind, summary([o for o in outcomes if o.kind == kind and not o.truth]))
             for kind in ("letters", "signs", "mark", "blank")]
    return rows


def condition_rows(outcomes: list[Outcome]) -> list[tuple]:
    """One CSV row per line of the breakdown ("light: hard_shadow", ...); a figure with no photos is empty."""
    return [(f"{kind}: {name}" if name else kind, kind, name,
             *("" if figures[key] is None else figures[key] for key in FIGURES))
            for kind, name, figures in breakdown(outcomes)]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def conditions_table(outcomes: list[Outcome], mnist_accuracy: float | None = None) -> str:
    """The breakdown as a Markdown table, with the plain singles' accuracy as 28x28 images above it."""
    lines = []
    if mnist_accuracy is not None:
        lines += [f"The plain part's single digits as MNIST gives them (28x28, no photo): {percent(mnist_accuracy)}.",
                  ""]
    lines += ["| condition | class | photos | single digits | read right | numbers | read exactly | "
              "right digit count | pages | every line exact | lines exact | no digit | not read |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind, name, f in breakdown(outcomes):
        lines.append(f"| {kind} | {name} | {f['photos']} | {f['single_photos']} | {percent(f['single_accuracy'])} | "
                     f"{f['number_photos']} | {percent(f['number_exact'])} | {percent(f['number_count_correct'])} | "
                     f"{f['page_photos']} | {percent(f['pages_exact'])} | {percent(f['lines_exact'])} | "
                     f"{f['no_digit_photos']} | {percent(f['not_read'])} |")
    return "\n".join(lines) + "\n"
