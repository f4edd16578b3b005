"""Checksum-verified, cached downloads with a progress bar (pooch), for the fetch stage and the plots page."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit


def cache_dir() -> Path:
    """Where verified downloads are kept between runs: $MNIST_CACHE_DIR, by default ~/.cache/mnist-dvc."""
    return Path(os.environ.get("MNIST_CACHE_DIR", "~/.cache/mnist-dvc")).expanduser()


class SourceFailed(Exception):
    """A download (or a source of data) did not yield verified bytes; the caller says what to try next."""


def download(url: str, destination: Path, algorithm: str, expected: str, timeout: float) -> Path:
    """Download `url` into `destination` unless a verified copy is there, with a progress bar.

    pooch writes a temporary file beside the destination and moves it into place only once its
    checksum matches, so a mismatch, a time-out or an interrupted transfer leaves nothing behind.
    """
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(timeout=timeout, progressbar=sys.stderr.isatty())
    try:
        path = pooch.retrieve(url, known_hash=f"{algorithm}:{expected}", fname=destination.name,
                              path=destination.parent, downloader=downloader)
    except ValueError:  # pooch's checksum mismatch
        raise SourceFailed(f"{url}: the download's {algorithm} does not match the pinned {expected}") from None
    except (requests.RequestException, OSError) as error:
        raise SourceFailed(f"{url}: {failure_reason(error, url, timeout)}") from None
    return Path(path)


def failure_reason(error: Exception, url: str, timeout: float) -> str:
    """A failed request in a few words: which host could not be reached and why, not urllib3's chain."""
    import requests

    host = urlsplit(url).hostname or "the server"
    text = str(error)
    if isinstance(error, requests.Timeout) or "timed out" in text:
        return f"timed out: no answer from {host} within {timeout:g} s"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"{host} answered HTTP {error.response.status_code}"
    if isinstance(error, requests.ConnectionError):
        if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
            return f"cannot resolve {host} (no network, or no DNS)"
        return f"cannot connect to {host} (no network, a proxy or a firewall)"
    return text
