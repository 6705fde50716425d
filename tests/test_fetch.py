"""digests.fetch against a real local HTTP server; waits are recorded by a fake clock, not slept."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import os
import socket
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from digests.errors import (
    AddressNotAllowed,
    BodyTooLarge,
    ConfigError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
)
from digests.fetch import (
    Fetcher,
    FetchSettings,
    RetryLater,
    Validators,
    fetch_many,
    is_public_address,
)
from tests.httpserver import PUBLIC_IP, LocalServer, Recorded, Reply, Routed, resolver_for
from tests.mutations import gzip_bomb

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
MiB = 1024 * 1024


def run(scenario: Awaitable[T]) -> T:
    async def main() -> T:
        return await scenario

    return asyncio.run(main())


class FakeTime:
    """Clock, monotonic clock and sleep in one: sleeping advances both clocks at once."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start
        self.mono = 1000.0
        self.sleeps: list[float] = []
        self.gate: asyncio.Event | None = None  # when set up, sleeps end only once it is set

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.gate is not None:
            await self.gate.wait()
        self.mono += seconds
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {
        "allow_private": True,
        "timeout": 2.0,
        "deadline": 5.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "host_intervals": {},
    }
    values.update(overrides)
    return FetchSettings(**values)


def fetcher(
    clock: FakeTime,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Any = None,
    **overrides: Any,
) -> Fetcher:
    return Fetcher(
        settings=settings(**overrides),
        transport=transport,
        resolver=resolver,
        sleep=clock.sleep,
        clock=clock.now,
        monotonic=clock.monotonic,
    )


def fetch_once(url: str, previous: Validators | None = None, **overrides: Any) -> Any:
    clock = FakeTime()

    async def go() -> Any:
        async with fetcher(clock, **overrides) as f:
            return await f.fetch(url, previous or Validators())

    return run(go())


def expect_error(
    kind: type[BaseException], url: str, clock: FakeTime | None = None, **overrides: Any
) -> Any:
    clock = clock or FakeTime()

    async def go() -> BaseException:
        async with fetcher(clock, **overrides) as f:
            with pytest.raises(kind) as caught:
                await f.fetch(url)
            return caught.value

    return run(go())


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


# --- conditional GET and change detection ----------------------------------------------


def etag_server(etag: str, body: bytes) -> Callable[[Recorded], Reply]:
    def answer(request: Recorded) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        headers = {
            "ETag": etag,
            "Content-Type": "application/atom+xml",
            "Cache-Control": "max-age=600",
        }
        return Reply(200, body=body, headers=headers)

    return answer


def test_200_then_304_with_etag(server: LocalServer) -> None:
    server.route("/feed", etag_server('"v1"', b"<feed/>"))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock) as f:
            first = await f.fetch(server.url("/feed"))
            assert first.status == "fetched"
            assert first.body == b"<feed/>"
            assert first.content_type == "application/atom+xml"
            assert first.validators.etag == '"v1"'
            assert first.max_age == 600
            assert first.fetched_at == START
            second = await f.fetch(server.url("/feed"), first.validators)
            assert second.status == "not_modified"
            assert second.body is None
            assert second.validators == first.validators

    run(go())
    first_request, second_request = server.requests_to("/feed")
    assert "if-none-match" not in first_request.headers
    assert second_request.headers["if-none-match"] == '"v1"'
    assert first_request.headers["user-agent"].startswith("paperbot/")
    assert "gzip" in first_request.headers["accept-encoding"]


def test_200_with_the_same_etag_is_unchanged(server: LocalServer) -> None:
    # Like arXiv: the server ignores If-None-Match and answers 200 with the same ETag.
    server.route("/feed", Reply(200, body=b"<feed/>", headers={"ETag": '"v1"'}))
    previous = Validators(etag='"v1"', body_hash="abc")
    result = fetch_once(server.url("/feed"), previous)
    assert result.status == "unchanged"
    assert result.body is None
    assert result.validators == Validators(etag='"v1"', body_hash="abc")


def test_a_new_etag_is_fetched(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"<feed/>", headers={"ETag": '"v2"'}))
    result = fetch_once(server.url("/feed"), Validators(etag='"v1"'))
    assert result.status == "fetched"
    assert result.validators.etag == '"v2"'


