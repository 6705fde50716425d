"""A scriptable HTTP/1.1 server on 127.0.0.1 for tests: routes answer scripted replies.

Each route holds a list of replies taken in turn (the last one repeats); a reply may be a
function of the recorded request, for servers that answer conditionally. Every request
is recorded with its headers, timing and client port (one port: one connection), and the
server counts how many were in flight at once. Connections close after each reply unless
the server is made with ``keep_alive=True``. Delays wait on an event that ``close()``
sets, so nothing outlives a test::

    with LocalServer() as server:
        server.route("/feed", Reply(429, headers={"Retry-After": "7"}), Reply(body=b"<rss/>"))
        url = server.url("/feed")

``Routed`` and ``resolver_for`` stand in for the network at the fetcher's transport and
resolver seams: a source may live on a public name while the server is local.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import httpx

from digests.fetch import Resolver

__all__ = [
    "PUBLIC_IP",
    "LocalServer",
    "Recorded",
    "Reply",
    "Responder",
    "Routed",
    "resolver_for",
]

PUBLIC_IP = "93.184.215.14"  # a globally routable address; traffic to it is routed locally


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``chunks`` switches to chunked transfer encoding: a sequence of byte strings, or a
    function making an iterable (a generator may be endless: it stops when the client
    goes away or the server closes).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    chunks: Sequence[bytes] | Callable[[], Iterable[bytes]] | None = None
    delay: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0  # seconds before each chunk
    content_length: bool = True  # send Content-Length for ``body``


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it. Header names are lowercased."""

    method: str
    path: str
    headers: Mapping[str, str]
    started: float  # time.monotonic()
    client_port: int = 0  # the client's end of the connection


Responder = Reply | Callable[[Recorded], Reply]


class LocalServer:
    """A threaded server for scripted replies; use as a context manager."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self._routes: dict[str, list[Responder]] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, *replies: Responder) -> None:
        """Answer ``path`` (without query) with ``replies`` in turn, repeating the last."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        with self._lock:
            self._routes[path] = list(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # called from handler threads

    def _begin(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            script = self._routes.get(recorded.path.split("?", 1)[0])
            if script is None:
                responder: Responder = Reply(404, body=b"no such route")
            else:
                responder = script.pop(0) if len(script) > 1 else script[0]
        return responder(recorded) if callable(responder) else responder

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() waits for handlers
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: LocalServer
    ) -> None:
        super().__init__(address, handler)
        self.owner = owner


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        if self.server.owner.keep_alive:
            # An idle kept connection ends by itself, so close() never waits on a client.
            self.timeout = 5.0
        super().setup()

    def do_GET(self) -> None:
        owner = self.server.owner
        recorded = Recorded(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            started=time.monotonic(),
            client_port=int(self.client_address[1]),
        )
        reply = owner._begin(recorded)
        try:
            self._answer(reply, owner.stopping)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout or size limit under test)
        finally:
            owner._end()
            self.close_connection = not owner.keep_alive or owner.stopping.is_set()

    def _answer(self, reply: Reply, stopping: threading.Event) -> None:
        if reply.delay and stopping.wait(reply.delay):
            return
        # send_response_only: the base class would add its own Date, and replies that set
        # one (freshness tests) must be the only Date the client sees.
        self.send_response_only(reply.status)
        if not any(name.lower() == "date" for name in reply.headers):
            self.send_header("Date", self.date_time_string())
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if not self.server.owner.keep_alive:
            self.send_header("Connection", "close")
        bodiless = reply.status in (204, 304) or 100 <= reply.status < 200
        if reply.chunks is not None and not bodiless:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunks = reply.chunks() if callable(reply.chunks) else reply.chunks
            for chunk in chunks:
                if stopping.is_set() or (reply.chunk_delay and stopping.wait(reply.chunk_delay)):
                    return
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if reply.content_length and not bodiless:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not bodiless:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


# -- the network around the server -----------------------------------------------------


class Routed(httpx.AsyncBaseTransport):
    """A network stand-in: requests to ``PUBLIC_IP`` reach the local server; all are recorded."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host != PUBLIC_IP:
            raise httpx.ConnectError("no route to host", request=request)
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(host="127.0.0.1"),
            headers=request.headers,
            extensions={"timeout": request.extensions["timeout"]},
        )
        return await self.inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self.inner.aclose()


def resolver_for(table: dict[str, list[str]], calls: list[str] | None = None) -> Resolver:
    """A name resolver that knows only ``table``; ``calls`` records the names asked for."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve
