"""Tests for digests.render: exact blocks, escaping, Slack's limits, splitting, terminal text."""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from digests import render
from digests.model import (
    Digest,
    DigestItem,
    FeedbackTally,
    Links,
    PaperHit,
    Reason,
    SourceHealth,
)
from digests.render import (
    DEFAULT_MAX_CHARS,
    FALLBACK_MAX,
    MIN_MAX_CHARS,
    SlackMessage,
    format_authors,
    render_digest_messages,
    render_digest_text,
    render_lookup_message,
    render_share_message,
)
from digests.render.controls import apply_tallies, controlled_papers
from digests.render.slack import block_text_length

# --- checks every rendered message must pass -----------------------------------------------

HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123|general>",
    "<https://evil.example|click>",
    "&lt;",
    "&amp;",
    "a & b",
    "x < y > z",
    "pipe | pipe",
    "*bold*",
    "`code`",
    "🎉",
    "👩‍👩‍👧",
    "🇯🇵",
    "שלום עולם",
    "مرحبا بالعالم",
    "日本語の論文タイトル",
    "\u202eevil override",
    "\x1b[31mred",
    "\x00nul",
    "line\nbreak",
    "tab\there",
)

LINK_RE = re.compile(r"<([^<>]*)>")
URL_LINK_RE = re.compile(r"https?://[^\s<>|]+\|([^<>|]+)", re.IGNORECASE)
MENTION_RE = re.compile(r"@[UW][A-Z0-9]+")
BARE_AMP_RE = re.compile(r"&(?!amp;|lt;|gt;)")
BAD_CHARS_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every text object (plain_text / mrkdwn) in a block, recursively."""
    if isinstance(node, list):
        for child in node:
            yield from text_objects(child)
    elif isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            yield node
        for value in node.values():
            if isinstance(value, dict | list):
                yield from text_objects(value)


def assert_inert(text: str, *, mentions: bool = False) -> None:
    """No control sequence in ``text`` but our own http(s) links (and, if allowed, <@U…>)."""
    for match in LINK_RE.finditer(text):
        inner = match.group(1)
        link = URL_LINK_RE.fullmatch(inner)
        if link:
            assert BARE_AMP_RE.search(link.group(1)) is None, inner
            continue
        assert mentions and MENTION_RE.fullmatch(inner), f"unexpected control sequence <{inner}>"
    outside = LINK_RE.sub("", text)
    assert "<" not in outside and ">" not in outside, outside
    assert BARE_AMP_RE.search(outside) is None, outside
    assert "<!" not in text
    if not mentions:
        assert "<@" not in text and "<#" not in text


def assert_clean_chars(text: str) -> None:
    """No control character (category Cc) but newline, no surrogate, no bidi override."""
    bad = BAD_CHARS_RE.search(text)
    assert bad is None, repr(bad.group())


def assert_valid(
    message: SlackMessage, *, max_chars: int = DEFAULT_MAX_CHARS, mentions: bool = False
) -> None:
    """Slack's limits (via slack_sdk's models and our own counts) and the escaping rules."""
    json.dumps(message).encode("utf-8")  # serializable, no lone surrogates
    text = message["text"]
    assert text.strip()
    assert u16(text) <= FALLBACK_MAX <= 40_000
    assert_inert(text, mentions=mentions)
    assert_clean_chars(text)
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    total = 0
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= u16(block["text"]["text"]) <= 150
        elif kind == "section":
            assert 1 <= u16(block["text"]["text"]) <= 3000
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            for element in block["elements"]:
                assert 1 <= u16(element["text"]) <= 2000
        elif kind == "actions":
            assert 1 <= len(block["elements"]) <= 25
            for button in block["elements"]:
                assert 1 <= u16(button["text"]["text"]) <= 75
                assert len(button.get("value", "")) <= 2000
                assert len(button.get("url", "")) <= 3000
        else:
            pytest.fail(f"unexpected block type {kind}")
        for obj in text_objects(block):
            total += u16(obj["text"])
            assert_clean_chars(obj["text"])
            if obj["type"] == "mrkdwn":
                assert_inert(obj["text"], mentions=mentions)
                for match in LINK_RE.finditer(obj["text"]):
                    url = match.group(1).split("|", 1)[0]
                    assert len(url) <= 3000
            else:
                assert "<" not in obj["text"] and ">" not in obj["text"]
    assert total <= max_chars


def item_ranks(messages: list[SlackMessage]) -> list[int]:
    """Ranks of the digest items, in order, read off each item section's "*N. " opening."""
    ranks = []
    for message in messages:
        for block in message["blocks"]:
            if block["type"] == "section":
                match = re.match(r"\*(\d+)\. ", block["text"]["text"])
                if match:
                    ranks.append(int(match.group(1)))
    return ranks


def item_blocks(message: SlackMessage) -> list[dict[str, Any]]:
    """The blocks from the first item section on (items, then notes and the footer)."""
    blocks = message["blocks"]
    for i, block in enumerate(blocks):
        if block["type"] == "section" and re.match(r"\*\d+\. ", block["text"]["text"]):
            return blocks[i:]
    return []


def all_text(messages: list[SlackMessage]) -> str:
    parts = [m["text"] for m in messages]
    parts += [o["text"] for m in messages for o in text_objects(m["blocks"])]
    return "\n".join(parts)


