"""The Bolt app: ``/paper``, its buttons and the App Home, built by ``create_app``.

Every listener acks first (parsing, which is pure and quick, may answer in the ack), then
does the slow part — admin check, store queries, digests, Slack calls — and answers
through ``respond`` (the ``response_url`` exactly as Slack sent it). Bolt runs listeners
in its thread pool (``process_before_response=False``), so the 200 reaches Slack as soon
as ``ack()`` is called while the work goes on.

Admin commands pass through one gate, ``require_admin``: PAPERBOT_ADMINS, or Slack's
``is_admin``/``is_owner`` from ``users.info`` (cached in the store for an hour). No button
or Home tab element leads to an admin action, so the slash command is the only way in.

Slack's Web API may be down while its requests still arrive. Only work that needs it
(the admin check by ``users.info``, a post) waits on it: a lookup or the help never makes
a Web API call, and Bolt's authorization (``single_workspace_authorize``) makes none
either. When a needed call gets no answer, the user is told to try again and the log
names the call, in one line.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.error import URLError

from slack_bolt import Ack, App, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commands import (
    ADMIN_USAGE,
    USAGE,
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
    Subscribe,
    Unsubscribe,
    describe_schedule,
    error_text,
    is_admin_command,
    next_delivery,
    parse_command,
)
from bot.config import BotSettings
from bot.deliver import Deliverer
from bot.slack_client import KeepAliveWebClient
from digests.calendar import digest_week, first_week
from digests.digest import DigestRequest, StoreSummaryCache, build_digest
from digests.errors import PaperbotError, QueryError
from digests.ingest import SourceReport, fetch_settings_for, poll_sources
from digests.model import SourceInfo, SourceSpec, Subscription, SubscriptionSpec
from digests.query import Query, parse_query
from digests.render import (
    render_digest_messages,
    render_lookup_message,
    render_share_message,
)
from digests.sourcefile import format_interval
from digests.sourcestatus import SourceState, source_status
from digests.store import Store
from digests.summarize import ExtractiveSummarizer, Summarizer, create_summarizer
from digests.topics import TopicRules, load_rules
from digests.weeks import IsoWeek

log = logging.getLogger("paperbot.slack")

COMMAND = "/paper"
ADMIN_CACHE_TTL = timedelta(hours=1)
MAX_PREVIEWS = 4  # a response_url takes 5 messages; one stays free for an error
_SECTION_CHARS = 2900  # below Block Kit's 3000 per section
_HOME_MAX_SUBSCRIPTIONS = 40  # the Home tab takes 100 blocks; two per subscription

SLACK_DOWN = "Slack's API is not answering; try again in a minute."
# Slack's own words for "not now", whatever the HTTP status.
_NOT_NOW = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
_NETWORK_ERRORS = (URLError, OSError, http.client.HTTPException)

REFUSAL = (
    "Sorry, only paperbot admins can use `/paper {what}`. Ask a workspace admin, "
    "or the person who runs paperbot, to add you to PAPERBOT_ADMINS."
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryOutcome(Protocol):
    """What ``bot.deliver.DeliveryResult`` offers the report of ``digest now``."""

    @property
    def key(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str | None: ...

    @property
    def slack_down(self) -> bool: ...


class ChannelDeliverer(Protocol):
    """The part of ``bot.deliver.Deliverer`` that ``digest now`` needs."""

    def deliver_channel_now(
        self, team_id: str, channel_id: str, week: IsoWeek
    ) -> Sequence[DeliveryOutcome]: ...


PollFunction = Callable[[Sequence[SourceInfo]], Sequence[SourceReport]]


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
        if status >= 500 or status == 429 or code in _NOT_NOW:
            return SlackUnavailable(method, code or f"HTTP {status}")
        return None
    if isinstance(e, _NETWORK_ERRORS):
        reason = e.reason if isinstance(e, URLError) else e
        return SlackUnavailable(method, str(reason) or type(reason).__name__)
    return None


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


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who asked, where: taken from Slack's signed payload only."""

    team_id: str
    channel_id: str
    user_id: str


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

    # -- the admin gate ------------------------------------------------------------------

    def is_admin(team_id: str, user_id: str) -> bool:
        if user_id in settings.slack.admins:
            return True
        now = clock()
        cached = store.cached_admin(team_id, user_id, now=now, max_age=admin_cache_ttl)
        if cached is not None:
            return cached
        try:
            found = web.users_info(user=user_id)
        except (SlackApiError, *_NETWORK_ERRORS) as e:
            down = unavailable("users.info", e)
            if down is not None:
                # Neither yes nor no: refusing a real admin would be a wrong answer.
                raise down from e
            assert isinstance(e, SlackApiError)  # every network error is ``down``
            # Not cached: a passing Slack error must not lock an admin out for an hour.
            log.warning(
                "users.info failed team=%s user=%s: %s",
                team_id,
                user_id,
                e.response.get("error"),
            )
            return False
        user = found.get("user") or {}
        admin = bool(
            not user.get("deleted")
            and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        )
        store.cache_admin(team_id, user_id, is_admin=admin, now=now)
        return admin

    def require_admin(who: Invocation, what: str, respond: Respond) -> bool:
        if is_admin(who.team_id, who.user_id):
            return True
        log.info("refused admin command %r team=%s user=%s", what, who.team_id, who.user_id)
        respond(text=REFUSAL.format(what=what), response_type="ephemeral")
        return False

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
        guarded(f"/paper {text[:200]!r}", who, respond, lambda: run(parsed, who, respond))

    def guarded(what: str, who: Invocation, respond: Respond, work: Callable[[], None]) -> None:
        """Run the slow part; tell the user when it fails, and log it with its context."""
        try:
            work()
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

    def run(parsed: Command, who: Invocation, respond: Respond) -> None:
        if is_admin_command(parsed):
            word = _command_word(parsed)
            if not require_admin(who, word, respond):
                return
        if isinstance(parsed, Lookup):
            respond_lookup(parsed.query, respond)
        elif isinstance(parsed, Subscribe):
            subscribe(parsed, who, respond)
        elif isinstance(parsed, Unsubscribe):
            unsubscribe(parsed, who, respond)
        elif isinstance(parsed, ListSubscriptions):
            list_subscriptions(who, respond)
        elif isinstance(parsed, DigestPreview):
            preview(who, respond)
        elif isinstance(parsed, DigestNow):
            digest_now(who, respond)
        elif isinstance(parsed, ListSources):
            list_sources(respond)
        elif isinstance(parsed, AddSource):
            add_source(parsed, respond)
        elif isinstance(parsed, RemoveSource):
            remove_source(parsed, respond)
        elif isinstance(parsed, Poll):
            run_poll(respond)

    # -- lookups -------------------------------------------------------------------------

    def respond_lookup(query: Query, respond: Respond, *, replace_original: bool = False) -> None:
        page = store.search(query)
        shown = replace(query, offset=0).to_text()
        message = render_lookup_message(
            page.hits,
            query_text=shown,
            total=None,
            offset=query.offset,
            page_size=query.limit,
            more_value=query.next_page().to_text() if page.has_more else None,
            share_value=query.to_text() if page.hits else None,
        )
        respond(**message, replace_original=replace_original)

    def button_query(body: dict[str, Any]) -> Query:
        actions = body.get("actions") or [{}]
        return parse_query(str(actions[0].get("value") or ""), now=clock(), tz=core.tz)

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
            lambda: respond_lookup(button_query(body), respond, replace_original=True),
        )

    @app.action("paper_share")
    def on_share(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)

        def share() -> None:
            query = button_query(body)
            page = store.search(query)
            message = render_share_message(
                page.hits,
                query_text=replace(query, offset=0).to_text(),
                user_id=who.user_id,  # from the signed payload, never from the value
            )
            respond(**message, replace_original=False)

        guarded("paper_share", who, respond, share)

    # -- subscriptions -------------------------------------------------------------------

    def subscribe(cmd: Subscribe, who: Invocation, respond: Respond) -> None:
        if who.channel_id.startswith("D"):
            respond(
                text="Digests go to channels: run `/paper subscribe` in the channel "
                "that should get them.",
                response_type="ephemeral",
            )
            return
        now = clock()
        for sub in store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id):
            if (sub.query, sub.weekday, sub.time, sub.tz) == (
                cmd.query_text,
                cmd.weekday,
                cmd.time,
                cmd.tz,
            ):
                respond(
                    text=f"This channel already has that subscription (#{sub.id}).",
                    response_type="ephemeral",
                )
                return
        sub = store.add_subscription(
            SubscriptionSpec(
                team_id=who.team_id,
                channel_id=who.channel_id,
                query=cmd.query_text,
                weekday=cmd.weekday,
                time=cmd.time,
                tz=cmd.tz,
                top=cmd.top,
                lang=cmd.lang,
                created_by=who.user_id,
            ),
            start_week=first_week(cmd.weekday, cmd.time, cmd.tz, now).label,
            now=now,
        )
        log.info(
            "subscription %d added team=%s channel=%s by=%s query=%r",
            sub.id,
            who.team_id,
            who.channel_id,
            who.user_id,
            sub.query,
        )
        respond(
            text=f"<@{who.user_id}> subscribed this channel to the weekly top papers: "
            f"{_describe(sub, now)}\nPrivate channel? Invite @paperbot so it can post. "
            f"`/paper unsubscribe {sub.id}` stops it.",
            response_type="in_channel",
        )

    def unsubscribe(cmd: Unsubscribe, who: Invocation, respond: Respond) -> None:
        n = store.deactivate_subscriptions(
            team_id=who.team_id, channel_id=who.channel_id, subscription_id=cmd.subscription_id
        )
        if n == 0:
            which = (
                "no subscriptions"
                if cmd.subscription_id is None
                else (f"no subscription #{cmd.subscription_id}")
            )
            respond(
                text=f"This channel has {which}; `/paper subscriptions` lists them.",
                response_type="ephemeral",
            )
            return
        log.info(
            "unsubscribed %d team=%s channel=%s by=%s", n, who.team_id, who.channel_id, who.user_id
        )
        what = (
            f"subscription #{cmd.subscription_id}"
            if cmd.subscription_id is not None
            else f"all {n} subscription{'s' if n != 1 else ''}"
        )
        respond(
            text=f"<@{who.user_id}> removed {what} of this channel.", response_type="in_channel"
        )

    def list_subscriptions(who: Invocation, respond: Respond) -> None:
        subs = store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id)
        if not subs:
            respond(
                text="This channel has no subscriptions. Try "
                "`/paper subscribe tag:Alignment day:mon time:09:00`.",
                response_type="ephemeral",
            )
            return
        now = clock()
        lines = [f"*#{s.id}* {_describe(s, now)}" for s in subs]
        respond(
            text=f"{_count(len(subs), 'subscription')} in this channel",
            blocks=_sections(lines),
            response_type="ephemeral",
        )

    # -- admin: digests ------------------------------------------------------------------

    def preview(who: Invocation, respond: Respond) -> None:
        now = clock()
        subs = store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id)
        requests: list[tuple[str, DigestRequest]] = []
        for sub in subs[:MAX_PREVIEWS]:
            query = parse_query(sub.query, now=now, tz=sub.tz) if sub.query else None
            requests.append(
                (
                    f"Preview of subscription #{sub.id} (only you see this)",
                    DigestRequest(
                        week=covered_week(now, sub.tz),
                        tz=sub.tz,
                        query=query,
                        top=sub.top,
                        lang=sub.lang,
                        summary_chars=core.summary_chars,
                        team_id=who.team_id,
                        channel_id=who.channel_id,
                        subscription_id=sub.id,
                    ),
                )
            )
        if not requests:
            requests.append(
                (
                    "Preview of this week's digest of every paper: this channel has no "
                    "subscriptions (only you see this)",
                    DigestRequest(
                        week=covered_week(now, core.tz),
                        tz=core.tz,
                        summary_chars=core.summary_chars,
                    ),
                )
            )
        for label, request in requests:
            digest = build_digest(
                store, request, now=now, summarizer=writer, weights=core.rank_weights
            )
            messages = render_digest_messages(digest)
            first = messages[0]
            note = label
            if len(messages) > 1:
                more = len(messages) - 1
                went = "message goes" if more == 1 else "messages go"
                note += f"; {more} more {went} in the thread when posted"
            blocks = first["blocks"]
            if len(blocks) < 50:
                blocks = [_context(note), *blocks]
            respond(
                text=first["text"],
                blocks=blocks,
                response_type="ephemeral",
                unfurl_links=False,
                unfurl_media=False,
            )
        if len(subs) > MAX_PREVIEWS:
            respond(
                text=f"{_count(len(subs) - MAX_PREVIEWS, 'more subscription')} not previewed.",
                response_type="ephemeral",
            )

    def digest_now(who: Invocation, respond: Respond) -> None:
        subs = store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id)
        # The deliverer posts every subscription of the channel (an unfiltered digest when
        # there is none); the week is cut in the channel's zone.
        tz = subs[0].tz if subs else core.tz
        week = covered_week(clock(), tz)
        log.info(
            "digest now team=%s channel=%s week=%s by=%s",
            who.team_id,
            who.channel_id,
            week.label,
            who.user_id,
        )
        results = get_deliverer().deliver_channel_now(who.team_id, who.channel_id, week)
        lines = [_delivery_line(r) for r in results] or ["nothing to deliver"]
        text = f"Digest for {week.label}:\n" + "\n".join(lines)
        down = [r for r in results if r.slack_down]
        if down:
            log.warning(
                "digest now team=%s channel=%s: Slack's API is not answering (%s)",
                who.team_id,
                who.channel_id,
                down[0].error,
            )
            text = f"{SLACK_DOWN}\n{text}"
        respond(text=text, response_type="ephemeral")

    # -- admin: sources ------------------------------------------------------------------

    def list_sources(respond: Respond) -> None:
        found = store.list_sources()
        if not found:
            respond(text="No sources yet: `/paper sources add URL`.", response_type="ephemeral")
            return
        now = clock()
        lines = [_source_line(s, now) for s in found]
        respond(text=f"{len(found)} sources", blocks=_sections(lines), response_type="ephemeral")

    def add_source(cmd: AddSource, respond: Respond) -> None:
        info = store.add_source(
            SourceSpec(
                name=cmd.name,
                location=cmd.location,
                kind=cmd.kind,
                interval_seconds=cmd.interval_seconds,
                origin="slack",
            ),
            now=clock(),
        )
        log.info("source added from Slack: %r %s", info.name, info.location)
        respond(
            text=f"Added source *{_esc(info.name)}* "
            f"({info.kind.value if info.kind else 'kind detected on fetch'}, every "
            f"{format_interval(info.interval_seconds)}): {_esc(info.location)}. "
            "`/paper poll` fetches it now.",
            response_type="ephemeral",
        )

    def remove_source(cmd: RemoveSource, respond: Respond) -> None:
        info = store.get_source(cmd.name)
        if info is None:
            names = ", ".join(s.name for s in store.list_sources(with_counts=False))
            respond(
                text=f"No source named {_esc(cmd.name)}. Sources: {_esc(names) or 'none'}",
                response_type="ephemeral",
            )
            return
        if info.origin == "file" and not info.retired:
            respond(
                text=f"{_esc(info.name)} comes from the operator's sources file: remove it "
                "there; paperbot retires it on the next start (its papers stay).",
                response_type="ephemeral",
            )
            return
        # Retired, never deleted from here: deleting a source's history is the operator's
        # `paperbot sources remove NAME --purge`.
        retired = store.retire_source(info.id, now=clock())
        log.info("source retired from Slack: %r", info.name)
        respond(
            text=f"Retired source {_esc(info.name)}: no longer polled; its "
            f"{info.paper_count} papers stay."
            if retired
            else f"{_esc(info.name)} was already retired.",
            response_type="ephemeral",
        )

    def run_poll(respond: Respond) -> None:
        if not poll_lock.acquire(blocking=False):
            respond(
                text="A poll is already running; its report comes here.", response_type="ephemeral"
            )
            return
        try:
            chosen = store.list_sources(with_counts=False)
            chosen = [s for s in chosen if s.enabled and not s.retired]
            respond(
                text=f"Polling {len(chosen)} sources; the report follows here.",
                response_type="ephemeral",
            )
            reports = poll_fn(chosen)
        finally:
            poll_lock.release()
        respond(text=_poll_report(reports), response_type="ephemeral")

    # -- App Home ------------------------------------------------------------------------

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user") or "")
        team_id = str(body.get("team_id") or "")
        try:
            admin = is_admin(team_id, user_id)
            subs = store.list_subscriptions(team_id=team_id)
            web.views_publish(user_id=user_id, view=home_view(subs, admin=admin, now=clock()))
        except (SlackUnavailable, SlackApiError, PaperbotError, *_NETWORK_ERRORS) as e:
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


