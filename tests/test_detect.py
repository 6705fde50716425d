"""Detecting a document's kind from its content (and, as a tiebreak, its address)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.errors import ParseError
from digests.model import ParseContext, SourceKind
from digests.sources import PARSERS, parse_document
from digests.sources.detect import SNIFF_BYTES, detect_kind
from tests.paths import FIXTURES

# File name prefixes and the kind each holds, for our fixtures and the shared captures.
PREFIXES: list[tuple[str, SourceKind]] = [
    ("arxiv_api_", SourceKind.ARXIV_API),
    ("arxiv_rss2_", SourceKind.ARXIV),
    ("arxiv_atom_", SourceKind.ARXIV),
    ("hf_daily_", SourceKind.HF_DAILY),
    ("ml_papers_of_the_week_", SourceKind.WEEKLY_MD),
    ("weekly_md", SourceKind.WEEKLY_MD),
    ("generic_feed", SourceKind.FEED),
    ("notes_tag_page.html", SourceKind.NOTES_HTML),
    ("notes_tag_page.txt", SourceKind.NOTES_TEXT),
    ("paper_page", SourceKind.PAPER_PAGE),
    ("weekly_ja", SourceKind.WEEKLY_JA),
]
SEEDS = {
    "000": SourceKind.NOTES_HTML,
    "001": SourceKind.NOTES_TEXT,
    "002": SourceKind.PAPER_PAGE,
    "003": SourceKind.WEEKLY_JA,
    "004": SourceKind.PAPER_PAGE,
}
CTX = ParseContext()


def _expected(name: str) -> SourceKind | None:
    return next((kind for prefix, kind in PREFIXES if name.startswith(prefix)), None)


def _known(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and _expected(p.name) is not None)


@pytest.mark.parametrize("path", _known(FIXTURES), ids=lambda p: p.name)
def test_fixtures(path: Path) -> None:
    assert detect_kind(path.read_bytes(), CTX) == _expected(path.name)


def test_own_fixtures_cover_own_kinds() -> None:
    kinds = {_expected(p.name) for p in _known(FIXTURES)}
    assert {
        SourceKind.NOTES_HTML,
        SourceKind.NOTES_TEXT,
        SourceKind.PAPER_PAGE,
        SourceKind.WEEKLY_JA,
    } <= kinds


def test_shared_samples(shared: Path) -> None:
    samples = sorted(p for p in (shared / "samples").iterdir() if p.name != "PROVENANCE.md")
    # Every capture is of a kind we know by its name, and is detected as that kind.
    assert samples and all(_expected(p.name) is not None for p in samples)
    for path in samples:
        assert detect_kind(path.read_bytes(), CTX) == _expected(path.name), path.name


@pytest.mark.parametrize(("prefix", "kind"), sorted(SEEDS.items()))
def test_shared_seeds(shared: Path, prefix: str, kind: SourceKind) -> None:
    (path,) = (shared / "seeds").glob(f"{prefix}_*")
    data = path.read_bytes()
    assert detect_kind(data, CTX) == kind
    # and the registry hands it to a parser that reads it
    doc = parse_document(data, CTX)
    assert doc.kind == kind and doc.entries


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02 random bytes \xff",
        b"<!DOCTYPE html><html><body><p>A blog post</p></body></html>",
        b'{"papers": []}',
        b"# A README\n\nNothing about papers of the week.\n",
        b"Issue Date: 2024-01-01 but nothing else that a notes page has",
    ],
)
def test_unknown_content_names_readable_kinds(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        detect_kind(data, ParseContext(url="https://example.org/x", content_type="text/html"))
    message = str(info.value)
    for kind in SourceKind:
        assert kind.value in message
    assert "https://example.org/x" in message


def test_bom_and_leading_space_are_ignored() -> None:
    data = b"\xef\xbb\xbf\n  " + (FIXTURES / "paper_page.txt").read_bytes()
    assert detect_kind(data, CTX) is SourceKind.PAPER_PAGE


def test_only_arxiv_itself_makes_an_arxiv_listing() -> None:
    item = (
        b"<item><title>T</title><guid>oai:arXiv.org:2506.15841v1</guid>"
        b"<description>arXiv:2506.15841v1 Announce Type: new Abstract: A.</description></item>"
    )
    plain = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>' + item
    namespaced = plain.replace(
        b'version="2.0">', b'version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom">'
    )
    # arXiv's item text, guids and elements, re-published elsewhere: a generic feed.
    assert detect_kind(plain, CTX) is SourceKind.FEED
    element = b'<arxiv:announce_type xmlns:arxiv="http://arxiv.org/schemas/atom">new'
    assert (
        detect_kind(plain.replace(b"<title>T", element + b"</arxiv:announce_type><title>T"), CTX)
        is SourceKind.FEED
    )
    assert detect_kind(plain, ParseContext(url="https://arxiv.org.example.net/rss")) is (
        SourceKind.FEED
    )
    # arXiv's namespace on the root, or arXiv's own host: a listing.
    assert detect_kind(namespaced, CTX) is SourceKind.ARXIV
    assert detect_kind(plain, ParseContext(url="https://rss.arxiv.org/rss/cs.CL")) is (
        SourceKind.ARXIV
    )


def test_address_settles_empty_documents() -> None:
    assert (
        detect_kind(b"[]", ParseContext(url="https://huggingface.co/api/daily_papers?date=x"))
        is SourceKind.HF_DAILY
    )
    with pytest.raises(ParseError):
        detect_kind(b"[]", CTX)
    empty_rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    assert detect_kind(empty_rss, CTX) is SourceKind.FEED
    assert (
        detect_kind(empty_rss, ParseContext(url="https://rss.arxiv.org/rss/cs.CL"))
        is SourceKind.ARXIV
    )
    assert (
        detect_kind(empty_rss, ParseContext(url="http://export.arxiv.org/api/query?x=1"))
        is SourceKind.ARXIV_API
    )


def test_only_the_head_is_read() -> None:
    marker = "論文の概要: Late\n- arxiv url: http://arxiv.org/abs/2401.01111v1\n".encode()
    with pytest.raises(ParseError):
        detect_kind(b"x" * SNIFF_BYTES + marker, CTX)
    assert detect_kind(marker + b"filler line\n" * 10_000, CTX) is SourceKind.PAPER_PAGE


def test_every_kind_has_a_parser() -> None:
    assert set(PARSERS) == set(SourceKind)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_detect_or_parse_error(data: bytes) -> None:
    try:
        kind = detect_kind(data, CTX)
    except ParseError:
        return
    assert kind in SourceKind
