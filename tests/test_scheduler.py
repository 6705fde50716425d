"""The scheduler: ticks on a settable clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import BotSettings, SlackSettings
from bot.deliver import Deliverer
from bot.demo import demo_dir, demo_specs
from bot.fanout import DeliveryResult, Job, PostedRecorder, Ready, Target, WeekContexts
from bot.scheduler import (
    LEASE_NAME,
    Scheduler,
    TickReport,
    build_scheduler,
)
from digests.errors import ConfigError
from digests.fetch import FetchSettings
from digests.ingest import SourceReport, poll_sources
from digests.model import SourceInfo, SourceSpec, Subscription, SubscriptionSpec
from digests.store import FetchRecord, HealthVerdict, Store
from digests.topics import TopicRules
from digests.weeks import IsoWeek
from tests.factories import (
    CREATED,
    MONDAY_0901,
    Clock,
    add_papers,
    claim_one,
    client_for,
    core_settings,
    digests_in,
    hand_source,
    jst,
    make_scheduler,
    no_poll,
    subscribe,
    utc,
)
from tests.fakeslack import BOT_TOKEN, FakeSlack


@pytest.fixture
def clock() -> Clock:
    return Clock(CREATED)


@pytest.fixture
def slack(clock: Clock) -> Iterator[FakeSlack]:
    with FakeSlack(admins={"UADMIN"}, clock=lambda: clock().timestamp()) as fake:
        yield fake


def test_a_weekly_digest_fires_once_on_its_day(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    source = hand_source(store, tmp_path)
    for week in (IsoWeek(2025, 33), IsoWeek(2025, 36)):
        add_papers(store, source, week)
    s = subscribe(store)
    assert s.start_week == "2025-W33"
    sched = make_scheduler(store, slack, clock, tmp_path)

    clock.set(jst(2025, 8, 17, 12, 0))  # Sunday noon in Tokyo: not yet
    report = sched.tick()
    assert report.leader and report.deliveries == () and digests_in(slack) == []

    clock.set(MONDAY_0901)
    report = sched.tick()
    assert [(d.week, d.status) for d in report.deliveries] == [("2025-W33", "posted")]
    assert len(digests_in(slack)) == 1
    assert slack.calls_to("chat.postMessage")[0].args["channel"] == "C1"

    clock.set(jst(2025, 8, 18, 9, 30))
    assert sched.tick().deliveries == ()
    assert len(digests_in(slack)) == 1

    # Three weeks of downtime: one digest, for the latest run's week, not three.
    clock.set(jst(2025, 9, 8, 10, 0))
    report = sched.tick()
    assert [(d.week, d.status) for d in report.deliveries] == [("2025-W36", "posted")]
    assert len(digests_in(slack)) == 2
    sched.tick()
    assert len(digests_in(slack)) == 2
    assert [(d.week, d.state) for d in store.list_deliveries()] == [
        ("2025-W33", "posted"),
        ("2025-W36", "posted"),
    ]


def test_the_bundled_demo_sources_make_a_digest_at_the_right_time(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    # The demo captures are from the week of 2024-10-04; subscribe the day before.
    clock.set(datetime(2024, 10, 3, 12, 0, tzinfo=UTC))
    store.sync_sources(demo_specs(demo_dir()), now=clock())
    reports = poll_sources(
        store,
        store.due_sources(clock()),
        fetch_settings=FetchSettings(),
        rules=TopicRules(),
        clock=clock,
    )
    assert reports and all(r.ok for r in reports)
    subscribe(store, weekday=4, at="17:00", now=clock())  # Friday 17:00: this week so far
    sched = make_scheduler(store, slack, clock, tmp_path)
    clock.set(jst(2024, 10, 4, 16, 59))
    assert sched.tick().deliveries == ()
    clock.set(jst(2024, 10, 4, 17, 0))
    report = sched.tick()
    assert [(d.week, d.status) for d in report.deliveries] == [("2024-W40", "posted")]
    assert len(digests_in(slack)) == 1
    text = digests_in(slack)[0]
    assert "2024-W40" in text and "\n1. " in text  # a real digest, with papers in it


def test_subscriptions_are_followed_without_a_restart(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2025, 33))
    clock.set(MONDAY_0901)
    sched = make_scheduler(store, slack, clock, tmp_path)
    assert sched.tick().deliveries == ()  # nobody has subscribed yet

    subscribe(store, channel="C2", at="09:30", now=jst(2025, 8, 18, 9, 2))
    clock.set(jst(2025, 8, 18, 9, 31))
    assert [d.channel_id for d in sched.tick().deliveries] == ["C2"]
    assert len(digests_in(slack, "C2")) == 1

    # Leaving stops the posts: the next Monday passes quietly.
    assert store.deactivate_subscriptions(team_id="T1", channel_id="C2") == 1
    clock.set(jst(2025, 8, 25, 9, 31))
    assert sched.tick().deliveries == ()
    assert len(digests_in(slack, "C2")) == 1


def test_one_broken_subscription_does_not_stop_the_others(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2025, 33))
    # A zone that slipped past validation (say, one a newer tzdata dropped).
    bad = SubscriptionSpec(team_id="T1", channel_id="CBAD", query="", tz="Mars/Olympus_Mons")
    store.add_subscription(bad, start_week="2025-W33", now=CREATED)
    slack.failing_channels["CGONE"] = "channel_not_found"
    subscribe(store, channel="CGONE")
    subscribe(store, channel="C1")
    clock.set(MONDAY_0901)
    report = make_scheduler(store, slack, clock, tmp_path).tick()
    statuses = {d.channel_id: d.status for d in report.deliveries}
    assert statuses == {"CBAD": "error", "CGONE": "failed", "C1": "posted"}
    assert len(report.errors) == 1 and "Mars/Olympus_Mons" in report.errors[0]
    assert len(digests_in(slack)) == 1


def test_a_delivery_left_by_a_crashed_worker_is_finished_once(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2025, 33))
    s = subscribe(store)
    clock.set(MONDAY_0901)
    # Another worker claimed this week's delivery, then died before posting anything.
    key = Deliverer.delivery_key("T1", "C1", s.id, IsoWeek(2025, 33))
    dead = claim_one(
        store,
        key=key,
        team_id="T1",
        channel_id="C1",
        week="2025-W33",
        subscription_id=s.id,
        holder="dead-worker",
        now=clock(),
        stale_after=timedelta(minutes=10),
    )
    assert dead is not None
    sched = make_scheduler(store, slack, clock, tmp_path)
    report = sched.tick()  # its claim is fresh: the dead worker might still be posting
    assert report.deliveries == () and digests_in(slack) == []
    clock.set(MONDAY_0901 + timedelta(minutes=11))
    report = sched.tick()
    assert report.resumed == ("posted",) and report.deliveries == ()
    assert len(digests_in(slack)) == 1
    clock.set(MONDAY_0901 + timedelta(minutes=30))
    assert sched.tick().resumed == ()
    assert len(digests_in(slack)) == 1


def test_a_dead_workers_claims_lapse_with_its_heartbeat(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2025, 33))
    subs = [subscribe(store, channel=c) for c in ("C1", "C2")]
    clock.set(MONDAY_0901)
    # Another process claimed both runs (renewing its heartbeat) and was killed before
    # posting anything; it never led, so the survivor leads at once.
    dead = make_scheduler(store, slack, clock, tmp_path, holder="dead").deliverer
    claims = dead.claim([dead.target(s, IsoWeek(2025, 33)) for s in subs])
    assert all(isinstance(c, Job) for c in claims)
    live = make_scheduler(store, slack, clock, tmp_path, holder="live")
    clock.set(MONDAY_0901 + timedelta(seconds=59))
    report = live.tick()
    assert report.leader and report.resumed == () and report.deliveries == ()
    assert slack.calls_to("chat.postMessage") == []  # its heartbeat still runs
    clock.set(MONDAY_0901 + timedelta(seconds=61))  # lapsed, long before stale_after
    report = live.tick()
    assert report.resumed == ("posted", "posted")
    assert len(digests_in(slack, "C1")) == 1 and len(digests_in(slack, "C2")) == 1
    assert len(slack.calls_to("conversations.history")) == 2  # looked before posting
    assert {(d.state, d.attempts) for d in store.list_deliveries()} == {("posted", 2)}


# -- one leader at a time ------------------------------------------------------------------


def test_only_the_lease_holder_delivers(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2025, 33))
    subscribe(store)
    clock.set(MONDAY_0901)
    a = make_scheduler(store, slack, clock, tmp_path, holder="worker-a")
    b = make_scheduler(store, slack, clock, tmp_path, holder="worker-b")
    ra, rb = a.tick(), b.tick()
    assert ra.leader and not rb.leader and rb.leader_holder == "worker-a"
    assert rb.deliveries == () and rb.resumed == ()
    assert len(digests_in(slack)) == 1


def test_a_dead_leader_is_replaced_after_the_lease_runs_out(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    source = hand_source(store, tmp_path)
    add_papers(store, source, IsoWeek(2025, 33))
    add_papers(store, source, IsoWeek(2025, 34))
    subscribe(store)
    ttl = timedelta(seconds=60)
    clock.set(MONDAY_0901)
    a = make_scheduler(store, slack, clock, tmp_path, holder="worker-a", lease_ttl=ttl)
    b = make_scheduler(store, slack, clock, tmp_path, holder="worker-b", lease_ttl=ttl)
    assert a.tick().leader and len(digests_in(slack)) == 1
    # worker-a is killed here and never ticks again. Until its lease runs out, b waits.
    for seconds in (30, 59):
        clock.set(MONDAY_0901 + timedelta(seconds=seconds))
        assert not b.tick().leader
    clock.set(MONDAY_0901 + ttl + timedelta(seconds=1))
    taken = b.tick()
    assert taken.leader and taken.deliveries == ()  # W33 was posted: never again
    assert store.lease_holder(LEASE_NAME, now=clock()) == "worker-b"
    assert len(digests_in(slack)) == 1
    clock.set(jst(2025, 8, 25, 9, 1))
    assert [d.week for d in b.tick().deliveries] == ["2025-W34"]
    assert len(digests_in(slack)) == 2


def test_two_processes_on_one_database_post_once(
    db_url: str, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    first, second = Store.open(db_url), Store.open(db_url)
    try:
        add_papers(first, hand_source(first, tmp_path), IsoWeek(2025, 33))
        subscribe(first)
        clock.set(MONDAY_0901)
        schedulers = [
            make_scheduler(first, slack, clock, tmp_path, holder="host-1:101:a1"),
            make_scheduler(second, slack, clock, tmp_path, holder="host-2:202:b2"),
        ]
        reports: list[TickReport] = []
        gate = threading.Barrier(2)

        def run(s: Scheduler) -> None:
            gate.wait()  # both start their ticks together
            for _ in range(3):
                reports.append(s.tick())

        threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(reports) == 6
        assert len({r.holder for r in reports if r.leader}) == 1
        assert len(digests_in(slack)) == 1
        assert [d.state for d in second.list_deliveries()] == ["posted"]
    finally:
        first.dispose()
        second.dispose()


# -- sources -------------------------------------------------------------------------------


def test_due_sources_are_polled_and_a_failing_one_reported_once(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    feed = tmp_path / "weekly.md"
    feed.write_bytes((demo_dir() / "ml_papers_of_the_week.md").read_bytes())
    start = utc(2025, 8, 18, 0, 0)
    clock.set(start)
    store.add_source(SourceSpec(name="good", location=str(feed), interval_seconds=3600), now=start)
    store.add_source(
        SourceSpec(name="gone", location=str(tmp_path / "missing.xml"), interval_seconds=3600),
        now=start,
    )
    settings = BotSettings(
        core=core_settings(tmp_path),
        slack=SlackSettings(
            bot_token=BOT_TOKEN,
            signing_secret="s",
            api_url=slack.api_url,
            admins=frozenset({"UADMIN"}),
        ),
    )
    sched = build_scheduler(settings, store=store, client=client_for(slack), clock=clock)
    polled = [sorted(r.name for r in sched.tick().polled)]
    assert polled == [["gone", "good"]]
    clock.set(start + timedelta(minutes=1))
    assert sched.tick().polled == ()  # nothing is due a minute later
    for hour in range(1, 8):
        clock.set(start + timedelta(hours=hour, minutes=1))
        polled.append(sorted(r.name for r in sched.tick().polled))
    assert all("gone" in names for names in polled)  # retried sooner: it keeps failing
    assert polled.count(["gone", "good"]) >= 4  # the good one once an hour
    gone = store.get_source("gone")
    assert gone is not None and gone.health == "failing" and gone.health_notified_at
    # The admins heard about it once, by direct message, however many ticks saw it failing.
    dms = slack.posted("UADMIN")
    assert len(dms) == 1 and "'gone'" in dms[0].text and "failing" in dms[0].text


def test_a_failed_notice_is_tried_again(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    now = utc(2025, 8, 18)
    clock.set(now)
    src = store.add_source(SourceSpec(name="quiet", location=str(tmp_path / "q.xml")), now=now)
    store.record_fetches([FetchRecord(src.id, None, None, None, utc(2100, 1, 1), 0)], now=now)
    store.set_healths([HealthVerdict(src.id, "empty", "empty on a weekday")], now=now)
    attempts: list[str] = []

    def flaky(text: str) -> None:
        attempts.append(text)
        if len(attempts) == 1:
            raise RuntimeError("slack is down")

    sched = make_scheduler(store, slack, clock, tmp_path, notify=flaky)
    first = sched.tick()
    assert first.notified == () and "quiet" in first.errors[0]
    assert sched.tick().notified == ("quiet",)
    assert sched.tick().notified == ()
    assert len(attempts) == 2 and "empty on a weekday" in attempts[1]


def test_retired_sources_are_neither_polled_nor_reported(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    start = utc(2025, 8, 18)
    clock.set(start)
    gone = store.add_source(
        SourceSpec(name="gone", location=str(tmp_path / "missing.xml"), interval_seconds=3600),
        now=start,
    )
    store.set_healths([HealthVerdict(gone.id, "failing", "3 failures in a row")], now=start)
    assert store.retire_source(gone.id, now=start)
    polled: list[str] = []

    def poll(sources: Sequence[SourceInfo]) -> list[SourceReport]:
        polled.extend(s.name for s in sources)
        return []

    told: list[str] = []
    sched = make_scheduler(store, slack, clock, tmp_path, poll=poll, notify=told.append)
    for hour in range(3):
        clock.set(start + timedelta(hours=hour))
        assert sched.tick().notified == ()
    assert polled == [] and told == []


# -- the background thread -----------------------------------------------------------------


@dataclass
class CountingDeliverer:
    """Counts ticks (every leading tick lists the unfinished deliveries first)."""

    resumes: int = 0

    def target(self, sub: Subscription, week: IsoWeek) -> Target:
        raise AssertionError("no subscription exists")

    def unfinished(self) -> list[Target | DeliveryResult]:
        self.resumes += 1
        if self.resumes == 1:
            raise RuntimeError("the first tick breaks; the thread must go on")
        return []

    def keep_alive(self) -> bool:
        return True

    def holds(self, job: Job, until: datetime) -> bool:
        raise AssertionError("nothing was prepared")

    def claim(self, targets: Sequence[Target]) -> list[Job | DeliveryResult]:
        raise AssertionError("nothing is due")

    def prepare(
        self, jobs: Sequence[Job], contexts: WeekContexts
    ) -> list[Ready | DeliveryResult | Exception]:
        raise AssertionError("nothing is due")

    def post(
        self,
        ready: Ready,
        recorder: PostedRecorder,
        slot: threading.Semaphore | None = None,
    ) -> DeliveryResult:
        raise AssertionError("nothing is due")

    def release(self, jobs: Sequence[Job], *, error: str) -> None:
        raise AssertionError("nothing is due")


def test_start_ticks_in_the_background_and_shutdown_hands_the_lease_back(
    store: Store,
) -> None:
    deliverer = CountingDeliverer()
    sched = Scheduler(
        store=store,
        deliverer=deliverer,
        poll=no_poll,
        clock=lambda: datetime.now(UTC),
        holder="bg",
        lease_ttl=timedelta(seconds=5),
        tick_seconds=0.2,
    )
    sched.start()
    try:
        deadline = time.monotonic() + 10
        while deliverer.resumes < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert deliverer.resumes >= 3  # the first tick at once, then one per interval
        assert store.lease_holder(LEASE_NAME, now=datetime.now(UTC)) == "bg"
    finally:
        sched.shutdown()
    ticks = deliverer.resumes
    time.sleep(0.5)
    assert deliverer.resumes == ticks
    assert store.lease_holder(LEASE_NAME, now=datetime.now(UTC)) is None


def test_the_lease_must_outlast_two_ticks(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError):
        make_scheduler(store, slack, clock, tmp_path, lease_ttl=timedelta(seconds=50))


def test_a_broken_subscription_alone_is_still_reported(
    store: Store, slack: FakeSlack, clock: Clock, tmp_path: Path
) -> None:
    bad = SubscriptionSpec(team_id="T1", channel_id="CBAD", query="", tz="Mars/Olympus_Mons")
    store.add_subscription(bad, start_week="2025-W33", now=CREATED)
    clock.set(MONDAY_0901)
    report = make_scheduler(store, slack, clock, tmp_path).tick()
    assert [(d.channel_id, d.status) for d in report.deliveries] == [("CBAD", "error")]
    assert len(report.errors) == 1 and "Mars/Olympus_Mons" in report.errors[0]
    assert slack.calls_to("chat.postMessage") == [] and store.list_deliveries() == []
