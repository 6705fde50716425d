"""DAIR.AI "ML Papers of the Week" parser: the README's weekly Markdown tables.

Each row ``| N) <paper> | <links> |`` is a pick at place N, published on the week's first
day, with its Paper link as ``url``. Headings without a year are dated by
``_resolve_dates``; a week nothing dates keeps ``published = None``.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from digests.errors import ParseError
from digests.model import Entry, Links, ParseContext, ParsedDocument, Signals, SourceKind
from digests.normalize import (
    ArxivId,
    arxiv_abs_url,
    arxiv_pdf_url,
    clean_text,
    find_arxiv_id,
    normalize_doi,
)

logger = logging.getLogger(__name__)

_KIND = SourceKind.WEEKLY_MD

_SECTION_RE = re.compile(
    r"^##\s+Top\s+(?:ML|AI)\s+Papers\s+of\s+the\s+Week\s*"
    r"\((?P<range>[^)]*)\)\s*(?:[-–—,:]?\s*(?P<year>\d{4})\b)?",
    re.IGNORECASE,
)
_RANGE_RE = re.compile(
    r"^\s*(?P<m1>[A-Za-z]{3,9})\.?\s*(?P<d1>\d{1,2})(?:st|nd|rd|th)?(?:,?\s*(?P<y1>\d{4}))?"
    r"\s*(?:[-–—]|to)\s*"
    r"(?:(?P<m2>[A-Za-z]{3,9})\.?\s*)?(?P<d2>\d{1,2})(?:st|nd|rd|th)?(?:,?\s*(?P<y2>\d{4}))?"
    r"\s*$",
    re.IGNORECASE,
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_DELIMITER_CHARS_RE = re.compile(r"^[|:\-\s]+$")
_DELIMITER_CELL_RE = re.compile(r"^\s*:?-{3,}:?\s*$")
_NUMBER_RE = re.compile(r"^\s*(\d{1,3})\s*[).]\s*")
_BOLD_TITLE_RE = re.compile(r"^\*\*(?P<title>.+?)\*\*\s*(?:[-–—:]\s*)?")
# The 2025 layout: the title ends at the first run of 2+ spaces or the first <br>.
_TITLE_END_RE = re.compile(r"\s{2,}|<br\s*/?>", re.IGNORECASE)
_DASH_SPLIT_RE = re.compile(r"\s+[-–—]\s+")
_LINK_RE = re.compile(r"\[(?P<label>[^\]]*)\]\(\s*<?(?P<url>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# Markdown to plain text, in one pass per construct.
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Links and images keep their text. Two patterns: a leading "!?" would stop the regex
# engine from skipping ahead to "[" and made this pass far slower.
_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_INLINE_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_AUTOLINK_RE = re.compile(r"<(https?://[^>\s]+)>")
# Only real inline HTML tags go: "(<IS>)" in a summary is text, not a tag.
_HTML_TAG_RE = re.compile(
    r"</?(?:b|i|u|s|em|strong|sup|sub|code|span|a|p|del|strike|mark|small|kbd)\b[^<>]*>",
    re.IGNORECASE,
)
_MARKER_RE = re.compile(r"[*`]+")
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|&<>~])")
# A line break and the bullet that starts the next line, in one pass.
_BR_BULLET_RE = re.compile(r"<br\s*/?>\s*(?:(?:[●•▪◦]|[-*+](?=\s))\s*)?", re.IGNORECASE)
_H1_RE = re.compile(r"^#\s+(.+)$")


@dataclass
class _Section:
    """One week's heading and the raw rows of its table."""

    heading: str
    month: int | None = None
    day: int | None = None
    start: date | None = None
    rows: list[str] = field(default_factory=list)
    parsed: list[_Row | str] = field(default_factory=list)  # a _Row, or why it was skipped


@dataclass(frozen=True, slots=True)
class _Row:
    """One table row, read but not yet dated."""

    position: int
    title: str
    summary: str | None
    url: str | None
    ref: ArxivId | None
    code: str | None
    other: tuple[str, ...]


