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
]

logger = logging.getLogger(__name__)

ELLIPSIS = "…"
ORIGIN_ORDER: tuple[str, ...] = ("source", "ai", "abstract", "comment")
_ORIGIN_RANK = {origin: rank for rank, origin in enumerate(ORIGIN_ORDER)}

# --- characters ---------------------------------------------------------------------------

_KANA_RE = re.compile("[\u3040-\u30ff]")
_OPENERS = "([{（［｛「『【〈《\"'“‘"
_CLOSERS = ")]}）］｝」』】〉》\"'”’"
# What may not end a cut text: it would dangle before the ellipsis.
_DANGLING = " ,;:、，・…-–—/" + _OPENERS


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


def _text_lang(text: SummaryText) -> str | None:
    """The declared language, else a cheap guess good enough for ja/en sources."""
    declared = _base_lang(text.lang)
    if declared:
        return declared
    if text.text.isascii():
        return "en"
    if _KANA_RE.search(text.text):
        return "ja"  # kana are Japanese only; kanji alone could be Chinese
    return None


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
        text = _STRIKE_RE.sub(r"\1", text)
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
    return " ".join(text.split())


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


def _cut_words(text: str, max_chars: int) -> str:
    """``text`` (longer than ``max_chars``) cut to fit, with the ellipsis."""
    limit = max_chars - len(ELLIPSIS)
    if limit <= 0:
        return ELLIPSIS[:max_chars]
    body = ""
    # Japanese: a clause boundary near the end reads better than an arbitrary character.
    comma = max(text.rfind("、", 0, limit), text.rfind("，", 0, limit))
    if comma >= limit * 0.6:
        body = text[:comma].rstrip(_DANGLING)
    for is_break in (_is_word_break, _is_soft_break):
        if body:
            break
        for i in range(limit, 0, -1):
            if is_break(text, i):
                body = text[:i].rstrip(_DANGLING)
                break
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
        return _cut_words(text, max_chars)
    second = next(ends, len(text)) if first < len(text) else first
    return text[: second if second <= max_chars else first].rstrip()


# --- picking ------------------------------------------------------------------------------


def pick_texts(texts: Sequence[SummaryText], *, lang: str | None = None) -> list[SummaryText]:
    """``texts`` in the order a summary is made from them.

    The requested language first (no ``lang``: Japanese with kana, English when all
    ASCII), then by origin: ``source``, ``ai``, ``abstract``, ``comment``, any other; then
    input order.
    """
    wanted = _base_lang(lang)

    def order(item: tuple[int, SummaryText]) -> tuple[int, int, int]:
        index, text = item
        lang_rank = 0 if wanted is None or _text_lang(text) == wanted else 1
        return (lang_rank, _ORIGIN_RANK.get(text.origin, len(ORIGIN_ORDER)), index)

    return [text for _, text in sorted(enumerate(texts), key=order) if text.text.strip()]


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
    for text in pick_texts(texts, lang=lang):
        clean = plain_text(text.text)
        if clean:
            return cut_sentences(clean, max_chars)
    return ""


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
        for text in pick_texts(texts, lang=lang):
            if len(parts) == _PROMPT_TEXTS or budget < 40:
                break
            clean = plain_text(text.text)
            if not clean or clean in seen:
                continue
            seen.add(clean)
            if len(clean) > budget:
                clean = _cut_words(clean, budget)
            budget -= len(clean)
            parts.append(f"{_ORIGIN_LABELS.get(text.origin, 'Note')}: {clean}")
        if not parts:
            return None
        base = _base_lang(lang)
        language = _LANG_NAMES.get(base, base) if base else "the language of the texts below"
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
        wanted = _base_lang(lang)
        got = _text_lang(SummaryText(summary, "ai"))
        if wanted in ("ja", "en") and got != wanted and (wanted == "ja" or got == "ja"):
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
