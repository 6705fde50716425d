"""Opening the database: its URL, engine, schema migrations and the wait for a server."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from digests.errors import DatabaseUnavailable, DatabaseURLError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config


log = logging.getLogger(__name__)


_MIGRATIONS = Path(__file__).parents[1] / "migrations"


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


def dump_json(value: Any) -> str:
    """JSON as the store keeps it: non-ASCII text as is, not as ``\\u`` escapes, so that
    the text of a JSON column (an author's "Łukasz") reads as what it holds."""
    return json.dumps(value, ensure_ascii=False)


def unicode_lower(value: str | None) -> str | None:
    """``str.lower`` as the SQL function ``unicode_lower`` on SQLite, whose own
    ``lower()`` folds ASCII letters only; PostgreSQL's ``lower()`` folds them all."""
    return None if value is None else value.lower()


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
        engine = create_engine(
            parsed,
            connect_args={"timeout": _SQLITE_BUSY_MS / 1000},
            json_serializer=dump_json,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers never block the writer; a crash mid-write never corrupts.
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                _switch_to_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
            cur.close()
            dbapi_conn.create_function("unicode_lower", 1, unicode_lower, deterministic=True)

        return engine
    return create_engine(
        parsed, pool_pre_ping=True, pool_size=10, max_overflow=10, json_serializer=dump_json
    )


@retry(
    retry=retry_if_exception(lambda e: "locked" in str(e)),
    wait=wait_random(0.01, 0.1),
    stop=stop_after_delay(_SQLITE_BUSY_MS / 1000),
    reraise=True,
)
def _switch_to_wal(cur: sqlite3.Cursor) -> None:
    """Processes opening a new file together each try to switch it; SQLite answers
    "locked" at once, without waiting, to all but one of them, so they try again."""
    cur.execute("PRAGMA journal_mode=WAL")


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
        raise StoreError(f"cannot upgrade the database schema: {short_db_error(e)}") from e


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
                short_db_error(e),
            )
            if attempt < attempts:
                sleep(delay * 2 ** (attempt - 1))
    where = engine.url.render_as_string(hide_password=True)
    raise DatabaseUnavailable(
        f"cannot reach the database at {where} after {attempts} attempts: "
        f"{short_db_error(last)}. Check DATABASE_URL and that the server is running."
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
    said = short_db_error(e)
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


def short_db_error(e: Exception | None) -> str:
    if e is None:
        return "unknown error"
    orig = getattr(e, "orig", None)
    return str(orig or e).strip().splitlines()[0]


def integrity_check(engine: Engine) -> str:
    """SQLite's own consistency check ("ok" when sound); "ok" elsewhere."""
    if engine.dialect.name != "sqlite":
        return "ok"
    with engine.connect() as conn:
        return str(conn.execute(text("PRAGMA integrity_check")).scalar_one())


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for a database paperbot has not set up."""
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no alembic_version table: a new database
        return None
    return str(found) if found is not None else None
