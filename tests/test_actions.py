"""Tests for bot.actions: what each /paper command does, on a real store, without Slack."""

from __future__ import annotations

import ast
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bot import actions, views
from bot.actions import SLACK_DOWN, Invocation, Reply
from bot.commands import AddSource, RemoveSource, Unsubscribe, parse_subscribe
from digests.ingest import SourceReport
from digests.model import SourceInfo, SourceSpec
from digests.query import parse_query
from digests.settings import Settings
from digests.store import Store
from digests.summarize import ExtractiveSummarizer
from digests.weeks import IsoWeek

NOW = datetime(2024, 10, 4, 12, 0, tzinfo=UTC)  # a Friday
WHO = Invocation(team_id="T1", channel_id="C1", user_id="U1")
HOUR = timedelta(hours=1)


def subscribe(store: Store, text: str, who: Invocation = WHO) -> Reply:
    return actions.subscribe(store, parse_subscribe(text, now=NOW), who, now=NOW)


def core() -> Settings:
    return Settings.from_env({"PAPERBOT_DATA_DIR": "/nonexistent", "PAPERBOT_TZ": "UTC"})


# --- subscriptions ------------------------------------------------------------------------


def test_subscribing_twice_to_the_same_digest_keeps_one(store: Store) -> None:
    first = subscribe(store, "tag:Alignment day:mon time:09:00")
    assert first.response_type == "in_channel" and "<@U1> subscribed" in first.text
    again = subscribe(store, "tag:Alignment day:mon time:09:00 top:5")
    (sub,) = store.list_subscriptions(team_id="T1", channel_id="C1")
    assert again == Reply(f"This channel already has that subscription (#{sub.id}).")
    # Another time is another digest.
    subscribe(store, "tag:Alignment day:mon time:10:00")
    assert len(store.list_subscriptions(team_id="T1", channel_id="C1")) == 2


def test_a_subscription_starts_with_the_first_week_its_schedule_runs_for(store: Store) -> None:
    subscribe(store, "day:mon time:09:00")  # Monday's run covers this week
    subscribe(store, "day:fri time:09:00")  # today's run is over: next Friday's
    starts = {s.weekday: s.start_week for s in store.list_subscriptions(team_id="T1")}
    assert starts == {0: "2024-W40", 4: "2024-W41"}


def test_a_direct_message_cannot_subscribe(store: Store) -> None:
    reply = subscribe(store, "tag:Alignment", Invocation("T1", "D123", "U1"))
    assert "Digests go to channels" in reply.text and reply.response_type == "ephemeral"
    assert store.list_subscriptions(team_id="T1") == []


def test_unsubscribe_all_counts_and_a_missing_id_says_so(store: Store) -> None:
    subscribe(store, "tag:A")
    subscribe(store, "tag:B")
    assert "no subscription #99" in actions.unsubscribe(store, Unsubscribe(99), WHO).text
    reply = actions.unsubscribe(store, Unsubscribe(None), WHO)
    assert reply.text == "<@U1> removed all 2 subscriptions of this channel."
    listed = actions.list_subscriptions(store, WHO, now=NOW)
    assert listed.text.startswith("This channel has no subscriptions")


def test_listing_escapes_the_stored_query(store: Store) -> None:
    subscribe(store, '"<!channel> & co"')
    listed = actions.list_subscriptions(store, WHO, now=NOW)
    assert listed.text == "1 subscription in this channel"
    shown = listed.blocks[0]["text"]["text"] if listed.blocks else ""
    assert "&lt;!channel&gt; &amp; co" in shown and "<!channel>" not in shown
    assert "next digest: Mon 2024-10-07 09:00" in shown


# --- the admin gate -----------------------------------------------------------------------


@dataclass
class Directory:
    """Slack's users as ``users.info`` would answer; None: an error about the request."""

    users: dict[str, Mapping[str, Any] | None]
    asked: list[str] = field(default_factory=list)

    def user(self, team_id: str, user_id: str) -> Mapping[str, Any] | None:
        self.asked.append(user_id)
        return self.users.get(user_id)


def is_admin(store: Store, directory: Directory, user: str, now: datetime = NOW) -> bool:
    return actions.is_admin(
        store, directory, "T1", user, admins=frozenset({"UCONF"}), now=now, max_age=HOUR
    )


