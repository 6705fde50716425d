"""One parser per source kind, and the registry that picks one from the content.

Each parser is ``parse_x(data: bytes, ctx: ParseContext) -> ParsedDocument``: it sees the
raw bytes (never a ``str`` that a library might take for a path or URL), turns the
format's shapes into ``digests.model.Entry`` records at once, skips and counts entries
it cannot read, and raises ``ParseError`` saying what it expected when nothing at all
is readable.
"""

from __future__ import annotations

from collections.abc import Callable

from digests.model import ParseContext, ParsedDocument, SourceKind
from digests.sources.detect import detect_kind
from digests.sources.feeds import parse_arxiv, parse_arxiv_api, parse_feed
from digests.sources.hf import parse_hf_daily
from digests.sources.notes import parse_notes_html, parse_notes_text
from digests.sources.paper_page import parse_paper_page
from digests.sources.weekly_ja import parse_weekly_ja
from digests.sources.weekly_md import parse_weekly_md

Parser = Callable[[bytes, ParseContext], ParsedDocument]

PARSERS: dict[SourceKind, Parser] = {
    SourceKind.ARXIV: parse_arxiv,
    SourceKind.ARXIV_API: parse_arxiv_api,
    SourceKind.FEED: parse_feed,
    SourceKind.HF_DAILY: parse_hf_daily,
    SourceKind.WEEKLY_MD: parse_weekly_md,
    SourceKind.WEEKLY_JA: parse_weekly_ja,
    SourceKind.NOTES_HTML: parse_notes_html,
    SourceKind.NOTES_TEXT: parse_notes_text,
    SourceKind.PAPER_PAGE: parse_paper_page,
}


def parse_document(
    data: bytes, ctx: ParseContext, *, kind: SourceKind | None = None
) -> ParsedDocument:
    """Parse ``data`` as ``kind``, or as the kind detected from the content."""
    chosen = kind if kind is not None else detect_kind(data, ctx)
    return PARSERS[chosen](data, ctx)


__all__ = ["PARSERS", "Parser", "detect_kind", "parse_document"]
