"""When a subscription fires, and which ISO week each run covers; pure: moments are passed in.

A subscription fires weekly at its wall time in its zone, once, even across a DST change.
A run covers the ISO week holding most of the seven days before it, never a week before
the subscription's ``start_week``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.errors import ConfigError
from digests.model import Subscription
from digests.weeks import IsoWeek, parse_week

__all__ = [
    "digest_week",
    "due_week",
    "first_week",
    "last_run",
    "next_fire",
    "next_run",
]

log = logging.getLogger(__name__)

# Half a week: a run covers the ISO week holding most of the seven days before it.
_COVER_SHIFT = timedelta(days=3, hours=12)
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


# -- fire times ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Weekly:
    weekday: int
    at: time
    zone: ZoneInfo


def _weekly(weekday: int, hhmm: str, tz: str) -> _Weekly:
    if not 0 <= weekday <= 6:
        raise ConfigError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
    m = _HHMM.fullmatch(hhmm.strip())
    if m is None:
        raise ConfigError(f"time {hhmm!r} is not HH:MM (00:00 to 23:59)")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{tz!r} is not a time zone; use an IANA name like Asia/Tokyo") from e
    return _Weekly(weekday, time(int(m[1]), int(m[2])), zone)


def _fire_on(day: date, w: _Weekly) -> datetime:
    """The UTC instant of the wall time ``w.at`` on local ``day`` (gaps and overlaps solved)."""
    wall = datetime.combine(day, w.at)
    first = wall.replace(tzinfo=w.zone, fold=0).astimezone(UTC)
    if first.astimezone(w.zone).replace(tzinfo=None) == wall:
        return first  # exists; when it happens twice, fold=0 is the first occurrence
    # ``wall`` falls in a gap. fold=1 reads it with the offset after the change, fold=0
    # with the one before, so the change itself lies between the two readings: search for
    # the first instant whose wall time has reached ``wall``.
    lo = int(wall.replace(tzinfo=w.zone, fold=1).astimezone(UTC).timestamp())
    hi = int(first.timestamp())
    while lo < hi:
        mid = (lo + hi) // 2
        local = datetime.fromtimestamp(mid, UTC).astimezone(w.zone).replace(tzinfo=None)
        if local >= wall:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(hi, UTC)


def _anchor(moment: datetime, w: _Weekly) -> date:
    """The latest local date on the schedule's weekday that is not after ``moment``'s."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got {moment!r}")
    today = moment.astimezone(w.zone).date()
    return today - timedelta(days=(today.weekday() - w.weekday) % 7)


def _next_fire(w: _Weekly, after: datetime) -> datetime:
    day = _anchor(after, w)
    fire = _fire_on(day, w)
    return fire if fire > after else _fire_on(day + timedelta(days=7), w)


def _last_fire(w: _Weekly, at: datetime) -> datetime:
    day = _anchor(at, w)
    fire = _fire_on(day, w)
    return fire if fire <= at else _fire_on(day - timedelta(days=7), w)


def next_fire(weekday: int, hhmm: str, tz: str, after: datetime) -> datetime:
    """The first weekly fire time (aware UTC) of ``weekday`` at ``hhmm`` in ``tz`` after
    ``after``: 09:00 stays 09:00 on the wall clock across daylight-saving changes."""
    return _next_fire(_weekly(weekday, hhmm, tz), after)


def next_run(sub: Subscription, after: datetime) -> datetime:
    """Its first fire time (aware UTC) after ``after``, and not before its creation."""
    w = _weekly(sub.weekday, sub.time, sub.tz)
    return _next_fire(w, max(after, sub.created_at - timedelta(microseconds=1)))


def last_run(sub: Subscription, at: datetime) -> datetime | None:
    """Its latest fire time at or before ``at``; None when that came before its creation."""
    fire = _last_fire(_weekly(sub.weekday, sub.time, sub.tz), at)
    return fire if fire >= sub.created_at else None


# -- which week a run covers --------------------------------------------------------------


def digest_week(fire: datetime, tz: str) -> IsoWeek:
    """The week a run at ``fire`` covers: the one holding most of the seven days before it.

    Counted on the wall clock of ``tz`` (a daylight-saving change does not move the cut):
    Monday to Thursday 11:59 -> the previous week, Thursday 12:00 to Sunday -> this week.
    """
    if fire.tzinfo is None or fire.utcoffset() is None:
        raise ValueError(f"digest_week needs an aware datetime, got {fire!r}")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{tz!r} is not a time zone; use an IANA name like Asia/Tokyo") from e
    wall = fire.astimezone(zone).replace(tzinfo=None) - _COVER_SHIFT
    iso = wall.date().isocalendar()
    return IsoWeek(iso.year, iso.week)


def first_week(weekday: int, hhmm: str, tz: str, created_at: datetime) -> IsoWeek:
    """The first week a subscription made at ``created_at`` will cover: its ``start_week``."""
    return digest_week(_next_fire(_weekly(weekday, hhmm, tz), created_at), tz)


def due_week(sub: Subscription, now: datetime) -> IsoWeek | None:
    """The week ``sub``'s latest run at or before ``now`` covers; None if it has none yet."""
    fire = last_run(sub, now)
    if fire is None:
        return None  # it has not fired since it was made
    week = digest_week(fire, sub.tz)
    start = _start_week(sub)
    if start is not None and week < start:
        return None
    return week


def _start_week(sub: Subscription) -> IsoWeek | None:
    try:
        return parse_week(sub.start_week)
    except ConfigError:
        # An unreadable start week must not silence the channel: creation still bounds it.
        log.warning("subscription=%s has an unreadable start_week %r", sub.id, sub.start_week)
        return None
