"""Uploads: a multipart form read into memory within the size limits, never to disk, and its fields."""

from __future__ import annotations

import os

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mnist_dvc.server.answers import ApiError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB: a phone photo is a few MB
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024  # the image plus the form's own headers and boundaries
MAX_BOUNDARY_CHARS = 70  # RFC 2046's limit for a multipart boundary; every browser and client stays under it
# Uploads held in memory at once; others wait for a turn before their bodies are read, so sixteen
# clients sending 20 MB each hold at most this many bodies (and WORKERS decoded photos) at a time.
MAX_UPLOADS_AT_ONCE = 4

Form = dict[bytes, tuple[bytes | None, bytes]]  # field name -> (file name or None, bytes)


def too_large() -> ApiError:
    return ApiError(413, f"upload over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit; scale the photo down")


def upload_name(raw: bytes | None) -> str:
    """The uploaded file's own name, for messages and the answer's `path`: no folders, printable."""
    name = os.path.basename((raw or b"").decode("utf-8", "replace").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "image"


def form_boundary(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data body; ApiError 400 for any other body or an odd boundary."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(400, "send the image as multipart/form-data, in a field named 'image'")
    if len(boundary) > MAX_BOUNDARY_CHARS:
        raise ApiError(400, f"the multipart boundary is {len(boundary)} characters long, over the "
                            f"{MAX_BOUNDARY_CHARS} that RFC 2046 allows")
    return boundary


async def read_form(request: Request) -> Form:
    """The multipart form's fields, read into memory and never more than MAX_BODY_BYTES: a larger declared
    length is refused before anything is read."""
    boundary = form_boundary(request.headers.get("content-type"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    found: Form = {}

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
    except ClientDisconnect:
        # Nobody is left to read the answer; this only ends the request without a traceback.
        raise ApiError(400, "the client disconnected before the upload ended") from None
    return found


def image_field(found: Form) -> tuple[str, bytes]:
    """The name and bytes of the form field `image`."""
    if b"image" not in found:
        raise ApiError(400, "the form has no field named 'image'")
    name, data = found[b"image"]
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large()
    return upload_name(name), data


def digit_field(found: Form) -> int:
    """The form field `digit`: one digit 0-9."""
    label = found.get(b"digit", (None, b""))[1].decode("ascii", "replace").strip()
    if len(label) != 1 or not label.isdigit():
        raise ApiError(400, f"the form's field 'digit' must be one digit 0-9, got {label[:20]!r}")
    return int(label)
