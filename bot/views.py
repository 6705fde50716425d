"""What paperbot shows that needs no decision: the help, the Home tab, a subscription's line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.commands import ADMIN_USAGE, USAGE, describe_schedule, next_delivery
from digests.model import Subscription
from digests.query import VALID_TERMS
from digests.render.slack import escape_mrkdwn, note_block, text_section

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
