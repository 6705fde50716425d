"""Paper-notes tag pages: the Jekyll HTML form and the rendered-text form."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from digests.errors import ParseError
from digests.model import Entry, ParseContext, ParsedDocument, SourceKind
from digests.normalize import normalize_title
from digests.sources.notes import Heading, parse_notes_html, parse_notes_text, split_heading
from tests.mutations import damaged
from tests.paths import FIXTURES, SHARED

URL = "https://example.org/articles/Reasoning.html"
CTX = ParseContext(url=URL)
UNLOCKING = "The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context Learning"


def _seed(prefix: str) -> bytes:
    (path,) = (SHARED / "seeds").glob(f"{prefix}_*")
    return path.read_bytes()


def _by_title(doc: ParsedDocument) -> dict[str, Entry]:
    return {e.title: e for e in doc.entries}


# --- headings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Counting Steps, Not Tokens: Budgeted  Reasoning, Hana Sato+, N_A, arXiv24",
            Heading(
                "Counting Steps, Not Tokens: Budgeted Reasoning", ("Hana Sato",), "N_A, arXiv24"
            ),
        ),
        # "++" is a name (a tool, a language), never the first-author mark.
        (
            "Fast C++ Kernels, Ken Ito+, SC23, LibTree++",
            Heading("Fast C++ Kernels", ("Ken Ito",), "SC23, LibTree++"),
        ),
        (
            "Notes on Prompting. Mia Chen et al. ACL’99.",
            Heading("Notes on Prompting", ("Mia Chen",), "ACL’99."),
        ),
        ("A Blog Post, Example Lab, 2024.12", Heading("A Blog Post", ("Example Lab",), "2024.12")),
        ("日本語の記事タイトル, Corp‘23", Heading("日本語の記事タイトル", (), "Corp‘23")),
        ("Just A Library Name", Heading("Just A Library Name")),
        ("Slides on Alignment, Graham Example", Heading("Slides on Alignment, Graham Example")),
    ],
)
def test_split_heading(text: str, expected: Heading) -> None:
    assert split_heading(text) == expected


# --- HTML, own fixture -----------------------------------------------------------------------


def test_html_fixture_reads_visible_and_hidden_entries(fixtures: Path) -> None:
    doc = parse_notes_html((fixtures / "notes_tag_page.html").read_bytes(), CTX)
    assert doc.kind is SourceKind.NOTES_HTML
    assert doc.title == "Reasoningに関する論文・技術記事メモの一覧"
    assert [e.title for e in doc.entries] == [
        "Counting Steps, Not Tokens: Budgeted Reasoning for Small Models",
        "Chains, Trees, and Graphs: A Survey of Structured Prompting",
        "Fast C++ Kernels for Tree Search",
        "Thinking Out Loud in Small Steps",  # in the hidden block
    ]
    # The entry without a title link is skipped, counted and explained.
    assert doc.skipped == 1
    assert doc.problems[0] == "Issue Date 2023-10-01: no title"
    # The page's own tag applies to every entry, once.
    assert all(e.tags[-1] == "Reasoning" for e in doc.entries)
    assert doc.entries[3].tags == ("Article", "Reasoning")


def test_html_fixture_fields(fixtures: Path) -> None:
    first, survey, kernels, hidden = parse_notes_html(
        (fixtures / "notes_tag_page.html").read_bytes(), CTX
    ).entries
    assert first.authors == ("Hana Sato",)
    assert first.published == datetime(2024, 3, 2, tzinfo=UTC)
    assert first.summary == "小さなモデルの推論ステップに予算を設ける手法を提案する。"
    assert first.summary_lang == "ja"
    assert first.comment is not None and first.comment.startswith("論文:https://arxiv.org/abs/")
    assert first.source_item_id == "https://github.com/example/notes/issues/501"
    assert first.links.other[0] == "https://github.com/example/notes/issues/501"
    # The comment names one paper: its id, version and abs page.
    assert (first.arxiv_id, first.arxiv_version) == ("2403.01234", 2)
    assert first.url == first.links.abs == "https://arxiv.org/abs/2403.01234"
    assert first.links.code == "https://github.com/example/budget-reasoning"
    assert first.signals.pick  # "#Admin’sPick" with a curly apostrophe
    assert "Admin’sPick" in first.tags

    # English summary; the comment cites two papers, so neither is taken as this one's id.
    assert survey.summary_lang == "en"
    assert survey.arxiv_id is None and survey.url is None
    assert "https://huggingface.co/papers/2402.02222" in survey.links.other
    assert not survey.signals.pick

    assert kernels.doi == "10.1145/example.123"
    assert kernels.summary is None

    # An impossible date keeps the entry, without a date, and says so.
    assert hidden.published is None
    assert any(
        "2023-09-31" in p
        for p in parse_notes_html((fixtures / "notes_tag_page.html").read_bytes(), CTX).problems
    )


def test_html_logs_skips_with_url(fixtures: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="digests.sources.notes"):
        parse_notes_html((fixtures / "notes_tag_page.html").read_bytes(), CTX)
    assert any(URL in r.getMessage() and "no title" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "data",
    [b"", b"<html><body><p>Nothing here</p></body></html>", b"\xff\xfe\x00garbage"],
)
def test_html_without_entries_raises(data: bytes) -> None:
    with pytest.raises(ParseError, match="issue_date") as info:
        parse_notes_html(data, CTX)
    assert info.value.kind == SourceKind.NOTES_HTML


def test_html_page_tag_from_rendered_heading_and_bom() -> None:
    page = (
        "\ufeff<html><body><h2>Safety</h2>"
        '<a class="button" href="articles/NLP.html">#NLP</a>'
        '<span class="issue_date">Issue Date: 2024-01-02</span>'
        '<a href="https://example.org/issues/1">A Title, An Author+, arXiv24</a>'
        "</body></html>"
    ).encode()
    (entry,) = parse_notes_html(page, ParseContext()).entries
    assert entry.tags == ("NLP", "Safety")


def test_html_all_entries_bad_raises() -> None:
    page = (
        b'<a class="button" href="articles/X.html">#X</a>'
        b'<span class="issue_date">Issue Date: 2024-01-02</span>'
    )
    with pytest.raises(ParseError, match="1 skipped"):
        parse_notes_html(page, CTX)


# --- text, own fixture -----------------------------------------------------------------------


def test_text_fixture(fixtures: Path) -> None:
    doc = parse_notes_text((fixtures / "notes_tag_page.txt").read_bytes(), ParseContext())
    assert doc.kind is SourceKind.NOTES_TEXT
    assert doc.title == "Reasoning"
    assert [e.title for e in doc.entries] == [
        "Counting Steps, Not Tokens: Budgeted Reasoning for Small Models",
        "Chains, Trees, and Graphs: A Survey of Structured Prompting",
        "Notes on Human-Written Summary Sentences",
        "Word Alignment with Small Dictionaries",
    ]
    assert doc.skipped == 1
    assert doc.problems == ("Issue Date 2025-03-01: no title",)
    first, survey, blog, old = doc.entries
    assert first.tags == (
        "NLP",
        "LanguageModel",
        "Supervised-FineTuning (SFT)",
        "Admin'sPick",
        "Reasoning",
    )
    assert first.signals.pick
    # The id comes from the Hugging Face paper link in the comment.
    assert first.arxiv_id == "2505.01234"
    assert first.comment == (
        "元ポスト:https://x.com/example/status/1HF:https://huggingface.co/papers/2505.01234\n"
        "予算は問題ごとに変えられる。"
    )
    assert survey.tags == ("Survey", "PPO (ProximalPolicyOptimization)", "Reasoning")
    assert survey.summary_lang == "en"
    assert survey.comment is None
    assert blog.authors == ("Example Lab",)
    assert blog.comment == "まとめ記事。"
    assert old.authors == ("Sato",)
    assert old.published == datetime(2018, 1, 15, tzinfo=UTC)
    assert old.summary is None and old.comment is None


def test_text_without_entries_raises() -> None:
    with pytest.raises(ParseError, match="Issue Date"):
        parse_notes_text(b"Alignment\n\nnothing yet", CTX)


# --- the real pages ---------------------------------------------------------------------------


def test_seed_000_html(shared: Path) -> None:
    doc = parse_notes_html(_seed("000"), ParseContext())
    assert len(doc.entries) == 17  # 3 visible + 14 in the hidden block
    assert doc.skipped == 0
    assert doc.title == "Alignmentに関する論文・技術記事メモの一覧"
    assert all("Alignment" in e.tags for e in doc.entries)
    first = doc.entries[0]
    assert first.title == UNLOCKING
    assert first.authors == ("Bill Yuchen Lin",)
    assert first.tags == ("NLP", "LanguageModel", "In-ContextLearning", "Alignment")
    assert first.published == datetime(2023, 12, 5, tzinfo=UTC)
    assert first.source_item_id == "https://github.com/AkihikoWatanabe/paper_notes/issues/1179"
    assert first.summary is not None and first.summary.startswith("アラインメント調整は")
    assert first.summary_lang == "ja"
    assert first.comment is not None and first.comment.startswith("モデルの知識はPre-training")
    assert first.url is None  # the issue link is the note, not the paper
    entries = _by_title(doc)
    assert "Large Language Model Alignment: A Survey" in entries  # first hidden entry
    last = doc.entries[-1]
    assert last.title == (
        "The automatic construction of large-scale corpora for summarization research"
    )
    assert last.authors == ("Daniel Marcu",)
    assert last.source_item_id == "https://github.com/AkihikoWatanabe/paper_notes/issues/219"
    giza = doc.entries[10]
    assert giza.title == "A systematic comparison of various statistical alignment models"
    assert giza.authors == ("Och",)
    assert doc.entries[1].links.code == "https://github.com/yukiar/OTAlign"
    assert not any(e.signals.pick for e in doc.entries)


def test_seed_001_text(shared: Path) -> None:
    doc = parse_notes_text(_seed("001"), ParseContext())
    assert len(doc.entries) == 50
    assert doc.skipped == 0
    assert doc.title == "Alignment"
    first = doc.entries[0]
    assert first.title == "Motif 2.6B Technical Report"
    assert first.authors == ("Junghwan Lim",)
    assert first.published == datetime(2025, 8, 25, tzinfo=UTC)
    assert first.tags[4] == "Supervised-FineTuning (SFT)"
    assert first.tags[-1] == "Alignment"
    assert first.signals.pick
    assert [e.title for e in doc.entries if e.signals.pick] == [
        "Motif 2.6B Technical Report",
        "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
        "The Decomposition of Human-Written Summary Sentences",
    ]
    entries = _by_title(doc)
    dyn = entries["Learning Dynamics of LLM Finetuning"]  # no "[Paper Note]" prefix
    assert dyn.authors == ("Yi Ren",)
    assert dyn.comment is not None and dyn.comment.startswith("元ポスト:https://x.com/joshuarenyi/")
    # Entries sharing a line with the previous one's text are still apart.
    assert (
        "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing"
        in entries
    )
    assert entries["Qwen3"].authors == ("Qwen Team",)
    last = doc.entries[-1]
    assert last.comment is not None and last.comment.startswith("<Abstract, Text>のタプル")


def test_same_paper_same_title_across_sources(shared: Path) -> None:
    from digests.sources.paper_page import parse_paper_page

    html = _by_title(parse_notes_html(_seed("000"), ParseContext()))
    text = _by_title(parse_notes_text(_seed("001"), ParseContext()))
    page = parse_paper_page(_seed("002"), ParseContext())
    related = [e for e in page.entries if e.signals.related and "Unlocking" in e.title]
    assert len(related) == 1
    keys = {normalize_title(t) for t in (UNLOCKING, related[0].title)}
    assert len(keys) == 1
    assert UNLOCKING in html and UNLOCKING in text
    # Every note on the HTML page is also on the text page under the same title.
    assert {normalize_title(t) for t in html} <= {normalize_title(t) for t in text}


# --- never crash --------------------------------------------------------------------------------


def _sources() -> list[bytes]:
    pages = [(FIXTURES / n).read_bytes() for n in ("notes_tag_page.html", "notes_tag_page.txt")]
    if (SHARED / "seeds").is_dir():
        pages += [_seed("000"), _seed("001")]
    return pages


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged(_sources()))
def test_never_crashes(data: bytes) -> None:
    for parse in (parse_notes_html, parse_notes_text):
        try:
            doc = parse(data, CTX)
        except ParseError:
            continue
        assert isinstance(doc, ParsedDocument)
        assert doc.entries
