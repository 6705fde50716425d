"""The Slack app end to end over real HTTP: uvicorn serving the Starlette app, signed
requests sent with httpx, and a local fake Slack Web API and ``response_url`` target."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import create_engine, select

from bot.actions import SLACK_DOWN
from bot.app import create_app
from bot.config import BotSettings
from bot.server import MAX_BODY_BYTES, create_web_app
from digests.index import index_papers
from digests.query import parse_query
from digests.schema import papers
from digests.store import Store
from tests.fakeslack import BOT_TOKEN, TEAM, FakeSlack
from tests.slackbot import (
    ADMIN,
    CHANNEL,
    MEMBER,
    NOW,
    SECRET,
    WS_ADMIN,
    Bot,
    bot_env,
    buttons,
    clock,
    served,
    serving_bot,
    signed,
    texts,
)

# -- lookups -------------------------------------------------------------------------------


def test_lookup_answers_through_response_url_with_papers(bot: Bot) -> None:
    started = time.monotonic()
    r = bot.command("tag:Alignment")
    assert r.status_code == 200
    assert time.monotonic() - started < 3
    message = bot.next_response()
    assert message["response_type"] == "ephemeral"
    assert "Aligners" in texts(message)
    assert "Large Language Model Alignment: A Survey" in texts(message)
    assert "paper_share" in buttons(message)
    assert "paper_more" not in buttons(message)  # ten papers: one page
    # Every Web API call went to the fake (SLACK_API_URL), none elsewhere.
    assert all(
        c.headers.get("authorization") == f"Bearer {BOT_TOKEN}"
        for c in bot.slack.calls
        if c.method != "response_url"
    )


def test_more_button_pages_on(bot: Bot) -> None:
    bot.command("tag:Alignment limit:4")
    first = bot.next_response()
    more = buttons(first)["paper_more"]
    assert "offset:4" in more and len(more) <= 2000
    r = bot.action("paper_more", more)
    assert r.status_code == 200
    second = bot.next_response()
    assert second["replace_original"] is True
    assert "5–8" in texts(second)
    assert "paper_more" in buttons(second)
    # The fallback text numbers the page's titles: none of the first page's comes again.
    titles_first = re.findall(r"^\d+\. (.+)$", texts(first), re.MULTILINE)
    assert len(titles_first) == 4
    assert not any(title in texts(second) for title in titles_first)


def test_share_posts_in_channel_as_the_signed_user(bot: Bot) -> None:
    bot.command("tag:Alignment limit:3")
    share = buttons(bot.next_response())["paper_share"]
    bot.action("paper_share", share, user="USHARER01")
    shared = bot.next_response()
    assert shared["response_type"] == "in_channel"
    assert "<@USHARER01>" in texts(shared)
    assert "Constitutional Prompts" in texts(shared)
    assert "actions" not in json.dumps(shared["blocks"])


@pytest.mark.parametrize("text", ["", "help"])
def test_help_and_empty_command_answer_in_the_ack(bot: Bot, text: str) -> None:
    r = bot.command(text)
    assert r.status_code == 200
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert "/paper subscribe" in json.dumps(body)
    assert "tag:NAME" in json.dumps(body)


def test_unknown_term_is_named_in_an_ephemeral_error(bot: Bot) -> None:
    r = bot.command("tag:Alignment colour:red")
    assert r.status_code == 200
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert "colour:red" in body["text"]
    assert "tag:" in body["text"]
    time.sleep(0.2)
    assert bot.slack.calls_to("response_url") == []


def test_like_answers_with_similar_papers_and_names_an_unknown_one(bot: Bot) -> None:
    index_papers(bot.store, clock=clock)
    with bot.store.engine.connect() as conn:
        known = conn.execute(select(papers.c.arxiv_id, papers.c.title)).all()
    # A demo paper with neighbours in the store (which ones depends on the demo's words).
    target, title = next(
        (ref, title)
        for ref, title in known
        if ref and bot.store.search(parse_query(f"like:{ref}", now=clock())).hits
    )
    bot.command(f"like:{target}")
    message = bot.next_response()
    assert f"similar to {title[:30]}" in texts(message)
    assert "paper_share" in buttons(message)
    bot.command("like:2401.99999 since:4w")
    answer = bot.next_response()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("like:2401.99999: no such paper in paperbot yet")
    assert "blocks" not in answer
    # A subscription's filter takes like: too, once the paper is known.
    bot.command("subscribe like:2401.99999 day:fri time:08:30")
    assert "like:2401.99999: no such paper" in bot.next_response()["text"]
    assert bot.store.list_subscriptions(team_id=TEAM, channel_id=CHANNEL) == []
    bot.command(f"subscribe like:{target} -tag:Survey day:fri time:08:30")
    assert f"`-tag:Survey like:{target}`" in bot.next_response()["text"]
    [sub] = bot.store.list_subscriptions(team_id=TEAM, channel_id=CHANNEL)
    assert sub.query == f"-tag:Survey like:{target}"


# -- subscriptions -------------------------------------------------------------------------


def test_subscribe_list_and_unsubscribe(bot: Bot) -> None:
    bot.command("subscribe tag:Alignment day:fri time:08:30 tz:Asia/Tokyo top:5")
    done = bot.next_response()
    assert done["response_type"] == "in_channel"
    assert "`tag:Alignment`" in done["text"]
    assert "Fridays at 08:30 Asia/Tokyo" in done["text"]
    [sub] = bot.store.list_subscriptions(team_id=TEAM, channel_id=CHANNEL)
    assert (sub.weekday, sub.time, sub.tz, sub.top, sub.created_by) == (
        4,
        "08:30",
        "Asia/Tokyo",
        5,
        MEMBER,
    )

    bot.command("subscribe tag:Alignment day:fri time:08:30 tz:Asia/Tokyo top:5")
    assert "already has" in bot.next_response()["text"]

    bot.command("subscriptions")
    response = bot.next_response()
    assert response["text"] == "1 subscription in this channel"
    listed = texts(response)
    assert f"#{sub.id}" in listed
    # NOW is Friday 21:00 in Tokyo: the next Friday 08:30 there is a week on.
    assert "next digest: Fri 2024-10-11 08:30 JST" in listed

    bot.command(f"unsubscribe {sub.id}")
    assert f"subscription #{sub.id}" in bot.next_response()["text"]
    assert bot.store.list_subscriptions(team_id=TEAM, channel_id=CHANNEL) == []
    bot.command("unsubscribe all")
    assert "no subscriptions" in bot.next_response()["text"]


# -- admin commands ------------------------------------------------------------------------


def test_digest_now_as_admin_posts_to_the_channel(bot: Bot) -> None:
    r = bot.command("digest now", user=ADMIN)
    assert r.status_code == 200
    report = bot.next_response()
    assert "posted" in report["text"], report
    posted = bot.slack.posted(CHANNEL)
    assert posted
    assert "Top papers" in texts({"text": posted[0].text, "blocks": posted[0].blocks})
    assert bot.slack.calls_to("users.info") == []  # PAPERBOT_ADMINS needs no lookup


def test_admin_commands_refuse_members_and_do_nothing(bot: Bot) -> None:
    before = len(bot.store.list_sources())
    for text in ("digest now", "digest preview", "poll", "sources", "sources remove x"):
        bot.command(text, user=MEMBER)
        refusal = bot.next_response()
        assert "only paperbot admins" in refusal["text"], text
        assert refusal["response_type"] == "ephemeral"
    bot.command("sources add https://example.org/feed.xml", user=MEMBER)
    assert "only paperbot admins" in bot.next_response()["text"]
    assert bot.slack.posted() == []
    assert bot.slack.calls_to("chat.postMessage") == []
    assert not bot.poll.started.is_set()
    assert len(bot.store.list_sources()) == before
    # users.info was asked once; the answer (not an admin) was cached.
    assert len(bot.slack.calls_to("users.info")) == 1


def test_workspace_admin_from_users_info_is_cached(bot: Bot) -> None:
    bot.command("sources", user=WS_ADMIN)
    listing = texts(bot.next_response())
    assert "paper_notes #Alignment" in listing
    assert "papers" in listing
    bot.command("sources add <https://example.org/feed.xml> kind:feed name:Example", user=WS_ADMIN)
    assert "Added source *Example*" in bot.next_response()["text"]
    added = bot.store.get_source("Example")
    assert added is not None and added.origin == "slack"
    bot.command("sources remove Example", user=WS_ADMIN)
    assert "Retired source Example" in bot.next_response()["text"]
    assert len(bot.slack.calls_to("users.info")) == 1


def test_sources_listing_says_never_polled_ok_or_retired(bot: Bot) -> None:
    bot.command("sources add <https://example.org/feed.xml> name:Fresh", user=ADMIN)
    bot.next_response()

    def line_of(name: str) -> str:
        bot.command("sources", user=ADMIN)
        blocks = bot.next_response()["blocks"]
        lines = [line for b in blocks for line in b["text"]["text"].splitlines()]
        return next(line for line in lines if f"*{name}*" in line)

    assert line_of("Fresh").endswith("· 0 papers · never polled")
    assert "· ok: last success" in line_of("paper_notes #Alignment")
    bot.command("sources remove fresh", user=ADMIN)  # names ignore case
    assert (
        bot.next_response()["text"] == "Retired source Fresh: no longer polled; its 0 papers stay."
    )
    assert "· retired since " in line_of("Fresh")
    fresh = bot.store.get_source("Fresh")
    assert fresh is not None and fresh.retired


def test_digest_preview_is_ephemeral_and_posts_nothing(bot: Bot) -> None:
    bot.command("digest preview", user=ADMIN)
    preview = bot.next_response()
    assert preview["response_type"] == "ephemeral"
    assert "Preview" in texts(preview)
    assert "Top papers" in texts(preview)
    assert bot.slack.posted() == []


MONDAY = datetime(2024, 10, 7, 9, 0, tzinfo=UTC)  # the Monday after the demo week


def posted_texts(slack: FakeSlack) -> str:
    return " ".join(texts({"text": m.text, "blocks": m.blocks}) for m in slack.posted(CHANNEL))


def test_digest_now_right_after_subscribing_covers_the_whole_last_week(
    store: Store, tmp_path: Path
) -> None:
    with serving_bot(store, tmp_path, now=MONDAY) as monday:
        # Mondays at 09:00, made at 09:00: the first scheduled run covers next week.
        monday.command("subscribe")
        assert "subscribed this channel" in monday.next_response()["text"]
        [sub] = monday.store.list_subscriptions(team_id=TEAM, channel_id=CHANNEL)
        assert sub.start_week == "2024-W41"
        monday.command("digest now", user=ADMIN)
        report = monday.next_response()
        assert "Digest for 2024-W40" in report["text"] and "posted" in report["text"]
        posted = posted_texts(monday.slack)
    assert "Aligners: Decoupling LLMs and Alignment" in posted
    assert "No papers" not in posted
    assert "5 papers from 5 candidates" in posted


def test_an_empty_digest_says_the_filter_matched_none_of_the_weeks_papers(bot: Bot) -> None:
    bot.command("subscribe quantumchromodynamics")
    bot.next_response()
    bot.command("digest now", user=ADMIN)
    assert "posted" in bot.next_response()["text"]
    posted = posted_texts(bot.slack)
    assert "5 papers this week, none matching quantumchromodynamics" in posted
    assert "No papers this week" not in posted
    assert "Returned nothing" not in posted  # the week was full: silent sources are no reason
    bot.command("digest preview", user=ADMIN)
    assert "none matching quantumchromodynamics" in texts(bot.next_response())


def test_ack_does_not_wait_for_slow_work(bot: Bot) -> None:
    started = time.monotonic()
    r = bot.command("poll", user=ADMIN)
    assert r.status_code == 200
    assert time.monotonic() - started < 3
    assert bot.poll.started.wait(5)
    # The poll is still running, yet Slack has its 200 and the first note.
    assert "Polling" in bot.next_response()["text"]
    assert not any("Poll done" in str(c.args) for c in bot.slack.calls_to("response_url"))
    bot.poll.release.set()
    report = bot.next_response()
    assert "Poll done: 6 of 6 sources ok" in report["text"]
    assert len(bot.poll.polled) == 6


# -- without Slack's Web API ----------------------------------------------------------------


def test_help_and_lookups_answer_without_slacks_web_api(cut_off: Bot) -> None:
    r = cut_off.command("help")
    assert r.status_code == 200
    assert "/paper subscribe" in json.dumps(r.json())
    r = cut_off.command("tag:Alignment", user=WS_ADMIN)
    assert r.status_code == 200
    assert "Large Language Model Alignment: A Survey" in texts(cut_off.next_response())
    r = cut_off.command("subscribe tag:Alignment")
    assert r.status_code == 200
    assert "subscribed this channel" in cut_off.next_response()["text"]


def test_admin_check_and_post_say_slack_is_not_answering(
    cut_off: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="paperbot.slack"):
        r = cut_off.command("sources", user=WS_ADMIN)  # the admin check needs users.info
        assert r.status_code == 200
        reply = cut_off.next_response()
    assert reply["text"] == SLACK_DOWN
    assert reply["response_type"] == "ephemeral"
    [line] = [r for r in caplog.records if r.name == "paperbot.slack"]
    assert "users.info failed" in line.getMessage()
    assert line.exc_info is None
    # Neither yes nor no was learnt: nothing is cached against the admin.
    assert cut_off.store.cached_admin(TEAM, WS_ADMIN, now=NOW, max_age=timedelta(hours=1)) is None

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="paperbot.slack"):
        cut_off.command("digest now", user=ADMIN)  # PAPERBOT_ADMINS: no check, a post
        report = cut_off.next_response()
    assert report["text"].startswith(SLACK_DOWN)
    assert "not posted" in report["text"]
    [line] = [r for r in caplog.records if r.name == "paperbot.slack"]
    assert "Slack's API is not answering" in line.getMessage()
    assert cut_off.slack.posted() == []


# -- App Home ------------------------------------------------------------------------------


def test_app_home_publishes_help_and_subscriptions(bot: Bot) -> None:
    bot.command("subscribe tag:Alignment")
    bot.next_response()
    r = bot.event({"type": "app_home_opened", "user": ADMIN, "channel": "D1", "tab": "home"})
    assert r.status_code == 200
    [call] = bot.slack.wait_for("views.publish")
    assert call.args["user_id"] == ADMIN
    view = call.args["view"]
    view_text = view if isinstance(view, str) else json.dumps(view)
    assert "/paper subscribe" in view_text
    assert "tag:Alignment" in view_text
    assert "You are a paperbot admin" in view_text


# -- request checks ------------------------------------------------------------------------


def test_forged_signature_is_401(bot: Bot) -> None:
    body = urlencode({"command": "/paper", "text": "poll", "user_id": ADMIN, "team_id": TEAM})
    r = bot.post(body, "application/x-www-form-urlencoded", secret="not-the-secret")
    assert r.status_code == 401
    time.sleep(0.2)
    assert bot.slack.calls_to("response_url") == []


def test_old_timestamp_is_401(bot: Bot) -> None:
    body = urlencode({"command": "/paper", "text": "help", "team_id": TEAM})
    r = bot.post(body, "application/x-www-form-urlencoded", ts=int(time.time()) - 6 * 60)
    assert r.status_code == 401


def test_body_changed_after_signing_is_401(bot: Bot) -> None:
    body = urlencode({"command": "/paper", "text": "help", "user_id": MEMBER, "team_id": TEAM})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    tampered = body.replace(MEMBER, ADMIN)
    r = bot.http.post(f"{bot.url}/slack/events", content=tampered, headers=headers)
    assert r.status_code == 401


def test_oversized_body_is_413(bot: Bot) -> None:
    body = "text=" + "a" * (MAX_BODY_BYTES + 1)
    r = bot.post(body, "application/x-www-form-urlencoded")
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"a" * 1024

    r = bot.http.post(
        f"{bot.url}/slack/events",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413


# Bodies Bolt's parser cannot take: malformed JSON, a malformed ``payload=`` field, and JSON
# that is not an object.
JUNK = [
    ("{not json", "application/json"),
    ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    ("[1, 2]", "application/json"),
    ("payload=%5B1%5D", "application/x-www-form-urlencoded"),
]


@contextmanager
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Warnings and errors of paperbot and of uvicorn (whose loggers do not propagate)."""
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING):
            yield caplog.records
    finally:
        uvicorn_log.removeHandler(caplog.handler)


