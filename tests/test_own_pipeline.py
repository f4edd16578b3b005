"""Own digits through the real `dvc` commands: adding samples reruns exactly what depends on them,
`dvc metrics diff` shows the accuracy on them, and `dvc push` / `dvc pull` carry them to a fresh clone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git_commit, make_small_repo, ran_stages, run, set_param, synthetic_mnist
from tests.helpers.hand import sheet

pytestmark = pytest.mark.slow

ON_NEW_SAMPLES = ["classify_own", "evaluate_own", "own_data", "prepare_own"]  # sorted


def dvc(repo: Path, *args: str):
    return run(["dvc", *args], cwd=repo)


def collect(repo: Path, lines: int, seed: int) -> None:
    sheet(["0123456789"] * lines, seed).save(repo.parent / f"sheet-{seed}.jpg", quality=90)
    run(["python", "-m", "mnist_dvc", "collect", str(repo.parent / f"sheet-{seed}.jpg"), "--labels", "0123456789",
         "--repeat", str(lines)], cwd=repo)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A small copy of the repository, reproduced from a fresh clone's state (no data/own) and committed."""
    repo = make_small_repo(tmp_path_factory.mktemp("own"), synthetic_mnist())
    assert not (repo / "data" / "own").exists()
    dvc(repo, "repro")
    assert json.loads((repo / "reports" / "own_metrics.json").read_text()) == {}
    git_commit(repo, "baseline")
    return repo


def test_samples_rerun_exactly_their_stages_and_show_in_metrics_diff(repo):
    collect(repo, 2, seed=1)
    assert sorted(ran_stages(dvc(repo, "repro").stdout)) == ON_NEW_SAMPLES
    assert "accuracy" in json.loads((repo / "reports" / "own_metrics.json").read_text())
    assert len((repo / "reports" / "own_predictions.csv").read_text().splitlines()) == 1 + 10
    diff = dvc(repo, "metrics", "diff").stdout
    assert "reports/own_metrics.json" in diff and "accuracy" in diff
    dvc(repo, "plots", "show", "-o", str(repo.parent / "plots"))
    git_commit(repo, "ten samples")

    set_param(repo, "train", "own_data_fraction", 0.2)
    assert sorted(ran_stages(dvc(repo, "repro").stdout)) == [
        "calibrate", "classify_own", "evaluate", "evaluate_own", "photo_benchmark", "prepare_own", "train"]
    assert len((repo / "reports" / "own_predictions.csv").read_text().splitlines()) == 1 + 10
    git_commit(repo, "learn from own digits")

    collect(repo, 1, seed=2)  # with the param on, new samples retrain the model
    assert "train" in ran_stages(dvc(repo, "repro").stdout)
    git_commit(repo, "more samples")


def test_samples_travel_with_push_and_pull(repo, tmp_path):
    collect(repo, 1, seed=3)
    dvc(repo, "repro")
    remote = tmp_path / "remote"
    dvc(repo, "remote", "add", "-d", "shared", str(remote))
    dvc(repo, "push")
    git_commit(repo, "a shared remote")
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], cwd=tmp_path)
    assert not (clone / "data" / "own").exists()
    dvc(clone, "pull")
    samples = sorted(path.relative_to(repo) for path in (repo / "data" / "own").rglob("*.png"))
    assert samples and samples == sorted(path.relative_to(clone) for path in (clone / "data" / "own").rglob("*.png"))
    assert "up to date" in dvc(clone, "status").stdout
