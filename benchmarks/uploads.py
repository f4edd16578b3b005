"""The web app's memory under large uploads: many clients at once each posting a photo of almost 20 MB
and 40 megapixels (the largest the app takes), and the server's peak RSS.

    python -m benchmarks.uploads PID [URL] [--clients 16] [--rounds 2]

Start the app first (`make serve`) and give its process id; URL defaults to http://127.0.0.1:8000.
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import numpy as np
from PIL import Image


def large_photo() -> bytes:
    """A 6400x6200 PNG (39.7 megapixels) of white paper with a band of noise: just under 20 MB."""
    rng = np.random.default_rng(0)
    pixels = np.full((6200, 6400), 255, np.uint8)
    pixels[:2900] = rng.integers(0, 256, (2900, 6400), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.uploads", description=__doc__.split("\n\n")[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    photo = large_photo()
    print(f"photo: {len(photo) / 2**20:.1f} MB; server peak RSS before: {peak_rss_mb(args.pid):.0f} MB")

    def post(_: int) -> int:
        with httpx.Client(timeout=300) as client:
            return client.post(f"{args.url}/api/predict", files={"image": ("big.png", photo, "image/png")}).status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        statuses = list(pool.map(post, range(args.clients * args.rounds)))
    print(f"{len(statuses)} uploads from {args.clients} clients in {time.perf_counter() - start:.0f} s: "
          f"statuses {sorted(set(statuses))}; server peak RSS {peak_rss_mb(args.pid):.0f} MB")


if __name__ == "__main__":
    main()
