"""Real crashes: a worker process SIGKILLed mid-delivery, then a restart; a dead leader.

The worker is ``tests.crash_worker`` in a subprocess, on the same database as the test
(SQLite file or PostgreSQL schema) and the same fake Slack. It kills itself with SIGKILL
at an injected point around ``chat.postMessage``. Chosen semantics: at most once, with
the intent recorded before posting and, after a crash, a look in the channel
(``conversations.history``/``conversations.replies`` for the bot's own message carrying
the delivery key in its metadata) before anything is posted again; see
docs/architecture.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.deliver import Deliverer
from bot.scheduler import LEASE_NAME, Scheduler
from digests.store import Store
from digests.weeks import IsoWeek
from tests.factories import (
    MONDAY_0901,
    Clock,
    add_papers,
    client_for,
    core_settings,
    digest_parts,
    digests_in,
    hand_source,
    make_scheduler,
    no_poll,
    subscribe,
)
from tests.fakeslack import FakeSlack
from tests.paths import ROOT

pytestmark = pytest.mark.timeout(120)

WEEK = IsoWeek(2025, 33)
CLAIM_TTL = timedelta(seconds=60)  # the deliverer's default: a dead holder's claims last this


class OffsetClock:
    """Real time shifted into the test's week; ``skip`` jumps it forward for everyone."""

    def __init__(self, start: datetime) -> None:
        self.offset = start.timestamp() - time.time()

    def epoch(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)

    def skip(self, delta: timedelta) -> None:
        self.offset += delta.total_seconds()


