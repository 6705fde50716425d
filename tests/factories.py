"""Shared factories for tests: papers and sources as a parser or the store hands them over,
the command paths of the CLI, and the clock, subscriptions and schedulers the delivery
tests share."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from slack_sdk import WebClient
from sqlalchemy import select

from bot.deliver import Deliverer
from bot.scheduler import Scheduler
from bot.slack_posts import DIGEST_EVENT
from digests.calendar import first_week
from digests.digest import DigestRequest
from digests.ingest import SourceReport, prepare
from digests.model import (
    Delivery,
    Entry,
    SourceInfo,
    SourceKind,
    SourceSpec,
    Subscription,
    SubscriptionSpec,
)
from digests.normalize import parse_arxiv_id
from digests.query import parse_query
from digests.schema import papers
from digests.settings import Settings
from digests.store import DeliveryIntent, FetchRecord, Store, create_db_engine
from digests.topics import TopicRules
from digests.weeks import IsoWeek, parse_week, week_bounds
from tests.fakeslack import BOT_TOKEN, FakeSlack, Message


def arxiv(ref: str, title: str, **kw: Any) -> Entry:
    """An entry as arXiv lists it: ``ref`` may carry a version (``2403.04224v4``)."""
    parsed = parse_arxiv_id(ref)
    assert parsed is not None
    return Entry(
        title=title,
        arxiv_id=parsed.id,
        arxiv_version=parsed.version,
        url=f"http://arxiv.org/abs/{ref}",
        **kw,
    )


def source_info(
    name: str = "feed", *, source_id: int = 1, tags: tuple[str, ...] = ()
) -> SourceInfo:
    """A feed source as the store returns it, for code that never reads it from a store."""
    return SourceInfo(
        id=source_id,
        name=name,
        location=f"/tmp/{name}",
        kind=SourceKind.FEED,
        interval_seconds=3600,
        tags=tags,
        origin="file",
        enabled=True,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def claim_one(
    store: Store,
    *,
    key: str,
    team_id: str,
    channel_id: str,
    week: str,
    subscription_id: int | None,
    holder: str,
    now: datetime,
    stale_after: timedelta,
) -> Delivery | None:
    """One delivery recorded and claimed, as a worker claims it: None when not claimed."""
    intent = DeliveryIntent(key, team_id, channel_id, week, subscription_id)
    claimed = store.claim_deliveries([intent], holder=holder, now=now, stale_after=stale_after)
    return claimed.get(key)


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command of a click group, subcommands included: ``("sources", "add")``."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


# -- delivering and scheduling: a settable clock, a hand-filled source, subscriptions ----

TOKYO = ZoneInfo("Asia/Tokyo")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO).astimezone(UTC)


CREATED = jst(2025, 8, 13, 10, 0)  # a Wednesday in 2025-W33
MONDAY_0901 = jst(2025, 8, 18, 9, 1)  # the first Monday 09:00 run after it, plus a minute


class Clock:
    """A clock the test sets; the scheduler, the deliverer and the fake Slack all read it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def set(self, when: datetime) -> None:
        with self._lock:
            self.now = when.astimezone(UTC)


def client_for(slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def core_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite://",  # not used: the store is handed in
        data_dir=tmp_path,
        sources_file=tmp_path / "sources.toml",
        topics_file=None,
        enrich=False,  # tests never ask the real arXiv API
    )


def hand_source(store: Store, tmp_path: Path) -> SourceInfo:
    """A source the tests fill by hand; it is never due, so ticks leave it alone."""
    path = tmp_path / "hand.md"
    path.write_text("# nothing\n", "utf-8")
    src = store.add_source(SourceSpec(name="hand", location=str(path)), now=CREATED)
    store.record_fetches(
        [FetchRecord(src.id, None, None, None, utc(2100, 1, 1), None)], now=CREATED
    )
    return src


