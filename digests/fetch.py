"""Retrieve source documents over HTTP(S) or from disk: conditional GET, limits, politeness, guard.

This is the only module that talks to ``httpx``; what leaves it is a ``FetchResult`` or an
error from ``digests.errors``. One fetch, top to bottom::

    local path / file:// URL -> read from disk (size limit, body hash)
    http(s) URL -> per hop: resolve + address guard -> wait for the host's turn
                -> GET with validators -> redirect (checked again) | 304 | 2xx body | error
    429 / 503 / 5xx / network error -> retry with Retry-After or backoff, then give up

Requests go straight to the transport rather than through an ``httpx.AsyncClient``: a fetch
then carries exactly the headers built here, and no cookies, environment proxies or
redirect logic of a client can slip past the address guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import logging
import mimetypes
import os
import re
import socket
import ssl
import stat
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Literal, Self
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from digests.errors import (
    AddressNotAllowed,
    BodyTooLarge,
    ConfigError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RetryLater,
)

__all__ = [
    "FetchOutcome",
    "FetchResult",
    "FetchSettings",
    "Fetcher",
    "Resolver",
    "RetryLater",
    "Validators",
    "fetch_many",
    "is_public_address",
]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP addresses as strings``; the address guard checks every one."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# Feeds first, then the other formats sources come in; anything else is still accepted.
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.9, text/markdown;q=0.8, text/html;q=0.8, text/plain;q=0.7, */*;q=0.5"
)
# Only codings we can inflate with a cap on the output (see _Inflater); asking for br/zstd
# would need their libraries and the same care.
_ACCEPT_ENCODING = "gzip, deflate"
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _default_user_agent() -> str:
    try:
        release = version("paperbot")
    except PackageNotFoundError:  # running from a checkout that was never installed
        release = "dev"
    return f"paperbot/{release} (+https://github.com/paperbot; research digest bot)"


def _default_host_intervals() -> Mapping[str, float]:
    # arXiv asks for one request every 3 s and one connection at a time across RSS, API
    # and OAI-PMH together; suffix matching puts rss./export. under this one entry.
    return MappingProxyType({"arxiv.org": 3.0})


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Limits and manners of fetching. Every value is checked when the object is built."""

    timeout: float = 20.0  # seconds for connect, and for each read/write, of one request
    deadline: float = 60.0  # seconds for one whole exchange: request, redirects' hop, body
    max_body: int = 15 * 1024 * 1024  # bytes after decompression (and before it)
    user_agent: str = field(default_factory=_default_user_agent)
    allow_private: bool = False  # PAPERBOT_ALLOW_PRIVATE_NETWORKS=1: tests, offline demo
    max_retries: int = 3  # retries after the first try, for 429/5xx/network errors
    backoff_base: float = 1.0  # seconds; full jitter: uniform(0, min(max, base * 2**n))
    backoff_max: float = 60.0
    max_retry_after: float = 120.0  # a longer Retry-After is not slept on: RetryLater
    # Minimum seconds between requests to a host, matched by suffix (``arxiv.org`` covers
    # ``export.arxiv.org``); such hosts also get one connection at a time.
    host_intervals: Mapping[str, float] = field(default_factory=_default_host_intervals)
    max_redirects: int = 5
    max_connections: int = 32  # open exchanges at once across all hosts, per Fetcher

    def __post_init__(self) -> None:
        positive = {
            "timeout": self.timeout,
            "deadline": self.deadline,
            "max_body": self.max_body,
            "max_connections": self.max_connections,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"fetch setting {name} must be positive, got {value}")
        not_negative = {
            "max_retries": self.max_retries,
            "backoff_base": self.backoff_base,
            "backoff_max": self.backoff_max,
            "max_retry_after": self.max_retry_after,
            "max_redirects": self.max_redirects,
        }
        for name, value in not_negative.items():
            if value < 0:
                raise ConfigError(f"fetch setting {name} must not be negative, got {value}")
        for host, interval in self.host_intervals.items():
            if not host or interval < 0:
                raise ConfigError(f"host interval {host!r}: {interval} is not usable")
        if not self.user_agent.strip():
            raise ConfigError("fetch setting user_agent must not be empty")


