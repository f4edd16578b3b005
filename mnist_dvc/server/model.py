"""The model the app reads with: loaded once, loaded again when its file appears or changes, and the
threads that read uploaded photos with it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mnist_dvc.errors import UserError
from mnist_dvc.files import file_digest
from mnist_dvc.inference import Reader as ModelReader
from mnist_dvc.inference import calibration_path, load_reader
from mnist_dvc.photo import read_photo
from mnist_dvc.reading import read_photos
from mnist_dvc.server.answers import ApiError, answer_json

# Threads decoding and reading photos at once: one per core of a small machine. Only these threads
# decode, so at most WORKERS photos are held decoded at a time, however many uploads arrive together.
WORKERS = 2


@dataclass
class LoadedModel:
    model: ModelReader | None  # the network and its calibration
    md5: str | None
    error: str | None
    tried: tuple | None = None  # the model's and its calibration's files' versions when it failed to load


def file_version(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def model_version(path: Path) -> tuple:
    """The (mtime, size) of the model file and of its calibration file: either may be fixed on its own
    (`dvc repro calibrate` writes only the second)."""
    return file_version(path), file_version(calibration_path(path))


def try_load(path: Path) -> LoadedModel:
    """The model at `path`, or why there is none (missing, damaged)."""
    version = model_version(path)
    try:
        model = load_reader(path)
    except UserError as error:
        return LoadedModel(None, None, str(error), version)
    return LoadedModel(model, file_digest(path, "md5"), None)


class Reader:
    """Reads digits in uploaded images with one model, loaded once.

    Photos are read by WORKERS threads at once, each calling the model itself (its weights are read-only
    NumPy arrays, mnist_dvc.inference, so calls need no lock). When the model file is missing at start,
    or damaged, it is loaded when it appears or changes (after `make repro`), with no restart; loading
    runs on the worker threads, never on the thread that serves every request.
    """

    def __init__(self, model_path: Path):
        self.model_path = model_path
        self.loaded = try_load(model_path)
        self.load_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="reader")

    def can_load(self) -> bool:
        """A model file to load has appeared, or it or its calibration has changed, since the last try."""
        version = model_version(self.model_path)
        return self.loaded.model is None and version[0] is not None and version != self.loaded.tried

    def refresh(self) -> None:
        if self.can_load():
            with self.load_lock:
                if self.can_load():
                    self.loaded = try_load(self.model_path)

    def check(self) -> None:
        """ApiError 503 when there is no model and none to load: cheap, for before reading an upload."""
        if self.loaded.model is None and not self.can_load():
            raise self.no_model()

    def no_model(self) -> ApiError:
        return ApiError(503, f"no model yet ({self.loaded.error}): run `make repro` to train it, then reload the page")

    def model(self) -> ModelReader:
        """The model, loaded now if it has just appeared; ApiError 503 while there is none."""
        self.refresh()
        if self.loaded.model is None:
            raise self.no_model()
        return self.loaded.model

    def health(self) -> dict:
        self.refresh()
        return {"model_loaded": self.loaded.model is not None, "model": str(self.model_path),
                "md5": self.loaded.md5, "error": self.loaded.error}

    def read(self, data: bytes, name: str) -> dict:
        """The answer for one image's bytes; ApiError 422 when it is not an image that can be read. An image
        with nothing written in it is an answer (status "no_digits"), not an error."""
        model = self.model()
        try:
            photo = read_photo(data, name)
        except UserError as error:
            raise ApiError(422, str(error)) from None
        # All nine runners-up, for the page's bars; answer_json cuts them back to predict's.
        answer = read_photos(model, [(name, photo.found)], runners_up=9)[0]
        return answer_json(answer, photo)
