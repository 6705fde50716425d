"""Search texts hold the sources' comments; authors are stored with their letters as is

- ``paper_search.search_text`` gains the comments of each paper's mentions (a notes
  page's own words on the paper) that it lacks: new mentions add theirs from now on.
- ``papers.authors`` was written with a ``\\u`` escape for every non-ASCII letter, which
  ``author:`` cannot find ("Łukasz" was ``\\u0141ukasz``); such rows are written again
  with the letters themselves, as the store now writes them.

Both go through the papers by id in batches, so a large store is never read at once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 2000
# The longest search text the store writes (``identity._SEARCH_TEXT_MAX`` when this was
# written; a migration keeps its own copy so that it does the same whenever it runs).
_SEARCH_TEXT_MAX = 20_000


def upgrade() -> None:
    conn = op.get_bind()
    _unescape_authors(conn)
    _add_comments(conn)


def downgrade() -> None:
    # Nothing to undo: the authors' JSON means the same either way, and a comment in a
    # paper's search text only makes it findable by the comment's words.
    pass


def _unescape_authors(conn: sa.Connection) -> None:
    """Write again, without ``\\u`` escapes, every authors list that has one."""
    value = "CAST(:authors AS JSON)" if conn.dialect.name == "postgresql" else ":authors"
    update = sa.text(f"UPDATE papers SET authors = {value} WHERE id = :id")
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, CAST(authors AS TEXT) FROM papers WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": _BATCH},
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        changed = []
        for pid, raw in rows:
            if raw and "\\u" in raw:
                plain = json.dumps(json.loads(raw), ensure_ascii=False)
                if plain != raw:
                    changed.append({"id": pid, "authors": plain})
        if changed:
            conn.execute(update, changed)


def _add_comments(conn: sa.Connection) -> None:
    """Append to each paper's search text the comments of its mentions it lacks, in the
    order the mentions came."""
    last = 0
    while True:
        ids = (
            conn.execute(
                sa.text(
                    "SELECT DISTINCT paper_id FROM mentions WHERE paper_id > :last "
                    "AND comment IS NOT NULL AND comment <> '' ORDER BY paper_id LIMIT :n"
                ),
                {"last": last, "n": _BATCH},
            )
            .scalars()
            .all()
        )
        if not ids:
            return
        last = ids[-1]
        rows = conn.execute(
            sa.text(
                "SELECT m.paper_id, m.comment, s.search_text FROM mentions m "
                "JOIN paper_search s ON s.paper_id = m.paper_id "
                "WHERE m.paper_id >= :first AND m.paper_id <= :last "
                "AND m.comment IS NOT NULL AND m.comment <> '' "
                "ORDER BY m.paper_id, m.mentioned_at, m.id"
            ),
            {"first": ids[0], "last": last},
        ).all()
        texts: dict[int, tuple[str, list[str]]] = {}
        for pid, comment, search_text in rows:
            texts.setdefault(pid, (search_text, []))[1].append(comment)
        changed: list[dict[str, Any]] = []
        for pid, (old, comments) in texts.items():
            new = old
            for comment in dict.fromkeys(comments):
                if comment not in new:
                    new = f"{new}\n{comment}" if new else comment
            new = new[:_SEARCH_TEXT_MAX]
            if new != old:
                changed.append({"id": pid, "text": new})
        if changed:
            conn.execute(
                sa.text("UPDATE paper_search SET search_text = :text WHERE paper_id = :id"),
                changed,
            )
