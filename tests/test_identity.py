"""Which known paper an entry is and what it adds to it, without a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digests.identity import (
    TITLE_SOURCE_BY_KIND,
    PaperIndex,
    PaperRow,
    display_title,
    fuller_title,
    initial_signals,
    merge_values,
    new_paper_row,
    search_text,
)
from digests.ingest import prepare
from digests.model import Entry, Links, PreparedEntry, Signals, SourceKind
from digests.normalize import (
    arxiv_abs_url,
    canonical_url,
    parse_arxiv_id,
    title_key,
    title_lead_key,
)
from digests.topics import TopicRules
from tests.factories import arxiv, source_info

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
ARXIV_ID = "2508.04224"
DOI = "10.1000/xyz"
URL = "https://example.org/papers/one"


def prepared(entry: Entry) -> PreparedEntry:
    """The entry with its identities worked out as ingest works them out."""
    [item] = prepare([entry], source_info(), TopicRules())
    return item


def row_for(entry: Entry, paper_id: int) -> PaperRow:
    row = new_paper_row(prepared(entry), NOW, PaperIndex())
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
            Entry("Aligners Decouple LLMs and Alignment", url=URL),
            Entry("Aligners Decouple LLMs and Alignment", url="https://example.org/papers/two"),
        ),
        offered=Entry("Aligners Decouple LLMs and Alignment"),
        found=1,
    ),
    # A short name and nothing else: no date, no author, so no evidence.
    "a short title alone": Lookup(
        known=(Entry("Aligners", url=URL),),
        offered=Entry("Aligners"),
        found=None,
    ),
    "a title never joins two arxiv ids": Lookup(
        known=(arxiv(ARXIV_ID, "Aligners"),),
        offered=arxiv("2508.09999", "Aligners"),
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
    hit = PaperIndex(rows).find(prepared(case.offered), NOW)
    assert (hit and hit["id"]) == case.found


def test_a_paper_added_again_is_found_by_its_new_identities() -> None:
    row = row_for(Entry("Alpha", url=URL), 1)
    index = PaperIndex([row])
    assert not index.doi_taken(DOI)
    row.update(doi=DOI, key=f"doi:{DOI}")
    index.add(row)
    assert index.doi_taken(DOI) and not index.arxiv_taken(ARXIV_ID)
    assert index.find(prepared(Entry("Other", doi=DOI)), NOW) is row


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
            "lead_key": title_key("Aligners"),
            "title_source": "feed",
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


# -- real look-alikes ---------------------------------------------------------------------
#
# Each case is a run of sightings, each of a source kind, resolved as the store resolves
# them (find, else a new paper; merge what the sighting adds): the papers it ends with.

ARXIV, API, HF, CURATED, NOTES, FEED = (
    SourceKind.ARXIV,
    SourceKind.ARXIV_API,
    SourceKind.HF_DAILY,
    SourceKind.WEEKLY_MD,
    SourceKind.NOTES_HTML,
    SourceKind.FEED,
)
Seen = tuple[SourceKind, Entry]


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sighting(kind: SourceKind, entry: Entry) -> PreparedEntry:
    [item] = prepare([entry], replace(source_info(), kind=kind), TopicRules())
    return item


def resolve(seen: Sequence[Seen], now: datetime = NOW) -> tuple[list[int], list[PaperRow]]:
    """The paper (0, 1, … in order of creation) each sighting is, and the papers' rows."""
    index = PaperIndex()
    papers: list[PaperRow] = []
    which: list[int] = []
    for kind, entry in seen:
        item = sighting(kind, entry)
        row = index.find(item, now)
        if row is None:
            row = new_paper_row(item, now, index)
            row["id"] = len(papers) + 1
            papers.append(row)
        else:
            row.update(merge_values(row, item, now, index))
        index.add(row)
        which.append(papers.index(row))
    return which, papers


