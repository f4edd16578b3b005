# `make repro` runs the pipeline; `make test` lints and runs the everyday tests, `make test-all` every
# test (what CI runs). Each creates the virtual environment and installs the pinned requirements first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Stage commands in dvc.yaml call `python`: put the environment's first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup setup-s3 repro test test-all lint bench predict serve report clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

repro: setup
	$(BIN)/dvc repro

lint: setup
	$(BIN)/ruff check .

# The everyday suite: no network, nothing slow. One worker per core, each taking whole test files (a
# file's shared fixtures are built once).
test: lint
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not e2e and not slow"

# S3 remote storage for DVC (dvc-s3) and the rclone S3 server that tests/test_share.py runs on 127.0.0.1.
setup-s3: $(VENV)/.installed-s3

$(VENV)/.installed-s3: requirements-s3.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-s3.txt
	touch $@

# Every test: the real pipeline on small data, the real MNIST end to end, the browser, the S3 round trip.
test-all: lint setup-s3
	$(BIN)/python -m pytest -n auto --dist loadfile

clean-venv:
	rm -rf $(VENV)

# Speed and memory against the plain Keras way and the compute floor (needs `make repro` first).
bench: setup
	$(BIN)/python -m mnist_dvc bench

# Classify your own digit images: make predict IMAGES="photo.jpg some-folder/"
predict: setup
	$(BIN)/python -m mnist_dvc predict $(IMAGES)

# The web app on the trained model: make serve [PORT=8765] [HOST=127.0.0.1] [ALLOW_HOST=name.lan]
PORT ?= 8000
HOST ?= 127.0.0.1
serve: setup
	$(BIN)/python -m mnist_dvc serve --host $(HOST) --port $(PORT) $(if $(ALLOW_HOST),--allow-host $(ALLOW_HOST))

# What a change moves, as Markdown for a pull request: make report [EXP=name] [OUT=reports/review.md]
# compares the workspace (or the experiment EXP) with the last commit; the plots go beside it in reports/review/.
OUT ?= reports/review.md
report: setup
	$(BIN)/python -m mnist_dvc report --output $(OUT) $(if $(EXP),--exp $(EXP))