@pytest.mark.parametrize(("body", "ctype"), JUNK)
def test_unsigned_junk_is_401_before_it_is_parsed(
    bot: Bot, body: str, ctype: str, caplog: pytest.LogCaptureFixture
) -> None:
    unsigned: list[dict[str, str]] = [
        {},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"},
    ]
    with server_log(caplog) as records:
        for headers in unsigned:
            r = bot.http.post(
                f"{bot.url}/slack/events", content=body, headers={"Content-Type": ctype, **headers}
            )
            assert r.status_code == 401, headers
    assert len(records) == len(unsigned)
    assert all("without a valid Slack signature" in r.getMessage() for r in records)
    assert all(r.exc_info is None for r in records)


@pytest.mark.parametrize(("body", "ctype"), JUNK)
def test_signed_junk_is_400_with_one_log_line(
    bot: Bot, body: str, ctype: str, caplog: pytest.LogCaptureFixture
) -> None:
    with server_log(caplog) as records:
        r = bot.post(body, ctype)
    assert r.status_code == 400
    [record] = records
    assert "does not parse" in record.getMessage()
    assert record.exc_info is None
    # The endpoint still works.
    assert bot.command("help").status_code == 200


def test_healthz(bot: Bot) -> None:
    r = bot.http.get(f"{bot.url}/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True}


def test_healthz_503_when_the_database_is_gone(tmp_path: Path) -> None:
    broken = Store(create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}"))
    assert broken.ping() is False
    with FakeSlack() as slack:
        settings = BotSettings.from_env(bot_env(slack.api_url, tmp_path))
        app = create_app(settings, store=broken, clock=clock)
        with served(create_web_app(app, store=broken, signing_secret=SECRET)) as url:
            r = httpx.get(f"{url}/healthz", timeout=10)
    assert r.status_code == 503
    assert r.json() == {"ok": False}


def test_store_ping(store: Store) -> None:
    assert store.ping() is True


def test_create_app_requires_the_signing_secret_in_http_mode(tmp_path: Path, store: Store) -> None:
    from digests.errors import ConfigError

    env = bot_env("http://127.0.0.1:1/api/", tmp_path)
    del env["SLACK_SIGNING_SECRET"]
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        create_app(BotSettings.from_env(env), store=store)


def test_serve_command_explains_missing_secrets(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    env = bot_env("http://127.0.0.1:1/api/", tmp_path)
    del env["SLACK_SIGNING_SECRET"]
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1
    assert "SLACK_SIGNING_SECRET is not set" in result.output
    result = CliRunner().invoke(cli, ["serve", "--socket-mode"], env=env)
    assert result.exit_code == 1
    assert "SLACK_APP_TOKEN is not set" in result.output
    env.pop("SLACK_BOT_TOKEN")
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN is not set" in result.output


def test_serve_starts_without_bolts_unused_token_warning(tmp_path: Path, db_url: str) -> None:
    """SLACK_BOT_TOKEN in the environment, as in production, and a real `paperbot serve`."""
    sources = tmp_path / "sources.toml"
    sources.write_text("# none\n", "utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with FakeSlack() as slack:
        env = {
            **os.environ,
            **bot_env(slack.api_url, tmp_path),
            "DATABASE_URL": db_url,
            "PAPERBOT_SOURCES_FILE": str(sources),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bot.cli import main; main()",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert server.poll() is None, "paperbot serve exited"
            assert slack.calls_to("auth.test")  # started, with the token from the environment
        finally:
            server.send_signal(signal.SIGINT)
            _, logged = server.communicate(timeout=30)
    assert "will be unused" not in logged, logged
    assert "Traceback" not in logged, logged


def test_profile_shows_what_the_channel_taught_and_only_admins_reset_it(bot: Bot) -> None:
    bot.command("profile")
    assert "has no profile yet" in bot.next_response()["text"]
    hits = bot.store.search(parse_query("tag:Alignment", now=NOW)).hits
    liked, muted = hits[0], hits[1]
    bot.store.set_verdicts(TEAM, CHANNEL, MEMBER, {liked.paper_id: "like"}, origin="click", now=NOW)
    bot.store.set_verdicts(TEAM, CHANNEL, ADMIN, {muted.paper_id: "mute"}, origin="click", now=NOW)
    # The same channel id in another workspace: never shown here.
    bot.store.set_verdicts(
        "T0OTHER", CHANNEL, "U9", {muted.paper_id: "like"}, origin="click", now=NOW
    )

    bot.command("profile")
    shown = bot.next_response()
    assert shown["response_type"] == "ephemeral"
    listed = texts(shown)
    assert "*Liked (1)*" in listed and liked.title[:40] in listed
    assert "*Muted, never posted here again (1)*" in listed and muted.title[:40] in listed
    assert "Strongest terms:" in listed

    bot.command("profile reset", user=MEMBER)
    assert "only paperbot admins" in bot.next_response()["text"]
    assert len(bot.store.channel_feedback([(TEAM, CHANNEL)])[(TEAM, CHANNEL)]) == 2
    bot.command("profile reset", user=ADMIN)
    done = bot.next_response()
    assert done["response_type"] == "in_channel" and "2 verdicts forgotten" in done["text"]
    assert bot.store.channel_feedback([(TEAM, CHANNEL)])[(TEAM, CHANNEL)] == []
    assert len(bot.store.channel_feedback([("T0OTHER", CHANNEL)])[("T0OTHER", CHANNEL)]) == 1
    wrong = bot.command("profile colour").json()
    assert wrong["response_type"] == "ephemeral"
    assert "unknown word colour after profile" in wrong["text"]