def test_a_configured_admin_needs_no_slack_call(store: Store) -> None:
    directory = Directory({})
    assert is_admin(store, directory, "UCONF")
    assert directory.asked == []


def test_slacks_answer_is_cached_for_the_given_age(store: Store) -> None:
    directory = Directory({"UOWNER": {"is_owner": True}, "UMEMBER": {}})
    assert is_admin(store, directory, "UOWNER")
    assert not is_admin(store, directory, "UMEMBER")
    assert is_admin(store, directory, "UOWNER", NOW + timedelta(minutes=59))
    assert directory.asked == ["UOWNER", "UMEMBER"]
    assert is_admin(store, directory, "UOWNER", NOW + timedelta(minutes=61))
    assert directory.asked == ["UOWNER", "UMEMBER", "UOWNER"]


def test_a_slack_error_is_a_no_that_is_not_cached(store: Store) -> None:
    directory = Directory({"UGONE": {"is_admin": True, "deleted": True}})
    assert not is_admin(store, directory, "UERROR")
    assert not is_admin(store, directory, "UERROR")
    assert directory.asked == ["UERROR", "UERROR"]
    assert not is_admin(store, directory, "UGONE")  # a deleted admin is no admin


def test_the_refusal_names_the_command() -> None:
    reply = actions.refusal(RemoveSource("x"))
    assert "`/paper sources remove`" in reply.text and reply.response_type == "ephemeral"


# --- digests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str
    error: str | None = None
    slack_down: bool = False


@dataclass
class Deliverer:
    outcomes: Sequence[Outcome]
    weeks: list[IsoWeek] = field(default_factory=list)

    def deliver_channel_now(self, team_id: str, channel_id: str, week: IsoWeek) -> list[Outcome]:
        self.weeks.append(week)
        return list(self.outcomes)


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (datetime(2024, 10, 7, 0, 30, tzinfo=UTC), "2024-W40"),  # Monday in Tokyo: last week
        (datetime(2024, 10, 11, 3, 0, tzinfo=UTC), "2024-W41"),  # Friday: this week so far
    ],
)
def test_digest_now_covers_the_week_a_scheduled_run_would(
    store: Store, now: datetime, week: str
) -> None:
    actions.subscribe(store, parse_subscribe("tz:Asia/Tokyo", now=now), WHO, now=now)
    deliverer = Deliverer([Outcome("T1:C1:1:" + week, "posted")])
    reply = actions.digest_now(store, deliverer, WHO, now=now, default_tz="UTC")
    assert [w.label for w in deliverer.weeks] == [week]
    assert reply.text == f"Digest for {week}:\n• subscription #1: posted"


def test_digest_now_says_when_slack_did_not_answer(store: Store) -> None:
    deliverer = Deliverer(
        [
            Outcome("T1:C1:-:2024-W40", "failed", "service_unavailable", slack_down=True),
            Outcome("T1:C1:2:2024-W40", "failed", "<!channel> not_in_channel"),
        ]
    )
    reply = actions.digest_now(store, deliverer, WHO, now=NOW, default_tz="UTC")
    assert reply.text == (
        f"{SLACK_DOWN}\nDigest for 2024-W40:\n• the unfiltered digest: not posted\n"
        "• subscription #2: failed — &lt;!channel&gt; not_in_channel"
    )


def test_preview_without_subscriptions_is_the_unfiltered_digest(store: Store) -> None:
    (reply,) = actions.preview(store, WHO, now=NOW, core=core(), summarizer=ExtractiveSummarizer())
    assert reply.response_type == "ephemeral" and reply.unfurl_links is False
    assert reply.blocks is not None
    assert "this channel has no subscriptions" in reply.blocks[0]["elements"][0]["text"]


def test_preview_shows_four_subscriptions_and_counts_the_rest(store: Store) -> None:
    for n in range(6):
        subscribe(store, f"tag:T{n} top:{n + 1}")
    subs = store.list_subscriptions(team_id="T1", channel_id="C1")
    requests = actions.preview_requests(subs, WHO, now=NOW, core=core())
    assert [r.top for _, r in requests] == [1, 2, 3, 4]
    assert {r.week.label for _, r in requests} == {"2024-W40"}
    replies = list(
        actions.preview(store, WHO, now=NOW, core=core(), summarizer=ExtractiveSummarizer())
    )
    assert len(replies) == 5
    assert replies[-1] == Reply("2 more subscriptions not previewed.")


