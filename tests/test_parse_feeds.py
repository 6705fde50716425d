"""RSS/Atom parsers: arXiv listings, arXiv API responses, any feed."""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digests.errors import ParseError
from digests.model import Links, ParseContext, ParsedDocument, SourceKind
from digests.sources import feeds, parse_document
from digests.sources.feeds import parse_arxiv, parse_arxiv_api, parse_feed
from tests.paths import SHARED

RSS2 = "samples/arxiv_rss2_multi_cat__msudars_laya-reader.xml"
ATOM = "samples/arxiv_atom_cs.LG__sakshamchitkara-dotcom_paper-forge.xml"
API = "samples/arxiv_api_query_cat_cs.RO__watakandai_technews.xml"


def ctx(
    url: str = "https://rss.example.test/feed", content_type: str | None = None
) -> ParseContext:
    return ParseContext(url=url, content_type=content_type)


# --- the shared captures -------------------------------------------------------------------


def test_arxiv_rss2_capture(shared: Path) -> None:
    doc = parse_arxiv((shared / RSS2).read_bytes(), ctx())
    assert doc.kind is SourceKind.ARXIV
    assert doc.title == "cs.LG, cs.AI, cs.CL, stat.ML updates on arXiv.org"
    assert (len(doc.entries), doc.skipped, doc.empty_expected) == (4, 0, False)
    assert [(e.arxiv_id, e.arxiv_version, e.announce_type) for e in doc.entries] == [
        ("2609.26811", 1, "new"),
        ("2609.26820", 1, "new"),
        ("2205.06398", 2, "cross"),
        ("2009.13987", 3, "replace"),
    ]
    first, second, cross, _ = doc.entries
    assert first.title == "The Drift Contract: Spectral Updates for Depth-Robust Local Learning"
    assert first.abstract is not None
    assert first.abstract.startswith("Local learning trains each layer with its own auxiliary")
    assert "Announce Type" not in first.abstract
    assert first.published == datetime(2026, 9, 24, 4, 0, tzinfo=UTC)
    assert first.source_item_id == "oai:arXiv.org:2609.26811v1"
    assert first.links == Links(
        abs="https://arxiv.org/abs/2609.26811", pdf="https://arxiv.org/pdf/2609.26811"
    )
    # dc:creator is one comma-joined string in arXiv listings.
    assert second.authors == ("Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan")
    assert second.categories == ("cs.LG", "cs.AI")
    assert cross.doi == "10.1093/bioinformatics/btac431"
    assert cross.categories == ("stat.ME", "stat.AP", "stat.ML")
    assert cross.authors == ("Pritam Dey", "Zhengwu Zhang", "David B. Dunson")


def test_arxiv_atom_capture(shared: Path) -> None:
    doc = parse_arxiv((shared / ATOM).read_bytes(), ctx())
    assert doc.title == "cs.LG updates on arXiv.org"
    assert [(e.arxiv_id, e.arxiv_version, e.announce_type) for e in doc.entries] == [
        ("2609.28553", 1, "new"),
        ("2402.10149", 3, "cross"),
        ("2401.08875", 3, "replace"),
    ]
    new, cross, replace = doc.entries
    # The journal DOI's digits look like an arXiv id; it must not be read as one.
    assert new.doi == "10.1109/mapr72750.2026.11685822"
    assert new.comment == (
        "Journal reference: 2026 International Conference on Multimedia Analysis and "
        "Pattern Recognition (MAPR)"
    )
    assert len(new.authors) == 6
    assert new.authors[0] == "Quang Minh Nguyen"
    assert new.published == datetime(2026, 9, 25, 4, 0, tzinfo=UTC)
    assert cross.categories == ("hep-ph", "cs.LG", "hep-ex")
    assert cross.doi == "10.1103/physrevd.111.032004"
    assert replace.authors == ("Jiaming Tang", "Jingxuan Wen", "Liping Jing")
    assert replace.abstract == (
        "Multi-touch attribution (MTA) is essential for estimating the contribution of "
        "individual advertising touchpoints to user conversions."
    )


