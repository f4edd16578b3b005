"""Stage 2, normalize: pixels from uint8 0..255 to float32 0..1; labels stay the digits 0-9."""

from __future__ import annotations

import numpy as np

from mnist_dvc.errors import run_main
from mnist_dvc.files import save_npz
from mnist_dvc.mnist import SPLITS, load_mnist, scale_pixels
from mnist_dvc.paths import PREPARED_MNIST, RAW_MNIST

INPUT = RAW_MNIST
OUTPUT = PREPARED_MNIST


def normalize(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    prepared = {}
    for split in SPLITS:
        prepared[f"x_{split}"] = scale_pixels(arrays[f"x_{split}"])
        prepared[f"y_{split}"] = arrays[f"y_{split}"]
    return prepared


def main() -> None:
    prepared = normalize(load_mnist(INPUT, normalized=False))
    save_npz(OUTPUT, prepared)
    print(f"normalize: wrote {OUTPUT} (x float32 in [0, 1], y unchanged)")


if __name__ == "__main__":
    run_main(main, outputs=(OUTPUT,))
