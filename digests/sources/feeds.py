"""RSS and Atom parsers: arXiv listing feeds, arXiv API responses and any other feed.

feedparser only ever sees bytes, with HTML sanitizing and relative-URI rewriting off so
that text such as ``$a<b$ and $c>d$`` survives; ``arxiv_xml`` reads arXiv's own listing
shape faster. An HTML error page or an empty body, which feedparser calls a feed with no
entries, is a ``ParseError`` here.
"""

from __future__ import annotations

import calendar
import functools
import io
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit, uses_netloc
from zoneinfo import ZoneInfo

import feedparser
from selectolax.lexbor import LexborHTMLParser

from digests.errors import ArxivApiError, ParseError
from digests.model import Entry, Links, ParseContext, ParsedDocument, SourceKind
from digests.normalize import (
    ArxivId,
    arxiv_abs_url,
    arxiv_id_from_doi,
    arxiv_pdf_url,
    clean_text,
    find_arxiv_id,
    normalize_doi,
    parse_arxiv_id,
)
from digests.sources.arxiv_xml import read_listing

logger = logging.getLogger(__name__)

# feedparser's dictionaries, as far as this module lets them travel.
_Raw = Mapping[str, Any]

# arXiv announces at midnight US Eastern; a listing's weekday is the weekday there.
_ARXIV_TZ = ZoneInfo("America/New_York")
# arXiv's Atom listings declare no <skipDays>; its schedule (no announcements on
# weekends) is the documented stand-in.
_ARXIV_SKIP_DAYS = frozenset({"saturday", "sunday"})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# "arXiv:2609.26811v1 Announce Type: new \nAbstract: ..." (the listing description).
_LISTING_SUMMARY_RE = re.compile(
    r"^\s*arXiv:\s*(?P<id>\S+)\s+Announce\s+Type:\s*(?P<type>[\w-]+)\s*"
    r"(?:Abstract:\s*)?(?P<abstract>.*)\Z",
    re.DOTALL | re.IGNORECASE,
)
# The same description re-published inside another feed's item, after a line of its own.
_REPUBLISHED_RE = re.compile(
    r"arXiv:\s*\S+\s+Announce\s+Type:\s*[\w-]+\s*(?:Abstract:\s*)?(?P<abstract>.*)\Z",
    re.DOTALL | re.IGNORECASE,
)
# feedparser keeps only the last <day> of <skipDays>, so the element is read directly.
_SKIP_DAYS_RE = re.compile(rb"<skipDays\b[^>]*>(.*?)</skipDays\s*>", re.DOTALL | re.IGNORECASE)
_DAY_RE = re.compile(rb"<day\b[^>]*>\s*([A-Za-z]+)\s*</day\s*>", re.IGNORECASE)
_HTML_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title", re.DOTALL | re.IGNORECASE)
_AUTHOR_SPLIT_RE = re.compile(r"\s*,\s*|\s+and\s+")
_AND_PREFIX_RE = re.compile(r"^and\s+", re.IGNORECASE)
_MARKUP_RE = re.compile(
    # a known tag whose attributes all have values: "<b>", '<a href="x">', "<br/>";
    # "$a<b$ and $c>d$" and "a <b and c> d" are not markup
    r"</?(?:p|br|div|span|a|b|i|u|em|strong|ul|ol|li|img|sup|sub|h[1-6]|table|tr|td|th"
    r"|blockquote|pre|code|figure|figcaption|hr|script|style)"
    r"""(?:\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))*\s*/?>"""
    r"|&(?:#\d+|#x[0-9a-f]+|[a-z]+);",
    re.IGNORECASE,
)

# How much of an unreadable body an error message may quote.
_SNIFF_BYTES = 4096


_CODECS = ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")


def _markup_patterns(word: str) -> list[re.Pattern[bytes]]:
    """``<!WORD`` in any case, spelled in every encoding feedparser can read a feed in."""
    patterns: list[re.Pattern[bytes]] = []
    for codec in _CODECS:
        parts = [re.escape("<!".encode(codec))]
        for ch in word:
            lower, upper = re.escape(ch.lower().encode(codec)), re.escape(ch.encode(codec))
            parts.append(b"(?:" + upper + b"|" + lower + b")")
        patterns.append(re.compile(b"".join(parts)))
    return patterns


