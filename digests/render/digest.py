"""The weekly digest as Slack messages, and the plain parts (title, intro, notice,
footer) that the terminal text shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.model import Digest, DigestItem, SourceHealth
from digests.render.controls import CONTROLS_RESERVE, TALLY_RESERVE, controls_block
from digests.render.paper import (
    _AUTHORS_MAX,
    _LINKS_MAX,
    _TAGS_MAX,
    _hashtags,
    _links_mrkdwn,
    _reasons,
    _title_mrkdwn,
    format_authors,
)
from digests.render.slack import (
    _NOTE_RESERVE,
    DEFAULT_MAX_CHARS,
    HEADER_MAX,
    LINK_URL_MAX,
    MAX_BLOCKS,
    SECTION_MAX,
    SlackMessage,
    _clean,
    _context,
    _fallback,
    _fit,
    _header_block,
    _join_capped,
    _message,
    _plain,
    _section,
    block_text_length,
    plural,
    text_length,
)

# Below this the header, intro, notice, footer and one item cannot share a message.
MIN_MAX_CHARS = 4000
# Fewer papers than this and the digest says why the week is thin.
THIN_WEEK = 3

_TITLE_MAX = 400
_TITLE_ALT_MAX = 300
_REASONS_MAX = 500
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
# Room kept for a continuation's marker.
_MARKER_RESERVE = 250
_DIGEST_MAX_TAGS = 12

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


def _intro(digest: Digest) -> str:
    """The intro line: "Mon 18 Aug – Sun 24 Aug 2025 (Europe/Berlin) · 10 papers from 212 …"."""
    count = plural(len(digest.items), "paper")
    if digest.candidates:
        count += f" from {plural(digest.candidates, 'candidate')}"
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
            w.muted,
            "all marked not for this channel",
            "marked not for this channel",
        ),
        (
            w.unsent - w.muted - digest.candidates,
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
        lead = "No papers in this digest" if n == 0 else f"Only {plural(n, 'paper')} in this digest"
        lead += f": {plural(week or 0, 'paper')} this week, " + ", ".join(left_out) + "."
    elif n == 0:
        lead = "No papers this week."
        if digest.candidates:
            lead += f" None of the {plural(digest.candidates, 'candidate')} made the cut."
    else:
        lead = f"Only {plural(n, 'paper')} this week."
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
    digest: Digest, *, max_chars: int = DEFAULT_MAX_CHARS, controls: bool = True
) -> list[SlackMessage]:
    """The digest as Slack messages in posting order; ``messages[1:]`` go in the thread of
    ``messages[0]``.

    With ``controls`` (a posted digest) every paper carries its 👍 / 👎 / 🔖 buttons
    (``digests.render.controls``); a preview, seen only by its asker, goes without.

    Each message keeps to Slack's block limits and to ``max_chars`` of block text. Items
    are numbered by rank and never dropped: what does not fit moves to the next message.
    An empty or thin week says so and names the sources that failed or returned nothing.
    """
    if max_chars < MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_MAX_CHARS}, got {max_chars}")
    items = sorted(digest.items, key=lambda i: i.rank)
    # With controls, each paper also keeps room (a block and its characters) for the line
    # saying who clicked, which a click adds to the posted message.
    reserve_chars = CONTROLS_RESERVE + TALLY_RESERVE if controls else 0
    reserve_blocks = 1 if controls else 0
    item_budget = min(SECTION_MAX + _ITEM_CONTEXT_MAX, max_chars - _MARKER_RESERVE - reserve_chars)
    groups = [_digest_item_blocks(item, budget=item_budget) for item in items]
    if controls:
        groups = [
            [*g, controls_block(item.paper_id)] for g, item in zip(groups, items, strict=True)
        ]

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
        size = block_text_length(group) + (TALLY_RESERVE if controls else 0)
        count = len(group) + reserve_blocks
        if size > room or count > slots:
            pages.append([])
            room = max_chars - _MARKER_RESERVE
            slots = MAX_BLOCKS - 1
        pages[-1].append(index)
        room -= size
        slots -= count

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
                    f"({plural(total - 1, 'more message')})."
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
