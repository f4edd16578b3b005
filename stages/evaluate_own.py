"""Stage, evaluate_own: the model on the held-out share of your labelled digits.

Writes reports/own_metrics.json (the accuracy; with no samples, nothing) and reports/own_predictions.csv
(path,actual,predicted, one row per sample scored: DVC's confusion plot). Only
data/prepared/own_holdout.npz is read: never a sample the model trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_dvc.errors import run_main
from mnist_dvc.files import atomic_paths, csv_text
from mnist_dvc.inference import load_model, probabilities
from mnist_dvc.mnist import NUM_CLASSES, scale_pixels
from mnist_dvc.own import load_set
from mnist_dvc.paths import MODEL, OWN_HOLDOUT_SET

HOLDOUT_SET = OWN_HOLDOUT_SET
METRICS = Path("reports/own_metrics.json")
PREDICTIONS = Path("reports/own_predictions.csv")


def metrics_document(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """{"accuracy": ...}, one column of `dvc metrics show` so that it stays narrow (how many samples were
    scored and each digit's answers are in the predictions and their confusion plot)."""
    if not len(actual):
        return {}
    return {"accuracy": round(float(np.mean(actual == predicted)), 6)}


def main() -> None:
    arrays = load_set(HOLDOUT_SET)
    actual = arrays["y"].astype(np.int64)
    predicted = np.zeros(0, np.int64)
    if len(actual):
        predicted = probabilities(load_model(MODEL), scale_pixels(arrays["x"]))[:, :NUM_CLASSES].argmax(axis=1)
    metrics = metrics_document(actual, predicted)
    with atomic_paths(METRICS, PREDICTIONS) as (metrics_tmp, predictions_tmp):
        metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        predictions_tmp.write_text(csv_text(("path", "actual", "predicted"),
                                            zip(arrays["names"].tolist(), actual.tolist(), predicted.tolist(),
                                                strict=True)))
    if len(actual):
        print(f"evaluate_own: accuracy {metrics['accuracy']:.4f} on {len(actual)} held-out own digits")
    else:
        print("evaluate_own: no labelled own digits to score (add some to data/own/<digit>/)")


if __name__ == "__main__":
    run_main(main)