# Entity declarations are refused outright: expat expands internal entities, so one large
# entity referenced many times (a "quadratic blowup", which feedparser's own filter of
# nested entities lets through) becomes an enormous text. A declaration needs a DOCTYPE,
# so a feed with both is refused; a DOCTYPE alone (RSS 0.91) is fine.
_DOCTYPE_RES = _markup_patterns("DOCTYPE")
_ENTITY_RES = _markup_patterns("ENTITY")
# Every pattern above starts with one of these: a document holding none of them is
# cleared by a byte search instead of six regular-expression scans.
_DECLARATION_OPENERS = tuple("<!".encode(codec) for codec in _CODECS)


class _SkipEntry(Exception):
    """One entry cannot be read; the reason goes to the report."""


@dataclass(frozen=True, slots=True)
class _Feed:
    """The parts of a feedparser result this module works from."""

    feed: _Raw
    entries: tuple[_Raw, ...]
    version: str


# --- public parsers ----------------------------------------------------------------------


def parse_arxiv(data: bytes, ctx: ParseContext, *, fast: bool = True) -> ParsedDocument:
    """An arXiv listing feed (``rss.arxiv.org/rss/...`` RSS 2.0 or ``/atom/...`` Atom).

    Each item's ``published`` is the item's own date, else the listing's (the
    announcement day). An empty listing on a skip day (``<skipDays>``, or arXiv's
    weekend when the feed declares none) is normal and flagged ``empty_expected``.

    arXiv's own shape is read by ``digests.sources.arxiv_xml`` (the C XML parser), any
    other document by feedparser; ``fast=False`` reads every document with feedparser,
    the reference the fast reader is tested against.
    """
    kind = SourceKind.ARXIV
    parsed = _read_feed(data, ctx, kind, fast=fast)
    listing_date = _utc(parsed.feed.get("published_parsed")) or _utc(
        _own(parsed.feed, "updated_parsed")
    )

    def convert(raw: _Raw) -> Entry:
        return _arxiv_listing_entry(raw, listing_date)

    doc = _collect(parsed, ctx, kind, convert)
    if not parsed.entries:
        skip_days = _skip_days(data) or _ARXIV_SKIP_DAYS
        day = _feed_day(parsed.feed, ctx, _ARXIV_TZ)
        doc = _replace_empty_expected(doc, day is not None and day in skip_days)
    return doc


