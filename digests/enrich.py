"""Completing papers known by arXiv id from the arXiv API, politely, in the background.

::

    enrich = papers to ask about (store) | batches of <= 100 ids | fetch (one kept-alive
             connection, >= 3 s apart) | parse (the arXiv API parser) | prepare (categories,
             topics; the title's authority is arXiv's) | record (store: no mention)

Curated lists, paper notes and Hugging Face know many papers by arXiv id without their
authors, abstract or categories, or by a short name only ("MEM1"). A run asks arXiv about
each such paper once (the store stamps it, known to arXiv or not); the scheduler starts
one after its polls, on its own thread, and ``paperbot enrich`` runs one at once. A run is
bounded in time. When arXiv cannot be reached the run stops, nothing is stamped (it is
asked again next time), and it is said once until arXiv answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from digests.errors import ArxivApiError, ConfigError, FetchError, ParseError
from digests.fetch import Fetcher, FetchSettings, Resolver
from digests.ingest import fetch_settings_for, prepare, run_loop
from digests.model import ParseContext, PreparedEntry, SourceInfo, SourceKind
from digests.settings import DEFAULT_ARXIV_API_URL, Settings
from digests.sources.feeds import parse_arxiv_api
from digests.store import Store
from digests.topics import TopicRules

__all__ = ["EnrichReport", "EnrichSettings", "Enricher", "enrich_settings_for"]

log = logging.getLogger(__name__)

# arXiv's API asks for at most this many ids a request when it is asked often.
MAX_BATCH = 100


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    """How a run talks to the arXiv API. Every value is checked when the object is built."""

    api_url: str = DEFAULT_ARXIV_API_URL
    batch_size: int = MAX_BATCH  # ids a request
    interval: float = 3.0  # seconds at least between the end of a request and the next
    budget: float = 120.0  # seconds a run may go on starting requests; the rest waits

    def __post_init__(self) -> None:
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"arXiv API address {self.api_url!r} is not an http(s) URL")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigError(f"enrichment batch size must be 1..{MAX_BATCH}")
        if self.interval < 0 or self.budget <= 0:
            raise ConfigError("enrichment interval must be >= 0 and its budget positive")

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).hostname or ""


def enrich_settings_for(settings: Settings) -> EnrichSettings:
    """The API address as the operator set it, the polite defaults for the rest."""
    return EnrichSettings(api_url=settings.arxiv_api_url)


@dataclass(frozen=True, slots=True)
class EnrichReport:
    """What one run did."""

    asked: int = 0  # ids asked about and stamped, known to arXiv or not
    requests: int = 0
    completed: tuple[tuple[str, str], ...] = ()  # (arXiv id, title) of papers that gained
    unknown: tuple[str, ...] = ()  # ids arXiv does not know
    left: int = 0  # ids chosen but not asked (out of time, stopped, arXiv unreachable)
    failure: str | None = None  # why the run stopped early: arXiv could not be reached
    seconds: float = 0.0


# The API as ``prepare`` sees a source: never stored, it makes no mention of its own.
_API_SOURCE = SourceInfo(
    id=0,
    name="arXiv API",
    location=DEFAULT_ARXIV_API_URL,
    kind=SourceKind.ARXIV_API,
    interval_seconds=0,
    tags=(),
    origin="enrich",
    enabled=True,
    created_at=datetime(1970, 1, 1, tzinfo=UTC),
)


@dataclass
class _Run:
    started: float
    create: bool = False  # records of ids no paper holds become papers
    asked: int = 0
    requests: int = 0
    completed: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    left: int = 0
    failure: str | None = None


class Enricher:
    """Runs enrichment; keep one per process so that an outage is reported once.

    ``transport`` / ``resolver`` / ``monotonic`` are the fetcher's seams for tests;
    ``say_offline`` hears the one line an outage gives (a log warning by default).
    """

    def __init__(
        self,
        store: Store,
        *,
        fetch: FetchSettings,
        rules: TopicRules,
        clock: Callable[[], datetime],
        settings: EnrichSettings | None = None,
        resolver: Resolver | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        say_offline: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or EnrichSettings()
        host = self.settings.host
        # One connection at a time, kept open; the host's turn is the fetcher's politeness
        # (the stricter of this interval and arXiv's own 3 s where the host is arXiv's);
        # no redirect, so the kept connection never serves another name.
        self._fetch = replace(
            fetch,
            max_connections=1,
            max_redirects=0,
            host_intervals={**fetch.host_intervals, host: self.settings.interval},
        )
        self._rules = rules
        self._clock = clock
        self._resolver = resolver
        self._monotonic = monotonic
        self._say_offline = say_offline or _log_offline
        self._lock = threading.Lock()
        self._offline = False

    @classmethod
    def for_settings(
        cls, store: Store, settings: Settings, *, rules: TopicRules, clock: Callable[[], datetime]
    ) -> Enricher:
        return cls(
            store,
            fetch=fetch_settings_for(settings),
            rules=rules,
            clock=clock,
            settings=enrich_settings_for(settings),
        )

    def run(
        self,
        *,
        limit: int = 1000,
        stop: threading.Event | None = None,
        on_chosen: Callable[[int], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> EnrichReport:
        """Ask arXiv about up to ``limit`` papers that need it; ``stop`` ends the run
        between requests. ``on_chosen`` hears how many were chosen, ``on_batch`` how
        many ids each answered request settled."""
        ids = self.store.papers_to_enrich(limit=limit)
        if on_chosen is not None:
            on_chosen(len(ids))
        return self._run(ids, create=False, stop=stop, on_batch=on_batch)

    def add_papers(
        self, arxiv_ids: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> EnrichReport:
        """Ask arXiv about these ids and store each one it knows as a paper, if no paper
        holds it yet (a library imported into a channel's profile names papers no source
        brought). Like any enrichment it writes no mention: a paper that arrives this way
        counts as no source's, and a week's ranking never sees it unless a source names it.
        """
        ids = list(dict.fromkeys(arxiv_ids))
        return self._run(ids, create=True, stop=None, on_batch=on_batch)

    def _run(
        self,
        ids: Sequence[str],
        *,
        create: bool,
        stop: threading.Event | None,
        on_batch: Callable[[int], None] | None,
    ) -> EnrichReport:
        if not ids:
            return EnrichReport()
        run = _Run(started=self._monotonic(), create=create)
        run_loop(self._ask_all(ids, run, stop or threading.Event(), on_batch))
        self._tell(run)
        report = EnrichReport(
            asked=run.asked,
            requests=run.requests,
            completed=tuple(run.completed.items()),
            unknown=tuple(run.unknown),
            left=run.left,
            failure=run.failure,
            seconds=self._monotonic() - run.started,
        )
        log.info(
            "enrichment: asked arXiv about %d papers in %d requests, %d completed, "
            "%d unknown to arXiv, %d left, %.1fs",
            report.asked,
            report.requests,
            len(report.completed),
            len(report.unknown),
            report.left,
            report.seconds,
        )
        return report

    async def _ask_all(
        self,
        ids: Sequence[str],
        run: _Run,
        stop: threading.Event,
        on_batch: Callable[[int], None] | None,
    ) -> None:
        size = self.settings.batch_size
        queue = deque(list(ids[i : i + size]) for i in range(0, len(ids), size))
        async with Fetcher(
            settings=self._fetch, resolver=self._resolver, keep_alive=True
        ) as fetcher:
            while queue:
                # The next request may start only after the interval: within the budget.
                wait = self.settings.interval if run.requests else 0.0
                if stop.is_set() or self._monotonic() + wait - run.started >= self.settings.budget:
                    break
                batch = queue.popleft()
                url = self._url(batch)
                run.requests += 1
                try:
                    result = await fetcher.fetch(url)
                    if result.body is None:
                        raise FetchError("the arXiv API sent no body", url=url)
                    ctx = ParseContext(
                        url=url, content_type=result.content_type, fetched_at=result.fetched_at
                    )
                    doc = parse_arxiv_api(result.body, ctx)
                except ArxivApiError as e:
                    # One id arXiv refuses spoils its whole request: halve until it is alone.
                    if len(batch) > 1:
                        half = len(batch) // 2
                        queue.extendleft([batch[half:], batch[:half]])
                        continue
                    log.info("arXiv refuses id %s: %s", batch[0], e)
                    self._record(run, batch, ())
                    if on_batch is not None:
                        on_batch(1)
                    continue
                except (FetchError, ParseError) as e:
                    queue.appendleft(batch)
                    # The message without the request's address: a hundred ids long.
                    run.failure = str(e.args[0]) if e.args else str(e)
                    break
                wanted = set(batch)
                found = [e for e in doc.entries if e.arxiv_id in wanted and e.title]
                prepared = [
                    replace(p, title_source="arxiv")
                    for p in prepare(found, _API_SOURCE, self._rules)
                ]
                self._record(run, batch, prepared)
                if on_batch is not None:
                    on_batch(len(batch))
        run.left = sum(len(b) for b in queue)

    def _record(self, run: _Run, batch: Sequence[str], prepared: Sequence[PreparedEntry]) -> None:
        changed = self.store.record_enrichment(
            prepared, batch, now=self._clock(), create=run.create
        )
        run.completed.update(changed)
        known = {p.entry.arxiv_id for p in prepared}
        run.unknown.extend(i for i in batch if i not in known)
        run.asked += len(batch)

    def _url(self, batch: Sequence[str]) -> str:
        query = urlencode({"id_list": ",".join(batch), "max_results": str(len(batch))})
        base = self.settings.api_url
        return f"{base}{'&' if '?' in base else '?'}{query}"

    def _tell(self, run: _Run) -> None:
        """An outage is said once, when it begins; arXiv answering again ends it."""
        with self._lock:
            if run.failure is not None:
                if not self._offline:
                    self._say_offline(
                        f"arXiv API unreachable: {run.failure}. Papers keep what their "
                        "sources gave and are asked about again later."
                    )
                self._offline = True
            elif run.requests and self._offline:
                log.info("arXiv API answers again: enrichment goes on")
                self._offline = False


def _log_offline(message: str) -> None:
    log.warning("%s", message)
