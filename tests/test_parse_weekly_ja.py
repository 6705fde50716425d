"""The translated weekly paper list."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from digests.errors import ParseError
from digests.model import ParseContext, ParsedDocument, SourceKind
from digests.sources.weekly_ja import parse_weekly_ja, split_title
from tests.mutations import damaged
from tests.paths import FIXTURES, SHARED

CTX = ParseContext(url="https://example.org/weekly/42")


def _seed(prefix: str) -> bytes:
    (path,) = (SHARED / "seeds").glob(f"{prefix}_*")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("日本語 / English Title", ("English Title", "日本語")),
        ("構造 / 分岐 / Trees / Graphs", ("Trees / Graphs", "構造 / 分岐")),
        ("Only English", ("Only English", None)),
        ("日本語だけ", ("日本語だけ", None)),
    ],
)
def test_split_title(line: str, expected: tuple[str, str | None]) -> None:
    assert split_title(line) == expected


def test_fixture(fixtures: Path) -> None:
    doc = parse_weekly_ja((fixtures / "weekly_ja.txt").read_bytes(), CTX)
    assert doc.kind is SourceKind.WEEKLY_JA
    assert [e.title for e in doc.entries] == [
        "Budgeted Reasoning: Counting Steps, Not Tokens",
        "Chains, Trees, and Graphs: A Survey of Structured Prompting",
        "Thinking Out Loud in Small Steps",
    ]
    # Positions are places in the list, so the skipped third paper keeps its place.
    assert [e.signals.position for e in doc.entries] == [1, 2, 4]
    assert all(e.signals.pick for e in doc.entries)
    assert all(e.published == datetime(2025, 5, 22, tzinfo=UTC) for e in doc.entries)
    assert doc.skipped == 2
    assert doc.problems == (
        "paper 3: no title line before its introduction",
        "paper 5 (Word Alignment with Small Dictionaries): no paper link",
    )

    first, survey, english = doc.entries
    assert first.title_alt == "予算付き推論"
    assert first.summary == "小さなモデルの推論ステップに予算を設ける手法を提案しています。"
    assert first.summary_lang == "ja"
    assert first.comment == "Proposes budgeting reasoning steps instead of tokens for small models."
    assert first.abstract == "We budget reasoning steps instead of tokens."
    assert first.arxiv_id == "2403.01234" and first.url == "https://arxiv.org/abs/2403.01234"
    assert first.links.code == "https://github.com/example/budget-reasoning"
    assert "https://x.com/example/status/2" in first.links.other

    # Research page + PDF: the PDF is the paper, the page is where to land.
    assert survey.title_alt == "構造化プロンプト / 分岐"
    assert (
        survey.url == survey.links.pdf == "https://lab.example.org/papers/structured-prompting.pdf"
    )
    assert survey.links.abs == "https://lab.example.org/blog/structured-prompting"
    assert survey.comment == "A survey of structured prompting methods."
    assert survey.arxiv_id is None

    # English-only block: the English introduction is the summary.
    assert english.title_alt is None
    assert english.summary == "Writing reasoning out in small steps improves accuracy."
    assert english.summary_lang == "en" and english.comment is None
    assert (english.arxiv_id, english.arxiv_version) == ("2309.00400", 3)


@pytest.mark.parametrize("data", [b"", b"3 points by someone 2024-01-01\nno papers\n"])
def test_without_papers_raises(data: bytes) -> None:
    with pytest.raises(ParseError, match="論文リンク"):
        parse_weekly_ja(data, CTX)


def test_missing_date_is_a_problem_not_a_failure() -> None:
    page = "A / B\n論文紹介\n紹介文です。\n論文リンク\nhttps://arxiv.org/abs/2401.01111\n"
    doc = parse_weekly_ja(page.encode(), CTX)
    (entry,) = doc.entries
    assert entry.published is None
    assert doc.problems and "date" in doc.problems[0]


def test_seed_003(shared: Path) -> None:
    doc = parse_weekly_ja(_seed("003"), ParseContext())
    assert len(doc.entries) == 10
    assert doc.skipped == 0
    assert [e.signals.position for e in doc.entries] == list(range(1, 11))
    assert all(e.published == datetime(2024, 6, 13, tzinfo=UTC) for e in doc.entries)
    nllb = doc.entries[0]
    assert nllb.title == "Scaling neural machine translation to 200 languages"
    assert nllb.title_alt == "NLLB: ニューラル機械翻訳を200言語へ拡張"
    assert nllb.url == "https://www.nature.com/articles/s41586-024-07335-x"
    assert nllb.arxiv_id is None
    assert nllb.summary is not None and nllb.summary.startswith("200言語にわたって")
    assert nllb.comment is not None and nllb.comment.startswith("Proposes a massive multilingual")
    assert nllb.abstract is not None and nllb.abstract.startswith("The development of neural")
    concepts = doc.entries[1]
    assert concepts.title == "Extracting Concepts from GPT-4"
    assert concepts.url == "https://cdn.openai.com/papers/sparse-autoencoders.pdf"
    assert concepts.comment is not None and concepts.comment.startswith("Proposes a new scalable")
    assert [e.arxiv_id for e in doc.entries[2:]] == [
        "2405.21060",
        "2406.02528",
        "2406.04271",
        "2405.20974",
        "2406.01506",
        "2406.00888",
        "2406.01252",
        "2406.04151",
    ]
    assert (
        doc.entries[7].title
        == "Show, Don't Tell: Aligning Language Models with Demonstrated Feedback"
    )
    assert doc.entries[-1].title == (
        "AgentGym: Evolving Large Language Model-based Agents across Diverse Environments"
    )
    assert doc.entries[-1].links.code == "https://github.com/WooooDyy/AgentGym"


def _sources() -> list[bytes]:
    pages = [(FIXTURES / "weekly_ja.txt").read_bytes()]
    if (SHARED / "seeds").is_dir():
        pages.append(_seed("003"))
    return pages


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged(_sources()))
def test_never_crashes(data: bytes) -> None:
    try:
        doc = parse_weekly_ja(data, CTX)
    except ParseError:
        return
    assert isinstance(doc, ParsedDocument)
    assert doc.entries
