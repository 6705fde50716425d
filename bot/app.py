"""The Bolt app: ``/paper``, its buttons and the App Home, built by ``create_app``.

Each listener parses, acks (a parse error or the help is answered in the ack), then calls
one plain function of ``bot.actions`` and sends what it returns through ``respond``. Bolt
runs listeners in its thread pool, so the 200 reaches Slack as soon as ``ack()`` is
called while the work goes on. Only work that needs Slack's Web API (the admin check by
``users.info``, a post) waits on it; when it gets no answer, the user is told to try
again and the log names the call, in one line.

Admin commands pass one gate (``actions.is_admin``). No button or Home tab element leads
to an admin action, so the slash command is the only way in.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_bolt import Ack, App, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import actions
from bot.actions import (
    SLACK_DOWN,
    ChannelDeliverer,
    Invocation,
    PollFunction,
    Reply,
)
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
    RemoveSource,
    ResetProfile,
    ShowProfile,
    Subscribe,
    Unsubscribe,
    error_text,
    is_admin_command,
    parse_command,
)
from bot.config import BotSettings
from bot.deliver import Deliverer
from bot.slack_client import KeepAliveWebClient
from bot.slack_errors import NETWORK_ERRORS, TRANSIENT_ERRORS
from bot.views import help_message
from digests.digest import StoreSummaryCache
from digests.errors import PaperbotError, QueryError
from digests.ingest import SourceReport, fetch_settings_for, poll_sources
from digests.model import SourceInfo
from digests.query import Query, parse_query
from digests.store import Store
from digests.summarize import ExtractiveSummarizer, Summarizer, create_summarizer
from digests.topics import TopicRules, load_rules

log = logging.getLogger("paperbot.slack")

COMMAND = "/paper"
ADMIN_CACHE_TTL = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


class SlackUnavailable(Exception):
    """A Web API call that a command needs got no answer to act on."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(f"{method} failed: {reason}")
        self.method = method


def unavailable(method: str, e: Exception) -> SlackUnavailable | None:
    """``e`` as a ``SlackUnavailable`` when it means Slack's Web API is not answering
    (network error, 5xx, 429, Slack's "try again"); None for a real answer, e.g. an error
    about the request itself."""
    if isinstance(e, SlackApiError):
        status = int(getattr(e.response, "status_code", 0) or 0)
        code = str(e.response.get("error") or "")
        if status >= 500 or status == 429 or code in TRANSIENT_ERRORS or code == "ratelimited":
            return SlackUnavailable(method, code or f"HTTP {status}")
        return None
    if isinstance(e, NETWORK_ERRORS):
        reason = e.reason if isinstance(e, URLError) else e
        return SlackUnavailable(method, str(reason) or type(reason).__name__)
    return None


