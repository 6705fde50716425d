"""Sources: the operator's list, their fetch validators, failures and health."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)

from digests.errors import StoreError
from digests.model import (
    SourceHealth,
    SourceInfo,
    SourceKind,
    SourceSpec,
    source_name_key,
)
from digests.schema import (
    UTCDateTime,
    mentions,
    papers,
    sources,
)
from digests.store.base import StoreBase
from digests.store.papers import paper_signals

log = logging.getLogger(__name__)


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


class SourceStore(StoreBase):
    """Sources and how their checks went."""

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
            "family": spec.family,
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
                    "family": spec.family,
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
                        family=spec.family,
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
            left = paper_signals(conn, ids)
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

    def record_fetches(self, records: Sequence[FetchRecord], *, now: datetime) -> None:
        """Successful checks, in one transaction: the new validators, and each failure
        streak reset. A record with ``entry_count`` is of a document that was parsed, which
        happens only when its body changed: that moment is kept as ``content_changed_at``.
        One executemany per shape of row."""
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

    def set_healths(self, verdicts: Sequence[HealthVerdict], *, now: datetime) -> int:
        """Sources' health, in one statement; returns how many changed (so admins hear a
        change once).

        Only the sources whose health changed are touched: a source keeps its reason and
        notice time while its health stays the same.
        """
        if not verdicts:
            return 0
        rows = [self._health_row(v.source_id, v.health, v.reason, now) for v in verdicts]
        with self._tx() as conn:
            changed = conn.execute(self._health_update(), rows)
        return int(changed.rowcount)

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
        family=r["family"],
    )
