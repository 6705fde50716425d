"""A person's saved papers as Slack messages: a page of them, and their BibTeX in code
blocks within Slack's limits; pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from digests.model import CitedPaper
from digests.render.controls import UNSAVE_ACTION
from digests.render.paper import _AUTHORS_MAX, format_authors
from digests.render.slack import (
    _NOTE_RESERVE,
    DEFAULT_MAX_CHARS,
    MAX_BLOCKS,
    SECTION_MAX,
    SlackMessage,
    _button,
    _clean,
    _context,
    _fit,
    _link,
    _message,
    _section,
    escape_mrkdwn,
    plural,
    text_length,
)

SAVED_PAGE_ACTION = "paper_saved_page"
SAVED_BIBTEX_ACTION = "paper_saved_bibtex"
_TITLE_MAX = 300
# A code block's fence and newlines around the entries.
_FENCE = "```"


def saved_hint(user_id: str) -> str:
    return f"`paperbot saved --user {user_id} --bibtex`"


def render_saved_message(
    papers: Sequence[tuple[CitedPaper, datetime]],
    *,
    page: int,
    page_size: int,
    total: int,
) -> SlackMessage:
    """One page of saved papers, newest first, each with *Remove*; the page buttons and
    *Export BibTeX* below."""
    if total == 0:
        text = (
            "You have no saved papers yet. 🔖 under a paper in a digest, or *Save* on a "
            "`/paper` result, keeps it here."
        )
        return _message(text, [_section(text)], "ephemeral")
    pages = max(1, -(-total // page_size))
    first = (page - 1) * page_size + 1
    lead = f"Your saved papers · {first}–{first + len(papers) - 1} of {total}"
    if pages > 1:
        lead += f" · page {page} of {pages}"
    blocks: list[dict[str, Any]] = [_section(lead)]
    for number, (paper, saved_at) in enumerate(papers, start=first):
        title = _link(paper.url, _clean(paper.title), _TITLE_MAX)
        lines = [f"*{number}. {title}*"]
        authors = format_authors(paper.authors)
        if authors:
            lines.append(_fit(authors, _AUTHORS_MAX, escape=True))
        lines.append(f"saved {saved_at:%Y-%m-%d}")
        block = _section("\n".join(lines))
        block["accessory"] = _button("Remove", UNSAVE_ACTION, str(paper.paper_id))
        blocks.append(block)
    buttons = []
    if page > 1:
        buttons.append(_button("Newer", SAVED_PAGE_ACTION, str(page - 1)))
    if page < pages:
        buttons.append(_button("Older", SAVED_PAGE_ACTION, str(page + 1)))
    buttons.append(_button("Export BibTeX", SAVED_BIBTEX_ACTION, "all"))
    blocks.append({"type": "actions", "elements": buttons})
    return _message(lead, blocks[:MAX_BLOCKS], "ephemeral")


def render_bibtex_message(
    entries: Sequence[str], *, user_id: str, max_chars: int = DEFAULT_MAX_CHARS
) -> SlackMessage:
    """The entries in code blocks, whole entries only, as many as one message holds; the
    rest counted, with the command that writes them all."""
    if not entries:
        text = "You have no saved papers to export."
        return _message(text, [_section(text)], "ephemeral")
    room = max_chars - _NOTE_RESERVE
    slots = MAX_BLOCKS - 1
    limit = SECTION_MAX - 2 * len(_FENCE) - 2
    blocks: list[dict[str, Any]] = []
    chunk = ""
    shown = 0
    for entry in entries:
        body = escape_mrkdwn(entry.rstrip("\n"))
        size = text_length(body) + 2
        if size > limit:
            continue  # too long for a block alone (a huge author list): the command has it
        if size > room:
            break
        if chunk and text_length(chunk) + size > limit:
            blocks.append(_section(f"{_FENCE}\n{chunk}\n{_FENCE}"))
            slots -= 1
            chunk = ""
        if slots < 1:
            break
        chunk = f"{chunk}\n\n{body}" if chunk else body
        room -= size + 2 * len(_FENCE)
        shown += 1
    if chunk:
        blocks.append(_section(f"{_FENCE}\n{chunk}\n{_FENCE}"))
    left = len(entries) - shown
    text = f"BibTeX of {plural(shown, 'saved paper')}"
    if left:
        blocks.append(
            _context(
                f"{left} more {'entry' if left == 1 else 'entries'} did not fit in a Slack "
                "message: "
                f"{saved_hint(user_id)} writes them all."
            )
        )
    return _message(text, blocks, "ephemeral")
