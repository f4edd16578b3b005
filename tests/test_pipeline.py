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

from mnist_dvc.files import file_digest
from tests.conftest import VENV_BIN, git_commit, make_small_repo, ran_stages, run, set_param, synthetic_mnist

pytestmark = pytest.mark.slow

ALL_STAGES = ["own_data", "fetch", "fonts", "photo_frames", "glyph_frames", "normalize", "prepare_own", "train",
              "calibrate", "evaluate", "evaluate_own",
              "classify_own", "photo_benchmark"]
# sorted: the stages a new model reruns
AFTER_TRAIN = ["calibrate", "classify_own", "evaluate", "evaluate_own", "photo_benchmark", "train"]

LIVE_FILES = [f"reports/train/plots/metrics/{split}/{name}.tsv" for split in ("train", "eval")
              for name in ("accuracy", "loss")]
OUTPUTS = [
    "data/raw/mnist.npz", "data/prepared/mnist.npz", "models/model.keras", "reports/metrics.json",
    "reports/predictions.csv", "reports/per_class.csv", "reports/per_class.md", "reports/train/metrics.json",
    *LIVE_FILES, "reports/photo_metrics.json", "reports/photo_conditions.csv", "reports/photo_conditions.md",
    "reports/photo_failures.png",
]


def digests(repo: Path) -> dict[str, str]:
    return {name: file_digest(repo / name) for name in OUTPUTS}


def dvc(repo: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    return run(["dvc", *args], cwd=repo, check=check, timeout=timeout)


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
    with open(workspace / "mnist_dvc" / "photo" / "read.py", "a") as module:
        module.write("\n# an edit\n")
    assert "photo_benchmark" in ran_stages(dvc(workspace, "repro").stdout)
    assert json.loads((workspace / "reports" / "photo_figures.json").read_text())["plain_single"] is not None


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
    metrics = dvc(workspace, "metrics", "show").stdout
    assert "test_accuracy" in metrics and "plain" in metrics
    assert max(len(line) for line in metrics.splitlines()) <= 160
    assert "precision" not in metrics and "recall" not in metrics  # per-digit figures live in per_class.csv
    set_param(workspace, "train", "learning_rate", 0.01)
    dvc(workspace, "repro")
    assert "train.learning_rate" in dvc(workspace, "params", "diff").stdout
    assert "test_ece" in dvc(workspace, "metrics", "diff").stdout  # the accuracy may not move on this small set
    dag = dvc(workspace, "dag", "--md").stdout
    for stage in ("fetch", "normalize", "train", "evaluate"):
        assert stage in dag
    dvc(workspace, "plots", "show", "-o", "plots_html")
    html = (workspace / "plots_html" / "index.html").read_text()
    for plot in ("Confusion matrix (test set)", "Training accuracy", "Training loss", "confusion_matrix.png",
                 "Per-digit precision and recall (test set)"):
        assert plot in html
    assert "cdn.jsdelivr.net" not in html  # the offline template (.dvc/plots/offline.html) was used


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
    for column in ("test_accuracy", "test_ece", "plain", "coverage", "train.epochs", "train.learning_rate"):
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
    assert "test_ece" in dvc(workspace, "metrics", "diff").stdout  # the accuracy may not move on this small set
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


def all_outputs(repo: Path) -> dict[str, str]:
    """md5 of every output of train, calibrate, evaluate and the photo benchmark, and of the data, as
    `dvc repro` left them."""
    names = [*OUTPUTS, "reports/confusion_matrix.png", "reports/misclassified.png", "models/model.calibration.json",
             "reports/calibration.json", "reports/photo_figures.json", "reports/risk_coverage.csv"]
    return {name: file_digest(repo / name, "md5") for name in names}


@pytest.mark.parametrize(("section", "key", "value", "stage"), [
    ("train", "epochs", 0, "train"),
    ("train", "validation_fraction", 0.99, "photo_frames"),  # the first stage that reads it
    ("evaluate", "misclassified_count", 0, "evaluate"),
    ("calibrate", "sure_probability", 1.5, "calibrate"),
    ("photo_benchmark", "failures_shown", -1, "photo_benchmark"),
])
def test_a_refused_param_under_dvc_repro_keeps_the_last_good_outputs(workspace, section, key, value, stage):
    before = all_outputs(workspace)
    set_param(workspace, section, key, value)
    result = dvc(workspace, "repro", check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{section}.{key} = " in errors[0], result.stderr
    assert f"failed to reproduce '{stage}'" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert all_outputs(workspace) == before
    run(["git", "checkout", "params.yaml"], cwd=workspace)
    assert ran_stages(dvc(workspace, "repro").stdout) == [], "the outputs still match dvc.lock: nothing to redo"


def test_ctrl_c_during_dvc_repro_keeps_the_last_good_outputs(workspace):
    before = all_outputs(workspace)
    set_param(workspace, "train", "epochs", 400)
    process = subprocess.Popen(
        ["dvc", "repro"], cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]}, start_new_session=True,
    )
    for line in process.stdout:
        if line.startswith("Epoch 2/"):
            break
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    output = process.stdout.read()
    assert process.wait(timeout=60) != 0
    assert "interrupted before writing anything: outputs were left as they were" in output
    assert "Traceback" not in output
    # DVCLive rewrites its figures in place every epoch, so they can be followed live: the documented exception.
    live = {"reports/train/metrics.json", *LIVE_FILES}
    after = all_outputs(workspace)
    assert {k: v for k, v in after.items() if k not in live} == {k: v for k, v in before.items() if k not in live}
    assert not list((workspace / "models").glob(".*.tmp*"))


