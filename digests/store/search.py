"""Search: a parsed query as SQL conditions, and the full-text strategies of each database."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Text,
    bindparam,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    union,
)

from digests.model import (
    Links,
    PaperHit,
)
from digests.normalize import arxiv_abs_url, title_key
from digests.query import Query
from digests.relevance import Scored, relevance_order
from digests.schema import (
    mentions,
    paper_search,
    paper_tags,
    papers,
    sources,
    tags,
)
from digests.store.bulk import among
from digests.store.similar import SimilarStore

log = logging.getLogger(__name__)


# The trigram tokenizer indexes 3-character runs: shorter terms are matched with LIKE.
FTS_MIN_CHARS = 3
# Newest-first free-text search looks at these many newest papers first. On SQLite the
# full-text index is read from the window's lowest id up; on PostgreSQL the window's
# papers are tested one by one (~4 µs a paper at a million), so its windows are small and
# the second is tried only when the first's matches promise a page in it.
RECENT_WINDOWS = (20_000, 200_000)
RECENT_WINDOWS_PG = (5_000, 50_000)
# Best match first scores the newest these many matches (and the papers named exactly).
RELEVANCE_POOL = 100
# BM25's usual constants: how fast repeats of a term stop adding, and how much a long
# text is discounted (those of FTS5's bm25() too).
_BM25_K1 = 1.2
_BM25_B = 0.75
# PostgreSQL tries its next window when the matches so far, scaled to it, are this many
# times a page.
_WINDOW_MARGIN = 1.5


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: tuple[PaperHit, ...]
    has_more: bool


class SearchStore(SimilarStore):
    """Queries over all papers, one page at a time."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        # Newest-first free-text search tries these many newest papers first.
        self.recent_windows: tuple[int, ...] = (
            RECENT_WINDOWS_PG if self.dialect == "postgresql" else RECENT_WINDOWS
        )
        # Best-match-first search scores at most these many newest matches.
        self.relevance_pool = RELEVANCE_POOL

    # -- search --------------------------------------------------------------------------

    def search(self, query: Query) -> SearchPage:
        """Run a parsed query; one page of hits, best match, newest or top first."""
        with self.engine.connect() as conn:
            where = self._query_conditions(conn, query)
            if query.like is not None:
                ids, reasons = self._similar_ids(conn, query, where)
            elif where is None:
                return SearchPage(hits=(), has_more=False)
            elif query.order() == "relevance" and (query.words or query.phrases):
                ids = self._relevant_ids(conn, query, where)
            else:
                ids = self._ordered_ids(conn, query, where)
            has_more = len(ids) > query.limit
            ids = ids[: query.limit]
            hits = self._hydrate(conn, ids)
        if query.like is not None:
            hits = [replace(h, reason=reasons.get(h.paper_id)) for h in hits]
        return SearchPage(hits=tuple(hits), has_more=has_more)

    def _similar_ids(
        self, conn: Connection, query: Query, where: Sequence[ColumnElement[bool]] | None
    ) -> tuple[list[int], dict[int, str]]:
        """One page of the papers like ``query.like`` that the other terms keep (plus one,
        to tell whether there is more), and why each is there: most alike first (ties
        newest first), or newest or top first among them (``SimilarStore.similar_to``)."""
        assert query.like is not None
        if where is None:  # another term matches nothing; an unknown paper is still named
            self._like_target(conn, query.like)
            return [], {}
        need = query.offset + query.limit + 1
        similar = self.similar_to(conn, query.like, where, need=need)
        if not similar.scores:
            return [], {}
        ids = list(similar.scores)
        stmt = select(
            papers.c.id, papers.c.announced_at, papers.c.source_count, papers.c.max_upvotes
        ).where(among(conn, papers.c.id, ids))
        facts = {int(r.id): r for r in conn.execute(stmt)}
        order = query.order()

        def key(pid: int) -> tuple[Any, ...]:
            r = facts[pid]
            newest = (r.announced_at, pid)
            if order == "new":
                return newest
            if order == "top":
                return (r.source_count or 0, r.max_upvotes or 0, *newest)
            return (round(similar.scores[pid], 6), *newest)

        ranked = sorted(facts, key=key, reverse=True)
        title = similar.title
        reasons = {pid: f"similar to {title} ({similar.scores[pid]:.2f})" for pid in ranked}
        return ranked[query.offset : need], reasons

    def _ordered_ids(
        self, conn: Connection, query: Query, where: Sequence[ColumnElement[bool]]
    ) -> list[int]:
        """One page of matching ids newest or top first (plus one, to tell whether there
        is more); newest first tries the newest papers first where it can."""
        if query.order() != "top" and self._windowed(query):
            ids = self._recent_text_ids(conn, query)
            if ids is not None:
                return ids
        return self._page_ids(conn, query, where)

    def _relevant_ids(
        self, conn: Connection, query: Query, where: Sequence[ColumnElement[bool]]
    ) -> list[int]:
        """One page of matching ids best match first (plus one, to tell whether there is
        more).

        The order is ``relevance_order`` over the papers named exactly by the query's text
        (anywhere in the store: by title key or short-name key) and the newest
        ``relevance_pool`` matches; matches older than those follow, newest first. A word
        common enough to match more papers than that says little about any of them, and
        scoring every match of it is what would make such a search slow; a rarer term has
        all its matches scored. On PostgreSQL, where a window of papers is tested paper
        by paper, the pool is at most what the first window holds when the term is common
        (``_recent_text_ids``'s ``settle``).
        """
        pool_size = self.relevance_pool
        newest_first = replace(query, sort="new", offset=0, limit=pool_size)
        newest = None
        if self._windowed(query):
            newest = self._recent_text_ids(conn, newest_first, settle=True)
        # A window's matches only (PostgreSQL): older ones may follow.
        settled = newest is not None and len(newest) <= pool_size
        if newest is None:
            newest = self._page_ids(conn, newest_first, where)
        pool = newest[:pool_size]
        exact = [i for i in self._named_ids(conn, query, where) if i not in set(pool)]
        ranked = self._ranked(conn, query, [*pool, *exact])
        end = query.offset + query.limit + 1
        if (settled or len(newest) > pool_size) and len(ranked) < end:
            # Beyond the pool: the older matches, newest first, those named exactly
            # (already ranked) left out.
            older = replace(
                query, sort="new", offset=len(pool), limit=end - len(ranked) + len(exact) - 1
            )
            ranked += [i for i in self._ordered_ids(conn, older, where) if i not in exact]
        return ranked[query.offset : end]

    def _named_ids(
        self, conn: Connection, query: Query, where: Sequence[ColumnElement[bool]]
    ) -> list[int]:
        """The matching papers whose title, or the short name it leads with, is the
        query's text, wherever they are in the store (their keys are indexed)."""
        key = title_key(query_text(query))
        # Two lookups, each in its own index: with OR, SQLite reads the whole table when
        # its statistics see one value in most rows of either column (a NULL lead key).
        named = union(
            select(papers.c.id).where(papers.c.title_key == key),
            select(papers.c.id).where(papers.c.lead_key == key),
        )
        found = [int(i) for i in conn.execute(named).scalars()]
        if not found:
            return []
        stmt = select(papers.c.id).where(among(conn, papers.c.id, found), *where)
        return [int(i) for i in conn.execute(stmt).scalars()]

    def _ranked(self, conn: Connection, query: Query, ids: Sequence[int]) -> list[int]:
        """``ids`` best match first (``relevance_order``)."""
        if not ids:
            return []
        scores = self._text_scores(conn, query, ids)
        stmt = select(papers.c.id, papers.c.title, papers.c.aliases, papers.c.announced_at).where(
            among(conn, papers.c.id, ids)
        )
        found = [
            Scored(
                paper_id=int(pid),
                title=title,
                aliases=tuple(aliases or ()),
                score=scores.get(int(pid), 0.0),
                announced_at=announced,
            )
            for pid, title, aliases, announced in conn.execute(stmt)
        ]
        return relevance_order(found, query_text(query))

    def _text_scores(self, conn: Connection, query: Query, ids: Sequence[int]) -> dict[int, float]:
        """How well each paper's search text matches the query's words and phrases
        (``_bm25``; higher is better)."""
        # Each text lowered once, not once for each use of it in the formula.
        texts = (
            select(
                paper_search.c.paper_id,
                lowered(paper_search.c.search_text, self.dialect).label("body"),
            )
            .where(among(conn, paper_search.c.paper_id, ids))
            .cte("texts")
            .prefix_with("MATERIALIZED")
        )
        terms = [lowered(literal(t), self.dialect) for t in (*query.words, *query.phrases)]
        stmt = select(texts.c.paper_id, _bm25(texts.c.body, terms))
        return {int(pid): float(value) for pid, value in conn.execute(stmt)}

    def _page_ids(
        self, conn: Connection, query: Query, where: Sequence[ColumnElement[bool]]
    ) -> list[int]:
        """One page of matching ids newest or top first, as the plain search reads them
        (plus one, to tell whether there is more)."""
        order: list[Any]
        if query.order() == "top":
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

    def _recent_text_ids(
        self, conn: Connection, query: Query, *, settle: bool = False
    ) -> list[int] | None:
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

        ``settle`` (PostgreSQL, from offset 0): where the next window would be tried,
        return the matches found so far instead, fewer than asked: the newest matches
        there are, as many as a window tested paper by paper holds.
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
                if settle:
                    return found  # this window's matches: the newest, fewer than asked
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
            conds.append(exists(tagged(resolved[slug]).where(paper_tags.c.paper_id == papers.c.id)))
        for slug in q.exclude_tags:
            if slug in resolved:
                tagged_here = tagged(resolved[slug]).where(paper_tags.c.paper_id == papers.c.id)
                conds.append(not_(exists(tagged_here)))
        for name in q.authors:
            conds.append(author_text(self.dialect).contains(author_key(name), autoescape=True))
        if q.sources:
            conds.append(
                exists().where(
                    mentions.c.paper_id == papers.c.id,
                    mentions.c.source_id == sources.c.id,
                    source_key().in_(source_keys(q.sources)),
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
            looked_up = self._indexed_term(term)
            if looked_up is not None:
                if want and indexed:
                    continue
                found = papers.c.id.in_(looked_up)
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

    def _indexed_term(self, term: str) -> Select[Any] | None:
        """The ids of the papers whose search text holds ``term``, read from SQLite's
        full-text index; None where that index cannot look the term up (PostgreSQL, or a
        term shorter than a trigram): it is then matched on the search text itself."""
        if self.dialect == "sqlite" and len(term) >= FTS_MIN_CHARS:
            return _fts_rowids(_fts_literal(term))
        return None

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
                    aliases=tuple(r["aliases"] or ()),
                )
            )
        return hits


