"""Enrichment from the arXiv API, against a local stand-in for export.arxiv.org."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.config import BotSettings, SlackSettings
from bot.scheduler import Background, Scheduler, build_scheduler
from digests.enrich import Enricher, EnrichReport, EnrichSettings
from digests.errors import ConfigError
from digests.fetch import FetchSettings
from digests.identity import PaperIndex, merge_values, new_paper_row
from digests.ingest import prepare
from digests.model import Candidate, Entry, Signals, SourceInfo, SourceKind, SourceSpec
from digests.query import parse_query
from digests.settings import DEFAULT_ARXIV_API_URL, Settings
from digests.store import Store
from digests.topics import TopicRules
from tests.arxivapi import FakeArxivApi
from tests.factories import Clock, client_for, core_settings, source_info, utc
from tests.fakeslack import BOT_TOKEN, FakeSlack
from tests.httpserver import LocalServer, Reply
from tests.paths import FIXTURES

NOW = utc(2025, 6, 25, 12)
WEEK = (utc(2025, 6, 16), utc(2025, 6, 30))
ATOM = "application/atom+xml"
MEM1_TITLE = "MEM1: Learning to Synergize Memory and Reasoning for Efficient Long-Horizon Agents"


@pytest.fixture
def api() -> FakeArxivApi:
    return FakeArxivApi()


@pytest.fixture
def server(api: FakeArxivApi) -> Iterator[LocalServer]:
    with LocalServer(keep_alive=True) as s:
        s.route("/api/query", api)
        yield s


def curated(store: Store, tmp_path: Path, entries: Sequence[Entry]) -> SourceInfo:
    """A curated weekly list that named ``entries``."""
    path = tmp_path / "weekly.md"
    path.write_text("# picks\n", "utf-8")
    source = store.add_source(SourceSpec(name="weekly", location=str(path)), now=NOW)
    store.store_entries(source, prepare(entries, source, TopicRules()), now=NOW)
    return source


def pick(arxiv_id: str, title: str, position: int = 1) -> Entry:
    return Entry(
        title=title,
        arxiv_id=arxiv_id,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        summary=f"{title} is this week's pick: a curator's blurb.",
        signals=Signals(pick=True, position=position),
        published=utc(2025, 6, 23),
    )


def enricher(
    store: Store, url: str, *, interval: float = 0.0, batch_size: int = 100, budget: float = 60
) -> Enricher:
    return Enricher(
        store,
        fetch=FetchSettings(allow_private=True, max_retries=0),
        rules=TopicRules(),
        clock=lambda: NOW,
        settings=EnrichSettings(
            api_url=url, interval=interval, batch_size=batch_size, budget=budget
        ),
    )


def candidates(store: Store) -> dict[str, Candidate]:
    return {c.paper.arxiv_id or "": c for c in store.week_candidates(*WEEK)}


def test_a_curated_pick_gets_arxivs_title_authors_abstract_and_categories(
    store: Store, tmp_path: Path, server: LocalServer
) -> None:
    curated(store, tmp_path, [pick("2506.15841", "MEM1"), pick("2506.10910", "RAG+", 2)])
    before = candidates(store)
    assert before["2506.15841"].paper.title == "MEM1" and not before["2506.15841"].paper.authors

    report = enricher(store, server.url("/api/query")).run()

    assert report.asked == 2 and report.requests == 1 and not report.unknown
    assert dict(report.completed)["2506.15841"] == MEM1_TITLE
    after = candidates(store)
    mem1 = after["2506.15841"]
    assert mem1.paper.title == MEM1_TITLE
    assert mem1.paper.authors == ("Lena Okafor", "Tomasz Wiśniewski", "Mei Tanaka")
    assert mem1.abstract is not None and mem1.abstract.startswith("Language agents that work")
    assert {"cs.CL", "cs.AI", "cs.LG"} <= set(mem1.paper.tags)
    # arXiv's version 1 date is the paper's age, not the curated list's week.
    assert mem1.announced_at == utc(2025, 6, 18, 17, 44) + timedelta(seconds=1)
    assert after["2506.10910"].paper.title.startswith("RAG+: Enhancing Retrieval-Augmented")
    # Asking arXiv is no endorsement: the same one source, the same one mention.
    for arxiv_id, c in after.items():
        assert c.paper.sources == before[arxiv_id].paper.sources == ("weekly",)
        assert len(c.mentions) == len(before[arxiv_id].mentions) == 1
    # author: and tag: now find the pick.
    by_author = store.search(parse_query("author:Okafor", now=NOW)).hits
    assert [h.arxiv_id for h in by_author] == ["2506.15841"]
    by_category = store.search(parse_query("tag:cs.LG", now=NOW)).hits
    assert [h.arxiv_id for h in by_category] == ["2506.15841"]
    by_abstract = store.search(parse_query("compact internal state", now=NOW)).hits
    assert [h.arxiv_id for h in by_abstract] == ["2506.15841"]


def test_requests_carry_at_most_100_ids_spaced_on_one_connection(
    store: Store, tmp_path: Path
) -> None:
    ids = [f"2507.{n:05d}" for n in range(1, 251)]
    api = FakeArxivApi(generated=ids)
    curated(store, tmp_path, [pick(i, f"Short name {n}", n) for n, i in enumerate(ids, 1)])
    interval = 0.3
    with LocalServer(keep_alive=True) as server:
        server.route("/api/query", api)
        report = enricher(store, server.url("/api/query"), interval=interval).run()
        requests = server.requests_to("/api/query")
    assert report.asked == 250 and report.requests == 3 and len(report.completed) == 250
    assert [len(batch) for batch in api.asked] == [100, 100, 50]
    assert sorted(i for batch in api.asked for i in batch) == ids
    starts = [r.started for r in requests]
    assert all(b - a >= interval for a, b in itertools.pairwise(starts))
    assert len({r.client_port for r in requests}) == 1  # one connection, kept alive
    assert requests[0].headers["user-agent"].startswith("paperbot/")


def test_the_polite_defaults() -> None:
    settings = EnrichSettings()
    assert settings.api_url == DEFAULT_ARXIV_API_URL == "https://export.arxiv.org/api/query"
    assert settings.batch_size == 100 and settings.interval == 3.0
    with pytest.raises(ConfigError):
        EnrichSettings(batch_size=101)
    with pytest.raises(ConfigError):
        EnrichSettings(api_url="ftp://export.arxiv.org/api/query")


def test_a_paper_is_asked_about_once_even_when_arxiv_does_not_know_it(
    store: Store, tmp_path: Path, server: LocalServer, api: FakeArxivApi
) -> None:
    curated(store, tmp_path, [pick("2506.15841", "MEM1"), pick("2599.99999", "Ghost", 2)])
    first = enricher(store, server.url("/api/query")).run()
    assert first.unknown == ("2599.99999",) and first.asked == 2
    assert [h for h, _t in first.completed] == ["2506.15841"]
    second = enricher(store, server.url("/api/query")).run()
    assert second == EnrichReport()  # nothing chosen, nothing asked
    assert len(api.asked) == 1
    ghost = candidates(store)["2599.99999"]
    assert ghost.paper.title == "Ghost"  # unknown to arXiv: as its source gave it


def test_complete_papers_are_not_asked_about(
    store: Store, tmp_path: Path, server: LocalServer, api: FakeArxivApi
) -> None:
    complete = replace(
        pick("2506.15841", MEM1_TITLE),
        authors=("Lena Okafor",),
        abstract="An abstract.",
        categories=("cs.CL",),
    )
    curated(store, tmp_path, [complete])
    assert enricher(store, server.url("/api/query")).run() == EnrichReport()
    assert api.asked == []


@pytest.mark.parametrize("missing", ["authors", "abstract", "categories"])
def test_each_missing_field_is_reason_enough_to_ask(
    store: Store, tmp_path: Path, server: LocalServer, api: FakeArxivApi, missing: str
) -> None:
    complete = replace(
        pick("2506.15841", MEM1_TITLE),
        authors=("Lena Okafor",),
        abstract="An abstract.",
        categories=("cs.CL",),
    )
    empty = {"authors": (), "abstract": None, "categories": ()}
    curated(store, tmp_path, [replace(complete, **{missing: empty[missing]})])
    report = enricher(store, server.url("/api/query")).run()
    assert report.asked == 1 and api.asked == [["2506.15841"]]


def test_an_id_arxiv_refuses_is_found_by_halving_its_request(store: Store, tmp_path: Path) -> None:
    ids = [f"2507.{n:05d}" for n in range(1, 9)]
    api = FakeArxivApi(generated=ids, refused={"2507.00006"})
    curated(store, tmp_path, [pick(i, f"Short name {n}", n) for n, i in enumerate(ids, 1)])
    with LocalServer(keep_alive=True) as server:
        server.route("/api/query", api)
        report = enricher(store, server.url("/api/query")).run()
    assert report.unknown == ("2507.00006",) and len(report.completed) == 7
    assert report.requests == 7  # 8, then 4 + 4, then 2 + 2, then 1 + 1
    assert report.asked == 8 and report.failure is None


def test_without_arxiv_nothing_is_stamped_and_the_outage_is_said_once(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    curated(store, tmp_path, [pick("2506.15841", "MEM1"), pick("2506.10910", "RAG+", 2)])
    with socket.socket() as unused:  # a port nothing listens on: connections are refused
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/api/query"
    e = enricher(store, url, batch_size=1)
    with caplog.at_level(logging.INFO, logger="digests.enrich"):
        reports = [e.run(), e.run()]
    for report in reports:
        assert report.failure is not None and report.asked == 0 and report.left == 2
        assert report.requests == 1  # the run stops at its first failure
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "arXiv API unreachable" in warnings[0].getMessage()
    assert candidates(store)["2506.15841"].paper.title == "MEM1"  # as its source gave it
    assert sorted(store.papers_to_enrich(limit=10)) == ["2506.10910", "2506.15841"]


def test_after_an_outage_the_same_papers_are_asked_about(
    store: Store, tmp_path: Path, api: FakeArxivApi, caplog: pytest.LogCaptureFixture
) -> None:
    curated(store, tmp_path, [pick("2506.15841", "MEM1"), pick("2506.10910", "RAG+", 2)])
    with LocalServer(keep_alive=True) as server:
        server.route("/api/query", Reply(503), Reply(503), api)
        e = enricher(store, server.url("/api/query"))
        with caplog.at_level(logging.INFO, logger="digests.enrich"):
            down = [e.run(), e.run()]
            assert all(r.failure and "503" in r.failure and r.asked == 0 for r in down)
            back = e.run()
    assert back.failure is None and back.asked == 2 and len(back.completed) == 2
    said = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in said) == 1
    assert sum("answers again" in m for m in said) == 1


def test_a_run_stops_when_its_time_is_up(store: Store, tmp_path: Path) -> None:
    ids = [f"2507.{n:05d}" for n in range(1, 4)]
    api = FakeArxivApi(generated=ids)
    curated(store, tmp_path, [pick(i, f"Short name {n}", n) for n, i in enumerate(ids, 1)])
    with LocalServer(keep_alive=True) as server:
        server.route("/api/query", api)
        e = enricher(store, server.url("/api/query"), batch_size=1, interval=0.4, budget=0.2)
        report = e.run()
        assert report.requests == 1 and report.left == 2 and report.failure is None
        assert len(store.papers_to_enrich(limit=10)) == 2  # the rest waits for a later run


def test_the_settings_switch_and_address() -> None:
    base = {"PAPERBOT_DATA_DIR": "/tmp/paperbot-test"}
    default = Settings.from_env(base)
    assert default.enrich and default.arxiv_api_url == DEFAULT_ARXIV_API_URL
    off = Settings.from_env({**base, "PAPERBOT_ENRICH": "off"})
    assert not off.enrich
    local = Settings.from_env({**base, "PAPERBOT_ARXIV_API_URL": "http://127.0.0.1:9/api/query"})
    assert local.arxiv_api_url == "http://127.0.0.1:9/api/query"
    with pytest.raises(ConfigError, match="PAPERBOT_ENRICH"):
        Settings.from_env({**base, "PAPERBOT_ENRICH": "sometimes"})
    with pytest.raises(ConfigError, match="PAPERBOT_ARXIV_API_URL"):
        Settings.from_env({**base, "PAPERBOT_ARXIV_API_URL": "export.arxiv.org"})


# -- the scheduler's tick ---------------------------------------------------------------

# The papers of tests/fixtures/weekly_md.md known by arXiv id.
WEEKLY_IDS = ["2507.01111", "2507.04444", "2412.20001", "2301.05555"]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(admins={"UADMIN"}) as fake:
        yield fake


def ticking(
    store: Store, tmp_path: Path, slack: FakeSlack, api_url: str, clock: Clock, *, on: bool
) -> Scheduler:
    """The scheduler as ``paperbot serve`` builds it, with a curated list due to be polled."""
    weekly = tmp_path / "weekly.md"
    weekly.write_bytes((FIXTURES / "weekly_md.md").read_bytes())
    store.add_source(SourceSpec(name="weekly", location=str(weekly)), now=clock())
    core = replace(
        core_settings(tmp_path), enrich=on, arxiv_api_url=api_url, allow_private_networks=True
    )
    slack_settings = SlackSettings(
        bot_token=BOT_TOKEN, signing_secret="s", api_url=slack.api_url, admins=frozenset()
    )
    settings = BotSettings(core=core, slack=slack_settings)
    return build_scheduler(settings, store=store, client=client_for(slack), clock=clock)


def test_the_tick_starts_enrichment_after_its_polls_and_never_waits_for_it(
    store: Store, tmp_path: Path, slack: FakeSlack
) -> None:
    api = FakeArxivApi(generated=WEEKLY_IDS)
    clock = Clock(NOW)
    with LocalServer(keep_alive=True) as server:
        server.route("/api/query", lambda request: replace(api(request), delay=1.5))
        sched = ticking(store, tmp_path, slack, server.url("/api/query"), clock, on=True)
        started = time.monotonic()
        report = sched.tick()
        took = time.monotonic() - started
        assert [(r.name, r.new > 0) for r in report.polled] == [("weekly", True)]
        assert report.enrichment_started and took < 1.5  # arXiv answers after 1.5 s
        assert sorted(store.papers_to_enrich(limit=10)) == sorted(WEEKLY_IDS)
        assert sched.enrichment is not None and sched.enrichment.join(timeout=20)
        assert store.papers_to_enrich(limit=10) == []
        assert len(store.search(parse_query("author:Okafor", now=NOW)).hits) == 4
        # A tick that polls nothing, after a run that left nothing, starts none.
        clock.set(NOW + timedelta(minutes=1))
        again = sched.tick()
        assert again.polled == () and not again.enrichment_started
        sched.shutdown(wait=False)
    assert len(api.asked) == 1 and sorted(api.asked[0]) == sorted(WEEKLY_IDS)


def test_with_enrichment_off_the_tick_never_asks_arxiv(
    store: Store, tmp_path: Path, slack: FakeSlack, server: LocalServer, api: FakeArxivApi
) -> None:
    sched = ticking(store, tmp_path, slack, server.url("/api/query"), Clock(NOW), on=False)
    report = sched.tick()
    assert report.polled and not report.enrichment_started and sched.enrichment is None
    assert api.asked == []
    sched.shutdown(wait=False)


# -- paperbot enrich ----------------------------------------------------------------------


def enrich_command(db_url: str, tmp_path: Path, api_url: str, *args: str) -> Result:
    env = {
        "PAPERBOT_DATA_DIR": str(tmp_path),
        "PAPERBOT_SOURCES_FILE": str(tmp_path / "sources.toml"),
        "DATABASE_URL": db_url,
        "PAPERBOT_ALLOW_PRIVATE_NETWORKS": "1",
        "PAPERBOT_ARXIV_API_URL": api_url,
        "COLUMNS": "120",
    }
    (tmp_path / "sources.toml").write_text("# no default sources in tests\n", "utf-8")
    return CliRunner().invoke(cli, ["enrich", *args], env=env, catch_exceptions=False)


def test_the_command_prints_what_it_completed(
    store: Store, db_url: str, tmp_path: Path, server: LocalServer, api: FakeArxivApi
) -> None:
    curated(store, tmp_path, [pick("2506.15841", "MEM1"), pick("2506.10910", "RAG+", 2)])
    first = enrich_command(db_url, tmp_path, server.url("/api/query"), "--limit", "1")
    assert first.exit_code == 0, first.output
    assert "Asked arXiv about 1 papers in 1 request" in first.output
    assert "1 completed, 0 unknown to arXiv" in first.output
    assert "2506.10910 RAG+: Enhancing" in first.output  # the newest first
    rest = enrich_command(db_url, tmp_path, server.url("/api/query"))
    assert f"2506.15841 {MEM1_TITLE}" in rest.output
    done = enrich_command(db_url, tmp_path, server.url("/api/query"))
    assert done.exit_code == 0 and "Nothing to ask arXiv about" in done.output
    assert api.asked == [["2506.10910"], ["2506.15841"]]


def test_the_command_says_once_that_arxiv_cannot_be_reached(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    curated(store, tmp_path, [pick("2506.15841", "MEM1")])
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/api/query"
        result = enrich_command(db_url, tmp_path, url)
    assert result.exit_code == 1
    # One line says it (wrapped to the terminal), and nothing else is printed.
    assert result.output.startswith("arXiv API unreachable: cannot connect"), result.output
    assert result.output.count("arXiv API unreachable") == 1
    assert store.papers_to_enrich(limit=5) == ["2506.15841"]


# -- what arXiv's record adds (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "exact", "changes"),
    [
        # A curated list's later week: arXiv's version-1 date replaces it.
        (utc(2025, 6, 23), None, True),
        # A source's earlier date (a wrong one) is replaced too: version 1 is the age.
        (utc(2025, 1, 2), None, True),
        # The date is right but not known to be arXiv's: it becomes exact.
        (utc(2025, 6, 18, 17, 44), None, True),
        # Already arXiv's own date: nothing to change.
        (utc(2025, 6, 18, 17, 44), True, False),
    ],
)
def test_arxivs_first_version_date_is_the_papers_age(
    stored: datetime, exact: bool | None, changes: bool
) -> None:
    v1 = utc(2025, 6, 18, 17, 44)
    full = Entry(
        title=MEM1_TITLE,
        arxiv_id="2506.15841",
        authors=("Lena Okafor",),
        abstract="An abstract.",
        published=v1,
    )
    [item] = prepare([full], source_info("arXiv API"), TopicRules(), kind=SourceKind.ARXIV_API)
    row = {**new_paper_row(item, stored, PaperIndex()), "id": 1, "announced_exact": exact}
    row["announced_at"] = stored
    values = merge_values(row, item, NOW, PaperIndex([row]))
    if changes:
        after = {**row, **values}
        assert after["announced_at"] == v1 and after["announced_exact"] is True
    else:
        assert values == {}


def test_one_process_of_many_enriches_at_a_time(
    store: Store, tmp_path: Path, slack: FakeSlack, server: LocalServer, api: FakeArxivApi
) -> None:
    clock = Clock(NOW)
    sched = ticking(store, tmp_path, slack, server.url("/api/query"), clock, on=True)
    # Another process's run holds the enrichment lease: this one leaves the work to it.
    assert store.acquire_lease("enrich", holder="other", ttl=timedelta(minutes=10), now=NOW)
    report = sched.tick()
    assert report.enrichment_started and sched.enrichment is not None
    assert sched.enrichment.join(timeout=10)
    assert api.asked == [] and len(store.papers_to_enrich(limit=10)) == 4
    sched.shutdown(wait=False)


def test_a_real_api_answer_completes_its_papers(store: Store, tmp_path: Path, shared: Path) -> None:
    """The captured answer of export.arxiv.org, served as it came."""
    body = (shared / "samples" / "arxiv_api_query_cat_cs.RO__watakandai_technews.xml").read_bytes()
    ids = ["2012.11345", "2012.12142", "2012.13240"]
    curated(store, tmp_path, [pick(i, f"Robot paper {n}", n) for n, i in enumerate(ids, 1)])
    with LocalServer(keep_alive=True) as server:
        server.route(
            "/api/query", Reply(body=body, headers={"Content-Type": "application/atom+xml"})
        )
        report = enricher(store, server.url("/api/query")).run()
    assert report.asked == 3 and not report.unknown and len(report.completed) == 3
    first = store.search(parse_query("author:Juraj", now=NOW)).hits
    assert [h.arxiv_id for h in first] == ["2012.11345"]
    assert "cs.RO" in first[0].tags


def test_a_start_refused_while_a_run_goes_brings_one_more_run(store: Store) -> None:
    gate = threading.Event()
    runs: list[int] = []

    def run(stop: threading.Event) -> bool:
        runs.append(len(runs))
        gate.wait(5)
        return False  # it left nothing itself

    background = Background("enrich", run, store=store, holder="h", clock=lambda: NOW)
    assert background.start() and not background.more
    assert not background.start()  # a poll brought papers while it runs: refused
    gate.set()
    assert background.join(timeout=5)
    assert background.more  # what that poll brought may not be in the run's choice
    assert background.start() and background.join(timeout=5)
    assert runs == [0, 1] and not background.more