# --- messages ---------------------------------------------------------------------------


def covered_week(now: datetime, tz: str) -> IsoWeek:
    """The week a digest run at ``now`` covers, by the scheduler's own rule; "digest now"
    follows it so that it never takes a scheduled run's week away before it is over."""
    return digest_week(now, tz)


def _unguessable() -> str:
    import secrets  # noqa: PLC0415

    return secrets.token_hex(32)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _esc(text)[:2000]}]}


def _sections(lines: Sequence[str], *, max_blocks: int = 50) -> list[dict[str, Any]]:
    """Lines packed into sections below Block Kit's 3000 characters each."""
    blocks: list[dict[str, Any]] = []
    buf = ""
    for full in lines:
        line = full[:_SECTION_CHARS]
        if buf and len(buf) + 1 + len(line) > _SECTION_CHARS:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": buf}})
            buf = ""
        buf = f"{buf}\n{line}" if buf else line
    if buf:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": buf}})
    return blocks[:max_blocks]


def help_message() -> dict[str, Any]:
    from digests.query import VALID_TERMS  # noqa: PLC0415

    text = (
        "*paperbot* finds papers and posts the week's top papers to channels.\n"
        + USAGE
        + "\n\n*Admins only*\n"
        + ADMIN_USAGE
    )
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Query terms*\n```" + VALID_TERMS + "```",
                },
            },
            _context('To look up a word that is also a command, quote it: /paper "poll"'),
        ],
        "response_type": "ephemeral",
    }


