"""The ingest pipeline, per source: fetch -> parse -> prepare -> store, with a report.

::

    due sources | fetch (digests.fetch) | parse (digests.sources) | prepare | store

``prepare`` is pure: it works out each entry's identities (the key chain in
``digests.normalize``) and its tags — the source's own, arXiv categories, the source's
configured tags and topic tags from the operator's rules. Every source gets a
``SourceReport``; one failing source never stops the others and its error is kept on it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from digests.errors import PaperbotError, RetryLater, SourceError, StoreError
from digests.fetch import Fetcher, FetchResult, FetchSettings, Validators
from digests.model import (
    Entry,
    Links,
    ParseContext,
    ParsedDocument,
    PreparedEntry,
    SourceInfo,
    SourceKind,
    TagRef,
)
from digests.normalize import (
    TagName,
    canonical_url,
    find_arxiv_id,
    has_controls,
    normalize_tag,
    paper_key,
    strip_controls,
    title_key,
)
from digests.settings import Settings
from digests.sources import parse_document
from digests.store import Store
from digests.topics import TopicRules

log = logging.getLogger(__name__)

# After this many failures in a row a source is flagged unhealthy and admins are told.
FAILING_AFTER = 3
# A failing source is retried sooner than its interval, backing off from here.
RETRY_BASE = timedelta(minutes=5)

Status = Literal["ingested", "not_modified", "unchanged", "error"]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What polling one source did."""

    name: str
    status: Status
    entries: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error: str | None = None
    problems: tuple[str, ...] = field(default=())
    kind: SourceKind | None = None

    @property
    def ok(self) -> bool:
        return self.status != "error"


# -- prepare (pure) -----------------------------------------------------------------------


def prepare(entries: Sequence[Entry], source: SourceInfo, rules: TopicRules) -> list[PreparedEntry]:
    """Identities and tags for each entry. Pure: no I/O, no clock."""
    origin = f"source:{source.name}"
    source_tags = [t for t in (normalize_tag(x) for x in source.tags) if t is not None]
    out: list[PreparedEntry] = []
    for e in map(_without_controls, entries):
        found: list[tuple[TagName, str, str]] = []
        found += [(t, "tag", origin) for t in map(normalize_tag, e.tags) if t is not None]
        if not e.signals.related:
            # A related-papers list is not the source's own pick: its tags don't apply.
            found += [(t, "tag", origin) for t in source_tags]
        found += [
            (t, "category", "category") for t in map(normalize_tag, e.categories) if t is not None
        ]
        found += [
            (t, "topic", "rule")
            for t in rules.topics_for(e.title, e.abstract, e.summary, e.ai_summary)
        ]
        refs: dict[tuple[str, str], TagRef] = {}
        for tag, kind, tag_origin in found:
            refs.setdefault((tag.slug, tag_origin), TagRef(tag.slug, tag.display, kind, tag_origin))
        url_key = None
        if e.url and find_arxiv_id(e.url) is None:
            url_key = canonical_url(e.url)
        out.append(
            PreparedEntry(
                entry=e,
                key=paper_key(arxiv_id=e.arxiv_id, doi=e.doi, url=e.url, title=e.title),
                url_key=url_key,
                title_key=title_key(e.title),
                item_key=_item_key(e),
                tags=tuple(refs.values()),
            )
        )
    return out


def _without_controls(e: Entry) -> Entry:
    """The entry with control characters and lone surrogates out of every text field.

    Whatever bytes a source sends, what is stored is text every database and Slack accept
    (PostgreSQL refuses NUL outright, which would otherwise fail the whole document).
    """
    links = e.links
    texts = [e.title, *e.authors, *e.tags, *e.categories, *links.other]
    texts += [v for v in (getattr(e, n) for n in _OPTIONAL_TEXT) if v is not None]
    texts += [v for v in (links.abs, links.pdf, links.code) if v]
    # One scan for the common case, nothing to clean (newline is not a control here).
    if not has_controls("\n".join(texts)):
        return e
    changes: dict[str, object] = {}
    for name in ("title", *_OPTIONAL_TEXT):
        value = getattr(e, name)
        if value is not None and value != (cleaned := strip_controls(value)):
            changes[name] = cleaned
    for name in ("authors", "tags", "categories"):
        values: tuple[str, ...] = getattr(e, name)
        cleaned_values = tuple(strip_controls(v) for v in values)
        if cleaned_values != values:
            changes[name] = cleaned_values
    clean_links = Links(
        abs=strip_controls(links.abs) if links.abs else links.abs,
        pdf=strip_controls(links.pdf) if links.pdf else links.pdf,
        code=strip_controls(links.code) if links.code else links.code,
        other=tuple(strip_controls(v) for v in links.other),
    )
    if clean_links != links:
        changes["links"] = clean_links
    return replace(e, **changes) if changes else e  # type: ignore[arg-type]


