"""What each ``/paper`` command does, as plain functions of the store, the time and values.

The Bolt listeners in ``bot.app`` parse, ack and call one of these, then send the
``Reply`` objects it returns; nothing here knows Bolt, so every decision (who is an
admin, a duplicate subscription, which week a digest covers) is tested without Slack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from bot.commands import (
    AddSource,
    Command,
    DigestNow,
    DigestPreview,
    ListSources,
    Poll,
    ProfileImport,
    RemoveSource,
    ResetProfile,
    Subscribe,
    Unsubscribe,
)
from bot.slack_files import SlackFile
from bot.views import IMPORT_FILE_BLOCK, IMPORT_TEXT_BLOCK, describe_subscription, home_view
from digests.calendar import digest_week, first_week
from digests.digest import DigestRequest, build_digest, load_profiles, profile_report
from digests.ingest import SourceReport
from digests.library import Library, decode_library, read_library
from digests.library_import import (
    MAX_LIBRARY_BYTES,
    ArxivPapers,
    ImportReport,
    import_library,
    nothing_readable,
    too_large,
)
from digests.model import SourceInfo, SourceSpec, Subscription, SubscriptionSpec
from digests.query import Query, parse_query
from digests.render import SlackMessage, render_digest_messages
from digests.render.lookup import render_lookup_message, render_share_message
from digests.render.slack import MAX_BLOCKS, escape_mrkdwn, line_sections, note_block
from digests.render.slack import plural as count
from digests.settings import Settings
from digests.sourcefile import format_interval
from digests.sourcestatus import SourceState, source_status
from digests.store import Store
from digests.summarize import Summarizer
from digests.weeks import IsoWeek

log = logging.getLogger("paperbot.slack")

MAX_PREVIEWS = 4  # a response_url takes 5 messages; one stays free for an error

SLACK_DOWN = "Slack's API is not answering; try again in a minute."
REFUSAL = (
    "Sorry, only paperbot admins can use `/paper {what}`. Ask a workspace admin, "
    "or the person who runs paperbot, to add you to PAPERBOT_ADMINS."
)


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who asked, where: taken from Slack's signed payload only."""

    team_id: str
    channel_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer to the user: the keyword arguments of Bolt's ``respond`` (None: left out)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral"
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    replace_original: bool | None = None

    @classmethod
    def of(cls, message: SlackMessage, *, replace_original: bool | None = None) -> Reply:
        return cls(
            text=message["text"],
            blocks=message["blocks"],
            response_type=message.get("response_type", "ephemeral"),
            unfurl_links=message["unfurl_links"],
            unfurl_media=message["unfurl_media"],
            replace_original=replace_original,
        )

    def kwargs(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "blocks": self.blocks,
            "response_type": self.response_type,
            "unfurl_links": self.unfurl_links,
            "unfurl_media": self.unfurl_media,
            "replace_original": self.replace_original,
        }


class UserDirectory(Protocol):
    """Slack's answer about a user (``users.info``): its ``user`` object, or None when
    Slack answered with an error about the request. Raises when Slack is not answering."""

    def user(self, team_id: str, user_id: str) -> Mapping[str, Any] | None: ...


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


# --- the admin gate -----------------------------------------------------------------------


def is_admin(
    store: Store,
    directory: UserDirectory,
    team_id: str,
    user_id: str,
    *,
    admins: frozenset[str],
    now: datetime,
    max_age: timedelta,
) -> bool:
    """PAPERBOT_ADMINS, or Slack's ``is_admin``/``is_owner``, cached in the store.

    A Slack error is a no for now, not cached: a passing error must not lock an admin out
    for ``max_age``. When Slack does not answer, the directory raises: neither yes nor no.
    """
    if user_id in admins:
        return True
    cached = store.cached_admin(team_id, user_id, now=now, max_age=max_age)
    if cached is not None:
        return cached
    user = directory.user(team_id, user_id)
    if user is None:
        return False
    admin = bool(
        not user.get("deleted")
        and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
    )
    store.cache_admin(team_id, user_id, is_admin=admin, now=now)
    return admin


