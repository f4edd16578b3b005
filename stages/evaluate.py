"""Stage 4, evaluate: score models/model.keras on the 10,000 test images.

Writes reports/metrics.json (the headline figures: test accuracy and calibration error),
reports/per_class.csv (images, TP, FN, FP, precision, recall and F1 per digit: a DVC plot, kept out of
the metrics so that `dvc metrics show` and `dvc exp show` stay readable),
reports/predictions.csv (actual,predicted per test image: DVC's confusion plot),
reports/per_class.md (the per-digit table, and the counts in words),
reports/confusion_matrix.png and reports/misclassified.png.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from mnist_dvc import params
from mnist_dvc.calibration import calibration_error, reliability_rows
from mnist_dvc.errors import run_main
from mnist_dvc.files import atomic_paths, csv_text
from mnist_dvc.inference import load_reader
from mnist_dvc.mnist import NUM_CLASSES, load_mnist
from mnist_dvc.paths import MODEL, PREPARED_MNIST

DATA = PREPARED_MNIST
METRICS = Path("reports/metrics.json")
PREDICTIONS = Path("reports/predictions.csv")
PER_CLASS_CSV = Path("reports/per_class.csv")
PER_CLASS_COLUMNS = ("digit", "support", "tp", "fn", "fp", "precision", "recall", "f1")
PER_CLASS = Path("reports/per_class.md")
CONFUSION_PNG = Path("reports/confusion_matrix.png")
MISCLASSIFIED_PNG = Path("reports/misclassified.png")
RELIABILITY = Path("reports/reliability.csv")
# written together, all or none
OUTPUTS = (METRICS, PREDICTIONS, PER_CLASS_CSV, PER_CLASS, CONFUSION_PNG, MISCLASSIFIED_PNG, RELIABILITY)
DIGITS = list(range(NUM_CLASSES))


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """counts[true, predicted] over the digits 0-9."""
    flat = actual.astype(np.int64) * NUM_CLASSES + predicted.astype(np.int64)
    return np.bincount(flat, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_figures(confusion: np.ndarray) -> list[dict[str, float]]:
    """True positives, false negatives, false positives, precision, recall and F1 for each digit."""
    figures = []
    for digit in DIGITS:
        tp = int(confusion[digit, digit])
        fn = int(confusion[digit].sum()) - tp
        fp = int(confusion[:, digit].sum()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        figures.append({"digit": digit, "support": tp + fn, "tp": tp, "fn": fn, "fp": fp,
                        "precision": precision, "recall": recall, "f1": f1})
    return figures


def metrics_document(accuracy: float, ece: float | None) -> dict:
    """What `dvc metrics show` lists of the test set (it must stay narrow): the loss and the macro F1 are
    printed and go to per_class.md."""
    return {"test_accuracy": round(accuracy, 6), "test_ece": ece}


def macro_f1(figures: list[dict[str, float]]) -> float:
    return float(np.mean([row["f1"] for row in figures]))


def per_class_rows(figures: list[dict[str, float]]) -> list[tuple]:
    """One row per digit in PER_CLASS_COLUMNS order, ratios rounded to 6 places."""
    return [tuple(round(row[column], 6) if isinstance(row[column], float) else row[column]
                  for column in PER_CLASS_COLUMNS) for row in figures]


def per_class_report(figures: list[dict[str, float]], loss: float) -> str:
    lines = [
        "# Per-class results on the 10,000 test images",
        "",
        f"Macro F1 {macro_f1(figures):.6f}; cross-entropy loss {loss:.6f}.",
        "",
        "| digit | images | correct (TP) | missed (FN) | others predicted as it (FP) | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['digit']} | {r['support']} | {r['tp']} | {r['fn']} | {r['fp']} | {r['precision']:.4f} "
              f"| {r['recall']:.4f} | {r['f1']:.4f} |" for r in figures]
    lines += ["", *[describe_class(row) for row in figures], ""]
    return "\n".join(lines)


def describe_class(row: dict[str, float]) -> str:
    digit = row["digit"]
    return (f"- {digit} is predicted correctly {row['tp']} times; {row['fn']} times the input was {digit} but the "
            f"model predicted another digit; {row['fp']} times the model predicted {digit} for another digit.")


def save_figure(figure: plt.Figure, path: Path) -> None:
    figure.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def plot_confusion(confusion: np.ndarray, accuracy: float) -> plt.Figure:
    figure, axes = plt.subplots(figsize=(7.5, 6.5))
    image = axes.imshow(confusion, cmap="Blues", norm=matplotlib.colors.LogNorm(vmin=1, vmax=confusion.max()))
    threshold = math.sqrt(confusion.max())
    for true in DIGITS:
        for predicted in DIGITS:
            count = int(confusion[true, predicted])
            colour = "white" if count > threshold else "black"
            axes.text(predicted, true, str(count), ha="center", va="center", fontsize=9, color=colour)
    axes.set_xticks(DIGITS)
    axes.set_yticks(DIGITS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"MNIST test set: {accuracy:.2%} correct ({int(np.trace(confusion))} of {int(confusion.sum())})")
    figure.colorbar(image, ax=axes, label="images (log scale)")
    figure.tight_layout()
    return figure


def most_confident_mistakes(probabilities: np.ndarray, actual: np.ndarray, count: int) -> np.ndarray:
    """Indices of wrong predictions, most confident first (ties in index order)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != actual)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def plot_mistakes(images: np.ndarray, probabilities: np.ndarray, actual: np.ndarray, indices: np.ndarray) -> plt.Figure:
    columns = max(1, math.ceil(math.sqrt(len(indices))))
    rows = max(1, math.ceil(len(indices) / columns))
    figure, grid = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows + 0.4), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, index in zip(grid.flat, indices, strict=False):
        predicted = int(probabilities[index].argmax())
        axes.imshow(images[index], cmap="gray_r", vmin=0, vmax=1)
        axes.set_title(f"{actual[index]} → {predicted} ({probabilities[index, predicted]:.2f})", fontsize=9)
    figure.suptitle("Most confident mistakes: true → predicted (probability)", fontsize=10)
    figure.tight_layout()
    return figure


