"""The Fetcher: per-host turns, conditional GET over redirect hops, retries and backoff."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from digests.errors import FetchError, FetchTimeout, HTTPStatusError, RetryLater
from digests.fetch.body import read_body
from digests.fetch.files import local_path, read_file
from digests.fetch.guard import (
    Resolver,
    checked_addresses,
    http_url,
    redirect_target,
    system_resolver,
)
from digests.fetch.model import (
    NOTHING_KNOWN,
    FetchOutcome,
    FetchResult,
    FetchSettings,
    Transient,
    Validators,
)

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# Feeds first, then the other formats sources come in; anything else is still accepted.
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.9, text/markdown;q=0.8, text/html;q=0.8, text/plain;q=0.7, */*;q=0.5"
)
# Only codings we can inflate with a cap on the output (see ``body``); asking for br/zstd
# would need their libraries and the same care.
_ACCEPT_ENCODING = "gzip, deflate"


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
    ``SSL_CERT_DIR``), made once per process: loading the CA bundle costs more than polling
    an unchanged file source, and every poll makes a ``Fetcher``."""
    return httpx.create_ssl_context()


class Fetcher:
    """Fetches sources; share one per process so host politeness covers every caller.

    ``transport`` is the seam for tests (an ``httpx`` transport); ``resolver`` maps a host
    to the addresses the guard checks; ``sleep`` / ``clock`` / ``monotonic`` let tests see
    the waits without waiting. ``keep_alive`` keeps connections open between requests:
    only for a fetcher that asks one host and follows no redirects (the arXiv API
    client), where no connection can be reused for another name.
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
        keep_alive: bool = False,
    ) -> None:
        self._settings = settings
        self._owns_transport = transport is None
        # Requests go to the transport, not through an httpx.AsyncClient, so that no
        # cookies, environment proxies or redirect logic of a client slip past the guard.
        # No keep-alive: connections are keyed by the IP we connect to, and reusing one TLS
        # session (verified for one name) for another name on the same CDN IP would skip
        # that name's certificate check. Polls are minutes apart, so little is lost.
        kept = settings.max_connections if keep_alive else 0
        self._transport: httpx.AsyncBaseTransport = transport or httpx.AsyncHTTPTransport(
            verify=_tls_context(),
            limits=httpx.Limits(
                max_connections=settings.max_connections, max_keepalive_connections=kept
            ),
            retries=0,
        )
        self._resolve = resolver or system_resolver
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

    async def fetch(self, location: str, previous: Validators = NOTHING_KNOWN) -> FetchResult:
        """Fetch ``location`` (http(s) URL, file:// URL or local path).

        Raises ``FetchError`` or a subclass: ``AddressNotAllowed``, ``BodyTooLarge``,
        ``FetchTimeout``, ``HTTPStatusError`` (``RetryLater`` when the server set a time).
        """
        path = local_path(location)
        if path is not None:
            return await read_file(path, previous, settings=self._settings, clock=self._clock)
        url = http_url(location)
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
        except Transient as e:
            raise e.error from e.__cause__
        raise AssertionError("retry loop ended without a result or an error")

    # --- retries ---------------------------------------------------------------------

    def _retryable(self, error: BaseException) -> bool:
        return isinstance(error, Transient)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Transient) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if not isinstance(error, Transient):
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
        addresses = await checked_addresses(
            url, host, settings=self._settings, resolve=self._resolve
        )
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
                raise Transient(
                    FetchError(f"network error: {e or type(e).__name__}", url=str(url))
                ) from e
        assert failure is not None  # addresses is never empty
        error_type = FetchTimeout if isinstance(failure, httpx.ConnectTimeout) else FetchError
        raise Transient(
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
            return redirect_target(url, headers["location"])
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
            body, digest = await read_body(url, response, self._settings.max_body)
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
                raise Transient(error, retry_after=delay)
        if status == 429 or status >= 500:
            raise Transient(HTTPStatusError(message, url=str(url), status=status))
        log.debug("fetch %s: status %d, not retried", url, status)
        raise HTTPStatusError(message, url=str(url), status=status)


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
