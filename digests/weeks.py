"""ISO weeks cut in a time zone: labels, parsing, and the UTC instants that bound a week.

A week is Monday to Sunday on the channel's clock, bounded by aware UTC instants (start
inclusive, end exclusive): a week with a DST change is an hour longer or shorter. Pure.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.errors import ConfigError

__all__ = [
    "YEARS",
    "IsoWeek",
    "next",
    "parse_week",
    "previous",
    "week_bounds",
    "week_of",
    "weeks_in_year",
]

# "2025-W34", "2025W34", "2025-w34"; one-digit weeks ("2025-W5") are accepted too because
# people type them, and the label written back is always the two-digit ISO form.
_WEEK_RE = re.compile(r"(?P<year>[0-9]{4})-?[wW](?P<week>[0-9]{1,2})")
_FORM = "2025-W34"
# The years a person asking for papers means: anything outside is a typo (3000 for 2000,
# 1025 for 2025) and is refused, rather than answered with an empty week.
YEARS = range(1990, 2101)


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last."""
    return date(year, 12, 28).isocalendar().week


@dataclass(frozen=True, slots=True, order=True)
class IsoWeek:
    """An ISO 8601 week: ``IsoWeek(2025, 34)`` is ``2025-W34``. Ordered by time."""

    year: int
    week: int

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999:
            raise ConfigError(f"week {self.year}-W{self.week:02d}: the year must be 1 to 9999")
        last = weeks_in_year(self.year)
        if not 1 <= self.week <= last:
            raise ConfigError(
                f"week {self.year}-W{self.week:02d} does not exist: "
                f"{self.year} has weeks W01 to W{last}"
            )

    @property
    def label(self) -> str:
        """``2025-W34``: what digests are archived and shown under."""
        return f"{self.year:04d}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        """The week's first day, as a calendar date (no zone: it is Monday everywhere)."""
        return date.fromisocalendar(self.year, self.week, 1)

    def __str__(self) -> str:
        return self.label


def parse_week(text: str) -> IsoWeek:
    """``2025-W34`` (also ``2025W34``, ``2025-w34``, full-width digits) -> ``IsoWeek``.

    Raises ``ConfigError`` naming the text and the expected form, or the weeks the year has.
    """
    cleaned = unicodedata.normalize("NFKC", text).strip()
    m = _WEEK_RE.fullmatch(cleaned)
    if m is None:
        raise ConfigError(f"week {text!r} is not like {_FORM}")
    return IsoWeek(int(m["year"]), int(m["week"]))


def _zone(tz: str) -> tzinfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{tz!r} is not a time zone; use an IANA name like Asia/Tokyo") from e


def _from_date(day: date) -> IsoWeek:
    iso = day.isocalendar()
    return IsoWeek(iso.year, iso.week)


def week_of(moment: datetime, tz: str) -> IsoWeek:
    """The ISO week that ``moment`` (aware) falls in, on the clock of ``tz``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"week_of needs an aware datetime, got {moment!r}")
    return _from_date(moment.astimezone(_zone(tz)).date())


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    # fold=0 (the default) matters only where midnight is skipped or repeated by a DST
    # change (Santiago, Havana, Beirut): in a gap it maps 00:00 to the first instant of the
    # day, and when 00:00 happens twice it picks the first; both are "when Monday begins".
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def week_bounds(week: IsoWeek, tz: str) -> tuple[datetime, datetime]:
    """Aware UTC instants of Monday 00:00 in ``tz`` and of the next Monday 00:00 (exclusive).

    >>> week_bounds(IsoWeek(2025, 34), "Asia/Tokyo")[0].isoformat()
    '2025-08-17T15:00:00+00:00'
    """
    zone = _zone(tz)
    try:
        monday = week.monday
        return _local_midnight(monday, zone), _local_midnight(monday + timedelta(days=7), zone)
    except (OverflowError, ValueError) as e:
        raise ConfigError(f"week {week.label} in {tz} is outside the dates Python handles") from e


def _shift(week: IsoWeek, days: int) -> IsoWeek:
    try:
        return _from_date(week.monday + timedelta(days=days))
    except OverflowError as e:
        raise ConfigError(f"there is no week {'after' if days > 0 else 'before'} {week}") from e


def previous(week: IsoWeek) -> IsoWeek:
    """The week before: ``previous(2021-W01)`` is ``2020-W53``."""
    return _shift(week, -7)


# ``next`` shadows the builtin inside this module only; callers write ``weeks.next(w)``.
def next(week: IsoWeek) -> IsoWeek:
    """The week after: ``next(2020-W53)`` is ``2021-W01``."""
    return _shift(week, 7)
