"""Builds the weekly digest: week bounds | candidates | filter | rank | summarize | archive.

Everything but the store calls is pure; ``now`` is passed in. Rendering is separate
(``digests.render``): the same Digest becomes Slack messages or terminal text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from digests.identity import display_title
from digests.model import (
    Candidate,
    Digest,
    DigestItem,
    Links,
    Narrowing,
    SourceHealth,
    SummaryText,
)
from digests.profile import (
    Profile,
    ProfilePaper,
    ProfileScores,
    Terms,
    WeekSignatures,
    build_profile,
    paper_of,
    strongest_terms,
)
from digests.query import Query
from digests.rank import (
    DEFAULT_WEIGHTS,
    NEWS_LAG,
    PreparedWeek,
    RankWeights,
    Scored,
    prepare_week,
    rank,
    rank_prepared,
)
from digests.store import Store, WeekMatcher
from digests.summarize import ExtractiveSummarizer, Summarizer
from digests.weeks import IsoWeek, week_bounds

log = logging.getLogger(__name__)


class StoreSummaryCache:
    """The summary cache in the database: a paper is summarized by a model only once."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def get(self, key: str) -> str | None:
        return self._store.cached_summary(key)

    def put(self, key: str, text: str) -> None:
        self._store.cache_summary(key, text, now=self._clock())


@dataclass(frozen=True, slots=True)
class DigestRequest:
    """What to build: a week, a zone, an optional filter and where it will go."""

    week: IsoWeek
    tz: str = "UTC"
    query: Query | None = None
    top: int = 10
    lang: str | None = None  # "ja" / "en": prefer summaries in this language
    summary_chars: int = 280
    # Where it goes: papers already posted to this channel in another week are left out.
    team_id: str | None = None
    channel_id: str | None = None
    subscription_id: int | None = None
    # A subscription only covers papers first announced on or after this (less the days
    # news runs behind arXiv, ``rank.NEWS_LAG``): its first week's start.
    not_before: datetime | None = None
    # The channel's interest profile (``load_profiles``): its muted papers are left out and
    # its score is a ranking signal. None or empty: ranked as without one.
    profile: Profile | None = None


@dataclass(frozen=True, slots=True)
class WeekContext:
    """What every digest of one week shares: its candidates, their filter-independent
    ranking features and the sources' health. Build it once with ``WeekContext.load`` and
    pass it to ``build_digest`` for each subscription; it is never modified."""

    week: IsoWeek
    tz: str
    start: datetime
    end: datetime
    candidates: tuple[Candidate, ...]
    prepared: PreparedWeek
    sources: tuple[SourceHealth, ...]
    # Evaluates each digest's filter over this week, every term looked up once; without
    # it each digest runs ``Store.match_ids``. The same papers either way.
    matcher: WeekMatcher | None = field(default=None, compare=False, repr=False)
    # Each candidate's first announcement, by paper id: which papers a digest may show.
    announced: dict[int, datetime] = field(init=False, compare=False, repr=False)
    # The week's signatures for channel profiles, made on first use (most weeks' digests
    # have no profile) and shared by every digest of the week.
    profiles: WeekProfiles = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "announced", {c.paper.paper_id: c.announced_at for c in self.candidates}
        )
        object.__setattr__(self, "profiles", WeekProfiles(self.candidates))

    @classmethod
    def load(
        cls,
        store: Store,
        week: IsoWeek,
        tz: str = "UTC",
        *,
        now: datetime,
        weights: RankWeights = DEFAULT_WEIGHTS,
        candidates: Sequence[Candidate] | None = None,
    ) -> WeekContext:
        """Load the week from the store (or take ``candidates`` already loaded for it)."""
        start, end = week_bounds(week, tz)
        pool = tuple(store.week_candidates(start, end) if candidates is None else candidates)
        prepared = prepare_week(pool, now=now, week_start=start, week_end=end, weights=weights)
        sources = tuple(store.source_health(start, end))
        matcher = store.week_matcher(start, end)
        return cls(week, tz, start, end, pool, prepared, sources, matcher)

    def match_ids(self, store: Store, query: Query) -> set[int]:
        """The week's papers a query's filter matches (``Store.match_ids``)."""
        if self.matcher is not None:
            return self.matcher.match_ids(query)
        return store.match_ids(query, start=self.start, end=self.end)

    def check(self, request: DigestRequest, *, now: datetime, weights: RankWeights) -> None:
        """Raise ValueError when this context was built for another week, zone, clock or
        weights than the digest asks for: its features would not be the ones to use."""
        if (request.week, request.tz) != (self.week, self.tz):
            raise ValueError(
                f"week context is for {self.week.label} {self.tz}, "
                f"the digest for {request.week.label} {request.tz}"
            )
        if now != self.prepared.now or weights != self.prepared.weights:
            raise ValueError("week context was prepared with another now or other weights")


