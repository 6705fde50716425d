"""The calendar: fire times across daylight-saving changes, the week a run covers, week 53."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.calendar import digest_week, due_week, first_week, last_run, next_fire, next_run
from digests.errors import ConfigError
from digests.model import Subscription
from digests.weeks import IsoWeek

TOKYO = ZoneInfo("Asia/Tokyo")
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)


def sub(
    weekday: int = 0,
    at: str = "09:00",
    tz: str = "Asia/Tokyo",
    *,
    created_at: datetime = FAR_PAST,
    sub_id: int = 1,
    start_week: str = "2000-W01",
) -> Subscription:
    return Subscription(
        id=sub_id,
        team_id="T1",
        channel_id="C1",
        query="",
        weekday=weekday,
        time=at,
        tz=tz,
        top=5,
        lang=None,
        created_by="U1",
        created_at=created_at,
        active=True,
        start_week=start_week,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- fire times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekday", "at", "tz", "after", "expected"),
    [
        # Monday 09:00 in Tokyo is Monday 00:00 UTC (no daylight saving there).
        (0, "09:00", "Asia/Tokyo", utc(2025, 8, 16, 0, 0), utc(2025, 8, 18, 0, 0)),
        (0, "09:00", "Asia/Tokyo", utc(2025, 8, 18, 0, 0), utc(2025, 8, 25, 0, 0)),
        # New York: the same wall time is 14:00 UTC in winter, 13:00 UTC in summer.
        (0, "09:00", "America/New_York", utc(2025, 3, 1), utc(2025, 3, 3, 14, 0)),
        (0, "09:00", "America/New_York", utc(2025, 3, 5), utc(2025, 3, 10, 13, 0)),
        (0, "09:00", "America/New_York", utc(2025, 10, 29), utc(2025, 11, 3, 14, 0)),
        # Spring forward: 02:30 does not exist on 2025-03-09; the gap ends at 03:00 EDT.
        (6, "02:30", "America/New_York", utc(2025, 3, 8), utc(2025, 3, 9, 7, 0)),
        (6, "02:00", "America/New_York", utc(2025, 3, 8), utc(2025, 3, 9, 7, 0)),
        (6, "03:00", "America/New_York", utc(2025, 3, 8), utc(2025, 3, 9, 7, 0)),
        # Fall back: 01:30 happens twice on 2025-11-02; it fires at the first (EDT).
        (6, "01:30", "America/New_York", utc(2025, 11, 1), utc(2025, 11, 2, 5, 30)),
        # ... and once only: the next run is a week later, not the repeat an hour on.
        (6, "01:30", "America/New_York", utc(2025, 11, 2, 5, 30), utc(2025, 11, 9, 6, 30)),
        # Berlin: 02:30 skipped on 2025-03-30 (fires 03:00 CEST), doubled on 2025-10-26.
        (6, "02:30", "Europe/Berlin", utc(2025, 3, 29), utc(2025, 3, 30, 1, 0)),
        (6, "02:30", "Europe/Berlin", utc(2025, 10, 25), utc(2025, 10, 26, 0, 30)),
        (6, "02:30", "Europe/Berlin", utc(2025, 10, 26, 0, 30), utc(2025, 11, 2, 1, 30)),
        (4, "17:00", "Europe/Berlin", utc(2025, 3, 22), utc(2025, 3, 28, 16, 0)),
        (4, "17:00", "Europe/Berlin", utc(2025, 3, 29), utc(2025, 4, 4, 15, 0)),
        # A whole day skipped: Apia jumped from 2011-12-29 to 2011-12-31.
        (4, "09:00", "Pacific/Apia", utc(2011, 12, 28), utc(2011, 12, 30, 10, 0)),
    ],
)
def test_next_run(weekday: int, at: str, tz: str, after: datetime, expected: datetime) -> None:
    got = next_run(sub(weekday, at, tz), after)
    assert got == expected
    assert got.tzinfo is UTC
    assert last_run(sub(weekday, at, tz), got) == got
    assert last_run(sub(weekday, at, tz), got - timedelta(microseconds=1)) != got


def test_no_run_counts_before_the_subscription_existed() -> None:
    created = utc(2025, 8, 18, 0, 30)  # Monday 09:30 in Tokyo, just after the 09:00 run
    s = sub(created_at=created)
    assert last_run(s, utc(2025, 8, 20)) is None
    assert next_run(s, utc(2025, 8, 1)) == utc(2025, 8, 25, 0, 0)
    assert last_run(s, utc(2025, 8, 25, 0, 0)) == utc(2025, 8, 25, 0, 0)
    # Made at the very instant of a run: that run counts.
    s = sub(created_at=utc(2025, 8, 18, 0, 0))
    assert last_run(s, utc(2025, 8, 18, 0, 1)) == utc(2025, 8, 18, 0, 0)


@pytest.mark.parametrize(
    ("weekday", "at", "tz"),
    [
        (7, "09:00", "UTC"),
        (-1, "09:00", "UTC"),
        (0, "24:00", "UTC"),
        (0, "9am", "UTC"),
        (0, "09:00", "Mars/Olympus"),
    ],
)
def test_bad_schedules_are_config_errors(weekday: int, at: str, tz: str) -> None:
    with pytest.raises(ConfigError):
        next_run(sub(weekday, at, tz), utc(2025, 1, 1))


ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Lord_Howe"]


@settings(max_examples=300, deadline=None)
@given(
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 1, 15, 30, 59]),
    tz=st.sampled_from(ZONES),
    after=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
)
def test_fire_times_are_weekly_on_the_wall_clock(
    weekday: int, hour: int, minute: int, tz: str, after: datetime
) -> None:
    s = sub(weekday, f"{hour:02d}:{minute:02d}", tz)
    zone = ZoneInfo(tz)
    fire = next_run(s, after)
    assert fire > after
    # Nothing fires between ``after`` and ``fire``, and it is the last run at ``fire``.
    assert last_run(s, fire) == fire
    before = last_run(s, fire - timedelta(microseconds=1))
    assert before is not None and before <= after
    assert timedelta(days=6) < fire - before < timedelta(days=8)
    local = fire.astimezone(zone)
    wanted = datetime.combine(local.date(), datetime.min.time()).replace(hour=hour, minute=minute)
    if (local.hour, local.minute) == (hour, minute):
        assert local.weekday() == weekday
        # Where the wall time happens twice, the first one is taken.
        for back in (timedelta(minutes=30), timedelta(hours=1)):
            assert (fire - back).astimezone(zone).replace(tzinfo=None) != wanted
    else:
        # Skipped by a spring-forward change: the first instant after the gap.
        assert local.replace(tzinfo=None) > wanted
        just_before = (fire - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
        assert just_before < wanted
        assert just_before.date() == wanted.date() or local.date() != wanted.date()


# -- which week a run covers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "week"),
    [
        (datetime(2025, 8, 18, 9, 0), IsoWeek(2025, 33)),  # Monday morning: last week
        (datetime(2025, 8, 18, 0, 0), IsoWeek(2025, 33)),
        (datetime(2025, 8, 20, 12, 0), IsoWeek(2025, 33)),  # Wednesday: last complete week
        (datetime(2025, 8, 21, 11, 59), IsoWeek(2025, 33)),
        (datetime(2025, 8, 21, 12, 0), IsoWeek(2025, 34)),  # Thursday noon: this week so far
        (datetime(2025, 8, 22, 17, 0), IsoWeek(2025, 34)),  # Friday evening: this week
        (datetime(2025, 8, 24, 23, 59), IsoWeek(2025, 34)),
        (datetime(2021, 1, 4, 9, 0), IsoWeek(2020, 53)),  # across a 53-week year
    ],
)
def test_a_run_covers_the_week_holding_most_of_the_seven_days_before_it(
    local: datetime, week: IsoWeek
) -> None:
    assert digest_week(local.replace(tzinfo=TOKYO), "Asia/Tokyo") == week
    # The same wall time in another zone covers the same week: the cut is on the wall clock.
    assert (
        digest_week(local.replace(tzinfo=ZoneInfo("America/New_York")), "America/New_York") == week
    )


def test_every_week_is_covered_once_by_a_weekly_run() -> None:
    for weekday in range(7):
        s = sub(weekday, "09:00", "Europe/Berlin")
        fire = next_run(s, utc(2025, 1, 1))
        weeks = []
        for _ in range(60):  # through both daylight-saving changes
            weeks.append(digest_week(fire, s.tz))
            fire = next_run(s, fire)
        assert len(set(weeks)) == len(weeks)
        assert all(b.monday - a.monday == timedelta(days=7) for a, b in itertools.pairwise(weeks))


def test_first_week_is_what_the_first_run_covers() -> None:
    wednesday = datetime(2025, 8, 13, 10, 0, tzinfo=TOKYO)
    assert first_week(0, "09:00", "Asia/Tokyo", wednesday) == IsoWeek(2025, 33)
    assert first_week(4, "17:00", "Asia/Tokyo", wednesday) == IsoWeek(2025, 33)
    friday_late = datetime(2025, 8, 15, 18, 0, tzinfo=TOKYO)
    assert first_week(4, "17:00", "Asia/Tokyo", friday_late) == IsoWeek(2025, 34)


@pytest.mark.parametrize(
    ("weekday", "at", "tz", "after", "expected"),
    [
        # Berlin skips 02:00-03:00 on 2026-03-29: 02:30 fires at 03:00 CEST.
        (6, "02:30", "Europe/Berlin", utc(2026, 3, 28), utc(2026, 3, 29, 1, 0)),
        # ... and the week after, 02:30 CEST again.
        (6, "02:30", "Europe/Berlin", utc(2026, 3, 29, 1, 0), utc(2026, 4, 5, 0, 30)),
        # New York repeats 01:00-02:00 on 2026-11-01: 01:30 fires at the first, in EDT ...
        (6, "01:30", "America/New_York", utc(2026, 10, 31), utc(2026, 11, 1, 5, 30)),
        # ... and not again at the repeat (06:30 UTC): next Sunday, in EST.
        (6, "01:30", "America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 8, 6, 30)),
        # Monday 09:00 on either side of the change keeps its wall time.
        (0, "09:00", "America/New_York", utc(2026, 10, 27), utc(2026, 11, 2, 14, 0)),
    ],
)
def test_next_fire_across_daylight_saving_changes(
    weekday: int, at: str, tz: str, after: datetime, expected: datetime
) -> None:
    assert next_fire(weekday, at, tz, after) == expected


@pytest.mark.parametrize(
    ("local", "week"),
    [
        # Tehran moved its clocks on Monday 2021-03-22 00:00 (+03:30 -> +04:30) and on
        # Wednesday 2021-09-22 00:00 (+04:30 -> +03:30), inside the half week before the cut.
        (datetime(2021, 3, 25, 11, 59), IsoWeek(2021, 11)),
        (datetime(2021, 3, 25, 12, 30), IsoWeek(2021, 12)),
        (datetime(2021, 9, 23, 11, 30), IsoWeek(2021, 37)),
        (datetime(2021, 9, 23, 12, 0), IsoWeek(2021, 38)),
    ],
)
def test_a_daylight_saving_change_does_not_move_the_thursday_noon_cut(
    local: datetime, week: IsoWeek
) -> None:
    # Half a week of elapsed time would land an hour off the wall clock's Monday 00:00.
    fire = local.replace(tzinfo=ZoneInfo("Asia/Tehran")).astimezone(UTC)
    assert digest_week(fire, "Asia/Tehran") == week


def test_runs_on_the_day_of_a_change_cover_that_week() -> None:
    # Sunday 02:30 in Berlin on spring-forward day fires at 03:00 CEST, still in 2025-W13.
    fire = next_run(sub(6, "02:30", "Europe/Berlin"), utc(2025, 3, 29))
    assert digest_week(fire, "Europe/Berlin") == IsoWeek(2025, 13)
    # Sunday 01:30 in New York on fall-back day fires once, in 2025-W44.
    fire = next_run(sub(6, "01:30", "America/New_York"), utc(2025, 11, 1))
    assert digest_week(fire, "America/New_York") == IsoWeek(2025, 44)


# -- week 53 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "week"),
    [
        (datetime(2026, 12, 28, 9, 0), IsoWeek(2026, 52)),  # Monday of W53: last week
        (datetime(2027, 1, 1, 17, 0), IsoWeek(2026, 53)),  # Friday 1 January: this week
        (datetime(2027, 1, 4, 9, 0), IsoWeek(2026, 53)),  # the Monday after: last week
        (datetime(2027, 1, 5, 9, 0), IsoWeek(2026, 53)),  # its days fall in 2027 from Friday
        (datetime(2027, 1, 11, 9, 0), IsoWeek(2027, 1)),
    ],
)
def test_runs_around_new_year_cover_week_53(local: datetime, week: IsoWeek) -> None:
    assert digest_week(local.replace(tzinfo=TOKYO), "Asia/Tokyo") == week


def test_week_53_is_covered_once_between_its_neighbours() -> None:
    for weekday in range(7):
        s = sub(weekday, "09:00", "America/New_York")
        fire = next_run(s, utc(2026, 12, 1))
        weeks = []
        for _ in range(8):
            weeks.append(digest_week(fire, s.tz))
            fire = next_run(s, fire)
        assert weeks.count(IsoWeek(2026, 53)) == 1
        assert IsoWeek(2026, 52) in weeks and IsoWeek(2027, 1) in weeks
        assert all(b.monday - a.monday == timedelta(days=7) for a, b in itertools.pairwise(weeks))


def test_a_subscription_made_in_week_53_starts_there() -> None:
    wednesday = datetime(2026, 12, 30, 10, 0, tzinfo=TOKYO)
    assert first_week(0, "09:00", "Asia/Tokyo", wednesday) == IsoWeek(2026, 53)
    assert first_week(4, "17:00", "Asia/Tokyo", wednesday) == IsoWeek(2026, 53)
    friday_late = datetime(2027, 1, 1, 18, 0, tzinfo=TOKYO)
    assert first_week(4, "17:00", "Asia/Tokyo", friday_late) == IsoWeek(2027, 1)


# -- the week due now ----------------------------------------------------------------------


def test_after_downtime_only_the_latest_run_is_due() -> None:
    s = sub(0, "09:00", "Asia/Tokyo")  # Monday 09:00 in Tokyo is Monday 00:00 UTC
    assert due_week(s, utc(2025, 9, 8, 0, 0)) == IsoWeek(2025, 36)
    # Three weeks later and a day: one week is due, the one the latest run covers.
    assert due_week(s, utc(2025, 9, 30)) == IsoWeek(2025, 39)


def test_nothing_is_due_before_the_first_run_or_the_start_week() -> None:
    made = utc(2025, 8, 13, 1, 0)  # Wednesday in Tokyo
    assert due_week(sub(created_at=made, start_week="2025-W33"), utc(2025, 8, 17)) is None
    assert due_week(sub(created_at=made, start_week="2025-W33"), utc(2025, 8, 18)) == IsoWeek(
        2025, 33
    )
    # A start week later than the run's week holds it back.
    assert due_week(sub(created_at=made, start_week="2025-W34"), utc(2025, 8, 18)) is None
    assert due_week(sub(created_at=made, start_week="2025-W34"), utc(2025, 8, 25)) == IsoWeek(
        2025, 34
    )


def test_an_unreadable_start_week_leaves_creation_as_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = sub(created_at=utc(2025, 8, 13), start_week="soon")
    with caplog.at_level(logging.WARNING, logger="digests.calendar"):
        assert due_week(s, utc(2025, 8, 18)) == IsoWeek(2025, 33)
    assert "unreadable start_week 'soon'" in caplog.text
    assert due_week(s, utc(2025, 8, 17)) is None
