"""Caches: Slack users' admin status and written summaries."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import (
    select,
)

from digests.schema import (
    slack_users,
    summary_cache,
)
from digests.store.base import StoreBase

log = logging.getLogger(__name__)


class CacheStore(StoreBase):
    """What Slack said about a user, and summaries already written."""

    def cached_admin(
        self, team_id: str, user_id: str, *, now: datetime, max_age: timedelta
    ) -> bool | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(slack_users.c.is_admin, slack_users.c.checked_at).where(
                    slack_users.c.team_id == team_id, slack_users.c.user_id == user_id
                )
            ).first()
        if row is None or row[1] < now - max_age:
            return None
        return bool(row[0])

    def cache_admin(self, team_id: str, user_id: str, *, is_admin: bool, now: datetime) -> None:
        stmt = (
            self._insert(slack_users)
            .values(team_id=team_id, user_id=user_id, is_admin=is_admin, checked_at=now)
            .on_conflict_do_update(
                index_elements=["team_id", "user_id"],
                set_={"is_admin": is_admin, "checked_at": now},
            )
        )
        with self._tx() as conn:
            conn.execute(stmt)

    def cached_summary(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(summary_cache.c.text).where(summary_cache.c.key == key)
            ).scalar_one_or_none()
        return None if found is None else str(found)

    def cache_summary(self, key: str, value: str, *, now: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                self._insert(summary_cache)
                .values(key=key, text=value, created_at=now)
                .on_conflict_do_nothing()
            )
