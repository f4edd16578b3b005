"""TensorFlow's start-up lines hidden, everything else it says kept.

TensorFlow's C++ core writes a few lines to stderr while it loads and first looks for a GPU (the oneDNN
notice, "Could not find cuda drivers", an alarming "E0000 ... failed call to cuInit" on every machine
without one), and it writes them before TF_CPP_MIN_LOG_LEVEL applies, twice over. They say nothing a
user can act on. While TensorFlow starts, stderr goes to a temporary file at the descriptor level (C++
writes there directly); afterwards every other line is passed on, so a real warning still shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

START_UP_LINES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"
    r"|To enable the following instructions: .* rebuild TensorFlow"
)


@contextlib.contextmanager
def tensorflow_start_up_hidden() -> Iterator[None]:
    """Run the block (which imports TensorFlow and first touches a device) with its start-up lines hidden."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not START_UP_LINES.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()
