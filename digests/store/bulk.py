"""The dialect-specific bulk writes: many rows in a few statements on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    any_,
    bindparam,
)
from sqlalchemy.dialects import sqlite as sqlite_dialect

from digests.schema import (
    UTCDateTime,
)
from digests.store.engine import dump_json

log = logging.getLogger(__name__)


LOOKUP_CHUNK = 500


def insert_rows(
    conn: Connection,
    table: Any,
    rows: Sequence[dict[str, Any]],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """INSERT … ON CONFLICT DO NOTHING of many rows (same keys), RETURNING ``returning``."""
    cols = list(rows[0])
    return insert_columns(
        conn, table, cols, [[row[name] for row in rows] for name in cols], returning
    )


def insert_columns(
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
    if conn.dialect.name != "postgresql":
        # SQLite: an executemany of tuples, or multi-row VALUES when rows come back
        # (or ``multi_row``).
        data = sqlite_rows(conn, table, cols, columns)
        one = "(" + ", ".join("?" * len(cols)) + ")"
        head = f'INSERT INTO "{table.name}" ({names}) VALUES '  # noqa: S608 (our own names)
        if not returning and not multi_row:
            conn.exec_driver_sql(head + one + back, data)
            return []
        # SQLite allows 32,766 bound values per statement.
        step = max(1, min(LOOKUP_CHUNK, 30_000 // len(cols)))
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
        param, array, pick = pg_column(conn, table.c[name], values, i)
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


def update_by_id(
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
        if conn.dialect.name == "postgresql":
            params: dict[str, Any] = {}
            arrays: list[str] = []
            picks: list[str] = []
            for i, col in enumerate((key, *cols)):
                param, array, pick = pg_column(conn, table.c[col], [row[i] for row in data], i)
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
        step = max(1, min(LOOKUP_CHUNK, 30_000 // (len(cols) + 1)))
        converted = sqlite_rows(
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


def insert_tuples(
    conn: Connection, table: Any, cols: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT rows already in the driver's form (JSON columns as text), one executemany of
    plain tuples: without SQLAlchemy's binding of each value."""
    names = ", ".join(f'"{c}"' for c in cols)
    if conn.dialect.name == "postgresql":
        marks = ["CAST(%s AS json)" if isinstance(table.c[c].type, JSON) else "%s" for c in cols]
    else:
        marks = ["?"] * len(cols)
    # Names come from our own table definitions, never from data.
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join(marks)})'  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))


def upsert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT that knows ON CONFLICT."""
    if dialect == "postgresql":
        return pg_dialect().insert(table)
    return sqlite_dialect.insert(table)


def pg_dialect() -> Any:
    """SQLAlchemy's PostgreSQL dialect, imported on first use: loading it (and the dialect
    modules of every PostgreSQL driver with it) is ~10 % of ``paperbot query`` starting up
    on SQLite, which never needs it."""
    from sqlalchemy.dialects import postgresql  # noqa: PLC0415

    return postgresql


def among(conn: Connection, col: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``col IN (values)``. On PostgreSQL the values go as one array (``col = ANY(…)``):
    an IN list is a placeholder per value, a statement text psycopg parses afresh for
    every length it sees (a quarter of storing a page went there), where one array
    parameter keeps the text the same. On tables not yet analyzed, the planner also
    scans the whole table for long IN lists but uses the indexes for the array."""
    listed = list(values)
    if conn.dialect.name == "postgresql":
        return col == any_(bindparam(None, listed, type_=pg_dialect().ARRAY(col.type)))
    return col.in_(listed)


def pg_column(conn: Connection, col: Any, values: list[Any], i: int) -> tuple[Any, str, str]:
    """One column's values as a binary PostgreSQL array parameter ``p<i>``: the parameter,
    its ``CAST(… AS type[])`` for ``unnest``, and how to read element ``u.c<i>`` back.

    Converted once per column by the column type's own bind processing. JSON goes as
    text and is cast back, since psycopg has no binary JSON array.
    """
    kind = col.type
    if isinstance(kind, JSON):
        texts = [None if v is None else dump_json(v) for v in values]
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


def sqlite_rows(
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
