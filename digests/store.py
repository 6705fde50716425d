"""The paper store: the only module that speaks SQL (SQLite by default, PostgreSQL by URL).

Identity: a paper is found by the key chain of ``digests.identity`` — arXiv id, then DOI,
then canonical URL, then normalized title — so the same paper from three sources is one
row with three mentions. Inserts race safely across processes: every insert is
``ON CONFLICT DO NOTHING`` on a unique key followed by a read, so two pollers of the
same source never create a paper twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from digests.errors import DatabaseUnavailable, DatabaseURLError, StoreError
from digests.identity import PaperIndex, initial_signals, merge_values, new_paper_row
from digests.model import (
    Candidate,
    Delivery,
    Digest,
    DigestItem,
    Links,
    MentionView,
    PaperHit,
    PreparedEntry,
    Reason,
    Signals,
    SourceHealth,
    SourceInfo,
    SourceKind,
    SourceSpec,
    StoreCounts,
    Subscription,
    SubscriptionSpec,
    TagRef,
    source_name_key,
)
from digests.normalize import arxiv_abs_url, normalize_tag
from digests.query import Query
from digests.schema import (
    UTCDateTime,
    deliveries,
    digest_items,
    digests,
    leases,
    mentions,
    metadata,
    paper_search,
    paper_tags,
    papers,
    slack_users,
    sources,
    subscriptions,
    summary_cache,
    tag_aliases,
    tags,
)

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
# The trigram tokenizer indexes 3-character runs: shorter terms are matched with LIKE.
FTS_MIN_CHARS = 3
# Newest-first free-text search looks at these many newest papers first. On SQLite the
# full-text index is read from the window's lowest id up; on PostgreSQL the window's
# papers are tested one by one (~4 µs a paper at a million), so its windows are small and
# the second is tried only when the first's matches promise a page in it.
RECENT_WINDOWS = (20_000, 200_000)
RECENT_WINDOWS_PG = (5_000, 50_000)
# PostgreSQL tries its next window when the matches so far, scaled to it, are this many
# times a page.
_WINDOW_MARGIN = 1.5
_LOOKUP_CHUNK = 500
# Archived digest items, written as plain tuples (``Store.archive_digests``).
_DIGEST_ITEMS_INSERT_SQLITE = (
    "INSERT INTO digest_items (digest_id, rank, paper_id, score, item) VALUES (?, ?, ?, ?, ?)"
)
_DIGEST_ITEMS_INSERT_POSTGRESQL = (
    "INSERT INTO digest_items (digest_id, rank, paper_id, score, item) "
    "VALUES (%s, %s, %s, %s, CAST(%s AS json))"
)

# Consecutive documents of different sources are stored together up to this many entries.
_GROUP_ITEMS = 2_000


# FTS5's trigram tokenizer came in 3.34, dropping a column in place (migration 0004) in 3.35.
_SQLITE_MIN = (3, 35, 0)


def sqlite_version_problem(version: tuple[int, int, int]) -> str | None:
    """Why the SQLite library ``version`` cannot hold a paperbot store; None if it can."""
    if version >= _SQLITE_MIN:
        return None
    have = ".".join(map(str, version))
    need = ".".join(map(str, _SQLITE_MIN))
    return (
        f"this Python's SQLite library is {have}; paperbot needs {need} or newer (its "
        "full-text search uses FTS5's trigram tokenizer). Use a Python built with a newer "
        "SQLite, or PostgreSQL through DATABASE_URL."
    )


# What DATABASE_URL may look like; named in every error about it.
_URL_FORMS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME"
# SQLAlchemy driver names paperbot can open (``postgres://`` is read as psycopg's already).
_DRIVERS = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgresql+psycopg": "postgresql"}
# How long a statement waits for another process's write lock on SQLite.
_SQLITE_BUSY_MS = 30_000
# A second process waits this long for the first one's migration of a large file.
_SQLITE_MIGRATION_WAIT_MS = 600_000


def database_url(raw: str) -> URL:
    """``raw`` as a URL paperbot can open; ``DatabaseURLError`` names what is wrong.

    The messages quote the scheme or the port, never the whole value: it may hold a
    password.
    """
    head, sep, _rest = raw.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head):
        raise DatabaseURLError(f"DATABASE_URL is not a database URL; use {_URL_FORMS}")
    try:
        hostport = urlsplit(raw).netloc.rpartition("@")[2].rpartition("]")[2]
        port = hostport.rpartition(":")[2] if ":" in hostport else ""
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise DatabaseURLError(
                f"DATABASE_URL has port {port!r}: a port is a number from 1 to 65535"
            )
        url = make_url(raw)
    except (ArgumentError, ValueError) as e:
        raise DatabaseURLError(f"DATABASE_URL cannot be read; use {_URL_FORMS}") from e
    if url.drivername == "postgresql":  # the bare name means psycopg2, not installed
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername not in _DRIVERS:
        raise DatabaseURLError(
            f"DATABASE_URL: {head}:// is not supported; paperbot works with {_URL_FORMS} "
            "(postgres:// too)"
        )
    if _DRIVERS[url.drivername] == "postgresql" and not url.database:
        raise DatabaseURLError(f"DATABASE_URL names no database: end it with /NAME ({_URL_FORMS})")
    return url


def _sqlite_path_problem(path: Path) -> str | None:
    """What the file system shows would stop SQLite from writing ``path``; None if nothing.

    Checked before connecting: SQLite itself only says "unable to open database file".
    """
    folder = path.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        return f"cannot make the database {path}: {existing} is a file, not a folder"
    if path.is_dir():
        return f"the database {path} is a folder, not a SQLite file"
    for target in (path, folder, existing):
        if target.exists() and not os.access(target, os.W_OK):
            return f"no permission to write {target} (the database {path})"
    return None


def create_db_engine(url: str) -> Engine:
    """An engine with the pragmas paperbot relies on (WAL, foreign keys on SQLite)."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        problem = sqlite_version_problem(sqlite3.sqlite_version_info)
        if problem is not None:
            raise StoreError(problem)
        db = parsed.database
        if db and db != ":memory:":
            path = Path(db).expanduser()
            problem = _sqlite_path_problem(path)
            if problem is not None:
                raise StoreError(problem)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot make the folder {path.parent}: {e.strerror}") from e
        engine = create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers never block the writer; a crash mid-write never corrupts.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
            cur.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _alembic_config() -> Config:
    # Alembic is imported only when a migration may run: it costs a short command a
    # good part of its start-up time.
    from alembic.config import Config  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


