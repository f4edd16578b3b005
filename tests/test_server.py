"""The web app's API in-process: every route, every bad input, and the shape of an answer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import shutil
import socket
import tempfile

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from mnist_dvc.errors import UserError
from mnist_dvc.files import file_digest
from mnist_dvc.inference import calibration_path, load_reader
from mnist_dvc.photo import read_photo
from mnist_dvc.reading import read_photos
from mnist_dvc.server import answers, serve, uploads
from mnist_dvc.server import app as server_app
from tests.helpers.strokes import draw, png_bytes

PREDICT_KEYS = {"path", "status", "number", "digit", "probability", "runners_up", "digits"}
DIGIT_KEYS = {"digit", "probability", "sure", "runners_up", "box", "line"}
BASE = "http://127.0.0.1:8000"  # the address `make serve` listens on, which the app answers to


@pytest.fixture(scope="module")
def client(stroke_model):
    with TestClient(server_app.create_app(stroke_model), base_url=BASE) as test_client:
        yield test_client


def post(client: TestClient, data: bytes, name: str = "drawing.png"):
    return client.post("/api/predict", files={"image": (name, data, "image/png")})


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and body["error"]
    return body["error"]


def test_the_page_and_its_files_are_served_with_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-testid="number"' in page.text and 'accept="image/*"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/{name}").status_code == 200
    for path in server_app.WEB.iterdir():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_text()), f"{path.name} refers elsewhere"


def test_health_names_the_model_and_its_md5(client, stroke_model):
    health = client.get("/api/health").json()
    assert health == {"model_loaded": True, "model": str(stroke_model), "md5": file_digest(stroke_model, "md5"),
                      "error": None}


def test_a_drawn_number_is_read_with_predicts_answer_plus_what_the_page_shows(client, stroke_model):
    data = png_bytes(draw("71", 256, 128))
    response = post(client, data)
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == "71" and body["digit"] is None and body["size"] == [256, 128]

    expected = read_photos(load_reader(stroke_model), [("drawing.png", read_photo(data, "drawing.png").found)])[0]
    predict_fields = {key: body[key] for key in PREDICT_KEYS}
    predict_fields["digits"] = [{key: digit[key] for key in DIGIT_KEYS} for digit in body["digits"]]
    assert json.dumps(predict_fields, sort_keys=True) == json.dumps(expected.as_dict(), sort_keys=True)

    for digit, read in zip(body["digits"], expected.digits, strict=True):
        assert set(digit) == DIGIT_KEYS | {"probabilities", "input"}
        assert len(digit["runners_up"]) == answers.RUNNERS_UP
        assert len(digit["probabilities"]) == 10 and sum(digit["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert int(np.argmax(digit["probabilities"])) == digit["digit"]
        assert digit["probabilities"][digit["digit"]] == digit["probability"]
        prefix = "data:image/png;base64,"
        assert digit["input"].startswith(prefix)
        frame = np.asarray(Image.open(io.BytesIO(base64.b64decode(digit["input"][len(prefix):]))))
        np.testing.assert_array_equal(frame, read.frame)


def test_one_digit_gives_the_digit_and_its_runners_up(client):
    body = post(client, png_bytes(draw("7", 200, 160))).json()
    assert body["number"] == "7" and body["digit"] == 7 and 0.5 < body["probability"] <= 1
    assert [r["digit"] for r in body["runners_up"]] == [r["digit"] for r in body["digits"][0]["runners_up"]]
    assert len(body["runners_up"]) == 2


def test_a_file_that_is_not_an_image_is_refused_and_the_server_goes_on(client):
    error = one_line_error(post(client, b"not an image at all", "notes.png"), 422)
    assert error.startswith("notes.png: not an image in a format read here")
    assert post(client, png_bytes(draw("1", 200, 160))).status_code == 200


def test_an_image_with_nothing_written_is_an_answer_with_no_digits(client):
    blank = png_bytes(Image.new("L", (256, 128), 255))
    response = post(client, blank, "blank.png")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "no_digits" and body["number"] == "" and body["digits"] == []
    assert body["digit"] is None and body["runners_up"] is None and body["size"] == [256, 128]


def test_a_model_without_calibration_counts_every_digit_it_reads_sure(client):
    body = post(client, png_bytes(draw("71", 256, 128))).json()
    assert body["status"] == "read" and [digit["sure"] for digit in body["digits"]] == [True, True]


def test_under_the_sure_probability_a_digit_is_unsure_and_still_read(stroke_model, tmp_path):
    model = tmp_path / "model.keras"
    shutil.copy(stroke_model, model)
    # Nothing reaches a probability over 1.0: every digit is unsure.
    calibration_path(model).write_text(json.dumps({"temperature": 1.0, "sure_probability": 1.0}))
    with TestClient(server_app.create_app(model), base_url=BASE) as unsure_client:
        body = post(unsure_client, png_bytes(draw("71", 256, 128))).json()
    assert body["status"] == "unsure" and body["number"] == "71"
    assert [digit["sure"] for digit in body["digits"]] == [False, False]
    assert all(len(digit["runners_up"]) == answers.RUNNERS_UP for digit in body["digits"])


def test_an_image_over_the_pixel_limit_is_refused_before_it_is_decoded(client):
    huge = png_bytes(Image.new("1", (8000, 6000), 1))
    assert "megapixel limit" in one_line_error(post(client, huge, "huge.png"), 422)


def test_an_upload_over_20_mb_is_refused(client):
    big = b"\0" * (uploads.MAX_UPLOAD_BYTES + 1)
    assert "20 MB" in one_line_error(post(client, big), 413)


def test_an_upload_over_20_mb_without_a_length_is_cut_off_while_it_streams(client):
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    sent = []

    def body():
        yield head
        for _ in range(uploads.MAX_UPLOAD_BYTES // (1 << 20) + 2):
            sent.append(1 << 20)
            yield b"\0" * (1 << 20)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/api/predict", content=body(),
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert "20 MB" in one_line_error(response, 413)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"files": {"picture": ("a.png", b"x", "image/png")}}, "no field named 'image'"),
    ({"content": b"raw bytes", "headers": {"content-type": "image/png"}}, "multipart/form-data"),
    ({"content": b"--x\r\nno headers end", "headers": {"content-type": "multipart/form-data; boundary=y"}},
     "malformed multipart form"),
])
def test_a_malformed_request_gets_400(client, kwargs, message):
    assert message in one_line_error(client.post("/api/predict", **kwargs), 400)


def test_unknown_routes_and_methods_answer_in_json(client):
    one_line_error(client.get("/api/nothing"), 404)
    one_line_error(client.get("/api/predict"), 405)


def test_an_upload_is_never_written_to_disk(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a temporary file was made")

    for name in ("NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(200, 256, (1200, 1200, 3), dtype=np.uint8))  # over 1 MB as PNG
    noisy.paste(draw("4", 300, 300), (450, 450))
    data = png_bytes(noisy)
    assert len(data) > 2 * 1024 * 1024
    assert post(client, data).status_code in (200, 422)


def test_the_upload_name_keeps_no_folders_and_no_control_characters():
    assert uploads.upload_name(b"../../etc/passwd") == "passwd"
    assert uploads.upload_name(b"C:\\photos\\seven.jpg") == "seven.jpg"
    assert uploads.upload_name(b"a\nb\x00.png") == "ab.png"
    assert uploads.upload_name(None) == "image"


def test_without_a_model_the_page_still_loads_the_api_answers_503_and_the_model_is_taken_when_it_appears(
        tmp_path, stroke_model):
    missing = tmp_path / "models" / "model.keras"
    with TestClient(server_app.create_app(missing), base_url=BASE) as no_model:
        assert no_model.get("/").status_code == 200
        health = no_model.get("/api/health").json()
        assert health["model_loaded"] is False and "model file not found" in health["error"]
        assert "make repro" in one_line_error(post(no_model, png_bytes(draw("7", 200, 160))), 503)

        missing.parent.mkdir()
        missing.write_bytes(b"half a model")
        assert "not a Keras model" in no_model.get("/api/health").json()["error"]
        assert "not a Keras model" in one_line_error(post(no_model, png_bytes(draw("7", 200, 160))), 503)

        shutil.copy(stroke_model, missing)
        assert no_model.get("/api/health").json()["model_loaded"] is True
        assert post(no_model, png_bytes(draw("7", 200, 160))).json()["number"] == "7"


def test_a_model_whose_calibration_is_damaged_is_taken_once_the_calibration_is_mended(tmp_path, stroke_model):
    model = tmp_path / "models" / "model.keras"
    model.parent.mkdir()
    shutil.copy(stroke_model, model)
    calibration = calibration_path(model)
    calibration.write_text(json.dumps({"temperature": 1.0, "sure_probability": 0.9, "not_a_digit_probability": -0.1}))
    with TestClient(server_app.create_app(model), base_url=BASE) as app:
        assert "not_a_digit_probability -0.1" in app.get("/api/health").json()["error"]
        too_large = {"temperature": 1.0, "sure_probability": 0.9, "not_a_digit_probability": 10**400}
        calibration.write_text(json.dumps(too_large))
        health = app.get("/api/health")
        assert health.status_code == 200 and "not a calibration file" in health.json()["error"]
        assert "not a calibration file" in one_line_error(post(app, png_bytes(draw("7", 200, 160))), 503)
        # as `dvc repro calibrate` mends it, the model file untouched
        calibration.write_text(json.dumps({"temperature": 1.0, "sure_probability": 0.9}))
        assert app.get("/api/health").json()["model_loaded"] is True
        assert post(app, png_bytes(draw("7", 200, 160))).json()["number"] == "7"


def test_a_port_in_use_is_one_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=rf"cannot listen on 127.0.0.1:{port}: .*PORT="):
            serve.listen("127.0.0.1", port)


def test_answers_are_sent_at_once_not_held_for_the_clients_acknowledgement():
    """asyncio turns Nagle's algorithm off on the connections of a socket that says it is TCP; held on,
    an answer's body waited 40 ms for the client's delayed acknowledgement of its headers."""
    async def nagle_off_on_a_connection() -> int:
        options = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            options.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        with serve.listen("127.0.0.1", 0) as sock:
            async with await asyncio.start_server(handle, sock=sock):
                reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
                await reader.read()
                writer.close()
        return options[0]

    assert asyncio.run(nagle_off_on_a_connection()) != 0


def test_the_address_printed_is_the_one_listened_on():
    with serve.listen("127.0.0.1", 0) as sock:
        assert serve.address(sock) == f"http://127.0.0.1:{sock.getsockname()[1]}"


# --- "this should be a …": labelled samples ---------------------------------------------------------

@pytest.fixture
def labelling(stroke_model, tmp_path):
    with TestClient(server_app.create_app(stroke_model, own=tmp_path / "own"), base_url=BASE) as test_client:
        yield test_client, tmp_path / "own"


def keep(client: TestClient, data: bytes, digit: str, name: str = "drawing.png"):
    return client.post("/api/samples", files={"image": (name, data, "image/png")}, data={"digit": digit})


def test_a_labelled_drawing_is_kept_once_under_its_content_hash_and_counted(labelling):
    client, own = labelling
    assert client.get("/api/samples").json() == {"counts": {str(d): 0 for d in range(10)}}
    data = png_bytes(draw("7", 256, 128))
    first = keep(client, data, "7").json()
    path = own / "7" / f"{hashlib.sha256(data).hexdigest()}.png"
    assert first == {"saved": True, "path": path.as_posix(), "digit": 7, "relabelled_from": None,
                     "counts": {str(d): int(d == 7) for d in range(10)}}
    assert path.read_bytes() == data
    assert keep(client, data, "7").json()["saved"] is False  # the same drawing again: nothing new
    assert keep(client, png_bytes(draw("1", 256, 128)), "1").json()["counts"]["1"] == 1
    assert sorted(p.relative_to(own).parts[0] for p in own.rglob("*.png")) == ["1", "7"]
    assert not list(own.rglob("*.tmp"))


@pytest.mark.parametrize(("digit", "message"), [("", "'digit'"), ("12", "'digit'"), ("x", "'digit'")])
def test_a_sample_without_one_digit_label_is_refused(labelling, digit, message):
    client, own = labelling
    assert message in one_line_error(keep(client, png_bytes(draw("7", 256, 128)), digit), 400)
    assert not own.exists()


def test_a_sample_must_be_one_digit_in_a_png_or_jpeg(labelling):
    client, own = labelling
    assert "2 digits found" in one_line_error(keep(client, png_bytes(draw("71", 256, 128)), "7"), 422)
    blank = png_bytes(Image.new("L", (256, 128), 255))
    assert "no digit found" in one_line_error(keep(client, blank, "3"), 422)
    buffer = io.BytesIO()
    draw("7", 256, 128).save(buffer, format="BMP")
    assert "PNG or JPEG" in one_line_error(keep(client, buffer.getvalue(), "7", "seven.bmp"), 422)
    assert not own.exists()
