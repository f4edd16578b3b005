"""`python -m mnist_dvc.server` runs the app as `python -m mnist_dvc serve` does."""

from mnist_dvc.errors import run_main
from mnist_dvc.server.serve import main

run_main(main)
