"""Fan-out: a tick delivers many channels at once through a fake Slack that keeps the pace.

Real sleeps, real HTTP, a real database; nothing here asserts how long anything took —
what is checked is what Slack received and in which order (the fake's log).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.deliver import Deliverer
from bot.fanout import WeekContexts
from bot.scheduler import LEASE_NAME, Scheduler
from bot.slack_client import KeepAliveWebClient
from digests.calendar import digest_week, last_run
from digests.digest import WeekContext, build_digest
from digests.errors import ConfigError
from digests.ingest import prepare
from digests.model import Entry, SourceInfo, Subscription, SubscriptionSpec, SummaryText
from digests.rank import DEFAULT_WEIGHTS
from digests.render import render_digest_messages
from digests.settings import Settings
from digests.store import DeliveryIntent, Store
from digests.summarize import ExtractiveSummarizer, Summarizer
from digests.topics import TopicRules
from digests.weeks import IsoWeek, week_bounds
from tests.factories import CREATED, MONDAY_0901, hand_source, no_poll, request_for
from tests.fakeslack import BOT_TOKEN, Call, FakeReply, FakeSlack, rate_limit_floor

WEEK = IsoWeek(2025, 33)
TZ = "Asia/Tokyo"
WORDS = [
    *("reward", "models", "alignment", "diffusion", "retrieval", "agents", "benchmarks"),
    *("safety", "evaluation", "preference", "optimization", "long", "context", "reasoning"),
    *("multilingual", "tokenizers"),
]
TAGS = ("Alignment", "Agents", "Diffusion", "RAG", "Safety")


class RealClock:
    """The test's start instant moving on with real time (the deliverer's waits are real)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


def fill_week(store: Store, tmp_path: Path, n: int = 24) -> SourceInfo:
    """``n`` papers mid-week with long abstracts, so a top-10 digest needs several parts."""
    src = hand_source(store, tmp_path)
    start, _ = week_bounds(WEEK, TZ)
    entries = []
    for i in range(1, n + 1):
        words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(60)]
        entries.append(
            Entry(
                title=f"Paper {i}: {' '.join(words[:6])}",
                arxiv_id=f"2508.{i:05d}",
                url=f"https://arxiv.org/abs/2508.{i:05d}",
                authors=(f"A. Author{i}", "B. Writer"),
                abstract=" ".join(words).capitalize() + ".",
                published=start + timedelta(days=1, hours=i),
                tags=(TAGS[i % len(TAGS)], TAGS[(i + 2) % len(TAGS)]),
            )
        )
    store.store_entries(src, prepare(entries, src, TopicRules()), now=start)
    return src


def subscribe(store: Store, channel: str, query: str = "", top: int = 10) -> Subscription:
    spec = SubscriptionSpec(
        team_id="T1", channel_id=channel, query=query, weekday=0, time="09:00", tz=TZ, top=top
    )
    return store.add_subscription(spec, start_week=WEEK.label, now=CREATED)


def scheduler(
    store: Store,
    slack: FakeSlack,
    tmp_path: Path,
    *,
    workers: int,
    max_chars: int = 4000,
    summarizer: Summarizer | None = None,
) -> Scheduler:
    clock = RealClock(MONDAY_0901)
    deliverer = Deliverer(
        store=store,
        # The bot's own client: connections kept open, no retry handlers.
        client=KeepAliveWebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[]),
        core=Settings(
            database_url="sqlite://",
            data_dir=tmp_path,
            sources_file=tmp_path / "sources.toml",
            topics_file=None,
        ),
        admins=frozenset({"UADMIN"}),
        holder="fanout-test",
        clock=clock,
        max_chars=max_chars,
        summarizer=summarizer,
    )
    return Scheduler(
        store=store,
        deliverer=deliverer,
        poll=no_poll,
        clock=clock,
        holder="fanout-test",
        workers=workers,
    )


def accepted(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.status == 200]


@pytest.fixture
def paced_slack() -> Iterator[FakeSlack]:
    with FakeSlack(admins={"UADMIN"}, enforce_rate=True, ratelimit_share=0.1, seed=5) as fake:
        yield fake


QUERIES = ["", "tag:Alignment", "tag:Agents -tag:Safety", "reward", "tag:Diffusion", "agents"]


