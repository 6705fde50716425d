"""Render digests and /paper lookups as Slack Block Kit messages and as terminal text.

Everything here is pure: records in, plain dicts or a ``str`` out. Nothing imports Slack;
``bot/`` posts what these functions return.

Functions::

    render_digest_messages(digest, max_chars=12_000) -> list[SlackMessage]
    render_digest_text(digest, width=100)            -> str  (for the CLI)
    render_lookup_message(hits, ...)                 -> SlackMessage  (ephemeral /paper)
    render_share_message(hits, ...)                  -> SlackMessage  (in_channel /paper)

Thread convention for digests: the list is in posting order. ``messages[0]`` is the
parent, posted to the channel; every later message is posted as a reply in the parent's
thread (``thread_ts`` = the parent's ``ts``). A continuation starts with a context block
"… continued (2/3)"; the parent keeps the header, the intro, any empty/thin-week notice
and the sources footer, and says which papers continue in the thread. Each message dict
is keyword arguments for ``chat.postMessage`` / ``respond`` (``unfurl_links`` and
``unfurl_media`` are False; lookups add ``response_type``).

Escaping. Source text (titles, authors, summaries, tags, reasons, source names, errors,
link labels, the query) goes through ``_clean`` (control characters and bidi
overrides/isolates removed, whitespace folded) and then, wherever Slack parses mrkdwn,
through ``&`` -> ``&amp;``, ``<`` -> ``&lt;``, ``>`` -> ``&gt;`` and nothing else. That makes
``<!channel>``, ``<@U123>`` and ``<https://evil|click>`` inert text, and shows ``&lt;``
as typed. Where it applies:

* mrkdwn text objects: escaped, and ``verbatim: true`` so Slack does not auto-link bare
  URLs, channel names or ``@here``-like words in source text. Our own ``<url|label>``
  links and the sharer's ``<@U…>`` are the only control sequences we emit.
* link labels: escaped, and ``|`` replaced by ``¦`` (Slack has no escape for ``|``
  inside ``<url|label>``).
* the top-level ``text`` fallback: Slack parses it as mrkdwn (``<!channel>`` there
  notifies), so it is escaped like mrkdwn.
* plain_text (header, buttons): never parsed for mentions or links, but whether Slack
  decodes ``&amp;`` there is undocumented, so instead of entities ``<`` and ``>`` become
  ``‹`` and ``›`` and ``&`` stays as is: inert and readable under either reading.
* URLs: only ``http``/``https`` URLs with an ASCII host become links; spaces, ``<``,
  ``>``, ``|``, quotes and non-ASCII are percent-encoded; longer than
  ``LINK_URL_MAX`` after that and the text is shown unlinked.
* terminal text: no entities, but the same control-character stripping (an ESC from a
  feed must not reach a terminal).

Callers should not post with ``link_names=True`` or ``parse="full"``.

Lengths are counted in UTF-16 code units (an emoji outside the BMP counts 2, as in
JavaScript). That is never less than the count of code points, so text within our count
is within Slack's limits whether Slack counts code points or UTF-16 units. Every
message keeps to: ≤ 50 blocks, header ≤ 150, section text 1-3000, context ≤ 10 elements
of 1-2000 each, button text ≤ 75, value ≤ 2000, URLs ≤ 3000, and a total of block text
≤ ``max_chars`` (Slack answers ``msg_blocks_too_long`` near 13k although the documented
limits are higher). Over-long text is cut with "…", at a word when one is near; a digest
item is never dropped to make room: it moves to the next message. A lookup page is one
message: hits that cannot fit (only with absurd data) are counted in a note instead.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal, NotRequired, TypedDict
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.model import Digest, DigestItem, Links, PaperHit, SourceHealth

__all__ = [
    "BUTTON_TEXT_MAX",
    "BUTTON_VALUE_MAX",
    "CONTEXT_ELEMENTS_MAX",
    "CONTEXT_TEXT_MAX",
    "DEFAULT_MAX_CHARS",
    "FALLBACK_MAX",
    "HEADER_MAX",
    "MAX_BLOCKS",
    "MIN_MAX_CHARS",
    "SECTION_MAX",
    "URL_MAX",
    "SlackMessage",
    "block_text_length",
    "digest_notice",
    "format_authors",
    "render_digest_messages",
    "render_digest_text",
    "render_lookup_message",
    "render_share_message",
    "text_length",
    "wrap_text",
]

# --- Slack's limits (docs/slack-platform.md) and our own budgets --------------------------

MAX_BLOCKS = 50
HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
# The text object allows 3000; 2000 (the section-field limit) leaves a margin.
CONTEXT_TEXT_MAX = 2000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
# Slack truncates ``text`` at 40,000; it is only a notification / screen-reader line,
# and a long one would be mostly invisible, so it stays far below.
FALLBACK_MAX = 3000
DEFAULT_MAX_CHARS = 12_000
# Below this the header, intro, notice, footer and one item cannot share a message.
MIN_MAX_CHARS = 4000
# A URL this long would crowd the text out of its block; real paper links are < 200.
LINK_URL_MAX = 1000
# Fewer papers than this and the digest says why the week is thin.
THIN_WEEK = 3

_TITLE_MAX = 400
_TITLE_ALT_MAX = 300
_AUTHORS_MAX = 200
_REASONS_MAX = 500
_TAGS_MAX = 300
_LINKS_MAX = 1200  # one link of LINK_URL_MAX and its label always fits
_ITEM_CONTEXT_MAX = _REASONS_MAX + _TAGS_MAX + _LINKS_MAX
# An item section's lines other than the summary stay under this: "*N. <url|title>*"
# (LINK_URL_MAX + _TITLE_MAX + a few), the alt title and the authors.
_SECTION_FLOOR = LINK_URL_MAX + _TITLE_MAX + _TITLE_ALT_MAX + _AUTHORS_MAX + 100
_NAME_MAX = 80
_ERROR_MAX = 120
_INTRO_MAX = 300
_NOTICE_MAX = 1200
_FOOTER_OK_MAX = 600
_FOOTER_BAD_MAX = 900
# Room kept for the parent's "continue in the thread" note and a continuation's marker.
_NOTE_RESERVE = 200
_MARKER_RESERVE = 250
_FALLBACK_TITLE_MAX = 150
_LOOKUP_TITLE_MAX = 300
_LOOKUP_SUMMARY_MAX = 200
_QUERY_MAX = 200
_LOOKUP_MAX_TAGS = 8
_DIGEST_MAX_TAGS = 12
_OTHER_LINKS_MAX = 3
_TERMINAL_TITLE_MAX = 1000
_TERMINAL_SUMMARY_MAX = 4000

_USER_ID_RE = re.compile(r"[UW][A-Z0-9]{1,30}")


class SlackMessage(TypedDict):
    """Keyword arguments for ``chat.postMessage`` / ``respond`` (add ``channel``, ``thread_ts``)."""

    text: str
    blocks: list[dict[str, Any]]
    unfurl_links: bool
    unfurl_media: bool
    response_type: NotRequired[Literal["ephemeral", "in_channel"]]


# --- text primitives ----------------------------------------------------------------------

# C0/C1 controls that are not whitespace, bidi embeddings/overrides/isolates (an unclosed
# one reorders everything after it, our own text included) and lone surrogates (they
# cannot be encoded for the API). Whitespace controls are folded to spaces instead.
_DROP_RE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_WS_RE = re.compile(r"\s+")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_PLAIN = str.maketrans({"<": "‹", ">": "›"})
_ELLIPSIS = "…"


def _clean(text: str | None) -> str:
    """Source text made safe to show: controls and bidi overrides out, whitespace folded."""
    if not text:
        return ""
    return _WS_RE.sub(" ", _DROP_RE.sub("", text)).strip()


def _esc(text: str) -> str:
    return text.translate(_ESCAPES)


def text_length(text: str) -> int:
    """Length in UTF-16 code units: an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _width(text: str, escape: bool) -> int:
    return text_length(_esc(text) if escape else text)


