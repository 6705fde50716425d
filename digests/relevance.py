"""Best match first: the order of a free-text search's results; pure, no SQL.

A paper named exactly as typed comes first: its whole title, the short name its title
leads with ("GPQA" of "GPQA: A Graduate-Level Google-Proof Q&A Benchmark") or one of the
short names curated lists give it. Papers that merely mention the words follow, by the
database's text score (BM25), then newest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digests.normalize import normalize_title

# A title's short name ends at its first colon: "LIMA: Less Is More for Alignment".
_LEAD_RE = re.compile(r"[:：]")


@dataclass(frozen=True, slots=True)
class Scored:
    """A matching paper as the order needs it."""

    paper_id: int
    title: str
    aliases: tuple[str, ...]
    score: float  # how well the text matches; higher is better, 0 when unscored
    announced_at: datetime


def title_lead(title: str) -> str | None:
    """The short name a title leads with, before its first colon; None without one."""
    parts = _LEAD_RE.split(title, maxsplit=1)
    if len(parts) < 2:
        return None
    return parts[0].strip() or None


def names(text: str, title: str, aliases: Sequence[str] = ()) -> bool:
    """Whether ``text`` is the paper's name: its title, the short name the title leads
    with, or an alias, compared as titles are (case, width and punctuation aside)."""
    wanted = normalize_title(text)
    if not wanted:
        return False
    lead = title_lead(title)
    return any(normalize_title(n) == wanted for n in (title, lead, *aliases) if n)


def relevance_order(found: Iterable[Scored], text: str) -> list[int]:
    """Paper ids best match first: named exactly by ``text``, then by score, then newest."""
    ranked = sorted(
        found,
        key=lambda p: (
            not names(text, p.title, p.aliases),
            -p.score,
            -p.announced_at.timestamp(),
            -p.paper_id,
        ),
    )
    return [p.paper_id for p in ranked]
