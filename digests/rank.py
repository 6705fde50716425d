"""Weekly scoring: candidates in, the top papers out, each with the reasons that put it there.

Pure (``now`` and the week's bounds passed in). A score is the sum of its reasons' points,
and the reasons are what a reader sees, so "why is this here" is answered by the numbers
that placed it. ``prepare_week`` does a week's per-paper work once; ``rank_prepared`` ranks
any subset of it for one filter, and ``rank`` is the two in a row.
"""

from __future__ import annotations

import functools
import heapq
import math
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Protocol

from digests.errors import ConfigError
from digests.families import family_key
from digests.model import Candidate, MentionView, Reason
from digests.normalize import clean_text, normalize_tag
from digests.query import Query

__all__ = [
    "DEFAULT_WEIGHTS",
    "NEWS_LAG",
    "PreparedWeek",
    "ProfileSignal",
    "RankWeights",
    "Scored",
    "explain",
    "prepare_week",
    "rank",
    "rank_prepared",
]

_REPLACE_TYPES = frozenset({"replace", "replace-cross"})
# A curated list's places past the tenth all count as the tenth: lists are about ten long,
# and a longer one should not push its tail below zero.
_POSITION_DEPTH = 10
# The order reasons with equal points are listed in: the stronger kind of evidence first.
_CODE_ORDER = (
    "sources",
    "position",
    "pick",
    "upvotes",
    "match",
    "profile",
    "related",
    "recency",
    "updated",
)
_CODE_RANK = {code: i for i, code in enumerate(_CODE_ORDER)}
_NAME_MAX = 40
# A liked paper's title in a profile reason is cut after this many characters.
_TITLE_MAX = 60
# The "N sources: ..." label lists families up to about this length, then counts the rest.
_FAMILIES_MAX = 72
_MATCH_TERMS_SHOWN = 3
# Scores are sums of floats; rounding before comparing keeps equal evidence equal even
# when the additions happened in a different order.
_SCORE_DIGITS = 9
# How long before the week a paper still counts as this week's news rather than an update.
NEWS_LAG = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class RankWeights:
    """The points each signal is worth; each field says how it is used."""

    sources: float = 1.0  # per independent source (publisher family) beyond the first
    pick: float = 3.0  # a curator picked it (weekly digest entry, "Admin'sPick" note)
    position: float = 1.0  # a place in a curated list: all of it at #1, a tenth at #10
    upvotes: float = 4.0  # earned in full at ``upvotes_full`` upvotes, log-damped
    upvotes_full: float = 100.0  # how many upvotes earn the whole ``upvotes`` weight
    recency: float = 1.0  # first announced this week: half on Monday, all at the end
    match: float = 1.0  # matches every tag, word and phrase of the digest's filter
    profile: float = 4.0  # as close as can be to what the channel liked (score 0..1)
    related: float = 0.5  # only listed as related to another paper
    updated: float = 0.5  # taken off a paper announced before the week (or only re-versioned)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"rank weight {f.name}={value!r} must be a number 0 or more")
        if self.upvotes_full < 1:
            raise ConfigError(f"rank weight upvotes_full={self.upvotes_full!r} must be 1 or more")

    @classmethod
    def parse(cls, text: str) -> RankWeights:
        """``"sources=3, upvotes=1.5"`` -> weights; names left out keep their defaults.

        Pairs are separated by commas (or semicolons); an empty text gives the defaults.
        Raises ``ConfigError`` naming an unknown name (with the known ones), a value that
        is not a number, a name given twice or a pair without ``=``.
        """
        known = [f.name for f in fields(cls)]
        values: dict[str, float] = {}
        for raw in unicodedata.normalize("NFKC", text).replace(";", ",").split(","):
            pair = raw.strip()
            if not pair:
                continue
            name, eq, value = pair.partition("=")
            name = name.strip().casefold()
            if not eq:
                raise ConfigError(f"rank weight {pair!r} is not like sources=3")
            if name not in known:
                raise ConfigError(
                    f"unknown rank weight {name!r}; known weights: {', '.join(known)}"
                )
            if name in values:
                raise ConfigError(f"rank weight {name!r} is given twice")
            try:
                number = float(value.strip())
            except ValueError as e:
                raise ConfigError(f"rank weight {name}={value.strip()!r} is not a number") from e
            values[name] = number
        return cls(**values)

    def to_text(self) -> str:
        """Every weight as ``name=value``: what ``parse`` reads back to equal weights."""
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))


