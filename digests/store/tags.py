"""Tags, their aliases and the links between papers and tags."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    func,
    select,
    text,
    update,
)

from digests.model import (
    PreparedEntry,
    TagRef,
)
from digests.normalize import normalize_tag
from digests.schema import (
    mentions,
    paper_search,
    paper_tags,
    papers,
    tag_aliases,
    tags,
)
from digests.store.base import StoreBase
from digests.store.bulk import (
    LOOKUP_CHUNK,
    among,
    insert_columns,
)
from digests.topics import RULE_ORIGIN, TopicRules

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetagCounts:
    """What re-reading the papers with the topic rules changed."""

    papers: int = 0  # papers read
    changed: int = 0  # papers whose rule tags changed
    added: int = 0  # rule tags given
    removed: int = 0  # rule tags taken away


def _add(a: RetagCounts, b: RetagCounts) -> RetagCounts:
    return RetagCounts(
        a.papers + b.papers, a.changed + b.changed, a.added + b.added, a.removed + b.removed
    )


class TagStore(StoreBase):
    """Tags: created as papers name them, found by slug or alias."""

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
                among(conn, tag_aliases.c.slug, slug_list)
            )
        ):
            found[alias] = tag_id
        rest = [s for s in slug_list if s not in found]
        if rest:
            for slug, tag_id in conn.execute(
                select(tags.c.slug, tags.c.id).where(among(conn, tags.c.slug, rest))
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
        for start in range(0, len(ids), LOOKUP_CHUNK):
            stmt = select(paper_tags.c.paper_id, paper_tags.c.tag_id, paper_tags.c.origin).where(
                among(conn, paper_tags.c.paper_id, ids[start : start + LOOKUP_CHUNK])
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
            insert_columns(conn, paper_tags, ("paper_id", "tag_id", "origin"), columns, ())
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

    def retag_papers(
        self,
        rules: TopicRules,
        *,
        chunk: int = LOOKUP_CHUNK,
        progress: Callable[[int, int], None] | None = None,
    ) -> RetagCounts:
        """Give every stored paper the topic tags ``rules`` give it now.

        Papers keep the tags their sources and categories gave them; only the tags of
        origin ``rule`` are recomputed, from what ingest read: each mention's title,
        summary and AI summary with the paper's abstract. One transaction per ``chunk``
        of papers, so a long run holds no lock for long and an interrupted one can simply
        be run again. ``progress(done, total)`` is told after each chunk.
        """
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(papers)).scalar_one())
        counts = RetagCounts()
        last = 0
        while True:
            with self._tx() as conn:
                rows = conn.execute(
                    select(papers.c.id, papers.c.title, papers.c.abstract)
                    .where(papers.c.id > last)
                    .order_by(papers.c.id)
                    .limit(chunk)
                ).all()
                if not rows:
                    break
                last = int(rows[-1][0])
                counts = _add(counts, self._retag_chunk(conn, rules, rows))
            if progress is not None:
                progress(counts.papers, total)
        return counts

    def _retag_chunk(self, conn: Connection, rules: TopicRules, rows: Sequence[Any]) -> RetagCounts:
        ids = [int(r[0]) for r in rows]
        texts: dict[int, list[tuple[str | None, ...]]] = {i: [] for i in ids}
        abstracts = {int(r[0]): r[2] for r in rows}
        stmt = select(
            mentions.c.paper_id, mentions.c.title, mentions.c.summary, mentions.c.ai_summary
        ).where(among(conn, mentions.c.paper_id, ids))
        for paper_id, title, summary, ai_summary in conn.execute(stmt):
            texts[int(paper_id)].append((title, abstracts[int(paper_id)], summary, ai_summary))
        wanted: dict[int, dict[str, TagRef]] = {}
        for paper_id, title, abstract in rows:
            found: dict[str, TagRef] = {}
            for group in texts[int(paper_id)] or [(title, abstract)]:
                for tag in rules.topics_for(*group):
                    found[tag.slug] = TagRef(tag.slug, tag.display, "topic", RULE_ORIGIN)
            wanted[int(paper_id)] = found
        tag_ids = self._ensure_tags(conn, [r for found in wanted.values() for r in found.values()])
        have: dict[int, set[int]] = {i: set() for i in ids}
        linked = select(paper_tags.c.paper_id, paper_tags.c.tag_id).where(
            paper_tags.c.origin == RULE_ORIGIN, among(conn, paper_tags.c.paper_id, ids)
        )
        for paper_id, tag_id in conn.execute(linked):
            have[int(paper_id)].add(int(tag_id))
        changed: list[int] = []
        added = removed = 0
        new: list[tuple[int, int, str]] = []
        for paper_id in ids:
            want = {tag_ids[slug] for slug in wanted[paper_id]}
            if want == have[paper_id]:
                continue
            changed.append(paper_id)
            added += len(want - have[paper_id])
            removed += len(have[paper_id] - want)
            new += [(paper_id, t, RULE_ORIGIN) for t in sorted(want)]
        if changed:
            conn.execute(
                delete(paper_tags).where(
                    paper_tags.c.origin == RULE_ORIGIN, among(conn, paper_tags.c.paper_id, changed)
                )
            )
            # Tags are terms of a paper's signature (``like:``, profiles): it waits to be
            # computed again, as after a change of its text.
            conn.execute(
                update(paper_search)
                .where(among(conn, paper_search.c.paper_id, changed))
                .values(terms_at=None)
            )
        if new:
            columns = [list(c) for c in zip(*new, strict=True)]
            insert_columns(conn, paper_tags, ("paper_id", "tag_id", "origin"), columns, ())
        return RetagCounts(len(ids), len(changed), added, removed)
