"""The keep-alive Slack client: the same calls and outcomes as slack_sdk's, over fewer
connections. Real HTTP (and real TLS) to the local fake Slack; the fake counts the
connections it accepted."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.error import URLError

import pytest
import trustme
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import make_client
from bot.config import BotSettings, SlackSettings
from bot.slack_client import KeepAliveWebClient
from digests.settings import Settings
from tests.fakeslack import BOT_TOKEN, FakeReply, FakeSlack

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Paper* one"}}]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def plain_client(url: str) -> WebClient:
    # No retry handlers, as the bot's client: every outcome arrives as it happened.
    return WebClient(token=BOT_TOKEN, base_url=url, retry_handlers=[])


def kept_client(url: str, **kwargs: Any) -> KeepAliveWebClient:
    return KeepAliveWebClient(token=BOT_TOKEN, base_url=url, retry_handlers=[], **kwargs)


def post(client: WebClient, channel: str = "C1") -> str:
    answer = client.chat_postMessage(channel=channel, text="Paper one", blocks=BLOCKS)
    return str(answer["ts"])


def test_calls_share_one_connection(slack: FakeSlack) -> None:
    plain = plain_client(slack.api_url)
    for _ in range(5):
        post(plain)
    assert slack.connections == 5  # urllib: one connection per call

    kept = kept_client(slack.api_url)
    assert kept.auth_test()["user_id"]
    ts = [post(kept) for _ in range(20)]
    assert len(set(ts)) == 20 and len(slack.posted("C1")) == 25
    assert slack.connections == 6 and kept.connections_opened == 1
    kept.close()


def test_threads_post_at_once_over_their_own_connections(slack: FakeSlack) -> None:
    client = kept_client(slack.api_url)
    with ThreadPoolExecutor(8) as pool:
        ts = list(pool.map(lambda i: post(client, f"C{i % 8}"), range(200)))
    assert len(set(ts)) == 200
    assert sum(len(slack.posted(f"C{c}")) for c in range(8)) == 200
    # At most one connection per call in flight: eight threads, at most eight.
    assert 1 <= slack.connections == client.connections_opened <= 8


def test_a_connection_the_server_closed_is_not_reused() -> None:
    with FakeSlack(keepalive_timeout=0.2) as slack:
        client = kept_client(slack.api_url)
        post(client)
        post(client)
        assert slack.connections == 1
        time.sleep(1.5)  # the server closes the idle connection (after 0.2 s)
        post(client)  # no error: the closed connection is noticed before it is used
        assert slack.connections == 2
        assert len(slack.posted("C1")) == 3


def test_a_long_idle_connection_is_replaced(slack: FakeSlack) -> None:
    client = kept_client(slack.api_url, idle_timeout=0.1)
    post(client)
    time.sleep(0.3)
    post(client)
    assert slack.connections == 2


def outcome(client: WebClient) -> tuple[Any, ...]:
    """What a post ends in, as the deliverer reads it."""
    try:
        answer = client.chat_postMessage(channel="C1", text="Paper one", blocks=BLOCKS)
    except SlackApiError as e:
        headers = {k.lower(): v for k, v in e.response.headers.items()}
        return (
            "SlackApiError",
            e.response.status_code,
            e.response.get("error"),
            headers.get("retry-after"),
        )
    return ("ok", answer.status_code, answer["ok"], None)


@pytest.mark.parametrize(
    "reply",
    [
        FakeReply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}),
        FakeReply(500, {"ok": False, "error": "internal_error"}),
        FakeReply(503, {"ok": False, "error": "service_unavailable"}),
        FakeReply(200, {"ok": False, "error": "channel_not_found"}),
        FakeReply(200, {"ok": True, "ts": "1.000001", "channel": "C1"}),
    ],
    ids=["429", "500", "503", "error-200", "ok"],
)
def test_answers_arrive_as_slack_sdk_gives_them(slack: FakeSlack, reply: FakeReply) -> None:
    seen = []
    for client in (
        plain_client(slack.api_url),
        kept_client(slack.api_url),
    ):
        slack.script("chat.postMessage", reply)
        seen.append(outcome(client))
        assert outcome(client)[0] == "ok"  # and the connection still serves the next call
    assert seen[0] == seen[1]
    assert seen[0][1] == reply.status


def test_a_redirect_is_reported_not_followed(slack: FakeSlack) -> None:
    # Slack's Web API never redirects: one means SLACK_API_URL points somewhere else, and
    # a post must not be re-sent to wherever the answer says.
    elsewhere = "https://example.org/api/chat.postMessage"
    slack.script("chat.postMessage", FakeReply(301, {}, {"Location": elsewhere}))
    client = kept_client(slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        post(client)
    assert caught.value.response.status_code == 301
    assert slack.api_url + "chat.postMessage" in str(caught.value)  # the URL is named
    assert len(slack.calls_to("chat.postMessage")) == 1
    post(client)  # the connection serves the next call
    assert slack.connections == 1


def test_a_refused_connection_is_raised_as_urllib_raises_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    errors = []
    for client in (
        plain_client(f"http://127.0.0.1:{port}/api/"),
        kept_client(f"http://127.0.0.1:{port}/api/"),
    ):
        with pytest.raises(URLError) as caught:
            post(client)
        errors.append(type(caught.value.reason))
    assert errors == [ConnectionRefusedError, ConnectionRefusedError]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_slack(ca: trustme.CA) -> Iterator[FakeSlack]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    with FakeSlack(tls=server) as fake:
        yield fake


def test_tls_connections_are_verified_and_kept(tls_slack: FakeSlack, ca: trustme.CA) -> None:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    client = kept_client(tls_slack.api_url, ssl=trusting)
    assert tls_slack.api_url.startswith("https://localhost:")
    for _ in range(3):
        post(client)
    assert tls_slack.connections == 1 and len(tls_slack.posted("C1")) == 3

    # The system's CAs do not know the test CA: refused, before anything is sent.
    with pytest.raises(URLError) as caught:
        post(kept_client(tls_slack.api_url))
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
    # The name is checked: the certificate is for localhost, not for its address.
    by_address = tls_slack.api_url.replace("localhost", "127.0.0.1")
    with pytest.raises(URLError) as caught:
        post(kept_client(by_address, ssl=trusting))
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
    assert len(tls_slack.posted("C1")) == 3


def test_the_bots_client_posts_to_the_configured_api_and_leaves_retries_to_the_bot(
    slack: FakeSlack, tmp_path: Path
) -> None:
    settings = BotSettings(
        core=Settings(
            database_url="sqlite://",
            data_dir=tmp_path,
            sources_file=tmp_path / "sources.toml",
            topics_file=None,
        ),
        slack=SlackSettings(bot_token=BOT_TOKEN, signing_secret="s" * 32, api_url=slack.api_url),
    )
    client = make_client(settings)
    assert client.retry_handlers == []  # the deliverer paces and retries on its own
    post(client)
    post(client)
    assert len(slack.posted("C1")) == 2


def test_request_debug_lines_are_built_only_when_debug_is_on(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    kept = kept_client(slack.api_url)
    # slack_sdk formats its request line when its logger's own ``level`` is DEBUG or
    # lower; an unconfigured logger's NOTSET (0) would let it format one for every call.
    caplog.set_level(logging.INFO, logger="slack_sdk")
    assert kept.logger.level == logging.INFO
    post(kept)
    assert not [r for r in caplog.records if "Sending a request" in r.getMessage()]

    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    assert kept.logger.level == logging.DEBUG
    post(kept)
    sent = [r for r in caplog.records if "Sending a request" in r.getMessage()]
    assert len(sent) == 1 and "(redacted)" in sent[0].getMessage()
    assert BOT_TOKEN not in sent[0].getMessage()
    kept.close()


def test_a_logger_given_to_the_client_is_kept(slack: FakeSlack) -> None:
    mine = logging.getLogger("paperbot.test.slack")
    assert kept_client(slack.api_url, logger=mine).logger is mine
