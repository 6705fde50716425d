"""The paper store: the only package that speaks SQL (SQLite by default, PostgreSQL by URL).

One module per table group, each a room of ``Store`` (mixins over ``StoreBase``, as
lemon24/reader composes its storage): the rest of the code sees one object, and a room
reaches another's methods only where it builds on it (``WeekStore`` on ``SearchStore``).
The dialect-specific bulk writes live in ``bulk``, the full-text strategies in ``search``.

Identity: a paper is found by the key chain of ``digests.identity`` — arXiv id, then DOI,
then canonical URL, then normalized title — so the same paper from three sources is one
row with three mentions. Inserts race safely across processes: every insert is
``ON CONFLICT DO NOTHING`` on a unique key followed by a read, so two pollers of the
same source never create a paper twice.
"""

from digests.schema import metadata
from digests.store.archive import ArchivedDigest, ArchivedForDelivery, ArchiveStore
from digests.store.caches import CacheStore
from digests.store.deliveries import DeliveryIntent, DeliveryStore, PostedRecord
from digests.store.engine import (
    create_db_engine,
    database_url,
    schema_revision,
    sqlite_version_problem,
    upgrade,
    wait_for_database,
)
from digests.store.enrichment import EnrichmentStore
from digests.store.feedback import FeedbackStore
from digests.store.leases import LeaseStore
from digests.store.papers import PaperStore
from digests.store.references import KnownReferences, ReferenceStore
from digests.store.search import SearchPage
from digests.store.sources import FetchRecord, HealthVerdict, SourceStore, SourceSync
from digests.store.subscriptions import SubscriptionStore
from digests.store.weeks import WeekMatcher, WeekStore


class Store(
    SourceStore,
    EnrichmentStore,
    PaperStore,
    WeekStore,
    ArchiveStore,
    SubscriptionStore,
    DeliveryStore,
    LeaseStore,
    CacheStore,
    FeedbackStore,
    ReferenceStore,
):
    """Typed operations over the database; callers never see SQL or rows."""


__all__ = [
    "ArchivedDigest",
    "ArchivedForDelivery",
    "DeliveryIntent",
    "FetchRecord",
    "HealthVerdict",
    "KnownReferences",
    "PostedRecord",
    "SearchPage",
    "SourceSync",
    "Store",
    "WeekMatcher",
    "create_db_engine",
    "database_url",
    "metadata",
    "schema_revision",
    "sqlite_version_problem",
    "upgrade",
    "wait_for_database",
]