def _count(n: int, noun: str) -> str:
    """``1 subscription``, ``2 subscriptions``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _code(text: str) -> str:
    return "`" + _esc(text).replace("`", "'") + "`" if text else "every paper"


def _describe(sub: Subscription, now: datetime) -> str:
    when = next_delivery(sub.weekday, sub.time, sub.tz, now=now)
    parts = [
        _code(sub.query),
        describe_schedule(sub.weekday, sub.time, sub.tz),
        f"top {sub.top}",
    ]
    if sub.lang:
        parts.append(f"lang {sub.lang}")
    text = " · ".join(parts)
    text += f"\n    next digest: {when:%a %Y-%m-%d %H:%M} {when.tzname() or sub.tz}"
    if sub.last_error:
        text += f"\n    last error: {_esc(sub.last_error[:200])}"
    return text


_STATE_ICONS = {
    SourceState.OK: ":large_green_circle:",
    SourceState.FAILING: ":red_circle:",
    SourceState.NEVER_POLLED: ":white_circle:",
    SourceState.RETIRED: ":zzz:",
}


def _source_line(s: SourceInfo, now: datetime) -> str:
    status = source_status(s)
    return (
        f"{_STATE_ICONS.get(status.state, ':warning:')} *{_esc(s.name)}* "
        f"({s.kind.value if s.kind else 'auto'}, every {format_interval(s.interval_seconds)}, "
        f"{s.origin}) · {s.paper_count} papers · "
        f"{_esc(status.describe(now, error_chars=150))}"
    )


def _poll_report(reports: Sequence[SourceReport]) -> str:
    if not reports:
        return "Poll done: no sources to poll."
    ok = sum(1 for r in reports if r.ok)
    new = sum(r.new for r in reports)
    updated = sum(r.updated for r in reports)
    lines = [
        f"Poll done: {ok} of {_count(len(reports), 'source')} ok, "
        f"{_count(new, 'new paper')}, {updated} updated."
    ]
    for r in reports:
        line = f"• {_esc(r.name)}: {r.status.replace('_', ' ')}"
        if r.entries or r.new:
            line += f", {r.entries} entries, {r.new} new"
        if r.error:
            line += f" — {_esc(r.error[:150])}"
        lines.append(line)
    return "\n".join(lines)[:3900]


def _delivery_line(r: DeliveryOutcome) -> str:
    # Keys are team:channel:subscription:week, "-" for a channel without a subscription.
    parts = r.key.split(":")
    sub = parts[2] if len(parts) == 4 else r.key
    what = "the unfiltered digest" if sub == "-" else f"subscription #{sub}"
    if r.slack_down:
        return f"• {what}: not posted"
    line = f"• {what}: {r.status.replace('_', ' ')}"
    if r.error:
        line += f" — {_esc(r.error[:200])}"
    return line


def _command_word(cmd: Command) -> str:
    return {
        DigestNow: "digest now",
        DigestPreview: "digest preview",
        ListSources: "sources",
        AddSource: "sources add",
        RemoveSource: "sources remove",
        Poll: "poll",
    }.get(type(cmd), "that")


def home_view(subs: Sequence[Subscription], *, admin: bool, now: datetime) -> dict[str, Any]:
    """The Home tab: what /paper does and the workspace's subscriptions (≤ 100 blocks)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "paperbot"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Papers from arXiv, Hugging Face and curated weekly lists, one record "
                "per paper; each subscribed channel gets the week's top papers.\n" + USAGE,
            },
        },
    ]
    if admin:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*You are a paperbot admin*\n" + ADMIN_USAGE},
            }
        )
    blocks.append({"type": "divider"})
    if not subs:
        blocks.append(_context("No channel in this workspace is subscribed yet."))
    else:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Subscriptions in this workspace ({len(subs)})*",
                },
            }
        )
        for sub in subs[:_HOME_MAX_SUBSCRIPTIONS]:
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*#{sub.id}* <#{sub.channel_id}> {_describe(sub, now)}",
                    },
                }
            )
        if len(subs) > _HOME_MAX_SUBSCRIPTIONS:
            blocks.append(_context(f"and {len(subs) - _HOME_MAX_SUBSCRIPTIONS} more"))
    return {"type": "home", "blocks": blocks}
