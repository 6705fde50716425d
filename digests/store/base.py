"""What every room of the store shares: the engine, transactions and the health probes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Engine,
    text,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from digests.errors import StoreError
from digests.store.bulk import (
    upsert,
)
from digests.store.engine import (
    create_db_engine,
    integrity_check,
    short_db_error,
    upgrade,
    wait_for_database,
)

log = logging.getLogger(__name__)


class StoreBase:
    """The engine and its transactions; the rooms of ``Store`` build on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # The connection of a ``transaction()`` block, per thread: writes in it join it.
        self._joined = threading.local()

    # -- plumbing ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        connect_attempts: int = 5,
        connect_delay: float = 1.0,
    ) -> Self:
        engine = create_db_engine(url)
        try:
            wait_for_database(engine, attempts=connect_attempts, delay=connect_delay)
            if migrate:
                upgrade(engine)
        except StoreError:
            engine.dispose()
            raise
        return cls(engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        joined: Connection | None = getattr(self._joined, "conn", None)
        if joined is not None:  # inside transaction(): its commit or rollback covers this
            yield joined
            return
        try:
            with self.engine.begin() as conn:
                yield conn
        except DBAPIError as e:  # unreachable, full, locked, or a value it refuses
            raise StoreError(f"database error: {short_db_error(e)}") from e

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the writes this thread does inside the block one transaction.

        Every write method called in the block joins it instead of committing on its own,
        so either all of them are kept or, on any error, none is (the error is raised as a
        ``StoreError`` when the database refused something). Other threads are not
        affected. Blocks do not nest.
        """
        if getattr(self._joined, "conn", None) is not None:
            raise RuntimeError("Store.transaction() blocks do not nest")
        try:
            with self.engine.begin() as conn:
                self._joined.conn = conn
                try:
                    yield
                finally:
                    self._joined.conn = None
        except DBAPIError as e:
            raise StoreError(f"database error: {short_db_error(e)}") from e

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT that knows ON CONFLICT."""
        return upsert(self.dialect, table)

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers a trivial query: the health check's probe."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar_one()
        except SQLAlchemyError as e:
            log.warning("database ping failed: %s", short_db_error(e))
            return False
        return True

    def integrity_check(self) -> str:
        """SQLite's own consistency check ("ok" when sound); "ok" elsewhere."""
        return integrity_check(self.engine)


def as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates come back as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
