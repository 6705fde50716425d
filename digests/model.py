"""Frozen records that cross stage boundaries (parse -> normalize -> store -> rank -> render).

No library object (feedparser dicts, httpx responses, ORM rows) ever leaves its module;
these records are what the stages hand each other. Every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


class SourceKind(StrEnum):
    """Every kind of document paperbot can read. The value is what ``--kind`` takes."""

    ARXIV = "arxiv"  # arXiv listing feed, RSS 2.0 or Atom (rss.arxiv.org)
    ARXIV_API = "arxiv-api"  # arXiv API Atom response (export.arxiv.org/api/query)
    FEED = "feed"  # any other RSS/Atom feed
    HF_DAILY = "hf-daily"  # Hugging Face Daily Papers JSON
    WEEKLY_MD = "weekly-md"  # DAIR.AI "ML Papers of the Week" Markdown README
    WEEKLY_JA = "weekly-ja"  # a weekly list translated to Japanese (title "JP / EN" blocks)
    NOTES_HTML = "notes-html"  # paper-notes tag page, Jekyll HTML
    NOTES_TEXT = "notes-text"  # paper-notes tag page, rendered text
    PAPER_PAGE = "paper-page"  # per-paper summary page with related papers


@dataclass(frozen=True, slots=True)
class Links:
    """Where the paper can be read. ``abs`` is the landing page (arXiv abs preferred)."""

    abs: str | None = None
    pdf: str | None = None
    code: str | None = None
    other: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Signals:
    """What a source says about a paper's importance, as seen at parse time."""

    upvotes: int | None = None  # Hugging Face upvotes (they keep growing: a snapshot)
    comments: int | None = None  # discussion count where the source has one
    position: int | None = None  # 1-based rank in a curated list (weekly digests)
    pick: bool = False  # a curator picked it (weekly digest entry, "Admin'sPick" tag)
    related: bool = False  # only listed as related to another paper: a weak signal
    score: float | None = None  # the source's own relevance score, if any


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper as one source saw it. Parsers return these; nothing else.

    Identity fields are already normalized by the parser through ``digests.normalize``:
    ``arxiv_id`` is versionless canonical (``2403.04224``, ``math/0611800``) with the
    version apart, ``doi`` is lowercased without resolver prefix.
    """

    title: str
    arxiv_id: str | None = None
    arxiv_version: int | None = None
    doi: str | None = None
    url: str | None = None  # the link this source gives for the paper
    authors: tuple[str, ...] = ()
    abstract: str | None = None  # the paper's abstract (usually English)
    summary: str | None = None  # the source's own short summary of the paper
    summary_lang: str | None = None  # "ja" / "en" for ``summary``; None if unknown
    ai_summary: str | None = None  # a machine summary the source provides
    comment: str | None = None  # the source's comment / note on the paper
    title_alt: str | None = None  # a translated title (e.g. Japanese)
    links: Links = field(default_factory=Links)
    tags: tuple[str, ...] = ()  # tag labels as the source writes them (normalized later)
    categories: tuple[str, ...] = ()  # arXiv categories, primary first
    published: datetime | None = None  # when the source announced / mentioned it (UTC)
    announce_type: str | None = None  # arXiv: new | cross | replace | replace-cross
    signals: Signals = field(default_factory=Signals)
    source_item_id: str | None = None  # the source's own id for the item (guid, note URL)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What a parser makes of one document."""

    kind: SourceKind
    entries: tuple[Entry, ...]
    skipped: int = 0  # entries that could not be read (each logged with a reason)
    problems: tuple[str, ...] = ()  # one line per skipped entry / oddity, for the report
    title: str | None = None  # the document's own title
    ttl_seconds: int | None = None  # RSS <ttl> or similar hint for the next poll
    empty_expected: bool = False  # e.g. arXiv on its skip days: an empty feed is normal


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser may know besides the bytes."""

    url: str | None = None
    content_type: str | None = None
    fetched_at: datetime | None = None  # aware UTC; lets parsers infer missing years


# --- the weekly digest -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryText:
    """One text a summary may be made from, with where it came from."""

    text: str
    origin: str  # "source" (a source's own short summary) | "ai" | "abstract" | "comment"
    lang: str | None = None  # "ja" / "en" / None when unknown


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is in a digest: one scored signal, with its label for display."""

    code: str  # "sources" | "pick" | "upvotes" | "position" | "recency" | "match" | "related"
    label: str  # "3 sources", "212 upvotes", "ML Papers of the Week #3"
    points: float  # what it added to the score


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One ranked paper, ready to render."""

    rank: int  # 1-based
    paper_id: int
    title: str
    url: str  # the title link: arXiv abs page when there is one
    authors: tuple[str, ...]
    summary: str  # short, plain text (rendering escapes it)
    tags: tuple[str, ...]  # display forms
    reasons: tuple[Reason, ...]
    score: float
    links: Links = field(default_factory=Links)
    title_alt: str | None = None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How one source did in the digest's week, so a thin week can say why."""

    name: str
    kind: str
    mentions: int  # mentions it contributed in the week
    status: str  # "ok" | "empty" (nothing that week) | "failing" (errors that week)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Narrowing:
    """How the week's papers came down to a digest's candidates (``Digest.candidates``),
    so an empty or thin digest can say which step left the papers out."""

    week: int  # papers in the week
    matched: int  # of those, the ones the filter matches (all of them without a filter)
    unsent: int  # of those, the ones not posted to the channel in another week
    muted: int = 0  # of those, the ones someone in the channel said are not for it
    # Of those, the candidates: not first announced before a subscription's first week.


