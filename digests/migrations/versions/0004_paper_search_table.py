"""paper_search: each paper's search text in a table of its own, which carries the index

The text moves out of ``papers`` with its full-text index: SQLite's FTS5 table now reads
``paper_search``, PostgreSQL's trigram GIN index sits on ``paper_search``. An update of a
paper's dates or signals no longer re-indexes its text on PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD_TRIGGERS = ("papers_fts_ai", "papers_fts_ad", "papers_fts_au")
_NEW_TRIGGERS = ("paper_search_fts_ai", "paper_search_fts_ad", "paper_search_fts_au")


def upgrade() -> None:
    op.create_table(
        "paper_search",
        sa.Column("paper_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_search_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", name=op.f("pk_paper_search")),
    )
    op.execute("INSERT INTO paper_search (paper_id, search_text) SELECT id, search_text FROM papers")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in _OLD_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS paper_fts")
        _sqlite_fts("paper_search", "paper_id", _NEW_TRIGGERS)
        # Dropped in place (SQLite 3.35+, which ``create_db_engine`` requires): a table
        # copy, with foreign keys on, would delete every paper's mentions and tags along
        # with the old table.
        op.execute("ALTER TABLE papers DROP COLUMN search_text")
    else:
        op.execute(
            "CREATE INDEX ix_paper_search_trgm ON paper_search "
            "USING gin (search_text gin_trgm_ops)"
        )
        op.execute("DROP INDEX IF EXISTS ix_papers_search_trgm")
        op.execute("ALTER TABLE papers DROP COLUMN search_text")


def downgrade() -> None:
    # The default fills the column for existing rows; SQLite cannot drop it afterwards
    # without copying the table, PostgreSQL drops it below as 0003 had none.
    op.execute("ALTER TABLE papers ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")
    op.execute(
        "UPDATE papers SET search_text = (SELECT s.search_text FROM paper_search s "
        "WHERE s.paper_id = papers.id) "
        "WHERE EXISTS (SELECT 1 FROM paper_search s WHERE s.paper_id = papers.id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        for trigger in _NEW_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS paper_fts")
        _sqlite_fts("papers", "id", _OLD_TRIGGERS)
    else:
        op.execute("ALTER TABLE papers ALTER COLUMN search_text DROP DEFAULT")
        op.execute(
            "CREATE INDEX ix_papers_search_trgm ON papers USING gin (search_text gin_trgm_ops)"
        )
    op.drop_table("paper_search")


def _sqlite_fts(table: str, rowid: str, triggers: tuple[str, str, str]) -> None:
    """The FTS5 trigram index over ``table.search_text``, kept in step by triggers, and
    filled from what the table holds now."""
    added, deleted, updated = triggers
    op.execute(
        "CREATE VIRTUAL TABLE paper_fts USING fts5("
        f"search_text, content='{table}', content_rowid='{rowid}', tokenize='trigram')"
    )
    op.execute(
        f"CREATE TRIGGER {added} AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO paper_fts(rowid, search_text) VALUES (new.{rowid}, new.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {deleted} AFTER DELETE ON {table} BEGIN "
        "INSERT INTO paper_fts(paper_fts, rowid, search_text) "
        f"VALUES ('delete', old.{rowid}, old.search_text); END"
    )
    op.execute(
        f"CREATE TRIGGER {updated} AFTER UPDATE OF search_text ON {table} BEGIN "
        "INSERT INTO paper_fts(paper_fts, rowid, search_text) "
        f"VALUES ('delete', old.{rowid}, old.search_text); "
        f"INSERT INTO paper_fts(rowid, search_text) VALUES (new.{rowid}, new.search_text); END"
    )
    op.execute("INSERT INTO paper_fts(paper_fts) VALUES ('rebuild')")
