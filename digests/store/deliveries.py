"""Deliveries: each digest's post to a channel, claimed and posted exactly once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    literal,
    or_,
    select,
    update,
)

from digests.model import (
    Delivery,
)
from digests.schema import (
    deliveries,
    digest_items,
    leases,
)
from digests.store.base import StoreBase, as_utc
from digests.store.bulk import (
    LOOKUP_CHUNK,
)
from digests.store.leases import HOLDER_LEASE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryIntent:
    """A delivery to record and claim (``Store.claim_deliveries``)."""

    key: str
    team_id: str
    channel_id: str
    week: str
    subscription_id: int | None


@dataclass(frozen=True, slots=True)
class PostedRecord:
    """A delivery Slack has taken in full (``Store.mark_posted``)."""

    delivery_id: int
    message_ts: str
    reply_ts: tuple[str, ...] = ()
    posted_at: datetime | None = None


class DeliveryStore(StoreBase):
    """Deliveries: recorded, claimed, posted or released."""

    def get_delivery(self, key: str) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.key == key)).mappings().first()
        return None if row is None else _delivery(row)

    def list_deliveries(
        self, *, team_id: str | None = None, channel_id: str | None = None
    ) -> list[Delivery]:
        stmt = select(deliveries).order_by(deliveries.c.id)
        if team_id is not None:
            stmt = stmt.where(deliveries.c.team_id == team_id)
        if channel_id is not None:
            stmt = stmt.where(deliveries.c.channel_id == channel_id)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(stmt).mappings()]

    def claimable_deliveries(self, *, now: datetime, stale_after: timedelta) -> list[Delivery]:
        """The unfinished deliveries a claim would take now, oldest first: pending ones, and
        those claimed by a holder whose heartbeat (``LeaseStore.renew_holder``) has lapsed
        or whose claim is older than ``stale_after``. A holder that never kept a heartbeat
        keeps its claims for ``stale_after``."""
        stmt = select(deliveries).where(_claimable(now, stale_after)).order_by(deliveries.c.id)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(stmt).mappings()]

    def attach_digest(self, delivery_id: int, digest_id: int, *, holder: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.claimed_by == holder)
                .values(digest_id=digest_id)
            )

    def record_partial_post(
        self, delivery_id: int, *, message_ts: str, reply_ts: Sequence[str], now: datetime
    ) -> None:
        """Remember what was posted so far, so a retry continues in the same thread."""
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(message_ts=message_ts, reply_ts=list(reply_ts), updated_at=now)
            )

    def release_delivery(
        self,
        delivery_id: int,
        *,
        error: str,
        now: datetime,
        permanent: bool,
        holder: str | None = None,
    ) -> None:
        """A failed attempt: back to pending for a later retry, or failed for good.

        With ``holder``, only while that holder has the claim under way: one whose claim
        lapsed and was taken over leaves the new holder's delivery alone.
        """
        mine = (
            []
            if holder is None
            else [deliveries.c.claimed_by == holder, deliveries.c.state == "posting"]
        )
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, *mine)
                .values(
                    state="failed" if permanent else "pending",
                    last_error=error[:2000],
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                )
            )

    def deliveries_by_key(self, keys: Iterable[str]) -> dict[str, Delivery]:
        """The recorded deliveries among ``keys`` (unknown keys are left out)."""
        wanted = sorted(set(keys))
        found: dict[str, Delivery] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[i : i + LOOKUP_CHUNK]
                stmt = select(deliveries).where(deliveries.c.key.in_(chunk))
                for r in conn.execute(stmt).mappings():
                    found[r["key"]] = _delivery(r)
        return found

    def sent_paper_ids(
        self, channels: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], set[int]]:
        """Papers already posted to each channel in another week's digest, by (team,
        channel, except_week): many channels in a few queries."""
        wanted = set(channels)
        out: dict[tuple[str, str, str], set[int]] = {w: set() for w in wanted}
        by_channel: dict[tuple[str, str], list[tuple[str, set[int]]]] = {}
        for (team, channel, week), sent in out.items():
            by_channel.setdefault((team, channel), []).append((week, sent))
        ids = sorted({c for _t, c, _w in wanted})
        with self.engine.connect() as conn:
            for i in range(0, len(ids), LOOKUP_CHUNK):
                stmt = (
                    select(deliveries.c.team_id, deliveries.c.channel_id, deliveries.c.week)
                    .add_columns(digest_items.c.paper_id)
                    .join(digest_items, deliveries.c.digest_id == digest_items.c.digest_id)
                    .where(
                        deliveries.c.channel_id.in_(ids[i : i + LOOKUP_CHUNK]),
                        deliveries.c.state == "posted",
                    )
                )
                for team, channel, week, paper_id in conn.execute(stmt):
                    for except_week, sent in by_channel.get((team, channel), ()):
                        if week != except_week:
                            sent.add(int(paper_id))
        return out

    def claim_deliveries(
        self,
        intents: Sequence[DeliveryIntent],
        *,
        holder: str,
        now: datetime,
        stale_after: timedelta,
    ) -> dict[str, Delivery]:
        """Record the intent to post (once per key) and claim it for ``holder``, for many
        keys in one transaction; returns the claimed deliveries by key.

        A key is recorded if new, claimed when pending or when its claim lapsed (see
        ``claimable_deliveries``; ``attempts`` + 1), and left out when posted, failed for
        good, or held by a live holder. A lapsed claim's holder died (or stalled) between
        claiming and finishing, so the caller must check Slack for a message that may
        already be there before posting again. Racing callers (threads or processes)
        never both win a key: rows are locked in key order on PostgreSQL (two overlapping
        batches cannot deadlock) and the claim condition is checked again on the locked
        row; SQLite runs one writer at a time.
        """
        ordered = sorted({i.key: i for i in intents}.values(), key=lambda i: i.key)
        claimed: dict[str, Delivery] = {}
        claimable = _claimable(now, stale_after)
        with self._tx() as conn:
            for i in range(0, len(ordered), LOOKUP_CHUNK):
                chunk = ordered[i : i + LOOKUP_CHUNK]
                conn.execute(
                    self._insert(deliveries)
                    .values(
                        [
                            {
                                "key": d.key,
                                "subscription_id": d.subscription_id,
                                "team_id": d.team_id,
                                "channel_id": d.channel_id,
                                "week": d.week,
                                "state": "pending",
                                "created_at": now,
                                "updated_at": now,
                                "attempts": 0,
                                "reply_ts": [],
                            }
                            for d in chunk
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                locked = (
                    select(deliveries.c.id)
                    .where(deliveries.c.key.in_([d.key for d in chunk]), claimable)
                    .order_by(deliveries.c.key)
                    .with_for_update()
                )
                rows = conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(locked.scalar_subquery()), claimable)
                    .values(
                        state="posting",
                        claimed_by=holder,
                        claimed_at=now,
                        updated_at=now,
                        attempts=deliveries.c.attempts + 1,
                    )
                    .returning(*deliveries.c)
                ).mappings()
                for r in rows:
                    claimed[r["key"]] = _delivery(r)
        return claimed

    def mark_posted(self, posted: Sequence[PostedRecord], *, now: datetime) -> None:
        """Deliveries Slack has taken in full, posted (in one transaction): their message
        and thread replies kept, their last error cleared."""
        if not posted:
            return
        with self._tx() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == bindparam("delivery"))
                .values(
                    state="posted",
                    message_ts=bindparam("ts"),
                    reply_ts=bindparam("replies", type_=deliveries.c.reply_ts.type),
                    posted_at=bindparam("at", type_=deliveries.c.posted_at.type),
                    updated_at=bindparam("at", type_=deliveries.c.updated_at.type),
                    last_error=None,
                ),
                [
                    {
                        "delivery": p.delivery_id,
                        "ts": p.message_ts,
                        "replies": list(p.reply_ts),
                        "at": p.posted_at or now,
                    }
                    for p in posted
                ],
            )


def _claimable(now: datetime, stale_after: timedelta) -> ColumnElement[bool]:
    """Whether a claim takes the delivery now (pending, or its claim lapsed)."""
    lapsed = exists().where(
        leases.c.name == literal(HOLDER_LEASE) + deliveries.c.claimed_by,
        leases.c.expires_at < now,
    )
    return or_(
        deliveries.c.state == "pending",
        and_(
            deliveries.c.state == "posting",
            or_(deliveries.c.claimed_at < now - stale_after, lapsed),
        ),
    )


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=r["id"],
        key=r["key"],
        subscription_id=r["subscription_id"],
        team_id=r["team_id"],
        channel_id=r["channel_id"],
        week=r["week"],
        digest_id=r["digest_id"],
        state=r["state"],
        attempts=r["attempts"],
        created_at=as_utc(r["created_at"]) or datetime.min.replace(tzinfo=UTC),
        claimed_by=r["claimed_by"],
        claimed_at=as_utc(r["claimed_at"]),
        message_ts=r["message_ts"],
        reply_ts=tuple(r["reply_ts"] or ()),
        posted_at=as_utc(r["posted_at"]),
        last_error=r["last_error"],
    )