# --- builders ----------------------------------------------------------------------------

WEEK_START = datetime(2025, 8, 17, 22, tzinfo=UTC)  # Monday 18 Aug 00:00 in Berlin
WEEK_END = datetime(2025, 8, 24, 22, tzinfo=UTC)


def make_item(rank: int, **fields: Any) -> DigestItem:
    values: dict[str, Any] = {
        "rank": rank,
        "paper_id": rank,
        "title": f"Paper {rank}",
        "url": f"https://arxiv.org/abs/2408.{10000 + rank}",
        "authors": ("Ada Lovelace",),
        "summary": f"Summary of paper {rank}.",
        "tags": ("Alignment",),
        "reasons": (Reason("sources", "2 sources", 2.0),),
        "score": 10.0 - rank / 100,
    }
    values.update(fields)
    return DigestItem(**values)


def make_digest(items: tuple[DigestItem, ...] = (), **fields: Any) -> Digest:
    values: dict[str, Any] = {
        "week": "2025-W34",
        "tz": "Europe/Berlin",
        "start": WEEK_START,
        "end": WEEK_END,
        "items": items,
        "scope": "#Alignment",
        "candidates": 212,
        "sources": (
            SourceHealth("arXiv cs.CL", "arxiv", 41, "ok"),
            SourceHealth("HF Daily", "hf-daily", 12, "ok"),
        ),
    }
    values.update(fields)
    return Digest(**values)


def make_hit(n: int, **fields: Any) -> PaperHit:
    values: dict[str, Any] = {
        "paper_id": n,
        "key": f"arxiv:2408.{10000 + n}",
        "title": f"Hit {n}",
        "url": f"https://arxiv.org/abs/2408.{10000 + n}",
        "authors": ("Bill Yuchen Lin", "Abhilasha Ravichander", "Yejin Choi"),
        "tags": ("Alignment", "RLHF"),
        "sources": ("HF Daily", "arXiv cs.CL"),
        "summary": "A short summary.",
        "first_seen": datetime(2025, 8, 20, 9, tzinfo=UTC),
    }
    values.update(fields)
    return PaperHit(**values)


SMALL = make_digest(
    (
        DigestItem(
            rank=1,
            paper_id=7,
            title="WildChat: 1M ChatGPT Interaction Logs",
            url="https://arxiv.org/abs/2405.01470",
            authors=(
                "Bill Yuchen Lin",
                "Abhilasha Ravichander",
                "Ximing Lu",
                "Nouha Dziri",
                "Melanie Sclar",
                "Yejin Choi",
            ),
            summary="A corpus of real user conversations & what they reveal.",
            tags=("Alignment", "Chain of Thought"),
            reasons=(
                Reason("sources", "3 sources", 3.0),
                Reason("upvotes", "212 upvotes", 2.0),
                Reason("position", "ML Papers of the Week #3", 1.0),
            ),
            score=6.0,
            links=Links(
                abs="https://arxiv.org/abs/2405.01470",
                pdf="https://arxiv.org/pdf/2405.01470",
                code="https://github.com/allenai/WildChat",
            ),
        ),
        DigestItem(
            rank=2,
            paper_id=9,
            title="大規模言語モデルの整合性",
            url="https://example.org/paper",
            authors=("林佑樹",),
            summary="",
            tags=(),
            reasons=(),
            score=1.0,
        ),
        make_item(3),
    ),
    sources=(
        SourceHealth("arXiv cs.CL", "arxiv", 41, "ok"),
        SourceHealth("HF Daily", "hf-daily", 12, "ok"),
        SourceHealth("ML Papers of the Week", "weekly-md", 0, "empty"),
    ),
)


@pytest.mark.parametrize(
    "module", sorted(Path(render.__file__).parent.glob("*.py")), ids=lambda p: p.name
)
def test_render_is_pure_and_slack_free(module: Path) -> None:
    source = module.read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"slack_sdk", "slack_bolt", "time", "bot"}
    assert ".now(" not in source and "today(" not in source


# --- exact structure -----------------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def test_small_digest_exact_blocks() -> None:
    messages = render_digest_messages(SMALL, controls=False)
    assert len(messages) == 1
    message = messages[0]
    assert_valid(message)
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert "response_type" not in message
    assert message["blocks"] == [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": "Top papers of the week · 2025-W34 · #Alignment",
                "emoji": True,
            },
        },
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Mon 18 Aug – Sun 24 Aug 2025 (Europe/Berlin) · 3 papers from 212 candidates"
                )
            ],
        },
        {
            "type": "section",
            "text": mrkdwn(
                "*1. <https://arxiv.org/abs/2405.01470|WildChat: 1M ChatGPT Interaction Logs>*\n"
                "Lin, Ravichander, … +4\n"
                "A corpus of real user conversations &amp; what they reveal."
            ),
        },
        {
            "type": "context",
            "elements": [
                mrkdwn("3 sources · 212 upvotes · ML Papers of the Week #3"),
                mrkdwn("#Alignment #Chain-of-Thought"),
                mrkdwn(
                    "<https://arxiv.org/pdf/2405.01470|PDF> · "
                    "<https://github.com/allenai/WildChat|Code>"
                ),
            ],
        },
        {
            "type": "section",
            "text": mrkdwn("*2. <https://example.org/paper|大規模言語モデルの整合性>*\n林佑樹"),
        },
        {
            "type": "section",
            "text": mrkdwn(
                "*3. <https://arxiv.org/abs/2408.10003|Paper 3>*\nLovelace\nSummary of paper 3."
            ),
        },
        {
            "type": "context",
            "elements": [mrkdwn("2 sources"), mrkdwn("#Alignment")],
        },
        {
            "type": "context",
            "elements": [
                mrkdwn("Sources: arXiv cs.CL 41 · HF Daily 12"),
                mrkdwn("⚠ ML Papers of the Week returned nothing this week"),
            ],
        },
    ]
    assert message["text"] == (
        "Top papers of the week · 2025-W34 · #Alignment\n"
        "1. WildChat: 1M ChatGPT Interaction Logs\n"
        "2. 大規模言語モデルの整合性\n"
        "3. Paper 3"
    )


