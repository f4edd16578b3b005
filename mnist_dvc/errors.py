"""Errors a user can fix, reported in one line, and interruptions (Ctrl-C, SIGTERM) that say what was
written. Every entry point runs its main() through run_main."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

# An error line longer than this keeps its start and its end: no value can flood the terminal.
MAX_MESSAGE_CHARS = 600


class UserError(Exception):
    """A mistake the user can fix (bad params, bad data, bad image): reported in one line."""


def printable(text: str) -> str:
    """`text` with every character that is not printable (newlines, tabs, terminal escapes, bidirectional
    controls) written as its Python escape, \\n, \\x1b, \\u202e: a file name cannot forge a line or
    drive the terminal."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line (whitespace runs become one space, other control characters escaped as \\x1b),
    its middle cut out if longer than `limit`."""
    flat = printable(" ".join(text.split()))
    if len(flat) <= limit:
        return flat
    keep = limit - 3
    return f"{flat[:keep * 2 // 3]} … {flat[len(flat) - keep // 3:]}"


def fail(message: str) -> NoReturn:
    """Print one readable line to stderr and exit non-zero, without a traceback."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    raise SystemExit(1)


# --- interruptions ---------------------------------------------------------------------------------

class Interruption:
    """What run_main's signal handler saw: the signal, and whether outputs were being renamed."""

    signal: int = 0
    holding: bool = False
    written: list[Path] = []  # noqa: RUF012 (one process, one list)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    Interruption.signal = signum
    if not Interruption.holding and not in_import_system(frame):
        raise KeyboardInterrupt


def in_import_system(frame: FrameType | None) -> bool:
    """Whether Python was running its import system's own code. An exception raised there can land in a
    module lock's weakref callback, whose exceptions Python prints with a traceback and then drops: the
    interruption would be lost. It waits for the next raise_if_interrupted() instead."""
    return frame is not None and frame.f_code.co_filename.startswith("<frozen importlib")


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt for a signal that arrived earlier, even if some library swallowed it."""
    if Interruption.signal:
        raise KeyboardInterrupt


def _dvc_note(outputs: Sequence[Path]) -> str:
    """Under `dvc repro`, which of the stage's outputs DVC removed before running it, and how to get them back."""
    stage = os.environ.get("DVC_STAGE")
    missing = [str(path) for path in outputs if not Path(path).exists()]
    if not stage or not missing:
        return ""
    return (f"; dvc removed {', '.join(missing)} before running the stage: "
            f"`dvc checkout {stage}` puts back the version dvc.lock records, if it records one")


def interrupted_message(outputs: Sequence[Path] = ()) -> str:
    written = list(dict.fromkeys(map(str, Interruption.written)))
    if written:
        return one_line(f"interrupted after writing {', '.join(written)}; the rest was left as it was")
    return one_line("interrupted before writing anything: outputs were left as they were" + _dvc_note(outputs))


def run_main(main: Callable[[], None], outputs: Sequence[Path] = ()) -> None:
    """Run a stage's main(): a UserError becomes one `error:` line and exit status 1; SIGINT or SIGTERM
    one line saying what was written, and exit status 130 or 143. `outputs` are the stage's files."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # started with the signal ignored (nohup, `&`): keep it so
            signal.signal(signum, _on_signal)
    try:
        main()
        raise_if_interrupted()
    except UserError as error:
        fail(str(error) + _dvc_note(outputs))
    except KeyboardInterrupt:
        print(interrupted_message(outputs), file=sys.stderr)
        raise SystemExit(128 + (Interruption.signal or signal.SIGINT)) from None
