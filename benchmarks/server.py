"""The feed server for the polling benchmark, run as its own process.

    python benchmarks/server.py SOURCES DELAY

Serves ``/s/<i>`` for i < SOURCES: a five-entry RSS feed (neighbouring feeds share
papers) with an ETag, answered after DELAY seconds; a request that sends the current
ETag gets 304. Prints the port on the first line of stdout, then serves until killed.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import datagen  # noqa: E402

from tests import httpserver  # noqa: E402
from tests.httpserver import LocalServer, Recorded, Reply  # noqa: E402


def main() -> None:
    sources, delay = int(sys.argv[1]), float(sys.argv[2])
    # Hundreds of clients connect at once; the default listen backlog of 5 would drop SYNs.
    httpserver._Server.request_queue_size = 1024
    server = LocalServer()
    for i in range(sources):
        body = datagen.small_rss([i * 3 + k for k in range(5)], name=f"lab{i}")
        etag = f'"v1-{i}"'

        def answer(req: Recorded, body: bytes = body, etag: str = etag) -> Reply:
            headers = {"ETag": etag, "Content-Type": "application/rss+xml"}
            if req.headers.get("if-none-match") == etag:
                return Reply(304, headers=headers, delay=delay)
            return Reply(200, body=body, headers=headers, delay=delay)

        server.route(f"/s/{i}", answer)
    server.start()
    serve_until_terminated(server.port, server.close)


def serve_until_terminated(port: int, close: Callable[[], None]) -> None:
    """Print the port on the first line of stdout, then serve until SIGTERM."""
    print(port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        close()


if __name__ == "__main__":
    main()
