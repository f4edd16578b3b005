"""The photo benchmark's parts: which photos it renders, each with its seed, what is written on it and how.

- plain: MNIST digits on plain paper (the photos the benchmark began with: same seeds, same bytes);
- notebook: MNIST digits on ruled and on squared paper, sitting on the lines, lines crossing strokes;
- fonts: digits in handwriting fonts the photo path and the model never saw (the held-out families);
- small: single MNIST digits 25-60 px tall in a larger photo, defocused, moved or sharp, some scaled down
  and re-encoded as a low-quality JPEG;
- pages: sheets of several lines of numbers, lines 1.3-1.6 digit heights apart, on each paper;
- non_digit: letters and signs in the held-out fonts, marks drawn by hand (ticks, stars, scribbles, ...),
  and blank plain, ruled and squared pages: photos with no digit in them.

Only the plan is here: pure and seeded, so tests can check it without rendering anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_dvc.render import MARKS, Glyph, Layout, font_glyphs, mnist_glyphs

PARTS = ("plain", "notebook", "fonts", "small", "pages", "non_digit")
# Letters a person would read as a digit in a number (O 0, I l 1, Z z 2, S s 5, b G 6, B 8, g q 9) are
# not asked of the non-digit part: reading them as digits is not a mistake.
LETTERS = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in "OoIilZzSsbGBgq")
SIGNS = "%&#@?+=*"
SHEETS = ("plain", "ruled", "squared")
SMALL_HEIGHT = (25.0, 60.0)  # px in the final photo
PAGE_SIDES = (1000, 2000)  # a sheet is photographed whole, at a higher resolution than a note
PAGE_NUMBER_DIGITS = (3, 10)


@dataclass(frozen=True)
class Job:
    """One photo to render: the seed that makes it, what is written on it, and what is fixed about it."""

    name: str
    part: str  # one of PARTS
    kind: str  # single, number, page, letters, signs, mark, blank
    seed: tuple[int, ...]
    lines: tuple[tuple[Glyph, ...], ...]
    classes: tuple[tuple[str, str], ...] = ()  # conditions fixed for this photo, e.g. (("sheet", "ruled"),)
    layout: Layout = field(default_factory=Layout)
    hand: str = "mnist"  # mnist, a font family, marks, or blank

    @property
    def truth(self) -> str:
        """The digits to read: each line's, lines separated by a space; "" for a photo with no digit."""
        lines = ("".join(g.symbol for g in line if g.symbol.isdigit() and len(g.symbol) == 1) for line in self.lines)
        return " ".join(line for line in lines if line)

    @property
    def digit_images(self) -> np.ndarray:
        """The MNIST images written on the photo, (n, 28, 28)."""
        images = [g.image for line in self.lines for g in line if g.image is not None]
        return np.stack(images) if images else np.zeros((0, 28, 28), np.uint8)