def run_worker(mode: str, db_url: str, slack: FakeSlack, clock: OffsetClock, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_worker", mode],
        env={
            **os.environ,
            "CRASH_DB_URL": db_url,
            "CRASH_SLACK_URL": slack.api_url,
            "CRASH_CLOCK_OFFSET": repr(clock.offset),
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.fixture
def wall() -> OffsetClock:
    return OffsetClock(MONDAY_0901)


@pytest.fixture
def fake(wall: OffsetClock) -> Iterator[FakeSlack]:
    with FakeSlack(admins={"UADMIN"}, clock=wall.epoch) as slack:
        yield slack


def restarted(store: Store, slack: FakeSlack, clock: OffsetClock, tmp_path: Path) -> Deliverer:
    return Deliverer(
        store=store,
        client=client_for(slack),
        core=core_settings(tmp_path),
        admins=frozenset({"UADMIN"}),
        holder="restarted",
        clock=clock.now,
        sleep=lambda _s: None,
        max_chars=4000,
    )


@pytest.mark.parametrize(
    ("kill_at", "papers", "already_in_slack"),
    [
        ("before_post:1", 3, 0),  # intent recorded, nothing posted
        ("after_post:1", 3, 1),  # posted, ts never recorded
        ("after_post:1", 40, 1),  # a threaded digest, killed after its first part
    ],
)
def test_a_delivery_killed_mid_post_is_posted_exactly_once_after_restart(
    store: Store,
    db_url: str,
    fake: FakeSlack,
    wall: OffsetClock,
    tmp_path: Path,
    kill_at: str,
    papers: int,
    already_in_slack: int,
) -> None:
    add_papers(store, hand_source(store, tmp_path), WEEK, n=papers)
    sub = subscribe(store, top=papers)
    key = Deliverer.delivery_key("T1", "C1", sub.id, WEEK)

    run_worker(
        "deliver",
        db_url,
        fake,
        wall,
        CRASH_KILL_AT=kill_at,
        CRASH_SUBSCRIPTION=str(sub.id),
        CRASH_WEEK=WEEK.label,
        CRASH_MAX_CHARS="4000",
    )

    left = store.get_delivery(key)
    assert left is not None and left.state == "posting"  # the intent survived the kill
    assert len(fake.posted("C1")) == already_in_slack
    history_before = len(fake.calls_to("conversations.history"))

    # A restart right away leaves the dead worker's claim alone (it could be alive)...
    assert restarted(store, fake, wall, tmp_path).resume_unfinished() == []
    # ...and takes it over once the dead worker's heartbeat has lapsed.
    wall.skip(CLAIM_TTL + timedelta(seconds=1))
    results = restarted(store, fake, wall, tmp_path).resume_unfinished()

    assert [r.status for r in results] == ["posted"]
    posted = digest_parts(fake.posted("C1"))
    assert len(posted) == len(set(posted))  # no part twice
    assert posted == [(key, i) for i in range(len(posted))]  # every part, in order
    if papers > 3:
        assert len(posted) >= 2  # the thread was finished, its first part not repeated
    if already_in_slack:
        # The possible duplicate was looked for in Slack before posting again.
        assert len(fake.calls_to("conversations.history")) > history_before
    done = store.get_delivery(key)
    assert done is not None and done.state == "posted"
    assert done.message_ts == fake.posted("C1")[0].ts
    # Another restart does nothing: the week is posted.
    wall.skip(timedelta(minutes=11))
    assert restarted(store, fake, wall, tmp_path).resume_unfinished() == []
    assert len(fake.posted("C1")) == len(posted)


def test_a_leader_killed_mid_post_is_replaced_within_the_lease_and_nothing_is_sent_twice(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    wall = OffsetClock(MONDAY_0901)
    add_papers(store, hand_source(store, tmp_path), WEEK)
    subscribe(store)
    lease = timedelta(seconds=60)
    clock = Clock(wall.now())
    with FakeSlack(admins={"UADMIN"}, clock=lambda: clock().timestamp()) as slack:
        # The fake Slack follows the worker's clock while it runs, then the test's.
        clock.set(wall.now())
        run_worker(
            "scheduler",
            db_url,
            slack,
            wall,
            CRASH_KILL_AT="after_post:1",
            CRASH_HOLDER="host-a:101:dead",
            CRASH_LEASE_SECONDS=str(lease.total_seconds()),
        )
        killed_at = wall.now()
        assert store.lease_holder(LEASE_NAME, now=killed_at) == "host-a:101:dead"
        assert len(digests_in(slack)) == 1  # posted; its ts died with the worker

        b = make_scheduler(store, slack, clock, tmp_path, holder="host-b:202:live")
        clock.set(killed_at + lease / 2)
        assert not b.tick().leader  # the dead holder's lease still runs
        clock.set(killed_at + lease + timedelta(seconds=1))
        report = b.tick()
        assert report.leader  # taken over within the lease time
        assert store.lease_holder(LEASE_NAME, now=clock()) == "host-b:202:live"
        # The dead worker's claim lapsed with it: found in Slack at once, not reposted.
        assert report.resumed == ("posted",)
        assert len(digests_in(slack)) == 1
        assert [x.state for x in store.list_deliveries()] == ["posted"]
        assert slack.calls_to("conversations.history")


def test_a_leader_killed_with_posted_records_still_batched_sends_nothing_twice(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    wall = OffsetClock(MONDAY_0901)
    add_papers(store, hand_source(store, tmp_path), WEEK)
    # Three subscriptions of one channel: one thread posts their digests one after another.
    for _ in range(3):
        subscribe(store)
    clock = Clock(wall.now())
    with FakeSlack(admins={"UADMIN"}, clock=lambda: clock().timestamp()) as slack:
        clock.set(wall.now())
        # Killed right after the third post: its record died with the process, and so did
        # the first two's if they were still waiting in the batch.
        run_worker(
            "scheduler",
            db_url,
            slack,
            wall,
            CRASH_KILL_AT="after_post:3",
            CRASH_HOLDER="host-a:101:dead",
            CRASH_LEASE_SECONDS="60",
        )
        killed_at = wall.now()
        assert len(digests_in(slack)) == 3
        unrecorded = [d for d in store.list_deliveries() if d.state == "posting"]
        assert unrecorded and all(d.message_ts is None for d in unrecorded)

        b = make_scheduler(store, slack, clock, tmp_path, holder="host-b:202:live")
        clock.set(killed_at + timedelta(seconds=61))
        b.tick()
        clock.set(killed_at + timedelta(seconds=91))
        b.tick()
        assert len(digests_in(slack)) == 3  # each found in Slack, none posted again
        assert {d.state for d in store.list_deliveries()} == {"posted"}


def test_a_leader_killed_a_third_into_a_fan_out_is_finished_by_the_next_within_seconds(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    channels = [f"C{i:02d}" for i in range(30)]
    wall = OffsetClock(MONDAY_0901)
    add_papers(store, hand_source(store, tmp_path), WEEK)
    for channel in channels:
        subscribe(store, channel=channel)
    lease = timedelta(seconds=4)  # a short lease for the test: the claims live as long
    with FakeSlack(admins={"UADMIN"}, clock=wall.epoch) as slack:
        run_worker(
            "scheduler",
            db_url,
            slack,
            wall,
            CRASH_KILL_AT="after_post:10",
            CRASH_HOLDER="host-a:101:dead",
            CRASH_LEASE_SECONDS=str(lease.total_seconds()),
        )
        killed = time.monotonic()
        before = Counter(m.channel for m in slack.posted() if m.thread_ts is None)
        # Ten posts were under way, so some channels have theirs; the rest are to come.
        assert 0 < sum(before.values()) < len(channels)
        left = [d for d in store.list_deliveries() if d.state != "posted"]
        assert left and {d.claimed_by for d in left} == {"host-a:101:dead"}

        deliverer = Deliverer(
            store=store,
            client=client_for(slack),
            core=core_settings(tmp_path),
            admins=frozenset({"UADMIN"}),
            holder="host-b:202:live",
            clock=wall.now,
            claim_ttl=lease,
        )
        b = Scheduler(
            store=store,
            deliverer=deliverer,
            poll=no_poll,
            clock=wall.now,
            holder="host-b:202:live",
            lease_ttl=lease,
            tick_seconds=lease.total_seconds() / 2,
        )
        # The survivor ticks as its background thread would, until every channel is done.
        while {d.state for d in store.list_deliveries()} != {"posted"}:
            assert time.monotonic() - killed < lease.total_seconds() + 10, "not resumed in time"
            b.tick()
            time.sleep(0.2)
        assert b.tick().leader
    # Every channel exactly one digest, the unrecorded ones found in Slack, not reposted.
    after = Counter(m.channel for m in slack.posted() if m.thread_ts is None)
    assert after == dict.fromkeys(channels, 1)
    assert len({d.key for d in store.list_deliveries()}) == len(channels)
