"""The web app under load, as a user runs it: a real server on 127.0.0.1 and 8 clients at once."""

from __future__ import annotations

import pytest

from benchmarks.load import DRAWING, load, summarize


@pytest.mark.slow
def test_200_requests_from_8_clients_are_all_answered_right(live_server):
    replies, wall = load(live_server, DRAWING.read_bytes(), requests=200, clients=8)
    summary = summarize(replies, wall, clients=8, expect="71")
    print(summary.as_line())
    assert summary.requests == 200 and summary.wrong == 0
    # The README's figures come from a quiet machine; here only a bound no shared CI machine should miss.
    assert summary.p95_ms < 5000
