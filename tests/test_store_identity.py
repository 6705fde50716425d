"""Identity on a real database: short names across documents, titles, aliases and ages as
the store keeps them, and migration 0007's backfill of rows stored before them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from digests import schema
from digests.digest import DigestRequest, build_digest
from digests.ingest import ingest_document, prepare
from digests.model import Entry, SourceInfo, SourceKind, SourceSpec
from digests.normalize import title_key
from digests.query import parse_query
from digests.render.lookup import render_lookup_message
from digests.store import Store, create_db_engine
from digests.topics import TopicRules
from digests.weeks import parse_week
from tests.factories import arxiv, migrate

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
GPQA_FULL = "GPQA: A Graduate-Level Google-Proof Q&A Benchmark"
MEM1_FULL = "MEM1: Learning to Synergize Memory and Reasoning for Efficient Long-Horizon Agents"


def day(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def add(store: Store, name: str, kind: SourceKind) -> SourceInfo:
    return store.add_source(SourceSpec(name=name, location=f"/x/{name}", kind=kind), now=NOW)


def put(store: Store, source: SourceInfo, *entries: Entry) -> None:
    store.store_entries(source, prepare(entries, source, TopicRules()), now=NOW)


def papers(store: Store) -> list[dict[str, Any]]:
    c = schema.papers.c
    columns = (c.title, c.title_source, c.aliases, c.lead_key, c.announced_at, c.announced_exact)
    with store.engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(c.id)).mappings()
        return [dict(r) for r in rows]


def test_a_short_name_finds_its_full_title_stored_earlier_and_later(store: Store) -> None:
    curated, listing = (
        add(store, "weekly", SourceKind.WEEKLY_MD),
        add(store, "cs.CL", SourceKind.ARXIV),
    )
    gpqa = Entry("GPQA", url="https://github.com/idavidrein/gpqa", published=day("2023-11-20"))
    full = arxiv("2311.12022v1", GPQA_FULL, published=day("2023-11-21"), announce_type="new")
    put(store, curated, gpqa)  # the short name first, in a document of its own
    put(store, listing, full)
    mem1 = arxiv("2506.15841", MEM1_FULL, published=day("2025-06-23"), announce_type="new")
    put(store, listing, mem1)  # the full title first
    put(
        store,
        curated,
        Entry("MEM1", url="https://example.org/mem1.pdf", published=day("2025-06-30")),
    )
    assert store.paper_count() == 2
    [first, second] = papers(store)
    assert (first["title"], first["title_source"]) == (GPQA_FULL, "arxiv")
    assert first["lead_key"] == title_key("GPQA")
    assert (second["title"], second["aliases"]) == (MEM1_FULL, ["MEM1"])


def test_a_lookup_shows_the_short_name_beside_the_title(store: Store) -> None:
    listing, curated = (
        add(store, "cs.CL", SourceKind.ARXIV),
        add(store, "weekly", SourceKind.WEEKLY_MD),
    )
    put(store, curated, arxiv("2506.15841", "MEM1", published=day("2025-06-30")))
    put(
        store,
        listing,
        arxiv("2506.15841v1", MEM1_FULL, published=day("2025-06-23"), announce_type="new"),
    )
    [hit] = store.search(parse_query("id:2506.15841", now=NOW)).hits
    assert (hit.title, hit.aliases) == (MEM1_FULL, ("MEM1",))
    message = render_lookup_message(
        [hit], query_text="MEM1", total=1, offset=0, page_size=5, more_value=None, share_value=None
    )
    assert f"MEM1 — {MEM1_FULL}" in json.dumps(message["blocks"], ensure_ascii=False)
    assert f"MEM1 — {MEM1_FULL}" in message["text"]


def test_a_paper_re_listed_later_keeps_its_age(store: Store) -> None:
    feed, api = add(store, "aggregator", SourceKind.FEED), add(store, "api", SourceKind.ARXIV_API)
    put(store, feed, arxiv("2202.01234", "An Old Paper", published=day("2024-05-01")))
    [paper] = papers(store)
    assert (paper["announced_at"], paper["announced_exact"]) == (day("2022-03-08"), False)
    put(store, api, arxiv("2202.01234v1", "An Old Paper", published=day("2022-02-03")))
    put(store, feed, arxiv("2202.01234", "An Old Paper", published=day("2022-01-01")))
    [paper] = papers(store)
    assert (paper["announced_at"], paper["announced_exact"]) == (day("2022-02-03"), True)


def test_migration_0007_backfills_what_older_rows_lack(db_url: str) -> None:
    migrate(db_url, "0006")
    engine = create_db_engine(db_url)
    stamp = "2025-01-01 00:00:00"
    rows = [
        # (id, key, arxiv id, title, announced_at, the mention's source kind and title)
        (
            1,
            "arxiv:2202.01234",
            "2202.01234",
            GPQA_FULL,
            "2024-05-01 00:00:00",
            "hf-daily",
            GPQA_FULL,
        ),
        (
            2,
            "url:https://x.org/a",
            None,
            "Scaling Laws",
            "2024-06-01 00:00:00",
            "weekly-md",
            "Scaling Laws",
        ),
        (
            3,
            "doi:10.1/x",
            None,
            "A Long Title That Leads With Nothing",
            stamp,
            "feed",
            "Another Title",
        ),
    ]
    with engine.begin() as conn:
        for kind in ("hf-daily", "weekly-md", "feed"):
            conn.execute(
                text(
                    "INSERT INTO sources (name, location, kind, interval_seconds, tags, origin, "
                    "enabled, created_at, consecutive_failures) VALUES (:n, :loc, :k, 3600, '[]', "
                    "'file', :t, :s, 0)"
                ),
                {"n": kind, "loc": f"/x/{kind}", "k": kind, "t": True, "s": stamp},
            )
        sources = dict(conn.execute(text("SELECT kind, id FROM sources")).all())
        # Paper 1's title came from a feed too: the more authoritative source is named.
        mentions = [(1, "feed", GPQA_FULL)] + [(r[0], r[5], r[6]) for r in rows]
        for pid, key, aid, title, announced, _, _ in rows:
            conn.execute(
                text(
                    "INSERT INTO papers (id, key, arxiv_id, title_key, title, authors, "
                    "other_links, first_seen_at, announced_at, updated_at, source_count, "
                    "max_upvotes) VALUES (:id, :key, :aid, :tk, :title, '[]', '[]', :s, :a, "
                    ":s, 1, 0)"
                ),
                {
                    "id": pid,
                    "key": key,
                    "aid": aid,
                    "tk": title_key(title),
                    "title": title,
                    "s": stamp,
                    "a": announced,
                },
            )
        for pid, kind, seen in mentions:
            conn.execute(
                text(
                    "INSERT INTO mentions (paper_id, source_id, item_key, first_seen_at, "
                    "last_seen_at, mentioned_at, title, pick, related) VALUES (:p, :src, '', "
                    ":s, :s, :s, :title, :f, :f)"
                ),
                {"p": pid, "src": sources[kind], "s": stamp, "title": seen, "f": False},
            )
    engine.dispose()
    migrate(db_url, "head")
    store = Store(create_db_engine(db_url))
    try:
        got = [(p["title_source"], p["lead_key"], p["announced_at"]) for p in papers(store)]
    finally:
        store.engine.dispose()
    assert got == [
        ("hf", title_key("GPQA"), day("2022-03-08")),  # the id's month bounds the date
        ("curated", title_key("Scaling Laws"), day("2024-06-01")),
        (None, None, day("2025-01-01")),  # no mention carries its title
    ]
    # The downgrade keeps what was backfilled; upgrading again changes nothing.
    migrate(db_url, "0006", down=True)
    migrate(db_url, "head")


def test_a_digest_names_the_short_name_beside_the_title(store: Store) -> None:
    listing, curated = (
        add(store, "cs.CL", SourceKind.ARXIV),
        add(store, "weekly", SourceKind.WEEKLY_MD),
    )
    put(
        store,
        listing,
        arxiv("2506.15841v1", MEM1_FULL, published=day("2025-06-23"), announce_type="new"),
    )
    put(store, curated, arxiv("2506.15841", "MEM1", published=day("2025-06-23")))
    digest = build_digest(
        store, DigestRequest(week=parse_week("2025-W26"), top=5), now=day("2025-06-29T12:00")
    )
    assert [item.title for item in digest.items] == [f"MEM1 — {MEM1_FULL}"]


# One week (2025-W26, June 23-29) as paperbot's default and curated sources would bring it,
# in their real shapes, written for these tests (ids and titles follow real papers where a
# case needs them: MEM1, Emergent Misalignment, GPQA; the rest is invented):
# - mixed_week_weekly.md: a curated README with a February week (Emergent Misalignment, an
#   arXiv link) and the June week: MEM1 (an arXiv link), "Emergent Misalignment" (a company
#   PDF: another work), "SciMaster" (a PDF: the listing's 2506.22222), "Agentic RAG Survey"
#   (a repository: the listing's 2506.23333) and "Kettle Report" (nowhere else);
# - mixed_week_arxiv_cs.CL.xml / _cs.LG.xml: the day's listings, cross-listed papers in
#   both, GPQA (2023) and Emergent Misalignment announced again as replacements;
# - mixed_week_hf_daily.json: three papers with upvotes; mixed_week_notes.html: notes
#   without links, days after the listing; generic_feed_aggregator.xml: an aggregator.
WEEK = (
    "mixed_week_weekly.md",
    "mixed_week_arxiv_cs.CL.xml",
    "mixed_week_arxiv_cs.LG.xml",
    "mixed_week_hf_daily.json",
    "mixed_week_notes.html",
    "generic_feed_aggregator.xml",
)


@pytest.mark.parametrize(
    "order", [WEEK, WEEK[1:] + WEEK[:1]], ids=["curated first", "curated last"]
)
def test_a_mixed_week_keeps_one_record_per_paper(
    store: Store, fixtures: Path, order: tuple[str, ...]
) -> None:
    now = day("2025-06-27T12:00")
    for name in order:
        source = store.add_source(SourceSpec(name=name, location=str(fixtures / name)), now=now)
        ingest_document(store, source, (fixtures / name).read_bytes(), rules=TopicRules(), now=now)
    c = schema.papers.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(c.title, c.arxiv_id, c.aliases, c.announced_at, c.announced_exact)
        ).all()
    found = {
        (title, arxiv_id): (aliases, at, exact) for title, arxiv_id, aliases, at, exact in rows
    }
    # Ten papers; the curated "Agentic RAG Survey" is the one record too many: its name
    # leads no title (the survey's title starts "Towards Agentic RAG with Deep Reasoning").
    assert len(rows) == 11
    assert found[(MEM1_FULL, "2506.15841")] == (["MEM1"], day("2025-06-24T04:00"), True)
    scimaster = "SciMaster: Towards General-Purpose Scientific AI Agents, Part I"
    assert found[(scimaster, "2506.22222")][0] == ["SciMaster"]
    # June's company PDF is another work than February's arXiv paper of the same words.
    assert ("Emergent Misalignment", None) in found
    em = "Emergent Misalignment: Narrow finetuning can produce broadly misaligned LLMs"
    assert found[(em, "2502.17424")][1:] == (day("2025-02-24"), False)
    # GPQA, re-announced as a replacement in 2025, is from 2023.
    gpqa = found[("GPQA: A Graduate-Level Google-Proof Q&A Benchmark", "2311.12022")]
    assert gpqa[1:] == (day("2023-12-08"), False)
