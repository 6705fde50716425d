"""The whole ingest pipeline: real files and a real local HTTP server into a real database."""

from __future__ import annotations

import asyncio
import gc
import gzip
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digests.fetch import Fetcher, FetchSettings
from digests.ingest import FAILING_AFTER, Poller, SourceReport, poll_sources
from digests.model import SourceInfo, SourceKind, SourceSpec
from digests.normalize import TagName
from digests.query import parse_query
from digests.store import Store
from digests.topics import TopicRules, load_rules
from tests.httpserver import LocalServer, Reply

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)  # a Wednesday
RULES = load_rules()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def _no_sleep(_seconds: float) -> None:
    return None


def poll(
    store: Store,
    sources: Sequence[SourceInfo],
    *,
    allow_private: bool = True,
    **fetch: object,
) -> dict[str, SourceReport]:
    settings = FetchSettings(
        allow_private=allow_private,
        backoff_base=0.01,
        backoff_max=0.05,
        host_intervals={},
        **fetch,  # type: ignore[arg-type]
    )

    async def go() -> list[SourceReport]:
        async with Fetcher(settings=settings, sleep=_no_sleep) as fetcher:
            poller = Poller(store=store, fetcher=fetcher, rules=RULES, clock=Clock())
            return await poller.poll(sources)

    return {r.name: r for r in asyncio.run(go())}


def add(store: Store, name: str, location: str, kind: SourceKind | None = None) -> SourceInfo:
    return store.add_source(SourceSpec(name=name, location=location, kind=kind), now=NOW)


def titles(store: Store, text: str) -> list[str]:
    return [h.title for h in store.search(parse_query(text, now=NOW)).hits]


# -- our own fixtures, every format -------------------------------------------------------

FIXTURE_COUNTS = {
    "arxiv_rss2_listing.xml": SourceKind.ARXIV,
    "arxiv_atom_listing.xml": SourceKind.ARXIV,
    "arxiv_api_query.xml": SourceKind.ARXIV_API,
    "generic_feed.xml": SourceKind.FEED,
    "hf_daily_papers.json": SourceKind.HF_DAILY,
    "weekly_md.md": SourceKind.WEEKLY_MD,
    "notes_tag_page.html": SourceKind.NOTES_HTML,
    "notes_tag_page.txt": SourceKind.NOTES_TEXT,
    "paper_page.txt": SourceKind.PAPER_PAGE,
    "weekly_ja.txt": SourceKind.WEEKLY_JA,
}


def test_every_fixture_format_polls_from_disk(store: Store, fixtures: Path) -> None:
    sources = [add(store, name, str(fixtures / name)) for name in FIXTURE_COUNTS]
    reports = poll(store, sources)
    for name, kind in FIXTURE_COUNTS.items():
        report = reports[name]
        assert report.status == "ingested", (name, report.error)
        assert report.kind is kind
        assert report.entries > 0
        assert report.new + report.updated <= report.entries
    # Every paper created was counted as new exactly once, whichever fixture brought it.
    assert sum(r.new for r in reports.values()) == store.paper_count() > 0
    listed = {s.name: s for s in store.list_sources()}
    assert all(listed[n].last_success_at == NOW for n in FIXTURE_COUNTS)
    assert all(listed[n].paper_count > 0 for n in FIXTURE_COUNTS)


def test_a_poll_leaves_the_event_loop_policy_of_the_process_alone(
    store: Store, fixtures: Path
) -> None:
    # The Slack app and the scheduler share the process with the poll.
    policy = asyncio.get_event_loop_policy()
    policy_seen: list[asyncio.AbstractEventLoopPolicy] = []
    name = next(iter(FIXTURE_COUNTS))
    reports = poll_sources(
        store,
        [add(store, name, str(fixtures / name))],
        fetch_settings=FetchSettings(allow_private=True),
        rules=RULES,
        clock=Clock(),
        on_report=lambda _r: policy_seen.append(asyncio.get_event_loop_policy()),
    )
    assert [r.status for r in reports] == ["ingested"]
    assert policy_seen == [policy] and asyncio.get_event_loop_policy() is policy


def test_a_poll_leaves_the_cycle_collector_on_while_it_parses_and_stores(
    store: Store, fixtures: Path
) -> None:
    # The Slack app and the scheduler share the process with the poll's worker threads.
    seen: list[bool] = []

    class Watching(TopicRules):
        def topics_for(self, *texts: str | None) -> list[TagName]:
            seen.append(gc.isenabled())
            return super().topics_for(*texts)

    assert gc.isenabled()
    name = "arxiv_rss2_listing.xml"
    source = add(store, name, str(fixtures / name))
    reports = poll_sources(
        store,
        [source],
        fetch_settings=FetchSettings(allow_private=True),
        rules=Watching(),
        clock=Clock(),
    )
    assert [r.status for r in reports] == ["ingested"]
    assert seen and all(seen)


