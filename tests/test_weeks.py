"""ISO weeks in a time zone: labels, parsing, bounds across DST changes and year ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digests import weeks
from digests.errors import ConfigError
from digests.weeks import IsoWeek, parse_week, previous, week_bounds, week_of, weeks_in_year


def hours(week: IsoWeek, tz: str) -> float:
    start, end = week_bounds(week, tz)
    return (end - start).total_seconds() / 3600


# --- labels and parsing ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["2025-W34", "2025W34", "2025-w34", " 2025-W34\n", "２０２５-Ｗ３４"]
)
def test_parse_week_accepts_the_usual_forms(text: str) -> None:
    assert parse_week(text) == IsoWeek(2025, 34)


def test_label_is_the_two_digit_iso_form() -> None:
    assert IsoWeek(2025, 34).label == "2025-W34"
    assert str(IsoWeek(2025, 5)) == "2025-W05"
    assert parse_week("2025-W5").label == "2025-W05"


@pytest.mark.parametrize("text", ["2025-34", "W34", "2025-W", "25-W34", "2025-W034", "", "week"])
def test_parse_week_names_the_expected_form(text: str) -> None:
    with pytest.raises(ConfigError, match="is not like 2025-W34"):
        parse_week(text)


def test_week_54_and_53_of_a_short_year_do_not_exist() -> None:
    with pytest.raises(ConfigError, match="2025 has weeks W01 to W52"):
        parse_week("2025-W53")
    with pytest.raises(ConfigError, match="does not exist"):
        parse_week("2020-W54")
    with pytest.raises(ConfigError, match="does not exist"):
        IsoWeek(2025, 0)


def test_weeks_are_ordered_in_time() -> None:
    assert IsoWeek(2020, 53) < IsoWeek(2021, 1) < IsoWeek(2021, 2)


# --- bounds ------------------------------------------------------------------------------


def test_2025_w34_in_utc() -> None:
    assert week_bounds(IsoWeek(2025, 34), "UTC") == (
        datetime(2025, 8, 18, tzinfo=UTC),
        datetime(2025, 8, 25, tzinfo=UTC),
    )


def test_2025_w34_in_tokyo_starts_nine_hours_earlier() -> None:
    start, end = week_bounds(IsoWeek(2025, 34), "Asia/Tokyo")
    assert start == datetime(2025, 8, 17, 15, tzinfo=UTC)
    assert end == datetime(2025, 8, 24, 15, tzinfo=UTC)
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_new_york_spring_forward_week_has_167_hours() -> None:
    # 2025-03-09, a Sunday: 02:00 EST becomes 03:00 EDT.
    start, end = week_bounds(IsoWeek(2025, 10), "America/New_York")
    assert start == datetime(2025, 3, 3, 5, tzinfo=UTC)  # EST, UTC-5
    assert end == datetime(2025, 3, 10, 4, tzinfo=UTC)  # EDT, UTC-4
    assert hours(IsoWeek(2025, 10), "America/New_York") == 167


def test_new_york_fall_back_week_has_169_hours() -> None:
    # 2025-11-02, a Sunday: 02:00 EDT becomes 01:00 EST.
    assert hours(IsoWeek(2025, 44), "America/New_York") == 169


def test_berlin_fall_back_week_has_169_hours() -> None:
    # Europe changes on the last Sunday of October: 2025-10-26 ends W43, so W43 holds the
    # extra hour and W44 (Oct 27 - Nov 2) is an ordinary week there.
    start, end = week_bounds(IsoWeek(2025, 43), "Europe/Berlin")
    assert start == datetime(2025, 10, 19, 22, tzinfo=UTC)  # CEST, UTC+2
    assert end == datetime(2025, 10, 26, 23, tzinfo=UTC)  # CET, UTC+1
    assert hours(IsoWeek(2025, 43), "Europe/Berlin") == 169
    assert hours(IsoWeek(2025, 44), "Europe/Berlin") == 168


def test_berlin_spring_forward_week_has_167_hours() -> None:
    assert hours(IsoWeek(2025, 13), "Europe/Berlin") == 167


def test_week_53() -> None:
    assert weeks_in_year(2020) == 53
    assert weeks_in_year(2025) == 52
    assert week_bounds(IsoWeek(2020, 53), "UTC") == (
        datetime(2020, 12, 28, tzinfo=UTC),
        datetime(2021, 1, 4, tzinfo=UTC),
    )
    assert weeks.next(IsoWeek(2020, 53)) == IsoWeek(2021, 1)
    assert previous(IsoWeek(2021, 1)) == IsoWeek(2020, 53)
    assert weeks.next(IsoWeek(2025, 52)) == IsoWeek(2026, 1)
    assert previous(IsoWeek(2025, 1)) == IsoWeek(2024, 52)


def test_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        week_bounds(IsoWeek(2025, 34), "Mars/Olympus")
    with pytest.raises(ConfigError, match="not a time zone"):
        week_of(datetime(2025, 1, 1, tzinfo=UTC), "Mars/Olympus")


def test_no_week_before_the_first_or_after_the_last() -> None:
    with pytest.raises(ConfigError, match="no week before"):
        previous(IsoWeek(1, 1))
    with pytest.raises(ConfigError, match="no week after"):
        weeks.next(IsoWeek(9999, 52))


# --- week_of -----------------------------------------------------------------------------


def test_week_of_near_year_boundaries() -> None:
    # 2024-12-30 is the Monday of 2025-W01; 2021-01-03 is the Sunday ending 2020-W53.
    assert week_of(datetime(2024, 12, 30, 0, 0, tzinfo=UTC), "UTC") == IsoWeek(2025, 1)
    assert week_of(datetime(2024, 12, 29, 23, 59, tzinfo=UTC), "UTC") == IsoWeek(2024, 52)
    assert week_of(datetime(2021, 1, 3, 23, 59, tzinfo=UTC), "UTC") == IsoWeek(2020, 53)
    assert week_of(datetime(2021, 1, 4, 0, 0, tzinfo=UTC), "UTC") == IsoWeek(2021, 1)
    assert week_of(datetime(2027, 1, 1, 12, tzinfo=UTC), "UTC") == IsoWeek(2026, 53)


def test_week_of_depends_on_the_zone() -> None:
    # Monday 00:00 in Tokyo is still Sunday in UTC and in New York.
    moment = datetime(2024, 12, 29, 15, 0, tzinfo=UTC)
    assert week_of(moment, "Asia/Tokyo") == IsoWeek(2025, 1)
    assert week_of(moment, "UTC") == IsoWeek(2024, 52)
    assert week_of(moment, "America/New_York") == IsoWeek(2024, 52)


def test_week_of_needs_an_aware_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        week_of(datetime(2025, 1, 1), "UTC")


# --- properties --------------------------------------------------------------------------

# Zones with odd histories: DST changes at midnight (Santiago, Havana, Beirut), a skipped
# day (Apia, 2011-12-30), half-hour DST (Lord Howe), none at all (Kolkata).
ZONES = [
    "UTC",
    "Asia/Tokyo",
    "America/New_York",
    "Europe/Berlin",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "Pacific/Apia",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]

days = st.dates(min_value=date(1971, 1, 1), max_value=date(2037, 12, 31))


@given(day=days, tz=st.sampled_from(ZONES))
def test_bounds_hold_exactly_the_week(day: date, tz: str) -> None:
    iso = day.isocalendar()
    week = IsoWeek(iso.year, iso.week)
    start, end = week_bounds(week, tz)
    assert start < end
    assert week_of(start, tz) == week
    assert week_of(end - timedelta(microseconds=1), tz) == week
    assert week_of(end, tz) == weeks.next(week)
    assert week_bounds(weeks.next(week), tz)[0] == end
    assert parse_week(week.label) == week
    assert previous(weeks.next(week)) == week


def test_apia_skipped_a_day_in_2011_w52() -> None:
    # Samoa moved across the date line: Friday 2011-12-30 never happened there.
    assert hours(IsoWeek(2011, 52), "Pacific/Apia") == 144
