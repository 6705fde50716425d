"""More like this: each paper's signature stored term by term, and the papers most like one.

A signature (``digests.similar``) is a paper's most telling terms with weights of unit
length; ``paper_terms`` holds them with an index on (term, weight), so the papers that
weigh a term most are read first, from a plain B-tree on both databases. The papers most
like paper P are found in three steps, each of bounded cost whatever the store holds:

1. **pool**: for each of P's terms, the ``like_postings`` papers that weigh it most; each
   gains the product of the two weights (an impact-ordered dot product, the classic way
   to skip the long tail of a common term's postings);
2. **score**: the ``like_pool`` best of them get their exact cosine with P, from their own
   signatures;
3. **scan** (only when the query's other terms keep too few of the pool, ``since:4w`` or a
   rare tag): the newest ``like_scan`` papers those terms match are scored too.

The similar papers are those whose cosine reaches ``SIMILARITY_FLOOR``, P itself left out.
A paper not indexed yet (``paper_search.terms_at`` NULL) has its signature computed from
its text on the fly, with the same df.

``term_stats`` counts, for each term, the indexed papers that use it (``''``: how many
papers are indexed). A paper counts once, when it is first indexed; a re-index after its
text changed rewrites its signature but not the counts (its old terms are not kept, so
they could not be taken back), which only moves idf by a paper here and there.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from digests.errors import QueryError
from digests.query import LikeRef
from digests.schema import mentions, paper_search, paper_tags, paper_terms, papers, tags, term_stats
from digests.similar import Signature, idf, paper_text, signature, term_counts
from digests.store.bulk import LOOKUP_CHUNK, among, insert_columns
from digests.store.tags import TagStore

log = logging.getLogger(__name__)

# The papers that weigh a term most, read for each of a signature's terms.
LIKE_POSTINGS = 150
# How many of the pool's best get their exact similarity.
LIKE_POOL = 300
# When the other terms of a query keep too few of the pool: their newest matches scored.
LIKE_SCAN = 2000
# Below this cosine two papers share a word or two by chance, not a topic.
SIMILARITY_FLOOR = 0.05
# The row of ``term_stats`` that counts the indexed papers.
_PAPERS_ROW = ""
# Rows per statement when term counts are added up or read.
_STATS_CHUNK = 2000


class UnknownPaper(QueryError):
    """``like:`` names a paper the store does not have."""


@dataclass(frozen=True, slots=True)
class Similar:
    """The papers like one, with their similarity (the paper itself left out)."""

    paper_id: int
    title: str
    scores: dict[int, float]


class SimilarStore(TagStore):
    """Signatures of papers, their indexing, and the papers most like one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.like_postings = LIKE_POSTINGS
        self.like_pool = LIKE_POOL
        self.like_scan = LIKE_SCAN

    # -- the papers like one ------------------------------------------------------------

    def similar_to(
        self,
        conn: Connection,
        ref: LikeRef,
        within: Sequence[ColumnElement[bool]] = (),
        *,
        need: int = 0,
    ) -> Similar:
        """The papers like the one ``ref`` names; ``within``: the query's other conditions
        on ``papers``, which the papers must meet; ``need``: how many a page of them wants
        (the scan runs when the pool has fewer). Raises ``UnknownPaper``."""
        target, title = self._like_target(conn, ref)
        sig = self._signatures(conn, [target]).get(target) or {}
        scores: dict[int, float] = {}
        if sig:
            pool = self._pool(conn, sig, exclude=target)
            scored = self._exact(conn, sig, pool)
            kept = {pid: s for pid, s in scored.items() if s >= SIMILARITY_FLOOR}
            if within and kept:
                allowed = {
                    int(i)
                    for i in conn.execute(
                        select(papers.c.id).where(among(conn, papers.c.id, list(kept)), *within)
                    ).scalars()
                }
                kept = {pid: s for pid, s in kept.items() if pid in allowed}
            scores = kept
            if within and len(scores) < need:
                newest = [
                    int(i)
                    for i in conn.execute(
                        select(papers.c.id)
                        .where(*within, papers.c.id != target)
                        .order_by(papers.c.announced_at.desc(), papers.c.id.desc())
                        .limit(self.like_scan)
                    ).scalars()
                ]
                for pid, s in self._exact(conn, sig, newest).items():
                    if s >= SIMILARITY_FLOOR:
                        scores[pid] = s
        return Similar(paper_id=target, title=title, scores=scores)

    def check_like(self, ref: LikeRef) -> None:
        """Raise ``UnknownPaper`` unless the store has the paper ``ref`` names (what a
        subscription's ``like:`` is checked with when it is made)."""
        with self.engine.connect() as conn:
            self._like_target(conn, ref)

    def _like_target(self, conn: Connection, ref: LikeRef) -> tuple[int, str]:
        """The id and title of the paper ``like:`` names, found as ``id:`` finds it."""
        kind, value = ref
        column = {"id": papers.c.arxiv_id, "doi": papers.c.doi, "url": papers.c.url_key}[kind]
        row = conn.execute(
            select(papers.c.id, papers.c.title).where(column == value).order_by(papers.c.id)
        ).first()
        if row is None:
            raise UnknownPaper(
                f"like:{value}: no such paper in paperbot yet — it knows the papers its "
                f"sources have listed; try again once one lists it, or look it up with id:{value}",
                term=f"like:{value}",
            )
        return int(row.id), str(row.title)

    def _pool(self, conn: Connection, sig: Signature, *, exclude: int) -> list[int]:
        """The ``like_pool`` papers with the most weight in common with ``sig`` among those
        that weigh one of its terms most."""
        partial: dict[int, float] = {}
        for term, weight in sig.items():
            stmt = (
                select(paper_terms.c.paper_id, paper_terms.c.weight)
                .where(paper_terms.c.term == term)
                .order_by(paper_terms.c.weight.desc())
                .limit(self.like_postings)
            )
            for pid, w in conn.execute(stmt):
                partial[int(pid)] = partial.get(int(pid), 0.0) + weight * float(w)
        partial.pop(exclude, None)
        best = sorted(partial.items(), key=lambda kv: (-kv[1], -kv[0]))
        return [pid for pid, _ in best[: self.like_pool]]

    def _exact(self, conn: Connection, sig: Signature, ids: Sequence[int]) -> dict[int, float]:
        """The cosine of each of ``ids`` with ``sig``, from their stored signatures (a paper
        not indexed yet gets none here: the indexer is at most a poll behind)."""
        scores: dict[int, float] = {}
        terms = list(sig)
        for start in range(0, len(ids), LOOKUP_CHUNK):
            part = ids[start : start + LOOKUP_CHUNK]
            stmt = select(paper_terms.c.paper_id, paper_terms.c.term, paper_terms.c.weight).where(
                among(conn, paper_terms.c.paper_id, part), paper_terms.c.term.in_(terms)
            )
            for pid, term, w in conn.execute(stmt):
                scores[int(pid)] = scores.get(int(pid), 0.0) + sig[term] * float(w)
        return scores

    def _signatures(self, conn: Connection, ids: Sequence[int]) -> dict[int, Signature]:
        """The papers' signatures: stored ones as stored, the others computed now."""
        indexed = {
            int(i)
            for i in conn.execute(
                select(paper_search.c.paper_id).where(
                    among(conn, paper_search.c.paper_id, ids), paper_search.c.terms_at.is_not(None)
                )
            ).scalars()
        }
        out: dict[int, Signature] = {pid: {} for pid in indexed}
        if indexed:
            stmt = select(paper_terms.c.paper_id, paper_terms.c.term, paper_terms.c.weight).where(
                among(conn, paper_terms.c.paper_id, list(indexed))
            )
            for pid, term, w in conn.execute(stmt):
                out[int(pid)][term] = float(w)
        rest = [pid for pid in ids if pid not in indexed]
        if rest:
            counts = self._term_counts(conn, rest)
            df, n = self._term_df(conn, {t for c in counts.values() for t in c})
            for pid, c in counts.items():
                out[pid] = signature(c, lambda t: idf(df.get(t, 0), n))
        return out

    # -- indexing -----------------------------------------------------------------------

    def unindexed_count(self) -> int:
        """How many papers wait for their signature (new, or their text changed)."""
        with self.engine.connect() as conn:
            stmt = select(func.count()).where(paper_search.c.terms_at.is_(None))
            return int(conn.execute(stmt).scalar() or 0)

    def index_terms(self, *, now: datetime, limit: int) -> int:
        """Compute and store the signatures of up to ``limit`` papers waiting for one, in
        one transaction; how many were indexed.

        The papers are claimed first (their ``terms_at`` set, their rows locked on
        PostgreSQL, skipping rows a writer holds), then their text is read: a text that
        changes after the claim sets ``terms_at`` back to NULL, so it is indexed again.
        """
        with self.engine.begin() as conn:
            pick = (
                select(paper_search.c.paper_id)
                .where(paper_search.c.terms_at.is_(None))
                .order_by(paper_search.c.paper_id)
                .limit(limit)
            )
            if self.dialect == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = [int(i) for i in conn.execute(pick).scalars()]
            if not ids:
                return 0
            conn.execute(
                update(paper_search)
                .where(among(conn, paper_search.c.paper_id, ids))
                .values(terms_at=now)
            )
            counts = self._term_counts(conn, ids)
            known = {
                int(i)
                for i in conn.execute(
                    select(paper_terms.c.paper_id)
                    .where(among(conn, paper_terms.c.paper_id, ids))
                    .distinct()
                ).scalars()
            }
            first = [pid for pid in ids if pid not in known]
            added: Counter[str] = Counter()
            for pid in first:
                added.update(counts[pid].keys())
            added[_PAPERS_ROW] = len(first)
            self._add_df(conn, added)
            df, n = self._term_df(conn, {t for c in counts.values() for t in c})
            weights = {t: idf(df.get(t, 0), n) for c in counts.values() for t in c}
            sigs = {pid: signature(c, weights.__getitem__) for pid, c in counts.items()}
            if known:
                conn.execute(
                    delete(paper_terms).where(among(conn, paper_terms.c.paper_id, list(known)))
                )
            rows = [(pid, term, w) for pid, sig in sigs.items() for term, w in sig.items()]
            if rows:
                insert_columns(
                    conn,
                    paper_terms,
                    ("paper_id", "term", "weight"),
                    [list(col) for col in zip(*rows, strict=True)],
                    (),
                )
        return len(ids)

    def _term_counts(self, conn: Connection, ids: Sequence[int]) -> dict[int, Counter[str]]:
        """Each paper's term counts (``digests.similar``): its titles and abstract, or its
        sources' summaries when it has none, and its tags."""
        rows = {
            int(r.id): r
            for r in conn.execute(
                select(papers.c.id, papers.c.title, papers.c.title_alt, papers.c.abstract).where(
                    among(conn, papers.c.id, ids)
                )
            )
        }
        bare = [pid for pid, r in rows.items() if not r.abstract]
        summaries: dict[int, list[str]] = {}
        if bare:
            stmt = (
                select(mentions.c.paper_id, mentions.c.summary, mentions.c.ai_summary)
                .where(among(conn, mentions.c.paper_id, bare))
                .order_by(mentions.c.mentioned_at, mentions.c.id)
            )
            for pid, summary, ai in conn.execute(stmt):
                summaries.setdefault(int(pid), []).extend(s for s in (summary, ai) if s)
        slugs: dict[int, list[str]] = {}
        stmt = (
            select(paper_tags.c.paper_id, tags.c.slug)
            .join(tags, tags.c.id == paper_tags.c.tag_id)
            .where(among(conn, paper_tags.c.paper_id, ids))
        )
        for tag_row in conn.execute(stmt):
            slugs.setdefault(int(tag_row.paper_id), []).append(str(tag_row.slug))
        return {
            pid: term_counts(
                paper_text(r.title, r.title_alt, r.abstract, summaries.get(pid, ())),
                slugs.get(pid, ()),
            )
            for pid, r in rows.items()
        }

    def _add_df(self, conn: Connection, added: Counter[str]) -> None:
        """Add to the terms' document counts, in term order (two writers lock the rows in
        the same order, so they cannot deadlock). Driver SQL: SQLAlchemy would compile a
        multi-row statement anew for every batch of terms."""
        items = sorted((t, c) for t, c in added.items() if c > 0)
        if not items:
            return
        # Names come from our own table definitions, never from data.
        if self.dialect == "postgresql":
            conn.exec_driver_sql(
                "INSERT INTO term_stats (term, df) "
                "SELECT * FROM unnest(%(terms)s::varchar[], %(counts)s::int[]) "
                "ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df",
                {"terms": [t for t, _ in items], "counts": [c for _, c in items]},
            )
            return
        conn.exec_driver_sql(
            "INSERT INTO term_stats (term, df) VALUES (?, ?) "
            "ON CONFLICT (term) DO UPDATE SET df = df + excluded.df",
            items,
        )

    def _term_df(self, conn: Connection, terms: set[str]) -> tuple[dict[str, int], int]:
        """The document counts of ``terms`` and the number of papers indexed."""
        wanted = sorted(terms | {_PAPERS_ROW})
        df: dict[str, int] = {}
        for start in range(0, len(wanted), _STATS_CHUNK):
            part = wanted[start : start + _STATS_CHUNK]
            stmt = select(term_stats.c.term, term_stats.c.df).where(
                among(conn, term_stats.c.term, part)
            )
            df.update((t, int(c)) for t, c in conn.execute(stmt))
        return df, df.pop(_PAPERS_ROW, 0)
