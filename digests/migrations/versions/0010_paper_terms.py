"""paper_terms, term_stats, paper_search.terms_at: the index behind "more like this"

- ``paper_terms``: each paper's signature (its most telling terms and their weights,
  ``digests.similar``), indexed by term so that the papers strongest in a term are read
  first.
- ``term_stats``: how many indexed papers use each term (the ``''`` row: how many papers
  are indexed), for the terms' idf.
- ``paper_search.terms_at``: when the paper's signature was computed; NULL until then
  and again whenever its search text changes, so the indexer finds what to do in a
  partial index. Every paper starts unindexed: the indexer backfills them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_terms",
        sa.Column("paper_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_terms_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "term", name=op.f("pk_paper_terms")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_paper_terms_term_weight", "paper_terms", ["term", "weight"])
    op.create_table(
        "term_stats",
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_term_stats")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("paper_search", recreate="never") as batch:
        batch.add_column(sa.Column("terms_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_paper_search_unindexed",
        "paper_search",
        ["paper_id"],
        sqlite_where=sa.text("terms_at IS NULL"),
        postgresql_where=sa.text("terms_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_paper_search_unindexed", table_name="paper_search")
    with op.batch_alter_table("paper_search", recreate="never") as batch:
        batch.drop_column("terms_at")
    op.drop_table("term_stats")
    op.drop_index("ix_paper_terms_term_weight", table_name="paper_terms")
    op.drop_table("paper_terms")
