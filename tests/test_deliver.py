"""Posting digests through the local fake Slack over HTTP, on a real store, with a fake clock."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.deliver import Deliverer
from bot.fanout import DeliveryResult, Job, PostedRecorder, Ready, WeekContexts
from bot.slack_posts import DIGEST_EVENT, ChannelPacer
from digests.digest import DigestRequest, build_and_archive
from digests.ingest import prepare
from digests.model import Entry, SourceInfo, SourceKind, SourceSpec, Subscription, SubscriptionSpec
from digests.render import render_digest_messages
from digests.settings import Settings
from digests.store import Store
from digests.topics import load_rules
from digests.weeks import IsoWeek, week_bounds
from tests.factories import claim_one
from tests.fakeslack import BOT_TOKEN, TEAM, FakeReply, FakeSlack, Message

NOW = datetime(2025, 8, 19, 9, 0, tzinfo=UTC)  # a Tuesday in 2025-W34
WEEK = IsoWeek(2025, 34)
NEXT_WEEK = IsoWeek(2025, 35)
STALE = timedelta(minutes=10)
ADMIN = "UADMIN1"
LONG = 30  # papers in a "long" digest: with max_chars=4000 it takes several messages
RULES = load_rules()
CORE = Settings(
    database_url="sqlite://",
    data_dir=Path("unused"),
    sources_file=Path("unused/sources.toml"),
    topics_file=None,
)
ABSTRACT = (
    "We study how large language models can be aligned with human preferences using "
    "small amounts of feedback. Our method combines reward modelling with careful data "
    "selection and is evaluated on several benchmarks, where it improves helpfulness "
    "and harmlessness at once. We also analyse failure cases in detail. "
)


class FakeTime:
    """A clock that only moves when someone sleeps (or the test moves it)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def epoch(self) -> float:
        return self.now().timestamp()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += timedelta(seconds=seconds)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime(NOW)


@pytest.fixture
def slack(clock: FakeTime) -> Iterator[FakeSlack]:
    with FakeSlack(admins={ADMIN}, clock=clock.epoch) as fake:
        yield fake


def deliverer(
    store: Store,
    slack: FakeSlack,
    clock: FakeTime,
    *,
    holder: str = "worker-1",
    pacer: ChannelPacer | None = None,
    **kw: Any,
) -> Deliverer:
    return Deliverer(
        store=store,
        client=WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=10),
        core=CORE,
        admins=frozenset({ADMIN}),
        holder=holder,
        clock=clock.now,
        sleep=clock.sleep,
        pacer=pacer or ChannelPacer(clock=clock.epoch, sleep=clock.sleep),
        stale_after=STALE,
        **kw,
    )


def source(store: Store, name: str) -> SourceInfo:
    return store.add_source(
        SourceSpec(name=name, location=f"/tmp/{name}", kind=SourceKind.FEED), now=NOW
    )


def papers(
    store: Store,
    src: SourceInfo,
    numbers: range,
    *,
    published: datetime,
    title: str = "Aligning language models with little feedback",
) -> None:
    entries = [
        Entry(
            title=f"{title}, part {n}",
            arxiv_id=f"2508.{10000 + n}",
            url=f"https://arxiv.org/abs/2508.{10000 + n}",
            authors=("Ada Lovelace", "Alan Turing"),
            abstract=ABSTRACT * 3,
            published=published,
        )
        for n in numbers
    ]
    store.store_entries(src, prepare(entries, src, RULES), now=max(published, NOW))


def subscribe(
    store: Store, channel: str = "C1", *, start_week: str = "2025-W34", top: int = 10
) -> Subscription:
    spec = SubscriptionSpec(team_id=TEAM, channel_id=channel, query="", top=top)
    return store.add_subscription(spec, start_week=start_week, now=NOW)


def posts(slack: FakeSlack, channel: str = "C1") -> list[Message]:
    return slack.posted(channel)


def parts(messages: list[Message]) -> list[tuple[str, int]]:
    out = []
    for m in messages:
        assert m.metadata is not None and m.metadata["event_type"] == DIGEST_EVENT
        out.append((m.metadata["event_payload"]["key"], m.metadata["event_payload"]["part"]))
    return out