# --- DVCLive: a running experiment's figures, epoch by epoch -------------------------------------

SLOW_TRAINING = ("-S", "train.epochs=100", "-S", "train.batch_size=8")  # about 30 s of epochs here


def exp_show_rows(repo: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(dvc(repo, "exp", "show", "--csv").stdout)))


def live_step(workspace: Path) -> int | None:
    try:
        return json.loads((workspace / "reports" / "train" / "metrics.json").read_text())["step"]
    except (OSError, ValueError, KeyError):  # between DVCLive's writes
        return None


def test_a_running_experiment_writes_its_epochs_as_they_end(workspace):
    baseline_step = live_step(workspace)
    process = subprocess.Popen(["dvc", "exp", "run", *SLOW_TRAINING, "-n", "live"], cwd=workspace,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]})
    seen: set[int] = set()
    while process.poll() is None:
        step = live_step(workspace)
        if step is not None:
            seen.add(step)
        time.sleep(0.5)
    assert process.returncode == 0
    # A step between the one it started from and the last can only come from a run still in progress.
    assert seen - {baseline_step, 100}, f"steps seen while running: {sorted(seen)}"
    assert live_step(workspace) == 100
    # DVCLive's figures are plots, not metrics: `dvc metrics show` keeps to the headline
    assert "eval.accuracy" not in dvc(workspace, "metrics", "show").stdout


# --- sharing experiments: two clones, one git remote, one DVC remote ------------------------------

def test_an_experiment_pushed_from_one_clone_is_pulled_shown_and_applied_in_another(workspace, tmp_path):
    bare, storage, teammate = tmp_path / "origin.git", tmp_path / "dvc-storage", tmp_path / "teammate"
    run(["git", "init", "-q", "--bare", str(bare)], cwd=tmp_path)
    run(["git", "remote", "add", "origin", str(bare)], cwd=workspace)
    dvc(workspace, "remote", "add", "-d", "storage", str(storage))
    git_commit(workspace, "share through a DVC remote")
    run(["git", "push", "-q", "origin", "HEAD"], cwd=workspace)
    dvc(workspace, "push")

    dvc(workspace, "exp", "run", "-S", "train.epochs=3", "-n", "shared")
    dvc(workspace, "exp", "push", "origin", "shared")
    produced = digests(workspace)

    run(["git", "clone", "-q", str(bare), str(teammate)], cwd=tmp_path)
    dvc(teammate, "exp", "pull", "origin", "shared")
    assert "shared" in {row["Experiment"] for row in exp_show_rows(teammate)}
    dvc(teammate, "exp", "apply", "shared")
    dvc(teammate, "pull")  # the experiment's data and model, from the DVC remote
    assert "up to date" in dvc(teammate, "status").stdout
    assert ran_stages(dvc(teammate, "repro").stdout) == []  # nothing retrained
    assert digests(teammate) == produced
