"""Parse a weekly paper list translated to Japanese (DAIR.AI's weekly, translated) into entries.

``title`` is the English title (so dedupe works), ``title_alt`` the Japanese one; ``summary``
is the Japanese introduction, ``comment`` the curator's English one. Every paper is a pick
at its place in the list; a block without a link is skipped, the link being its identity.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from digests.errors import ParseError
from digests.model import Entry, Links, ParseContext, ParsedDocument, Signals, SourceKind
from digests.normalize import arxiv_abs_url, clean_text, find_arxiv_id, normalize_doi
from digests.sources._text import Report, decode, find_urls, has_japanese, parse_day

logger = logging.getLogger(__name__)

_EXPECTED = (
    "a translated weekly paper list ('JP title / EN title' lines, each followed by "
    "論文紹介, 論文要旨 and 論文リンク sections)"
)
_INTRO = frozenset({"論文紹介", "研究紹介"})
_LINKS = frozenset({"論文リンク", "研究および論文リンク", "研究リンク", "論文および研究リンク"})
_MORE = frozenset({"さらに読む", "もっと読む", "関連リンク"})
_END = frozenset({"原文"})
_ABSTRACT_PREFIX = "論文要旨"
_POSTED_RE = re.compile(r"投稿者\s+\S+\s+(\d{4}-\d{2}-\d{2})")


def _section(line: str) -> str | None:
    if line in _INTRO:
        return "intro"
    if line.startswith(_ABSTRACT_PREFIX) and len(line) <= 20:
        return "abstract"
    if line in _LINKS:
        return "links"
    if line in _MORE:
        return "more"
    if line in _END:
        return "end"
    return None


def split_title(line: str) -> tuple[str, str | None]:
    """``"JP / EN"`` -> ``(EN, JP)``; a line in one language -> ``(line, None)``.

    The split is the first `` / `` with no Japanese after it, so a slash inside either
    title survives.
    """
    line = clean_text(line)
    start = 0
    while (i := line.find(" / ", start)) != -1:
        left, right = line[:i].strip(), line[i + 3 :].strip()
        if left and right and has_japanese(left) and not has_japanese(right):
            return right, left
        start = i + 1
    return line, None


@dataclass
class _Block:
    title_line: str
    intro: list[str] = field(default_factory=list)
    abstract: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    more: list[str] = field(default_factory=list)


def _paragraphs_by_lang(lines: list[str]) -> tuple[str | None, str | None]:
    """``(japanese, english)`` text of a section holding both versions."""
    ja: list[str] = []
    en: list[str] = []
    for line in lines:
        text = line.removeprefix(">").strip()
        if text:
            (ja if has_japanese(text) else en).append(text)
    # Lines are stripped already; joining them is all the cleaning English needs.
    return ("\n".join(ja) or None), (" ".join(en) or None)


def _paper_url(urls: list[str]) -> str | None:
    for url in urls:
        if find_arxiv_id(url) is not None:
            return url
    for url in urls:
        if urlsplit(url).path.lower().endswith(".pdf"):
            return url
    return urls[0] if urls else None


def _code_url(urls: list[str]) -> str | None:
    for url in urls:
        parts = urlsplit(url)
        if parts.netloc.lower() in {"github.com", "www.github.com"} and parts.path.count("/") >= 2:
            return url
    return None


def _blocks(lines: list[str]) -> tuple[list[_Block], list[str]]:
    """Cut the page into paper blocks; also return the lines before the first one."""
    stripped = [line.strip() for line in lines]
    sections = [_section(line) if line else None for line in stripped]
    # A block opens at its introduction header; its title is the last non-empty line
    # before that header, unless that line is a URL or a header (a block without title).
    opens: list[tuple[int, int | None]] = []  # (where the block's lines start, title line)
    last_text = -1
    for i, line in enumerate(stripped):
        if sections[i] == "intro":
            floor = opens[-1][0] if opens else -1
            candidate = stripped[last_text] if last_text > floor else ""
            if candidate and sections[last_text] is None and "://" not in candidate:
                opens.append((last_text, last_text))
            else:
                opens.append((i, None))
        if line:
            last_text = i
    if not opens:
        return [], stripped
    blocks: list[_Block] = []
    for n, (start, title_at) in enumerate(opens):
        end = opens[n + 1][0] if n + 1 < len(opens) else len(stripped)
        block = _Block(title_line=stripped[title_at] if title_at is not None else "")
        targets = {
            "intro": block.intro,
            "abstract": block.abstract,
            "links": block.links,
            "more": block.more,
        }
        current: list[str] | None = None
        for i in range(start + 1 if title_at is not None else start, end):
            section = sections[i]
            if section == "end":
                break
            if section is not None:
                current = targets[section]
            elif current is not None and stripped[i]:
                current.append(stripped[i])
        blocks.append(block)
    return blocks, stripped[: opens[0][0]]


def parse_weekly_ja(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """Read every paper block of a translated weekly list, in the page's order."""
    kind = SourceKind.WEEKLY_JA
    report = Report(logger, ctx.url)
    blocks, preamble = _blocks(decode(data).splitlines())
    if not blocks:
        raise ParseError(f"expected {_EXPECTED}, found no paper block", url=ctx.url, kind=kind)

    posted = None
    for line in preamble:
        m = _POSTED_RE.search(line)
        if m:
            posted = parse_day(m.group(1))
            break
    if posted is None:
        posted = next((d for d in map(parse_day, preamble) if d is not None), None)
    if posted is None:
        report.note("no page date (expected '投稿者 NAME YYYY-MM-DD' at the top)")

    entries: list[Entry] = []
    position = 0
    for block in blocks:
        position += 1
        title, title_alt = split_title(block.title_line)
        where = f"paper {position}"
        if not title:
            report.skip(f"{where}: no title line before its introduction")
            continue
        paper_links = [u for line in block.links for u in find_urls(line)]
        more_links = [u for line in block.more for u in find_urls(line)]
        url = _paper_url(paper_links)
        if url is None:
            report.skip(f"{where} ({title[:60]}): no paper link")
            continue
        intro_ja, intro_en = _paragraphs_by_lang(block.intro)
        _abstract_ja, abstract_en = _paragraphs_by_lang(block.abstract)
        arxiv = find_arxiv_id(url)
        pdfs = [u for u in paper_links if urlsplit(u).path.lower().endswith(".pdf")]
        landing = [u for u in paper_links if u not in pdfs]
        doi = normalize_doi(url) if "doi.org/" in url.lower() else None
        all_links = [*paper_links, *more_links]
        summary = intro_ja or intro_en
        entries.append(
            Entry(
                title=title,
                title_alt=title_alt,
                arxiv_id=arxiv.id if arxiv else None,
                arxiv_version=arxiv.version if arxiv else None,
                doi=doi,
                url=url,
                abstract=abstract_en,
                summary=summary,
                summary_lang=("ja" if intro_ja else "en") if summary else None,
                # The English introduction goes here only when the summary is Japanese.
                comment=intro_en if intro_ja else None,
                links=Links(
                    abs=arxiv_abs_url(arxiv.id) if arxiv else (landing[0] if landing else url),
                    pdf=pdfs[0] if pdfs else None,
                    code=_code_url(all_links),
                    other=tuple(dict.fromkeys(u for u in all_links if u != url)),
                ),
                published=posted,
                signals=Signals(pick=True, position=position),
                source_item_id=url,
            )
        )
    if not entries:
        raise ParseError(
            f"expected {_EXPECTED}; every block was unreadable ({report.problems[0]})",
            url=ctx.url,
            kind=kind,
        )
    return ParsedDocument(
        kind=kind,
        entries=tuple(entries),
        skipped=report.skipped,
        problems=tuple(report.problems),
    )
