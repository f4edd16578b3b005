"""The review report (mnist_dvc/report.py): which plots count as changed, and `make report`'s module on a
small copy of the repository after an experiment that trains for one more epoch."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from mnist_dvc.report import changed_plots, table_or
from tests.conftest import git_commit, make_small_repo, run, synthetic_mnist

EXPERIMENT = "one-more-epoch"


def chart(rows: dict[str, list[dict]]) -> list[dict]:
    data = [{**row, "rev": rev} for rev, rev_rows in rows.items() for row in rev_rows]
    return [{"type": "vega", "revisions": list(rows), "anchor_definitions": {"<DVC_METRIC_DATA>": data}}]


def test_changed_plots_compares_each_revisions_data_and_image_bytes(tmp_path):
    for name, data in {"old.png": b"a", "same.png": b"a", "new.png": b"b"}.items():
        (tmp_path / name).write_bytes(data)
    plots = {"data": {
        "moved": chart({"HEAD": [{"step": "1", "acc": "0.5"}], "workspace": [{"step": "1", "acc": "0.6"}]}),
        "still": chart({"HEAD": [{"step": "1", "acc": "0.5"}], "workspace": [{"step": "1", "acc": "0.5"}]}),
        "added": chart({"workspace": [{"step": "1", "acc": "0.5"}]}),
        "empty": [],
        "redrawn.png": [{"type": "image", "revisions": ["HEAD"], "url": str(tmp_path / "old.png")},
                        {"type": "image", "revisions": ["workspace"], "url": str(tmp_path / "new.png")}],
        "kept.png": [{"type": "image", "revisions": ["HEAD"], "url": str(tmp_path / "old.png")},
                     {"type": "image", "revisions": ["workspace"], "url": str(tmp_path / "same.png")}],
    }}
    charts, images, unchanged = changed_plots(plots, "HEAD", "workspace")
    assert charts == ["moved", "added"]
    assert list(images) == ["redrawn.png"]
    assert set(images["redrawn.png"]) == {"HEAD", "workspace"}
    assert unchanged == ["still", "kept.png"]


def test_a_table_with_no_rows_reads_as_nothing_changed():
    header_only = "| Path | Param | HEAD | workspace |\n|---|---|---|---|\n"
    assert table_or(header_only, "No param changed.") == "No param changed."
    assert table_or(header_only + "| params.yaml | train.epochs | 2 | 3 |\n", "-").endswith("| 2 | 3 |")


@pytest.fixture(scope="module")
def experimented(tmp_path_factory) -> Path:
    """A small copy of the repository: the pipeline run and committed, then an experiment with one more epoch."""
    repo = make_small_repo(tmp_path_factory.mktemp("report"), synthetic_mnist())
    run(["dvc", "repro"], cwd=repo)
    git_commit(repo, "baseline")
    run(["dvc", "exp", "run", "-S", "train.epochs=3", "-n", EXPERIMENT], cwd=repo)
    return repo


def committed_metric(repo: Path, name: str) -> float:
    shown = subprocess.run(["git", "show", "HEAD:reports/metrics.json"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout
    return json.loads(shown)[name]


def table_row(report: str, first_cells: list[str]) -> list[str]:
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[:len(first_cells)] == first_cells:
            return cells
    raise AssertionError(f"no row starting {first_cells} in:\n{report}")


def linked_files(report: str, folder: Path) -> list[Path]:
    return [folder / unquote(target) for target in re.findall(r"\]\(([^)]+)\)", report)]


@pytest.mark.slow
def test_report_on_an_experiment_lists_the_param_the_metric_delta_and_the_plots(experimented, tmp_path):
    output = tmp_path / "pr" / "review.md"
    result = run(["python", "-m", "mnist_dvc", "report", "--exp", EXPERIMENT,
                  "--output", str(output)], cwd=experimented)
    assert "wrote" in result.stdout
    report = output.read_text()
    assert report.startswith(f"# Review: {EXPERIMENT} against HEAD")

    assert table_row(report, ["params.yaml", "train.epochs"])[2:] == ["2", "3"]
    # The calibration error, not the accuracy: on this small synthetic set an extra epoch can leave the
    # accuracy where it was, but not a figure computed from every probability.
    old = committed_metric(experimented, "test_ece")
    new = json.loads((experimented / "reports/metrics.json").read_text())["test_ece"]  # the experiment's
    assert new != old, "the extra epoch should move the calibration error"
    row = table_row(report, ["reports/metrics.json", "test_ece"])
    assert float(row[2]) == pytest.approx(old, abs=1e-5)
    assert float(row[3]) == pytest.approx(new, abs=1e-5)
    assert float(row[4]) == pytest.approx(new - old, abs=2e-5)

    # a third epoch adds a point to the training curves, and the retrained model redraws the confusion matrix
    assert "- Training accuracy" in report
    assert "### reports/confusion_matrix.png" in report
    links = linked_files(report, output.parent)
    assert output.parent / "review" / "index.html" in links
    assert any(path.name == f"{EXPERIMENT}_reports_confusion_matrix.png" for path in links)
    assert all(path.is_file() for path in links), links
    # the page draws offline: no script comes from the network
    assert "<script src=" not in (output.parent / "review" / "index.html").read_text()


@pytest.mark.slow
def test_report_on_the_workspace_goes_to_reports_review_md(experimented):
    run(["python", "-m", "mnist_dvc", "report"], cwd=experimented)
    report = (experimented / "reports" / "review.md").read_text()
    assert report.startswith("# Review: workspace against HEAD")
    assert table_row(report, ["params.yaml", "train.epochs"])[2:] == ["2", "3"]
    assert (experimented / "reports" / "review" / "index.html").is_file()
    # the report is not something to commit by mistake
    status = run(["git", "status", "--porcelain", "--ignored", "reports/review.md"], cwd=experimented).stdout
    assert status.startswith("!!")


@pytest.mark.slow
def test_an_unknown_experiment_is_one_error_line(experimented, tmp_path):
    result = run(["python", "-m", "mnist_dvc", "report", "--exp", "no-such-exp", "--output", str(tmp_path / "r.md")],
                 cwd=experimented, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: `dvc params diff HEAD no-such-exp --md` failed: unknown Git revision 'no-such-exp'"]
    assert not (tmp_path / "r.md").exists()