def _fit(text: str, limit: int, *, escape: bool, at_word: bool = True) -> str:
    """``text`` (already cleaned), escaped if asked, cut with "…" to ``limit`` UTF-16 units.

    Cutting happens before escaping so an entity is never split.
    """
    # Every character takes at least one unit, so a text longer than the limit is cut
    # without escaping it whole first (titles can be 100 KB).
    if len(text) <= limit:
        out = _esc(text) if escape else text
        if text_length(out) <= limit:
            return out
    if limit < 1:
        return ""
    budget = limit - 1  # the ellipsis
    # The longest prefix within budget: width grows with the prefix, so bisect.
    low, high = 0, min(len(text), budget)
    while low < high:
        middle = (low + high + 1) // 2
        if _width(text[:middle], escape) <= budget:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if at_word:
        space = cut.rfind(" ")
        # A word boundary is worth losing up to a third of the room, not more
        # (CJK text has no spaces and is cut anywhere).
        if space > 0 and space >= len(cut) * 2 // 3:
            cut = cut[:space]
    cut = cut.rstrip()
    return (_esc(cut) if escape else cut) + _ELLIPSIS


def _plain(text: str, limit: int) -> str:
    """Cleaned text for a plain_text object: ``<``/``>`` swapped for look-alikes, cut."""
    return _fit(text.translate(_PLAIN), limit, escape=False)


def _label(text: str) -> str:
    """A link label before escaping: Slack ends the label at the first ``|``."""
    return text.replace("|", "¦")


def _join_capped(parts: Sequence[str], sep: str, limit: int, *, escape: bool) -> str:
    """``parts`` joined until ``limit``, the rest counted as "… +N more".

    With ``escape`` the parts are source text, escaped here (and the first one cut if it
    is too long alone); without, they are finished mrkdwn that must stay whole (links).
    """
    shown = [_esc(p) for p in parts] if escape else list(parts)
    out = ""
    for i, part in enumerate(shown):
        candidate = part if not out else out + sep + part
        rest = len(parts) - i - 1
        tail = f"{sep}… +{rest} more" if rest else ""
        if text_length(candidate + tail) <= limit:
            out = candidate
            continue
        if out:
            return f"{out}{sep}… +{len(parts) - i} more"
        if not escape:
            return f"… +{len(parts)} more"
        # Not even the first part fits alone: cut it rather than show nothing.
        return _fit(parts[i], limit - text_length(tail), escape=True) + tail
    return out