def command_word(cmd: Command) -> str:
    """The words that name an admin command in the refusal."""
    return {
        DigestNow: "digest now",
        DigestPreview: "digest preview",
        ListSources: "sources",
        AddSource: "sources add",
        RemoveSource: "sources remove",
        Poll: "poll",
        ProfileImport: "profile import",
        ResetProfile: "profile reset",
    }.get(type(cmd), "that")


def refusal(cmd: Command) -> Reply:
    return Reply(REFUSAL.format(what=command_word(cmd)))


def home(store: Store, team_id: str, *, admin: bool, now: datetime) -> dict[str, Any]:
    """The Home tab of a user of ``team_id``: help, admin help for admins, subscriptions."""
    return home_view(store.list_subscriptions(team_id=team_id), admin=admin, now=now)


# --- lookups ------------------------------------------------------------------------------


def lookup(store: Store, query: Query, *, replace_original: bool = False) -> Reply:
    """A page of papers matching ``query``, with "More" and "Share" buttons."""
    page = store.search(query)
    message = render_lookup_message(
        page.hits,
        query_text=replace(query, offset=0).to_text(),
        total=None,
        offset=query.offset,
        page_size=query.limit,
        more_value=query.next_page().to_text() if page.has_more else None,
        share_value=query.to_text() if page.hits else None,
    )
    return Reply.of(message, replace_original=replace_original)


def share(store: Store, query: Query, *, user_id: str) -> Reply:
    """The page in the channel, "shared by" ``user_id`` (from the signed payload)."""
    page = store.search(query)
    message = render_share_message(
        page.hits, query_text=replace(query, offset=0).to_text(), user_id=user_id
    )
    return Reply.of(message, replace_original=False)


# --- subscriptions ------------------------------------------------------------------------


def subscribe(store: Store, cmd: Subscribe, who: Invocation, *, now: datetime) -> Reply:
    """A new subscription of the channel, unless it has the same one already.

    Its first week is the first one whose scheduled run comes after ``now``, so that a
    subscription never gets a digest of papers from before it was made.
    """
    if who.channel_id.startswith("D"):
        return Reply(
            "Digests go to channels: run `/paper subscribe` in the channel that should get them."
        )
    if cmd.query.like is not None:
        store.check_like(cmd.query.like)  # an unknown paper: one line, nothing subscribed
    wanted = (cmd.query_text, cmd.weekday, cmd.time, cmd.tz)
    for sub in store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id):
        if (sub.query, sub.weekday, sub.time, sub.tz) == wanted:
            return Reply(f"This channel already has that subscription (#{sub.id}).")
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
    return Reply(
        f"<@{who.user_id}> subscribed this channel to the weekly top papers: "
        f"{describe_subscription(sub, now)}\nPrivate channel? Invite @paperbot so it can post. "
        f"`/paper unsubscribe {sub.id}` stops it.",
        response_type="in_channel",
    )


def unsubscribe(store: Store, cmd: Unsubscribe, who: Invocation) -> Reply:
    """One subscription of the channel, or all of them, stopped."""
    n = store.deactivate_subscriptions(
        team_id=who.team_id, channel_id=who.channel_id, subscription_id=cmd.subscription_id
    )
    if n == 0:
        which = (
            "no subscriptions"
            if cmd.subscription_id is None
            else f"no subscription #{cmd.subscription_id}"
        )
        return Reply(f"This channel has {which}; `/paper subscriptions` lists them.")
    log.info(
        "unsubscribed %d team=%s channel=%s by=%s", n, who.team_id, who.channel_id, who.user_id
    )
    what = (
        f"subscription #{cmd.subscription_id}"
        if cmd.subscription_id is not None
        else f"all {count(n, 'subscription')}"
    )
    return Reply(f"<@{who.user_id}> removed {what} of this channel.", response_type="in_channel")


