"""The app's routes and create_app: the page, reading an uploaded image, keeping a labelled sample."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mnist_dvc.errors import UserError
from mnist_dvc.files import WriteError
from mnist_dvc.own import OWN, sample_counts, save_sample
from mnist_dvc.paths import MODEL
from mnist_dvc.photo import read_photo
from mnist_dvc.server.answers import ApiError, api_error, http_error, internal_error
from mnist_dvc.server.guard import Guard, allowed_hosts
from mnist_dvc.server.model import Reader
from mnist_dvc.server.uploads import MAX_UPLOADS_AT_ONCE, digit_field, image_field, read_form

WEB = Path(__file__).resolve().parents[2] / "web"
DEFAULT_HOSTS = allowed_hosts("127.0.0.1", 8000)  # `make serve`'s address
SAMPLE_SUFFIXES = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}  # by the file's first bytes
FULL_DISK = frozenset({errno.ENOSPC, errno.EDQUOT})


async def predict(request: Request) -> JSONResponse:
    reader: Reader = request.app.state.reader
    reader.check()  # before reading an upload there is no model for
    async with request.app.state.uploads:
        name, data = image_field(await read_form(request))
        answer = await asyncio.get_running_loop().run_in_executor(reader.pool, reader.read, data, name)
    return JSONResponse(answer)


def counts_json(root: Path) -> dict[str, int]:
    return {str(digit): count for digit, count in sample_counts(root).items()}


def save_labelled(root: Path, data: bytes, name: str, digit: int) -> dict:
    """Keep one digit's image as a labelled sample of `digit`; ApiError 422 unless it is a PNG or JPEG in
    which exactly one digit is found, 507 when the disk is full, 500 when the folder cannot be written.
    The same image labelled again with another digit moves to that digit: the latest label wins."""
    suffix = next((suffix for magic, suffix in SAMPLE_SUFFIXES.items() if data.startswith(magic)), None)
    if suffix is None:
        raise ApiError(422, f"{name}: only a PNG or JPEG image can be kept as a sample")
    try:
        found = len(read_photo(data, name).digits)
    except UserError as error:
        raise ApiError(422, str(error)) from None
    if found == 0:
        raise ApiError(422, f"{name}: no digit found (a blank image); a sample must be one digit")
    if found != 1:
        raise ApiError(422, f"{name}: {found} digits found; a sample must be one digit")
    try:
        saved = save_sample(root, digit, data, suffix)
    except WriteError as error:
        if error.errno in FULL_DISK:
            raise ApiError(507, f"cannot save: disk full ({error.reason}) in {root}; free some space") from None
        raise ApiError(500, f"cannot save: {error.reason} in {root}") from None
    return {"saved": saved.new, "path": saved.path.as_posix(), "digit": digit, "relabelled_from": saved.previous,
            "counts": counts_json(root)}


async def add_sample(request: Request) -> JSONResponse:
    reader: Reader = request.app.state.reader
    async with request.app.state.uploads:
        found = await read_form(request)
        name, data = image_field(found)
        digit = digit_field(found)
        answer = await asyncio.get_running_loop().run_in_executor(
            reader.pool, save_labelled, request.app.state.own, data, name, digit)
    return JSONResponse(answer)


async def samples(request: Request) -> JSONResponse:
    return JSONResponse({"counts": counts_json(request.app.state.own)})


async def health(request: Request) -> JSONResponse:
    reader: Reader = request.app.state.reader
    return JSONResponse(await asyncio.get_running_loop().run_in_executor(reader.pool, reader.health))


def create_app(model_path: Path = MODEL, web: Path = WEB, own: Path = OWN,
               hosts: frozenset[str] = DEFAULT_HOSTS) -> Starlette:
    """The app, with the model at `model_path` loaded (or its absence noted), keeping labelled samples
    under `own`, answering requests whose Host header is one of `hosts` (guard.allowed_hosts)."""
    api = [Route("/predict", predict, methods=["POST"]), Route("/health", health),
           Route("/samples", add_sample, methods=["POST"]), Route("/samples", samples)]
    app = Starlette(
        routes=[Mount("/api", routes=api), Mount("/", StaticFiles(directory=web, html=True))],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: internal_error},
        middleware=[Middleware(Guard, allowed=hosts)],
    )
    app.state.reader = Reader(model_path)
    app.state.own = own
    app.state.uploads = asyncio.Semaphore(MAX_UPLOADS_AT_ONCE)
    return app
