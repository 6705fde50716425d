"""Subscriptions, delivery intents and leases in the store: the at-most-once machinery."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from digests.model import Digest, SubscriptionSpec
from digests.store import ArchivedForDelivery, DeliveryIntent, PostedRecord, Store
from tests.factories import claim_one

NOW = datetime(2025, 8, 18, 9, 0, tzinfo=UTC)
STALE = timedelta(minutes=10)


def claim(store: Store, holder: str, *, now: datetime = NOW, key: str = "T1:C1:1:2025-W34"):  # type: ignore[no-untyped-def]
    return claim_one(
        store,
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
    store.mark_posted([PostedRecord(first.id, "111.222", ("111.333",))], now=NOW)
    assert claim(store, "worker-b", now=NOW + timedelta(days=1)) is None  # posted: never again
    done = store.get_delivery("T1:C1:1:2025-W34")
    assert done is not None and done.state == "posted" and done.reply_ts == ("111.333",)


def test_a_dead_workers_claim_is_taken_over_after_it_goes_stale(store: Store) -> None:
    first = claim(store, "worker-a")
    assert first is not None
    assert claim(store, "worker-b", now=NOW + STALE / 2) is None
    taken = claim(store, "worker-b", now=NOW + STALE * 2)
    assert taken is not None and taken.claimed_by == "worker-b" and taken.attempts == 2


def test_a_claim_lives_while_its_holders_heartbeat_does(store: Store) -> None:
    ttl = timedelta(seconds=60)
    store.renew_holder("worker-a", ttl=ttl, now=NOW)
    first = claim(store, "worker-a")
    assert first is not None
    # Renewed while it works: the claim stays, well past the first heartbeat's end.
    store.renew_holder("worker-a", ttl=ttl, now=NOW + timedelta(seconds=45))
    later = NOW + timedelta(seconds=90)
    assert claim(store, "worker-b", now=later) is None
    assert store.claimable_deliveries(now=later, stale_after=STALE) == []
    # Its holder stopped beating: the claim lapses with it, long before stale_after.
    gone = NOW + timedelta(seconds=106)
    assert [d.key for d in store.claimable_deliveries(now=gone, stale_after=STALE)] == [first.key]
    taken = claim(store, "worker-b", now=gone)
    assert taken is not None and taken.claimed_by == "worker-b" and taken.attempts == 2


def test_a_holder_without_a_heartbeat_keeps_its_claims_until_they_are_stale(
    store: Store,
) -> None:
    first = claim(store, "older-version")
    assert first is not None
    assert store.claimable_deliveries(now=NOW + STALE / 2, stale_after=STALE) == []
    assert claim(store, "worker-b", now=NOW + STALE / 2) is None
    assert len(store.claimable_deliveries(now=NOW + STALE * 2, stale_after=STALE)) == 1


def test_a_holder_releases_only_what_it_still_holds(store: Store) -> None:
    first = claim(store, "worker-a")
    assert first is not None
    taken = claim(store, "worker-b", now=NOW + STALE * 2)
    assert taken is not None
    store.mark_posted([PostedRecord(taken.id, "111.222")], now=NOW + STALE * 2)
    # worker-a comes back and hands its old claim back: worker-b's post stays recorded.
    store.release_delivery(
        first.id, error="lease lost", now=NOW + STALE * 3, permanent=False, holder="worker-a"
    )
    kept = store.get_delivery(first.key)
    assert kept is not None and (kept.state, kept.message_ts) == ("posted", "111.222")


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


# -- a fan-out's deliveries, in batches --------------------------------------------------


def intent(key: str, channel: str = "C1") -> DeliveryIntent:
    return DeliveryIntent(key, "T1", channel, "2025-W34", None)


def test_batched_claims_treat_each_key_as_a_single_claim_would(store: Store) -> None:
    keys = {
        s: f"T1:C1:{s}:2025-W34" for s in ("fresh", "pending", "stale", "live", "posted", "failed")
    }
    for state in ("pending", "stale", "live", "posted", "failed"):
        first = claim(
            store, "old", key=keys[state], now=NOW - STALE * 2 if state == "stale" else NOW
        )
        assert first is not None
        if state == "pending":
            store.release_delivery(first.id, error="429", now=NOW, permanent=False)
        elif state == "posted":
            store.mark_posted([PostedRecord(first.id, "1.1")], now=NOW)
        elif state == "failed":
            store.release_delivery(first.id, error="channel_not_found", now=NOW, permanent=True)
    before = {k: store.get_delivery(k) for k in keys.values()}

    got = store.claim_deliveries(
        [intent(k) for k in keys.values()], holder="new", now=NOW + STALE / 2, stale_after=STALE
    )

    assert set(got) == {keys["fresh"], keys["pending"], keys["stale"]}
    assert {k: (d.state, d.claimed_by) for k, d in got.items()} == {
        k: ("posting", "new") for k in got
    }
    assert got[keys["fresh"]].attempts == 1
    assert got[keys["pending"]].attempts == 2
    assert got[keys["stale"]].attempts == 2  # a takeover: the holder looks in Slack first
    for state in ("live", "posted", "failed"):
        assert store.get_delivery(keys[state]) == before[keys[state]], state
    # The winners are what the single claim now refuses, and vice versa.
    assert claim(store, "other", key=keys["fresh"], now=NOW + STALE / 2) is None


def test_racing_batched_claims_give_every_key_to_exactly_one_holder(db_url: str) -> None:
    stores = [Store.open(db_url) for _ in range(4)]
    keys = [f"T1:C{i:03d}:1:2025-W34" for i in range(300)]
    # The same rows, two of them already waiting as pending, taken in different orders.
    for k in keys[:2]:
        first = claim(stores[0], "old", key=k)
        assert first is not None
        stores[0].release_delivery(first.id, error="429", now=NOW, permanent=False)
    wins: dict[str, list[str]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def run(i: int) -> None:
        mine = list(keys)
        random.Random(i).shuffle(mine)
        barrier.wait()
        try:
            got = stores[i].claim_deliveries(
                [intent(k, k.split(":")[1]) for k in mine[: 200 + 30 * i]],
                holder=f"w{i}",
                now=NOW,
                stale_after=STALE,
            )
        except BaseException as e:
            errors.append(e)
            return
        with lock:
            for k, d in got.items():
                assert d.claimed_by == f"w{i}"
                wins.setdefault(k, []).append(f"w{i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(w) == 1 for w in wins.values()), {k: w for k, w in wins.items() if len(w) > 1}
    stored = {d.key: d for d in stores[0].list_deliveries()}
    assert set(wins) == set(stored)  # every recorded key went to someone
    assert all(stored[k].claimed_by == w[0] for k, w in wins.items())
    for s in stores:
        s.dispose()


def test_archived_digests_attach_to_their_claims_and_posted_ones_are_recorded(
    store: Store,
) -> None:
    got = store.claim_deliveries(
        [intent("k1", "C1"), intent("k2", "C2"), intent("k3", "C3")],
        holder="me",
        now=NOW,
        stale_after=STALE,
    )
    # k3 is taken over by another holder before its digest is attached.
    store.release_delivery(got["k3"].id, error="x", now=NOW, permanent=False)
    assert claim(store, "other", key="k3") is not None
    start, end = NOW - timedelta(days=7), NOW
    digests = [
        Digest(week="2025-W34", tz="UTC", start=start, end=end, items=(), candidates=n)
        for n in (5, 6, 7)
    ]
    ids = store.archive_digests(
        [
            ArchivedForDelivery(got[k].id, dg, f"q{k}", 10, None)
            for k, dg in zip(("k1", "k2", "k3"), digests, strict=True)
        ],
        holder="me",
        now=NOW,
    )
    assert len(set(ids)) == 3
    for k, digest_id, dg in zip(("k1", "k2", "k3"), ids, digests, strict=True):
        loaded = store.load_digest(digest_id, start=start, end=end)
        assert loaded is not None and loaded.candidates == dg.candidates
        d = store.get_delivery(k)
        assert d is not None
        assert d.digest_id == (None if k == "k3" else digest_id), k

    store.mark_posted(
        [PostedRecord(got["k1"].id, "1.1", ("1.2", "1.3")), PostedRecord(got["k2"].id, "2.1")],
        now=NOW + timedelta(seconds=5),
    )
    k1, k2, k3 = (store.get_delivery(k) for k in ("k1", "k2", "k3"))
    assert k1 is not None and (k1.state, k1.message_ts, k1.reply_ts) == (
        "posted",
        "1.1",
        ("1.2", "1.3"),
    )
    assert k1.posted_at == NOW + timedelta(seconds=5)
    assert k2 is not None and (k2.state, k2.message_ts, k2.reply_ts) == ("posted", "2.1", ())
    assert k3 is not None and k3.state == "posting" and k3.claimed_by == "other"
