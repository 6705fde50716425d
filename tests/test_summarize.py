"""Summaries: the extractive rules on fixed and generated texts, and the model client
against a local OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
import re
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.errors import ConfigError
from digests.model import ParseContext, SummaryText
from digests.sources.weekly_md import parse_weekly_md
from digests.summarize import (
    ELLIPSIS,
    ExtractiveSummarizer,
    LLMSettings,
    LLMSummarizer,
    MemorySummaryCache,
    Summarizer,
    create_summarizer,
    cut_sentences,
    extractive_summary,
    pick_texts,
    plain_text,
    text_lang,
)

DAIR_SAMPLE = "samples/ml_papers_of_the_week_2weeks__dair-ai_ML-Papers-of-the-Week_README.md"
CTX = ParseContext(url="https://raw.example.test/README.md")


def abstract(text: str) -> list[SummaryText]:
    return [SummaryText(text, "abstract", "en")]


# --- extractive: exact outputs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        pytest.param(
            "Large models (e.g. GPT-4) are strong. Smith et al. show gains of 3.5% in Fig. 2"
            " over the baseline. We release code.",
            280,
            "Large models (e.g. GPT-4) are strong. Smith et al. show gains of 3.5% in Fig. 2"
            " over the baseline.",
            id="e.g. et al. Fig. decimal",
        ),
        pytest.param(
            "The site example.com/a.b hosts it. It is MIT licensed. Extra.",
            280,
            "The site example.com/a.b hosts it. It is MIT licensed.",
            id="domain",
        ),
        pytest.param(
            "We compare A vs. B as in Eq. 3 and cf. Dr. Lee (No. 5). Version v1.2.3 by"
            " J. Smith works. Done.",
            280,
            "We compare A vs. B as in Eq. 3 and cf. Dr. Lee (No. 5). Version v1.2.3 by"
            " J. Smith works.",
            id="vs. Eq. cf. Dr. No. version initials",
        ),
        pytest.param(
            "The answer is no. We show why i.e. the model fails. Third one.",
            280,
            "The answer is no. We show why i.e. the model fails.",
            id="no. before a capital ends",
        ),
        pytest.param(
            "We test on GLUE, SQuAD, etc. The results improve. More.",
            40,
            "We test on GLUE, SQuAD, etc.",
            id="etc. before a capital ends",
        ),
        pytest.param(
            "Is it fast? Yes! It is.",
            280,
            "Is it fast? Yes!",
            id="question and exclamation",
        ),
        pytest.param(
            "First sentence fits. The second one is far too long to fit in the room left.",
            30,
            "First sentence fits.",
            id="second does not fit",
        ),
        pytest.param(
            "This sentence is quite long and goes on and on without any end in sight",
            30,
            "This sentence is quite long…",
            id="cut at a word",
        ),
        pytest.param(
            "We study models, and then we stop somewhere in between.",
            19,
            "We study models…",
            id="no dangling comma before the ellipsis",
        ),
        pytest.param(
            "A very longwordthatkeepsgoingandgoing",
            20,
            "A very…",
            id="long word is dropped, not cut",
        ),
        pytest.param(
            "これは一文目です。これは二文目です！三文目？",
            280,
            "これは一文目です。これは二文目です！",
            id="ja two sentences",
        ),
        pytest.param(
            "これは一文目です。これは二文目です！三文目？",
            15,
            "これは一文目です。",
            id="ja one sentence",
        ),
        pytest.param(
            "本研究では、大規模言語モデルの性能を向上させるための新しい手法を提案し、"
            "複数のベンチマークで評価した。",
            40,
            "本研究では、大規模言語モデルの性能を向上させるための新しい手法を提案し…",
            id="ja cut at a clause",
        ),
        pytest.param(
            "大規模言語モデルの性能を向上させるための新しい手法を提案して評価した。",
            20,
            "大規模言語モデルの性能を向上させるため…",
            id="ja cut at a character",
        ),
        pytest.param(
            "歴史改変の推測（？）幅広いタスクで高い性能を示した。次の文。",
            280,
            "歴史改変の推測（？）幅広いタスクで高い性能を示した。次の文。",
            id="ja aside is not an end",
        ),
        pytest.param(
            "We propose X-Net. 本研究では新手法を提案する。Third.",
            280,
            "We propose X-Net. 本研究では新手法を提案する。",
            id="mixed",
        ),
        pytest.param(
            "大きな言語モデル(LLM)は、人間の期待に沿う必要がある。\n"
            "そこで本稿では,LLM とアライメントを分離することを提案する。",
            280,
            "大きな言語モデル(LLM)は、人間の期待に沿う必要がある。"
            "そこで本稿では,LLM とアライメントを分離することを提案する。",
            id="ja line break joined",
        ),
    ],
)
def test_extractive_exact(text: str, max_chars: int, expected: str) -> None:
    assert extractive_summary(abstract(text), max_chars=max_chars) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<p>We <b>propose</b> a&nbsp;method &amp; a tool.</p><p>It works.</p>",
            "We propose a method & a tool. It works.",
        ),
        ("x<y and z>w holds &lt;always&gt;.", "x<y and z>w holds <always>."),
        ("<script>alert(1)</script>Safe <i>text</i>.", "Safe text."),
        (
            "## Overview\n- **Muse** is a _fast_ model with `code` at"
            " [the repo](https://github.com/x).\n- It keeps snake_case and N_A.",
            "Overview Muse is a fast model with code at the repo. It keeps snake_case and N_A.",
        ),
        (
            "Intro to DeepRare.  <br>● DeepRare is built on a 3-tier system.<br>● It wins.",
            "Intro to DeepRare. DeepRare is built on a 3-tier system. It wins.",
        ),
        (
            "We compare against <https://a.io/x> baselines from prior work."
            " ![image](https://img/1.png) Next.",
            "We compare against baselines from prior work. Next.",
        ),
        ("Q\\&A with 2 * 3 * 4 apples.", "Q&A with 2 * 3 * 4 apples."),
        ("**太字**です。\n・項目一\n・項目二", "太字です。項目一項目二"),
        ("from it[s Claude.ai](http://claude.ai/) assistant", "from its Claude.ai assistant"),
        ("  many\t\n spaces\u200b here  ", "many spaces here"),
    ],
)
def test_plain_text(text: str, expected: str) -> None:
    assert plain_text(text) == expected


def test_html_only_text_is_skipped_for_the_next() -> None:
    texts = [
        SummaryText("<p> </p><img src='x.png'>", "source", "en"),
        SummaryText("The abstract. Its second sentence.", "abstract", "en"),
    ]
    assert extractive_summary(texts) == "The abstract. Its second sentence."


def test_no_content_gives_empty() -> None:
    assert extractive_summary([]) == ""
    assert extractive_summary([SummaryText("  <br> ", "source"), SummaryText("", "ai")]) == ""


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        extractive_summary(abstract("Text."), max_chars=0)


# --- extractive: which text ---------------------------------------------------------------

JA_SOURCE = SummaryText("日本語の要約です。二文目です。", "source", "ja")
EN_ABSTRACT = SummaryText("An English abstract. Second sentence.", "abstract", "en")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "An English abstract. Second sentence."),
        ("ja", "日本語の要約です。二文目です。"),
        ("ja-JP", "日本語の要約です。二文目です。"),
        (None, "An English abstract. Second sentence."),  # no language asked: English
        ("fr", "An English abstract. Second sentence."),  # nothing in French: English
    ],
)
def test_requested_language_first(lang: str | None, expected: str) -> None:
    assert extractive_summary([JA_SOURCE, EN_ABSTRACT], lang=lang) == expected


def test_language_of_untagged_texts_is_guessed() -> None:
    texts = [
        SummaryText("アラインメント調整の研究。", "source"),
        SummaryText("An alignment study.", "abstract"),
    ]
    assert extractive_summary(texts, lang="en") == "An alignment study."
    assert extractive_summary(texts, lang="ja") == "アラインメント調整の研究。"


def test_origin_order() -> None:
    texts = [
        SummaryText("Comment.", "comment", "en"),
        SummaryText("Abstract.", "abstract", "en"),
        SummaryText("Machine.", "ai", "en"),
        SummaryText("Own summary.", "source", "en"),
        SummaryText("Unknown origin.", "elsewhere", "en"),
    ]
    assert [t.text for t in pick_texts(texts)] == [
        "Own summary.",
        "Machine.",
        "Abstract.",
        "Comment.",
        "Unknown origin.",
    ]
    assert extractive_summary(texts[:3]) == "Machine."
    assert extractive_summary(texts[:2]) == "Abstract."


def test_a_first_word_that_does_not_fit_after_its_bracket_is_cut_inside() -> None:
    # A cut before the word would leave only "(": the word is cut instead.
    text = "( Af4Un5af46IzC1TouXn and more words"
    assert extractive_summary([SummaryText(text, "abstract")], max_chars=21) == (
        "( Af4Un5af46IzC1TouX…"
    )
    # With room for it, the word is kept whole.
    assert extractive_summary([SummaryText(text, "abstract")], max_chars=24) == (
        "( Af4Un5af46IzC1TouXn…"
    )


# --- extractive: where a cut goes -----------------------------------------------------------
# Each case breaks when its one rule is broken; max_chars is chosen so that no sentence
# end fits and the rule under test decides.

CHAIN = (
    "introduces Kestrel, a sparse retriever that routes each query to a few experts;"
    " reduces inference cost by 4x compared to dense retrievers; scales to long contexts"
)


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        pytest.param(
            CHAIN,
            150,
            "introduces Kestrel, a sparse retriever that routes each query to a few experts;"
            " reduces inference cost by 4x compared to dense retrievers…",
            id="semicolon: the last whole clause",
        ),
        pytest.param(
            "This survey presents three stages: user-agent interaction and agent-agent links",
            60,
            "This survey presents three stages…",
            id="colon before a space",
        ),
        pytest.param(
            "The workshop begins on Monday at 10:30 and runs until the late evening",
            40,
            "The workshop begins on Monday at 10:30…",
            id="colon inside a time is no end",
        ),
        pytest.param(
            "tasks that aggregate evidence—counting, ordering and comparing the items",
            60,
            "tasks that aggregate evidence…",
            id="em dash",
        ),
        pytest.param(
            "a model trained on lidar – distilled elsewhere and checked on held-out regions",
            50,
            "a model trained on lidar…",
            id="spaced en dash",
        ),
        pytest.param(
            "gains of 5–10 points across online and offline tasks of many kinds today",
            40,
            "gains of 5–10 points across online…",
            id="en dash in a range is no end",
        ),
        pytest.param(
            "一种新的检索增强生成方法，通过动态选择文档来提高回答的准确性并减少幻觉的产生",
            30,
            "一种新的检索增强生成方法…",
            id="full-width comma",
        ),
        pytest.param(
            "We train small models on curated data, filter it with a classifier, then scale"
            " them up to larger sizes",
            80,
            "We train small models on curated data, filter it with a classifier…",
            id="comma as a last resort",
        ),
        pytest.param(
            "We train small models on curated data; filter it with a careful classifier,"
            " and scale up",
            80,
            "We train small models on curated data…",
            id="a clause before a comma",
        ),
        pytest.param(
            "Hence; the model is trained with a long schedule of contrastive objectives",
            50,
            "Hence; the model is trained with a long schedule…",
            id="a clause keeping too little is not taken",
        ),
        pytest.param(
            "Hence, the model is trained with a long schedule of contrastive objectives",
            50,
            "Hence, the model is trained with a long schedule…",
            id="a comma keeping too little is not taken",
        ),
        pytest.param(
            "routes each query (e.g., a question; a claim) to a few experts and then more",
            50,
            "routes each query (e.g., a question; a claim)…",
            id="no cut inside brackets",
        ),
        pytest.param(
            "Our method sets new state-of-the-art results on six benchmarks",
            32,
            "Our method sets new…",
            id="a hyphenated word is one word",
        ),
        pytest.param(
            "(state-of-the-art-models everywhere",
            20,
            "(state-of-the-art…",
            id="a first word too long is cut at its hyphen",
        ),
        pytest.param(
            "a nice overview of some important ideas in RL",
            280,
            "a nice overview of some important ideas in RL",
            id="no ellipsis when nothing was cut",
        ),
    ],
)
def test_cut_rules(text: str, max_chars: int, expected: str) -> None:
    assert extractive_summary(abstract(text), max_chars=max_chars) == expected


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("We train the encoder and evaluate it on many tasks", 30, "We train the encoder…"),
        ("A study of the effects of noise in many settings", 20, "A study…"),
        ("We pair the encoder with the decoder we trained", 30, "We pair the encoder…"),
        ("Works best against the baselines we chose", 24, "Works best against…"),
        (
            "beats the next best method (Claude-3.7-Sonnet-thinking) by far",
            50,
            "beats the next best method…",
        ),
        (
            'the authors call it "pruned to half without retraining" in the text',
            40,
            ("the authors call it…"),
        ),
    ],
    ids=["and", "of", "with", "the", "open bracket", "open quote"],
)
def test_cut_ends_cleanly(text: str, max_chars: int, expected: str) -> None:
    assert extractive_summary(abstract(text), max_chars=max_chars) == expected


CLAUSE_MARKS = (";", ":", "—", "–", "-", ",", "、", "，")


def whole_clause(summary: str, clean: str) -> bool:
    """True when a cut ``summary`` of ``clean`` stopped right before a clause mark."""
    body = summary.removesuffix(ELLIPSIS)
    assert clean.startswith(body)
    return clean[len(body) :].lstrip().startswith(CLAUSE_MARKS)


def test_semicolon_chains_come_out_as_whole_clauses(fixtures: Path) -> None:
    # DAIR-shaped blurbs: no sentence end within 280 characters, clauses chained by ";".
    doc = parse_weekly_md((fixtures / "weekly_md_clauses.md").read_bytes(), CTX)
    blurbs = [e.summary for e in doc.entries if e.summary]
    assert len(blurbs) == 30
    for blurb in blurbs:
        clean = plain_text(blurb)
        for max_chars in (280, 200):
            summary = extractive_summary([SummaryText(blurb, "source", "en")], max_chars=max_chars)
            assert summary.endswith(ELLIPSIS), summary
            assert len(summary) > max_chars * 0.4
            assert whole_clause(summary, clean), summary


def test_dair_capture_ends_cleanly(shared: Path) -> None:
    doc = parse_weekly_md((shared / DAIR_SAMPLE).read_bytes(), CTX)
    for entry in doc.entries:
        assert entry.summary
        for max_chars in (280, 160, 100):
            summary = extractive_summary(
                [SummaryText(entry.summary, "source", "en")], max_chars=max_chars
            )
            words = summary.removesuffix(ELLIPSIS).split()
            assert words[-1].lower() not in {"a", "an", "the", "and", "or", "of", "with"}
            assert summary.count("(") == summary.count(")"), summary


# --- cleaning: debris ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "arXiv:2410.05123v1 Announce Type: new \nAbstract: We study retrieval depth.",
            "We study retrieval depth.",
            id="announce type and abstract",
        ),
        pytest.param(
            "arXiv:2410.05123v2 Announce Type: replace-cross We study retrieval depth.",
            "We study retrieval depth.",
            id="announce type alone",
        ),
        pytest.param(
            "Abstract: We study retrieval depth.", "We study retrieval depth.", id="abstract"
        ),
        pytest.param(
            "We introduce a planning benchmark (arXiv:2309.17167v1 [cs.AI])",
            "We introduce a planning benchmark",
            id="arxiv tag",
        ),
        pytest.param(
            "We propose a fix. (arXiv:2302.01234v2 [cs.LG] UPDATED)",
            "We propose a fix.",
            id="arxiv tag updated",
        ),
        pytest.param(
            "Deeper retrieval helps. Comments: 9 pages, 4 figures Subjects: cs.CL",
            "Deeper retrieval helps.",
            id="comments tail",
        ),
        pytest.param(
            "Deeper retrieval helps. Subjects: Computation and Language (cs.CL)",
            "Deeper retrieval helps.",
            id="subjects tail",
        ),
        pytest.param(
            "We prove convergence. Journal-ref: TMLR, 2024",
            "We prove convergence.",
            id="journal-ref tail",
        ),
        pytest.param(
            "Reviewers left Comments: many of them positive.",
            "Reviewers left Comments: many of them positive.",
            id="comments inside a sentence stay",
        ),
        pytest.param(
            "We release Tessera (https://hf.co/datasets/x/tessera), a diagram corpus.",
            "We release Tessera, a diagram corpus.",
            id="url in brackets",
        ),
        pytest.param(
            "Skipping layers halves the cost. Code is available at https://github.com/x/y.",
            "Skipping layers halves the cost.",
            id="pointer sentence",
        ),
        pytest.param(
            "Skipping layers halves the cost. We release our code and models at"
            " https://github.com/x/y.",
            "Skipping layers halves the cost.",
            id="pointer sentence about code",
        ),
        pytest.param(
            "Skipping layers halves the cost. Code: https://github.com/x/y Models are small.",
            "Skipping layers halves the cost. Models are small.",
            id="labelled pointer",
        ),
        pytest.param(
            "A benchmark for clinical note summarization, hosted at www.example.org/b. It is hard.",
            "A benchmark for clinical note summarization. It is hard.",
            id="url ending a sentence that says more",
        ),
        pytest.param(
            "Using https://x.org/api we collect ten thousand dialogues for training.",
            "Using we collect ten thousand dialogues for training.",
            id="url inside a sentence",
        ),
        pytest.param(
            "Attention is all we need (https://en.wikipedia.org/wiki/Attention_(machine_learning))"
            " in this work.",
            "Attention is all we need in this work.",
            id="url with its own brackets",
        ),
        pytest.param(
            "It is fast. Code: https://a.io/x and https://b.io/y. Data is at www.c.org/z",
            "It is fast.",
            id="two urls in one pointer sentence",
        ),
        pytest.param(
            "詳細はhttps://github.com/x/yを参照。本手法は速い。",
            "本手法は速い。",
            id="url in japanese",
        ),
        pytest.param("**Key idea**: listwise.", "Key idea: listwise.", id="strong stars"),
        pytest.param("__Key idea__: listwise.", "Key idea: listwise.", id="strong underscores"),
        pytest.param("train on ~~pairwise~~ listwise data", "train on listwise data", id="strike"),
        pytest.param("see `listwise_loss` in it", "see listwise_loss in it", id="code"),
        pytest.param("see [the repo](https://github.com/x) now", "see the repo now", id="link"),
    ],
)
def test_debris_is_stripped(text: str, expected: str) -> None:
    assert plain_text(text) == expected


# --- language -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        ("本文提出了一种新的检索增强生成方法，提高了准确性。", "ja", "zh"),
        ("大規模言語モデルの推論能力を高める手法を提案する。", None, "ja"),
        ("深層強化学習の新手法を提案。", "ja", "ja"),  # one kana in a line of kanji
        ("深層強化学習新手法提案。", "ja", "zh"),  # no kana: not Japanese
        # One stray kana in a Chinese sentence does not make it Japanese.
        (
            "我们提出了一种用于大型语言模型推理の新方法，在数学和代码任务上显著提升准确率。",
            "ja",
            "zh",
        ),
        ("LLM の RLHF において、reward hacking を抑える正則化を提案。", None, "ja"),
        ("We analyse the “大模型” (large model) discourse on social media.", None, "en"),
        ("A model 10× faster — with no loss.", None, "en"),
        ("This week's pick: a compact vision-language model.", "ja", "en"),
        ("Nous proposons une méthode.", "fr", "fr"),
        ("대규모 언어 모델의 추론 능력을 향상시키는 방법", None, "ko"),
        ("2024", "ja", "ja"),
        ("", None, None),
    ],
)
def test_text_lang(text: str, declared: str | None, expected: str | None) -> None:
    assert text_lang(text, declared) == expected


ZH_AS_JA = SummaryText("本文提出了一种新的检索增强生成方法，提高了回答的准确性。", "source", "ja")
JA_UNTAGGED = SummaryText("拡散モデルで動画を高速に生成する手法。", "source", None)
NO_LETTERS = SummaryText("🚀🚀 10× 🔥", "source")
EN_NON_ASCII = SummaryText("A diffusion model that is 10× faster — at no loss.", "abstract")


@pytest.mark.parametrize(
    ("texts", "lang", "expected"),
    [
        ([JA_UNTAGGED, EN_NON_ASCII], None, EN_NON_ASCII),
        ([JA_UNTAGGED, EN_NON_ASCII], "en", EN_NON_ASCII),
        ([JA_UNTAGGED, EN_NON_ASCII], "ja", JA_UNTAGGED),
        ([ZH_AS_JA, EN_NON_ASCII], "ja", EN_NON_ASCII),
        ([ZH_AS_JA, JA_UNTAGGED], "ja", JA_UNTAGGED),
        ([ZH_AS_JA, JA_UNTAGGED], None, ZH_AS_JA),  # nothing in English: origin order
        ([ZH_AS_JA], "ja", None),
        ([ZH_AS_JA], None, ZH_AS_JA),
        ([NO_LETTERS, EN_NON_ASCII], None, EN_NON_ASCII),
    ],
    ids=[
        "english digest takes the english abstract",
        "en as None",
        "japanese digest takes japanese",
        "chinese labelled ja is not japanese: english next",
        "real japanese over chinese labelled ja",
        "no english: origin order",
        "chinese never to a japanese digest",
        "chinese only: served to an english digest",
        "no language asked is english, not any language",
    ],
)
def test_language_picks(
    texts: list[SummaryText], lang: str | None, expected: SummaryText | None
) -> None:
    picked = pick_texts(texts, lang=lang)
    assert (picked[0] if picked else None) == expected
    summary = extractive_summary(texts, lang=lang)
    assert summary == (plain_text(expected.text) if expected else "")


def test_summary_texts_fixture(fixtures: Path) -> None:
    # Realistic mixes: every summary in the language its digest should get, no debris.
    data = json.loads((fixtures / "summary_texts.json").read_text(encoding="utf-8"))
    debris = re.compile(r"https?://|www\.|arXiv:|Announce Type|Comments:|\*\*|__|~~|`|\]\(")
    for item in data["items"]:
        texts = [SummaryText(text, origin, lang) for text, origin, lang in item["texts"]]
        for lang, want in item["want"].items():
            summary = extractive_summary(texts, lang=lang)
            assert not debris.search(summary), (item["id"], summary)
            if want is None:
                assert summary == "", item["id"]
            elif want != "*":
                assert text_lang(summary) == want, (item["id"], lang, summary)


# --- extractive: properties ---------------------------------------------------------------

_PIECES = st.sampled_from(
    [" ", "  ", "\n", ". ", "! ", "? ", ", ", "。", "、", "！", "？", "e.g. ", "et al. ",
     "Fig. 2", "3.5%", "https://x.org/a.b", "<b>", "</b>", "<br>", "&amp;", "**", "_", "`",
     "[", "](u)", "● ", "- ", "(", ")", "（？）", "本研究", "です", "LLM", "J. ", "…",
     "Code: ", " at ", "https://y.io/c", "www.z.org/d", "; ", ": ", " — ", "state-of-the-art",
     "arXiv:2401.00001v1 Announce Type: new Abstract: ", "(arXiv:2401.00001v1 [cs.AI])",
     " Comments: ", "**", "~~", "“", "\""]
)  # fmt: skip
_WORDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)
_TEXTS = st.lists(st.one_of(_PIECES, _WORDS), max_size=120).map("".join)
_ASCII_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_FIRST_WORD = re.compile(r"[^A-Za-z0-9]*[A-Za-z0-9]+")


def _check(text: str, max_chars: int) -> None:
    result = extractive_summary([SummaryText(text, "abstract")], max_chars=max_chars)
    cleaned = plain_text(text)
    assert len(result) <= max_chars
    assert bool(result) == bool(cleaned)
    added = result.endswith(ELLIPSIS) and not cleaned.startswith(result)
    body = result[: -len(ELLIPSIS)] if added else result
    assert cleaned.startswith(body)
    if added:
        assert len(body) < len(cleaned)
    longest = max((len(m) for m in _ASCII_ALNUM_RUN.findall(cleaned)), default=0)
    # The first word counts with the brackets and marks before it: a cut before it would
    # leave nothing to show, so it is cut inside when they do not fit together.
    first = _FIRST_WORD.match(cleaned)
    longest = max(longest, len(first.group()) if first else 0)
    if body and len(body) < len(cleaned) and longest < max_chars - 1:
        # Only a single word longer than the room may be cut inside.
        before, after = cleaned[len(body) - 1], cleaned[len(body)]
        assert not (before.isascii() and before.isalnum() and after.isascii() and after.isalnum())
        words = body.split()
        assert words[:-1] == cleaned.split()[: len(words) - 1]


@settings(max_examples=400, deadline=None)
@given(_TEXTS, st.integers(min_value=20, max_value=1000))
def test_extractive_properties_on_paper_like_text(text: str, max_chars: int) -> None:
    _check(text, max_chars)


def test_a_bracket_before_the_first_word_does_not_make_a_word_cut() -> None:
    # Closing the bracket would leave nothing; cutting inside "000000000000" is worse
    # than leaving the bracket open after whole words.
    texts = [SummaryText("… [ 0000 000000000000", "abstract")]
    assert extractive_summary(texts, max_chars=20) == "… [ 0000…"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=20, max_value=1000))
def test_extractive_properties_on_any_text(text: str, max_chars: int) -> None:
    _check(text, max_chars)


@given(st.text(), st.integers(min_value=1, max_value=400))
def test_cut_sentences_never_exceeds(text: str, max_chars: int) -> None:
    assert len(cut_sentences(text, max_chars)) <= max_chars


# --- real inputs --------------------------------------------------------------------------


def test_seed_summaries(shared: Path) -> None:
    page = (shared / "seeds" / "000_6920c97dc52eadcb.txt").read_text(encoding="utf-8")
    spans = re.findall(r'<span class="snippet"><span>Summary</span>(.*?)</span>', page)
    assert spans
    for span in spans:
        result = extractive_summary([SummaryText(span, "source", "ja")], max_chars=140)
        assert 0 < len(result) <= 140
        assert result.endswith(("。", ELLIPSIS))
        assert plain_text(span).startswith(result.removesuffix(ELLIPSIS))
    first = extractive_summary([SummaryText(spans[0], "source", "ja")], max_chars=140)
    assert first == (
        "アラインメント調整は、大規模言語モデル（LLMs）のパフォーマンスを向上させるために"
        "使用されます。しかし、アラインメント調整の効果は「表面的」である可能性があります。"
    )


def test_hf_daily_sample(shared: Path) -> None:
    path = shared / "samples" / "hf_daily_papers_first2items__lucas-m-lopes_sotawhat.json"
    for item in json.loads(path.read_text(encoding="utf-8")):
        paper = item["paper"]
        texts = [
            SummaryText(paper["summary"], "abstract", "en"),
            SummaryText(paper["ai_summary"], "ai", "en"),
        ]
        result = extractive_summary(texts, lang="en", max_chars=280)
        assert result == cut_sentences(plain_text(paper["ai_summary"]), 280)
        assert 0 < len(result) <= 280


# --- the model client against a local server ----------------------------------------------

API_KEY = "sk-test-0123456789-secret"
REPLY = "The paper decouples alignment from the model. Small aligners fix any model."


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: object


@dataclass
class FakeChatServer:
    """A chat-completions endpoint whose next answers the test chooses."""

    url: str = ""
    mode: str = "ok"  # ok | slow | malformed | error | no_choices
    reply: str = REPLY
    requests: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeChatServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body: object
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        fake.requests.append(Recorded(self.path, dict(self.headers.items()), body))
        try:
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": "not found"}')
            elif fake.mode == "slow":
                fake.release.wait(10)
                self._send(200, self._completion(fake.reply))
            elif fake.mode == "malformed":
                self._send(200, b'{"choices": [ {"message": ')
            elif fake.mode == "error":
                self._send(500, b'{"error": {"message": "boom"}}')
            elif fake.mode == "no_choices":
                self._send(200, b'{"choices": []}')
            else:
                self._send(200, self._completion(fake.reply))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests): nothing left to answer

    @staticmethod
    def _completion(content: str) -> bytes:
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
        return json.dumps(reply).encode()

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    fake = FakeChatServer()
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.fake = fake
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def summarizer(server: FakeChatServer) -> Iterator[LLMSummarizer]:
    llm_settings = LLMSettings(
        base_url=server.url, api_key=API_KEY, model="test-model", timeout=0.5
    )
    with LLMSummarizer(llm_settings, cache=MemorySummaryCache()) as client:
        yield client


TEXTS = [
    SummaryText(
        "Large Language Models need to be aligned with human expectations. We propose to"
        " decouple LLMs and alignment by training aligner models. Results are consistent.",
        "abstract",
        "en",
    )
]
EXTRACTIVE = extractive_summary(TEXTS, lang="en", max_chars=200)


def summarize(client: Summarizer, key: str = "arxiv:2403.04224", max_chars: int = 200) -> str:
    return client.summarize(
        key, "Aligners: Decoupling LLMs and Alignment", TEXTS, lang="en", max_chars=max_chars
    )


def test_no_language_asks_for_english(server: FakeChatServer, summarizer: LLMSummarizer) -> None:
    texts = [JA_SOURCE]
    assert summarizer.summarize("k", "T", texts, lang=None, max_chars=200) == REPLY
    (request,) = server.requests
    assert isinstance(request.body, dict)
    assert "in English" in request.body["messages"][1]["content"]


def test_model_summary(server: FakeChatServer, summarizer: LLMSummarizer) -> None:
    assert summarize(summarizer) == REPLY
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert isinstance(request.body, dict)
    assert request.body["model"] == "test-model"
    messages = request.body["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    prompt = messages[1]["content"]
    assert "in English" in prompt
    assert "at most 200 characters" in prompt
    assert "Title: Aligners: Decoupling LLMs and Alignment" in prompt
    assert "Abstract: Large Language Models need" in prompt


def test_cache_hit_makes_no_request(server: FakeChatServer, summarizer: LLMSummarizer) -> None:
    assert summarize(summarizer) == REPLY
    assert summarize(summarizer) == REPLY
    assert len(server.requests) == 1
    # Another length is another summary.
    server.reply = "Aligners fix any model."
    assert summarize(summarizer, max_chars=100) == "Aligners fix any model."
    assert len(server.requests) == 2


def test_cache_key_names_its_parts(server: FakeChatServer) -> None:
    cache = MemorySummaryCache()
    llm_settings = LLMSettings(base_url=server.url, api_key=API_KEY, model="m-1")
    with LLMSummarizer(llm_settings, cache=cache) as client:
        summarize(client)
    (key,) = cache._items
    assert key.startswith("summary:v1:arxiv:2403.04224:en:m-1:200:")


def test_timeout_falls_back(
    server: FakeChatServer, summarizer: LLMSummarizer, caplog: pytest.LogCaptureFixture
) -> None:
    server.mode = "slow"
    with caplog.at_level(logging.WARNING, logger="digests.summarize"):
        assert summarize(summarizer) == EXTRACTIVE
    assert "arxiv:2403.04224" in caplog.text
    assert "timed out" in caplog.text
    assert API_KEY not in caplog.text
    # The fallback was not cached: the next run asks again.
    server.mode = "ok"
    assert summarize(summarizer) == REPLY
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["malformed", "error", "no_choices"])
def test_bad_reply_falls_back(
    server: FakeChatServer,
    summarizer: LLMSummarizer,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    server.mode = mode
    with caplog.at_level(logging.WARNING, logger="digests.summarize"):
        assert summarize(summarizer) == EXTRACTIVE
    assert "paper=arxiv:2403.04224" in caplog.text
    assert len(summarizer.cache) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("reply", ["", "   ", "**  **"])
def test_empty_reply_falls_back(
    server: FakeChatServer, summarizer: LLMSummarizer, reply: str
) -> None:
    server.reply = reply
    assert summarize(summarizer) == EXTRACTIVE


def test_reply_in_the_wrong_language_falls_back(
    server: FakeChatServer, summarizer: LLMSummarizer
) -> None:
    texts = [SummaryText("日本語の要約です。二文目です。", "source", "ja")]
    result = summarizer.summarize("k", "T", texts, lang="ja", max_chars=100)
    assert result == "日本語の要約です。二文目です。"  # the English reply was refused


@pytest.mark.parametrize(
    ("lang", "reply", "texts"),
    [
        ("ja", "本文提出了一种将对齐与模型解耦的方法。", [JA_SOURCE]),
        ("en", "本文提出了一种将对齐与模型解耦的方法。", TEXTS),
        ("en", "アライメントをモデルから切り離す手法。", TEXTS),
        (None, "アライメントをモデルから切り離す手法。", TEXTS),
    ],
    ids=["chinese to japanese", "chinese to english", "japanese to english", "none is english"],
)
def test_reply_in_another_language_falls_back(
    server: FakeChatServer,
    summarizer: LLMSummarizer,
    lang: str | None,
    reply: str,
    texts: list[SummaryText],
) -> None:
    server.reply = reply
    result = summarizer.summarize("k", "T", texts, lang=lang, max_chars=200)
    assert result == extractive_summary(texts, lang=lang, max_chars=200)


def test_too_long_reply_is_cut(server: FakeChatServer, summarizer: LLMSummarizer) -> None:
    server.reply = "**First** sentence here. " + "Second sentence goes on and on. " * 10
    result = summarize(summarizer, max_chars=60)
    assert result == "First sentence here. Second sentence goes on and on."
    assert summarize(summarizer, max_chars=60) == result
    assert len(server.requests) == 1  # a cut reply is still the model's: cached


def test_gives_up_after_failures_in_a_row(
    server: FakeChatServer, summarizer: LLMSummarizer
) -> None:
    server.mode = "error"
    for n in range(5):
        assert summarize(summarizer, key=f"arxiv:2403.0000{n}") == EXTRACTIVE
    assert len(server.requests) == summarizer.max_failures
    assert summarizer.gave_up


def test_nothing_to_summarize_sends_nothing(
    server: FakeChatServer, summarizer: LLMSummarizer
) -> None:
    assert summarizer.summarize("k", "Title", [], lang="en", max_chars=100) == ""
    assert server.requests == []


def test_unreachable_endpoint_falls_back() -> None:
    # Port 9 (discard) on loopback: nothing listens there in a test environment.
    llm_settings = LLMSettings(base_url="http://127.0.0.1:9/v1", api_key="", model="m")
    with LLMSummarizer(llm_settings) as client:
        assert summarize(client) == EXTRACTIVE


# --- settings -----------------------------------------------------------------------------


def test_settings_from_env() -> None:
    assert LLMSettings.from_env({}) is None
    assert LLMSettings.from_env({"PAPERBOT_LLM_MODEL": " "}) is None
    env = {
        "PAPERBOT_LLM_BASE_URL": "https://api.example.com/v1/",
        "PAPERBOT_LLM_API_KEY": API_KEY,
        "PAPERBOT_LLM_MODEL": "gpt-x",
        "PAPERBOT_LLM_TIMEOUT": "7.5",
    }
    got = LLMSettings.from_env(env)
    assert got == LLMSettings(
        base_url="https://api.example.com/v1", api_key=API_KEY, model="gpt-x", timeout=7.5
    )
    assert API_KEY not in repr(got)
    assert got is not None
    with LLMSummarizer(got) as client:
        assert API_KEY not in repr(client)


_ENDPOINT = {"PAPERBOT_LLM_BASE_URL": "https://x/v1", "PAPERBOT_LLM_MODEL": "m"}


@pytest.mark.parametrize(
    "env",
    [
        {"PAPERBOT_LLM_API_KEY": "k"},
        {"PAPERBOT_LLM_BASE_URL": "https://x/v1"},
        {**_ENDPOINT, "PAPERBOT_LLM_BASE_URL": "ftp://x/v1"},
        {**_ENDPOINT, "PAPERBOT_LLM_BASE_URL": "api.example.com/v1"},
        {**_ENDPOINT, "PAPERBOT_LLM_TIMEOUT": "soon"},
        {**_ENDPOINT, "PAPERBOT_LLM_TIMEOUT": "0"},
        {**_ENDPOINT, "PAPERBOT_LLM_MAX_CHARS": "9"},
    ],
)
def test_settings_refuse_half_configurations(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        LLMSettings.from_env(env)
    assert "PAPERBOT_LLM_" in str(info.value)


def test_create_summarizer() -> None:
    assert isinstance(create_summarizer(None), ExtractiveSummarizer)
    offline: Summarizer = ExtractiveSummarizer()
    assert summarize(offline) == EXTRACTIVE
