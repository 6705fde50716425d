"""The digest as terminal text for the CLI: wrapped by columns, cleaned, never escaped."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from digests.model import Digest, SourceHealth
from digests.render.digest import _footer_parts, _intro, _title_line, digest_notice
from digests.render.paper import _extra_links, _tag_words, format_authors
from digests.render.slack import _clean, _fit, _safe_url

_TERMINAL_TITLE_MAX = 1000
_TERMINAL_SUMMARY_MAX = 4000


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


def format_ago(when: datetime | None, now: datetime) -> str:
    """``3h ago``, ``2d ago``, ``just now`` or ``never``: how long since a source answered."""
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"
