"""Runs prepared before their fire time: claimed and built one tick early, only posted when due.

Real store, real HTTP to the fake Slack, a clock the test sets. What is checked is what
Slack received, what the store recorded, and that nothing is ever posted twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.deliver import Deliverer
from bot.scheduler import Scheduler
from digests.digest import build_digest
from digests.render import render_digest_messages
from digests.store import Store
from digests.weeks import IsoWeek
from tests.factories import (
    CREATED,
    Clock,
    add_papers,
    client_for,
    core_settings,
    digests_in,
    hand_source,
    jst,
    make_scheduler,
    no_poll,
    request_for,
    subscribe,
)
from tests.fakeslack import FakeSlack

WEEK = IsoWeek(2025, 33)
FIRE = jst(2025, 8, 18, 9, 0)  # the subscriptions' Monday 09:00 run in Tokyo, covering W33
BEFORE = FIRE - timedelta(seconds=15)  # within one tick (30 s) of it
AFTER = FIRE + timedelta(seconds=10)
CHANNELS = ("C1", "C2", "C3")


@pytest.fixture
def world() -> Iterator[tuple[Clock, FakeSlack]]:
    """The test's clock, and a fake Slack that keeps its time."""
    clock = Clock(CREATED)
    with FakeSlack(admins={"UADMIN"}, clock=lambda: clock().timestamp()) as fake:
        yield clock, fake


def setup(store: Store, tmp_path: Path) -> None:
    source = hand_source(store, tmp_path)
    add_papers(store, source, WEEK, n=4)
    for channel in CHANNELS:
        subscribe(store, channel=channel)


def prepare_ahead(sched: Scheduler, clock: Clock, slack: FakeSlack) -> None:
    clock.set(BEFORE)
    report = sched.tick()
    assert report.errors == () and report.deliveries == ()
    assert [(o.channel_id, o.status) for o in report.prepared] == [
        (c, "prepared") for c in CHANNELS
    ]
    assert slack.calls_to("chat.postMessage") == []


def prepared(
    store: Store, world: tuple[Clock, FakeSlack], tmp_path: Path, **scheduler: Any
) -> tuple[Scheduler, Clock, FakeSlack]:
    """Three subscribed channels and a scheduler that has prepared their runs."""
    clock, slack = world
    setup(store, tmp_path)
    sched = make_scheduler(store, slack, clock, tmp_path, **scheduler)
    prepare_ahead(sched, clock, slack)
    return sched, clock, slack


def test_a_run_is_prepared_one_tick_early_and_posted_when_due(
    store: Store, world: tuple[Clock, FakeSlack], tmp_path: Path
) -> None:
    clock, slack = world
    setup(store, tmp_path)
    sched = make_scheduler(store, slack, clock, tmp_path)
    clock.set(FIRE - timedelta(minutes=5))  # further off than one tick: nothing yet
    assert sched.tick().prepared == ()
    assert store.list_deliveries() == []

    prepare_ahead(sched, clock, slack)
    # Claimed, with the digest archived and attached; nothing in Slack before its time.
    held = {d.channel_id: d for d in store.list_deliveries()}
    assert sorted(held) == list(CHANNELS)
    assert all(
        d.state == "posting" and d.claimed_by == "worker-a" and d.attempts == 1
        for d in held.values()
    )
    assert all(d.digest_id is not None for d in held.values())
    archived = len(store.list_digests(limit=100))

    # A tick before the fire time posts nothing and prepares nothing again.
    clock.set(FIRE - timedelta(seconds=5))
    report = sched.tick()
    assert report.deliveries == () and report.prepared == ()
    assert slack.calls_to("chat.postMessage") == []

    clock.set(AFTER)
    report = sched.tick()
    assert Counter(d.status for d in report.deliveries) == {"posted": len(CHANNELS)}
    assert report.prepared == ()
    # Only posted: no new claim, no new digest, no look in Slack.
    after = {d.channel_id: d for d in store.list_deliveries()}
    assert all(d.state == "posted" and d.attempts == 1 for d in after.values())
    assert {c: d.digest_id for c, d in after.items()} == {c: d.digest_id for c, d in held.items()}
    assert len(store.list_digests(limit=100)) == archived
    assert slack.calls_to("conversations.history") == []
    # Each channel got the digest its run builds, with the run's own time as ``now``.
    for s in store.list_subscriptions():
        alone = build_digest(store, request_for(s, WEEK, FIRE), now=FIRE)
        texts = [m["text"] for m in render_digest_messages(alone)]
        assert [m.text for m in slack.posted(s.channel_id)] == texts

    clock.set(AFTER + timedelta(seconds=30))
    assert sched.tick().deliveries == ()
    assert all(len(digests_in(slack, c)) == 1 for c in CHANNELS)