def test_the_same_body_hash_is_unchanged(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"same bytes"))
    first = fetch_once(server.url("/feed"))
    assert first.status == "fetched"
    second = fetch_once(server.url("/feed"), first.validators)
    assert second.status == "unchanged"
    assert second.body is None
    assert second.validators.body_hash == first.validators.body_hash
    changed = Reply(200, body=b"other bytes")
    server.route("/feed", changed)
    third = fetch_once(server.url("/feed"), first.validators)
    assert third.status == "fetched"
    assert third.body == b"other bytes"


def test_last_modified_is_sent_back(server: LocalServer) -> None:
    stamp = "Mon, 06 Jan 2025 05:00:00 GMT"

    def answer(request: Recorded) -> Reply:
        if request.headers.get("if-modified-since") == stamp:
            return Reply(304)
        return Reply(200, body=b"doc", headers={"Last-Modified": stamp})

    server.route("/doc", answer)
    first = fetch_once(server.url("/doc"))
    assert first.validators.last_modified == stamp
    second = fetch_once(server.url("/doc"), first.validators)
    assert second.status == "not_modified"
    assert second.validators.last_modified == stamp
    assert second.validators.body_hash == first.validators.body_hash


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Cache-Control": "public, max-age=600", "Age": "100"}, 500.0),
        (
            {"Expires": "Mon, 06 Jan 2025 13:00:00 GMT", "Date": "Mon, 06 Jan 2025 12:30:00 GMT"},
            1800.0,
        ),
        ({"Cache-Control": "max-age=60", "Expires": "Mon, 06 Jan 2025 13:00:00 GMT"}, 60.0),
        ({"Expires": "0"}, 0.0),
        ({"Cache-Control": "no-cache, max-age=60"}, None),
        ({}, None),
    ],
)
def test_max_age(server: LocalServer, headers: dict[str, str], expected: float | None) -> None:
    server.route("/doc", Reply(200, body=b"x", headers=headers))
    assert fetch_once(server.url("/doc")).max_age == expected


def test_an_html_error_page_is_still_fetched(server: LocalServer) -> None:
    page = b"<html><body>Service temporarily moved</body></html>"
    server.route("/feed", Reply(200, body=page, headers={"Content-Type": "text/html"}))
    result = fetch_once(server.url("/feed"))
    assert (result.status, result.body, result.content_type) == ("fetched", page, "text/html")


def test_an_empty_body_is_fetched(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b""))
    result = fetch_once(server.url("/feed"))
    assert (result.status, result.body) == ("fetched", b"")


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_decoded(server: LocalServer, coding: str) -> None:
    text = b"<rss>" + b"paper " * 5000 + b"</rss>"
    if coding == "gzip":
        body = gzip.compress(text)
    elif coding == "deflate":
        body = zlib.compress(text)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = packer.compress(text) + packer.flush()
    name = "gzip" if coding == "gzip" else "deflate"
    server.route("/feed", Reply(200, body=body, headers={"Content-Encoding": name}))
    result = fetch_once(server.url("/feed"))
    assert result.body == text


def test_an_unknown_content_encoding_is_an_error(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"????", headers={"Content-Encoding": "br"}))
    error = expect_error(FetchError, server.url("/feed"))
    assert "Content-Encoding" in str(error)


def test_a_corrupt_gzip_body_is_an_error(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    error = expect_error(FetchError, server.url("/feed"))
    assert "corrupt" in str(error)


# --- retries ---------------------------------------------------------------------------


def test_429_waits_for_retry_after_seconds(server: LocalServer) -> None:
    server.route("/feed", Reply(429, headers={"Retry-After": "7"}), Reply(200, body=b"ok"))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock) as f:
            result = await f.fetch(server.url("/feed"))
            assert result.body == b"ok"

    run(go())
    assert clock.sleeps == [7.0]
    assert len(server.requests_to("/feed")) == 2


@pytest.mark.parametrize(
    "when",
    [
        format_datetime(START + timedelta(seconds=30), usegmt=True),
        "Monday, 06-Jan-25 12:00:30 GMT",  # the obsolete RFC 850 form
    ],
)
def test_503_retry_after_as_http_date(server: LocalServer, when: str) -> None:
    server.route("/feed", Reply(503, headers={"Retry-After": when}), Reply(200, body=b"ok"))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock) as f:
            assert (await f.fetch(server.url("/feed"))).body == b"ok"

    run(go())
    assert clock.sleeps == [30.0]


