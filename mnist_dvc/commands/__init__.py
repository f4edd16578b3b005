"""The user's commands, each a module with a main(argv): `python -m mnist_dvc COMMAND` runs them."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line and exit status 1, like every other mistake."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(1)