# --- URLs ---------------------------------------------------------------------------------

# Characters a URL keeps as they are; everything else (space, < > | " ` { } \ ^ and all
# non-ASCII) is percent-encoded. ``%`` stays so existing escapes are not doubled.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]~_"
_URL_DROP_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _safe_url(url: str | None, *, max_len: int | None = LINK_URL_MAX) -> str | None:
    """An http(s) URL fit to put inside ``<…|…>``, or None when it must not be linked."""
    if not url:
        return None
    url = _URL_DROP_RE.sub("", url).strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if not parts.netloc.isascii():
        return None  # an IDN host would be mangled by percent-encoding
    safe = quote(url, safe=_URL_SAFE)
    limit = URL_MAX if max_len is None else min(max_len, URL_MAX)
    return safe if len(safe) <= limit else None


def _link(url: str | None, label: str, label_max: int) -> str:
    """mrkdwn for a linked label (label cleaned, not yet escaped), unlinked if unsafe."""
    shown = _fit(_label(label), label_max, escape=True)
    safe = _safe_url(url)
    return f"<{safe}|{shown}>" if safe else shown


# --- authors, tags, reasons ---------------------------------------------------------------

_PARTICLES = frozenset(
    "van von de der den del della da di du dos das la le ten ter bin ibn al el".split()  # noqa: SIM905
)
_SUFFIXES = frozenset("jr jr. sr sr. ii iii iv phd ph.d.".split())  # noqa: SIM905
_INITIALS_RE = re.compile(r"(?:[A-Z]\.?-?){1,3}")
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_ET_AL_RE = re.compile(r"(?:^|\s)(?:et\.?\s*al\.?|and others|others|ほか|他)$", re.IGNORECASE)
_AUTHOR_NAME_MAX = 40


def _surname(name: str) -> str:
    """The family name to show: "Bill Yuchen Lin" -> "Lin", "Lin, Bill" -> "Lin"."""
    if "," in name:
        head, tail = (p.strip() for p in name.split(",", 1))
        if tail.lower() not in _SUFFIXES and head:
            return head  # "Surname, Given"
        name = head or tail
    tokens = name.split(" ")
    if len(tokens) == 1:
        return name  # a single name, or CJK written without a space: shown whole
    if _CJK_RE.search(name):
        return tokens[0]  # CJK names with a space are family-name first
    while len(tokens) > 1 and tokens[-1].lower() in _SUFFIXES:
        tokens.pop()
    if (
        len(tokens) > 1
        and _INITIALS_RE.fullmatch(tokens[-1])
        and not _INITIALS_RE.fullmatch(tokens[0])
    ):
        return tokens[0]  # "Lin BY": surname then initials
    first = len(tokens) - 1
    while first > 1 and tokens[first - 1].lower() in _PARTICLES:
        first -= 1
    return " ".join(tokens[first:])


def format_authors(authors: Sequence[str], *, shown: int = 2) -> str:
    """Surnames of the first ``shown`` authors: "Lin, Ravichander, … +4" (plain, unescaped).

    "Lin+" and "et al." entries (lists that name only the first author) give "Lin et al.".
    """
    names: list[str] = []
    unknown_more = False
    for raw in authors:
        name = _clean(raw)
        if name.endswith("+"):
            name = name.rstrip("+ ")
            unknown_more = True
        match = _ET_AL_RE.search(name)
        if match:
            name = name[: match.start()].strip(" ,")
            unknown_more = True
        if name:
            names.append(name)
    if not names:
        return ""
    surnames = [_fit(_surname(n), _AUTHOR_NAME_MAX, escape=False) for n in names[:shown]]
    text = ", ".join(surnames)
    extra = len(names) - len(surnames)
    if unknown_more:
        return f"{text} et al."
    if extra > 0:
        return f"{text}, … +{extra}"
    return text


def _tag_words(tags: Iterable[str], max_tags: int | None = None) -> list[str]:
    """Tags as "#Tag" words (plain text, not links), unescaped."""
    shown: list[str] = []
    for tag in tags:
        # A space would end the hashtag when read; "-" keeps "Chain of Thought" one tag.
        name = _clean(tag).lstrip("#").strip().replace(" ", "-")
        if name:
            shown.append("#" + (name if max_tags is None else _fit(name, 40, escape=False)))
        if max_tags is not None and len(shown) >= max_tags:
            break
    return shown


def _hashtags(tags: Iterable[str], limit: int, max_tags: int) -> str:
    return _fit(" ".join(_tag_words(tags, max_tags)), limit, escape=True)


