"""sources.retired_at and sources.failing_since

A source that leaves the operator's sources file is retired (no longer polled, its
mentions kept) instead of deleted; ``failing_since`` is when its current run of failed
checks began, so a listing can say "failing since".

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("retired_at", "failing_since")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("sources", sa.Column(name, sa.DateTime(timezone=True)))


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+, which ``create_db_engine`` requires): a copy of
    # ``sources``, with foreign keys on, would delete every source's mentions with it.
    for name in _COLUMNS:
        op.execute(f"ALTER TABLE sources DROP COLUMN {name}")