class WeekProfiles:
    """Profiles scored over one week: the week's signatures (``WeekSignatures``) built
    once, on first use, and each outside paper's signature made once for all channels.
    Thread-safe."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self._candidates = candidates
        self._lock = threading.Lock()
        self._week: WeekSignatures | None = None
        self._outside: dict[int, Terms] = {}

    def score(self, profile: Profile, paper_ids: Collection[int]) -> ProfileScores | None:
        """The profile's scores over the week's ``paper_ids``; None without liked papers."""
        if not profile.liked:
            return None
        with self._lock:
            if self._week is None:
                self._week = WeekSignatures.build([paper_of(c) for c in self._candidates])
            week = self._week
            missing = [
                profile.papers[pid]
                for pid in profile.paper_ids
                if pid not in week.row and pid not in self._outside
            ]
            self._outside.update(week.outside(missing))
            outside = {pid: self._outside[pid] for pid in profile.paper_ids if pid not in week.row}
        return week.score(profile, outside, paper_ids)


def load_profiles(
    store: Store,
    channels: Sequence[tuple[str, str]],
    *,
    now: datetime,
    week_ids: Collection[int] = (),
    papers: dict[int, ProfilePaper] | None = None,
) -> dict[tuple[str, str], Profile]:
    """The profiles of many channels (team_id, channel_id), read in one go: their verdicts
    and the text of every paper they name. A channel without verdicts gets an empty one.
    ``week_ids``: the papers of the week the digests are for, read by title alone (the
    week's signatures already hold their text). ``papers``: the papers read so far, for
    a caller reading many batches of channels (a fan-out's chunks): each paper is read
    once, and the new ones are added to it."""
    verdicts = store.channel_feedback(channels)
    ids = {v.paper_id for found in verdicts.values() for v in found}
    known = {} if papers is None else papers
    known.update(store.profile_papers((i for i in ids if i not in known), titles_only=week_ids))
    return {c: build_profile(c, verdicts.get(c, ()), known, now=now) for c in channels}


@dataclass(frozen=True, slots=True)
class ProfileReport:
    """What a channel's profile learned, for people: ``paperbot profile show`` and
    ``/paper profile``."""

    channel: tuple[str, str]
    liked: tuple[tuple[str, int], ...]  # (title, net votes), strongest first
    muted: tuple[str, ...]  # titles
    terms: tuple[str, ...]
    changed_at: datetime | None
    reset_at: datetime | None

    @property
    def empty(self) -> bool:
        return not self.liked and not self.muted


def profile_report(store: Store, channel: tuple[str, str], *, now: datetime) -> ProfileReport:
    """The channel's profile as ``ProfileReport``: liked and muted papers, the strongest
    terms and when it last changed (or was reset)."""
    profile = load_profiles(store, [channel], now=now)[channel]
    state = store.profile_state(*channel)
    muted = sorted(profile.muted, key=lambda pid: pid)
    return ProfileReport(
        channel=channel,
        liked=tuple((profile.papers[x.paper_id].title, x.votes) for x in profile.liked),
        muted=tuple(
            profile.papers[pid].title if pid in profile.papers else f"paper {pid} (gone)"
            for pid in muted
        ),
        terms=tuple(strongest_terms(profile)),
        changed_at=state.changed_at if state is not None else None,
        reset_at=state.reset_at if state is not None else None,
    )


def summary_texts(candidate: Candidate) -> list[SummaryText]:
    """Every text a summary can be made from, each with its origin and language."""
    texts: list[SummaryText] = []
    for m in candidate.mentions:
        if m.summary:
            texts.append(SummaryText(m.summary, "source", m.summary_lang))
        if m.ai_summary:
            texts.append(SummaryText(m.ai_summary, "ai", "en"))
    if candidate.abstract:
        texts.append(SummaryText(candidate.abstract, "abstract", None))
    for m in candidate.mentions:
        if m.comment:
            texts.append(SummaryText(m.comment, "comment", m.summary_lang))
    return texts


def to_item(scored: Scored, number: int, summary: str) -> DigestItem:
    paper = scored.candidate.paper
    links = paper.links
    return DigestItem(
        rank=number,
        paper_id=paper.paper_id,
        title=display_title(paper.title, paper.aliases),
        url=paper.url,
        authors=paper.authors,
        summary=summary,
        tags=paper.tags,
        reasons=scored.reasons,
        score=round(scored.score, 4),
        links=Links(abs=links.abs, pdf=links.pdf, code=links.code, other=links.other),
        title_alt=paper.title_alt,
    )


def narrow(
    announced: Mapping[int, datetime],
    *,
    allowed: set[int] | None,
    excluded: set[int],
    not_before: datetime | None,
    muted: Collection[int] = frozenset(),
) -> tuple[set[int], Narrowing]:
    """The ids of the week's papers (``announced``: each one's first announcement) that a
    digest may show: matching its filter, not sent before, not muted in the channel, not
    older than its start; and how many each step kept."""
    ids = set(announced) if allowed is None else allowed & announced.keys()
    matched = len(ids)
    ids -= excluded
    unsent = len(ids)
    ids.difference_update(muted)
    muted_out = unsent - len(ids)
    if not_before is not None:
        # Last week's papers that this week's sources bring are this week's news (see
        # ``rank``), for a subscription's first week too.
        ids = {pid for pid in ids if announced[pid] >= not_before - NEWS_LAG}
    return ids, Narrowing(week=len(announced), matched=matched, unsent=unsent, muted=muted_out)


def build_digest(
    store: Store,
    request: DigestRequest,
    *,
    now: datetime,
    summarizer: Summarizer | None = None,
    weights: RankWeights = DEFAULT_WEIGHTS,
    candidates: Sequence[Candidate] | None = None,
    context: WeekContext | None = None,
    sent: set[int] | None = None,
) -> Digest:
    """Build one digest (with the channel's profile when the request carries one).

    A caller building many digests of one week passes the same ``context``
    (``WeekContext.load``): the week's candidates, ranking features and source health are
    then worked out once, and each filter term (a tag, an author, a word...) is looked up
    once for all the digests that use it. ``candidates`` alone shares just the loaded week. Without
    either, the week is loaded for this digest and only its own candidates are ranked;
    the digest is the same in every case. ``sent``: the papers already posted to the
    request's channel in another week (``Store.sent_paper_ids``), when the caller looked
    them up for many channels at once.
    """
    pool: Sequence[Candidate]
    if context is not None:
        context.check(request, now=now, weights=weights)
        start, end, pool = context.start, context.end, context.candidates
    else:
        start, end = week_bounds(request.week, request.tz)
        pool = store.week_candidates(start, end) if candidates is None else candidates
    allowed = None
    if request.query is not None and not request.query.is_empty():
        if context is not None:
            allowed = context.match_ids(store, request.query)
        else:
            allowed = store.match_ids(request.query, start=start, end=end)
    excluded: set[int] = set()
    if sent is not None:
        excluded = sent
    elif request.team_id and request.channel_id:
        channel = (request.team_id, request.channel_id, request.week.label)
        excluded = store.sent_paper_ids([channel])[channel]
    announced = (
        context.announced
        if context is not None
        else {c.paper.paper_id: c.announced_at for c in pool}
    )
    profile = request.profile
    chosen_ids, narrowing = narrow(
        announced,
        allowed=allowed,
        excluded=excluded,
        not_before=request.not_before,
        muted=profile.muted if profile is not None else frozenset(),
    )
    chosen_count = len(chosen_ids)
    scores = None
    if profile is not None and profile.liked and weights.profile > 0:
        week_profiles = context.profiles if context is not None else WeekProfiles(pool)
        scores = week_profiles.score(profile, chosen_ids)
    if context is not None:
        ranked = rank_prepared(
            context.prepared,
            query=request.query,
            top=request.top,
            paper_ids=chosen_ids,
            profile=scores,
        )
    else:
        chosen = [c for c in pool if c.paper.paper_id in chosen_ids]
        ranked = rank(
            chosen,
            now=now,
            week_start=start,
            week_end=end,
            query=request.query,
            weights=weights,
            top=request.top,
            profile=scores,
        )
    writer = summarizer or ExtractiveSummarizer()
    items = []
    for number, scored in enumerate(ranked, start=1):
        paper = scored.candidate.paper
        summary = writer.summarize(
            paper.key,
            paper.title,
            summary_texts(scored.candidate),
            lang=request.lang,
            max_chars=request.summary_chars,
        )
        items.append(to_item(scored, number, summary))
    scope = None
    if request.query is not None and not request.query.is_empty():
        matcher = context.matcher if context is not None else None
        scope = display_query(store, request.query, matcher=matcher).label()
    return Digest(
        week=request.week.label,
        tz=request.tz,
        start=start,
        end=end,
        items=tuple(items),
        scope=scope,
        candidates=chosen_count,
        sources=context.sources if context is not None else tuple(store.source_health(start, end)),
        lang=request.lang,
        narrowing=narrowing,
    )


def display_query(store: Store, query: Query, *, matcher: WeekMatcher | None = None) -> Query:
    """The query with its tags as the store spells them: tag:alignment shows #Alignment.

    ``matcher``: a week's digests share its lookups of each tag's display form."""
    slugs = [*query.tags, *query.exclude_tags]
    known = matcher.tag_displays(slugs) if matcher is not None else store.tag_displays(slugs)
    return replace(
        query,
        tag_labels=tuple(
            known.get(s, label) for s, label in zip(query.tags, query.tag_labels, strict=True)
        ),
        exclude_tag_labels=tuple(
            known.get(s, label)
            for s, label in zip(query.exclude_tags, query.exclude_tag_labels, strict=True)
        ),
    )


def build_and_archive(
    store: Store,
    request: DigestRequest,
    *,
    now: datetime,
    summarizer: Summarizer | None = None,
    weights: RankWeights = DEFAULT_WEIGHTS,
    context: WeekContext | None = None,
) -> Digest:
    """Build a digest and store it in the archive; the result carries its archive id.

    ``context``: the week shared by many digests, as for ``build_digest``."""
    digest = build_digest(
        store, request, now=now, summarizer=summarizer, weights=weights, context=context
    )
    query_text = request.query.to_text() if request.query is not None else ""
    digest_id = store.save_digest(
        digest,
        query=query_text,
        top=request.top,
        now=now,
        subscription_id=request.subscription_id,
    )
    log.info(
        "digest %d built: week=%s scope=%r items=%d of %d candidates",
        digest_id,
        digest.week,
        digest.scope,
        len(digest.items),
        digest.candidates,
    )
    return replace(digest, digest_id=digest_id)
