"""paperbot benchmarks: one command runs the scenarios and writes benchmarks/RESULTS.md.

    python benchmarks/run.py [--db sqlite|postgresql|both] [--scenario NAME ...] [--quick]

Every scenario makes its own synthetic data (``datagen``: English and Japanese titles
and abstracts, long-tailed tags, papers with several sources), runs several times on a
fresh database, and reports the median, the spread (min-max) and whether its target is
met. The figures are kept in ``RESULTS.json`` beside ``RESULTS.md``: a run of some
scenarios replaces only theirs, and RESULTS.md shows the latest of each. Scenarios that
measure peak memory run in a child process each time, so the figure is that process's
own peak RSS. PostgreSQL runs use the database ``paperbot_bench`` (created when missing)
with a fresh schema per run; set ``BENCH_PG_URL`` to use another server.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import bulk  # noqa: E402
import datagen  # noqa: E402
import feedparser  # noqa: E402
import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from digests.digest import (  # noqa: E402
    DigestRequest,
    WeekContext,
    build_digest,
    load_profiles,
)
from digests.fetch import FetchSettings  # noqa: E402
from digests.gcpause import collector_paused  # noqa: E402
from digests.index import index_papers  # noqa: E402
from digests.ingest import ingest_document, poll_sources  # noqa: E402
from digests.model import ParseContext, SourceKind, SourceSpec  # noqa: E402
from digests.query import parse_query  # noqa: E402
from digests.sources.feeds import parse_arxiv  # noqa: E402
from digests.store import Store  # noqa: E402
from digests.topics import load_rules  # noqa: E402
from digests.weeks import IsoWeek, week_bounds  # noqa: E402
from tests.fakeslack import FakeSlack  # noqa: E402

DATA = HERE / ".data"
PG_URL = os.environ.get(
    "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/paperbot_bench"
)
NOW = datetime(2024, 10, 4, 5, tzinfo=UTC)
SIGNING_SECRET = "benchmark-signing-secret"
console = Console(stderr=True)


# -- results -----------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured quantity over several runs, and its target."""

    scenario: str
    name: str
    unit: str
    values: list[float]
    target: str = ""
    ok: bool | None = None  # None: informational
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self) -> str:
        if len(self.values) < 2:
            return "-"
        return f"{_fmt(min(self.values))}-{_fmt(max(self.values))}"


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


@dataclass
class Context:
    db: str  # sqlite | postgresql
    repeat: int
    quick: bool
    # Seconds the lookup scenario may spend backfilling like:'s signatures (None: all).
    index_budget: float | None = None
    figures: list[Figure] = field(default_factory=list)
    sizes: dict[str, str] = field(default_factory=dict)

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        return fig


# -- databases ---------------------------------------------------------------------------


def _pg_admin_ready() -> None:
    url = make_url(PG_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
        ).first()
        if exists is None:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    engine.dispose()


def _pg_schema_url(schema: str) -> str:
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema},public"})
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_db(db: str, name: str) -> Iterator[str]:
    """The URL of an empty database for one run; removed afterwards."""
    if db == "sqlite":
        folder = DATA / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def db_size(store: Store) -> int:
    """Bytes on disk: the SQLite file and its WAL, or PostgreSQL's relations in the schema."""
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:  # fold the WAL in: the file is the database
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        path = Path(str(store.engine.url.database))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar_one()
        )


# -- child processes (peak memory) -------------------------------------------------------