class Deck:
    """MNIST digits dealt in a seeded order, wrapping around when more are asked for than there are."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int) -> None:
        self.images, self.labels = images, labels
        self.rng = np.random.default_rng([seed, 0])
        self.order = self.rng.permutation(len(images))
        self.next = 0

    def deal(self, count: int) -> tuple[Glyph, ...]:
        picked = np.take(self.order, np.arange(self.next, self.next + count), mode="wrap")
        self.next += count
        return mnist_glyphs(self.images[picked], [int(label) for label in self.labels[picked]])


def plain_jobs(deck: Deck, singles: int, numbers: int, number_digits: tuple[int, int], seed: int) -> list[Job]:
    """The plain part, as the benchmark made it before it had parts: the same digits and the same seeds."""
    lengths = deck.rng.integers(number_digits[0], number_digits[1] + 1, size=numbers)
    jobs = [Job(f"single-{index:04d}", "plain", "single", (seed, 1, index), (deck.deal(1),))
            for index in range(singles)]
    jobs += [Job(f"number-{index:04d}", "plain", "number", (seed, 2, index), (deck.deal(int(length)),))
             for index, length in enumerate(lengths)]
    return jobs


def notebook_jobs(deck: Deck, singles: int, numbers: int, number_digits: tuple[int, int], seed: tuple[int, ...]
                  ) -> list[Job]:
    rng = np.random.default_rng([*seed, 0])
    jobs = []
    for index in range(singles + numbers):
        kind = "single" if index < singles else "number"
        count = 1 if kind == "single" else int(rng.integers(number_digits[0], number_digits[1] + 1))
        sheet = ("ruled", "squared")[index % 2]
        jobs.append(Job(f"notebook-{kind}-{index:04d}", "notebook", kind, (*seed, index), (deck.deal(count),),
                        (("sheet", sheet),)))
    return jobs


def font_jobs(fonts: dict[str, str], singles: int, numbers: int, number_digits: tuple[int, int],
              seed: tuple[int, ...]) -> list[Job]:
    """Digits written in each font family in turn (`fonts`: family → font file)."""
    rng = np.random.default_rng([*seed, 0])
    families = sorted(fonts)
    jobs = []
    for index in range(singles + numbers):
        kind = "single" if index < singles else "number"
        count = 1 if kind == "single" else int(rng.integers(number_digits[0], number_digits[1] + 1))
        digits = "".join(str(d) for d in rng.integers(0, 10, size=count))
        family = families[index % len(families)]
        jobs.append(Job(f"fonts-{kind}-{index:04d}", "fonts", kind, (*seed, index),
                        (font_glyphs(digits, fonts[family]),), hand=family))
    return jobs


def small_jobs(deck: Deck, singles: int, seed: tuple[int, ...]) -> list[Job]:
    """Every pairing of a blur (defocus, motion, the lens's alone) with a full or a resent low resolution."""
    jobs = []
    for index in range(singles):
        optics = ("defocus", "motion", "lens")[index % 3]
        resolution = ("low", "full")[(index // 3) % 2]
        jobs.append(Job(f"small-{index:04d}", "small", "single", (*seed, index), (deck.deal(1),),
                        (("optics", optics), ("resolution", resolution)), Layout(digit_height=SMALL_HEIGHT)))
    return jobs


def page_jobs(deck: Deck, pages: int, page_lines: tuple[int, int], seed: tuple[int, ...]) -> list[Job]:
    rng = np.random.default_rng([*seed, 0])
    jobs = []
    for index in range(pages):
        count = int(rng.integers(page_lines[0], page_lines[1] + 1))
        lengths = rng.integers(PAGE_NUMBER_DIGITS[0], PAGE_NUMBER_DIGITS[1] + 1, size=count)
        lines = tuple(deck.deal(int(length)) for length in lengths)
        jobs.append(Job(f"page-{index:04d}", "pages", "page", (*seed, index), lines,
                        (("sheet", SHEETS[index % 3]),), Layout(sides=PAGE_SIDES)))
    return jobs


def non_digit_jobs(fonts: dict[str, str], photos: int, blanks: int, seed: tuple[int, ...]) -> list[Job]:
    """Letters (alone, or a short word), signs and marks, in turn, on each paper; then blank pages."""
    rng = np.random.default_rng([*seed, 0])
    families = sorted(fonts)
    marks = sorted(MARKS)
    jobs = []
    for index in range(photos):
        kind = ("letters", "signs", "mark", "letters", "mark")[index % 5]
        family = families[index % len(families)]
        if kind == "letters":
            text = "".join(rng.choice(list(LETTERS), size=int(rng.choice([1, 1, 2, 3]))))
            lines, hand = (font_glyphs(text, fonts[family]),), family
        elif kind == "signs":
            lines, hand = (font_glyphs(str(rng.choice(list(SIGNS))), fonts[family]),), family
        else:
            lines, hand = ((Glyph(marks[(index // 5) % len(marks)]),),), "marks"
        jobs.append(Job(f"non-digit-{index:04d}", "non_digit", kind, (*seed, index), lines,
                        (("sheet", SHEETS[(index // 2) % 3]),), hand=hand))
    jobs += [Job(f"blank-{index:04d}", "non_digit", "blank", (*seed, photos + index), (),
                 (("sheet", SHEETS[index % 3]),), hand="blank") for index in range(blanks)]
    return jobs


def plan(config, images: np.ndarray, labels: np.ndarray, fonts: dict[str, str], split: int) -> list[Job]:
    """Every photo of every part, from `config` (params' photo_benchmark section), MNIST `images` and
    `labels` (test or validation), the held-out `fonts` (family → file) and `split` (0 test, 1
    validation: the new parts' seeds differ between the two)."""
    deck = Deck(images, labels, config.seed)
    jobs = plain_jobs(deck, config.single_digits, config.numbers, config.number_digits, config.seed)
    jobs += notebook_jobs(deck, config.notebook_single, config.notebook_numbers, config.number_digits,
                          (config.seed, 3, split))
    if fonts:
        jobs += font_jobs(fonts, config.fonts_single, config.fonts_numbers, config.number_digits,
                          (config.seed, 4, split))
    jobs += small_jobs(deck, config.small_single, (config.seed, 5, split))
    jobs += page_jobs(deck, config.pages, config.page_lines, (config.seed, 6, split))
    jobs += non_digit_jobs(fonts, config.non_digit if fonts else 0, config.blank_pages, (config.seed, 7, split))
    return jobs