def test_items_are_numbered_by_rank_whatever_their_order() -> None:
    digest = make_digest(tuple(make_item(r) for r in (3, 1, 2)))
    assert item_ranks(render_digest_messages(digest)) == [1, 2, 3]


def test_header_is_cut_to_150_with_an_ellipsis() -> None:
    digest = make_digest((make_item(1),), scope="tag:" + "Alignment " * 40)
    header = render_digest_messages(digest)[0]["blocks"][0]["text"]["text"]
    assert len(header) <= 150
    assert header.startswith("Top papers of the week · 2025-W34 · tag:Alignment")
    assert header.endswith("…")


def test_week_dates_are_shown_in_the_digest_zone() -> None:
    # 2025-08-17T22:00Z is still Sunday in UTC but Monday in Tokyo and Berlin.
    tokyo = make_digest(
        (make_item(1),),
        tz="Asia/Tokyo",
        start=datetime(2025, 8, 17, 15, tzinfo=UTC),
        end=datetime(2025, 8, 24, 15, tzinfo=UTC),
    )
    intro = render_digest_messages(tokyo)[0]["blocks"][1]["elements"][0]["text"]
    assert intro.startswith("Mon 18 Aug – Sun 24 Aug 2025 (Asia/Tokyo)")
    across_years = make_digest(
        (make_item(1),),
        tz="UTC",
        start=datetime(2024, 12, 30, tzinfo=UTC),
        end=datetime(2025, 1, 6, tzinfo=UTC),
    )
    intro = render_digest_messages(across_years)[0]["blocks"][1]["elements"][0]["text"]
    assert intro.startswith("Mon 30 Dec 2024 – Sun 5 Jan 2025 (UTC)")


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (
            ("Bill Yuchen Lin", "Abhilasha Ravichander", "A B", "C D", "E F", "G H"),
            "Lin, Ravichander, … +4",
        ),
        (("Bill Yuchen Lin",), "Lin"),
        (("Bill Yuchen Lin", "Abhilasha Ravichander"), "Lin, Ravichander"),
        (("Bill Yuchen Lin", "Abhilasha Ravichander", "Yejin Choi"), "Lin, Ravichander, … +1"),
        (("Lin, Bill Yuchen", "Ravichander, Abhilasha", "Choi, Yejin"), "Lin, Ravichander, … +1"),
        (("林佑樹", "山田太郎", "佐藤花子"), "林佑樹, 山田太郎, … +1"),
        (("山田 太郎",), "山田"),
        (("Plato",), "Plato"),
        (("Lin+",), "Lin et al."),
        (("Bill Yuchen Lin+",), "Lin et al."),
        (("Bill Yuchen Lin", "et al."), "Lin et al."),
        (("Bill Yuchen Lin et al.",), "Lin et al."),
        (("Ludwig van Beethoven", "Vincent van Gogh"), "van Beethoven, van Gogh"),
        (("Guy L. Steele Jr.", "Martin Luther King, Jr."), "Steele, King"),
        (("Lin BY", "Smith J"), "Lin, Smith"),
        (("B. Y. Lin", "A. Ravichander"), "Lin, Ravichander"),
        (("  Bill\tYuchen\nLin  ",), "Lin"),
        ((), ""),
        (("", "   "), ""),
    ],
)
def test_format_authors(authors: tuple[str, ...], expected: str) -> None:
    assert format_authors(authors) == expected


def test_format_authors_cuts_a_very_long_name() -> None:
    shown = format_authors(("X" * 10_000,))
    assert len(shown) <= 40 and shown.endswith("…")


# --- escaping ------------------------------------------------------------------------------


def hostile_item(rank: int, text: str) -> DigestItem:
    return make_item(
        rank,
        title=f"Title {text} end",
        title_alt=f"Alt {text}",
        authors=(f"{text} Lin", f"Ravi {text}", "C D"),
        summary=f"Summary {text} end",
        tags=(text, f"tag {text}"),
        reasons=(Reason("pick", f"{text} #3", 1.0),),
        links=Links(pdf="https://arxiv.org/pdf/1", other=("https://example.org/x",)),
    )


