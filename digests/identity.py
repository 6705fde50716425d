"""Which known paper an entry is, and what the entry adds to it: pure rules, no I/O.

The key chain (``PaperIndex.find``): an entry is the known paper it shares an arXiv id,
a DOI, a canonical URL or an id-based paper key with; failing those, the paper whose
normalized title it has **when other evidence agrees** (announced within
``TITLE_WINDOW`` of the entry's date, or an author in common), and never one holding
another arXiv id; failing that, the one paper of ``TITLE_WINDOW`` whose short name the
entry's title is, or the one short-named paper whose name the entry's full title leads
with ("GPQA" and "GPQA: A Graduate-Level Google-Proof Q&A Benchmark").

What a paper is called (``TITLE_AUTHORITY``): arXiv's and Hugging Face's titles beat the
paper notes', which beat curated lists' and generic feeds'; a weaker source never
replaces a stronger title, an equal one only with the fuller form of it. A curated
short name that loses is kept as an alias ("MEM1").

When a paper was announced (``merged_announcement``): arXiv's own first-version date
when a source gives it (``announced_exact``), else the earliest date any source gives;
never later than its arXiv id's month allows (``id_month_cap``).

The store reads ``papers`` rows as dicts and writes back what these rules decide.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from digests.model import PreparedEntry, SourceKind
from digests.normalize import (
    arxiv_abs_url,
    normalize_title,
    parse_arxiv_id,
    title_key,
    title_lead_key,
)

PaperRow = dict[str, Any]

# search_text grows with every source's summary; past this it adds little but index size.
_SEARCH_TEXT_MAX = 20_000

# A title alone names the same paper only when the dates agree this closely. Curated
# lists, Hugging Face and aggregators mention a paper within days or weeks of its arXiv
# version 1 (a company's PDF may come a few weeks before it: Gemma's on 21 Feb 2024,
# arXiv 2403.08295 on 13 Mar); a later work under the same words is months apart (DAIR's
# June 2025 "Emergent Misalignment" PDF, four months after arXiv 2502.17424).
TITLE_WINDOW = timedelta(days=60)

# Which kind of source gives a paper's title, by source kind (``PreparedEntry.title_source``).
TITLE_SOURCE_BY_KIND: dict[SourceKind, str] = {
    SourceKind.ARXIV: "arxiv",
    SourceKind.ARXIV_API: "arxiv",
    SourceKind.HF_DAILY: "hf",
    SourceKind.WEEKLY_MD: "curated",
    SourceKind.WEEKLY_JA: "curated",
    SourceKind.NOTES_HTML: "notes",
    SourceKind.NOTES_TEXT: "notes",
    SourceKind.PAPER_PAGE: "notes",
    SourceKind.FEED: "feed",
}
# Higher wins. arXiv and Hugging Face carry the paper's own title; notes pages copy it
# by hand; curated lists shorten it ("MEM1") and generic feeds title their posts, not
# the paper. A title of unknown origin (stored before titles had one) ranks as the weakest.
TITLE_AUTHORITY: dict[str, int] = {"arxiv": 4, "hf": 3, "notes": 2, "curated": 1, "feed": 1}
_WEAKEST = 1
# Only curated lists name papers by short names worth keeping beside the title.
_ALIAS_SOURCES = frozenset({"curated"})
_ALIASES_MAX = 5

# Announce types whose listing date is the paper's version-1 announcement: "new", and
# "cross", the same day's new papers of other categories listed here too. "replace" and
# "replace-cross" announce a later version. An arXiv entry without a type is the API's,
# whose ``published`` is version 1's date.
_FIRST_VERSION_TYPES = frozenset({None, "new", "cross"})
# An id's month is when arXiv numbered the paper; one numbered on the month's last day is
# announced within the next days (a weekend or holiday in between).
_ID_MONTH_GRACE = timedelta(days=7)


class PaperIndex:
    """Known papers by every identity, so the chain is one lookup each."""

    def __init__(self, rows: Iterable[PaperRow] = ()) -> None:
        self.by_arxiv: dict[str, PaperRow] = {}
        self.by_doi: dict[str, PaperRow] = {}
        self.by_url: dict[str, PaperRow] = {}
        self.by_key: dict[str, PaperRow] = {}
        # A title or a short name may be several papers': each list in the order read.
        self.by_title: dict[str, list[PaperRow]] = {}
        self.by_lead: dict[str, list[PaperRow]] = {}
        for row in rows:
            self.add(row)

    def add(self, row: PaperRow) -> None:
        """A row read, created or changed: findable under its identities as they are now."""
        self.by_key[row["key"]] = row
        if row["arxiv_id"]:
            self.by_arxiv[row["arxiv_id"]] = row
        if row["doi"]:
            self.by_doi[row["doi"]] = row
        if row["url_key"]:
            self.by_url[row["url_key"]] = row
        _append(self.by_title, row["title_key"], row)
        if row.get("lead_key"):
            _append(self.by_lead, row["lead_key"], row)

    def free_key(self, key: str, announced: datetime) -> str:
        """``key``, or for a title's key another paper holds (the same words, no evidence
        they are one paper), the key with the new paper's date."""
        if key not in self.by_key:
            return key
        dated = f"{key}@{announced:%Y-%m-%d}"
        n = 1
        while dated in self.by_key:
            n += 1
            dated = f"{key}@{announced:%Y-%m-%d}.{n}"
        return dated

    def arxiv_taken(self, arxiv_id: str) -> bool:
        return arxiv_id in self.by_arxiv

    def doi_taken(self, doi: str) -> bool:
        return doi in self.by_doi

    def find(self, item: PreparedEntry, now: datetime) -> PaperRow | None:
        """The known paper ``item`` is, or None; ``now`` dates an entry that has no date."""
        e = item.entry
        if e.arxiv_id and (hit := self.by_arxiv.get(e.arxiv_id)) is not None:
            return hit
        if e.doi and (hit := self.by_doi.get(e.doi)) is not None:
            return hit
        if item.url_key and (hit := self.by_url.get(item.url_key)) is not None:
            return hit
        # A key made of ids is an identity; a title's key is only a title (below).
        if not item.key.startswith("title:") and (hit := self.by_key.get(item.key)) is not None:
            return hit
        published = item.entry.published
        when = min(published, now) if published is not None else None
        # A re-listing's date is not the paper's: its arXiv id bounds when it came out.
        if (cap := id_month_cap(e.arxiv_id)) is not None:
            when = cap if when is None else min(when, cap)
        for row in _current(self.by_title, "title_key", item.title_key):
            if not _other_arxiv(row, item) and title_evidence(row, item, when):
                return row
        return self._by_lead(item, when)

    def _by_lead(self, item: PreparedEntry, when: datetime | None) -> PaperRow | None:
        """The one paper of the window that is the short form of ``item``'s title, or
        whose short title ``item``'s title leads; None when none or several fit (without
        dates on either side, every paper under the short name fits)."""
        lead = title_lead_key(item.entry.title)
        if lead is None:
            return None
        short = lead == item.title_key
        fits = [
            row
            for row in _current(self.by_lead, "lead_key", lead)
            if row["title_key"] != item.title_key and dates_agree(row, when) is not False
        ]
        if len(fits) != 1:
            return None
        [row] = fits
        # One side is the short name, the other the full title it leads.
        if (row["lead_key"] == row["title_key"]) == short or _other_arxiv(row, item):
            return None
        return row