def test_a_long_retry_after_is_not_slept_on(server: LocalServer) -> None:
    server.route("/feed", Reply(429, headers={"Retry-After": "1000"}))
    clock = FakeTime()
    error = expect_error(RetryLater, server.url("/feed"), clock, max_retry_after=120.0)
    assert error.status == 429
    assert error.retry_at == START + timedelta(seconds=1000)
    assert clock.sleeps == []
    assert len(server.requests_to("/feed")) == 1


def test_retry_after_that_outlasts_the_retries_reports_retry_at(server: LocalServer) -> None:
    server.route("/feed", Reply(503, headers={"Retry-After": "5"}))
    clock = FakeTime()
    error = expect_error(RetryLater, server.url("/feed"), clock, max_retries=2)
    assert error.status == 503
    assert clock.sleeps == [5.0, 5.0]
    assert error.retry_at == START + timedelta(seconds=10 + 5)
    assert len(server.requests_to("/feed")) == 3


def test_500_then_success_backs_off(server: LocalServer) -> None:
    server.route("/feed", Reply(500), Reply(200, body=b"ok"))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock, backoff_base=0.5, backoff_max=10.0) as f:
            assert (await f.fetch(server.url("/feed"))).body == b"ok"

    run(go())
    assert len(clock.sleeps) == 1
    assert 0.0 <= clock.sleeps[0] <= 0.5


def test_500_forever_gives_up_after_max_retries(server: LocalServer) -> None:
    server.route("/feed", Reply(500, body=b"boom"))
    clock = FakeTime()
    error = expect_error(
        HTTPStatusError,
        server.url("/feed"),
        clock,
        max_retries=3,
        backoff_base=1.0,
        backoff_max=3.0,
    )
    assert error.status == 500
    assert not isinstance(error, RetryLater)
    assert len(server.requests_to("/feed")) == 4
    # full jitter: each wait is somewhere in [0, min(max, base * 2**n)]
    assert len(clock.sleeps) == 3
    for n, wait in enumerate(clock.sleeps):
        assert 0.0 <= wait <= min(3.0, 2.0**n)


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_errors_are_not_retried(server: LocalServer, status: int) -> None:
    server.route("/feed", Reply(status))
    clock = FakeTime()
    error = expect_error(HTTPStatusError, server.url("/feed"), clock)
    assert error.status == status
    assert error.url == server.url("/feed")
    assert clock.sleeps == []
    assert len(server.requests_to("/feed")) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeTime()
    error = expect_error(FetchError, f"http://127.0.0.1:{port}/feed", clock, max_retries=2)
    assert type(error) is FetchError
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert len(clock.sleeps) == 2


# --- limits ----------------------------------------------------------------------------


def test_body_over_the_limit_by_content_length(server: LocalServer) -> None:
    server.route("/big", Reply(200, body=bytes(2 * MiB)))
    expect_error(BodyTooLarge, server.url("/big"), max_body=MiB)


def test_body_over_the_limit_while_streaming(server: LocalServer) -> None:
    server.route("/big", Reply(200, chunks=[bytes(64 * 1024)] * 40))
    expect_error(BodyTooLarge, server.url("/big"), max_body=MiB)


def test_body_at_the_limit_is_fetched(server: LocalServer) -> None:
    server.route("/exact", Reply(200, chunks=[bytes(1024)] * 1024))
    assert fetch_once(server.url("/exact"), max_body=MiB).body == bytes(MiB)