GEMMA_PDF = "https://storage.googleapis.com/deepmind-media/gemma/gemma-report.pdf"
GEMMA_FULL = "Gemma: Open Models Based on Gemini Research and Technology"
GPQA_FULL = "GPQA: A Graduate-Level Google-Proof Q&A Benchmark"
LIMA_FULL = "LIMA: Less Is More for Alignment"
EM_FULL = "Emergent Misalignment: Narrow finetuning can produce broadly misaligned LLMs"
EM_PDF = "https://cdn.openai.com/pdf/a130517e/emergent-misalignment-persona-features.pdf"
KAPLAN = "Scaling Laws for Neural Language Models"


@dataclass(frozen=True)
class LookAlike:
    seen: tuple[Seen, ...]
    papers: tuple[int, ...]  # the paper each sighting ends up as


LOOK_ALIKES = {
    # A curated short name and arXiv's full title, two days apart: one paper.
    "GPQA, short name first": LookAlike(
        (
            (
                CURATED,
                Entry(
                    "GPQA", url="https://github.com/idavidrein/gpqa", published=day("2023-11-20")
                ),
            ),
            (
                ARXIV,
                arxiv("2311.12022v1", GPQA_FULL, published=day("2023-11-21"), announce_type="new"),
            ),
        ),
        (0, 0),
    ),
    "GPQA, full title first": LookAlike(
        (
            (
                ARXIV,
                arxiv("2311.12022v1", GPQA_FULL, published=day("2023-11-21"), announce_type="new"),
            ),
            (
                CURATED,
                Entry(
                    "GPQA", url="https://github.com/idavidrein/gpqa", published=day("2023-11-27")
                ),
            ),
        ),
        (0, 0),
    ),
    "LIMA, a note after Hugging Face": LookAlike(
        (
            (HF, arxiv("2305.11206", LIMA_FULL, published=day("2023-05-19"))),
            (
                NOTES,
                Entry(
                    "LIMA",
                    source_item_id="https://github.com/x/notes/issues/712",
                    published=day("2023-05-25"),
                ),
            ),
        ),
        (0, 0),
    ),
    # The company's PDF three weeks before arXiv's version 1.
    "Gemma, a curated PDF link and arXiv 2403.08295": LookAlike(
        (
            (CURATED, Entry("Gemma", url=GEMMA_PDF, published=day("2024-02-19"))),
            (API, arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"))),
        ),
        (0, 0),
    ),
    "Gemma, arXiv first": LookAlike(
        (
            (API, arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"))),
            (CURATED, Entry("Gemma", url=GEMMA_PDF, published=day("2024-02-19"))),
        ),
        (0, 0),
    ),
    # Two papers the short name leads within the window: which one is unknown.
    "a short name two papers lead": LookAlike(
        (
            (
                ARXIV,
                arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"), announce_type="new"),
            ),
            (
                ARXIV,
                arxiv(
                    "2403.09999v1",
                    "Gemma: Another Report Entirely",
                    published=day("2024-03-14"),
                    announce_type="new",
                ),
            ),
            (CURATED, Entry("Gemma", url=GEMMA_PDF, published=day("2024-03-18"))),
        ),
        (0, 1, 2),
    ),
    # Only one of them within the window: that one.
    "a short name one paper of the window leads": LookAlike(
        (
            (
                ARXIV,
                arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"), announce_type="new"),
            ),
            (
                ARXIV,
                arxiv(
                    "2609.09999v1",
                    "Gemma: Another Report Entirely",
                    published=day("2026-09-14"),
                    announce_type="new",
                ),
            ),
            (CURATED, Entry("Gemma", url=GEMMA_PDF, published=day("2024-03-18"))),
        ),
        (0, 1, 0),
    ),
    # DAIR's June 2025 pick is another work under the words of February's arXiv paper.
    "Emergent Misalignment, June PDF after February's paper": LookAlike(
        (
            (CURATED, arxiv("2502.17424", "Emergent Misalignment", published=day("2025-02-24"))),
            (
                ARXIV,
                arxiv("2502.17424v1", EM_FULL, published=day("2025-02-25"), announce_type="new"),
            ),
            (CURATED, Entry("Emergent Misalignment", url=EM_PDF, published=day("2025-06-16"))),
        ),
        (0, 0, 1),
    ),
    "Emergent Misalignment, the same title four months apart": LookAlike(
        (
            (CURATED, arxiv("2502.17424", "Emergent Misalignment", published=day("2025-02-24"))),
            (CURATED, Entry("Emergent Misalignment", url=EM_PDF, published=day("2025-06-16"))),
        ),
        (0, 1),
    ),
    # The June PDF came first; a feed then re-lists February's arXiv paper in June. The
    # feed's date is June, but the id says the paper came out by early March.
    "Emergent Misalignment, a June re-listing of February's paper after the June PDF": (
        LookAlike(
            (
                (CURATED, Entry("Emergent Misalignment", url=EM_PDF, published=day("2025-06-16"))),
                (FEED, arxiv("2502.17424", "Emergent Misalignment", published=day("2025-06-17"))),
            ),
            (0, 1),
        )
    ),
    "a generic title, years apart": LookAlike(
        (
            (
                FEED,
                Entry(
                    "Scaling Laws", url="https://blog.example.org/a", published=day("2020-01-23")
                ),
            ),
            (
                FEED,
                Entry(
                    "Scaling Laws", url="https://blog.example.org/b", published=day("2024-06-01")
                ),
            ),
        ),
        (0, 1),
    ),
    # Nothing but the title, which is then the paper's key too: still no evidence.
    "a generic title alone, years apart": LookAlike(
        (
            (NOTES, Entry("Scaling Laws", published=day("2020-01-23"))),
            (NOTES, Entry("Scaling Laws", published=day("2024-06-01"))),
        ),
        (0, 1),
    ),
    # Without a date on one side, a title longer than a short name is evidence enough...
    "an undated note of a specific title": LookAlike(
        (
            (
                ARXIV,
                arxiv(
                    "2309.00400v1",
                    "Thinking Out Loud in Small Steps",
                    published=day("2023-09-30"),
                    announce_type="new",
                ),
            ),
            (NOTES, Entry("Thinking Out Loud in Small Steps")),
        ),
        (0, 0),
    ),
    # ...a short name is not, unless an author is in common.
    "an undated short title": LookAlike(
        (
            (
                ARXIV,
                arxiv(
                    "2309.00400v1", "Scaling Laws", published=day("2023-09-30"), announce_type="new"
                ),
            ),
            (NOTES, Entry("Scaling Laws")),
            (NOTES, Entry("Scaling Laws", authors=("Jane Doe",))),
            (FEED, Entry("Scaling Laws", authors=("J. Doe",), url="https://blog.example.org/c")),
        ),
        (0, 1, 2, 2),
    ),
    "a generic title, weeks apart": LookAlike(
        (
            (
                FEED,
                Entry(
                    "Scaling Laws", url="https://blog.example.org/a", published=day("2024-05-01")
                ),
            ),
            (NOTES, Entry("Scaling Laws", published=day("2024-06-01"))),
        ),
        (0, 0),
    ),
    # Years apart, but an author in common ("J. Kaplan" is "Jared Kaplan").
    "a title and an author in common": LookAlike(
        (
            (
                ARXIV,
                arxiv(
                    "2001.08361v1",
                    KAPLAN,
                    authors=("Jared Kaplan", "Sam McCandlish"),
                    published=day("2020-01-23"),
                    announce_type="new",
                ),
            ),
            (NOTES, Entry(KAPLAN, authors=("J. Kaplan",), published=day("2024-09-01"))),
        ),
        (0, 0),
    ),
    "a title, years apart, other authors": LookAlike(
        (
            (
                ARXIV,
                arxiv(
                    "2001.08361v1",
                    KAPLAN,
                    authors=("Jared Kaplan",),
                    published=day("2020-01-23"),
                    announce_type="new",
                ),
            ),
            (NOTES, Entry(KAPLAN, authors=("A. Nother",), published=day("2024-09-01"))),
        ),
        (0, 1),
    ),
    "a title never joins two arXiv ids, however close": LookAlike(
        (
            (
                ARXIV,
                arxiv("2401.00001v1", "Survey", published=day("2024-01-02"), announce_type="new"),
            ),
            (
                ARXIV,
                arxiv("2401.00002v1", "Survey", published=day("2024-01-02"), announce_type="new"),
            ),
        ),
        (0, 1),
    ),
    # One paper listed in cs.CL and cross-listed in cs.LG: its id, whatever the titles.
    "a cross-listed paper": LookAlike(
        (
            (
                ARXIV,
                arxiv(
                    "2502.00001v1",
                    "Paper A",
                    published=day("2025-02-03"),
                    announce_type="new",
                    categories=("cs.CL",),
                ),
            ),
            (
                ARXIV,
                arxiv(
                    "2502.00001v1",
                    "Paper A (cross-list)",
                    published=day("2025-02-03"),
                    announce_type="cross",
                    categories=("cs.CL", "cs.LG"),
                ),
            ),
        ),
        (0, 0),
    ),
    # arXiv's own DOI names the paper: the titles differ, so only the DOI can join them.
    "an arXiv DOI and its id": LookAlike(
        (
            (
                ARXIV,
                arxiv("2502.17424v1", EM_FULL, published=day("2025-02-25"), announce_type="new"),
            ),
            (
                FEED,
                Entry(
                    "A post about misaligned models",
                    doi="10.48550/arxiv.2502.17424",
                    published=day("2025-03-01"),
                ),
            ),
        ),
        (0, 0),
    ),
    # A link no URL parser can split is still a key, compared as written.
    "an unsplittable URL": LookAlike(
        (
            (
                FEED,
                Entry("Broken link post", url="https://[paper-one", published=day("2025-03-01")),
            ),
            (FEED, Entry("Another title", url="https://[paper-one ", published=day("2025-09-01"))),
        ),
        (0, 0),
    ),
}


@pytest.mark.parametrize("case", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_real_look_alikes(case: LookAlike) -> None:
    which, papers = resolve(case.seen)
    assert tuple(which) == case.papers
    assert len({p["key"] for p in papers}) == len(papers)  # the store's keys are unique


def test_papers_of_one_title_have_keys_of_their_own() -> None:
    seen = [(NOTES, Entry("Scaling Laws", published=day(d))) for d in ("2020-01-23", "2024-06-01")]
    _, papers = resolve(seen)
    assert [p["key"] for p in papers] == [
        title_key("Scaling Laws"),
        f"{title_key('Scaling Laws')}@2024-06-01",
    ]


def test_a_title_cut_short_is_no_alias() -> None:
    seen = [
        (ARXIV, arxiv("2508.00001", "Reward Hacking at Scale")),
        (CURATED, arxiv("2508.00001", "Reward Hacking")),
    ]
    _, [paper] = resolve(seen)
    assert (paper["title"], paper["aliases"]) == ("Reward Hacking at Scale", None)


def test_a_short_name_that_loses_is_kept_beside_the_full_title() -> None:
    full = "MEM1: Learning to Synergize Memory and Reasoning for Efficient Long-Horizon Agents"
    for seen in (
        [(CURATED, arxiv("2506.15841", "MEM1")), (HF, arxiv("2506.15841", full))],
        [(HF, arxiv("2506.15841", full)), (CURATED, arxiv("2506.15841", "MEM1"))],
    ):
        _, [paper] = resolve(seen)
        assert (paper["title"], paper["title_source"], paper["aliases"]) == (full, "hf", ["MEM1"])
        assert paper["title_key"] == title_key(full)
        assert paper["lead_key"] == title_key("MEM1")
        assert display_title(paper["title"], paper["aliases"]) == f"MEM1 — {full}"


TITLES = {
    # (stored by, stored title), (offered by, offered title), the title that stays
    "arXiv beats a curated name": (
        (CURATED, "RAG+"),
        (ARXIV, "RAG+: Retrieval with Rules"),
        "RAG+: Retrieval with Rules",
    ),
    "arXiv beats Hugging Face": (
        (HF, "A Title"),
        (ARXIV, "A Title, Revised in v2"),
        "A Title, Revised in v2",
    ),
    "Hugging Face beats a feed's post title": (
        (FEED, "We show LLMs can plan."),
        (HF, "Planning with LLMs"),
        "Planning with LLMs",
    ),
    "a feed never replaces Hugging Face": (
        (HF, "Planning with LLMs"),
        (FEED, "We show LLMs can plan."),
        "Planning with LLMs",
    ),
    "notes beat a curated name": (
        (CURATED, "Aligners"),
        (NOTES, "Aligners, Decoupling"),
        "Aligners, Decoupling",
    ),
    "a curated name never replaces notes": (
        (NOTES, "Aligners, Decoupling"),
        (CURATED, "Aligners"),
        "Aligners, Decoupling",
    ),
    "equals: only a fuller form": ((CURATED, "RAG+"), (FEED, "A post on RAG+"), "RAG+"),
    "equals: the fuller form": (
        (CURATED, "RAG+"),
        (FEED, "RAG+: Retrieval with Rules"),
        "RAG+: Retrieval with Rules",
    ),
    "a weaker fuller form does not": (
        (HF, "RAG+"),
        (CURATED, "RAG+: Retrieval with Rules"),
        "RAG+",
    ),
}


@pytest.mark.parametrize(("stored", "offered", "title"), TITLES.values(), ids=TITLES.keys())
def test_title_authority(
    stored: tuple[SourceKind, str], offered: tuple[SourceKind, str], title: str
) -> None:
    seen = [(kind, arxiv("2506.00001", text)) for kind, text in (stored, offered)]
    _, [paper] = resolve(seen)
    assert paper["title"] == title
    assert paper["title_source"] == TITLE_SOURCE_BY_KIND[(stored, offered)[title == offered[1]][0]]


def test_a_title_of_unknown_origin_learns_it_from_an_equal_title() -> None:
    row = row_for(arxiv(ARXIV_ID, "Alpha"), 1)
    row["title_source"] = None
    values = merge_values(row, sighting(HF, arxiv(ARXIV_ID, "ALPHA")), NOW, PaperIndex([row]))
    assert (values.get("title"), values.get("title_source")) == ("ALPHA", "hf")


# -- when a paper was announced ---------------------------------------------------------


@dataclass(frozen=True)
class Age:
    seen: tuple[Seen, ...]
    announced: datetime
    exact: bool


AGES = {
    # A feed re-lists a 2022 paper in 2024: the id says February 2022.
    "a re-listed paper keeps its id's month": Age(
        ((FEED, arxiv("2202.01234", "Old Paper", published=day("2024-05-01"))),),
        day("2022-03-08"),
        False,
    ),
    "an old-style id likewise": Age(
        ((FEED, arxiv("hep-th/9901001", "Older Paper", published=day("2024-05-01"))),),
        day("1999-02-08"),
        False,
    ),
    "December's ids end in January": Age(
        ((FEED, arxiv("2412.01234", "December Paper", published=day("2025-03-01"))),),
        day("2025-01-08"),
        False,
    ),
    "an earlier date within the month stays": Age(
        ((FEED, arxiv("2202.01234", "Old Paper", published=day("2022-02-10"))),),
        day("2022-02-10"),
        False,
    ),
    "a listing's new announcement is exact": Age(
        ((ARXIV, arxiv("2502.00001v1", "P", published=day("2025-02-03"), announce_type="new")),),
        day("2025-02-03"),
        True,
    ),
    "a cross-listing is exact": Age(
        ((ARXIV, arxiv("2502.00001v1", "P", published=day("2025-02-03"), announce_type="cross")),),
        day("2025-02-03"),
        True,
    ),
    "a replacement is not": Age(
        (
            (
                ARXIV,
                arxiv("2502.00001v2", "P", published=day("2025-02-20"), announce_type="replace"),
            ),
        ),
        day("2025-02-20"),
        False,
    ),
    "the same id from a feed is not arXiv's date": Age(
        ((FEED, arxiv("2502.00001v1", "P", published=day("2025-02-03"))),),
        day("2025-02-03"),
        False,
    ),
    # arXiv's own date replaces an earlier guess (the company PDF before version 1)...
    "exact after an earlier guess": Age(
        (
            (CURATED, Entry("Gemma", url=GEMMA_PDF, published=day("2024-02-19"))),
            (API, arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"))),
        ),
        day("2024-03-13"),
        True,
    ),
    # ...and no guess, earlier or later, replaces it.
    "a guess after exact": Age(
        (
            (API, arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"))),
            (CURATED, Entry("Gemma", url=GEMMA_PDF, published=day("2024-02-19"))),
            (FEED, arxiv("2403.08295", GEMMA_FULL, published=day("2024-05-01"))),
        ),
        day("2024-03-13"),
        True,
    ),
    "two guesses: the earlier": Age(
        (
            (HF, arxiv("2403.08295", GEMMA_FULL, published=day("2024-03-14"))),
            (CURATED, arxiv("2403.08295", "Gemma", published=day("2024-03-11"))),
        ),
        day("2024-03-11"),
        False,
    ),
    "two exact dates: the earlier": Age(
        (
            (
                ARXIV,
                arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-14"), announce_type="new"),
            ),
            (API, arxiv("2403.08295v1", GEMMA_FULL, published=day("2024-03-13"))),
        ),
        day("2024-03-13"),
        True,
    ),
}


@pytest.mark.parametrize("case", AGES.values(), ids=AGES.keys())
def test_a_papers_age_is_a_fact(case: Age) -> None:
    _, [paper] = resolve(case.seen, now=day("2026-01-01"))
    assert (paper["announced_at"], paper["announced_exact"]) == (case.announced, case.exact)


def test_an_exact_date_for_another_id_is_not_this_papers() -> None:
    # Found by a DOI both carry, the entry's arXiv date belongs to its own id.
    row = row_for(arxiv("2403.08295", "Gemma", doi=DOI, published=day("2024-02-19")), 1)
    other = sighting(API, arxiv("2403.09999v1", "Gemma 2", doi=DOI, published=day("2024-03-13")))
    values = merge_values(row, other, NOW, PaperIndex([row]))
    assert "announced_exact" not in values and "announced_at" not in values


# -- identities in normalize -------------------------------------------------------------

IDS = [
    ("0704.0001", "0704.0001"),  # the first new-style id
    ("0703.9999", None),  # before new-style ids began
    ("arXiv:0704.0001v2", "0704.0001"),
    ("1412.1234", "1412.1234"),  # four digits until December 2014
    ("1412.12345", None),
    ("1501.12345", "1501.12345"),  # five from January 2015
    ("1501.1234", None),
    ("2413.00001", None),  # no thirteenth month
    ("math.CA/0611800v2", "math/0611800"),
]


@pytest.mark.parametrize(("text", "expected"), IDS)
def test_arxiv_id_boundaries(text: str, expected: str | None) -> None:
    ref = parse_arxiv_id(text)
    assert (ref and ref.id) == expected


def test_a_url_that_cannot_be_split_is_kept_as_written() -> None:
    assert canonical_url("  https://[paper-one ") == "https://[paper-one"
    assert canonical_url("http://www.Example.org/a/?utm_source=x") == "https://example.org/a"


LEADS = [
    ("GPQA", "GPQA"),
    (GPQA_FULL, "GPQA"),
    ("LIMA - Less Is More for Alignment", "LIMA"),
    ("Emergent Misalignment", "Emergent Misalignment"),
    ("Long-Horizon Agents: Planning", "Long-Horizon Agents"),  # a hyphen splits nothing
    ("Scaling Laws for Neural Language Models", None),  # five words: a title, no name
    ("A Name of Five Words: And More", None),
    ("", None),
]


@pytest.mark.parametrize(("title", "lead"), LEADS)
def test_the_short_name_a_title_leads_with(title: str, lead: str | None) -> None:
    assert title_lead_key(title) == (title_key(lead) if lead else None)