def _append(by: dict[str, list[PaperRow]], value: str, row: PaperRow) -> None:
    listed = by.setdefault(value, [])
    if not any(r is row for r in listed):
        listed.append(row)


def _current(by: dict[str, list[PaperRow]], name: str, value: str) -> list[PaperRow]:
    """The rows listed under ``value`` that still hold it (a title may have changed)."""
    return [row for row in by.get(value, ()) if row[name] == value]


def _other_arxiv(row: PaperRow, item: PreparedEntry) -> bool:
    """Both carry arXiv ids, and they differ: two papers, whatever their titles say."""
    e = item.entry
    return bool(e.arxiv_id and row["arxiv_id"] and row["arxiv_id"] != e.arxiv_id)


def entry_date(item: PreparedEntry, now: datetime) -> datetime:
    """The date an entry gives; one without a date is dated when it is seen, as a new
    paper made from it is."""
    published = item.entry.published
    return min(published, now) if published is not None else now


def _dated(row: PaperRow) -> bool:
    """Whether a source dated the paper (or its arXiv id bounds it): a paper first seen
    without a date is announced when it was first seen, which says nothing."""
    return bool(row["announced_exact"]) or row["announced_at"] != row["first_seen_at"]


def dates_agree(row: PaperRow, when: datetime | None) -> bool | None:
    """Whether the paper and an entry dated ``when`` are within ``TITLE_WINDOW`` of each
    other; None when either has no date to compare."""
    if when is None or not _dated(row):
        return None
    announced: datetime = row["announced_at"]
    return abs(announced - when) <= TITLE_WINDOW


