"""TensorFlow's start-up lines are hidden; anything else written to stderr meanwhile still shows."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = """
import os
from mnist_dvc.quiet import tensorflow_start_up_hidden
with tensorflow_start_up_hidden():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"E0000 00:00:1 1 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\\n")
    os.write(2, b"W0000 a real warning from the C++ core\\n")
os.write(2, b"after\\n")
"""


def test_start_up_lines_are_hidden_and_other_lines_pass():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["W0000 a real warning from the C++ core", "after"]
