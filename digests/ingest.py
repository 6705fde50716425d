"""The ingest pipeline, per source: fetch -> parse -> prepare -> store, with a report.

``prepare`` is pure: each entry's identities and tags. Every source gets a ``SourceReport``;
one failing source never stops the others and its error is kept on it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from digests.errors import PaperbotError, RetryLater, SourceError, StoreError
from digests.fetch import Fetcher, FetchResult, FetchSettings, Validators
from digests.identity import TITLE_SOURCE_BY_KIND
from digests.model import (
    Entry,
    Links,
    ParseContext,
    ParsedDocument,
    PreparedEntry,
    SourceInfo,
    SourceKind,
    StoreCounts,
    TagRef,
)
from digests.normalize import (
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
from digests.store import FetchRecord, HealthVerdict, Store
from digests.topics import RULE_ORIGIN, TopicRules

_new_loop: Callable[[], asyncio.AbstractEventLoop] | None
try:  # libuv's event loop: the same asyncio, less CPU per socket event; not on Windows
    from uvloop import new_event_loop as _new_loop
except ImportError:  # pragma: no cover - Windows: asyncio's own loop
    _new_loop = None

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


def prepare(
    entries: Sequence[Entry],
    source: SourceInfo,
    rules: TopicRules,
    *,
    kind: SourceKind | None = None,
) -> list[PreparedEntry]:
    """Identities and tags for each entry. Pure: no I/O, no clock.

    ``kind`` is the document's, as parsed (a source may leave its kind to detection):
    it says how authoritative the entries' titles are.
    """
    origin = f"source:{source.name}"
    doc_kind = kind or source.kind
    title_source = TITLE_SOURCE_BY_KIND.get(doc_kind) if doc_kind else None
    source_tags = [t for t in (normalize_tag(x) for x in source.tags) if t is not None]
    # A document repeats a few dozen tags: each TagRef is made once and shared (frozen).
    made: dict[tuple[str, str, str, str], TagRef] = {}
    out: list[PreparedEntry] = []
    for e in map(_without_controls, entries):
        found = [(t, "tag", origin) for t in map(normalize_tag, e.tags) if t is not None]
        if not e.signals.related:
            # A related-papers list is not the source's own pick: its tags don't apply.
            found += [(t, "tag", origin) for t in source_tags]
        found += [
            (t, "category", "category") for t in map(normalize_tag, e.categories) if t is not None
        ]
        found += [
            (t, "topic", RULE_ORIGIN)
            for t in rules.topics_for(e.title, e.abstract, e.summary, e.ai_summary)
        ]
        refs: dict[tuple[str, str], TagRef] = {}
        for tag, tag_kind, tag_origin in found:
            if (tag.slug, tag_origin) not in refs:
                key = (tag.slug, tag.display, tag_kind, tag_origin)
                ref = made.get(key)
                if ref is None:
                    ref = made[key] = TagRef(tag.slug, tag.display, tag_kind, tag_origin)
                refs[tag.slug, tag_origin] = ref
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
                title_source=title_source,
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
    prepared = prepare(doc.entries, source, rules, kind=doc.kind)
    counts = store.store_entries(source, prepared, now=now)
    return ingested_report(source, doc, counts), doc


def ingested_report(source: SourceInfo, doc: ParsedDocument, counts: StoreCounts) -> SourceReport:
    """What storing one parsed document of ``source`` did."""
    return SourceReport(
        name=source.name,
        status="ingested",
        entries=len(doc.entries),
        new=counts.new,
        updated=counts.updated,
        skipped=doc.skipped,
        problems=doc.problems,
        kind=doc.kind,
    )


# -- polling ----------------------------------------------------------------------------------


# A batch of checks is written in one transaction: at most this many sources...
WRITE_BATCH_SOURCES = 100
# ...and documents of at most about this many bytes in all (a large listing goes alone).
WRITE_BATCH_BYTES = 1024 * 1024
# Checks arriving this many seconds after the first of a batch still join it.
WRITE_LINGER = 0.05
# Fetched bodies may wait for the writer up to this many bytes in all without holding a
# fetch slot; past it, a body keeps its slot until written, so fetching slows down.
PENDING_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _Checked:
    """One source's fetch on its way to the store: a result or an error, then its parse."""

    index: int  # the source's place in the poll, and so its report's
    source: SourceInfo
    result: FetchResult | None
    error: PaperbotError | None  # the fetch's, or the parse's
    doc: ParsedDocument | None = None  # a changed body, parsed
    prepared: list[PreparedEntry] | None = None
    # Set once written: a body over the pending budget keeps its fetch slot until then.
    written: asyncio.Event = field(default_factory=asyncio.Event)
    budgeted: int = 0  # bytes of the pending budget this body holds until written

    @property
    def size(self) -> int:
        body = self.result.body if self.result is not None else None
        return len(body) if body is not None else 0