def test_second_poll_of_unchanged_files_does_not_reparse(store: Store, fixtures: Path) -> None:
    source = add(store, "rss", str(fixtures / "arxiv_rss2_listing.xml"))
    assert poll(store, [source])["rss"].status == "ingested"
    again = store.get_source("rss")
    assert again is not None and again.body_hash
    assert poll(store, [again])["rss"].status == "unchanged"


# -- a local server: every fault, one poll ------------------------------------------------


def test_one_poll_many_faults_each_recorded_others_ingested(store: Store, fixtures: Path) -> None:
    feed = (fixtures / "arxiv_atom_listing.xml").read_bytes()
    with LocalServer() as server:
        server.route("/ok", Reply(body=feed, headers={"ETag": '"v1"'}))
        server.route("/busy", Reply(429, headers={"Retry-After": "1"}), Reply(body=feed))
        server.route("/flaky", Reply(500), Reply(body=feed))
        server.route(
            "/html",
            Reply(
                body=b"<html><head><title>Oops</title></head></html>",
                headers={"Content-Type": "text/html"},
            ),
        )
        server.route("/empty", Reply(body=b""))
        server.route("/huge", Reply(body=b"x" * 50_000))
        server.route("/slow", Reply(body=feed, delay=3.0))
        server.route("/gone", Reply(404))
        names = ["ok", "busy", "flaky", "html", "empty", "huge", "slow", "gone"]
        sources = [add(store, n, server.url(f"/{n}")) for n in names]
        reports = poll(store, sources, max_body=40_000, timeout=1.0, deadline=2.0)

    assert reports["ok"].status == "ingested"
    assert reports["busy"].status == "ingested"  # waited out Retry-After, then fetched
    assert reports["flaky"].status == "ingested"  # backed off, then fetched
    for name, needle in {
        "html": "HTML",
        "empty": "empty",
        "huge": "limit",
        "slow": "time",
        "gone": "404",
    }.items():
        assert reports[name].status == "error", name
        assert needle.lower() in (reports[name].error or "").lower(), (name, reports[name].error)
    stored = {s.name: s for s in store.list_sources()}
    for name in ("html", "empty", "huge", "slow", "gone"):
        assert stored[name].consecutive_failures == 1
        assert stored[name].last_error
        assert stored[name].next_check_at is not None and stored[name].next_check_at > NOW
    assert stored["ok"].consecutive_failures == 0
    assert stored["ok"].etag == '"v1"'
    assert titles(store, "source:ok") != []


def test_not_modified_and_same_etag(store: Store, fixtures: Path) -> None:
    feed = (fixtures / "arxiv_atom_listing.xml").read_bytes()

    def conditional(request: object) -> Reply:
        headers = getattr(request, "headers", {})
        if headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(body=feed, headers={"ETag": '"v1"'})

    with LocalServer() as server:
        server.route("/feed", conditional)
        server.route("/same", Reply(body=feed, headers={"ETag": '"s"'}))
        a = add(store, "feed", server.url("/feed"))
        b = add(store, "same", server.url("/same"))
        assert poll(store, [a, b])["feed"].status == "ingested"
        a2, b2 = store.get_source("feed"), store.get_source("same")
        assert a2 is not None and b2 is not None
        second = poll(store, [a2, b2])
        assert second["feed"].status == "not_modified"
        assert second["same"].status == "unchanged"  # 200 with the ETag we sent


def test_failing_source_is_flagged_after_repeated_failures(store: Store) -> None:
    with LocalServer() as server:
        server.route("/down", Reply(503))
        source = add(store, "down", server.url("/down"))
        for _ in range(FAILING_AFTER):
            current = store.get_source("down")
            assert current is not None
            poll(store, [current], max_retries=0)
    flagged = store.get_source("down")
    assert flagged is not None
    assert flagged.consecutive_failures == FAILING_AFTER
    assert flagged.health == "failing"
    assert source.health is None


def test_address_guard_refuses_loopback_unless_allowed(store: Store, fixtures: Path) -> None:
    with LocalServer() as server:
        server.route("/feed", Reply(body=(fixtures / "arxiv_atom_listing.xml").read_bytes()))
        source = add(store, "local", server.url("/feed"))
        refused = poll(store, [source], allow_private=False)["local"]
        assert refused.status == "error"
        assert "not a public address" in (refused.error or "")
        assert "PAPERBOT_ALLOW_PRIVATE_NETWORKS=1" in (refused.error or "")
        assert server.requests_to("/feed") == []  # refused before connecting
        allowed = poll(store, [source], allow_private=True)["local"]
        assert allowed.status == "ingested"