def title_evidence(row: PaperRow, item: PreparedEntry, when: datetime | None) -> bool:
    """Whether something besides the title says ``item`` is ``row``'s paper.

    An author in common does (curated lists name none); else dates within
    ``TITLE_WINDOW`` do. Where a side has no date, a title that is more than a short
    name (``LEAD_MAX_WORDS``) is specific enough on its own; a short one ("Scaling Laws")
    is not.
    """
    if common_author(row["authors"] or (), item.entry.authors):
        return True
    agree = dates_agree(row, when)
    return agree if agree is not None else not _is_short_name(item.entry.title)


def _surname(name: str) -> str:
    words = normalize_title(name).split()
    return words[-1] if words else ""


def common_author(ours: Iterable[str], theirs: Iterable[str]) -> bool:
    """Whether two author lists share a surname ("A. Vaswani" and "Ashish Vaswani")."""
    mine = {_surname(n) for n in ours} - {""}
    return any(_surname(n) in mine for n in theirs)


# -- when a paper was announced ----------------------------------------------------------


@functools.lru_cache(maxsize=8192)  # asked for every paper an item merges into
def id_month_cap(arxiv_id: str | None) -> datetime | None:
    """The latest a paper with this arXiv id can have been announced, or None.

    ``2202.00001`` and ``hep-th/0202001`` were numbered in February 2022 / 2002, so
    announced by early March at the latest, whatever date a later listing gives them.
    """
    ref = parse_arxiv_id(arxiv_id) if arxiv_id else None
    if ref is None:
        return None
    yymm = ref.id.split("/")[-1][:4]
    yy, month = int(yymm[:2]), int(yymm[2:])
    year = 1900 + yy if yy >= 91 else 2000 + yy  # old-style ids began in 1991
    nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return nxt + _ID_MONTH_GRACE


def exact_announcement(item: PreparedEntry) -> bool:
    """Whether ``item``'s date is arXiv's own date of the paper's version 1."""
    e = item.entry
    return (
        item.title_source == "arxiv"
        and e.arxiv_id is not None
        and e.published is not None
        and e.announce_type in _FIRST_VERSION_TYPES
    )


def merged_announcement(
    stored: tuple[datetime, bool], offered: tuple[datetime, bool] | None, arxiv_id: str | None
) -> tuple[datetime, bool]:
    """A paper's announcement (date, exact) once a source offers its own (None: no date).

    An exact date (arXiv's version 1) beats any inexact one, earlier or later; between
    two of a kind the earlier wins. The result is never later than the id allows.
    """
    at, exact = stored
    if offered is not None:
        offered_at, offered_exact = offered
        if offered_exact and not exact:
            at, exact = offered_at, True
        elif offered_exact == exact:
            at = min(at, offered_at)
    cap = id_month_cap(arxiv_id)
    if cap is not None and at > cap:
        at = cap
    return at, exact


def offered_announcement(
    item: PreparedEntry, arxiv_id: str | None, now: datetime
) -> tuple[datetime, bool] | None:
    """The announcement ``item`` offers for a paper holding ``arxiv_id``: its date, exact
    only for that very id (an item found by a DOI both share dates its own paper)."""
    e = item.entry
    if e.published is None:
        return None
    return min(e.published, now), exact_announcement(item) and e.arxiv_id == arxiv_id


# -- what a paper is called -----------------------------------------------------------------


def title_rank(source: str | None) -> int:
    return TITLE_AUTHORITY.get(source or "", _WEAKEST)


