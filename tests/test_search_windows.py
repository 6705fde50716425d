"""Free-text search looks at the newest papers first.

The windowed search must return exactly the page the plain search returns, whatever the
order in which papers were stored: paper ids follow storage, not announcement dates. Best
match first ranks the newest matches (``relevance_pool`` of them), which the windows find
as they find a newest-first page.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from digests.ingest import prepare
from digests.model import Entry, SourceKind, SourceSpec
from digests.query import parse_query
from digests.store import Store
from digests.topics import load_rules

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
WORDS = ["reward", "model", "policy", "agent", "retrieval", "強化学習", "言語モデル", "alignment"]

QUERIES = [
    "reward",
    "reward model",
    '"reward model"',
    "policy agent",
    "強化学習",
    "言語モデル reward",
    "alignment -reward",
    "tag:Safety reward",
    "tag:Safety -policy model",
    "reward since:2025-07-01",
    "model until:2025-06-01",
    "model limit:3",
    "agent limit:5",
    "nosuchword",
    "ai reward",  # a two-letter term is matched outside the index
]


@pytest.fixture
def filled(store: Store) -> Store:
    """60 papers announced over five months, stored in a shuffled order."""
    rng = random.Random(5)
    source = store.add_source(
        SourceSpec(name="feed", location="/tmp/feed", kind=SourceKind.FEED), now=NOW
    )
    numbers = list(range(60))
    rng.shuffle(numbers)
    rules = load_rules()
    for chunk in (numbers[:20], numbers[20:45], numbers[45:]):
        entries = []
        for n in chunk:
            words = rng.sample(WORDS, k=rng.randint(1, 4))
            published = NOW - timedelta(days=150) + timedelta(hours=n * 59)
            # The id's month is the paper's (an id bounds when a paper can be announced).
            arxiv_id = f"{published:%y%m}.{n:05d}"
            entries.append(
                Entry(
                    title=f"Paper {n:02d}: " + " ".join(words),
                    abstract=" ".join(rng.choices(WORDS, k=6)) + " ai",
                    arxiv_id=arxiv_id,
                    url=f"http://arxiv.org/abs/{arxiv_id}",
                    published=published,
                    tags=("Safety",) if n % 3 == 0 else (),
                )
            )
        store.store_entries(source, prepare(entries, source, rules), now=NOW)
    return store


def _page(store: Store, text: str, offset: int = 0) -> tuple[list[str], bool]:
    query = replace(parse_query(text, now=NOW), offset=offset)
    page = store.search(query)
    return [h.title for h in page.hits], page.has_more


@pytest.mark.parametrize("sort", ["sort:new", ""])
def test_windowed_search_returns_the_plain_search_pages(filled: Store, sort: str) -> None:
    compared = 0
    for text in QUERIES:
        for offset in (0, 2, 7):
            filled.recent_windows = ()
            plain = _page(filled, f"{text} {sort}", offset)
            filled.recent_windows = (4, 15)
            windowed = _page(filled, f"{text} {sort}", offset)
            assert windowed == plain, (text, offset)
            compared += bool(plain[0])
    assert compared > 20  # most queries find papers: the comparison is not vacuous


@pytest.mark.parametrize(("windows", "pool_size"), [((), 5), ((4, 15), 5), ((10, 30), 10)])
def test_best_match_first_ranks_the_newest_matches_then_the_rest_newest_first(
    filled: Store, windows: tuple[int, ...], pool_size: int
) -> None:
    filled.recent_windows = windows
    filled.relevance_pool = pool_size
    newest = _page(filled, "reward sort:new limit:100")[0]
    ranked = _page(filled, "reward limit:100")[0]
    assert len(newest) > 10
    # The pool is the newest matches, in another order; the rest as they were.
    pool = min(k for k in range(len(newest) + 1) if ranked[k:] == newest[k:])
    assert 2 <= pool <= pool_size
    assert set(ranked[:pool]) == set(newest[:pool]) and ranked[:pool] != newest[:pool]
    if filled.dialect == "postgresql" and windows == (10, 30):
        # The first window's papers tested one by one hold 8 matches, enough to call the
        # word common: the pool is those, not the newest 10 the next window would hold.
        first = set(_page(filled, "sort:new limit:10")[0])
        held = len(first & set(newest))
        assert held < pool_size and pool <= held
    # Page by page, the same order: nothing repeated, nothing skipped.
    pages = [_page(filled, "reward limit:3", offset)[0] for offset in range(0, len(ranked), 3)]
    assert [t for page in pages for t in page] == ranked


def test_a_paper_named_exactly_comes_first_from_anywhere_in_the_store(filled: Store) -> None:
    source = filled.add_source(
        SourceSpec(name="weekly", location="/tmp/weekly", kind=SourceKind.FEED), now=NOW
    )
    old = Entry(
        title="Policy Agent",
        abstract="An agent and its policy, a year before the rest.",
        arxiv_id="2401.09999",
        published=NOW - timedelta(days=400),
    )
    filled.store_entries(source, prepare([old], source, load_rules()), now=NOW)
    filled.relevance_pool = 3
    for windows in [(), (4, 15)]:
        filled.recent_windows = windows
        assert _page(filled, "policy agent")[0][0] == "Policy Agent"
        assert _page(filled, "policy agent sort:new limit:100")[0][-1] == "Policy Agent"
        # Once, first: not again among the older matches.
        assert _page(filled, "policy agent limit:100")[0].count("Policy Agent") == 1


def test_a_window_larger_than_the_store_searches_everything(filled: Store) -> None:
    filled.recent_windows = (1000,)
    windowed = _page(filled, "reward")
    filled.recent_windows = ()
    assert windowed == _page(filled, "reward")
    assert windowed[1]  # a full page with more behind it


def test_pages_found_in_the_first_window_or_beyond_it_are_the_plain_search_pages(
    filled: Store,
) -> None:
    # The newest 4 papers hold one 強化学習 paper: pages the first window fills, pages it
    # cannot, and terms it does not hold at all.
    cases = [
        ("nosuchword", 0),
        ("nosuchword", 7),
        ("強化学習 limit:10", 0),
        ("強化学習 limit:1", 0),
        ("強化学習 limit:1", 2),
        ("reward limit:1", 0),
    ]
    for text, offset in cases:
        filled.recent_windows = ()
        plain = _page(filled, text, offset)
        filled.recent_windows = (4, 15)
        assert _page(filled, text, offset) == plain, (text, offset)
    # A full page of ten holds papers older than the newest 4: the search went beyond them.
    assert len(_page(filled, "強化学習 limit:10", 0)[0]) == 10
