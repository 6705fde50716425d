"""Backfill the title short-name keys, title sources and id-bounded dates of stored papers

- ``papers.lead_key``: the key of each title's short name (``title_lead_key``), so a
  curated short title finds a stored full one and the other way round.
- ``papers.title_source``: where a paper's title came from, read off the mentions that
  carry that very title (the most authoritative of their sources' kinds); left empty
  when no mention does.
- ``papers.announced_at``: no later than the paper's arXiv id allows (``id_month_cap``):
  a 2022 paper re-listed by a feed in 2024 was stored as announced in 2024.

The downgrade keeps the values: 0006's downgrade drops the columns, and an earlier
announcement date is as true before this revision as after it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from digests.identity import TITLE_SOURCE_BY_KIND, id_month_cap, title_rank
from digests.model import SourceKind
from digests.normalize import title_lead_key
from digests.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CHUNK = 1_000

_papers = sa.table(
    "papers",
    sa.column("id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("arxiv_id", sa.String()),
    sa.column("announced_at", UTCDateTime()),
    sa.column("title_source", sa.String()),
    sa.column("lead_key", sa.String()),
)
_mentions = sa.table(
    "mentions",
    sa.column("paper_id", sa.Integer()),
    sa.column("source_id", sa.Integer()),
    sa.column("title", sa.Text()),
)
_sources = sa.table("sources", sa.column("id", sa.Integer()), sa.column("kind", sa.String()))


def upgrade() -> None:
    conn = op.get_bind()
    last = 0
    while True:
        rows = (
            conn.execute(
                sa.select(_papers)
                .where(_papers.c.id > last)
                .order_by(_papers.c.id)
                .limit(_CHUNK)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        last = int(rows[-1]["id"])
        origins = _title_origins(conn, [int(r["id"]) for r in rows if r["title_source"] is None])
        changes = [c for c in (_change(r, origins) for r in rows) if c is not None]
        if changes:
            conn.execute(
                sa.update(_papers)
                .where(_papers.c.id == sa.bindparam("pid"))
                .values(
                    lead_key=sa.bindparam("lead"),
                    title_source=sa.bindparam("origin"),
                    announced_at=sa.bindparam("at"),
                ),
                changes,
            )


def _title_origins(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    """The most authoritative kind of source whose mention carries each paper's title."""
    if not ids:
        return {}
    stmt = (
        sa.select(_mentions.c.paper_id, _sources.c.kind)
        .select_from(
            _mentions.join(_sources, _sources.c.id == _mentions.c.source_id).join(
                _papers, _papers.c.id == _mentions.c.paper_id
            )
        )
        .where(_mentions.c.paper_id.in_(ids), _mentions.c.title == _papers.c.title)
        .distinct()
    )
    best: dict[int, str] = {}
    for paper_id, kind in conn.execute(stmt):
        try:
            origin = TITLE_SOURCE_BY_KIND[SourceKind(kind)]
        except ValueError:  # a kind this version does not know
            continue
        if paper_id not in best or title_rank(origin) > title_rank(best[paper_id]):
            best[int(paper_id)] = origin
    return best


def _change(row: Any, origins: dict[int, str]) -> dict[str, Any] | None:
    """The row's new values, or None when it already holds them."""
    lead = title_lead_key(row["title"] or "")
    origin = row["title_source"] or origins.get(int(row["id"]))
    at: datetime = row["announced_at"]
    cap = id_month_cap(row["arxiv_id"])
    if cap is not None and at > cap:
        at = cap
    if (lead, origin, at) == (row["lead_key"], row["title_source"], row["announced_at"]):
        return None
    return {"pid": row["id"], "lead": lead, "origin": origin, "at": at}


def downgrade() -> None:
    """Nothing to undo: see the module's docstring."""