def parse_arxiv_api(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """An arXiv API response (``export.arxiv.org/api/query``, Atom).

    ``published`` is the date of version 1, as the API gives it. The API reports errors
    as a feed whose single entry is titled "Error"; that becomes a ``ParseError`` with
    arXiv's own message.
    """
    kind = SourceKind.ARXIV_API
    parsed = _read_feed(data, ctx, kind)
    if len(parsed.entries) == 1 and _str(parsed.entries[0], "title") == "Error":
        message = clean_text(_str(parsed.entries[0], "summary") or "no message")
        raise ArxivApiError(f"arXiv API error: {message}", url=ctx.url, kind=kind.value)
    return _collect(parsed, ctx, kind, _arxiv_api_entry)


def parse_feed(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """Any RSS or Atom feed: arXiv ids and DOIs are looked for in links, ids and text."""
    kind = SourceKind.FEED
    parsed = _read_feed(data, ctx, kind)
    doc = _collect(parsed, ctx, kind, _generic_entry)
    if not parsed.entries:
        day = _feed_day(parsed.feed, ctx, UTC)
        doc = _replace_empty_expected(doc, day is not None and day in _skip_days(data))
    return doc


# --- reading the document ----------------------------------------------------------------


def _read_feed(data: bytes, ctx: ParseContext, kind: SourceKind, *, fast: bool = False) -> _Feed:
    """Run feedparser on the bytes (or, with ``fast``, the arXiv listing reader where it
    takes the document) and refuse what is not a feed at all."""
    if not data.strip():
        raise ParseError(
            "expected an RSS or Atom feed, got an empty document", url=ctx.url, kind=kind.value
        )
    if _declares_entities(data):
        raise ParseError(
            "expected an RSS or Atom feed, got a document declaring XML entities "
            "(<!ENTITY> in a DOCTYPE), which is refused unread",
            url=ctx.url,
            kind=kind.value,
        )
    if fast:
        listing = read_listing(data, ctx.content_type)
        if listing is not None and (
            not ctx.url or _location_changes_nothing({"entries": listing.entries}, data, ctx.url)
        ):
            return _Feed(feed=listing.feed, entries=listing.entries, version=listing.version)
    headers: dict[str, str] = {}
    if ctx.content_type:
        headers["content-type"] = ctx.content_type
    # The document's location resolves relative links, but feedparser then joins URLs at
    # every element, a large share of its time. So a document is parsed without it first,
    # and again with it only where it would change a link; one whose first RSS guid is
    # plainly relative is parsed with it at once (feedparser joins guids too).
    based = {**headers, "content-location": ctx.url} if ctx.url else headers
    if ctx.url and _first_guid_is_relative(data):
        result = _feedparser(data, based, ctx, kind)
    else:
        result = _feedparser(data, headers, ctx, kind)
        if ctx.url and not _location_changes_nothing(result, data, ctx.url):
            result = _feedparser(data, based, ctx, kind)
    try:
        feed: _Raw = result.get("feed") or {}
        entries: tuple[_Raw, ...] = tuple(result.get("entries") or ())
        version = str(result.get("version") or "")
        problem = result.get("bozo_exception")
    except Exception as e:  # feedparser's failure modes are not documented: wrap them all
        raise ParseError(
            f"expected an RSS or Atom feed, the feed parser failed: {e!r}",
            url=ctx.url,
            kind=kind.value,
        ) from e
    if entries or version:
        return _Feed(feed=feed, entries=entries, version=version)
    if _looks_like_html(data, ctx):
        title = _html_title(data)
        suffix = f" titled {title!r}" if title else ""
        raise ParseError(
            f"expected an RSS or Atom feed, got an HTML page{suffix}", url=ctx.url, kind=kind.value
        )
    detail = f" ({problem})" if problem else ""
    raise ParseError(
        f"expected an RSS or Atom feed, got no feed element{detail}", url=ctx.url, kind=kind.value
    )


def _feedparser(data: bytes, headers: dict[str, str], ctx: ParseContext, kind: SourceKind) -> Any:
    try:
        return feedparser.parse(
            io.BytesIO(data),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # feedparser's failure modes are not documented: wrap them all
        raise ParseError(
            f"expected an RSS or Atom feed, the feed parser failed: {e!r}",
            url=ctx.url,
            kind=kind.value,
        ) from e


# feedparser's own clean-up of "scheme:///path" before it joins a URL.
_EXTRA_SLASHES_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*:///")
_BASE_ATTR_RE = re.compile(rb"base\s*=")
_GUID_RE = re.compile(rb"<guid(?:\s[^>]*)?>\s*([^<\s][^<]*)</guid>")
_BYTES_SCHEME_RE = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*:")


def _first_guid_is_relative(data: bytes) -> bool:
    """Whether the first RSS ``<guid>`` holds plain text without a scheme ("item-1"), which
    feedparser joins with the document's location. Only a hint for the order of parses:
    either way the result is the parse the location asks for."""
    found = _GUID_RE.search(data)
    return found is not None and not _BYTES_SCHEME_RE.match(found.group(1))


# urlsplit's scheme: a letter, then letters, digits, "+", "-" or ".", up to the first ":".
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")
_NOT_READ_PLAINLY = re.compile(r"[\[\]\t\r\n]")
_ROUND_TRIP_RE = re.compile(r"[a-z][a-z0-9+\-.]*://[^/?#;]+(?:/[^?#;]*)?\Z")


def _location_changes_nothing(result: Any, data: bytes, location: str) -> bool:
    """Whether parsing with ``location`` as the base gives the same links and ids.

    feedparser joins each link, id and href with the base (``urljoin``); when the
    document sets no base of its own (``xml:base``) and every such value is already
    what the join gives, the base changes nothing. Documents in encodings that are not
    ASCII-compatible are not inspected: they are parsed with the base.
    """
    head = data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<") or b"\x00" in head:
        return False
    if _BASE_ATTR_RE.search(data.lower()) or _EXTRA_SLASHES_RE.match(location):
        return False

    base_scheme: str | None = None
    # An entry's link is usually its first href too: each value is judged once.
    judged: dict[str, bool] = {}

    def same(value: object) -> bool:
        if not isinstance(value, str) or not value:
            return True
        answer = judged.get(value)
        if answer is None:
            answer = judged[value] = _joins_to_itself(location, base_scheme, value)
        return answer

    try:
        if not same(location):
            return False
        base_scheme = urlsplit(location).scheme  # readable: the join above read it
        for raw in result.get("entries") or ():
            if not (same(raw.get("link")) and same(raw.get("id"))):
                return False
            for link in raw.get("links") or ():
                if not same(link.get("href") if isinstance(link, Mapping) else None):
                    return False
    except Exception:  # an unexpected shape: parse with the base, as always
        return False
    return True


def _joins_to_itself(location: str, base_scheme: str | None, value: str) -> bool:
    """``urljoin(location, value) == value``, False where the join raises ``ValueError``.

    ``urljoin`` returns ``value`` itself when ``value`` names a scheme other than the
    base's. For ASCII without brackets (the only ASCII ``urlsplit`` refuses) and without
    the tab and line breaks it deletes, the scheme it reads is exactly a leading
    ``[A-Za-z][A-Za-z0-9+.-]*:``, so such values (``https:`` links against a file path,
    ``oai:`` ids) need no join. Values of the base's own scheme are joined by
    re-assembling their parts (below).
    """
    if base_scheme is not None and value.isascii() and _NOT_READ_PLAINLY.search(value) is None:
        m = _SCHEME_RE.match(value)
        if m is not None:
            scheme = m[1].lower()
            if scheme != base_scheme:
                return True
            # The same scheme with a host: the join is the value split and put back
            # together, which gives back "scheme://host/path" spelled in lower case
            # with no query, fragment or ";params" to re-spell.
            if scheme in uses_netloc and _ROUND_TRIP_RE.match(value):
                return True
    try:
        return urljoin(location, value) == value
    except ValueError:
        return False


def _collect(
    parsed: _Feed, ctx: ParseContext, kind: SourceKind, convert: Callable[[_Raw], Entry]
) -> ParsedDocument:
    """Convert every entry; skip, count and log the ones that cannot be read."""
    entries: list[Entry] = []
    problems: list[str] = []
    for index, raw in enumerate(parsed.entries, start=1):
        try:
            entries.append(convert(_plain(raw)))
        except (_SkipEntry, ValueError, TypeError, AttributeError, KeyError) as e:
            reason = f"entry {index} skipped: {e}"
            logger.warning("%s: %s", ctx.url or "<no url>", reason)
            problems.append(reason)
    if parsed.entries and not entries:
        raise ParseError(
            f"none of the {len(parsed.entries)} entries could be read; {problems[0]}",
            url=ctx.url,
            kind=kind.value,
        )
    return ParsedDocument(
        kind=kind,
        entries=tuple(entries),
        skipped=len(problems),
        problems=tuple(problems),
        title=_clean(_str(parsed.feed, "title")),
        ttl_seconds=_ttl_seconds(parsed.feed),
    )


def _plain(raw: _Raw) -> _Raw:
    """A feedparser entry as a plain ``dict``.

    ``FeedParserDict`` answers every lookup in Python through its table of aliases
    (``guid`` for ``id``, ``description`` for ``summary``...) and the ``updated`` to
    ``published`` fallback; the converters read none of those names, so a plain copy
    answers them the same at a fraction of the cost (``dict()`` copies a subclass that
    keeps ``dict``'s own iteration without calling its ``__getitem__``).
    """
    return dict(raw) if isinstance(raw, dict) else raw


def _replace_empty_expected(doc: ParsedDocument, expected: bool) -> ParsedDocument:
    if not expected:
        return doc
    return ParsedDocument(
        kind=doc.kind,
        entries=doc.entries,
        skipped=doc.skipped,
        problems=doc.problems,
        title=doc.title,
        ttl_seconds=doc.ttl_seconds,
        empty_expected=True,
    )


def _declares_entities(data: bytes) -> bool:
    """A DOCTYPE and an ENTITY declaration, in any case and any of the readable encodings."""
    if not any(opener in data for opener in _DECLARATION_OPENERS):
        return False
    return any(d.search(data) for d in _DOCTYPE_RES) and any(e.search(data) for e in _ENTITY_RES)


def _looks_like_html(data: bytes, ctx: ParseContext) -> bool:
    content_type = (ctx.content_type or "").lower()
    if "text/html" in content_type:
        return True
    head = data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _html_title(data: bytes) -> str | None:
    m = _HTML_TITLE_RE.search(data[:_SNIFF_BYTES].decode("utf-8", "replace"))
    if m is None:
        return None
    return clean_text(m.group(1))[:120] or None


def _skip_days(data: bytes) -> frozenset[str]:
    """The RSS ``<skipDays>`` of the document, lowercased day names."""
    m = _SKIP_DAYS_RE.search(data)
    if not m:
        return frozenset()
    return frozenset(d.decode("ascii").lower() for d in _DAY_RE.findall(m.group(1)))


def _feed_day(feed: _Raw, ctx: ParseContext, tz: tzinfo) -> str | None:
    """The weekday the document is for: its own date, else when it was fetched."""
    when = (
        _utc(feed.get("published_parsed")) or _utc(_own(feed, "updated_parsed")) or ctx.fetched_at
    )
    if when is None:
        return None
    return _WEEKDAYS[when.astimezone(tz).weekday()]


def _ttl_seconds(feed: _Raw) -> int | None:
    """RSS ``<ttl>`` is in minutes."""
    ttl = _str(feed, "ttl")
    if ttl is None or not ttl.strip().isdigit():
        return None
    return int(ttl.strip()) * 60


# --- entries -----------------------------------------------------------------------------


def _arxiv_listing_entry(raw: _Raw, listing_date: datetime | None) -> Entry:
    title = _clean(_str(raw, "title"))
    guid = _str(raw, "id")
    link = _str(raw, "link")
    summary = _str(raw, "summary") or ""
    header = _LISTING_SUMMARY_RE.match(summary)
    # The description's "arXiv:<id>vN" and the guid carry the version; the link does not.
    ref = parse_arxiv_id(header["id"]) if header else None
    if ref is None or ref.version is None:  # else the later sightings cannot change it
        ref = _first_ref(
            ref,
            find_arxiv_id(guid) if guid else None,
            find_arxiv_id(link) if link else None,
        )
    if not title and ref is None and not link:
        raise _SkipEntry("no title and no id")
    announce = _str(raw, "arxiv_announce_type") or (header["type"] if header else None)
    # arXiv abstracts are plain text even in RSS <description>: "$a<b$" is not a tag.
    abstract = clean_text(header["abstract"]) if header else clean_text(summary)
    return Entry(
        title=title or "",
        arxiv_id=ref.id if ref else None,
        arxiv_version=ref.version if ref else None,
        doi=_doi(raw),
        url=link or (arxiv_abs_url(ref.id) if ref else None),
        authors=_listing_authors(raw),
        abstract=abstract or None,
        comment=_arxiv_comment(raw),
        links=_arxiv_links(ref, link),
        categories=_categories(raw),
        published=_utc(raw.get("published_parsed")) or listing_date,
        announce_type=announce.strip().lower() if announce else None,
        source_item_id=guid or link,
    )


def _arxiv_api_entry(raw: _Raw) -> Entry:
    title = _clean(_str(raw, "title"))
    entry_id = _str(raw, "id")
    link = _str(raw, "link")
    ref = _first_ref(
        find_arxiv_id(entry_id) if entry_id else None,
        find_arxiv_id(link) if link else None,
    )
    if not title and ref is None:
        raise _SkipEntry("no title and no id")
    abstract = _clean(_str(raw, "summary"))
    return Entry(
        title=title or "",
        arxiv_id=ref.id if ref else None,
        arxiv_version=ref.version if ref else None,
        doi=_doi(raw),
        url=link or entry_id,
        authors=_author_names(raw),
        abstract=abstract,
        comment=_arxiv_comment(raw),
        links=_arxiv_links(ref, link),
        categories=_categories(raw),
        # The API's <published> is version 1's date, <updated> this version's.
        published=_utc(raw.get("published_parsed")) or _utc(_own(raw, "updated_parsed")),
        source_item_id=entry_id,
    )


def _generic_entry(raw: _Raw) -> Entry:
    title = _clean(_html_text(raw.get("title_detail"), _str(raw, "title")))
    guid = _str(raw, "id")
    link = _str(raw, "link")
    hrefs = _hrefs(raw)
    summary = _html_text(raw.get("summary_detail"), _str(raw, "summary"))
    # The raw markup, so that ids in <a href="..."> count as well as ids in the text.
    texts = [_str(raw, "summary") or "", *_content_values(raw)]
    # Links, ids and DOI fields name the item itself. Running text is read only when
    # they name nothing: next to a DOI of its own, an arXiv id in the text is more
    # likely a paper it cites, and a wrong id would merge two papers.
    ref = _first_ref(*(find_arxiv_id(h) for h in [*hrefs, guid or ""]))
    doi = _doi(raw) or _first_doi(h for h in hrefs if "doi" in h.lower())
    if ref is None and doi is not None:
        ref = arxiv_id_from_doi(doi)
    if ref is None and doi is None:
        ref = _first_ref(*(find_arxiv_id(t) for t in texts))
        if ref is None:
            doi = _first_doi(texts)
    if not title and ref is None and doi is None and not link and not guid:
        raise _SkipEntry("no title and no id or link")
    pdf = arxiv_pdf_url(ref.id) if ref else _pdf_link(raw)
    abs_url = arxiv_abs_url(ref.id) if ref else link
    used = {abs_url, pdf, link}
    # An aggregator re-publishing an arXiv listing item: its title is still the paper's,
    # its own line comes first, then arXiv's description with the abstract and the
    # listing's one comma-joined author string.
    republished = _REPUBLISHED_RE.search(summary) if ref and summary else None
    abstract = None
    authors = _author_names(raw)
    if republished is not None and summary is not None:
        abstract = _clean(republished["abstract"])
        summary = summary[: republished.start()]
        authors = _listing_authors(raw)
    return Entry(
        title=title or "",
        arxiv_id=ref.id if ref else None,
        arxiv_version=ref.version if ref else None,
        doi=doi,
        url=link or abs_url,
        authors=authors,
        abstract=abstract,
        summary=_clean(summary),
        links=Links(abs=abs_url, pdf=pdf, other=tuple(h for h in hrefs if h not in used)),
        tags=_terms(raw),
        published=_utc(raw.get("published_parsed")) or _utc(_own(raw, "updated_parsed")),
        source_item_id=guid or link,
    )


# --- field helpers -----------------------------------------------------------------------


def _own(raw: _Raw, key: str) -> Any:
    """``raw[key]`` without feedparser's updated -> published fallback (it warns).

    Also how nested values (authors, tags, links) are read: ``dict.get`` answers the
    keys read here as ``FeedParserDict`` does, without its alias table in Python.
    """
    return dict.get(raw, key) if isinstance(raw, dict) else raw.get(key)


def _str(raw: _Raw, key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _clean(text: str | None) -> str | None:
    if not text:
        return None
    return clean_text(text) or None


def _utc(value: object) -> datetime | None:
    """feedparser's ``*_parsed`` values are UTC ``struct_time`` with the zone dropped."""
    if not isinstance(value, time.struct_time | tuple):
        return None
    if type(value) is time.struct_time:  # feedparser's own: nine ints, hashable
        return _utc_of(value)
    return _utc_uncached(value)


@functools.lru_cache(maxsize=256)  # a listing's entries share a handful of dates
def _utc_of(value: time.struct_time) -> datetime | None:
    return _utc_uncached(value)


def _utc_uncached(value: time.struct_time | tuple[Any, ...]) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _first_ref(*refs: ArxivId | None) -> ArxivId | None:
    """The first id found, with a version taken from a later sighting if it lacks one."""
    found = [r for r in refs if r is not None]
    if not found:
        return None
    first = found[0]
    if first.version is None:
        for other in found[1:]:
            if other.id == first.id and other.version is not None:
                return other
    return first


def _listing_authors(raw: _Raw) -> tuple[str, ...]:
    """arXiv listings put all authors in ONE ``dc:creator``, comma-joined."""
    names: list[str] = []
    for name in _author_names(raw):
        for part in _AUTHOR_SPLIT_RE.split(name):
            author = _AND_PREFIX_RE.sub("", part).strip()
            if author:
                names.append(author)
    return tuple(names)


def _author_names(raw: _Raw) -> tuple[str, ...]:
    authors = raw.get("authors")
    names: list[str] = []
    if isinstance(authors, list):
        for author in authors:
            name = _own(author, "name") if isinstance(author, Mapping) else None
            if isinstance(name, str) and clean_text(name):
                names.append(clean_text(name))
    if not names:
        single = _clean(_str(raw, "author"))
        if single:
            names.append(single)
    return tuple(names)


def _terms(raw: _Raw) -> tuple[str, ...]:
    tags = raw.get("tags")
    terms: list[str] = []
    if isinstance(tags, list):
        for tag in tags:
            term = _own(tag, "term") if isinstance(tag, Mapping) else None
            if isinstance(term, str) and term.strip() and term.strip() not in terms:
                terms.append(term.strip())
    return tuple(terms)


def _categories(raw: _Raw) -> tuple[str, ...]:
    """arXiv categories, the primary first when the document names it."""
    terms = _terms(raw)
    primary = raw.get("arxiv_primary_category")
    term = _own(primary, "term") if isinstance(primary, Mapping) else None
    if isinstance(term, str) and term.strip():
        term = term.strip()
        return (term, *(t for t in terms if t != term))
    return terms


def _doi(raw: _Raw) -> str | None:
    for key in ("arxiv_doi", "prism_doi", "dc_identifier"):
        value = _str(raw, key)
        if value:
            doi = normalize_doi(value)
            if doi:
                return doi
    return None


def _first_doi(texts: Iterable[str]) -> str | None:
    for text in texts:
        doi = normalize_doi(text)
        if doi:
            return doi
    return None


def _arxiv_comment(raw: _Raw) -> str | None:
    """arXiv's comment, with the journal reference appended (Entry has no field for it)."""
    parts = []
    comment = _clean(_str(raw, "arxiv_comment"))
    if comment:
        parts.append(comment)
    journal = _clean(_str(raw, "arxiv_journal_reference") or _str(raw, "arxiv_journal_ref"))
    if journal:
        parts.append(f"Journal reference: {journal}")
    return "; ".join(parts) or None


def _arxiv_links(ref: ArxivId | None, link: str | None) -> Links:
    if ref is None:
        return Links(abs=link)
    return Links(abs=arxiv_abs_url(ref.id), pdf=arxiv_pdf_url(ref.id))


def _hrefs(raw: _Raw) -> list[str]:
    hrefs: list[str] = []
    link = _str(raw, "link")
    if link:
        hrefs.append(link)
    links = raw.get("links")
    if isinstance(links, list):
        for item in links:
            href = _own(item, "href") if isinstance(item, Mapping) else None
            if isinstance(href, str) and href and href not in hrefs:
                hrefs.append(href)
    return hrefs


def _pdf_link(raw: _Raw) -> str | None:
    links = raw.get("links")
    if isinstance(links, list):
        for item in links:
            if isinstance(item, Mapping) and _own(item, "type") == "application/pdf":
                href = _own(item, "href")
                if isinstance(href, str) and href:
                    return href
    return None


def _content_values(raw: _Raw) -> list[str]:
    content = raw.get("content")
    values: list[str] = []
    if isinstance(content, list):
        for item in content:
            value = _own(item, "value") if isinstance(item, Mapping) else None
            if isinstance(value, str) and value:
                values.append(value)
    return values


def _html_text(detail: object, value: str | None) -> str | None:
    """Text of a feed field; markup is removed only when the feed says it is HTML."""
    if not value:
        return None
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    # feedparser calls every RSS description HTML; plain text with "p<0.05" in it must
    # not lose words to a tag that is not there, so markup is parsed only when present.
    if isinstance(kind, str) and "html" in kind and _MARKUP_RE.search(value):
        tree = LexborHTMLParser(value)
        tree.strip_tags(["script", "style"])
        return clean_text(tree.text(separator=" ")) or None
    return clean_text(value) or None


__all__ = ["parse_arxiv", "parse_arxiv_api", "parse_feed"]
