"""The web app when things go wrong: odd requests, a client that leaves, a full or read-only disk, bad
ports, Ctrl-C at any moment, a file that would start a program, and the same image labelled twice."""

from __future__ import annotations

import errno
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import EpsImagePlugin, Image
from starlette.testclient import TestClient

from mnist_dvc.server import app as server_app
from tests.conftest import REPO
from tests.helpers.live import running_server, wait_for_address
from tests.helpers.strokes import draw, png_bytes

BASE = "http://127.0.0.1:8000"
SEVEN = png_bytes(draw("7", 256, 128))


@pytest.fixture
def client_and_own(stroke_model, tmp_path):
    with TestClient(server_app.create_app(stroke_model, own=tmp_path / "own"), base_url=BASE) as client:
        yield client, tmp_path / "own"


def keep(client: TestClient, data: bytes, digit: str):
    return client.post("/api/samples", files={"image": ("seven.png", data, "image/png")}, data={"digit": digit})


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


@pytest.mark.parametrize("length", [71, 257, 5000])
def test_a_multipart_boundary_over_70_characters_is_400(client_and_own, length):
    client, _ = client_and_own
    boundary = "b" * length
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n').encode()
    body += SEVEN + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/api/predict", content=body,
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert "boundary" in one_line_error(response, 400)


@pytest.mark.parametrize(("code", "status", "message"), [
    (errno.ENOSPC, 507, "cannot save: disk full"),
    (errno.EDQUOT, 507, "cannot save: disk full"),
    (errno.EROFS, 500, "cannot save: read-only file system"),
    (errno.EACCES, 500, "cannot save: permission denied"),
])
def test_a_full_or_read_only_samples_folder_says_why_in_json(client_and_own, monkeypatch, code, status, message):
    client, own = client_and_own

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", fail)
    assert one_line_error(keep(client, SEVEN, "7"), status).startswith(message)
    assert not list(own.rglob("*.png"))


def test_the_same_image_labelled_again_moves_to_the_new_label_never_both(client_and_own):
    client, own = client_and_own
    first = keep(client, SEVEN, "1").json()
    assert first["saved"] is True and first["relabelled_from"] is None and first["counts"]["1"] == 1
    second = keep(client, SEVEN, "7").json()
    assert second["saved"] is True and second["relabelled_from"] == 1
    assert second["counts"]["1"] == 0 and second["counts"]["7"] == 1
    assert [path.parent.name for path in own.rglob("*.png")] == ["7"]
    assert keep(client, SEVEN, "7").json()["saved"] is False


def stand_in_gs(folder: Path) -> Path:
    """A `gs` first on PATH that only leaves a marker file when it runs; the marker's path."""
    marker = folder / "gs-ran"
    script = folder / "bin" / "gs"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\n")
    script.chmod(0o755)
    return marker


def eps_bytes() -> bytes:
    buffer = io.BytesIO()
    draw("7", 64, 64).save(buffer, format="EPS")
    return buffer.getvalue()


def test_an_eps_upload_is_refused_before_ghostscript_runs(client_and_own, tmp_path, monkeypatch):
    client, own = client_and_own
    marker = stand_in_gs(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # Pillow looks for gs again, finding the stand-in
    with pytest.raises(Exception), Image.open(io.BytesIO(eps_bytes())) as image:  # noqa: B017 (whatever gs fails with)
        image.load()  # the check is real: Pillow left to itself runs the stand-in
    assert marker.exists()
    marker.unlink()

    for route, fields, message in (("/api/predict", {}, "a PostScript or EPS file; only PNG, JPEG"),
                                   ("/api/samples", {"digit": "7"}, "only a PNG or JPEG image can be kept")):
        response = client.post(route, files={"image": ("seven.png", eps_bytes(), "image/png")}, data=fields)
        assert message in one_line_error(response, 422)
    assert not marker.exists(), "Ghostscript was started for an upload"
    assert not own.exists()


@pytest.mark.parametrize(("name", "save", "kind"), [
    ("a.pdf", {"format": "PDF"}, "a PDF file"),
    ("a.ico", {"format": "ICO"}, "an ICO file"),
    ("a.svg", None, "an SVG file"),
    ("a.tga", {"format": "TGA"}, "not an image in a format read here"),
])
def test_formats_outside_the_allow_list_are_422(client_and_own, name, save, kind):
    client, _ = client_and_own
    if save is None:
        data = b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>'
    else:
        buffer = io.BytesIO()
        draw("7", 64, 64).save(buffer, **save)
        data = buffer.getvalue()
    response = client.post("/api/predict", files={"image": (name, data, "image/png")})
    assert one_line_error(response, 422) == f"{name}: {kind}; only PNG, JPEG, WebP, GIF, BMP or TIFF images are read"


# --- the server as a user runs it ------------------------------------------------------------------

def test_a_client_that_disconnects_mid_upload_leaves_no_traceback(stroke_model, tmp_path):
    log = tmp_path / "stderr.log"
    with running_server(stroke_model, log) as address:
        host, port = address.removeprefix("http://").split(":")
        for sent in (10, 100_000):
            with socket.create_connection((host, int(port))) as connection:
                head = (f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 5000000\r\n\r\n")
                connection.sendall(head.encode() + b"--xyz\r\n" + b"\0" * sent)
            time.sleep(0.5)
        import httpx2 as httpx

        assert httpx.get(f"{address}/api/health").json()["model_loaded"] is True
    assert "Traceback" not in log.read_text() and "Error" not in log.read_text()


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mnist_dvc", "serve", *args]


def test_stopping_the_server_says_stopped_and_claims_no_interrupted_write(stroke_model, tmp_path):
    import httpx2 as httpx

    process = subprocess.Popen(serve_command("--port", "0", "--model", str(stroke_model), "--own", str(tmp_path)),
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = wait_for_address(process, timeout=120)
        response = httpx.post(f"{address}/api/samples", files={"image": ("s.png", SEVEN, "image/png")},
                              data={"digit": "7"})
        assert response.json()["saved"] is True
        process.send_signal(signal.SIGINT)
        stderr = process.stderr.read()
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert "interrupted" not in stderr and "Traceback" not in stderr, stderr
    assert list(tmp_path.rglob("*.png"))


# From 0.1 s on: before that, on a loaded machine, the interpreter itself may still be starting (site,
# runpy), before any of the project's code runs, and Python answers Ctrl-C there with its own traceback.
@pytest.mark.parametrize("delay", [0.1, 0.2, 0.5, 1.0, 2.0])
def test_ctrl_c_at_any_moment_of_start_up_leaves_no_traceback(stroke_model, tmp_path, delay):
    process = subprocess.Popen(serve_command("--port", "0", "--model", str(stroke_model), "--own", str(tmp_path)),
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "Traceback" not in stderr, stderr
    assert process.returncode in (0, 130, -signal.SIGINT), (process.returncode, stderr)


@pytest.mark.parametrize("port", ["99999", "-1", "abc", "65536"])
def test_make_serve_with_a_bad_port_is_one_error_line(port, tmp_path):
    venv = Path(sys.executable).parents[1]
    # -o: take the environment as set up; the test is about the port, not about installing.
    result = subprocess.run(["make", "-s", "--no-print-directory", "-o", "setup", "-o", f"{venv}/.installed", "serve",
                             f"PORT={port}", f"VENV={venv}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?:", line)]  # under make
    assert len(ours) == 1 and ours[0].startswith("error: ") and "0..65535" in ours[0], result.stderr
