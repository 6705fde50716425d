"""Newest-first free-text search looks at the newest papers first.

The windowed search must return exactly the page the plain search returns, whatever the
order in which papers were stored: paper ids follow storage, not announcement dates.
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
            entries.append(
                Entry(
                    title=f"Paper {n:02d}: " + " ".join(words),
                    abstract=" ".join(rng.choices(WORDS, k=6)) + " ai",
                    arxiv_id=f"2501.{n:05d}",
                    url=f"http://arxiv.org/abs/2501.{n:05d}",
                    published=NOW - timedelta(days=150) + timedelta(hours=n * 59),
                    tags=("Safety",) if n % 3 == 0 else (),
                )
            )
        store.store_entries(source, prepare(entries, source, rules), now=NOW)
    return store


def _page(store: Store, text: str, offset: int = 0) -> tuple[list[str], bool]:
    query = replace(parse_query(text, now=NOW), offset=offset)
    page = store.search(query)
    return [h.title for h in page.hits], page.has_more


def test_windowed_search_returns_the_plain_search_pages(filled: Store) -> None:
    compared = 0
    for text in QUERIES:
        for offset in (0, 2, 7):
            filled.recent_windows = ()
            plain = _page(filled, text, offset)
            filled.recent_windows = (4, 15)
            windowed = _page(filled, text, offset)
            assert windowed == plain, (text, offset)
            compared += bool(plain[0])
    assert compared > 20  # most queries find papers: the comparison is not vacuous


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
