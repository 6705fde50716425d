"""The digest archive: every digest as it was built."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    select,
    update,
)

from digests.model import (
    Digest,
    DigestItem,
    Links,
    Reason,
    SourceHealth,
)
from digests.schema import (
    deliveries,
    digest_items,
    digests,
)
from digests.store.base import StoreBase
from digests.store.bulk import insert_tuples

log = logging.getLogger(__name__)


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
class ArchivedForDelivery:
    """A built digest to archive and attach to its claimed delivery (``Store.archive_digests``)."""

    delivery_id: int
    digest: Digest
    query: str
    top: int
    subscription_id: int | None


class ArchiveStore(StoreBase):
    """Built digests, archived and read back."""

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
            [digest_id] = _insert_digests(conn, [(digest, query, top, subscription_id)], now=now)
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

    def archive_digests(
        self, archived: Sequence[ArchivedForDelivery], *, holder: str, now: datetime
    ) -> list[int]:
        """Archive the digests of many claimed deliveries and attach each to its delivery,
        in one transaction; returns the digest ids in the order given. Each delivery gets
        its own row, as built: unlike ``save_digest`` it looks for no equal copy.

        A digest is attached only while ``holder`` still holds its delivery, as with
        ``attach_digest``.
        """
        if not archived:
            return []
        with self._tx() as conn:
            ids = _insert_digests(
                conn,
                [(a.digest, a.query, a.top, a.subscription_id) for a in archived],
                now=now,
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


def _insert_digests(
    conn: Connection,
    batch: Sequence[tuple[Digest, str, int, int | None]],
    *,
    now: datetime,
) -> list[int]:
    """Insert digests (with their query, size and subscription) and their items; returns
    their ids in the order given. A digest shared by several entries is serialized once."""
    ids = [
        int(i)
        for i in conn.execute(
            digests.insert().returning(digests.c.id, sort_by_parameter_order=True),
            [
                {
                    "week": digest.week,
                    "tz": digest.tz,
                    "query": query,
                    "scope": digest.scope,
                    "lang": digest.lang,
                    "top": top,
                    "subscription_id": subscription_id,
                    "built_at": now,
                    "candidates": digest.candidates,
                    "sources": [_health_json(h) for h in digest.sources],
                }
                for digest, query, top, subscription_id in batch
            ],
        ).scalars()
    ]
    # Plain tuples straight to the driver: SQLAlchemy's per-row binding of each item
    # costs more than the inserts.
    serialized: dict[int, list[tuple[int, int, float, str]]] = {}
    rows: list[tuple[int, int, int, float, str]] = []
    for digest_id, (digest, *_rest) in zip(ids, batch, strict=True):
        items = serialized.get(id(digest))
        if items is None:
            items = [(i.rank, i.paper_id, i.score, json.dumps(_item_json(i))) for i in digest.items]
            serialized[id(digest)] = items
        rows.extend((digest_id, *item) for item in items)
    if rows:
        insert_tuples(conn, digest_items, ("digest_id", "rank", "paper_id", "score", "item"), rows)
    return ids


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
