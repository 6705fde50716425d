"""Bulk set-up of large stores for the lookup and digest benchmarks (set-up, not measured).

The schema is the real one (``Store.open`` runs the migrations). Secondary indexes and
the SQLite FTS triggers are read from the database, dropped for the load and recreated
from their own SQL afterwards, and the FTS table is rebuilt, so the result is exactly
what the migrations make, only filled faster. Rows go in through the driver
(``executemany`` on SQLite, ``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from datagen import _EN_WORDS, _FIRST, _JA_GLUE, _JA_WORDS, _LAST, ZipfTags, arxiv_id
from sqlalchemy import text

from digests.normalize import paper_key, title_key
from digests.store import Store

TABLES = ("papers", "paper_search", "mentions", "paper_tags", "tags", "sources")
_BATCH = 20_000


def _sqlite_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Sizes:
    def __init__(self, papers: int, tag_links: int, mentions: int, sources: int = 60) -> None:
        self.papers, self.tag_links, self.mentions, self.sources = (
            papers,
            tag_links,
            mentions,
            sources,
        )


def _paper_rows(
    sizes: Sizes, *, start: datetime, span: timedelta, seed: int
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(1, sizes.papers + 1):
        title = " ".join(w.capitalize() for w in rng.choices(_EN_WORDS, k=rng.randint(4, 8)))
        title = f"{title} {n}"
        ja = rng.random() < 0.3
        title_alt = None
        if ja:
            words = rng.choices(_JA_WORDS, k=3)
            title_alt = words[0] + rng.choice(_JA_GLUE) + words[1] + rng.choice(_JA_GLUE) + words[2]
        authors = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(rng.randint(1, 6))]
        abstract = " ".join(rng.choices(_EN_WORDS, k=rng.randint(25, 45))).capitalize() + "."
        aid = arxiv_id(n)
        announced = start + span * (n / sizes.papers)
        search = "\n".join(p for p in (title, title_alt, " ".join(authors), abstract) if p)
        yield {
            "id": n,
            "key": paper_key(arxiv_id=aid, doi=None, url=None, title=title),
            "arxiv_id": aid,
            "arxiv_version": 1,
            "doi": None,
            "url_key": None,
            "title_key": title_key(title),
            "title": title,
            "title_alt": title_alt,
            "authors": authors,
            "abstract": abstract,
            "abs_url": f"https://arxiv.org/abs/{aid}",
            "pdf_url": None,
            "code_url": None,
            "other_links": [],
            "first_seen_at": announced,
            "announced_at": announced,
            "updated_at": announced,
            "source_count": 1,
            "max_upvotes": 0,
            "search_text": search,
        }


def fill(store: Store, sizes: Sizes, *, start: datetime, span: timedelta, seed: int = 7) -> None:
    """Fill an empty, migrated store with ``sizes`` papers, tag links and mentions."""
    zipf = ZipfTags(3000)
    rng = random.Random(seed + 1)
    now = start + span
    with store.engine.begin() as conn:
        dialect = conn.dialect.name
        saved = _drop_secondary(conn, dialect)
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        # Added as if from the command line (a sources file never removes them) and
        # disabled (a bot serving this store never tries to poll example.org).
        sources = [
            (i, f"bench-source-{i:03d}", "feed" if i > 1 else "arxiv", f"https://example.org/{i}")
            for i in range(1, sizes.sources + 1)
        ]
        tag_rows = [(i + 1, name.lower(), name, "tag") for i, name in enumerate(zipf.names)]
        writer = _Writer(cur, dialect)
        writer.rows(
            "sources",
            (
                "id",
                "name",
                "kind",
                "location",
                "interval_seconds",
                "tags",
                "origin",
                "enabled",
                "created_at",
                "consecutive_failures",
            ),
            (
                (i, name, kind, loc, 3600, "[]", "cli", False, start, 0)
                for i, name, kind, loc in sources
            ),
        )
        writer.rows("tags", ("id", "slug", "display", "kind"), iter(tag_rows))
        cols = (
            "id", "key", "arxiv_id", "arxiv_version", "doi", "url_key", "title_key", "title",
            "title_alt", "authors", "abstract", "abs_url", "pdf_url", "code_url", "other_links",
            "first_seen_at", "announced_at", "updated_at", "source_count", "max_upvotes",
        )  # fmt: skip
        links_per = sizes.tag_links / sizes.papers
        mentions_per = sizes.mentions / sizes.papers
        tag_links: list[tuple[int, int, str]] = []
        mention_rows: list[tuple[Any, ...]] = []
        papers_batch: list[tuple[Any, ...]] = []
        search_batch: list[tuple[int, str]] = []
        mention_cols = (
            "paper_id", "source_id", "item_key", "first_seen_at", "last_seen_at", "published_at",
            "mentioned_at", "title", "summary", "summary_lang", "pick", "related", "upvotes",
        )  # fmt: skip

        def flush() -> None:
            writer.rows("papers", cols, iter(papers_batch))
            writer.rows("paper_search", ("paper_id", "search_text"), iter(search_batch))
            writer.rows("paper_tags", ("paper_id", "tag_id", "origin"), iter(tag_links))
            writer.rows("mentions", mention_cols, iter(mention_rows))
            papers_batch.clear()
            search_batch.clear()
            tag_links.clear()
            mention_rows.clear()

        for row in _paper_rows(sizes, start=start, span=span, seed=seed):
            pid = row["id"]
            row["authors"] = json.dumps(row["authors"])
            row["other_links"] = "[]"
            k = int(links_per) + (rng.random() < links_per - int(links_per))
            chosen = {zipf.index(rng) for _ in range(k)}
            while len(chosen) < k:
                chosen.add(zipf.index(rng))
            tag_links.extend((pid, t + 1, "source:bench") for t in chosen)
            m = int(mentions_per) + (rng.random() < mentions_per - int(mentions_per))
            srcs = rng.sample(range(1, sizes.sources + 1), m)
            row["source_count"] = m
            for j, sid in enumerate(srcs):
                at = row["announced_at"] + timedelta(hours=j * 7)
                at = min(at, now)
                ja = row["title_alt"] is not None and j == 1
                mention_rows.append(
                    (pid, sid, f"item-{pid}", at, at, at, at, row["title"],
                     row["title_alt"] if ja else None, "ja" if ja else None, False, False,
                     None)
                )  # fmt: skip
            papers_batch.append(tuple(row[c] for c in cols))
            search_batch.append((pid, row["search_text"]))
            if len(papers_batch) >= _BATCH:
                flush()
        flush()
        _restore_secondary(conn, dialect, saved)
    _analyze(store)


class _Writer:
    def __init__(self, cur: Any, dialect: str) -> None:
        self.cur, self.dialect = cur, dialect

    def rows(self, table: str, cols: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
        if self.dialect == "postgresql":
            with self.cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            return
        marks = ", ".join("?" for _ in cols)

        def convert(r: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(_sqlite_ts(v) if isinstance(v, datetime) else v for v in r)

        self.cur.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", map(convert, rows)
        )


def _drop_secondary(conn: Any, dialect: str) -> list[str]:
    """Drop indexes (and SQLite's FTS triggers) of the bulk tables; return their SQL."""
    names = ", ".join(f"'{t}'" for t in TABLES)
    if dialect == "sqlite":
        found = conn.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                f"AND sql IS NOT NULL AND tbl_name IN ({names})"
            )
        ).all()
        for kind, name, _ in found:
            conn.execute(text(f"DROP {kind.upper()} {name}"))
        return [sql for _, _, sql in found]
    found = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() "
            f"AND i.tablename IN ({names}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)"
        )
    ).all()
    for name, _ in found:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [sql for _, sql in found]


def _restore_secondary(conn: Any, dialect: str, saved: list[str]) -> None:
    for sql in saved:
        conn.execute(text(sql))
    if dialect == "sqlite":
        conn.execute(text("INSERT INTO paper_fts(paper_fts) VALUES ('rebuild')"))
    else:
        # Ids were given explicitly: move the sequences past them.
        for table in (t for t in TABLES if t not in ("paper_tags", "paper_search")):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )


def _analyze(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