def list_subscriptions(store: Store, who: Invocation, *, now: datetime) -> Reply:
    subs = store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id)
    if not subs:
        return Reply(
            "This channel has no subscriptions. Try "
            "`/paper subscribe tag:Alignment day:mon time:09:00`."
        )
    lines = [f"*#{s.id}* {describe_subscription(s, now)}" for s in subs]
    return Reply(f"{count(len(subs), 'subscription')} in this channel", blocks=line_sections(lines))


# --- digests ------------------------------------------------------------------------------


def preview_requests(
    subs: Sequence[Subscription], who: Invocation, *, now: datetime, core: Settings
) -> list[tuple[str, DigestRequest]]:
    """(label, request) for the digests the channel of ``subs`` would get now: one per
    subscription (up to MAX_PREVIEWS), or the unfiltered digest when it has none."""
    requests: list[tuple[str, DigestRequest]] = []
    for sub in subs[:MAX_PREVIEWS]:
        query = parse_query(sub.query, now=now, tz=sub.tz) if sub.query else None
        requests.append(
            (
                f"Preview of subscription #{sub.id} (only you see this)",
                DigestRequest(
                    week=digest_week(now, sub.tz),
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
                    week=digest_week(now, core.tz), tz=core.tz, summary_chars=core.summary_chars
                ),
            )
        )
    return requests


def preview(
    store: Store,
    who: Invocation,
    *,
    now: datetime,
    core: Settings,
    summarizer: Summarizer,
) -> Iterator[Reply]:
    """The channel's digests as only the asker sees them, one reply each as it is built;
    nothing is posted or marked sent."""
    subs = store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id)
    channel = (who.team_id, who.channel_id)
    profile = load_profiles(store, [channel], now=now)[channel]
    for label, request in preview_requests(subs, who, now=now, core=core):
        digest = build_digest(
            store,
            replace(request, profile=profile),
            now=now,
            summarizer=summarizer,
            weights=core.rank_weights,
        )
        messages = render_digest_messages(digest, controls=False)
        first = messages[0]
        note = label
        if len(messages) > 1:
            more = len(messages) - 1
            went = "message goes" if more == 1 else "messages go"
            note += f"; {more} more {went} in the thread when posted"
        blocks = first["blocks"]
        if len(blocks) < MAX_BLOCKS:
            blocks = [note_block(note), *blocks]
        yield Reply(first["text"], blocks=blocks, unfurl_links=False, unfurl_media=False)
    if len(subs) > MAX_PREVIEWS:
        yield Reply(f"{count(len(subs) - MAX_PREVIEWS, 'more subscription')} not previewed.")


# --- profiles -----------------------------------------------------------------------------

# How many liked and muted papers ``/paper profile`` lists (the rest are counted).
_PROFILE_SHOWN = 10


def show_profile(store: Store, who: Invocation, *, now: datetime) -> Reply:
    """What the channel's likes, mutes and imports taught paperbot (only the asker sees it)."""
    report = profile_report(store, (who.team_id, who.channel_id), now=now)
    if report.empty:
        return Reply(
            "This channel has no profile yet: 👍 or 👎 papers in its digests and paperbot "
            "learns what the channel likes."
        )
    changed = report.changed_at.strftime("%Y-%m-%d %H:%M UTC") if report.changed_at else "never"
    lines = [f"*This channel's profile* (last changed {changed})"]
    for label, titles in (
        (f"Liked ({len(report.liked)})", [f"{t} ({v:+d})" for t, v in report.liked]),
        (f"Muted, never posted here again ({len(report.muted)})", list(report.muted)),
    ):
        if not titles:
            continue
        shown = [f"• {escape_mrkdwn(t)}" for t in titles[:_PROFILE_SHOWN]]
        if len(titles) > _PROFILE_SHOWN:
            shown.append(f"… and {len(titles) - _PROFILE_SHOWN} more")
        lines.append(f"*{label}*\n" + "\n".join(shown))
    if report.terms:
        lines.append("*Strongest terms:* " + escape_mrkdwn(", ".join(report.terms)))
    return Reply(lines[0], blocks=line_sections(lines))