def test_concurrent_fan_out_delivers_every_part_once_and_in_order(
    store: Store, paced_slack: FakeSlack, tmp_path: Path
) -> None:
    fill_week(store, tmp_path)
    subs = [subscribe(store, f"C{i:03d}", QUERIES[i % len(QUERIES)]) for i in range(50)]
    # Two subscriptions in one channel: their deliveries must not interleave.
    subs.append(subscribe(store, "C000", "tag:RAG", top=8))
    report = scheduler(store, paced_slack, tmp_path, workers=16).tick(MONDAY_0901)

    assert report.errors == ()
    assert Counter(d.status for d in report.deliveries) == {"posted": len(subs)}
    # The report lists the outcomes in subscription order, whatever order they finished in.
    assert [d.subscription_id for d in report.deliveries] == [s.id for s in subs]
    log = paced_slack.post_log()
    assert sum(1 for c in paced_slack.calls_to("chat.postMessage") if c.injected) > 0
    deliveries = {d.key: d for d in store.list_deliveries()}
    assert len(deliveries) == len(subs) and all(d.state == "posted" for d in deliveries.values())
    multi = 0
    for channel, calls in log.items():
        parts = [c.part for c in accepted(calls)]
        assert all(p is not None for p in parts)
        # Every part of every delivery exactly once ...
        assert len(parts) == len(set(parts)), channel
        by_key: dict[str, list[int]] = {}
        for key, part in (p for p in parts if p is not None):
            by_key.setdefault(key, []).append(part)
        for key, got in by_key.items():
            d = deliveries[key]
            assert got == list(range(1 + len(d.reply_ts))), key  # ... and in order
            multi += len(got) > 1
        # One delivery of a channel at a time: each key's posts are contiguous.
        keys = [p[0] for p in parts if p is not None]
        assert [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k] == list(by_key)
    assert multi > 10  # the digests really had thread parts
    assert len(by_key) >= 1 and len(log["C000"]) >= 2


@pytest.mark.parametrize("workers", [1, 4])
def test_a_rate_limited_channel_does_not_hold_up_the_others(
    store: Store, tmp_path: Path, workers: int
) -> None:
    fill_week(store, tmp_path)
    with FakeSlack(admins={"UADMIN"}, enforce_rate=True) as slack:
        # The first channel in line is told to wait three seconds on its first post.
        slack.script_channel(
            "CSLOW",
            FakeReply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}),
        )
        subscribe(store, "CSLOW")
        for i in range(12):
            subscribe(store, f"C{i:03d}")
        # Fewer workers than channels, even a single one: the waiting channel lends its
        # worker slot and must not stall a shared queue.
        report = scheduler(store, slack, tmp_path, workers=workers, max_chars=40_000).tick(
            MONDAY_0901
        )
        assert Counter(d.status for d in report.deliveries) == {"posted": 13}
        log = slack.post_log()
        slow = log["CSLOW"]
        assert [c.status for c in slow] == [429, 200]
        others = [c for ch, calls in log.items() if ch != "CSLOW" for c in calls]
        assert len(accepted(others)) == 12
        # Every other channel was served before the held one came back.
        assert max(c.at for c in others) < slow[1].at
        assert all(len(accepted(calls)) == 1 for calls in log.values())


def test_week_contexts_give_the_digests_built_alone(store: Store, tmp_path: Path) -> None:
    fill_week(store, tmp_path, n=40)
    subs = [subscribe(store, f"C{i:03d}", q) for i, q in enumerate(QUERIES)]
    subs.append(subscribe(store, "CJA", "tag:Safety", top=3))
    now = MONDAY_0901
    contexts = WeekContexts(store, now=now)
    for s in subs:
        fire = last_run(s, now)
        assert fire is not None
        week = digest_week(fire, s.tz)
        request = request_for(s, week, now)
        context = contexts.get(week, s.tz, weights=DEFAULT_WEIGHTS)
        shared = build_digest(store, request, now=now, context=context)
        alone = build_digest(store, request, now=now)
        assert shared == alone
        assert [m["text"] for m in render_digest_messages(shared)] == [
            m["text"] for m in render_digest_messages(alone)
        ]
    assert contexts.loaded() == 1  # every subscription digests the same week and zone
    again = contexts.get(WEEK, TZ, weights=context.prepared.weights)
    assert isinstance(again, WeekContext) and again is context


def test_a_tick_posts_what_the_unshared_path_posts(store: Store, tmp_path: Path) -> None:
    fill_week(store, tmp_path, n=30)
    subs = [subscribe(store, f"C{i:03d}", q) for i, q in enumerate(QUERIES)]
    with FakeSlack(admins={"UADMIN"}) as slack:
        report = scheduler(store, slack, tmp_path, workers=3).tick(MONDAY_0901)
        assert [d.status for d in report.deliveries] == ["posted"] * len(subs)
        for s in subs:
            request = request_for(s, WEEK, MONDAY_0901)
            alone = build_digest(store, request, now=MONDAY_0901)
            texts = [m["text"] for m in render_digest_messages(alone, max_chars=4000)]
            assert [m.text for m in slack.posted(s.channel_id)] == texts


def test_rate_limit_floor_counts_the_pace_and_the_drawn_waits() -> None:
    def call(at: float, status: int, retry: float | None = None, drawn: bool = False) -> Call:
        return Call("chat.postMessage", {"channel": "C"}, {}, at, status, retry, drawn)

    assert rate_limit_floor([call(0, 200)]) == 0
    assert rate_limit_floor([call(0, 200), call(1.2, 200), call(2.5, 200)]) == 2
    # A drawn 429 costs its Retry-After; one earned by posting too soon costs nothing.
    drawn = [call(0, 200), call(1, 429, 3, True), call(4, 200)]
    assert rate_limit_floor(drawn) == 4
    earned = [call(0, 200), call(0.5, 429, 1), call(1.1, 200)]
    assert rate_limit_floor(earned) == 1
    assert rate_limit_floor([call(0, 429, 2, True), call(2, 200)]) == 2