DEFAULT_WEIGHTS = RankWeights()


class ProfileSignal(Protocol):
    """A channel's interest profile scored over a week (``digests.profile``)."""

    @property
    def scores(self) -> Mapping[int, float]:
        """Each paper's closeness to the channel's interests, 0..1 (missing: 0)."""
        ...

    def because(self, paper_id: int) -> str | None:
        """The title of the liked paper that explains a score."""
        ...


@dataclass(frozen=True, slots=True)
class Scored:
    """A ranked candidate: its score and the reasons (most points first) that sum to it."""

    candidate: Candidate
    score: float
    reasons: tuple[Reason, ...]


def explain(scored: Scored) -> str:
    """The reasons' labels as one line:
    ``ML Papers of the Week #3 · 2 sources: arXiv (cs.CL, cs.LG), ML Papers of the Week``."""
    return " · ".join(r.label for r in scored.reasons)


def rank(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    week_start: datetime,
    week_end: datetime,
    query: Query | None = None,
    weights: RankWeights = DEFAULT_WEIGHTS,
    top: int = 10,
    profile: ProfileSignal | None = None,
) -> list[Scored]:
    """The ``top`` best candidates, best first, each with its reasons.

    ``week_start`` (inclusive) and ``week_end`` (exclusive) are the digest's week as aware
    instants; ``now`` caps "how far into the week" for a digest built before the week
    ends. ``query`` is the digest's filter: how well a paper matches it earns points.
    ``profile``: the channel's interests scored over these candidates; each paper earns
    ``weights.profile`` times its score. Candidates without mentions are ignored.
    """
    week = prepare_week(
        candidates, now=now, week_start=week_start, week_end=week_end, weights=weights
    )
    return rank_prepared(week, query=query, top=top, profile=profile)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One candidate's query-independent part of the score, worked out once per week."""

    candidate: Candidate
    paper_id: int
    # Reasons in the order they are added around the ``match`` one (before / after it).
    before: tuple[Reason, ...]
    after: tuple[Reason, ...]
    fallback: Reason | None  # the zero-point "in <source>", when nothing else names one
    points: tuple[float, ...]  # every reason's points but ``match``'s
    base_score: float  # their sum: the score without a filter
    tail: tuple[int, int, float, str, int]  # the sort key after the score
    slugs: frozenset[str]
    titles: str
    body: str


@dataclass(frozen=True, slots=True)
class PreparedWeek:
    """A week's candidates with everything ranking needs that does not depend on the
    filter: build once with ``prepare_week``, rank with ``rank_prepared`` per digest."""

    now: datetime
    week_start: datetime
    week_end: datetime
    weights: RankWeights
    items: tuple[_Prepared, ...]
    # ``items`` best first without a filter (by score, then the tie-breaks): a filter
    # adds at most ``weights.match`` to a score, so ranking can stop early along it.
    by_base: tuple[_Prepared, ...] = ()
    # ``items`` by paper id: the papers a profile lifts are looked up here.
    index: Mapping[int, _Prepared] = field(default_factory=dict, compare=False, repr=False)


