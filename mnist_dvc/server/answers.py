"""The JSON the app answers: a reading of digits as predict prints it plus what the page shows, and errors
as one-line objects {"error": "..."}."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from mnist_dvc.photo import Photo
from mnist_dvc.reading import Answer

RUNNERS_UP = 2  # as predict's default, so the predict fields are the same


class ApiError(Exception):
    """A request the app refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


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


# --- errors as JSON --------------------------------------------------------------------------------

async def api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, str(error))


async def http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    return error_response(500, f"internal error ({type(error).__name__}); see the server's output")
