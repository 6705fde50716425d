"""Posts weekly digests to Slack channels: at most once, paced, retried, repaired after a crash.

Every delivery takes the same steps, each on a batch: ``claim`` (store), ``prepare`` (build,
archive, render), ``post`` (look in Slack first when unsure, pace, post, record), run by
``bot.fanout.fan_out`` for one delivery or thousands. Why this posts each week once is in
docs/architecture.md, "Delivery and scheduling".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.fanout import (
    DeliveryResult,
    DeliveryStatus,
    Heartbeat,
    Job,
    PostedRecorder,
    Ready,
    Target,
    WeekContexts,
    fan_out,
)
from bot.slack_errors import (
    NETWORK_ERRORS,
    PAUSING_ERRORS,
    PERMANENT_ERRORS,
    Permanent,
    RetryLater,
    classify_api_error,
    classify_network_error,
    failure_hint,
)
from bot.slack_posts import DIGEST_EVENT, ChannelPacer, DigestParts
from digests.digest import DigestRequest, build_digest, load_profiles
from digests.errors import ConfigError, QueryError, StoreError
from digests.model import Delivery, Digest, Subscription
from digests.profile import Profile
from digests.query import parse_query
from digests.render import DEFAULT_MAX_CHARS, SlackMessage, render_digest_messages
from digests.settings import Settings
from digests.store import ArchivedForDelivery, DeliveryIntent, Store
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
]

log = logging.getLogger(__name__)


_MAX_RATE_WAITS = 10
_BACKOFF_BASE = 1.0
_BACKOFF_CAP = 30.0
_CLOSED = "the subscription is paused or was removed"


class Deliverer:
    """Posts digests for one Slack workspace token; safe to share between threads.

    ``claim_ttl``: how long the holder's claims outlive its last heartbeat; a process that
    dies leaves claims the next one takes over that long after (``bot.fanout.Heartbeat``).
    ``stale_after``: the longest any claim lives, even under a live holder (a stuck one).
    """

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
        claim_ttl: timedelta = timedelta(seconds=60),
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
        self._claim_ttl = claim_ttl
        self._max_chars = max_chars
        self._rng = rng or random.Random()  # jitter, not secrets
        self._parts = DigestParts(client)
        self._heartbeat = Heartbeat(store, holder, ttl=claim_ttl, clock=clock)

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

    def target(self, sub: Subscription, week: IsoWeek, *, whole_week: bool = False) -> Target:
        """``sub``'s digest of ``week``. ``whole_week``: an admin asked for it, so the
        subscription's start week does not cut papers announced before it."""
        key = self.delivery_key(sub.team_id, sub.channel_id, sub.id, week)
        return Target(key, sub.team_id, sub.channel_id, week, sub.tz, sub, whole_week)

    # -- whole deliveries, all through fan_out ----------------------------------------------

    def deliver(
        self, sub: Subscription, week: IsoWeek, *, whole_week: bool = False
    ) -> DeliveryResult:
        """Post ``sub``'s digest of ``week`` unless it is posted, failed or being posted."""
        key = self.delivery_key(sub.team_id, sub.channel_id, sub.id, week)
        try:
            # Read it again: it may have been paused or unsubscribed since it was scheduled.
            current = self._store.get_subscription(sub.id)
        except StoreError as e:
            log.error("delivery %s: database error, will retry later: %s", key, e)
            return DeliveryResult(key, "retry_later", error=f"database error: {e}")
        if current is None:
            return self._close([key])[0]
        return self.deliver_all([self.target(current, week, whole_week=whole_week)])[0]

    def deliver_channel_now(
        self, team_id: str, channel_id: str, week: IsoWeek
    ) -> list[DeliveryResult]:
        """An admin's "digest now": each subscription's digest of ``week`` (an unfiltered
        one when the channel has none), under the scheduled keys — never twice a week."""
        try:
            subs = self._store.list_subscriptions(team_id=team_id, channel_id=channel_id)
        except StoreError as e:
            key = self.delivery_key(team_id, channel_id, None, week)
            log.error("digest now for %s: database error: %s", channel_id, e)
            return [DeliveryResult(key, "retry_later", error=f"database error: {e}")]
        targets = [self.target(s, week, whole_week=True) for s in subs] or [
            Target(
                self.delivery_key(team_id, channel_id, None, week),
                team_id,
                channel_id,
                week,
                self._core.tz,
                None,
            )
        ]
        return self.deliver_all(targets)

    def resume_unfinished(self) -> list[DeliveryResult]:
        """After a restart: finish deliveries left pending, or claimed by a holder that died."""
        try:
            found = self.unfinished()
        except StoreError as e:
            log.error("cannot list unfinished deliveries: %s", e)
            return []
        done = iter(self.deliver_all([u for u in found if isinstance(u, Target)]))
        return [next(done) if isinstance(u, Target) else u for u in found]

    def deliver_all(self, targets: Sequence[Target]) -> list[DeliveryResult]:
        """Claim, prepare and post ``targets`` (a channel's in order); an unexpected error
        is raised once the others are done, its claim handed back."""
        if not targets:
            return []
        report = fan_out(
            self,
            targets,
            contexts=WeekContexts(self._store, now=self._clock()),
            recorder=PostedRecorder(self._store, self._clock),
            renew_every=self._claim_ttl.total_seconds() / 4,
        )
        results: list[DeliveryResult] = []
        for t, outcome in zip(targets, report.outcomes, strict=True):
            if isinstance(outcome, Exception):
                raise outcome
            results.append(outcome or DeliveryResult(t.key, "retry_later", error="not started"))
        return results

    def unfinished(self) -> list[Target | DeliveryResult]:
        """The unfinished deliveries a claim would take now (pending, or held by a holder
        that died), as targets; those of a paused or removed subscription are closed."""
        now = self._clock()
        rows = self._store.claimable_deliveries(now=now, stale_after=self._stale_after)
        subs = (
            {s.id: s for s in self._store.list_subscriptions(active_only=False)}
            if any(d.subscription_id is not None for d in rows)
            else {}
        )
        out: list[Target | DeliveryResult | str] = []
        for d in rows:
            try:
                week = parse_week(d.week)
            except ConfigError:
                log.error("delivery %s has an unreadable week %r; skipped", d.key, d.week)
                continue
            sub = subs.get(d.subscription_id) if d.subscription_id is not None else None
            if d.subscription_id is None:
                out.append(Target(d.key, d.team_id, d.channel_id, week, self._core.tz, None))
            elif sub is None or not sub.active:
                out.append(d.key)
            else:
                out.append(Target(d.key, sub.team_id, sub.channel_id, week, sub.tz, sub))
        closed = iter(self._close([k for k in out if isinstance(k, str)]))
        return [next(closed) if isinstance(u, str) else u for u in out]

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
            except NETWORK_ERRORS as e:
                log.warning("could not notify admin %s: %s", user, type(e).__name__)

    # -- the steps, each on a batch (bot.fanout.Road) -----------------------------------

    def keep_alive(self) -> bool:
        """Renew this holder's heartbeat, which keeps its claims live."""
        return self._heartbeat.beat()

    def holds(self, job: Job, until: datetime) -> bool:
        """Whether ``job`` may still be posted until ``until``: claimed in this heartbeat
        life, and young enough (each post checks the heartbeat itself)."""
        return job.life == self._heartbeat.life and until < job.deadline

    def claim(self, targets: Sequence[Target]) -> list[Job | DeliveryResult]:
        """Record and claim ``targets`` in one transaction: each one's ``Job``, or what became
        of it (already posted, failed, in progress, a paused subscription closed)."""
        out: list[Job | DeliveryResult | None] = [None] * len(targets)
        inactive = [
            n for n, t in enumerate(targets) if t.subscription and not t.subscription.active
        ]
        for n, result in zip(
            inactive, self._close([targets[n].key for n in inactive]), strict=True
        ):
            out[n] = result
        live = [n for n in range(len(targets)) if out[n] is None]
        if not live:
            return [o for o in out if o is not None]
        try:
            if not self.keep_alive():
                raise StoreError("the holder's heartbeat could not be renewed")
            now, life = self._clock(), self._heartbeat.life
            claimed = self._store.claim_deliveries(
                [_intent(targets[n]) for n in live],
                holder=self._holder,
                now=now,
                stale_after=self._stale_after,
            )
            missed = [targets[n].key for n in live if targets[n].key not in claimed]
            known = self._store.deliveries_by_key(missed) if missed else {}
        except StoreError as e:
            log.error("claims: database error, will retry later: %s", e)
            for n in live:
                out[n] = DeliveryResult(targets[n].key, "retry_later", error=f"database error: {e}")
            return [o for o in out if o is not None]
        for n in live:
            t = targets[n]
            claim = claimed.get(t.key)
            if claim is None:
                out[n] = _unclaimed_result(t.key, known.get(t.key))
                continue
            if claim.attempts > 1:
                log.info("delivery %s: attempt %d, checking Slack first", t.key, claim.attempts)
            out[n] = Job(t, claim, deadline=now + self._stale_after / 2, life=life)
        return [o for o in out if o is not None]

    def prepare(
        self, jobs: Sequence[Job], contexts: WeekContexts
    ) -> list[Ready | DeliveryResult | Exception]:
        """Build, archive, attach and render the digests of claimed jobs, in order.

        New digests are built from the shared weeks at ``contexts.now`` and archived and
        attached in one transaction, before any of them is posted; a job whose earlier
        attempt archived one reuses it, so a retry posts what the first try began. A job
        that cannot be prepared is settled here (failed for good, or released for later);
        an unexpected error is handed back, its claim released.
        """
        out: list[Ready | DeliveryResult | Exception | None] = [None] * len(jobs)
        built: list[tuple[int, Digest, DigestRequest, list[SlackMessage]]] = []
        try:
            # What each channel was already sent, for all the chunk's digests in one query;
            # each channel's profile, its verdicts and their papers read once for all.
            sent = self._store.sent_paper_ids(
                (j.target.team_id, j.target.channel_id, j.target.week.label) for j in jobs
            )
            profiles = self._profiles(jobs, contexts)
        except StoreError as e:
            log.error("fan-out: reading the papers already sent or the profiles failed: %s", e)
            return [self._released(job, e) for job in jobs]
        for n, job in enumerate(jobs):
            t = job.target
            try:
                archived = self._archived(job)
                if archived is not None:
                    messages = render_digest_messages(archived, max_chars=self._max_chars)
                    out[n] = Ready(job, messages, len(archived.items))
                    continue
                request = replace(self._request_for(t, contexts.now), profile=profiles[t.channel])
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
                self._fail(job, Permanent(f"bad_subscription: {e}"))
                out[n] = DeliveryResult(t.key, "failed", error=f"bad_subscription: {e}")
            except Exception as e:
                log.exception("delivery %s: preparing the digest failed", t.key)
                out[n] = self._released(job, e)
        if built:
            try:
                self._store.archive_digests(
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
                log.info("fan-out: %d digests prepared and archived", len(built))
        return [o for o in out if o is not None]

    def post(
        self,
        ready: Ready,
        recorder: PostedRecorder,
        slot: threading.Semaphore | None = None,
    ) -> DeliveryResult:
        """Post a prepared delivery and settle its claim.

        The posted delivery is recorded at ``recorder``'s next flush (in a batch); partial
        posts and failures are recorded at once. ``slot``: held by the caller while it
        works, lent out during every wait (see ``Job.slot``).
        """
        job = ready.job
        job.slot = slot
        t = job.target
        try:
            parent, replies = self._post_parts(job, ready.messages)
        except RetryLater as e:
            self.release([job], error=e.error)
            log.warning("delivery %s: will retry later: %s", t.key, e.error)
            return DeliveryResult(t.key, "retry_later", error=e.error, slack_down=e.slack_down)
        except Permanent as e:
            self._fail(job, e)
            return DeliveryResult(t.key, "failed", error=e.code)
        except Exception as e:
            self._release_unexpected(job, e)
            raise
        recorder.add(job.claim.id, message_ts=parent, reply_ts=replies)
        log.info(
            "delivery %s: posted ts=%s with %d thread replies, %d papers",
            t.key,
            parent,
            len(replies),
            ready.items,
        )
        return DeliveryResult(t.key, "posted", message_ts=parent, items=ready.items)

    def release(self, jobs: Sequence[Job], *, error: str) -> None:
        """Hand claimed jobs that will not be posted now back to pending."""
        for job in jobs:
            try:
                self._store.release_delivery(
                    job.claim.id,
                    error=error,
                    now=self._clock(),
                    permanent=False,
                    holder=self._holder,
                )
            except StoreError as e:
                log.error("delivery %s: could not release the claim: %s", job.key, e)

    # -- preparing ------------------------------------------------------------------------

    def _close(self, keys: Sequence[str]) -> list[DeliveryResult]:
        """Paused or removed subscriptions: nothing is posted, and their unfinished
        deliveries are closed so they stop coming back."""
        if not keys:
            return []
        try:
            unfinished = [
                d
                for d in self._store.deliveries_by_key(keys).values()
                if d.state in ("pending", "posting")
            ]
            if unfinished and self.keep_alive():
                claimed = self._store.claim_deliveries(
                    [
                        DeliveryIntent(d.key, d.team_id, d.channel_id, d.week, d.subscription_id)
                        for d in unfinished
                    ],
                    holder=self._holder,
                    now=self._clock(),
                    stale_after=self._stale_after,
                )
                for claim in claimed.values():
                    self._store.release_delivery(
                        claim.id,
                        error=_CLOSED,
                        now=self._clock(),
                        permanent=True,
                        holder=self._holder,
                    )
        except StoreError as e:
            log.error("closing %d deliveries: database error, will retry later: %s", len(keys), e)
            return [DeliveryResult(k, "retry_later", error=f"database error: {e}") for k in keys]
        return [DeliveryResult(k, "failed", error=_CLOSED) for k in keys]

    def _profiles(
        self, jobs: Sequence[Job], contexts: WeekContexts
    ) -> dict[tuple[str, str], Profile]:
        """The profiles of the channels whose digests are to be built, read in one go;
        the papers of their weeks are read by title alone (the weeks hold their text)."""
        fresh = [j for j in jobs if j.claim.digest_id is None]
        weeks = dict.fromkeys((j.target.week, j.target.tz) for j in fresh)
        known: Collection[int] = ()
        for week, tz in weeks:
            announced = contexts.get(week, tz, weights=self._core.rank_weights).announced
            known = announced if not known else {*known, *announced}
        channels = list(dict.fromkeys(j.target.channel for j in fresh))
        return load_profiles(
            self._store,
            channels,
            now=contexts.now,
            week_ids=known,
            papers=contexts.profile_papers,
        )

    def _archived(self, job: Job) -> Digest | None:
        """The digest an earlier attempt of this delivery archived, if any."""
        if job.claim.digest_id is None:
            return None
        start, end = week_bounds(job.target.week, job.target.tz)
        return self._store.load_digest(job.claim.digest_id, start=start, end=end)

    def _request_for(self, t: Target, now: datetime) -> DigestRequest:
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

    def _digest_key(self, t: Target, request: DigestRequest, sent: set[int]) -> Hashable:
        """Everything a fan-out digest depends on besides the run's shared weeks."""
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
            # A channel with a profile gets a digest of its own.
            t.channel if request.profile is not None and not request.profile.empty else None,
        )

    def _released(self, job: Job, e: Exception) -> DeliveryResult | Exception:
        try:
            self._release_unexpected(job, e)
        except StoreError as again:
            log.error("delivery %s: could not release the claim: %s", job.key, again)
        if isinstance(e, StoreError):
            return DeliveryResult(job.key, "retry_later", error=f"database error: {e}")
        return e

    def _release_unexpected(self, job: Job, e: Exception) -> None:
        # Whatever broke, the claim goes back to pending at once instead of waiting to be
        # taken over; the next try looks in Slack before posting.
        self._store.release_delivery(
            job.claim.id,
            error=f"unexpected {type(e).__name__}",
            now=self._clock(),
            permanent=False,
            holder=self._holder,
        )

    # -- posting --------------------------------------------------------------------------

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

    def _still_ours(self, job: Job) -> None:
        """Raise ``RetryLater`` unless the claim surely stays ours while one call is made."""
        self.keep_alive()
        now = self._clock()
        if now > job.deadline:
            raise RetryLater("the claim is too old to post under")
        if not self._heartbeat.covers(job, now):
            raise RetryLater("this process's heartbeat lapsed: its claim may be taken over")

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
                self._still_ours(job)
                if unsure:
                    found = self._parts.find(
                        t.channel_id, t.key, part, thread_ts, since=job.claim.created_at
                    )
                    if found is not None:
                        log.info("delivery %s: part %d already in Slack, ts=%s", t.key, part, found)
                        return found, True
                    # Not there: neither is any later part (we post in order).
                    unsure = checking = False
                self._pacer.wait(t.channel_id, idle=job.idle)
                self._still_ours(job)
                return self._parts.post(t.channel_id, t.key, part, message, thread_ts), False
            except SlackApiError as e:
                failure = classify_api_error(e)
            except NETWORK_ERRORS as e:
                failure = classify_network_error(e)
            what = "checking for" if checking else "posting"
            if failure.kind == "rate":
                rate_waits += 1
                if rate_waits > _MAX_RATE_WAITS:
                    raise RetryLater(f"ratelimited {rate_waits} times while {what} part {part}")
                self._pacer.hold(t.channel_id, failure.retry_after)
                self._wait(job, failure.retry_after, f"ratelimited while {what} part {part}")
                continue
            if failure.kind == "permanent":
                raise Permanent(failure.code, checking=checking)
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
                raise RetryLater(
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
        """Sleep ``seconds`` with the worker slot lent out, keeping the heartbeat on."""
        if self._clock() + timedelta(seconds=seconds) > job.deadline:
            raise RetryLater(
                f"{why}; waiting {seconds:.0f}s more would outlast the claim",
                slack_down=slack_down,
            )
        step = self._claim_ttl.total_seconds() / 4
        with job.idle():
            while seconds > 0:
                self._sleep(min(seconds, step))
                seconds -= step
                self.keep_alive()

    # -- permanent failure ----------------------------------------------------------------

    def _fail(self, job: Job, e: Permanent) -> None:
        t = job.target
        now = self._clock()
        paused = e.code in PAUSING_ERRORS and t.subscription is not None
        error = f"{e.code} (while checking Slack for an earlier post)" if e.checking else e.code
        self._store.release_delivery(
            job.claim.id, error=error, now=now, permanent=True, holder=self._holder
        )
        if t.subscription is not None:
            self._store.record_subscription_error(
                t.subscription.id, error=error, now=now, deactivate=paused
            )
        log.error("delivery %s failed for good: %s", t.key, error)
        self.notify_admins(
            f"paperbot could not post the weekly digest ({t.week.label}) to <#{t.channel_id}>: "
            f"{e.code} — {failure_hint(e.code, paused, e.checking)}."
        )


def _intent(t: Target) -> DeliveryIntent:
    sub_id = t.subscription.id if t.subscription else None
    return DeliveryIntent(t.key, t.team_id, t.channel_id, t.week.label, sub_id)


def _unclaimed_result(key: str, d: Delivery | None) -> DeliveryResult:
    """What a delivery we could not claim is doing."""
    if d is not None and d.state == "posted":
        return DeliveryResult(key, "already_posted", message_ts=d.message_ts)
    if d is not None and d.state == "failed":
        return DeliveryResult(key, "failed", error=d.last_error)
    return DeliveryResult(key, "in_progress")
