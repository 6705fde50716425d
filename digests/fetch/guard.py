"""The address guard: a fetch connects only to public addresses, each checked before use."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable

import httpx

from digests.errors import AddressNotAllowed, FetchError, FetchTimeout
from digests.fetch.model import FetchSettings, Transient

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP addresses as strings``; the address guard checks every one."""

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


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


async def system_resolver(host: str, port: int) -> list[str]:
    # getaddrinfo runs in the loop's executor, so resolution never blocks the loop.
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_addresses(
    url: httpx.URL, host: str, *, settings: FetchSettings, resolve: Resolver
) -> list[str | None]:
    """The addresses to connect to, all checked; ``[None]`` = connect by name."""
    if settings.allow_private:
        return [None]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            # getaddrinfo has no deadline of its own that we control.
            async with asyncio.timeout(settings.timeout):
                found = await resolve(host, port)
        except TimeoutError as e:
            raise Transient(FetchTimeout(f"cannot resolve {host}: no answer", url=str(url))) from e
        except OSError as e:
            raise Transient(FetchError(f"cannot resolve {host}: {e}", url=str(url))) from e
    else:
        found = [host]
    if not found:
        raise Transient(FetchError(f"{host} has no address", url=str(url)))
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


def http_url(location: str) -> httpx.URL:
    try:
        url = httpx.URL(location)
    except httpx.InvalidURL as e:
        raise FetchError(f"not a usable URL: {e}", url=location) from e
    if url.scheme not in ("http", "https"):
        raise FetchError(f"unsupported scheme {url.scheme!r}", url=location)
    if not url.raw_host:
        raise FetchError("URL without a host", url=location)
    return url


def redirect_target(url: httpx.URL, location: str) -> httpx.URL:
    try:
        target = url.join(location.strip())
    except httpx.InvalidURL as e:
        raise FetchError(f"unusable redirect to {location!r}: {e}", url=str(url)) from e
    if target.scheme not in ("http", "https") or not target.raw_host:
        log.warning("refused %s: redirect to %s", url, location)
        raise AddressNotAllowed(f"redirect to {location!r} is not http(s)", url=str(url))
    return target
