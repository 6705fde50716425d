"""Sources over their life on a real database: added, renamed, retired, restored, purged,
and the health a listing reports for each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from digests.digest import DigestRequest, build_digest
from digests.errors import ConfigError, StoreError
from digests.ingest import prepare
from digests.model import Entry, SourceInfo, SourceKind, SourceSpec
from digests.query import parse_query
from digests.sourcefile import check_location, load_sources, parse_kind
from digests.sourcestatus import SourceState, source_status
from digests.store import FetchRecord, SourceSync, Store, create_db_engine
from digests.topics import load_rules
from digests.weeks import parse_week
from tests.factories import migrate

MONDAY = datetime(2025, 8, 18, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 8, 24, 12, 0, tzinfo=UTC)  # Sunday of 2025-W34
W34 = parse_week("2025-W34")
RULES = load_rules()


def listed(name: str, url: str) -> SourceSpec:
    return SourceSpec(name=name, location=url, kind=SourceKind.FEED, origin="file")


def put(store: Store, name: str, *numbers: int) -> None:
    source = store.get_source(name)
    assert source is not None
    entries = [
        Entry(
            title=f"Paper {n}",
            arxiv_id=f"2508.{n:05d}",
            url=f"https://arxiv.org/abs/2508.{n:05d}",
            published=MONDAY + timedelta(hours=n),
        )
        for n in numbers
    ]
    store.store_entries(source, prepare(entries, source, RULES), now=MONDAY)


def week_titles(store: Store) -> list[str]:
    digest = build_digest(store, DigestRequest(week=W34, top=50), now=NOW)
    return sorted(item.title for item in digest.items)


def found(store: Store, query: str) -> list[str]:
    return sorted(h.title for h in store.search(parse_query(query, now=NOW)).hits)


def by_name(store: Store) -> dict[str, SourceInfo]:
    return {s.name: s for s in store.list_sources()}


# -- the sources file ----------------------------------------------------------------------


def test_emptying_the_sources_file_retires_its_sources_and_past_weeks_keep_their_papers(
    store: Store,
) -> None:
    store.sync_sources(
        [listed("a", "https://a.example/f"), listed("b", "https://b.example/f")], now=MONDAY
    )
    put(store, "a", 1, 2, 3)
    put(store, "b", 3, 4, 5)
    before = week_titles(store)
    assert len(before) == 5

    assert store.sync_sources([], now=NOW) == SourceSync(retired=("a", "b"))

    assert week_titles(store) == before
    assert found(store, "source:a") == ["Paper 1", "Paper 2", "Paper 3"]
    sources = by_name(store)
    assert [(s.retired_at, s.paper_count) for s in sources.values()] == [(NOW, 3), (NOW, 3)]
    assert store.due_sources(NOW + timedelta(days=30)) == []
    assert store.sync_sources([], now=NOW) == SourceSync()  # said once, not at every start


def test_a_source_renamed_in_the_file_keeps_its_history_under_the_new_name(store: Store) -> None:
    url = "https://rss.arxiv.org/atom/cs.CL"
    store.sync_sources([listed("arXiv cs.CL", url)], now=MONDAY)
    put(store, "arXiv cs.CL", 1, 2)

    changed = store.sync_sources([listed("cs.CL listing", url)], now=NOW)

    assert changed == SourceSync(renamed=("arXiv cs.CL -> cs.CL listing",))
    [source] = store.list_sources()
    assert (source.name, source.paper_count, source.retired) == ("cs.CL listing", 2, False)
    assert found(store, 'source:"cs.CL listing"') == ["Paper 1", "Paper 2"]


def test_a_retired_source_listed_again_is_restored_with_its_history(store: Store) -> None:
    store.sync_sources([listed("a", "https://a.example/f")], now=MONDAY)
    put(store, "a", 1)
    store.sync_sources([], now=MONDAY)
    assert store.due_sources(NOW) == []

    again = store.sync_sources([listed("A", "https://a.example/f")], now=NOW)

    assert again == SourceSync(renamed=("a -> A",))  # matched ignoring case, spelled anew
    [source] = store.list_sources()
    assert not source.retired and source.paper_count == 1
    assert [s.name for s in store.due_sources(NOW)] == ["A"]
    store.sync_sources([], now=NOW)
    assert store.sync_sources([listed("A", "https://a.example/f")], now=NOW) == SourceSync(
        restored=("A",)
    )


def test_a_file_source_named_like_a_command_line_one_is_skipped_and_said(store: Store) -> None:
    store.add_source(SourceSpec(name="Lab blog", location="https://lab.example/feed"), now=MONDAY)
    changed = store.sync_sources([listed(" lab BLOG ", "https://other.example/feed")], now=NOW)
    assert changed == SourceSync(skipped=(" lab BLOG ",))
    assert [s.location for s in store.list_sources()] == ["https://lab.example/feed"]


def test_what_the_file_changed_is_one_line_and_nothing_is_silence() -> None:
    line = SourceSync(added=("x",), updated=("y",), retired=("p", "q")).summary("sources.toml")
    assert line == "sources.toml: added 1 (x), updated 1 (y), retired 2 (p, q)"
    skipped = SourceSync(added=("x",), skipped=("y",)).summary("f")
    assert (
        skipped
        == "f: added 1 (x), skipped 1 (y: named like a source added from the command line or Slack)"
    )
    assert SourceSync().summary("sources.toml") is None


def test_names_in_the_file_are_unique_ignoring_case() -> None:
    file = '[[source]]\nname = "HF"\nurl = "https://a/x"\n[[source]]\nname = "hf "\nurl = "https://b/y"\n'
    with pytest.raises(ConfigError, match="two sources are named 'hf'"):
        load_sources(file)


def test_a_file_source_with_an_unusable_scheme_or_empty_tag_is_refused() -> None:
    bad_scheme = '[[source]]\nname = "x"\nurl = "javascript:alert(1)"\n'
    with pytest.raises(ConfigError, match=r"source 'x'.*javascript"):
        load_sources(bad_scheme)
    empty_tag = '[[source]]\nname = "x"\nurl = "https://a/x"\ntags = [""]\n'
    with pytest.raises(ConfigError, match=r"source 'x'.*tag is empty"):
        load_sources(empty_tag)


# -- adding, retiring and purging ----------------------------------------------------------


def test_source_names_are_unique_ignoring_case_and_surrounding_spaces(store: Store) -> None:
    store.add_source(SourceSpec(name="arXiv", location="https://a.example/f"), now=MONDAY)
    with pytest.raises(StoreError, match="a source named 'arXiv' already exists"):
        store.add_source(SourceSpec(name=" ARXIV ", location="https://b.example/f"), now=MONDAY)
    assert [s.name for s in store.list_sources()] == ["arXiv"]
    found_again = store.get_source("  arxiv")
    assert found_again is not None and found_again.name == "arXiv"


def test_a_retired_source_added_again_at_its_location_is_restored(store: Store) -> None:
    spec = SourceSpec(name="blog", location="https://blog.example/feed")
    source = store.add_source(spec, now=MONDAY)
    put(store, "blog", 1, 2)
    assert store.retire_source(source.id, now=MONDAY)
    assert not store.retire_source(source.id, now=NOW)  # already retired
    with pytest.raises(StoreError, match="retired source named 'blog'"):
        store.add_source(replace(spec, location="https://elsewhere.example/feed"), now=NOW)

    back = store.add_source(replace(spec, name="Blog"), now=NOW)

    assert (back.id, back.name, back.retired, back.paper_count) == (source.id, "Blog", False, 2)


def test_purging_deletes_the_mentions_and_recounts_the_papers(store: Store) -> None:
    a = store.add_source(SourceSpec(name="a", location="https://a.example/f"), now=MONDAY)
    store.add_source(SourceSpec(name="b", location="https://b.example/f"), now=MONDAY)
    put(store, "a", 1, 2, 3)
    put(store, "b", 3)
    assert store.mention_count(a.id) == 3

    assert store.purge_source(a.id) == 3

    assert [s.name for s in store.list_sources()] == ["b"]
    assert found(store, "source:a") == []
    with store.engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT title, source_count FROM papers")).all())
    assert counts == {"Paper 1": 0, "Paper 2": 0, "Paper 3": 1}  # papers stay, recounted


def test_a_failure_streak_remembers_when_it_began(store: Store) -> None:
    source = store.add_source(SourceSpec(name="s", location="https://s.example/f"), now=MONDAY)
    later = MONDAY + timedelta(hours=1)
    for at in (MONDAY, later):
        store.record_failure(source.id, now=at, error="boom", next_check_at=at)
    failing = store.get_source("s")
    assert failing is not None and (failing.failing_since, failing.consecutive_failures) == (
        MONDAY,
        2,
    )
    store.record_fetches([FetchRecord(source.id, None, None, None, NOW, None)], now=NOW)
    well = store.get_source("s")
    assert well is not None and well.failing_since is None


# -- what is checked when a source is added -------------------------------------------------


def test_an_added_location_is_checked_before_it_is_stored(tmp_path: Path) -> None:
    folder = tmp_path
    feed = folder / "feed.xml"
    feed.write_text("<rss/>", "utf-8")
    assert check_location(str(feed)) == str(feed.resolve())
    assert check_location(f"file://{feed}") == f"file://{feed}"
    assert check_location(" https://example.org/feed ") == "https://example.org/feed"
    refused = {
        str(folder / "missing.xml"): "no such file",
        str(folder): "is a directory",
        "": "empty",
        "   ": "empty",
        "javascript:alert(1)": "scheme javascript: is not one paperbot reads",
        "ftp://example.org/feed": "scheme ftp:",
        "https:///feed": "no host name",
        f"file://{folder}/missing.xml": "no such file",
    }
    for location, why in refused.items():
        with pytest.raises(ConfigError, match=why):
            check_location(location)


def test_rss_and_atom_are_spellings_of_the_feed_kind() -> None:
    assert parse_kind("rss") is parse_kind("Atom") is parse_kind("feed") is SourceKind.FEED
    with pytest.raises(ConfigError, match="rss and atom mean feed"):
        parse_kind("podcast")


# -- health ---------------------------------------------------------------------------------


def info(**kw: object) -> SourceInfo:
    base = SourceInfo(
        id=1,
        name="s",
        location="https://s.example/f",
        kind=SourceKind.FEED,
        interval_seconds=3600,
        tags=(),
        origin="cli",
        enabled=True,
        created_at=MONDAY,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_health_says_never_polled_ok_failing_stale_or_retired() -> None:
    checked = {"last_checked_at": NOW, "last_success_at": NOW - timedelta(hours=3)}
    since = MONDAY + timedelta(days=1)
    cases = {
        "never polled": (info(), SourceState.NEVER_POLLED),
        "ok: last success 3h ago": (info(**checked), SourceState.OK),
        "failing: 3 in a row since 2025-08-19 09:00 UTC; last error: cannot resolve x.invalid": (
            info(
                last_checked_at=NOW,
                consecutive_failures=3,
                failing_since=since,
                last_error="cannot resolve x.invalid",
            ),
            SourceState.FAILING,
        ),
        "stale since 2025-08-19 09:00 UTC: repeats a batch (last success 3h ago)": (
            info(**checked, health="stale", health_reason="repeats a batch", health_since=since),
            SourceState.STALE,
        ),
        "retired since 2025-08-19 09:00 UTC: not polled, its papers stay": (
            info(**checked, retired_at=since, consecutive_failures=2, last_error="x"),
            SourceState.RETIRED,
        ),
    }
    for words, (source, state) in cases.items():
        status = source_status(source)
        assert (status.state, status.describe(NOW)) == (state, words)
        assert status.as_json(NOW)["state"] == state.value


def test_a_source_that_never_succeeded_is_failing_not_ok() -> None:
    source = info(last_checked_at=NOW, consecutive_failures=1, last_error="cannot resolve a")
    status = source_status(source)
    assert status.state is SourceState.FAILING
    assert status.as_json(NOW)["last_success"] is None
    long = info(last_checked_at=NOW, consecutive_failures=1, last_error="word " * 100)
    assert source_status(long).describe(NOW, error_chars=20).endswith("word word word…")


# -- the migration ---------------------------------------------------------------------------


def test_the_retired_column_migrates_down_and_up_keeping_every_mention(db_url: str) -> None:
    store = Store.open(db_url)
    store.sync_sources([listed("a", "https://a.example/f")], now=MONDAY)
    put(store, "a", 1, 2)
    store.sync_sources([], now=NOW)
    store.dispose()

    migrate(db_url, "0004", down=True)
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mentions")).scalar_one() == 2
        columns = conn.execute(text("SELECT * FROM sources")).keys()
    engine.dispose()
    assert "retired_at" not in columns and "failing_since" not in columns

    migrate(db_url, "head")
    store = Store.open(db_url)
    try:
        [source] = store.list_sources()
        assert source.paper_count == 2 and store.retire_source(source.id, now=NOW)
        assert store.integrity_check() == "ok"
    finally:
        store.dispose()