def reset_profile(store: Store, who: Invocation, *, now: datetime) -> Reply:
    """Forget the channel's likes, mutes and imports (an admin's command)."""
    gone = store.reset_profile(who.team_id, who.channel_id, now=now)
    return Reply(
        f"<@{who.user_id}> reset this channel's profile: {count(gone, 'verdict')} forgotten. "
        "Its digests rank as without feedback until people react again.",
        response_type="in_channel",
    )


def digest_now(
    store: Store,
    deliverer: ChannelDeliverer,
    who: Invocation,
    *,
    now: datetime,
    default_tz: str,
) -> Reply:
    """Every digest of the channel posted now, and what became of each.

    The week is the one a scheduled run at ``now`` would cover, cut in the channel's zone,
    so that "digest now" never takes a scheduled run's week away before it is over.
    """
    subs = store.list_subscriptions(team_id=who.team_id, channel_id=who.channel_id)
    tz = subs[0].tz if subs else default_tz
    week = digest_week(now, tz)
    log.info(
        "digest now team=%s channel=%s week=%s by=%s",
        who.team_id,
        who.channel_id,
        week.label,
        who.user_id,
    )
    results = deliverer.deliver_channel_now(who.team_id, who.channel_id, week)
    lines = [delivery_line(r) for r in results] or ["nothing to deliver"]
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
    return Reply(text)


def delivery_line(r: DeliveryOutcome) -> str:
    # Keys are team:channel:subscription:week, "-" for a channel without a subscription.
    parts = r.key.split(":")
    sub = parts[2] if len(parts) == 4 else r.key
    what = "the unfiltered digest" if sub == "-" else f"subscription #{sub}"
    if r.slack_down:
        return f"• {what}: not posted"
    line = f"• {what}: {r.status.replace('_', ' ')}"
    if r.error:
        line += f" — {escape_mrkdwn(r.error[:200])}"
    return line


# --- sources ------------------------------------------------------------------------------

_STATE_ICONS = {
    SourceState.OK: ":large_green_circle:",
    SourceState.FAILING: ":red_circle:",
    SourceState.NEVER_POLLED: ":white_circle:",
    SourceState.RETIRED: ":zzz:",
}


def list_sources(store: Store, *, now: datetime) -> Reply:
    found = store.list_sources()
    if not found:
        return Reply("No sources yet: `/paper sources add URL`.")
    return Reply(
        f"{len(found)} sources", blocks=line_sections([source_line(s, now) for s in found])
    )


def source_line(s: SourceInfo, now: datetime) -> str:
    status = source_status(s)
    return (
        f"{_STATE_ICONS.get(status.state, ':warning:')} *{escape_mrkdwn(s.name)}* "
        f"({s.kind.value if s.kind else 'auto'}, every {format_interval(s.interval_seconds)}, "
        f"{s.origin}) · {s.paper_count} papers · "
        f"{escape_mrkdwn(status.describe(now, error_chars=150))}"
    )


def add_source(store: Store, cmd: AddSource, *, now: datetime) -> Reply:
    info = store.add_source(
        SourceSpec(
            name=cmd.name,
            location=cmd.location,
            kind=cmd.kind,
            interval_seconds=cmd.interval_seconds,
            origin="slack",
        ),
        now=now,
    )
    log.info("source added from Slack: %r %s", info.name, info.location)
    return Reply(
        f"Added source *{escape_mrkdwn(info.name)}* "
        f"({info.kind.value if info.kind else 'kind detected on fetch'}, every "
        f"{format_interval(info.interval_seconds)}): {escape_mrkdwn(info.location)}. "
        "`/paper poll` fetches it now."
    )