def test_source_text_is_inert_everywhere() -> None:
    digest = make_digest(
        tuple(hostile_item(i + 1, text) for i, text in enumerate(HOSTILE)),
        scope="<!channel> & #Alignment",
        title="Top <!here> papers",
        sources=(
            SourceHealth("<!channel> feed", "feed", 3, "ok"),
            SourceHealth("<@U123> weekly", "weekly-md", 0, "empty"),
            SourceHealth("Bad & <b>", "feed", 0, "failing", error="<https://evil|click> 503"),
        ),
    )
    messages = render_digest_messages(digest)
    for message in messages:
        assert_valid(message)
    text = all_text(messages)
    for needle in ("&lt;!channel&gt;", "&lt;!here&gt;", "&lt;@U123&gt;", "&amp;lt;", "&amp;amp;"):
        assert needle in text
    assert "&lt;https://evil.example¦click&gt;" in text  # inside a link label: | replaced
    assert "&lt;https://evil|click&gt; 503" in text  # outside a label: | kept
    for kept in ("🎉", "👩‍👩‍👧", "🇯🇵", "שלום עולם", "مرحبا بالعالم", "日本語の論文タイトル"):
        assert kept in text
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert "[31mred" in text  # the ESC goes, the rest stays readable
    # The header is plain_text: look-alike angle brackets, no entities.
    header = messages[0]["blocks"][0]["text"]["text"]
    assert header == "Top ‹!here› papers · 2025-W34 · ‹!channel› & #Alignment"


def test_pipe_in_a_title_does_not_break_its_link() -> None:
    digest = make_digest((make_item(1, title="A | B > C"),))
    section = item_blocks(render_digest_messages(digest)[0])[0]["text"]["text"]
    assert section.startswith("*1. <https://arxiv.org/abs/2408.10001|A ¦ B &gt; C>*")


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://arxiv.org/abs/2405.01470", "https://arxiv.org/abs/2405.01470"),
        ("HTTP://Example.org/a?x=1&y=2", "HTTP://Example.org/a?x=1&y=2"),
        ('https://example.org/a b|c>d<e"f', "https://example.org/a%20b%7Cc%3Ed%3Ce%22f"),
        ("https://example.org/論文", "https://example.org/%E8%AB%96%E6%96%87"),
        ("  https://example.org/x\n", "https://example.org/x"),
        ("https://example.org/already%20encoded", "https://example.org/already%20encoded"),
        ("javascript:alert(1)", None),
        ("slack://channel?id=C1", None),
        ("mailto:a@example.org", None),
        ("https://", None),
        ("http://[::1", None),
        ("https://例え.jp/x", None),
        ("", None),
        ("https://example.org/" + "a" * 1200, None),
    ],
)
def test_title_links_only_for_safe_http_urls(url: str, linked: str | None) -> None:
    digest = make_digest((make_item(1, url=url, title="T"),))
    message = render_digest_messages(digest)[0]
    assert_valid(message)
    first_line = item_blocks(message)[0]["text"]["text"].split("\n")[0]
    assert first_line == (f"*1. <{linked}|T>*" if linked else "*1. T*")


def test_extra_links_skip_the_title_link_and_unsafe_ones() -> None:
    item = make_item(
        1,
        url="https://arxiv.org/abs/1",
        links=Links(
            abs="https://arxiv.org/abs/1",
            pdf="javascript:alert(1)",
            code="https://github.com/a/b",
            other=("https://github.com/a/b", "https://x.example/|evil", "ftp://x"),
        ),
    )
    context = item_blocks(render_digest_messages(make_digest((item,)))[0])[1]
    assert context["elements"][-1]["text"] == (
        "<https://github.com/a/b|Code> · <https://x.example/%7Cevil|x.example>"
    )


# --- limits and splitting ------------------------------------------------------------------


def test_a_huge_item_is_cut_to_fit_never_dropped() -> None:
    huge = make_item(
        1,
        url="https://example.org/" + "t" * 975,  # linkable: just under LINK_URL_MAX
        title="<!channel>&" * 10_000,
        title_alt="別名" * 50_000,
        summary="word " * 20_000 + "<@U1>" * 1000,
        authors=("Z" * 100_000, "<Y>" * 50_000, *(f"Author{n} Name{n}" for n in range(5000))),
        tags=tuple(f"tag{n}" * 50 for n in range(1000)),
        reasons=tuple(Reason("x", "r" * 5000, 1.0) for _ in range(100)),
        links=Links(
            pdf="https://example.org/" + "p" * 540,
            code="https://example.org/" + "c" * 540,
            other=tuple("https://example.org/" + "o" * 900 for _ in range(10)),
        ),
    )
    for max_chars in (MIN_MAX_CHARS, DEFAULT_MAX_CHARS):
        messages = render_digest_messages(
            make_digest((huge,), scope="s" * 500), max_chars=max_chars
        )
        for message in messages:
            assert_valid(message, max_chars=max_chars)
        assert item_ranks(messages) == [1]
        section = next(item_blocks(m)[0] for m in messages if item_blocks(m))
        assert "&lt;!channel&gt;&amp;" in section["text"]["text"]
        assert "…" in section["text"]["text"]


