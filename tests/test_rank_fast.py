"""Ranking along the unfiltered order stops early and still returns what scoring all does."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from digests.model import Candidate
from digests.query import parse_query
from digests.rank import RankWeights, prepare_week, rank_prepared
from tests.test_rank import END, NOW, SOURCES, START, mention, paper

WORDS = ["reward", "model", "diffusion", "強化学習", "agent", "kernel"]
TAGS = ["#Alignment", "#RLHF", "#Agents", "#Safety"]


def random_week(seed: int, n: int) -> list[Candidate]:
    """Papers with few distinct signal values, so that equal scores are common."""
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        mentions = [
            mention(
                rng.choice(SOURCES),
                at=START + timedelta(hours=rng.randrange(0, 24 * 7)),
                title=" ".join(rng.sample(WORDS, 2)) if rng.random() < 0.5 else "A paper",
                summary=" ".join(rng.sample(WORDS, 2)) if rng.random() < 0.3 else None,
                pick=rng.random() < 0.1,
                position=rng.choice([None, None, None, 1, 3, 12]),
                related=rng.random() < 0.1,
                upvotes=rng.choice([None, 0, 5, 100]),
            )
            for _ in range(rng.choice([0, 1, 1, 2, 3]))
        ]
        out.append(
            paper(
                i,
                *mentions,
                upvotes=rng.choice([0, 0, 5, 100]),
                announced=START + timedelta(days=rng.choice([-3, 0, 1, 1, 4])),
                title=rng.choice([None, "Reward models", "Diffusion 強化学習"]),
                tags=tuple(rng.sample(TAGS, rng.randrange(0, 3))),
                abstract=rng.choice([None, "a reward model", "kernel agent"]),
            )
        )
    return out


QUERIES = [
    None,
    "tag:alignment",
    "reward",
    "reward tag:rlhf",
    '"reward model" diffusion',
    "強化学習 agent tag:safety tag:agents",
    "source:x",  # no term that earns match points
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "weights", [RankWeights(), RankWeights(match=3), RankWeights(match=0, recency=0)]
)
def test_early_stop_ranks_like_scoring_every_paper(seed: int, weights: RankWeights) -> None:
    candidates = random_week(seed, 300)
    week = prepare_week(candidates, now=NOW, week_start=START, week_end=END, weights=weights)
    exhaustive = replace(week, by_base=())  # without the order, every paper is scored
    rng = random.Random(seed)
    for text in QUERIES:
        query = parse_query(text, now=NOW) if text is not None else None
        for ids in (None, set(rng.sample(range(1, 301), 40)), {1, 2}, set()):
            for top in (0, 1, 10, 50, 400):
                fast = rank_prepared(week, query=query, top=top, paper_ids=ids)
                slow = rank_prepared(exhaustive, query=query, top=top, paper_ids=ids)
                assert fast == slow, (text, ids, top)
