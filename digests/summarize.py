"""Short summaries for the digest: extractive by default, an OpenAI-compatible model if set.

Picking and cutting are pure (``extractive_summary``). ``LLMSummarizer`` is the only part
that does I/O; whatever goes wrong there, it answers with the extractive summary.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from types import TracebackType
from typing import Protocol, Self

import httpx

from digests.model import SummaryText
from digests.settings import LLMSettings

__all__ = [
    "ELLIPSIS",
    "ORIGIN_ORDER",
    "ExtractiveSummarizer",
    "LLMSettings",
    "LLMSummarizer",
    "MemorySummaryCache",
    "Summarizer",
    "SummaryCache",
    "create_summarizer",
    "cut_sentences",
    "extractive_summary",
    "pick_texts",
    "plain_text",
    "text_lang",
]

logger = logging.getLogger(__name__)

ELLIPSIS = "…"
ORIGIN_ORDER: tuple[str, ...] = ("source", "ai", "abstract", "comment")
_ORIGIN_RANK = {origin: rank for rank, origin in enumerate(ORIGIN_ORDER)}

# --- characters ---------------------------------------------------------------------------

# Kana (hiragana, katakana, half-width katakana) are written only in Japanese: they are
# what tells a Japanese text from a Chinese one, which shares the ideographs.
_KANA_RE = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
_HANGUL_RE = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_CJK_LANGS = frozenset({"ja", "zh", "ko"})
_OPENERS = "([{（［｛「『【〈《\"'“‘"
_CLOSERS = ")]}）］｝」』】〉》\"'”’"
# What may not end a cut text: it would dangle before the ellipsis.
_DANGLING = " ,;:、，；：・…-–—/" + _OPENERS
# Words that leave a cut text hanging: "…trained with…", "…the…".
_DANGLING_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "of", "to", "in", "on", "at", "by", "for",
    "with", "from", "as", "that", "which", "who", "whose", "while", "than", "via", "into",
    "onto", "over", "under", "between", "its", "their", "our", "this", "these", "those",
    "such", "both", "each", "e.g.", "i.e.", "vs.",
})  # fmt: skip
_PAIRS = {"(": ")", "[": "]", "{": "}", "（": "）", "［": "］", "｛": "｝", "「": "」",
          "『": "』", "【": "】", "〈": "〉", "《": "》", "“": "”"}  # fmt: skip
_CLOSING = frozenset(_PAIRS.values())


def _is_wide(char: str) -> bool:
    """CJK and full-width: written without spaces, so any boundary is a word boundary."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFE30 <= code <= 0xFE4F
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )


def _base_lang(lang: str | None) -> str | None:
    """``ja-JP`` / ``JA`` / ``en_US`` -> ``ja`` / ``ja`` / ``en``."""
    if not lang:
        return None
    return lang.strip().lower().replace("_", "-").split("-", 1)[0] or None


def text_lang(text: str, declared: str | None = None) -> str | None:
    """The language ``text`` is written in, from its script; ``declared`` where the
    script cannot tell.

    Sources mislabel: a "Japanese" weekly carries Chinese blurbs, an untagged abstract is
    English. So the script decides: mostly CJK is Korean with Hangul, Japanese with kana
    (at least one character in twenty), Chinese without; mostly Latin letters is the
    declared language unless that is a CJK one, else English.

    >>> text_lang("本文提出了一种新方法。", "ja"), text_lang("新しい手法を提案する。")
    ('zh', 'ja')
    """
    declared = _base_lang(declared)
    kana = len(_KANA_RE.findall(text))
    han = len(_HAN_RE.findall(text))
    hangul = len(_HANGUL_RE.findall(text))
    cjk = kana + han + hangul
    latin = sum(1 for char in text if char.isalpha() and ord(char) < 0x250)
    # A CJK character carries about as much as a short Latin word: an English sentence
    # quoting one term stays English, a Japanese one full of "LLM" and "RLHF" Japanese.
    if cjk and cjk * 3 >= latin:
        if hangul > kana + han:
            return "ko"
        return "ja" if kana * 20 >= kana + han else "zh"
    if latin:
        return declared if declared and declared not in _CJK_LANGS else "en"
    return declared


