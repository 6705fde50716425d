"""What a click on a paper's buttons means: 👍 / 👎 for the channel, 🔖 for the clicker,
and the saved papers' list and export; plain functions of the store, the time and values.

The Bolt listener (``bot.app``) acks, calls ``click`` and then does what the returned
``ClickOutcome`` says: redo the message's controls (``chat.update``) and answer the
clicker. Who clicked, and in which workspace and channel, comes from Slack's signed
payload; the button's value only names a paper, and a value paperbot never made is
answered, not trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.actions import Invocation, Reply
from digests.bibtex import bibtex_entries
from digests.model import FeedbackTally, Verdict
from digests.render.controls import (
    FEEDBACK_ACTION,
    SAVE_ACTION,
    UNSAVE_ACTION,
    apply_tallies,
    controlled_papers,
)
from digests.render.saved import render_bibtex_message, render_saved_message
from digests.render.slack import _button, escape_mrkdwn, text_section
from digests.store import Store

log = logging.getLogger("paperbot.slack")

Action = Literal["like", "mute", "save", "unsave"]
ACTIONS: tuple[Action, ...] = ("like", "mute", "save", "unsave")
SAVED_PAGE_SIZE = 10
# The export reads at most this many saved papers; the command line has no limit.
EXPORT_MAX = 1000

GONE = "That paper is no longer in paperbot."
NOT_OURS = "That button does not come from paperbot: nothing was recorded."
CHANNELS_ONLY = "👍 and 👎 count for a channel: use them on a digest in a channel."


class BadClick(ValueError):
    """A button payload paperbot did not make; the message says so in one line."""


@dataclass(frozen=True, slots=True)
class Click:
    action: Action
    paper_id: int


@dataclass(frozen=True, slots=True)
class ClickOutcome:
    """What the listener does after a click: the message's new blocks (None: leave it)
    and a reply to the clicker alone (None: none)."""

    blocks: list[dict[str, Any]] | None = None
    reply: Reply | None = None


def parse_click(action_id: str, value: str) -> Click:
    """The click a button's action id and value stand for; ``BadClick`` otherwise."""
    action = action_id.removeprefix(FEEDBACK_ACTION)
    if not action_id.startswith(FEEDBACK_ACTION) or action not in ACTIONS:
        raise BadClick(f"unknown action {action_id[:60]!r}")
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**31):
        raise BadClick(f"{action} value {value[:60]!r} is not a paper id")
    return Click(action, int(digits))


def next_verdict(current: Verdict | None, clicked: Verdict) -> Verdict | None:
    """Clicking one's own verdict again takes it back; the other verdict replaces it."""
    return None if current == clicked else clicked


def current_verdict(tally: FeedbackTally | None, user_id: str) -> Verdict | None:
    if tally is None:
        return None
    if user_id in tally.likes:
        return "like"
    if user_id in tally.mutes:
        return "mute"
    return None


def click(
    store: Store,
    action_id: str,
    value: str,
    who: Invocation,
    *,
    message_blocks: Sequence[Mapping[str, Any]] | None,
    now: datetime,
) -> ClickOutcome:
    """Record a click and say what changes: a verdict redoes the message's controls, a
    save or its undo answers the clicker alone."""
    try:
        parsed = parse_click(action_id, value)
    except BadClick as e:
        log.warning("refused a button team=%s user=%s: %s", who.team_id, who.user_id, e)
        return ClickOutcome(reply=Reply(NOT_OURS, replace_original=False))
    if not store.known_paper_ids([parsed.paper_id]):
        return ClickOutcome(reply=Reply(GONE, replace_original=False))
    if parsed.action in ("save", "unsave"):
        return ClickOutcome(reply=_save(store, parsed, who, now=now))
    if not who.channel_id or who.channel_id.startswith("D"):
        return ClickOutcome(reply=Reply(CHANNELS_ONLY, replace_original=False))
    verdict: Verdict = "like" if parsed.action == "like" else "mute"
    mine = store.tallies(who.team_id, who.channel_id, [parsed.paper_id]).get(parsed.paper_id)
    wanted = next_verdict(current_verdict(mine, who.user_id), verdict)
    store.set_verdicts(
        who.team_id,
        who.channel_id,
        who.user_id,
        {parsed.paper_id: wanted},
        origin="click",
        now=now,
    )
    log.info(
        "feedback %s paper=%d team=%s channel=%s user=%s",
        wanted or f"un{verdict}",
        parsed.paper_id,
        who.team_id,
        who.channel_id,
        who.user_id,
    )
    papers = controlled_papers(message_blocks or [])
    if parsed.paper_id not in papers:
        return ClickOutcome()
    # Every paper of the message redone from the store, not only the clicked one: two
    # people clicking at once each send the whole message, and the later one must not
    # show the other's click undone.
    tallies = store.tallies(who.team_id, who.channel_id, papers)
    return ClickOutcome(blocks=apply_tallies(message_blocks or [], tallies))


def _title(store: Store, paper_id: int) -> str:
    found = store.cited_papers([paper_id])
    return escape_mrkdwn(" ".join(found[0].title.split())[:300]) if found else "the paper"


def _save(store: Store, parsed: Click, who: Invocation, *, now: datetime) -> Reply:
    title = _title(store, parsed.paper_id)
    if parsed.action == "save":
        store.save_papers(
            who.team_id,
            who.user_id,
            [parsed.paper_id],
            channel_id=who.channel_id or None,
            now=now,
        )
        text = f"Saved *{title}* — `/paper saved` lists your papers."
        undo = _button("Undo", UNSAVE_ACTION, str(parsed.paper_id))
        return Reply(text, blocks=[text_section(text), _actions(undo)], replace_original=False)
    store.unsave_papers(who.team_id, who.user_id, [parsed.paper_id])
    text = f"Removed *{title}* from your saved papers."
    again = _button("🔖 Save again", SAVE_ACTION, str(parsed.paper_id))
    # Replaces the message whose button was pressed: the "Saved" note or the list.
    return Reply(text, blocks=[text_section(text), _actions(again)], replace_original=True)


def _actions(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(buttons)}


# --- saved papers -------------------------------------------------------------------------


def saved_page(store: Store, who: Invocation, page: int, *, replace_original: bool) -> Reply:
    """A page of the person's saved papers, newest first."""
    total = store.saved_count(who.team_id, who.user_id)
    pages = max(1, -(-total // SAVED_PAGE_SIZE))
    page = min(max(page, 1), pages)
    saved = store.saved_papers(
        who.team_id, who.user_id, limit=SAVED_PAGE_SIZE, offset=(page - 1) * SAVED_PAGE_SIZE
    )
    cited = {p.paper_id: p for p in store.cited_papers([s.paper_id for s in saved])}
    rows = [(cited[s.paper_id], s.saved_at) for s in saved if s.paper_id in cited]
    message = render_saved_message(rows, page=page, page_size=SAVED_PAGE_SIZE, total=total)
    return Reply.of(message, replace_original=replace_original)


def saved_bibtex(store: Store, who: Invocation) -> Reply:
    """The person's saved papers as BibTeX, newest first, as much as a message holds."""
    saved = store.saved_papers(who.team_id, who.user_id, limit=EXPORT_MAX)
    entries = bibtex_entries(store.cited_papers([s.paper_id for s in saved]))
    message = render_bibtex_message(entries, user_id=who.user_id)
    return Reply.of(message, replace_original=False)


def parse_page(value: str) -> int:
    """A page button's value; a value paperbot did not make is the first page."""
    digits = value.strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 7 else 1