@dataclass(frozen=True, slots=True)
class _Written:
    """A source's report, and the log line to emit once what it says is committed."""

    report: SourceReport
    level: int = logging.DEBUG
    message: str = ""
    args: tuple[object, ...] = ()

    def log(self) -> None:
        if self.message:
            log.log(self.level, self.message, *self.args)


@dataclass
class Poller:
    """Polls sources concurrently; one writer records what the fetches brought, in batches.

    Fetches overlap; a batch of what has arrived is parsed and prepared in one thread
    while the previous batch is written in one transaction by the one writer. A batch the
    database refuses is written again a source at a time, so one bad document fails alone.
    Bodies waiting for the writer hold at most ``pending_bytes``; past that, fetching
    slows to the writer's pace.
    """

    store: Store
    fetcher: Fetcher
    rules: TopicRules
    clock: Callable[[], datetime]
    concurrency: int = 32
    on_report: Callable[[SourceReport], None] | None = None
    rng: random.Random = field(default_factory=random.Random)
    write_batch: int = WRITE_BATCH_SOURCES  # 1 = every source in its own transaction
    write_batch_bytes: int = WRITE_BATCH_BYTES
    pending_bytes: int = PENDING_BYTES
    write_linger: float = WRITE_LINGER
    # What each parse and write batch runs inside: a one-shot command may pause the cycle
    # collector there (digests.gcpause); a server, whose other threads share it, does not.
    around_batch: Callable[[], AbstractContextManager[object]] = nullcontext

    async def poll(self, sources: Sequence[SourceInfo]) -> list[SourceReport]:
        gate = asyncio.Semaphore(self.concurrency)
        budget = _Budget(self.pending_bytes)
        arrived: asyncio.Queue[_Checked | Exception] = asyncio.Queue()
        tasks = [
            asyncio.create_task(self._check(i, source, gate, budget, arrived))
            for i, source in enumerate(sources)
        ]
        # One parsed batch waits for the writer at most: parsing runs one batch ahead.
        parsed: asyncio.Queue[tuple[list[_Checked], datetime]] = asyncio.Queue(maxsize=1)
        reports: list[SourceReport | None] = [None] * len(sources)

        async def parse_all() -> None:
            waiting = len(sources)
            while waiting:
                batch = await _next_batch(
                    arrived,
                    self.write_batch,
                    self.write_batch_bytes,
                    expected=waiting,
                    linger=self.write_linger,
                )
                now = self.clock()
                await asyncio.to_thread(self._parse_around, batch, now)
                await parsed.put((batch, now))
                waiting -= len(batch)

        async def write_all() -> None:
            waiting = len(sources)
            while waiting:
                batch, now = await parsed.get()
                written = await asyncio.to_thread(self._write_around, batch, now)
                for item, report in zip(batch, written, strict=True):
                    reports[item.index] = report
                    budget.left += item.budgeted
                    item.written.set()
                    if self.on_report is not None:
                        self.on_report(report)
                waiting -= len(batch)

        stages = [asyncio.create_task(parse_all()), asyncio.create_task(write_all())]
        try:
            done, _ = await asyncio.wait(stages, return_when=asyncio.FIRST_EXCEPTION)
            for stage in done:
                stage.result()  # an unexpected error in a stage stops the poll with it
        finally:
            for task in (*stages, *tasks):
                task.cancel()
            await asyncio.gather(*stages, *tasks, return_exceptions=True)
        return [r for r in reports if r is not None]

    async def _check(
        self,
        index: int,
        source: SourceInfo,
        gate: asyncio.Semaphore,
        budget: _Budget,
        arrived: asyncio.Queue[_Checked | Exception],
    ) -> None:
        previous = Validators(
            etag=source.etag, last_modified=source.last_modified, body_hash=source.body_hash
        )
        async with gate:
            try:
                result = await self.fetcher.fetch(source.location, previous)
            except SourceError as e:
                arrived.put_nowait(_Checked(index, source, None, e))
                return
            except Exception as e:  # a bug, not a source's fault: the poll stops with it
                arrived.put_nowait(e)
                return
            item = _Checked(index, source, result, None)
            size = item.size
            holds_slot = size > 0 and size > budget.left
            if size and not holds_slot:
                budget.left -= size
                item.budgeted = size
            arrived.put_nowait(item)
            if holds_slot:
                await item.written.wait()

    # -- parsing and writing (each in a worker thread) -----------------------------------

    def _parse_around(self, batch: Sequence[_Checked], now: datetime) -> None:
        with self.around_batch():
            self._parse(batch, now)

    def _write_around(self, batch: Sequence[_Checked], now: datetime) -> list[SourceReport]:
        with self.around_batch():
            return self._write(batch, now)

    def _parse(self, batch: Sequence[_Checked], now: datetime) -> None:
        """Parse and prepare the batch's changed documents. No database work."""
        for item in batch:
            result = item.result
            if result is None or result.status != "fetched" or result.body is None:
                continue
            source = item.source
            ctx = ParseContext(
                url=source.location, content_type=result.content_type, fetched_at=now
            )
            try:
                doc = parse_document(result.body, ctx, kind=source.kind)
                item.prepared = prepare(doc.entries, source, self.rules, kind=doc.kind)
            except PaperbotError as e:
                item.error = e
                continue
            item.doc = doc
            item.result = replace(result, body=None)  # parsed: the bytes are not needed

    def _write(self, batch: Sequence[_Checked], now: datetime) -> list[SourceReport]:
        """Record a batch in one transaction; if the database refuses it, one by one."""
        if len(batch) == 1:
            return [self._write_alone(batch[0], now)]
        try:
            with self.store.transaction():
                written = self._record(batch, now)
        except StoreError as e:
            log.warning(
                "recording %d sources in one transaction failed (%s); one at a time now",
                len(batch),
                e,
            )
            return [self._write_alone(item, now) for item in batch]
        for w in written:
            w.log()
        return [w.report for w in written]

    def _write_alone(self, item: _Checked, now: datetime) -> SourceReport:
        try:
            with self.store.transaction():
                [written] = self._record([item], now)
        except StoreError as e:  # e.g. the disk is full: this source fails, not the poll
            if item.error is not None:  # a fetch failure that could not be recorded
                log.error(
                    "source=%r failed: %s; recording that failed too: %s",
                    item.source.name,
                    item.error,
                    e,
                )
                return _error_report(item.source, item.error)
            return self._record_failure_safely(item.source, e, now)
        written.log()
        return written.report

    def _record_failure_safely(
        self, source: SourceInfo, error: PaperbotError, now: datetime
    ) -> SourceReport:
        """Record the failure if the database lets us; report it either way."""
        try:
            with self.store.transaction():
                written = self._record_failure(source, error, now=now)
        except StoreError as e:
            log.error("source=%r failed: %s; recording that failed too: %s", source.name, error, e)
            return _error_report(source, error)
        written.log()
        return written.report

    def _record(self, batch: Sequence[_Checked], now: datetime) -> list[_Written]:
        """Everything the batch brought, inside the caller's transaction.

        The changed documents are stored together (``Store.store_documents``): a few
        statements for the batch, not a few per document.
        """
        written: list[_Written | None] = []
        fetches: list[FetchRecord] = []
        verdicts: list[HealthVerdict] = []
        changed: list[tuple[int, _Checked, datetime]] = []  # place in written, item, next check
        for item in batch:
            source, result, doc = item.source, item.result, item.doc
            if item.error is not None:
                written.append(self._record_failure(source, item.error, now=now))
                continue
            assert result is not None
            next_check = now + timedelta(
                seconds=max(source.interval_seconds, int(result.max_age or 0))
            )
            if doc is None:
                assert result.status != "fetched", "a fetched body is parsed before writing"
                fetches.append(_fetch_record(source, result, next_check, entries=None))
                unchanged_health = judge_unchanged(source, now=now)
                if unchanged_health is not None:
                    verdicts.append(HealthVerdict(source.id, "stale", unchanged_health))
                elif source.health not in _CONTENT_VERDICTS:  # the same body, the same verdict
                    verdicts.append(HealthVerdict(source.id, None, None))
                status: Status = "not_modified" if result.status == "not_modified" else "unchanged"
                written.append(
                    _Written(SourceReport(name=source.name, status=status, kind=source.kind))
                )
                continue
            assert item.prepared is not None
            changed.append((len(written), item, next_check))
            written.append(None)
        # A StoreError here spoils the transaction: the caller writes the batch again.
        stored = self.store.store_documents(
            [(item.source, item.prepared or []) for _, item, _ in changed], now=now
        )
        for (place, item, interval_check), counts in zip(changed, stored, strict=True):
            source, result, doc = item.source, item.result, item.doc
            assert result is not None and doc is not None
            report = ingested_report(source, doc, counts)
            next_check = interval_check
            if doc.ttl_seconds:
                next_check = max(next_check, now + timedelta(seconds=doc.ttl_seconds))
            fetches.append(_fetch_record(source, result, next_check, entries=len(doc.entries)))
            health, reason = judge_health(source, doc, now=now, new_papers=report.new)
            verdicts.append(HealthVerdict(source.id, health, reason))
            written[place] = _Written(
                report,
                logging.INFO,
                "source=%r kind=%s entries=%d new=%d updated=%d skipped=%d",
                (
                    source.name,
                    report.kind,
                    report.entries,
                    report.new,
                    report.updated,
                    report.skipped,
                ),
            )
        self.store.record_fetches(fetches, now=now)
        self.store.set_healths(verdicts, now=now)
        done = [w for w in written if w is not None]
        assert len(done) == len(batch)
        return done

    def _record_failure(
        self, source: SourceInfo, error: PaperbotError, *, now: datetime
    ) -> _Written:
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
            reason = f"{streak} failures in a row; last: {error}"
            self.store.set_healths([HealthVerdict(source.id, "failing", reason)], now=now)
        return _Written(
            _error_report(source, error),
            logging.WARNING,
            "source=%r failed (%d in a row): %s",
            (source.name, streak, error),
        )