# --- cleaning -----------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Text content of an HTML snippet; block elements become line breaks."""

    _BLOCKS = frozenset({
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    })  # fmt: skip
    _HIDDEN = frozenset({"script", "style", "template", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _strip_html(text: str) -> str:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


# This regex only *detects* markup so that plain text with "<" in it ("x<y and z>w")
# is not handed to the parser, which would take "<y and z>" for a tag; the stripping
# itself is done by html.parser.
_LOOKS_LIKE_HTML_RE = re.compile(
    r"<(?:/?(?:a|abbr|b|blockquote|br|cite|code|dd|del|div|dl|dt|em|figcaption|figure"
    r"|font|h[1-6]|hr|i|img|ins|li|mark|ol|p|pre|q|s|section|small|span|strong|sub|sup"
    r"|table|td|th|tr|u|ul)\b[^<>]*>|!--)",
    re.IGNORECASE,
)
# The emphasis patterns open with their literal and look behind it afterwards: a pattern
# that opens with a lookbehind is tried at every position, several times slower.
# Markdown autolinks look like tags to an HTML parser and would vanish whole.
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp)://[^\s<>]+|[\w.+-]+@[\w-]+\.[\w.-]+)>")
# Line-start marks. Applied line by line: a MULTILINE "^" pattern is tried at every
# position of the text, and only lines opening with one of _LINE_MARKS need them.
_LINE_MARKS = "#>-*+=_`~●•・◦▪■□◆◇○▶►"
_FENCE_RE = re.compile(r"^[ \t]*(?:```|~~~).*$")
_RULE_RE = re.compile(r"^[ \t]*(?:[-=*_][ \t]*){3,}$")
_QUOTE_RE = re.compile(r"^[ \t]*>+[ \t]?")
_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+|$)")
# Symbol bullets may touch their text (Japanese lists write "・項目"); "-", "*" and "+"
# need a space so that "-5%" or "*args" at a line start survive.
_BULLET_RE = re.compile(r"^[ \t]*(?:[●•・◦▪■□◆◇○▶►]+[ \t]*|[-*+][ \t]+)")
_LINE_PATTERNS = (_FENCE_RE, _RULE_RE, _QUOTE_RE, _HEADING_RE, _BULLET_RE)
_IMAGE_RE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK_RE = re.compile(r"\[([^\]\n]*)\]\([^)\s]*(?:[ \t]+\"[^\"\n]*\")?\)")
_REF_LINK_RE = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_CODE_RE = re.compile(r"(`+)(.+?)\1")
_STRONG_STAR_RE = re.compile(r"\*\*(?<!\\\*\*)(?=\S)(.+?)(?<=[^\s\\])\*\*")
_STRONG_UNDER_RE = re.compile(r"__(?<![\w\\]__)(?=\S)(.+?)(?<=[^\s\\])__(?!\w)")
# "*" may emphasize inside a word (CommonMark), which Japanese needs: "**太字**です".
_EM_STAR_RE = re.compile(r"\*(?<![\\*]\*)(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?!\*)")
# "_" may not (CommonMark), which keeps snake_case and "N_A" intact.
_EM_UNDER_RE = re.compile(r"_(?<![\w\\]_)(?=[^\s_])(.+?)(?<=[^\s_\\])_(?!\w)")
_STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!&<>|~])")
_LINE_BREAK_RE = re.compile(r"[ \t]*\n\s*")
_INVISIBLE_RE = re.compile("[\u200b-\u200d\u2060\ufeff]")