def test_an_unsubscribed_channel_gets_nothing_it_was_prepared(
    store: Store, world: tuple[Clock, FakeSlack], tmp_path: Path
) -> None:
    sched, clock, slack = prepared(store, world, tmp_path)
    assert store.deactivate_subscriptions(team_id="T1", channel_id="C2") == 1

    clock.set(AFTER)
    report = sched.tick()
    assert sorted((d.channel_id, d.status) for d in report.deliveries) == [
        ("C1", "posted"),
        ("C3", "posted"),
    ]
    assert digests_in(slack, "C2") == []
    # Handed back, then closed by the next tick's look at unfinished deliveries.
    clock.set(AFTER + timedelta(seconds=30))
    sched.tick()
    states = {d.channel_id: d.state for d in store.list_deliveries()}
    assert states == {"C1": "posted", "C2": "failed", "C3": "posted"}
    assert digests_in(slack, "C2") == []


def test_prepared_runs_go_to_the_next_leader_when_the_lease_is_lost(
    store: Store, world: tuple[Clock, FakeSlack], tmp_path: Path
) -> None:
    a, clock, slack = prepared(store, world, tmp_path, holder="worker-a")
    b = make_scheduler(store, slack, clock, tmp_path, holder="worker-b")

    # a stalls past its lease: b leads, and a's claims lapsed with a's heartbeat, so b
    # takes them over, looks in Slack, and posts each run once.
    clock.set(BEFORE + timedelta(seconds=61))
    report = b.tick()
    assert report.leader and report.resumed == ("posted",) * len(CHANNELS)
    assert report.deliveries == ()
    assert all(len(digests_in(slack, c)) == 1 for c in CHANNELS)
    assert len(slack.calls_to("conversations.history")) == len(CHANNELS)

    # a comes back, finds it no longer leads, and hands back only what is still its own.
    clock.set(BEFORE + timedelta(seconds=62))
    assert not a.tick().leader
    assert {d.state for d in store.list_deliveries()} == {"posted"}

    clock.set(BEFORE + timedelta(seconds=70))
    report = b.tick()
    assert report.resumed == () and report.deliveries == ()
    assert all(len(digests_in(slack, c)) == 1 for c in CHANNELS)


def test_shutdown_hands_prepared_runs_back(
    store: Store, world: tuple[Clock, FakeSlack], tmp_path: Path
) -> None:
    a, clock, slack = prepared(store, world, tmp_path, holder="worker-a")
    a.shutdown()
    assert {d.state for d in store.list_deliveries()} == {"pending"}

    # The next process leads at once (the lease was handed back too) and posts each once.
    b = make_scheduler(store, slack, clock, tmp_path, holder="worker-b")
    clock.set(AFTER)
    report = b.tick()
    assert report.leader
    assert Counter([*report.resumed, *(d.status for d in report.deliveries)]) == {
        "posted": len(CHANNELS)
    }
    assert all(len(digests_in(slack, c)) == 1 for c in CHANNELS)


def test_a_prepared_run_whose_claim_grew_old_is_claimed_and_prepared_again(
    store: Store, world: tuple[Clock, FakeSlack], tmp_path: Path
) -> None:
    sched, clock, slack = prepared(store, world, tmp_path, lease_ttl=timedelta(hours=1))
    # The next tick comes late: the claims (posting allowed for half of stale_after, 5 min)
    # could not be posted under without racing a takeover.
    clock.set(FIRE + timedelta(minutes=5))
    report = sched.tick()
    assert Counter(d.status for d in report.deliveries) == {"posted": len(CHANNELS)}
    assert all(len(digests_in(slack, c)) == 1 for c in CHANNELS)
    # Claimed anew (a second attempt, which looks in Slack before posting).
    assert {(d.state, d.attempts) for d in store.list_deliveries()} == {("posted", 2)}
    assert len(slack.calls_to("conversations.history")) == len(CHANNELS)


def test_the_background_thread_posts_a_prepared_run_at_its_fire_time(
    store: Store, tmp_path: Path
) -> None:
    setup(store, tmp_path)
    # The scheduler's clock runs with real time, two seconds before the run's minute.
    offset = (FIRE - timedelta(seconds=2)) - datetime.now(UTC)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    with FakeSlack(admins={"UADMIN"}, clock=lambda: clock().timestamp()) as slack:
        deliverer = Deliverer(
            store=store,
            client=client_for(slack),
            core=core_settings(tmp_path),
            admins=frozenset({"UADMIN"}),
            holder="bg",
            clock=clock,
        )
        # The interval tick comes every 30 s: only the tick set for the fire time posts
        # within the few seconds waited here.
        sched = Scheduler(store=store, deliverer=deliverer, poll=no_poll, clock=clock, holder="bg")
        sched.start()
        try:
            deadline = time.monotonic() + 15
            while len(slack.calls_to("chat.postMessage")) < len(CHANNELS):
                assert time.monotonic() < deadline, "the prepared runs were not posted"
                time.sleep(0.05)
        finally:
            sched.shutdown()
        posts = slack.calls_to("chat.postMessage")
        assert sorted(c.args["channel"] for c in posts) == sorted(CHANNELS)
        assert all(c.status == 200 for c in posts)
        # Never before the run's time.
        assert min(c.at for c in posts) >= FIRE.timestamp()
        # Posted under the claims made ahead: not claimed again, nothing to look for.
        assert slack.calls_to("conversations.history") == []
    assert {(d.state, d.attempts) for d in store.list_deliveries()} == {("posted", 1)}
