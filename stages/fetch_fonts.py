"""Stage fonts: the handwriting fonts of the photo benchmark, one file per family in data/raw/fonts/.

Each family of params.yaml `fonts` (train, validation and test) comes from npm's @fontsource package
pinned in `fonts.packages` ("family@version sha512-..."), downloaded from the npm registry over HTTPS (no
Node.js needed), checked against npm's sha512 of the package, and cached, once verified, under
$MNIST_CACHE_DIR (default ~/.cache/mnist-dvc). The family's Latin, regular weight file
(files/<family>-latin-400-normal.woff) is written as data/raw/fonts/<family>.woff.

With `fonts.local_path` set, the families are read from that folder instead (<family>.woff, .woff2, .ttf or
.otf), with no network: for offline use, and for tests.
"""

from __future__ import annotations

import base64
import tarfile
from pathlib import Path

from mnist_dvc import params
from mnist_dvc.downloads import SourceFailed, cache_dir, download
from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import atomic_paths
from mnist_dvc.paths import FONTS
from mnist_dvc.render.fonts import font_file

OUTPUT = FONTS
REGISTRY = "https://registry.npmjs.org"
SPLITS = ("train", "validation", "test")


def families(config: params.FontsParams) -> list[str]:
    """Every family of the three splits, in order; a family in two splits is refused: a font tuned or
    trained on must never be the one reported."""
    seen: dict[str, str] = {}
    for split in SPLITS:
        for family in getattr(config, split):
            if family in seen:
                raise UserError(f"params.yaml: the font family {family!r} is in both fonts.{seen[family]} and "
                                f"fonts.{split}; a family belongs to one split")
            seen[family] = split
    return list(seen)


def pins(config: params.FontsParams) -> dict[str, tuple[str, str]]:
    """family → (version, sha512 as hex) from `fonts.packages`."""
    pinned = {}
    for pin in config.packages:
        package, integrity = pin.split(" ")
        family, version = package.split("@")
        pinned[family] = (version, base64.b64decode(integrity.removeprefix("sha512-")).hex())
    return pinned


def tarball_url(family: str, version: str) -> str:
    return f"{REGISTRY}/@fontsource/{family}/-/{family}-{version}.tgz"


def font_from_tarball(tarball: Path, family: str) -> bytes:
    """The family's Latin, regular weight .woff file inside an @fontsource package."""
    member = f"package/files/{family}-latin-400-normal.woff"
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            return archive.extractfile(member).read()
    except (tarfile.TarError, KeyError, OSError, EOFError, AttributeError) as error:
        raise UserError(f"{tarball}: not an @fontsource package with {member} ({error})") from None


def from_npm(config: params.FontsParams, family: str) -> tuple[str, bytes]:
    pinned = pins(config)
    if family not in pinned:
        raise UserError(f"params.yaml: the font family {family!r} has no pin in fonts.packages "
                        f"(add 'family@version sha512-...' from `npm view @fontsource/{family} dist.integrity`)")
    version, sha512 = pinned[family]
    url = tarball_url(family, version)
    try:
        tarball = download(url, cache_dir() / "fonts" / Path(url).name, "sha512", sha512, config.timeout_seconds)
    except SourceFailed as error:
        raise UserError(f"{error}. Put the font files in a folder and set fonts.local_path in params.yaml "
                        "to it") from None
    return ".woff", font_from_tarball(tarball, family)


def from_local(config: params.FontsParams, family: str) -> tuple[str, bytes]:
    folder = Path(config.local_path).expanduser()
    try:
        path = font_file(folder, family)
        return path.suffix, path.read_bytes()
    except FileNotFoundError as error:
        raise UserError(str(error)) from None
    except OSError as error:
        raise UserError(f"{folder}: cannot read the font of {family!r} ({error.strerror})") from None


def main() -> None:
    config = params.load("fonts")
    source = from_local if config.local_path else from_npm
    fonts = {family: source(config, family) for family in families(config)}
    targets = [OUTPUT / f"{family}{suffix}" for family, (suffix, _) in fonts.items()]
    with atomic_paths(*targets) as temporaries:
        for tmp, (_, data) in zip(temporaries, fonts.values(), strict=True):
            tmp.write_bytes(data)
    print(f"fonts: wrote {len(targets)} families to {OUTPUT} "
          f"({'from ' + config.local_path if config.local_path else 'from npm'})")


if __name__ == "__main__":
    run_main(main, outputs=(OUTPUT,))
