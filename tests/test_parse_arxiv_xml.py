"""The arXiv listing reader (ElementTree) against feedparser, the reference it stands in for.

Every test compares the whole ``ParsedDocument`` read both ways (``parse_arxiv`` and
``parse_arxiv(..., fast=False)``), and checks which reader took the document: arXiv's own
shape must take the fast one, anything else must be left to feedparser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digests.errors import ParseError
from digests.model import ParseContext, ParsedDocument
from digests.sources.arxiv_xml import read_listing
from digests.sources.feeds import parse_arxiv
from tests.paths import FIXTURES

LISTINGS = [
    "arxiv_atom_listing.xml",
    "arxiv_rss2_listing.xml",
    "arxiv_atom_weekend.xml",
    "arxiv_rss2_weekend.xml",
]
CAPTURES = [
    "samples/arxiv_atom_cs.LG__sakshamchitkara-dotcom_paper-forge.xml",
    "samples/arxiv_rss2_multi_cat__msudars_laya-reader.xml",
]
CONTEXTS = [
    ParseContext(),
    ParseContext(url="https://rss.arxiv.org/rss/cs.LG"),
    ParseContext(url="file:///srv/feeds/cs.LG.xml", content_type="application/rss+xml"),
    ParseContext(url="https://rss.arxiv.org/atom/cs.LG", content_type="text/xml; charset=UTF-8"),
]


def read_both(data: bytes, ctx: ParseContext) -> tuple[object, object]:
    def outcome(fast: bool) -> object:
        try:
            return parse_arxiv(data, ctx, fast=fast)
        except ParseError as e:
            return ("ParseError", str(e))

    return outcome(True), outcome(False)


def assert_same(data: bytes, ctx: ParseContext) -> ParsedDocument | None:
    fast, reference = read_both(data, ctx)
    assert fast == reference
    return fast if isinstance(fast, ParsedDocument) else None


@pytest.mark.parametrize("name", LISTINGS)
@pytest.mark.parametrize("ctx", CONTEXTS)
def test_fixture_listings_are_read_fast_and_the_same(name: str, ctx: ParseContext) -> None:
    data = (FIXTURES / name).read_bytes()
    assert read_listing(data, ctx.content_type) is not None
    assert_same(data, ctx)


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("ctx", CONTEXTS)
def test_real_captures_are_read_fast_and_the_same(
    shared: Path, name: str, ctx: ParseContext
) -> None:
    data = (shared / name).read_bytes()
    assert read_listing(data, ctx.content_type) is not None
    doc = assert_same(data, ctx)
    assert doc is not None and doc.entries


def test_the_fixture_with_an_unreadable_item_skips_it_either_way() -> None:
    doc = assert_same((FIXTURES / "arxiv_rss2_listing.xml").read_bytes(), ParseContext())
    assert doc is not None
    assert (len(doc.entries), doc.skipped, doc.ttl_seconds) == (3, 1, 3600)


@pytest.mark.parametrize("name", ["arxiv_api_query.xml", "arxiv_api_error.xml", "generic_feed.xml"])
def test_other_feeds_are_left_to_feedparser(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert read_listing(data, None) is None
    assert_same(data, ParseContext())


# --- shapes the fast reader leaves alone ------------------------------------------------------

ATOM_ENTRY = """  <entry>
    <id>oai:arXiv.org:2609.28553v1</id>
    <title>SMILESGNN: Interpretable Toxicity Prediction</title>
    <updated>2026-09-25T04:00:11.600680+00:00</updated>
    <link href="https://arxiv.org/abs/2609.28553" rel="alternate" type="text/html"/>
    <summary>arXiv:2609.28553v1 Announce Type: new
Abstract: Drug toxicity prediction is critical.</summary>
    <category term="cs.LG"/>
    <published>2026-09-25T00:00:00-04:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
    <dc:creator>Quang Minh Nguyen, Thuy Quynh Nguyen</dc:creator>
  </entry>