def _reasons(item: DigestItem, limit: int) -> str:
    """The reasons joined, escaped: "3 sources · 212 upvotes · ML Papers of the Week #3"."""
    labels = [c for c in (_clean(r.label) for r in item.reasons) if c]
    return _fit(" · ".join(labels), limit, escape=True)


def _extra_links(
    links: Links, title_url: str | None, *, max_len: int | None = LINK_URL_MAX
) -> list[tuple[str, str]]:
    """(label, safe URL) for the links beside the title link, deduplicated."""
    seen = {_safe_url(title_url, max_len=None)}
    out: list[tuple[str, str]] = []
    candidates: list[tuple[str, str | None]] = [
        ("Abstract", links.abs),
        ("PDF", links.pdf),
        ("Code", links.code),
    ]
    for other in links.other[:_OTHER_LINKS_MAX]:
        host = ""
        try:
            host = urlsplit(other).hostname or ""
        except ValueError:
            host = ""
        candidates.append((_clean(host) or "Link", other))
    for label, url in candidates:
        safe = _safe_url(url, max_len=max_len)
        if safe and safe not in seen:
            seen.add(safe)
            out.append((label, safe))
    return out


def _links_mrkdwn(links: Links, title_url: str | None, limit: int = _LINKS_MAX) -> str:
    parts = [
        f"<{url}|{_fit(_label(label), 60, escape=True)}>"
        for label, url in _extra_links(links, title_url)
    ]
    # Whole links only: a cut URL would be a broken link.
    return _join_capped(parts, " · ", limit, escape=False)


# --- blocks -------------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _header_block(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> dict[str, Any]:
    elements = [_mrkdwn(t) for t in texts if t][:CONTEXT_ELEMENTS_MAX]
    return {"type": "context", "elements": elements}


def _button(text: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": _plain(text, BUTTON_TEXT_MAX), "emoji": True},
        "action_id": action_id,
        "value": value,
    }


def block_text_length(block: Any) -> int:
    """Characters of text in a block (every text object, recursively): what Slack totals."""
    if isinstance(block, list):
        return sum(block_text_length(b) for b in block)
    if not isinstance(block, dict):
        return 0
    total = 0
    if block.get("type") in ("plain_text", "mrkdwn") and isinstance(block.get("text"), str):
        total += text_length(block["text"])
    for key, value in block.items():
        if key != "text" or not isinstance(value, str):
            total += block_text_length(value)
    return total