def test_gzip_bomb_is_stopped_at_the_limit(server: LocalServer) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < MiB  # small on the wire, 50 MiB inflated
    server.route("/bomb", Reply(200, body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        expect_error(BodyTooLarge, server.url("/bomb"), max_body=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Inflating a whole network read at once would allocate tens of MiB.
    assert peak < 8 * MiB


def test_an_endless_gzip_stream_is_cut_off_not_read_until_the_deadline(
    server: LocalServer,
) -> None:
    def endless_zeros() -> Iterator[bytes]:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = bytes(MiB)
        while True:
            yield packer.compress(block) + packer.flush(zlib.Z_SYNC_FLUSH)

    server.route("/bomb", Reply(200, chunks=endless_zeros, headers={"Content-Encoding": "gzip"}))
    began = time.monotonic()
    expect_error(BodyTooLarge, server.url("/bomb"), max_body=4 * MiB, deadline=20.0)
    assert time.monotonic() - began < 5


def test_a_slow_server_times_out(server: LocalServer) -> None:
    server.route("/slow", Reply(200, body=b"late", delay=10))
    began = time.monotonic()
    clock = FakeTime()
    expect_error(FetchTimeout, server.url("/slow"), clock, timeout=0.3)
    assert time.monotonic() - began < 3
    assert clock.sleeps == []  # a server that answers slowly is not asked again at once


def test_an_endless_slow_body_hits_the_deadline(server: LocalServer) -> None:
    server.route("/drip", Reply(200, chunks=lambda: iter(lambda: b"x" * 16, b""), chunk_delay=0.05))
    began = time.monotonic()
    error = expect_error(FetchTimeout, server.url("/drip"), timeout=1.0, deadline=0.5)
    assert time.monotonic() - began < 3
    assert "0.5" in str(error)


# --- redirects -------------------------------------------------------------------------


def test_redirects_are_followed_and_the_final_url_reported(server: LocalServer) -> None:
    server.route("/old", Reply(301, headers={"Location": "/middle"}))
    server.route("/middle", Reply(302, headers={"Location": server.url("/new")}))
    server.route("/new", Reply(200, body=b"here"))
    result = fetch_once(server.url("/old"))
    assert (result.url, result.body) == (server.url("/new"), b"here")


def test_a_redirect_loop_is_an_error(server: LocalServer) -> None:
    server.route("/loop", Reply(302, headers={"Location": "/loop"}))
    error = expect_error(FetchError, server.url("/loop"), max_redirects=3)
    assert "redirects" in str(error)
    assert len(server.requests_to("/loop")) == 4


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/"])
def test_a_redirect_to_another_scheme_is_refused(server: LocalServer, target: str) -> None:
    server.route("/feed", Reply(302, headers={"Location": target}))
    expect_error(AddressNotAllowed, server.url("/feed"))


# --- address guard ---------------------------------------------------------------------


def test_loopback_is_refused_without_allow_private(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"secret"))
    expect_error(AddressNotAllowed, server.url("/feed"), allow_private=False)
    expect_error(AddressNotAllowed, server.url("/feed", host="localhost"), allow_private=False)
    expect_error(AddressNotAllowed, f"http://[::1]:{server.port}/feed", allow_private=False)
    assert server.requests == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.1"],
        ["169.254.169.254"],
        ["100.64.0.1"],
        ["::1"],
        ["fe80::1"],
        ["::ffff:127.0.0.1"],
        ["0.0.0.0"],
        ["224.0.0.1"],
        [PUBLIC_IP, "192.168.1.10"],  # one bad address is enough
    ],
)
def test_hosts_resolving_to_non_public_addresses_are_refused(addresses: list[str]) -> None:
    network = Routed()
    error = expect_error(
        AddressNotAllowed,
        "http://intranet.example/feed",
        allow_private=False,
        transport=network,
        resolver=resolver_for({"intranet.example": addresses}),
    )
    assert error.url == "http://intranet.example/feed"
    assert network.seen == []  # refused before any connection


def test_a_redirect_from_a_public_host_to_loopback_is_refused(server: LocalServer) -> None:
    server.route("/start", Reply(302, headers={"Location": server.url("/secret")}))
    server.route("/secret", Reply(200, body=b"secret"))
    network = Routed()
    public_url = server.url("/start", host="public.example")
    expect_error(
        AddressNotAllowed,
        public_url,
        allow_private=False,
        transport=network,
        resolver=resolver_for({"public.example": [PUBLIC_IP]}),
    )
    assert [r.path for r in server.requests] == ["/start"]
    # The first hop went to the checked address, named in Host.
    assert server.requests[0].headers["host"] == f"public.example:{server.port}"
    assert [r.url.host for r in network.seen] == [PUBLIC_IP]


def test_a_redirect_to_a_host_resolving_privately_is_refused(server: LocalServer) -> None:
    server.route("/start", Reply(302, headers={"Location": "http://metadata.example/latest"}))
    network = Routed()
    expect_error(
        AddressNotAllowed,
        server.url("/start", host="public.example"),
        allow_private=False,
        transport=network,
        resolver=resolver_for(
            {"public.example": [PUBLIC_IP], "metadata.example": ["169.254.169.254"]}
        ),
    )
    assert len(network.seen) == 1


