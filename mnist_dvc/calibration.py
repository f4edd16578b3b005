"""How well a reader's probabilities match how often it is right: the expected calibration error and the
reliability diagram's bins, shared by the calibrate and evaluate stages and the photo benchmark."""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def calibration_error(confidences: list[float], hits: list[bool], bins: int = ECE_BINS) -> float | None:
    """Expected calibration error: over equal-width bins of confidence, the gap between the mean
    confidence and the share right, weighted by the bin's share of the answers."""
    if not confidences:
        return None
    confidence, hit = np.asarray(confidences, float), np.asarray(hits, float)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    error = sum(abs(confidence[index == k].mean() - hit[index == k].mean()) * (index == k).sum()
                for k in range(bins) if (index == k).any())
    return round(float(error / len(confidence)), 4)


def reliability_rows(confidences: list[float], hits: list[bool], bins: int = ECE_BINS) -> list[tuple]:
    """One row per non-empty bin: (mean confidence, share right, answers), for the reliability diagram."""
    confidence, hit = np.asarray(confidences, float), np.asarray(hits, float)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    return [(round(float(confidence[index == k].mean()), 4), round(float(hit[index == k].mean()), 4),
             int((index == k).sum())) for k in range(bins) if (index == k).any()]
