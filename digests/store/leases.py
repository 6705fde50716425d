"""Named leases: which process leads the scheduler, and each holder's heartbeat."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import (
    delete,
    or_,
    select,
)

from digests.schema import (
    leases,
)
from digests.store.base import StoreBase

log = logging.getLogger(__name__)

# A holder's heartbeat is the lease named this plus the holder: its delivery claims live
# while it does (DeliveryStore.claim_deliveries).
HOLDER_LEASE = "holder:"
# A heartbeat lapsed this long ago is cleared: any claim of its holder is stale by then.
_HEARTBEAT_KEPT = timedelta(days=1)


class LeaseStore(StoreBase):
    """Leases taken, renewed and released by their holder."""

    def acquire_lease(self, name: str, *, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew a named lease; False while another live holder has it."""
        expires = now + ttl
        stmt = (
            self._insert(leases)
            .values(name=name, holder=holder, expires_at=expires)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": holder, "expires_at": expires},
                where=or_(leases.c.holder == holder, leases.c.expires_at < now),
            )
            .returning(leases.c.holder)
        )
        with self._tx() as conn:
            got = conn.execute(stmt).scalar_one_or_none()
        return got == holder

    def renew_holder(self, holder: str, *, ttl: timedelta, now: datetime) -> None:
        """Renew ``holder``'s heartbeat until ``now + ttl``; long-lapsed ones are cleared."""
        expires = now + ttl
        with self._tx() as conn:
            conn.execute(
                self._insert(leases)
                .values(name=HOLDER_LEASE + holder, holder=holder, expires_at=expires)
                .on_conflict_do_update(index_elements=["name"], set_={"expires_at": expires})
            )
            conn.execute(
                delete(leases).where(
                    leases.c.name.startswith(HOLDER_LEASE, autoescape=True),
                    leases.c.expires_at < now - _HEARTBEAT_KEPT,
                )
            )

    def release_lease(self, name: str, *, holder: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease_holder(self, name: str, *, now: datetime) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
            ).first()
        if row is None or row[1] < now:
            return None
        return str(row[0])
