"""Stage calibrate: make the reader's probabilities mean what they say, and say from which one a digit is sure.

On the validation split only (never the test set): MNIST's held-out training digits, and the photo
path's frames of photos of the validation digits and font families (data/prepared/photo_frames.npz,
"not a digit" among them), a temperature T is fitted that divides the network's logits (averaged over
each frame's views, params' calibrate.view_*, as every reader reads them) so that the softmax's
probabilities are as likely as can be (the negative log-likelihood is least): temperature scaling, which
moves no answer, only how sure it is. Writes models/model.calibration.json (T, and params'
calibrate.sure_probability, not_a_digit_probability and views, read by every reader beside the model) and
reports/calibration.json: T, the calibration error before and after on the validation split, and, at
the sure probability, the share of validation frames read as sure and the accuracy among them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from mnist_dvc import params
from mnist_dvc.calibration import calibration_error
from mnist_dvc.errors import run_main
from mnist_dvc.files import atomic_paths, load_npz
from mnist_dvc.inference import Calibration, Views, calibration_path, load_model, softmax, viewed_logits
from mnist_dvc.mnist import NOT_A_DIGIT, NUM_CLASSES, load_mnist, scale_pixels, split_validation
from mnist_dvc.paths import MODEL, PHOTO_FRAMES, PREPARED_MNIST

CALIBRATION = calibration_path(MODEL)
METRICS = Path("reports/calibration.json")
OUTPUTS = (CALIBRATION, METRICS)


def negative_log_likelihood(raw: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = raw.astype(np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    log_probabilities = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def fit_temperature(raw: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that makes the labels most likely."""
    result = minimize_scalar(lambda t: negative_log_likelihood(raw, labels, t), bounds=(0.05, 20), method="bounded")
    return float(result.x)


def sure_figures(probabilities: np.ndarray, labels: np.ndarray, sure_probability: float) -> tuple[float, float]:
    """Of the frames that are digits: the share read as a digit at `sure_probability` or more, and the
    accuracy among them."""
    digits = labels < NUM_CLASSES
    best = probabilities[digits, :NUM_CLASSES].argmax(axis=1)
    sure = probabilities[digits][np.arange(digits.sum()), best] >= sure_probability
    accuracy = float((best[sure] == labels[digits][sure]).mean()) if sure.any() else 0.0
    return float(sure.mean()), accuracy


def reliability(probabilities: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[bool]]:
    """Each frame's probability of the digit read and whether it is right ("not a digit" counted as an
    answer too, so its frames weigh in)."""
    best = probabilities.argmax(axis=1)
    return probabilities[np.arange(len(labels)), best].tolist(), (best == labels).tolist()


def validation_set() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's validation digits and the photo path's validation frames (0..1), with their labels: each
    image counts alike in the fit."""
    train = params.load("train")
    arrays = load_mnist(PREPARED_MNIST, normalized=True, splits=("train",))
    _, held_out = split_validation(len(arrays["y_train"]), train.validation_fraction, train.seed)
    frames = load_npz(PHOTO_FRAMES, ("x_validation", "y_validation"))
    images = np.concatenate([arrays["x_train"][held_out], scale_pixels(frames["x_validation"])])
    labels = np.concatenate([arrays["y_train"][held_out], frames["y_validation"]]).astype(np.int64)
    return images, labels


def main() -> None:
    config = params.load("calibrate")
    network = load_model(MODEL)
    images, labels = validation_set()
    if network.outputs <= NOT_A_DIGIT:  # a model with no "not a digit" output: its frames cannot count
        digits = labels < NUM_CLASSES
        images, labels = images[digits], labels[digits]
    views = Views(config.view_shift_pixels, config.view_rotation_degrees)
    raw = viewed_logits(network, images, views)  # as every reader will read them
    temperature = fit_temperature(raw, labels)
    before, after = softmax(raw), softmax(raw / temperature)
    coverage, accuracy = sure_figures(after, labels, config.sure_probability)
    metrics = {"temperature": round(temperature, 4),
               "validation_ece_before": calibration_error(*reliability(before, labels)),
               "validation_ece": calibration_error(*reliability(after, labels)),
               "sure_coverage": round(coverage, 4), "sure_accuracy": round(accuracy, 4)}
    with atomic_paths(*OUTPUTS) as (calibration_tmp, metrics_tmp):
        calibration_tmp.write_text(Calibration(temperature, config.sure_probability, views,
                                                 config.not_a_digit_probability).as_json())
        metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"calibrate: temperature {temperature:.4f} on {len(labels)} validation images; calibration error "
          f"{metrics['validation_ece_before']} -> {metrics['validation_ece']}; at {config.sure_probability} "
          f"{coverage:.1%} of the digits are sure, {accuracy:.2%} of those right")


if __name__ == "__main__":
    run_main(main, outputs=OUTPUTS)