def test_a_long_digest_continues_in_the_thread() -> None:
    items = tuple(make_item(r, summary=f"Summary {r}. " + "detail " * 300) for r in range(1, 61))
    messages = render_digest_messages(make_digest(items))
    assert len(messages) > 1
    for message in messages:
        assert_valid(message)
    assert item_ranks(messages) == list(range(1, 61))
    total = len(messages)
    parent = messages[0]["blocks"]
    first_elsewhere = item_ranks(messages[1:])[0]
    assert parent[-2]["elements"][0]["text"] == (
        f":thread: Papers {first_elsewhere}–60 continue in the thread "
        f"({total - 1} more message{'s' if total > 2 else ''})."
    )
    assert parent[-1]["elements"][0]["text"].startswith("Sources: arXiv cs.CL 41")
    for number, message in enumerate(messages[1:], start=2):
        marker = message["blocks"][0]["elements"][0]["text"]
        assert marker == (
            f"Top papers of the week · 2025-W34 · #Alignment — continued ({number}/{total})"
        )
        assert message["text"].startswith(marker)


def test_many_small_items_split_on_the_block_limit() -> None:
    items = tuple(make_item(r, summary="", tags=(), reasons=()) for r in range(1, 201))
    messages = render_digest_messages(make_digest(items), controls=False)
    for message in messages:
        assert_valid(message)
    assert item_ranks(messages) == list(range(1, 201))
    assert max(len(m["blocks"]) for m in messages) == 50


def test_max_chars_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        render_digest_messages(SMALL, max_chars=MIN_MAX_CHARS - 1)


def test_the_fallback_text_stays_short_for_many_long_titles() -> None:
    items = tuple(make_item(r, title="T" * 5000, summary="") for r in range(1, 50))
    messages = render_digest_messages(make_digest(items), controls=False)
    for message in messages:
        assert_valid(message)
    assert re.search(r"\n… and \d+ more$", messages[0]["text"])


# --- empty and thin weeks --------------------------------------------------------------

UNHEALTHY = (
    SourceHealth("arXiv cs.CL", "arxiv", 41, "ok"),
    SourceHealth("HF Daily", "hf-daily", 0, "failing", error="HTTP 503"),
    SourceHealth("ML Papers of the Week", "weekly-md", 0, "empty"),
)


def test_an_empty_week_says_so_and_names_the_sources() -> None:
    messages = render_digest_messages(make_digest((), sources=UNHEALTHY, candidates=0))
    assert len(messages) == 1
    message = messages[0]
    assert_valid(message)
    notice = message["blocks"][2]["text"]["text"]
    assert notice == (
        ":warning: No papers this week. Failed: HF Daily (HTTP 503). "
        "Returned nothing: ML Papers of the Week."
    )
    assert message["blocks"][-1]["elements"][1]["text"] == (
        "⚠ HF Daily failed this week (HTTP 503) · "
        "⚠ ML Papers of the Week returned nothing this week"
    )
    assert "No papers this week" in message["text"]
    assert "HF Daily" in message["text"] and "ML Papers of the Week" in message["text"]
    text = render_digest_text(make_digest((), sources=UNHEALTHY))
    assert "No papers this week" in text
    assert "HF Daily (HTTP 503)" in text and "ML Papers of the Week" in text


def test_an_empty_week_without_sources_is_not_silent() -> None:
    message = render_digest_messages(make_digest((), sources=(), candidates=0))[0]
    assert_valid(message)
    assert message["blocks"][2]["text"]["text"] == (
        ":warning: No papers this week. No source reported anything for this week."
    )


def test_a_thin_week_names_the_failing_sources() -> None:
    thin = make_digest((make_item(1),), sources=UNHEALTHY, candidates=1)
    message = render_digest_messages(thin)[0]
    assert_valid(message)
    assert message["blocks"][2]["text"]["text"] == (
        ":warning: Only 1 paper this week. Failed: HF Daily (HTTP 503). "
        "Returned nothing: ML Papers of the Week."
    )
    assert item_ranks([message]) == [1]


def test_a_digest_as_long_as_it_asked_for_is_not_thin() -> None:
    # top:1 from a week of 212 candidates: not a thin week, whatever the sources did.
    message = render_digest_messages(make_digest((make_item(1),), sources=UNHEALTHY))[0]
    assert ":warning:" not in all_text([message])


def test_a_full_week_has_no_notice_but_the_footer_warns() -> None:
    items = tuple(make_item(r) for r in range(1, 6))
    message = render_digest_messages(make_digest(items, sources=UNHEALTHY))[0]
    assert ":warning:" not in all_text([message])
    assert message["blocks"][-1]["elements"] == [
        mrkdwn("Sources: arXiv cs.CL 41"),
        mrkdwn(
            "⚠ HF Daily failed this week (HTTP 503) · "
            "⚠ ML Papers of the Week returned nothing this week"
        ),
    ]


def test_many_unhealthy_sources_are_counted_not_dropped_silently() -> None:
    sources = tuple(
        SourceHealth(f"Source number {n} " + "x" * 60, "feed", 0, "failing", error="e" * 500)
        for n in range(200)
    )
    message = render_digest_messages(make_digest((), sources=sources))[0]
    assert_valid(message)
    footer = message["blocks"][-1]["elements"][-1]["text"]
    assert re.search(r"… \+\d+ more$", footer)