# --- sources ------------------------------------------------------------------------------


def test_sources_added_from_slack_can_be_retired_but_file_sources_cannot(store: Store) -> None:
    store.add_source(SourceSpec(name="filed", location="/tmp/f.xml", origin="file"), now=NOW)
    added = actions.add_source(
        store,
        AddSource(
            location="https://example.org/a<b>.xml", name="A&B", kind=None, interval_seconds=3600
        ),
        now=NOW,
    )
    assert added.text.startswith("Added source *A&amp;B* (kind detected on fetch, every 1h)")
    assert "a&lt;b&gt;.xml" in added.text

    refused = actions.remove_source(store, RemoveSource("filed"), now=NOW)
    assert "comes from the operator's sources file" in refused.text
    assert not store.get_source("filed").retired  # type: ignore[union-attr]

    assert actions.remove_source(store, RemoveSource("A&B"), now=NOW).text == (
        "Retired source A&amp;B: no longer polled; its 0 papers stay."
    )
    again = actions.remove_source(store, RemoveSource("A&B"), now=NOW)
    assert again.text == "A&amp;B was already retired."
    missing = actions.remove_source(store, RemoveSource("<nope>"), now=NOW)
    assert missing.text == "No source named &lt;nope&gt;. Sources: A&amp;B, filed"


def test_sources_listing_has_one_line_per_source(store: Store) -> None:
    assert actions.list_sources(store, now=NOW).text == "No sources yet: `/paper sources add URL`."
    store.add_source(SourceSpec(name="<feed>", location="/tmp/f.xml"), now=NOW)
    listed = actions.list_sources(store, now=NOW)
    assert listed.text == "1 sources" and listed.blocks is not None
    line = listed.blocks[0]["text"]["text"]
    assert line.startswith(":white_circle: *&lt;feed&gt;* (auto, every 6h, cli) · 0 papers")


def test_a_poll_reports_when_it_starts_and_ends_and_runs_once_at_a_time(store: Store) -> None:
    store.add_source(SourceSpec(name="on", location="/tmp/on.xml"), now=NOW)
    lock = threading.Lock()
    polled: list[list[str]] = []

    def poll(chosen: Sequence[SourceInfo]) -> list[SourceReport]:
        polled.append([s.name for s in chosen])
        # Meanwhile a second poll is refused and polls nothing.
        (busy,) = actions.poll(store, poll, lock=lock)
        assert busy.text == "A poll is already running; its report comes here."
        return [SourceReport(name="<on>", status="error", error="timed out")]

    replies = [r.text for r in actions.poll(store, poll, lock=lock)]
    assert replies == [
        "Polling 1 sources; the report follows here.",
        "Poll done: 0 of 1 source ok, 0 new papers, 0 updated.\n• &lt;on&gt;: error — timed out",
    ]
    assert polled == [["on"]]
    assert not lock.locked()


def test_a_failing_poll_lets_the_next_one_run(store: Store) -> None:
    lock = threading.Lock()

    def broken(chosen: Sequence[SourceInfo]) -> list[SourceReport]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        list(actions.poll(store, broken, lock=lock))
    assert not lock.locked()


# --- lookups ------------------------------------------------------------------------------


def test_a_lookup_reply_is_respond_arguments(store: Store) -> None:
    query = parse_query("tag:Nothing", now=NOW)
    reply = actions.lookup(store, query, replace_original=True)
    kwargs = reply.kwargs()
    assert kwargs["response_type"] == "ephemeral" and kwargs["replace_original"] is True
    assert kwargs["unfurl_links"] is False and kwargs["text"].startswith("No papers match")
    shared = actions.share(store, query, user_id="U1")
    assert shared.response_type == "in_channel" and shared.replace_original is False


@pytest.mark.parametrize("module", [actions, views])
def test_actions_and_views_know_no_slack_library(module: ModuleType) -> None:
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    imported = {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    imported |= {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not imported & {"slack_bolt", "slack_sdk"}
