"""Shared fixtures: small synthetic MNIST-like data, and throw-away copies of the repository."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mnist_dvc.files import array_digest, save_npz
from tests.helpers.params import committed_params

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)

# Tiny params for pipeline runs: seconds, not minutes.
SMALL_TRAIN = {
    "hidden_units": [16, 16], "epochs": 2, "batch_size": 64, "augment_shift_pixels": 1,
    "early_stopping_patience": 0, "validation_fraction": 0.2,
}
SMALL_PHOTO_BENCHMARK = {"single_digits": 6, "numbers": 3, "failures_shown": 4, "notebook_single": 2,
                         "notebook_numbers": 1, "fonts_single": 2, "fonts_numbers": 1, "small_single": 2, "pages": 1,
                         "page_lines": [2, 3], "non_digit": 3, "blank_pages": 1}


def pytest_configure(config: pytest.Config) -> None:
    """A shell starts a background job with Ctrl-C ignored, and every process it starts inherits that:
    the tests that interrupt the project's commands need SIGINT delivered as in a terminal."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def dejavu_fonts() -> Path:
    """matplotlib's bundled DejaVu fonts: stand-in handwriting families that need no network."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


# Font families of the stand-in fonts, split as the real ones are (each a file stem in dejavu_fonts()).
LOCAL_FONTS = {"train": ["DejaVuSans"], "validation": ["DejaVuSerif"], "test": ["DejaVuSansMono", "DejaVuSans-Oblique"]}


def synthetic_mnist(train: int = 600, test: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """MNIST-shaped uint8 data a small network can learn: digit d is a bright bar at column 2 + 2.4 d."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (("train", train), ("test", test)):
        labels = (np.arange(count) % 10).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(count, 28, 28), dtype=np.uint8)
        for index, digit in enumerate(labels):
            column = 2 + int(2.4 * digit)
            images[index, 4:24, column:column + 3] = 255
        arrays[f"x_{split}"], arrays[f"y_{split}"] = images, labels
    return arrays


@pytest.fixture
def small_arrays() -> dict[str, np.ndarray]:
    return synthetic_mnist()


def run(args: list[str], cwd: Path, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a command with the project's virtual environment first on PATH."""
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"], "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def project_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    return [name for name in listing if (REPO / name).is_file()]


def pin_digests(fetch_source: str, arrays: dict[str, np.ndarray]) -> str:
    """fetch.py's text with ARRAY_DIGESTS replaced by the digests of `arrays`."""
    for key, array in arrays.items():
        fetch_source, count = re.subn(rf'("{key}": )"[0-9a-f]{{64}}"', rf'\1"{array_digest(array)}"', fetch_source)
        assert count == 1, f"ARRAY_DIGESTS entry for {key} not found in stages/fetch.py"
    return fetch_source


def make_small_repo(destination: Path, arrays: dict[str, np.ndarray], train: dict | None = None) -> Path:
    """Copy the repository to `destination` as a fresh git repo whose pipeline runs on `arrays`.

    The copy's fetch stage reads the synthetic data as its local source (its pinned digests are
    swapped for the synthetic ones) and its fonts stage matplotlib's DejaVu fonts, so the real
    `dvc repro` runs end to end with no network.
    """
    repo = destination / "repo"
    for name in project_files():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    fetch_py = repo / "stages" / "fetch.py"
    fetch_py.write_text(pin_digests(fetch_py.read_text(), arrays))
    local = destination / "synthetic-mnist.npz"
    save_npz(local, arrays)
    params = committed_params()
    params["fetch"].update({"local_path": str(local), "sources": ["local"]})
    params["train"].update(SMALL_TRAIN | (train or {}))
    params["photo_benchmark"].update(SMALL_PHOTO_BENCHMARK)
    params["photo_frames"].update({"photos": 20, "validation_photos": 10})
    params["fonts"].update({"local_path": str(dejavu_fonts()), **LOCAL_FONTS})
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for args in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "copy"]):
        run(args, cwd=repo)
    return repo


def git_commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", message], cwd=repo)


def set_param(repo: Path, section: str, key: str, value) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def ran_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


# Fixtures of the web app's tests (a browser, a model that reads drawings, a running server), registered
# here so any test module can use them.
from tests.helpers.browser import browser  # noqa: E402, F401
from tests.helpers.live import live_server, reading_model, stroke_model  # noqa: E402, F401
