"""Newest-first free-text search looks at the newest papers first.

The windowed search must return exactly the page the plain search returns, whatever the
order in which papers were stored: paper ids follow storage, not announcement dates.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

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
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(filled.engine, "before_cursor_execute", seen)
    try:
        compared = 0
        for text in QUERIES:
            for offset in (0, 2, 7):
                filled.recent_windows = ()
                plain = _page(filled, text, offset)
                filled.recent_windows = (4, 15)
                windowed = _page(filled, text, offset)
                assert windowed == plain, (text, offset)
                compared += bool(plain[0])
    finally:
        event.remove(filled.engine, "before_cursor_execute", seen)
    assert compared > 20  # most queries find papers: the comparison is not vacuous
    if filled.dialect == "sqlite":
        # The windows were really searched (the index read from a floor id up).
        assert any("rowid >= " in s for s in statements)
    else:
        # ...each window's papers tested one by one on their search rows.
        tested = [s for s in statements if "WHERE paper_search.paper_id = papers.id AND" in s]
        assert tested and all("IS NOT NULL AND papers.announced_at >" in s for s in tested)


def test_a_window_larger_than_the_store_searches_everything(filled: Store) -> None:
    filled.recent_windows = (1000,)
    windowed = _page(filled, "reward")
    filled.recent_windows = ()
    assert windowed == _page(filled, "reward")
    assert windowed[1]  # a full page with more behind it


def test_postgresql_goes_on_to_a_larger_window_only_when_a_page_is_in_sight(
    filled: Store,
) -> None:
    if filled.dialect != "postgresql":
        pytest.skip("SQLite reads its full-text index from each window's floor instead")
    windowed: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "IS NOT NULL AND papers.announced_at >" in statement:
            windowed.append(statement)

    # (query, offset, windows searched): the newest 4 papers hold one 強化学習 paper.
    cases = [
        ("nosuchword", 0, 1),  # no match among the newest 4: a rare term, no larger window
        ("nosuchword", 7, 1),  # the same on a later page
        ("強化学習 limit:10", 0, 1),  # one match in 4 promises no page of 10 in 15
        ("強化学習 limit:1", 0, 2),  # ...but a page of one: the next window is searched
        ("強化学習 limit:1", 2, 1),  # the third page of one: 3 matches are not in sight
        ("reward limit:1", 0, 1),  # the first window fills the page
    ]
    event.listen(filled.engine, "before_cursor_execute", seen)
    try:
        for text, offset, searched in cases:
            filled.recent_windows = ()
            plain = _page(filled, text, offset)
            filled.recent_windows = (4, 15)
            windowed.clear()
            assert _page(filled, text, offset) == plain, (text, offset)
            assert len(windowed) == searched, (text, offset)
    finally:
        event.remove(filled.engine, "before_cursor_execute", seen)