@dataclass(slots=True)
class _Budget:
    """Bytes of fetched bodies that may still wait for the writer without a fetch slot."""

    left: int


async def _next_batch(
    arrived: asyncio.Queue[_Checked | Exception],
    most: int,
    most_bytes: int,
    *,
    expected: int,
    linger: float,
) -> list[_Checked]:
    """The next checks to write: at least one (waiting for it), then what arrives soon.

    While the batch holds no document, checks that arrive within ``linger`` seconds of
    the first join it (none is waited for once ``expected`` are in): a trickle of
    unchanged sources is written in a few transactions rather than one each, and a
    changed document is never held back.
    """
    batch: list[_Checked] = []
    size = 0
    until = 0.0
    loop = asyncio.get_running_loop()
    while len(batch) < min(most, expected) and size < most_bytes:
        if not batch:
            item = await arrived.get()
            until = loop.time() + linger
        elif not arrived.empty():
            item = arrived.get_nowait()
        elif size == 0 and (left := until - loop.time()) > 0:
            try:
                async with asyncio.timeout(left):
                    item = await arrived.get()
            except TimeoutError:
                break
        else:
            break
        if isinstance(item, Exception):
            raise item
        batch.append(item)
        size += item.size
    return batch


def _fetch_record(
    source: SourceInfo, result: FetchResult, next_check: datetime, *, entries: int | None
) -> FetchRecord:
    """A successful check: the validators for next time; ``entries`` when parsed."""
    return FetchRecord(
        source_id=source.id,
        etag=result.validators.etag,
        last_modified=result.validators.last_modified,
        body_hash=result.validators.body_hash,
        next_check_at=next_check,
        entry_count=entries,
    )


def _error_report(source: SourceInfo, error: PaperbotError) -> SourceReport:
    return SourceReport(name=source.name, status="error", error=str(error), kind=source.kind)


def poll_sources(
    store: Store,
    sources: Sequence[SourceInfo],
    *,
    fetch_settings: FetchSettings,
    rules: TopicRules,
    clock: Callable[[], datetime],
    on_report: Callable[[SourceReport], None] | None = None,
    around_batch: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> list[SourceReport]:
    """Poll sources now, from synchronous code (the CLI, the scheduler, Slack's ``poll``)."""

    async def go() -> list[SourceReport]:
        async with Fetcher(settings=fetch_settings) as fetcher:
            poller = Poller(
                store=store,
                fetcher=fetcher,
                rules=rules,
                clock=clock,
                on_report=on_report,
                around_batch=around_batch,
            )
            return await poller.poll(sources)

    return run_loop(go())


_T = TypeVar("_T")


def run_loop(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to the end on a loop made for it (uvloop's where installed: less CPU
    per socket event); no event-loop policy of the process is changed."""
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        return runner.run(main)


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
