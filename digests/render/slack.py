"""Slack text: escaping, fitting within Slack's limits, and the Block Kit pieces.

Every text paperbot shows in Slack passes through here. Source text is cleaned
(``_clean``: controls and bidi overrides out, whitespace folded), then escaped wherever
Slack parses mrkdwn (``escape_mrkdwn``: ``&``, ``<``, ``>`` and nothing else), so
``<!channel>`` or ``<https://evil|click>`` from a feed stays inert text. Link labels also
swap ``|`` for ``¦``; plain_text swaps ``<``/``>`` for look-alikes; only http(s) URLs
with an ASCII host become links. Lengths count UTF-16 units, never less than Slack's
count; over-long text is cut with "…", at a word when one is near. Callers never post
with ``link_names=True`` or ``parse="full"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypedDict
from urllib.parse import quote, urlsplit

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
# A URL this long would crowd the text out of its block; real paper links are < 200.
LINK_URL_MAX = 1000
# Room kept in a message for a closing note ("continue in the thread", "did not fit").
_NOTE_RESERVE = 200
_FALLBACK_TITLE_MAX = 150


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


def escape_mrkdwn(text: str) -> str:
    """Text made inert where Slack parses mrkdwn: no mention, link or entity survives."""
    return text.translate(_ESCAPES)


def text_length(text: str) -> int:
    """Length in UTF-16 code units: an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _width(text: str, escape: bool) -> int:
    return text_length(escape_mrkdwn(text) if escape else text)


def _fit(text: str, limit: int, *, escape: bool, at_word: bool = True) -> str:
    """``text`` (already cleaned), escaped if asked, cut with "…" to ``limit`` UTF-16 units.

    Cutting happens before escaping so an entity is never split.
    """
    # Every character takes at least one unit, so a text longer than the limit is cut
    # without escaping it whole first (titles can be 100 KB).
    if len(text) <= limit:
        out = escape_mrkdwn(text) if escape else text
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
    return (escape_mrkdwn(cut) if escape else cut) + _ELLIPSIS


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
    shown = [escape_mrkdwn(p) for p in parts] if escape else list(parts)
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


def plural(n: int, word: str) -> str:
    """``1 paper``, ``2 papers``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- our own replies ----------------------------------------------------------------------
# ``/paper`` answers and the Home tab: text we write, with source names and errors escaped
# by the caller; Slack may auto-link it (no ``verbatim``).


def note_block(text: str) -> dict[str, Any]:
    """A context block with one line of our text, escaped and cut to Slack's limit."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(text)[:CONTEXT_TEXT_MAX]}],
    }


def text_section(text: str) -> dict[str, Any]:
    """A section of finished mrkdwn."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def line_sections(lines: Sequence[str], *, max_blocks: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    """Lines of finished mrkdwn packed into sections below Block Kit's 3000 characters."""
    room = SECTION_MAX - 100
    blocks: list[dict[str, Any]] = []
    buf = ""
    for full in lines:
        line = full[:room]
        if buf and len(buf) + 1 + len(line) > room:
            blocks.append(text_section(buf))
            buf = ""
        buf = f"{buf}\n{line}" if buf else line
    if buf:
        blocks.append(text_section(buf))
    return blocks[:max_blocks]
