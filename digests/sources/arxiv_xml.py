"""arXiv's listing feeds read with the C XML parser, for the values feedparser would give.

arXiv's own listings (``rss.arxiv.org``'s RSS 2.0 and Atom) have one fixed shape, which
ElementTree reads far faster than feedparser's Python handlers. ``read_listing`` reads
that shape and nothing else, and answers ``None`` for any document it is not sure of,
which feedparser then reads as before. ``tests/test_parse_arxiv_xml.py`` compares both.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError, XMLParser

__all__ = ["Listing", "read_listing"]

logger = logging.getLogger(__name__)

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV_URI = "http://arxiv.org/schemas/atom"
_ARXIV = "{" + _ARXIV_URI + "}"
_DC = "{http://purl.org/dc/elements/1.1/}"

# The XML declaration, if any, must name UTF-8 (or no encoding, which means UTF-8).
_DECLARATION_RE = re.compile(
    rb"""<\?xml\s+version\s*=\s*["']1\.[0-9]["']"""
    rb"""(?:\s+encoding\s*=\s*["'](?P<enc>[A-Za-z0-9._-]+)["'])?"""
    rb"""(?:\s+standalone\s*=\s*["'](?:yes|no)["'])?\s*\?>"""
)
# Markup declarations other than CDATA sections and comments (a DOCTYPE) are left to
# feedparser. Both parsers drop comments, joining the text around them.
_DECLARATION_MARKUP_RE = re.compile(rb"<!(?!\[CDATA\[|--)")
_START_TAG_RE = re.compile(rb"<[A-Za-z_]")
_XMLNS_RE = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""")
# feedparser drops the slashes after "scheme://" ("http:///x" -> "http://x"); such
# values are left to it.
_EXTRA_SLASHES_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+,.\-]*:///")
# The media types whose charset feedparser takes from the document (RFC 3023).
_XML_MEDIA_TYPES = frozenset({"application/xml", "application/rss+xml", "application/atom+xml"})
# The two date shapes arXiv writes: RFC 822 in RSS ("Thu, 24 Sep 2026 00:00:00 -0400"),
# ISO 8601 in Atom ("2026-09-25T04:00:11.616280+00:00", or a bare date). Any other
# spelling is left to feedparser, whose date parser reads many more.
_RFC822_RE = re.compile(
    r"(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (?:[+-]\d{4}|GMT|UT|Z)\Z"
)
_ISO_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2}))?\Z"
)
# The windows-1252 characters feedparser puts for U+0080-U+009F in every text value.
_CP1252 = {
    c: bytes([c]).decode("cp1252")
    for c in range(0x80, 0xA0)
    if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}

# Elements read as one plain-text value each: element -> (feedparser's key, how the text
# becomes the value). feedparser names arXiv's extension elements "arxiv_<name>".
_ARXIV_FIELDS: dict[str, tuple[str, str]] = {
    f"{_ARXIV}announce_type": ("arxiv_announce_type", "text"),
    f"{_ARXIV}DOI": ("arxiv_doi", "text"),
    f"{_ARXIV}comment": ("arxiv_comment", "text"),
    f"{_ARXIV}journal_reference": ("arxiv_journal_reference", "text"),
    f"{_ARXIV}journal_ref": ("arxiv_journal_ref", "text"),
}
_ATOM_FEED_FIELDS = {
    f"{_ATOM}title": ("title", "text"),
    f"{_ATOM}updated": ("updated_parsed", "date"),
    f"{_ATOM}published": ("published_parsed", "date"),
}
_ATOM_ENTRY_FIELDS = {
    f"{_ATOM}id": ("id", "uri"),
    f"{_ATOM}title": ("title", "text"),
    f"{_ATOM}summary": ("summary", "text"),
    f"{_ATOM}published": ("published_parsed", "date"),
    **_ARXIV_FIELDS,
}
_RSS_CHANNEL_FIELDS = {
    "title": ("title", "text"),
    "lastBuildDate": ("updated_parsed", "date"),
    "pubDate": ("published_parsed", "date"),
    "ttl": ("ttl", "text"),
}
_RSS_ITEM_FIELDS = {
    "title": ("title", "text"),
    "description": ("summary", "text"),
    "pubDate": ("published_parsed", "date"),
    **_ARXIV_FIELDS,
}
# Elements known to hold nothing the converter reads (feedparser keeps them under keys of
# their own): taken when plain text, ignored.
_ATOM_FEED_IGNORED = frozenset({f"{_ATOM}id", f"{_ATOM}subtitle"})
_RSS_CHANNEL_IGNORED = frozenset(
    {"link", "description", "docs", "language", "managingEditor", "generator", "webMaster"}
)
_ENTRY_IGNORED = frozenset({f"{_DC}rights", f"{_ATOM}updated"})


class _Decline(Exception):
    """Not the shape this module reads: feedparser reads the document."""


@dataclass(frozen=True, slots=True)
class Listing:
    """What feedparser's result holds for the arXiv converter: feed, entries, version."""

    feed: dict[str, Any]
    entries: tuple[dict[str, Any], ...]
    version: str