"""
ATOM_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:arxiv="http://arxiv.org/schemas/atom" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns="http://www.w3.org/2005/Atom">\n'
    "  <title>cs.LG updates on arXiv.org</title>\n"
    "  <updated>2026-09-25T04:00:11.600500+00:00</updated>\n"
)
RSS_ITEM = """    <item>
      <title>The Drift Contract</title>
      <link>https://arxiv.org/abs/2609.26811</link>
      <description>arXiv:2609.26811v1 Announce Type: new
Abstract: Local learning trains each layer.</description>
      <guid isPermaLink="false">oai:arXiv.org:2609.26811v1</guid>
      <category>cs.LG</category>
      <pubDate>Thu, 24 Sep 2026 00:00:00 -0400</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:creator>Ada Example and Bo Sample</dc:creator>
    </item>
"""
RSS_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">\n  <channel>\n'
    "    <title>cs.LG updates on arXiv.org</title>\n"
    "    <pubDate>Thu, 24 Sep 2026 00:00:00 -0400</pubDate>\n"
)


# The dates arXiv's listings carry (and an empty element), read by the fast reader...
ARXIV_DATES = [
    "Thu, 24 Sep 2026 00:00:00 -0400",
    "Tue, 14 Jan 2025 00:00:00 -0500",
    "Tue, 14 Jan 2025 08:58:05 +0000",
    "Mon, 03 Feb 2025 12:30:00 +0100",
    "Thu, 31 Dec 2026 23:00:00 -0500",
    "Thu, 24 Sep 2026 08:58:05 GMT",
    "2026-09-25T00:00:00-04:00",
    "2026-09-25T04:00:11.616280+00:00",
    "2026-12-31T23:30:00.5-05:00",
    "2026-09-20T00:58:23Z",
    "2026-09-25",
    "",
]
# ...and spellings it leaves, with the document, to feedparser's date parser.
ODD_DATES = [
    "Fri, 31 Feb 2026 00:00:00 GMT",
    "not a date",
    "Thu, 24 Sep 2026 00:00:00 EDT",
    "2026-13-01",
    "20260925T000000Z",
]


def atom(entry: str = ATOM_ENTRY, head: str = ATOM_HEAD) -> bytes:
    return (head + entry + "</feed>\n").encode("utf-8")


def rss(item: str = RSS_ITEM, head: str = RSS_HEAD) -> bytes:
    return (head + item + "  </channel>\n</rss>\n").encode("utf-8")


def test_the_templates_themselves_are_read_fast() -> None:
    for data in (atom(), rss()):
        assert read_listing(data, None) is not None
        doc = assert_same(data, ParseContext())
        assert doc is not None and len(doc.entries) == 1


Mutation = Callable[[], bytes]
DECLINED: dict[str, Mutation] = {
    "an element it does not know": lambda: atom(
        ATOM_ENTRY.replace("</entry>", "<arxiv:primary_category term='cs.LG'/></entry>")
    ),
    "an HTML title": lambda: atom(ATOM_ENTRY.replace("<title>", '<title type="html">')),
    "markup inside the title": lambda: rss(
        RSS_ITEM.replace("The Drift Contract", "The <b>Drift</b> Contract")
    ),
    "a declared base": lambda: atom(ATOM_ENTRY.replace("<entry>", '<entry xml:base="/x/">')),
    "a repeated title": lambda: rss(
        RSS_ITEM.replace("<title>", "<title>First</title>\n      <title>", 1)
    ),
    "a Latin-1 document": lambda: rss().replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'"),
    # feedparser re-decodes text only in a document it names "utf-8", not "utf8"
    "UTF-8 declared as utf8": lambda: rss(
        RSS_ITEM.replace("The Drift Contract", "Ã¼ber Drift")
    ).replace(b"encoding='UTF-8'", b"encoding='utf8'"),
    "a DOCTYPE": lambda: rss().replace(b"<rss ", b"<!DOCTYPE rss>\n<rss ", 1),
    "an author with an address": lambda: rss(
        RSS_ITEM.replace("Ada Example and", "ada@example.org (Ada Example) and")
    ),
    "a permalink guid": lambda: rss(RSS_ITEM.replace(' isPermaLink="false"', "")),
    "a link feedparser rewrites": lambda: rss(
        RSS_ITEM.replace("https://arxiv.org/abs/", "https:///arxiv.org/abs/")
    ),
    "an ampersand in a link": lambda: rss(
        RSS_ITEM.replace("2609.26811</link>", "2609.26811?a=1&amp;b=2</link>")
    ),
    "arXiv's namespace under another prefix": lambda: rss(
        RSS_ITEM.replace("arxiv:announce_type", "ax:announce_type"),
        RSS_HEAD.replace(
            'xmlns:arxiv="http://arxiv.org/schemas/atom"',
            'xmlns:ax="http://arxiv.org/schemas/atom"',
        ),
    ),
    "a namespace declared inside": lambda: atom(
        ATOM_ENTRY.replace("<entry>", '<entry xmlns:m="http://example.org/m">')
    ),
    "malformed XML": lambda: rss(RSS_ITEM.replace("</title>", "")),
    "an undefined HTML entity": lambda: rss(RSS_ITEM.replace("Contract", "Contract&nbsp;")),
    "an Atom link that is not the abstract page": lambda: atom(
        ATOM_ENTRY.replace('rel="alternate" type="text/html"', 'rel="related"')
    ),
    "an RSS 1.0 document": lambda: rss().replace(b'version="2.0"', b'version="0.91"'),
}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_shapes_it_does_not_know_are_left_to_feedparser(case: str) -> None:
    data = DECLINED[case]()
    assert read_listing(data, None) is None, case
    for ctx in CONTEXTS:
        assert_same(data, ctx)


@pytest.mark.parametrize("date", ARXIV_DATES)
def test_the_dates_arxiv_writes_are_read_fast_as_feedparser_reads_them(date: str) -> None:
    for data in (
        rss(RSS_ITEM.replace("Thu, 24 Sep 2026 00:00:00 -0400", date)),
        atom(ATOM_ENTRY.replace("2026-09-25T00:00:00-04:00", date)),
    ):
        assert read_listing(data, None) is not None
        doc = assert_same(data, ParseContext())
        assert doc is not None


@pytest.mark.parametrize(("data", "day"), [(rss(), 24), (atom(), 25)])
def test_a_listing_date_reads_as_the_utc_instant_it_names(data: bytes, day: int) -> None:
    doc = assert_same(data, ParseContext())  # midnight in New York, in September
    assert doc is not None
    assert [e.published for e in doc.entries] == [datetime(2026, 9, day, 4, tzinfo=UTC)]


@pytest.mark.parametrize("date", ODD_DATES)
def test_a_date_spelled_otherwise_leaves_the_listing_to_feedparser(date: str) -> None:
    data = rss(RSS_ITEM.replace("Thu, 24 Sep 2026 00:00:00 -0400", date))
    assert read_listing(data, None) is None
    assert_same(data, ParseContext())


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml",
        "application/rss+xml; charset=iso-8859-1",
        "application/rss+xml; charset=utf8",
        "text/html",
        "text/html; charset=utf-8",
        "text/plain",
    ],
)
def test_a_charset_other_than_utf8_is_left_to_feedparser(content_type: str) -> None:
    data = rss(RSS_ITEM.replace("The Drift Contract", "Ã¼ber Drift für Übungen"))
    assert read_listing(data, content_type) is None
    assert_same(data, ParseContext(content_type=content_type))


def test_relative_links_go_to_feedparser_to_be_resolved_against_the_location() -> None:
    data = rss(RSS_ITEM.replace("https://arxiv.org/abs/2609.26811", "/abs/2609.26811"))
    assert read_listing(data, None) is not None  # nothing to resolve them against
    ctx = ParseContext(url="https://rss.arxiv.org/rss/cs.LG")
    doc = assert_same(data, ctx)
    assert doc is not None and doc.entries[0].url == "https://rss.arxiv.org/abs/2609.26811"


def test_comments_and_cdata_read_the_same() -> None:
    data = rss(
        RSS_ITEM.replace(
            "The Drift Contract", "The <![CDATA[Drift & <Contract>]]> Re<!-- x -->visited"
        )
    )
    assert read_listing(data, None) is not None
    doc = assert_same(data, ParseContext())
    assert doc is not None and doc.entries[0].title == "The Drift & <Contract> Revisited"


def test_text_feedparser_re_decodes_is_re_decoded_the_same() -> None:
    # UTF-8 read as Latin-1 ("Ã¼" for "ü") and windows-1252 characters in U+0080-U+009F:
    # feedparser repairs both in every text value of a UTF-8 document.
    item = RSS_ITEM.replace("The Drift Contract", "Ã¼ber Drift").replace(
        "Ada Example and", "Ada \u0093Example\u0094 and"
    )
    data = rss(item)
    assert read_listing(data, None) is not None
    for ctx in CONTEXTS:
        assert read_listing(data, ctx.content_type) is not None
        assert_same(data, ctx)
    doc = assert_same(data, ParseContext())
    assert doc is not None
    assert doc.entries[0].title == "über Drift"
    assert doc.entries[0].authors == ("Ada \u201cExample\u201d", "Bo Sample")


# --- generated listings ---------------------------------------------------------------------

# XML 1.0 allows every character but the C0 controls (bar tab and line ends), surrogates
# and U+FFFE/U+FFFF; U+0080-U+009F are allowed, and feedparser re-maps them.
_xml_chars = st.characters(
    codec="utf-8",
    exclude_categories=("Cs",),
    exclude_characters="".join(chr(c) for c in range(0x20) if c not in (9, 10, 13))
    + "\ufffe\uffff",
)
_tricky = st.sampled_from(
    [
        "",
        "   ",
        "Ã©tude Ã¼ber",
        "\u0080\u0085\u0096\u009f",
        "a & b < c > d \" e ' f",
        "強化学習によるアラインメント",
        "  padded\r\nacross lines  ",
        "]]>",
        "p<0.05 and $a<b$",
        "Ada Example, Bo Sample and Cy Placeholder",
    ]
)
_text = st.one_of(_tricky, st.text(_xml_chars, max_size=30))
_dates = st.sampled_from(ARXIV_DATES + ODD_DATES)
_ids = st.sampled_from(
    [
        "2609.26811v1",
        "2609.26811",
        "math/0611800v2",
        "2412.05678v12",
        "not-an-id",
        "",
        "\n  2609.26811v3  ",
    ]
)


def _enc(value: str, cdata: bool) -> str:
    # "<!" inside a CDATA section reads as a declaration to the reader's cheap screen,
    # which then leaves the whole document to feedparser (a refusal, not a misreading).
    if cdata and "]]>" not in value and "<!" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value)


@st.composite
def _entries(draw: st.DrawFn) -> dict[str, Any]:
    optional = st.one_of(st.none(), _text)
    return {
        "id": draw(_ids),
        "title": draw(optional),
        "abstract": draw(_text),
        "header": draw(st.booleans()),
        "announce": draw(st.sampled_from([None, "new", "cross", "replace-cross", " New "])),
        "categories": draw(
            st.lists(st.sampled_from(["cs.LG", "cs.AI", " stat.ML ", ""]), max_size=4)
        ),
        "creators": draw(st.lists(_text.filter(lambda s: "@" not in s), max_size=2)),
        "published": draw(st.one_of(st.none(), _dates)),
        "doi": draw(
            st.one_of(st.none(), st.sampled_from(["10.1234/ABC.5", " 10.1/x ", "nonsense"]))
        ),
        "journal": draw(st.one_of(st.none(), _text)),
        "cdata": draw(st.booleans()),
    }


def _summary(e: dict[str, Any]) -> str:
    if not e["header"]:
        return str(e["abstract"])
    return f"arXiv:{e['id']} Announce Type: {e['announce'] or 'new'}\nAbstract: {e['abstract']}"


def _shared_lines(e: dict[str, Any], date_tag: str) -> list[str]:
    """The lines Atom entries and RSS items spell alike (the date under its own name)."""
    c = e["cdata"]
    lines = []
    if e["published"] is not None:
        lines.append(f"<{date_tag}>{escape(e['published'])}</{date_tag}>")
    if e["announce"] is not None:
        lines.append(f"<arxiv:announce_type>{escape(e['announce'])}</arxiv:announce_type>")
    if e["doi"] is not None:
        lines.append(f"<arxiv:DOI>{escape(e['doi'])}</arxiv:DOI>")
    if e["journal"] is not None:
        lines.append(f"<arxiv:journal_reference>{_enc(e['journal'], c)}</arxiv:journal_reference>")
    return lines + [f"<dc:creator>{_enc(a, c)}</dc:creator>" for a in e["creators"]]


def _atom_doc(feed_title: str, updated: str, entries: list[dict[str, Any]]) -> bytes:
    parts = []
    for e in entries:
        c = e["cdata"]
        lines = [f"<id>oai:arXiv.org:{escape(e['id'])}</id>"]
        if e["title"] is not None:
            lines.append(f"<title>{_enc(e['title'], c)}</title>")
        href = f"https://arxiv.org/abs/{e['id'].split('v')[0]}"
        lines.append(f'<link href={quoteattr(href)} rel="alternate" type="text/html"/>')
        lines.append(f"<summary>{_enc(_summary(e), c)}</summary>")
        lines += [f"<category term={quoteattr(t)}/>" for t in e["categories"] if t]
        lines += _shared_lines(e, "published")
        parts.append("<entry>" + "\n".join(lines) + "</entry>\n")
    head = ATOM_HEAD.replace("cs.LG updates on arXiv.org", escape(feed_title)).replace(
        "2026-09-25T04:00:11.600500+00:00", escape(updated)
    )
    return atom("".join(parts), head)


def _rss_doc(feed_title: str, updated: str, entries: list[dict[str, Any]]) -> bytes:
    parts = []
    for e in entries:
        c = e["cdata"]
        lines = []
        if e["title"] is not None:
            lines.append(f"<title>{_enc(e['title'], c)}</title>")
        lines.append(f"<link>https://arxiv.org/abs/{escape(e['id'].split('v')[0])}</link>")
        lines.append(f"<description>{_enc(_summary(e), c)}</description>")
        lines.append(f'<guid isPermaLink="false">oai:arXiv.org:{escape(e["id"])}</guid>')
        lines += [f"<category>{escape(t)}</category>" for t in e["categories"]]
        lines += _shared_lines(e, "pubDate")
        parts.append("<item>" + "\n".join(lines) + "</item>\n")
    head = RSS_HEAD.replace("cs.LG updates on arXiv.org", escape(feed_title)).replace(
        "Thu, 24 Sep 2026 00:00:00 -0400", escape(updated)
    )
    return rss("".join(parts), head)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    flavour=st.sampled_from(["atom", "rss"]),
    feed_title=_text,
    updated=_dates,
    entries=st.lists(_entries(), max_size=4),
    ctx=st.sampled_from(CONTEXTS),
)
def test_generated_listings_read_the_same_both_ways(
    flavour: str,
    feed_title: str,
    updated: str,
    entries: list[dict[str, Any]],
    ctx: ParseContext,
) -> None:
    make = _atom_doc if flavour == "atom" else _rss_doc
    data = make(feed_title, updated, entries)
    # Every generated document is arXiv's shape: the fast reader must take it unless a date
    # is spelled oddly, and give what feedparser gives.
    odd = {updated, *(e["published"] for e in entries)} & set(ODD_DATES)
    assert (read_listing(data, ctx.content_type) is None) == bool(odd)
    fast, reference = read_both(data, ctx)
    assert fast == reference


def test_generated_documents_are_well_formed_xml_with_the_expected_shape() -> None:
    # The generator above must exercise the tricky values, not fail to build documents.
    entry = {
        "id": "2609.26811v1",
        "title": "Ã©tude & <b>",
        "abstract": "p<0.05",
        "header": True,
        "announce": "new",
        "categories": ["cs.LG"],
        "creators": ["Ada Example"],
        "published": "2026-09-25",
        "doi": "10.1234/ABC.5",
        "journal": "J",
        "cdata": True,
    }
    for make in (_atom_doc, _rss_doc):
        data = make("t", "2026-09-25", [entry])
        doc = assert_same(data, ParseContext())
        assert doc is not None
        assert doc.entries[0].title == "étude & <b>"
        assert doc.entries[0].arxiv_id == "2609.26811"
        assert re.search(r"p<0\.05", doc.entries[0].abstract or "")