def test_the_checked_address_is_the_one_connected_to(server: LocalServer) -> None:
    # A rebinding DNS server answers a public address first and loopback afterwards;
    # only one lookup happens and the connection goes to the checked address.
    server.route("/feed", Reply(200, body=b"public doc"))
    answers = iter([[PUBLIC_IP], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    network = Routed()
    result = fetch_once(
        server.url("/feed", host="public.example"),
        allow_private=False,
        transport=network,
        resolver=rebinding,
    )
    assert result.body == b"public doc"
    assert calls == ["public.example"]
    assert [r.url.host for r in network.seen] == [PUBLIC_IP]


def test_https_keeps_the_name_for_tls() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"<feed/>")

    result = fetch_once(
        "https://public.example/feed",
        allow_private=False,
        transport=httpx.MockTransport(answer),
        resolver=resolver_for({"public.example": [PUBLIC_IP]}),
    )
    assert result.url == "https://public.example/feed"
    (request,) = seen
    assert request.url == httpx.URL(f"https://{PUBLIC_IP}/feed")
    assert request.headers["host"] == "public.example"
    assert request.extensions["sni_hostname"] == "public.example"


def test_the_next_address_is_tried_when_one_cannot_connect(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"ok"))
    unroutable = "2606:4700::1"  # public, but Routed has no route to it
    network = Routed()
    result = fetch_once(
        server.url("/feed", host="public.example"),
        allow_private=False,
        transport=network,
        resolver=resolver_for({"public.example": [unroutable, PUBLIC_IP]}),
    )
    assert result.body == b"ok"
    assert [r.url.host for r in network.seen] == [unroutable, PUBLIC_IP]


def test_an_unresolvable_host_is_a_fetch_error() -> None:
    clock = FakeTime()
    error = expect_error(
        FetchError,
        "http://nowhere.example/",
        clock,
        allow_private=False,
        transport=Routed(),
        resolver=resolver_for({}),
        max_retries=1,
    )
    assert "resolve" in str(error)
    assert len(clock.sleeps) == 1


def test_a_hanging_dns_lookup_times_out() -> None:
    async def never(host: str, port: int) -> list[str]:
        await asyncio.sleep(3600)
        return []

    clock = FakeTime()
    began = time.monotonic()
    expect_error(
        FetchTimeout,
        "http://slow-dns.example/",
        clock,
        allow_private=False,
        transport=Routed(),
        resolver=never,
        timeout=0.1,
        max_retries=1,
    )
    assert time.monotonic() - began < 3
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("location", ["ftp://example.org/feed", "http:///nohost", "data:,x://"])
def test_unusable_locations_are_errors(location: str) -> None:
    expect_error(FetchError, location)


NON_PUBLIC = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


@given(network=st.sampled_from(NON_PUBLIC), offset=st.integers(min_value=0))
def test_non_public_ipv4_ranges_are_refused_in_every_spelling(network: str, offset: int) -> None:
    net = ipaddress.IPv4Network(network)
    ip = net[offset % net.num_addresses]
    assert not is_public_address(str(ip))
    assert not is_public_address(f"::ffff:{ip}")  # IPv4-mapped
    assert not is_public_address(f"64:ff9b::{ip}")  # NAT64
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80))
    assert not is_public_address(str(sixtofour))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", PUBLIC_IP, "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("address", ["::", "::1", "fc00::1", "fe80::1", "ff02::1", "not an ip"])
def test_non_public_ipv6_and_garbage_are_refused(address: str) -> None:
    assert not is_public_address(address)


# --- politeness ------------------------------------------------------------------------


def test_requests_to_a_polite_host_are_spaced(server: LocalServer) -> None:
    server.route("/a", Reply(200, body=b"a"))
    server.route("/b", Reply(200, body=b"b"))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock, host_intervals={"127.0.0.1": 3.0}) as f:
            await f.fetch(server.url("/a"))
            assert clock.sleeps == []
            await f.fetch(server.url("/b"))

    run(go())
    assert clock.sleeps == [3.0]


def test_arxiv_hosts_share_one_turn(server: LocalServer) -> None:
    server.route("/rss/cs.CL", Reply(200, body=b"rss"))
    server.route("/api/query", Reply(200, body=b"api"))
    clock = FakeTime()
    resolve = resolver_for({"rss.arxiv.org": [PUBLIC_IP], "export.arxiv.org": [PUBLIC_IP]})

    async def go() -> None:
        default_intervals = FetchSettings().host_intervals
        async with fetcher(
            clock,
            transport=Routed(),
            resolver=resolve,
            allow_private=False,
            host_intervals=default_intervals,
        ) as f:
            await f.fetch(f"http://rss.arxiv.org:{server.port}/rss/cs.CL")
            await f.fetch(f"http://export.arxiv.org:{server.port}/api/query")

    run(go())
    assert clock.sleeps == [3.0]