class SlackDirectory:
    """``actions.UserDirectory`` over ``users.info``."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def user(self, team_id: str, user_id: str) -> Mapping[str, Any] | None:
        try:
            found = self._client.users_info(user=user_id)
        except (SlackApiError, *NETWORK_ERRORS) as e:
            down = unavailable("users.info", e)
            if down is not None:
                # Neither yes nor no: refusing a real admin would be a wrong answer.
                raise down from e
            assert isinstance(e, SlackApiError)  # every network error is ``down``
            log.warning(
                "users.info failed team=%s user=%s: %s", team_id, user_id, e.response.get("error")
            )
            return None
        user = found.get("user")
        return user if isinstance(user, Mapping) else {}


def single_workspace_authorize(token: str) -> Callable[..., AuthorizeResult]:
    """Bolt's ``authorize`` for the one workspace of the bot token, with no Web API call.

    Without it Bolt calls ``auth.test`` on every request until one succeeds, so while
    Slack's Web API was down every request, ``/paper help`` included, failed with a 500
    before a listener ran. A request needs only the token. The bot's own user and bot
    ids are left out: Bolt uses them to drop the bot's own message events, and paperbot
    listens to none.
    """

    def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token
        )

    return authorize


def make_client(settings: BotSettings) -> WebClient:
    """The one WebClient: every Web API call goes to SLACK_API_URL."""
    # No automatic retries: a blind re-send after a dropped connection could post a digest
    # twice. The deliverer retries itself, after checking what Slack already has.
    # Connections are kept open between calls (a fan-out posts to every channel at once).
    return KeepAliveWebClient(
        token=settings.slack.bot_token, base_url=settings.slack.api_url, retry_handlers=[]
    )


def default_summarizer(
    settings: BotSettings, store: Store, clock: Callable[[], datetime]
) -> Summarizer:
    """Extractive offline; the configured model when PAPERBOT_LLM_* is set (cached)."""
    if settings.core.llm is None:
        return ExtractiveSummarizer()
    return create_summarizer(settings.core.llm, cache=StoreSummaryCache(store, clock))


def default_deliverer(
    settings: BotSettings,
    *,
    store: Store,
    client: WebClient,
    clock: Callable[[], datetime],
    summarizer: Summarizer | None,
    holder: str,
) -> ChannelDeliverer:
    return Deliverer(
        store=store,
        client=client,
        core=settings.core,
        admins=settings.slack.admins,
        holder=holder,
        clock=clock,
        summarizer=summarizer,
    )


def create_app(
    settings: BotSettings,
    *,
    store: Store,
    client: WebClient | None = None,
    deliverer: ChannelDeliverer | None = None,
    clock: Callable[[], datetime] = utcnow,
    executor: Executor | None = None,
    poll: PollFunction | None = None,
    rules: TopicRules | None = None,
    summarizer: Summarizer | None = None,
    socket_mode: bool = False,
    admin_cache_ttl: timedelta = ADMIN_CACHE_TTL,
    holder: str | None = None,
) -> App:
    """A Bolt app with the ``/paper`` listeners; nothing global, everything passed in.

    ``executor`` runs the listeners (Bolt's thread pool by default); ``poll`` polls the
    given sources for ``/paper poll``; ``deliverer`` posts ``digest now``.
    HTTP mode needs the signing secret; Socket Mode does not (the socket is authenticated).
    """
    if not socket_mode:
        settings.slack.require_http()
    if client is None:
        client = make_client(settings)
    elif client.base_url != settings.slack.api_url:
        raise ValueError(
            f"the WebClient calls {client.base_url}, but SLACK_API_URL is {settings.slack.api_url}"
        )
    web: WebClient = client
    core = settings.core
    writer = summarizer or default_summarizer(settings, store, clock)
    topic_rules = rules

    def _poll(chosen: Sequence[SourceInfo]) -> Sequence[SourceReport]:
        nonlocal topic_rules
        if topic_rules is None:
            topic_rules = load_rules(core.topics_file)
        return poll_sources(
            store,
            chosen,
            fetch_settings=fetch_settings_for(core),
            rules=topic_rules,
            clock=clock,
        )

    poll_fn: PollFunction = poll or _poll
    # Delivery claims are per holder: two processes must never share a name.
    holder_name = holder or f"slack:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    delivery: ChannelDeliverer | None = deliverer
    delivery_lock = threading.Lock()
    poll_lock = threading.Lock()

    def get_deliverer() -> ChannelDeliverer:
        nonlocal delivery
        with delivery_lock:
            if delivery is None:
                delivery = default_deliverer(
                    settings,
                    store=store,
                    client=web,
                    clock=clock,
                    summarizer=writer,
                    holder=holder_name,
                )
            return delivery

    app = App(
        # Bolt calls auth.test neither at construction nor per request: Slack may be
        # unreachable when the bot starts or while it runs, and the bot must still come
        # up and answer what needs no Web API call; ``serve`` checks the token itself.
        # Bolt's client carries no token, since ``authorize`` hands each request its
        # token (Bolt warns about a client token beside ``authorize`` at every start).
        authorize=single_workspace_authorize(settings.slack.bot_token),
        token_verification_enabled=False,
        # Socket Mode skips verification; a random secret there means an HTTP request to
        # this app can never pass it, instead of passing with an empty key.
        signing_secret=settings.slack.signing_secret or _unguessable(),
        client=WebClient(base_url=web.base_url, timeout=web.timeout, retry_handlers=[]),
        process_before_response=False,
        request_verification_enabled=True,
        listener_executor=executor,
        name="paperbot",
    )

    directory = SlackDirectory(web)

    def is_admin(team_id: str, user_id: str) -> bool:
        return actions.is_admin(
            store,
            directory,
            team_id,
            user_id,
            admins=settings.slack.admins,
            now=clock(),
            max_age=admin_cache_ttl,
        )

    def answer(parsed: Command, who: Invocation) -> Iterable[Reply]:
        """The replies to a parsed command, from the one plain function that does it."""
        if is_admin_command(parsed) and not is_admin(who.team_id, who.user_id):
            log.info(
                "refused admin command %r team=%s user=%s",
                actions.command_word(parsed),
                who.team_id,
                who.user_id,
            )
            return [actions.refusal(parsed)]
        if isinstance(parsed, Lookup):
            return [actions.lookup(store, parsed.query)]
        if isinstance(parsed, Subscribe):
            return [actions.subscribe(store, parsed, who, now=clock())]
        if isinstance(parsed, Unsubscribe):
            return [actions.unsubscribe(store, parsed, who)]
        if isinstance(parsed, ListSubscriptions):
            return [actions.list_subscriptions(store, who, now=clock())]
        if isinstance(parsed, DigestPreview):
            return actions.preview(store, who, now=clock(), core=core, summarizer=writer)
        if isinstance(parsed, DigestNow):
            return [
                actions.digest_now(store, get_deliverer(), who, now=clock(), default_tz=core.tz)
            ]
        if isinstance(parsed, ListSources):
            return [actions.list_sources(store, now=clock())]
        if isinstance(parsed, AddSource):
            return [actions.add_source(store, parsed, now=clock())]
        if isinstance(parsed, RemoveSource):
            return [actions.remove_source(store, parsed, now=clock())]
        if isinstance(parsed, Poll):
            return actions.poll(store, poll_fn, lock=poll_lock)
        if isinstance(parsed, ShowProfile):
            return [actions.show_profile(store, who, now=clock())]
        if isinstance(parsed, ResetProfile):
            return [actions.reset_profile(store, who, now=clock())]
        return []

    def guarded(
        what: str, who: Invocation, respond: Respond, work: Callable[[], Iterable[Reply]]
    ) -> None:
        """Send the replies of the slow part; tell the user when it fails, and log it."""
        try:
            for reply in work():
                respond(**reply.kwargs())
        except (QueryError, CommandError) as e:
            respond(text=error_text(e), response_type="ephemeral", replace_original=False)
        except SlackUnavailable as e:
            log.warning(
                "%s: Slack's API is not answering (%s) team=%s user=%s",
                what,
                e,
                who.team_id,
                who.user_id,
            )
            respond(text=SLACK_DOWN, response_type="ephemeral", replace_original=False)
        except PaperbotError as e:
            log.warning("%s failed team=%s user=%s: %s", what, who.team_id, who.user_id, e)
            respond(text=f"That did not work: {e}", response_type="ephemeral")
        except Exception:
            log.exception(
                "%s failed team=%s channel=%s user=%s",
                what,
                who.team_id,
                who.channel_id,
                who.user_id,
            )
            respond(
                text="Sorry, something went wrong; the error is in paperbot's log.",
                response_type="ephemeral",
                replace_original=False,
            )

    # -- /paper --------------------------------------------------------------------------

    @app.command(COMMAND)
    def on_paper(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        text = str(command.get("text") or "")
        try:
            parsed = parse_command(text, now=clock(), default_tz=core.tz)
        except (QueryError, CommandError) as e:
            ack(text=error_text(e), response_type="ephemeral")
            return
        if isinstance(parsed, Help):
            ack(**help_message())
            return
        ack()
        who = Invocation(
            team_id=str(command.get("team_id") or ""),
            channel_id=str(command.get("channel_id") or ""),
            user_id=str(command.get("user_id") or ""),
        )
        guarded(f"/paper {text[:200]!r}", who, respond, lambda: answer(parsed, who))

    # -- lookup buttons ------------------------------------------------------------------

    def button_query(body: dict[str, Any]) -> Query:
        buttons = body.get("actions") or [{}]
        return parse_query(str(buttons[0].get("value") or ""), now=clock(), tz=core.tz)

    def action_invocation(body: dict[str, Any]) -> Invocation:
        return Invocation(
            team_id=str((body.get("team") or {}).get("id") or ""),
            channel_id=str((body.get("channel") or {}).get("id") or ""),
            user_id=str((body.get("user") or {}).get("id") or ""),
        )

    @app.action("paper_more")
    def on_more(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)
        # The next page replaces the one whose button was pressed.
        guarded(
            "paper_more",
            who,
            respond,
            lambda: [actions.lookup(store, button_query(body), replace_original=True)],
        )

    @app.action("paper_share")
    def on_share(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)
        # The sharer comes from the signed payload, never from the button's value.
        guarded(
            "paper_share",
            who,
            respond,
            lambda: [actions.share(store, button_query(body), user_id=who.user_id)],
        )

    # -- App Home ------------------------------------------------------------------------

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user") or "")
        team_id = str(body.get("team_id") or "")
        try:
            admin = is_admin(team_id, user_id)
            view = actions.home(store, team_id, admin=admin, now=clock())
            web.views_publish(user_id=user_id, view=view)
        except (SlackUnavailable, SlackApiError, PaperbotError, *NETWORK_ERRORS) as e:
            down = e if isinstance(e, SlackUnavailable) else unavailable("views.publish", e)
            if down is None:
                log.exception("publishing the Home tab failed team=%s user=%s", team_id, user_id)
                return
            log.warning(
                "Home tab not published team=%s user=%s: Slack's API is not answering (%s)",
                team_id,
                user_id,
                down,
            )

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "unhandled error in a listener (type=%s team=%s): %r",
            body.get("type") or body.get("command"),
            body.get("team_id") or (body.get("team") or {}).get("id"),
            error,
        )

    return app


def _unguessable() -> str:
    import secrets  # noqa: PLC0415

    return secrets.token_hex(32)