def add_papers(store: Store, source: SourceInfo, week: IsoWeek, n: int = 3) -> None:
    """``n`` papers announced mid-``week`` (Tokyo time)."""
    start, _ = week_bounds(week, "Asia/Tokyo")
    ids = [f"{week.year % 100:02d}{week.week:02d}.{i:05d}" for i in range(1, n + 1)]
    entries = [
        Entry(
            title=f"Paper {i} of {week.label}: digests that arrive on time",
            arxiv_id=arxiv_id,
            url=f"https://arxiv.org/abs/{arxiv_id}",
            authors=("A. Author",),
            abstract="We study weekly digests of papers delivered to channels on time.",
            published=start + timedelta(days=2, hours=i),
        )
        for i, arxiv_id in enumerate(ids, start=1)
    ]
    store.store_entries(source, prepare(entries, source, TopicRules()), now=start)


def subscribe(
    store: Store,
    *,
    channel: str = "C1",
    weekday: int = 0,
    at: str = "09:00",
    tz: str = "Asia/Tokyo",
    now: datetime = CREATED,
    top: int = 5,
) -> Subscription:
    """A weekly subscription of team T1, starting at its first week after ``now``."""
    spec = SubscriptionSpec(
        team_id="T1", channel_id=channel, query="", weekday=weekday, time=at, tz=tz, top=top
    )
    return store.add_subscription(spec, start_week=first_week(weekday, at, tz, now).label, now=now)


def no_poll(sources: Sequence[SourceInfo]) -> list[SourceReport]:
    raise AssertionError(f"nothing should be due: {[s.name for s in sources]}")


def make_scheduler(
    store: Store,
    slack: FakeSlack,
    clock: Clock,
    tmp_path: Path,
    *,
    holder: str = "worker-a",
    poll: Callable[[Sequence[SourceInfo]], list[SourceReport]] = no_poll,
    notify: Callable[[str], None] | None = None,
    lease_ttl: timedelta = timedelta(seconds=60),
    tick_seconds: float = 30,
) -> Scheduler:
    """A scheduler whose claims live as long as its lease (a dead one's go with it)."""
    deliverer = Deliverer(
        store=store,
        client=client_for(slack),
        core=core_settings(tmp_path),
        admins=frozenset({"UADMIN"}),
        holder=holder,
        clock=clock,
        sleep=lambda _seconds: None,  # pacing waits would only slow the tests down
        claim_ttl=lease_ttl,
    )
    return Scheduler(
        store=store,
        deliverer=deliverer,
        poll=poll,
        clock=clock,
        holder=holder,
        lease_ttl=lease_ttl,
        tick_seconds=tick_seconds,
        notify=notify,
    )


def digests_in(slack: FakeSlack, channel: str = "C1") -> list[str]:
    """The top-level messages in a channel: one per digest (the rest go in its thread)."""
    return [m.text for m in slack.posted(channel) if m.thread_ts is None]


def request_for(s: Subscription, week: IsoWeek, now: datetime) -> DigestRequest:
    """The digest a subscription asks for, written out here independently of the deliverer."""
    return DigestRequest(
        week=week,
        tz=s.tz,
        query=parse_query(s.query, now=now, tz=s.tz) if s.query else None,
        top=s.top,
        team_id=s.team_id,
        channel_id=s.channel_id,
        subscription_id=s.id,
        not_before=week_bounds(parse_week(s.start_week), s.tz)[0],
    )


def digest_parts(messages: Sequence[Message]) -> list[tuple[str, int]]:
    """The (delivery key, part) each posted digest message is tagged with."""
    out = []
    for m in messages:
        assert m.metadata is not None and m.metadata["event_type"] == DIGEST_EVENT
        out.append((m.metadata["event_payload"]["key"], m.metadata["event_payload"]["part"]))
    return out


