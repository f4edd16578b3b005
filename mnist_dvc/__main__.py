"""The project's commands in one place:

    python -m mnist_dvc predict PATH...         read digits and numbers in photos or scans
    python -m mnist_dvc collect SHEET --labels  cut a written sheet into labelled samples in data/own/
    python -m mnist_dvc serve                   the web app: draw or photograph digits in the browser
    python -m mnist_dvc plots                   rebuild the offline template of `dvc plots show`
    python -m mnist_dvc bench                   speed and memory of training and reading (`make bench`)
    python -m mnist_dvc report [--exp NAME]     what a change moved, as Markdown for review (`make report`)

`python -m mnist_dvc COMMAND --help` tells each one's options. The pipeline's stages are run by
`dvc repro`, not from here.
"""

from __future__ import annotations

import signal
import sys

# Ctrl-C while the command's modules are still loading (TensorFlow-free, but a second or so on a slow
# machine) ends quietly; run_main puts its own handler in place once they are loaded.
signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(128 + signum))

import importlib  # noqa: E402
import os  # noqa: E402

# Each command's module, imported only when it runs: reading a photo never pays for the web server.
COMMANDS = {
    "predict": "mnist_dvc.commands.predict",
    "collect": "mnist_dvc.commands.collect",
    "serve": "mnist_dvc.server.serve",
    "plots": "mnist_dvc.plots_page",
    "bench": "benchmarks.bench",
    "report": "mnist_dvc.report",
}


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    if not arguments or arguments[0] in ("-h", "--help"):
        print(__doc__.strip())
        return
    command, rest = arguments[0], arguments[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command[:40]!r}; one of {', '.join(COMMANDS)} (see --help)", file=sys.stderr)
        raise SystemExit(1)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mnist_dvc.errors import run_main

    # The command's module is imported under run_main's signal handling: Ctrl-C while its libraries load
    # is one line, like Ctrl-C anywhere else.
    run_main(lambda: importlib.import_module(COMMANDS[command]).main(rest))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # before run_main took over the signals: nothing was written yet
        print("interrupted before writing anything", file=sys.stderr)
        raise SystemExit(130) from None
