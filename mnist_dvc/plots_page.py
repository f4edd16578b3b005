"""The HTML template that makes `dvc plots show` and `dvc plots diff` pages work with no internet.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so offline its charts are silently
missing. `.dvc/config` points `plots.html_template` at .dvc/plots/offline.html instead: the same page
with the three libraries inlined, so every page DVC writes is one self-contained file that draws
wherever it is opened.

The libraries are the npm packages pinned below, each checked against npm's published sha512 of the
package and the sha256 of the file taken from it. The template is committed (a fresh clone needs
neither network nor Node.js); `python -m mnist_dvc plots` writes it again from the registry, and
the tests check that every inlined script still has its pinned sha256.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path
from typing import NamedTuple

from mnist_dvc.commands import Parser
from mnist_dvc.downloads import SourceFailed, download
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import write_text_atomic

TEMPLATE = Path(".dvc/plots/offline.html")
REGISTRY = "https://registry.npmjs.org"
CACHE = Path("~/.cache/mnist-dvc/npm").expanduser()


class Script(NamedTuple):
    package: str
    version: str
    member: str  # the file inside the package tarball
    tarball_sha512: str  # npm's dist.integrity, as hex
    sha256: str  # of the member


SCRIPTS = (
    Script("vega", "5.33.1", "package/build/vega.min.js",
           "d5f02b7d50d4a956dbe73f27fbf9d541bf95341cf1f2cbd8e82aecc932b85239"
           "b8cab77d2356aea0ac4100f5cb09abd8d4b72b6c752c9106c650ff205cecf243",
           "463f3db6a40b20e9747b4ed38f37ed0add508838f9141b1cf8366784b07b30c8"),
    Script("vega-lite", "5.23.0", "package/build/vega-lite.min.js",
           "97827af80584dc3223be8bc4a079762ddb425247e6e33b3c5f1c7b20dc19100b"
           "fe5d56fa911eaf20dd60b77b7680dda0b3fcb80d84ecfd13e84de600b8483a98",
           "58c27358e26f2d319cf62f45bc17a4c8362f08645001df2ec8d341eee4097c7f"),
    Script("vega-embed", "6.29.0", "package/build/vega-embed.min.js",
           "3e696c8532ed2c52e05ad17f6f6dd3d4ec17e7702e809f51677a8f136734d551"
           "406e0b77fc648d23f7adcc0fc6cddae471e5c599af850c7357529a4ab8cd14e9",
           "12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da"),
)

# DVC replaces {refresh_tag} and {plot_divs}; leaving out {scripts} drops DVC's CDN <script> tags.
PAGE_HEAD = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>DVC plots</title>
<style>
table { border-spacing: 15px; }
</style>
"""
PAGE_TAIL = """</head>
<body>
{plot_divs}
</body>
</html>
"""
SCRIPT_TAG = re.compile(r'<script data-package="([^"]+)" data-sha256="([0-9a-f]{64})">\n(.*?)\n</script>\n', re.S)


def script_tag(script: Script, source: str) -> str:
    name = f"{script.package}@{script.version}"
    return f'<script data-package="{name}" data-sha256="{script.sha256}">\n{source}\n</script>\n'


def render_template(sources: dict[str, str]) -> str:
    """The page: DVC's placeholders and each library inlined, in load order (vega-embed needs the others)."""
    for text in sources.values():
        if "</script" in text or "{plot_divs}" in text or "{refresh_tag}" in text:
            raise UserError("a library's source contains a sequence that would break the template")
    return PAGE_HEAD + "".join(script_tag(script, sources[script.package]) for script in SCRIPTS) + PAGE_TAIL


def inlined_scripts(template: str) -> dict[str, tuple[str, str]]:
    """{"package@version": (the sha256 its tag states, the sha256 of its inlined source)}."""
    return {name: (stated, hashlib.sha256(source.encode()).hexdigest())
            for name, stated, source in SCRIPT_TAG.findall(template)}


def check_template(template: str) -> None:
    """UserError unless the template inlines exactly the pinned scripts, each with its pinned sha256."""
    found = inlined_scripts(template)
    for script in SCRIPTS:
        name = f"{script.package}@{script.version}"
        if found.get(name) != (script.sha256, script.sha256):
            raise UserError(f"{TEMPLATE}: {name} is missing or differs from its pinned sha256 {script.sha256}")
    if len(found) != len(SCRIPTS):
        raise UserError(f"{TEMPLATE}: inlines {', '.join(found)}; expected only the pinned {len(SCRIPTS)} scripts")


def download_source(script: Script) -> str:
    """The pinned file from the package tarball, downloaded once (cached, checksum-verified)."""
    name = f"{script.package}-{script.version}.tgz"
    try:
        tarball = download(f"{REGISTRY}/{script.package}/-/{name}", CACHE / name, "sha512", script.tarball_sha512,
                           timeout=60)
    except SourceFailed as error:
        raise UserError(str(error)) from None
    with tarfile.open(tarball, "r:gz") as archive:
        data = archive.extractfile(script.member).read()
    if hashlib.sha256(data).hexdigest() != script.sha256:
        raise UserError(f"{name}: {script.member} differs from its pinned sha256 {script.sha256}")
    return data.decode("utf-8")


def main(argv: list[str] | None = None) -> None:
    Parser(prog="python -m mnist_dvc plots", description=__doc__.split("\n\n")[0]).parse_args(argv)
    template = render_template({script.package: download_source(script) for script in SCRIPTS})
    check_template(template)
    write_text_atomic(TEMPLATE, template)
    print(f"wrote {TEMPLATE} ({len(template) / 1e6:.2f} MB): "
          + ", ".join(f"{script.package}@{script.version}" for script in SCRIPTS))


if __name__ == "__main__":
    run_main(main)
