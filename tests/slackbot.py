"""The Slack app served over real HTTP for tests: uvicorn running the Starlette app,
signed requests sent with httpx, and the fake Slack Web API (``tests.fakeslack``) behind it.
The ``bot`` and ``cut_off`` fixtures (tests/conftest.py) are built from these."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from starlette.applications import Starlette

from bot.app import create_app, make_client
from bot.config import BotSettings
from bot.deliver import Deliverer
from bot.demo import demo_dir, demo_specs
from bot.server import create_web_app
from digests.ingest import SourceReport, fetch_settings_for, poll_sources
from digests.model import SourceInfo
from digests.store import Store
from digests.topics import load_rules
from tests.fakeslack import BOT_TOKEN, TEAM, FakeSlack, Message

SECRET = "test-signing-secret"
ADMIN = "UADMIN01"  # in PAPERBOT_ADMINS
WS_ADMIN = "UWSADMIN1"  # is_admin according to users.info
MEMBER = "UMEMBER01"
CHANNEL = "C0GENERAL"
NOW = datetime(2024, 10, 4, 12, 0, tzinfo=UTC)  # the demo sources' week (2024-W40)


def clock() -> datetime:
    return NOW


# -- serving -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(app: Starlette) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- signing -------------------------------------------------------------------------------


def signed(body: str, *, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    base = f"v0:{stamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class GatedPoll:
    """A poll that blocks until released: shows the ack does not wait for slow work."""

    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    polled: list[str] = field(default_factory=list)

    def __call__(self, sources: Sequence[SourceInfo]) -> list[SourceReport]:
        self.started.set()
        assert self.release.wait(10), "the test never released the poll"
        self.polled.extend(s.name for s in sources)
        return [SourceReport(name=s.name, status="unchanged") for s in sources]


@dataclass
class Bot:
    url: str
    slack: FakeSlack
    store: Store
    poll: GatedPoll
    http: httpx.Client
    responses: int = 0

    def command(
        self, text: str, *, user: str = MEMBER, channel: str = CHANNEL, name: str = "r"
    ) -> httpx.Response:
        body = urlencode(
            {
                "token": "unused",
                "team_id": TEAM,
                "team_domain": "example",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": "someone",
                "command": "/paper",
                "text": text,
                "api_app_id": "A0PAPERBOT",
                "response_url": self.slack.response_url(name),
                "trigger_id": "1.2.3",
            }
        )
        return self.post(body, "application/x-www-form-urlencoded")

    def action(self, action_id: str, value: str, *, user: str = MEMBER) -> httpx.Response:
        """A button click on an ephemeral reply in the test channel."""
        return self.click(action_id, value, user=user)

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = MEMBER,
        team: str = TEAM,
        channel: str = CHANNEL,
        message: Message | None = None,
        **sign: Any,
    ) -> httpx.Response:
        """A button click on a posted message (its blocks and metadata as Slack sends
        them back), or on an ephemeral reply when ``message`` is None."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": team, "domain": "example"},
            "user": {"id": user, "username": "someone", "team_id": team},
            "api_app_id": "A0PAPERBOT",
            "token": "unused",
            "container": {
                "type": "message",
                "message_ts": message.ts if message else "1700000000.000100",
                "channel_id": channel,
                "is_ephemeral": message is None,
            },
            "trigger_id": "1.2.3",
            "channel": {"id": channel, "name": "general"},
            "response_url": self.slack.response_url("action"),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b1",
                    "type": "button",
                    "value": value,
                    "action_ts": "1700000001.000200",
                }
            ],
        }
        if message is not None:
            payload["message"] = {
                "type": "message",
                "ts": message.ts,
                "text": message.text,
                "blocks": message.blocks,
                **({"metadata": message.metadata} if message.metadata else {}),
            }
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **sign)

    def submit_view(
        self,
        view_id: str,
        callback_id: str,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        private_metadata: str = CHANNEL,
        user: str = MEMBER,
    ) -> httpx.Response:
        """A modal's submission (``view_submission``), as Slack posts it."""
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": user, "username": "someone", "team_id": TEAM},
            "api_app_id": "A0PAPERBOT",
            "token": "unused",
            "trigger_id": "1.2.4",
            "view": {
                "id": view_id,
                "team_id": TEAM,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
                "hash": "1700000002.abcdef",
            },
            "response_urls": [],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any]) -> httpx.Response:
        body = json.dumps(
            {
                "token": "unused",
                "team_id": TEAM,
                "api_app_id": "A0PAPERBOT",
                "type": "event_callback",
                "event_id": "Ev0001",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        return self.post(body, "application/json")

    def post(self, body: str, ctype: str, **kw: Any) -> httpx.Response:
        headers = {"Content-Type": ctype, **signed(body, **kw)}
        return self.http.post(f"{self.url}/slack/events", content=body, headers=headers)

    def next_response(self) -> dict[str, Any]:
        """The next message that reached a response_url (work after ack is asynchronous)."""
        self.responses += 1
        call = self.slack.wait_for("response_url", self.responses)[self.responses - 1]
        return dict(call.args)


def ingest_demo(store: Store, tmp_path: Path) -> None:
    settings = BotSettings.from_env(bot_env("http://127.0.0.1:1/api/", tmp_path)).core
    for spec in demo_specs(demo_dir()):
        store.add_source(spec, now=NOW)
    poll_sources(
        store,
        store.list_sources(with_counts=False),
        fetch_settings=fetch_settings_for(settings),
        rules=load_rules(None),
        clock=clock,
    )


def bot_env(api_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "PAPERBOT_ADMINS": ADMIN,
        "PAPERBOT_DATA_DIR": str(tmp_path),
        "PAPERBOT_TZ": "UTC",
    }


@contextmanager
def serving_bot(
    store: Store, tmp_path: Path, now: datetime = NOW, env: Mapping[str, str] | None = None
) -> Iterator[Bot]:
    """``env``: settings beside the test ones (the arXiv API's address)."""
    ingest_demo(store, tmp_path)
    with FakeSlack(admins={WS_ADMIN}) as slack:
        settings = BotSettings.from_env({**bot_env(slack.api_url, tmp_path), **(env or {})})
        poll = GatedPoll()
        app = create_app(settings, store=store, clock=lambda: now, poll=poll)
        with (
            served(create_web_app(app, store=store, signing_secret=SECRET)) as url,
            httpx.Client(timeout=10) as http,
        ):
            yield Bot(url=url, slack=slack, store=store, poll=poll, http=http)
            poll.release.set()


@contextmanager
def cut_off_bot(store: Store, tmp_path: Path, *, answers_503: bool) -> Iterator[Bot]:
    """The bot while Slack's Web API refuses connections (a closed port) or answers 503.
    ``response_url`` still works: Slack serves it from another host."""
    ingest_demo(store, tmp_path)
    with FakeSlack(admins={WS_ADMIN}) as slack:
        slack.down = answers_503
        api_url = slack.api_url if slack.down else f"http://127.0.0.1:{free_port()}/api/"
        settings = BotSettings.from_env(bot_env(api_url, tmp_path))
        client = make_client(settings)
        deliverer = Deliverer(
            store=store,
            client=client,
            core=settings.core,
            admins=settings.slack.admins,
            holder="test",
            clock=clock,
            sleep=lambda seconds: None,  # its retries need not wait in a test
        )
        app = create_app(settings, store=store, client=client, deliverer=deliverer, clock=clock)
        with (
            served(create_web_app(app, store=store, signing_secret=SECRET)) as url,
            httpx.Client(timeout=10) as http,
        ):
            yield Bot(url=url, slack=slack, store=store, poll=GatedPoll(), http=http)


def texts(message: dict[str, Any]) -> str:
    """Every text in a message, blocks included, as one string."""
    return str(message.get("text", "")) + json.dumps(
        message.get("blocks") or [], ensure_ascii=False
    )


def buttons(message: dict[str, Any]) -> dict[str, str]:
    found = {}
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element["value"]
    return found
