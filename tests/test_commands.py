"""``/paper`` text to typed commands, and the next delivery time across DST."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.commands import (
    AddSource,
    Command,
    CommandError,
    DigestNow,
    DigestPreview,
    Help,
    ListSources,
    ListSubscriptions,
    Lookup,
    Poll,
    ProfileImport,
    RemoveSource,
    ResetProfile,
    ShowProfile,
    Subscribe,
    Unsubscribe,
    is_admin_command,
    next_delivery,
    parse_command,
)
from digests.errors import QueryError
from digests.model import SourceKind

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # a Wednesday


def parse(text: str, tz: str = "UTC") -> Command:
    return parse_command(text, now=NOW, default_tz=tz)


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "help subscribe", "?"])
def test_help_and_empty(text: str) -> None:
    assert parse(text) == Help()


def test_lookup_is_the_query_language() -> None:
    cmd = parse("tag:Alignment since:2w limit:5")
    assert isinstance(cmd, Lookup)
    assert cmd.query.tags == ("alignment",)
    assert cmd.query.limit == 5
    assert cmd.text == "tag:Alignment since:2w limit:5"


def test_lookup_text_drops_the_offset() -> None:
    cmd = parse("tag:Alignment offset:10")
    assert isinstance(cmd, Lookup)
    assert cmd.query.offset == 10
    assert "offset" not in cmd.text


def test_quoted_command_word_is_a_lookup() -> None:
    cmd = parse('"poll"')
    assert isinstance(cmd, Lookup)
    assert cmd.query.phrases == ("poll",)


def test_unknown_term_names_it_with_the_valid_forms() -> None:
    with pytest.raises(QueryError) as e:
        parse("tag:Alignment colour:red")
    assert e.value.term == "colour:red"
    assert "colour:red" in str(e.value)
    assert "tag:" in str(e.value)


def test_subscribe_defaults() -> None:
    cmd = parse("subscribe tag:Alignment", tz="Asia/Tokyo")
    assert isinstance(cmd, Subscribe)
    assert cmd == Subscribe(
        query=cmd.query,
        weekday=0,
        time="09:00",
        tz="Asia/Tokyo",
        top=10,
        lang=None,
    )
    assert isinstance(cmd, Subscribe)
    assert cmd.query_text == "tag:Alignment"


def test_subscribe_with_every_option() -> None:
    cmd = parse("subscribe tag:LLM -tag:Survey day:fri time:7:30 tz:Europe/Berlin top:5 lang:ja")
    assert isinstance(cmd, Subscribe)
    assert (cmd.weekday, cmd.time, cmd.tz, cmd.top, cmd.lang) == (
        4,
        "07:30",
        "Europe/Berlin",
        5,
        "ja",
    )
    assert cmd.query_text == "tag:LLM -tag:Survey"
    assert "day" not in cmd.query_text


def test_subscribe_without_terms_is_every_paper() -> None:
    cmd = parse("subscribe day:monday")
    assert isinstance(cmd, Subscribe)
    assert cmd.query_text == ""
    assert cmd.weekday == 0


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("subscribe day:someday", "day:someday"),
        ("subscribe time:25:00", "time:25:00"),
        ("subscribe time:nine", "time:nine"),
        ("subscribe tz:Mars/Olympus", "tz:Mars/Olympus"),
        ("subscribe top:0", "top:0"),
        ("subscribe top:500", "top:500"),
        ("subscribe lang:fr", "lang:fr"),
        ("subscribe limit:5", "limit:"),
        ("subscribe since:2w", "since:/until:"),
    ],
)
def test_subscribe_validates_each_option(text: str, term: str) -> None:
    with pytest.raises(CommandError) as e:
        parse(text)
    assert e.value.term == term
    assert term.split(":", maxsplit=1)[0] in str(e.value)


def test_subscribe_unknown_key_is_a_query_error_listing_subscribe_keys() -> None:
    with pytest.raises(QueryError) as e:
        parse("subscribe every:week")
    assert "every:week" in str(e.value)
    assert "day:" in str(e.value) and "tz:" in str(e.value)


def test_unsubscribe() -> None:
    assert parse("unsubscribe 3") == Unsubscribe(3)
    assert parse("unsubscribe #4") == Unsubscribe(4)
    assert parse("unsubscribe ALL") == Unsubscribe(None)
    for bad in ("unsubscribe", "unsubscribe x", "unsubscribe 3 4", "unsubscribe -1"):
        with pytest.raises(CommandError):
            parse(bad)


def test_simple_commands_and_their_extra_words() -> None:
    assert parse("subscriptions") == ListSubscriptions()
    assert parse("digest now") == DigestNow()
    assert parse("digest Preview") == DigestPreview()
    assert parse("sources") == ListSources()
    assert parse("poll") == Poll()
    for bad, term in (
        ("subscriptions please", "please"),
        ("digest later", "later"),
        ("digest", "digest"),
        ("digest now now", "now"),
        ("sources list", "list"),
        ("poll everything", "everything"),
    ):
        with pytest.raises(CommandError) as e:
            parse(bad)
        assert e.value.term == term
        assert term in str(e.value)


def test_sources_add() -> None:
    cmd = parse(
        'sources add <https://example.org/feed.xml> kind:feed name:"Example feed" interval:1d'
    )
    assert cmd == AddSource(
        location="https://example.org/feed.xml",
        name="Example feed",
        kind=SourceKind("feed"),
        interval_seconds=86400,
    )
    plain = parse("sources add https://example.org/a/feed")
    assert plain == AddSource(
        location="https://example.org/a/feed",
        name="example.org/feed",
        kind=None,
        interval_seconds=6 * 3600,
    )


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("sources add", "add"),
        ("sources add /etc/passwd", "/etc/passwd"),
        ("sources add file:///etc/passwd", "file:///etc/passwd"),
        ("sources add https://e.org/x kind:nope", "nope"),
        ("sources add https://e.org/x interval:1s", "1s"),
        ("sources add https://e.org/x colour:red", "colour:red"),
        ("sources add https://e.org/x https://e.org/y", "https://e.org/y"),
    ],
)
def test_sources_add_errors(text: str, term: str) -> None:
    with pytest.raises(CommandError) as e:
        parse(text)
    assert e.value.term == term
    assert "sources add" in str(e.value) or "kind" in str(e.value) or "interval" in str(e.value)


def test_sources_remove_takes_the_whole_name() -> None:
    assert parse("sources remove ML Papers of the Week (demo)") == RemoveSource(
        "ML Papers of the Week (demo)"
    )
    assert parse('sources remove "arXiv cs.CL"') == RemoveSource("arXiv cs.CL")
    with pytest.raises(CommandError):
        parse("sources remove")


def test_admin_commands() -> None:
    admin = ["digest now", "digest preview", "sources", "sources add https://e.org/f", "poll"]
    admin.append("sources remove x")
    for text in admin:
        assert is_admin_command(parse(text)), text
    for text in ("tag:x", "help", "subscribe", "subscriptions", "unsubscribe all"):
        assert not is_admin_command(parse(text)), text


def test_profile_import_is_an_admin_command_and_names_stray_words() -> None:
    assert parse("profile import") == ProfileImport() == parse("Profile IMPORT")
    assert is_admin_command(ProfileImport())
    for text, term in (("profile import now", "now"), ("profile export", "export")):
        with pytest.raises(CommandError) as e:
            parse(text)
        assert e.value.term == term and "`/paper profile import`" in str(e.value)


# -- next delivery -----------------------------------------------------------------------


def test_next_delivery_later_this_week_and_next_week() -> None:
    # Wednesday 12:00 UTC = 21:00 in Tokyo
    fri = next_delivery(4, "09:00", "Asia/Tokyo", now=NOW)
    assert fri == datetime(2025, 3, 7, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    wed = next_delivery(2, "09:00", "Asia/Tokyo", now=NOW)  # today's 09:00 has passed
    assert wed == datetime(2025, 3, 12, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert wed.utcoffset() is not None


def test_next_delivery_keeps_wall_time_across_dst() -> None:
    # New York moves to EDT on Sunday 2025-03-09: Monday 09:00 is 13:00 UTC, not 14:00.
    mon = next_delivery(0, "09:00", "America/New_York", now=NOW)
    assert (mon.hour, mon.minute) == (9, 0)
    assert mon.astimezone(UTC) == datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    # Berlin falls back on 2025-10-26: Monday 09:00 is 08:00 UTC after, 07:00 before.
    before = datetime(2025, 10, 22, tzinfo=UTC)
    assert next_delivery(0, "09:00", "Europe/Berlin", now=before).astimezone(UTC) == datetime(
        2025, 10, 27, 8, 0, tzinfo=UTC
    )


def test_next_delivery_in_a_skipped_hour_comes_at_the_end_of_the_gap() -> None:
    # 2025-03-09 02:30 does not exist in New York: it comes at 03:00 EDT (07:00 UTC).
    sun = next_delivery(6, "02:30", "America/New_York", now=NOW)
    assert sun.astimezone(UTC) == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)


def test_next_delivery_in_a_repeated_hour_is_the_first() -> None:
    # 2025-11-02 01:30 happens twice in New York: the first is 05:30 UTC (EDT).
    now = datetime(2025, 10, 30, tzinfo=UTC)
    sun = next_delivery(6, "01:30", "America/New_York", now=now)
    assert sun.astimezone(UTC) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)


def test_next_delivery_is_strictly_after_now() -> None:
    now = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)  # Monday 09:00 UTC exactly
    assert next_delivery(0, "09:00", "UTC", now=now) == datetime(2025, 3, 17, 9, 0, tzinfo=UTC)


def test_parsing_a_command_imports_no_scheduler_store_or_network_library() -> None:
    # /paper is parsed in the Slack request path and in tools; it needs the calendar only.
    code = (
        "import sys, bot.commands; print(' '.join(sorted(m for m in sys.modules if m in {"
        "'apscheduler', 'sqlalchemy', 'httpx', 'slack_sdk', 'slack_bolt', 'feedparser',"
        "'bot.scheduler', 'bot.deliver', 'digests.store', 'digests.ingest'})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == []


def test_profile_shows_for_anyone_and_resets_for_admins() -> None:
    assert parse("profile") == ShowProfile() and not is_admin_command(ShowProfile())
    assert parse("Profile RESET") == ResetProfile() and is_admin_command(ResetProfile())
    for text, word in (("profile reset now", "now"), ("profile delete", "delete")):
        with pytest.raises(CommandError) as e:
            parse(text)
        assert e.value.term == word and "`/paper profile reset`" in str(e.value)
