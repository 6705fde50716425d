"""A source's health as one state and one line: the rule `sources list` and Slack share.

The states, most telling first: ``retired`` (left the sources file or removed: not
polled, its papers kept), ``never-polled``, ``failing`` (its last check failed: how many
in a row, since when, the last error), ``stale`` / ``empty`` (it answers, but an arXiv
listing repeats an old batch or is empty on a weekday), ``ok`` (its last check succeeded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from digests.model import SourceInfo
from digests.render import format_ago


class SourceState(StrEnum):
    RETIRED = "retired"
    NEVER_POLLED = "never-polled"
    FAILING = "failing"
    STALE = "stale"
    EMPTY = "empty"
    OK = "ok"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source's state with the facts behind it."""

    state: SourceState
    since: datetime | None  # retired at / failing since / unwell since
    failures: int  # failed checks in a row
    last_success: datetime | None
    last_error: str | None  # only while failing
    reason: str | None  # why it is stale or empty

    def describe(self, now: datetime, *, error_chars: int | None = None) -> str:
        """One line for people, e.g. ``failing: 3 in a row since 2025-08-20 12:00 UTC;
        last error: …``. ``error_chars`` shortens the error, at a word, for tight places."""
        since = f" since {_when(self.since)}" if self.since else ""
        if self.state is SourceState.RETIRED:
            return f"retired{since}: not polled, its papers stay"
        if self.state is SourceState.NEVER_POLLED:
            return "never polled"
        if self.state is SourceState.FAILING:
            error = _shorten(self.last_error or "unknown error", error_chars)
            return f"failing: {self.failures} in a row{since}; last error: {error}"
        success = f"last success {format_ago(self.last_success, now)}"
        if self.state is SourceState.OK:
            return f"ok: {success}"
        return f"{self.state.value}{since}: {self.reason or 'no reason kept'} ({success})"

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "text": self.describe(now),
            "since": self.since.isoformat() if self.since else None,
            "failures": self.failures,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_error": self.last_error,
            "reason": self.reason,
        }


def source_status(s: SourceInfo) -> SourceStatus:
    """Judge a stored source's health from its record. Pure."""
    state, since, error, reason = SourceState.OK, None, None, None
    if s.retired_at is not None:
        state, since = SourceState.RETIRED, s.retired_at
    elif s.last_checked_at is None:
        state = SourceState.NEVER_POLLED
    elif s.consecutive_failures > 0:
        # Streaks from before ``failing_since`` was kept fall back on the flag's time.
        state, error = SourceState.FAILING, s.last_error
        since = s.failing_since or (s.health_since if s.health == "failing" else None)
    elif s.health in (SourceState.STALE, SourceState.EMPTY):
        state, since, reason = SourceState(s.health), s.health_since, s.health_reason
    return SourceStatus(
        state=state,
        since=since,
        failures=s.consecutive_failures,
        last_success=s.last_success_at,
        last_error=error,
        reason=reason,
    )


def _when(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _shorten(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:") + "…"
