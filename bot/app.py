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
import re
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

from bot import actions, feedback
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
    ListSaved,
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
    error_text,
    is_admin_command,
    parse_command,
)
from bot.config import BotSettings
from bot.deliver import Deliverer
from bot.slack_client import KeepAliveWebClient
from bot.slack_errors import NETWORK_ERRORS, TRANSIENT_ERRORS
from bot.slack_files import SlackFile, SlackFileError, download, file_info
from bot.views import (
    IMPORT_CALLBACK,
    IMPORT_FILE_ACTION,
    IMPORT_FILE_BLOCK,
    IMPORT_TEXT_ACTION,
    IMPORT_TEXT_BLOCK,
    help_message,
    import_modal,
    import_result_text,
    import_result_view,
    import_working_view,
)
from digests.digest import StoreSummaryCache
from digests.enrich import Enricher
from digests.errors import PaperbotError, QueryError
from digests.ingest import SourceReport, fetch_settings_for, poll_sources
from digests.library import Library
from digests.library_import import MAX_LIBRARY_BYTES, ImportReport
from digests.model import SourceInfo
from digests.query import Query, parse_query
from digests.render.controls import FEEDBACK_ACTION, SIMILAR_ACTION
from digests.render.saved import SAVED_BIBTEX_ACTION, SAVED_PAGE_ACTION
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

    arxiv: Enricher | None = None
    arxiv_lock = threading.Lock()

    def get_arxiv() -> Enricher:
        """One per app, so an arXiv outage is said once (library imports ask it)."""
        nonlocal arxiv, topic_rules
        with arxiv_lock:
            if arxiv is None:
                if topic_rules is None:
                    topic_rules = load_rules(core.topics_file)
                arxiv = Enricher.for_settings(store, core, rules=topic_rules, clock=clock)
            return arxiv

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
        if isinstance(parsed, ListSaved):
            return [feedback.saved_page(store, who, parsed.page, replace_original=False)]
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
        if isinstance(parsed, ProfileImport):
            trigger = str(command.get("trigger_id") or "")
            guarded("/paper profile import", who, respond, lambda: open_import(who, trigger))
            return
        guarded(f"/paper {text[:200]!r}", who, respond, lambda: answer(parsed, who))

    # -- /paper profile import: a form, then its submission --------------------------------

    def open_import(who: Invocation, trigger_id: str) -> list[Reply]:
        if not is_admin(who.team_id, who.user_id):
            return [actions.refusal(ProfileImport())]
        try:
            web.views_open(trigger_id=trigger_id, view=import_modal(who.channel_id))
        except (SlackApiError, *NETWORK_ERRORS) as e:
            down = unavailable("views.open", e)
            if down is not None:
                raise down from e
            assert isinstance(e, SlackApiError)
            error = e.response.get("error")
            log.warning("views.open failed team=%s user=%s: %s", who.team_id, who.user_id, error)
            return [Reply(f"Slack would not open the import form ({error}); try again.")]
        return []

    @app.view(IMPORT_CALLBACK)
    def on_import(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Checks that need no reading answer on the form's fields; the import itself
        runs after the ack, the form showing its progress and then the result."""
        user = body.get("user") or {}
        who = Invocation(
            team_id=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
            channel_id=str(view.get("private_metadata") or ""),
            user_id=str(user.get("id") or ""),
        )
        text, file_id = import_form_values(view)
        try:
            if not is_admin(who.team_id, who.user_id):
                refused = actions.refusal(ProfileImport()).text
                ack(response_action="errors", errors={IMPORT_TEXT_BLOCK: refused})
                return
            upload = file_info(web, file_id) if file_id else None
        except SlackFileError as e:
            ack(response_action="errors", errors={IMPORT_FILE_BLOCK: str(e)})
            return
        except SlackUnavailable as e:
            log.warning("library import: %s team=%s user=%s", e, who.team_id, who.user_id)
            ack(response_action="errors", errors={IMPORT_TEXT_BLOCK: SLACK_DOWN})
            return
        checked = actions.check_import(text, upload)
        if isinstance(checked, dict):
            ack(response_action="errors", errors=checked)
            return
        entries = checked.size if checked is not None else None
        ack(response_action="update", view=import_working_view(who.channel_id, entries))
        view_id = str(view.get("id") or "")
        run_import(who, view_id, checked, upload)

    def run_import(
        who: Invocation, view_id: str, library: Library | None, upload: SlackFile | None
    ) -> None:
        """Read the upload (if that is what came), import, and show the outcome."""
        outcome: ImportReport | str
        try:
            read: Library | str | None = library
            if read is None and upload is not None:
                data = download(upload, token=settings.slack.bot_token, limit=MAX_LIBRARY_BYTES)
                read = actions.read_upload(data)
            if isinstance(read, Library):
                outcome = actions.import_profile(store, get_arxiv(), read, who, now=clock())
            else:
                outcome = read or "Nothing to import."
        except SlackFileError as e:
            outcome = str(e)
        except Exception:
            log.exception(
                "library import failed team=%s channel=%s user=%s",
                who.team_id,
                who.channel_id,
                who.user_id,
            )
            outcome = "Sorry, the import failed; the error is in paperbot's log."
        show_import(who, view_id, outcome)

    def show_import(who: Invocation, view_id: str, outcome: ImportReport | str) -> None:
        """In the form; as a message only they see if the form was closed meanwhile."""
        try:
            web.views_update(view_id=view_id, view=import_result_view(who.channel_id, outcome))
            return
        except (SlackApiError, *NETWORK_ERRORS) as e:
            log.info("views.update failed (%s); the import result goes as a message", e)
        try:
            text = import_result_text(who.channel_id, outcome)
            web.chat_postEphemeral(channel=who.channel_id, user=who.user_id, text=text)
        except (SlackApiError, *NETWORK_ERRORS) as e:
            log.warning(
                "library import result not shown team=%s user=%s: %s", who.team_id, who.user_id, e
            )

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

    @app.action(SIMILAR_ACTION)
    def on_similar(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)
        # A new page under the one whose button was pressed: that one stays.
        guarded(
            SIMILAR_ACTION,
            who,
            respond,
            lambda: [actions.lookup(store, button_query(body))],
        )

    # -- feedback and saved papers -------------------------------------------------------

    def button_value(body: dict[str, Any]) -> tuple[str, str]:
        buttons = body.get("actions") or [{}]
        return str(buttons[0].get("action_id") or ""), str(buttons[0].get("value") or "")

    def redo_message(body: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
        """The clicked message with its controls redone; its metadata (the delivery key
        that exactly-once posting searches for) sent back unchanged."""
        container = body.get("container") or {}
        message = body.get("message") or {}
        update: dict[str, Any] = {
            "channel": str(container.get("channel_id") or ""),
            "ts": str(container.get("message_ts") or message.get("ts") or ""),
            "text": str(message.get("text") or "Paper digest"),
            "blocks": blocks,
        }
        if isinstance(message.get("metadata"), dict):
            update["metadata"] = message["metadata"]
        try:
            web.chat_update(**update)
        except (SlackApiError, *NETWORK_ERRORS) as e:
            # The click is recorded; only its display waits for the next click.
            code = e.response.get("error") if isinstance(e, SlackApiError) else e
            log.warning("chat.update of a digest failed channel=%s: %s", update["channel"], code)

    @app.action(re.compile(f"^{FEEDBACK_ACTION}"))
    def on_feedback(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)
        action_id, value = button_value(body)
        container = body.get("container") or {}
        # An ephemeral message cannot be updated by the bot; it has no shared counts.
        shared = not container.get("is_ephemeral") and isinstance(body.get("message"), dict)
        blocks = (body.get("message") or {}).get("blocks") if shared else None

        def work() -> list[actions.Reply]:
            outcome = feedback.click(
                store, action_id, value, who, message_blocks=blocks, now=clock()
            )
            if outcome.blocks is not None:
                redo_message(body, outcome.blocks)
            return [outcome.reply] if outcome.reply else []

        guarded(action_id[:60], who, respond, work)

    @app.action(SAVED_PAGE_ACTION)
    def on_saved_page(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)
        page = feedback.parse_page(button_value(body)[1])
        guarded(
            SAVED_PAGE_ACTION,
            who,
            respond,
            lambda: [feedback.saved_page(store, who, page, replace_original=True)],
        )

    @app.action(SAVED_BIBTEX_ACTION)
    def on_saved_bibtex(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        who = action_invocation(body)
        guarded(SAVED_BIBTEX_ACTION, who, respond, lambda: [feedback.saved_bibtex(store, who)])

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


def import_form_values(view: Mapping[str, Any]) -> tuple[str, str | None]:
    """The import form's pasted text and the id of its uploaded file, if any."""
    values = (view.get("state") or {}).get("values") or {}
    pasted = (values.get(IMPORT_TEXT_BLOCK) or {}).get(IMPORT_TEXT_ACTION) or {}
    upload = (values.get(IMPORT_FILE_BLOCK) or {}).get(IMPORT_FILE_ACTION) or {}
    files = upload.get("files") or []
    file_id = str(files[0].get("id") or "") if files else ""
    return str(pasted.get("value") or ""), file_id or None


def _unguessable() -> str:
    import secrets  # noqa: PLC0415

    return secrets.token_hex(32)