@dataclass(frozen=True, slots=True)
class Validators:
    """What is remembered from the previous fetch of a source, to ask only for changes."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 hex of the decoded body


_NOTHING_KNOWN = Validators()  # a first fetch: no conditional headers, nothing to compare


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetched document, or the news that it has not changed."""

    # unchanged = a 200 whose ETag or body hash equals the previous one: nothing to parse
    status: Literal["fetched", "not_modified", "unchanged"]
    url: str  # final URL after redirects (a file:// URL for files)
    body: bytes | None  # decoded; only when status == "fetched"
    content_type: str | None
    validators: Validators  # to pass as ``previous`` next time
    fetched_at: datetime  # aware UTC
    max_age: float | None  # seconds the document stays fresh (Cache-Control / Expires)


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """One source's fetch in a batch: a result or an error, never both."""

    location: str
    result: FetchResult | None
    error: FetchError | None


class _Transient(Exception):
    """An attempt failed in a way a later attempt may not: carries the error to give up with."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after  # seconds the server asked for; None = use backoff


def is_public_address(address: str) -> bool:
    """True when ``address`` is an IP the fetcher may connect to without allow_private.

    Refused: private, loopback, link-local, multicast, reserved, unspecified, shared
    (100.64.0.0/10), anything IANA lists as not globally reachable, and IPv6 forms that
    embed such an IPv4 address (mapped, 6to4, Teredo, NAT64).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    embedded: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return not any(_refused(candidate) for candidate in embedded)


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip in _CGNAT
        or not ip.is_global
    )


