"""A local web app on the trained model: draw or photograph digits in the browser.

    python -m mnist_dvc serve [--host 127.0.0.1] [--port 8000] [--model models/model.keras] [--own data/own]

The model is loaded once and kept; every image goes through the same photo → digits path as
`python -m mnist_dvc predict` (mnist_dvc.photo, mnist_dvc.reading). Routes:

- GET /: the page (static files from web/, no script, style or font from anywhere else);
- POST /api/predict, multipart field `image`: the JSON object `predict --json` prints, plus for each
  digit its 28x28 input as a PNG data URL (`input`) and all ten probabilities (`probabilities`), and the
  image's size (`size`, the pixels the boxes are in);
- GET /api/health: whether the model is loaded, its path and md5;
- POST /api/samples, multipart fields `image` (a PNG or JPEG of one digit) and `digit` (0-9): the user
  says what the digit should be; the image's bytes are saved as data/own/<digit>/<sha256 of them>.png
  (or .jpg), atomically and never twice, as a labelled sample for `dvc repro` to score and learn from.
  Answers {"saved", "path", "digit", "counts"}; GET /api/samples answers {"counts"}: samples per digit.

Errors are one-line JSON objects {"error": "..."}: 400 for a malformed request, 413 for an upload over
20 MB, 422 for an image that cannot be read as digits, 503 while there is no model. Uploads are held in
memory only and dropped once answered; only an image the user labels with POST /api/samples is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser, parse_options_header
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnist_dvc.errors import UserError, run_main
from mnist_dvc.files import file_digest
from mnist_dvc.inference import Network, load_model
from mnist_dvc.own import OWN, sample_counts, save_sample
from mnist_dvc.paths import MODEL
from mnist_dvc.photo import Photo, read_photo
from mnist_dvc.reading import Answer, read_photos

WEB = Path(__file__).resolve().parents[1] / "web"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB: a phone photo is a few MB
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024  # the image plus the form's own headers and boundaries
RUNNERS_UP = 2  # as predict's default, so the predict fields are the same
WORKERS = 2  # threads reading photos at once: one per core of a small machine
# Everything the page uses comes from this server; data: and blob: URLs are the page's own images.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                 b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class ApiError(Exception):
    """A request the app refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- the model ---------------------------------------------------------------------------------

@dataclass
class LoadedModel:
    model: Network | None
    md5: str | None
    error: str | None
    tried: tuple[int, int] | None = None  # the model file's (mtime, size) when it failed to load


def file_version(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def try_load(path: Path) -> LoadedModel:
    """The model at `path`, or why there is none (missing, damaged)."""
    version = file_version(path)
    try:
        model = load_model(path)
    except UserError as error:
        return LoadedModel(None, None, str(error), version)
    return LoadedModel(model, file_digest(path, "md5"), None)


class Reader:
    """Reads digits in uploaded images with one model, loaded once.

    Photos are read by WORKERS threads at once, each calling the model itself (its weights are read-only
    NumPy arrays, mnist_dvc.inference, so calls need no lock). When the model file is missing at start,
    or damaged, it is loaded when it appears or changes (after `make repro`), with no restart; loading
    runs on the worker threads, never on the thread that serves every request.
    """

    def __init__(self, model_path: Path):
        self.model_path = model_path
        self.loaded = try_load(model_path)
        self.load_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="reader")

    def can_load(self) -> bool:
        """A model file to load has appeared or changed since the last try."""
        version = file_version(self.model_path)
        return self.loaded.model is None and version is not None and version != self.loaded.tried

    def refresh(self) -> None:
        if self.can_load():
            with self.load_lock:
                if self.can_load():
                    self.loaded = try_load(self.model_path)

    def check(self) -> None:
        """ApiError 503 when there is no model and none to load: cheap, for before reading an upload."""
        if self.loaded.model is None and not self.can_load():
            raise self.no_model()

    def no_model(self) -> ApiError:
        return ApiError(503, f"no model yet ({self.loaded.error}): run `make repro` to train it, then reload the page")

    def model(self):
        """The model, loaded now if it has just appeared; ApiError 503 while there is none."""
        self.refresh()
        if self.loaded.model is None:
            raise self.no_model()
        return self.loaded.model

    def health(self) -> dict:
        self.refresh()
        return {"model_loaded": self.loaded.model is not None, "model": str(self.model_path),
                "md5": self.loaded.md5, "error": self.loaded.error}

    def read(self, data: bytes, name: str) -> dict:
        """The answer for one image's bytes; ApiError 422 when it cannot be read as digits."""
        model = self.model()
        try:
            photo = read_photo(data, name)
        except UserError as error:
            raise ApiError(422, str(error)) from None
        # All nine runners-up, for the page's bars; answer_json cuts them back to predict's.
        answer = read_photos(model, [(name, photo.found)], runners_up=9)[0]
        return answer_json(answer, photo)