def test_concurrent_fetches_to_a_polite_host_take_turns(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"x", delay=0.1))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock, host_intervals={"127.0.0.1": 3.0}) as f:
            await asyncio.gather(*(f.fetch(server.url("/feed")) for _ in range(3)))

    run(go())
    assert server.max_in_flight == 1
    assert clock.sleeps == [3.0, 3.0]


def test_other_hosts_are_fetched_concurrently(server: LocalServer) -> None:
    server.route("/feed", Reply(200, body=b"x", delay=0.3))
    clock = FakeTime()

    async def go() -> None:
        async with fetcher(clock) as f:
            await asyncio.gather(*(f.fetch(server.url("/feed")) for _ in range(3)))

    run(go())
    assert server.max_in_flight == 3
    assert clock.sleeps == []


def test_retry_after_holds_back_the_whole_host(server: LocalServer) -> None:
    server.route("/limited", Reply(429, headers={"Retry-After": "7"}), Reply(200, body=b"ok"))
    server.route("/other", Reply(200, body=b"other"))
    clock = FakeTime()

    async def go() -> None:
        clock.gate = asyncio.Event()
        async with fetcher(clock) as f:
            limited = asyncio.create_task(f.fetch(server.url("/limited")))
            while not clock.sleeps:  # the 429 came back; its retry is waiting
                await asyncio.sleep(0.01)
            other = asyncio.create_task(f.fetch(server.url("/other")))
            while len(clock.sleeps) < 2:
                await asyncio.sleep(0.01)
            assert server.requests_to("/other") == []  # held back, not sent
            clock.gate.set()
            await asyncio.gather(limited, other)

    run(go())
    assert clock.sleeps == [7.0, 7.0]


# --- files and batches -----------------------------------------------------------------


def test_files_are_read_by_url_and_by_path(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(b"<rss/>")
    by_url = fetch_once(path.as_uri())
    by_path = fetch_once(str(path))
    for result in (by_url, by_path):
        assert (result.status, result.body) == ("fetched", b"<rss/>")
        assert result.url == path.resolve().as_uri()
        assert result.content_type in ("application/xml", "text/xml")
    again = fetch_once(str(path), by_path.validators)
    assert (again.status, again.body) == ("unchanged", None)


def test_a_relative_path_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notes.md").write_bytes(b"# notes")
    monkeypatch.chdir(tmp_path)
    assert fetch_once("notes.md").body == b"# notes"


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(bytes(2048))
    expect_error(BodyTooLarge, str(path), max_body=1024)
    assert fetch_once(str(path), max_body=2048).body == bytes(2048)


def test_unreadable_files_are_fetch_errors(tmp_path: Path) -> None:
    expect_error(FetchError, str(tmp_path / "missing.xml"))
    expect_error(FetchError, str(tmp_path))
    expect_error(FetchError, "file://elsewhere.example/etc/passwd")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    error = expect_error(FetchError, str(pipe))
    assert "regular file" in str(error)


def test_fetch_many_reports_each_source(server: LocalServer, tmp_path: Path) -> None:
    server.route("/good", Reply(200, body=b"good"))
    clock = FakeTime()
    requests = [
        (server.url("/good"), Validators()),
        (server.url("/missing"), Validators()),
        (str(tmp_path / "missing.xml"), Validators()),
    ]

    async def go() -> Any:
        async with fetcher(clock) as f:
            return await fetch_many(f, requests)

    good, missing, no_file = run(go())
    assert good.result is not None and good.result.body == b"good" and good.error is None
    assert isinstance(missing.error, HTTPStatusError) and missing.result is None
    assert isinstance(no_file.error, FetchError)
    assert [o.location for o in (good, missing, no_file)] == [loc for loc, _ in requests]


@pytest.mark.parametrize(
    "overrides",
    [
        {"timeout": 0},
        {"max_body": -1},
        {"max_retries": -1},
        {"host_intervals": {"x.org": -1}},
        {"user_agent": " "},
    ],
)
def test_unusable_settings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        FetchSettings(**overrides)


def test_default_settings() -> None:
    defaults = FetchSettings()
    assert defaults.timeout == 20.0
    assert defaults.max_body == 15 * MiB
    assert defaults.allow_private is False
    assert defaults.host_intervals["arxiv.org"] == 3.0
    assert defaults.user_agent.startswith("paperbot/")