async def _system_resolver(host: str, port: int) -> list[str]:
    # getaddrinfo runs in the loop's executor, so resolution never blocks the loop.
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _HostSlot:
    """Turn-taking for one host: the lock (polite hosts only) and when it may be asked next."""

    interval: float
    lock: asyncio.Lock | None
    next_at: float = 0.0  # monotonic seconds


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (its CA bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), made once per process: loading the CA bundle takes longer (~20-45
    ms) than polling an unchanged file source, and every poll makes a ``Fetcher``."""
    return httpx.create_ssl_context()


class Fetcher:
    """Fetches sources; share one per process so host politeness covers every caller.

    ``transport`` is the seam for tests (an ``httpx`` transport); ``resolver`` maps a host
    to the addresses the guard checks; ``sleep`` / ``clock`` / ``monotonic`` let tests see
    the waits without waiting.
    """

    def __init__(
        self,
        *,
        settings: FetchSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._owns_transport = transport is None
        # No keep-alive: connections are keyed by the IP we connect to, and reusing one TLS
        # session (verified for one name) for another name on the same CDN IP would skip
        # that name's certificate check. Polls are minutes apart, so little is lost.
        self._transport: httpx.AsyncBaseTransport = transport or httpx.AsyncHTTPTransport(
            verify=_tls_context(),
            limits=httpx.Limits(
                max_connections=settings.max_connections, max_keepalive_connections=0
            ),
            retries=0,
        )
        self._resolve = resolver or _system_resolver
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._slots: dict[str, _HostSlot] = {}
        self._connections = asyncio.Semaphore(settings.max_connections)
        self._backoff = wait_random_exponential(
            multiplier=settings.backoff_base, max=settings.backoff_max
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport if this fetcher made it (a given transport is the caller's)."""
        if self._owns_transport:
            await self._transport.aclose()

    async def fetch(self, location: str, previous: Validators = _NOTHING_KNOWN) -> FetchResult:
        """Fetch ``location`` (http(s) URL, file:// URL or local path).

        Raises ``FetchError`` or a subclass: ``AddressNotAllowed``, ``BodyTooLarge``,
        ``FetchTimeout``, ``HTTPStatusError`` (``RetryLater`` when the server set a time).
        """
        path = _local_path(location)
        if path is not None:
            return await self._read_file(path, previous)
        url = _http_url(location)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(url, previous)
        except _Transient as e:
            raise e.error from e.__cause__
        raise AssertionError("retry loop ended without a result or an error")

    # --- retries ---------------------------------------------------------------------

    def _retryable(self, error: BaseException) -> bool:
        return isinstance(error, _Transient)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if not isinstance(error, _Transient):
            return
        status = error.error.status if isinstance(error.error, HTTPStatusError) else None
        # Debug: the caller reports the fetch once it has failed for good, in one line.
        log.debug(
            "fetch %s failed (status %s: %s); retry %d of %d in %.2f s",
            error.error.url,
            status,
            error.error.args[0],
            state.attempt_number,
            self._settings.max_retries,
            state.next_action.sleep if state.next_action else 0.0,
        )

    # --- one attempt: a chain of redirect hops ---------------------------------------

    async def _attempt(self, start: httpx.URL, previous: Validators) -> FetchResult:
        url = start
        for _ in range(self._settings.max_redirects + 1):
            outcome = await self._hop(url, previous)
            if isinstance(outcome, FetchResult):
                return outcome
            url = outcome
        raise FetchError(f"more than {self._settings.max_redirects} redirects", url=str(start))

    async def _hop(self, url: httpx.URL, previous: Validators) -> FetchResult | httpx.URL:
        host = url.raw_host.decode("ascii")
        addresses = await self._addresses(url, host)
        slot = self._slot(host)
        async with self._turn(slot), self._connections:
            try:
                async with asyncio.timeout(self._settings.deadline):
                    response = await self._send(url, host, addresses, previous)
                    try:
                        return await self._answer(url, response, previous, slot)
                    finally:
                        await response.aclose()
            except TimeoutError as e:
                raise FetchTimeout(
                    f"no complete answer within {self._settings.deadline:g} s", url=str(url)
                ) from e

    async def _addresses(self, url: httpx.URL, host: str) -> list[str | None]:
        """The addresses to connect to, all checked; ``[None]`` = connect by name."""
        if self._settings.allow_private:
            return [None]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            port = url.port or (443 if url.scheme == "https" else 80)
            try:
                # getaddrinfo has no deadline of its own that we control.
                async with asyncio.timeout(self._settings.timeout):
                    found = await self._resolve(host, port)
            except TimeoutError as e:
                raise _Transient(
                    FetchTimeout(f"cannot resolve {host}: no answer", url=str(url))
                ) from e
            except OSError as e:
                raise _Transient(FetchError(f"cannot resolve {host}: {e}", url=str(url))) from e
        else:
            found = [host]
        if not found:
            raise _Transient(FetchError(f"{host} has no address", url=str(url)))
        refused = [address for address in found if not is_public_address(address)]
        if refused:
            # Refuse if any address is not public: picking the good one would let a
            # hostile DNS answer steer which one we use next time.
            log.warning("refused %s: %s resolves to %s", url, host, ", ".join(refused))
            raise AddressNotAllowed(
                f"{host} resolves to {refused[0]}, which is not a public address "
                "(set PAPERBOT_ALLOW_PRIVATE_NETWORKS=1 to allow private networks)",
                url=str(url),
            )
        return list(found)

    def _slot(self, host: str) -> _HostSlot:
        matches = [
            (suffix, interval)
            for suffix, interval in self._settings.host_intervals.items()
            if host == suffix.lower() or host.endswith("." + suffix.lower())
        ]
        if matches:
            # The broadest matching suffix names the slot, so arxiv.org and
            # export.arxiv.org share one turn; the strictest interval applies.
            key = min((suffix.lower() for suffix, _ in matches), key=len)
            interval = max(interval for _, interval in matches)
        else:
            key, interval = host, 0.0
        slot = self._slots.get(key)
        if slot is None:
            lock = asyncio.Lock() if matches else None
            slot = self._slots[key] = _HostSlot(interval=interval, lock=lock)
        return slot

    @contextlib.asynccontextmanager
    async def _turn(self, slot: _HostSlot) -> AsyncIterator[None]:
        """Hold the host's turn: its lock (one connection at a time), after its interval."""
        if slot.lock is not None:
            await slot.lock.acquire()
        try:
            # A loop, because a Retry-After seen meanwhile may push next_at further.
            while (wait := slot.next_at - self._monotonic()) > 0:
                await self._sleep(wait)
            yield
        finally:
            slot.next_at = max(slot.next_at, self._monotonic() + slot.interval)
            if slot.lock is not None:
                slot.lock.release()

    def _request(
        self, url: httpx.URL, host: str, address: str | None, previous: Validators
    ) -> httpx.Request:
        headers = {
            "User-Agent": self._settings.user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": _ACCEPT_ENCODING,
        }
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        extensions: dict[str, object] = {"timeout": httpx.Timeout(self._settings.timeout).as_dict()}
        target = url
        if address is not None:
            # Connect to the address that was checked, not to whatever the name resolves to
            # a moment later (DNS rebinding); the name still goes in Host and in TLS SNI,
            # so virtual hosting and certificate checks see the real host.
            target = url.copy_with(host=address)
            headers["Host"] = url.netloc.decode("ascii")
            if url.scheme == "https":
                extensions["sni_hostname"] = host
        return httpx.Request("GET", target, headers=headers, extensions=extensions)

    async def _send(
        self, url: httpx.URL, host: str, addresses: list[str | None], previous: Validators
    ) -> httpx.Response:
        failure: httpx.TransportError | None = None
        for address in addresses:
            request = self._request(url, host, address, previous)
            try:
                return await self._transport.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                # The next address of the host may answer (an IPv6 address without a route).
                log.debug("cannot connect to %s at %s: %s", url, address or host, e)
                failure = e
            except httpx.TimeoutException as e:
                raise FetchTimeout(f"timed out: {e or type(e).__name__}", url=str(url)) from e
            except httpx.TransportError as e:
                raise _Transient(
                    FetchError(f"network error: {e or type(e).__name__}", url=str(url))
                ) from e
        assert failure is not None  # addresses is never empty
        error_type = FetchTimeout if isinstance(failure, httpx.ConnectTimeout) else FetchError
        raise _Transient(
            error_type(f"cannot connect: {failure or type(failure).__name__}", url=str(url))
        ) from failure

    # --- the answer ------------------------------------------------------------------

    async def _answer(
        self, url: httpx.URL, response: httpx.Response, previous: Validators, slot: _HostSlot
    ) -> FetchResult | httpx.URL:
        status = response.status_code
        headers = response.headers
        now = self._clock()
        if status in _REDIRECTS and "location" in headers:
            return _redirect_target(url, headers["location"])
        etag = headers.get("etag")
        last_modified = headers.get("last-modified")
        max_age = _freshness(headers, now)
        content_type = headers.get("content-type")
        if status == 304:
            return FetchResult(
                status="not_modified",
                url=str(url),
                body=None,
                content_type=content_type,
                validators=Validators(
                    etag=etag or previous.etag,
                    last_modified=last_modified or previous.last_modified,
                    body_hash=previous.body_hash,
                ),
                fetched_at=now,
                max_age=max_age,
            )
        if 200 <= status < 300:
            if etag is not None and etag == previous.etag:
                # arXiv may answer 200 with the ETag we sent: same document, skip the body.
                return FetchResult(
                    status="unchanged",
                    url=str(url),
                    body=None,
                    content_type=content_type,
                    validators=Validators(
                        etag=etag,
                        last_modified=last_modified or previous.last_modified,
                        body_hash=previous.body_hash,
                    ),
                    fetched_at=now,
                    max_age=max_age,
                )
            body, digest = await self._read_body(url, response)
            unchanged = digest == previous.body_hash
            return FetchResult(
                status="unchanged" if unchanged else "fetched",
                url=str(url),
                body=None if unchanged else body,
                content_type=content_type,
                validators=Validators(etag=etag, last_modified=last_modified, body_hash=digest),
                fetched_at=now,
                max_age=max_age,
            )
        message = f"HTTP {status} {response.reason_phrase}".rstrip()
        if status in _RETRY_AFTER_STATUSES and "retry-after" in headers:
            delay = _retry_after(headers["retry-after"], now)
            if delay is not None:
                error = RetryLater(
                    f"{message}, retry after {delay:g} s",
                    url=str(url),
                    status=status,
                    retry_at=now + timedelta(seconds=delay),
                )
                if delay > self._settings.max_retry_after:
                    log.warning(
                        "fetch %s: status %d, Retry-After %g s: not waiting", url, status, delay
                    )
                    raise error
                # Every fetch of this host waits, not only this one.
                slot.next_at = max(slot.next_at, self._monotonic() + delay)
                raise _Transient(error, retry_after=delay)
        if status == 429 or status >= 500:
            raise _Transient(HTTPStatusError(message, url=str(url), status=status))
        log.debug("fetch %s: status %d, not retried", url, status)
        raise HTTPStatusError(message, url=str(url), status=status)

    async def _read_body(self, url: httpx.URL, response: httpx.Response) -> tuple[bytes, str]:
        """The decoded body and its sha256, refusing more than max_body bytes as it streams."""
        limit = self._settings.max_body
        inflater = _inflater(response.headers.get("content-encoding"), url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(url, limit, f"Content-Length {declared}")
        parts: list[bytes] = []
        size = received = 0
        digest = hashlib.sha256()
        try:
            async with contextlib.AsyncExitStack() as cleanup:
                # The transport's stream, not Response.aiter_raw: a transport may hand back
                # a response already read (httpx.MockTransport), whose stream still holds
                # the raw bytes.
                if not isinstance(response.stream, httpx.AsyncByteStream):
                    raise TypeError("an async transport returned a sync stream")
                stream = aiter(response.stream)
                if isinstance(stream, AsyncGenerator):
                    cleanup.push_async_callback(stream.aclose)  # stopping early closes it now
                async for chunk in stream:
                    received += len(chunk)
                    # Compressed bytes count too: endless padding that inflates to nothing
                    # would otherwise be read until the deadline.
                    if received > limit:
                        raise _too_large(url, limit, "compressed body")
                    pending = chunk
                    while pending:
                        if inflater is None:
                            piece, pending = pending, b""
                        else:
                            # Never ask zlib for more than one byte past the limit: a small
                            # compressed chunk cannot balloon in memory (gzip bombs).
                            piece, pending = inflater.inflate(pending, limit - size + 1)
                        size += len(piece)
                        if size > limit:
                            raise _too_large(url, limit, "body")
                        digest.update(piece)
                        parts.append(piece)
            if inflater is not None:
                tail = inflater.flush()
                size += len(tail)
                if size > limit:
                    raise _too_large(url, limit, "body")
                digest.update(tail)
                parts.append(tail)
        except zlib.error as e:
            raise FetchError(f"corrupt compressed body: {e}", url=str(url)) from e
        except httpx.TimeoutException as e:
            raise FetchTimeout(f"timed out reading the body: {e}", url=str(url)) from e
        except httpx.TransportError as e:
            raise _Transient(
                FetchError(f"network error reading the body: {e or type(e).__name__}", url=str(url))
            ) from e
        return b"".join(parts), digest.hexdigest()

    # --- files -----------------------------------------------------------------------

    async def _read_file(self, path: Path, previous: Validators) -> FetchResult:
        try:
            async with asyncio.timeout(self._settings.deadline):
                # In a thread: a slow disk or network mount must not stall other fetches.
                data, uri, content_type = await asyncio.to_thread(
                    _read_capped, path, self._settings.max_body
                )
        except TimeoutError as e:
            raise FetchTimeout("file not read in time", url=str(path)) from e
        digest = hashlib.sha256(data).hexdigest()
        unchanged = digest == previous.body_hash
        return FetchResult(
            status="unchanged" if unchanged else "fetched",
            url=uri,
            body=None if unchanged else data,
            content_type=content_type,
            validators=Validators(body_hash=digest),
            fetched_at=self._clock(),
            max_age=None,
        )


async def fetch_many(
    fetcher: Fetcher, requests: Iterable[tuple[str, Validators]]
) -> list[FetchOutcome]:
    """Fetch every ``(location, previous)`` at once; one outcome per request, in order.

    A ``FetchError`` becomes the outcome's ``error`` so one bad source never stops the
    batch. Concurrency is bounded inside the fetcher (``max_connections`` and the per-host
    turns), after a request has its host's turn, so a queue for arXiv does not hold up
    other hosts.
    """

    async def one(location: str, previous: Validators) -> FetchOutcome:
        try:
            return FetchOutcome(location, await fetcher.fetch(location, previous), None)
        except FetchError as e:
            return FetchOutcome(location, None, e)

    return list(await asyncio.gather(*(one(loc, prev) for loc, prev in requests)))


# --- helpers ---------------------------------------------------------------------------


def _local_path(location: str) -> Path | None:
    """The path a location names on disk, or None for a network URL."""
    if location[:5].lower() == "file:":
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise FetchError("file URL names another host", url=location)
        return Path(url2pathname(parts.path))
    if "://" in location:
        return None
    # No scheme: a path on disk ("samples/feed.xml", "~/feeds/x.xml").
    return Path(location).expanduser()


def _http_url(location: str) -> httpx.URL:
    try:
        url = httpx.URL(location)
    except httpx.InvalidURL as e:
        raise FetchError(f"not a usable URL: {e}", url=location) from e
    if url.scheme not in ("http", "https"):
        raise FetchError(f"unsupported scheme {url.scheme!r}", url=location)
    if not url.raw_host:
        raise FetchError("URL without a host", url=location)
    return url


def _redirect_target(url: httpx.URL, location: str) -> httpx.URL:
    try:
        target = url.join(location.strip())
    except httpx.InvalidURL as e:
        raise FetchError(f"unusable redirect to {location!r}: {e}", url=str(url)) from e
    if target.scheme not in ("http", "https") or not target.raw_host:
        log.warning("refused %s: redirect to %s", url, location)
        raise AddressNotAllowed(f"redirect to {location!r} is not http(s)", url=str(url))
    return target


def _too_large(url: httpx.URL, limit: int, what: str) -> BodyTooLarge:
    log.warning("refused %s: %s over the %d byte limit", url, what, limit)
    return BodyTooLarge(f"{what} is over the {limit} byte limit", url=str(url))


class _Inflater:
    """zlib with a cap on each call's output, so a gzip bomb is stopped at the limit."""

    def __init__(self, coding: str) -> None:
        gzip = coding in ("gzip", "x-gzip")
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        # Servers send "deflate" both zlib-wrapped (as specified) and raw: try both.
        self._may_be_raw = not gzip
        self._started = False

    def inflate(self, data: bytes, max_length: int) -> tuple[bytes, bytes]:
        """Up to ``max_length`` bytes of output, and the input not consumed yet."""
        try:
            out = self._z.decompress(data, max_length)
        except zlib.error:
            if not self._may_be_raw or self._started:
                raise
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, max_length)
        self._started = True
        return out, self._z.unconsumed_tail

    def flush(self) -> bytes:
        return self._z.flush()


