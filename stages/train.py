"""Stage 3, train: fit the Sequential 784 → hidden Dense layers → 10 network, write models/model.keras.

Everything comes from params.yaml `train:`. A seeded `validation_fraction` of the 60,000 training
images is held out for validation; the test images are never read here.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from mnist_dvc import params
from mnist_dvc.common import NUM_CLASSES, UserError, atomic_paths, load_mnist, run_main

INPUT = Path("data/prepared/mnist.npz")
MODEL = Path("models/model.keras")
HISTORY = Path("reports/train_history.csv")
TRAIN_METRICS = Path("reports/train_metrics.json")
HISTORY_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy")
# Validation accuracy below this is no better than guessing (1 in 10): the run learned nothing.
CHANCE_LEVEL = 2 / NUM_CLASSES


def history_csv(history: dict[str, list[float]]) -> str:
    lines = ["epoch," + ",".join(HISTORY_COLUMNS)]
    for epoch in range(len(history["loss"])):
        lines.append(f"{epoch + 1}," + ",".join(f"{history[column][epoch]:.6f}" for column in HISTORY_COLUMNS))
    return "\n".join(lines) + "\n"


def main() -> None:
    config = params.load("train")
    arrays = load_mnist(INPUT, normalized=True, splits=("train",))
    from mnist_dvc import network  # TensorFlow loads only once the params and the data have passed their checks

    started = time.perf_counter()
    model, history, validation = network.train(arrays, config)
    seconds = time.perf_counter() - started
    summary = {
        "epochs_run": len(history["loss"]),
        "val_loss": round(float(validation["loss"]), 6),
        "val_accuracy": round(float(validation["accuracy"]), 6),
    }
    if not math.isfinite(summary["val_loss"]):
        raise UserError(f"training diverged (validation loss {summary['val_loss']}): nothing was written; "
                        "try a smaller train.learning_rate")
    with atomic_paths(MODEL, HISTORY, TRAIN_METRICS) as (model_tmp, history_tmp, metrics_tmp):
        network.write_model(model, model_tmp)
        history_tmp.write_text(history_csv(history))
        metrics_tmp.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"train: {summary['epochs_run']} epochs in {seconds:.1f} s; validation accuracy "
          f"{summary['val_accuracy']:.4f}; wrote {MODEL}")
    if summary["val_accuracy"] < CHANCE_LEVEL:
        print(f"warning: validation accuracy {summary['val_accuracy']:.4f} is chance level (0.1 is guessing): "
              "the model learned nothing; check train.learning_rate, train.epochs and the data", file=sys.stderr)


if __name__ == "__main__":
    run_main(main, outputs=(MODEL, HISTORY, TRAIN_METRICS))