# --- terminal ------------------------------------------------------------------------------


def test_terminal_text() -> None:
    assert render_digest_text(SMALL, width=80) == (
        "Top papers of the week · 2025-W34 · #Alignment\n"
        "==============================================\n"
        "Mon 18 Aug – Sun 24 Aug 2025 (Europe/Berlin) · 3 papers from 212 candidates\n"
        "\n"
        "1. WildChat: 1M ChatGPT Interaction Logs\n"
        "   Lin, Ravichander, … +4\n"
        "   A corpus of real user conversations & what they reveal.\n"
        "   #Alignment #Chain-of-Thought\n"
        "   3 sources · 212 upvotes · ML Papers of the Week #3\n"
        "   https://arxiv.org/abs/2405.01470\n"
        "   PDF: https://arxiv.org/pdf/2405.01470\n"
        "   Code: https://github.com/allenai/WildChat\n"
        "\n"
        "2. 大規模言語モデルの整合性\n"
        "   林佑樹\n"
        "   https://example.org/paper\n"
        "\n"
        "3. Paper 3\n"
        "   Lovelace\n"
        "   Summary of paper 3.\n"
        "   #Alignment\n"
        "   2 sources\n"
        "   https://arxiv.org/abs/2408.10003\n"
        "\n"
        "Sources: arXiv cs.CL 41 · HF Daily 12 · ⚠ ML Papers of the Week returned nothing\n"
        "  this week\n"
    )


def test_terminal_text_is_not_escaped_but_is_cleaned() -> None:
    text = render_digest_text(make_digest((hostile_item(1, "<!channel> & \x1b[31m\u202e"),)))
    assert "Title <!channel> & [31m end" in text
    assert "\x1b" not in text and "\u202e" not in text


def test_terminal_text_wraps_by_columns_and_keeps_urls_whole() -> None:
    long_url = "https://example.org/" + "u" * 150
    item = make_item(
        1,
        title="\x1b[2J" + "大規模言語モデル" * 20,
        summary="word " * 100,
        url=long_url,
    )
    text = render_digest_text(make_digest((item,)), width=40)
    assert "\x1b" not in text
    for line in text.splitlines():
        if "https://" in line:
            continue
        cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
        assert cells <= 40, line
    assert f"   {long_url}" in text.splitlines()


MIXED = (
    "本研究では混合エキスパート（Mixture of Experts）モデルの学習を安定化させる手法を提案する。"
    "大規模言語モデル（LLM）のFine-tuningにも有効である。"
)


@pytest.mark.parametrize("width", range(40, 61))
def test_terminal_text_never_breaks_an_english_word_in_japanese_text(width: int) -> None:
    title = "混合エキスパートの安定化（Stable Mixture of Experts）"
    item = make_item(1, title=title, summary=MIXED)
    lines = render_digest_text(make_digest((item,)), width=width).splitlines()
    for line in lines:
        if "https://" in line:
            continue
        cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
        assert cells <= width, line
    # Every run of Latin letters in the text is on one line, whole.
    words = set(re.findall(r"[A-Za-z][A-Za-z-]*", MIXED)) | {"Stable"}
    found = {w for line in lines for w in re.findall(r"[A-Za-z][A-Za-z-]*", line)}
    assert words <= found, words - found
    # Nothing is lost or reordered: the wrapped summary joins back into the text.
    start = [line.strip() for line in lines].index("Lovelace") + 1
    end = [line.strip() for line in lines].index("#Alignment", start)
    assert all(line.startswith("   ") for line in lines[start:end])
    assert "".join(lines[start:end]).replace(" ", "") == MIXED.replace(" ", "")


def test_wrapping_keeps_the_indent_and_japanese_punctuation_off_line_starts() -> None:
    lines = render.wrap_text("あ" * 9 + "。" + "い" * 9 + "、" + "う" * 5, 24, "  1. ", "     ")
    assert all(line.startswith("     ") for line in lines[1:])
    assert not any(line.strip()[0] in "。、" for line in lines)
    assert all(len(line.strip()) > 0 for line in lines)


# --- /paper lookups ------------------------------------------------------------------------


def test_lookup_message_structure() -> None:
    hits = [make_hit(1), make_hit(2, summary="word " * 100, url="javascript:x")]
    message = render_lookup_message(
        hits,
        query_text="tag:Alignment `rlhf`",
        total=23,
        offset=5,
        page_size=5,
        more_value="q=tag:Alignment&offset=10",
        share_value="share:abc",
    )
    assert_valid(message)
    assert message["response_type"] == "ephemeral"
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == (
        "Papers matching `tag:Alignment 'rlhf'` · 6–7 of 23 · page 2 of 5"
    )
    assert blocks[1]["text"]["text"] == (
        "*6. <https://arxiv.org/abs/2408.10001|Hit 1>*\nLin, Ravichander, … +1\nA short summary."
    )
    assert [e["text"] for e in blocks[2]["elements"]] == [
        "#Alignment #RLHF",
        "via HF Daily, arXiv cs.CL",
        "first seen 2025-08-20",
    ]
    assert [(e["action_id"], e["value"]) for e in blocks[3]["elements"]] == [
        ("paper_similar", "like:2408.10001"),
        ("paper_fb_save", "1"),
    ]
    summary = blocks[4]["text"]["text"].split("\n")[2]
    assert summary.endswith("word…") and len(summary) <= 200
    assert blocks[4]["text"]["text"].startswith("*7. Hit 2*")
    assert blocks[-1] == {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "More", "emoji": True},
                "action_id": "paper_more",
                "value": "q=tag:Alignment&offset=10",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Share in channel", "emoji": True},
                "action_id": "paper_share",
                "value": "share:abc",
            },
        ],
    }
    assert message["text"] == (
        "Papers matching `tag:Alignment 'rlhf'` · 6–7 of 23\n6. Hit 1\n7. Hit 2"
    )