def _message(
    text: str,
    blocks: list[dict[str, Any]],
    response_type: Literal["ephemeral", "in_channel"] | None = None,
) -> SlackMessage:
    message: SlackMessage = {
        "text": text or "Paper digest",
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if response_type is not None:
        message["response_type"] = response_type
    return message


def _fallback(lead: str, numbered: Sequence[tuple[int, str]], tail: str = "") -> str:
    """The top-level ``text``: ``lead`` (finished mrkdwn), ``tail`` (source text) and
    "1. Title" lines, escaped, within FALLBACK_MAX."""
    lines = [lead]
    if tail:
        lines.append(_fit(tail, 600, escape=True))
    used = sum(text_length(line) + 1 for line in lines)
    for i, (number, title) in enumerate(numbered):
        line = f"{number}. " + _fit(title or "(untitled)", _FALLBACK_TITLE_MAX, escape=True)
        if used + text_length(line) + 1 > FALLBACK_MAX - 30:
            lines.append(f"… and {len(numbered) - i} more")
            break
        lines.append(line)
        used += text_length(line) + 1
    return "\n".join(lines)


# --- the weekly digest --------------------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _week_span(digest: Digest) -> str:
    """The week's days in the digest's zone: "Mon 18 Aug – Sun 24 Aug 2025 (Europe/Berlin)"."""
    zone = _zone(digest.tz)
    # Naive datetimes would be read in the host's zone; the model says UTC.
    start = digest.start if digest.start.tzinfo else digest.start.replace(tzinfo=UTC)
    end = digest.end if digest.end.tzinfo else digest.end.replace(tzinfo=UTC)
    if zone is not None:
        start, end = start.astimezone(zone), end.astimezone(zone)
    last = max(end - timedelta(microseconds=1), start)  # the end is exclusive

    def day(d: datetime) -> str:
        return f"{_DAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]}"

    years = f" {start.year}" if start.year != last.year else ""
    span = f"{day(start)}{years} – {day(last)} {last.year}"
    label = _clean(digest.tz) if zone is not None else (start.tzname() or "")
    return f"{span} ({label})" if label else span


def _title_line(digest: Digest) -> str:
    """The digest's name: "Top papers of the week · 2025-W34 · #Alignment" (unescaped)."""
    parts = [_clean(digest.title) or "Top papers of the week", _clean(digest.week)]
    if digest.scope:
        parts.append(_clean(digest.scope))
    return " · ".join(p for p in parts if p)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _intro(digest: Digest) -> str:
    """The intro line: "Mon 18 Aug – Sun 24 Aug 2025 (Europe/Berlin) · 10 papers from 212 …"."""
    count = _plural(len(digest.items), "paper")
    if digest.candidates:
        count += f" from {_plural(digest.candidates, 'candidate')}"
    return f"{_week_span(digest)} · {count}"


def _is_failing(s: SourceHealth) -> bool:
    return s.status == "failing"


def _is_empty(s: SourceHealth) -> bool:
    return not _is_failing(s) and (s.status == "empty" or s.mentions <= 0)


def _is_unwell(s: SourceHealth) -> bool:
    """Answering, with papers, yet flagged: e.g. ``stale`` (a listing repeating a batch)."""
    return not _is_failing(s) and not _is_empty(s) and s.status != "ok"


def _source_name(s: SourceHealth) -> str:
    return _clean(s.name) or _clean(s.kind) or "unnamed source"


def _failure(s: SourceHealth, name_max: int | None = _NAME_MAX, verb: str = "") -> str:
    """A failing source's name, ``verb``, then its error: "HF Daily failed this week (timeout)"."""
    name = _source_name(s)
    error = _clean(s.error)
    if name_max is not None:
        name, error = _fit(name, name_max, escape=False), _fit(error, _ERROR_MAX, escape=False)
    return f"{name}{verb} ({error})" if error else f"{name}{verb}"


def _left_out(digest: Digest) -> list[str]:
    """What left the week's papers out of the digest, step by step ("none matching
    #Alignment", "4 already posted to this channel"); empty when nothing was."""
    w = digest.narrowing
    if w is None:
        return []
    scope = _fit(_clean(digest.scope), _NAME_MAX, escape=False) or "the filter"
    steps = [
        (w.week - w.matched, f"none matching {scope}", f"not matching {scope}"),
        (
            w.matched - w.unsent,
            "all already posted to this channel",
            "already posted to this channel",
        ),
        (
            w.unsent - digest.candidates,
            "all first announced before this subscription's first week",
            "first announced before this subscription's first week",
        ),
    ]
    return [every if k == w.week else f"{k} {some}" for k, every, some in steps if k > 0]


def digest_notice(digest: Digest) -> str:
    """Plain (unescaped) text saying why a digest is empty or thin; "" for a full one.

    The reason is the true one: the week had no or few papers (and the sources say why),
    or it had papers that the filter, this channel's earlier digests or the start of a
    subscription left out. A digest as long as it asked to be (``top``) is not thin.
    Both the Slack messages and the terminal text show it.
    """
    n = len(digest.items)
    if n >= THIN_WEEK or digest.candidates > n > 0:
        return ""
    failing = [_failure(s) for s in digest.sources if _is_failing(s)]
    empty = [_fit(_source_name(s), _NAME_MAX, escape=False) for s in digest.sources if _is_empty(s)]
    left_out = _left_out(digest)
    week = digest.narrowing.week if digest.narrowing is not None else None
    if left_out:
        lead = (
            "No papers in this digest" if n == 0 else f"Only {_plural(n, 'paper')} in this digest"
        )
        lead += f": {_plural(week or 0, 'paper')} this week, " + ", ".join(left_out) + "."
    elif n == 0:
        lead = "No papers this week."
        if digest.candidates:
            lead += f" None of the {_plural(digest.candidates, 'candidate')} made the cut."
    else:
        lead = f"Only {_plural(n, 'paper')} this week."
    why: list[str] = []
    if failing:
        why.append("Failed: " + "; ".join(failing) + ".")
    if week is not None and week >= THIN_WEEK:
        # The week itself was full: sources that had nothing are no reason.
        return " ".join([lead, *why])
    if empty:
        why.append("Returned nothing: " + ", ".join(empty) + ".")
    if not digest.sources:
        why.append("No source reported anything for this week.")
    elif not failing and not empty:
        why.append("Every source answered; it was a quiet week.")
    return " ".join([lead, *why])


def _notice_block(notice: str) -> dict[str, Any]:
    return _section(_fit(":warning: " + notice, _NOTICE_MAX, escape=True))


def _footer_parts(
    sources: Sequence[SourceHealth], name_max: int | None
) -> tuple[list[str], list[str]]:
    """("name count" parts, "⚠ …" parts; failing, empty, then otherwise flagged), unescaped."""

    def name(s: SourceHealth) -> str:
        full = _source_name(s)
        return full if name_max is None else _fit(full, name_max, escape=False)

    ok = [f"{name(s)} {s.mentions}" for s in sources if s.status == "ok" and not _is_empty(s)]
    bad = [f"⚠ {_failure(s, name_max, ' failed this week')}" for s in sources if _is_failing(s)]
    bad += [f"⚠ {name(s)} returned nothing this week" for s in sources if _is_empty(s)]
    bad += [
        f"⚠ {_failure(s, name_max, f' was {s.status} this week')}" for s in sources if _is_unwell(s)
    ]
    return ok, bad


def _footer_block(sources: Sequence[SourceHealth]) -> dict[str, Any] | None:
    if not sources:
        return None
    ok, bad = _footer_parts(sources, _NAME_MAX)
    first = "Sources: " + (
        _join_capped(ok, " · ", _FOOTER_OK_MAX, escape=True) if ok else "none had papers"
    )
    return _context(first, _join_capped(bad, " · ", _FOOTER_BAD_MAX, escape=True))


def _title_mrkdwn(number: int, title: str, url: str | None, title_max: int) -> str:
    """``*1. <url|Title>*`` with the title escaped and its ``|`` replaced."""
    return f"*{number}. {_link(url, _clean(title) or '(untitled)', title_max)}*"


def _digest_item_blocks(item: DigestItem, *, budget: int) -> list[dict[str, Any]]:
    """Section (title, alt title, authors, summary) and context (reasons, tags, links),
    together within ``budget`` characters."""
    # The section keeps _SECTION_FLOOR (its title, alt title and authors lines at their
    # caps); the context gets the rest of the budget, up to its own caps.
    context_room = min(_ITEM_CONTEXT_MAX, budget - _SECTION_FLOOR)
    reasons = _reasons(item, min(_REASONS_MAX, context_room))
    context_room -= text_length(reasons)
    tags = _hashtags(item.tags, min(_TAGS_MAX, context_room), _DIGEST_MAX_TAGS)
    context_room -= text_length(tags)
    links = _links_mrkdwn(item.links, item.url, min(_LINKS_MAX, context_room))
    context = [c for c in (reasons, tags, links) if c]
    room = min(SECTION_MAX, budget - sum(text_length(c) for c in context))
    lines = [_title_mrkdwn(item.rank, item.title, item.url, _TITLE_MAX)]
    alt = _clean(item.title_alt)
    if alt:
        lines.append(_fit(alt, _TITLE_ALT_MAX, escape=True))
    authors = format_authors(item.authors)
    if authors:
        lines.append(_fit(authors, _AUTHORS_MAX, escape=True))
    used = sum(text_length(line) for line in lines) + len(lines) - 1
    summary = _clean(item.summary)
    if summary and room - used - 1 > 20:
        lines.append(_fit(summary, room - used - 1, escape=True))
    blocks = [_section("\n".join(lines))]
    if context:
        blocks.append(_context(*context))
    return blocks


def render_digest_messages(
    digest: Digest, *, max_chars: int = DEFAULT_MAX_CHARS
) -> list[SlackMessage]:
    """The digest as Slack messages in posting order; ``messages[1:]`` go in the thread of
    ``messages[0]``.

    Each message keeps to Slack's block limits and to ``max_chars`` of block text. Items
    are numbered by rank and never dropped: what does not fit moves to the next message.
    An empty or thin week says so and names the sources that failed or returned nothing.
    """
    if max_chars < MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_MAX_CHARS}, got {max_chars}")
    items = sorted(digest.items, key=lambda i: i.rank)
    item_budget = min(SECTION_MAX + _ITEM_CONTEXT_MAX, max_chars - _MARKER_RESERVE)
    groups = [_digest_item_blocks(item, budget=item_budget) for item in items]

    title = _title_line(digest)
    head = [
        _header_block(_plain(title, HEADER_MAX) or "Paper digest"),
        _context(_fit(_intro(digest), _INTRO_MAX, escape=True)),
    ]
    notice = digest_notice(digest)
    if notice:
        head.append(_notice_block(notice))
    footer = _footer_block(digest.sources)
    foot = [footer] if footer else []

    # Greedy packing in rank order. The parent keeps one block and _NOTE_RESERVE
    # characters for the "continue in the thread" note; a continuation keeps one block
    # and _MARKER_RESERVE for its marker. item_budget fits an empty continuation, so
    # every item finds a place.
    pages: list[list[int]] = [[]]
    room = max_chars - block_text_length(head) - block_text_length(foot) - _NOTE_RESERVE
    slots = MAX_BLOCKS - len(head) - len(foot) - 1
    for index, group in enumerate(groups):
        size = block_text_length(group)
        if size > room or len(group) > slots:
            pages.append([])
            room = max_chars - _MARKER_RESERVE
            slots = MAX_BLOCKS - 1
        pages[-1].append(index)
        room -= size
        slots -= len(group)

    total = len(pages)
    messages: list[SlackMessage] = []
    for number, page in enumerate(pages, start=1):
        blocks: list[dict[str, Any]] = []
        numbered = [(items[i].rank, _clean(items[i].title)) for i in page]
        if number == 1:
            blocks.extend(head)
            for i in page:
                blocks.extend(groups[i])
            if total > 1:
                rest = [items[i].rank for p in pages[1:] for i in p]
                note = (
                    f":thread: Papers {rest[0]}–{rest[-1]} continue in the thread "
                    f"({_plural(total - 1, 'more message')})."
                )
                blocks.append(_context(_fit(note, _NOTE_RESERVE, escape=True)))
            blocks.extend(foot)
            text = _fallback(_fit(title, 300, escape=True), numbered, notice)
        else:
            marker = f"{title} — continued ({number}/{total})"
            blocks.append(_context(_fit(marker, _MARKER_RESERVE, escape=True)))
            for i in page:
                blocks.extend(groups[i])
            text = _fallback(_fit(marker, 300, escape=True), numbered)
        messages.append(_message(text, blocks))
    return messages