def test_gzip_served_feed_is_decoded(store: Store, fixtures: Path) -> None:
    body = gzip.compress((fixtures / "hf_daily_papers.json").read_bytes())
    with LocalServer() as server:
        server.route("/hf", Reply(body=body, headers={"Content-Encoding": "gzip"}))
        source = add(store, "hf", server.url("/hf"), SourceKind.HF_DAILY)
        assert poll(store, [source])["hf"].status == "ingested"


# -- the real pages this product was specified from ---------------------------------------

SEED_COUNTS = {
    "000_6920c97dc52eadcb.txt": 17,
    "001_9e1948a9a8e0a673.txt": 50,
    "003_dfa80e8afd3b3daa.txt": 10,
}


def test_seed_pages_ingest_and_dedupe_across_sources(store: Store, shared: Path) -> None:
    seeds = sorted((shared / "seeds").iterdir())
    sources = [add(store, p.name, str(p)) for p in seeds]
    reports = poll(store, sources)
    for name, count in SEED_COUNTS.items():
        assert reports[name].entries == count, name
    assert all(r.status == "ingested" for r in reports.values())
    hits = store.search(parse_query('"The Unlocking Spell on Base LLMs"', now=NOW)).hits
    assert len(hits) == 1, [h.title for h in hits]
    [spell] = hits
    assert {"000_6920c97dc52eadcb.txt", "002_ada33f5db61ad4b7.txt"} <= set(spell.sources)
    assert "Alignment" in spell.tags
    [aligners] = store.search(parse_query("id:2403.04224v4", now=NOW)).hits
    assert aligners.title == "Aligners: Decoupling LLMs and Alignment"
    assert "Alignment" in aligners.tags


def test_samples_ingest_with_their_counts(store: Store, shared: Path) -> None:
    samples = shared / "samples"
    expected = {
        "arxiv_rss2_multi_cat__msudars_laya-reader.xml": 4,
        "arxiv_atom_cs.LG__sakshamchitkara-dotcom_paper-forge.xml": 3,
        "hf_daily_papers_first2items__lucas-m-lopes_sotawhat.json": 2,
        "ml_papers_of_the_week_2weeks__dair-ai_ML-Papers-of-the-Week_README.md": 20,
    }
    sources = [add(store, name, str(samples / name)) for name in expected]
    reports = poll(store, sources)
    for name, count in expected.items():
        assert reports[name].status == "ingested", reports[name].error
        assert reports[name].entries == count, name
    assert sum(r.new for r in reports.values()) == store.paper_count() > 0


@pytest.mark.parametrize("kind", [None, *SourceKind])
def test_garbage_is_a_clear_recorded_error(
    store: Store, tmp_path: Path, kind: SourceKind | None
) -> None:
    # Random bytes are no kind of document: detected or forced, the error says so.
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 8)
    source = add(store, f"g-{kind}", str(garbage), kind)
    report = poll(store, [source])[source.name]
    assert report.status == "error"
    assert report.error


@pytest.mark.parametrize(
    "field",
    ["title", "abstract", "summary", "comment", "authors", "tags", "categories", "abs", "other"],
)
@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x7f", "\ud800", ""])
def test_prepare_cleans_control_characters_in_any_field(field: str, bad: str) -> None:
    from dataclasses import replace

    from digests.ingest import prepare
    from digests.model import Entry, Links

    base = Entry(
        title="A paper\twith a tab",
        abstract="Line one\nline two",
        summary="s",
        comment="c",
        authors=("Ann Lee", "Bo Li"),
        tags=("LLM",),
        categories=("cs.CL",),
        links=Links(abs="https://example.org/a", other=("https://example.org/o",)),
    )
    values: dict[str, object] = {}
    if field in ("authors", "tags", "categories"):
        values[field] = (*getattr(base, field), f"x{bad}y")
    elif field in ("abs", "other"):
        links = base.links
        values["links"] = (
            replace(links, abs=f"https://example.org/{bad}a")
            if field == "abs"
            else replace(links, other=(f"https://example.org/{bad}o",))
        )
    else:
        values[field] = f"x{bad}y"
    entry = replace(base, **values)  # type: ignore[arg-type]
    source = SourceInfo(
        id=1,
        name="s",
        location="s",
        kind=SourceKind.FEED,
        interval_seconds=60,
        tags=(),
        origin="cli",
        enabled=True,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    [prepared] = prepare([entry], source, RULES)
    cleaned = prepared.entry
    if not bad:
        assert cleaned is entry  # nothing to clean: the same object
    else:
        texts = [cleaned.title, cleaned.abstract, cleaned.summary, cleaned.comment]
        texts += [*cleaned.authors, *cleaned.tags, *cleaned.categories, cleaned.links.abs]
        texts += cleaned.links.other
        assert not [t for t in texts if t and bad in t]
        assert cleaned.title == base.title or field == "title"
        assert cleaned.abstract == base.abstract or field == "abstract"
