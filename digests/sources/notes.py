"""Parse a paper-notes tag page (Jekyll HTML or its rendered text) into entries.

A note gives ``#Tag`` labels, ``Issue Date:``, a ``Title, First Author+, Venue`` heading, a
machine ``Summary`` and the curator's ``Comment``. Ids and the paper's URL come from the
comment only when it names exactly one paper: a wrong id would merge two papers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from urllib.parse import SplitResult, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from digests.errors import ParseError
from digests.model import Entry, Links, ParseContext, ParsedDocument, Signals, SourceKind
from digests.normalize import arxiv_abs_url, clean_text, normalize_tag
from digests.sources._text import (
    Report,
    arxiv_ids_in,
    decode,
    dois_in,
    find_urls,
    lang_of,
    parse_day,
)

logger = logging.getLogger(__name__)

# --- headings: "Title, First Author+, Venue" ---------------------------------------------

_SEG_SPLIT_RE = re.compile(r"\s*,\s+")
# "Bill Yuchen Lin+" and "Och+", but not "Giza++" or "C++" (a tool or language name).
_AUTHOR_SEG_RE = re.compile(r"^[^\W\d_][^,+]{0,60}?[^\W_+]\+$")
_AUTHOR_IN_TEXT_RE = re.compile(r",\s+[^\W\d_][^,+\n]{0,60}?[^\W_+]\+(?=[,\s]|$)")
# "arXiv'25", "CL03", "LYCorp‘23", "SIGIR’99.", "2024.12"
_VENUE_RE = re.compile(r"^(?:\S*?[A-Za-z_]['‘’]?\d{2}\.?|\d{4}\.\d{1,2})$")
# Older notes: "Title. Author et al. SIGIR’99."
_DOTTED_HEADING_RE = re.compile(
    r"^(?P<title>.+?)\.\s+(?P<authors>[^.]{2,80}?)(?:\s+et al)?\.\s+(?P<venue>\S+?['‘’]\d{2}\.?)$"
)
_NAME_LIKE_RE = re.compile(r"^[^\s:：]+(?:\s[^\s:：]+){0,4}$")


@dataclass(frozen=True, slots=True)
class Heading:
    title: str
    authors: tuple[str, ...] = ()
    venue: str | None = None


def split_heading(text: str) -> Heading:
    """Split ``Title, First Author+, Venue`` (titles may hold commas) into its parts.

    >>> split_heading("RoleLLM: Benchmarking, Eliciting, and Enhancing, Zekun Wang+, N_A, arXiv23")
    Heading(title='RoleLLM: Benchmarking, Eliciting, and Enhancing', authors=('Zekun Wang',), venue='N_A, arXiv23')
    """  # noqa: E501
    text = clean_text(text)
    segs = _SEG_SPLIT_RE.split(text)
    # The first author is the first segment after the title that ends in a single "+".
    for i in range(1, len(segs)):
        if _AUTHOR_SEG_RE.match(segs[i]):
            venue = ", ".join(segs[i + 1 :]) or None
            return Heading(", ".join(segs[:i]), (segs[i][:-1].strip(),), venue)
    m = _DOTTED_HEADING_RE.match(text)
    if m:
        return Heading(m["title"], (m["authors"],), m["venue"])
    if len(segs) >= 2 and _VENUE_RE.match(segs[-1]):
        venue, rest = segs[-1], segs[:-1]
        # "Title, Org, 2024.12": a short last part before the date names who wrote it.
        if len(rest) >= 2 and _NAME_LIKE_RE.match(rest[-1]):
            return Heading(", ".join(rest[:-1]), (rest[-1],), venue)
        return Heading(", ".join(rest), (), venue)
    # No recognisable author or venue: keep it all rather than guess where the title ends.
    return Heading(text)


# --- building entries ------------------------------------------------------------------------


def _is_pick(slug: str) -> bool:
    # "Admin'sPick", "admins-pick", "Admin’s Pick" all fold to this.
    return slug.replace("-", "") == "adminspick"


# A page repeats a few dozen labels thousands of times; normalizing is pure, so remember it.
_normalize_tag = lru_cache(maxsize=4096)(normalize_tag)


def _tags(raw: list[str], page_tag: str | None) -> tuple[tuple[str, ...], bool]:
    seen: dict[str, str] = {}
    pick = False
    for label in [*raw, *([page_tag] if page_tag else [])]:
        tag = _normalize_tag(label)
        if tag is not None and tag.slug not in seen:
            seen[tag.slug] = tag.display
            pick = pick or _is_pick(tag.slug)
    return tuple(seen.values()), pick


def _clean_comment(text: str) -> str | None:
    """Strip lines and drop the "image" placeholders left where pictures were."""
    lines = [line.strip() for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line.casefold() == "image":
            continue
        if not line and (not kept or not kept[-1]):
            continue
        kept.append(line)
    out = "\n".join(kept).strip()
    return out or None


@dataclass
class _Note:
    tags: list[str] = field(default_factory=list)
    date_text: str | None = None
    heading: str | None = None
    href: str | None = None
    summary: str | None = None
    comment: str | None = None

    def empty(self) -> bool:
        return not (self.tags or self.date_text or self.heading or self.href)


def _entry(note: _Note, page_tag: str | None, report: Report) -> Entry | None:
    where = f"Issue Date {note.date_text}" if note.date_text else "an entry"
    heading = split_heading(note.heading or "")
    if not heading.title:
        report.skip(f"{where}: no title")
        return None
    published = None
    if note.date_text is not None:
        published = parse_day(note.date_text)
        if published is None:
            report.note(f"{heading.title[:60]}: unreadable issue date {note.date_text!r}")
    tags, pick = _tags(note.tags, page_tag)
    comment = note.comment
    urls = find_urls(comment) if comment else []
    arxiv_ids = arxiv_ids_in(comment, urls) if comment else []
    dois = dois_in(urls)
    arxiv = arxiv_ids[0] if len(arxiv_ids) == 1 else None
    paper_urls = [u for u in urls if _is_paper_url(u)]
    other = tuple(dict.fromkeys([*([note.href] if note.href else []), *paper_urls]))
    code = [u for u in urls if _is_code_url(u)]
    summary = note.summary or None
    return Entry(
        title=heading.title,
        arxiv_id=arxiv.id if arxiv else None,
        arxiv_version=arxiv.version if arxiv else None,
        doi=dois[0] if len(dois) == 1 else None,
        url=arxiv_abs_url(arxiv.id) if arxiv else None,
        authors=heading.authors,
        summary=summary,
        summary_lang=lang_of(summary) if summary else None,
        comment=comment,
        links=Links(
            abs=arxiv_abs_url(arxiv.id) if arxiv else None,
            code=code[0] if len(set(code)) == 1 else None,
            other=other,
        ),
        tags=tags,
        published=published,
        signals=Signals(pick=pick),
        source_item_id=note.href,
    )


_PAPER_HOSTS = ("arxiv.org", "openreview.net", "doi.org", "aclanthology.org")


def _split(url: str) -> SplitResult:
    """``urlsplit`` that reads a broken URL (``https://[``) as an empty one instead of failing."""
    try:
        return urlsplit(url)
    except ValueError:
        return urlsplit("")


def _on_host(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _is_paper_url(url: str) -> bool:
    host = _split(url).netloc.lower()
    return any(_on_host(host, d) for d in _PAPER_HOSTS) or (
        _on_host(host, "huggingface.co") and "/papers/" in url
    )


def _is_code_url(url: str) -> bool:
    host = _split(url).netloc.lower()
    path = _split(url).path.strip("/").split("/")
    # A repository link: github.com/<owner>/<repo>, not the notes' own issue tracker.
    return host in {"github.com", "www.github.com"} and len(path) >= 2 and "issues" not in path


def _page_tag_from_url(url: str | None) -> str | None:
    if not url:
        return None
    path = PurePosixPath(_split(url).path)
    if path.parent.name == "articles" and path.suffix in {".html", ".xml", ".md"}:
        return path.stem or None
    return None


def _finish(
    *,
    kind: SourceKind,
    entries: list[Entry],
    report: Report,
    title: str | None,
    expected: str,
    url: str | None,
) -> ParsedDocument:
    if not entries:
        detail = (
            f"; {report.skipped} skipped, first: {report.problems[0]}" if report.skipped else ""
        )
        raise ParseError(
            f"expected {expected}, found no readable entry{detail}", url=url, kind=kind
        )
    return ParsedDocument(
        kind=kind,
        entries=tuple(entries),
        skipped=report.skipped,
        problems=tuple(report.problems),
        title=title,
    )


# --- HTML ---------------------------------------------------------------------------------

_FRONT_TITLE_RE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)
_MD_HEADING_RE = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_EXPECTED = (
    'a paper-notes tag page in HTML (entries of <a class="button"> tags, '
    '<span class="issue_date">, a title link and snippets)'
)


def _snippet(node: LexborNode) -> tuple[str, str]:
    """``(label, text)`` of ``<span class="snippet"><span>Label</span>text</span>``."""
    # The first child element is the label (``css_first`` would match the snippet itself).
    label_node = next(node.iter(), None)
    label = clean_text(label_node.text()) if label_node is not None else ""
    text = clean_text(node.text())
    if label and text.startswith(label):
        text = text[len(label) :].lstrip()
    return label, text


def _page_heading_html(tree: LexborHTMLParser) -> tuple[str | None, str | None]:
    """``(page tag, page title)`` from rendered headings or the Jekyll source's text."""
    body = tree.body
    preamble: list[str] = []
    if body is not None:
        # Front matter and "## Tag" come before the first element in the Jekyll source.
        for node in body.iter(include_text=True):
            if not node.is_text_node:
                break
            preamble.append(node.text(deep=False))
    text = "".join(preamble)
    tag_m = _MD_HEADING_RE.search(text)
    title_m = _FRONT_TITLE_RE.search(text)
    page_tag = tag_m.group(1) if tag_m else None
    title = title_m.group(1) if title_m else None
    if page_tag is None:
        h2 = tree.css_first("h2")
        page_tag = clean_text(h2.text()) if h2 is not None else None
    if title is None:
        title_node = tree.css_first("title")
        title = clean_text(title_node.text()) if title_node is not None else None
    return page_tag or None, title or None


def parse_notes_html(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """Read a paper-notes tag page in HTML, hidden (``more``) entries included."""
    kind = SourceKind.NOTES_HTML
    tree = LexborHTMLParser(decode(data))
    report = Report(logger, ctx.url)
    page_tag, title = _page_heading_html(tree)
    page_tag = page_tag or _page_tag_from_url(ctx.url)
    root = tree.body
    if root is None:
        raise ParseError(f"expected {_HTML_EXPECTED}, got no HTML body", url=ctx.url, kind=kind)

    entries: list[Entry] = []
    note = _Note()

    def flush() -> None:
        nonlocal note
        if not note.empty():
            entry = _entry(note, page_tag, report)
            if entry is not None:
                entries.append(entry)
        note = _Note()

    # The entries are not wrapped in elements of their own: they are runs of siblings, so
    # a note ends where the next one's tags (or date) begin. One selector pass yields the
    # parts in document order; links inside a snippet are part of its text, not titles.
    parts = root.css("a, span.issue_date, span.snippet")
    nested = {n.mem_id for n in root.css("span.snippet a, span.snippet span.snippet")}
    buttons = {n.mem_id for n in root.css("a.button")}
    dates = {n.mem_id for n in root.css("span.issue_date")}
    for node in parts:
        node_id = node.mem_id
        if node_id in nested:
            continue
        if node_id in buttons:
            if note.date_text is not None or note.href is not None:
                flush()
            label = node.text().strip()
            if not label:
                label = PurePosixPath(_split(node.attributes.get("href") or "").path).stem
            if label:
                note.tags.append(label)
        elif node_id in dates:
            if note.date_text is not None or note.href is not None:
                flush()
            note.date_text = clean_text(node.text()).removeprefix("Issue Date:").strip()
        elif node.tag == "a":
            if note.href is None and (note.date_text is not None or note.tags):
                note.href = node.attributes.get("href") or None
                note.heading = node.text()  # split_heading cleans it
        elif note.href is not None or note.heading is not None:
            label, text = _snippet(node)
            if label.casefold() == "summary":
                note.summary = text or None
            elif label.casefold() == "comment":
                note.comment = text or None
    flush()
    return _finish(
        kind=kind,
        entries=entries,
        report=report,
        title=title,
        expected=_HTML_EXPECTED,
        url=ctx.url,
    )


# --- rendered text ------------------------------------------------------------------------

_ISSUE_DATE_RE = re.compile(r"Issue Date:\s*(\S+)")
_PAPER_NOTE_RE = re.compile(r"^\s*\[Paper Note\]\s*")
# "Summary"/"Comment" labels run straight into their text ("Summary本研究…"); a space after
# the word means it is part of a title ("Human-Written Summary Sentences").
_MARKER_RE = re.compile(r"(?:(?<=\s)|^)(Summary|Comment)(?=[^\s:：,.;)\]-])")
_COMMENT_RE = re.compile(r"(?:(?<=\s)|^)Comment(?=[^\s:：,.;)\]-])")
_TEXT_EXPECTED = (
    "a paper-notes tag page as text (a tag line, then entries of "
    "'#Tag …', 'Issue Date: YYYY-MM-DD', 'Title, Author+, Venue', Summary…, Comment…)"
)


# The run of "#Tag" labels that ends a stretch of text, read on the reversed text so that
# an anchored match finds it in time proportional to the run, whatever precedes it.
# "#Supervised-FineTuning (SFT)" reversed is ")TFS( gninuTeniF-desivrepuS#"; the "#" must
# open its token (whitespace or the start of the text before it).
_REVERSED_TAG_RUN_RE = re.compile(r"\s*(?:(?:\)[^()\n]{1,60}\([ \t]+)?[^\s#]+#(?=\s|\Z)\s*)+")
_TAG_RE = re.compile(r"#[^\s#]+(?:[ \t]+\([^()\n]{1,60}\))?")
_TAG_RUN_WINDOW = 4096


def _trailing_tags(text: str) -> tuple[int, list[str]]:
    """The run of ``#Tag`` labels that ends ``text``: ``(where it starts, labels)``.

    Labels may carry a parenthesised part after a space: ``#Supervised-FineTuning (SFT)``.
    """
    window = text[-_TAG_RUN_WINDOW:]
    m = _REVERSED_TAG_RUN_RE.match(window[::-1])
    if m is None:
        return len(text), []
    run = window[len(window) - m.end() :]
    start = len(text) - len(run.lstrip())
    # Labels are cleaned once, cached, by normalize_tag when the entry is built.
    return start, [tag[1:] for tag in _TAG_RE.findall(run)]


def _parse_note_body(body: str, note: _Note) -> None:
    """Fill heading / summary / comment from ``[Paper Note] Title, A+, V Summary… Comment…``."""
    body = _PAPER_NOTE_RE.sub("", body, count=1)
    author = _AUTHOR_IN_TEXT_RE.search(body, 0, 600)
    marker = _MARKER_RE.search(body, author.end() if author else 0)
    if marker is None:
        note.heading = body
        return
    note.heading = body[: marker.start()]
    rest_start = marker.end()
    if marker.group(1) == "Summary":
        comment = _COMMENT_RE.search(body, rest_start)
        summary_end = comment.start() if comment else len(body)
        note.summary = clean_text(body[rest_start:summary_end]) or None
        if comment is not None:
            note.comment = _clean_comment(body[comment.end() :])
    else:
        note.comment = _clean_comment(body[rest_start:])


def _page_tag_text(preamble: str) -> str | None:
    for raw in preamble.splitlines():
        line = raw.strip()
        if line:
            # A page title, not a sentence: short, and not a run of tags.
            if len(line) <= 80 and line.count("#") <= 1:
                return line.lstrip("#＃").strip() or None
            return None
    return None


def parse_notes_text(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """Read the rendered-text form of a paper-notes tag page.

    The first line is the page's tag. Entries are anchored on ``Issue Date:``; an entry's
    text runs to the ``#Tag`` run that opens the next one (entries may share a line).
    """
    kind = SourceKind.NOTES_TEXT
    text = decode(data)
    report = Report(logger, ctx.url)
    anchors = list(_ISSUE_DATE_RE.finditer(text))
    if not anchors:
        raise ParseError(
            f"expected {_TEXT_EXPECTED}, found no 'Issue Date:'", url=ctx.url, kind=kind
        )

    run_start, first_tags = _trailing_tags(text[: anchors[0].start()])
    page_tag = _page_tag_text(text[:run_start]) or _page_tag_from_url(ctx.url)
    entries: list[Entry] = []
    tags = first_tags
    for i, anchor in enumerate(anchors):
        seg_end = anchors[i + 1].start() if i + 1 < len(anchors) else len(text)
        segment = text[anchor.end() : seg_end]
        next_tags: list[str] = []
        if i + 1 < len(anchors):
            cut, next_tags = _trailing_tags(segment)
            segment = segment[:cut]
        note = _Note(tags=tags, date_text=anchor.group(1))
        _parse_note_body(segment, note)
        entry = _entry(note, page_tag, report)
        if entry is not None:
            entries.append(entry)
        tags = next_tags
    return _finish(
        kind=kind,
        entries=entries,
        report=report,
        title=page_tag,
        expected=_TEXT_EXPECTED,
        url=ctx.url,
    )