def remove_source(store: Store, cmd: RemoveSource, *, now: datetime) -> Reply:
    """A source added from Slack (or already retired) retired; its papers stay.

    A source of the operator's sources file is removed there, not here, and deleting a
    source's history is the operator's ``paperbot sources remove NAME --purge``.
    """
    info = store.get_source(cmd.name)
    if info is None:
        names = ", ".join(s.name for s in store.list_sources(with_counts=False))
        return Reply(
            f"No source named {escape_mrkdwn(cmd.name)}. Sources: {escape_mrkdwn(names) or 'none'}"
        )
    if info.origin == "file" and not info.retired:
        return Reply(
            f"{escape_mrkdwn(info.name)} comes from the operator's sources file: remove it "
            "there; paperbot retires it on the next start (its papers stay)."
        )
    retired = store.retire_source(info.id, now=now)
    log.info("source retired from Slack: %r", info.name)
    name = escape_mrkdwn(info.name)
    return Reply(
        f"Retired source {name}: no longer polled; its {info.paper_count} papers stay."
        if retired
        else f"{name} was already retired."
    )


def poll(store: Store, poll_sources: PollFunction, *, lock: threading.Lock) -> Iterator[Reply]:
    """Every enabled source polled now: a reply when it starts, the report when it ends.

    ``lock`` is held for the whole poll; a second poll meanwhile is told so and does nothing.
    """
    if not lock.acquire(blocking=False):
        yield Reply("A poll is already running; its report comes here.")
        return
    try:
        chosen = [s for s in store.list_sources(with_counts=False) if s.enabled and not s.retired]
        yield Reply(f"Polling {len(chosen)} sources; the report follows here.")
        reports = poll_sources(chosen)
    finally:
        lock.release()
    yield Reply(poll_report(reports))


def poll_report(reports: Sequence[SourceReport]) -> str:
    if not reports:
        return "Poll done: no sources to poll."
    ok = sum(1 for r in reports if r.ok)
    new = sum(r.new for r in reports)
    updated = sum(r.updated for r in reports)
    lines = [
        f"Poll done: {ok} of {count(len(reports), 'source')} ok, "
        f"{count(new, 'new paper')}, {updated} updated."
    ]
    for r in reports:
        line = f"• {escape_mrkdwn(r.name)}: {r.status.replace('_', ' ')}"
        if r.entries or r.new:
            line += f", {r.entries} entries, {r.new} new"
        if r.error:
            line += f" — {escape_mrkdwn(r.error[:150])}"
        lines.append(line)
    return "\n".join(lines)[:3900]


# --- a library imported into the channel's profile ----------------------------------------


def check_import(
    text: str, file: SlackFile | None, *, limit: int = MAX_LIBRARY_BYTES
) -> Library | dict[str, str] | None:
    """What the import form's submission holds: the library pasted, None for an upload
    to read next, or the errors to show on the form's fields (block id -> one line)."""
    pasted = text.strip()
    if file is not None:
        if pasted:
            return {IMPORT_FILE_BLOCK: "Paste a list or upload a file, not both."}
        line = too_large(file.size, limit)
        return {IMPORT_FILE_BLOCK: line} if line else None
    if not pasted:
        return {IMPORT_TEXT_BLOCK: "Paste a list or BibTeX here, or upload a file below."}
    library = read_library(pasted)
    nothing = nothing_readable(library)
    return {IMPORT_TEXT_BLOCK: nothing} if nothing else library


def read_upload(data: bytes, *, limit: int = MAX_LIBRARY_BYTES) -> Library | str:
    """An uploaded file's library, or the one line that says why there is none."""
    line = too_large(len(data), limit, known=False)
    if line is not None:
        return line
    library = read_library(decode_library(data))
    return nothing_readable(library) or library


def import_profile(
    store: Store, arxiv: ArxivPapers | None, library: Library, who: Invocation, *, now: datetime
) -> ImportReport:
    """Like the library's papers for the channel, as the admin who imported it."""
    report = import_library(
        store,
        library,
        team_id=who.team_id,
        channel_id=who.channel_id,
        user_id=who.user_id,
        now=now,
        arxiv=arxiv,
    )
    log.info(
        "library import team=%s channel=%s user=%s: %s",
        who.team_id,
        who.channel_id,
        who.user_id,
        report.summary(),
    )
    return report
