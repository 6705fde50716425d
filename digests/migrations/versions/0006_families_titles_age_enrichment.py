"""Columns for source families, title authority, paper age and arXiv enrichment

- ``sources.family``: who publishes a source, as the operator set it (None: worked out
  from the source's kind and address), so one publisher's listings count once.
- ``papers.title_source``: which kind of source gave the stored title, so a more
  authoritative one (arXiv, Hugging Face) can replace it and a weaker one cannot.
- ``papers.aliases``: the short names curated lists use for the paper ("MEM1").
- ``papers.lead_key``: the key of the title's short name ("GPQA" of "GPQA: A Graduate…"),
  indexed, so a curated short title can find the full one it leads.
- ``papers.announced_exact``: ``announced_at`` is arXiv's own first-version date, not the
  earliest date some source gave.
- ``papers.enriched_at``: when the arXiv API was last asked for the paper's metadata.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PAPER_COLUMNS: tuple[sa.Column[object], ...] = (
    sa.Column("title_source", sa.String(16)),
    sa.Column("aliases", sa.JSON()),
    sa.Column("lead_key", sa.String(64)),
    sa.Column("announced_exact", sa.Boolean()),
    sa.Column("enriched_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column("sources", sa.Column("family", sa.String(100)))
    for column in _PAPER_COLUMNS:
        op.add_column("papers", column)
    op.create_index("ix_papers_lead_key", "papers", ["lead_key"])


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+): a copy of ``papers`` with foreign keys on would
    # delete every paper's mentions with it.
    op.drop_index("ix_papers_lead_key", table_name="papers")
    for column in _PAPER_COLUMNS:
        op.execute(f"ALTER TABLE papers DROP COLUMN {column.name}")
    op.execute("ALTER TABLE sources DROP COLUMN family")
