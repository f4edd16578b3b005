"""Where the pipeline's shared files live, relative to the project's root (dvc.yaml names the same paths).

Files one stage alone writes and nothing else reads (its reports) are named in that stage.
"""

from pathlib import Path

RAW_MNIST = Path("data/raw/mnist.npz")
PREPARED_MNIST = Path("data/prepared/mnist.npz")
OWN = Path("data/own")
OWN_TRAIN_SET = Path("data/prepared/own_train.npz")
OWN_HOLDOUT_SET = Path("data/prepared/own_holdout.npz")
MODEL = Path("models/model.keras")
FONTS = Path("data/raw/fonts")
PHOTO_FRAMES = Path("data/prepared/photo_frames.npz")
GLYPH_FRAMES = Path("data/prepared/glyph_frames.npz")
