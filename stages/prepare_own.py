"""Stage, prepare_own: your labelled digits in data/own/<digit>/ as 28x28 frames, split once.

Each sample goes through the same photo → digits path as predict (mnist_dvc.photo); a sample in which
that path does not find exactly one digit is skipped with a warning. Per digit, a seeded share
(params.yaml own.holdout_fraction) is held out:

- data/prepared/own_holdout.npz: the held-out samples, the only ones evaluate_own scores;
- data/prepared/own_train.npz: the rest, which train mixes in. It is left empty while
  train.own_data_fraction is 0, so adding samples then never retrains the model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mnist_dvc import params
from mnist_dvc.errors import UserError, one_line, printable, run_main
from mnist_dvc.files import atomic_paths, write_npz
from mnist_dvc.own import OWN, empty_set, holdout_mask, labelled_samples
from mnist_dvc.paths import OWN_HOLDOUT_SET, OWN_TRAIN_SET
from mnist_dvc.photo import read_photo

TRAIN_SET = OWN_TRAIN_SET
HOLDOUT_SET = OWN_HOLDOUT_SET


def read_samples(samples: list[tuple[Path, int]]) -> dict[str, np.ndarray]:
    """The frame of every sample in which exactly one digit is found; a warning line for each other one."""
    frames, labels, names = [], [], []
    for path, digit in samples:
        try:
            found = read_photo(path, str(path)).digits
        except UserError as error:
            print(f"warning: skipped: {one_line(printable(str(error)))}", file=sys.stderr)
            continue
        if len(found) != 1:
            print(f"warning: skipped: {printable(str(path))}: {len(found)} digits found, expected one", file=sys.stderr)
            continue
        frames.append(found[0].frame)
        labels.append(digit)
        names.append(path.as_posix())
    if not labels:
        return empty_set()
    return {"x": np.stack(frames), "y": np.array(labels, np.uint8), "names": np.array(names)}


def subset(arrays: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[mask] for key, value in arrays.items()}


def main() -> None:
    own, train = params.load("own"), params.load("train")
    arrays = read_samples(labelled_samples(OWN))
    held_out = holdout_mask(arrays["names"].tolist(), arrays["y"], own.holdout_fraction, own.seed)
    trained_on = subset(arrays, ~held_out) if train.own_data_fraction > 0 else empty_set()
    with atomic_paths(HOLDOUT_SET, TRAIN_SET) as (holdout_tmp, train_tmp):
        write_npz(holdout_tmp, subset(arrays, held_out))
        write_npz(train_tmp, trained_on)
    print(f"prepare_own: {len(arrays['y'])} labelled samples: {int(held_out.sum())} held out for scoring, "
          f"{len(trained_on['y'])} for training"
          + ("" if train.own_data_fraction > 0 else " (train.own_data_fraction is 0)"))


if __name__ == "__main__":
    run_main(main)
