"""The web app as a user runs it: `python -m mnist_dvc serve` on a free port of 127.0.0.1, with a model
that reads drawn digits (the trained one when the pipeline has run, else one trained on drawings)."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers.strokes import train_stroke_model

READY = "ready: open "


@pytest.fixture(scope="session")
def stroke_model(tmp_path_factory) -> Path:
    """A small model trained in seconds on drawn digits: reads a drawn 7 and 1 with no pipeline run."""
    return train_stroke_model(tmp_path_factory.mktemp("stroke-model") / "model.keras")


@pytest.fixture(scope="session")
def reading_model(request) -> Path:
    """models/model.keras when `dvc repro` (or `dvc checkout`) has made it, else the stroke model."""
    trained = REPO / "models" / "model.keras"
    return trained if trained.is_file() else request.getfixturevalue("stroke_model")


def wait_for_address(process: subprocess.Popen, timeout: float) -> str:
    """The address the server prints when it is ready; AssertionError if it exits or takes too long."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with status {process.returncode}: {seen}") from None
            continue
        seen.append(line)
        if line.startswith(READY):
            return line[len(READY):].split()[0]
    raise AssertionError(f"the server printed no address in {timeout} s: {seen}")


@contextlib.contextmanager
def running_server(model: Path, log: Path) -> Iterator[str]:
    """`python -m mnist_dvc serve` on a free port with `model`, keeping labelled drawings in a folder
    `own` beside the log (never the project's data/own): its address while the block runs."""
    shown = model.relative_to(REPO) if model.is_relative_to(REPO) else model  # as `make serve` shows it
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mnist_dvc", "serve", "--port", "0", "--model", str(shown),
             "--own", str(log.parent / "own")],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        yield wait_for_address(process, timeout=120)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def live_server(reading_model, tmp_path_factory) -> Iterator[str]:
    """The address of a running server (http://127.0.0.1:PORT) with the reading model."""
    with running_server(reading_model, tmp_path_factory.mktemp("server") / "stderr.log") as address:
        yield address