def prepare_week(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    week_start: datetime,
    week_end: datetime,
    weights: RankWeights = DEFAULT_WEIGHTS,
) -> PreparedWeek:
    """Work out the filter-independent part of every candidate's score for one week.

    Takes the same arguments as ``rank`` and raises the same errors for them; candidates
    without mentions are left out.
    """
    for name, moment in (("now", now), ("week_start", week_start), ("week_end", week_end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"rank needs aware datetimes; {name}={moment!r} is naive")
    if week_end <= week_start:
        raise ValueError(f"week_end {week_end} is not after week_start {week_start}")
    window = _Window(start=week_start, end=week_end, now=now)
    slugs: dict[str, str | None] = {}  # a week's papers share a few thousand tags
    items = tuple(
        _prepare(c, window=window, weights=weights, slugs=slugs) for c in candidates if c.mentions
    )
    by_base = tuple(sorted(items, key=lambda p: (-round(p.base_score, _SCORE_DIGITS), *p.tail)))
    return PreparedWeek(
        now=now,
        week_start=week_start,
        week_end=week_end,
        weights=weights,
        items=items,
        by_base=by_base,
        index={p.paper_id: p for p in items},
    )


def rank_prepared(
    week: PreparedWeek,
    *,
    query: Query | None = None,
    top: int = 10,
    paper_ids: Collection[int] | None = None,
    profile: ProfileSignal | None = None,
) -> list[Scored]:
    """The ``top`` best of a prepared week for one filter, best first, as ``rank`` gives.

    ``paper_ids``, when given, limits the ranking to those papers (a digest's candidates
    after its filter and exclusions); the week's order is kept, so the result is the same
    as ranking just those candidates. ``profile``: as for ``rank``.
    """
    if top < 0:
        raise ValueError(f"top must be 0 or more, got {top}")
    terms = _terms(query) if query is not None else ()
    lift = _Lift(week.weights.profile, profile)
    if len(week.by_base) == len(week.items):
        return _rank_along_base(week, terms, top, paper_ids, lift)
    return _rank_exhaustive(week, terms, top, paper_ids, lift)


@dataclass(frozen=True, slots=True)
class _Lift:
    """The profile's points per paper, and the most any paper gets."""

    weight: float
    profile: ProfileSignal | None

    def points(self, paper_id: int) -> float:
        if self.profile is None or self.weight == 0:
            return 0.0
        return self.weight * self.profile.scores.get(paper_id, 0.0)

    def lifted(
        self, week: PreparedWeek, paper_ids: Collection[int] | None
    ) -> list[tuple[float, _Prepared]]:
        """The (allowed) papers the profile gives points, each with its score without a
        filter, best first."""
        if self.profile is None or self.weight == 0:
            return []
        found = []
        for pid, share in self.profile.scores.items():
            p = week.index.get(pid)
            if p is None or share <= 0 or (paper_ids is not None and pid not in paper_ids):
                continue
            found.append((round(p.base_score + self.weight * share, _SCORE_DIGITS), p))
        found.sort(key=lambda kp: -kp[0])
        return found


def _score(p: _Prepared, match: float, lift: float) -> float:
    """A paper's score: its prepared points plus the filter's and the profile's."""
    if match == 0 and lift == 0:
        return p.base_score
    return math.fsum((*p.points, match, lift))


# Scores are rounded to _SCORE_DIGITS before comparing; a float sum can differ from its
# exact value by far less than this, so a bound this much below a score is safely below.
_BOUND_SLACK = 1e-6


def _rank_along_base(
    week: PreparedWeek,
    terms: tuple[_Term, ...],
    top: int,
    paper_ids: Collection[int] | None,
    lift: _Lift,
) -> list[Scored]:
    """``_rank_exhaustive``'s result, scoring only the papers that can still make the top.

    Papers are visited best first by their score without a filter; the filter adds at
    most ``match_weight`` (a share of at most 1). Once ``top`` papers are kept and the
    next one could not reach the lowest kept score even with a full match, no later one
    can either: the rest are never scored. Papers a profile lifts are visited in a second
    line, best first by their score with the profile's points, and the two lines are
    merged: the next paper of either line is the one whose bound is higher, so the bound
    still falls as the walk goes on.
    """
    if top == 0:
        return []
    match_weight = week.weights.match
    reach = (match_weight if terms else 0.0) + _BOUND_SLACK
    lifted = lift.lifted(week, paper_ids)
    skip = {p.paper_id for _key, p in lifted}
    kept: list[float] = []  # the ``top`` best rounded scores so far, lowest first
    keyed: list[tuple[tuple[float, int, int, float, str, int], _Prepared, float]] = []
    base = week.by_base
    a = b = 0
    while True:
        while a < len(base) and (
            base[a].paper_id in skip
            or (paper_ids is not None and base[a].paper_id not in paper_ids)
        ):
            a += 1
        if a < len(base) and (
            b == len(lifted) or round(base[a].base_score, _SCORE_DIGITS) > lifted[b][0]
        ):
            p = base[a]
            bound = round(p.base_score, _SCORE_DIGITS) + reach
            a += 1
        elif b < len(lifted):
            bound, p = lifted[b]
            bound += reach
            b += 1
        else:
            break
        if len(kept) == top and bound < kept[0]:
            break
        share = _share(p, terms) if terms else 0.0
        score = _score(p, match_weight * share, lift.points(p.paper_id))
        rounded = round(score, _SCORE_DIGITS)
        keyed.append(((-rounded, *p.tail), p, score))
        if len(kept) < top:
            heapq.heappush(kept, rounded)
        elif rounded > kept[0]:
            heapq.heapreplace(kept, rounded)
    best = heapq.nsmallest(top, keyed, key=lambda k: k[0])
    return [_finish(p, score, terms, match_weight, lift) for _, p, score in best]


def _rank_exhaustive(
    week: PreparedWeek,
    terms: tuple[_Term, ...],
    top: int,
    paper_ids: Collection[int] | None,
    lift: _Lift,
) -> list[Scored]:
    """Score every (allowed) paper of the week and keep the ``top`` best."""
    match_weight = week.weights.match
    pool: Iterable[_Prepared] = week.items
    if paper_ids is not None:
        pool = [p for p in week.items if p.paper_id in paper_ids]
    keyed: list[tuple[tuple[float, int, int, float, str, int], _Prepared, float]] = []
    for p in pool:
        share = _share(p, terms) if terms else 0.0
        score = _score(p, match_weight * share, lift.points(p.paper_id))
        keyed.append(((-round(score, _SCORE_DIGITS), *p.tail), p, score))
    best = heapq.nsmallest(top, keyed, key=lambda k: k[0])
    return [_finish(p, score, terms, match_weight, lift) for _, p, score in best]


# --- scoring one candidate -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime
    end: datetime
    now: datetime

    def fraction(self, moment: datetime) -> float | None:
        """How far into the week ``moment`` is (0..1), or None when it is outside it."""
        if not self.start <= moment < self.end:
            return None
        # A digest built mid-week measures against now, so the newest paper still gets
        # the whole weight; past the week's end, against the end.
        stop = min(self.now, self.end) if self.now > self.start else self.end
        span = (stop - self.start).total_seconds()
        if span <= 0:
            return 1.0
        return min(1.0, (moment - self.start).total_seconds() / span)


@dataclass(frozen=True, slots=True)
class _Term:
    kind: str  # "tag" | "text"
    value: str  # a tag slug, or text folded for matching
    shown: str  # "#Alignment", "RLHF", '"reward model"'


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _terms(query: Query) -> tuple[_Term, ...]:
    labels = query.tag_labels if len(query.tag_labels) == len(query.tags) else query.tags
    out = [_Term("tag", slug, f"#{label}") for slug, label in zip(query.tags, labels, strict=True)]
    out += [_Term("text", _fold(w), w) for w in query.words]
    out += [_Term("text", _fold(p), f'"{p}"') for p in query.phrases]
    return tuple(out)


# Source names repeat across a week's papers: each is shortened once.
@functools.lru_cache(maxsize=4096)
def _short(name: str) -> str:
    name = clean_text(name)
    return name if len(name) <= _NAME_MAX else name[: _NAME_MAX - 1].rstrip() + "…"


def _names(names: Iterable[str]) -> str:
    """One source name, or the first and how many more: ``arXiv cs.CL +1``."""
    ordered = sorted(set(names))
    first = _short(ordered[0])
    return first if len(ordered) == 1 else f"{first} +{len(ordered) - 1}"


def _family(m: MentionView) -> str:
    """The mention's publisher family as compared; a mention that carries none (built by
    hand) is its source's own."""
    return family_key(m.family or m.source_name)


def _families(mentions: Iterable[MentionView]) -> str:
    """Where a paper was seen, one part per family, its listings in brackets:
    ``arXiv (cs.CL, cs.LG), HF Daily Papers``. A family seen through one source shows that
    source's name; parts that do not fit are counted (``+2 more``)."""
    grouped: dict[str, tuple[set[str], set[str]]] = {}
    for m in mentions:
        spellings, names = grouped.setdefault(_family(m), (set(), set()))
        spellings.add(m.family or m.source_name)
        names.add(m.source_name)
    parts = [_family_part(min(spellings), names) for spellings, names in grouped.values()]
    parts.sort(key=str.casefold)
    text = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        left = len(parts) - i - 1
        more = f" +{left} more" if left else ""
        if len(text) + len(part) + 2 + len(more) > _FAMILIES_MAX:
            return f"{text} +{len(parts) - i} more"
        text += ", " + part
    return text


def _family_part(family: str, names: set[str]) -> str:
    if len(names) == 1:
        return _short(next(iter(names)))
    prefix = family.casefold() + " "
    details = sorted(n[len(prefix) :] if n.casefold().startswith(prefix) else n for n in names)
    return f"{_short(family)} ({', '.join(_short(d) for d in details)})"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _is_replace(m: MentionView) -> bool:
    return (m.announce_type or "").strip().casefold() in _REPLACE_TYPES


def _prepare(
    c: Candidate, *, window: _Window, weights: RankWeights, slugs: dict[str, str | None]
) -> _Prepared:
    """``slugs``: each tag's slug (None: not a tag) as ``normalize_tag`` gives it, kept
    across the week's papers."""
    w = weights
    full = [m for m in c.mentions if not m.signals.related and not _is_replace(m)]
    families = {_family(m) for m in full}
    counted = {m.source_name for m in full}
    before: list[Reason] = []
    after: list[Reason] = []

    def add(to: list[Reason], code: str, label: str, points: float) -> None:
        if points != 0:
            to.append(Reason(code=code, label=label, points=points))

    # Announced before the week, or seen this week only as a new arXiv version: an update
    # of older work. Only curators and upvotes lift it; who else lists it again does not.
    # News runs days behind arXiv (Hugging Face lists Friday's papers on Monday, curators
    # pick last week's): a paper of the days just before the week is not new this week,
    # but not an update either.
    earlier = c.announced_at < window.start - NEWS_LAG
    replaced_only = not full and any(_is_replace(m) for m in c.mentions)
    updated = earlier or replaced_only

    if len(families) > 1 and not updated:
        label = f"{len(families)} sources: {_families(full)}"
        add(before, "sources", label, w.sources * (len(families) - 1))

    curated = _best_curated(full, w)
    if curated is not None:
        mention, points = curated
        pos = mention.signals.position
        if pos is not None and pos >= 1:
            add(before, "position", f"{_short(mention.source_name)} #{pos}", points)
        else:
            add(before, "pick", f"picked by {_short(mention.source_name)}", points)

    upvotes = max([c.upvotes, *(m.signals.upvotes or 0 for m in c.mentions)])
    if upvotes > 0:
        damped = math.log1p(upvotes) / math.log1p(w.upvotes_full)
        label = f"{upvotes} upvote{'s' if upvotes != 1 else ''}"
        add(before, "upvotes", label, w.upvotes * damped)

    # (the ``match`` reason goes here: see ``_finish``)

    related = {m.source_name for m in c.mentions if m.signals.related} - counted
    if related:
        add(after, "related", f"listed as related in {_names(related)}", w.related)

    if updated:
        if earlier:
            # The day when it is this year's ("Jun 20"), the month of an older one.
            at = c.announced_at.astimezone(UTC)
            month = _MONTHS[at.month - 1]
            when = f"{month} {at.day}" if at.year == window.start.year else f"{month} {at.year}"
            label = f"updated (announced {when})"
        else:
            replaced = (m.source_name for m in c.mentions if _is_replace(m))
            label = f"updated: new version in {_names(replaced)}"
        add(after, "updated", label, -w.updated)
    else:
        f = window.fraction(c.announced_at)
        if f is not None:
            add(after, "recency", "new this week", w.recency * (1 + f) / 2)

    # Every paper says where it came from, even when that earned nothing (a single source,
    # an update, or weights set to zero): the other reasons do not all name a source
    # ("updated: new version in <source>" does).
    fallback = None
    named = ("sources", "position", "pick", "related")
    if not any(r.code in named or (r.code == "updated" and not earlier) for r in before + after):
        fallback = Reason("sources", f"in {_families(full or c.mentions)}", 0.0)
    all_points = tuple(r.points for r in before + after)
    tag_slugs: set[str] = set()
    for label in c.paper.tags:
        if label not in slugs:
            tag = normalize_tag(label)
            slugs[label] = tag.slug if tag is not None else None
        slug = slugs[label]
        if slug is not None:
            tag_slugs.add(slug)
    titles = _fold("\n".join(x for x in (c.paper.title, c.paper.title_alt) if x))
    titles += "\n" + _fold("\n".join(m.title for m in c.mentions))
    body_parts = [c.abstract, c.paper.summary, " ".join(c.paper.authors)]
    for m in c.mentions:
        body_parts += [m.summary, m.ai_summary, m.comment]
    body = _fold("\n".join(x for x in body_parts if x))
    return _Prepared(
        candidate=c,
        paper_id=c.paper.paper_id,
        before=tuple(before),
        after=tuple(after),
        fallback=fallback,
        points=all_points,
        base_score=math.fsum(all_points),
        # Ties: more families, more upvotes, the later first announcement, then the key,
        # so the order never depends on the input's.
        tail=(
            -len(families),
            -upvotes,
            -c.announced_at.timestamp(),
            c.paper.key,
            c.paper.paper_id,
        ),
        slugs=frozenset(tag_slugs),
        titles=titles,
        body=body,
    )


def _finish(
    p: _Prepared, score: float, terms: tuple[_Term, ...], match_weight: float, lift: _Lift
) -> Scored:
    """The ranked paper with its reasons: the prepared ones plus ``match`` and ``profile``,
    most first."""
    reasons = list(p.before)
    if terms:
        share, matched = _match(p, terms)
        if matched and match_weight * share != 0:
            shown = [t.shown for t in matched[:_MATCH_TERMS_SHOWN]]
            more = len(matched) - len(shown)
            label = "matches " + ", ".join(shown) + (f" +{more}" if more else "")
            reasons.append(Reason(code="match", label=label, points=match_weight * share))
    lifted = lift.points(p.paper_id)
    if lifted != 0 and lift.profile is not None:
        liked = lift.profile.because(p.paper_id)
        label = (
            f"like *{_title(liked)}*, which this channel liked"
            if liked
            else "like what this channel liked"
        )
        reasons.append(Reason(code="profile", label=label, points=lifted))
    reasons += p.after
    reasons.sort(key=lambda r: (-r.points, _CODE_RANK.get(r.code, len(_CODE_ORDER))))
    if p.fallback is not None:
        reasons.append(p.fallback)
    return Scored(p.candidate, score, tuple(reasons))


def _title(title: str) -> str:
    """A liked paper's title short enough for a reason, without marks that would end its
    emphasis early."""
    text = clean_text(title).replace("*", "")
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1].rstrip() + "…"