def main() -> None:
    config = params.load("evaluate")
    arrays = load_mnist(DATA, normalized=True, splits=("test",))
    reader = load_reader(MODEL)
    images, actual = arrays["x_test"], arrays["y_test"].astype(np.int64)
    outputs = reader.probabilities(images)  # calibrated; "not a digit" the eleventh, when the model has it
    probabilities = outputs[:, :NUM_CLASSES]  # the best digit is read, as the photo reader reads it
    predicted = probabilities.argmax(axis=1)
    confidences, hits = probabilities.max(axis=1).tolist(), (predicted == actual).tolist()

    confusion = confusion_matrix(actual, predicted)
    figures = per_class_figures(confusion)
    accuracy = float(np.trace(confusion) / confusion.sum())
    metrics = metrics_document(accuracy, calibration_error(confidences, hits))
    loss = cross_entropy(outputs, actual)

    mistakes = most_confident_mistakes(probabilities, actual, config.misclassified_count)
    with atomic_paths(*OUTPUTS) as (metrics_tmp, predictions_tmp, per_class_csv_tmp, per_class_tmp, confusion_tmp,
                                     mistakes_tmp, reliability_tmp):
        reliability_tmp.write_text(csv_text(("confidence", "accuracy", "images"),
                                            reliability_rows(confidences, hits)))
        metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        predictions_tmp.write_text(csv_text(("actual", "predicted"), zip(actual.tolist(), predicted.tolist(),
                                                                          strict=True)))
        per_class_csv_tmp.write_text(csv_text(PER_CLASS_COLUMNS, per_class_rows(figures)))
        per_class_tmp.write_text(per_class_report(figures, loss))
        save_figure(plot_confusion(confusion, accuracy), confusion_tmp)
        save_figure(plot_mistakes(images, probabilities, actual, mistakes), mistakes_tmp)

    print(f"evaluate: test accuracy {accuracy:.4f}, loss {loss:.4f}, macro F1 {macro_f1(figures):.4f}, "
          f"calibration error {metrics['test_ece']}")
    for row in figures:
        print(describe_class(row))


if __name__ == "__main__":
    run_main(main, outputs=OUTPUTS)