def migrate(db_url: str, revision: str, *, down: bool = False) -> None:
    """Move a database's schema to ``revision`` with Alembic, up or down."""
    from alembic import command

    from digests.store.engine import _alembic_config

    engine = create_db_engine(db_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    engine.dispose()


# -- the calibration weeks (tests/fixtures/weeks) ---------------------------------------

# The sources of the calibration weeks as an operator adds them from the command line (no
# kind: each is detected from its content), and the files each one served.
WEEK_SOURCES = (
    ("arXiv cs.CL", "https://rss.arxiv.org/rss/cs.CL", "arxiv_cs.CL_*.xml"),
    ("arXiv cs.LG", "https://rss.arxiv.org/rss/cs.LG", "arxiv_cs.LG_*.xml"),
    ("arXiv cs.AI", "https://rss.arxiv.org/rss/cs.AI", "arxiv_cs.AI_*.xml"),
    ("HF Daily Papers", "https://huggingface.co/api/daily_papers", "hf_daily_*.json"),
    (
        "ML Papers of the Week",
        "https://raw.githubusercontent.com/dair-ai/ML-Papers-of-the-Week/main/README.md",
        "../ml_papers_of_the_week.md",
    ),
    ("Example Lab Blog", "https://blog.example-lab.org/feed.xml", "../lab_blog.xml"),
)
CALIBRATION_WEEKS = ("2025-W26", "2025-W27")


def ingest_weeks(store: Store, folder: Path, rules: TopicRules) -> None:
    """Store the calibration weeks through the real ingest (parse, prepare, store), each
    document as if fetched from its source's address on its day (the lists once, after
    the last week)."""
    from digests.ingest import ingest_document

    added = {
        name: store.add_source(SourceSpec(name=name, location=url), now=utc(2025, 6, 1))
        for name, url, _ in WEEK_SOURCES
    }
    done: set[Path] = set()
    for label in CALIBRATION_WEEKS:
        for name, _, pattern in WEEK_SOURCES:
            for path in sorted((folder / label).glob(pattern)):
                if path in done:
                    continue
                done.add(path)
                stem = path.stem.rsplit("_", 1)[-1]
                day = datetime.fromisoformat(stem).replace(tzinfo=UTC) if "-" in stem else None
                when = day + timedelta(hours=6) if day else utc(2025, 7, 7)
                ingest_document(store, added[name], path.read_bytes(), rules=rules, now=when)


# The papers the library fixtures (tests/fixtures/library/) name, each known to the store
# by one kind of key: name -> (title, arXiv id, DOI, link).
LIBRARY_PAPERS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "dpo": (
        "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
        "2305.18290",
        None,
        None,
    ),
    "attention": ("Attention Is All You Need", "1706.03762", None, None),
    "parrots": (
        "On the Dangers of Stochastic Parrots: Can Language Models Be Too Big?",
        None,
        "10.1145/3442188.3445922",
        "https://dl.acm.org/doi/10.1145/3442188.3445922",
    ),
    "review": (
        "A Review Thread Known Only by Its Link",
        None,
        None,
        "https://openreview.net/forum?id=HkgBR3QtPr",
    ),
    "cai": ("Constitutional AI: Harmlessness from AI Feedback", "2212.08073", None, None),
    "uber": ("Über-Large Models: A Study of Généralisation", None, None, None),
}


def library_papers(store: Store, tmp_path: Path) -> dict[str, int]:
    """Store ``LIBRARY_PAPERS`` through a hand source; name -> paper id."""
    source = hand_source(store, tmp_path)
    entries = [
        Entry(
            title=title,
            arxiv_id=arxiv_id,
            doi=doi,
            url=url or (f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None),
            authors=("A. Author",),
            published=CREATED,
        )
        for title, arxiv_id, doi, url in LIBRARY_PAPERS.values()
    ]
    store.store_entries(source, prepare(entries, source, TopicRules()), now=CREATED)
    with store.engine.connect() as conn:
        ids = {str(t): int(i) for t, i in conn.execute(select(papers.c.title, papers.c.id))}
    return {name: int(ids[title]) for name, (title, *_) in LIBRARY_PAPERS.items()}
