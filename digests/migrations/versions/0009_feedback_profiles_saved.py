"""feedback, profiles, saved_papers: what a team teaches paperbot

- ``feedback``: a person's verdict on a paper for a channel (like / mute), from a click
  or a profile import; one per person, paper and channel.
- ``profiles``: when each channel's profile last changed, and was last reset.
- ``saved_papers``: a person's saved papers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name=op.f("fk_feedback_paper_id_papers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "user_id",
            "paper_id",
            name=op.f("uq_feedback_team_id"),
        ),
    )
    op.create_index("ix_feedback_paper", "feedback", ["paper_id"])
    op.create_table(
        "profiles",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "channel_id", name=op.f("pk_profiles")),
    )
    op.create_table(
        "saved_papers",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_saved_papers_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", "paper_id", name=op.f("pk_saved_papers")),
    )
    op.create_index("ix_saved_papers_paper", "saved_papers", ["paper_id"])


def downgrade() -> None:
    op.drop_index("ix_saved_papers_paper", table_name="saved_papers")
    op.drop_table("saved_papers")
    op.drop_table("profiles")
    op.drop_index("ix_feedback_paper", table_name="feedback")
    op.drop_table("feedback")
