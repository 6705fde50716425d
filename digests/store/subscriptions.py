"""Subscriptions: which channel gets which weekly digest, when."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
    update,
)

from digests.model import (
    Subscription,
    SubscriptionSpec,
)
from digests.schema import (
    subscriptions,
)
from digests.store.base import StoreBase

log = logging.getLogger(__name__)


class SubscriptionStore(StoreBase):
    """Channels' subscriptions."""

    def add_subscription(
        self, spec: SubscriptionSpec, *, start_week: str, now: datetime
    ) -> Subscription:
        with self._tx() as conn:
            new_id = conn.execute(
                subscriptions.insert()
                .values(
                    team_id=spec.team_id,
                    channel_id=spec.channel_id,
                    query=spec.query,
                    weekday=spec.weekday,
                    time=spec.time,
                    tz=spec.tz,
                    top=spec.top,
                    lang=spec.lang,
                    created_by=spec.created_by,
                    created_at=now,
                    active=True,
                    start_week=start_week,
                )
                .returning(subscriptions.c.id)
            ).scalar_one()
        found = self.get_subscription(int(new_id))
        assert found is not None
        return found

    def get_subscription(self, subscription_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
                .mappings()
                .first()
            )
        return None if row is None else _subscription(row)

    def list_subscriptions(
        self,
        *,
        team_id: str | None = None,
        channel_id: str | None = None,
        active_only: bool = True,
    ) -> list[Subscription]:
        stmt = select(subscriptions).order_by(subscriptions.c.id)
        if team_id is not None:
            stmt = stmt.where(subscriptions.c.team_id == team_id)
        if channel_id is not None:
            stmt = stmt.where(subscriptions.c.channel_id == channel_id)
        if active_only:
            stmt = stmt.where(subscriptions.c.active.is_(True))
        with self.engine.connect() as conn:
            return [_subscription(r) for r in conn.execute(stmt).mappings()]

    def deactivate_subscriptions(
        self, *, team_id: str, channel_id: str, subscription_id: int | None = None
    ) -> int:
        """Unsubscribe one (by id) or all of a channel's subscriptions; returns how many."""
        stmt = (
            update(subscriptions)
            .where(
                subscriptions.c.team_id == team_id,
                subscriptions.c.channel_id == channel_id,
                subscriptions.c.active.is_(True),
            )
            .values(active=False)
        )
        if subscription_id is not None:
            stmt = stmt.where(subscriptions.c.id == subscription_id)
        with self._tx() as conn:
            return int(conn.execute(stmt).rowcount)

    def record_subscription_error(
        self, subscription_id: int, *, error: str, now: datetime, deactivate: bool
    ) -> None:
        values: dict[str, Any] = {"last_error": error[:2000], "last_error_at": now}
        if deactivate:
            values["active"] = False
        with self._tx() as conn:
            conn.execute(update(subscriptions).where(subscriptions.c.id == subscription_id), values)


def _subscription(r: Any) -> Subscription:
    return Subscription(
        id=r["id"],
        team_id=r["team_id"],
        channel_id=r["channel_id"],
        query=r["query"],
        weekday=r["weekday"],
        time=r["time"],
        tz=r["tz"],
        top=r["top"],
        lang=r["lang"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        active=r["active"],
        start_week=r["start_week"],
        last_error=r["last_error"],
        last_error_at=r["last_error_at"],
    )
