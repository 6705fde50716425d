"""Reading a response body within the size limit, inflating gzip and deflate with a cap."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import zlib
from collections.abc import AsyncGenerator

import httpx

from digests.errors import BodyTooLarge, FetchError, FetchTimeout
from digests.fetch.model import Transient

log = logging.getLogger(__name__)


async def read_body(url: httpx.URL, response: httpx.Response, limit: int) -> tuple[bytes, str]:
    """The decoded body and its sha256, refusing more than ``limit`` bytes as it streams."""
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
        raise Transient(
            FetchError(f"network error reading the body: {e or type(e).__name__}", url=str(url))
        ) from e
    return b"".join(parts), digest.hexdigest()


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
