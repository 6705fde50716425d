"""Subscriptions, delivery intents and leases in the store: the at-most-once machinery."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from digests.model import SubscriptionSpec
from digests.store import Store

NOW = datetime(2025, 8, 18, 9, 0, tzinfo=UTC)
STALE = timedelta(minutes=10)


def claim(store: Store, holder: str, *, now: datetime = NOW, key: str = "T1:C1:1:2025-W34"):  # type: ignore[no-untyped-def]
    return store.claim_delivery(
        key=key,
        team_id="T1",
        channel_id="C1",
        week="2025-W34",
        subscription_id=None,
        holder=holder,
        now=now,
        stale_after=STALE,
    )


def test_subscriptions_add_list_and_unsubscribe(store: Store) -> None:
    spec = SubscriptionSpec(team_id="T1", channel_id="C1", query="tag:alignment", tz="Asia/Tokyo")
    a = store.add_subscription(spec, start_week="2025-W34", now=NOW)
    b = store.add_subscription(spec, start_week="2025-W34", now=NOW)
    other = SubscriptionSpec(team_id="T1", channel_id="C2", query="")
    store.add_subscription(other, start_week="2025-W34", now=NOW)
    assert [s.id for s in store.list_subscriptions(team_id="T1", channel_id="C1")] == [a.id, b.id]
    assert a.tz == "Asia/Tokyo" and a.start_week == "2025-W34" and a.active
    assert store.deactivate_subscriptions(team_id="T1", channel_id="C1", subscription_id=a.id) == 1
    # another channel's id cannot be unsubscribed from here
    assert store.deactivate_subscriptions(team_id="T1", channel_id="C2", subscription_id=b.id) == 0
    assert store.deactivate_subscriptions(team_id="T1", channel_id="C1") == 1
    assert store.list_subscriptions(team_id="T1", channel_id="C1") == []
    assert len(store.list_subscriptions(active_only=False)) == 3


def test_a_delivery_is_claimed_once_and_posted_once(store: Store) -> None:
    first = claim(store, "worker-a")
    assert first is not None and first.state == "posting" and first.attempts == 1
    assert claim(store, "worker-b") is None  # someone is posting it
    store.mark_posted(first.id, message_ts="111.222", reply_ts=["111.333"], now=NOW)
    assert claim(store, "worker-b", now=NOW + timedelta(days=1)) is None  # posted: never again
    done = store.get_delivery("T1:C1:1:2025-W34")
    assert done is not None and done.state == "posted" and done.reply_ts == ("111.333",)


def test_a_dead_workers_claim_is_taken_over_after_it_goes_stale(store: Store) -> None:
    first = claim(store, "worker-a")
    assert first is not None
    assert claim(store, "worker-b", now=NOW + STALE / 2) is None
    taken = claim(store, "worker-b", now=NOW + STALE * 2)
    assert taken is not None and taken.claimed_by == "worker-b" and taken.attempts == 2


def test_transient_failure_returns_to_pending_permanent_does_not(store: Store) -> None:
    first = claim(store, "w")
    assert first is not None
    store.release_delivery(first.id, error="ratelimited", now=NOW, permanent=False)
    again = claim(store, "w")
    assert again is not None and again.attempts == 2
    store.release_delivery(again.id, error="channel_not_found", now=NOW, permanent=True)
    assert claim(store, "w") is None
    failed = store.get_delivery("T1:C1:1:2025-W34")
    assert (
        failed is not None and failed.state == "failed" and failed.last_error == "channel_not_found"
    )


def test_racing_claims_have_one_winner(db_url: str) -> None:
    stores = [Store.open(db_url) for _ in range(4)]
    wins: list[str] = []
    barrier = threading.Barrier(len(stores))

    def run(i: int) -> None:
        barrier.wait()
        got = claim(stores[i], f"w{i}")
        if got is not None:
            wins.append(got.claimed_by or "")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    for s in stores:
        s.dispose()


def test_lease_is_exclusive_until_it_expires(store: Store) -> None:
    ttl = timedelta(seconds=30)
    assert store.acquire_lease("scheduler", holder="a", ttl=ttl, now=NOW)
    assert not store.acquire_lease(
        "scheduler", holder="b", ttl=ttl, now=NOW + timedelta(seconds=10)
    )
    assert store.acquire_lease("scheduler", holder="a", ttl=ttl, now=NOW + timedelta(seconds=20))
    assert store.lease_holder("scheduler", now=NOW + timedelta(seconds=40)) == "a"
    assert store.acquire_lease("scheduler", holder="b", ttl=ttl, now=NOW + timedelta(seconds=51))
    store.release_lease("scheduler", holder="a")  # not a's any more: no effect
    assert store.lease_holder("scheduler", now=NOW + timedelta(seconds=52)) == "b"


def test_admin_cache_expires(store: Store) -> None:
    assert store.cached_admin("T1", "U1", now=NOW, max_age=timedelta(hours=1)) is None
    store.cache_admin("T1", "U1", is_admin=True, now=NOW)
    assert store.cached_admin("T1", "U1", now=NOW, max_age=timedelta(hours=1)) is True
    assert (
        store.cached_admin("T1", "U1", now=NOW + timedelta(hours=2), max_age=timedelta(hours=1))
        is None
    )
