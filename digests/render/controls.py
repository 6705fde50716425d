"""The feedback controls under each paper of a posted digest (👍 👎 🔖), and the line
saying who clicked, as Block Kit; pure.

A paper's controls are one actions block whose ``block_id`` names the paper; after a click
the message's blocks are rewritten in place (``apply_tallies``) with the counts on the
buttons and a context line of who gave them, everything else kept as posted. The digest
fitter reserves the line's block and characters for every paper, so a message that fits
when posted still fits with every line shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from digests.model import FeedbackTally
from digests.render.slack import _context

# action_id prefix of every feedback button; the suffix says what it does.
FEEDBACK_ACTION = "paper_fb_"
LIKE_ACTION = FEEDBACK_ACTION + "like"
MUTE_ACTION = FEEDBACK_ACTION + "mute"
SAVE_ACTION = FEEDBACK_ACTION + "save"
UNSAVE_ACTION = FEEDBACK_ACTION + "unsave"
SIMILAR_ACTION = "paper_similar"

LIKE = "👍"
MUTE = "👎"
SAVE = "🔖"

_CONTROLS_BLOCK = "paper_fb:"
_TALLY_BLOCK = "paper_tally:"
# Names shown per verdict before "+N"; the line stays within TALLY_RESERVE.
_NAMES_MAX = 8
TALLY_RESERVE = 300
# Text of the three buttons with counts and their accessibility labels.
CONTROLS_RESERVE = 80
_USER_ID_RE = re.compile(r"[UW][A-Z0-9]{1,30}")


def _button(label: str, action_id: str, value: str, *, spoken: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
        "accessibility_label": spoken,
    }


def _counted(mark: str, n: int) -> str:
    return f"{mark} {n}" if n else mark


def controls_block(paper_id: int, tally: FeedbackTally | None = None) -> dict[str, Any]:
    """👍 / 👎 with the channel's counts, and 🔖 (saving is personal: no count)."""
    likes = len(tally.likes) if tally else 0
    mutes = len(tally.mutes) if tally else 0
    value = str(paper_id)
    return {
        "type": "actions",
        "block_id": f"{_CONTROLS_BLOCK}{paper_id}",
        "elements": [
            _button(_counted(LIKE, likes), LIKE_ACTION, value, spoken="More like this"),
            _button(_counted(MUTE, mutes), MUTE_ACTION, value, spoken="Not for us"),
            _button(SAVE, SAVE_ACTION, value, spoken="Save for me"),
        ],
    }


def _names(user_ids: Sequence[str]) -> str:
    shown = [f"<@{u}>" for u in user_ids if _USER_ID_RE.fullmatch(u)][:_NAMES_MAX]
    rest = len(user_ids) - len(shown)
    return ", ".join(shown) + (f" +{rest} more" if rest > 0 else "")


def tally_block(tally: FeedbackTally) -> dict[str, Any] | None:
    """ "👍 <@U1>, <@U2> · 👎 <@U3>"; None when nobody gave a verdict."""
    parts = []
    if tally.likes:
        parts.append(f"{LIKE} {_names(tally.likes)}")
    if tally.mutes:
        parts.append(f"{MUTE} {_names(tally.mutes)}")
    if not parts:
        return None
    block = _context(" · ".join(parts))
    block["block_id"] = f"{_TALLY_BLOCK}{tally.paper_id}"
    return block


def _paper_of(block: Mapping[str, Any], prefix: str) -> int | None:
    block_id = str(block.get("block_id") or "")
    if not block_id.startswith(prefix):
        return None
    digits = block_id.removeprefix(prefix)
    return int(digits) if digits.isascii() and digits.isdigit() else None


def controlled_papers(blocks: Sequence[Mapping[str, Any]]) -> list[int]:
    """The papers a message carries controls for, in order."""
    found = (_paper_of(b, _CONTROLS_BLOCK) for b in blocks if b.get("type") == "actions")
    return [p for p in found if p is not None]


def apply_tallies(
    blocks: Sequence[Mapping[str, Any]], tallies: Mapping[int, FeedbackTally]
) -> list[dict[str, Any]]:
    """The message's blocks with every paper's controls and who-clicked line redone from
    ``tallies`` (a paper missing there has no verdicts); every other block as it was."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("type") == "context" and _paper_of(block, _TALLY_BLOCK) is not None:
            continue  # redone after its paper's controls
        paper = _paper_of(block, _CONTROLS_BLOCK) if block.get("type") == "actions" else None
        if paper is None:
            out.append(dict(block))
            continue
        tally = tallies.get(paper) or FeedbackTally(paper)
        out.append(controls_block(paper, tally))
        line = tally_block(tally)
        if line is not None:
            out.append(line)
    return out