_REVISION_RE = re.compile(r"^(down_)?revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def _head_revision() -> str | None:
    """The newest migration's id, read from the migration files without loading Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for down, rev in _REVISION_RE.findall(path.read_text("utf-8")):
            (parents if down else revisions).add(rev)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_revision(engine: Engine, revision: str) -> bool:
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return list(found) == [revision]
    except DBAPIError:  # no alembic_version table yet: a new database
        return False


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's own lock: one process migrates at a time.

    The next process waits for the lock, and Alembic, reading the revision under it, finds
    nothing left to do. The database's own lock rather than a lock file beside it: it goes
    with the process that held it, works the same for a server the processes share, and
    on SQLite it also makes the whole migration one transaction.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(7201358)"))
            yield conn
        return
    # pysqlite sends no BEGIN before DDL, so two processes creating a new file's tables
    # would both run CREATE TABLE. In autocommit mode the driver leaves transactions to
    # us: BEGIN EXCLUSIVE takes SQLite's write lock, and a migration that fails halfway
    # leaves the schema as it was.
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_MIGRATION_WAIT_MS}")
        try:
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
            try:
                yield conn
            except BaseException:
                sqlite_conn = conn.connection.driver_connection
                # SQLite may have rolled back already (a full disk does).
                if sqlite_conn is not None and sqlite_conn.in_transaction:
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (what ``paperbot db upgrade`` runs).

    Safe to run from several processes at once: they take turns (``_migration_lock``).
    """
    head = _head_revision()
    if head is not None and _at_revision(engine, head):
        return  # already there: skip loading Alembic and its scripts
    from alembic import command  # noqa: PLC0415

    cfg = _alembic_config()
    try:
        with _migration_lock(engine) as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DBAPIError as e:
        raise StoreError(f"cannot upgrade the database schema: {_short_db_error(e)}") from e


def wait_for_database(
    engine: Engine, *, attempts: int = 5, delay: float = 1.0, sleep: Any = time.sleep
) -> None:
    """Connect, retrying with backoff while waiting may help (``_connect_problem``).

    A problem waiting cannot cure raises ``StoreError`` at once; a server that stays
    unreachable raises ``DatabaseUnavailable`` after ``attempts``.
    """
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except DBAPIError as e:
            problem, transient = _connect_problem(e, engine.url)
            if not transient:
                raise StoreError(problem) from e
            last = e
            log.warning(
                "database not reachable (attempt %d/%d): %s",
                attempt,
                attempts,
                _short_db_error(e),
            )
            if attempt < attempts:
                sleep(delay * 2 ** (attempt - 1))
    where = engine.url.render_as_string(hide_password=True)
    raise DatabaseUnavailable(
        f"cannot reach the database at {where} after {attempts} attempts: "
        f"{_short_db_error(last)}. Check DATABASE_URL and that the server is running."
    ) from last


# What libpq or the server says (in English) when waiting may help: nothing listens yet,
# the answer is late, or the server is starting, stopping or full. A server that answers
# anything else (no such database, a refused login) or an unknown host will say the same
# thing again.
_TRANSIENT = (
    "connection refused",
    "timeout expired",
    "timed out",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "too many clients",
    "server closed the connection unexpectedly",
)


def _connect_problem(e: DBAPIError, url: URL) -> tuple[str, bool]:
    """One line on why connecting failed, and whether trying again later may succeed."""
    said = _short_db_error(e)
    if url.get_backend_name() == "sqlite":  # a local file: waiting changes nothing
        path = Path(url.database or "").expanduser()
        problem = _sqlite_path_problem(path)
        if problem is None and "file is not a database" in said:
            problem = f"{path} is not a SQLite database"
        return problem or f"cannot open the SQLite database {path}: {said}", False
    where = url.set(password=None, query={}).render_as_string(hide_password=True)
    if m := re.search(r'database "([^"]+)" does not exist', said):
        server = f"{url.host}:{url.port or 5432}" if url.host else "the local server"
        return f"no such database {m[1]!r} on {server}: create it or fix DATABASE_URL", False
    if m := re.search(r'role "([^"]+)" does not exist', said):
        return f"the database server at {where} has no user {m[1]!r}", False
    if "password authentication failed" in said:
        return f"the database server at {where} refused the password of {url.username!r}", False
    if "failed to resolve host" in said or "could not translate host name" in said:
        return f"unknown database host {url.host!r} (DATABASE_URL)", False
    return f"{said} ({where})", any(t in said.lower() for t in _TRANSIENT)


def _short_db_error(e: Exception | None) -> str:
    if e is None:
        return "unknown error"
    orig = getattr(e, "orig", None)
    return str(orig or e).strip().splitlines()[0]


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for a database paperbot has not set up."""
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no alembic_version table: a new database
        return None
    return str(found) if found is not None else None


@dataclass(frozen=True, slots=True)
class ArchivedDigest:
    """One line of the digest archive."""

    id: int
    week: str
    tz: str
    query: str
    scope: str | None
    lang: str | None
    built_at: datetime
    items: int
    subscription_id: int | None


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: tuple[PaperHit, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """One source's successful check, as ``Store.record_fetches`` writes it."""

    source_id: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_check_at: datetime
    entry_count: int | None = None  # given when the document was parsed (its body changed)


@dataclass(frozen=True, slots=True)
class SourceSync:
    """What loading the operator's sources file changed, by source name."""

    added: tuple[str, ...] = ()
    renamed: tuple[str, ...] = ()  # "old -> new": the same location under a new name
    updated: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()  # retired before, listed again: polled with its history
    retired: tuple[str, ...] = ()  # left the file: no longer polled, its mentions kept
    skipped: tuple[str, ...] = ()  # named like a source added from the command line or Slack

    def summary(self, where: str) -> str | None:
        """One line for the operator ("sources.toml: added 1 (x), retired 2 (y, z)");
        None when nothing changed."""
        parts = [
            f"{f.name} {len(names)} ({', '.join(names)})"
            for f in fields(self)
            if f.name != "skipped" and (names := getattr(self, f.name))
        ]
        if self.skipped:
            parts.append(
                f"skipped {len(self.skipped)} ({', '.join(self.skipped)}: named like a "
                "source added from the command line or Slack)"
            )
        return f"{where}: {', '.join(parts)}" if parts else None


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    """A source's health after a check (``health`` None = fine), for ``Store.set_healths``."""

    source_id: int
    health: str | None
    reason: str | None


class Store:
    """Typed operations over the database; callers never see SQL or rows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # The connection of a ``transaction()`` block, per thread: writes in it join it.
        self._joined = threading.local()
        # Newest-first free-text search tries these many newest papers first.
        self.recent_windows: tuple[int, ...] = (
            RECENT_WINDOWS_PG if self.dialect == "postgresql" else RECENT_WINDOWS
        )

    # -- plumbing ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        connect_attempts: int = 5,
        connect_delay: float = 1.0,
    ) -> Store:
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
            raise StoreError(f"database error: {_short_db_error(e)}") from e

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
            raise StoreError(f"database error: {_short_db_error(e)}") from e

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT that knows ON CONFLICT."""
        if self.dialect == "postgresql":
            return _pg().insert(table)
        return sqlite_dialect.insert(table)

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers a trivial query: the health check's probe."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1")).scalar_one()
        except SQLAlchemyError as e:
            log.warning("database ping failed: %s", _short_db_error(e))
            return False
        return True

    def integrity_check(self) -> str:
        """SQLite's own consistency check ("ok" when sound); "ok" elsewhere."""
        if self.dialect != "sqlite":
            return "ok"
        with self.engine.connect() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar_one())

    # -- sources -------------------------------------------------------------------------

    def add_source(self, spec: SourceSpec, *, now: datetime) -> SourceInfo:
        """Create a source; a name already taken (ignoring case) is an error that says so.

        A retired source added again at the same location is restored with its history.
        """
        name = spec.name.strip()
        if not name:
            raise StoreError("a source needs a name")
        values = {
            "name": name,
            "kind": spec.kind.value if spec.kind else None,
            "location": spec.location,
            "interval_seconds": spec.interval_seconds,
            "tags": list(spec.tags),
            "origin": spec.origin,
        }
        with self._tx() as conn:
            taken = self._source_named(conn, name)
            if taken is not None:
                if taken["retired_at"] is None:
                    raise StoreError(f"a source named {taken['name']!r} already exists")
                if taken["location"] != spec.location:
                    raise StoreError(
                        f"a retired source named {taken['name']!r} already exists, at "
                        f"{taken['location']}; choose another name, or purge it first"
                    )
                conn.execute(
                    update(sources)
                    .where(sources.c.id == taken["id"])
                    .values(retired_at=None, **values)
                )
            else:
                stmt = (
                    self._insert(sources)
                    .values(enabled=True, created_at=now, consecutive_failures=0, **values)
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(sources.c.id)
                )
                if conn.execute(stmt).first() is None:
                    raise StoreError(f"a source named {name!r} already exists")
        found = self.get_source(name)
        assert found is not None
        return found

    @staticmethod
    def _source_named(conn: Connection, name: str) -> dict[str, Any] | None:
        """The source whose name equals ``name`` ignoring case and surrounding spaces.

        Compared here rather than with SQL ``lower()``, which folds only ASCII on SQLite;
        the table holds a handful of rows.
        """
        key = source_name_key(name)
        rows = conn.execute(
            select(sources.c.id, sources.c.name, sources.c.location, sources.c.retired_at)
        ).mappings()
        found = [dict(r) for r in rows if source_name_key(r["name"]) == key]
        exact = [r for r in found if r["name"] == name]
        return (exact or found)[0] if found else None

    def sync_sources(self, specs: Sequence[SourceSpec], *, now: datetime) -> SourceSync:
        """Make the sources from the operator's file match it; returns what changed.

        Sources added from the command line or Slack are left alone. A file source is
        matched by name (ignoring case), else by location: a source renamed in the file
        whose URL did not change keeps its history under the new name. One that left the
        file is retired (no longer polled, its mentions kept); listed again, it is
        restored with its history.
        """
        out: dict[str, list[str]] = {f.name: [] for f in fields(SourceSync)}
        with self._tx() as conn:
            rows = [dict(r) for r in conn.execute(select(sources)).mappings()]
            file_rows = [r for r in rows if r["origin"] == "file"]
            exact = {r["name"]: r for r in file_rows}
            folded = {source_name_key(r["name"]): r for r in file_rows}
            others = {source_name_key(r["name"]) for r in rows if r["origin"] != "file"}
            matched: list[tuple[dict[str, Any], SourceSpec]] = []
            pending: list[SourceSpec] = []
            for spec in specs:
                row = exact.get(spec.name) or folded.get(source_name_key(spec.name))
                if row is not None:
                    matched.append((row, spec))
                elif source_name_key(spec.name) in others:
                    out["skipped"].append(spec.name)
                else:
                    pending.append(spec)
            taken = {id(row) for row, _ in matched}
            # Unlisted sources, the polled ones first: a renamed source takes its own row.
            free = sorted(
                (r for r in file_rows if id(r) not in taken),
                key=lambda r: (r["retired_at"] is not None, r["id"]),
            )
            new: list[SourceSpec] = []
            for spec in pending:
                row = next((r for r in free if r["location"] == spec.location), None)
                if row is None:
                    new.append(spec)
                    continue
                free.remove(row)
                matched.append((row, spec))
            for row in free:
                if row["retired_at"] is None:
                    conn.execute(
                        update(sources).where(sources.c.id == row["id"]).values(retired_at=now)
                    )
                    out["retired"].append(row["name"])
            for row, spec in matched:
                values: dict[str, Any] = {
                    "name": spec.name,
                    "kind": spec.kind.value if spec.kind else None,
                    "location": spec.location,
                    "interval_seconds": spec.interval_seconds,
                    "tags": list(spec.tags),
                    "retired_at": None,
                }
                if all(row[k] == v for k, v in values.items()):
                    continue
                conn.execute(update(sources).where(sources.c.id == row["id"]), values)
                if row["name"] != spec.name:
                    out["renamed"].append(f"{row['name']} -> {spec.name}")
                elif row["retired_at"] is not None:
                    out["restored"].append(spec.name)
                else:
                    out["updated"].append(spec.name)
            for spec in new:
                stmt = (
                    self._insert(sources)
                    .values(
                        name=spec.name,
                        kind=spec.kind.value if spec.kind else None,
                        location=spec.location,
                        interval_seconds=spec.interval_seconds,
                        tags=list(spec.tags),
                        origin="file",
                        enabled=True,
                        created_at=now,
                        consecutive_failures=0,
                    )
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(sources.c.id)
                )
                if conn.execute(stmt).first() is not None:
                    out["added"].append(spec.name)
        return SourceSync(**{k: tuple(v) for k, v in out.items()})

    def retire_source(self, source_id: int, *, now: datetime) -> bool:
        """Stop polling a source and keep its mentions; False when it already was retired."""
        with self._tx() as conn:
            done = conn.execute(
                update(sources)
                .where(sources.c.id == source_id, sources.c.retired_at.is_(None))
                .values(retired_at=now)
            )
        return bool(done.rowcount)

    def purge_source(self, source_id: int) -> int:
        """Delete a source and its mentions; returns how many mentions went.

        Papers stay (other sources may list them, past digests name them); their source
        counts and best upvotes are recomputed from the mentions left.
        """
        with self._tx() as conn:
            ids = set(
                conn.execute(
                    select(mentions.c.paper_id).where(mentions.c.source_id == source_id).distinct()
                ).scalars()
            )
            gone = conn.execute(delete(mentions).where(mentions.c.source_id == source_id))
            conn.execute(delete(sources).where(sources.c.id == source_id))
            left = self._signals(conn, ids)
            rows = [
                {"p_id": pid, "p_count": n, "p_upvotes": up}
                for pid in sorted(ids)
                for n, up in [left.get(pid, (0, 0))]
            ]
            if rows:
                conn.execute(
                    update(papers)
                    .where(papers.c.id == bindparam("p_id"))
                    .values(source_count=bindparam("p_count"), max_upvotes=bindparam("p_upvotes")),
                    rows,
                )
        return int(gone.rowcount)

    def get_source(self, name: str) -> SourceInfo | None:
        """The source of that name, ignoring case and surrounding spaces."""
        with self.engine.connect() as conn:
            found = self._source_named(conn, name)
        if found is None:
            return None
        listed = self.list_sources(names=[found["name"]])
        return listed[0] if listed else None

    def list_sources(
        self, *, names: Sequence[str] | None = None, with_counts: bool = True
    ) -> list[SourceInfo]:
        """Sources by name, retired ones included (they say so)."""
        stmt = select(sources).order_by(sources.c.name)
        if names is not None:
            stmt = stmt.where(sources.c.name.in_(list(names)))
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt).mappings())
            counts: dict[int, int] = {}
            if with_counts and rows:
                q = select(mentions.c.source_id, func.count(func.distinct(mentions.c.paper_id)))
                q = q.group_by(mentions.c.source_id)
                counts = {sid: n for sid, n in conn.execute(q)}
        return [_source_info(r, counts.get(r["id"], 0)) for r in rows]

    def mention_count(self, source_id: int) -> int:
        """How many mentions a source has: what purging it would delete."""
        with self.engine.connect() as conn:
            stmt = select(func.count()).where(mentions.c.source_id == source_id)
            return int(conn.execute(stmt).scalar_one())

    def due_sources(self, now: datetime) -> list[SourceInfo]:
        """Enabled sources whose next check time has come (or that were never checked).

        Retired sources are never due.
        """
        stmt = (
            select(sources)
            .where(
                sources.c.enabled.is_(True),
                sources.c.retired_at.is_(None),
                or_(sources.c.next_check_at.is_(None), sources.c.next_check_at <= now),
            )
            .order_by(sources.c.next_check_at, sources.c.name)
        )
        with self.engine.connect() as conn:
            return [_source_info(r, 0) for r in conn.execute(stmt).mappings()]

    def record_fetch(
        self,
        source_id: int,
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        next_check_at: datetime,
        entry_count: int | None,
    ) -> None:
        """A successful check: the new validators, and the failure streak reset.

        ``entry_count`` is given when the document was parsed, which happens only when
        its body changed: that moment is kept as ``content_changed_at``.
        """
        record = FetchRecord(source_id, etag, last_modified, body_hash, next_check_at, entry_count)
        self.record_fetches([record], now=now)

    def record_fetches(self, records: Sequence[FetchRecord], *, now: datetime) -> None:
        """Many successful checks in one transaction: one executemany per shape of row."""
        parsed = [r for r in records if r.entry_count is not None]
        unparsed = [r for r in records if r.entry_count is None]
        common = {
            "etag": bindparam("r_etag"),
            "last_modified": bindparam("r_last_modified"),
            "body_hash": bindparam("r_body_hash"),
            "last_checked_at": bindparam("r_now"),
            "last_success_at": bindparam("r_now"),
            "next_check_at": bindparam("r_next_check_at"),
            "consecutive_failures": 0,
            "failing_since": None,
        }
        stmt = update(sources).where(sources.c.id == bindparam("r_id"))
        with self._tx() as conn:
            for group, values in (
                (unparsed, common),
                (
                    parsed,
                    {
                        **common,
                        "last_entry_count": bindparam("r_entry_count"),
                        "content_changed_at": bindparam("r_now"),
                    },
                ),
            ):
                if not group:
                    continue
                rows = [
                    {
                        "r_id": r.source_id,
                        "r_etag": r.etag,
                        "r_last_modified": r.last_modified,
                        "r_body_hash": r.body_hash,
                        "r_now": now,
                        "r_next_check_at": r.next_check_at,
                        **({"r_entry_count": r.entry_count} if r.entry_count is not None else {}),
                    }
                    for r in group
                ]
                conn.execute(stmt.values(values), rows)

    def record_failure(
        self, source_id: int, *, now: datetime, error: str, next_check_at: datetime
    ) -> int:
        """A failed check; returns the new length of the failure streak."""
        with self._tx() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.id == source_id)
                .values(
                    last_checked_at=now,
                    last_error=error[:2000],
                    last_error_at=now,
                    next_check_at=next_check_at,
                    consecutive_failures=sources.c.consecutive_failures + 1,
                    failing_since=case(
                        (sources.c.consecutive_failures == 0, literal(now, UTCDateTime())),
                        else_=sources.c.failing_since,
                    ),
                )
            )
            n = conn.execute(
                select(sources.c.consecutive_failures).where(sources.c.id == source_id)
            ).scalar_one()
        return int(n)

    def set_health(
        self, source_id: int, *, health: str | None, reason: str | None, now: datetime
    ) -> bool:
        """Set a source's health; returns True when it changed (so admins hear it once)."""
        with self._tx() as conn:
            changed = conn.execute(
                self._health_update(), [self._health_row(source_id, health, reason, now)]
            )
        return bool(changed.rowcount == 1)

    def set_healths(self, verdicts: Sequence[HealthVerdict], *, now: datetime) -> None:
        """Many sources' health in one statement; only those whose health changed are touched.

        A source keeps its reason and notice time while its health stays the same.
        """
        if not verdicts:
            return
        rows = [self._health_row(v.source_id, v.health, v.reason, now) for v in verdicts]
        with self._tx() as conn:
            conn.execute(self._health_update(), rows)

    @staticmethod
    def _health_update() -> Any:
        # Read-compare-write in one statement: a row whose health is already the one given
        # does not match, so its reason, since and notice time stay as they are.
        return (
            update(sources)
            .where(
                sources.c.id == bindparam("h_id"),
                sources.c.health.is_distinct_from(bindparam("h_health")),
            )
            .values(
                health=bindparam("h_health"),
                health_reason=bindparam("h_reason"),
                health_since=bindparam("h_since"),
                health_notified_at=None,
            )
        )

    @staticmethod
    def _health_row(
        source_id: int, health: str | None, reason: str | None, now: datetime
    ) -> dict[str, Any]:
        return {
            "h_id": source_id,
            "h_health": health,
            "h_reason": reason,
            "h_since": now if health else None,
        }

    def mark_health_notified(self, source_id: int, *, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                update(sources).where(sources.c.id == source_id).values(health_notified_at=now)
            )

    # -- papers --------------------------------------------------------------------------

    def store_entries(
        self, source: SourceInfo, prepared: Sequence[PreparedEntry], *, now: datetime
    ) -> StoreCounts:
        """Upsert papers, mentions and tags for one parsed document."""
        [counts] = self.store_documents([(source, prepared)], now=now)
        return counts

    def store_documents(
        self,
        documents: Sequence[tuple[SourceInfo, Sequence[PreparedEntry]]],
        *,
        now: datetime,
    ) -> list[StoreCounts]:
        """Upsert many parsed documents, each for its source; their counts, in order.

        The result is what storing them one after another with ``store_entries`` gives,
        but the documents share statements: consecutive documents of different sources
        are resolved together in memory (up to ``_GROUP_ITEMS`` entries) and written with
        one set of bulk statements, each mention row carrying its own source. A document
        is still taken in slices of ``_LOOKUP_CHUNK`` entries, as alone.
        """
        units: list[_Unit] = []
        for doc, (source, prepared) in enumerate(documents):
            for start in range(0, len(prepared), _LOOKUP_CHUNK):
                units.append(_Unit(doc, source.id, prepared[start : start + _LOOKUP_CHUNK]))
        totals = [[0, 0, 0] for _ in documents]
        with self._tx() as conn:
            for group in _groups(units):
                for unit, counts in zip(group, self._store_group(conn, group, now), strict=True):
                    total = totals[unit.doc]
                    for k in range(3):
                        total[k] += counts[k]
        return [StoreCounts(new=n, updated=u, unchanged=s) for n, u, s in totals]

    def _store_group(
        self, conn: Connection, group: Sequence[_Unit], now: datetime
    ) -> list[tuple[int, int, int]]:
        """Store a group of slices in a fixed number of statements, whatever its size.

        The key chain, merging and change detection run in memory, item by item exactly
        as they would row by row, and slice by slice as if each slice were read from the
        database after the previous one was written (``_Mirror``); the writes then go out
        as a few bulk statements. A paper or mention another writer inserted meanwhile is
        seen through ON CONFLICT DO NOTHING RETURNING and redone the row-by-row way.
        """
        chunk = [item for unit in group for item in unit.items]
        source_ids = [unit.source_id for unit in group for _ in unit.items]
        mirror = _Mirror()
        mirror.load(conn, chunk)
        # A tag is created as the first slice naming it would create it alone.
        refs: dict[str, TagRef] = {}
        for unit in group:
            for slug, ref in {t.slug: t for p in unit.items for t in p.tags}.items():
                refs.setdefault(slug, ref)
        tag_ids = self._ensure_tags(conn, refs.values())
        rows: list[dict[str, Any]] = []  # each item's paper row, in chunk order
        created: list[bool] = []  # the item created its paper
        changed: list[bool] = []
        pending: list[dict[str, Any]] = []
        dirty: dict[int, tuple[dict[str, Any], set[str]]] = {}
        for unit in group:
            index = mirror.index_for(unit.items)
            for item in unit.items:
                row = index.find(item)
                if row is None:
                    row = new_paper_row(item, now)
                    index.add(row)
                    mirror.add(row)
                    pending.append(row)
                    rows.append(row)
                    created.append(True)
                    changed.append(True)
                    continue
                values = merge_values(row, item, now, index)
                if values:
                    row.update(values)
                    index.add(row)
                    mirror.add(row)
                    if row["id"] is not None:
                        dirty.setdefault(int(row["id"]), (row, set()))[1].update(values)
                rows.append(row)
                created.append(False)
                changed.append(bool(values))
        initial_signals(source_ids, chunk, rows, pending)
        lost = self._insert_papers(conn, pending)
        for i, item in enumerate(chunk):
            if id(rows[i]) not in lost:
                continue
            # Another writer created this paper meanwhile: merge into theirs.
            fresh = PaperIndex(
                dict(r) for r in conn.execute(_known_papers(conn, [item])).mappings()
            )
            row = fresh.find(item)
            if row is None:
                raise StoreError(f"paper {item.key} vanished while storing")
            values = merge_values(row, item, now, fresh)
            if values:
                row.update(values)
                self._update_papers(conn, {int(row["id"]): (row, set(values))})
            rows[i], created[i], changed[i] = row, False, bool(values)
        mention_changed = self._store_mentions(conn, source_ids, chunk, rows, now)
        tag_changed = self._link_tags(conn, chunk, rows, tag_ids)
        # The papers' new source counts and best upvotes join their other changes: one
        # UPDATE per paper at most (on PostgreSQL every row version re-indexes the
        # paper's search text).
        touched = {int(r["id"]): r for r in rows}
        for paper_id, figures in self._signals(conn, touched).items():
            row = dirty[paper_id][0] if paper_id in dirty else touched[paper_id]
            if (row["source_count"], row["max_upvotes"]) != figures:
                row["source_count"], row["max_upvotes"] = figures
                dirty.setdefault(paper_id, (row, set()))[1].update(("source_count", "max_upvotes"))
        self._update_papers(conn, dirty)
        out: list[tuple[int, int, int]] = []
        i = 0
        for unit in group:
            new = updated = unchanged = 0
            for _ in unit.items:
                if created[i]:
                    new += 1
                elif changed[i] or mention_changed[i] or tag_changed[i]:
                    updated += 1
                else:
                    unchanged += 1
                i += 1
            out.append((new, updated, unchanged))
        return out

    def _insert_papers(self, conn: Connection, pending: list[dict[str, Any]]) -> set[int]:
        """Insert new papers and their search texts, filling in their ids; the ``id()`` of
        rows another writer had."""
        if not pending:
            return set()
        cols = [k for k in pending[0] if k not in ("id", "search_text")]
        columns = [[row[c] for row in pending] for c in cols]
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
        got = {
            key: int(pid)
            for pid, key in self._insert_columns(conn, papers, cols, columns, ("id", "key"))
        }
        lost: set[int] = set()
        made: list[dict[str, Any]] = []
        for row in pending:
            new_id = got.get(row["key"])
            if new_id is None:
                lost.add(id(row))
            else:
                row["id"] = new_id
                made.append(row)
        if made:
            self._insert_columns(
                conn,
                paper_search,
                ("paper_id", "search_text"),
                [[row["id"] for row in made], [row["search_text"] for row in made]],
                (),
                multi_row=True,  # the FTS5 trigger: one flush per statement, not per row
            )
        return lost

    def _update_papers(
        self, conn: Connection, changes: dict[int, tuple[dict[str, Any], set[str]]]
    ) -> None:
        """Write changed columns of papers (``changes``: each paper's row and the names of
        its changed columns): the search text to ``paper_search``, the rest to ``papers``."""
        rows: list[tuple[int, dict[str, Any]]] = []
        texts: list[tuple[int, dict[str, Any]]] = []
        for paper_id, (row, cols) in changes.items():
            if "search_text" in cols:
                texts.append((paper_id, {"search_text": row["search_text"]}))
            rest = {c: row[c] for c in cols if c != "search_text"}
            if rest:
                rows.append((paper_id, rest))
        self._update_by_id(conn, papers, rows)
        self._update_by_id(conn, paper_search, texts, key="paper_id")

    def _update_by_id(
        self,
        conn: Connection,
        table: Any,
        changes: Sequence[tuple[int, dict[str, Any]]],
        *,
        key: str = "id",
    ) -> None:
        """UPDATE rows by ``key`` (an integer column): one statement per set of changed
        columns and slice of rows.

        A multi-row ``UPDATE … FROM`` (VALUES on SQLite, column arrays on PostgreSQL), not
        an executemany: on SQLite every statement that follows a full-text write flushes
        the FTS5 index, so a ``search_text`` change per statement costs a flush per paper.
        Written as driver SQL like ``_insert_rows``: SQLAlchemy compiled a ``VALUES``
        construct anew for every slice, since its rows are part of the statement.
        """
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row_id, values in changes:
            cols = tuple(sorted(values))
            groups.setdefault(cols, []).append((row_id, *(values[c] for c in cols)))
        # Names and types below come from our own table definitions, never from data.
        name = table.name
        for cols, data in groups.items():
            if self.dialect == "postgresql":
                params: dict[str, Any] = {}
                arrays: list[str] = []
                picks: list[str] = []
                for i, col in enumerate((key, *cols)):
                    param, array, pick = _pg_column(conn, table.c[col], [row[i] for row in data], i)
                    params[f"p{i}"] = param
                    arrays.append(array)
                    picks.append(pick)
                sets = ", ".join(f'"{c}" = {pick}' for c, pick in zip(cols, picks[1:], strict=True))
                aliases = ", ".join(f"c{i}" for i in range(len(cols) + 1))
                conn.exec_driver_sql(
                    f'UPDATE "{name}" SET {sets} FROM unnest({", ".join(arrays)}) '  # noqa: S608
                    f'AS u({aliases}) WHERE "{name}"."{key}" = u.c0',
                    params,
                )
                continue
            sets = ", ".join(f'"{c}" = _changes.c{i}' for i, c in enumerate(cols, 1))
            aliases = ", ".join(f"c{i}" for i in range(len(cols) + 1))
            one = "(" + ", ".join("?" * (len(cols) + 1)) + ")"
            # SQLite allows 32,766 bound values per statement.
            step = max(1, min(_LOOKUP_CHUNK, 30_000 // (len(cols) + 1)))
            converted = _sqlite_rows(
                conn, table, (key, *cols), [list(c) for c in zip(*data, strict=True)]
            )
            for start in range(0, len(converted), step):
                part = converted[start : start + step]
                flat = tuple(chain.from_iterable(part))
                sql = (
                    f"WITH _changes({aliases}) AS (VALUES {', '.join([one] * len(part))}) "  # noqa: S608
                    f'UPDATE "{name}" SET {sets} FROM _changes '
                    f'WHERE "{name}"."{key}" = _changes.c0'
                )
                conn.exec_driver_sql(sql, flat)

    def _store_mentions(
        self,
        conn: Connection,
        source_ids: Sequence[int],
        chunk: Sequence[PreparedEntry],
        rows: Sequence[dict[str, Any]],
        now: datetime,
    ) -> list[bool]:
        """Insert or refresh each item's mention (of its source, ``source_ids`` in step
        with ``chunk``); True where a mention is new or changed."""
        known: dict[tuple[int, int, str], dict[str, Any]] = {}
        ids = sorted({int(r["id"]) for r in rows})
        wanted = sorted(set(source_ids))
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            stmt = select(mentions).where(
                _among(conn, mentions.c.source_id, wanted),
                _among(conn, mentions.c.paper_id, ids[start : start + _LOOKUP_CHUNK]),
            )
            for m in conn.execute(stmt).mappings():
                known[(m["paper_id"], m["source_id"], m["item_key"])] = dict(m)
        inserts: list[dict[str, Any]] = []
        dirty: dict[int, tuple[dict[str, Any], set[str]]] = {}
        out: list[bool] = []
        for source_id, item, paper in zip(source_ids, chunk, rows, strict=True):
            key = (int(paper["id"]), source_id, item.item_key)
            values = _mention_values(item)
            old = known.get(key)
            if old is None:
                e = item.entry
                row = {
                    "paper_id": key[0],
                    "source_id": source_id,
                    "item_key": item.item_key,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "published_at": e.published,
                    "mentioned_at": e.published or now,
                    **values,
                }
                known[key] = row
                inserts.append(row)
                out.append(True)
                continue
            # Seen before: signals that grow (upvotes, comments) are refreshed every poll.
            changes = {k: v for k, v in values.items() if v is not None and v != old[k]}
            old.update(changes)
            old["last_seen_at"] = now
            if "id" in old:
                dirty.setdefault(int(old["id"]), (old, set()))[1].update([*changes, "last_seen_at"])
            out.append(bool(changes))
        raced: set[tuple[int, int, str]] = set()
        if inserts:
            got = self._insert_rows(conn, mentions, inserts, ("paper_id", "source_id", "item_key"))
            done = {(int(p), int(s), str(k)) for p, s, k in got}
            raced = {(r["paper_id"], r["source_id"], r["item_key"]) for r in inserts} - done
        self._update_by_id(
            conn, mentions, [(mid, {c: m[c] for c in cols}) for mid, (m, cols) in dirty.items()]
        )
        for i, (source_id, item, paper) in enumerate(zip(source_ids, chunk, rows, strict=True)):
            if (int(paper["id"]), source_id, item.item_key) in raced:  # another writer's
                out[i] = self._store_mention(conn, source_id, int(paper["id"]), item, now)
        return out

    def _store_mention(
        self,
        conn: Connection,
        source_id: int,
        paper_id: int,
        item: PreparedEntry,
        now: datetime,
    ) -> bool:
        """One mention, row by row: the way when another writer got there first."""
        e = item.entry
        values = _mention_values(item)
        stmt = (
            self._insert(mentions)
            .values(
                paper_id=paper_id,
                source_id=source_id,
                item_key=item.item_key,
                first_seen_at=now,
                last_seen_at=now,
                published_at=e.published,
                mentioned_at=e.published or now,
                **values,
            )
            .on_conflict_do_nothing()
            .returning(mentions.c.id)
        )
        if conn.execute(stmt).first() is not None:
            return True
        key = and_(
            mentions.c.source_id == source_id,
            mentions.c.paper_id == paper_id,
            mentions.c.item_key == item.item_key,
        )
        old = conn.execute(select(mentions).where(key)).mappings().one()
        changes: dict[str, Any] = {k: v for k, v in values.items() if v is not None and v != old[k]}
        changes["last_seen_at"] = now
        conn.execute(update(mentions).where(key), changes)
        return len(changes) > 1

    def _ensure_tags(self, conn: Connection, refs: Iterable[TagRef]) -> dict[str, int]:
        """Tag ids by slug, creating missing tags; aliases resolve to their tag."""
        wanted = {r.slug: r for r in refs}
        if not wanted:
            return {}
        ids = self._resolve_slugs(conn, wanted)
        missing = [r for slug, r in wanted.items() if slug not in ids]
        if missing:
            conn.execute(
                self._insert(tags).on_conflict_do_nothing(index_elements=["slug"]),
                [{"slug": r.slug, "display": r.display, "kind": r.kind} for r in missing],
            )
            ids.update(self._resolve_slugs(conn, {r.slug: r for r in missing}))
        return ids

    def _resolve_slugs(self, conn: Connection, slugs: Iterable[str]) -> dict[str, int]:
        slug_list = list(slugs)
        found: dict[str, int] = {}
        for alias, tag_id in conn.execute(
            select(tag_aliases.c.slug, tag_aliases.c.tag_id).where(
                _among(conn, tag_aliases.c.slug, slug_list)
            )
        ):
            found[alias] = tag_id
        rest = [s for s in slug_list if s not in found]
        if rest:
            for slug, tag_id in conn.execute(
                select(tags.c.slug, tags.c.id).where(_among(conn, tags.c.slug, rest))
            ):
                found[slug] = tag_id
        return found

    def _link_tags(
        self,
        conn: Connection,
        chunk: Sequence[PreparedEntry],
        rows: Sequence[dict[str, Any]],
        tag_ids: dict[str, int],
    ) -> list[bool]:
        """Link each item's tags to its paper; True where the item added a link."""
        have: set[tuple[int, int, str]] = set()
        ids = sorted({int(r["id"]) for r in rows})
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            stmt = select(paper_tags.c.paper_id, paper_tags.c.tag_id, paper_tags.c.origin).where(
                _among(conn, paper_tags.c.paper_id, ids[start : start + _LOOKUP_CHUNK])
            )
            have.update((int(p), int(t), str(o)) for p, t, o in conn.execute(stmt))
        new: list[tuple[int, int, str]] = []
        out: list[bool] = []
        for item, paper in zip(chunk, rows, strict=True):
            paper_id = int(paper["id"])
            before = len(new)
            for ref in item.tags:
                link = (paper_id, tag_ids[ref.slug], ref.origin)
                if link not in have:
                    have.add(link)
                    new.append(link)
            out.append(len(new) > before)
        if new:
            columns = [list(c) for c in zip(*new, strict=True)]
            self._insert_columns(conn, paper_tags, ("paper_id", "tag_id", "origin"), columns, ())
        return out

    def _insert_rows(
        self,
        conn: Connection,
        table: Any,
        rows: Sequence[dict[str, Any]],
        returning: tuple[str, ...],
    ) -> list[tuple[Any, ...]]:
        """INSERT … ON CONFLICT DO NOTHING of many rows (same keys), RETURNING ``returning``."""
        cols = list(rows[0])
        return self._insert_columns(
            conn, table, cols, [[row[name] for row in rows] for name in cols], returning
        )

    def _insert_columns(
        self,
        conn: Connection,
        table: Any,
        cols: Sequence[str],
        columns: Sequence[list[Any]],
        returning: tuple[str, ...],
        *,
        multi_row: bool = False,
    ) -> list[tuple[Any, ...]]:
        """INSERT … ON CONFLICT DO NOTHING of rows given a column at a time (``columns[i]``
        holds column ``cols[i]`` of every row), RETURNING ``returning``.

        The values go to the driver as plain tuples or arrays, converted once per column
        by the column type's own bind processing (what SQLAlchemy would store), without
        SQLAlchemy's per-row parameter handling. ``multi_row``: on SQLite, multi-row
        VALUES statements even when nothing comes back, for a table whose inserts fire a
        full-text trigger (FTS5 flushes its pending index after every statement it wrote
        in, which in an executemany is once per row).
        """
        names = ", ".join(f'"{c}"' for c in cols)
        back = " ON CONFLICT DO NOTHING"
        if returning:
            back += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
        if self.dialect != "postgresql":
            # SQLite: an executemany of tuples, or multi-row VALUES when rows come back
            # (or ``multi_row``).
            data = _sqlite_rows(conn, table, cols, columns)
            one = "(" + ", ".join("?" * len(cols)) + ")"
            head = f'INSERT INTO "{table.name}" ({names}) VALUES '  # noqa: S608 (our own names)
            if not returning and not multi_row:
                conn.exec_driver_sql(head + one + back, data)
                return []
            # SQLite allows 32,766 bound values per statement.
            step = max(1, min(_LOOKUP_CHUNK, 30_000 // len(cols)))
            out: list[tuple[Any, ...]] = []
            for start in range(0, len(data), step):
                part = data[start : start + step]
                sql = head + ", ".join([one] * len(part)) + back
                result = conn.exec_driver_sql(sql, tuple(chain.from_iterable(part)))
                if returning:
                    out.extend(tuple(r) for r in result)
            return out
        # On PostgreSQL the rows go as one array per column through ``unnest``: a
        # statement of a few parameters, where a multi-row VALUES of 500 rows has ten
        # thousand that the driver parses again for every batch. The arrays are sent in
        # binary (``%b``): psycopg quotes every element of a text-format array with a
        # regular expression, ~150 ms for 2,000 search texts against ~7 ms.
        params: dict[str, Any] = {}
        arrays: list[str] = []
        picks: list[str] = []
        for i, (name, values) in enumerate(zip(cols, columns, strict=True)):
            param, array, pick = _pg_column(conn, table.c[name], values, i)
            params[f"p{i}"] = param
            arrays.append(array)
            picks.append(pick)
        aliases = ", ".join(f"c{i}" for i in range(len(cols)))
        # Names and types come from our own table definitions, never from data.
        sql = (
            f'INSERT INTO "{table.name}" ({names}) SELECT {", ".join(picks)} '  # noqa: S608
            f"FROM unnest({', '.join(arrays)}) AS u({aliases}){back}"
        )
        if returning:
            return [tuple(r) for r in conn.exec_driver_sql(sql, params)]
        conn.exec_driver_sql(sql, params)
        return []

    def _signals(self, conn: Connection, paper_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """The source count and best upvotes of papers, as their mentions give them now.

        Read once per slice of ids, aggregated in the database; the caller writes only
        the papers whose stored figures differ.
        """
        ids = sorted(paper_ids)
        out: dict[int, tuple[int, int]] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            stmt = (
                select(
                    mentions.c.paper_id,
                    func.count(func.distinct(mentions.c.source_id)),
                    func.coalesce(func.max(mentions.c.upvotes), 0),
                )
                .where(_among(conn, mentions.c.paper_id, ids[start : start + _LOOKUP_CHUNK]))
                .group_by(mentions.c.paper_id)
            )
            for paper_id, n, up in conn.execute(stmt):
                out[int(paper_id)] = (int(n), int(up))
        return out

    # -- tags ----------------------------------------------------------------------------

    def add_tag_aliases(self, aliases: dict[str, str]) -> None:
        """``{"sft": "Supervised-FineTuning (SFT)"}``: each alias finds that tag."""
        with self._tx() as conn:
            for alias, target in aliases.items():
                a, t = normalize_tag(alias), normalize_tag(target)
                if a is None or t is None or a.slug == t.slug:
                    continue
                conn.execute(
                    self._insert(tags)
                    .values(slug=t.slug, display=t.display, kind="tag")
                    .on_conflict_do_nothing(index_elements=["slug"])
                )
                tag_id = conn.execute(select(tags.c.id).where(tags.c.slug == t.slug)).scalar_one()
                conn.execute(
                    self._insert(tag_aliases)
                    .values(slug=a.slug, tag_id=tag_id)
                    .on_conflict_do_nothing(index_elements=["slug"])
                )

    def tag_displays(self, slugs: Sequence[str]) -> dict[str, str]:
        """The stored display form of each known tag slug (aliases resolved)."""
        if not slugs:
            return {}
        with self.engine.connect() as conn:
            ids = self._resolve_slugs(conn, slugs)
            names = dict(
                conn.execute(
                    select(tags.c.id, tags.c.display).where(tags.c.id.in_(list(ids.values())))
                ).all()
            )
        return {slug: names[tag_id] for slug, tag_id in ids.items() if tag_id in names}

    def tag_counts(self, *, limit: int = 50) -> list[tuple[str, int]]:
        stmt = (
            select(tags.c.display, func.count(func.distinct(paper_tags.c.paper_id)).label("n"))
            .join(paper_tags, paper_tags.c.tag_id == tags.c.id)
            .group_by(tags.c.id, tags.c.display)
            .order_by(text("n DESC"), tags.c.display)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(d, int(n)) for d, n in conn.execute(stmt)]

    # -- search --------------------------------------------------------------------------

    def search(self, query: Query) -> SearchPage:
        """Run a parsed query; one page of hits, newest or top first."""
        with self.engine.connect() as conn:
            where = self._query_conditions(conn, query)
            if where is None:
                return SearchPage(hits=(), has_more=False)
            ids: list[int] | None = None
            if query.sort != "top" and self._windowed(query):
                ids = self._recent_text_ids(conn, query)
            if ids is None:
                ids = self._page_ids(conn, query, where)
            has_more = len(ids) > query.limit
            ids = ids[: query.limit]
            hits = self._hydrate(conn, ids)
        return SearchPage(hits=tuple(hits), has_more=has_more)

    def _page_ids(
        self, conn: Connection, query: Query, where: Sequence[ColumnElement[bool]]
    ) -> list[int]:
        """One page of matching ids (plus one, to tell whether there is more)."""
        order: list[Any]
        if query.sort == "top":
            order = [
                papers.c.source_count.desc(),
                papers.c.max_upvotes.desc(),
                papers.c.announced_at.desc(),
                papers.c.id.desc(),
            ]
        else:
            order = [papers.c.announced_at.desc(), papers.c.id.desc()]
        stmt = (
            select(papers.c.id)
            .where(*where)
            .order_by(*order)
            .offset(query.offset)
            .limit(query.limit + 1)
        )
        return [int(i) for i in conn.execute(stmt).scalars()]

    def _windowed(self, query: Query) -> bool:
        """Whether a newest-first search of ``query`` tries the newest papers first: on
        SQLite when the full-text index has a term to look up, on PostgreSQL when any
        word or phrase is wanted."""
        if self.dialect == "sqlite":
            return _fts_expression(query) is not None
        return bool(query.words or query.phrases)

    def _recent_text_ids(self, conn: Connection, query: Query) -> list[int] | None:
        """Newest-first free-text search, tried on the newest papers first.

        A common word matches a large share of a big store, and sorting every match by
        date is what makes such a search slow. Here the search first looks only at the
        newest ``recent_windows[0]`` papers, then the next window, and stops as soon as
        the page is full: every paper outside a window is older than every paper in it,
        so the page is exactly the one the unwindowed search returns. None when no
        window fills the page (the caller then searches everything).

        On SQLite, within a window the full-text index is read only from the window's
        lowest paper id upwards. On PostgreSQL the window's papers are read newest first
        and each one's search row is tested as it comes, which the planner cannot turn
        into a scan of the trigram index: for a phrase of common words (``"language
        model"``), whose every trigram is in a large share of the store, that scan
        rechecked each candidate's text for about a second, where the newest few
        thousand papers hold a page of matches. The next, larger window is tried only
        when the matches of the one before, scaled to its size, fill a page with room to
        spare (a tag and a common phrase together); otherwise the matches are rare, and
        the trigram index finds them faster than a larger window tested paper by paper.
        """
        need = query.offset + query.limit + 1
        for step, window in enumerate(self.recent_windows):
            bound = conn.execute(
                select(papers.c.announced_at)
                .order_by(papers.c.announced_at.desc())
                .offset(window)
                .limit(1)
            ).scalar()
            if bound is None:
                return None  # the store is smaller than the window: search it all
            if self.dialect == "sqlite":
                # ``id + 0``: read the ids from the date index instead of walking the table.
                lowest = conn.execute(
                    select(func.min(papers.c.id + 0)).where(papers.c.announced_at > bound)
                ).scalar()
                if lowest is None:
                    continue
                where = self._query_conditions(conn, query, fts_floor=int(lowest))
            else:
                where = self._query_conditions(conn, query, row_by_row=True)
            if where is None:
                return []
            # The window's first ``need`` matches, the pages before this one's included,
            # so that what a window found is known on every page.
            found = self._page_ids(
                conn,
                replace(query, offset=0, limit=need - 1),
                [*where, papers.c.announced_at > bound],
            )
            if len(found) >= need:
                return found[query.offset :]
            if self.dialect == "postgresql":
                # Go on only where the matches found so far promise a full page in the
                # next window (with room to spare); otherwise the matches are rare, and
                # the trigram index finds them faster than a window tested paper by paper.
                later = self.recent_windows[step + 1 : step + 2]
                if not later or len(found) * later[0] / window < _WINDOW_MARGIN * need:
                    return None
        return None

    def _query_conditions(
        self,
        conn: Connection,
        q: Query,
        *,
        fts_floor: int | None = None,
        row_by_row: bool = False,
    ) -> list[ColumnElement[bool]] | None:
        """WHERE clauses for a query; None when it cannot match anything (unknown tag).

        ``fts_floor``: on SQLite, read the full-text index only from this paper id up.
        ``row_by_row``: on PostgreSQL, test each paper's search row as the paper is read.
        """
        conds: list[ColumnElement[bool]] = []
        if q.tags or q.exclude_tags:
            resolved = self._resolve_slugs(conn, [*q.tags, *q.exclude_tags])
        for slug in q.tags:
            if slug not in resolved:
                return None
            conds.append(
                exists().where(
                    paper_tags.c.paper_id == papers.c.id, paper_tags.c.tag_id == resolved[slug]
                )
            )
        for slug in q.exclude_tags:
            if slug in resolved:
                conds.append(
                    not_(
                        exists().where(
                            paper_tags.c.paper_id == papers.c.id,
                            paper_tags.c.tag_id == resolved[slug],
                        )
                    )
                )
        for name in q.authors:
            conds.append(
                func.lower(papers.c.authors.cast(Text())).contains(name.lower(), autoescape=True)
            )
        if q.sources:
            lowered = [s.lower() for s in q.sources]
            conds.append(
                exists().where(
                    mentions.c.paper_id == papers.c.id,
                    mentions.c.source_id == sources.c.id,
                    func.lower(sources.c.name).in_(lowered),
                )
            )
        if q.since or q.until:
            window = [mentions.c.paper_id == papers.c.id]
            if q.since:
                window.append(mentions.c.mentioned_at >= q.since)
            if q.until:
                window.append(mentions.c.mentioned_at < q.until)
            conds.append(exists().where(*window))
        if q.ids or q.dois or q.urls:
            conds.append(
                or_(
                    papers.c.arxiv_id.in_(list(q.ids)),
                    papers.c.doi.in_(list(q.dois)),
                    papers.c.url_key.in_(list(q.urls)),
                )
            )
        indexed = _fts_expression(q) if self.dialect == "sqlite" else None
        if indexed:
            # One MATCH for every indexed term: FTS5 intersects its own lists.
            conds.append(papers.c.id.in_(_fts_rowids(indexed, floor=fts_floor)))
        conds.extend(self._text_conditions(q, indexed=indexed is not None, row_by_row=row_by_row))
        return conds

    def _text_conditions(
        self, q: Query, *, indexed: bool, row_by_row: bool = False
    ) -> list[ColumnElement[bool]]:
        """The query's words and phrases, wanted and excluded, each matched in the
        database's own index; ``indexed``: the wanted ones SQLite's index can look up are
        already in one MATCH.

        Matches on a paper's search text are tested together, on its one
        ``paper_search`` row. On SQLite in an ``EXISTS``: a search reading papers newest
        first tests each paper's row as it goes and stops at a full page, where
        ``id IN (rows matching)`` would read every search row first. On PostgreSQL, when
        some term is wanted, as ``id IN (rows matching)``, which the planner runs as a
        semi-join from whichever side it expects to be cheaper; with excluded terms only,
        in the ``EXISTS`` (``NOT IN`` rows matching a common word would compare every
        paper with every match).

        ``row_by_row`` (PostgreSQL): a scalar subquery on the paper's search row instead,
        which the planner keeps as a test of each paper read (an ``EXISTS`` or ``IN`` it
        may turn into a join from the trigram index's side).
        """
        on_paper: list[ColumnElement[bool]] = []
        on_text: list[ColumnElement[bool]] = []
        wanted = [(t, True) for t in (*q.words, *q.phrases)]
        unwanted = [(t, False) for t in (*q.exclude_words, *q.exclude_phrases)]
        for term, want in [*wanted, *unwanted]:
            if self.dialect == "sqlite" and len(term) >= FTS_MIN_CHARS:
                if want and indexed:
                    continue
                found = papers.c.id.in_(_fts_rowids(_fts_literal(term)))
                on_paper.append(found if want else not_(found))
                continue
            text_col = paper_search.c.search_text
            if self.dialect == "postgresql":
                match = text_col.ilike(_like_pattern(term), escape="\\")
            else:
                match = func.lower(text_col).like(_like_pattern(term.lower()), escape="\\")
            on_text.append(match if want else not_(match))
        if not on_text:
            return on_paper
        if self.dialect == "postgresql" and row_by_row:
            tested = select(literal(1)).where(paper_search.c.paper_id == papers.c.id, *on_text)
            on_paper.append(tested.scalar_subquery().is_not(None))
        elif self.dialect == "postgresql" and wanted:
            # A semi-join the planner may run from either side: for a term too short for
            # the trigram index that matches little, reading every search row once beats
            # walking the papers newest first and looking up each one's row (measured at
            # a million papers: ~3 s against over a minute).
            rows = select(paper_search.c.paper_id).where(*on_text)
            on_paper.append(papers.c.id.in_(rows))
        else:
            on_paper.append(exists().where(paper_search.c.paper_id == papers.c.id, *on_text))
        return on_paper

    def _paper_rows(
        self, conn: Connection, ids: Sequence[int], *extra: ColumnElement[Any]
    ) -> dict[int, Any]:
        """The columns a ``PaperHit`` is made of (plus ``extra``) of papers, by id: never
        the search text, which grows with every source's summary and is read for nothing."""
        stmt = select(*_HIT_COLUMNS, *extra).where(papers.c.id.in_(ids))
        return {r["id"]: r for r in conn.execute(stmt).mappings()}

    def _hydrate(
        self, conn: Connection, ids: Sequence[int], rows: dict[int, Any] | None = None
    ) -> list[PaperHit]:
        """Papers as hits, in ``ids`` order; ``rows``: their ``_paper_rows`` if read already."""
        if not ids:
            return []
        if rows is None:
            rows = self._paper_rows(conn, ids)
        tag_rows = conn.execute(
            select(paper_tags.c.paper_id, tags.c.display, tags.c.kind)
            .join(tags, tags.c.id == paper_tags.c.tag_id)
            .where(paper_tags.c.paper_id.in_(ids))
            .order_by(tags.c.kind.desc(), tags.c.display)
        )
        tag_map: dict[int, list[str]] = {}
        for pid, display, _kind in tag_rows:
            names = tag_map.setdefault(pid, [])
            if display not in names:
                names.append(display)
        mention_rows = conn.execute(
            select(
                mentions.c.paper_id,
                sources.c.name,
                mentions.c.summary,
                mentions.c.ai_summary,
            )
            .join(sources, sources.c.id == mentions.c.source_id)
            .where(mentions.c.paper_id.in_(ids))
            .order_by(mentions.c.mentioned_at, mentions.c.id)
        )
        source_map: dict[int, list[str]] = {}
        summary_map: dict[int, str] = {}
        for pid, name, summary, ai in mention_rows:
            names = source_map.setdefault(pid, [])
            if name not in names:
                names.append(name)
            if pid not in summary_map and (summary or ai):
                summary_map[pid] = summary or ai
        hits = []
        for pid in ids:
            r = rows[pid]
            other = tuple(r["other_links"] or ())
            url = r["abs_url"] or (arxiv_abs_url(r["arxiv_id"]) if r["arxiv_id"] else "")
            url = url or (other[0] if other else "")
            hits.append(
                PaperHit(
                    paper_id=pid,
                    key=r["key"],
                    title=r["title"],
                    url=url,
                    authors=tuple(r["authors"] or ()),
                    tags=tuple(tag_map.get(pid, ())),
                    sources=tuple(source_map.get(pid, ())),
                    summary=summary_map.get(pid) or r["abstract"],
                    first_seen=r["first_seen_at"],
                    arxiv_id=r["arxiv_id"],
                    links=Links(
                        abs=r["abs_url"],
                        pdf=r["pdf_url"],
                        code=r["code_url"],
                        other=tuple(r["other_links"] or ()),
                    ),
                    title_alt=r["title_alt"],
                )
            )
        return hits

    # -- weekly digests ------------------------------------------------------------------

    def week_candidates(self, start: datetime, end: datetime) -> list[Candidate]:
        """Every paper mentioned in [start, end), with that window's mentions."""
        with self.engine.connect() as conn:
            m = mentions.c
            # Only what a MentionView holds: the other dates would be converted for nothing.
            rows = conn.execute(
                select(
                    m.paper_id,
                    m.mentioned_at,
                    m.title,
                    m.summary,
                    m.summary_lang,
                    m.ai_summary,
                    m.comment,
                    m.announce_type,
                    m.upvotes,
                    m.comments,
                    m.position,
                    m.pick,
                    m.related,
                    m.score,
                    sources.c.name.label("source_name"),
                    sources.c.kind,
                )
                .join(sources, sources.c.id == mentions.c.source_id)
                .where(mentions.c.mentioned_at >= start, mentions.c.mentioned_at < end)
                .order_by(mentions.c.paper_id, mentions.c.mentioned_at, mentions.c.id)
            ).mappings()
            by_paper: dict[int, list[MentionView]] = {}
            for r in rows:
                by_paper.setdefault(r["paper_id"], []).append(_mention_view(r))
            ids = sorted(by_paper)
            hits: dict[int, PaperHit] = {}
            extra: dict[int, tuple[str | None, datetime, int]] = {}
            for chunk_start in range(0, len(ids), _LOOKUP_CHUNK):
                part = ids[chunk_start : chunk_start + _LOOKUP_CHUNK]
                found = self._paper_rows(conn, part, papers.c.announced_at, papers.c.max_upvotes)
                for hit in self._hydrate(conn, part, found):
                    hits[hit.paper_id] = hit
                for pid, r in found.items():
                    extra[pid] = (r["abstract"], r["announced_at"], r["max_upvotes"])
        return [
            Candidate(
                paper=hits[pid],
                abstract=extra[pid][0],
                announced_at=extra[pid][1],
                mentions=tuple(by_paper[pid]),
                upvotes=int(extra[pid][2] or 0),
            )
            for pid in ids
        ]

    def match_ids(self, query: Query, *, start: datetime, end: datetime) -> set[int]:
        """Ids of papers mentioned in [start, end) that match a query's filters."""
        with self.engine.connect() as conn:
            where = self._query_conditions(conn, query)
            if where is None:
                return set()
            in_window = exists().where(
                mentions.c.paper_id == papers.c.id,
                mentions.c.mentioned_at >= start,
                mentions.c.mentioned_at < end,
            )
            stmt = select(papers.c.id).where(in_window, *where)
            return {int(i) for i in conn.execute(stmt).scalars()}

    def week_matcher(self, start: datetime, end: datetime) -> WeekMatcher:
        """``match_ids`` for many queries over one week [start, end): see ``WeekMatcher``."""
        return WeekMatcher(self, start, end)

    def sent_paper_ids(self, team_id: str, channel_id: str, *, except_week: str) -> set[int]:
        """Papers already posted to a channel in another week's digest."""
        stmt = (
            select(digest_items.c.paper_id)
            .join(deliveries, deliveries.c.digest_id == digest_items.c.digest_id)
            .where(
                deliveries.c.team_id == team_id,
                deliveries.c.channel_id == channel_id,
                deliveries.c.state == "posted",
                deliveries.c.week != except_week,
            )
        )
        with self.engine.connect() as conn:
            return {int(i) for i in conn.execute(stmt).scalars()}

    def source_health(self, start: datetime, end: datetime) -> list[SourceHealth]:
        """How each enabled source did in [start, end): mentions, failures, silence.

        A source retired before the week is left out unless it has mentions in it."""
        with self.engine.connect() as conn:
            counts: dict[int, int] = dict(
                conn.execute(
                    select(mentions.c.source_id, func.count())
                    .where(mentions.c.mentioned_at >= start, mentions.c.mentioned_at < end)
                    .group_by(mentions.c.source_id)
                ).all()
            )
            rows = list(
                conn.execute(
                    select(sources).where(sources.c.enabled.is_(True)).order_by(sources.c.name)
                ).mappings()
            )
        out: list[SourceHealth] = []
        for r in rows:
            n = int(counts.get(r["id"], 0))
            if r["retired_at"] is not None and r["retired_at"] < start and n == 0:
                continue  # retired before the week and nothing in it: not this week's news
            failed_in_week = (
                r["last_error_at"] is not None
                and start <= r["last_error_at"] < end
                and r["consecutive_failures"] > 0
            )
            unhealthy = r["health"] is not None and (
                r["health_since"] is None or r["health_since"] < end
            )
            if failed_in_week or r["health"] == "failing":
                status, error = "failing", r["health_reason"] or r["last_error"]
            elif unhealthy:
                status, error = str(r["health"]), r["health_reason"]
            elif n == 0:
                status, error = "empty", None
            else:
                status, error = "ok", None
            kind = r["kind"] or "auto"
            out.append(
                SourceHealth(name=r["name"], kind=kind, mentions=n, status=status, error=error)
            )
        return out

    def latest_mention_at(self) -> datetime | None:
        """When the newest first-hand mention happened (related-paper lists don't count)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.max(mentions.c.mentioned_at)).where(mentions.c.related.is_(False))
            ).scalar_one_or_none()
        return _as_utc(value)

    def save_digest(
        self,
        digest: Digest,
        *,
        query: str,
        top: int,
        now: datetime,
        subscription_id: int | None = None,
    ) -> int:
        """Archive a built digest; returns its id.

        Built again with nothing changed (same week, zone, filter, language and size, and
        the same items, candidates and source health), the digest is not archived twice:
        the id of the copy already archived is returned.
        """
        items = [_item_json(item) for item in digest.items]
        health = [_health_json(h) for h in digest.sources]
        with self._tx() as conn:
            latest = (
                conn.execute(
                    select(digests)
                    .where(
                        digests.c.week == digest.week,
                        digests.c.tz == digest.tz,
                        digests.c.query == query,
                        digests.c.lang.is_not_distinct_from(digest.lang),
                        digests.c.top == top,
                        digests.c.subscription_id.is_not_distinct_from(subscription_id),
                    )
                    .order_by(digests.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if latest is not None and (latest["scope"], latest["candidates"]) == (
                digest.scope,
                digest.candidates,
            ):
                archived = conn.execute(
                    select(digest_items.c.item)
                    .where(digest_items.c.digest_id == latest["id"])
                    .order_by(digest_items.c.rank)
                ).scalars()
                if _same_json([latest["sources"], list(archived)], [health, items]):
                    return int(latest["id"])
            digest_id = conn.execute(
                digests.insert()
                .values(
                    week=digest.week,
                    tz=digest.tz,
                    query=query,
                    scope=digest.scope,
                    lang=digest.lang,
                    top=top,
                    subscription_id=subscription_id,
                    built_at=now,
                    candidates=digest.candidates,
                    sources=health,
                )
                .returning(digests.c.id)
            ).scalar_one()
            if digest.items:
                conn.execute(
                    digest_items.insert(),
                    [
                        {
                            "digest_id": digest_id,
                            "rank": item.rank,
                            "paper_id": item.paper_id,
                            "score": item.score,
                            "item": stored,
                        }
                        for item, stored in zip(digest.items, items, strict=True)
                    ],
                )
        return int(digest_id)

    def list_digests(self, *, limit: int = 20) -> list[ArchivedDigest]:
        count = func.count(digest_items.c.rank)
        stmt = (
            select(digests, count.label("items"))
            .outerjoin(digest_items, digest_items.c.digest_id == digests.c.id)
            .group_by(digests.c.id)
            .order_by(digests.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                ArchivedDigest(
                    id=r["id"],
                    week=r["week"],
                    tz=r["tz"],
                    query=r["query"],
                    scope=r["scope"],
                    lang=r["lang"],
                    built_at=r["built_at"],
                    items=int(r["items"]),
                    subscription_id=r["subscription_id"],
                )
                for r in conn.execute(stmt).mappings()
            ]

    def load_digest(self, digest_id: int, *, start: datetime, end: datetime) -> Digest | None:
        """A stored digest, as it was built (``start``/``end`` come from its week and zone)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(digests).where(digests.c.id == digest_id)).mappings().first()
            if row is None:
                return None
            items = conn.execute(
                select(digest_items.c.item)
                .where(digest_items.c.digest_id == digest_id)
                .order_by(digest_items.c.rank)
            ).scalars()
            loaded = tuple(_item_from_json(i) for i in items)
        return Digest(
            week=row["week"],
            tz=row["tz"],
            start=start,
            end=end,
            items=loaded,
            scope=row["scope"],
            candidates=row["candidates"],
            sources=tuple(_health_from_json(h) for h in row["sources"]),
            lang=row["lang"],
            digest_id=row["id"],
        )

    def digest_row(self, digest_id: int) -> ArchivedDigest | None:
        return next((d for d in self.list_digests(limit=10**6) if d.id == digest_id), None)

    # -- subscriptions -------------------------------------------------------------------

    def add_subscription(
        self, spec: SubscriptionSpec, *, start_week: str, now: datetime
    ) -> Subscription:
        with self._tx() as conn:
            new_id = conn.execute(
                subscriptions.insert()
                .values(
                    team_id=spec.team_id,
                    channel_id=spec.channel_id,
                    query=spec.query,
                    weekday=spec.weekday,
                    time=spec.time,
                    tz=spec.tz,
                    top=spec.top,
                    lang=spec.lang,
                    created_by=spec.created_by,
                    created_at=now,
                    active=True,
                    start_week=start_week,
                )
                .returning(subscriptions.c.id)
            ).scalar_one()
        found = self.get_subscription(int(new_id))
        assert found is not None
        return found

    def get_subscription(self, subscription_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
                .mappings()
                .first()
            )
        return None if row is None else _subscription(row)

    def list_subscriptions(
        self,
        *,
        team_id: str | None = None,
        channel_id: str | None = None,
        active_only: bool = True,
    ) -> list[Subscription]:
        stmt = select(subscriptions).order_by(subscriptions.c.id)
        if team_id is not None:
            stmt = stmt.where(subscriptions.c.team_id == team_id)
        if channel_id is not None:
            stmt = stmt.where(subscriptions.c.channel_id == channel_id)
        if active_only:
            stmt = stmt.where(subscriptions.c.active.is_(True))
        with self.engine.connect() as conn:
            return [_subscription(r) for r in conn.execute(stmt).mappings()]

    def deactivate_subscriptions(
        self, *, team_id: str, channel_id: str, subscription_id: int | None = None
    ) -> int:
        """Unsubscribe one (by id) or all of a channel's subscriptions; returns how many."""
        stmt = (
            update(subscriptions)
            .where(
                subscriptions.c.team_id == team_id,
                subscriptions.c.channel_id == channel_id,
                subscriptions.c.active.is_(True),
            )
            .values(active=False)
        )
        if subscription_id is not None:
            stmt = stmt.where(subscriptions.c.id == subscription_id)
        with self._tx() as conn:
            return int(conn.execute(stmt).rowcount)

    def record_subscription_error(
        self, subscription_id: int, *, error: str, now: datetime, deactivate: bool
    ) -> None:
        values: dict[str, Any] = {"last_error": error[:2000], "last_error_at": now}
        if deactivate:
            values["active"] = False
        with self._tx() as conn:
            conn.execute(update(subscriptions).where(subscriptions.c.id == subscription_id), values)

    # -- deliveries ----------------------------------------------------------------------

    def claim_delivery(
        self,
        *,
        key: str,
        team_id: str,
        channel_id: str,
        week: str,
        subscription_id: int | None,
        holder: str,
        now: datetime,
        stale_after: timedelta,
    ) -> Delivery | None:
        """Record the intent to post (once per key) and claim it for ``holder``.

        Returns the claimed delivery, or None when it is already posted, failed for good,
        or being posted by another live worker. A claim older than ``stale_after`` is
        taken over: its worker died between claiming and finishing, so the caller must
        check Slack for a message that may already be there before posting again.
        """
        intent = DeliveryIntent(key, team_id, channel_id, week, subscription_id)
        claimed = self.claim_deliveries([intent], holder=holder, now=now, stale_after=stale_after)
        return claimed.get(key)

    def get_delivery(self, key: str) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.key == key)).mappings().first()
        return None if row is None else _delivery(row)

    def list_deliveries(
        self, *, team_id: str | None = None, channel_id: str | None = None
    ) -> list[Delivery]:
        stmt = select(deliveries).order_by(deliveries.c.id)
        if team_id is not None:
            stmt = stmt.where(deliveries.c.team_id == team_id)
        if channel_id is not None:
            stmt = stmt.where(deliveries.c.channel_id == channel_id)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(stmt).mappings()]

    def unfinished_deliveries(self) -> list[Delivery]:
        """Deliveries recorded but not finished (pending, or claimed by someone)."""
        stmt = (
            select(deliveries)
            .where(deliveries.c.state.in_(["pending", "posting"]))
            .order_by(deliveries.c.id)
        )
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(stmt).mappings()]

    def attach_digest(self, delivery_id: int, digest_id: int, *, holder: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.claimed_by == holder)
                .values(digest_id=digest_id)
            )

    def mark_posted(
        self,
        delivery_id: int,
        *,
        message_ts: str,
        reply_ts: Sequence[str] = (),
        now: datetime,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    state="posted",
                    message_ts=message_ts,
                    reply_ts=list(reply_ts),
                    posted_at=now,
                    updated_at=now,
                    last_error=None,
                )
            )

    def record_partial_post(
        self, delivery_id: int, *, message_ts: str, reply_ts: Sequence[str], now: datetime
    ) -> None:
        """Remember what was posted so far, so a retry continues in the same thread."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(message_ts=message_ts, reply_ts=list(reply_ts), updated_at=now)
            )

    def release_delivery(
        self, delivery_id: int, *, error: str, now: datetime, permanent: bool
    ) -> None:
        """A failed attempt: back to pending for a later retry, or failed for good."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    state="failed" if permanent else "pending",
                    last_error=error[:2000],
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                )
            )

    # -- deliveries of a fan-out, in batches -------------------------------------------

    def deliveries_by_key(self, keys: Iterable[str]) -> dict[str, Delivery]:
        """The recorded deliveries among ``keys`` (unknown keys are left out)."""
        wanted = sorted(set(keys))
        found: dict[str, Delivery] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[i : i + _LOOKUP_CHUNK]
                stmt = select(deliveries).where(deliveries.c.key.in_(chunk))
                for r in conn.execute(stmt).mappings():
                    found[r["key"]] = _delivery(r)
        return found

    def sent_paper_ids_many(
        self, channels: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], set[int]]:
        """``sent_paper_ids`` for many (team, channel, except_week) at once, by that triple."""
        wanted = set(channels)
        out: dict[tuple[str, str, str], set[int]] = {w: set() for w in wanted}
        by_channel: dict[tuple[str, str], list[tuple[str, set[int]]]] = {}
        for (team, channel, week), sent in out.items():
            by_channel.setdefault((team, channel), []).append((week, sent))
        ids = sorted({c for _t, c, _w in wanted})
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _LOOKUP_CHUNK):
                stmt = (
                    select(deliveries.c.team_id, deliveries.c.channel_id, deliveries.c.week)
                    .add_columns(digest_items.c.paper_id)
                    .join(digest_items, deliveries.c.digest_id == digest_items.c.digest_id)
                    .where(
                        deliveries.c.channel_id.in_(ids[i : i + _LOOKUP_CHUNK]),
                        deliveries.c.state == "posted",
                    )
                )
                for team, channel, week, paper_id in conn.execute(stmt):
                    for except_week, sent in by_channel.get((team, channel), ()):
                        if week != except_week:
                            sent.add(int(paper_id))
        return out

    def claim_deliveries(
        self,
        intents: Sequence[DeliveryIntent],
        *,
        holder: str,
        now: datetime,
        stale_after: timedelta,
    ) -> dict[str, Delivery]:
        """``claim_delivery`` for many keys in one transaction; returns the claimed ones by key.

        Each key gets exactly ``claim_delivery``'s treatment: recorded if new, claimed when
        pending or when its claim is older than ``stale_after`` (``attempts`` + 1), left
        alone when posted, failed, or held by a live worker. Racing callers (threads or
        processes) never both win a key: rows are locked in key order on PostgreSQL (two
        overlapping batches cannot deadlock) and the claim condition is checked again on
        the locked row; SQLite runs one writer at a time.
        """
        ordered = sorted({i.key: i for i in intents}.values(), key=lambda i: i.key)
        claimed: dict[str, Delivery] = {}
        claimable = or_(
            deliveries.c.state == "pending",
            and_(deliveries.c.state == "posting", deliveries.c.claimed_at < now - stale_after),
        )
        with self._tx() as conn:
            for i in range(0, len(ordered), _LOOKUP_CHUNK):
                chunk = ordered[i : i + _LOOKUP_CHUNK]
                conn.execute(
                    self._insert(deliveries)
                    .values(
                        [
                            {
                                "key": d.key,
                                "subscription_id": d.subscription_id,
                                "team_id": d.team_id,
                                "channel_id": d.channel_id,
                                "week": d.week,
                                "state": "pending",
                                "created_at": now,
                                "updated_at": now,
                                "attempts": 0,
                                "reply_ts": [],
                            }
                            for d in chunk
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                locked = (
                    select(deliveries.c.id)
                    .where(deliveries.c.key.in_([d.key for d in chunk]), claimable)
                    .order_by(deliveries.c.key)
                    .with_for_update()
                )
                rows = conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(locked.scalar_subquery()), claimable)
                    .values(
                        state="posting",
                        claimed_by=holder,
                        claimed_at=now,
                        updated_at=now,
                        attempts=deliveries.c.attempts + 1,
                    )
                    .returning(*deliveries.c)
                ).mappings()
                for r in rows:
                    claimed[r["key"]] = _delivery(r)
        return claimed

    def archive_digests(
        self, archived: Sequence[ArchivedForDelivery], *, holder: str, now: datetime
    ) -> list[int]:
        """``save_digest`` then ``attach_digest`` for many claimed deliveries, in one
        transaction; returns the digest ids in the order given.

        A digest is attached only while ``holder`` still holds its delivery, as with
        ``attach_digest``.
        """
        if not archived:
            return []
        with self._tx() as conn:
            ids = [
                int(i)
                for i in conn.execute(
                    digests.insert().returning(digests.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "week": a.digest.week,
                            "tz": a.digest.tz,
                            "query": a.query,
                            "scope": a.digest.scope,
                            "lang": a.digest.lang,
                            "top": a.top,
                            "subscription_id": a.subscription_id,
                            "built_at": now,
                            "candidates": a.digest.candidates,
                            "sources": [_health_json(h) for h in a.digest.sources],
                        }
                        for a in archived
                    ],
                ).scalars()
            ]
            # Plain tuples straight to the driver: SQLAlchemy's per-row binding of ~10
            # items per digest cost more than the inserts. A digest shared by several
            # deliveries is serialized once.
            serialized: dict[int, list[tuple[int, int, float, str]]] = {}
            rows: list[tuple[int, int, int, float, str]] = []
            for digest_id, a in zip(ids, archived, strict=True):
                items = serialized.get(id(a.digest))
                if items is None:
                    items = [
                        (i.rank, i.paper_id, i.score, json.dumps(_item_json(i)))
                        for i in a.digest.items
                    ]
                    serialized[id(a.digest)] = items
                rows.extend((digest_id, *item) for item in items)
            if rows:
                conn.exec_driver_sql(
                    _DIGEST_ITEMS_INSERT_SQLITE
                    if self.dialect == "sqlite"
                    else _DIGEST_ITEMS_INSERT_POSTGRESQL,
                    rows,
                )
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == bindparam("delivery"),
                    deliveries.c.claimed_by == holder,
                )
                .values(digest_id=bindparam("digest")),
                [
                    {"delivery": a.delivery_id, "digest": digest_id}
                    for digest_id, a in zip(ids, archived, strict=True)
                ],
            )
        return ids

    def mark_posted_many(self, posted: Sequence[PostedRecord], *, now: datetime) -> None:
        """``mark_posted`` for many deliveries in one transaction."""
        if not posted:
            return
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == bindparam("delivery"))
                .values(
                    state="posted",
                    message_ts=bindparam("ts"),
                    reply_ts=bindparam("replies", type_=deliveries.c.reply_ts.type),
                    posted_at=bindparam("at", type_=deliveries.c.posted_at.type),
                    updated_at=bindparam("at", type_=deliveries.c.updated_at.type),
                    last_error=None,
                ),
                [
                    {
                        "delivery": p.delivery_id,
                        "ts": p.message_ts,
                        "replies": list(p.reply_ts),
                        "at": p.posted_at or now,
                    }
                    for p in posted
                ],
            )

    # -- leases --------------------------------------------------------------------------

    def acquire_lease(self, name: str, *, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew a named lease; False while another live holder has it."""
        expires = now + ttl
        stmt = (
            self._insert(leases)
            .values(name=name, holder=holder, expires_at=expires)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": holder, "expires_at": expires},
                where=or_(leases.c.holder == holder, leases.c.expires_at < now),
            )
            .returning(leases.c.holder)
        )
        with self._tx() as conn:
            got = conn.execute(stmt).scalar_one_or_none()
        return got == holder

    def release_lease(self, name: str, *, holder: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease_holder(self, name: str, *, now: datetime) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
            ).first()
        if row is None or row[1] < now:
            return None
        return str(row[0])

    # -- Slack users ---------------------------------------------------------------------

    def cached_admin(
        self, team_id: str, user_id: str, *, now: datetime, max_age: timedelta
    ) -> bool | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(slack_users.c.is_admin, slack_users.c.checked_at).where(
                    slack_users.c.team_id == team_id, slack_users.c.user_id == user_id
                )
            ).first()
        if row is None or row[1] < now - max_age:
            return None
        return bool(row[0])

    def cache_admin(self, team_id: str, user_id: str, *, is_admin: bool, now: datetime) -> None:
        stmt = (
            self._insert(slack_users)
            .values(team_id=team_id, user_id=user_id, is_admin=is_admin, checked_at=now)
            .on_conflict_do_update(
                index_elements=["team_id", "user_id"],
                set_={"is_admin": is_admin, "checked_at": now},
            )
        )
        with self._tx() as conn:
            conn.execute(stmt)

    def paper_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    # -- summary cache -------------------------------------------------------------------

    def cached_summary(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(summary_cache.c.text).where(summary_cache.c.key == key)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def cache_summary(self, key: str, value: str, *, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                self._insert(summary_cache)
                .values(key=key, text=value, created_at=now)
                .on_conflict_do_nothing()
            )


class WeekMatcher:
    """``Store.match_ids`` for many queries over one week, each filter term looked up once.

    A filter is a conjunction, so the papers a query matches are the intersection of the
    papers each of its terms matches (a tag, an excluded tag, an author, a word, the
    sources...). Terms recur across subscriptions: each is looked up once and kept, and
    a query is then a few set intersections. Every term keeps the meaning of the SQL
    condition ``match_ids`` builds for it:

    - tags and, on SQLite, full-text words are read from their indexes (``paper_tags``,
      ``paper_fts``) and intersected with the week's papers;
    - authors and sources are compared in memory with the database's own lower-cased
      text of the week's papers (``lower(authors)`` contains the name; one of the
      ``lower(source name)`` equals one asked for), as the SQL compares them;
    - anything else (dates, ids, PostgreSQL's ILIKE, words shorter than a trigram) runs
      ``match_ids`` for that one term.

    Safe to share between threads: at worst a term is looked up twice.
    """

    def __init__(self, store: Store, start: datetime, end: datetime) -> None:
        self._store = store
        self.start = start
        self.end = end
        self._week: frozenset[int] | None = None
        self._authors: dict[int, str] | None = None
        self._sources: dict[int, frozenset[str]] | None = None
        self._terms: dict[tuple[Any, ...], frozenset[int]] = {}
        self._displays: dict[str, str | None] = {}

    def match_ids(self, query: Query) -> set[int]:
        """What ``Store.match_ids(query, start=start, end=end)`` returns."""
        sets = sorted((self._term(key) for key in _term_keys(query)), key=len)
        if not sets:
            return set(self._week_ids())
        out = set(sets[0])
        for other in sets[1:]:
            out &= other
            if not out:
                break
        return out

    def tag_displays(self, slugs: Sequence[str]) -> dict[str, str]:
        """``Store.tag_displays``, each slug looked up once for the week's digests."""
        missing = [s for s in dict.fromkeys(slugs) if s not in self._displays]
        if missing:
            found = self._store.tag_displays(missing)
            for slug in missing:
                self._displays[slug] = found.get(slug)
        return {s: d for s in slugs if (d := self._displays[s]) is not None}

    def _week_ids(self) -> frozenset[int]:
        if self._week is None:
            with self._store.engine.connect() as conn:
                self._week = frozenset(
                    int(i) for i in conn.execute(self._in_week().distinct()).scalars()
                )
        return self._week

    def _in_week(self) -> Select[Any]:
        return select(mentions.c.paper_id).where(
            mentions.c.mentioned_at >= self.start, mentions.c.mentioned_at < self.end
        )

    def _term(self, key: tuple[Any, ...]) -> frozenset[int]:
        found = self._terms.get(key)
        if found is None:
            found = self._terms[key] = frozenset(self._lookup(key))
        return found

    def _lookup(self, key: tuple[Any, ...]) -> set[int] | frozenset[int]:
        kind, value = key
        week = self._week_ids()
        store = self._store
        if kind in ("tag", "-tag"):
            with store.engine.connect() as conn:
                tag_id = store._resolve_slugs(conn, [value]).get(value)
                if tag_id is None:  # an unknown tag matches nothing; excluding it, everything
                    return set() if kind == "tag" else week
                tagged = {
                    int(i)
                    for i in conn.execute(
                        select(paper_tags.c.paper_id).where(paper_tags.c.tag_id == tag_id)
                    ).scalars()
                }
            return week & tagged if kind == "tag" else week - tagged
        if kind in ("text", "-text") and store.dialect == "sqlite" and len(value) >= FTS_MIN_CHARS:
            with store.engine.connect() as conn:
                rows = conn.execute(_fts_rowids(_fts_literal(value))).scalars()
                found = {int(i) for i in rows}
            return week & found if kind == "text" else week - found
        if kind == "author":
            name = value.lower()
            return {pid for pid, text_ in self._author_texts().items() if name in text_}
        if kind == "sources":
            lowered = {s.lower() for s in value}
            return {pid for pid, names in self._source_names().items() if names & lowered}
        return store.match_ids(_term_query(key), start=self.start, end=self.end)

    def _author_texts(self) -> dict[int, str]:
        """Each week paper's authors as the SQL condition sees them: lower(authors)."""
        if self._authors is None:
            stmt = select(papers.c.id, func.lower(papers.c.authors.cast(Text()))).where(
                papers.c.id.in_(self._in_week())
            )
            with self._store.engine.connect() as conn:
                self._authors = {int(pid): text_ or "" for pid, text_ in conn.execute(stmt)}
        return self._authors

    def _source_names(self) -> dict[int, frozenset[str]]:
        """Each week paper's sources (any mention, in the week or not), lower-cased by the
        database as the SQL condition compares them."""
        if self._sources is None:
            stmt = (
                select(mentions.c.paper_id, func.lower(sources.c.name))
                .join(sources, sources.c.id == mentions.c.source_id)
                .where(mentions.c.paper_id.in_(self._in_week()))
                .distinct()
            )
            names: dict[int, set[str]] = {}
            with self._store.engine.connect() as conn:
                for pid, name in conn.execute(stmt):
                    names.setdefault(int(pid), set()).add(name)
            self._sources = {pid: frozenset(n) for pid, n in names.items()}
        return self._sources


def _term_keys(q: Query) -> list[tuple[Any, ...]]:
    """A query's filter as independent terms, each one condition of ``_query_conditions``."""
    keys: list[tuple[Any, ...]] = [("tag", s) for s in q.tags]
    keys += [("-tag", s) for s in q.exclude_tags]
    keys += [("author", a) for a in q.authors]
    if q.sources:
        keys.append(("sources", tuple(q.sources)))
    if q.since or q.until:
        keys.append(("window", (q.since, q.until)))
    if q.ids or q.dois or q.urls:
        keys.append(("ids", (q.ids, q.dois, q.urls)))
    keys += [("text", t) for t in (*q.words, *q.phrases)]
    keys += [("-text", t) for t in (*q.exclude_words, *q.exclude_phrases)]
    return keys


def _term_query(key: tuple[Any, ...]) -> Query:
    """The one-term query whose only condition is the term's."""
    kind, value = key
    if kind == "window":
        return Query(since=value[0], until=value[1])
    if kind == "ids":
        return Query(ids=value[0], dois=value[1], urls=value[2])
    if kind == "text":
        return Query(words=(value,))
    if kind == "-text":
        return Query(exclude_words=(value,))
    if kind == "author":
        return Query(authors=(value,))
    if kind == "sources":
        return Query(sources=value)
    raise ValueError(f"no one-term query for {kind!r}")


# What a ``PaperHit`` is made of: ``_hydrate`` reads these and no more.
_HIT_COLUMNS = (
    papers.c.id,
    papers.c.key,
    papers.c.title,
    papers.c.title_alt,
    papers.c.authors,
    papers.c.abstract,
    papers.c.arxiv_id,
    papers.c.abs_url,
    papers.c.pdf_url,
    papers.c.code_url,
    papers.c.other_links,
    papers.c.first_seen_at,
)


@dataclass(frozen=True, slots=True)
class _Unit:
    """A slice of one document (at most ``_LOOKUP_CHUNK`` entries) and its source."""

    doc: int  # the document's place in the call
    source_id: int
    items: Sequence[PreparedEntry]


def _groups(units: Sequence[_Unit]) -> Iterator[list[_Unit]]:
    """Consecutive slices stored together: up to ``_GROUP_ITEMS`` entries, one slice per
    source (a source's next slice must see the mentions of its previous one)."""
    group: list[_Unit] = []
    size = 0
    seen: set[int] = set()
    for unit in units:
        if group and (size + len(unit.items) > _GROUP_ITEMS or unit.source_id in seen):
            yield group
            group, size, seen = [], 0, set()
        group.append(unit)
        size += len(unit.items)
        seen.add(unit.source_id)
    if group:
        yield group


def _pg() -> Any:
    """SQLAlchemy's PostgreSQL dialect, imported on first use: loading it (and the dialect
    modules of every PostgreSQL driver with it) is ~10 % of ``paperbot query`` starting up
    on SQLite, which never needs it."""
    from sqlalchemy.dialects import postgresql  # noqa: PLC0415

    return postgresql


def _among(conn: Connection, col: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``col IN (values)``. On PostgreSQL the values go as one array (``col = ANY(…)``):
    an IN list is a placeholder per value, a statement text psycopg parses afresh for
    every length it sees (a quarter of storing a page went there), where one array
    parameter keeps the text the same. On tables not yet analyzed, the planner also
    scans the whole table for long IN lists but uses the indexes for the array."""
    listed = list(values)
    if conn.dialect.name == "postgresql":
        return col == any_(bindparam(None, listed, type_=_pg().ARRAY(col.type)))
    return col.in_(listed)


def _known_papers(conn: Connection, chunk: Sequence[PreparedEntry]) -> Select[Any]:
    """The stored papers any item of ``chunk`` could be, by any identity, in id order."""
    arxiv = {p.entry.arxiv_id for p in chunk if p.entry.arxiv_id}
    dois = {p.entry.doi for p in chunk if p.entry.doi}
    urls = {p.url_key for p in chunk if p.url_key}
    clauses = [
        _among(conn, papers.c.key, {p.key for p in chunk}),
        _among(conn, papers.c.title_key, {p.title_key for p in chunk}),
    ]
    if arxiv:
        clauses.append(_among(conn, papers.c.arxiv_id, arxiv))
    if dois:
        clauses.append(_among(conn, papers.c.doi, dois))
    if urls:
        clauses.append(_among(conn, papers.c.url_key, urls))
    # Each paper's search text by its key, row by row: as a join, PostgreSQL may plan a
    # scan of every search text for each slice while a table's statistics are new.
    search_text = (
        select(paper_search.c.search_text)
        .where(paper_search.c.paper_id == papers.c.id)
        .scalar_subquery()
        .label("search_text")
    )
    # In id order: the first paper read under a title keeps it (``PaperIndex.add``).
    return select(papers, search_text).where(or_(*clauses)).order_by(papers.c.id)


class _Mirror:
    """The papers a group of slices can reach, as the database holds them between slices.

    Storing documents one after another reads each slice's known papers afresh. A group
    stores its slices together, so each slice's index is built from here instead: the
    rows read once for the whole group, kept current as slices change them, and the
    group's new papers. A slice sees them in the order a fresh read would (``_known_papers``
    reads in id order; new papers come after every stored one, in the order they are
    inserted), and only those its identities match as the rows stand now.
    """

    _FIELDS = ("key", "title_key", "arxiv_id", "doi", "url_key")

    def __init__(self) -> None:
        self.by: dict[str, dict[str, list[dict[str, Any]]]] = {f: {} for f in self._FIELDS}
        self.order: dict[int, int] = {}  # id(row) -> its place in a fresh read

    def load(self, conn: Connection, chunk: Sequence[PreparedEntry]) -> None:
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(chunk), _LOOKUP_CHUNK):
            stmt = _known_papers(conn, chunk[start : start + _LOOKUP_CHUNK])
            for row in conn.execute(stmt).mappings():
                found[int(row["id"])] = dict(row)
        for paper_id in sorted(found):
            self.add(found[paper_id])

    def add(self, row: dict[str, Any]) -> None:
        """A row read, created or changed: findable under its identities as they are now."""
        self.order.setdefault(id(row), len(self.order))
        for name in self._FIELDS:
            value = row[name]
            if value is None:
                continue
            listed = self.by[name].setdefault(value, [])
            if not any(r is row for r in listed):
                listed.append(row)

    def index_for(self, items: Sequence[PreparedEntry]) -> PaperIndex:
        """The index a fresh read of ``items``' known papers (``_known_papers``) would give now."""
        wanted = {
            "key": {p.key for p in items},
            "title_key": {p.title_key for p in items},
            "arxiv_id": {p.entry.arxiv_id for p in items if p.entry.arxiv_id},
            "doi": {p.entry.doi for p in items if p.entry.doi},
            "url_key": {p.url_key for p in items if p.url_key},
        }
        found: dict[int, dict[str, Any]] = {}
        for name, values in wanted.items():
            rows_by = self.by[name]
            for value in values:
                for row in rows_by.get(value, ()):
                    if row[name] == value:  # not a value the row has since changed
                        found[id(row)] = row
        return PaperIndex(sorted(found.values(), key=lambda r: self.order[id(r)]))


def _pg_column(conn: Connection, col: Any, values: list[Any], i: int) -> tuple[Any, str, str]:
    """One column's values as a binary PostgreSQL array parameter ``p<i>``: the parameter,
    its ``CAST(… AS type[])`` for ``unnest``, and how to read element ``u.c<i>`` back.

    Converted once per column by the column type's own bind processing. JSON goes as
    text and is cast back, since psycopg has no binary JSON array.
    """
    kind = col.type
    if isinstance(kind, JSON):
        texts = [None if v is None else json.dumps(v) for v in values]
        return texts, f"CAST(%(p{i})b AS TEXT[])", f"CAST(u.c{i} AS JSON)"
    if isinstance(kind, UTCDateTime):
        values = [kind.process_bind_param(v, conn.dialect) for v in values]
    return values, f"CAST(%(p{i})b AS {kind.compile(dialect=conn.dialect)}[])", f"u.c{i}"


def _sqlite_bind(conn: Connection, col: Any) -> Callable[[Any], Any] | None:
    """The column type's own conversion of a value for the SQLite driver (None: as is).

    A batch holds few distinct times (the ingest's ``now``, a listing's publication
    days), so a time column's conversion, a string format per value, is done once per
    distinct value of the batch.
    """
    proc: Callable[[Any], Any] | None = col.type.dialect_impl(conn.dialect).bind_processor(
        conn.dialect
    )
    if proc is None or not isinstance(col.type, UTCDateTime):
        return proc
    convert = proc
    done: dict[datetime | None, Any] = {}

    def once(value: datetime | None) -> Any:
        try:
            return done[value]
        except KeyError:
            out = done[value] = convert(value)
            return out

    return once


def _sqlite_rows(
    conn: Connection, table: Any, cols: Sequence[str], columns: Sequence[list[Any]]
) -> list[tuple[Any, ...]]:
    """Rows for the SQLite driver from ``columns`` (``columns[i]`` holds column
    ``cols[i]`` of every row): each column converted by its type's bind processing, a
    column at a time, then interleaved into tuples."""
    converted = []
    for name, values in zip(cols, columns, strict=True):
        proc = _sqlite_bind(conn, table.c[name])
        converted.append(values if proc is None else [proc(v) for v in values])
    return list(zip(*converted, strict=True))


def _mention_values(item: PreparedEntry) -> dict[str, Any]:
    """A mention's texts and signals as this item gives them."""
    e = item.entry
    s = e.signals
    return {
        "upvotes": s.upvotes,
        "comments": s.comments,
        "position": s.position,
        "pick": s.pick,
        "related": s.related,
        "score": s.score,
        "title": e.title,
        "summary": e.summary,
        "summary_lang": e.summary_lang,
        "ai_summary": e.ai_summary,
        "comment": e.comment,
        "announce_type": e.announce_type,
        "version": e.arxiv_version,
    }


def _fts_literal(term: str) -> str:
    """An FTS5 string literal: the term matches as written, operators and all."""
    return '"' + term.replace('"', '""') + '"'


def _fts_expression(q: Query) -> str | None:
    """One FTS5 MATCH for the query's positive words and phrases the trigram index can
    look up (3+ characters); None when there is none."""
    terms = [t for t in (*q.words, *q.phrases) if len(t) >= FTS_MIN_CHARS]
    return " AND ".join(_fts_literal(t) for t in terms) if terms else None


def _fts_rowids(expression: str, *, floor: int | None = None) -> Select[Any]:
    """The paper ids the SQLite full-text index matches, from ``floor`` up if given."""
    stmt = (
        select(text("rowid"))
        .select_from(text("paper_fts"))
        .where(text("paper_fts MATCH :fts").bindparams(bindparam("fts", expression, unique=True)))
    )
    if floor is not None:
        stmt = stmt.where(
            text("rowid >= :floor").bindparams(bindparam("floor", floor, unique=True))
        )
    return stmt


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates come back as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _mention_view(r: Any) -> MentionView:
    return MentionView(
        source_name=r["source_name"],
        source_kind=SourceKind(r["kind"]) if r["kind"] else None,
        mentioned_at=r["mentioned_at"],
        title=r["title"],
        summary=r["summary"],
        summary_lang=r["summary_lang"],
        ai_summary=r["ai_summary"],
        comment=r["comment"],
        announce_type=r["announce_type"],
        signals=Signals(
            upvotes=r["upvotes"],
            comments=r["comments"],
            position=r["position"],
            pick=bool(r["pick"]),
            related=bool(r["related"]),
            score=r["score"],
        ),
    )


def _health_json(h: SourceHealth) -> dict[str, Any]:
    return {
        "name": h.name,
        "kind": h.kind,
        "mentions": h.mentions,
        "status": h.status,
        "error": h.error,
    }


def _same_json(stored: Any, new: Any) -> bool:
    """Whether ``new`` would be stored as ``stored`` reads back (tuples become lists)."""
    return json.dumps(stored, sort_keys=True) == json.dumps(new, sort_keys=True)


def _health_from_json(d: dict[str, Any]) -> SourceHealth:
    return SourceHealth(
        name=d["name"],
        kind=d["kind"],
        mentions=d["mentions"],
        status=d["status"],
        error=d.get("error"),
    )


def _item_json(item: DigestItem) -> dict[str, Any]:
    return {
        "rank": item.rank,
        "paper_id": item.paper_id,
        "title": item.title,
        "url": item.url,
        "authors": list(item.authors),
        "summary": item.summary,
        "tags": list(item.tags),
        "reasons": [{"code": r.code, "label": r.label, "points": r.points} for r in item.reasons],
        "score": item.score,
        "links": {
            "abs": item.links.abs,
            "pdf": item.links.pdf,
            "code": item.links.code,
            "other": list(item.links.other),
        },
        "title_alt": item.title_alt,
    }


def _item_from_json(d: dict[str, Any]) -> DigestItem:
    links = d.get("links") or {}
    return DigestItem(
        rank=d["rank"],
        paper_id=d["paper_id"],
        title=d["title"],
        url=d["url"],
        authors=tuple(d["authors"]),
        summary=d["summary"],
        tags=tuple(d["tags"]),
        reasons=tuple(Reason(r["code"], r["label"], r["points"]) for r in d["reasons"]),
        score=d["score"],
        links=Links(
            abs=links.get("abs"),
            pdf=links.get("pdf"),
            code=links.get("code"),
            other=tuple(links.get("other") or ()),
        ),
        title_alt=d.get("title_alt"),
    )


def _subscription(r: Any) -> Subscription:
    return Subscription(
        id=r["id"],
        team_id=r["team_id"],
        channel_id=r["channel_id"],
        query=r["query"],
        weekday=r["weekday"],
        time=r["time"],
        tz=r["tz"],
        top=r["top"],
        lang=r["lang"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        active=r["active"],
        start_week=r["start_week"],
        last_error=r["last_error"],
        last_error_at=r["last_error_at"],
    )


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=r["id"],
        key=r["key"],
        subscription_id=r["subscription_id"],
        team_id=r["team_id"],
        channel_id=r["channel_id"],
        week=r["week"],
        digest_id=r["digest_id"],
        state=r["state"],
        attempts=r["attempts"],
        created_at=_as_utc(r["created_at"]) or datetime.min.replace(tzinfo=UTC),
        claimed_by=r["claimed_by"],
        claimed_at=_as_utc(r["claimed_at"]),
        message_ts=r["message_ts"],
        reply_ts=tuple(r["reply_ts"] or ()),
        posted_at=_as_utc(r["posted_at"]),
        last_error=r["last_error"],
    )


@dataclass(frozen=True, slots=True)
class DeliveryIntent:
    """A delivery to record and claim (``Store.claim_deliveries``)."""

    key: str
    team_id: str
    channel_id: str
    week: str
    subscription_id: int | None


@dataclass(frozen=True, slots=True)
class ArchivedForDelivery:
    """A built digest to archive and attach to its claimed delivery (``Store.archive_digests``)."""

    delivery_id: int
    digest: Digest
    query: str
    top: int
    subscription_id: int | None


@dataclass(frozen=True, slots=True)
class PostedRecord:
    """A delivery Slack has taken in full (``Store.mark_posted_many``)."""

    delivery_id: int
    message_ts: str
    reply_ts: tuple[str, ...] = ()
    posted_at: datetime | None = None


def _source_info(r: Any, paper_count: int) -> SourceInfo:
    kind = SourceKind(r["kind"]) if r["kind"] else None
    return SourceInfo(
        id=r["id"],
        name=r["name"],
        location=r["location"],
        kind=kind,
        interval_seconds=r["interval_seconds"],
        tags=tuple(r["tags"] or ()),
        origin=r["origin"],
        enabled=r["enabled"],
        created_at=r["created_at"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        body_hash=r["body_hash"],
        last_checked_at=r["last_checked_at"],
        last_success_at=r["last_success_at"],
        next_check_at=r["next_check_at"],
        consecutive_failures=r["consecutive_failures"],
        last_error=r["last_error"],
        last_error_at=r["last_error_at"],
        last_entry_count=r["last_entry_count"],
        content_changed_at=r["content_changed_at"],
        failing_since=r["failing_since"],
        health=r["health"],
        health_reason=r["health_reason"],
        health_since=r["health_since"],
        health_notified_at=r["health_notified_at"],
        retired_at=r["retired_at"],
        paper_count=paper_count,
    )


__all__ = [
    "ArchivedForDelivery",
    "DeliveryIntent",
    "FetchRecord",
    "HealthVerdict",
    "PostedRecord",
    "SearchPage",
    "SourceSync",
    "Store",
    "create_db_engine",
    "database_url",
    "metadata",
    "upgrade",
    "wait_for_database",
]
