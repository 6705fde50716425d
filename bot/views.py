"""What paperbot shows that needs no decision: the help, the Home tab, a subscription's line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.commands import ADMIN_USAGE, USAGE, describe_schedule, next_delivery
from digests.library_import import MAX_LIBRARY_BYTES, ImportReport
from digests.model import Subscription
from digests.query import VALID_TERMS
from digests.render.slack import escape_mrkdwn, line_sections, note_block, text_section

HOME_MAX_SUBSCRIPTIONS = 40  # the Home tab takes 100 blocks; two per subscription


def help_message() -> dict[str, Any]:
    """``/paper help``: keyword arguments for the ack."""
    text = (
        "*paperbot* finds papers and posts the week's top papers to channels.\n"
        + USAGE
        + "\n\n*Admins only*\n"
        + ADMIN_USAGE
    )
    return {
        "text": text,
        "blocks": [
            text_section(text),
            text_section("*Query terms*\n```" + VALID_TERMS + "```"),
            note_block('To look up a word that is also a command, quote it: /paper "poll"'),
        ],
        "response_type": "ephemeral",
    }


def query_code(text: str) -> str:
    """A stored query as inline code; the empty query is every paper."""
    return "`" + escape_mrkdwn(text).replace("`", "'") + "`" if text else "every paper"


def describe_subscription(sub: Subscription, now: datetime) -> str:
    """Its query, schedule and options, then when the next digest comes (mrkdwn)."""
    when = next_delivery(sub.weekday, sub.time, sub.tz, now=now)
    parts = [
        query_code(sub.query),
        describe_schedule(sub.weekday, sub.time, sub.tz),
        f"top {sub.top}",
    ]
    if sub.lang:
        parts.append(f"lang {sub.lang}")
    text = " · ".join(parts)
    text += f"\n    next digest: {when:%a %Y-%m-%d %H:%M} {when.tzname() or sub.tz}"
    if sub.last_error:
        text += f"\n    last error: {escape_mrkdwn(sub.last_error[:200])}"
    return text


def home_view(subs: Sequence[Subscription], *, admin: bool, now: datetime) -> dict[str, Any]:
    """The Home tab: what /paper does and the workspace's subscriptions (≤ 100 blocks)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "paperbot"}},
        text_section(
            "Papers from arXiv, Hugging Face and curated weekly lists, one record "
            "per paper; each subscribed channel gets the week's top papers.\n" + USAGE
        ),
    ]
    if admin:
        blocks.append(text_section("*You are a paperbot admin*\n" + ADMIN_USAGE))
    blocks.append({"type": "divider"})
    if not subs:
        blocks.append(note_block("No channel in this workspace is subscribed yet."))
    else:
        blocks.append(text_section(f"*Subscriptions in this workspace ({len(subs)})*"))
        for sub in subs[:HOME_MAX_SUBSCRIPTIONS]:
            blocks.append(
                text_section(f"*#{sub.id}* <#{sub.channel_id}> {describe_subscription(sub, now)}")
            )
        if len(subs) > HOME_MAX_SUBSCRIPTIONS:
            blocks.append(note_block(f"and {len(subs) - HOME_MAX_SUBSCRIPTIONS} more"))
    return {"type": "home", "blocks": blocks}


# -- the library import form (``/paper profile import``) -------------------------------------

IMPORT_CALLBACK = "profile_import"
IMPORT_TEXT_BLOCK, IMPORT_TEXT_ACTION = "import_text", "text"
IMPORT_FILE_BLOCK, IMPORT_FILE_ACTION = "import_file", "file"
PASTE_MAX = 3000  # Slack's limit for a plain_text_input
IMPORT_RESULT_LINES = 40  # unresolved entries shown; a modal takes 100 blocks


def _modal(title: str, blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
        **extra,
    }


def import_modal(channel_id: str) -> dict[str, Any]:
    """The form: paste a list or upload a file; the channel rides in private_metadata."""
    limit = MAX_LIBRARY_BYTES // (1024 * 1024)
    return _modal(
        "Import a library",
        [
            text_section(
                f"Every paper the library names is liked for <#{channel_id}>, as if someone "
                "there had pressed 👍 on it. Entries that cannot be found are listed."
            ),
            {
                "type": "input",
                "block_id": IMPORT_TEXT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Paste arXiv ids, DOIs, links or BibTeX"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": IMPORT_TEXT_ACTION,
                    "multiline": True,
                    "max_length": PASTE_MAX,
                    "placeholder": {"type": "plain_text", "text": "2305.18290\n10.1145/…"},
                },
                "hint": {"type": "plain_text", "text": "One a line, or BibTeX / RIS entries."},
            },
            {
                "type": "input",
                "block_id": IMPORT_FILE_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "…or upload an export"},
                "element": {
                    "type": "file_input",
                    "action_id": IMPORT_FILE_ACTION,
                    "filetypes": ["bib", "ris", "txt"],
                    "max_files": 1,
                },
                "hint": {
                    "type": "plain_text",
                    "text": f"Zotero or Mendeley BibTeX (.bib) or RIS (.ris), or a list "
                    f"(.txt); at most {limit} MB.",
                },
            },
        ],
        callback_id=IMPORT_CALLBACK,
        private_metadata=channel_id,
        submit={"type": "plain_text", "text": "Import"},
    )


def import_working_view(channel_id: str, entries: int | None) -> dict[str, Any]:
    """Shown while the import runs (looking ids up on arXiv takes a few seconds)."""
    what = "the file" if entries is None else f"{entries} entr{'ies' if entries != 1 else 'y'}"
    return _modal(
        "Importing…",
        [text_section(f"Importing {what} into <#{channel_id}>'s profile…")],
    )


def import_result_view(channel_id: str, outcome: ImportReport | str) -> dict[str, Any]:
    """The counts and every unresolved entry (up to a modal's room), or why nothing ran."""
    if isinstance(outcome, str):
        return _modal("Nothing imported", [text_section(escape_mrkdwn(outcome))])
    blocks = [text_section(f"<#{channel_id}>: {escape_mrkdwn(outcome.summary())}")]
    if outcome.arxiv_failure:
        blocks.append(note_block(f"arXiv could not be asked: {outcome.arxiv_failure}"))
    blocks += line_sections(_unresolved_lines(outcome), max_blocks=20)
    return _modal("Library imported", blocks)


def import_result_text(channel_id: str, outcome: ImportReport | str) -> str:
    """The same as a message (when the form was closed before the import ended)."""
    if isinstance(outcome, str):
        return escape_mrkdwn(outcome)
    lines = [f"<#{channel_id}>: {escape_mrkdwn(outcome.summary())}"]
    return "\n".join(lines + _unresolved_lines(outcome))


def _unresolved_lines(report: ImportReport) -> list[str]:
    shown = report.unresolved[:IMPORT_RESULT_LINES]
    lines = [f"• {escape_mrkdwn(str(u))}" for u in shown]
    if len(report.unresolved) > len(shown):
        lines.append(f"… and {len(report.unresolved) - len(shown)} more")
    return lines