# What a ``PaperHit`` is made of: ``_hydrate`` reads these and no more.
_HIT_COLUMNS = (
    papers.c.id,
    papers.c.key,
    papers.c.title,
    papers.c.title_alt,
    papers.c.aliases,
    papers.c.authors,
    papers.c.abstract,
    papers.c.arxiv_id,
    papers.c.abs_url,
    papers.c.pdf_url,
    papers.c.code_url,
    papers.c.other_links,
    papers.c.first_seen_at,
)


def tagged(tag_id: int) -> Select[Any]:
    """The papers that carry a tag: ``tag:`` matches these."""
    return select(paper_tags.c.paper_id).where(paper_tags.c.tag_id == tag_id)


def author_text(dialect: str) -> ColumnElement[str]:
    """A paper's authors as ``author:`` searches them: holding ``author_key(name)``."""
    return lowered(papers.c.authors.cast(Text()), dialect)


def lowered(value: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """``value`` lowercased by the database, for every script: PostgreSQL's ``lower()``
    (under the UTF-8 locale a database is made with); on SQLite, whose ``lower()`` folds
    ASCII letters only, ``unicode_lower``, Python's own ``str.lower``
    (``engine.unicode_lower``)."""
    return func.lower(value) if dialect == "postgresql" else func.unicode_lower(value)


def author_key(name: str) -> str:
    return name.lower()


def source_key() -> ColumnElement[str]:
    """A source's name as ``source:`` compares it: equal to one of ``source_keys``."""
    return func.lower(sources.c.name)


def source_keys(names: Iterable[str]) -> list[str]:
    return [n.lower() for n in names]


def query_text(q: Query) -> str:
    """The query's free text as one string: what an exact title match compares."""
    return " ".join((*q.words, *q.phrases))


def _bm25(body: ColumnElement[str], terms: Sequence[ColumnElement[str]]) -> ColumnElement[float]:
    """BM25 of a paper's search text (``body``, lowered) for ``terms`` (lowered), in SQL
    over the texts scored together.

    A term's frequency is how often it occurs in the text, case aside (whatever the
    script: ``lowered``), and a text's length is counted in characters against the
    average of the texts scored; every text scored holds every term, so the terms weigh
    alike. The databases' own scores do not fit: SQLite's ``bm25()`` counts, on every
    search, every paper that holds each term, to weigh it (for a common word, nearly the
    whole cost of the search); PostgreSQL's ``ts_rank`` reads a text search vector, whose
    parser finds no words in Japanese, and trigram similarity compares the whole text, so
    that a long text loses however often it holds the term. The same formula on both
    also puts the same papers first on both.
    """
    length = func.char_length(body)
    norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * length / func.avg(length).over())
    score: ColumnElement[float] = literal(0.0)
    for term in terms:
        found = length - func.char_length(func.replace(body, term, ""))
        freq = found * 1.0 / func.char_length(term)
        score = score + freq * (_BM25_K1 + 1) / (freq + norm)
    return score


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
