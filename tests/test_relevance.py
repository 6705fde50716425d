"""Best match first: the paper a query names, then the text score, then the newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digests.relevance import Scored, names, relevance_order, title_lead

DAY = datetime(2025, 6, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "lead"),
    [
        ("GPQA: A Graduate-Level Google-Proof Q&A Benchmark", "GPQA"),
        ("LIMA: Less Is More for Alignment", "LIMA"),
        ("MEM1：長期タスクのための記憶統合", "MEM1"),  # a full-width colon
        ("Mamba: Linear-Time Sequence Modeling: A Follow-Up", "Mamba"),  # the first colon
        ("Attention Is All You Need", None),  # no colon: no short name
        (": A Title That Starts With a Colon", None),
    ],
)
def test_the_short_name_is_what_the_title_leads_with(title: str, lead: str | None) -> None:
    assert title_lead(title) == lead


@pytest.mark.parametrize(
    ("text", "title", "aliases", "named"),
    [
        ("GPQA", "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", (), True),
        ("gpqa", "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", (), True),
        ("ＧＰＱＡ", "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", (), True),
        ("GPQA Diamond", "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", (), False),
        ("Graduate-Level", "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", (), False),
        ("attention is all you need", "Attention Is All You Need", (), True),
        ("attention is all", "Attention Is All You Need", (), False),
        ("MEM1", "Learning to Synergize Memory and Reasoning", ("MEM1",), True),
        ("MEM", "Learning to Synergize Memory and Reasoning", ("MEM1",), False),
        ("", "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", (), False),
        ("::", ":: Punctuation Only", (), False),
        ("?", "???", (), False),  # nothing left to compare is no name
    ],
)
def test_a_paper_is_named_by_its_title_its_short_name_or_an_alias(
    text: str, title: str, aliases: tuple[str, ...], named: bool
) -> None:
    assert names(text, title, aliases) is named


def _paper(pid: int, title: str, score: float, days_old: int = 0) -> Scored:
    return Scored(pid, title, (), score, DAY - timedelta(days=days_old))


def test_the_paper_named_comes_before_a_better_score() -> None:
    found = [
        _paper(1, "Budget Forcing on GPQA", 3.0),
        _paper(2, "GPQA: A Graduate-Level Google-Proof Q&A Benchmark", 0.5, days_old=600),
    ]
    assert relevance_order(found, "GPQA") == [2, 1]


def test_then_the_better_score_before_the_newer_paper() -> None:
    found = [_paper(1, "New", 0.5), _paper(2, "Old", 2.0, days_old=300)]
    assert relevance_order(found, "reward") == [2, 1]


def test_equal_scores_go_newest_first_then_by_the_later_id() -> None:
    found = [
        _paper(3, "Older, stored last", 1.0, days_old=2),
        _paper(1, "Newer", 1.0),
        _paper(2, "Newer, stored later", 1.0),
    ]
    assert relevance_order(found, "reward") == [2, 1, 3]
