"""The offline plots page: the committed template's pinned scripts, and a real browser drawing the charts."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from mnist_dvc import plots_page
from mnist_dvc.errors import UserError
from mnist_dvc.files import csv_text, write_text_atomic
from tests.conftest import REPO, git_commit, make_small_repo, run, synthetic_mnist

VEGA_CHARTS = ["Confusion_matrix__test_set_", "Training_accuracy", "Training_loss",
               "Per-digit_precision_and_recall__test_set_", "Photos_read_right__by_condition__single_digits_"]
CONDITIONS = "Photos read right, by condition (single digits)"


def test_the_committed_template_inlines_exactly_the_pinned_scripts():
    template = (REPO / plots_page.TEMPLATE).read_text(encoding="utf-8")
    plots_page.check_template(template)
    assert "{plot_divs}" in template and "{refresh_tag}" in template
    assert "{scripts}" not in template and "cdn." not in template.split("<script", 1)[0]


def test_the_dvc_config_points_at_the_template():
    assert "html_template = plots/offline.html" in (REPO / ".dvc" / "config").read_text()
    assert (REPO / ".dvc" / "plots" / "offline.html") == REPO / plots_page.TEMPLATE


def test_a_script_that_differs_from_its_pin_is_refused():
    sources = {script.package: f"/* {script.package} */" for script in plots_page.SCRIPTS}
    with pytest.raises(UserError, match="differs from its pinned sha256"):
        plots_page.check_template(plots_page.render_template(sources))


def test_a_source_that_would_end_the_script_tag_is_refused():
    sources = {script.package: "x = '</script>'" for script in plots_page.SCRIPTS}
    with pytest.raises(UserError, match="would break the template"):
        plots_page.render_template(sources)


# --- in a real browser, with the network cut off -------------------------------------------------

def write_reports(repo: Path, scale: int) -> None:
    """Plot inputs as the pipeline writes them, without running it: the page is what is tested."""
    pairs = [(digit, digit) for digit in range(10) for _ in range(50 * scale)] + [(4, 9)] * scale + [(7, 1)] * 3
    write_text_atomic(repo / "reports" / "predictions.csv", csv_text(("actual", "predicted"), pairs))
    for split in ("train", "eval"):
        for name in ("accuracy", "loss"):
            path = repo / "reports" / "train" / "plots" / "metrics" / split / f"{name}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", newline="") as stream:
                writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
                writer.writerow(("step", name))
                writer.writerows((step, 1 / (step + scale)) for step in range(1, 6))
    rows = [(digit, 50, 50, 0, 0, 1.0, 1.0 - digit / 100, 1.0) for digit in range(10)]
    write_text_atomic(repo / "reports" / "per_class.csv", csv_text(("digit", "support", "tp", "fn", "fp", "precision",
                                                           "recall", "f1"), rows))
    # A part with no single digits (pages) has no figure to draw: an empty cell, as the benchmark writes it.
    conditions = [("all", 0.95, 0.9), ("part: plain", 0.97, 0.96), ("part: pages", "", ""), ("pen: fine", 0.93, "")]
    write_text_atomic(repo / "reports" / "photo_conditions.csv",
                      csv_text(("condition", "single_accuracy", "number_exact"), conditions))


@pytest.fixture
def offline_browser(browser):
    """The shared headless Chromium with its network cut off (DevTools' offline mode) for one test."""
    browser.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    try:
        yield browser
    finally:
        browser.delete_network_conditions()


@pytest.fixture(scope="module")
def plots_repo(tmp_path_factory) -> Path:
    """A copy of the repository whose plot inputs differ between HEAD and the workspace."""
    repo = make_small_repo(tmp_path_factory.mktemp("plots"), synthetic_mnist(train=20, test=10))
    write_reports(repo, 1)
    git_commit(repo, "reports")
    write_reports(repo, 2)
    return repo


def charts_drawn(driver, page: Path, wait: float = 20) -> dict[str, int]:
    """For each Vega chart on the page, how many drawn canvases or SVG mark groups its div holds."""
    driver.get(page.as_uri())
    deadline = time.monotonic() + wait
    while True:
        counts = driver.execute_script("""
            return Object.fromEntries(arguments[0].map(id => {
                const div = document.getElementById(id);
                return [id, div ? div.querySelectorAll('canvas, svg.marks').length : -1];
            }));""", VEGA_CHARTS)
        if all(count > 0 for count in counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["show"], ["diff", "HEAD"]])
def test_the_plots_page_draws_every_chart_with_no_network(offline_browser, plots_repo, command):
    output = plots_repo / f"page-{command[0]}"
    run(["dvc", "plots", *command, "-o", str(output)], cwd=plots_repo)
    page = output / "index.html"
    counts = charts_drawn(offline_browser, page)
    assert all(count >= 1 for count in counts.values()), counts
    assert "cdn.jsdelivr.net" not in page.read_text(encoding="utf-8")
    if command[0] == "diff":
        assert "HEAD" in page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_conditions_chart_leaves_out_the_conditions_with_no_figure(offline_browser, plots_repo):
    output = plots_repo / "page-conditions"
    run(["dvc", "plots", "show", "-o", str(output)], cwd=plots_repo)
    shown = run(["dvc", "plots", "show", "--json"], cwd=plots_repo).stdout
    spec = json.loads(shown)["data"][CONDITIONS][0]["content"]
    offline_browser.get((output / "index.html").as_uri())
    labels = offline_browser.execute_async_script("""
        const done = arguments[arguments.length - 1], div = document.createElement('div');
        document.body.appendChild(div);
        vegaEmbed(div, arguments[0], {renderer: 'svg', actions: false}).then(() => done(
            [...div.querySelectorAll('.role-axis-label text')].map(label => label.textContent)));""", spec)
    assert {"all", "part: plain", "pen: fine"} <= set(labels)
    assert "part: pages" not in labels


@pytest.mark.slow
def test_dvcs_own_page_draws_nothing_here_so_the_network_really_is_cut_off(offline_browser, plots_repo, tmp_path):
    cdn_template = tmp_path / "cdn.html"
    cdn_template.write_text("<html><head>{scripts}</head><body>{plot_divs}</body></html>")
    output = tmp_path / "cdn-page"
    run(["dvc", "plots", "show", "--html-template", str(cdn_template), "-o", str(output)], cwd=plots_repo)
    assert "cdn.jsdelivr.net" in (output / "index.html").read_text(encoding="utf-8")
    counts = charts_drawn(offline_browser, output / "index.html", wait=5)
    assert counts == dict.fromkeys(VEGA_CHARTS, 0), counts
