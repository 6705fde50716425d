"""Hostile documents against every parser: entity bombs, broken encodings, fuzzed pages.

Whatever bytes a source sends, a parser returns a ``ParsedDocument`` or raises
``ParseError``, quickly and in bounded memory, and what it returns can be stored.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digests.errors import ParseError
from digests.ingest import _item_key, _without_controls, prepare
from digests.model import (
    Entry,
    ParseContext,
    ParsedDocument,
    PreparedEntry,
    Signals,
    SourceInfo,
    SourceKind,
    SourceSpec,
    TagRef,
)
from digests.normalize import (
    TagName,
    canonical_url,
    clean_text,
    find_arxiv_id,
    normalize_tag,
    paper_key,
    title_key,
)
from digests.query import parse_query
from digests.sources import PARSERS, feeds, parse_document
from digests.sources.feeds import parse_arxiv, parse_arxiv_api, parse_feed
from digests.store import Store
from digests.topics import load_rules
from tests.mutations import BOMBS, damaged, rss
from tests.paths import FIXTURES, SHARED

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)  # a Wednesday
CTX = ParseContext(url="https://example.org/feed", content_type=None, fetched_at=NOW)
RULES = load_rules()
Parser = Callable[[bytes, ParseContext], ParsedDocument]


def _auto(data: bytes, ctx: ParseContext) -> ParsedDocument:
    return parse_document(data, ctx)


XML_PARSERS: dict[str, Parser] = {
    "arxiv": parse_arxiv,
    "arxiv-api": parse_arxiv_api,
    "feed": parse_feed,
    "auto": _auto,
}
EVERY_PARSER: dict[str, Parser] = {kind.value: p for kind, p in PARSERS.items()} | {"auto": _auto}


def test_feedparser_alone_expands_a_flat_entity() -> None:
    """Why the refusal is ours: the library expands what its own filter lets through."""
    doc = rss(f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * 1000}">\n]>', "&a;" * 10)
    parsed = feedparser.parse(io.BytesIO(doc))
    assert len(parsed.entries[0].title) == 10_000  # ten times the input


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
@pytest.mark.parametrize("parser", XML_PARSERS.values(), ids=XML_PARSERS.keys())
def test_entity_declarations_are_refused_unread(parser: Parser, bomb: bytes) -> None:
    started = time.monotonic()
    # Auto-detection may not even get that far: a 100 kB prolog hides the root element.
    with pytest.raises(ParseError, match=r"declaring XML entities|cannot tell what kind"):
        parser(bomb, CTX)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
def test_no_parser_expands_an_entity_bomb(bomb: bytes) -> None:
    for name, parser in EVERY_PARSER.items():
        started = time.monotonic()
        try:
            doc = parser(bomb, CTX)
        except ParseError:
            pass
        else:
            longest = max((len(e.title) + len(e.abstract or "") for e in doc.entries), default=0)
            assert longest <= len(bomb), name
        assert time.monotonic() - started < 2.0, name


def test_a_doctype_without_entities_still_parses() -> None:
    netscape = (
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
    )
    doc = parse_feed(rss(netscape, "A paper &amp; its code"), CTX)
    assert [e.title for e in doc.entries] == ["A paper & its code"]


def test_entity_words_in_content_without_a_doctype_are_text() -> None:
    doc = parse_feed(rss("", "<![CDATA[Why <!ENTITY is dangerous]]>"), CTX)
    assert doc.entries[0].title == "Why <!ENTITY is dangerous"


# --- encodings ---------------------------------------------------------------------------


def _encodings(data: bytes) -> dict[str, bytes]:
    text = data.decode("utf-8")
    return {
        "latin-1-declared-utf-8": text.encode("latin-1", "replace")
        + "Gödel café".encode("latin-1"),
        "utf-16-bom": text.encode("utf-16"),
        "utf-16-le-no-bom": text.encode("utf-16-le"),
        "utf-16-be-no-bom": text.encode("utf-16-be"),
        "utf-32": text.encode("utf-32"),
        "utf-8-encoded-surrogates": data.replace(b"e", b"\xed\xa0\x80e", 20),
        "surrogate-char-refs": data.replace(b"e", b"&#xD800;e", 20),
        "json-surrogate-escapes": data.replace(b"e", b"\\ud800e", 20),
        "nul-and-controls": data.replace(b"e", b"\x00\x01\x1b[31me\x7f", 40),
        "overlong-utf-8": data.replace(b"e", b"\xc0\xafe", 20),
        "truncated-mid-character": data[: len(data) // 2] + "論".encode()[:2],
    }


# Documents only: the folders beside them hold other data (hand-labelled topics).
FIXTURE_FILES = sorted(p.name for p in FIXTURES.iterdir() if p.is_file())
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_broken_encodings_parse_or_fail_cleanly_and_store(store: Store, name: str) -> None:
    """Every damaged spelling of every fixture: a document or a ParseError, and storable."""
    stored = 0
    for variant, data in _encodings((FIXTURES / name).read_bytes()).items():
        try:
            doc = parse_document(data, CTX)
        except ParseError as e:
            assert str(e), variant
            continue
        source = store.add_source(
            SourceSpec(name=f"{name}:{variant}", location=f"https://example.org/{variant}"),
            now=NOW,
        )
        # PostgreSQL refuses NUL in text: the entries are cleaned before they get there.
        store.store_entries(source, prepare(doc.entries, source, RULES), now=NOW)
        stored += 1
        for hit in store.search(parse_query(f'source:"{source.name}"', now=NOW)).hits:
            assert not _CONTROL.search(hit.title), (variant, hit.title)
    assert stored > 0


def test_utf16_feeds_that_say_so_are_read() -> None:
    text = (FIXTURES / "arxiv_atom_listing.xml").read_text("utf-8")
    text = text.replace("encoding='UTF-8'", "encoding='UTF-16'")
    expected = len(parse_document(text.encode("utf-8").replace(b"UTF-16", b"UTF-8"), CTX).entries)
    for codec in ("utf-16", "utf-16-le", "utf-16-be"):
        doc = parse_document(text.encode(codec), CTX)
        assert doc.kind is SourceKind.ARXIV
        assert len(doc.entries) == expected > 0


# --- fuzz: every parser, random bytes and damaged real pages -----------------------------


def _pages() -> list[bytes]:
    pages = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.is_file()]
    for folder in ("seeds", "samples"):
        if (SHARED / folder).is_dir():
            pages += [
                p.read_bytes()[:200_000]
                for p in sorted((SHARED / folder).iterdir())
                if p.suffix in {".txt", ".xml", ".json", ".md"}
            ]
    pages += list(BOMBS.values())
    return pages


PAGES = _pages()
FUZZ_SOURCE = SourceInfo(
    id=1,
    name="fuzz",
    location="https://example.org/fuzz",
    kind=None,
    interval_seconds=3600,
    tags=("nlp",),
    origin="cli",
    enabled=True,
    created_at=NOW,
)


@settings(
    max_examples=150,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=damaged(PAGES), kind=st.sampled_from([None, *SourceKind]))
def test_every_parser_returns_a_document_or_parse_error(
    data: bytes, kind: SourceKind | None
) -> None:
    try:
        doc = parse_document(data, CTX, kind=kind)
    except ParseError:
        return
    assert isinstance(doc, ParsedDocument)
    prepare(doc.entries, FUZZ_SOURCE, RULES)  # identities and tags work out too


def test_fuzz_pages_cover_every_kind() -> None:
    kinds: set[SourceKind] = set()
    for page in PAGES:
        try:
            kinds.add(parse_document(page, CTX).kind)
        except ParseError:
            continue
    assert kinds == set(SourceKind)


# -- whitespace folding ----------------------------------------------------------------------


def _clean_text_by_regex(text: str) -> str:
    """clean_text as it was written first; the split/join form must give the same text."""
    return re.sub(r"\s+", " ", text).strip()


def test_clean_text_folds_exactly_the_characters_the_regex_does() -> None:
    for start in range(0, 0x110000, 0x1000):
        chunk = "".join(chr(c) for c in range(start, start + 0x1000))
        text = f" a{chunk}b\t{chunk[::-1]} "
        assert clean_text(text) == _clean_text_by_regex(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u3000\u200b")
            + list("ab強化学習\ufeff\x00")
        )
    )
    | st.text()
)
def test_clean_text_matches_the_regex_on_any_text(text: str) -> None:
    assert clean_text(text) == _clean_text_by_regex(text)


# -- declarations found in every encoding, with or without the byte prefilter ----------------


def _declares_by_regex_alone(data: bytes) -> bool:
    return any(d.search(data) for d in feeds._DOCTYPE_RES) and any(
        e.search(data) for e in feeds._ENTITY_RES
    )


@pytest.mark.parametrize("codec", feeds._CODECS)
def test_entity_declarations_are_found_in_every_readable_encoding(codec: str) -> None:
    declared = '<?xml version="1.0"?><!DoCtYpE rss [<!entity a "b">]><rss>&a;</rss>'
    plain = '<?xml version="1.0"?><rss><!-- a comment --><![CDATA[x]]></rss>'
    for text, expected in ((declared, True), (plain, False), ("<rss>LZ</rss>", False)):
        data = text.encode(codec)
        assert feeds._declares_entities(data) is expected
        assert _declares_by_regex_alone(data) is expected


def test_the_prefilter_agrees_with_the_regexes_on_fixtures_and_hostile_documents() -> None:
    docs = [p.read_bytes() for p in sorted(FIXTURES.glob("*")) if p.is_file()]
    docs += list(BOMBS.values())
    assert any(feeds._declares_entities(d) for d in docs)
    for data in docs:
        try:
            variants = [data, *_encodings(data).values()]
        except UnicodeDecodeError:  # already in another encoding
            variants = [data]
        for variant in variants:
            assert feeds._declares_entities(variant) == _declares_by_regex_alone(variant)


# -- prepare shares its tag records: the same output as making each afresh -------------------


def _prepare_afresh(entries: Sequence[Entry], source: SourceInfo) -> list[PreparedEntry]:
    """prepare as it was first written: a new TagRef for every tag of every entry."""
    origin = f"source:{source.name}"
    source_tags = [t for t in (normalize_tag(x) for x in source.tags) if t is not None]
    out: list[PreparedEntry] = []
    for e in map(_without_controls, entries):
        found: list[tuple[TagName, str, str]] = []
        found += [(t, "tag", origin) for t in map(normalize_tag, e.tags) if t is not None]
        if not e.signals.related:
            found += [(t, "tag", origin) for t in source_tags]
        found += [(t, "category", "category") for t in map(normalize_tag, e.categories) if t]
        found += [
            (t, "topic", "rule")
            for t in RULES.topics_for(e.title, e.abstract, e.summary, e.ai_summary)
        ]
        refs: dict[tuple[str, str], TagRef] = {}
        for tag, kind, tag_origin in found:
            refs.setdefault((tag.slug, tag_origin), TagRef(tag.slug, tag.display, kind, tag_origin))
        url_key = None
        if e.url and find_arxiv_id(e.url) is None:
            url_key = canonical_url(e.url)
        out.append(
            PreparedEntry(
                entry=e,
                key=paper_key(arxiv_id=e.arxiv_id, doi=e.doi, url=e.url, title=e.title),
                url_key=url_key,
                title_key=title_key(e.title),
                item_key=_item_key(e),
                tags=tuple(refs.values()),
            )
        )
    return out


def test_prepare_gives_what_fresh_tag_records_give_on_every_page() -> None:
    sources = [
        FUZZ_SOURCE,
        replace(FUZZ_SOURCE, name="日本語", tags=("Alignment", "#alignment", "RL (強化学習)")),
        replace(FUZZ_SOURCE, name="bare", tags=()),
    ]
    compared = 0
    for page in PAGES:
        try:
            doc = parse_document(page, CTX)
        except ParseError:
            continue
        # Related entries (whose source tags are left off) and entries sharing tags.
        entries = [*doc.entries, *(replace(e, signals=Signals(related=True)) for e in doc.entries)]
        for source in sources:
            assert prepare(entries, source, RULES) == _prepare_afresh(entries, source)
            compared += len(entries)
    assert compared > 100
