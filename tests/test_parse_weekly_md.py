"""DAIR.AI "ML Papers of the Week" Markdown parser."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.errors import ParseError
from digests.model import Links, ParseContext, ParsedDocument, SourceKind
from digests.sources.weekly_md import parse_weekly_md

SAMPLE = "samples/ml_papers_of_the_week_2weeks__dair-ai_ML-Papers-of-the-Week_README.md"
CTX = ParseContext(url="https://raw.example.test/README.md")


def midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_capture(shared: Path) -> None:
    doc = parse_weekly_md((shared / SAMPLE).read_bytes(), CTX)
    assert doc.kind is SourceKind.WEEKLY_MD
    assert (len(doc.entries), doc.skipped, doc.problems) == (20, 0, ())
    june, january = doc.entries[:10], doc.entries[10:]
    assert [e.signals.position for e in june] == list(range(1, 11))
    assert all(e.signals.pick and e.published == midnight(2025, 6, 23) for e in june)
    # The 2023 week has no year; its arXiv ids (2301.*) date it.
    assert all(e.published == midnight(2023, 1, 1) for e in january)
    assert all(e.tags == () for e in doc.entries)

    mercury, mem1 = june[0], june[1]
    assert mercury.title == "Ultra-Fast Diffusion-based Language Models"
    assert (mercury.arxiv_id, mercury.url) == ("2506.17298", "https://arxiv.org/abs/2506.17298")
    assert mercury.summary is not None
    lines = mercury.summary.split("\n")
    assert lines[0].startswith("This paper introduces Mercury, a family of large-scale")
    assert lines[1].startswith("Mercury uses a Transformer-based architecture")
    assert len(lines) == 5
    assert "<br>" not in mercury.summary and "●" not in mercury.summary
    assert mem1.title == "MEM1"
    assert mem1.summary is not None and "(<IS>)" in mem1.summary
    assert june[3].arxiv_id == "2506.08388"  # a www.arxiv.org link
    alphagenome = june[5]
    assert alphagenome.title == "AlphaGenome"
    assert alphagenome.arxiv_id is None
    assert alphagenome.url == "https://storage.googleapis.com/deepmind-papers/alphagenome.pdf"
    claude = june[6]
    assert claude.summary is not None
    assert "support from its Claude.ai assistant" in claude.summary

    muse, valle = january[0], january[1]
    assert muse.title == "Muse: Text-To-Image Generation via Masked Generative Transformers"
    assert muse.summary is not None and muse.summary.startswith("introduces Muse, a new")
    assert muse.links.code == "https://github.com/lucidrains/muse-maskgit-pytorch"
    assert muse.links.other[0] == "https://muse-model.github.io/"
    # No Paper link: the first link that is not a tweet.
    assert (valle.url, valle.arxiv_id) == ("https://valle-demo.github.io/", None)
    assert january[6].url == "https://transformer-circuits.pub/2023/toy-double-descent/index.html"
    assert january[8].title == (
        "Iterated Decomposition: Improving Science Q&A by Supervising Reasoning Processes"
    )
    assert [e.arxiv_id for e in january[-2:]] == ["2301.01751", "2301.01379"]


def test_fixture(fixtures: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="digests.sources.weekly_md"):
        doc = parse_weekly_md((fixtures / "weekly_md.md").read_bytes(), CTX)
    assert doc.title == "ML Papers of The Week"
    assert doc.skipped == 1
    assert doc.problems == (
        "Top AI Papers of the Week (July 7 - July 13) - 2025: row 3 skipped: no title",
    )
    assert CTX.url is not None
    assert CTX.url in caplog.text
    titles = [e.title for e in doc.entries]
    # "## Other news" ends the week before it; its table is not a week's.
    assert "Not a paper row" not in titles
    assert titles == [
        "Teapot Agents",
        "Kettle Report",
        "Pipe | Escapes",
        "New Year Paper",
        "Emphasis Is Stripped",
        "Project Only",
        "A Blog Post",
    ]
    agents, kettle, pipes, new_year, emphasis, project, blog = doc.entries
    assert agents.summary == (
        "Introduces teapot agents that pour on demand. Key findings:\n"
        "Agents keep a state (<IS>) per turn.\n"
        "Pouring is 2× faster than baselines."
    )
    assert agents.published == midnight(2025, 7, 7)
    assert agents.source_item_id == "2025-07-07#1"
    assert (kettle.url, kettle.arxiv_id) == ("https://kettles.example.com/report", None)
    assert kettle.links.abs == "https://kettles.example.com/report"
    assert pipes.signals.position == 4
    assert pipes.summary == "Escaped | pipes stay in the text; so does Q&A."
    assert (pipes.arxiv_id, pipes.arxiv_version) == ("2507.04444", 2)
    assert pipes.links == Links(
        abs="https://arxiv.org/abs/2507.04444",
        pdf="https://arxiv.org/pdf/2507.04444",
        code="https://github.com/example/pipes",
    )
    # "(December 30 - January 5) - 2025": the year is the last day's.
    assert new_year.published == midnight(2024, 12, 30)
    # No year: dated by its 2301.* arXiv id.
    assert emphasis.published == midnight(2023, 1, 9)
    assert emphasis.summary == "cites nothing."
    assert project.url == "https://project.example.net/"
    # No year and no arXiv id: one week before its newer neighbour.
    assert blog.published == midnight(2023, 1, 1)


def test_no_year_anywhere_uses_fetch_time(fixtures: Path) -> None:
    data = (fixtures / "weekly_md_no_year.md").read_bytes()
    fetched = ParseContext(fetched_at=datetime(2024, 1, 3, 12, 0, tzinfo=UTC))
    holiday, solstice = parse_weekly_md(data, fetched).entries
    assert holiday.published == midnight(2023, 12, 26)
    assert solstice.published == midnight(2023, 12, 19)


def test_no_year_and_no_clock_leaves_dates_unknown(fixtures: Path) -> None:
    doc = parse_weekly_md((fixtures / "weekly_md_no_year.md").read_bytes(), ParseContext())
    assert [e.published for e in doc.entries] == [None, None]
    assert doc.skipped == 0
    assert len(doc.problems) == 2
    assert "no date could be worked out" in doc.problems[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"<!DOCTYPE html><html><body>404</body></html>", "got an HTML page"),
        (b"# A README\n\n| a | b |\n| - | - |\n", "got no week sections"),
    ],
)
def test_refusals(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_weekly_md(body, CTX)


def _readme(weeks: int) -> bytes:
    """A README shaped like the 2025 weeks: long summaries, bullets, links, emphasis."""
    week = (
        "## Top AI Papers of the Week (July 7 - July 13) - 2025\n"
        "| **Paper**  | **Links** |\n| --- | --- |\n"
        + "".join(
            f"| {n}) A Title {n}  {'A long summary sentence. ' * 20} <br>● "
            f"**A bullet**: with *emphasis* and [a link](https://e.org/x). "
            f"{'More words. ' * 20} <br>● "
            f"{'another bullet. ' * 20} | [Paper](https://arxiv.org/abs/2507.0{n:04d}), "
            f"[Tweet](https://x.com/a/status/{n}) |\n"
            for n in range(1, 11)
        )
    )
    return (week * weeks).encode()


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(
            lambda s: f"## Top ML Papers of the Week (Jan 1-8)\n| a | b |\n|--|--|\n{s}".encode()
        ),
        st.lists(
            st.sampled_from(["|", "||", "**", " - ", "<br>", "●", "1)", "[Paper](", ")", "\n"])
            | st.text(max_size=10),
            max_size=40,
        ).map(
            lambda parts: (
                "## Top AI Papers of the Week (Dec 30 - Jan 5)\n" + "".join(parts)
            ).encode()
        ),
    )
)
def test_random_input_only_ever_raises_parse_error(data: bytes) -> None:
    try:
        result = parse_weekly_md(data, CTX)
    except ParseError:
        return
    assert isinstance(result, ParsedDocument)
