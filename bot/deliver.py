"""Posts weekly digests to Slack channels: at most once, paced, retried, repaired after a crash.

The way of one digest into one channel::

    claim (store) | build + archive, or reload the archived one (digests) | render
        | for each part: look in Slack first if unsure | pace | chat.postMessage | record
        | mark posted (store; a fan-out records posted deliveries in batches)

Identity. A delivery is (team, channel, subscription, ISO week), keyed
``team:channel:subscription-id:week`` (``-`` for a channel without a subscription that an
admin asked "digest now" for). A scheduled digest and an admin's "digest now" of the same
week share the key, so a week is never posted twice to a channel for one subscription.

At most once. ``store.claim_deliveries`` records the intent under the unique key *before*
anything is posted and hands the delivery to one holder at a time (several processes may
race; one wins, the others see ``in_progress``). The message ``ts`` is stored *after*
the post (``record_partial_post`` after every part, ``mark_posted_many`` at the end). So the
only window for a duplicate is a post that reached Slack but whose answer we never
recorded: a crash between post and record, a timeout, a 5xx that Slack had in fact
served. We close that window by looking at the channel, not by guessing: every message
carries Slack message metadata ``{"event_type": "paperbot_digest", "event_payload":
{"key": <delivery key>, "part": i}}``, and whenever a part *may* already be in Slack —
the claim is a takeover or a retry (``attempts > 1``), the delivery already has a parent
``ts``, or our own last try of that part failed in a way that may have posted it — we
first search for the bot's own message with that key and part (``conversations.history``
from the delivery's ``created_at`` minus a margin for the parent, ``conversations.replies``
of the parent for thread parts) and adopt its ``ts`` instead of posting again. Parts are
posted strictly in order, so once one is not found none after it can exist.

If that search itself is impossible (e.g. ``missing_scope``: the app needs
``channels:history`` / ``groups:history``), the delivery fails rather than risk a
duplicate, and the admins are told. A delivery that was never unsure needs no search.

Retries. 429: wait ``Retry-After`` (the channel is held in the pacer too) and try again;
it does not count as a failure (at most ``_MAX_RATE_WAITS`` waits). 5xx, Slack's
``internal_error``/``fatal_error``/``service_unavailable`` and network errors: exponential
backoff with jitter, up to ``max_attempts`` failures per part; then the claim is released
to pending and the result is ``retry_later`` (the scheduler, or ``resume_unfinished``
after a restart, tries again later; the archived digest is reused, so a retry posts the
same content). All waiting happens through the injected ``sleep`` and never outlasts half
of ``stale_after``: past that another worker could take our claim over, so we release it
instead. The loop is explicit rather than tenacity because a retry after an ambiguous
failure must look in Slack first, rate-limit waits are not failures, and the wait budget
is tied to the claim. Do not add slack_sdk's ``RateLimitErrorRetryHandler`` or
``ServerErrorRetryHandler`` to the client: they sleep where our pacer cannot see and
re-send posts without looking; ``Deliverer`` logs a warning when it finds them.

Permanent errors (``PERMANENT_ERRORS``, and any error code we do not know) are not
retried: the delivery is marked failed, the error is recorded on the subscription, and
the admins get one direct message saying what happened and what to do. Errors that mean
the channel is unusable (``PAUSING_ERRORS``: channel_not_found, not_in_channel,
is_archived) also pause the subscription, so it stops failing every week; token-level
errors (invalid_auth, token_revoked, account_inactive) do not, because reinstalling the
app fixes every subscription at once and a paused one would then stay silent.

An empty week is posted too: the rendering says the week was quiet and names the sources
that failed, so a team never loses a week silently.

Pacing: ``ChannelPacer`` keeps one message per second per channel across all threads of
a process (Slack's chat.postMessage limit); share one pacer between every ``Deliverer``
of the process. Holders must be unique per process (e.g. ``host:pid:uuid``). Every wait
(pacing, ``Retry-After``, backoff) sleeps only the thread delivering that channel, so
the scheduler's delivery workers keep the other channels going.

Fan-out in batches. The scheduler delivers a tick's due subscriptions in three steps, and
the protocol above holds for each delivery: ``claim_many`` records and claims them all in
one transaction (``Store.claim_deliveries``);
``prepare_many`` builds a chunk of digests from the shared weeks, archives and attaches
them in one transaction (``Store.archive_digests``) and renders them, before any of them
is posted; ``post_ready`` posts one and hands it to a ``PostedRecorder``, whose ``flush``
marks a batch posted in one transaction. Until its record lands a posted delivery stays
``posting``: after a crash its claim goes stale and the takeover looks in Slack first,
exactly as after a crash between a single post and its record. A claim older than half of
``stale_after`` is never posted under (it is released instead), so batching cannot let a
claim go stale while it is posted. While a fan-out job waits (pacing, ``Retry-After``,
backoff) it lends its worker slot (``Job.slot``) to other channels.

Shared weeks. Many subscriptions digest the same week: pass one ``WeekContexts`` (made
for the tick's ``now``) to every ``deliver`` call of a fan-out, and each (week, zone) is
loaded and prepared once (``digests.digest.WeekContext``), by whichever delivery needs
it first; the digests are the same as built alone, with that ``now``.
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from digests.digest import DigestRequest, WeekContext, build_and_archive, build_digest
from digests.errors import ConfigError, QueryError, StoreError
from digests.model import Delivery, Digest, Subscription
from digests.query import parse_query
from digests.rank import RankWeights
from digests.render import DEFAULT_MAX_CHARS, SlackMessage, render_digest_messages
from digests.settings import Settings
from digests.store import ArchivedForDelivery, DeliveryIntent, PostedRecord, Store
from digests.summarize import Summarizer
from digests.weeks import IsoWeek, parse_week, week_bounds

__all__ = [
    "DIGEST_EVENT",
    "PAUSING_ERRORS",
    "PERMANENT_ERRORS",
    "ChannelPacer",
    "Deliverer",
    "DeliveryResult",
    "DeliveryStatus",
    "Job",
    "PostedRecorder",
    "Ready",
    "WeekContexts",
]

log = logging.getLogger(__name__)

DIGEST_EVENT = "paperbot_digest"

# The channel cannot take messages from us any more: pause the subscription.
PAUSING_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
# Retrying cannot help; the listed ones get a specific hint for the admins.
PERMANENT_ERRORS = PAUSING_ERRORS | frozenset(
    {
        "account_inactive",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "not_authed",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "team_access_not_granted",
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_blocks",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "no_text",
        "thread_not_found",
    }
)
# Slack's own words for "try again": answered with HTTP 200 or 5xx.
_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_TOKEN_ERRORS = frozenset(
    {"account_inactive", "invalid_auth", "token_revoked", "token_expired", "not_authed"}
)
_MESSAGE_ERRORS = frozenset(
    {
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_blocks",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "no_text",
    }
)

# Slack's ts and our clock disagree a little; a message older than the delivery record
# cannot be ours, so this only has to cover clock skew.
_HISTORY_MARGIN = timedelta(minutes=15)
_HISTORY_PAGE = 200
_HISTORY_PAGES = 20
_MAX_RATE_WAITS = 10
_DEFAULT_RETRY_AFTER = 1.0
_BACKOFF_BASE = 1.0
_BACKOFF_CAP = 30.0

DeliveryStatus = Literal["posted", "already_posted", "in_progress", "failed", "retry_later"]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivery attempt did. ``items`` counts the papers this call posted."""

    key: str
    status: DeliveryStatus
    message_ts: str | None = None
    error: str | None = None
    items: int = 0
    # retry_later because Slack's Web API did not answer (network error, 5xx, "try again")
    slack_down: bool = False