@dataclass(frozen=True, slots=True)
class Digest:
    """A built weekly digest: what rendering turns into Slack messages or terminal text."""

    week: str  # ISO week label, "2025-W34"
    tz: str  # IANA zone the week was cut in
    start: datetime  # aware, start of the week in ``tz``
    end: datetime  # aware, exclusive end
    items: tuple[DigestItem, ...]
    scope: str | None = None  # the filter's label: "#Alignment", "tag:Alignment -tag:Survey"
    candidates: int = 0  # papers considered before the top-N cut
    sources: tuple[SourceHealth, ...] = ()
    lang: str | None = None
    title: str = "Top papers of the week"
    digest_id: int | None = None  # archive id once stored
    narrowing: Narrowing | None = None  # None when unknown (the archive does not keep it)


@dataclass(frozen=True, slots=True)
class PaperHit:
    """One paper found by a lookup (``paperbot query``, ``/paper``)."""

    paper_id: int
    key: str  # canonical key: "arxiv:2403.04224", "doi:…", "url:…", "title:…"
    title: str
    url: str  # best link: arXiv abs page when there is one
    authors: tuple[str, ...]
    tags: tuple[str, ...]  # display forms
    sources: tuple[str, ...]  # names of the sources that mention it
    summary: str | None  # best short text available (a source's summary or the abstract)
    first_seen: datetime
    arxiv_id: str | None = None
    links: Links = field(default_factory=Links)
    title_alt: str | None = None
    aliases: tuple[str, ...] = ()  # short names curated lists use ("MEM1")
    reason: str | None = None  # why a lookup found it, when it says more than a match


# --- sources and storage -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as an operator declares it (sources file, CLI, Slack)."""

    name: str
    location: str  # http(s) URL, file:// URL or local path
    kind: SourceKind | None = None  # None: detected from the content
    interval_seconds: int = 6 * 3600
    tags: tuple[str, ...] = ()  # given to every paper this source lists
    origin: str = "cli"  # file | cli | slack
    family: str | None = None  # who publishes it; None: from its kind and address


