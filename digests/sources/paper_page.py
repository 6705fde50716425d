"""Parse a per-paper summary page (a Japanese arXiv translation site) and its related papers.

The paper comes as ``- Key: value`` fields, then ``関連論文リスト``: similar papers without
ids, matched later by title. ``- Abstract要約:`` fills the one summary slot; the machine
translation of the abstract is not kept.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from digests.errors import ParseError
from digests.model import Entry, Links, ParseContext, ParsedDocument, Signals, SourceKind
from digests.normalize import arxiv_abs_url, arxiv_pdf_url, clean_text, parse_arxiv_id
from digests.sources._text import Report, decode, lang_of

logger = logging.getLogger(__name__)

_EXPECTED = (
    "a paper summary page ('論文の概要: Title', '- arxiv url: …', '- Title: …' fields, "
    "then '関連論文リスト')"
)
_OVERVIEW_RE = re.compile(r"^論文の概要:\s*(.*)$")
# A field line: "- Key: value". Keys are short labels without sentence punctuation, so a
# summary line that happens to start with "- " is not mistaken for one.
_FIELD_RE = re.compile(r"^-\s+(?P<key>[^:：\n。、]{1,40}?)\s*[:：]\s?(?P<value>.*)$")
_RELATED_HEADER = "関連論文リスト"
_RELATED_FOOTER_PREFIX = "関連論文リストは"
_META_RE = re.compile(
    r"論文\s+参考訳\(メタデータ\)\s*\((?P<date>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\)"
)
# "- Title [61.68787689234622]" (the score ends its line; the title may wrap above it).
_TITLE_SCORE_RE = re.compile(
    r"^\s*-?\s*(?P<title>[^\n]+?(?:\n[^\n]+?){0,2})\s*\[(?P<score>\d+(?:\.\d+)?)\][ \t]*(?:\n|$)"
)


def _fields(lines: list[str]) -> dict[str, str]:
    """``- Key: value`` fields; a value continues over lines until the next field."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        m = _FIELD_RE.match(line)
        if m:
            current = fields.setdefault(m["key"].strip(), [])
            if m["value"].strip():
                current.append(m["value"].strip())
        elif current is not None and line.strip():
            current.append(line.strip())
    return {key: "\n".join(parts) for key, parts in fields.items()}


def _authors(value: str) -> tuple[str, ...]:
    return tuple(name for name in (clean_text(p) for p in value.split(",")) if name)


def _rfc2822(value: str, report: Report) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        report.note(f"unreadable Date {value[:40]!r}")
        return None
    if parsed.tzinfo is None:
        # RFC 2822 "-0000" means UTC with the zone unknown; arXiv writes GMT.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _main_entry(
    overview: str | None, lines: list[str], report: Report, url: str | None
) -> Entry | None:
    fields = _fields(lines)
    title = clean_text(fields.get("Title", "") or (overview or ""))
    if not title:
        report.skip("main paper: no title")
        return None
    arxiv = None
    arxiv_url = fields.get("arxiv url", "").strip() or None
    if arxiv_url is not None:
        arxiv = parse_arxiv_id(arxiv_url)
        if arxiv is None:
            report.note(f"main paper: unreadable arxiv url {arxiv_url[:80]!r}")
    elif "arxiv url" not in fields:
        report.note("main paper: no '- arxiv url:' line")
    summary = fields.get("Abstract要約") or None
    abstract = clean_text(fields.get("Abstract", "")) or None
    return Entry(
        title=title,
        arxiv_id=arxiv.id if arxiv else None,
        arxiv_version=arxiv.version if arxiv else None,
        url=arxiv_url,
        authors=_authors(fields.get("Authors", "")),
        abstract=abstract,
        summary=summary,
        summary_lang=lang_of(summary) if summary else None,
        title_alt=clean_text(fields.get("Title(参考訳)", "")) or None,
        links=Links(
            abs=arxiv_abs_url(arxiv.id) if arxiv else None,
            pdf=arxiv_pdf_url(arxiv.id) if arxiv else None,
        ),
        published=_rfc2822(fields.get("Date", "").strip(), report),
        source_item_id=url or arxiv_url,
    )


def _related_entry(chunk: str, date: str | None, report: Report) -> Entry | None:
    m = _TITLE_SCORE_RE.match(chunk)
    if m is None:
        report.skip(f"related paper without '- Title [score]': {clean_text(chunk)[:60]!r}")
        return None
    title = clean_text(m["title"])
    summary_lines = [line.strip() for line in chunk[m.end() :].splitlines() if line.strip()]
    summary = "\n".join(summary_lines) or None
    published = None
    if date is not None:
        try:
            published = datetime.fromisoformat(date.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            report.note(f"{title[:60]}: unreadable date {date!r}")
    return Entry(
        title=title,
        summary=summary,
        summary_lang=lang_of(summary) if summary else None,
        published=published,
        signals=Signals(related=True, score=float(m["score"])),
    )


def _related(block: str, report: Report) -> list[Entry]:
    entries: list[Entry] = []
    pos = 0
    # Each related paper ends with its metadata line; the next one starts on that line.
    for meta in _META_RE.finditer(block):
        entry = _related_entry(block[pos : meta.start()], meta["date"], report)
        if entry is not None:
            entries.append(entry)
        pos = meta.end()
    tail = block[pos:]
    if tail.strip() and _TITLE_SCORE_RE.match(tail):
        # A related paper cut off before its metadata line (a truncated page).
        entry = _related_entry(tail, None, report)
        if entry is not None:
            entries.append(entry)
    return entries


def parse_paper_page(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """Read the main paper (``Entry``) and each related paper (``signals.related=True``)."""
    kind = SourceKind.PAPER_PAGE
    text = decode(data).replace("\r\n", "\n")
    report = Report(logger, ctx.url)
    lines = text.split("\n")

    overview = None
    head: list[str] = []
    related_block: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if related_block is not None:
            if stripped.startswith(_RELATED_FOOTER_PREFIX):
                break
            related_block.append(line)
        elif stripped == _RELATED_HEADER:
            related_block = []
        elif overview is None and (m := _OVERVIEW_RE.match(stripped)):
            overview = m.group(1)
        else:
            head.append(line)

    if overview is None and not any(_FIELD_RE.match(line) for line in head):
        raise ParseError(
            f"expected {_EXPECTED}, found no '論文の概要:' line and no '- Key:' fields",
            url=ctx.url,
            kind=kind,
        )
    entries: list[Entry] = []
    main = _main_entry(overview, head, report, ctx.url)
    if main is not None:
        entries.append(main)
    if related_block is not None:
        entries.extend(_related("\n".join(related_block), report))
    if not entries:
        raise ParseError(
            f"expected {_EXPECTED}, found no readable paper ({'; '.join(report.problems)})",
            url=ctx.url,
            kind=kind,
        )
    return ParsedDocument(
        kind=kind,
        entries=tuple(entries),
        skipped=report.skipped,
        problems=tuple(report.problems),
        title=main.title if main is not None else clean_text(overview or "") or None,
    )