def parse_weekly_md(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """The ML Papers of the Week README; rows that cannot be read are skipped and counted."""
    if not data.strip():
        raise ParseError(
            "expected the ML Papers of the Week Markdown, got an empty document",
            url=ctx.url,
            kind=_KIND.value,
        )
    text = data.decode("utf-8-sig", errors="replace")
    title, sections = _split(text)
    if not sections:
        head = text[:200].lstrip().lower()
        got = "an HTML page" if head.startswith(("<!doctype html", "<html")) else "no week sections"
        raise ParseError(
            "expected the ML Papers of the Week Markdown "
            f"('## Top ML Papers of the Week (...)' sections), got {got}",
            url=ctx.url,
            kind=_KIND.value,
        )
    problems: list[str] = []
    for section in sections:
        section.parsed = [_read_row(row, index) for index, row in enumerate(section.rows, 1)]
    _resolve_dates(sections, ctx.fetched_at, problems)
    entries: list[Entry] = []
    skipped = 0
    for section in sections:
        if not section.rows:
            problems.append(f"{section.heading}: no table rows")
        for index, row in enumerate(section.parsed, start=1):
            if isinstance(row, str):
                skipped += 1
                reason = f"{section.heading}: row {index} skipped: {row}"
                logger.warning("%s: %s", ctx.url or "<no url>", reason)
                problems.append(reason)
            else:
                entries.append(_entry(row, section.start))
    return ParsedDocument(
        kind=_KIND,
        entries=tuple(entries),
        skipped=skipped,
        problems=tuple(problems),
        title=title,
    )


# --- the page's structure ----------------------------------------------------------------


def _split(text: str) -> tuple[str | None, list[_Section]]:
    """The page title and its week sections, each with its table's body rows."""
    title: str | None = None
    sections: list[_Section] = []
    current: _Section | None = None
    # A table's header row is only known to be one when the delimiter row follows it.
    pending: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            if current is None:
                continue
            if _is_delimiter(stripped):
                pending = None
            else:
                if pending is not None:
                    current.rows.append(pending)
                pending = stripped
            continue
        if pending is not None and current is not None:
            current.rows.append(pending)
        pending = None
        if stripped.startswith("## "):
            current = _section(stripped)
            if current is not None:
                sections.append(current)
        elif title is None and stripped.startswith("# "):
            m = _H1_RE.match(stripped)
            title = _plain_line(m.group(1)) if m else None
    if pending is not None and current is not None:
        current.rows.append(pending)
    return title, sections


def _section(heading: str) -> _Section | None:
    m = _SECTION_RE.match(heading)
    if m is None:
        return None
    section = _Section(heading=clean_text(heading.lstrip("#")))
    r = _RANGE_RE.match(m["range"])
    if r is None:
        return section
    month, end_month = _month(r["m1"]), _month(r["m2"] or r["m1"])
    if month is None or end_month is None:
        return section
    section.month, section.day = month, int(r["d1"])
    end_day = int(r["d2"])
    year = r["y1"]
    if year is not None:
        section.start = _date(int(year), month, section.day)
        return section
    end_year = r["y2"] or m["year"]
    if end_year is not None:
        # The written year is the week's last day's; a December start is the year before.
        wraps = (month, section.day) > (end_month, end_day)
        section.start = _date(int(end_year) - (1 if wraps else 0), month, section.day)
    return section


def _is_delimiter(row: str) -> bool:
    # Cheap test first: a delimiter row has nothing but pipes, colons, dashes and spaces.
    if not _DELIMITER_CHARS_RE.match(row):
        return False
    cells = _cells(row)
    return bool(cells) and all(_DELIMITER_CELL_RE.match(c) for c in cells)


def _cells(row: str) -> list[str]:
    row = row.strip()
    # The lookbehind split is slow on long rows; most rows have no escaped pipe.
    parts = _CELL_SPLIT_RE.split(row) if "\\|" in row else row.split("|")
    if parts and not parts[0].strip():
        parts = parts[1:]
    if parts and not parts[-1].strip():
        parts = parts[:-1]
    return [p.strip() for p in parts]


# --- dates -------------------------------------------------------------------------------


def _month(name: str) -> int | None:
    return _MONTHS.get(name[:3].lower())


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _closest(month: int, day: int, anchor: date) -> date | None:
    """The date (month, day) in the year that puts it nearest to ``anchor``."""
    candidates = [
        d for y in (anchor.year - 1, anchor.year, anchor.year + 1) if (d := _date(y, month, day))
    ]
    return min(candidates, key=lambda d: abs(d - anchor), default=None)


def _newest_arxiv_month(section: _Section) -> date | None:
    """The middle of the month of the newest new-style arXiv id among the rows."""
    yymm = max(
        (
            row.ref.id[:4]
            for row in section.parsed
            if isinstance(row, _Row) and row.ref is not None and "." in row.ref.id
        ),
        default=None,
    )
    if yymm is None:
        return None
    return _date(2000 + int(yymm[:2]), int(yymm[2:]), 15)


def _latest_not_after(month: int, day: int, limit: date) -> date | None:
    candidates = [d for y in (limit.year - 1, limit.year) if (d := _date(y, month, day))]
    return max((d for d in candidates if d <= limit), default=None)


def _resolve_dates(
    sections: list[_Section], fetched_at: datetime | None, problems: list[str]
) -> None:
    """Fill in the years the headings leave out, first rule that applies:

    1. the newest new-style arXiv id in the section's rows: the year that puts its first
       day closest to the middle of that id's month;
    2. when nothing on the page is dated, the newest section takes the latest date not
       after ``fetched_at``;
    3. its neighbours: a week per section from the nearest dated section, newer first;
    4. else ``published`` stays None (noted in ``problems``): a guessed year would
       misfile the week by a whole year.
    """
    week = timedelta(days=7)
    for s in sections:
        if s.start is None and s.month is not None and s.day is not None:
            newest = _newest_arxiv_month(s)
            if newest is not None:
                s.start = _closest(s.month, s.day, newest)
    if fetched_at is not None and all(s.start is None for s in sections):
        first = next((s for s in sections if s.month is not None and s.day is not None), None)
        if first is not None and first.month is not None and first.day is not None:
            first.start = _latest_not_after(first.month, first.day, fetched_at.date())
    # Looking up the page: the nearest newer dated section.
    anchor: tuple[int, date] | None = None
    for i, s in enumerate(sections):
        if s.start is None and anchor is not None and s.month is not None and s.day is not None:
            s.start = _closest(s.month, s.day, anchor[1] - week * (i - anchor[0]))
        if s.start is not None:
            anchor = (i, s.start)
    # Looking down the page, for undated sections above every dated one.
    anchor = None
    for i in range(len(sections) - 1, -1, -1):
        s = sections[i]
        if s.start is None and anchor is not None and s.month is not None and s.day is not None:
            s.start = _closest(s.month, s.day, anchor[1] + week * (anchor[0] - i))
        if s.start is not None:
            anchor = (i, s.start)
    for s in sections:
        if s.start is None:
            problems.append(f"{s.heading}: no date could be worked out for this week")


# --- rows --------------------------------------------------------------------------------


def _read_row(row: str, index: int) -> _Row | str:
    """A row's fields, or the reason the row cannot be read."""
    cells = _cells(row)
    if not cells:
        return "empty row"
    paper_cell = cells[0]
    links_cell = " ".join(cells[1:])
    m = _NUMBER_RE.match(paper_cell)
    # Rows are numbered "N)"; an unnumbered row keeps its place in the table.
    position = int(m.group(1)) if m else index
    body = paper_cell[m.end() :] if m else paper_cell
    raw_title, raw_summary = _title_and_summary(body)
    title = _plain_line(raw_title)
    if not title:
        return "no title"
    links = [(label.strip().casefold(), url) for label, url in _LINK_RE.findall(links_cell)]
    paper = next((url for label, url in links if label == "paper"), None)
    if paper is None:
        paper = next((url for label, url in links if not _is_post(label, url)), None)
    ref = find_arxiv_id(paper) if paper else None
    if ref is None:
        ref = next(
            (r for label, url in links if not _is_post(label, url) and (r := find_arxiv_id(url))),
            None,
        )
    code = next((url for label, url in links if label == "code" or "github.com/" in url), None)
    return _Row(
        position=position,
        title=title,
        summary=_plain(raw_summary),
        url=paper,
        ref=ref,
        code=code,
        other=tuple(dict.fromkeys(url for _, url in links if url not in (paper, code))),
    )


def _entry(row: _Row, start: date | None) -> Entry:
    ref, paper = row.ref, row.url
    return Entry(
        title=row.title,
        arxiv_id=ref.id if ref else None,
        arxiv_version=ref.version if ref else None,
        doi=normalize_doi(paper) if paper and "doi.org/" in paper.lower() else None,
        url=paper,
        summary=row.summary,
        summary_lang="en",
        links=Links(
            abs=arxiv_abs_url(ref.id) if ref else paper,
            pdf=arxiv_pdf_url(ref.id) if ref else None,
            code=row.code,
            other=row.other,
        ),
        published=datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None,
        signals=Signals(position=row.position, pick=True),
        source_item_id=f"{start.isoformat()}#{row.position}" if start else None,
    )


def _title_and_summary(body: str) -> tuple[str, str]:
    bold = _BOLD_TITLE_RE.match(body)
    if bold:
        return bold["title"], body[bold.end() :]
    end = _TITLE_END_RE.search(body)
    if end:
        return body[: end.start()], body[end.start() :]
    # Neither layout: "Title - summary" is the likeliest remaining shape.
    dash = _DASH_SPLIT_RE.search(body)
    if dash:
        return body[: dash.start()], body[dash.end() :]
    return body, ""


def _is_post(label: str, url: str) -> bool:
    """A link to a social-media post about the paper, not to the paper."""
    return label in {"tweet", "thread", "post", "x"} or "twitter.com/" in url or "//x.com/" in url


def _plain(markdown: str) -> str | None:
    """Markdown to plain text: ``<br>`` and bullets become lines, markup goes."""
    text = _BR_BULLET_RE.sub("\n", markdown) if "<" in markdown else markdown
    lines = (_squash(line) for line in _inline(text).split("\n"))
    return "\n".join(line for line in lines if line) or None


def _plain_line(markdown: str) -> str:
    return _squash(_inline(_BR_RE.sub(" ", markdown)))


def _squash(text: str) -> str:
    """``clean_text`` by ``str.split``: the same whitespace runs, many times faster."""
    return " ".join(text.split())


def _drop_emphasis(text: str) -> str:
    """``**bold**``, ``*em*`` and code ticks go; an escaped ``\\*`` and ``5 * 3`` stay.

    The markers are found by a plain character scan and judged by their neighbours in
    Python: a regex with lookbehinds at every position was far slower.
    """

    def judge(m: re.Match[str]) -> str:
        run, start, end = m.group(), m.start(), m.end()
        before = text[start - 1] if start else " "
        if before == "\\":
            return run
        after = text[end] if end < len(text) else " "
        stars = run.replace("`", "")
        if len(stars) != 1:
            return ""
        opens = not (before.isalnum() or before == "_") and not after.isspace()
        closes = not before.isspace() and not (after.isalnum() or after == "_")
        return "" if opens or closes else stars

    if "\\" not in text:
        # Bold is the common case and needs no judging when nothing is escaped.
        text = text.replace("**", "")
    return _MARKER_RE.sub(judge, text) if "*" in text or "`" in text else text


def _inline(text: str) -> str:
    # Each pass runs only when its marker character is present: most summaries have
    # none of them.
    if "[" in text:
        if "![" in text:
            text = _IMAGE_RE.sub(r"\1", text)
        text = _INLINE_LINK_RE.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK_RE.sub(r"\1", text)
        text = _HTML_TAG_RE.sub("", text)
    if "*" in text or "`" in text:
        text = _drop_emphasis(text)
    if "\\" in text:
        text = _ESCAPE_RE.sub(r"\1", text)
    if "&" in text:
        text = html.unescape(text)
    return text


__all__ = ["parse_weekly_md"]