def _best_curated(
    mentions: Sequence[MentionView], w: RankWeights
) -> tuple[MentionView, float] | None:
    """The curated mention worth the most points (one curator's word counts once)."""
    options: list[tuple[float, float, str, MentionView]] = []
    for m in mentions:
        pos = m.signals.position if m.signals.position and m.signals.position >= 1 else None
        if not m.signals.pick and pos is None:
            continue
        points = w.pick if m.signals.pick else 0.0
        if pos is not None:
            place = _POSITION_DEPTH + 1 - min(pos, _POSITION_DEPTH)
            points += w.position * place / _POSITION_DEPTH
        # Equal points: the better place, then the source name, so the label is stable.
        options.append((-points, pos or math.inf, m.source_name, m))
    if not options:
        return None
    best = min(options, key=lambda o: o[:3])
    return best[3], -best[0]


def _share(p: _Prepared, terms: tuple[_Term, ...]) -> float:
    """The share of the filter a paper matches (0..1): a tag, or a word in a title, is 1;
    a word only in the abstract, summaries or authors is 1/2."""
    total = 0.0
    for term in terms:
        if term.kind == "tag":
            if term.value in p.slugs:
                total += 1.0
        elif term.value in p.titles:
            total += 1.0
        elif term.value in p.body:
            # Like the store's full-text search: a case-insensitive substring.
            total += 0.5
    return total / len(terms)


def _match(p: _Prepared, terms: tuple[_Term, ...]) -> tuple[float, list[_Term]]:
    """The share of the filter a paper matches (0..1) and the terms it matched."""
    total = 0.0
    matched: list[_Term] = []
    for term in terms:
        if term.kind == "tag":
            hit = 1.0 if term.value in p.slugs else 0.0
        elif term.value in p.titles:
            hit = 1.0
        else:
            hit = 0.5 if term.value in p.body else 0.0
        if hit:
            total += hit
            matched.append(term)
    return total / len(terms), matched