def replaces_title(
    stored: str, stored_source: str | None, offered: str, source: str | None
) -> bool:
    """Whether ``offered`` (from a ``source``) becomes the paper's title instead of
    ``stored``: a stronger source's different title does, an equal source's only when
    fuller, a weaker source's never."""
    if not offered:
        return False
    if not stored:
        return True
    rank, stored_rank = title_rank(source), title_rank(stored_source)
    if rank > stored_rank:
        return offered != stored
    return rank == stored_rank and fuller_title(stored, offered)


def _is_short_name(title: str) -> bool:
    return title_lead_key(title) == title_key(title)


def with_alias(
    aliases: Sequence[str] | None, title: str, source: str | None, final: str
) -> list[str] | None:
    """``aliases`` with ``title`` added when it is a curated short name other than the
    paper's ``final`` title; None when nothing is added."""
    if source not in _ALIAS_SOURCES or not title or not _is_short_name(title):
        return None
    # "Reward Hacking" of "Reward Hacking at Scale" is the title cut short, not a name;
    # "MEM1" of "MEM1: Learning to Synergize…" is the name the title leads with.
    truncated = normalize_title(final).startswith(normalize_title(title) + " ")
    if truncated and title_lead_key(final) != title_key(title):
        return None
    known = list(aliases or ())
    folded = {normalize_title(a) for a in known} | {normalize_title(final)}
    if normalize_title(title) in folded or len(known) >= _ALIASES_MAX:
        return None
    return [*known, title]


def display_title(title: str, aliases: Sequence[str]) -> str:
    """The title as shown, its curated short names first: "MEM1 — MEM1: Learning to …"."""
    names = [a for a in aliases if a and normalize_title(a) != normalize_title(title)]
    return " — ".join([" / ".join(names), title]) if names else title


def _title_values(row: PaperRow, item: PreparedEntry) -> dict[str, Any]:
    """The title, its keys, its source and the aliases, as ``item`` leaves them."""
    e = item.entry
    values: dict[str, Any] = {}
    source = item.title_source
    if replaces_title(row["title"], row["title_source"], e.title, source):
        values.update(
            title=e.title,
            title_key=item.title_key,
            lead_key=title_lead_key(e.title),
            title_source=source,
        )
        loser, loser_source = row["title"], row["title_source"]
    else:
        loser, loser_source = e.title, source
        if (
            row["title_source"] is None
            and source
            and normalize_title(e.title) == normalize_title(row["title"])
        ):
            values["title_source"] = source  # an old row learns where its title is from
    final = str(values.get("title") or row["title"])
    aliases = with_alias(row["aliases"], loser, loser_source, final)
    if aliases is not None:
        values["aliases"] = aliases
    return values


def new_paper_row(item: PreparedEntry, now: datetime, index: PaperIndex) -> PaperRow:
    """The row a new paper starts as (its id comes with the insert), among ``index``'s."""
    e = item.entry
    announced, exact = merged_announcement(
        (entry_date(item, now), exact_announcement(item)), None, e.arxiv_id
    )
    return {
        "id": None,
        "key": index.free_key(item.key, announced),
        "arxiv_id": e.arxiv_id,
        "arxiv_version": e.arxiv_version,
        "doi": e.doi,
        "url_key": item.url_key,
        "title_key": item.title_key,
        "lead_key": title_lead_key(e.title),
        "title": e.title,
        "title_source": item.title_source,
        "aliases": None,
        "title_alt": e.title_alt,
        "authors": list(e.authors),
        "abstract": e.abstract,
        "abs_url": e.links.abs or (arxiv_abs_url(e.arxiv_id) if e.arxiv_id else e.url),
        "pdf_url": e.links.pdf,
        "code_url": e.links.code,
        "other_links": list(e.links.other),
        "first_seen_at": now,
        "announced_at": announced,
        "announced_exact": exact,
        "updated_at": now,
        "source_count": 0,
        "max_upvotes": 0,
        "search_text": search_text(item, None),
    }