def digest_titles(store: Store, key: str, week: IsoWeek) -> list[str]:
    d = store.get_delivery(key)
    assert d is not None and d.digest_id is not None
    start, end = week_bounds(week, "UTC")
    digest = store.load_digest(d.digest_id, start=start, end=end)
    assert digest is not None
    return [i.title for i in digest.items]


# -- posting ---------------------------------------------------------------------------


def test_a_long_digest_is_a_parent_with_thread_replies_posted_once(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(LONG), published=NOW - timedelta(hours=20))
    sub = subscribe(store, top=LONG)
    d = deliverer(store, slack, clock, max_chars=4000)

    result = d.deliver(sub, WEEK)

    key = f"{TEAM}:C1:{sub.id}:2025-W34"
    assert result.status == "posted" and result.key == key and result.items == LONG
    sent = posts(slack)
    assert len(sent) >= 3, "a small max_chars spreads the papers over several messages"
    parent, *replies = sent
    assert parent.thread_ts is None and result.message_ts == parent.ts
    assert all(r.thread_ts == parent.ts for r in replies)
    assert parts(sent) == [(key, i) for i in range(len(sent))]
    for call in slack.calls_to("chat.postMessage"):
        assert call.args["unfurl_links"] is False and call.args["unfurl_media"] is False
    stored = store.get_delivery(key)
    assert stored is not None and stored.state == "posted"
    assert stored.message_ts == parent.ts and stored.reply_ts == tuple(r.ts for r in replies)
    # a first delivery never had to look in Slack
    assert slack.calls_to("conversations.history") == []

    again = d.deliver(sub, WEEK)
    assert again == DeliveryResult(key, "already_posted", message_ts=parent.ts)
    assert len(posts(slack)) == len(sent)


def test_two_workers_racing_for_one_digest_post_it_once(
    db_url: str, slack: FakeSlack, clock: FakeTime
) -> None:
    stores = [Store.open(db_url), Store.open(db_url)]
    try:
        papers(stores[0], source(stores[0], "feed"), range(4), published=NOW - timedelta(hours=5))
        sub = subscribe(stores[0])
        # one pacer per process: the two workers here are two processes
        workers = [deliverer(s, slack, clock, holder=f"worker-{i}") for i, s in enumerate(stores)]
        barrier = threading.Barrier(len(workers))
        results: list[DeliveryResult] = []

        def run(w: Deliverer) -> None:
            barrier.wait()
            results.append(w.deliver(sub, WEEK))

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
    finally:
        for s in stores:
            s.dispose()

    statuses = sorted(r.status for r in results)
    assert statuses.count("posted") == 1
    assert set(statuses) <= {"posted", "in_progress", "already_posted"}
    assert len(posts(slack)) == 1


def test_rate_limited_post_waits_for_retry_after_then_posts(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    sub = subscribe(store)
    slack.script(
        "chat.postMessage",
        FakeReply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}),
    )

    result = deliverer(store, slack, clock).deliver(sub, WEEK)

    assert result.status == "posted"
    assert max(clock.sleeps) >= 7
    assert len(posts(slack)) == 1
    # a 429 means Slack did not post it: nothing to look for
    assert slack.calls_to("conversations.history") == []


