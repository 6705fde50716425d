"""Serving the Bolt app: a Starlette app for uvicorn (HTTP mode) or Socket Mode.

``POST /slack/events`` refuses what is too large, unsigned or unparsable before Bolt sees
it, then runs Bolt in the thread pool, since its ``dispatch`` blocks until ``ack()``.
``GET /healthz`` answers 200 while the database does, else 503.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app import create_app, make_client
from bot.config import BotSettings
from bot.deliver import Deliverer
from bot.scheduler import build_scheduler, default_holder
from digests.store import Store

log = logging.getLogger("paperbot.server")

MAX_BODY_BYTES = 64 * 1024  # Slack's payloads are a few KiB; a 64 KiB one is not Slack
EVENTS_PATH = "/slack/events"


class Scheduled(Protocol):
    """What ``serve`` needs of ``bot.scheduler.Scheduler``."""

    def start(self) -> None: ...

    def shutdown(self) -> None: ...


def create_web_app(
    bolt_app: App,
    *,
    store: Store,
    signing_secret: str,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    """The ASGI app uvicorn serves: forgeries get 401 before their body is parsed."""
    verifier = SignatureVerifier(signing_secret)

    async def events(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            return PlainTextResponse("request body too large", status_code=413)
        body = bytearray()
        # A chunked body has no Content-Length: count what arrives and stop early.
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return PlainTextResponse("request body too large", status_code=413)
        raw = bytes(body)
        if not _signed(verifier, raw, request):
            log.warning("refused a request without a valid Slack signature from %s", _peer(request))
            return PlainTextResponse("invalid request signature", status_code=401)
        try:
            bolt_request = to_bolt_request(request, raw)
        except (ValueError, TypeError, AttributeError) as e:
            # Bolt's parser meets a body that is not UTF-8, not JSON, or JSON that is not
            # an object (malformed JSON and ``payload=`` fields are ValueErrors; a list
            # where an object belongs fails on its first lookup). Signed, yet not Slack's.
            log.warning(
                "refused a signed request whose body does not parse (%s) from %s",
                type(e).__name__,
                _peer(request),
            )
            return PlainTextResponse("malformed request body", status_code=400)
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def healthz(request: Request) -> Response:
        ok = await run_in_threadpool(store.ping)
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route(EVENTS_PATH, events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _signed(verifier: SignatureVerifier, raw: bytes, request: Request) -> bool:
    try:
        return verifier.is_valid_request(raw, dict(request.headers))
    except ValueError:  # a timestamp header that is not a number
        return False


def _peer(request: Request) -> str:
    return request.client.host if request.client else "an unknown address"


def utcnow() -> datetime:
    return datetime.now(UTC)


def serve(
    settings: BotSettings,
    *,
    store: Store,
    port: int | None = None,
    socket_mode: bool = False,
    scheduler_factory: Callable[..., Scheduled] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Run the bot until interrupted: HTTP on 0.0.0.0:PORT, or Socket Mode.

    The weekly digests and polling run in this process through ``bot.scheduler`` (leader
    locked in the database, so several web processes never post twice).
    """
    if socket_mode:
        settings.slack.require_socket()
    else:
        settings.slack.require_http()
    client = make_client(settings)
    check_token(client)
    # One deliverer for the process: scheduled posts and "digest now" share its pacer.
    deliverer = Deliverer(
        store=store,
        client=client,
        core=settings.core,
        admins=settings.slack.admins,
        holder=default_holder(),
        clock=clock,
    )
    bolt_app = create_app(
        settings,
        store=store,
        client=client,
        deliverer=deliverer,
        clock=clock,
        socket_mode=socket_mode,
    )
    scheduler = (scheduler_factory or _default_scheduler)(
        settings=settings, store=store, client=client, clock=clock, deliverer=deliverer
    )
    scheduler.start()
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler  # noqa: PLC0415

            assert settings.slack.app_token is not None  # require_socket checked it
            log.info("paperbot in Socket Mode")
            SocketModeHandler(bolt_app, settings.slack.app_token, web_client=client).start()  # type: ignore[no-untyped-call]
        else:
            import uvicorn  # noqa: PLC0415

            chosen = port or settings.slack.port
            assert settings.slack.signing_secret is not None  # require_http checked it
            log.info("paperbot listening on 0.0.0.0:%d%s", chosen, EVENTS_PATH)
            uvicorn.run(
                create_web_app(
                    bolt_app,
                    store=store,
                    signing_secret=settings.slack.signing_secret,
                ),
                host="0.0.0.0",  # noqa: S104  (a web dyno must listen on every interface)
                port=chosen,
                log_level="info",
                # Slack never keeps a connection idle for long; don't hold sockets open.
                timeout_keep_alive=5,
            )
    finally:
        scheduler.shutdown()


def check_token(client: WebClient) -> None:
    """Say at start whether Slack accepts the token; never stop the bot over it.

    An unreachable Slack is a passing outage (digests wait for it); a rejected token is
    the operator's to fix, so it is logged as an error, without the token.
    """
    try:
        who = client.auth_test()
    except SlackApiError as e:
        log.error("Slack rejected the bot token: %s", e.response.get("error"))
    except (OSError, URLError) as e:
        log.warning("Slack is not reachable yet (%s); carrying on, digests wait for it", e)
    else:
        log.info("connected to Slack as %s in team %s", who.get("user"), who.get("team"))


def _default_scheduler(
    *,
    settings: BotSettings,
    store: Store,
    client: WebClient,
    clock: Callable[[], datetime],
    deliverer: Deliverer,
) -> Scheduled:
    """The in-process scheduler, leader-locked in the database."""
    return build_scheduler(settings, store=store, client=client, clock=clock, deliverer=deliverer)