def read_listing(data: bytes, content_type: str | None) -> Listing | None:
    """An arXiv listing's feed values and entries, or ``None`` to leave it to feedparser.

    ``content_type`` is the HTTP header's, if any: a charset other than UTF-8 there (or
    ``text/xml`` with none, which RFC 3023 reads as US-ASCII) is left to feedparser.
    A document with a DOCTYPE is left to feedparser, so no entity can be declared in
    what is parsed here: ElementTree's C parser then has nothing to expand or fetch.
    """
    if not _utf8(data, content_type) or not _plain_markup(data):
        return None
    parser = XMLParser()  # noqa: S314 - no DOCTYPE (above), so no entities to expand
    try:
        parser.feed(data)
        root = parser.close()
    except (ParseError, ValueError):
        return None
    try:
        if root.tag == f"{_ATOM}feed":
            return _atom(root)
        if root.tag == "rss":
            return _rss(root)
    except _Decline as e:
        logger.debug("arXiv listing left to feedparser: %s", e)
        return None
    return None


# --- whether the document is one this module reads ---------------------------------------


def _utf8(data: bytes, content_type: str | None) -> bool:
    """Whether feedparser would read the document as "utf-8" (spelled so: under any other
    name, "utf8" included, it skips the re-decoding done in ``_text``)."""
    if content_type:
        header = Message()
        header["Content-Type"] = content_type
        media = header.get_content_type()  # "text/plain" when unreadable
        charset = header.get_content_charset()  # lowercased, or None
        if media not in _XML_MEDIA_TYPES and media != "text/xml":
            return False
        if charset is None and media == "text/xml":  # RFC 3023: US-ASCII
            return False
        if charset is not None and charset != "utf-8":
            return False
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    head = head.lstrip(b" \t\r\n")
    if head.startswith(b"<?xml"):
        m = _DECLARATION_RE.match(head)
        if m is None:
            return False
        encoding = m["enc"]
        if encoding is not None and encoding.lower() != b"utf-8":
            return False
    return head.startswith(b"<")


def _plain_markup(data: bytes) -> bool:
    """No DOCTYPE, one XML declaration at most, and every namespace declared
    on the root element, arXiv's under the prefix ``arxiv``. (A declared base, which
    feedparser would honour, is an attribute no element here may carry.)"""
    if _DECLARATION_MARKUP_RE.search(data) or data.count(b"<?") > 1:
        return False
    # The root element's start tag (a "<" opening a name inside a comment before it
    # only makes the check below refuse the document).
    m = _START_TAG_RE.search(data)
    if m is None:
        return False
    start = m.start()
    end = data.find(b">", start)
    if end < 0 or data.find(b"xmlns", end) >= 0:
        return False
    # feedparser names the elements of a namespace it does not know by the prefix the
    # document gives it; the converter reads arXiv's as "arxiv_...".
    for prefix, uri in _XMLNS_RE.findall(data[start:end]):
        if uri.decode("utf-8", "replace") == _ARXIV_URI and prefix != b"arxiv":
            return False
    return True


# --- values as feedparser gives them -----------------------------------------------------


