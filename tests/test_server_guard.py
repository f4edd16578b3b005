"""Who may talk to the web app: the Host a request names, and the page a writing request comes from."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mnist_dvc.server import app as server_app
from mnist_dvc.server import guard, serve
from tests.helpers.strokes import draw, png_bytes

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def app_and_own(stroke_model, tmp_path):
    hosts = guard.allowed_hosts("127.0.0.1", 8000, ["digits.lan"])
    with TestClient(server_app.create_app(stroke_model, own=tmp_path / "own", hosts=hosts), base_url=BASE) as client:
        yield client, tmp_path / "own"


def keep(client: TestClient, headers: dict[str, str], digit: str = "7"):
    files = {"image": ("seven.png", png_bytes(draw("7", 256, 128)), "image/png")}
    return client.post("/api/samples", files=files, data={"digit": digit}, headers=headers)


def saved(own) -> list[str]:
    return sorted(path.name for path in own.rglob("*.png")) if own.exists() else []


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"},
    {"origin": "http://127.0.0.1:9999"},  # another port of the same machine is another origin
    {"origin": "null"},  # a sandboxed frame or a file:// page
    {"origin": "http://127.0.0.1:8000", "sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # a page on another port: same site, not same origin
    {"sec-fetch-site": "cross-site"},
])
def test_a_sample_sent_from_another_origin_is_refused_and_nothing_is_written(app_and_own, headers):
    client, own = app_and_own
    assert "only the app's own page" in one_line_error(keep(client, headers), 403)
    assert "only the app's own page" in one_line_error(
        client.post("/api/predict", files={"image": ("a.png", b"x", "image/png")}, headers=headers), 403)
    assert saved(own) == []


@pytest.mark.parametrize("headers", [
    {"origin": BASE, "sec-fetch-site": "same-origin"},  # the app's own page, as a browser sends it
    {"origin": "http://digits.lan:8000", "host": "digits.lan:8000"},  # a name given with --allow-host
    {},  # curl or a script: no browser involved, so no page could have sent it
])
def test_the_apps_own_page_and_programs_without_a_browser_can_write(app_and_own, headers):
    client, own = app_and_own
    response = keep(client, headers)
    assert response.status_code == 200, response.text
    assert len(saved(own)) == 1


@pytest.mark.parametrize("host", ["evil.example:8000", "evil.example", "127.0.0.1:9999", "localhost", "",
                                  "rebound.attacker.test:8000"])
def test_a_request_naming_another_host_gets_421_even_for_reading(app_and_own, host):
    client, own = app_and_own
    for response in (client.get("/api/health", headers={"host": host}),
                     client.get("/api/samples", headers={"host": host}),
                     client.get("/", headers={"host": host}),
                     keep(client, {"host": host})):
        assert "--allow-host" in one_line_error(response, 421)
        assert "access-control-allow-origin" not in response.headers
    assert saved(own) == []


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000",
                                  "digits.lan:8000"])
def test_this_machines_own_names_and_allowed_names_are_answered(app_and_own, host):
    client, _ = app_and_own
    response = client.get("/api/health", headers={"host": host})
    assert response.status_code == 200 and response.json()["model_loaded"] is True


def test_read_only_answers_carry_no_cors_headers(app_and_own):
    client, _ = app_and_own
    for path in ("/", "/api/health", "/api/samples"):
        response = client.get(path, headers={"origin": "http://evil.example"})
        assert response.status_code == 200
        assert not [name for name in response.headers if name.startswith("access-control-")]
    preflight = client.options("/api/samples", headers={"origin": "http://evil.example",
                                                       "access-control-request-method": "POST"})
    assert preflight.status_code >= 400 and "access-control-allow-origin" not in preflight.headers


def test_refusals_carry_the_security_headers(app_and_own):
    client, _ = app_and_own
    response = client.get("/", headers={"host": "evil.example"})
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_the_allowed_hosts_are_the_address_listened_on_this_machines_names_and_the_given_ones():
    assert guard.allowed_hosts("127.0.0.1", 8000) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert guard.allowed_hosts("192.168.1.5", 80, ["pi.lan", "other:8080"]) >= {
        "192.168.1.5:80", "192.168.1.5", "pi.lan:80", "pi.lan", "other:8080"}
    assert guard.allowed_hosts("::1", 8000) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert "0.0.0.0:8000" not in guard.allowed_hosts("0.0.0.0", 8000)


def test_allow_host_takes_names_repeated_or_comma_separated():
    args = serve.parse_args(["--allow-host", "a.lan", "--allow-host", "b.lan,c.lan:9000"])
    assert args.allow_host == ["a.lan", "b.lan", "c.lan:9000"]