def _inflater(content_encoding: str | None, url: httpx.URL) -> _Inflater | None:
    codings = [
        coding
        for coding in (part.strip().lower() for part in (content_encoding or "").split(","))
        if coding and coding != "identity"
    ]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflater(codings[0])
    raise FetchError(f"unsupported Content-Encoding {content_encoding!r}", url=str(url))


def _retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or an HTTP date)."""
    value = value.strip()
    if re.fullmatch(r"[0-9]+", value):
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    # email.utils reads all three forms HTTP allows (IMF-fixdate, RFC 850, asctime), and
    # unlike a lenient general parser it refuses what is not a date.
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # HTTP dates are GMT; a zone-less one (asctime, "-0000") means the same.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _freshness(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds the response stays fresh: Cache-Control max-age (less Age), else Expires."""
    directives: dict[str, str] = {}
    for item in headers.get_list("cache-control", split_commas=True):
        name, _, argument = item.partition("=")
        directives[name.strip().lower()] = argument.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    age_text = headers.get("age", "").strip()
    age = float(age_text) if age_text.isdigit() else 0.0
    max_age = directives.get("max-age", "")
    if max_age.isdigit():
        return max(0.0, float(max_age) - age)
    expires = headers.get("expires")
    if expires is None:
        return None
    expires_at = _http_date(expires)
    if expires_at is None:
        return 0.0  # "Expires: 0" and other invalid dates mean already stale
    date = _http_date(headers.get("date", "")) or now
    return max(0.0, (expires_at - date).total_seconds())


def _read_capped(path: Path, limit: int) -> tuple[bytes, str, str | None]:
    """Read a regular file of at most ``limit`` bytes: (data, file URI, guessed type)."""
    try:
        # O_NONBLOCK so a FIFO at the path cannot block the thread until a writer appears.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise FetchError(f"cannot open {path}: {e.strerror}", url=str(path)) from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(f"{path} is not a regular file", url=str(path))
        if info.st_size > limit:
            raise BodyTooLarge(f"file is over the {limit} byte limit", url=str(path))
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the file object owns it now
            data = handle.read(limit + 1)  # the file may have grown since fstat
    except OSError as e:
        raise FetchError(f"cannot read {path}: {e.strerror}", url=str(path)) from e
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise BodyTooLarge(f"file is over the {limit} byte limit", url=str(path))
    resolved = path.resolve()
    content_type, _ = mimetypes.guess_type(resolved.name)
    return data, resolved.as_uri(), content_type