def _strip_line_marks(text: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        head = line.lstrip(" \t")[:1]
        if head and head in _LINE_MARKS:
            for pattern in _LINE_PATTERNS:
                lines[i] = pattern.sub("", lines[i], count=1)
    return "\n".join(lines)


def _strip_markdown(text: str) -> str:
    # Each pass is guarded by a membership test: most texts are plain, and a week of
    # papers goes through here.
    if "\n" in text or text.lstrip(" \t")[:1] in _LINE_MARKS:
        text = _strip_line_marks(text)
    if "[" in text:
        text = _IMAGE_RE.sub("", text)
        text = _LINK_RE.sub(r"\1", text)
        text = _REF_LINK_RE.sub(r"\1", text)
    if "`" in text:
        text = _CODE_RE.sub(r"\2", text)
    if "*" in text:
        text = _STRONG_STAR_RE.sub(r"\1", text)
        text = _EM_STAR_RE.sub(r"\1", text)
    if "_" in text:
        text = _STRONG_UNDER_RE.sub(r"\1", text)
        text = _EM_UNDER_RE.sub(r"\1", text)
    if "~~" in text:
        text = _STRIKE_RE.sub("", text)  # struck out: the writer took it back
    if "\\" in text:
        text = _ESCAPE_RE.sub(r"\1", text)
    return text


def _join_lines(match: re.Match[str]) -> str:
    # Japanese wraps lines mid-sentence with no space meant: "必要がある。\nそこで".
    text, start, end = match.string, match.start(), match.end()
    if start > 0 and end < len(text) and _is_wide(text[start - 1]) and _is_wide(text[end]):
        return ""
    return match.group()


def plain_text(text: str) -> str:
    """One line of plain text from a snippet of HTML and/or Markdown.

    >>> plain_text("**Muse**: a <i>fast</i> model &amp; [code](https://x.io)<br>● more")
    'Muse: a fast model & code more'
    """
    if "<" in text:
        text = _AUTOLINK_RE.sub(r"\1", text)
        if _LOOKS_LIKE_HTML_RE.search(text):
            text = _strip_html(text)
        elif "&" in text:
            text = html.unescape(text)
    elif "&" in text:
        text = html.unescape(text)
    text = _strip_markdown(text)
    if not text.isascii():
        if "\n" in text:
            text = _LINE_BREAK_RE.sub(_join_lines, text)
        text = _INVISIBLE_RE.sub("", text)
    # str.split() knows the same whitespace as \s and is several times faster than a sub.
    return _strip_debris(" ".join(text.split()))


# arXiv's listing descriptions open with "arXiv:2309.17167v1 Announce Type: new Abstract:";
# generic feeds pass them on as they are.
_ANNOUNCE_RE = re.compile(
    r"^(?:arXiv:\s*\S+\s+Announce\s+Type:\s*[\w-]+\s*)?Abstract:\s*|"
    r"^arXiv:\s*\S+\s+Announce\s+Type:\s*[\w-]+\s*",
    re.IGNORECASE,
)
# Old arXiv RSS titles and descriptions end in "(arXiv:2309.17167v1 [cs.AI] UPDATED)".
_ARXIV_TAG_RE = re.compile(r"\s*\(arXiv:\s*[\w./-]+\s*\[[^\]\n]*\](?:\s*UPDATED)?\)", re.IGNORECASE)
# The metadata lines an abstract page or feed appends, from the first to the end. Only
# where a sentence ended (or at the start): "Comments:" inside a sentence is prose.
_TAIL_RE = re.compile(
    r"(?:^|(?<=[.!?。)\]]) )(?:Comments|Subjects|Journal-ref|Journal reference|Report-no"
    r"|MSC-class|ACM-class|Cite as|DOI):.*\Z",
    re.DOTALL,
)
# Printable ASCII but quotes and angle brackets. Not "\b" before it: Japanese runs
# straight into and out of URLs ("詳細はhttps://…を参照"), and "は" is a word character.
_URL_RE = re.compile(r"(?<![A-Za-z0-9.-])(?:(?:https?|ftp)://|www\.)[!#-;=?-~]+", re.I)
_URL_TRAILING = ".,;:!?'*"
_BRACKETS = {"(": ")", "[": "]", "<": ">", "（": "）"}
# The words that lead to a URL at the end of a sentence: ", available at", "is at",
# "hosted on", ":".
_URL_LEAD_RE = re.compile(
    r"[\s,:]*(?:\b(?:is|are)\s+)?(?:\b(?:publicly|openly|freely)\s+)?"
    r"(?:\b(?:available|released|hosted|provided|accessible|found|located)\s*)?"
    r"(?:\b(?:at|on|from|via|in|here|under)\b)?[\s:]*\Z",
    re.IGNORECASE,
)
# What a sentence that only points somewhere talks about.
_POINTER_RE = re.compile(
    r"\b(?:code|codes|data|dataset|datasets|project|page|website|repo|repository|github"
    r"|demo|weights|checkpoints|models?)\b|コード|データ|公開|プロジェクト|ページ|リポジトリ",
    re.IGNORECASE,
)
_SPACE_BEFORE_MARK_RE = re.compile(r" +(?=[.,;:!?)\]。、，])")


def _url_end(text: str, start: int, end: int) -> int:
    """Where the URL matched at ``start:end`` really ends: before its sentence's period,
    and before a closing bracket it did not open."""
    while end > start:
        last = text[end - 1]
        opener = {")": "(", "]": "["}.get(last)
        if last in _URL_TRAILING or (
            opener and text.count(opener, start, end) < text.count(last, start, end)
        ):
            end -= 1
        else:
            break
    return end


def _drop_url(text: str, start: int, end: int) -> str:
    """``text`` without the URL at ``start:end``.

    A URL in brackets goes with them. A sentence that only pointed at the URL goes with
    it: a short one ("See https://…", "詳細はhttps://…を参照。"), or one that ends in the URL
    and speaks of code, data or a page ("Code is available at https://…"). A URL ending
    another sentence goes with the words that lead to it (", hosted at"). Elsewhere the
    URL alone goes.
    """
    before, after = text[start - 1 : start], text[end : end + 1]
    if before and _BRACKETS.get(before) == after:
        return text[: start - 1].rstrip() + " " + text[end + 1 :].lstrip()
    rest = text[end:].lstrip()
    # "Code: https://… We show" ends the pointer without a period.
    labelled = text[:start].rstrip().endswith(":") and rest[:1].isupper()
    at_end = not rest or rest[0] in "。.!?" or labelled
    opening = max(_sentence_ends(text[:start]), default=0)
    closing = end if labelled else next((e for e in _sentence_ends(text) if e > end), len(text))
    lead = _URL_LEAD_RE.sub("", text[opening:start]) if at_end else text[opening:start]
    left = lead + text[end:closing]
    short = len(left.split()) < 4 and sum(map(_is_wide, left)) < 12
    if short or (at_end and _POINTER_RE.search(lead)):
        return text[:opening] + " " + text[closing:]
    return text[:opening] + lead + text[end:]


def _strip_debris(text: str) -> str:
    """``text`` without URLs and arXiv's boilerplate: neither reads as a summary."""
    if text[:9].lower().startswith(("arxiv:", "abstract")):
        text = _ANNOUNCE_RE.sub("", text, count=1)
    if "arXiv:" in text or "arxiv:" in text:
        text = _ARXIV_TAG_RE.sub("", text)
    if ":" in text:
        text = _TAIL_RE.sub("", text, count=1)
    if "://" in text or "www." in text.lower():
        # From the last URL back: dropping one changes nothing before its sentence, so
        # the next is looked for before it (a URL dropped with its sentence is gone).
        bound = len(text)
        while matches := list(_URL_RE.finditer(text, 0, bound)):
            match = matches[-1]
            text = _drop_url(text, match.start(), _url_end(text, match.start(), match.end()))
            bound = match.start()
        text = _SPACE_BEFORE_MARK_RE.sub("", " ".join(text.split()))
    return text.strip()


# --- sentences ----------------------------------------------------------------------------

# Candidates only; _is_sentence_end decides. Japanese marks end a sentence wherever they
# stand; ASCII ones only before a space, the end, or a Japanese character.
_END_RE = re.compile(rf"[。｡！？．.!?]+[{re.escape(_CLOSERS)}]*")
_JA_MARKS = frozenset("。｡！？")
# Lowercased tokens after which a period does not end a sentence. "etc." is left out on
# purpose: before a capital it ends the sentence far more often than not ("GLUE, SQuAD,
# etc. We ..."), and before a lowercase word the general rule below already holds.
_ABBREVIATIONS = frozenset({
    "e.g.", "i.e.", "al.", "fig.", "figs.", "eq.", "eqs.", "eqn.", "vs.", "v.", "cf.",
    "dr.", "mr.", "mrs.", "ms.", "prof.", "st.", "jr.", "sr.", "sec.", "secs.", "ch.",
    "tab.", "tbl.", "vol.", "vols.", "pp.", "ref.", "refs.", "approx.", "resp.", "incl.",
    "viz.", "ca.", "inc.", "ltd.", "co.", "corp.", "dept.", "univ.", "ph.d.", "thm.",
    "lem.", "alg.",
})  # fmt: skip
_DOTTED_RE = re.compile(r"(?:[a-z]\.){2,}")  # u.s. / a.k.a. / w.r.t.


def _is_sentence_end(text: str, start: int, end: int) -> bool:
    marks = text[start:end].rstrip(_CLOSERS)
    prev = text[start - 1] if start else ""
    if prev and prev in _OPENERS:
        return False  # "（？）", "(!)": an aside, not an end
    nxt = text[end] if end < len(text) else ""
    if any(mark in _JA_MARKS for mark in marks):
        return True
    if "．" in marks:
        return not (prev.isdigit() and nxt.isdigit())  # "３．５" is a number
    if nxt and not nxt.isspace() and not _is_wide(nxt):
        return False  # "3.5", "v1.2", "arxiv.org", "e.g.,"
    if not marks.endswith("."):
        return True
    after = text[end + 1] if nxt.isspace() and end + 1 < len(text) else ""
    if after.islower():
        return False  # "e.g. the", "approx. ten": a sentence would start with a capital
    space = text.rfind(" ", 0, start)
    token = text[space + 1 : start + 1].lstrip(_OPENERS)
    lowered = token.lower()
    if lowered == "no.":
        return not after.isdigit()  # "No. 5" but "the answer is no. We"
    if lowered in _ABBREVIATIONS or _DOTTED_RE.fullmatch(lowered):
        return False
    # An initial: "J. Smith". Also takes "Appendix A. We" for one; a rare miss.
    return not (len(token) == 2 and token[0].isupper() and token[0].isalpha())


def _sentence_ends(text: str) -> Iterator[int]:
    """Offsets just past each sentence's end mark (and closing brackets), in order."""
    for match in _END_RE.finditer(text):
        if _is_sentence_end(text, match.start(), match.end()):
            yield match.end()


def _is_word_break(text: str, i: int) -> bool:
    before, after = text[i - 1], text[i]
    if before.isspace() or after.isspace():
        return True
    if unicodedata.combining(after):
        return False
    return _is_wide(before) or _is_wide(after)


def _is_soft_break(text: str, i: int) -> bool:
    before, after = text[i - 1], text[i]
    return not (before.isalnum() and after.isalnum()) and not unicodedata.combining(after)


# Where a clause ends, by the mark just after it (the cut goes before the mark). ":" only
# before a space ("10:30", "https:" are no ends); an en dash or hyphen only when spaced
# ("5–10×", "state-of-the-art" are one word); "、" and "，" are the clause commas of
# Japanese and Chinese, which have nothing else to cut at.
_CLAUSE_END_RE = re.compile(r"[;；：、，—]|:(?=\s|$)|(?<= )[-–](?= )")
# A comma in English mostly separates list items or phrases: better than a word, worse
# than a clause.
_COMMA_RE = re.compile(r",(?=\s)")
# A clause cut is taken only when it keeps this share of the room; the comma, this one.
_CLAUSE_FLOOR = 0.4
_COMMA_FLOOR = 0.6


def _last_break(text: str, pattern: re.Pattern[str], low: int, limit: int) -> int | None:
    """The last offset in ``low..limit`` where ``pattern`` matches outside brackets: a
    cut inside "(e.g., A; B)" would leave the bracket open."""
    depths = []
    depth = 0
    for char in text[: limit + 1]:
        depths.append(depth)
        if char in _PAIRS:
            depth += 1
        elif char in _CLOSING:
            depth = max(0, depth - 1)
    best = None
    for match in pattern.finditer(text, low, limit + 1):
        if depths[match.start()] == 0:
            best = match.start()
    return best


def _unclosed(text: str) -> int | None:
    """The offset of the first bracket or quote ``text`` opens and does not close."""
    stack: list[int] = []
    for i, char in enumerate(text):
        if char in _PAIRS:
            stack.append(i)
        elif stack and char == _PAIRS[text[stack[-1]]]:
            stack.pop()
    straight = text.count('"')
    firsts = [*stack[:1], *([text.rindex('"')] if straight % 2 else [])]
    return min(firsts, default=None)


def _clean_end(body: str) -> str:
    """``body`` without what would dangle before an ellipsis: marks, an opened bracket or
    quote, a last word such as "and", "of", "the", "with". Never emptied."""
    while True:
        body = body.rstrip(_DANGLING)
        opened = _unclosed(body)
        if opened:
            body = body[:opened]
            continue
        head, _, last = body.rpartition(" ")
        if head and last.lower() in _DANGLING_WORDS:
            body = head
            continue
        return body


def _cuts(text: str, limit: int) -> Iterator[int | None]:
    """Where ``text`` may be cut to fit in ``limit``, best first (None: no such place)."""
    yield _last_break(text, _CLAUSE_END_RE, int(limit * _CLAUSE_FLOOR), limit)
    yield _last_break(text, _COMMA_RE, int(limit * _COMMA_FLOOR), limit)
    for is_break in (_is_word_break, _is_soft_break):
        yield next((i for i in range(limit, 0, -1) if is_break(text, i)), None)


def _cut(text: str, max_chars: int) -> str:
    """``text`` (longer than ``max_chars``) cut to fit, with the ellipsis.

    Where it cuts, in order: after the last whole clause (``;``, ``:``, a dash, ``、``)
    that keeps enough of the room, else at a comma, else between words; inside a word
    (a hyphenated one included) only when the first word alone is longer than the room.
    """
    limit = max_chars - len(ELLIPSIS)
    if limit <= 0:
        return ELLIPSIS[:max_chars]
    body = next(
        (body for cut in _cuts(text, limit) if cut and (body := _clean_end(text[:cut]))), ""
    )
    if not body:
        # Tidying took everything (a bracket opened before the first word): the words
        # as they are read better than one of them cut.
        cut = next((i for i in range(limit, 0, -1) if _is_word_break(text, i)), None)
        kept = text[:cut].rstrip() if cut else ""
        body = kept if any(c.isalnum() for c in kept) else ""
    # The first word (with any marks before it) longer than the room: the only case
    # where a word is cut, since a cut before it would leave nothing to read.
    return (body or text[:limit]) + ELLIPSIS


def cut_sentences(text: str, max_chars: int) -> str:
    """The first two sentences of clean ``text`` if they fit, else the first, else a cut.

    ``text`` should already be plain (see ``plain_text``). The result is at most
    ``max_chars`` long, and ends in "…" only when it had to cut inside a sentence.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    text = text.strip()
    ends = _sentence_ends(text)
    first = next(ends, len(text))
    if first > max_chars:
        return _cut(text, max_chars)
    second = next(ends, len(text)) if first < len(text) else first
    return text[: second if second <= max_chars else first].rstrip()


# --- picking ------------------------------------------------------------------------------


def _lang_rank(lang: str | None, wanted: str) -> int | None:
    """How well a text in ``lang`` suits a digest in ``wanted``; None: never serve it.

    English is everyone's second choice. Chinese is never served to a Japanese digest:
    its readers would take it for broken Japanese.
    """
    if lang == wanted:
        return 0
    if wanted == "ja" and lang == "zh":
        return None
    return 1 if lang == "en" else 2


def _picked(texts: Sequence[SummaryText], lang: str | None) -> list[tuple[SummaryText, str]]:
    """The texts a summary may be made from, best first, each with its plain text."""
    wanted = _base_lang(lang) or "en"  # a digest in no language asked for is in English
    ranked: list[tuple[tuple[int, int, int], SummaryText, str]] = []
    for index, text in enumerate(texts):
        clean = plain_text(text.text)
        lang_rank = _lang_rank(text_lang(clean, text.lang), wanted) if clean else None
        if lang_rank is not None:
            origin_rank = _ORIGIN_RANK.get(text.origin, len(ORIGIN_ORDER))
            ranked.append(((lang_rank, origin_rank, index), text, clean))
    ranked.sort(key=lambda item: item[0])
    return [(text, clean) for _, text, clean in ranked]


def pick_texts(texts: Sequence[SummaryText], *, lang: str | None = None) -> list[SummaryText]:
    """``texts`` in the order a summary is made from them, without those it may not be.

    By the language each is written in (``text_lang``, which trusts the script over the
    label): the requested one first, then English, then any other; no ``lang`` asks for
    English; Chinese is left out of a Japanese digest. Then by origin: ``source``, ``ai``,
    ``abstract``, ``comment``, any other; then input order. Texts with no content after
    cleaning are left out.
    """
    return [text for text, _ in _picked(texts, lang)]


def extractive_summary(
    texts: Sequence[SummaryText], *, lang: str | None = None, max_chars: int = 280
) -> str:
    """One or two whole sentences of the best text, within ``max_chars``.

    Returns "" only when no text has any content after cleaning; the caller decides what
    to show then (the title is not among the inputs, on purpose: the digest shows it
    anyway).

    >>> extractive_summary([SummaryText("We study LLMs. It works. More.", "abstract")])
    'We study LLMs. It works.'
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    best = next(iter(_picked(texts, lang)), None)
    return cut_sentences(best[1], max_chars) if best else ""


# --- summarizers --------------------------------------------------------------------------


class Summarizer(Protocol):
    """Makes the short summary shown under a paper in the digest."""

    def summarize(
        self,
        key: str,
        title: str,
        texts: Sequence[SummaryText],
        *,
        lang: str | None,
        max_chars: int,
    ) -> str: ...


class SummaryCache(Protocol):
    """Where model summaries are kept between runs, by the key ``LLMSummarizer`` builds."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, text: str) -> None: ...


class MemorySummaryCache:
    """A cache for one process (CLI one-offs, tests)."""

    def __init__(self) -> None:
        self._items: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._items.get(key)

    def put(self, key: str, text: str) -> None:
        self._items[key] = text

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True, slots=True)
class ExtractiveSummarizer:
    """The offline default: ``extractive_summary``, no I/O."""

    def summarize(
        self,
        key: str,
        title: str,
        texts: Sequence[SummaryText],
        *,
        lang: str | None,
        max_chars: int,
    ) -> str:
        return extractive_summary(texts, lang=lang, max_chars=max_chars)


_PROMPT_VERSION = "1"  # bump when the prompt changes: it is part of every cache key
_SYSTEM_PROMPT = (
    "You write the short summary shown under a research paper in a team's weekly digest. "
    "Use only the information given. Reply with the summary alone: plain text, "
    "no Markdown, no quotes, no preamble."
)
_LANG_NAMES = {
    "ja": "Japanese",
    "en": "English",
    "zh": "Chinese",
    "ko": "Korean",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
}
_ORIGIN_LABELS = {
    "source": "Summary",
    "ai": "AI summary",
    "abstract": "Abstract",
    "comment": "Comment",
}
_PROMPT_TEXTS = 3  # the best few texts are enough; more only costs tokens
_QUOTES = "\"'“”‘’「」『』"


class _Fallback(Exception):
    """Why a model reply cannot be used; caught inside LLMSummarizer only."""


class LLMSummarizer:
    """Summaries from an OpenAI-compatible chat model, extractive when that fails.

    Each summary is cached under ``summary:v<prompt version>:<paper key>:<lang>:<model>:
    <max_chars>:<hash of the prompt>``, so a paper is summarized once per language, model,
    length and input; when its texts change, it is summarized again. Fallbacks are not
    cached: the next run tries the model again.

    After ``max_failures`` failures in a row the model is not asked again by this
    instance; a week of papers against a dead endpoint would otherwise wait one timeout
    per paper. No retries inside a call, for the same reason.
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        cache: SummaryCache | None = None,
        transport: httpx.BaseTransport | None = None,
        max_failures: int = 3,
    ) -> None:
        self.settings = settings
        self.cache: SummaryCache = cache if cache is not None else MemorySummaryCache()
        self.max_failures = max_failures
        headers = {"User-Agent": "paperbot"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._client = httpx.Client(
            base_url=settings.base_url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout),
            transport=transport,
        )
        self._lock = threading.Lock()
        self._failures = 0

    def __repr__(self) -> str:
        return f"LLMSummarizer({self.settings!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def gave_up(self) -> bool:
        """True once ``max_failures`` calls in a row failed; only extractive from then."""
        with self._lock:
            return self._failures >= self.max_failures

    def summarize(
        self,
        key: str,
        title: str,
        texts: Sequence[SummaryText],
        *,
        lang: str | None,
        max_chars: int,
    ) -> str:
        if max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        prompt = self._prompt(title, texts, lang=lang, max_chars=max_chars)
        if prompt is None:
            return ""  # nothing to summarize from; a title alone invites invention
        cache_key = self._cache_key(key, lang=lang, max_chars=max_chars, prompt=prompt)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return cached
        if self.gave_up:
            return extractive_summary(texts, lang=lang, max_chars=max_chars)
        try:
            summary = self._ask(key, prompt, lang=lang, max_chars=max_chars)
        except _Fallback as e:
            with self._lock:
                self._failures += 1
                gave_up = self._failures == self.max_failures
            logger.warning("summary fallback paper=%s reason=%s", key, e)
            if gave_up:
                logger.warning(
                    "summary model failed %d times in a row; extractive only from now",
                    self.max_failures,
                )
            return extractive_summary(texts, lang=lang, max_chars=max_chars)
        with self._lock:
            self._failures = 0
        self.cache.put(cache_key, summary)
        return summary

    def _prompt(
        self, title: str, texts: Sequence[SummaryText], *, lang: str | None, max_chars: int
    ) -> str | None:
        budget = self.settings.max_chars
        parts: list[str] = []
        seen: set[str] = set()
        for text, clean in _picked(texts, lang):
            if len(parts) == _PROMPT_TEXTS or budget < 40:
                break
            if clean in seen:
                continue
            seen.add(clean)
            part = _cut(clean, budget) if len(clean) > budget else clean
            budget -= len(part)
            parts.append(f"{_ORIGIN_LABELS.get(text.origin, 'Note')}: {part}")
        if not parts:
            return None
        base = _base_lang(lang)
        # No language asked is an English digest, as in ``pick_texts``.
        language = _LANG_NAMES.get(base, base) if base else "English"
        head = (
            f"Summarize this paper in one or two sentences, in {language}, "
            f"in at most {max_chars} characters."
        )
        return "\n\n".join([head, f"Title: {plain_text(title)[:500]}", *parts])

    def _cache_key(self, key: str, *, lang: str | None, max_chars: int, prompt: str) -> str:
        digest = hashlib.sha256(f"{_SYSTEM_PROMPT}\n{prompt}".encode()).hexdigest()[:16]
        lang_part = _base_lang(lang) or "-"
        model = self.settings.model
        return f"summary:v{_PROMPT_VERSION}:{key}:{lang_part}:{model}:{max_chars}:{digest}"

    def _ask(self, key: str, prompt: str, *, lang: str | None, max_chars: int) -> str:
        payload = {
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": _SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
        }
        try:
            response = self._client.post("/chat/completions", json=payload)
        except httpx.TimeoutException as e:
            raise _Fallback(f"timed out ({type(e).__name__})") from e
        except httpx.HTTPError as e:
            # The class name only: messages can carry URLs, never worth the risk in logs.
            raise _Fallback(f"request failed ({type(e).__name__})") from e
        if not response.is_success:
            raise _Fallback(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as e:
            raise _Fallback("reply is not JSON") from e
        content = _reply_content(data)
        if content is None:
            raise _Fallback("reply has no choices[0].message.content")
        summary = plain_text(content).strip(_QUOTES + " ")
        if not summary:
            raise _Fallback("empty reply")
        wanted = _base_lang(lang) or "en"
        if wanted in ("ja", "en") and text_lang(summary) != wanted:
            raise _Fallback(f"reply is not in {wanted}")
        if len(summary) > max_chars:
            logger.warning(
                "summary too long paper=%s chars=%d max=%d; cut", key, len(summary), max_chars
            )
            summary = cut_sentences(summary, max_chars)
        return summary


def _reply_content(data: object) -> str | None:
    """``choices[0].message.content`` of a chat-completions reply, if it has that shape."""
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    return content if isinstance(content, str) else None


def create_summarizer(
    settings: LLMSettings | None,
    *,
    cache: SummaryCache | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Summarizer:
    """The summarizer the settings ask for: the model when configured, else extractive."""
    if settings is None:
        return ExtractiveSummarizer()
    return LLMSummarizer(settings, cache=cache, transport=transport)