# --- answers -----------------------------------------------------------------------------------

def png_data_url(frame: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def ten_probabilities(digit: dict) -> list[float]:
    """Every digit's probability, 0 to 9, from an answer that ranks all ten."""
    probabilities = [0.0] * 10
    for entry in [digit, *digit["runners_up"]]:
        probabilities[entry["digit"]] = entry["probability"]
    return probabilities


def answer_json(answer: Answer, photo: Photo) -> dict:
    """predict's JSON object for an answer that ranks all ten digits, with its runners-up cut back to
    RUNNERS_UP, plus what the page shows: each digit's 28x28 input and ten probabilities, and the
    size of the image the boxes are in."""
    result = answer.as_dict()
    for entry, digit in zip(result["digits"], answer.digits, strict=True):
        entry["probabilities"] = ten_probabilities(entry)
        entry["runners_up"] = entry["runners_up"][:RUNNERS_UP]
        entry["input"] = png_data_url(digit.frame)
    if result["runners_up"] is not None:
        result["runners_up"] = result["runners_up"][:RUNNERS_UP]
    result["size"] = list(photo.size)
    return result


# --- uploads -----------------------------------------------------------------------------------

def too_large() -> ApiError:
    return ApiError(413, f"upload over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit; scale the photo down")


def upload_name(raw: bytes | None) -> str:
    """The uploaded file's own name, for messages and the answer's `path`: no folders, printable."""
    name = os.path.basename((raw or b"").decode("utf-8", "replace").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "image"


async def read_form(request: Request) -> dict[bytes, tuple[bytes | None, bytes]]:
    """The multipart form's fields, {name: (file name or None, bytes)}, read into memory and never more
    than MAX_BODY_BYTES: a larger declared length is refused before anything is read."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(400, "send the image as multipart/form-data, in a field named 'image'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    found: dict[bytes, tuple[bytes | None, bytes]] = {}

    def on_field(field: Field) -> None:
        found.setdefault(field.field_name or b"", (None, field.value or b""))

    def on_file(file: File) -> None:
        file.file_object.seek(0)
        found.setdefault(file.field_name or b"", (file.file_name, file.file_object.read()))

    # Files stay in memory up to this size; the body is cut off below it, so nothing reaches disk.
    config = {"MAX_MEMORY_FILE_SIZE": MAX_BODY_BYTES + 1}
    parser = FormParser("multipart/form-data", on_field, on_file, boundary=boundary, config=config)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_BODY_BYTES:
                raise too_large()
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise ApiError(400, f"malformed multipart form ({error})") from None
    return found


def image_field(found: dict[bytes, tuple[bytes | None, bytes]]) -> tuple[str, bytes]:
    """The name and bytes of the form field `image`."""
    if b"image" not in found:
        raise ApiError(400, "the form has no field named 'image'")
    name, data = found[b"image"]
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large()
    return upload_name(name), data


# --- routes ------------------------------------------------------------------------------------

async def predict(request: Request) -> JSONResponse:
    reader: Reader = request.app.state.reader
    reader.check()  # before reading an upload there is no model for
    name, data = image_field(await read_form(request))
    answer = await asyncio.get_running_loop().run_in_executor(reader.pool, reader.read, data, name)
    return JSONResponse(answer)


SAMPLE_SUFFIXES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}  # by the file's first bytes


def counts_json(root: Path) -> dict[str, int]:
    return {str(digit): count for digit, count in sample_counts(root).items()}


def save_labelled(root: Path, data: bytes, name: str, digit: int) -> dict:
    """Keep one digit's image as a labelled sample of `digit`; ApiError 422 unless it is a PNG or JPEG
    in which exactly one digit is found."""
    suffix = next((suffix for magic, suffix in SAMPLE_SUFFIXES.items() if data.startswith(magic)), None)
    if suffix is None:
        raise ApiError(422, f"{name}: only a PNG or JPEG image can be kept as a sample")
    try:
        found = len(read_photo(data, name).digits)
    except UserError as error:
        raise ApiError(422, str(error)) from None
    if found != 1:
        raise ApiError(422, f"{name}: {found} digits found; a sample must be one digit")
    path, saved = save_sample(root, digit, data, suffix)
    return {"saved": saved, "path": path.as_posix(), "digit": digit, "counts": counts_json(root)}


async def add_sample(request: Request) -> JSONResponse:
    found = await read_form(request)
    name, data = image_field(found)
    label = found.get(b"digit", (None, b""))[1].decode("ascii", "replace").strip()
    if len(label) != 1 or not label.isdigit():
        raise ApiError(400, f"the form's field 'digit' must be one digit 0-9, got {label[:20]!r}")
    root: Path = request.app.state.own
    reader: Reader = request.app.state.reader
    answer = await asyncio.get_running_loop().run_in_executor(
        reader.pool, save_labelled, root, data, name, int(label))
    return JSONResponse(answer)


async def samples(request: Request) -> JSONResponse:
    return JSONResponse({"counts": counts_json(request.app.state.own)})


async def health(request: Request) -> JSONResponse:
    reader: Reader = request.app.state.reader
    return JSONResponse(await asyncio.get_running_loop().run_in_executor(reader.pool, reader.health))


async def api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse({"error": str(error)}, status_code=error.status)


async def http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": f"internal error ({type(error).__name__}); see the server's output"},
                        status_code=500)


def with_security_headers(app: ASGIApp) -> ASGIApp:
    """Add SECURITY_HEADERS to every response."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await app(scope, receive, send_with_headers if scope["type"] == "http" else send)

    return wrapped


def create_app(model_path: Path = MODEL, web: Path = WEB, own: Path = OWN) -> Starlette:
    """The app, with the model at `model_path` loaded (or its absence noted), keeping labelled samples
    under `own`."""
    api = [Route("/predict", predict, methods=["POST"]), Route("/health", health),
           Route("/samples", add_sample, methods=["POST"]), Route("/samples", samples)]
    app = Starlette(
        routes=[Mount("/api", routes=api), Mount("/", StaticFiles(directory=web, html=True))],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: internal_error},
    )
    app.state.reader = Reader(model_path)
    app.state.own = own
    app.add_middleware(with_security_headers)
    return app


# --- the command -------------------------------------------------------------------------------

def listen(host: str, port: int) -> socket.socket:
    """A listening socket, so a taken port is reported before the model is loaded."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}; choose another with "
                        "`make serve PORT=8765`") from None


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mnist_dvc serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--model", type=Path, default=MODEL, help=f"the trained model (default {MODEL})")
    parser.add_argument("--own", type=Path, default=OWN,
                        help=f"where drawings labelled on the page are kept, in folders 0-9 (default {OWN})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    args = parse_args(argv)
    sock = listen(args.host, args.port)
    app = create_app(args.model, own=args.own)
    status = app.state.reader.health()
    if status["model_loaded"]:
        print(f"model: {status['model']} (md5 {status['md5']})")
    else:
        print(f"no model yet: {status['error']}; the page will say to run `make repro`")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: anyone who can reach this machine on port "
              f"{sock.getsockname()[1]} can use the app")
    print(f"ready: open {address(sock)} in a browser (Ctrl+C stops)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    run_main(main)