def run_child(kind: str, url: str, **params: Any) -> dict[str, Any]:
    """Run one repetition in a fresh interpreter; it reports its own peak RSS."""
    args = [sys.executable, str(HERE / "run.py"), "--child", kind, "--url", url]
    args += ["--params", json.dumps(params)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child {kind} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _peak_mb() -> float:
    """This process's own peak RSS. Linux keeps ru_maxrss across exec (it would report
    the parent's), so read the high-water mark of the current image instead."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(kind: str, url: str, params: dict[str, Any]) -> None:
    handlers: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
        "memory": _child_memory,
        "digest": _child_digest,
    }
    out = handlers[kind](url, params)
    out["peak_mb"] = _peak_mb()
    print(json.dumps(out))


# -- scenario: ingest --------------------------------------------------------------------


def _listing_file(n: int, start: int = 0) -> Path:
    path = DATA / "feeds" / f"arxiv-{start}-{n}.xml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(datagen.arxiv_listing(range(start, start + n)))
    return path


def speed_index() -> float:
    """How fast this machine is right now: feedparser's entries/s on the 2,000-entry
    listing, median of three. Recorded with every scenario run, so that figures taken on
    different days (the machine is shared and its speed moves) can be told apart."""
    data = _listing_file(2000).read_bytes()
    return statistics.median(_feedparser_rate(data, 2000) for _ in range(3))


def _feedparser_rate(data: bytes, entries: int) -> float:
    t = time.perf_counter()
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    dt = time.perf_counter() - t
    assert len(parsed.entries) == entries
    return entries / dt


def scenario_ingest(ctx: Context) -> None:
    """A 2,000-entry arXiv listing end to end (file source: read, hash, parse, prepare,
    store) against feedparser alone on the same bytes; then the unchanged document again."""
    n = 2000
    path = _listing_file(n)
    data = path.read_bytes()
    rules = load_rules()
    fp_rates, e2e_rates, ratios, first_s, again_s, reparse_s = [], [], [], [], [], []
    fast_parse, slow_parse = [], []
    for _ in range(ctx.repeat):
        with fresh_db(ctx.db, "ingest") as url:
            store = Store.open(url)
            source = store.add_source(
                SourceSpec(name="arxiv-cs", location=str(path), kind=SourceKind.ARXIV), now=NOW
            )
            fp = _feedparser_rate(data, n)
            t = time.perf_counter()
            [report] = poll_sources(
                store,
                [source],
                fetch_settings=FetchSettings(),
                rules=rules,
                clock=lambda: NOW,
                around_batch=collector_paused,
            )
            first = time.perf_counter() - t
            assert report.new == n, report
            fp2 = _feedparser_rate(data, n)  # before and after: the machine is noisy
            fp = statistics.mean([fp, fp2])
            source = store.get_source("arxiv-cs")
            assert source is not None
            t = time.perf_counter()
            [again] = poll_sources(
                store,
                [source],
                fetch_settings=FetchSettings(),
                rules=rules,
                clock=lambda: NOW,
                around_batch=collector_paused,
            )
            second = time.perf_counter() - t
            assert again.status == "unchanged", again
            t = time.perf_counter()
            with collector_paused():  # a one-shot batch, as `paperbot poll` runs one
                rep, _ = ingest_document(store, source, data, rules=rules, now=NOW)
            reparse = time.perf_counter() - t
            assert rep.new == 0
            store.dispose()
        # The parse step alone, read as arXiv's shape (ElementTree) and by feedparser.
        for rates, fast in ((fast_parse, True), (slow_parse, False)):
            t = time.perf_counter()
            doc = parse_arxiv(data, ParseContext(), fast=fast)
            rates.append(len(doc.entries) / (time.perf_counter() - t))
        fp_rates.append(fp)
        e2e_rates.append(n / first)
        ratios.append(100 * (n / first) / fp)
        first_s.append(first)
        again_s.append(100 * second / first)
        reparse_s.append(100 * reparse / first)
    ctx.add(Figure("ingest", "feedparser.parse alone", "entries/s", fp_rates))
    ctx.add(Figure("ingest", "arXiv listing end to end", "entries/s", e2e_rates))
    ctx.add(
        Figure(
            "ingest",
            "parse step: arXiv reader (ElementTree)",
            "entries/s",
            fast_parse,
            note="informational: parse_arxiv alone, conversion to entries included",
        )
    )
    ctx.add(
        Figure(
            "ingest",
            "parse step: feedparser reader",
            "entries/s",
            slow_parse,
            note="informational: parse_arxiv(fast=False), what any other feed costs",
        )
    )
    med = statistics.median(ratios)
    ctx.add(Figure("ingest", "end to end / feedparser", "%", ratios, "≥ 60 %", med >= 60))
    ctx.add(
        Figure(
            "ingest",
            "unchanged document again (poll)",
            "% of first",
            again_s,
            "< 5 %",
            statistics.median(again_s) < 5,
        )
    )
    ctx.add(
        Figure(
            "ingest",
            "same document forced through parse+store",
            "% of first",
            reparse_s,
            note="informational: what the body-hash check saves",
        )
    )


def scenario_pages(ctx: Context) -> None:
    """Markdown and HTML digest pages (2,000 items each, a third overlapping the listing)."""
    rules = load_rules()
    n = 2000
    md = datagen.weekly_md(list(range(1300, 1300 + n)))
    html = datagen.notes_html(list(range(1000, 1000 + n)))
    listing = _listing_file(2000).read_bytes()
    for label, kind, body in (
        ("Markdown weekly page", SourceKind.WEEKLY_MD, md),
        ("HTML notes page", SourceKind.NOTES_HTML, html),
    ):
        rates = []
        for _ in range(ctx.repeat):
            with fresh_db(ctx.db, "pages") as url:
                store = Store.open(url)
                arxiv = store.add_source(
                    SourceSpec(name="arxiv", location="a", kind=SourceKind.ARXIV), now=NOW
                )
                with collector_paused():
                    ingest_document(store, arxiv, listing, rules=rules, now=NOW)
                src = store.add_source(SourceSpec(name="page", location="p", kind=kind), now=NOW)
                t = time.perf_counter()
                with collector_paused():
                    rep, _ = ingest_document(store, src, body, rules=rules, now=NOW)
                rates.append(rep.entries / (time.perf_counter() - t))
                assert rep.entries == n, rep
                store.dispose()
        ctx.add(
            Figure(
                "pages",
                label,
                "items/s",
                rates,
                "≥ 5,000 items/s",
                statistics.median(rates) >= 5000,
            )
        )


# -- scenario: polling -------------------------------------------------------------------


@contextmanager
def feed_server(sources: int, delay: float) -> Iterator[int]:
    """The local feed server in its own process (its CPU is not the poller's)."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), str(sources), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def scenario_poll(ctx: Context) -> None:
    """1,000 feed sources behind a server that waits 200 ms per answer; then all unchanged."""
    n = 200 if ctx.quick else 1000
    rules = load_rules()
    wall, first_cpu, cpu = [], [], []
    settings = FetchSettings(allow_private=True)
    with feed_server(n, 0.2) as port:
        for _ in range(ctx.repeat):
            with fresh_db(ctx.db, "poll") as url:
                store = Store.open(url)
                for i in range(n):
                    store.add_source(
                        SourceSpec(
                            name=f"feed-{i:04d}",
                            location=f"http://127.0.0.1:{port}/s/{i}",
                            kind=SourceKind.FEED,
                        ),
                        now=NOW,
                    )
                sources = store.list_sources(with_counts=False)
                t, c = time.perf_counter(), time.process_time()
                reports = poll_sources(
                    store,
                    sources,
                    fetch_settings=settings,
                    rules=rules,
                    clock=lambda: NOW,
                    around_batch=collector_paused,
                )
                wall.append(time.perf_counter() - t)
                first_cpu.append(time.process_time() - c)
                bad = [r for r in reports if r.status != "ingested"]
                assert not bad, bad[:3]
                sources = store.list_sources(with_counts=False)
                c = time.process_time()
                reports = poll_sources(
                    store,
                    sources,
                    fetch_settings=settings,
                    rules=rules,
                    clock=lambda: NOW,
                    around_batch=collector_paused,
                )
                cpu.append(time.process_time() - c)
                assert all(r.status == "not_modified" for r in reports), reports[:3]
                store.dispose()
    ctx.sizes["poll"] = f"{n} sources, 5 entries each, 200 ms server delay"
    ctx.add(
        Figure(
            "poll",
            f"{n} sources, 200 ms each",
            "s wall",
            wall,
            "≤ 10 s",
            statistics.median(wall) <= 10,
        )
    )
    # The poller's own CPU for the same poll: on a machine shared with other work the
    # wall time above also counts waiting for a core; this does not.
    ctx.add(Figure("poll", f"{n} sources, 200 ms each", "s CPU", first_cpu))
    ctx.add(
        Figure(
            "poll",
            f"{n} sources unchanged (304)",
            "s CPU",
            cpu,
            "≤ 3 s CPU",
            statistics.median(cpu) <= 3,
        )
    )


# -- scenario: digest build --------------------------------------------------------------


def _subscription_queries(n: int) -> list[str]:
    """Different filters: tags from the long tail, exclusions, authors, words, sources."""
    names = datagen.tag_names(3000)
    words = ["reward", "alignment", "diffusion", "retrieval", "強化学習", "安全性", "benchmark"]
    out = []
    for i in range(n):
        kind = i % 6
        tag = names[i % 300]
        if kind == 0:
            out.append(f"tag:{tag}")
        elif kind == 1:
            out.append(f"tag:{tag} -tag:{names[(i + 1) % 15]}")
        elif kind == 2:
            out.append(f"{words[i % len(words)]} tag:{names[i % 15]}")
        elif kind == 3:
            out.append(f"author:{datagen._LAST[i % len(datagen._LAST)]} tag:{tag}")
        elif kind == 4:
            out.append(f"source:bench-source-{i % 60 + 1:03d}")
        else:
            out.append(words[i % len(words)])
    return out


def _child_digest(url: str, params: dict[str, Any]) -> dict[str, Any]:
    """The digests of ``subscriptions`` channels over one shared week; with ``profiles``,
    each channel's profile is read (all channels at once, as a tick does) and applied."""
    store = Store.open(url, migrate=False)
    week = IsoWeek(2024, 40)
    _start, end = week_bounds(week, "UTC")
    now = end + timedelta(hours=1)
    queries = _subscription_queries(int(params["subscriptions"]))
    channels = [("T1", f"C{i:05d}") for i in range(len(queries))]
    t = time.perf_counter()
    context = WeekContext.load(store, week, "UTC", now=now)
    loaded = time.perf_counter() - t
    profiles = (
        load_profiles(store, channels, now=now, week_ids=context.announced)
        if params.get("profiles")
        else {}
    )
    read = time.perf_counter() - t - loaded
    lifted = 0
    for (team, channel), q in zip(channels, queries, strict=True):
        request = DigestRequest(
            week=week,
            query=parse_query(q, now=now),
            top=10,
            team_id=team,
            channel_id=channel,
            subscription_id=None,
            profile=profiles.get((team, channel)),
        )
        built = build_digest(store, request, now=now, context=context)
        lifted += sum(1 for item in built.items if any(r.code == "profile" for r in item.reasons))
    total = time.perf_counter() - t
    store.dispose()
    return {
        "seconds": total,
        "load_seconds": loaded,
        "profiles_seconds": read,
        "lifted": lifted,
        "candidates": len(context.candidates),
    }


def add_feedback(store: Store, channels: int, start: datetime, *, seed: int = 11) -> int:
    """Each channel's verdicts (20 to 200 papers, a fifth of them muted) on papers of the
    week and of 5,000 papers announced the fortnight before it, given over the last half
    year by up to three people; a channel leans to three of the week's tags, as a team's
    likes do. Returns how many verdicts were given."""
    rng = random.Random(seed)
    earlier = datagen.arxiv_listing(range(5_000_000, 5_005_000), day=start - timedelta(days=14))
    source = store.add_source(
        SourceSpec(name="earlier-listing", location="e", kind=SourceKind.ARXIV), now=NOW
    )
    with collector_paused():
        ingest_document(store, source, earlier, rules=load_rules(), now=NOW)
    with store.engine.connect() as conn:
        tagged = conn.execute(text("SELECT paper_id, tag_id FROM paper_tags")).all()
        ids = [int(i) for i in conn.execute(text("SELECT id FROM papers")).scalars()]
    by_tag: dict[int, list[int]] = {}
    for pid, tag in tagged:
        by_tag.setdefault(int(tag), []).append(int(pid))
    tags = sorted(t for t, papers in by_tag.items() if len(papers) >= 50)
    total = 0
    for c in range(channels):
        leaning = rng.sample(tags, 3)
        n = rng.randint(20, 200)
        picked = sorted(
            {
                rng.choice(by_tag[rng.choice(leaning)]) if rng.random() < 0.7 else rng.choice(ids)
                for _ in range(n)
            }
        )
        for user in range(3):
            mine = [pid for pid in picked if user == 0 or rng.random() < 0.3]
            verdicts: dict[int, Any] = {
                pid: ("mute" if rng.random() < 0.2 else "like") for pid in mine
            }
            store.set_verdicts(
                "T1",
                f"C{c:05d}",
                f"U{user}",
                verdicts,
                origin="click",
                now=start - timedelta(days=rng.randint(0, 180)),
            )
            total += len(verdicts)
    return total


def fill_week(store: Store, papers: int, start: datetime, end: datetime) -> None:
    """A week of ``papers`` papers (three tag links and two mentions each, on average),
    all announced before the week's last 12 hours."""
    bulk.fill(
        store,
        bulk.Sizes(papers, tag_links=papers * 3, mentions=papers * 2),
        start=start,
        span=end - start - timedelta(hours=12),
    )


def scenario_digest(ctx: Context) -> None:
    """1,000 subscriptions with different filters over a week of 20,000 papers; then the
    same with a profile for every channel (20 to 200 papers judged each), in one sitting."""
    papers = 2000 if ctx.quick else 20_000
    subs = 100 if ctx.quick else 1000
    week = IsoWeek(2024, 40)
    start, end = week_bounds(week, "UTC")
    secs, loads, peaks = [], [], []
    with_secs, with_reads, with_peaks, lifted = [], [], [], []
    with fresh_db(ctx.db, "digest") as url:
        store = Store.open(url)
        fill_week(store, papers, start, end)
        verdicts = add_feedback(store, subs, start)
        store.dispose()
        for _ in range(ctx.repeat):
            out = run_child("digest", url, subscriptions=subs)
            secs.append(out["seconds"])
            loads.append(out["load_seconds"])
            peaks.append(out["peak_mb"])
            out = run_child("digest", url, subscriptions=subs, profiles=True)
            with_secs.append(out["seconds"])
            with_reads.append(out["profiles_seconds"])
            with_peaks.append(out["peak_mb"])
            lifted.append(float(out["lifted"]))
    ctx.sizes["digest"] = (
        f"{papers} papers in the week, {subs} subscriptions; with profiles: "
        f"{verdicts} verdicts in {subs} channels"
    )
    ctx.add(
        Figure(
            "digest",
            f"{subs} digests, shared week context",
            "s",
            secs,
            "≤ 20 s",
            statistics.median(secs) <= 20,
        )
    )
    ctx.add(Figure("digest", "of which loading the week once", "s", loads))
    ctx.add(
        Figure(
            "digest",
            "peak memory (process RSS)",
            "MB",
            peaks,
            "≤ 300 MB",
            max(peaks) <= 300,
        )
    )
    ctx.add(
        Figure(
            "digest",
            f"{subs} digests with profiles, shared week context",
            "s",
            with_secs,
            "≤ 20 s",
            statistics.median(with_secs) <= 20,
        )
    )
    ctx.add(Figure("digest", "of which reading every channel's profile once", "s", with_reads))
    ctx.add(Figure("digest", "digest items a profile lifted", "items", lifted))
    ctx.add(
        Figure(
            "digest",
            "peak memory with profiles (process RSS)",
            "MB",
            with_peaks,
            "≤ 300 MB",
            max(with_peaks) <= 300,
        )
    )


# -- scenario: memory --------------------------------------------------------------------


def _child_memory(url: str, params: dict[str, Any]) -> dict[str, Any]:
    store = Store.open(url)
    files = [Path(p) for p in params["files"]]
    sources = [
        store.add_source(
            SourceSpec(name=f"listing-{i:03d}", location=str(p), kind=SourceKind.ARXIV), now=NOW
        )
        for i, p in enumerate(files)
    ]
    t = time.perf_counter()
    reports = poll_sources(
        store,
        sources,
        fetch_settings=FetchSettings(),
        rules=load_rules(),
        clock=lambda: NOW,
        around_batch=collector_paused,
    )
    seconds = time.perf_counter() - t
    new = sum(r.new for r in reports)
    store.dispose()
    return {"seconds": seconds, "entries": sum(r.entries for r in reports), "new": new}


def scenario_memory(ctx: Context) -> None:
    """100,000 entries (50 arXiv listings of 2,000) in one poll; the process's peak RSS."""
    files = 10 if ctx.quick else 50
    paths = [str(_listing_file(2000, start=100_000 + i * 2000)) for i in range(files)]
    peaks, rates = [], []
    for _ in range(ctx.repeat):
        with fresh_db(ctx.db, "memory") as url:
            out = run_child("memory", url, files=paths)
        assert out["new"] == files * 2000, out
        peaks.append(out["peak_mb"])
        rates.append(out["entries"] / out["seconds"])
    ctx.sizes["memory"] = f"{files * 2000} entries in {files} listings"
    ctx.add(Figure("memory", f"{files * 2000} entries ingested", "entries/s", rates))
    ctx.add(
        Figure(
            "memory",
            "peak memory (process RSS)",
            "MB",
            peaks,
            "≤ 300 MB",
            max(peaks) <= 300,
        )
    )


# -- scenario: lookups on a large store ----------------------------------------------------


def _lookup_store(ctx: Context) -> tuple[Store, str]:
    """The cached 1M-paper store (built once, reused by later runs)."""
    papers = 50_000 if ctx.quick else 1_000_000
    sizes = bulk.Sizes(papers, tag_links=papers * 3, mentions=papers * 2)
    label = f"lookup_{papers}"
    if ctx.db == "sqlite":
        path = DATA / f"{label}.db"
        url = f"sqlite:///{path}"
        ready = path.exists() and (DATA / f"{label}.ok").exists()
        if not ready:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        url = _pg_schema_url(label)
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            ready = bool(
                conn.execute(
                    text(
                        "SELECT 1 FROM pg_tables WHERE schemaname = :s AND tablename = 'bench_ok'"
                    ),
                    {"s": label},
                ).first()
            )
            if not ready:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{label}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{label}"'))
        engine.dispose()
    store = Store.open(url)
    if not ready:
        console.print(f"building the {papers:,}-paper store for {ctx.db} (cached afterwards)…")
        t = time.perf_counter()
        bulk.fill(store, sizes, start=datetime(2023, 1, 1, tzinfo=UTC), span=timedelta(days=650))
        console.print(f"  built in {time.perf_counter() - t:.0f} s")
        if ctx.db == "sqlite":
            (DATA / f"{label}.ok").write_text("ok")
        else:
            with store.engine.begin() as conn:
                conn.execute(text("CREATE TABLE bench_ok (id int)"))
    ctx.sizes["lookup"] = f"{papers:,} papers, {papers * 3:,} tag links, {papers * 2:,} mentions"
    return store, url


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _add_latency(
    ctx: Context,
    name: str,
    runs_p50: list[float],
    runs_p99: list[float],
    p50_max: float | None,
    p99_max: float | None,
) -> None:
    """A lookup's p50 (when it has a target) and p99 over the runs, in milliseconds."""
    if p50_max is not None:
        ok = statistics.median(runs_p50) <= p50_max
        ctx.add(Figure("lookup", f"{name} p50", "ms", runs_p50, f"≤ {p50_max:g} ms", ok))
    ok99 = None if p99_max is None else statistics.median(runs_p99) <= p99_max
    target = f"≤ {p99_max:g} ms" if p99_max is not None else ""
    ctx.add(Figure("lookup", f"{name} p99", "ms", runs_p99, target, ok99))


def _lookup_index(ctx: Context, store: Store) -> None:
    """The signatures of ``like:`` for the large store: backfilled (a store built before
    them, or just built), timed, and the papers and seconds so far kept beside the cached
    store, so that a backfill cut short by ``--index-budget`` goes on in a later run."""
    papers = 50_000 if ctx.quick else 1_000_000
    record = DATA / f"lookup_{papers}-index-{ctx.db}.json"
    kept = json.loads(record.read_text()) if record.exists() else {"papers": 0, "seconds": 0.0}
    waiting = store.unindexed_count()
    if waiting and ctx.index_budget != 0:
        console.print(f"indexing {waiting:,} papers for like: (kept afterwards)…")
        t = time.perf_counter()
        done = 0

        def said(n: int) -> None:
            nonlocal done
            done += n
            if done % 100_000 < n:
                console.print(f"  {done:,} indexed, {time.perf_counter() - t:.0f} s")
                _keep(done, time.perf_counter() - t)

        def _keep(n: int, seconds: float) -> None:
            total = {"papers": kept["papers"] + n, "seconds": kept["seconds"] + seconds}
            record.write_text(json.dumps(total))

        report = index_papers(store, clock=lambda: NOW, budget=ctx.index_budget, on_batch=said)
        _keep(report.indexed, time.perf_counter() - t)
        console.print(f"  indexed {report.indexed:,}, {report.left:,} left")
    left = store.unindexed_count()
    if record.exists():
        kept = json.loads(record.read_text())
        name = f"like: signatures backfilled ({kept['papers']:,} papers"
        name += f", {left:,} left)" if left else ")"
        ctx.add(Figure("lookup", name, "s", [kept["seconds"]]))
        rate = kept["papers"] / kept["seconds"] if kept["seconds"] else 0.0
        ctx.add(Figure("lookup", "like: backfill rate", "papers/s", [rate]))


def _like_targets(ctx: Context) -> list[str]:
    """Papers spread over the large store, each named by a like: in turn."""
    papers = 50_000 if ctx.quick else 1_000_000
    return [datagen.arxiv_id(1 + (i * 7919) % papers) for i in range(1, 41)]


def scenario_lookup(ctx: Context) -> None:
    """/paper-style lookups on the large store: a tag, English and Japanese free text,
    like: alone and with other terms, and ``paperbot query`` from start to exit."""
    store, url = _lookup_store(ctx)
    _lookup_index(ctx, store)
    size_mb = db_size(store) / 1e6
    ctx.add(Figure("lookup", "database size on disk", "MB", [size_mb]))
    queries = {
        "tag:Alignment": ("≤ 50 ms p50, ≤ 150 ms p99", 50, 150),
        "reward model": ("p99 ≤ 300 ms", None, 300),
        "強化学習": ("p99 ≤ 300 ms", None, 300),
        # A phrase of common words: every trigram of it is in a large share of the store.
        '"language model"': ("p99 ≤ 300 ms", None, 300),
        'tag:Alignment "language model"': ("", None, None),
        "tag:Alignment sort:top": ("", None, None),
    }
    samples = 30 if ctx.quick else 60
    for q, (_, p50_max, p99_max) in queries.items():
        runs_p50, runs_p99 = [], []
        for _ in range(ctx.repeat):
            times = []
            # Untargeted queries can take seconds: fewer samples of them.
            for _ in range(samples if p99_max is not None else 10):
                t = time.perf_counter()
                page = store.search(parse_query(q, now=NOW))
                times.append(1000 * (time.perf_counter() - t))
                assert page.hits, q
            runs_p50.append(statistics.median(times))
            runs_p99.append(_percentile(times, 99))
        _add_latency(ctx, f"store.search {q!r}", runs_p50, runs_p99, p50_max, p99_max)
    # like: names a different paper on every search (each its own pool of postings).
    targets = _like_targets(ctx)
    likes = ("like:ID", "like:ID since:4w -tag:Survey", "like:ID tag:Alignment sort:new")
    for form in likes:
        runs_p50, runs_p99 = [], []
        for _ in range(ctx.repeat):
            times = []
            for i in range(samples):
                q = form.replace("ID", targets[i % len(targets)])
                t = time.perf_counter()
                page = store.search(parse_query(q, now=NOW))
                times.append(1000 * (time.perf_counter() - t))
                assert page.hits or form != "like:ID", q
            runs_p50.append(statistics.median(times))
            runs_p99.append(_percentile(times, 99))
        _add_latency(ctx, f"store.search {form!r}", runs_p50, runs_p99, None, 300)
    store.dispose()
    _http_lookups(ctx, url, samples=samples, like=f"like:{targets[0]}")
    cli = shutil.which("paperbot", path=str(Path(sys.executable).parent)) or "paperbot"
    env = {**os.environ, "DATABASE_URL": url, "PAPERBOT_DATA_DIR": str(DATA / "cli")}
    walls = []
    for _ in range(max(ctx.repeat, 5)):
        t = time.perf_counter()
        done = subprocess.run(
            [cli, "query", "tag:Alignment"], env=env, capture_output=True, text=True, check=False
        )
        walls.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
    ctx.add(
        Figure(
            "lookup",
            "paperbot query 'tag:Alignment' start to exit",
            "s",
            walls,
            "< 1 s",
            statistics.median(walls) < 1,
        )
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_bot(url: str, api_url: str, slack_token: str) -> Iterator[int]:
    """``paperbot serve`` on the given database, its Slack calls going to ``api_url``."""
    port = _free_port()
    DATA.joinpath("cli").mkdir(parents=True, exist_ok=True)
    no_sources = DATA / "cli" / "no-sources.toml"
    no_sources.write_text("# the benchmark's bot polls nothing\n")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PAPERBOT_DATA_DIR": str(DATA / "cli"),
        "PAPERBOT_SOURCES_FILE": str(no_sources),
        "SLACK_BOT_TOKEN": slack_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
    }
    cli = shutil.which("paperbot", path=str(Path(sys.executable).parent)) or "paperbot"
    log = (DATA / "cli" / "serve.log").open("w")
    proc = subprocess.Popen(
        [cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"paperbot serve exited: see {log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("paperbot serve did not answer /healthz within 120 s")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _signed_command(text_: str, response_url: str, now: float) -> tuple[bytes, dict[str, str]]:
    """A ``/paper`` slash command as Slack sends it, signed with the app's secret."""
    body = urlencode(
        {
            "command": "/paper",
            "text": text_,
            "team_id": "T0BENCH",
            "channel_id": "C0BENCH",
            "user_id": "U0BENCH",
            "user_name": "bench",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    stamp = str(int(now))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    return body.encode(), headers


def _http_lookups(ctx: Context, url: str, *, samples: int, like: str) -> None:
    """``/paper`` over real HTTP: a signed slash command to the running bot, timed until
    its answer reaches the ``response_url`` (the fake Slack records the arrival time).

    The bot acks at once and answers through ``response_url``, as Slack expects, so the
    time a user waits is the time to that second request; the ack is reported too.
    """
    queries = {
        "tag:Alignment": (50, 150),
        "reward model": (None, 300),
        "強化学習": (None, 300),
        like: (None, 300),
    }
    with FakeSlack() as slack, running_bot(url, slack.api_url, slack.token) as port:
        endpoint = f"http://127.0.0.1:{port}/slack/events"
        with httpx.Client(timeout=30) as client:
            sent = 0

            def ask(q: str) -> tuple[float, float]:
                nonlocal sent
                sent += 1
                body, headers = _signed_command(q, slack.response_url(f"r{sent}"), time.time())
                t = time.monotonic()
                acked = client.post(endpoint, content=body, headers=headers)
                ack_ms = 1000 * (time.monotonic() - t)
                if acked.status_code != 200:
                    raise RuntimeError(f"/paper {q}: HTTP {acked.status_code} {acked.text}")
                deadline = t + 30
                while True:
                    answers = slack.calls_to("response_url")
                    if len(answers) >= sent:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"/paper {q}: no answer on response_url in 30 s")
                    time.sleep(0.0005)
                answer = answers[sent - 1]
                if "blocks" not in json.dumps(answer.args):
                    raise RuntimeError(f"/paper {q}: the answer has no blocks: {answer.args}")
                return 1000 * (answer.at - t), ack_ms

            for q in queries:  # warm the bot's first-use paths (imports, caches, pool)
                for _ in range(3):
                    ask(q)
            for q, (p50_max, p99_max) in queries.items():
                runs_p50, runs_p99, acks = [], [], []
                for _ in range(ctx.repeat):
                    times = [ask(q) for _ in range(samples)]
                    answer_ms = [a for a, _ in times]
                    runs_p50.append(statistics.median(answer_ms))
                    runs_p99.append(_percentile(answer_ms, 99))
                    acks.append(statistics.median([k for _, k in times]))
                name = f"/paper {q} over HTTP, request to answer"
                _add_latency(ctx, name, runs_p50, runs_p99, p50_max, p99_max)
                ctx.add(Figure("lookup", f"/paper {q} over HTTP, ack p50", "ms", acks))


# -- scenario: feedback buttons ------------------------------------------------------------


def _signed_click(
    action_id: str, paper: int, user: str, message: dict[str, Any], response_url: str
) -> tuple[bytes, dict[str, str]]:
    """A click on a posted digest's button as Slack sends it (the message's blocks and
    metadata included), signed with the app's secret."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0BENCH", "domain": "bench"},
        "user": {"id": user, "username": "bench", "team_id": "T0BENCH"},
        "api_app_id": "A0BENCH",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": "C0BENCH",
            "is_ephemeral": False,
        },
        "channel": {"id": "C0BENCH", "name": "bench"},
        "message": message,
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"paper_fb:{paper}",
                "type": "button",
                "value": str(paper),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    return body.encode(), headers


def scenario_click(ctx: Context) -> None:
    """👍 / 👎 / 🔖 clicks on a posted ten-paper digest, signed and sent over HTTP to
    ``paperbot serve`` (store of 20,000 papers, the fake Slack behind it): the time from
    the request to Slack's 200 (the ack), and, for the record, to the message's update
    (``chat.update``) or the clicker's answer (``response_url``)."""
    from digests.model import Digest, DigestItem  # noqa: PLC0415
    from digests.render import render_digest_messages  # noqa: PLC0415

    papers = 2_000 if ctx.quick else 20_000
    samples = 200 if ctx.quick else 500
    start = NOW - timedelta(days=7)
    with fresh_db(ctx.db, "click") as url:
        store = Store.open(url)
        fill_week(store, papers, start, NOW)
        with store.engine.connect() as conn:
            ids = [
                int(i)
                for i in conn.execute(text("SELECT id FROM papers ORDER BY id LIMIT 10")).scalars()
            ]
        store.dispose()
        items = tuple(
            DigestItem(
                rank=r,
                paper_id=pid,
                title=f"Paper {pid}",
                url="https://arxiv.org/abs/1",
                authors=("A. Author",),
                summary="A summary. " * 20,
                tags=("Alignment",),
                reasons=(),
                score=1.0,
            )
            for r, pid in enumerate(ids, start=1)
        )
        digest = Digest(week="2024-W40", tz="UTC", start=start, end=NOW, items=items)
        posted = render_digest_messages(digest)[0]
        acks_p50, acks_p99, updates_p50 = [], [], []
        with FakeSlack() as slack, running_bot(url, slack.api_url, slack.token) as port:
            # The digest as it stands in the channel, so chat.update finds it.
            answer = httpx.post(
                slack.api_url + "chat.postMessage",
                headers={"Authorization": f"Bearer {slack.token}"},
                json={
                    "channel": "C0BENCH",
                    "text": posted["text"],
                    "blocks": posted["blocks"],
                    "metadata": {
                        "event_type": "paperbot_digest",
                        "event_payload": {"key": "bench", "part": 0},
                    },
                },
            ).json()
            message = {
                "type": "message",
                "ts": answer["ts"],
                "text": posted["text"],
                "blocks": posted["blocks"],
                "metadata": {
                    "event_type": "paperbot_digest",
                    "event_payload": {"key": "bench", "part": 0},
                },
            }
            endpoint = f"http://127.0.0.1:{port}/slack/events"
            actions = ("paper_fb_like", "paper_fb_mute", "paper_fb_like", "paper_fb_save")
            with httpx.Client(timeout=30) as client:
                done = 0

                def click(i: int) -> tuple[float, float]:
                    nonlocal done
                    action = actions[i % len(actions)]
                    user = f"U{i % 40:08d}"
                    body, headers = _signed_click(
                        action, ids[i % len(ids)], user, message, slack.response_url(f"c{i}")
                    )
                    before = len(slack.calls_to("chat.update")) + len(
                        slack.calls_to("response_url")
                    )
                    t = time.monotonic()
                    acked = client.post(endpoint, content=body, headers=headers)
                    ack_ms = 1000 * (time.monotonic() - t)
                    if acked.status_code != 200:
                        raise RuntimeError(f"click: HTTP {acked.status_code} {acked.text}")
                    deadline = t + 30
                    while True:
                        calls = slack.calls_to("chat.update") + slack.calls_to("response_url")
                        if len(calls) > before:
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError("click: no update nor answer in 30 s")
                        time.sleep(0.0005)
                    done += 1
                    return ack_ms, 1000 * (max(c.at for c in calls) - t)

                for i in range(20):  # warm the first-use paths
                    click(i)
                for _ in range(ctx.repeat):
                    times = [click(i) for i in range(samples)]
                    acks = [a for a, _ in times]
                    acks_p50.append(statistics.median(acks))
                    acks_p99.append(_percentile(acks, 99))
                    updates_p50.append(statistics.median([u for _, u in times]))
    ctx.sizes["click"] = f"{papers:,} papers, {samples} clicks a run"
    ctx.add(Figure("click", "button click over HTTP, ack p50", "ms", acks_p50))
    ok = statistics.median(acks_p99) <= 100
    ctx.add(Figure("click", "button click over HTTP, ack p99", "ms", acks_p99, "≤ 100 ms", ok))
    ctx.add(Figure("click", "button click to chat.update / answer p50", "ms", updates_p50))


# -- scenario: fan-out -------------------------------------------------------------------


@contextmanager
def slack_server(share: float, retry_after: int, seed: int) -> Iterator[str]:
    """The fake Slack in its own process (its CPU is not the deliverer's); its API URL."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "slack_server.py"), str(share), str(retry_after), str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _fanout_run(
    ctx: Context, *, papers: int, channels: int, workers: int, seed: int
) -> dict[str, float]:
    """One fan-out: a fresh store, ``channels`` subscriptions, one scheduler tick."""
    from slack_sdk import WebClient  # noqa: PLC0415

    from bot.deliver import Deliverer  # noqa: PLC0415
    from bot.scheduler import Scheduler  # noqa: PLC0415
    from digests.model import SubscriptionSpec  # noqa: PLC0415
    from digests.settings import Settings  # noqa: PLC0415
    from tests.fakeslack import BOT_TOKEN, Call, rate_limit_floor  # noqa: PLC0415

    week = IsoWeek(2024, 40)
    start, end = week_bounds(week, "UTC")
    fire = datetime(2024, 10, 7, 9, 0, tzinfo=UTC)  # Monday 09:00 runs cover W40
    created = datetime(2024, 10, 2, tzinfo=UTC)
    queries = _subscription_queries(channels)
    with fresh_db(ctx.db, "fanout") as url, slack_server(0.05, 1, seed) as api_url:
        store = Store.open(url)
        if papers:
            fill_week(store, papers, start, end)
        for i, q in enumerate(queries):
            # Every other subscription unfiltered (the default a channel gets), the rest
            # with the digest scenario's varied filters.
            spec = SubscriptionSpec(
                team_id="T0001",
                channel_id=f"C{i:05d}",
                query="" if i % 2 == 0 else q,
                weekday=0,
                time="09:00",
                tz="UTC",
                top=10,
            )
            store.add_subscription(spec, start_week=week.label, now=created)
        # The scheduler's clock: 15 s before the fire time for the tick before it, then 1 s
        # after it for the tick that posts (ticks come every 30 s).
        base = [fire - timedelta(seconds=15), time.monotonic()]

        def clock() -> datetime:
            return base[0] + timedelta(seconds=time.monotonic() - base[1])

        # Only what exists is passed, so this scenario also runs on a checkout from before
        # the fan-out (sequential ticks) to compare with.
        pool: dict[str, Any] = {}
        if "delivery_workers" in Settings.__dataclass_fields__:
            pool = {"workers": workers}
        core = Settings(
            database_url=url, data_dir=DATA, sources_file=DATA / "none.toml", topics_file=None
        )
        try:  # the bot's own client (a checkout from before it has only slack_sdk's)
            from bot.slack_client import KeepAliveWebClient as Client  # noqa: PLC0415
        except ImportError:
            Client = WebClient
        deliverer = Deliverer(
            store=store,
            client=Client(token=BOT_TOKEN, base_url=api_url, retry_handlers=[]),
            core=core,
            admins=frozenset(),
            holder="bench-fanout",
            clock=clock,
        )
        sched = Scheduler(
            store=store,
            deliverer=deliverer,
            poll=lambda due: [],
            clock=clock,
            holder="bench-fanout",
            **pool,
        )
        began = time.monotonic()
        ahead = sched.tick()
        before = time.monotonic() - began
        prepared = sum(1 for o in getattr(ahead, "prepared", ()) if o.status == "prepared")
        base[:] = [fire + timedelta(seconds=1), time.monotonic()]
        began = time.monotonic()
        report = sched.tick()
        total = time.monotonic() - began
        statuses = {d.status for d in report.deliveries}
        assert len(report.deliveries) == channels and statuses == {"posted"}, (
            statuses,
            report.errors[:3],
        )
        raw = httpx.get(api_url + "_log", timeout=60).json()["calls"]
        deliveries = {d.key: d for d in store.list_deliveries()}
        store.dispose()
    per_channel: dict[str, list[Call]] = {}
    for c in raw:
        if c["method"] != "chat.postMessage":
            continue
        call = Call(
            "chat.postMessage",
            {"channel": c["channel"]},
            {},
            c["at"],
            c["status"],
            c["retry_after"],
            c["injected"],
        )
        per_channel.setdefault(c["channel"], []).append(call)
        if c["status"] == 200:
            assert c["part"] is not None
    # Exactly once: each delivery's parts 0..n-1 accepted once, in order, nothing else.
    accepted_parts = [
        tuple(c["part"]) for c in raw if c["method"] == "chat.postMessage" and c["status"] == 200
    ]
    assert len(accepted_parts) == len(set(accepted_parts)), "a part was posted twice"
    expected = {(k, i) for k, d in deliveries.items() for i in range(1 + len(d.reply_ts))}
    assert set(accepted_parts) == expected, "a part is missing or unexpected"
    assert len(per_channel) == channels
    floors = [rate_limit_floor(calls) for calls in per_channel.values()]
    posts = [c for c in raw if c["method"] == "chat.postMessage"]
    first = min(c["at"] for c in posts)
    last = max(c["at"] for c in posts if c["status"] == 200)
    # When each channel's first attempt arrived, after the tick began.
    firsts = sorted(min(c.at for c in calls) - began for calls in per_channel.values())
    return {
        "total": total,
        "before": before,
        "prepared": prepared,
        "first_post": first - began,
        "half_first_attempts": firsts[len(firsts) // 2],
        "all_first_attempts": firsts[-1],
        "posting": last - first,
        "bound": max(floors),
        "messages": len(accepted_parts),
        "drawn_429": sum(1 for c in posts if c["injected"]),
        "earned_429": sum(1 for c in posts if c["status"] == 429 and not c["injected"]),
        "max_parts": max(1 + len(d.reply_ts) for d in deliveries.values()),
    }


def _fanout_build_only(ctx: Context, *, papers: int, channels: int) -> float:
    """The same digests built one after another with one shared week: the build cost."""
    week = IsoWeek(2024, 40)
    start, end = week_bounds(week, "UTC")
    tick_at = datetime(2024, 10, 7, 9, 1, tzinfo=UTC)
    queries = _subscription_queries(channels)
    with fresh_db(ctx.db, "fanout-build") as url:
        store = Store.open(url)
        fill_week(store, papers, start, end)
        t = time.perf_counter()
        context = WeekContext.load(store, week, "UTC", now=tick_at)
        for i, q in enumerate(queries):
            request = DigestRequest(
                week=week,
                query=parse_query(q, now=tick_at) if i % 2 else None,
                top=10,
                team_id="T0001",
                channel_id=f"C{i:05d}",
            )
            build_digest(store, request, now=tick_at, context=context)
        seconds = time.perf_counter() - t
        store.dispose()
    return seconds


def scenario_fanout(ctx: Context) -> None:
    """1,000 channels, one subscription each (every other one unfiltered, the rest with the
    digest scenario's varied filters, top 10), over a week of 5,000 papers; one scheduler
    tick (Scheduler + Deliverer + WebClient over real HTTP) delivers them all to the fake
    Slack in its own process, which enforces one message per second per channel and
    answers 5 % of the posts 429 with Retry-After 1. The client is the bot's own
    (``bot.app.make_client``: connections kept open, no retry handlers). As when the bot
    runs, a tick 15 s
    before the fire time claims and prepares the runs (built, archived, rendered), and
    the first tick after it (1 s after) posts them; that second tick is the one measured
    against the bound, and the tick before it is reported beside it.

    Checked from the fake's log: every part of every delivery accepted exactly once.
    The bound "what the rate limit allows": for each channel, walk its post attempts in
    arrival order; after an accepted post the next may come 1 s later, after a drawn 429
    its Retry-After later (a 429 earned by posting too soon is left out: a client keeping
    the pace would not get it); the channel's floor is that sum up to its last accepted
    post (``tests.fakeslack.rate_limit_floor``). The bound is the largest floor over the
    channels: all channels could be served at once. Reported: the tick's wall time, the
    posting span (first post to last accepted post, from the fake's clock), the bound,
    total/bound, messages/s, and the build cost alone (the same 1,000 digests built one
    after another with one shared week, no posting). A second run with an empty week
    (digests say the week was quiet; building them is nearly free) shows what the
    fan-out itself costs against the bound. Workers: ``BENCH_FANOUT_WORKERS`` or the
    setting's default.
    """
    papers = 1000 if ctx.quick else 5000
    channels = 200 if ctx.quick else 1000
    workers = int(os.environ.get("BENCH_FANOUT_WORKERS") or 0) or 8
    figs: dict[str, list[float]] = {}
    for r in range(ctx.repeat):
        for label, n in (("week", papers), ("empty", 0)):
            out = _fanout_run(ctx, papers=n, channels=channels, workers=workers, seed=r)
            for k, v in out.items():
                figs.setdefault(f"{label}.{k}", []).append(v)
            figs.setdefault(f"{label}.ratio", []).append(out["total"] / max(out["bound"], 1e-9))
            figs.setdefault(f"{label}.rate", []).append(out["messages"] / out["total"])
        figs.setdefault("build", []).append(
            _fanout_build_only(ctx, papers=papers, channels=channels)
        )
    ctx.sizes["fanout"] = (
        f"{channels} channels, {papers} papers in the week, {workers} workers, "
        "5 % of posts 429 (Retry-After 1), enforce_rate"
    )
    for label, what in (("week", f"{papers}-paper week"), ("empty", "empty week")):
        ratio = figs[f"{label}.ratio"]
        ctx.add(Figure("fanout", f"{what}: tick before (prepares)", "s", figs[f"{label}.before"]))
        ctx.add(Figure("fanout", f"{what}: runs prepared ahead", "", figs[f"{label}.prepared"]))
        ctx.add(Figure("fanout", f"{what}: tick total", "s", figs[f"{label}.total"]))
        ctx.add(Figure("fanout", f"{what}: posting span", "s", figs[f"{label}.posting"]))
        for key, when in (("half_first_attempts", "half"), ("all_first_attempts", "all")):
            ctx.add(
                Figure(
                    "fanout",
                    f"{what}: first attempts of {when} the channels out by",
                    "s",
                    figs[f"{label}.{key}"],
                )
            )
        ctx.add(Figure("fanout", f"{what}: rate-limit bound", "s", figs[f"{label}.bound"]))
        ctx.add(
            Figure(
                "fanout",
                f"{what}: total / bound",
                "×",
                ratio,
                "≤ 1.2×" if label == "week" else "",
                statistics.median(ratio) <= 1.2 if label == "week" else None,
            )
        )
        ctx.add(Figure("fanout", f"{what}: messages per second", "msg/s", figs[f"{label}.rate"]))
        ctx.add(Figure("fanout", f"{what}: messages posted", "", figs[f"{label}.messages"]))
        ctx.add(Figure("fanout", f"{what}: drawn 429s", "", figs[f"{label}.drawn_429"]))
        ctx.add(Figure("fanout", f"{what}: 429s earned by pace", "", figs[f"{label}.earned_429"]))
    ctx.add(Figure("fanout", f"{channels} digests built alone (shared week)", "s", figs["build"]))


SCENARIOS: dict[str, Callable[[Context], None]] = {
    "ingest": scenario_ingest,
    "pages": scenario_pages,
    "poll": scenario_poll,
    "digest": scenario_digest,
    "memory": scenario_memory,
    "lookup": scenario_lookup,
    "fanout": scenario_fanout,
    "click": scenario_click,
}


# -- report ------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import sqlite3  # noqa: PLC0415

    info = {
        "cores": str(os.cpu_count()),
        "ram": f"{ram:.0f} GiB",
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load average at start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    try:
        engine = create_engine(make_url(PG_URL).set(database="postgres"))
        with engine.connect() as conn:
            info["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
    except Exception:
        info["postgresql"] = "not reachable"
    return info


def print_table(figures: list[Figure], db: str) -> None:
    table = Table(title=f"paperbot benchmarks — {db}")
    for col in ("scenario", "measure", "median", "spread", "unit", "target", ""):
        table.add_column(col)
    for f in figures:
        mark = "" if f.ok is None else ("[green]pass" if f.ok else "[red]MISS")
        table.add_row(f.scenario, f.name, _fmt(f.median), f.spread(), f.unit, f.target, mark)
    Console(width=160).print(table)


def record_results(
    path: Path, runs: dict[str, Context], ran: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, Any]:
    """Merge this run's scenarios into the figures kept beside RESULTS.md (``.json``).

    A run of some scenarios replaces only theirs: RESULTS.md always shows the latest
    figures of every scenario, each with when it ran and how loaded the machine was.
    """
    store = path.with_suffix(".json")
    kept: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    for db, ctx in runs.items():
        for (run_db, scenario), info in ran.items():
            if run_db != db:
                continue
            kept.setdefault(db, {})[scenario] = {
                **info,
                "repeat": ctx.repeat,
                "quick": ctx.quick,
                "size": ctx.sizes.get(scenario, ""),
                "figures": [
                    {
                        "name": f.name,
                        "unit": f.unit,
                        "values": f.values,
                        "target": f.target,
                        "ok": f.ok,
                        "note": f.note,
                    }
                    for f in ctx.figures
                    if f.scenario == scenario
                ],
            }
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n")
    return kept


def _summary(kept: dict[str, Any], order: list[str]) -> list[str]:
    """One row per targeted measure: its median on each database and whether it passes."""
    rows: dict[tuple[int, str, str], dict[str, str]] = {}
    for db in ("sqlite", "postgresql"):
        for name, sc in kept.get(db, {}).items():
            for raw in sc["figures"]:
                if raw["ok"] is None:
                    continue
                key = (order.index(name) if name in order else 99, name, raw["name"])
                mark = "pass" if raw["ok"] else "**MISS**"
                median = _fmt(statistics.median(raw["values"]))
                rows.setdefault(key, {"target": raw["target"]})[db] = (
                    f"{median} {raw['unit']} {mark}"
                )
    if not rows:
        return []
    lines = [
        "## Targets at a glance",
        "",
        "| scenario | measure | target | SQLite | PostgreSQL |",
        "|---|---|---|---|---|",
    ]
    for (_, scenario, measure), cells in sorted(rows.items()):
        lines.append(
            f"| {scenario} | {measure} | {cells['target']} | {cells.get('sqlite', 'not run')} "
            f"| {cells.get('postgresql', 'not run')} |"
        )
    return [*lines, ""]


def write_results(path: Path, kept: dict[str, Any]) -> None:
    info = machine()
    lines = [
        "# paperbot benchmark results",
        "",
        "Written by `python benchmarks/run.py`, which keeps the latest figures of every "
        f"scenario; last written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items() if k != "load average at start"],
        "",
        "The machine is shared: other work may run at the same time, so each figure is the",
        "median of several runs with the spread (min-max) beside it, and each scenario says",
        "when it ran, the load average (1 min) when it started and a speed index: feedparser's",
        "entries/s on the 2,000-entry listing just before it (higher is faster; compare",
        "absolute figures of two runs only at similar speeds).",
        "",
    ]
    order = list(SCENARIOS)
    lines += _summary(kept, order)
    for db in ("sqlite", "postgresql"):
        scenarios = kept.get(db)
        if not scenarios:
            continue
        lines += [f"## {db}", ""]
        for name in sorted(scenarios, key=lambda n: order.index(n) if n in order else 99):
            sc = scenarios[name]
            quick = (
                " **--quick: reduced sizes, not comparable to the targets**" if sc["quick"] else ""
            )
            speed = (
                f"speed index {sc['speed']:,} entries/s"
                if "speed" in sc
                else "speed index not recorded"
            )
            lines.append(
                f"- **{name}**: {sc['ran_at']}, load {sc['load']}, {speed}, runs: {sc['repeat']}, "
                f"`{sc['command']}`; {sc['size'] or 'sizes in the measures'}{quick}"
            )
        lines += [
            "",
            "| scenario | measure | median | spread | unit | target | result |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in sorted(scenarios, key=lambda n: order.index(n) if n in order else 99):
            for raw in scenarios[name]["figures"]:
                f = Figure(
                    name,
                    raw["name"],
                    raw["unit"],
                    raw["values"],
                    raw["target"],
                    raw["ok"],
                    raw["note"],
                )
                mark = "" if f.ok is None else ("pass" if f.ok else "**MISS**")
                note = f" ({f.note})" if f.note else ""
                lines.append(
                    f"| {f.scenario} | {f.name}{note} | {_fmt(f.median)} | {f.spread()} "
                    f"| {f.unit} | {f.target} | {mark} |"
                )
        lines.append("")
    notes = HERE / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Run paperbot's benchmarks and write benchmarks/RESULTS.md.",
        epilog="Scenarios: " + ", ".join(SCENARIOS),
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="repeatable; default all"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller data for a smoke run (not target-valid)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument(
        "--index-budget",
        type=float,
        default=None,
        help="seconds the lookup scenario may backfill like:'s signatures (default: all; "
        "0: none, measure the store as it is)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.url, json.loads(args.params or "{}"))
        return
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    names = args.scenario or list(SCENARIOS)
    if "postgresql" in dbs:
        _pg_admin_ready()
    DATA.mkdir(exist_ok=True)
    runs: dict[str, Context] = {}
    ran: dict[tuple[str, str], dict[str, Any]] = {}
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarks", total=len(dbs) * len(names))
        for db in dbs:
            ctx = runs[db] = Context(
                db=db, repeat=max(1, args.repeat), quick=args.quick, index_budget=args.index_budget
            )
            for name in names:
                progress.update(task, description=f"{db}: {name}")
                ran[(db, name)] = {
                    "ran_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                    "load": f"{os.getloadavg()[0]:.1f}",
                    "speed": round(speed_index()),
                    "command": command.strip(),
                }
                t = time.perf_counter()
                SCENARIOS[name](ctx)
                console.print(f"{db}: {name} done in {time.perf_counter() - t:.0f} s")
                progress.advance(task)
    for db, ctx in runs.items():
        print_table(ctx.figures, db)
    write_results(args.out, record_results(args.out, runs, ran))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