def _text(el: Element) -> str:
    """An element's text, as feedparser gives a text value of a UTF-8 document."""
    if len(el):
        raise _Decline(f"markup inside <{el.tag}>")
    out = (el.text or "").strip()
    if not out.isascii():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            out = out.encode("iso-8859-1").decode("utf-8")
        out = out.translate(_CP1252)
    return out


def _attrs(el: Element, allowed: frozenset[str]) -> None:
    if not el.attrib:
        return
    for name in el.attrib:
        if name not in allowed:
            raise _Decline(f"attribute {name} on <{el.tag}>")


def _uri(value: str) -> str:
    if _EXTRA_SLASHES_RE.match(value):
        raise _Decline("a URI feedparser rewrites")
    return value


def _date(value: str) -> time.struct_time | None:
    """A date as feedparser gives it: a UTC ``struct_time`` (no zone: UTC), or None."""
    if not value:
        return None
    try:
        if _ISO_RE.match(value):
            when = datetime.fromisoformat(value)
        elif _RFC822_RE.match(value):
            when = parsedate_to_datetime(value)
        else:
            raise _Decline(f"a date spelled {value!r}")
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
        return when.utctimetuple()
    except (ValueError, TypeError, OverflowError) as e:  # "31 Feb", a year out of range
        raise _Decline(f"a date it cannot read: {value!r}") from e


_NO_ATTRS: frozenset[str] = frozenset()
_LINK_ATTRS = frozenset({"href", "rel", "type"})


def _once(raw: dict[str, Any], key: str, value: Any) -> None:
    if key in raw:
        raise _Decline(f"{key} given twice")
    raw[key] = value


def _creator(raw: dict[str, Any], el: Element) -> None:
    """``dc:creator``: one author each; feedparser reads an e-mail address out of it."""
    _attrs(el, _NO_ATTRS)
    name = _text(el)
    if "@" in name:
        raise _Decline("an author with an address")
    raw.setdefault("authors", []).append({"name": name} if name else {})
    raw["author"] = name


# How a field's text becomes its value, by the kind its table gives.
_CONVERT: dict[str, Callable[[str], Any]] = {"text": str, "date": _date, "uri": _uri}


def _take(raw: dict[str, Any], el: Element, fields: dict[str, tuple[str, str]]) -> bool:
    """Read ``el`` into ``raw`` if ``fields`` names it; False if it does not."""
    spec = fields.get(el.tag)
    if spec is None:
        return False
    key, kind = spec
    _attrs(el, _NO_ATTRS)
    _once(raw, key, _CONVERT[kind](_text(el)))
    return True


def _skip(el: Element, ignored: frozenset[str]) -> bool:
    """Pass over ``el`` if it is one of ``ignored`` and plain text; False if it is not."""
    if el.tag not in ignored:
        return False
    _attrs(el, _NO_ATTRS)
    _text(el)
    return True


# --- Atom (rss.arxiv.org/atom/...) -------------------------------------------------------


