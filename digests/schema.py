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
    text,
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
    Column("content_changed_at", UTCDateTime),  # when the document last changed (parsed)
    Column("failing_since", UTCDateTime),  # first failure of the current failure streak
    # health, as judged after each poll
    Column("health", String(16)),  # None = fine | failing | empty | stale
    Column("health_reason", Text),
    Column("health_since", UTCDateTime),
    Column("health_notified_at", UTCDateTime),
    # Set when the source left the operator's file or was removed without --purge: it
    # is no longer polled, and its mentions stay.
    Column("retired_at", UTCDateTime),
    # Who publishes the source, as the operator set it; None: from its kind and address.
    Column("family", String(100)),
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
    # Which kind of source gave ``title`` (a more authoritative one may replace it).
    Column("title_source", String(16)),
    Column("aliases", JSON),  # short names curated lists use for the paper
    Column("lead_key", String(64), index=True),  # the key of the title's short name
    Column("announced_exact", Boolean),  # announced_at is arXiv's first-version date
    Column("enriched_at", UTCDateTime),  # when the arXiv API was last asked about it
)

# Title, translated title, authors, abstract and the sources' summaries, for search: one
# row per paper, apart from ``papers`` so that only a change of the text itself touches
# the full-text index (SQLite's FTS5 ``paper_fts``, PostgreSQL's trigram GIN index, both
# made in the migrations). On PostgreSQL every new version of a row re-indexes each of
# its indexed columns, so a paper's dates and signals, updated on every poll, would
# otherwise put all of its text into the trigram index again each time.
paper_search = Table(
    "paper_search",
    metadata,
    Column(
        "paper_id",
        Integer,
        ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("search_text", Text, nullable=False),
    # When the paper's signature (``paper_terms``) was computed; NULL until then and again
    # whenever the search text changes: what the indexer has to do, in a partial index.
    Column("terms_at", UTCDateTime),
    Index(
        "ix_paper_search_unindexed",
        "paper_id",
        sqlite_where=text("terms_at IS NULL"),
        postgresql_where=text("terms_at IS NULL"),
    ),
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

# -- weekly digests, subscriptions and their delivery ---------------------------------------

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("query", Text, nullable=False),  # canonical query text; "" = every paper
    Column("weekday", Integer, nullable=False),  # 0 = Monday
    Column("time", String(5), nullable=False),  # "09:00", in ``tz``
    Column("tz", String(64), nullable=False),
    Column("top", Integer, nullable=False),
    Column("lang", String(8)),
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    # The first week this subscription covers: a new one never floods old papers.
    Column("start_week", String(10), nullable=False),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Index("ix_subscriptions_channel", "team_id", "channel_id"),
)

digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("week", String(10), nullable=False, index=True),
    Column("tz", String(64), nullable=False),
    Column("query", Text, nullable=False),
    Column("scope", Text),  # the query's label for display
    Column("lang", String(8)),
    Column("top", Integer, nullable=False),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="SET NULL")),
    Column("built_at", UTCDateTime, nullable=False),
    Column("candidates", Integer, nullable=False),
    Column("sources", JSON, nullable=False),  # SourceHealth of the week, for the footer
)

digest_items = Table(
    "digest_items",
    metadata,
    Column("digest_id", Integer, ForeignKey("digests.id", ondelete="CASCADE"), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("score", Float, nullable=False),
    Column("item", JSON, nullable=False),  # the rendered DigestItem, to show it again as sent
    PrimaryKeyConstraint("digest_id", "rank"),
    Index("ix_digest_items_paper", "paper_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    # team:channel:subscription:week — the intent is recorded under this key before
    # posting, so a digest is posted at most once whatever retries or crashes happen.
    Column("key", String(200), nullable=False, unique=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="SET NULL")),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("week", String(10), nullable=False),
    Column("digest_id", Integer, ForeignKey("digests.id", ondelete="SET NULL")),
    Column("state", String(16), nullable=False),  # pending | posting | posted | failed
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_at", UTCDateTime),
    Column("message_ts", String(32)),  # the parent message; continuations are its replies
    Column("reply_ts", JSON, nullable=False),
    Column("posted_at", UTCDateTime),
    Column("last_error", Text),
    Index("ix_deliveries_channel", "team_id", "channel_id", "state"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

slack_users = Table(
    "slack_users",
    metadata,
    Column("team_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("checked_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("team_id", "user_id"),
)

# -- what a team teaches paperbot: feedback, profiles and saved papers ----------------------

# A person's verdict on a paper for one channel: "like" (more like this) or "mute" (not for
# us). Clicks and profile imports share it; a second verdict replaces the first.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),  # who clicked or imported
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("verdict", String(8), nullable=False),  # like | mute
    Column("origin", String(16), nullable=False),  # click | import
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("team_id", "channel_id", "user_id", "paper_id"),
    Index("ix_feedback_paper", "paper_id"),
)

# One row per channel whose profile has ever changed: when it last did, and when an
# admin last reset it.
profiles = Table(
    "profiles",
    metadata,
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("reset_at", UTCDateTime),
    PrimaryKeyConstraint("team_id", "channel_id"),
)

# A person's saved papers (personal, whichever channel they were saved from).
saved_papers = Table(
    "saved_papers",
    metadata,
    Column("team_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("channel_id", String(32)),  # where it was saved from
    Column("saved_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("team_id", "user_id", "paper_id"),
    Index("ix_saved_papers_paper", "paper_id"),
)

# -- "more like this": each paper's signature and the terms' document frequencies -----------

# A paper's signature (``digests.similar``): its most telling terms, weights of unit length.
# Read by term, strongest first, to find the papers most like one.
paper_terms = Table(
    "paper_terms",
    metadata,
    Column(
        "paper_id",
        Integer,
        ForeignKey("papers.id", ondelete="CASCADE"),
        nullable=False,
        autoincrement=False,
    ),
    Column("term", String(64), nullable=False),
    Column("weight", Float, nullable=False),
    PrimaryKeyConstraint("paper_id", "term"),
    Index("ix_paper_terms_term_weight", "term", "weight"),
    sqlite_with_rowid=False,
)

# How many indexed papers use each term; the row of the empty term counts the papers.
term_stats = Table(
    "term_stats",
    metadata,
    Column("term", String(64), primary_key=True),
    Column("df", Integer, nullable=False),
    sqlite_with_rowid=False,
)