def test_lookup_buttons_only_for_usable_values() -> None:
    def actions(more: str | None, share: str | None) -> list[str]:
        message = render_lookup_message(
            [make_hit(1)],
            query_text="x",
            total=None,
            offset=0,
            page_size=5,
            more_value=more,
            share_value=share,
        )
        assert_valid(message)
        return [
            e["action_id"]
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] not in ("paper_similar", "paper_fb_save")
        ]

    assert actions(None, "s") == ["paper_share"]
    assert actions("m", None) == ["paper_more"]
    assert actions(None, None) == []
    assert actions("m" * 2000, "s" * 2001) == ["paper_more"]


def test_lookup_without_hits_is_helpful() -> None:
    message = render_lookup_message(
        [],
        query_text="<!channel> quantum",
        total=0,
        offset=0,
        page_size=5,
        more_value=None,
        share_value=None,
    )
    assert_valid(message)
    assert message["text"] == "No papers match `&lt;!channel&gt; quantum`."
    assert [b["type"] for b in message["blocks"]] == ["section", "context"]
    assert "Try fewer or broader words" in message["blocks"][1]["elements"][0]["text"]
    later = render_lookup_message(
        [], query_text="q", total=7, offset=10, page_size=5, more_value=None, share_value=None
    )
    assert later["text"] == "No more papers match `q`."


def test_lookup_with_too_many_hits_stays_within_limits() -> None:
    hits = [make_hit(n, title="T" * 5000, summary="S" * 5000) for n in range(60)]
    message = render_lookup_message(
        hits, query_text="q", total=500, offset=0, page_size=60, more_value="m", share_value="s"
    )
    assert_valid(message)
    assert "did not fit in this message" in all_text([message])
    assert message["blocks"][-1]["type"] == "actions"


@pytest.mark.parametrize(
    ("user_id", "mention"),
    [
        ("U123ABC", "<@U123ABC>"),
        ("W0FOO42", "<@W0FOO42>"),
        ("U123>", None),
        ("<!channel>", None),
        ("u123", None),
        ("C123", None),
        ("U", None),
        ("", None),
        ("U123|x", None),
    ],
)
def test_share_message(user_id: str, mention: str | None) -> None:
    message = render_share_message(
        [make_hit(1, title="<!here> paper")], query_text="rlhf", user_id=user_id
    )
    assert_valid(message, mentions=True)
    assert message["response_type"] == "in_channel"
    assert all(b["type"] != "actions" for b in message["blocks"])
    lead = message["blocks"][0]["text"]["text"]
    if mention:
        assert lead == f"Papers matching `rlhf`, shared by {mention}"
        assert message["text"].startswith(lead)
    else:
        assert lead == "Papers matching `rlhf`"
        assert "<@" not in all_text([message])
    assert "&lt;!here&gt; paper" in message["blocks"][1]["text"]["text"]


# --- properties ----------------------------------------------------------------------------

fragment = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))
short_text = st.lists(fragment, max_size=6).map("".join)
long_text = st.builds(lambda f, n: f * n, st.sampled_from(HOSTILE), st.integers(200, 1000))
any_text = st.one_of(short_text, short_text, long_text)
urls = st.one_of(
    st.just("https://arxiv.org/abs/2405.01470"),
    st.builds(lambda t: "https://example.org/" + t, short_text),
    st.builds(lambda n: "https://example.org/" + "a" * n, st.integers(0, 3100)),
    short_text,
)


@st.composite
def digest_items(draw: st.DrawFn, rank: int) -> DigestItem:
    return DigestItem(
        rank=rank,
        paper_id=rank,
        title=draw(any_text),
        url=draw(urls),
        authors=tuple(draw(st.lists(short_text, max_size=8))),
        summary=draw(any_text),
        tags=tuple(draw(st.lists(short_text, max_size=5))),
        reasons=tuple(Reason("x", label, 1.0) for label in draw(st.lists(short_text, max_size=4))),
        score=1.0,
        links=Links(pdf=draw(st.none() | urls), code=draw(st.none() | urls)),
        title_alt=draw(st.none() | short_text),
    )