def initial_signals(
    source_ids: Sequence[int],
    chunk: Sequence[PreparedEntry],
    rows: Sequence[PaperRow],
    pending: list[PaperRow],
) -> None:
    """Set the source count and best upvotes of new papers before they are inserted.

    A new paper's mentions are the items of this chunk that found it (no other writer
    sees the row before the commit), so its signals are known here and the store's
    count of mentions finds nothing to change for it. A mention keeps the last upvotes
    an item gave it.
    """
    new = {id(row) for row in pending}
    last: dict[tuple[int, int, str], int | None] = {}
    for source_id, item, row in zip(source_ids, chunk, rows, strict=True):
        if id(row) in new:
            upvotes = item.entry.signals.upvotes
            key = (id(row), source_id, item.item_key)
            if upvotes is not None:
                last[key] = upvotes
            else:
                last.setdefault(key, None)
    best: dict[int, int] = {}
    by: dict[int, set[int]] = {}
    for (row_key, source_id, _item_key), upvotes in last.items():
        best[row_key] = max(best.get(row_key, 0), upvotes or 0)
        by.setdefault(row_key, set()).add(source_id)
    for row in pending:
        if id(row) in best:
            row["source_count"] = len(by[id(row)])
            row["max_upvotes"] = best[id(row)]


def fuller_title(stored: str, offered: str) -> bool:
    """Whether ``offered`` is the fuller form of the stored title.

    Curated lists shorten titles ("Aligners" for "Aligners: Decoupling LLMs and
    Alignment"); whichever source arrives first, the paper ends up with the full title.
    """
    if not offered:
        return False
    if not stored:
        return True
    short, full = normalize_title(stored), normalize_title(offered)
    return len(full) > len(short) and full.startswith(short + " ")


def merge_values(
    row: PaperRow, item: PreparedEntry, now: datetime, index: PaperIndex
) -> dict[str, Any]:
    """What this source adds to a known paper (empty when nothing).

    An identity the paper lacks is taken only if no other known paper holds it.
    """
    e = item.entry
    values: dict[str, Any] = {}
    if e.arxiv_id and not row["arxiv_id"] and not index.arxiv_taken(e.arxiv_id):
        values["arxiv_id"] = e.arxiv_id
        values["key"] = item.key
        values["abs_url"] = arxiv_abs_url(e.arxiv_id)
    if e.arxiv_version and (row["arxiv_version"] or 0) < e.arxiv_version:
        values["arxiv_version"] = e.arxiv_version
    if e.doi and not row["doi"] and not index.doi_taken(e.doi):
        values["doi"] = e.doi
    fill = {
        "abstract": e.abstract,
        "title_alt": e.title_alt,
        "pdf_url": e.links.pdf,
        "code_url": e.links.code,
        "url_key": item.url_key,
    }
    for column, value in fill.items():
        if value and not row[column]:
            values[column] = value
    if not row["abs_url"] and (e.links.abs or e.url):
        values["abs_url"] = e.links.abs or e.url
    if e.authors and len(e.authors) > len(row["authors"] or ()):
        values["authors"] = list(e.authors)
    values.update(_title_values(row, item))
    arxiv_id = values.get("arxiv_id", row["arxiv_id"])
    stored = (row["announced_at"], bool(row["announced_exact"]))
    at, exact = merged_announcement(stored, offered_announcement(item, arxiv_id, now), arxiv_id)
    if at != stored[0]:
        values["announced_at"] = at
    if exact != stored[1]:
        values["announced_exact"] = exact
    search = search_text(item, row["search_text"])
    if search != row["search_text"]:
        values["search_text"] = search
    if values:
        values["updated_at"] = now
    return values


def search_text(item: PreparedEntry, existing: str | None) -> str:
    """Title, translated title, authors, abstract, summaries and the sources' comments
    (a notes page's own words on the paper): what free words search."""
    e = item.entry
    parts = [existing] if existing else [e.title, e.title_alt, " ".join(e.authors), e.abstract]
    # A later source's authors and abstract count too: a curated pick known by a short
    # name gains them from arXiv, and its abstract's words must then find it.
    later = (e.title, e.title_alt, " ".join(e.authors), e.abstract, e.summary, e.ai_summary)
    for extra in (*later, e.comment):
        if extra and (not existing or extra not in existing):
            parts.append(extra)
    joined = "\n".join(dict.fromkeys(p for p in parts if p))
    return joined[:_SEARCH_TEXT_MAX]