def test_a_server_error_is_retried_after_checking_it_did_not_post(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    sub = subscribe(store)
    slack.script("chat.postMessage", FakeReply(500, {"ok": False, "error": "internal_error"}))

    result = deliverer(store, slack, clock).deliver(sub, WEEK)

    assert result.status == "posted"
    assert len(posts(slack)) == 1
    assert clock.sleeps and clock.sleeps[0] >= 0.5  # backoff before the second try
    # a 500 may hide a post that went through: Slack was asked first
    assert len(slack.calls_to("conversations.history")) == 1


def test_slack_down_means_retry_later_and_nothing_is_lost(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    sub = subscribe(store)
    d = deliverer(store, slack, clock, max_attempts=4)
    slack.down = True

    result = d.deliver(sub, WEEK)

    assert result.status == "retry_later" and result.error
    assert posts(slack) == []
    assert len(slack.calls_to("chat.postMessage")) == 1  # then only looking, which failed too
    assert sum(clock.sleeps) < STALE.total_seconds() / 2
    pending = store.get_delivery(result.key)
    assert pending is not None and pending.state == "pending" and pending.claimed_by is None

    slack.down = False
    clock.advance(timedelta(minutes=30))
    later = d.deliver(sub, WEEK)
    assert later.status == "posted"
    assert len(posts(slack)) == 1
    assert d.deliver(sub, WEEK).status == "already_posted"
    assert len(posts(slack)) == 1


def test_an_unreachable_slack_is_retried_with_backoff_then_left_for_later(
    store: Store, clock: FakeTime
) -> None:
    sub = subscribe(store)
    with FakeSlack() as gone:
        url = gone.api_url  # a port nobody listens on once it is closed
    d = Deliverer(
        store=store,
        # no library retries: they would sleep for real, outside our clock and budget
        client=WebClient(token=BOT_TOKEN, base_url=url, retry_handlers=[]),
        core=CORE,
        admins=frozenset(),
        holder="w",
        clock=clock.now,
        sleep=clock.sleep,
        pacer=ChannelPacer(clock=clock.epoch, sleep=clock.sleep),
        max_attempts=3,
    )

    result = d.deliver(sub, WEEK)

    assert result.status == "retry_later" and "connection_refused" in (result.error or "")
    # backoff of at least 0.5 s then 1 s (equal jitter), pacing included
    assert 1.5 <= sum(clock.sleeps) < STALE.total_seconds() / 2


def test_a_missing_channel_fails_pauses_the_subscription_and_tells_admins_once(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    sub = subscribe(store)
    slack.failing_channels["C1"] = "channel_not_found"
    d = deliverer(store, slack, clock)

    result = d.deliver(sub, WEEK)

    assert result.status == "failed" and result.error == "channel_not_found"
    paused = store.get_subscription(sub.id)
    assert paused is not None and not paused.active
    assert paused.last_error == "channel_not_found"
    [note] = posts(slack, ADMIN)
    assert "<#C1>" in note.text and "channel_not_found" in note.text and "paused" in note.text
    failed = store.get_delivery(result.key)
    assert failed is not None and failed.state == "failed"
    assert clock.sleeps == []  # not retried

    # the scheduler may still hold the old record: nothing is tried, nobody is told again
    assert d.deliver(sub, WEEK).status == "failed"
    assert d.deliver(sub, NEXT_WEEK).status == "failed"
    assert len([c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == "C1"]) == 1
    assert len(posts(slack, ADMIN)) == 1


def test_a_token_error_fails_the_week_but_keeps_the_subscription(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    sub = subscribe(store)
    slack.script("chat.postMessage", FakeReply(body={"ok": False, "error": "token_revoked"}))

    result = deliverer(store, slack, clock).deliver(sub, WEEK)

    assert result.status == "failed" and result.error == "token_revoked"
    kept = store.get_subscription(sub.id)
    assert kept is not None and kept.active and kept.last_error == "token_revoked"
    assert "reinstall" in posts(slack, ADMIN)[0].text


# -- crashes ---------------------------------------------------------------------------


def dead_worker_claim(store: Store, sub: Subscription, week: IsoWeek = WEEK) -> int:
    claim = claim_one(
        store,
        key=Deliverer.delivery_key(TEAM, "C1", sub.id, week),
        team_id=TEAM,
        channel_id="C1",
        week=week.label,
        subscription_id=sub.id,
        holder="dead-worker",
        now=NOW,
        stale_after=STALE,
    )
    assert claim is not None
    return claim.id


def post_by_hand(
    slack: FakeSlack, key: str, part: int, message: dict[str, Any], thread: str | None = None
) -> str:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    answer = client.chat_postMessage(
        channel="C1",
        text=message["text"],
        blocks=message["blocks"],
        thread_ts=thread,
        metadata={"event_type": DIGEST_EVENT, "event_payload": {"key": key, "part": part}},
    )
    return str(answer["ts"])


def test_a_post_the_dead_worker_never_recorded_is_found_in_slack_not_posted_again(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    sub = subscribe(store)
    key = Deliverer.delivery_key(TEAM, "C1", sub.id, WEEK)
    dead_worker_claim(store, sub)
    # It posted, then died before mark_posted.
    hand_ts = post_by_hand(slack, key, 0, {"text": "Top papers", "blocks": []})

    d = deliverer(store, slack, clock)
    assert d.deliver(sub, WEEK).status == "in_progress"  # the claim is not stale yet
    clock.advance(STALE + timedelta(minutes=1))
    result = d.deliver(sub, WEEK)

    assert result.status == "posted" and result.message_ts == hand_ts
    assert len(posts(slack)) == 1
    assert len(slack.calls_to("conversations.history")) == 1
    done = store.get_delivery(key)
    assert done is not None and done.state == "posted" and done.message_ts == hand_ts


def test_a_taken_over_claim_with_nothing_in_slack_posts_once(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    sub = subscribe(store)
    dead_worker_claim(store, sub)
    # someone else's message and another delivery's message are not ours
    post_by_hand(slack, "T0001:C1:999:2025-W34", 0, {"text": "other", "blocks": []})
    clock.advance(STALE + timedelta(minutes=1))

    result = deliverer(store, slack, clock).resume_unfinished()

    assert [r.status for r in result] == ["posted"]
    assert len(posts(slack)) == 2
    assert parts(posts(slack))[-1] == (result[0].key, 0)


def test_a_half_posted_thread_is_finished_without_repeating_parts(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(LONG), published=NOW - timedelta(hours=20))
    sub = subscribe(store, top=LONG)
    key = Deliverer.delivery_key(TEAM, "C1", sub.id, WEEK)
    delivery_id = dead_worker_claim(store, sub)
    # The dead worker built and archived the digest, posted the parent and two replies,
    # and recorded only the first reply before it died.
    digest = build_and_archive(
        store,
        DigestRequest(
            WEEK,
            team_id=TEAM,
            channel_id="C1",
            subscription_id=sub.id,
            top=LONG,
            summary_chars=CORE.summary_chars,
        ),
        now=NOW,
    )
    assert digest.digest_id is not None
    store.attach_digest(delivery_id, digest.digest_id, holder="dead-worker")
    messages = render_digest_messages(digest, max_chars=4000)
    assert len(messages) >= 4
    parent = post_by_hand(slack, key, 0, dict(messages[0]))
    first = post_by_hand(slack, key, 1, dict(messages[1]), parent)
    second = post_by_hand(slack, key, 2, dict(messages[2]), parent)
    store.record_partial_post(delivery_id, message_ts=parent, reply_ts=[first], now=NOW)
    clock.advance(STALE + timedelta(minutes=1))

    result = deliverer(store, slack, clock, max_chars=4000).deliver(sub, WEEK)

    assert result.status == "posted" and result.message_ts == parent
    sent = posts(slack)
    assert parts(sent) == [(key, i) for i in range(len(messages))]
    assert [m.text for m in sent] == [m["text"] for m in messages]
    done = store.get_delivery(key)
    assert done is not None and done.reply_ts[:2] == (first, second)
    assert len(done.reply_ts) == len(messages) - 1


def test_when_slack_cannot_be_checked_a_retry_does_not_risk_a_duplicate(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    sub = subscribe(store)
    dead_worker_claim(store, sub)
    clock.advance(STALE + timedelta(minutes=1))
    slack.script("conversations.history", FakeReply(body={"ok": False, "error": "missing_scope"}))

    result = deliverer(store, slack, clock).deliver(sub, WEEK)

    assert result.status == "failed" and result.error == "missing_scope"
    assert posts(slack) == []
    assert "channels:history" in posts(slack, ADMIN)[0].text
    kept = store.get_subscription(sub.id)
    assert kept is not None and kept.active  # next week needs no check


# -- pacing ----------------------------------------------------------------------------


def test_two_digests_to_one_channel_keep_a_second_apart(store: Store, clock: FakeTime) -> None:
    papers(store, source(store, "feed"), range(LONG), published=NOW - timedelta(hours=20))
    first = subscribe(store, top=LONG)
    second = subscribe(store, top=5)
    with FakeSlack(enforce_rate=True, clock=clock.epoch) as slack:
        d = deliverer(store, slack, clock, max_chars=4000)
        results = d.deliver_channel_now(TEAM, "C1", WEEK)
        calls = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == "C1"]
        sent = posts(slack)

    assert [r.status for r in results] == ["posted", "posted"]
    assert [r.key for r in results] == [
        Deliverer.delivery_key(TEAM, "C1", s.id, WEEK) for s in (first, second)
    ]
    assert all(c.status == 200 for c in calls), "paced: Slack never had to say 429"
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert len(calls) >= 4 and min(gaps) >= 1.0
    assert sum(clock.sleeps) >= len(calls) - 1
    assert len(sent) == len(calls)


def test_the_pacer_spaces_one_channel_and_leaves_others_alone(clock: FakeTime) -> None:
    pacer = ChannelPacer(clock=clock.epoch, sleep=clock.sleep)
    assert pacer.wait("C1") == 0
    assert pacer.wait("C2") == 0
    assert pacer.wait("C1") == pytest.approx(1.0)
    pacer.hold("C2", 5)
    assert pacer.wait("C2") == pytest.approx(5.0)


# -- what a digest contains ---------------------------------------------------------------


def test_a_new_subscriptions_first_digest_leaves_out_older_papers(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    old_feed, weekly = source(store, "feed"), source(store, "weekly")
    three_weeks_ago = NOW - timedelta(weeks=3)
    papers(store, old_feed, range(1), published=three_weeks_ago, title="Old paper")
    papers(store, weekly, range(1), published=NOW - timedelta(hours=3), title="Old paper")
    papers(store, old_feed, range(5, 6), published=NOW - timedelta(hours=3), title="New paper")
    sub = subscribe(store, start_week="2025-W34")
    d = deliverer(store, slack, clock)

    assert d.deliver(sub, WEEK).status == "posted"
    [unfiltered] = d.deliver_channel_now(TEAM, "C9", WEEK)

    assert digest_titles(store, Deliverer.delivery_key(TEAM, "C1", sub.id, WEEK), WEEK) == [
        "New paper, part 5"
    ]
    assert unfiltered.key == f"{TEAM}:C9:-:2025-W34" and unfiltered.status == "posted"
    assert sorted(digest_titles(store, unfiltered.key, WEEK)) == [
        "New paper, part 5",
        "Old paper, part 0",
    ]


def test_a_paper_sent_one_week_is_not_sent_again_the_next(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    feed, weekly = source(store, "feed"), source(store, "weekly")
    papers(store, feed, range(1), published=NOW - timedelta(hours=3), title="Seen")
    sub = subscribe(store)
    d = deliverer(store, slack, clock)
    assert d.deliver(sub, WEEK).status == "posted"

    clock.advance(timedelta(weeks=1))
    papers(store, weekly, range(1), published=clock.now() - timedelta(hours=1), title="Seen")
    papers(store, feed, range(2, 3), published=clock.now() - timedelta(hours=1), title="Fresh")
    assert d.deliver(sub, NEXT_WEEK).status == "posted"

    assert digest_titles(store, Deliverer.delivery_key(TEAM, "C1", sub.id, WEEK), WEEK) == [
        "Seen, part 0"
    ]
    next_key = Deliverer.delivery_key(TEAM, "C1", sub.id, NEXT_WEEK)
    assert digest_titles(store, next_key, NEXT_WEEK) == ["Fresh, part 2"]


def test_an_empty_week_is_still_posted_and_says_so(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    source(store, "feed")
    sub = subscribe(store)

    result = deliverer(store, slack, clock).deliver(sub, WEEK)

    assert result.status == "posted" and result.items == 0
    [message] = posts(slack)
    assert "No papers this week" in json.dumps(message.blocks)


def test_digest_now_uses_the_scheduled_key_so_the_week_is_posted_once(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    sub = subscribe(store)
    d = deliverer(store, slack, clock)
    [now_result] = d.deliver_channel_now(TEAM, "C1", WEEK)
    assert now_result.status == "posted"
    assert d.deliver(sub, WEEK).status == "already_posted"
    [bare] = d.deliver_channel_now(TEAM, "C7", WEEK)
    assert d.deliver_channel_now(TEAM, "C7", WEEK)[0].status == "already_posted"
    assert bare.key == f"{TEAM}:C7:-:2025-W34"
    assert len(posts(slack, "C1")) == 1 and len(posts(slack, "C7")) == 1


def test_resume_leaves_live_claims_alone_and_finishes_released_ones(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    sub = subscribe(store)
    other = subscribe(store, "C2")
    d = deliverer(store, slack, clock)
    slack.down = True
    assert d.deliver(sub, WEEK).status == "retry_later"
    slack.down = False
    live = claim_one(
        store,
        key=Deliverer.delivery_key(TEAM, "C2", other.id, WEEK),
        team_id=TEAM,
        channel_id="C2",
        week=WEEK.label,
        subscription_id=other.id,
        holder="live-worker",
        now=clock.now(),
        stale_after=STALE,
    )
    assert live is not None

    results = d.resume_unfinished()

    assert [(r.key, r.status) for r in results] == [
        (Deliverer.delivery_key(TEAM, "C1", sub.id, WEEK), "posted")
    ]
    assert len(posts(slack, "C1")) == 1 and posts(slack, "C2") == []


# -- admins and logs ---------------------------------------------------------------------


def test_notifying_admins_never_raises(store: Store, slack: FakeSlack, clock: FakeTime) -> None:
    slack.failing_channels[ADMIN] = "cannot_dm_bot"
    deliverer(store, slack, clock).notify_admins("hello")
    slack.down = True
    deliverer(store, slack, clock).notify_admins("hello")
    assert posts(slack, ADMIN) == []


def test_the_token_never_reaches_the_logs(
    store: Store, slack: FakeSlack, clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    sub = subscribe(store)
    slack.script("chat.postMessage", FakeReply(500, {"ok": False, "error": "internal_error"}))
    with caplog.at_level(logging.DEBUG):
        assert deliverer(store, slack, clock).deliver(sub, WEEK).status == "posted"
    assert caplog.records
    assert BOT_TOKEN not in caplog.text


# -- a fan-out in batches ------------------------------------------------------------------


def test_a_fan_out_post_whose_batched_record_never_landed_is_found_in_slack_not_reposted(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    papers(store, source(store, "feed"), range(3), published=NOW - timedelta(hours=5))
    subs = [subscribe(store, "C1"), subscribe(store, "C2")]
    d = deliverer(store, slack, clock)
    jobs = d.claim([d.target(s, WEEK) for s in subs])
    assert all(isinstance(j, Job) for j in jobs)
    ready = d.prepare([j for j in jobs if isinstance(j, Job)], WeekContexts(store, now=NOW))
    assert all(isinstance(r, Ready) for r in ready)
    for job in jobs:
        assert isinstance(job, Job)
        claimed = store.get_delivery(job.key)
        # Archived and attached before anything was posted.
        assert claimed is not None and claimed.digest_id is not None and posts(slack, "C1") == []
    recorder = PostedRecorder(store, clock.now)
    first = [d.post(r, recorder) for r in ready if isinstance(r, Ready)]
    assert [r.status for r in first] == ["posted", "posted"]
    assert recorder.waiting() == 2
    # The process dies here: Slack has both messages, the batch of records never landed.
    left = [store.get_delivery(r.key) for r in first]
    assert [(x.state, x.message_ts) for x in left if x is not None] == [("posting", None)] * 2

    restarted = deliverer(store, slack, clock, holder="worker-2")
    assert restarted.resume_unfinished() == []  # the claims may still be live
    clock.advance(STALE + timedelta(minutes=1))
    again = restarted.resume_unfinished()

    assert [r.status for r in again] == ["posted", "posted"]
    assert [r.message_ts for r in again] == [r.message_ts for r in first]
    assert len(posts(slack, "C1")) == 1 and len(posts(slack, "C2")) == 1
    assert len(slack.calls_to("conversations.history")) == 2  # looked before posting
    for r in first:
        done = store.get_delivery(r.key)
        assert done is not None and (done.state, done.message_ts) == ("posted", r.message_ts)


def test_batched_records_land_in_one_flush(store: Store, slack: FakeSlack, clock: FakeTime) -> None:
    papers(store, source(store, "feed"), range(LONG), published=NOW - timedelta(hours=20))
    subs = [subscribe(store, "C1"), subscribe(store, "C2")]
    d = deliverer(store, slack, clock, max_chars=4000)
    jobs = [j for j in d.claim([d.target(s, WEEK) for s in subs]) if isinstance(j, Job)]
    ready = [r for r in d.prepare(jobs, WeekContexts(store, now=NOW)) if isinstance(r, Ready)]
    recorder = PostedRecorder(store, clock.now)
    results = [d.post(r, recorder) for r in ready]
    assert recorder.flush() == 2 and recorder.waiting() == 0 and recorder.flush() == 0
    for r, channel in zip(results, ("C1", "C2"), strict=True):
        done = store.get_delivery(r.key)
        sent = posts(slack, channel)
        assert len(sent) >= 2  # a parent and its thread
        assert done is not None and done.state == "posted"
        assert done.message_ts == sent[0].ts and list(done.reply_ts) == [m.ts for m in sent[1:]]
        assert parts(sent) == [(r.key, i) for i in range(len(sent))]
        # The archive keeps every item as built.
        assert done.digest_id is not None
        start, end = week_bounds(WEEK, "UTC")
        archived = store.load_digest(done.digest_id, start=start, end=end)
        sub = next(s for s in subs if s.channel_id == channel)
        alone = build_and_archive(
            store,
            DigestRequest(
                week=WEEK,
                team_id=TEAM,
                channel_id=channel,
                subscription_id=sub.id,
                not_before=week_bounds(WEEK, "UTC")[0],
            ),
            now=NOW,
        )
        assert archived is not None and len(archived.items) == 10
        assert archived.items == alone.items
    # Posted: a second fan-out claims nothing.
    assert [getattr(x, "status", None) for x in d.claim([d.target(s, WEEK) for s in subs])] == [
        "already_posted",
        "already_posted",
    ]


def test_a_fan_out_leaves_out_what_each_channel_was_sent_in_another_week(
    store: Store, slack: FakeSlack, clock: FakeTime
) -> None:
    feed, weekly = source(store, "feed"), source(store, "weekly")
    papers(store, feed, range(1), published=NOW - timedelta(hours=3), title="Seen")
    c1, c2, c3 = subscribe(store, "C1"), subscribe(store, "C2"), subscribe(store, "C3")
    d = deliverer(store, slack, clock)
    assert d.deliver(c1, WEEK).status == "posted"  # C1 got "Seen" in WEEK; C2, C3 nothing
    assert [r.status for r in d.deliver_channel_now(TEAM, "C3", WEEK)] == ["posted"]

    clock.advance(timedelta(weeks=1))
    papers(store, weekly, range(1), published=clock.now() - timedelta(hours=1), title="Seen")
    papers(store, feed, range(2, 3), published=clock.now() - timedelta(hours=1), title="Fresh")
    # C3 already has its NEXT_WEEK digest under way: that week does not count as sent.
    jobs = [j for j in d.claim([d.target(c3, NEXT_WEEK)]) if isinstance(j, Job)]
    (ready,) = d.prepare(jobs, WeekContexts(store, now=clock.now()))
    assert isinstance(ready, Ready)
    d.release(jobs, error="test")

    jobs = [
        j for j in d.claim([d.target(s, NEXT_WEEK) for s in (c1, c2, c3)]) if isinstance(j, Job)
    ]
    prepared = d.prepare(jobs, WeekContexts(store, now=clock.now()))
    recorder = PostedRecorder(store, clock.now)
    assert [d.post(r, recorder).status for r in prepared if isinstance(r, Ready)] == ["posted"] * 3
    recorder.flush()
    titles = {
        s.channel_id: digest_titles(
            store, Deliverer.delivery_key(TEAM, s.channel_id, s.id, NEXT_WEEK), NEXT_WEEK
        )
        for s in (c1, c2, c3)
    }
    # The same as each channel's digest built alone, which asks the store one channel at a time.
    for s in (c1, c2, c3):
        alone = build_and_archive(
            store,
            DigestRequest(
                week=NEXT_WEEK,
                team_id=TEAM,
                channel_id=s.channel_id,
                subscription_id=s.id,
                not_before=week_bounds(WEEK, "UTC")[0],
            ),
            now=clock.now(),
        )
        assert [i.title for i in alone.items] == titles[s.channel_id], s.channel_id
    assert titles["C1"] == ["Fresh, part 2"]
    assert sorted(titles["C2"]) == ["Fresh, part 2", "Seen, part 0"]
    assert titles["C3"] == titles["C1"]  # C3 was sent "Seen" by its "digest now"