def test_arxiv_api_capture(shared: Path) -> None:
    doc = parse_arxiv_api((shared / API).read_bytes(), ctx())
    assert doc.kind is SourceKind.ARXIV_API
    assert [(e.arxiv_id, e.arxiv_version) for e in doc.entries] == [
        ("2012.11345", 1),
        ("2012.12142", 1),
        ("2012.13240", 1),
    ]
    first, second, third = doc.entries
    assert first.authors == ("Branimir Ivšić", "Zvonimir Šipuš", "Juraj Bartolić", "Josip Babić")
    assert first.doi == "10.23919/eucap48036.2020.9135568"
    assert first.categories == ("cs.RO", "eess.SY")
    assert first.published == datetime(2020, 12, 21, 13, 55, 21, tzinfo=UTC)
    assert first.comment is not None
    assert first.comment.startswith("2020 14th European Conference on Antennas")
    assert first.url == "https://arxiv.org/abs/2012.11345v1"
    assert first.links.abs == "https://arxiv.org/abs/2012.11345"
    assert len(second.authors) == 5
    assert third.comment == "19 pages"
    assert third.authors == ("A. S. Matveev", "V. V. Magerkin")


# --- our own fixtures ----------------------------------------------------------------------


def test_rss_listing_text_ids_and_skips(fixtures: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = "https://rss.example.test/rss/cs.LG"
    with caplog.at_level(logging.WARNING, logger="digests.sources.feeds"):
        doc = parse_arxiv((fixtures / "arxiv_rss2_listing.xml").read_bytes(), ctx(url))
    assert doc.ttl_seconds == 3600
    assert len(doc.entries) == 3
    assert doc.skipped == 1
    assert doc.problems == ("entry 4 skipped: no title and no id",)
    assert url in caplog.text
    toy, cross, old = doc.entries
    # Math survives: feedparser's sanitizer would have made this "$a<b>d$".
    assert toy.abstract == (
        "We prove that $a<b$ and $c>d$ imply nothing at all about teapots. Results hold for p<0.05."
    )
    assert toy.authors == ("Ada Example", "Bo Sample", "Cy Placeholder")
    assert toy.categories == ("cs.LG", "math.PR")
    assert toy.published == datetime(2025, 1, 14, 5, 0, tzinfo=UTC)
    # No item pubDate: the listing's own date.
    assert cross.published == datetime(2025, 1, 14, 5, 0, tzinfo=UTC)
    assert cross.doi == "10.1234/example.journal.2025.42"
    assert cross.comment == "Journal reference: Journal of Invented Results 7 (2025) 1-10"
    assert (old.arxiv_id, old.arxiv_version, old.announce_type) == (
        "math/0611800",
        2,
        "replace-cross",
    )
    assert old.links.pdf == "https://arxiv.org/pdf/math/0611800"


def test_atom_listing(fixtures: Path) -> None:
    doc = parse_arxiv((fixtures / "arxiv_atom_listing.xml").read_bytes(), ctx())
    first, second = doc.entries
    assert first.abstract == "We parse every document twice, with $x<y$ kept."
    assert first.authors == ("Fay Notreal", "Gus Imagined")
    assert first.doi == "10.5555/invented.2025.1"
    # No <published> on the entry: the listing's <updated>.
    assert first.published == datetime(2025, 1, 15, 5, 0, 11, tzinfo=UTC)
    assert (second.arxiv_id, second.arxiv_version) == ("2310.09999", 4)
    assert second.published == datetime(2025, 1, 15, 5, 0, tzinfo=UTC)


def test_weekend_listing_is_empty_on_purpose(fixtures: Path) -> None:
    doc = parse_arxiv((fixtures / "arxiv_rss2_weekend.xml").read_bytes(), ctx())
    assert doc.entries == ()
    assert doc.empty_expected is True
    atom = parse_arxiv((fixtures / "arxiv_atom_weekend.xml").read_bytes(), ctx())
    assert (atom.entries, atom.empty_expected) == ((), True)


def test_empty_weekday_listing_is_not_expected(fixtures: Path) -> None:
    data = (fixtures / "arxiv_rss2_weekend.xml").read_bytes().replace(b"Sat, 18", b"Fri, 17")
    doc = parse_arxiv(data, ctx())
    assert doc.entries == ()
    assert doc.empty_expected is False


def test_api_fixture(fixtures: Path) -> None:
    doc = parse_arxiv_api((fixtures / "arxiv_api_query.xml").read_bytes(), ctx())
    assert doc.skipped == 1
    teapots, classic = doc.entries
    assert teapots.title == "Teapots All the Way Down"
    assert teapots.abstract == "A study of teapots, recursively."
    # The primary category comes first even when listed second.
    assert teapots.categories == ("stat.ML", "cs.LG")
    assert (teapots.arxiv_version, teapots.doi) == (3, "10.9999/teapot.2024")
    assert teapots.published == datetime(2024, 5, 17, 17, 59, 59, tzinfo=UTC)
    assert teapots.comment == "12 pages, 3 figures"
    assert (classic.arxiv_id, classic.arxiv_version) == ("math/0611800", 2)


def test_api_error_becomes_parse_error(fixtures: Path) -> None:
    with pytest.raises(ParseError, match=r"arXiv API error: incorrect id format for 1234\.1234"):
        parse_arxiv_api((fixtures / "arxiv_api_error.xml").read_bytes(), ctx())


def test_api_without_results_is_empty_not_an_error() -> None:
    data = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>arXiv Query</title></feed>'
    assert parse_arxiv_api(data, ctx()).entries == ()


def test_generic_feed(fixtures: Path) -> None:
    doc = parse_feed((fixtures / "generic_feed.xml").read_bytes(), ctx())
    assert doc.kind is SourceKind.FEED
    assert (doc.title, doc.ttl_seconds, doc.skipped) == ("Invented Lab Blog", 7200, 1)
    blog, journal, other = doc.entries
    # The id sits in an <a href> inside the HTML description.
    assert (blog.arxiv_id, blog.arxiv_version) == ("2502.01111", 2)
    assert blog.url == "https://lab.example.org/posts/teapots"
    assert blog.summary is not None
    assert "track()" not in blog.summary
    assert blog.tags == ("Teapots",)
    assert blog.published == datetime(2025, 2, 3, 11, 30, tzinfo=UTC)
    assert journal.doi == "10.7777/journal.2025.001"
    assert journal.summary == "Plain text where $a<b$ and $c>d$ both survive."
    # An item with its own DOI: the arXiv id in its text is a citation, not its id.
    assert (other.doi, other.arxiv_id) == ("10.7777/journal.2025.042", None)


def test_an_aggregator_of_arxiv_items_keeps_the_paper_titles(fixtures: Path) -> None:
    data = (fixtures / "generic_feed_aggregator.xml").read_bytes()
    doc = parse_document(data, ctx("https://papers.example.net/daily/rss"))
    assert doc.kind is SourceKind.FEED  # "Announce Type:" in its items makes it no listing
    mem1, misaligned, post = doc.entries
    assert mem1.title.startswith("MEM1: Learning to Synergize Memory and Reasoning")
    assert (mem1.arxiv_id, mem1.arxiv_version) == ("2506.15841", 1)
    # Its own line is its summary; arXiv's description after it gives the abstract.
    assert mem1.summary == (
        "An agent that keeps a constant-size internal state instead of a growing context."
    )
    assert mem1.abstract is not None
    assert mem1.abstract.startswith("Modern language agents must operate")
    assert mem1.authors == ("Zijian Zhou", "Ao Qu", "Zhaoxuan Wu")
    assert misaligned.abstract == "We present a surprising result regarding LLMs and alignment."
    assert misaligned.announce_type is None  # the aggregator's date is no arXiv announcement
    assert (post.arxiv_id, post.abstract, post.summary) == (
        None,
        None,
        "Not every item is an arXiv paper.",
    )


def test_arxivs_own_doi_names_the_arxiv_paper() -> None:
    data = b"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/">
    <channel><title>Blog</title><item><title>A post about misaligned models</title>
    <link>https://blog.example.org/misaligned</link>
    <prism:doi>10.48550/arXiv.2502.17424</prism:doi></item></channel></rss>"""
    [entry] = parse_feed(data, ctx()).entries
    assert (entry.arxiv_id, entry.doi) == ("2502.17424", "10.48550/arxiv.2502.17424")


@pytest.mark.parametrize("parser", [parse_arxiv, parse_arxiv_api, parse_feed])
def test_html_page_is_refused(parser: Callable[[bytes, ParseContext], ParsedDocument]) -> None:
    page = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head></html>"
    with pytest.raises(ParseError, match="expected an RSS or Atom feed, got an HTML page"):
        parser(page, ctx(content_type="text/html; charset=utf-8"))
    with pytest.raises(ParseError, match="got an HTML page titled '503 Service Unavailable'"):
        parser(page, ctx())


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_arxiv(body, ctx())


def test_not_a_feed_is_refused() -> None:
    with pytest.raises(ParseError, match="expected an RSS or Atom feed") as info:
        parse_feed(b'{"json": true}', ctx())
    assert info.value.url == "https://rss.example.test/feed"
    assert info.value.kind == "feed"


def test_every_entry_bad_is_an_error() -> None:
    data = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><description>x</description></item></channel></rss>"
    )
    with pytest.raises(ParseError, match="none of the 1 entries"):
        parse_arxiv(data, ctx())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda s: f"<rss version='2.0'><channel>{s}".encode()),
        st.text(max_size=300).map(
            lambda s: f"<feed xmlns='http://www.w3.org/2005/Atom'><entry>{s}</entry>".encode()
        ),
    )
)
def test_random_bytes_only_ever_raise_parse_error(data: bytes) -> None:
    for parser in (parse_arxiv, parse_arxiv_api, parse_feed):
        try:
            result = parser(data, ctx())
        except ParseError:
            continue
        assert isinstance(result, ParsedDocument)


# -- the document's location as the base of relative links ---------------------------------

_RELATIVE_RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>/abs/2403.04224</link><guid>item-1</guid></item>
<item><title>Two</title><link>https://example.org/p/2</link>
<guid isPermaLink="false">item-2</guid></item>
</channel></rss>"""

_XML_BASE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example/feeds/">
<title>t</title><id>urn:x</id>
<entry><title>One</title><id>urn:one</id><link href="papers/1"/></entry>
</feed>"""

_ABSOLUTE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<entry><title>One</title><id>oai:arXiv.org:2403.04224v2</id>
<link href="https://arxiv.org/abs/2403.04224" rel="alternate"/>
<link href="https://arxiv.org/pdf/2403.04224" rel="related" type="application/pdf"/></entry>
</feed>"""


def _samples() -> list[bytes]:
    fixtures = sorted((Path(__file__).parent / "fixtures").glob("*.xml"))
    docs = [p.read_bytes() for p in fixtures] + [_RELATIVE_RSS, _XML_BASE_ATOM, _ABSOLUTE_ATOM]
    return [*docs, _RELATIVE_RSS.decode().encode("utf-16")]


def _entries(result: Any) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "base"}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return [plain(dict(e)) for e in result["entries"]]