def _feed_level(
    parent: Element,
    entry_tag: str,
    read_entry: Callable[[Element], dict[str, Any]],
    fields: dict[str, tuple[str, str]],
    ignored: frozenset[str],
) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The feed's own values and its entries: the children of Atom's ``feed`` or of RSS's
    ``channel``."""
    feed: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    for el in parent:
        if el.tag == entry_tag:
            entries.append(read_entry(el))
        elif el.tag == f"{_ATOM}link":  # Atom's own, or atom:link in RSS
            _attrs(el, _LINK_ATTRS)
        elif el.tag == "skipDays":  # RSS; read from the bytes by the caller
            _attrs(el, _NO_ATTRS)
            for day in el:
                if day.tag != "day":
                    raise _Decline("skipDays holding something else")
                _text(day)
        elif not (_take(feed, el, fields) or _skip(el, ignored)):
            raise _Decline(f"feed element {el.tag}")
    return feed, tuple(entries)


def _atom(root: Element) -> Listing:
    _attrs(root, frozenset({"{http://www.w3.org/XML/1998/namespace}lang"}))
    feed, entries = _feed_level(
        root, f"{_ATOM}entry", _atom_entry, _ATOM_FEED_FIELDS, _ATOM_FEED_IGNORED
    )
    return Listing(feed=feed, entries=entries, version="atom10")


_Handler = Callable[[dict[str, Any], Element], None]


def _entry(
    entry: Element, fields: dict[str, tuple[str, str]], handlers: dict[str, _Handler]
) -> dict[str, Any]:
    """One entry or item: plain fields by table, the rest by their handler; anything else
    is a shape this module does not read."""
    _attrs(entry, _NO_ATTRS)
    raw: dict[str, Any] = {}
    for el in entry:
        if _take(raw, el, fields) or _skip(el, _ENTRY_IGNORED):
            continue
        handler = handlers.get(el.tag)
        if handler is None:
            raise _Decline(f"entry element {el.tag}")
        handler(raw, el)
    return raw


def _atom_link(raw: dict[str, Any], el: Element) -> None:
    """arXiv's one link: the abstract page. feedparser takes an alternate HTML link as the
    entry's link, else the id; other links are left to it."""
    _attrs(el, _LINK_ATTRS)
    if (el.get("rel") or "").lower() != "alternate" or (
        el.get("type") or ""
    ).lower() != "text/html":
        raise _Decline("a link other than the abstract page")
    href = _uri(el.get("href") or "")
    if not href:
        raise _Decline("a link without href")
    _once(raw, "link", href)
    raw["links"] = [{"rel": "alternate", "type": "text/html", "href": href}]


def _atom_category(raw: dict[str, Any], el: Element) -> None:
    _attrs(el, frozenset({"term"}))
    term = el.get("term")
    if not term or _text(el):
        raise _Decline("a category without a term")
    raw.setdefault("tags", []).append({"term": term, "scheme": None, "label": None})


_ATOM_HANDLERS: dict[str, _Handler] = {
    f"{_ATOM}link": _atom_link,
    f"{_ATOM}category": _atom_category,
    f"{_DC}creator": _creator,
}


def _atom_entry(entry: Element) -> dict[str, Any]:
    raw = _entry(entry, _ATOM_ENTRY_FIELDS, _ATOM_HANDLERS)
    if "link" not in raw:
        raise _Decline("an entry without its abstract link")
    return raw


# --- RSS 2.0 (rss.arxiv.org/rss/...) -----------------------------------------------------


def _rss(root: Element) -> Listing:
    _attrs(root, frozenset({"version"}))
    if root.get("version") != "2.0" or len(root) != 1 or root[0].tag != "channel":
        raise _Decline("not one RSS 2.0 channel")
    channel = root[0]
    _attrs(channel, _NO_ATTRS)
    feed, entries = _feed_level(
        channel, "item", _rss_item, _RSS_CHANNEL_FIELDS, _RSS_CHANNEL_IGNORED
    )
    return Listing(feed=feed, entries=entries, version="rss20")


def _rss_link(raw: dict[str, Any], el: Element) -> None:
    _attrs(el, _NO_ATTRS)
    link = _uri(_text(el))
    if "&" in link:  # feedparser re-spells "&amp;" and "&name;" in links
        raise _Decline("a link with an ampersand")
    _once(raw, "link", link)
    raw["links"] = [{"rel": "alternate", "type": "text/html", "href": link}]


def _rss_guid(raw: dict[str, Any], el: Element) -> None:
    # A permalink guid also stands in for a missing link: left to feedparser.
    _attrs(el, frozenset({"isPermaLink"}))
    if el.get("isPermaLink") != "false":
        raise _Decline("a permalink guid")
    _once(raw, "id", _text(el))


def _rss_category(raw: dict[str, Any], el: Element) -> None:
    _attrs(el, frozenset({"domain"}))
    term = _text(el)
    if term:
        raw.setdefault("tags", []).append({"term": term, "scheme": None, "label": None})


_RSS_HANDLERS: dict[str, _Handler] = {
    "link": _rss_link,
    "guid": _rss_guid,
    "category": _rss_category,
    f"{_DC}creator": _creator,
}


def _rss_item(item: Element) -> dict[str, Any]:
    return _entry(item, _RSS_ITEM_FIELDS, _RSS_HANDLERS)
