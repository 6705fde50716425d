"""Retrieve source documents over HTTP(S) or from disk: the only package that talks to httpx.

What leaves it is a ``FetchResult`` or an error from ``digests.errors``. ``client`` holds the
``Fetcher`` (host turns, redirects, retries), ``guard`` the address guard, ``body`` the
capped body reader, ``files`` the reads from disk, ``model`` the settings and results.
"""

from digests.errors import RetryLater
from digests.fetch.client import Fetcher, fetch_many
from digests.fetch.guard import Resolver, is_public_address
from digests.fetch.model import FetchOutcome, FetchResult, FetchSettings, Validators

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