@pytest.mark.parametrize(
    "location",
    ["https://rss.arxiv.org/rss/cs.CL", "https://example.org/feeds/x.xml", "/srv/feeds/x.xml"],
)
def test_a_document_read_without_its_location_only_when_it_changes_no_link(
    location: str,
) -> None:
    for data in _samples():
        plain = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
        based = feedparser.parse(
            io.BytesIO(data),
            response_headers={"content-location": location},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        if feeds._location_changes_nothing(plain, data, location):
            assert _entries(plain) == _entries(based)
        else:
            assert data is not _ABSOLUTE_ATOM


def test_relative_links_still_resolve_against_the_document_location() -> None:
    ctx = ParseContext(url="https://example.org/feeds/x.xml", content_type=None, fetched_at=None)
    doc = parse_feed(_RELATIVE_RSS, ctx)
    assert [e.url for e in doc.entries] == [
        "https://example.org/abs/2403.04224",
        "https://example.org/p/2",
    ]
    assert doc.entries[0].source_item_id == "https://example.org/feeds/item-1"
    based = parse_feed(_XML_BASE_ATOM, ctx)
    assert based.entries[0].url == "https://other.example/feeds/papers/1"


_GUIDS = [
    "item-1",
    "  item-2 ",
    "42",
    "https://example.org/p/3",
    "tag:example.org,2024:4",
    "urn:uuid:0b4c1f0e-5",
    "//cdn.example.org/6",
    "../up/7",
    "?p=8",
    "#9",
    "C:\\x",
    "<![CDATA[item-10]]>",
    "item&amp;11",
]


@pytest.mark.parametrize("location", ["https://example.org/feeds/x.xml", "/srv/feeds/x.xml"])
@pytest.mark.parametrize("first", _GUIDS)
def test_whichever_parse_comes_first_the_ids_are_the_based_ones(location: str, first: str) -> None:
    # The first guid decides which parse is tried first; the rest vary around it.
    items = "".join(
        f"<item><title>T{n}</title><link>https://example.org/l/{n}</link><guid>{g}</guid></item>"
        for n, g in enumerate([first, *_GUIDS])
    )
    data = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
    data += "</channel></rss>"
    based = feedparser.parse(
        io.BytesIO(data.encode()),
        response_headers={"content-location": location},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    ctx = ParseContext(url=location, content_type=None, fetched_at=None)
    doc = parse_feed(data.encode(), ctx)
    assert [e.source_item_id for e in doc.entries] == [e.get("id") for e in based["entries"]]


# --- converters read plain copies of feedparser's entries ----------------------------------


def _outcome(convert: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return convert(raw)
    except Exception as e:  # the same failure either way is the same outcome
        return (type(e), str(e))


def _listing(entries: list[dict[str, str]], *, atom: bool) -> bytes:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    items = []
    for e in entries:
        cats = "".join(
            f'<category term="{esc(c)}"/>' if atom else f"<category>{esc(c)}</category>"
            for c in e["cats"].split()
        )
        extra = "".join(
            f"<arxiv:{k}>{esc(e[k])}</arxiv:{k}>"
            for k in ("doi", "comment", "journal_reference")
            if e.get(k)
        )
        summary = esc(f"arXiv:{e['id']} Announce Type: {e['type']}\nAbstract: {e['abstract']}")
        if atom:
            items.append(
                f"<entry><id>{esc(e['guid'])}</id><title>{esc(e['title'])}</title>"
                f'<link href="{esc(e["link"])}" rel="alternate" type="text/html"/>'
                f"<summary>{summary}</summary>{cats}{extra}"
                f"<arxiv:announce_type>{esc(e['type'])}</arxiv:announce_type>"
                f"<dc:creator>{esc(e['authors'])}</dc:creator></entry>"
            )
        else:
            items.append(
                f"<item><title>{esc(e['title'])}</title><link>{esc(e['link'])}</link>"
                f"<description>{summary}</description>"
                f'<guid isPermaLink="false">{esc(e["guid"])}</guid>{cats}{extra}'
                f"<arxiv:announce_type>{esc(e['type'])}</arxiv:announce_type>"
                f"<dc:creator>{esc(e['authors'])}</dc:creator></item>"
            )
    ns = 'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    if atom:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" {ns}>'
            f"<title>t</title><updated>2024-10-04T04:00:00Z</updated>{''.join(items)}</feed>"
        ).encode()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {ns}><channel><title>t</title>'
        f"<pubDate>Fri, 04 Oct 2024 00:00:00 -0400</pubDate>{''.join(items)}</channel></rss>"
    ).encode()


_TEXTS = st.lists(
    st.sampled_from(
        list("aZ09 ,.-:$<>&'\"\t\n\u00a0\u3000\u2028")
        + list("強化学習アライメント")
        + ["arXiv:", "2403.04224", "v2", " and ", "10.1234/x"]
    ),
    max_size=30,
).map("".join)
_IDS = st.sampled_from(
    ["2403.04224v2", "2403.04224", "math/0611800v1", "hep-th/9901001", "nonsense", ""]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": _IDS,
                "guid": st.sampled_from(["oai:arXiv.org:"]).flatmap(
                    lambda p: _IDS.map(lambda i: p + i if i else "")
                ),
                "link": _IDS.map(lambda i: f"https://arxiv.org/abs/{i}" if i else ""),
                "title": _TEXTS,
                "abstract": _TEXTS,
                "authors": _TEXTS,
                "type": st.sampled_from(["new", "cross", "replace-cross", "Replace"]),
                "cats": st.sampled_from(["cs.CL", "cs.CL cs.AI", "", "cs.AI cs.AI"]),
                "doi": st.sampled_from(["", "10.1093/X/Y", "10.48550/arXiv.2403.04224"]),
                "comment": _TEXTS,
                "journal_reference": _TEXTS,
            }
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_converters_read_a_plain_copy_as_they_read_feedparsers_dict(
    entries: list[dict[str, str]], atom: bool
) -> None:
    """The converters get a plain ``dict`` copy of each entry: the same Entry (or the same
    failure) as reading feedparser's own dict, on generated listings with awkward text."""
    _same_through_plain_copies(_listing(entries, atom=atom))


def test_converters_read_plain_copies_of_the_captures_and_fixtures(fixtures: Path) -> None:
    docs = [p.read_bytes() for p in sorted(fixtures.glob("*.xml"))]
    docs += [_RELATIVE_RSS, _XML_BASE_ATOM, _ABSOLUTE_ATOM]
    assert sum(len(feedparser.parse(io.BytesIO(d)).entries) for d in docs) >= 15
    if (SHARED / RSS2).exists():  # the real captures too, when ../shared is beside us
        captures = [(SHARED / name).read_bytes() for name in (RSS2, ATOM, API)]
        assert all(feedparser.parse(io.BytesIO(d)).entries for d in captures)
        docs += captures
    for data in docs:
        _same_through_plain_copies(data)


def _same_through_plain_copies(data: bytes) -> None:
    result = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    when = datetime(2024, 10, 4, 4, tzinfo=UTC)
    converters: list[Callable[[Any], Any]] = [
        lambda raw: feeds._arxiv_listing_entry(raw, when),
        feeds._arxiv_api_entry,
        feeds._generic_entry,
    ]
    for raw in result.entries:
        assert type(raw) is not dict  # feedparser's own
        for convert in converters:
            assert _outcome(convert, feeds._plain(raw)) == _outcome(convert, raw)
        # The listing's id: the first sighting, with a later one's version if it has none.
        entry = _outcome(converters[0], raw)
        if isinstance(entry, tuple):
            continue
        summary = raw.get("summary") or ""
        header = feeds._LISTING_SUMMARY_RE.match(summary)
        guid, link = raw.get("id"), raw.get("link")
        ref = feeds._first_ref(
            feeds.parse_arxiv_id(header["id"]) if header else None,
            feeds.find_arxiv_id(guid) if guid else None,
            feeds.find_arxiv_id(link) if link else None,
        )
        assert (entry.arxiv_id, entry.arxiv_version) == (
            (ref.id, ref.version) if ref else (None, None)
        )


# --- judging a link without joining it -------------------------------------------------------

_URL_BITS = [
    *("https:", "http:", "HTTPS:", "oai:", "ftp:", "file:", "mailto:", "urn:", "x+y.z-1:"),
    *("1a:", "-x:", "//", "/", "arxiv.org", "a.b", ":", ";", "?", "#", "=", "@", "[", "]"),
    *("::1", "%20", "é", "ｈ", "abs", "2403.04224", "..", ".", " ", "\t", "\n", "\x00"),
    "\x1f",
]
_URL_PARTS = st.lists(st.sampled_from(_URL_BITS), max_size=8).map("".join)
# Shaped like links: every combination is tried, so that each branch of the judgement
# meets the values that would break a looser one.
_URL_SHAPES = [
    "".join(parts)
    for parts in itertools.product(
        ["https:", "http:", "HTTPS:", "oai:", "ftp:", "", " https:", "ht\ttps:"],
        ["//", "", "///"],
        ["arxiv.org", "a.b:8080", "u@h", "[::1]", "[::1", "ｈ.org", "h＃x", "h／x", ""],
        ["", "/", "/abs/1", "//x", "/a;b", "/a;", "/é", "/a\tb"],
        ["", "?", "?q=1", "#", "#f", ";p", " ", "\n"],
    )
]
_LOCATIONS_LIST = [
    "https://rss.arxiv.org/rss/cs.CL",
    "http://example.org/feeds/x.xml",
    "/srv/feeds/x.xml",
    "feeds/x.xml",
    "file:///srv/x.xml",
    "oai:arXiv.org:x",
    "HTTPS://Example.org/a;b?c#d",
]
_LOCATIONS = st.sampled_from(_LOCATIONS_LIST)


def _joined_unchanged(location: str, value: str) -> bool:
    try:
        return urljoin(location, value) == value
    except ValueError:
        return False


@settings(max_examples=3000, deadline=None)
@given(_LOCATIONS, _URL_PARTS | st.text(max_size=12))
def test_a_link_is_judged_as_the_join_would_judge_it(location: str, value: str) -> None:
    if not value or not _joined_unchanged(location, location):
        return
    scheme = urlsplit(location).scheme
    assert feeds._joins_to_itself(location, scheme, value) == _joined_unchanged(location, value)


def test_links_of_every_shape_are_judged_as_the_join_would_judge_them() -> None:
    for location in _LOCATIONS_LIST:
        scheme = urlsplit(location).scheme
        for value in _URL_SHAPES:
            if value:
                expected = _joined_unchanged(location, value)
                assert feeds._joins_to_itself(location, scheme, value) == expected, value


def test_plain_links_are_judged_without_joining() -> None:
    """The shortcut is taken for what listings hold (else the test above proves little)."""
    for location in ("/srv/feeds/x.xml", "https://rss.arxiv.org/rss/cs.CL"):
        scheme = urlsplit(location).scheme
        for value in ("https://arxiv.org/abs/2403.04224", "oai:arXiv.org:2403.04224v1"):
            assert feeds._joins_to_itself(location, scheme, value)
    # Re-spelled by the join, so not its own join: the long way decides.
    base = "https://rss.arxiv.org/rss/cs.CL"
    assert not feeds._joins_to_itself(base, "https", "HTTPS://arxiv.org/abs/1")
    assert not feeds._joins_to_itself(base, "https", "https://arxiv.org/abs/1?")
    assert not feeds._joins_to_itself(base, "https", "abs/1")


def test_no_key_the_converters_read_is_one_feedparser_aliases() -> None:
    """The premise of reading plain copies and nested values with ``dict.get``."""
    read = {"title", "id", "link", "links", "summary", "summary_detail", "title_detail"}
    read |= {"content", "authors", "author", "tags", "published_parsed", "updated_parsed"}
    read |= {"arxiv_announce_type", "arxiv_primary_category", "arxiv_doi", "prism_doi"}
    read |= {"dc_identifier", "arxiv_comment", "arxiv_journal_reference", "arxiv_journal_ref"}
    read |= {"term", "name", "href", "type", "value"}
    special = {"category", "enclosures", "license", "updated"}  # FeedParserDict.__getitem__
    assert not read & (set(feedparser.FeedParserDict.keymap) | special)
    # updated_parsed is special too: read only through _own, which skips the fallback.
    raw = feedparser.FeedParserDict(published_parsed=(2024, 1, 1, 0, 0, 0, 0, 1, 0))
    assert feeds._own(raw, "updated_parsed") is None