_OPTIONAL_TEXT = (
    "arxiv_id",
    "doi",
    "url",
    "abstract",
    "summary",
    "summary_lang",
    "ai_summary",
    "comment",
    "title_alt",
    "announce_type",
    "source_item_id",
)


def _item_key(e: Entry) -> str:
    """One mention per item per source: the source's own id, else its date."""
    if e.source_item_id:
        return e.source_item_id[:300]
    if e.published:
        return e.published.date().isoformat()
    return ""


# -- one document ---------------------------------------------------------------------------


def ingest_document(
    store: Store,
    source: SourceInfo,
    data: bytes,
    *,
    rules: TopicRules,
    now: datetime,
    content_type: str | None = None,
) -> tuple[SourceReport, ParsedDocument]:
    """Parse and store one document for ``source``; raises SourceError when unreadable."""
    ctx = ParseContext(url=source.location, content_type=content_type, fetched_at=now)
    doc = parse_document(data, ctx, kind=source.kind)
    prepared = prepare(doc.entries, source, rules)
    counts = store.store_entries(source, prepared, now=now)
    report = SourceReport(
        name=source.name,
        status="ingested",
        entries=len(doc.entries),
        new=counts.new,
        updated=counts.updated,
        skipped=doc.skipped,
        problems=doc.problems,
        kind=doc.kind,
    )
    return report, doc


# -- polling ----------------------------------------------------------------------------------


@dataclass
class Poller:
    """Polls sources concurrently; parsing and storing happen one source at a time.

    Fetches overlap (the network is the slow part); a lock keeps the store to one writer
    at a time so SQLite never sees competing write transactions from this process.
    """

    store: Store
    fetcher: Fetcher
    rules: TopicRules
    clock: Callable[[], datetime]
    concurrency: int = 32
    on_report: Callable[[SourceReport], None] | None = None
    rng: random.Random = field(default_factory=random.Random)

    async def poll(self, sources: Sequence[SourceInfo]) -> list[SourceReport]:
        gate = asyncio.Semaphore(self.concurrency)
        write_lock = asyncio.Lock()

        async def one(source: SourceInfo) -> SourceReport:
            async with gate:
                report = await self._poll_one(source, write_lock)
            if self.on_report is not None:
                self.on_report(report)
            return report

        return list(await asyncio.gather(*(one(s) for s in sources)))

    async def _poll_one(self, source: SourceInfo, write_lock: asyncio.Lock) -> SourceReport:
        previous = Validators(
            etag=source.etag, last_modified=source.last_modified, body_hash=source.body_hash
        )
        try:
            result = await self.fetcher.fetch(source.location, previous)
        except SourceError as e:
            async with write_lock:
                return await asyncio.to_thread(self._record_failure_safely, source, e)
        async with write_lock:
            try:
                return await asyncio.to_thread(self._ingest, source, result)
            except StoreError as e:  # e.g. the disk is full: this source fails, not the poll
                return await asyncio.to_thread(self._record_failure_safely, source, e)

    def _record_failure_safely(self, source: SourceInfo, error: PaperbotError) -> SourceReport:
        """Record the failure if the database lets us; report it either way."""
        try:
            return self._record_failure(source, error)
        except StoreError as e:
            log.error("source=%r failed: %s; recording that failed too: %s", source.name, error, e)
            return SourceReport(
                name=source.name, status="error", error=str(error), kind=source.kind
            )

    def _ingest(self, source: SourceInfo, result: FetchResult) -> SourceReport:
        now = self.clock()
        next_check = now + timedelta(seconds=max(source.interval_seconds, int(result.max_age or 0)))
        if result.status != "fetched" or result.body is None:
            self._record_fetch(source, result, now=now, next_check=next_check, entries=None)
            unchanged_health = judge_unchanged(source, now=now)
            if unchanged_health is not None:
                self.store.set_health(source.id, health="stale", reason=unchanged_health, now=now)
            elif source.health not in _CONTENT_VERDICTS:  # the same body, the same verdict
                self.store.set_health(source.id, health=None, reason=None, now=now)
            status: Status = "not_modified" if result.status == "not_modified" else "unchanged"
            return SourceReport(name=source.name, status=status, kind=source.kind)
        try:
            report, doc = ingest_document(
                self.store,
                source,
                result.body,
                rules=self.rules,
                now=now,
                content_type=result.content_type,
            )
        except PaperbotError as e:
            return self._record_failure(source, e)
        if doc.ttl_seconds:
            next_check = max(next_check, now + timedelta(seconds=doc.ttl_seconds))
        self._record_fetch(source, result, now=now, next_check=next_check, entries=len(doc.entries))
        health, reason = judge_health(source, doc, now=now, new_papers=report.new)
        self.store.set_health(source.id, health=health, reason=reason, now=now)
        log.info(
            "source=%r kind=%s entries=%d new=%d updated=%d skipped=%d",
            source.name,
            report.kind,
            report.entries,
            report.new,
            report.updated,
            report.skipped,
        )
        return report

    def _record_fetch(
        self,
        source: SourceInfo,
        result: FetchResult,
        *,
        now: datetime,
        next_check: datetime,
        entries: int | None,
    ) -> None:
        """A successful check: the validators for next time; ``entries`` when parsed."""
        self.store.record_fetch(
            source.id,
            now=now,
            etag=result.validators.etag,
            last_modified=result.validators.last_modified,
            body_hash=result.validators.body_hash,
            next_check_at=next_check,
            entry_count=entries,
        )

    def _record_failure(self, source: SourceInfo, error: PaperbotError) -> SourceReport:
        now = self.clock()
        streak = source.consecutive_failures + 1
        # Back off from five minutes, doubling, never past the source's own interval.
        wait = min(RETRY_BASE.total_seconds() * 2 ** (streak - 1), float(source.interval_seconds))
        wait *= 0.5 + self.rng.random() / 2  # jitter: failing sources don't retry in step
        next_check = now + timedelta(seconds=wait)
        if isinstance(error, RetryLater):  # the server said when: not a moment before
            next_check = max(next_check, error.retry_at)
        streak = self.store.record_failure(
            source.id, now=now, error=str(error), next_check_at=next_check
        )
        if streak >= FAILING_AFTER:
            self.store.set_health(
                source.id,
                health="failing",
                reason=f"{streak} failures in a row; last: {error}",
                now=now,
            )
        log.warning("source=%r failed (%d in a row): %s", source.name, streak, error)
        return SourceReport(name=source.name, status="error", error=str(error), kind=source.kind)