class ChannelPacer:
    """At most one message per ``interval`` per channel, shared by all threads using it.

    A caller reserves the next free slot under a lock and sleeps outside it, so two
    threads posting to one channel get successive slots and neither blocks the others'
    channels.
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(
        self, channel: str, *, idle: Callable[[], AbstractContextManager[object]] | None = None
    ) -> float:
        """Block until ``channel`` may take a message; returns the seconds waited.

        ``idle``: entered around the sleep (a fan-out lends the waiting thread's slot).
        """
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self._interval
        delay = slot - now
        if delay > 0:
            with idle() if idle is not None else nullcontext():
                self._sleep(delay)
        return max(delay, 0.0)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said to wait (429): no thread posts to ``channel`` for ``seconds``."""
        with self._lock:
            until = self._clock() + seconds
            self._next[channel] = max(self._next.get(channel, until), until)


class WeekContexts:
    """One fan-out's shared weeks: each (week, zone, weights) is loaded once, at ``now``.

    Thread-safe. A context is loaded on first use, so a tick whose deliveries are all
    settled loads nothing; two workers asking for the same week wait for one load, and
    a failed load is tried again by the next one asking.
    """

    def __init__(self, store: Store, *, now: datetime) -> None:
        self._store = store
        self.now = now
        self._lock = threading.Lock()
        self._slots: dict[tuple[IsoWeek, str, RankWeights], _ContextSlot] = {}
        # Digests built in this fan-out with their messages, by everything they depend on:
        # channels asking for the same digest (the same filter, size and language, and the
        # same papers already sent) get one build and one rendering.
        self._built: dict[Hashable, tuple[Digest, list[SlackMessage]]] = {}

    def get(self, week: IsoWeek, tz: str, *, weights: RankWeights) -> WeekContext:
        with self._lock:
            slot = self._slots.setdefault((week, tz, weights), _ContextSlot())
        with slot.lock:
            if slot.context is None:
                t = time.perf_counter()
                slot.context = WeekContext.load(
                    self._store, week, tz, now=self.now, weights=weights
                )
                log.info(
                    "week %s %s loaded for the fan-out: %d candidates in %.2fs",
                    week.label,
                    tz,
                    len(slot.context.candidates),
                    time.perf_counter() - t,
                )
            return slot.context

    def built(self, key: Hashable) -> tuple[Digest, list[SlackMessage]] | None:
        """A digest (not yet archived) and its messages, if built in this fan-out."""
        with self._lock:
            return self._built.get(key)

    def keep(self, key: Hashable, digest: Digest, messages: list[SlackMessage]) -> None:
        with self._lock:
            self._built[key] = (replace(digest, digest_id=None), messages)

    def loaded(self) -> int:
        """How many week contexts were loaded so far."""
        with self._lock:
            return sum(1 for s in self._slots.values() if s.context is not None)


@dataclass(slots=True)
class _ContextSlot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    context: WeekContext | None = None


# -- failures --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Failure:
    kind: Literal["rate", "transient", "permanent"]
    code: str
    retry_after: float = 0.0
    maybe_sent: bool = False  # the request may have reached Slack and been served


class _RetryLater(Exception):
    def __init__(self, error: str, *, slack_down: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.slack_down = slack_down


class _Permanent(Exception):
    def __init__(self, code: str, *, checking: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.checking = checking  # failed while looking for an earlier post, not posting


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                break
    return _DEFAULT_RETRY_AFTER


def _classify_api_error(e: SlackApiError) -> _Failure:
    status = int(getattr(e.response, "status_code", 0) or 0)
    code = str(e.response.get("error") or f"http_{status}")
    if status == 429 or code == "ratelimited":
        return _Failure("rate", "ratelimited", retry_after=_retry_after(e.response.headers))
    if status >= 500 or code in _TRANSIENT_ERRORS:
        # Slack may have done the work before failing to answer.
        label = code if code in _TRANSIENT_ERRORS else f"http_{status}"
        return _Failure("transient", label, maybe_sent=True)
    return _Failure("permanent", code)


def _classify_network_error(e: Exception) -> _Failure:
    reason = e.reason if isinstance(e, URLError) else e
    if isinstance(reason, ConnectionRefusedError):
        return _Failure("transient", "connection_refused", maybe_sent=False)
    if isinstance(reason, TimeoutError):
        return _Failure("transient", "timeout", maybe_sent=True)
    return _Failure("transient", f"network_error:{type(reason).__name__}", maybe_sent=True)


_NETWORK_ERRORS = (URLError, OSError, http.client.HTTPException)


def _failure_hint(code: str, paused: bool, checking: bool) -> str:
    if checking and code in ("missing_scope", "no_permission"):
        return (
            "paperbot could not check whether this digest was already posted, so it did not "
            "post it again (a duplicate is worse than a gap); give the app the "
            "channels:history and groups:history scopes and reinstall it"
        )
    if code == "channel_not_found":
        hint = "the channel is gone, or private without the bot"
    elif code == "not_in_channel":
        hint = "the bot is not a member of this private channel"
    elif code == "is_archived":
        hint = "the channel is archived"
    elif code in _TOKEN_ERRORS:
        hint = "the bot's token no longer works; reinstall the app (subscriptions stay on)"
    elif code == "missing_scope":
        hint = "the app lacks a permission; reinstall it with the scopes of its manifest"
    elif code in _MESSAGE_ERRORS:
        hint = "Slack refused the message itself; this week's digest was skipped (a paperbot bug)"
    else:
        hint = "this week's digest was skipped"
    if paused:
        hint += " — the subscription is paused; invite the bot and subscribe again, or unsubscribe"
    return hint


# -- the deliverer ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    key: str
    team_id: str
    channel_id: str
    week: IsoWeek
    tz: str
    subscription: Subscription | None
    # An admin's "digest now": the whole week, even before the subscription's first week.
    whole_week: bool = False


@dataclass(slots=True)
class Job:
    """A claimed delivery (``Deliverer.claim_many``)."""

    target: _Target
    claim: Delivery
    deadline: datetime  # no waiting past this: the claim must not go stale under us
    # A fan-out's active-worker slot, held while this job works and lent out while it
    # waits (pacing, Retry-After, backoff), so a waiting channel holds up no other.
    slot: threading.Semaphore | None = None

    @contextmanager
    def idle(self) -> Iterator[None]:
        if self.slot is None:
            yield
            return
        self.slot.release()
        try:
            yield
        finally:
            self.slot.acquire()

    @property
    def key(self) -> str:
        return self.target.key


@dataclass(slots=True)
class Ready:
    """A claimed delivery whose digest is archived, attached and rendered: only posting is left."""

    job: Job
    messages: list[SlackMessage]
    items: int

    @property
    def key(self) -> str:
        return self.job.target.key


class PostedRecorder:
    """Posted deliveries waiting to be recorded, in one transaction per ``flush``.

    Thread-safe. Until a delivery's record is flushed its claim stays ``posting``; if the
    process dies first, the claim goes stale and the takeover (``attempts`` > 1) looks in
    Slack before posting, so a lost record never becomes a second post.
    """

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._waiting: list[PostedRecord] = []

    def add(self, delivery_id: int, *, message_ts: str, reply_ts: Sequence[str]) -> None:
        record = PostedRecord(delivery_id, message_ts, tuple(reply_ts), self._clock())
        with self._lock:
            self._waiting.append(record)

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def flush(self) -> int:
        """Record what is waiting; returns how many. A database error is logged and the
        records dropped: their claims go stale and are finished by a look in Slack."""
        with self._flush_lock:
            with self._lock:
                batch, self._waiting = self._waiting, []
            if not batch:
                return 0
            try:
                self._store.mark_posted_many(batch, now=self._clock())
            except StoreError as e:
                log.error(
                    "%d posted deliveries could not be recorded (%s); their claims will go "
                    "stale and be checked in Slack",
                    len(batch),
                    e,
                )
                return 0
            return len(batch)


@dataclass(frozen=True, slots=True)
class _Identity:
    user_id: str | None
    bot_id: str | None


class Deliverer:
    """Posts digests for one Slack workspace token; safe to share between threads."""

    def __init__(
        self,
        *,
        store: Store,
        client: WebClient,
        core: Settings,
        admins: frozenset[str],
        holder: str,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        pacer: ChannelPacer | None = None,
        summarizer: Summarizer | None = None,
        max_attempts: int = 5,
        stale_after: timedelta = timedelta(minutes=10),
        max_chars: int = DEFAULT_MAX_CHARS,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._store = store
        self._client = client
        self._core = core
        self._admins = admins
        self._holder = holder
        self._clock = clock
        self._sleep = sleep
        self._pacer = pacer or ChannelPacer(sleep=sleep)
        self._summarizer = summarizer
        self._max_attempts = max_attempts
        self._stale_after = stale_after
        self._max_chars = max_chars
        self._rng = rng or random.Random()  # jitter, not secrets
        self._identity: _Identity | None = None
        self._identity_lock = threading.Lock()
        sleepers = [
            type(h).__name__
            for h in client.retry_handlers
            if isinstance(h, RateLimitErrorRetryHandler | ServerErrorRetryHandler)
        ]
        if sleepers:
            log.warning(
                "the Slack client retries by itself (%s): those retries bypass pacing and "
                "re-send posts without looking for an earlier one; remove them",
                ", ".join(sleepers),
            )

    # -- public ---------------------------------------------------------------------------

    @property
    def holder(self) -> str:
        """The name this process claims deliveries under."""
        return self._holder

    @staticmethod
    def delivery_key(
        team_id: str, channel_id: str, subscription_id: int | None, week: IsoWeek
    ) -> str:
        sub = "-" if subscription_id is None else str(subscription_id)
        return f"{team_id}:{channel_id}:{sub}:{week.label}"

    def deliver(
        self,
        sub: Subscription,
        week: IsoWeek,
        *,
        contexts: WeekContexts | None = None,
        whole_week: bool = False,
    ) -> DeliveryResult:
        """Post ``sub``'s digest of ``week`` unless it is posted, failed or being posted.

        ``contexts``: the fan-out's shared weeks; a digest built here then uses its week
        context and its ``now`` (the tick's time) instead of loading the week alone.
        ``whole_week``: an admin asked for it, so the subscription's start week does not
        cut papers announced before it (that guard keeps a scheduled first digest from
        posting the backlog).
        """
        key = self.delivery_key(sub.team_id, sub.channel_id, sub.id, week)
        try:
            # Read it again: it may have been paused or unsubscribed since it was scheduled.
            current = self._store.get_subscription(sub.id)
            if current is None or not current.active:
                return self._close_inactive(key)
            target = _Target(
                key, current.team_id, current.channel_id, week, current.tz, current, whole_week
            )
            return self._deliver(target, contexts)
        except StoreError as e:
            log.error("delivery %s: database error, will retry later: %s", key, e)
            return DeliveryResult(key, "retry_later", error=f"database error: {e}")

    def deliver_channel_now(
        self, team_id: str, channel_id: str, week: IsoWeek
    ) -> list[DeliveryResult]:
        """An admin's "digest now": each subscription's digest of ``week`` (an unfiltered
        one when the channel has none), under the scheduled keys — never twice a week."""
        try:
            subs = self._store.list_subscriptions(team_id=team_id, channel_id=channel_id)
            if subs:
                return [self.deliver(s, week, whole_week=True) for s in subs]
            key = self.delivery_key(team_id, channel_id, None, week)
            return [self._deliver(_Target(key, team_id, channel_id, week, self._core.tz, None))]
        except StoreError as e:
            key = self.delivery_key(team_id, channel_id, None, week)
            log.error("digest now for %s: database error: %s", channel_id, e)
            return [DeliveryResult(key, "retry_later", error=f"database error: {e}")]

    def resume_unfinished(self) -> list[DeliveryResult]:
        """After a restart: finish deliveries left pending, or claimed by a dead worker.

        Claims younger than ``stale_after`` belong to a live worker and are left alone.
        """
        results: list[DeliveryResult] = []
        try:
            unfinished = self._store.unfinished_deliveries()
        except StoreError as e:
            log.error("cannot list unfinished deliveries: %s", e)
            return results
        now = self._clock()
        for d in unfinished:
            live = d.claimed_at is not None and d.claimed_at >= now - self._stale_after
            if d.state == "posting" and live:
                continue
            try:
                week = parse_week(d.week)
            except ConfigError:
                log.error("delivery %s has an unreadable week %r; skipped", d.key, d.week)
                continue
            if d.subscription_id is None:
                target = _Target(d.key, d.team_id, d.channel_id, week, self._core.tz, None)
                results.append(self._deliver_safely(target))
                continue
            try:
                sub = self._store.get_subscription(d.subscription_id)
            except StoreError as e:
                results.append(DeliveryResult(d.key, "retry_later", error=f"database error: {e}"))
                continue
            if sub is None:
                results.append(self._close_inactive(d.key))
            else:
                results.append(self.deliver(sub, week))
        return results

    def notify_admins(self, text: str) -> None:
        """DM every configured admin; failures are logged, never raised."""
        if not self._admins:
            log.warning("no PAPERBOT_ADMINS to tell: %s", text)
            return
        for user in sorted(self._admins):
            try:
                self._pacer.wait(user)
                self._client.chat_postMessage(
                    channel=user, text=text, unfurl_links=False, unfurl_media=False
                )
            except SlackApiError as e:
                log.warning("could not notify admin %s: %s", user, e.response.get("error"))
            except _NETWORK_ERRORS as e:
                log.warning("could not notify admin %s: %s", user, type(e).__name__)

    # -- one delivery ---------------------------------------------------------------------

    def _deliver_safely(self, target: _Target) -> DeliveryResult:
        try:
            return self._deliver(target)
        except StoreError as e:
            log.error("delivery %s: database error, will retry later: %s", target.key, e)
            return DeliveryResult(target.key, "retry_later", error=f"database error: {e}")

    def _deliver(self, t: _Target, contexts: WeekContexts | None = None) -> DeliveryResult:
        now = self._clock()
        intent = DeliveryIntent(
            t.key,
            t.team_id,
            t.channel_id,
            t.week.label,
            t.subscription.id if t.subscription else None,
        )
        claim = self._store.claim_deliveries(
            [intent], holder=self._holder, now=now, stale_after=self._stale_after
        ).get(t.key)
        if claim is None:
            return self._not_claimed(t.key)
        job = Job(t, claim, deadline=now + self._stale_after / 2)
        if claim.attempts > 1:
            log.info("delivery %s: attempt %d, checking Slack first", t.key, claim.attempts)
        try:
            digest = self._digest_for(job, now, contexts)
            messages = render_digest_messages(digest, max_chars=self._max_chars)
        except (QueryError, ConfigError) as e:
            self._fail(job, _Permanent(f"bad_subscription: {e}"))
            return DeliveryResult(t.key, "failed", error=f"bad_subscription: {e}")
        except Exception as e:
            self._release_unexpected(job, e)
            raise
        return self.post_ready(Ready(job, messages, len(digest.items)))

    def _release_unexpected(self, job: Job, e: Exception) -> None:
        # Whatever broke, the claim goes back to pending at once instead of waiting to
        # go stale; the next try looks in Slack before posting.
        self._store.release_delivery(
            job.claim.id, error=f"unexpected {type(e).__name__}", now=self._clock(), permanent=False
        )

    # -- a fan-out, in batches ------------------------------------------------------------

    def claim_many(self, due: Sequence[tuple[Subscription, IsoWeek]]) -> list[Job | DeliveryResult]:
        """Claim the deliveries of many subscriptions' weeks in one transaction.

        For each one, in order: its ``Job`` when claimed, or what ``deliver`` would have
        answered (already posted, failed, in progress, a paused subscription closed).
        Post each job with ``post_ready`` after ``prepare_many``, or hand it back with
        ``release_unstarted``.
        """
        out: list[Job | DeliveryResult | None] = [None] * len(due)
        targets: dict[int, _Target] = {}
        for n, (sub, week) in enumerate(due):
            key = self.delivery_key(sub.team_id, sub.channel_id, sub.id, week)
            if not sub.active:
                out[n] = self._close_inactive_safely(key)
                continue
            targets[n] = _Target(key, sub.team_id, sub.channel_id, week, sub.tz, sub)
        now = self._clock()
        try:
            claimed = self._store.claim_deliveries(
                [
                    DeliveryIntent(
                        t.key,
                        t.team_id,
                        t.channel_id,
                        t.week.label,
                        t.subscription.id if t.subscription else None,
                    )
                    for t in targets.values()
                ],
                holder=self._holder,
                now=now,
                stale_after=self._stale_after,
            )
            missed = [t.key for t in targets.values() if t.key not in claimed]
            known = self._store.deliveries_by_key(missed) if missed else {}
        except StoreError as e:
            log.error("fan-out claims: database error, will retry later: %s", e)
            for n, t in targets.items():
                out[n] = DeliveryResult(t.key, "retry_later", error=f"database error: {e}")
            return [o for o in out if o is not None]
        deadline = now + self._stale_after / 2
        for n, t in targets.items():
            claim = claimed.get(t.key)
            if claim is None:
                out[n] = _unclaimed_result(t.key, known.get(t.key))
                continue
            if claim.attempts > 1:
                log.info("delivery %s: attempt %d, checking Slack first", t.key, claim.attempts)
            out[n] = Job(t, claim, deadline=deadline)
        return [o for o in out if o is not None]

    def prepare_many(
        self, jobs: Sequence[Job], contexts: WeekContexts
    ) -> list[Ready | DeliveryResult | Exception]:
        """Build, archive, attach and render the digests of claimed jobs, in order.

        The new digests are built from the shared weeks at ``contexts.now`` and archived
        and attached in one transaction, before anything of them is posted. A job whose
        earlier attempt archived a digest reuses it. A job that cannot be prepared is
        settled here (failed for good, or released for a later retry); an unexpected error
        is handed back, its claim released.
        """
        out: list[Ready | DeliveryResult | Exception | None] = [None] * len(jobs)
        built: list[tuple[int, Digest, DigestRequest, list[SlackMessage]]] = []
        try:
            # What each channel was already sent, for all the chunk's digests in one query.
            sent = self._store.sent_paper_ids_many(
                (j.target.team_id, j.target.channel_id, j.target.week.label)
                for j in jobs
                if j.claim.digest_id is None
            )
        except StoreError as e:
            log.error("fan-out: reading the papers already sent failed: %s", e)
            return [self._released(job, e) for job in jobs]
        for n, job in enumerate(jobs):
            t = job.target
            try:
                if job.claim.digest_id is not None:
                    digest = self._digest_for(job, contexts.now, contexts)
                    out[n] = self._render(job, digest)
                    continue
                request = self._request_for(t, contexts.now)
                already = sent[(t.team_id, t.channel_id, t.week.label)]
                key = self._digest_key(t, request, already)
                kept = contexts.built(key)
                if kept is None:
                    context = contexts.get(t.week, t.tz, weights=self._core.rank_weights)
                    digest = build_digest(
                        self._store,
                        request,
                        now=contexts.now,
                        summarizer=self._summarizer,
                        weights=self._core.rank_weights,
                        context=context,
                        sent=already,
                    )
                    messages = render_digest_messages(digest, max_chars=self._max_chars)
                    contexts.keep(key, digest, messages)
                else:
                    digest, messages = kept
                built.append((n, digest, request, messages))
            except (QueryError, ConfigError) as e:
                self._fail(job, _Permanent(f"bad_subscription: {e}"))
                out[n] = DeliveryResult(t.key, "failed", error=f"bad_subscription: {e}")
            except Exception as e:
                log.exception("delivery %s: preparing the digest failed", t.key)
                out[n] = self._released(job, e)
        if built:
            try:
                ids = self._store.archive_digests(
                    [
                        ArchivedForDelivery(
                            jobs[n].claim.id,
                            digest,
                            request.query.to_text() if request.query is not None else "",
                            request.top,
                            request.subscription_id,
                        )
                        for n, digest, request, _messages in built
                    ],
                    holder=self._holder,
                    now=contexts.now,
                )
            except StoreError as e:
                log.error("fan-out: archiving %d digests failed: %s", len(built), e)
                for n, *_rest in built:
                    out[n] = self._released(jobs[n], e)
            else:
                for n, digest, _request, messages in built:
                    out[n] = Ready(jobs[n], messages, len(digest.items))
                log.info("fan-out: %d digests prepared and archived (%d ids)", len(built), len(ids))
        return [o for o in out if o is not None]

    def _digest_key(self, t: _Target, request: DigestRequest, sent: set[int]) -> Hashable:
        """Everything a fan-out digest depends on besides the tick's shared weeks."""
        sub = t.subscription
        return (
            id(self),  # this deliverer's summarizer, weights and message size
            t.week,
            t.tz,
            sub.query if sub else None,
            sub.tz if sub else None,
            request.top,
            request.lang,
            request.summary_chars,
            request.not_before,
            frozenset(sent),
        )

    def _render(self, job: Job, digest: Digest) -> Ready:
        messages = render_digest_messages(digest, max_chars=self._max_chars)
        return Ready(job, messages, len(digest.items))

    def _released(self, job: Job, e: Exception) -> DeliveryResult | Exception:
        try:
            self._release_unexpected(job, e)
        except StoreError as again:
            log.error("delivery %s: could not release the claim: %s", job.key, again)
        if isinstance(e, StoreError):
            return DeliveryResult(job.key, "retry_later", error=f"database error: {e}")
        return e

    def release_unstarted(self, jobs: Sequence[Job], *, error: str) -> None:
        """Hand claimed jobs that will not be posted now back to pending."""
        for job in jobs:
            try:
                self._store.release_delivery(
                    job.claim.id, error=error, now=self._clock(), permanent=False
                )
            except StoreError as e:
                log.error("delivery %s: could not release the claim: %s", job.key, e)

    def post_ready(
        self,
        ready: Ready,
        recorder: PostedRecorder | None = None,
        slot: threading.Semaphore | None = None,
    ) -> DeliveryResult:
        """Post a prepared delivery and settle its claim.

        With ``recorder``, the posted delivery is recorded at its next ``flush`` (in a batch)
        instead of at once; everything else (partial posts, failures) is recorded at once.
        ``slot``: held by the caller while it works; released during every wait and taken
        back after it (see ``Job.slot``).
        """
        job = ready.job
        job.slot = slot
        t = job.target
        try:
            if self._clock() > job.deadline:
                # Claimed too long ago: posting now could race a takeover of the claim.
                raise _RetryLater("the claim is too old to post under")
            parent, replies = self._post_parts(job, ready.messages)
        except _RetryLater as e:
            self._store.release_delivery(
                job.claim.id, error=e.error, now=self._clock(), permanent=False
            )
            log.warning("delivery %s: will retry later: %s", t.key, e.error)
            return DeliveryResult(t.key, "retry_later", error=e.error, slack_down=e.slack_down)
        except _Permanent as e:
            self._fail(job, e)
            return DeliveryResult(t.key, "failed", error=e.code)
        except Exception as e:
            self._release_unexpected(job, e)
            raise
        if recorder is not None:
            recorder.add(job.claim.id, message_ts=parent, reply_ts=replies)
        else:
            posted = PostedRecord(job.claim.id, parent, tuple(replies))
            self._store.mark_posted_many([posted], now=self._clock())
        log.info(
            "delivery %s: posted ts=%s with %d thread replies, %d papers",
            t.key,
            parent,
            len(replies),
            ready.items,
        )
        return DeliveryResult(t.key, "posted", message_ts=parent, items=ready.items)

    def _close_inactive_safely(self, key: str) -> DeliveryResult:
        try:
            return self._close_inactive(key)
        except StoreError as e:
            log.error("delivery %s: database error, will retry later: %s", key, e)
            return DeliveryResult(key, "retry_later", error=f"database error: {e}")

    def _not_claimed(self, key: str) -> DeliveryResult:
        return _unclaimed_result(key, self._store.get_delivery(key))

    def _close_inactive(self, key: str) -> DeliveryResult:
        """A paused or removed subscription: nothing is posted, and an unfinished
        delivery of it is closed so it stops coming back."""
        error = "the subscription is paused or was removed"
        d = self._store.get_delivery(key)
        if d is not None and d.state in ("pending", "posting"):
            intent = DeliveryIntent(key, d.team_id, d.channel_id, d.week, d.subscription_id)
            claim = self._store.claim_deliveries(
                [intent], holder=self._holder, now=self._clock(), stale_after=self._stale_after
            ).get(key)
            if claim is not None:
                self._store.release_delivery(
                    claim.id, error=error, now=self._clock(), permanent=True
                )
        return DeliveryResult(key, "failed", error=error)

    def _digest_for(self, job: Job, now: datetime, contexts: WeekContexts | None) -> Digest:
        """The archived digest of an earlier attempt, or a new one attached to the claim.

        Reusing it makes a retry post exactly what the first attempt began posting. With
        ``contexts`` a new digest is built at the fan-out's ``now`` from its shared week.
        """
        t = job.target
        if job.claim.digest_id is not None:
            start, end = week_bounds(t.week, t.tz)
            loaded = self._store.load_digest(job.claim.digest_id, start=start, end=end)
            if loaded is not None:
                return loaded
        context = None
        if contexts is not None:
            now = contexts.now
            context = contexts.get(t.week, t.tz, weights=self._core.rank_weights)
        request = self._request_for(t, now)
        digest = build_and_archive(
            self._store,
            request,
            now=now,
            summarizer=self._summarizer,
            weights=self._core.rank_weights,
            context=context,
        )
        assert digest.digest_id is not None
        self._store.attach_digest(job.claim.id, digest.digest_id, holder=self._holder)
        return digest

    def _request_for(self, t: _Target, now: datetime) -> DigestRequest:
        sub = t.subscription
        return DigestRequest(
            week=t.week,
            tz=t.tz,
            query=parse_query(sub.query, now=now, tz=sub.tz) if sub and sub.query else None,
            top=sub.top if sub else 10,
            lang=sub.lang if sub else None,
            summary_chars=self._core.summary_chars,
            team_id=t.team_id,
            channel_id=t.channel_id,
            subscription_id=sub.id if sub else None,
            # A new subscription's first digest covers its first week, not the backlog.
            not_before=(
                week_bounds(parse_week(sub.start_week), sub.tz)[0]
                if sub and not t.whole_week
                else None
            ),
        )

    def _post_parts(self, job: Job, messages: list[SlackMessage]) -> tuple[str, list[str]]:
        """Post (or find) every part in order; returns the parent ts and the reply ts."""
        claim = job.claim
        unsure = claim.attempts > 1 or claim.message_ts is not None
        parent = claim.message_ts
        if parent is None:
            parent, unsure = self._send(job, 0, messages[0], None, unsure=unsure)
            if len(messages) > 1:
                self._store.record_partial_post(
                    claim.id, message_ts=parent, reply_ts=[], now=self._clock()
                )
        replies = list(claim.reply_ts)[: len(messages) - 1]
        for part in range(len(replies) + 1, len(messages)):
            ts, unsure = self._send(job, part, messages[part], parent, unsure=unsure)
            replies.append(ts)
            self._store.record_partial_post(
                claim.id, message_ts=parent, reply_ts=replies, now=self._clock()
            )
        return parent, replies

    def _send(
        self,
        job: Job,
        part: int,
        message: SlackMessage,
        thread_ts: str | None,
        *,
        unsure: bool,
    ) -> tuple[str, bool]:
        """One part into Slack; returns its ts and whether the next part may be there too.

        ``unsure``: this part may already be in Slack, so look before posting.
        """
        t = job.target
        failures = 0
        rate_waits = 0
        while True:
            checking = unsure
            try:
                if unsure:
                    found = self._find_part(job, part, thread_ts)
                    if found is not None:
                        log.info("delivery %s: part %d already in Slack, ts=%s", t.key, part, found)
                        return found, True
                    # Not there: neither is any later part (we post in order).
                    unsure = checking = False
                self._pacer.wait(t.channel_id, idle=job.idle)
                response = self._client.api_call(
                    "chat.postMessage", json=_post_body(t, part, message, thread_ts)
                )
                ts = response.get("ts")
                if not isinstance(ts, str) or not ts:
                    raise _Permanent("no_ts_in_answer")
                return ts, False
            except SlackApiError as e:
                failure = _classify_api_error(e)
            except _NETWORK_ERRORS as e:
                failure = _classify_network_error(e)
            what = "checking for" if checking else "posting"
            if failure.kind == "rate":
                rate_waits += 1
                if rate_waits > _MAX_RATE_WAITS:
                    raise _RetryLater(f"ratelimited {rate_waits} times while {what} part {part}")
                self._pacer.hold(t.channel_id, failure.retry_after)
                self._wait(job, failure.retry_after, f"ratelimited while {what} part {part}")
                continue
            if failure.kind == "permanent":
                raise _Permanent(failure.code, checking=checking)
            failures += 1
            if not checking and failure.maybe_sent:
                unsure = True
            log.warning(
                "delivery %s: %s part %d failed (%s), try %d of %d",
                t.key,
                what,
                part,
                failure.code,
                failures,
                self._max_attempts,
            )
            if failures >= self._max_attempts:
                # A post names its call, so the log says which one Slack did not answer.
                call = "" if checking else "chat.postMessage: "
                raise _RetryLater(
                    f"{call}{failure.code} after {failures} tries {what} part {part}",
                    slack_down=True,
                )
            self._wait(
                job,
                self._backoff(failures),
                f"{failure.code} while {what} part {part}",
                slack_down=True,
            )

    def _backoff(self, failures: int) -> float:
        # "Equal jitter": at least half the exponential step, so waits still grow.
        step = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (failures - 1))
        return step / 2 + self._rng.uniform(0, step / 2)

    def _wait(self, job: Job, seconds: float, why: str, *, slack_down: bool = False) -> None:
        if self._clock() + timedelta(seconds=seconds) > job.deadline:
            raise _RetryLater(
                f"{why}; waiting {seconds:.0f}s more would outlast the claim",
                slack_down=slack_down,
            )
        with job.idle():
            self._sleep(seconds)

    # -- looking in Slack -----------------------------------------------------------------

    def _me(self) -> _Identity:
        with self._identity_lock:
            if self._identity is None:
                answer = self._client.auth_test()
                self._identity = _Identity(answer.get("user_id"), answer.get("bot_id"))
            return self._identity

    def _find_part(self, job: Job, part: int, thread_ts: str | None) -> str | None:
        """The ts of our own message for this delivery and part, if Slack has it."""
        t = job.target
        me = self._me()
        oldest = job.claim.created_at - _HISTORY_MARGIN
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            if thread_ts is None:
                answer = self._client.conversations_history(
                    channel=t.channel_id,
                    oldest=f"{oldest.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=_HISTORY_PAGE,
                    cursor=cursor,
                )
            else:
                answer = self._client.conversations_replies(
                    channel=t.channel_id,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=_HISTORY_PAGE,
                    cursor=cursor,
                )
            for m in answer.get("messages") or []:
                if _is_our_part(m, t.key, part, me):
                    return str(m["ts"])
            meta = answer.get("response_metadata") or {}
            cursor = meta.get("next_cursor") or None
            if not cursor:
                return None
        # Too much to read: not finding it would prove nothing.
        raise _Permanent("history_too_long", checking=True)

    # -- permanent failure ----------------------------------------------------------------

    def _fail(self, job: Job, e: _Permanent) -> None:
        t = job.target
        now = self._clock()
        paused = e.code in PAUSING_ERRORS and t.subscription is not None
        error = f"{e.code} (while checking Slack for an earlier post)" if e.checking else e.code
        self._store.release_delivery(job.claim.id, error=error, now=now, permanent=True)
        if t.subscription is not None:
            self._store.record_subscription_error(
                t.subscription.id, error=error, now=now, deactivate=paused
            )
        log.error("delivery %s failed for good: %s", t.key, error)
        self.notify_admins(
            f"paperbot could not post the weekly digest ({t.week.label}) to <#{t.channel_id}>: "
            f"{e.code} — {_failure_hint(e.code, paused, e.checking)}."
        )


def _post_body(
    t: _Target, part: int, message: SlackMessage, thread_ts: str | None
) -> dict[str, Any]:
    """``chat.postMessage``'s JSON for one part of a digest, tagged with the delivery key.

    Sent through ``api_call`` rather than ``chat_postMessage``: the blocks are plain dicts
    already, and slack_sdk's conversion of block objects tested every block against six
    classes per call, a quarter of a post's CPU in a fan-out.
    """
    body: dict[str, Any] = {
        "channel": t.channel_id,
        "text": message["text"],
        "blocks": message["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": DIGEST_EVENT, "event_payload": {"key": t.key, "part": part}},
    }
    if thread_ts is not None:
        body["thread_ts"] = thread_ts
    return body


def _unclaimed_result(key: str, d: Delivery | None) -> DeliveryResult:
    """What a delivery we could not claim is doing."""
    if d is not None and d.state == "posted":
        return DeliveryResult(key, "already_posted", message_ts=d.message_ts)
    if d is not None and d.state == "failed":
        return DeliveryResult(key, "failed", error=d.last_error)
    return DeliveryResult(key, "in_progress")


def _is_our_part(message: Mapping[str, Any], key: str, part: int, me: _Identity) -> bool:
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != DIGEST_EVENT:
        return False
    payload = meta.get("event_payload")
    if not isinstance(payload, Mapping):
        return False
    if payload.get("key") != key or payload.get("part") != part:
        return False
    ours = (me.bot_id is not None and message.get("bot_id") == me.bot_id) or (
        me.user_id is not None and message.get("user") == me.user_id
    )
    return bool(ours)
