"""Requests that must not get in, admin actions by non-admins, and secrets that must not leak.

The app runs behind its real HTTP server (the ``bot`` fixture) with the
fake Slack Web API; the CLI runs in-process with sentinel secrets in its environment.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from urllib.parse import urlencode

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.factories import command_paths
from tests.fakeslack import TEAM
from tests.slackbot import ADMIN, CHANNEL, MEMBER, Bot, signed

# --- forged requests ----------------------------------------------------------------------


def _admin_command(user: str = ADMIN) -> str:
    return urlencode(
        {
            "command": "/paper",
            "text": "digest now",
            "user_id": user,
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "response_url": "http://127.0.0.1:1/nowhere",
        }
    )


def _nothing_happened(bot: Bot) -> None:
    time.sleep(0.3)  # work after ack is asynchronous: give it the chance to (wrongly) run
    assert bot.slack.calls_to("response_url") == []
    assert bot.slack.calls_to("chat.postMessage") == []
    assert not bot.poll.started.is_set()


@pytest.mark.parametrize("missing", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
def test_missing_signature_headers_are_401(bot: Bot, missing: str) -> None:
    body = _admin_command()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    for name in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        if missing in (name, "both"):
            del headers[name]
    r = bot.http.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert r.status_code == 401
    _nothing_happened(bot)


def test_a_replayed_capture_older_than_five_minutes_is_401(bot: Bot) -> None:
    body = _admin_command()
    captured = signed(body, ts=int(time.time()) - 301)
    r = bot.http.post(
        f"{bot.url}/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **captured},
    )
    assert r.status_code == 401
    _nothing_happened(bot)


def test_the_user_comes_only_from_the_signed_body(bot: Bot) -> None:
    # A member's genuine request, with an admin's id everywhere outside the signed body.
    body = urlencode(
        {
            "command": "/paper",
            "text": "poll",
            "user_id": MEMBER,
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "response_url": bot.slack.response_url("r"),
        }
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-User": ADMIN,
        "X-Forwarded-User": ADMIN,
        **signed(body),
    }
    r = bot.http.post(f"{bot.url}/slack/events?user_id={ADMIN}", content=body, headers=headers)
    assert r.status_code == 200
    assert "only paperbot admins" in bot.next_response()["text"]
    assert not bot.poll.started.is_set()


# --- admin actions through every other path ------------------------------------------------


def test_buttons_cannot_run_admin_commands(bot: Bot) -> None:
    # The lookup buttons carry query text; an admin command smuggled in their value is a
    # lookup at most, and an action id the app does not know does nothing.
    for action_id, value in [
        ("paper_more", json.dumps({"q": "digest now", "offset": 0})),
        ("paper_more", "digest now"),
        ("paper_share", "poll"),
        ("digest_now", "C0GENERAL"),
        ("sources_remove", "paper_notes #Alignment"),
    ]:
        r = bot.action(action_id, value, user=MEMBER)
        assert r.status_code in (200, 404), (action_id, r.status_code)
    time.sleep(0.3)
    assert bot.slack.calls_to("chat.postMessage") == []
    assert not bot.poll.started.is_set()
    assert bot.store.get_source("paper_notes #Alignment") is not None


@pytest.mark.parametrize("kind", ["shortcut", "message_action"])
def test_shortcuts_run_nothing(bot: Bot, kind: str) -> None:
    payload = {
        "type": kind,
        "callback_id": "digest_now",
        "team": {"id": TEAM},
        "user": {"id": MEMBER},
        "channel": {"id": CHANNEL},
        "trigger_id": "1.2.3",
        "response_url": bot.slack.response_url("shortcut"),
    }
    bot.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    _nothing_happened(bot)


def test_app_home_shows_admin_controls_only_to_admins(bot: Bot) -> None:
    bot.event({"type": "app_home_opened", "user": MEMBER, "channel": "D1", "tab": "home"})
    [call] = bot.slack.wait_for("views.publish")
    assert call.args["user_id"] == MEMBER
    view = call.args["view"]
    assert "You are a paperbot admin" not in (view if isinstance(view, str) else json.dumps(view))


# --- secrets -------------------------------------------------------------------------------

SENTINELS = {
    "SLACK_BOT_TOKEN": "xoxb-SENTINEL-bot-token-0001",
    "SLACK_SIGNING_SECRET": "SENTINEL-signing-secret-0002",
    "SLACK_APP_TOKEN": "xapp-SENTINEL-app-token-0003",
    "PAPERBOT_LLM_API_KEY": "SENTINEL-llm-key-0004",
}


def _leaks(text: str) -> list[str]:
    return [name for name, value in SENTINELS.items() if value in text or value[8:] in text]


def test_secrets_never_appear_in_help_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "sources.toml").write_text("# none\n", "utf-8")
    env = {
        **SENTINELS,
        "PAPERBOT_LLM_BASE_URL": "http://127.0.0.1:1/v1",
        "PAPERBOT_LLM_MODEL": "m",
        "PAPERBOT_DATA_DIR": str(tmp_path),
        "PAPERBOT_SOURCES_FILE": str(tmp_path / "sources.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "SLACK_API_URL": "http://127.0.0.1:1/api/",
    }
    runner = CliRunner()
    outputs: list[str] = []
    for path in [(), *command_paths(cli)]:
        result = runner.invoke(cli, ["-vv", *path, "--help"], env=env)
        assert result.exit_code == 0, path
        outputs.append(result.output)
    # Typical failures: an unusable setting, a bad query, a database that is not there
    # (its password a secret too), and HTTP mode without a signing secret.
    bad_db = {
        **env,
        "DATABASE_URL": "postgresql://u:SENTINEL-db-pw-0005@127.0.0.1:1/x",
        "PAPERBOT_DB_CONNECT_ATTEMPTS": "1",
    }
    no_secret = {k: v for k, v in env.items() if k != "SLACK_SIGNING_SECRET"}
    for args, environ in [
        (["-vv", "query", "nosuchterm:x"], env),
        (["-vv", "sources", "list"], {**env, "PAPERBOT_TZ": "Mars/Olympus"}),
        (["-vv", "sources", "list"], bad_db),
        (["-vv", "serve"], no_secret),
    ]:
        result = runner.invoke(cli, args, env=environ)
        assert result.exit_code != 0, args
        outputs.append(result.output)
    refusal = outputs[-1]
    assert "SLACK_SIGNING_SECRET is not set" in refusal  # serve refuses HTTP mode
    logged = "\n".join(r.getMessage() for r in caplog.records)
    everything = "\n".join(outputs) + logged
    assert _leaks(everything) == []
    assert "SENTINEL-db-pw-0005" not in everything
    assert isinstance(cli, click.Group)