def poll_sources(
    store: Store,
    sources: Sequence[SourceInfo],
    *,
    fetch_settings: FetchSettings,
    rules: TopicRules,
    clock: Callable[[], datetime],
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Poll sources now, from synchronous code (the CLI, the scheduler, Slack's ``poll``)."""

    async def go() -> list[SourceReport]:
        async with Fetcher(settings=fetch_settings) as fetcher:
            poller = Poller(
                store=store, fetcher=fetcher, rules=rules, clock=clock, on_report=on_report
            )
            return await poller.poll(sources)

    return asyncio.run(go())


def fetch_settings_for(settings: Settings) -> FetchSettings:
    """The fetcher's settings as the operator configured them."""
    base = FetchSettings()
    return replace(
        base,
        allow_private=settings.allow_private_networks,
        user_agent=settings.user_agent or base.user_agent,
    )


def judge_health(
    source: SourceInfo, doc: ParsedDocument, *, now: datetime, new_papers: int | None = None
) -> tuple[str | None, str | None]:
    """A source that answered may still be unwell. Pure; ``new_papers`` is what storing found.

    On an arXiv announcement day (not a skip day, not a weekend) a listing must bring
    papers: an empty one is flagged ``empty``; one whose "new" announcements are all papers
    the store already has is flagged ``stale`` (the feed repeats an earlier batch, e.g. the
    same ids under a new date). Papers announced "new" today cannot be known yet, unless an
    arXiv API source for the same category was polled first: the reason says so.
    """
    quiet = doc.empty_expected or now.weekday() >= 5
    if doc.kind is not SourceKind.ARXIV or quiet:
        return None, None
    if not doc.entries:
        return "empty", "the arXiv listing was empty on a weekday"
    announced = sum(1 for e in doc.entries if e.announce_type == "new")
    if announced and new_papers == 0:
        return "stale", (
            f"the arXiv listing repeats papers already stored: none of its {announced} "
            "new announcements is a new paper (an earlier batch served again?)"
        )
    return None, None


# arXiv rebuilds its listings at midnight US Eastern before each announcement day; a
# listing that has not changed a couple of hours after that repeats the previous batch.
ARXIV_ZONE = ZoneInfo("America/New_York")
ARXIV_REBUILD_GRACE = timedelta(hours=2)


def judge_unchanged(source: SourceInfo, *, now: datetime) -> str | None:
    """Why an arXiv listing whose body did not change is stale, or None. Pure.

    Listings change on every announcement day (Monday to Friday, US Eastern). When the
    body is byte-for-byte the one parsed before the latest rebuild, the feed is serving
    yesterday's batch again. A holiday looks the same, so the reason says "possibly".
    """
    if source.kind is not SourceKind.ARXIV or source.content_changed_at is None:
        return None
    local = now.astimezone(ARXIV_ZONE)
    if local.weekday() >= 5:
        return None
    rebuild = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if local - rebuild < ARXIV_REBUILD_GRACE or source.content_changed_at >= rebuild:
        return None
    since = source.content_changed_at.astimezone(ARXIV_ZONE).strftime("%a %d %b")
    return (
        f"the arXiv listing has not changed since {since}: it repeats the previous batch "
        "(possibly an arXiv holiday)"
    )


# Verdicts about a document's content: an unchanged body keeps them.
_CONTENT_VERDICTS = frozenset({"empty", "stale"})
