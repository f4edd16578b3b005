"""Stage 3, train: fit the Sequential 784 → hidden Dense layers → 11 network (the ten digits and "not a
digit"), write models/model.keras.

Everything comes from params.yaml `train:`. A seeded `validation_fraction` of the 60,000 training
images is held out for validation; the test images are never read here. With `own_data_fraction` > 0,
your labelled digits in data/prepared/own_train.npz (never the held-out ones) are repeated, slightly
distorted, to make up that share of the training examples.

Per-epoch figures are logged with DVCLive into reports/train/ as each epoch ends (`dvc plots show` draws
them; they are plots, not metrics, so that `dvc metrics show` stays narrow):
  reports/train/metrics.json                     the latest figures: train.loss, train.accuracy,
                                                 eval.loss, eval.accuracy (validation split) and step
                                                 (epochs run); once training ends, eval holds the saved
                                                 model's figures (the restored best epoch's, if early
                                                 stopping restored one)
  reports/train/plots/metrics/{train,eval}/*.tsv one row per epoch: the training curves
dvc.yaml declares these (DVCLive writes no dvc.yaml of its own), and no file holds a timestamp, so the
same params give the same bytes.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from mnist_dvc import params
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import atomic_paths, load_npz
from mnist_dvc.mnist import NOT_A_DIGIT, NUM_CLASSES, load_mnist, scale_pixels
from mnist_dvc.own import load_set
from mnist_dvc.paths import GLYPH_FRAMES, MODEL, OWN_TRAIN_SET, PHOTO_FRAMES, PREPARED_MNIST
from mnist_dvc.quiet import tensorflow_start_up_hidden

INPUT = PREPARED_MNIST
LIVE_DIR = Path("reports/train")
# Validation accuracy below this is no better than guessing (1 in 10): the run learned nothing.
CHANCE_LEVEL = 2 / NUM_CLASSES


def open_live():
    """DVCLive's logger for reports/train, writing no dvc.yaml of its own and saving no experiment itself."""
    from dvclive import Live
    from scmrepo.exceptions import SCMError

    try:
        return Live(str(LIVE_DIR), dvcyaml=False, save_dvc_exp=False, report=None)
    except SCMError as error:  # DVCLive reads the current git revision: a repository with no commit has none
        raise UserError(f"DVCLive cannot read the git revision ({error}): "
                        "commit once (git add -A && git commit) and run again") from None


def own_samples(config: params.TrainParams) -> tuple[np.ndarray, np.ndarray] | None:
    """Your labelled digits to mix in (frames scaled to 0..1, labels), or None when the param is off."""
    if config.own_data_fraction == 0:
        return None
    own = load_set(OWN_TRAIN_SET)
    return scale_pixels(own["x"]), own["y"]


def photo_frames(config: params.TrainParams) -> tuple[np.ndarray, np.ndarray] | None:
    """The frames the photo path makes of training photos and of training fonts' glyphs (scaled to 0..1)
    and their labels, or None when the param is off."""
    if config.photo_frames_fraction == 0:
        return None
    photos = load_npz(PHOTO_FRAMES, ("x_train", "y_train"))
    glyphs = load_npz(GLYPH_FRAMES, ("x", "y"))
    labels = np.concatenate([photos["y_train"], glyphs["y"]])
    if labels.size and int(labels.max()) > NOT_A_DIGIT:
        raise UserError(f"{PHOTO_FRAMES} or {GLYPH_FRAMES}: labels above {NOT_A_DIGIT}; run `dvc repro`")
    return scale_pixels(np.concatenate([photos["x_train"], glyphs["x"]])), labels


def main() -> None:
    config = params.load("train")
    arrays = load_mnist(INPUT, normalized=True, splits=("train",))
    own = own_samples(config)
    frames = photo_frames(config)
    # TensorFlow (and DVCLive, which opens the DVC repository) load only once the params and the data
    # have passed their checks.
    with tensorflow_start_up_hidden():
        import tensorflow as tf
        from dvclive.keras import DVCLiveCallback

        from mnist_dvc import network

        tf.config.list_physical_devices()  # where TensorFlow looks for a GPU, and says it found none

    started = time.perf_counter()
    with open_live() as live:
        live.step = 1  # DVCLive counts steps from 0; the plots and `step` count epochs from 1
        model, history, validation = network.train(arrays, config, (DVCLiveCallback(live=live),), own=own,
                                                    photo_frames=frames)
        live.summary["eval"] = {"accuracy": float(validation["accuracy"]), "loss": float(validation["loss"])}
    seconds = time.perf_counter() - started
    val_loss, val_accuracy = float(validation["loss"]), float(validation["accuracy"])
    if not math.isfinite(val_loss):
        raise UserError(f"training diverged (validation loss {val_loss}): the model was not written; "
                        "try a smaller train.learning_rate")
    with atomic_paths(MODEL) as (model_tmp,):
        network.write_model(model, model_tmp)
    mixed = f"; {len(own[1])} own digits mixed in" if own and len(own[1]) else ""
    print(f"train: {len(history['loss'])} epochs in {seconds:.1f} s; validation accuracy "
          f"{val_accuracy:.4f}{mixed}; wrote {MODEL}")
    if val_accuracy < CHANCE_LEVEL:
        print(f"warning: validation accuracy {val_accuracy:.4f} is chance level (0.1 is guessing): "
              "the model learned nothing; check train.learning_rate, train.epochs and the data", file=sys.stderr)


if __name__ == "__main__":
    run_main(main, outputs=(MODEL,))
