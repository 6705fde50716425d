"""What goes into a fetch and what comes out: settings, validators, results, retryable failures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from types import MappingProxyType
from typing import Literal

from digests.errors import ConfigError, FetchError


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


NOTHING_KNOWN = Validators()  # a first fetch: no conditional headers, nothing to compare


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


class Transient(Exception):
    """An attempt failed in a way a later attempt may not: carries the error to give up with."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after  # seconds the server asked for; None = use backoff