def source_name_key(name: str) -> str:
    """Source names are unique ignoring case and surrounding spaces: this is the key."""
    return name.strip().casefold()


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A stored source with its fetch state and health."""

    id: int
    name: str
    location: str
    kind: SourceKind | None
    interval_seconds: int
    tags: tuple[str, ...]
    origin: str
    enabled: bool
    created_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    next_check_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_entry_count: int | None = None
    content_changed_at: datetime | None = None  # when the document last changed
    failing_since: datetime | None = None  # first failure of the current streak
    health: str | None = None  # None = fine | failing | empty | stale
    health_reason: str | None = None
    health_since: datetime | None = None
    health_notified_at: datetime | None = None
    retired_at: datetime | None = None  # no longer polled; its mentions stay
    paper_count: int = 0
    family: str | None = None  # as the operator set it; None: from its kind and address

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


@dataclass(frozen=True, slots=True)
class TagRef:
    """A normalized tag on its way to the store, with where it came from."""

    slug: str
    display: str
    kind: str  # tag | category | topic
    origin: str  # "source:<name>" | "category" | "rule"


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """An entry with its identities and tags worked out, ready to store."""

    entry: Entry
    key: str  # canonical paper key (see digests.normalize)
    url_key: str | None  # canonical URL when the entry has a non-arXiv link
    title_key: str
    item_key: str  # identifies the mention within its source
    tags: tuple[TagRef, ...]
    # The kind of source the title comes from ("arxiv", "hf", "curated", "notes", "feed"):
    # a more authoritative one replaces a stored title (``digests.identity``).
    title_source: str | None = None


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """What storing one document changed."""

    new: int = 0  # papers never seen before
    updated: int = 0  # known papers that gained a version, a field, a mention or a tag
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class MentionView:
    """One source's mention of a paper inside a digest's week, as ranking sees it."""

    source_name: str
    source_kind: SourceKind | None
    mentioned_at: datetime  # aware UTC
    title: str
    summary: str | None = None
    summary_lang: str | None = None
    ai_summary: str | None = None
    comment: str | None = None
    announce_type: str | None = None  # arXiv: new | cross | replace | replace-cross
    signals: Signals = field(default_factory=Signals)
    family: str = ""  # who publishes the source: one family counts once (``rank``)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A paper mentioned in the digest's week, with every mention of that week."""

    paper: PaperHit
    abstract: str | None
    announced_at: datetime  # when sources first announced it (aware UTC)
    mentions: tuple[MentionView, ...]
    upvotes: int = 0  # the latest snapshot, read when the digest is built


# --- subscriptions and delivery ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """A channel's request for a weekly digest."""

    team_id: str
    channel_id: str
    query: str  # canonical query text ("" = every paper)
    weekday: int = 0  # 0 = Monday
    time: str = "09:00"  # HH:MM in ``tz``
    tz: str = "UTC"
    top: int = 10
    lang: str | None = None
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    team_id: str
    channel_id: str
    query: str
    weekday: int
    time: str
    tz: str
    top: int
    lang: str | None
    created_by: str
    created_at: datetime
    active: bool
    start_week: str  # the first ISO week it covers
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One digest's way into one channel for one week: recorded before it is posted."""

    id: int
    key: str  # team:channel:subscription:week
    subscription_id: int | None
    team_id: str
    channel_id: str
    week: str
    digest_id: int | None
    state: str  # pending | posting | posted | failed
    attempts: int
    created_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    message_ts: str | None = None
    reply_ts: tuple[str, ...] = ()
    posted_at: datetime | None = None
    last_error: str | None = None


# -- what a team teaches paperbot ------------------------------------------------------------

Verdict = Literal["like", "mute"]


@dataclass(frozen=True, slots=True)
class Feedback:
    """One person's verdict on one paper for one channel (a click or an import)."""

    team_id: str
    channel_id: str
    user_id: str
    paper_id: int
    verdict: Verdict
    origin: str  # click | import
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackTally:
    """A paper's verdicts in one channel: the counts and who gave them."""

    paper_id: int
    likes: tuple[str, ...] = ()  # user ids, oldest first
    mutes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileState:
    """When a channel's profile last changed, and was last reset (None: never)."""

    changed_at: datetime
    reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class SavedPaper:
    paper_id: int
    saved_at: datetime
    channel_id: str | None


@dataclass(frozen=True, slots=True)
class CitedPaper:
    """What a citation of one paper needs: the BibTeX export of saved papers."""

    paper_id: int
    key: str  # canonical paper key
    title: str
    authors: tuple[str, ...]
    announced_at: datetime
    arxiv_id: str | None = None
    doi: str | None = None
    url: str | None = None
    categories: tuple[str, ...] = ()  # arXiv categories, sorted (the primary is not kept)
