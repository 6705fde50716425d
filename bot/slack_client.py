"""A Slack ``WebClient`` that keeps its connections to the Web API open between calls.

slack_sdk's synchronous ``WebClient`` sends every call through ``urllib``, which opens a
new connection (TCP, and TLS for slack.com) for each one and closes it after the answer.
A fan-out posts to every subscribed channel at once, so that is a handshake per digest.
``KeepAliveWebClient`` is the same client, slack_sdk still building each request and
reading each answer, with only the exchange itself sent over a small pool of persistent
HTTP/1.1 connections (``http.client``, the module ``urllib`` uses underneath).

The exchange behaves as ``urllib``'s, so slack_sdk and the deliverer see the same
outcomes: an answer outside 2xx is raised as ``urllib.error.HTTPError`` (slack_sdk turns
it into the ``SlackApiError`` carrying ``Retry-After``), an ``OSError`` while sending is
wrapped in ``URLError``, and an error while reading the answer is raised as it is (the
deliverer treats it as "may have been posted" and looks in Slack before posting again).
Redirects are not followed: Slack's Web API does not send them, so one means a wrong
``SLACK_API_URL``, and it is reported as the HTTP error it is.

A connection goes back to the pool only after its answer was read in full and unless the
server said it would close. Before one is reused it is checked: a connection idle longer
than ``idle_timeout`` is closed, and so is one whose socket is readable while idle (the
server closed it, or sent something unasked), so a request is never written into a
connection the server has already given up. Each connection serves one call at a time;
the pool keeps at most ``max_idle`` per host. With a proxy configured (``proxy=`` or the
environment), calls go through ``urllib`` as before.

slack_sdk builds a debug line of every request (its whole JSON body) when its logger's
own ``level`` is DEBUG or lower, and a logger nobody configured has level NOTSET (0): so
every call formatted a line logging then dropped, a sixth of a post's CPU in a fan-out.
The client's logger is slack_sdk's own, seen through an adapter whose ``level`` is the
level logging is configured to act on, so the line is built only when it is emitted.
"""

from __future__ import annotations

import email.message
import functools
import http.client
import io
import logging
import select
import ssl
import threading
import time
import weakref
from typing import Any, cast
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

__all__ = ["KeepAliveWebClient"]

_Key = tuple[str, str, int]


class KeepAliveWebClient(WebClient):
    """``WebClient`` over persistent connections; thread-safe like ``WebClient``."""

    def __init__(
        self, *args: Any, max_idle: int = 32, idle_timeout: float = 30.0, **kwargs: Any
    ) -> None:
        if kwargs.get("logger") is None:
            sdk = logging.getLogger("slack_sdk.web.base_client")
            kwargs["logger"] = cast(logging.Logger, _ConfiguredLevel(sdk))
        super().__init__(*args, **kwargs)
        self._max_idle = max_idle
        self._idle_timeout = idle_timeout
        self._idle: dict[_Key, list[tuple[float, http.client.HTTPConnection]]] = {}
        self._idle_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = self.ssl
        self.connections_opened = 0  # how many connections this client has opened
        # Idle connections close with the client, even one nobody closed.
        self._finalizer = weakref.finalize(self, _close_idle, self._idle, self._idle_lock)

    def close(self) -> None:
        """Close the idle connections (a connection in use closes when its call ends)."""
        _close_idle(self._idle, self._idle_lock)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy or parts.scheme not in ("http", "https") or not parts.hostname:
            return super()._perform_urllib_http_request_internal(url, req)
        key: _Key = (parts.scheme, parts.hostname, parts.port or _default_port(parts.scheme))
        selector = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._take(key)
        try:
            try:
                conn.request(req.get_method(), selector, req.data, dict(req.header_items()))
            except OSError as e:  # as urllib: nothing was answered
                raise URLError(e) from e
            resp = conn.getresponse()
            body = resp.read()
        except BaseException:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            self._give_back(key, conn)
        if not 200 <= resp.status < 300:
            raise HTTPError(url, resp.status, resp.reason, resp.headers, io.BytesIO(body))
        content_type, charset = _content_type(resp.headers.get("Content-Type"))
        if content_type == "application/gzip":
            return {"status": resp.status, "headers": resp.headers, "body": body}
        return {"status": resp.status, "headers": resp.headers, "body": body.decode(charset)}

    # -- the pool -------------------------------------------------------------------------

    def _take(self, key: _Key) -> http.client.HTTPConnection:
        """The most recently used idle connection that is still good, or a new one."""
        now = time.monotonic()
        while True:
            with self._idle_lock:
                conns = self._idle.get(key)
                if not conns:
                    break
                at, conn = conns.pop()
            if now - at <= self._idle_timeout and _still_open(conn):
                return conn
            conn.close()
        return self._open(key)

    def _give_back(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._idle_lock:
            conns = self._idle.setdefault(key, [])
            if len(conns) < self._max_idle:
                conns.append((time.monotonic(), conn))
                return
        conn.close()

    def _open(self, key: _Key) -> http.client.HTTPConnection:
        scheme, host, port = key
        with self._idle_lock:
            self.connections_opened += 1
            if scheme == "https" and self._tls is None:
                # What urllib uses for https: the system's CAs, hostname checked, HTTP/1.1.
                self._tls = ssl.create_default_context()
                self._tls.set_alpn_protocols(["http/1.1"])
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)


class _ConfiguredLevel(logging.LoggerAdapter[logging.Logger]):
    """A logger whose ``level`` is the one logging acts on for it (NOTSET resolved)."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, None)

    @property
    def level(self) -> int:
        return self.logger.getEffectiveLevel()


def _close_idle(
    idle: dict[_Key, list[tuple[float, http.client.HTTPConnection]]], lock: threading.Lock
) -> None:
    with lock:
        conns = [conn for pairs in idle.values() for _at, conn in pairs]
        idle.clear()
    for conn in conns:
        conn.close()


@functools.lru_cache(maxsize=64)
def _content_type(raw: str | None) -> tuple[str, str]:
    """``(media type, charset)`` of a Content-Type header, read as urllib's answer reads
    it (``email.message``). Slack sends the same few values, so each is read once."""
    msg = email.message.Message()
    if raw is not None:
        msg["Content-Type"] = raw
    return msg.get_content_type(), msg.get_content_charset() or "utf-8"


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can take a request: connected, and nothing to read (an
    idle connection turns readable when the server closes it)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if not hasattr(select, "poll"):  # Windows: select() has no descriptor-number limit
            return not select.select([sock], [], [], 0)[0]
        poller = select.poll()  # no limit on descriptor numbers, unlike select() here
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False
