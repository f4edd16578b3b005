"""Keras' own answers for a saved model: what the TensorFlow-free reader (mnist_dvc.inference) is checked against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_dvc.inference import softmax


def keras_probabilities(path: Path, images: np.ndarray) -> np.ndarray:
    """Softmax rows (float64) from the model at `path` loaded and run by Keras itself."""
    from tensorflow import keras

    model = keras.models.load_model(path, compile=False, safe_mode=True)
    return softmax(np.asarray(model.predict(images, batch_size=2048, verbose=0), dtype=np.float64))
