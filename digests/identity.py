"""Which known paper an entry is, and what the entry adds to it: pure rules, no I/O.

An entry is the first known paper it matches (``PaperIndex.find``) by arXiv id, DOI,
canonical URL, paper key, then normalized title; a title never joins two arXiv ids. The
store reads ``papers`` rows as dicts and writes back what these rules decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from digests.model import PreparedEntry
from digests.normalize import arxiv_abs_url, normalize_title

PaperRow = dict[str, Any]

# search_text grows with every source's summary; past this it adds little but index size.
_SEARCH_TEXT_MAX = 20_000


class PaperIndex:
    """Known papers by every identity, so the chain is one lookup each."""

    def __init__(self, rows: Iterable[PaperRow] = ()) -> None:
        self.by_arxiv: dict[str, PaperRow] = {}
        self.by_doi: dict[str, PaperRow] = {}
        self.by_url: dict[str, PaperRow] = {}
        self.by_title: dict[str, PaperRow] = {}
        self.by_key: dict[str, PaperRow] = {}
        for row in rows:
            self.add(row)

    def add(self, row: PaperRow) -> None:
        self.by_key[row["key"]] = row
        if row["arxiv_id"]:
            self.by_arxiv[row["arxiv_id"]] = row
        if row["doi"]:
            self.by_doi[row["doi"]] = row
        if row["url_key"]:
            self.by_url[row["url_key"]] = row
        # The first paper seen under a title keeps it: a title is the weakest identity.
        self.by_title.setdefault(row["title_key"], row)

    def arxiv_taken(self, arxiv_id: str) -> bool:
        return arxiv_id in self.by_arxiv

    def doi_taken(self, doi: str) -> bool:
        return doi in self.by_doi

    def find(self, item: PreparedEntry) -> PaperRow | None:
        e = item.entry
        if e.arxiv_id:
            hit = self.by_arxiv.get(e.arxiv_id)
            if hit is not None:
                return hit
        if e.doi and (hit := self.by_doi.get(e.doi)) is not None:
            return hit
        if item.url_key and (hit := self.by_url.get(item.url_key)) is not None:
            return hit
        if (hit := self.by_key.get(item.key)) is not None:
            return hit
        hit = self.by_title.get(item.title_key)
        # Same title, but both carry different arXiv ids: two papers, not one.
        if hit is not None and e.arxiv_id and hit["arxiv_id"] and hit["arxiv_id"] != e.arxiv_id:
            return None
        return hit


def new_paper_row(item: PreparedEntry, now: datetime) -> PaperRow:
    """The row a new paper starts as (its id comes with the insert)."""
    e = item.entry
    announced = e.published or now
    return {
        "id": None,
        "key": item.key,
        "arxiv_id": e.arxiv_id,
        "arxiv_version": e.arxiv_version,
        "doi": e.doi,
        "url_key": item.url_key,
        "title_key": item.title_key,
        "title": e.title,
        "title_alt": e.title_alt,
        "authors": list(e.authors),
        "abstract": e.abstract,
        "abs_url": e.links.abs or (arxiv_abs_url(e.arxiv_id) if e.arxiv_id else e.url),
        "pdf_url": e.links.pdf,
        "code_url": e.links.code,
        "other_links": list(e.links.other),
        "first_seen_at": now,
        "announced_at": min(announced, now),
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
    if fuller_title(row["title"], e.title):
        values["title"] = e.title
        values["title_key"] = item.title_key
    if e.published and e.published < row["announced_at"]:
        values["announced_at"] = e.published
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
    for extra in (e.title, e.title_alt, e.summary, e.ai_summary, e.comment):
        if extra and (not existing or extra not in existing):
            parts.append(extra)
    joined = "\n".join(dict.fromkeys(p for p in parts if p))
    return joined[:_SEARCH_TEXT_MAX]
