"""Latency of the web app under load: many clients at once posting a drawing to POST /api/predict.

    python -m benchmarks.load [URL] [--requests 200] [--clients 8] [--image docs/drawing-71.png]

Start the app first (`make serve`); URL defaults to http://127.0.0.1:8000. The image defaults to a
drawing of "71" exactly as the page sends it (256x128 PNG). Each client keeps its connection open and
posts its share of the requests one after another; every answer is checked against `--expect`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

REPO = Path(__file__).resolve().parents[1]
DRAWING = REPO / "docs" / "drawing-71.png"


@dataclass(frozen=True)
class Reply:
    seconds: float
    status: int
    number: str | None


@dataclass(frozen=True)
class Summary:
    requests: int
    clients: int
    wrong: int  # answers that were not 200 with the expected number
    median_ms: float
    p95_ms: float
    max_ms: float
    per_second: float

    def as_line(self) -> str:
        return (f"{self.requests} requests from {self.clients} clients: median {self.median_ms:.0f} ms, "
                f"p95 {self.p95_ms:.0f} ms, max {self.max_ms:.0f} ms, {self.per_second:.0f} requests/s, "
                f"{self.wrong} wrong")


def post(client: httpx.Client, url: str, image: bytes) -> Reply:
    start = time.perf_counter()
    response = client.post(f"{url}/api/predict", files={"image": ("drawing.png", image, "image/png")})
    seconds = time.perf_counter() - start
    number = response.json().get("number") if response.status_code == 200 else None
    return Reply(seconds, response.status_code, number)


def client_run(url: str, image: bytes, count: int) -> list[Reply]:
    with httpx.Client(timeout=60) as client:
        return [post(client, url, image) for _ in range(count)]


def load(url: str, image: bytes, requests: int = 200, clients: int = 8) -> tuple[list[Reply], float]:
    """Every reply, and the wall time of the whole run."""
    shares = [requests // clients + (k < requests % clients) for k in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        replies = [reply for batch in pool.map(lambda n: client_run(url, image, n), shares) for reply in batch]
    return replies, time.perf_counter() - start


def summarize(replies: list[Reply], wall: float, clients: int, expect: str) -> Summary:
    times = sorted(reply.seconds * 1000 for reply in replies)
    wrong = sum(reply.status != 200 or reply.number != expect for reply in replies)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[-1]
    return Summary(len(replies), clients, wrong, statistics.median(times), p95, times[-1], len(replies) / wall)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--image", type=Path, default=DRAWING)
    parser.add_argument("--expect", default="71", help="the number every answer must read (default 71)")
    args = parser.parse_args()
    image = args.image.read_bytes()
    with httpx.Client(timeout=60) as client:
        post(client, args.url.rstrip("/"), image)  # one first request, not counted
    replies, wall = load(args.url.rstrip("/"), image, args.requests, args.clients)
    print(summarize(replies, wall, args.clients, args.expect).as_line())


if __name__ == "__main__":
    main()
