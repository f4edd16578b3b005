"""The real `dvc` commands on a copy of the repository with small synthetic data and tiny params."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mnist_dvc.common import file_digest
from tests.conftest import VENV_BIN, git_commit, make_small_repo, ran_stages, run, set_param, synthetic_mnist

pytestmark = pytest.mark.slow

ALL_STAGES = ["fetch", "normalize", "train", "evaluate", "classify_own", "photo_benchmark"]
AFTER_TRAIN = ["classify_own", "evaluate", "photo_benchmark", "train"]  # sorted: the stages a new model reruns

OUTPUTS = [
    "data/raw/mnist.npz", "data/prepared/mnist.npz", "models/model.keras", "reports/metrics.json",
    "reports/predictions.csv", "reports/train_history.csv", "reports/train_metrics.json", "reports/per_class.md",
    "reports/photo_metrics.json", "reports/photo_conditions.md", "reports/photo_failures.png",
]


def digests(repo: Path) -> dict[str, str]:
    return {name: file_digest(repo / name) for name in OUTPUTS}


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["dvc", *args], cwd=repo, check=check)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    """A small copy of the repository after one full `dvc repro`, committed."""
    repo = make_small_repo(tmp_path_factory.mktemp("pipeline"), synthetic_mnist())
    result = dvc(repo, "repro")
    assert ran_stages(result.stdout) == ALL_STAGES
    git_commit(repo, "baseline")
    return repo


@pytest.fixture
def workspace(reproduced, tmp_path) -> Path:
    """A private copy of the reproduced repository, its DVC cache included, for tests that change it."""
    copy = tmp_path / "repo"
    shutil.copytree(reproduced, copy, symlinks=True)
    return copy


def test_nothing_changed_nothing_runs(reproduced):
    result = dvc(reproduced, "repro")
    assert ran_stages(result.stdout) == []
    assert "up to date" in dvc(reproduced, "status").stdout


def test_a_train_param_reruns_train_and_what_reads_the_model_only(workspace):
    set_param(workspace, "train", "epochs", 3)
    assert sorted(ran_stages(dvc(workspace, "repro").stdout)) == AFTER_TRAIN


def test_an_evaluate_param_reruns_evaluate_alone(workspace):
    set_param(workspace, "evaluate", "misclassified_count", 9)
    assert ran_stages(dvc(workspace, "repro").stdout) == ["evaluate"]


def test_a_photo_benchmark_param_or_the_photo_path_reruns_the_benchmark_alone(workspace):
    set_param(workspace, "photo_benchmark", "seed", 7)
    assert ran_stages(dvc(workspace, "repro").stdout) == ["photo_benchmark"]
    with open(workspace / "mnist_dvc" / "photo.py", "a") as module:
        module.write("\n# an edit\n")
    assert "photo_benchmark" in ran_stages(dvc(workspace, "repro").stdout)
    assert json.loads((workspace / "reports" / "photo_metrics.json").read_text())["single_photos"] == 6


def test_editing_a_stage_reruns_it_and_an_unchanged_output_stops_the_cascade(workspace):
    with open(workspace / "stages" / "evaluate.py", "a") as module:
        module.write("\n# an edit\n")
    assert ran_stages(dvc(workspace, "repro").stdout) == ["evaluate"]
    with open(workspace / "stages" / "fetch.py", "a") as module:
        module.write("\n# an edit\n")
    # fetch reruns; its output is byte-identical, so nothing downstream does.
    assert ran_stages(dvc(workspace, "repro").stdout) == ["fetch"]


def test_forced_repro_gives_byte_identical_outputs(workspace):
    before = digests(workspace)
    result = dvc(workspace, "repro", "-f")
    assert ran_stages(result.stdout) == ALL_STAGES
    assert digests(workspace) == before


def test_the_everyday_commands_work_against_the_committed_baseline(workspace):
    assert "test_accuracy" in dvc(workspace, "metrics", "show").stdout
    set_param(workspace, "train", "learning_rate", 0.01)
    dvc(workspace, "repro")
    assert "train.learning_rate" in dvc(workspace, "params", "diff").stdout
    assert "test_accuracy" in dvc(workspace, "metrics", "diff").stdout
    dag = dvc(workspace, "dag", "--md").stdout
    for stage in ("fetch", "normalize", "train", "evaluate"):
        assert stage in dag
    dvc(workspace, "plots", "show", "-o", "plots_html")
    html = (workspace / "plots_html" / "index.html").read_text()
    for plot in ("Confusion matrix (test set)", "Training accuracy", "Training loss", "confusion_matrix.png"):
        assert plot in html


def test_killed_training_leaves_no_half_written_model_and_repro_recovers(workspace):
    previous = (workspace / "models" / "model.keras").read_bytes()
    set_param(workspace, "train", "epochs", 400)
    process = subprocess.Popen(
        ["dvc", "repro"], cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]}, start_new_session=True,
    )
    for line in process.stdout:
        if line.startswith("Epoch 3/"):
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    model = workspace / "models" / "model.keras"
    assert not model.exists() or model.read_bytes() == previous
    set_param(workspace, "train", "epochs", 3)
    assert sorted(ran_stages(dvc(workspace, "repro").stdout)) == AFTER_TRAIN
    assert "up to date" in dvc(workspace, "status").stdout


def test_a_second_repro_waits_for_nobody_it_fails_on_the_lock(workspace):
    set_param(workspace, "train", "epochs", 150)
    first = subprocess.Popen(
        ["dvc", "repro"], cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]},
    )
    for line in first.stdout:
        if line.startswith("Epoch 2/"):
            break
    metrics_before = (workspace / "reports" / "metrics.json").read_bytes()
    started = time.monotonic()
    second = dvc(workspace, "repro", check=False)
    assert second.returncode != 0
    assert "lock" in (second.stdout + second.stderr).lower()
    assert time.monotonic() - started < 60
    assert first.poll() is None, "the first repro should still be running"
    assert (workspace / "reports" / "metrics.json").read_bytes() == metrics_before
    first.stdout.read()
    assert first.wait(timeout=600) == 0
    assert "up to date" in dvc(workspace, "status").stdout


def test_an_experiment_runs_shows_and_applies(workspace):
    dvc(workspace, "exp", "run", "-S", "train.epochs=3", "-n", "three-epochs")
    table = dvc(workspace, "exp", "show", "--csv").stdout
    header = next(csv.reader(io.StringIO(table)))
    for column in ("test_accuracy", "test_loss", "macro_f1", "train.epochs", "train.learning_rate"):
        assert column in header
    assert "three-epochs" in table
    dvc(workspace, "exp", "run", "-S", "train.epochs=4", "-n", "four-epochs")
    dvc(workspace, "plots", "diff", "three-epochs", "four-epochs", "-o", "diff_html")
    html = (workspace / "diff_html" / "index.html").read_text()
    for plot in ("Training accuracy", "Confusion matrix (test set)"):
        assert plot in html
    assert "three-epochs" in html and "four-epochs" in html
    images = list((workspace / "diff_html" / "static").glob("*confusion_matrix.png"))
    assert len(images) == 2, images
    dvc(workspace, "exp", "apply", "three-epochs")
    assert "train.epochs" in dvc(workspace, "params", "diff").stdout
    assert "test_accuracy" in dvc(workspace, "metrics", "diff").stdout
    dvc(workspace, "exp", "branch", "three-epochs", "three-epochs-branch")
    assert "three-epochs-branch" in run(["git", "branch"], cwd=workspace).stdout


def test_a_queued_sweep_runs_every_experiment(workspace):
    dvc(workspace, "exp", "run", "--queue", "-S", "train.batch_size=32,128")
    dvc(workspace, "queue", "start", "-j", "2")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = dvc(workspace, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    dvc(workspace, "queue", "stop", check=False)
    assert "Failed" not in status, status
    assert status.count("Success") == 2, status
    rows = list(csv.DictReader(io.StringIO(dvc(workspace, "exp", "show", "--csv").stdout)))
    sizes = {row["train.batch_size"] for row in rows if row["test_accuracy"]}
    assert {"32", "128"} <= sizes


def test_a_remote_round_trip_restores_a_commit_exactly(workspace, tmp_path):
    remote = tmp_path / "remote"
    dvc(workspace, "remote", "add", "-d", "shared", str(remote))
    dvc(workspace, "push")
    git_commit(workspace, "add a remote")
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(workspace), str(clone)], cwd=tmp_path)
    dvc(clone, "pull")
    assert "up to date" in dvc(clone, "status").stdout
    assert ran_stages(dvc(clone, "repro").stdout) == []
    assert digests(clone) == digests(workspace)
    assert json.loads((clone / "reports" / "metrics.json").read_text())["test_accuracy"] > 0
