"""Ranking a prepared week: one preparation serves every filter and every subset."""

from __future__ import annotations

from datetime import timedelta

import pytest

from digests.model import SourceKind
from digests.query import parse_query
from digests.rank import RankWeights, prepare_week, rank, rank_prepared
from tests.test_rank import (
    ARXIV,
    END,
    HF,
    NOTES,
    NOW,
    PAGES,
    START,
    TUESDAY,
    WEEKLY,
    mention,
    paper,
)

FEED_A = ("Lab blog A", SourceKind.FEED)
FEED_B = ("Lab blog B", SourceKind.FEED)

WEEK = [
    paper(1, mention(ARXIV), mention(HF, upvotes=212), mention(WEEKLY, pick=True, position=3)),
    paper(2, mention(ARXIV, announce="replace"), tags=("#Alignment",)),
    paper(3, mention(NOTES, pick=True), tags=("#Alignment", "#RLHF"), abstract="reward model"),
    paper(4, mention(PAGES, related=True), mention(FEED_A), title="Reward Hacking"),
    paper(5, mention(FEED_A), mention(FEED_B), upvotes=40, announced=START - timedelta(days=3)),
    paper(6, mention(ARXIV, summary="A reward model for RLHF."), title="Quiet"),
    paper(7, title="No mentions at all"),
    paper(8, mention(HF, upvotes=1), announced=TUESDAY + timedelta(days=2)),
]
QUERIES = [None, "tag:alignment", "reward", '"reward model" tag:rlhf', "hacking -tag:rlhf"]


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.parametrize("weights", [RankWeights(), RankWeights(match=0, sources=0)])
def test_one_prepared_week_ranks_every_filter_and_subset_like_rank(
    text: str | None, weights: RankWeights
) -> None:
    week = prepare_week(WEEK, now=NOW, week_start=START, week_end=END, weights=weights)
    query = parse_query(text, now=NOW) if text is not None else None
    for ids in (None, {1, 3, 6}, {2, 4, 5, 7, 8}, set()):
        subset = WEEK if ids is None else [c for c in WEEK if c.paper.paper_id in ids]
        for top in (0, 2, 10):
            expected = rank(
                subset,
                now=NOW,
                week_start=START,
                week_end=END,
                query=query,
                weights=weights,
                top=top,
            )
            got = rank_prepared(week, query=query, top=top, paper_ids=ids)
            assert got == expected


def test_rank_prepared_checks_top() -> None:
    week = prepare_week(WEEK, now=NOW, week_start=START, week_end=END)
    with pytest.raises(ValueError, match="top must be 0 or more"):
        rank_prepared(week, top=-1)
