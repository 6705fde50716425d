"""The one exception tree of ``digests``.

::

    PaperbotError
     +-- ConfigError            settings or a sources file that cannot be used
     +-- SourceError            anything wrong with one source; recorded on it, the run goes on
     |    +-- FetchError        the document could not be retrieved
     |    |    +-- AddressNotAllowed   the URL resolves to a private/loopback/... address
     |    |    +-- BodyTooLarge        the body (after decompression) passed the size limit
     |    |    +-- FetchTimeout        connect/read/total time ran out
     |    |    +-- HTTPStatusError     a non-success status that retries did not cure
     |    |         +-- RetryLater     the server named a time to come back (429/503)
     |    +-- ParseError        the document has nothing readable of the expected kind
     |         +-- ArxivApiError   the arXiv API answered with its own error entry
     +-- QueryError             a query string that cannot be understood
     +-- StoreError             the database cannot be used (a missing database, no permission
          |                     to write its file, a failed query): waiting would not help
          +-- DatabaseURLError     DATABASE_URL cannot name a database paperbot can use
          +-- DatabaseUnavailable  the server did not answer, after retries

Library errors are wrapped ``raise XError(...) from e`` so callers catch ours only.
"""

from __future__ import annotations

from datetime import datetime


class PaperbotError(Exception):
    """Base of every error paperbot raises on purpose."""


class ConfigError(PaperbotError):
    """Settings, environment or a sources file that cannot be used."""


class SourceError(PaperbotError):
    """A problem with one source: recorded on the source, never fatal for a poll."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.url})" if self.url else base


class FetchError(SourceError):
    """The document could not be retrieved."""


class AddressNotAllowed(FetchError):
    """The URL (or a redirect target) resolves to an address the guard refuses."""


class BodyTooLarge(FetchError):
    """The response body passed the configured maximum size."""


class FetchTimeout(FetchError):
    """The server did not answer (or finish answering) in time."""


class HTTPStatusError(FetchError):
    """A non-success HTTP status that retries did not cure."""

    def __init__(self, message: str, *, url: str | None = None, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class RetryLater(HTTPStatusError):
    """A 429/503 whose Retry-After was too long to wait for, or outlasted the retries.

    ``retry_at`` (aware UTC) is when the server said to come back: the scheduler should not
    poll the source before it.
    """

    def __init__(
        self, message: str, *, url: str | None = None, status: int, retry_at: datetime
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_at = retry_at


class ParseError(SourceError):
    """A document with nothing readable of the expected kind.

    ``expected`` says what the parser was looking for, so the message can tell the
    operator what is wrong (``expected an RSS or Atom feed, got an HTML page``).
    """

    def __init__(self, message: str, *, url: str | None = None, kind: str | None = None) -> None:
        super().__init__(message, url=url)
        self.kind = kind


class ArxivApiError(ParseError):
    """The arXiv API answered with its "Error" entry (a malformed id in ``id_list``, say):
    the request, not the document or the network, was at fault."""


class QueryError(PaperbotError):
    """A query that cannot be understood; the message names the term and the valid forms."""

    def __init__(self, message: str, *, term: str | None = None) -> None:
        super().__init__(message)
        self.term = term


class StoreError(PaperbotError):
    """The database cannot be used."""


class DatabaseURLError(StoreError):
    """A database URL that is malformed or names a database paperbot does not speak."""


class DatabaseUnavailable(StoreError):
    """The database server cannot be reached (after retries)."""
