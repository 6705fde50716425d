"""A library imported into a channel's profile: resolved in the store, then on arXiv."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digests.enrich import Enricher, EnrichSettings
from digests.fetch import FetchSettings
from digests.ingest import prepare
from digests.library import Library, decode_library, read_library
from digests.library_import import import_library, too_large
from digests.model import SourceSpec
from digests.query import parse_query
from digests.schema import mentions, papers
from digests.store import Store
from digests.topics import TopicRules
from tests.arxivapi import FakeArxivApi
from tests.factories import arxiv, library_papers, utc
from tests.httpserver import LocalServer, Reply

NOW = utc(2025, 8, 20, 9)
MEM1_TITLE = "MEM1: Learning to Synergize Memory and Reasoning for Efficient Long-Horizon Agents"


@pytest.fixture
def api() -> FakeArxivApi:
    return FakeArxivApi()


@pytest.fixture
def server(api: FakeArxivApi) -> Iterator[LocalServer]:
    with LocalServer(keep_alive=True) as s:
        s.route("/api/query", api)
        yield s


def arxiv_at(store: Store, url: str, said: list[str] | None = None) -> Enricher:
    return Enricher(
        store,
        fetch=FetchSettings(allow_private=True, max_retries=0),
        rules=TopicRules(),
        clock=lambda: NOW,
        settings=EnrichSettings(api_url=url, interval=0.0),
        say_offline=(said.append if said is not None else None),
    )


def read(fixtures: Path, name: str) -> Library:
    return read_library(decode_library((fixtures / "library" / name).read_bytes()))


def likes(store: Store, team: str = "T1", channel: str = "C1") -> dict[int, str]:
    found = store.channel_feedback([(team, channel)])[(team, channel)]
    assert all(f.verdict == "like" and f.origin == "import" for f in found)
    return {f.paper_id: f.user_id for f in found}


def test_zotero_bibtex_likes_each_paper_once_and_lists_what_it_could_not(
    store: Store, tmp_path: Path, fixtures: Path, server: LocalServer, api: FakeArxivApi
) -> None:
    known = library_papers(store, tmp_path)
    report = import_library(
        store,
        read(fixtures, "zotero.bib"),
        team_id="T1",
        channel_id="C1",
        user_id="UADMIN",
        now=NOW,
        arxiv=arxiv_at(store, server.url("/api/query")),
    )
    [mem1] = store.find_references(arxiv_ids=["2506.15841"]).arxiv.values()
    # by arXiv id, DOI, a fetched arXiv id, LaTeX-accented title, Scholar's journal field
    assert report.liked == (known["dpo"], known["parrots"], mem1, known["uber"], known["attention"])
    assert likes(store) == dict.fromkeys(report.liked, "UADMIN")
    assert [str(u) for u in report.unresolved] == [
        "entry 4 (line 44) [nobody_broken_2024]: unbalanced braces",
        'entry 6 (line 57) [knuth_art_1997] "The Art of Computer Programming": no paper in the '
        "store has this title, and it names no arXiv id",
        'entry 7 (line 67) [future_unknown_2025] "A Paper arXiv Never Listed": arXiv does not '
        "know 2512.99999",
    ]
    # arXiv was asked once, about the two ids the store lacked.
    assert api.asked == [["2506.15841", "2512.99999"]]
    assert report.fetched == 1 and report.arxiv_failure is None
    assert report.summary() == (
        "8 entries (bibtex): 5 liked, 3 unresolved (listed below); 1 added to the store from arXiv"
    )


def test_a_paper_added_from_arxiv_is_a_normal_paper_but_no_source_mentions_it(
    store: Store, tmp_path: Path, fixtures: Path, server: LocalServer
) -> None:
    library_papers(store, tmp_path)
    with store.engine.connect() as conn:
        mentioned = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
    import_library(
        store,
        read(fixtures, "zotero.ris"),
        team_id="T1",
        channel_id="C1",
        user_id="UADMIN",
        now=NOW,
        arxiv=arxiv_at(store, server.url("/api/query")),
    )
    hits = store.search(parse_query("id:2506.15841", now=NOW)).hits
    assert [h.title for h in hits] == [MEM1_TITLE]
    assert "Lena Okafor" in hits[0].authors
    assert store.search(parse_query("author:Okafor", now=NOW)).hits[0].arxiv_id == "2506.15841"
    with store.engine.connect() as conn:
        row = conn.execute(
            select(papers.c.source_count, papers.c.enriched_at, papers.c.announced_exact).where(
                papers.c.arxiv_id == "2506.15841"
            )
        ).one()
        after = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
    assert tuple(row) == (0, NOW, True)
    # No mention: the week of its arXiv date does not see it, so it lifts no ranking.
    assert after == mentioned
    week = store.week_candidates(utc(2025, 6, 16), utc(2025, 6, 23))
    assert "2506.15841" not in {c.paper.arxiv_id for c in week}


def test_duplicates_are_counted_and_a_link_finds_its_paper(
    store: Store, tmp_path: Path, fixtures: Path
) -> None:
    known = library_papers(store, tmp_path)
    report = import_library(
        store,
        read(fixtures, "mendeley.bib"),
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        now=NOW,
        arxiv=None,
    )
    assert report.liked == (known["dpo"], known["cai"], known["review"])
    assert report.duplicates == 1 and not report.unresolved
    assert report.summary() == "4 entries (bibtex): 3 liked, 1 duplicate"


def test_without_arxiv_the_unknown_ids_are_listed_and_said_once(
    store: Store, tmp_path: Path, fixtures: Path
) -> None:
    known = library_papers(store, tmp_path)
    with LocalServer() as down:
        down.route("/api/query", Reply(503))
        said: list[str] = []
        report = import_library(
            store,
            read(fixtures, "list.txt"),
            team_id="T1",
            channel_id="C1",
            user_id="U1",
            now=NOW,
            arxiv=arxiv_at(store, down.url("/api/query"), said),
        )
    assert len(said) == 1 and said[0].startswith("arXiv API unreachable")
    assert report.arxiv_failure is not None
    assert report.liked == (known["dpo"], known["attention"], known["parrots"], known["review"])
    assert report.duplicates == 1
    reasons = {u.number: u.reason for u in report.unresolved}
    assert reasons == {
        5: "not in the store, and arXiv could not be asked (import it again later)",
        7: "not an arXiv id, a DOI or a link",
        8: "not in the store, and arXiv could not be asked (import it again later)",
    }
    # What could be liked was liked.
    assert set(likes(store)) == set(report.liked)


def test_dry_run_changes_nothing_and_asks_no_one(
    store: Store, tmp_path: Path, fixtures: Path, server: LocalServer, api: FakeArxivApi
) -> None:
    library_papers(store, tmp_path)
    report = import_library(
        store,
        read(fixtures, "zotero.bib"),
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        now=NOW,
        arxiv=arxiv_at(store, server.url("/api/query")),
        dry_run=True,
    )
    assert api.asked == [] and likes(store) == {} and store.profile_state("T1", "C1") is None
    assert len(report.liked) == 4 and report.to_fetch == 2
    assert report.summary().endswith("; 2 to look up on arXiv; dry run: nothing changed")


def test_an_import_shapes_only_its_own_channel_and_replaces_the_importers_mute(
    store: Store, tmp_path: Path
) -> None:
    known = library_papers(store, tmp_path)
    store.set_verdicts("T1", "C1", "U1", {known["dpo"]: "mute"}, origin="click", now=NOW)
    library = read_library("2305.18290\n1706.03762\n")
    import_library(store, library, team_id="T1", channel_id="C2", user_id="U1", now=NOW, arxiv=None)
    assert set(likes(store, channel="C2")) == {known["dpo"], known["attention"]}
    assert store.muted_paper_ids([("T1", "C1")])[("T1", "C1")] == {known["dpo"]}
    import_library(store, library, team_id="T1", channel_id="C1", user_id="U1", now=NOW, arxiv=None)
    assert store.muted_paper_ids([("T1", "C1")])[("T1", "C1")] == set()
    assert store.channel_feedback([("T2", "C1")])[("T2", "C1")] == []


def test_a_title_two_papers_share_names_neither(store: Store, tmp_path: Path) -> None:
    library_papers(store, tmp_path)
    (tmp_path / "other.md").write_text("# other\n", "utf-8")
    other = store.add_source(SourceSpec(name="other", location=str(tmp_path / "other.md")), now=NOW)
    namesake = arxiv("2401.00001", "Attention Is All You Need", published=utc(2024, 1, 1))
    store.store_entries(other, prepare([namesake], other, TopicRules()), now=NOW)
    report = import_library(
        store,
        read_library("@misc{k, title = {Attention is all you need}}\n"),
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        now=NOW,
        arxiv=None,
    )
    assert report.liked == ()
    assert [u.reason for u in report.unresolved] == [
        "2 papers have this title; give its arXiv id or DOI"
    ]


def test_size_limit_line() -> None:
    assert too_large(5 * 1024 * 1024) is None
    line = too_large(50 * 1024 * 1024)
    assert line is not None and line.startswith("The file is 50.0 MB; a library import takes")