# --- terminal -----------------------------------------------------------------------------


def _cells(text: str) -> int:
    """Terminal columns: East Asian wide characters take two, combining marks none."""
    if text.isascii():
        return len(text)  # cleaned ASCII text has no controls: one column each
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


# Where a line may not break in Japanese text: not before closing punctuation, the
# prolonged sound mark or small kana, not after an opening bracket.
_NO_BREAK_BEFORE = frozenset(
    "、。，．,.・：；？！:;?!)]}）」』】〕〉》〙〗ー々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
)
_NO_BREAK_AFTER = frozenset("([{（「『【〔〈《〘〖")


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _atoms(word: str) -> list[str]:
    """A space-free word cut where a line may break: beside a wide (CJK) character.

    A run of narrow characters stays whole, so "混合エキスパート（Mixture" breaks before
    "M" or between the kana, never inside "Mixture".
    """
    if word.isascii():
        return [word]
    atoms = [word[0]]
    for prev, ch in itertools.pairwise(word):
        breakable = (
            (_is_wide(prev) or _is_wide(ch))
            and ch not in _NO_BREAK_BEFORE
            and prev not in _NO_BREAK_AFTER
            and not unicodedata.combining(ch)
        )
        if breakable:
            atoms.append(ch)
        else:
            atoms[-1] += ch
    return atoms


