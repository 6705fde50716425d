"""``/paper`` lookups as Slack messages: a page of hits with its buttons, or the
in-channel share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from digests.identity import display_title
from digests.model import PaperHit
from digests.render.controls import SAVE_ACTION, SIMILAR_ACTION
from digests.render.paper import (
    _AUTHORS_MAX,
    _TAGS_MAX,
    _hashtags,
    _links_mrkdwn,
    _title_mrkdwn,
    format_authors,
)
from digests.render.slack import (
    _NOTE_RESERVE,
    BUTTON_VALUE_MAX,
    DEFAULT_MAX_CHARS,
    MAX_BLOCKS,
    SlackMessage,
    _button,
    _clean,
    _context,
    _fallback,
    _fit,
    _message,
    _section,
    block_text_length,
    plural,
)

_USER_ID_RE = re.compile(r"[UW][A-Z0-9]{1,30}")
_LOOKUP_TITLE_MAX = 300
_LOOKUP_SUMMARY_MAX = 200
_QUERY_MAX = 200
_LOOKUP_MAX_TAGS = 8


def _query_code(query_text: str) -> str:
    """The query as inline code: a backtick inside would end the code span early."""
    query = _fit(_clean(query_text).replace("`", "'"), _QUERY_MAX, escape=True)
    return f"`{query}`" if query else "(empty query)"


def similar_query(hit: PaperHit) -> str:
    """The query of the paper's *More like this* button: ``like:`` and the id ``id:``
    takes (arXiv id, DOI or link), else the paper's key."""
    ref = hit.arxiv_id
    if not ref:
        kind, _, value = hit.key.partition(":")
        ref = value if kind in ("arxiv", "doi", "url") and value else hit.key
    return f'like:"{ref}"' if any(ch.isspace() or ch == '"' for ch in ref) else f"like:{ref}"


def _hit_controls(hit: PaperHit) -> dict[str, Any]:
    buttons = [_button("🔖 Save", SAVE_ACTION, str(hit.paper_id))]
    similar = similar_query(hit)
    if len(similar) <= BUTTON_VALUE_MAX:
        buttons.insert(0, _button("More like this", SIMILAR_ACTION, similar))
    return {"type": "actions", "elements": buttons}


def _hit_blocks(hit: PaperHit, number: int, *, controls: bool = False) -> list[dict[str, Any]]:
    title = display_title(hit.title, hit.aliases)
    lines = [_title_mrkdwn(number, title, hit.url, _LOOKUP_TITLE_MAX)]
    authors = format_authors(hit.authors)
    if authors:
        lines.append(_fit(authors, _AUTHORS_MAX, escape=True))
    summary = _clean(hit.summary)
    if summary:
        lines.append(_fit(summary, _LOOKUP_SUMMARY_MAX, escape=True))
    sources = [c for c in map(_clean, hit.sources) if c]
    context = [
        _fit(hit.reason, _TAGS_MAX, escape=True) if hit.reason else "",
        _hashtags(hit.tags, _TAGS_MAX, _LOOKUP_MAX_TAGS),
        _fit("via " + ", ".join(sources), _TAGS_MAX, escape=True) if sources else "",
        f"first seen {hit.first_seen:%Y-%m-%d}",
        _links_mrkdwn(hit.links, hit.url),
    ]
    blocks = [_section("\n".join(lines))]
    context = [c for c in context if c]
    if context:
        blocks.append(_context(*context))
    if controls:
        blocks.append(_hit_controls(hit))
    return blocks


def _hit_pages(
    hits: Sequence[PaperHit],
    first_number: int,
    overhead: list[dict[str, Any]],
    *,
    controls: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Blocks for as many hits as fit one message beside ``overhead``; (blocks, hits shown).

    One block and _NOTE_RESERVE characters stay free for the "did not fit" note.
    """
    room = DEFAULT_MAX_CHARS - block_text_length(overhead) - _NOTE_RESERVE
    slots = MAX_BLOCKS - len(overhead) - 1
    blocks: list[dict[str, Any]] = []
    shown = 0
    for i, hit in enumerate(hits):
        group = _hit_blocks(hit, first_number + i, controls=controls)
        size = block_text_length(group)
        if size > room or len(group) > slots:
            break
        blocks.extend(group)
        room -= size
        slots -= len(group)
        shown += 1
    return blocks, shown


def _not_shown_note(hidden: int) -> dict[str, Any]:
    return _context(f"{plural(hidden, 'more result')} did not fit in this message.")


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
    """An ephemeral reply to ``/paper``: a page of hits, each with *More like this* and
    *Save*, and a "More" and a "Share" button.

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

    body, shown = _hit_pages(hits, first, overhead + actions, controls=True)
    blocks = overhead + body
    if shown < len(hits):
        blocks.append(_not_shown_note(len(hits) - shown))
    blocks.extend(actions)
    numbered = [
        (first + i, _clean(display_title(h.title, h.aliases))) for i, h in enumerate(hits[:shown])
    ]
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
    numbered = [
        (i + 1, _clean(display_title(h.title, h.aliases))) for i, h in enumerate(hits[:shown])
    ]
    return _message(_fallback(lead, numbered), blocks, "in_channel")
