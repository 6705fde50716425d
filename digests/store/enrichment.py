"""Enrichment from the arXiv API: which papers to ask about, and what the answers add.

A paper is asked about once: ``papers.enriched_at`` is stamped whether arXiv knew the
id or not. What arXiv answers is applied to the paper itself, never as a mention: asking
arXiv is not a source's endorsement, so it changes no "N sources".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, and_, exists, or_, select, update

from digests.identity import PaperIndex, merge_values, new_paper_row
from digests.model import PreparedEntry
from digests.schema import paper_tags, papers
from digests.store.bulk import LOOKUP_CHUNK, among
from digests.store.papers import PaperStore, _known_papers

# Titles from these kinds of source are arXiv's or as good: such a title alone is no
# reason to ask. A curated short name ("MEM1") or a feed's line is; no kind recorded
# (papers stored before titles had one) leaves the decision to the other fields.
AUTHORITATIVE_TITLES = ("arxiv", "hf")


class EnrichmentStore(PaperStore):
    """The papers arXiv can complete, and its answers written to them."""

    def papers_to_enrich(self, *, limit: int) -> list[str]:
        """arXiv ids of papers never asked about that lack authors, an abstract,
        categories or an authoritative title; the most recently announced first."""
        has_category = exists().where(
            paper_tags.c.paper_id == papers.c.id, paper_tags.c.origin == "category"
        )
        lacking = or_(
            papers.c.authors.cast(Text()) == "[]",
            papers.c.abstract.is_(None),
            papers.c.abstract == "",
            and_(
                papers.c.title_source.is_not(None),
                papers.c.title_source.not_in(AUTHORITATIVE_TITLES),
            ),
            ~has_category,
        )
        stmt = (
            select(papers.c.arxiv_id)
            .where(papers.c.arxiv_id.is_not(None), papers.c.enriched_at.is_(None), lacking)
            .order_by(papers.c.announced_at.desc(), papers.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(a) for a in conn.execute(stmt).scalars()]

    def record_enrichment(
        self,
        found: Sequence[PreparedEntry],
        asked: Sequence[str],
        *,
        now: datetime,
        create: bool = False,
    ) -> dict[str, str]:
        """Apply arXiv's records (``found``) to their papers and stamp every id ``asked``
        about, found or not, in one transaction; the papers that changed, arXiv id ->
        title as it now stands.

        The records go through the identity rules as a source's entries would
        (``merge_values``: the arXiv title outranks curated ones, and the API's date is
        version 1's, exact); their categories and topics are linked as ingest links them.
        No mention is written, so no source count moves.

        ``create``: a record no paper holds yet becomes a new paper (a library imported
        into a channel's profile names papers no source brought). It has no mention
        either: it is found by lookups and profiles, never a week's candidate on its own.
        """
        changed: dict[str, str] = {}
        with self._tx() as conn:
            index = PaperIndex()
            for start in range(0, len(found), LOOKUP_CHUNK):
                stmt = _known_papers(conn, found[start : start + LOOKUP_CHUNK])
                for known in conn.execute(stmt).mappings():
                    index.add(dict(known))
            refs = {t.slug: t for item in found for t in item.tags}
            tag_ids = self._ensure_tags(conn, refs.values())
            items: list[PreparedEntry] = []
            rows: list[dict[str, Any]] = []
            dirty: dict[int, tuple[dict[str, Any], set[str]]] = {}
            pending: list[dict[str, Any]] = []
            for item in found:
                row = index.by_arxiv.get(item.entry.arxiv_id or "")
                if row is None and create:
                    row = new_paper_row(item, now, index)
                    index.add(row)
                    pending.append(row)
                    items.append(item)
                    rows.append(row)
                    continue
                if row is None:  # no paper holds the id any more
                    continue
                values = merge_values(row, item, now, index)
                if values:
                    row.update(values)
                    index.add(row)
                    dirty.setdefault(int(row["id"]), (row, set()))[1].update(values)
                items.append(item)
                rows.append(row)
            # A paper another writer created meanwhile (the same id, at the same time)
            # keeps what that writer gave it.
            lost = self._insert_papers(conn, pending)
            if lost:
                kept = [(i, r) for i, r in zip(items, rows, strict=True) if id(r) not in lost]
                items, rows = [i for i, _ in kept], [r for _, r in kept]
            linked = self._link_tags(conn, items, rows, tag_ids)
            self._update_papers(conn, dirty)
            for row, tagged in zip(rows, linked, strict=True):
                if tagged or int(row["id"]) in dirty or any(row is p for p in pending):
                    changed[str(row["arxiv_id"])] = str(row["title"])
            for start in range(0, len(asked), LOOKUP_CHUNK):
                conn.execute(
                    update(papers)
                    .where(among(conn, papers.c.arxiv_id, asked[start : start + LOOKUP_CHUNK]))
                    .values(enriched_at=now)
                )
        return changed
