"""The fonts stage: pinned npm packages served from 127.0.0.1, or a local folder; splits that never mix."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from mnist_dvc.errors import UserError
from stages import fetch_fonts
from tests.conftest import dejavu_fonts
from tests.helpers.params import committed_params, section

FONT_BYTES = b"wOFF pretend font"


def package(family: str) -> bytes:
    """An @fontsource-shaped tarball holding one file."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as archive:
        info = tarfile.TarInfo(f"package/files/{family}-latin-400-normal.woff")
        info.size = len(FONT_BYTES)
        archive.addfile(info, io.BytesIO(FONT_BYTES))
    return stream.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An npm registry on 127.0.0.1 serving one package, tiny-hand@1.0.0; yields its tarball's bytes."""
    data = package("tiny-hand")
    folder = tmp_path / "registry" / "@fontsource" / "tiny-hand" / "-"
    folder.mkdir(parents=True)
    (folder / "tiny-hand-1.0.0.tgz").write_bytes(data)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "registry"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(fetch_fonts, "REGISTRY", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    yield data
    server.shutdown()
    server.server_close()


def test_a_pinned_package_is_downloaded_and_its_font_extracted(registry):
    config = section("fonts", packages=(f"tiny-hand@1.0.0 {integrity(registry)}",), test=("tiny-hand",))
    assert fetch_fonts.from_npm(config, "tiny-hand") == (".woff", FONT_BYTES)


def test_a_package_whose_sha512_differs_from_the_pin_is_refused_and_not_kept(registry, tmp_path):
    config = section("fonts", packages=(f"tiny-hand@1.0.0 {integrity(registry + b'x')}",), test=("tiny-hand",))
    with pytest.raises(UserError, match="does not match the pinned"):
        fetch_fonts.from_npm(config, "tiny-hand")
    assert not list((tmp_path / "cache").rglob("*.tgz"))


def test_a_family_with_no_pin_is_refused():
    with pytest.raises(UserError, match=r"'other' has no pin in fonts\.packages"):
        fetch_fonts.from_npm(section("fonts", test=("other",)), "other")


def test_the_pins_read_npms_integrity_as_hex():
    data = b"anything"
    pins = fetch_fonts.pins(section("fonts", packages=(f"a-b@5.3.0 {integrity(data)}",)))
    assert pins == {"a-b": ("5.3.0", hashlib.sha512(data).hexdigest())}


def test_a_family_in_two_splits_is_refused_and_each_family_is_listed_once():
    config = section("fonts", train=("a", "b"), validation=("c",), test=("d", "e"))
    assert fetch_fonts.families(config) == ["a", "b", "c", "d", "e"]
    with pytest.raises(UserError, match=r"'b' is in both fonts\.train and fonts\.test"):
        fetch_fonts.families(section("fonts", train=("a", "b"), validation=("c",), test=("b",)))


def test_the_project_pins_at_least_sixteen_families_each_in_one_split():
    from mnist_dvc import params
    from tests.conftest import REPO

    config = params.load("fonts", REPO / "params.yaml")
    families = fetch_fonts.families(config)
    assert len(families) >= 16 and len(config.validation) >= 4 and len(config.test) >= 5
    assert set(families) <= set(fetch_fonts.pins(config))


def test_local_fonts_are_written_as_given_with_no_network(tmp_path, monkeypatch):
    config = section("fonts", local_path=str(dejavu_fonts()), train=("DejaVuSans",), test=("DejaVuSerif",))
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"fonts": committed_params()["fonts"] | {
            "local_path": str(dejavu_fonts()), "train": ["DejaVuSans"], "validation": ["DejaVuSansMono"],
            "test": ["DejaVuSerif"]}}))
    monkeypatch.chdir(tmp_path)
    fetch_fonts.main()
    written = sorted(path.name for path in Path(fetch_fonts.OUTPUT).iterdir())
    assert written == ["DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf"]
    assert (fetch_fonts.OUTPUT / "DejaVuSans.ttf").read_bytes() == (dejavu_fonts() / "DejaVuSans.ttf").read_bytes()
    with pytest.raises(UserError, match="no font file for the family 'NoSuchHand'"):
        fetch_fonts.from_local(config, "NoSuchHand")


@pytest.mark.parametrize("pin", ["caveat 5.3.0 sha512-abc", "caveat@5.3 sha512-" + "A" * 86 + "==",
                                 "Caveat@5.3.0 sha1-" + "A" * 27 + "="])
def test_a_pin_not_in_npms_form_is_refused_by_the_params(pin):
    from mnist_dvc.params import SECTIONS, parse_section

    committed = committed_params()["fonts"]
    with pytest.raises(UserError, match=r"fonts\.packages"):
        parse_section("fonts", committed | {"packages": [pin]}, SECTIONS["fonts"])
    parse_section("fonts", committed | {"packages": ["caveat@5.3.0 sha512-" + "A" * 86 + "=="]}, SECTIONS["fonts"])
