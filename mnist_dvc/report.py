"""The review report: what a change moves, as one Markdown file a pull request can show (`make report`).

It compares the workspace, or a named experiment, with the last commit (HEAD): the params that changed
and the metrics that moved (DVC's own `--md` tables: test accuracy, the photo benchmark, own digits), then
the plots whose data changed. Beside reports/review.md, reports/review/ holds what `dvc plots diff` writes:
index.html, every plot of both revisions on one page, and static/, the image plots of each revision.

Markdown cannot draw DVC's Vega charts, so the report names the charts that changed and links the page;
the page works offline because .dvc/config's html_template inlines the chart libraries. The image plots
(confusion matrix, misclassified digits, photo failures) are PNG files, so the report shows the ones that
changed directly, the commit's and the new one side by side. Nothing here needs a hosted service.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from mnist_dvc.commands import Parser
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import write_text_atomic

BASELINE = "HEAD"
WORKSPACE = "workspace"  # DVC's name for uncommitted results
DEFAULT_OUTPUT = Path("reports/review.md")


def dvc(*args: str) -> str:
    """Run a dvc command in the current folder and return its output; a failure becomes DVC's own error line."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        reason = errors[-1].removeprefix("ERROR:").strip() if errors else result.stderr.strip()
        raise UserError(f"`dvc {' '.join(args)}` failed: {reason or f'exit status {result.returncode}'}")
    return result.stdout


def revisions(experiment: str | None) -> list[str]:
    """The revisions to compare as DVC's diff commands take them: HEAD alone means HEAD against the workspace."""
    return [BASELINE, experiment] if experiment else [BASELINE]


def commit_line() -> str:
    """HEAD as `abc1234 subject`, to say what the report compares against."""
    result = subprocess.run(["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else BASELINE


def rows_by_revision(plot: dict) -> dict[str, list[dict]]:
    """A Vega plot's data points from `dvc plots diff --json --split`, grouped by revision (without the rev field)."""
    grouped: dict[str, list[dict]] = {}
    for row in plot.get("anchor_definitions", {}).get("<DVC_METRIC_DATA>", []):
        grouped.setdefault(row["rev"], []).append({key: value for key, value in row.items() if key != "rev"})
    return grouped


def changed_plots(plots: dict, old: str, new: str) -> tuple[list[str], dict[str, dict[str, Path]], list[str]]:
    """From `dvc plots diff --json --split`: the charts whose data differ between `old` and `new`, the image
    plots whose files differ (each revision's image file), and the plots that did not change."""
    charts, images, unchanged = [], {}, []
    for name, renders in plots.get("data", {}).items():
        if not renders:  # no data in either revision (e.g. no labelled own digits)
            continue
        if renders[0]["type"] == "image":
            files = {render["revisions"][0]: Path(render["url"]) for render in renders}
            contents = {revision: files[revision].read_bytes() if revision in files else None
                        for revision in (old, new)}
            if contents[old] != contents[new]:
                images[name] = files
            else:
                unchanged.append(name)
        else:
            grouped = rows_by_revision(renders[0])
            (charts if grouped.get(old) != grouped.get(new) else unchanged).append(name)
    return charts, images, unchanged


def link(folder: str, path: Path, root: Path) -> str:
    """A Markdown link target for `path` (inside `root`), relative to the report, which sits beside `folder`."""
    return quote(f"{folder}/{path.relative_to(root).as_posix()}")


def plots_section(charts: list[str], images: dict[str, dict[str, Path]], unchanged: list[str],
                  old: str, new: str, folder: str, root: Path) -> str:
    lines = [f"Every plot of both revisions: [{folder}/index.html]({quote(folder)}/index.html) "
             "(one self-contained page, drawn offline).", ""]
    if not charts and not images:
        lines += ["No plot changed.", ""]
    if charts:
        lines += ["Charts whose data changed (drawn on the page):", ""]
        lines += [f"- {name}" for name in charts]
        lines.append("")
    for name, files in images.items():
        lines += [f"### {name}", "", f"| {old} | {new} |", "|---|---|"]
        cells = [f"![{name} at {revision}]({link(folder, files[revision], root)})" if revision in files
                 else "(none)" for revision in (old, new)]
        lines += [f"| {cells[0]} | {cells[1]} |", ""]
    if unchanged:
        lines += ["Unchanged: " + ", ".join(unchanged) + "."]
    return "\n".join(lines).rstrip() + "\n"


def table_or(markdown: str, nothing: str) -> str:
    """DVC's `--md` table, or `nothing` when it has no rows (DVC still prints the header then)."""
    lines = markdown.strip().splitlines()
    return "\n".join(lines) if len(lines) > 2 else nothing


def report_text(new: str, params_md: str, metrics_md: str, plots_md: str) -> str:
    return "\n".join([
        f"# Review: {new} against {BASELINE} ({commit_line()})", "",
        "## Params", "", table_or(params_md, "No param changed."), "",
        "## Metrics", "", table_or(metrics_md, "No metric changed."), "",
        "## Plots", "", plots_md,
    ])


def write_plots(revs: list[str], folder: Path) -> dict:
    """`dvc plots diff` into `folder` (index.html and static/ images), replacing it whole; returns its JSON."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        dvc("plots", "diff", *revs, "-o", str(staging))
        # the same images again, to learn which file is which plot of which revision
        plots = json.loads(dvc("plots", "diff", *revs, "--json", "--split", "-o", str(staging / "static")))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for renders in plots.get("data", {}).values():
        for render in renders:
            if "url" in render:
                render["url"] = str(folder / Path(render["url"]).relative_to(staging.resolve()))
    return plots


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m mnist_dvc report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", help="an experiment (or any Git revision) to review instead of the workspace")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"the Markdown file to write (default {DEFAULT_OUTPUT}); its plots go in a folder "
                             "of the same name beside it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.output.suffix != ".md":
        raise UserError(f"--output must name a .md file, not {args.output}")
    revs = revisions(args.exp)
    new = args.exp or WORKSPACE
    params_md = dvc("params", "diff", *revs, "--md")
    metrics_md = dvc("metrics", "diff", *revs, "--md")
    folder = args.output.with_suffix("")
    folder.parent.mkdir(parents=True, exist_ok=True)
    plots = write_plots(revs, folder)
    charts, images, unchanged = changed_plots(plots, BASELINE, new)
    plots_md = plots_section(charts, images, unchanged, BASELINE, new, folder.name, folder)
    write_text_atomic(args.output, report_text(new, params_md, metrics_md, plots_md))
    print(f"wrote {args.output}: {len(charts)} chart(s) and {len(images)} image plot(s) changed; "
          f"open {folder / 'index.html'} for every plot")


if __name__ == "__main__":
    run_main(main)
