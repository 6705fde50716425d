"""A week's papers: the candidates of a digest and the papers a filter matches."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    exists,
    select,
)

from digests.families import source_family
from digests.model import (
    Candidate,
    MentionView,
    PaperHit,
    Signals,
    SourceKind,
)
from digests.query import Query
from digests.schema import (
    mentions,
    papers,
    sources,
)
from digests.store.bulk import (
    LOOKUP_CHUNK,
)
from digests.store.search import (
    SearchStore,
    author_key,
    author_text,
    source_key,
    source_keys,
    tagged,
)

log = logging.getLogger(__name__)

# (name, location, kind, family as set): what a source's family is worked out from.
_SourceRow = tuple[str, str, str | None, str | None]


class WeekStore(SearchStore):
    """The papers mentioned in a week, and which of them a filter keeps."""

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
                    sources.c.location,
                    sources.c.family,
                )
                .join(sources, sources.c.id == mentions.c.source_id)
                .where(mentions.c.mentioned_at >= start, mentions.c.mentioned_at < end)
                .order_by(mentions.c.paper_id, mentions.c.mentioned_at, mentions.c.id)
            ).mappings()
            by_paper: dict[int, list[MentionView]] = {}
            families: dict[_SourceRow, str] = {}
            for r in rows:
                by_paper.setdefault(r["paper_id"], []).append(_mention_view(r, families))
            ids = sorted(by_paper)
            hits: dict[int, PaperHit] = {}
            extra: dict[int, tuple[str | None, datetime, int]] = {}
            for chunk_start in range(0, len(ids), LOOKUP_CHUNK):
                part = ids[chunk_start : chunk_start + LOOKUP_CHUNK]
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
        return self.week_matcher(start, end).match_ids(query)

    def _term_in_week(self, query: Query, *, start: datetime, end: datetime) -> set[int]:
        """The papers mentioned in [start, end) that a one-term query's condition keeps."""
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


class WeekMatcher:
    """Which of one week's papers queries' filters keep, each filter term looked up once.

    A filter is a conjunction, so the papers a query matches are the intersection of the
    papers each of its terms matches (a tag, an excluded tag, an author, a word, the
    sources...). Terms recur across subscriptions: each is looked up once and kept, and
    a query is then a few set intersections. A term means what it means in a search
    (``SearchStore._query_conditions``), from the same pieces:

    - tags and the words the full-text index can look up are read from their indexes
      (``tagged``, ``SearchStore._indexed_term``) and intersected with the week's papers;
    - authors and sources are compared with the texts the search compares (``author_text``,
      ``source_key``), read once for the week's papers;
    - ``like:`` is ``SimilarStore.similar_to`` with the week as its other condition;
    - anything else (dates, ids, words matched on the search text) runs the search's
      condition for that one term over the week.

    Safe to share between threads: at worst a term is looked up twice.
    """

    def __init__(self, store: WeekStore, start: datetime, end: datetime) -> None:
        self._store = store
        self.start = start
        self.end = end
        self._week: frozenset[int] | None = None
        self._authors: dict[int, str] | None = None
        self._sources: dict[int, frozenset[str]] | None = None
        self._terms: dict[tuple[Any, ...], frozenset[int]] = {}
        self._displays: dict[str, str | None] = {}

    def match_ids(self, query: Query) -> set[int]:
        """Ids of the week's papers that match a query's filters."""
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
                found = {int(i) for i in conn.execute(tagged(tag_id)).scalars()}
            return week & found if kind == "tag" else week - found
        looked_up = store._indexed_term(value) if kind in ("text", "-text") else None
        if looked_up is not None:
            with store.engine.connect() as conn:
                found = {int(i) for i in conn.execute(looked_up).scalars()}
            return week & found if kind == "text" else week - found
        if kind == "like":
            # The search's own condition (``similar_to``), with the week as the other
            # terms: the pool's papers in the week, and the week's newest scored as well.
            in_window = exists().where(
                mentions.c.paper_id == papers.c.id,
                mentions.c.mentioned_at >= self.start,
                mentions.c.mentioned_at < self.end,
            )
            with store.engine.connect() as conn:
                similar = store.similar_to(conn, value, [in_window], need=len(week))
            return week & set(similar.scores)
        if kind == "author":
            name = author_key(value)
            return {pid for pid, text_ in self._author_texts().items() if name in text_}
        if kind == "sources":
            wanted = set(source_keys(value))
            return {pid for pid, names in self._source_names().items() if names & wanted}
        return store._term_in_week(_term_query(key), start=self.start, end=self.end)

    def _author_texts(self) -> dict[int, str]:
        """Each week paper's authors as a search sees them (``author_text``)."""
        if self._authors is None:
            authors = author_text(self._store.dialect)
            stmt = select(papers.c.id, authors).where(papers.c.id.in_(self._in_week()))
            with self._store.engine.connect() as conn:
                self._authors = {int(pid): text_ or "" for pid, text_ in conn.execute(stmt)}
        return self._authors

    def _source_names(self) -> dict[int, frozenset[str]]:
        """Each week paper's sources (any mention, in the week or not), as a search
        compares them (``source_key``)."""
        if self._sources is None:
            stmt = (
                select(mentions.c.paper_id, source_key())
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
    if q.like is not None:
        keys.append(("like", q.like))
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


def _mention_view(
    r: Any, families: dict[tuple[str, str, str | None, str | None], str]
) -> MentionView:
    """``families``: each source's family, worked out once for the week's mentions."""
    kind = SourceKind(r["kind"]) if r["kind"] else None
    source = (r["source_name"], r["location"], r["kind"], r["family"])
    family = families.get(source)
    if family is None:
        family = families[source] = source_family(
            r["source_name"], r["location"], kind, r["family"]
        )
    return MentionView(
        source_name=r["source_name"],
        source_kind=kind,
        family=family,
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
