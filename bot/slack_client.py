"""A Slack ``WebClient`` that keeps its connections to the Web API open between calls.

slack_sdk's synchronous client opens and closes a connection for every call; a fan-out
posts to every channel at once. Only the exchange goes over a small pool of persistent
HTTP/1.1 connections; slack_sdk still builds each request and reads each answer, and
errors come out as ``urllib``'s do, so slack_sdk and the deliverer see the same outcomes.
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
        # slack_sdk formats a debug line of every request unless its logger's level says not.
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

    # slack_sdk's private hook (it has no public one): a fan-out posts far sooner (NOTES.md).
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
