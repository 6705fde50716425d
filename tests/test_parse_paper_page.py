"""Per-paper summary pages: the main paper and its related papers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from digests.errors import ParseError
from digests.model import ParseContext, ParsedDocument, SourceKind
from digests.sources.paper_page import parse_paper_page
from tests.mutations import damaged
from tests.paths import FIXTURES, SHARED

CTX = ParseContext(url="https://example.org/paper/2403.01234")


def _seed(prefix: str) -> bytes:
    (path,) = (SHARED / "seeds").glob(f"{prefix}_*")
    return path.read_bytes()


def test_fixture_main_paper(fixtures: Path) -> None:
    doc = parse_paper_page((fixtures / "paper_page.txt").read_bytes(), CTX)
    assert doc.kind is SourceKind.PAPER_PAGE
    assert doc.title == "Budgeted Reasoning: Counting Steps, Not Tokens"
    main = doc.entries[0]
    assert main.title == "Budgeted Reasoning: Counting Steps, Not Tokens"
    assert main.title_alt == "予算付き推論: トークンではなくステップを数える"
    assert (main.arxiv_id, main.arxiv_version) == ("2403.01234", 2)
    assert main.url == "http://arxiv.org/abs/2403.01234v2"
    assert main.links.abs == "https://arxiv.org/abs/2403.01234"
    assert main.authors == ("Hana Sato", "Omar Diaz", "Mia Chen")
    assert main.published == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    assert (
        main.summary
        == "小さなモデルの推論に予算を設ける。\nステップ数で予算を管理すると精度が上がる。"
    )
    assert main.summary_lang == "ja"
    assert main.abstract == "We budget reasoning steps instead of tokens. Small models improve."
    assert main.signals.related is False and main.signals.score is None
    assert main.source_item_id == CTX.url


def test_fixture_related_papers(fixtures: Path) -> None:
    doc = parse_paper_page((fixtures / "paper_page.txt").read_bytes(), CTX)
    related = doc.entries[1:]
    assert [e.title for e in related] == [
        "Thinking Out Loud in Small Steps",
        # wrapped over two lines in the page
        "Chains, Trees, and Graphs: A Survey of Structured Prompting",
        "Word Alignment with Small Dictionaries",
    ]
    assert [e.signals.score for e in related] == [45.25, 7.5, 3.0]
    assert all(e.signals.related and e.arxiv_id is None for e in related)
    assert related[0].summary == "推論を小さなステップに分けて書き出す。\n精度が上がる。"
    assert related[0].summary_lang == "ja"
    assert related[0].published == datetime(2023, 9, 30, 12, 0, tzinfo=UTC)
    # The one without a score is skipped, and the next one still reads.
    assert doc.skipped == 1
    assert "A Related Paper Without Its Score" in doc.problems[0]


def test_english_only_page_with_old_style_id(fixtures: Path) -> None:
    doc = parse_paper_page((fixtures / "paper_page_en.txt").read_bytes(), CTX)
    (main,) = doc.entries
    assert (main.arxiv_id, main.arxiv_version) == ("cs/9901001", 1)
    assert main.title_alt is None and main.summary is None and main.summary_lang is None
    assert main.abstract == "Small bilingual dictionaries are enough to align words."
    assert main.published == datetime(1999, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("data", [b"", b"just some text\n", "関連論文リスト\n".encode()])
def test_not_a_paper_page_raises(data: bytes) -> None:
    with pytest.raises(ParseError, match="論文の概要") as info:
        parse_paper_page(data, CTX)
    assert info.value.kind == SourceKind.PAPER_PAGE


def test_bad_date_and_id_keep_the_paper() -> None:
    page = "論文の概要: A Title\n- arxiv url: http://example.org/x\n- Date: yesterday\n".encode()
    doc = parse_paper_page(page, CTX)
    (main,) = doc.entries
    assert main.title == "A Title" and main.arxiv_id is None and main.published is None
    assert doc.skipped == 0 and len(doc.problems) == 2


def test_seed_002(shared: Path) -> None:
    doc = parse_paper_page(_seed("002"), ParseContext())
    assert doc.skipped == 0
    main, *related = doc.entries
    assert main.title == "Aligners: Decoupling LLMs and Alignment"
    assert main.title_alt == "Aligners: LLMとアライメントの分離"
    assert (main.arxiv_id, main.arxiv_version) == ("2403.04224", 4)
    assert main.authors == (
        "Lilian Ngweta",
        "Mayank Agarwal",
        "Subha Maity",
        "Alex Gittens",
        "Yuekai Sun",
        "Mikhail Yurochkin",
    )
    assert main.published == datetime(2024, 10, 4, 5, 29, 18, tzinfo=UTC)
    assert main.summary is not None and main.summary.startswith("大きな言語モデル(LLM)は")
    assert main.summary.count("\n") == 1
    assert main.abstract is not None
    assert main.abstract.startswith("Large Language Models (LLMs) need to be aligned")
    assert main.abstract.endswith("red-teaming datasets.")
    assert len(related) == 8
    assert related[0].title == "LLM Chain Ensembles for Scalable and Accurate Data Annotation"
    assert related[0].signals.score == pytest.approx(1.7388851660609117)
    assert related[0].published == datetime(2024, 10, 16, 20, 3, 51, tzinfo=UTC)
    unlocking = related[6]
    assert unlocking.title == (
        "The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context Learning"
    )
    assert unlocking.signals.score == pytest.approx(61.68787689234622)
    assert unlocking.summary is not None and unlocking.summary.startswith("最近の研究であるLIMA")
    assert related[-1].title == "Small Language Models Improve Giants by Rewriting Their Outputs"
    assert all(e.signals.related and e.arxiv_id is None for e in related)


def test_seed_004(shared: Path) -> None:
    doc = parse_paper_page(_seed("004"), ParseContext())
    main, *related = doc.entries
    assert (main.arxiv_id, main.arxiv_version) == ("2412.03253", 1)
    assert len(main.authors) == 12 and main.authors[-1] == "Jinchao Xu"
    assert len(related) == 10
    assert [e.signals.score for e in related if e.signals.score == 0.0] == [0.0]
    assert related[-1].title == (
        "InferAligner: Inference-Time Alignment for Harmlessness through Cross-Model Guidance"
    )
    assert doc.skipped == 0


def _sources() -> list[bytes]:
    pages = [(FIXTURES / "paper_page.txt").read_bytes()]
    if (SHARED / "seeds").is_dir():
        pages += [_seed("002"), _seed("004")]
    return pages


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged(_sources()))
def test_never_crashes(data: bytes) -> None:
    try:
        doc = parse_paper_page(data, CTX)
    except ParseError:
        return
    assert isinstance(doc, ParsedDocument)
    assert doc.entries