def wrap_text(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Word wrap by terminal columns: ``first`` starts the first line, ``rest`` the others.

    Lines break at spaces and beside CJK characters; a word is split only when it is
    wider than a whole line (a long URL, say), by columns. The text is cleaned first:
    no control character from a source reaches the terminal.
    """
    text = _clean(text)
    lines: list[str] = []
    line, used, fresh = first, _cells(first), True
    rest_cells = _cells(rest)

    def new_line() -> None:
        nonlocal line, used, fresh
        lines.append(line)
        line, used, fresh = rest, rest_cells, True

    for word in text.split(" "):
        if not word:
            continue
        for i, atom in enumerate(_atoms(word)):
            w = _cells(atom)
            gap = 1 if i == 0 and not fresh else 0
            if used + gap + w <= width:
                line, used, fresh = line + " " * gap + atom, used + gap + w, False
                continue
            if not fresh:
                new_line()
                if used + w <= width:
                    line, used, fresh = line + atom, used + w, False
                    continue
            # Wider than a whole line: split it by columns.
            for ch in atom:
                c = _cells(ch)
                if used + c > width and not fresh:
                    new_line()
                line, used, fresh = line + ch, used + c, False
    if not fresh:
        lines.append(line)
    return lines


def _footer_text(sources: Sequence[SourceHealth]) -> str:
    ok, bad = _footer_parts(sources, None)
    return "Sources: " + " · ".join([*(ok or ["none had papers"]), *bad])


def render_digest_text(digest: Digest, *, width: int = 100) -> str:
    """The digest for a terminal: numbered items, full URLs (terminals make them clickable)."""
    width = max(width, 40)
    title = _title_line(digest)
    lines = wrap_text(title, width, "", "")
    lines.append("=" * min(_cells(title), width))
    lines.extend(wrap_text(_intro(digest), width, "", ""))
    notice = digest_notice(digest)
    if notice:
        lines.append("")
        lines.extend(wrap_text("⚠ " + notice, width, "", "  "))
    for item in sorted(digest.items, key=lambda i: i.rank):
        lines.append("")
        number = f"{item.rank}. "
        pad = " " * len(number)
        item_title = _fit(_clean(item.title) or "(untitled)", _TERMINAL_TITLE_MAX, escape=False)
        lines.extend(wrap_text(item_title, width, number, pad))
        texts = [
            _clean(item.title_alt),
            format_authors(item.authors),
            _fit(_clean(item.summary), _TERMINAL_SUMMARY_MAX, escape=False),
            " ".join(_tag_words(item.tags)),
            " · ".join(c for c in (_clean(r.label) for r in item.reasons) if c),
        ]
        for text in texts:
            if text:
                lines.extend(wrap_text(text, width, pad, pad))
        url = _safe_url(item.url, max_len=None)
        if url:
            lines.append(pad + url)  # never wrapped: a split URL is not clickable
        for label, link in _extra_links(item.links, item.url, max_len=None):
            lines.append(f"{pad}{label}: {link}")
    if digest.sources:
        lines.append("")
        lines.extend(wrap_text(_footer_text(digest.sources), width, "", "  "))
    return "\n".join(lines) + "\n"


# --- /paper lookups -----------------------------------------------------------------------


def _query_code(query_text: str) -> str:
    """The query as inline code: a backtick inside would end the code span early."""
    query = _fit(_clean(query_text).replace("`", "'"), _QUERY_MAX, escape=True)
    return f"`{query}`" if query else "(empty query)"


def _hit_blocks(hit: PaperHit, number: int) -> list[dict[str, Any]]:
    lines = [_title_mrkdwn(number, hit.title, hit.url, _LOOKUP_TITLE_MAX)]
    authors = format_authors(hit.authors)
    if authors:
        lines.append(_fit(authors, _AUTHORS_MAX, escape=True))
    summary = _clean(hit.summary)
    if summary:
        lines.append(_fit(summary, _LOOKUP_SUMMARY_MAX, escape=True))
    sources = [c for c in map(_clean, hit.sources) if c]
    context = [
        _hashtags(hit.tags, _TAGS_MAX, _LOOKUP_MAX_TAGS),
        _fit("via " + ", ".join(sources), _TAGS_MAX, escape=True) if sources else "",
        f"first seen {hit.first_seen:%Y-%m-%d}",
        _links_mrkdwn(hit.links, hit.url),
    ]
    blocks = [_section("\n".join(lines))]
    context = [c for c in context if c]
    if context:
        blocks.append(_context(*context))
    return blocks


def _hit_pages(
    hits: Sequence[PaperHit], first_number: int, overhead: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Blocks for as many hits as fit one message beside ``overhead``; (blocks, hits shown).

    One block and _NOTE_RESERVE characters stay free for the "did not fit" note.
    """
    room = DEFAULT_MAX_CHARS - block_text_length(overhead) - _NOTE_RESERVE
    slots = MAX_BLOCKS - len(overhead) - 1
    blocks: list[dict[str, Any]] = []
    shown = 0
    for i, hit in enumerate(hits):
        group = _hit_blocks(hit, first_number + i)
        size = block_text_length(group)
        if size > room or len(group) > slots:
            break
        blocks.extend(group)
        room -= size
        slots -= len(group)
        shown += 1
    return blocks, shown


def _not_shown_note(hidden: int) -> dict[str, Any]:
    return _context(f"{_plural(hidden, 'more result')} did not fit in this message.")


def render_lookup_message(
    hits: Sequence[PaperHit],
    *,
    query_text: str,
    total: int | None,
    offset: int,
    page_size: int,
    more_value: str | None,
    share_value: str | None,
) -> SlackMessage:
    """An ephemeral reply to ``/paper``: a page of hits, a "More" and a "Share" button.

    A button is shown only for a non-empty value of at most 2000 characters (the value is
    the caller's encoded state and cannot be cut); "More" only when ``more_value`` is given.
    """
    query = _query_code(query_text)
    if not hits:
        lead = "No papers match" if offset <= 0 else "No more papers match"
        text = f"{lead} {query}."
        hint = (
            "Try fewer or broader words, check the spelling, "
            "or look a paper up by its arXiv id (e.g. `2403.04224`)."
        )
        blocks = [_section(text), _context(hint)]
        return _message(text, blocks, "ephemeral")

    first = max(offset, 0) + 1
    last = first + len(hits) - 1
    of_total = f" of {total}" if total is not None else ""
    page = ""
    if page_size > 0 and total is not None:
        pages = max(1, -(-total // page_size))
        page = f" · page {max(offset, 0) // page_size + 1} of {pages}"
    lead = f"Papers matching {query} · {first}–{last}{of_total}{page}"
    overhead = [_section(lead)]
    buttons = []
    if more_value and len(more_value) <= BUTTON_VALUE_MAX:
        buttons.append(_button("More", "paper_more", more_value))
    if share_value and len(share_value) <= BUTTON_VALUE_MAX:
        buttons.append(_button("Share in channel", "paper_share", share_value))
    actions = [{"type": "actions", "elements": buttons}] if buttons else []

    body, shown = _hit_pages(hits, first, overhead + actions)
    blocks = overhead + body
    if shown < len(hits):
        blocks.append(_not_shown_note(len(hits) - shown))
    blocks.extend(actions)
    numbered = [(first + i, _clean(h.title)) for i, h in enumerate(hits[:shown])]
    text = _fallback(f"Papers matching {query} · {first}–{last}{of_total}", numbered)
    return _message(text, blocks, "ephemeral")


def render_share_message(
    hits: Sequence[PaperHit], *, query_text: str, user_id: str
) -> SlackMessage:
    """The in-channel version of a lookup, without buttons, "shared by <@U…>".

    ``user_id`` comes from Slack's signed payload; it still has to look like a user id
    before it goes into a mention, otherwise the mention is left out.
    """
    query = _query_code(query_text)
    by = f", shared by <@{user_id}>" if _USER_ID_RE.fullmatch(user_id or "") else ""
    if not hits:
        text = f"No papers match {query}{by}."
        return _message(text, [_section(text)], "in_channel")
    lead = f"Papers matching {query}{by}"
    overhead = [_section(lead)]
    body, shown = _hit_pages(hits, 1, overhead)
    blocks = overhead + body
    if shown < len(hits):
        blocks.append(_not_shown_note(len(hits) - shown))
    numbered = [(i + 1, _clean(h.title)) for i, h in enumerate(hits[:shown])]
    return _message(_fallback(lead, numbered), blocks, "in_channel")


def format_ago(when: datetime | None, now: datetime) -> str:
    """``3h ago``, ``2d ago``, ``just now`` or ``never``: how long since a source answered."""
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"
