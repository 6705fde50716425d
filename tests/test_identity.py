"""Which known paper an entry is and what it adds to it, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digests.identity import (
    PaperIndex,
    PaperRow,
    fuller_title,
    initial_signals,
    merge_values,
    new_paper_row,
    search_text,
)
from digests.ingest import prepare
from digests.model import Entry, Links, PreparedEntry, Signals
from digests.normalize import arxiv_abs_url, canonical_url, title_key
from digests.topics import TopicRules
from tests.factories import arxiv, source_info

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
ARXIV_ID = "2403.04224"
DOI = "10.1000/xyz"
URL = "https://example.org/papers/one"


def prepared(entry: Entry) -> PreparedEntry:
    """The entry with its identities worked out as ingest works them out."""
    [item] = prepare([entry], source_info(), TopicRules())
    return item


def row_for(entry: Entry, paper_id: int) -> PaperRow:
    row = new_paper_row(prepared(entry), NOW)
    row["id"] = paper_id
    return row


# -- the fallback chain ---------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    known: tuple[Entry, ...]  # stored as papers 1, 2, … in this order
    offered: Entry
    found: int | None  # the paper the offered entry is, if any


LOOKUPS = {
    # The arXiv id comes first, before a DOI another paper holds, whatever the version.
    "arxiv id without its version": Lookup(
        known=(Entry("Beta", doi=DOI), arxiv(f"{ARXIV_ID}v1", "Alpha")),
        offered=arxiv(f"{ARXIV_ID}v4", "Gamma", doi=DOI),
        found=2,
    ),
    # The DOI comes before a URL another paper holds; the titles differ.
    "doi before url, titles differ": Lookup(
        known=(Entry("Alpha", url=URL), Entry("Beta", doi=DOI)),
        offered=Entry("Gamma", doi=DOI, url=URL),
        found=2,
    ),
    # The paper's key comes from its DOI, so only its canonical URL can find it.
    "canonical url": Lookup(
        known=(Entry("Beta", doi=DOI, url=URL),),
        offered=Entry("Gamma", url="http://www.example.org/papers/one/?utm_source=x#top"),
        found=1,
    ),
    # arXiv's own DOI makes the key ``arxiv:<id>``: no arXiv id, DOI or URL to match on.
    "paper key from an arxiv doi": Lookup(
        known=(arxiv(ARXIV_ID, "Alpha"),),
        offered=Entry("Gamma", doi=f"10.48550/arxiv.{ARXIV_ID}"),
        found=1,
    ),
    "normalized title": Lookup(
        known=(Entry("Aligners: Decoupling LLMs", url=URL),),
        offered=arxiv(ARXIV_ID, "ALIGNERS — decoupling LLMs"),
        found=1,
    ),
    "the first paper under a title keeps it": Lookup(
        known=(
            Entry("Aligners", url=URL),
            Entry("Aligners", url="https://example.org/papers/two"),
        ),
        offered=Entry("Aligners"),
        found=1,
    ),
    "a title never joins two arxiv ids": Lookup(
        known=(arxiv(ARXIV_ID, "Aligners"),),
        offered=arxiv("2403.09999", "Aligners"),
        found=None,
    ),
    "nothing in common": Lookup(
        known=(arxiv(ARXIV_ID, "Alpha"), Entry("Beta", doi=DOI), Entry("Gamma", url=URL)),
        offered=Entry("Delta", doi="10.1000/other", url="https://example.org/other"),
        found=None,
    ),
}


@pytest.mark.parametrize("case", LOOKUPS.values(), ids=LOOKUPS.keys())
def test_the_fallback_chain_finds_the_paper(case: Lookup) -> None:
    rows = [row_for(e, i) for i, e in enumerate(case.known, start=1)]
    hit = PaperIndex(rows).find(prepared(case.offered))
    assert (hit and hit["id"]) == case.found


def test_a_paper_added_again_is_found_by_its_new_identities() -> None:
    row = row_for(Entry("Alpha", url=URL), 1)
    index = PaperIndex([row])
    assert not index.doi_taken(DOI)
    row.update(doi=DOI, key=f"doi:{DOI}")
    index.add(row)
    assert index.doi_taken(DOI) and not index.arxiv_taken(ARXIV_ID)
    assert index.find(prepared(Entry("Other", doi=DOI))) is row


# -- the merge policy -----------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    known: Entry
    offered: Entry
    changed: dict[str, Any]  # what the offered entry adds, but updated_at and search_text
    others: tuple[Entry, ...] = ()  # other known papers


MERGES = {
    "an arxiv id joins a paper seen without one": Merge(
        known=Entry("Alpha", url=URL),
        offered=arxiv(f"{ARXIV_ID}v2", "Alpha"),
        changed={
            "arxiv_id": ARXIV_ID,
            "key": f"arxiv:{ARXIV_ID}",
            "abs_url": arxiv_abs_url(ARXIV_ID),
            "arxiv_version": 2,
        },
    ),
    "an arxiv id another paper holds is not taken": Merge(
        known=Entry("Alpha", url=URL),
        offered=arxiv(ARXIV_ID, "Alpha"),
        changed={},
        others=(arxiv(ARXIV_ID, "Beta"),),
    ),
    "a higher version wins": Merge(
        known=arxiv(f"{ARXIV_ID}v2", "Alpha"),
        offered=arxiv(f"{ARXIV_ID}v4", "Alpha"),
        changed={"arxiv_version": 4},
    ),
    "a lower version does not": Merge(
        known=arxiv(f"{ARXIV_ID}v4", "Alpha"),
        offered=arxiv(f"{ARXIV_ID}v2", "Alpha"),
        changed={},
    ),
    "a doi joins a paper seen without one": Merge(
        known=arxiv(ARXIV_ID, "Alpha"),
        offered=arxiv(ARXIV_ID, "Alpha", doi=DOI),
        changed={"doi": DOI},
    ),
    "a doi another paper holds is not taken": Merge(
        known=arxiv(ARXIV_ID, "Alpha"),
        offered=arxiv(ARXIV_ID, "Alpha", doi=DOI),
        changed={},
        others=(Entry("Beta", doi=DOI),),
    ),
    "blanks are filled, values never overwritten": Merge(
        known=arxiv(ARXIV_ID, "Alpha", abstract="Stored abstract."),
        offered=arxiv(
            ARXIV_ID,
            "Alpha",
            abstract="Another abstract.",
            title_alt="アルファ",
            links=Links(pdf="https://example.org/a.pdf", code="https://example.org/code"),
        ),
        changed={
            "title_alt": "アルファ",
            "pdf_url": "https://example.org/a.pdf",
            "code_url": "https://example.org/code",
        },
    ),
    "a landing page and url key fill a paper without them": Merge(
        known=Entry("Alpha"),
        offered=Entry("Alpha", url=URL, abstract="An abstract."),
        changed={"abs_url": URL, "url_key": canonical_url(URL), "abstract": "An abstract."},
    ),
    "a longer author list wins": Merge(
        known=arxiv(ARXIV_ID, "Alpha", authors=("A. One",)),
        offered=arxiv(ARXIV_ID, "Alpha", authors=("A. One", "B. Two")),
        changed={"authors": ["A. One", "B. Two"]},
    ),
    "a shorter author list does not": Merge(
        known=arxiv(ARXIV_ID, "Alpha", authors=("A. One", "B. Two")),
        offered=arxiv(ARXIV_ID, "Alpha", authors=("B. Two",)),
        changed={},
    ),
    "the fuller title wins": Merge(
        known=arxiv(ARXIV_ID, "Aligners"),
        offered=arxiv(ARXIV_ID, "Aligners: Decoupling LLMs and Alignment"),
        changed={
            "title": "Aligners: Decoupling LLMs and Alignment",
            "title_key": title_key("Aligners: Decoupling LLMs and Alignment"),
        },
    ),
    "a shorter title does not": Merge(
        known=arxiv(ARXIV_ID, "Aligners: Decoupling LLMs and Alignment"),
        offered=arxiv(ARXIV_ID, "Aligners"),
        changed={},
    ),
    "an earlier announcement wins": Merge(
        known=arxiv(ARXIV_ID, "Alpha", published=NOW - timedelta(days=1)),
        offered=arxiv(ARXIV_ID, "Alpha", published=NOW - timedelta(days=3)),
        changed={"announced_at": NOW - timedelta(days=3)},
    ),
    "a later one does not": Merge(
        known=arxiv(ARXIV_ID, "Alpha", published=NOW - timedelta(days=3)),
        offered=arxiv(ARXIV_ID, "Alpha", published=NOW - timedelta(days=1)),
        changed={},
    ),
}


@pytest.mark.parametrize("case", MERGES.values(), ids=MERGES.keys())
def test_the_merge_policy(case: Merge) -> None:
    row = row_for(case.known, 1)
    others = [row_for(e, i) for i, e in enumerate(case.others, start=2)]
    later = NOW + timedelta(hours=1)
    values = merge_values(row, prepared(case.offered), later, PaperIndex([row, *others]))
    assert {k: v for k, v in values.items() if k not in ("updated_at", "search_text")} == (
        case.changed
    )
    # A paper is touched exactly when something changed.
    assert values.get("updated_at") == (later if values else None)


def test_a_summary_is_added_to_the_search_text_once() -> None:
    row = row_for(arxiv(ARXIV_ID, "Alpha", abstract="An abstract."), 1)
    item = prepared(arxiv(ARXIV_ID, "Alpha", summary="A short summary."))
    values = merge_values(row, item, NOW, PaperIndex([row]))
    assert values["search_text"] == "Alpha\nAn abstract.\nA short summary."
    row.update(values)
    assert merge_values(row, item, NOW, PaperIndex([row])) == {}


def test_the_search_text_is_capped() -> None:
    assert len(search_text(prepared(Entry("Alpha", abstract="x" * 50_000)), None)) == 20_000


FULLER = [
    ("Aligners", "Aligners: Decoupling LLMs and Alignment", True),
    ("ALIGNERS", "aligners — decoupling LLMs", True),  # compared normalized
    ("", "Aligners", True),
    ("Aligners: Decoupling LLMs and Alignment", "Aligners", False),
    ("Aligners: Decoupling LLMs", "Aligners, revisited at length", False),
    ("Align", "Aligners: Decoupling", False),  # a prefix, but not of whole words
    ("Aligners", "aligners!", False),  # the same title
    ("Aligners", "", False),
]


@pytest.mark.parametrize(("stored", "offered", "fuller"), FULLER)
def test_the_fuller_title(stored: str, offered: str, fuller: bool) -> None:
    assert fuller_title(stored, offered) is fuller


# -- a new paper ----------------------------------------------------------------------


def test_a_new_paper_is_announced_no_later_than_it_is_first_seen() -> None:
    future = row_for(arxiv(ARXIV_ID, "Alpha", published=NOW + timedelta(days=1)), 1)
    past = row_for(arxiv(ARXIV_ID, "Alpha", published=NOW - timedelta(days=1)), 1)
    assert (future["announced_at"], past["announced_at"]) == (NOW, NOW - timedelta(days=1))
    assert future["abs_url"] == arxiv_abs_url(ARXIV_ID)


def test_new_papers_count_their_sources_and_keep_the_last_upvotes_of_each_item() -> None:
    def item(upvotes: int | None, item_id: str = "one") -> PreparedEntry:
        return prepared(
            arxiv(ARXIV_ID, "Alpha", source_item_id=item_id, signals=Signals(upvotes=upvotes))
        )

    new, known = row_for(arxiv(ARXIV_ID, "Alpha"), 0), row_for(Entry("Beta"), 7)
    chunk = [
        item(9),
        item(3),  # the same item again: its last upvotes count
        item(None),  # no upvotes given: the last known stay
        item(None, "two"),
        item(50),
    ]
    source_ids = [1, 1, 1, 2, 1]
    rows = [new, new, new, new, known]  # a known paper's signals are the store's to count
    initial_signals(source_ids, chunk, rows, [new])
    assert (new["source_count"], new["max_upvotes"]) == (2, 3)
    assert (known["source_count"], known["max_upvotes"]) == (0, 0)
