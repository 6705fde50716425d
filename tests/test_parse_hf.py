"""Hugging Face Daily Papers JSON parser."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.errors import ParseError
from digests.model import Links, ParseContext, ParsedDocument, SourceKind
from digests.sources.hf import parse_hf_daily

SAMPLE = "samples/hf_daily_papers_first2items__lucas-m-lopes_sotawhat.json"
CTX = ParseContext(url="https://huggingface.co/api/daily_papers?date=2026-06-12")


def test_capture(shared: Path) -> None:
    doc = parse_hf_daily((shared / SAMPLE).read_bytes(), CTX)
    assert doc.kind is SourceKind.HF_DAILY
    assert (len(doc.entries), doc.skipped) == (2, 0)
    first, second = doc.entries
    assert first.arxiv_id == "2606.00467"
    assert first.title == (
        "On the Limits of LLM Adaptability: Impact of Model-Internalized Priors on "
        "Annotation Task Performance"
    )
    assert first.authors == ("Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez")
    assert (first.signals.upvotes, first.signals.comments) == (0, 2)
    assert first.published == datetime(2026, 6, 12, tzinfo=UTC)
    assert first.abstract is not None
    assert first.abstract.startswith("Large Language Models (LLMs) are increasingly used")
    assert first.ai_summary is not None
    assert first.ai_summary.startswith("Large language models exhibit limited ability")
    assert first.url == "https://huggingface.co/papers/2606.00467"
    assert first.tags == ()  # ai_keywords are left out on purpose
    assert first.links.code is None
    assert second.arxiv_id == "2606.12730"
    assert len(second.authors) == 8
    assert (second.signals.upvotes, second.signals.comments) == (5, 3)
    assert second.links == Links(
        abs="https://arxiv.org/abs/2606.12730",
        pdf="https://arxiv.org/pdf/2606.12730",
        code="https://github.com/psychology-of-AI/Rethinking-Pyschometric-Eval-LLMs",
    )


def test_fixture_skips_and_counts(fixtures: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="digests.sources.hf"):
        doc = parse_hf_daily((fixtures / "hf_daily_papers.json").read_bytes(), CTX)
    assert doc.skipped == 2
    assert doc.problems == (
        "item 3 skipped: no 'paper' object",
        "item 4 skipped: expected an object, got str",
    )
    assert CTX.url is not None
    assert CTX.url in caplog.text
    teapots, undated = doc.entries
    assert teapots.title == "Teapots All the Way Down"
    assert teapots.abstract == "We study teapots. Recursively."
    assert teapots.authors == ("Ida Invented", "Jo Fabricated")
    assert teapots.published == datetime(2025, 2, 4, 13, 45, tzinfo=UTC)
    assert (teapots.signals.upvotes, teapots.signals.comments) == (42, 3)
    assert teapots.links.code == "https://github.com/example/teapots"
    assert teapots.ai_summary == "Teapots contain teapots."
    # No submittedOnDailyAt: the item's publishedAt. Nonsense counts are dropped.
    assert undated.published == datetime(2025, 2, 1, 20, 0, tzinfo=UTC)
    assert (undated.signals.upvotes, undated.signals.comments) == (None, None)
    assert undated.links.code is None


def test_empty_list_is_an_empty_day() -> None:
    assert parse_hf_daily(b"[]", CTX).entries == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"<!doctype html><html></html>", "got an HTML page"),
        (b"{not json", "got not JSON"),
        (b'{"error": "Invalid date"}', "got an object: Invalid date"),
        (b'"a string"', "got str"),
        (b"[1, 2]", "none of the 2 items"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_refusals(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_hf_daily(body, CTX)
    assert info.value.kind == "hf-daily"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
paper_like = st.fixed_dictionaries(
    {"paper": st.dictionaries(st.sampled_from(["id", "title", "authors", "upvotes"]), json_values)},
    optional={"numComments": json_values, "githubRepo": json_values},
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(paper_like | json_values, max_size=5).map(lambda v: json.dumps(v).encode()),
    )
)
def test_random_input_only_ever_raises_parse_error(data: bytes) -> None:
    try:
        result = parse_hf_daily(data, CTX)
    except ParseError:
        return
    assert isinstance(result, ParsedDocument)
