"""Papers and their mentions: storing parsed documents, one row per paper."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    func,
    or_,
    select,
    update,
)

from digests.errors import StoreError
from digests.identity import PaperIndex, initial_signals, merge_values, new_paper_row
from digests.model import (
    PreparedEntry,
    SourceInfo,
    StoreCounts,
    TagRef,
)
from digests.normalize import title_lead_key
from digests.schema import (
    mentions,
    paper_search,
    papers,
)
from digests.store.base import as_utc
from digests.store.bulk import (
    LOOKUP_CHUNK,
    among,
    insert_columns,
    insert_rows,
    update_by_id,
)
from digests.store.tags import TagStore

log = logging.getLogger(__name__)


# Consecutive documents of different sources are stored together up to this many entries.
_GROUP_ITEMS = 2_000


class PaperStore(TagStore):
    """Papers and mentions, written in bulk from parsed documents."""

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
        is still taken in slices of ``LOOKUP_CHUNK`` entries, as alone.
        """
        units: list[_Unit] = []
        for doc, (source, prepared) in enumerate(documents):
            for start in range(0, len(prepared), LOOKUP_CHUNK):
                units.append(_Unit(doc, source.id, prepared[start : start + LOOKUP_CHUNK]))
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
                row = index.find(item, now)
                if row is None:
                    row = new_paper_row(item, now, index)
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
            row = fresh.find(item, now)
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
        for paper_id, figures in paper_signals(conn, touched).items():
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
            key: int(pid) for pid, key in insert_columns(conn, papers, cols, columns, ("id", "key"))
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
            insert_columns(
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
                # A new text waits for its new signature (``store.similar``).
                texts.append((paper_id, {"search_text": row["search_text"], "terms_at": None}))
            rest = {c: row[c] for c in cols if c != "search_text"}
            if rest:
                rows.append((paper_id, rest))
        update_by_id(conn, papers, rows)
        update_by_id(conn, paper_search, texts, key="paper_id")

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
        for start in range(0, len(ids), LOOKUP_CHUNK):
            stmt = select(mentions).where(
                among(conn, mentions.c.source_id, wanted),
                among(conn, mentions.c.paper_id, ids[start : start + LOOKUP_CHUNK]),
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
            got = insert_rows(conn, mentions, inserts, ("paper_id", "source_id", "item_key"))
            done = {(int(p), int(s), str(k)) for p, s, k in got}
            raced = {(r["paper_id"], r["source_id"], r["item_key"]) for r in inserts} - done
        update_by_id(
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

    def latest_mention_at(self) -> datetime | None:
        """When the newest first-hand mention happened (related-paper lists don't count)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.max(mentions.c.mentioned_at)).where(mentions.c.related.is_(False))
            ).scalar_one_or_none()
        return as_utc(value)

    def paper_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())


def paper_signals(conn: Connection, paper_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """The source count and best upvotes of papers, as their mentions give them now.

    Read once per slice of ids, aggregated in the database; the caller writes only
    the papers whose stored figures differ.
    """
    ids = sorted(paper_ids)
    out: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        stmt = (
            select(
                mentions.c.paper_id,
                func.count(func.distinct(mentions.c.source_id)),
                func.coalesce(func.max(mentions.c.upvotes), 0),
            )
            .where(among(conn, mentions.c.paper_id, ids[start : start + LOOKUP_CHUNK]))
            .group_by(mentions.c.paper_id)
        )
        for paper_id, n, up in conn.execute(stmt):
            out[int(paper_id)] = (int(n), int(up))
    return out


@dataclass(frozen=True, slots=True)
class _Unit:
    """A slice of one document (at most ``LOOKUP_CHUNK`` entries) and its source."""

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


def _known_papers(conn: Connection, chunk: Sequence[PreparedEntry]) -> Select[Any]:
    """The stored papers any item of ``chunk`` could be, by any identity, in id order."""
    arxiv = {p.entry.arxiv_id for p in chunk if p.entry.arxiv_id}
    dois = {p.entry.doi for p in chunk if p.entry.doi}
    urls = {p.url_key for p in chunk if p.url_key}
    leads = _lead_keys(chunk)
    clauses = [
        among(conn, papers.c.key, {p.key for p in chunk}),
        among(conn, papers.c.title_key, {p.title_key for p in chunk}),
    ]
    if leads:
        clauses.append(among(conn, papers.c.lead_key, leads))
    if arxiv:
        clauses.append(among(conn, papers.c.arxiv_id, arxiv))
    if dois:
        clauses.append(among(conn, papers.c.doi, dois))
    if urls:
        clauses.append(among(conn, papers.c.url_key, urls))
    # Each paper's search text by its key, row by row: as a join, PostgreSQL may plan a
    # scan of every search text for each slice while a table's statistics are new.
    search_text = (
        select(paper_search.c.search_text)
        .where(paper_search.c.paper_id == papers.c.id)
        .scalar_subquery()
        .label("search_text")
    )
    # In id order: of the papers under one title, the first that agrees is found
    # (``PaperIndex.find``).
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

    _FIELDS = ("key", "title_key", "lead_key", "arxiv_id", "doi", "url_key")

    def __init__(self) -> None:
        self.by: dict[str, dict[str, list[dict[str, Any]]]] = {f: {} for f in self._FIELDS}
        self.order: dict[int, int] = {}  # id(row) -> its place in a fresh read

    def load(self, conn: Connection, chunk: Sequence[PreparedEntry]) -> None:
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(chunk), LOOKUP_CHUNK):
            stmt = _known_papers(conn, chunk[start : start + LOOKUP_CHUNK])
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
            "lead_key": _lead_keys(items),
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


def _lead_keys(items: Sequence[PreparedEntry]) -> set[str]:
    """The short-name keys the items' titles lead with: a short title may be a stored
    full one's paper, and a full title a stored short one's (``PaperIndex.find``)."""
    return {lead for p in items if (lead := title_lead_key(p.entry.title)) is not None}


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
