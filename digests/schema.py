"""The database tables (SQLAlchemy Core), shared by the store and the migrations.

Only ``digests.store`` runs queries against these; Alembic reads ``metadata``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type and hands back naive values; storing UTC and
    re-attaching the zone on the way out keeps the rest of the code honest.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL paths on SQLite
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(32)),  # None: detected from the content on every fetch
    Column("location", Text, nullable=False),  # URL or local path
    Column("interval_seconds", Integer, nullable=False),
    Column("tags", JSON, nullable=False),  # tags given to every paper of this source
    Column("origin", String(16), nullable=False),  # file | cli | slack
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # fetch state
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("last_checked_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("next_check_at", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("last_entry_count", Integer),
    # health, as judged after each poll
    Column("health", String(16)),  # None = fine | failing | empty | stale
    Column("health_reason", Text),
    Column("health_since", UTCDateTime),
    Column("health_notified_at", UTCDateTime),
)

papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("arxiv_id", String(40), unique=True),
    Column("arxiv_version", Integer),
    Column("doi", String(300), unique=True),
    Column("url_key", String(600), index=True),
    Column("title_key", String(64), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("title_alt", Text),
    Column("authors", JSON, nullable=False),
    Column("abstract", Text),
    Column("abs_url", Text),
    Column("pdf_url", Text),
    Column("code_url", Text),
    Column("other_links", JSON, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    # When sources first announced or mentioned it; the sort key for "new".
    Column("announced_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # Denormalized signals, kept current on every mention, so lookups sort without joins.
    Column("source_count", Integer, nullable=False),
    Column("max_upvotes", Integer, nullable=False),
    # Title, translated title, authors, abstract and the sources' summaries, for search.
    Column("search_text", Text, nullable=False),
)

mentions = Table(
    "mentions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    # The source's own id for the item, or its date: one mention per item per source.
    Column("item_key", String(300), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime),  # the source's own date for the item
    Column("mentioned_at", UTCDateTime, nullable=False),  # published_at, else first seen
    Column("title", Text, nullable=False),
    Column("summary", Text),
    Column("summary_lang", String(8)),
    Column("ai_summary", Text),
    Column("comment", Text),
    Column("announce_type", String(20)),
    Column("version", Integer),
    Column("upvotes", Integer),
    Column("comments", Integer),
    Column("position", Integer),
    Column("pick", Boolean, nullable=False),
    Column("related", Boolean, nullable=False),
    Column("score", Float),
    UniqueConstraint("source_id", "paper_id", "item_key", name="uq_mentions_item"),
    Index("ix_mentions_paper_at", "paper_id", "mentioned_at"),
    Index("ix_mentions_at", "mentioned_at"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("display", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # tag | category | topic
)

tag_aliases = Table(
    "tag_aliases",
    metadata,
    Column("slug", String(200), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), nullable=False),
)

paper_tags = Table(
    "paper_tags",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="CASCADE"), nullable=False),
    # Where the tag came from: "source:<name>", "category", "rule".
    Column("origin", String(220), nullable=False),
    PrimaryKeyConstraint("paper_id", "tag_id", "origin"),
    Index("ix_paper_tags_tag_paper", "tag_id", "paper_id"),
)

summary_cache = Table(
    "summary_cache",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