@st.composite
def digests(draw: st.DrawFn, max_items: int) -> Digest:
    # Drawing 200 independent items makes generation, not rendering, the cost of the
    # test; a few drawn items repeated under distinct ranks exercise the same paths.
    n = draw(st.integers(0, max_items))
    pool = draw(st.lists(digest_items(0), min_size=1, max_size=8))
    items = [replace(pool[i % len(pool)], rank=i + 1, paper_id=i + 1) for i in range(n)]
    if draw(st.booleans()):
        items.reverse()
    sources = tuple(
        SourceHealth(
            name=draw(short_text),
            kind="feed",
            mentions=draw(st.integers(0, 500)),
            status=draw(st.sampled_from(["ok", "empty", "failing"])),
            error=draw(st.none() | short_text),
        )
        for _ in range(draw(st.integers(0, 6)))
    )
    return make_digest(
        tuple(items),
        scope=draw(st.none() | short_text),
        title=draw(st.sampled_from(["Top papers of the week", "<!channel>", ""])),
        sources=sources,
        candidates=n,  # every candidate shown: a thin digest is a thin week
    )


def a_very_long_title_digest(n: int) -> Digest:
    return make_digest(tuple(make_item(r, title="<!channel>&🎉" * 800) for r in range(1, n + 1)))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(digest=digests(max_items=200), max_chars=st.sampled_from([MIN_MAX_CHARS, 7000, 12_000]))
def test_any_digest_fits_slack_and_keeps_every_item(digest: Digest, max_chars: int) -> None:
    messages = render_digest_messages(digest, max_chars=max_chars)
    for message in messages:
        assert_valid(message, max_chars=max_chars)
    assert item_ranks(messages) == sorted(item.rank for item in digest.items)
    if len(digest.items) < 3:
        assert ":warning:" in messages[0]["blocks"][2]["text"]["text"]
    text = render_digest_text(digest)
    assert_clean_chars(text)
    numbers = {line.split(". ", 1)[0] for line in text.splitlines() if ". " in line}
    assert {str(item.rank) for item in digest.items} <= numbers


@pytest.mark.parametrize("n", [1, 50, 200])
def test_ten_thousand_character_titles(n: int) -> None:
    messages = render_digest_messages(a_very_long_title_digest(n))
    for message in messages:
        assert_valid(message)
    assert item_ranks(messages) == list(range(1, n + 1))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hits=st.lists(
        st.builds(
            make_hit,
            st.integers(1, 1000),
            title=any_text,
            url=urls,
            authors=st.lists(short_text, max_size=5).map(tuple),
            tags=st.lists(short_text, max_size=5).map(tuple),
            sources=st.lists(short_text, max_size=5).map(tuple),
            summary=st.none() | any_text,
        ),
        max_size=30,
    ),
    query=any_text,
    more=st.none() | st.text(max_size=2100),
    user_id=st.one_of(st.just("U123ABC"), st.text(max_size=12)),
)
def test_any_lookup_fits_slack(
    hits: list[PaperHit], query: str, more: str | None, user_id: str
) -> None:
    message = render_lookup_message(
        hits,
        query_text=query,
        total=None,
        offset=0,
        page_size=10,
        more_value=more,
        share_value=more,
    )
    assert_valid(message)
    assert_valid(render_share_message(hits, query_text=query, user_id=user_id), mentions=True)


def test_format_ago() -> None:
    from datetime import UTC, datetime, timedelta

    from digests.render import format_ago

    now = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
    assert format_ago(None, now) == "never"
    assert format_ago(now - timedelta(seconds=30), now) == "just now"
    assert format_ago(now - timedelta(minutes=5), now) == "5m ago"
    assert format_ago(now - timedelta(hours=3, minutes=59), now) == "3h ago"
    assert format_ago(now - timedelta(days=2, hours=1), now) == "2d ago"


# --- our own replies -----------------------------------------------------------------------


def test_line_sections_stay_within_slacks_limits() -> None:
    from digests.render.slack import line_sections

    blocks = line_sections([f"line {i} " + "x" * 990 for i in range(200)])
    assert len(blocks) == 50
    assert all(len(b["text"]["text"]) <= 2900 for b in blocks)
    assert (
        blocks[0]["text"]["text"].startswith("line 0 ") and "\nline 1 " in blocks[0]["text"]["text"]
    )
    (one,) = line_sections(["y" * 5000])
    assert one["text"]["text"] == "y" * 2900


def test_note_block_escapes_and_cuts() -> None:
    from digests.render.slack import note_block

    note = note_block("<!channel> & " + "z" * 3000)
    text = note["elements"][0]["text"]
    assert text.startswith("&lt;!channel&gt; &amp; ") and len(text) == 2000


# --- feedback controls ------------------------------------------------------------------


def test_every_paper_carries_its_controls_and_fits_with_every_tally_shown() -> None:
    items = tuple(make_item(r, title="T" * 300, summary="word " * 200) for r in range(1, 61))
    messages = render_digest_messages(make_digest(items))
    assert item_ranks(messages) == list(range(1, 61))
    names = tuple(f"U{i:09d}" for i in range(30))
    for message in messages:
        assert_valid(message)
        papers = controlled_papers(message["blocks"])
        full = apply_tallies(message["blocks"], {p: FeedbackTally(p, names, names) for p in papers})
        assert len(full) == len(message["blocks"]) + len(papers) <= 50
        assert block_text_length(full) <= DEFAULT_MAX_CHARS
        assert_valid({**message, "blocks": full}, mentions=True)
    assert [p for m in messages for p in controlled_papers(m["blocks"])] == list(range(1, 61))