def test_the_worker_count_is_a_validated_setting(tmp_path: Path) -> None:
    base = {"PAPERBOT_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).delivery_workers == 8
    assert Settings.from_env({**base, "PAPERBOT_DELIVERY_WORKERS": "32"}).delivery_workers == 32
    for bad in ("0", "65", "many", "-1"):
        with pytest.raises(ConfigError, match="PAPERBOT_DELIVERY_WORKERS"):
            Settings.from_env({**base, "PAPERBOT_DELIVERY_WORKERS": bad})


def test_workers_start_nothing_more_once_the_lease_is_lost(store: Store, tmp_path: Path) -> None:
    fill_week(store, tmp_path)
    with FakeSlack(admins={"UADMIN"}, enforce_rate=True) as slack:
        slack.script_channel(
            "C000",
            FakeReply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"}),
        )
        # One channel's deliveries run one after another: while the first waits out its
        # 429 (lending its worker slot, with no other channel to take it), the lease goes.
        subs = [subscribe(store, "C000", q) for q in ("", "tag:Alignment", "reward", "agents")]
        sched = scheduler(store, slack, tmp_path, workers=1, max_chars=40_000)
        sched.renew_every = 0.1

        stolen: list[bool] = []

        def steal() -> None:
            # While the only worker waits out C000's 429, another process takes the lease
            # (as if ours had run out: its clock is past our lease's end).
            slack.wait_for("chat.postMessage")
            later = MONDAY_0901 + timedelta(minutes=5)
            stolen.append(
                store.acquire_lease(
                    LEASE_NAME, holder="thief", ttl=timedelta(minutes=60), now=later
                )
            )

        thief = threading.Thread(target=steal)
        thief.start()
        report = sched.tick(MONDAY_0901)
        thief.join(timeout=30)
        assert stolen == [True]
        assert report.lost_lease
        # The delivery under way was finished (its claim keeps it single); no other began.
        assert [(d.subscription_id, d.status) for d in report.deliveries] == [
            (subs[0].id, "posted")
        ]
        assert [c.status for c in slack.post_log()["C000"]] == [429, 200]
        # The tick claimed the others up front; they were handed back untouched, so the
        # new leader claims them at once (and looks in Slack before posting).
        left = {d.subscription_id: d for d in store.list_deliveries()}
        assert sorted(left) == sorted(s.id for s in subs)
        assert left[subs[0].id].state == "posted"
        for s in subs[1:]:
            d = left[s.id]
            assert (d.state, d.claimed_by, d.message_ts) == ("pending", None, None), s.id
            assert d.last_error is not None and "lease was lost" in d.last_error
        taken = store.claim_deliveries(
            [
                DeliveryIntent(d.key, d.team_id, d.channel_id, d.week, d.subscription_id)
                for d in left.values()
            ],
            holder="thief",
            now=MONDAY_0901 + timedelta(minutes=5),
            stale_after=timedelta(minutes=10),
        )
        assert sorted(d.subscription_id or 0 for d in taken.values()) == sorted(
            s.id for s in subs[1:]
        )


class LeaseThiefSummarizer:
    """The offline summarizer, but another process takes the scheduler lease while the
    first digest of the tick is being built (a summarizer is where a model would be
    called: the slow part of preparing a digest)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stolen = False

    def summarize(
        self,
        key: str,
        title: str,
        texts: Sequence[SummaryText],
        *,
        lang: str | None,
        max_chars: int,
    ) -> str:
        if not self.stolen:
            later = MONDAY_0901 + timedelta(minutes=5)
            self.stolen = self.store.acquire_lease(
                LEASE_NAME, holder="thief", ttl=timedelta(minutes=60), now=later
            )
        return ExtractiveSummarizer().summarize(key, title, texts, lang=lang, max_chars=max_chars)


def test_a_lease_lost_while_digests_are_prepared_hands_every_claim_back(
    store: Store, tmp_path: Path
) -> None:
    fill_week(store, tmp_path)
    # More deliveries in one channel than one chunk prepares: the channel is never handed
    # to a posting thread, and what was prepared of it must not stay claimed.
    subs = [subscribe(store, "C000", "") for _ in range(40)] + [subscribe(store, "C001")]
    thief = LeaseThiefSummarizer(store)
    with FakeSlack(admins={"UADMIN"}) as slack:
        sched = scheduler(store, slack, tmp_path, workers=8, summarizer=thief)
        sched.renew_every = 0.0  # renew before every chunk
        report = sched.tick(MONDAY_0901)
        assert thief.stolen and report.lost_lease
        assert report.deliveries == () and slack.calls_to("chat.postMessage") == []
    left = store.list_deliveries()
    assert len(left) == len(subs)
    assert {(d.state, d.claimed_by, d.message_ts) for d in left} == {("pending", None, None)}
