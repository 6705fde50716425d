"""The scheduler: each tick takes due digests and due sources from storage and hands them on.

::

    tick = take/renew the leader lease | resume unfinished deliveries
         | deliver each subscription's latest due week | poll due sources | tell admins
         | claim and prepare the runs due before the next tick

Delivering fans out. The tick works out which subscriptions are due, reads their
deliveries in one query, and claims all the due ones in one transaction
(``Deliverer.claim_many``). The coordinating thread then prepares the claimed deliveries
in chunks (digests built from the tick's shared weeks, ``bot.deliver.WeekContexts``;
archived and attached in one transaction per chunk; rendered) and hands each channel, once
all its deliveries are prepared, to the posting threads. One channel's deliveries go in
order on one thread, so a channel never has two deliveries at once. At most ``workers``
threads post at a time; a thread waiting out Slack's pacing, a ``Retry-After`` or a
backoff lends its slot to another thread (there are up to 16 threads per worker), so a
waiting channel holds up no other. Posted deliveries are recorded in batches, at least
every 0.1 s (``bot.deliver.PostedRecorder``). The coordinating thread keeps renewing the
lease; once it is lost, no thread starts another delivery, and the tick's claimed but
unstarted deliveries go back to pending for the new leader.

Preparing ahead. A tick also claims and prepares the runs that fire before the next tick
(within ``tick_seconds``), with the fire time as the digests' ``now``, and keeps them
ready; the first tick at or after the fire time only posts them (with the background
thread running, a tick is also set for the fire time itself, so digests go out on time).
A digest is therefore built up to one tick before its run: papers stored in that last
interval wait for the next week's digest, as papers stored after the run always did. A
prepared run is set aside, its claim handed back to pending and the run prepared again
when it is due, if its subscription changed in between (query, schedule, paused) or
the claim grew too old to post under; one whose subscription is gone, or no longer
due, goes back to pending too (``resume_unfinished`` closes or delivers it). When the
lease is lost, or at ``shutdown``, every prepared run goes back to pending for the next
leader. A process that dies holding prepared runs leaves claims that go stale after
the deliverer's ``stale_after`` and are then finished by whoever leads, looking in
Slack first.

Apart from those prepared runs it keeps no jobs of its own. Every tick reads
subscriptions, deliveries and sources from the store, so a channel that subscribes,
changes its schedule or leaves is followed at the next tick without a restart, and a
restart loses nothing. Several processes may run a
scheduler on one PostgreSQL database: only the holder of the ``scheduler`` lease works,
renewing it at every tick; when the holder dies, another takes over once the lease ends
(at most ``lease_ttl``). Posting is at most once per delivery key in any case (the
deliverer claims each key in the store), so a takeover never posts a digest twice.

When a subscription fires, and which week it covers
---------------------------------------------------
``digests.calendar`` holds the rules: weekly at a wall time in the subscription's zone, each
run covering the ISO week that holds most of the seven days before it, never a week before
the subscription's ``start_week``. So every week gets exactly one digest per subscription
and no week is skipped while the bot runs.

After downtime only the latest missed run is delivered, once: a bot that was down for
three weeks posts one digest, not three.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time as _time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient

from bot.config import BotSettings
from bot.deliver import Deliverer, DeliveryResult, Job, PostedRecorder, Ready, WeekContexts
from digests.calendar import due_week, next_run
from digests.errors import ConfigError
from digests.ingest import SourceReport, fetch_settings_for, poll_sources
from digests.model import SourceInfo, Subscription
from digests.store import Store
from digests.topics import load_rules
from digests.weeks import IsoWeek

__all__ = [
    "LEASE_NAME",
    "DeliveryOutcome",
    "Scheduler",
    "TickReport",
    "build_scheduler",
]

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# Health values that mean "an admin should look at this source".
UNHEALTHY = frozenset({"failing", "empty", "stale"})
# Deliveries in these states are settled: the scheduler never asks for them again.
SETTLED = frozenset({"posted", "failed"})
# The claimed deliveries are prepared (built, archived, rendered) this many at a time, and
# posted records are written at least this often (seconds) while the workers post.
_PREPARE_CHUNK = 32
_RECORD_EVERY = 0.1
# Threads per active worker: a thread waiting out pacing or a Retry-After lends its slot
# to another, so a few hundred waiting channels still leave ``workers`` posting.
_THREADS_PER_WORKER = 16
_MAX_THREADS = 256
# A tick set for a fire time runs this much after it.
_FIRE_MARGIN = timedelta(milliseconds=50)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- the scheduler -------------------------------------------------------------------------


class DeliveryResultLike(Protocol):
    @property
    def status(self) -> str: ...


class DelivererLike(Protocol):
    """What the scheduler needs of ``bot.deliver.Deliverer``."""

    def delivery_key(
        self, team_id: str, channel_id: str, subscription_id: int, week: IsoWeek, /
    ) -> str: ...

    def claim_many(
        self, due: Sequence[tuple[Subscription, IsoWeek]], /
    ) -> list[Job | DeliveryResult]: ...

    def prepare_many(
        self, jobs: Sequence[Job], contexts: WeekContexts, /
    ) -> list[Ready | DeliveryResult | Exception]: ...

    def post_ready(
        self,
        ready: Ready,
        recorder: PostedRecorder | None = None,
        slot: threading.Semaphore | None = None,
        /,
    ) -> DeliveryResultLike: ...

    def release_unstarted(self, jobs: Sequence[Job], /, *, error: str) -> None: ...

    def resume_unfinished(self) -> Sequence[DeliveryResultLike]: ...


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one subscription's job did in a tick."""

    subscription_id: int
    channel_id: str
    week: str
    status: str  # the deliverer's status, or "error" when the job raised


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did. ``leader`` is False when another process holds the lease."""

    at: datetime
    holder: str
    leader: bool
    leader_holder: str | None = None  # who holds the lease (self when leader)
    resumed: tuple[str, ...] = ()  # statuses of the unfinished deliveries taken up again
    deliveries: tuple[DeliveryOutcome, ...] = ()
    polled: tuple[SourceReport, ...] = ()
    notified: tuple[str, ...] = ()  # sources admins were told about
    # The runs due before the next tick: claimed and prepared ("prepared"), or settled
    # already (e.g. "failed" for a query that no longer parses).
    prepared: tuple[DeliveryOutcome, ...] = ()
    errors: tuple[str, ...] = ()
    lost_lease: bool = False  # the lease went to another process during the tick

    @property
    def posted(self) -> int:
        return sum(1 for d in self.deliveries if d.status == "posted")


@dataclass
class _Tick:
    at: datetime
    started: float
    resumed: list[str] = field(default_factory=list)
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    polled: list[SourceReport] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    prepared: list[DeliveryOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    subs: Sequence[Subscription] | None = None  # as read by this tick's delivery step
    led: bool = False  # held the lease at some point of this tick
    resume_ok: bool = False  # resume_unfinished ran through: it owns unfinished deliveries
    lost_lease: bool = False


@dataclass(frozen=True, slots=True)
class _Ahead:
    """A run claimed and prepared before its fire time, waiting for it."""

    fire: datetime
    sub: Subscription
    week: IsoWeek
    ready: Ready


@dataclass
class _FanOut:
    """What the delivery workers of one tick share."""

    contexts: WeekContexts
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[tuple[int, DeliveryOutcome]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, n: int, outcome: DeliveryOutcome) -> None:
        with self.lock:
            self.outcomes.append((n, outcome))

    def add_error(self, n: int, error: str) -> None:
        with self.lock:
            self.errors.append((n, error))


class Scheduler:
    """Runs ``tick`` every ``tick_seconds`` on a background thread; ``tick`` works alone too."""

    def __init__(
        self,
        *,
        store: Store,
        deliverer: DelivererLike,
        poll: Callable[[Sequence[SourceInfo]], list[SourceReport]],
        clock: Clock,
        holder: str,
        lease_ttl: timedelta = timedelta(seconds=60),
        tick_seconds: float = 30,
        notify: Callable[[str], None] | None = None,
        workers: int = 8,
    ) -> None:
        if tick_seconds <= 0 or timedelta(seconds=tick_seconds) * 2 > lease_ttl:
            # Renewing at least twice per lease keeps one slow tick from losing it.
            raise ConfigError(
                f"tick_seconds={tick_seconds} must be positive and at most half of "
                f"lease_ttl={lease_ttl.total_seconds():g}s"
            )
        if workers < 1:
            raise ConfigError(f"workers={workers} must be at least 1")
        self.store = store
        self.deliverer = deliverer
        self.poll = poll
        self.clock = clock
        self.holder = holder
        self.lease_ttl = lease_ttl
        self.tick_seconds = tick_seconds
        self.notify = notify
        self.workers = workers
        # While workers post, the lease is renewed this often (several times per lease).
        self.renew_every = min(tick_seconds, lease_ttl.total_seconds() / 4)
        self._lock = threading.Lock()  # one tick at a time, whoever calls it
        self._aps: Any = None  # apscheduler has no type hints; kept to this attribute
        # Runs claimed and prepared before their fire time, by delivery key (under _lock).
        self._ahead: dict[str, _Ahead] = {}

    # -- one tick --------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Lead or stand by; when leading, deliver what is due and poll what is due."""
        with self._lock:
            t = _Tick(at=now or self.clock(), started=_time.monotonic())
            if not self._renew(t):
                self._hand_back_ahead("the scheduler lease is held by another process")
                leader = None if t.errors else self.store.lease_holder(LEASE_NAME, now=t.at)
                log.debug("holder=%s standing by: the lease is held by %s", self.holder, leader)
                return TickReport(
                    at=t.at,
                    holder=self.holder,
                    leader=False,
                    leader_holder=leader,
                    errors=tuple(t.errors),
                )
            self._resume(t)
            if self._renew(t):
                self._deliver_due(t)
            if self._renew(t):
                self._poll_due(t)
            if self._renew(t):
                self._notify_health(t)
            if self._renew(t):
                self._prepare_ahead(t)
            if t.lost_lease:
                self._hand_back_ahead("the scheduler lease was lost")
            return TickReport(
                at=t.at,
                holder=self.holder,
                leader=True,
                leader_holder=self.holder,
                resumed=tuple(t.resumed),
                deliveries=tuple(t.deliveries),
                polled=tuple(t.polled),
                notified=tuple(t.notified),
                prepared=tuple(t.prepared),
                errors=tuple(t.errors),
                lost_lease=t.lost_lease,
            )

    def _renew(self, t: _Tick) -> bool:
        """Take or renew the lease before each step, so a long tick keeps it.

        The time is the tick's plus what the tick has taken so far: a test's frozen clock
        stays deterministic, and a real long tick still pushes the expiry forward.
        """
        if t.lost_lease:
            return False
        at = t.at + timedelta(seconds=_time.monotonic() - t.started)
        try:
            held = self.store.acquire_lease(
                LEASE_NAME, holder=self.holder, ttl=self.lease_ttl, now=at
            )
        except Exception as e:  # the database may be down: stand by, try at the next tick
            log.warning("holder=%s cannot take the scheduler lease: %s", self.holder, e)
            t.errors.append(f"lease: {e}")
            held = False
        if held:
            t.led = True
        elif t.led:
            # Lost during the tick: the new leader does the rest; claims keep posts single.
            log.warning("holder=%s lost the scheduler lease mid-tick", self.holder)
            t.lost_lease = True
        return held

    def _resume(self, t: _Tick) -> None:
        try:
            results = self.deliverer.resume_unfinished()
        except Exception as e:
            log.exception("holder=%s resuming unfinished deliveries failed", self.holder)
            t.errors.append(f"resume: {e}")
            return
        t.resumed.extend(str(r.status) for r in results)
        t.resume_ok = True

    def _deliver_due(self, t: _Tick) -> None:
        try:
            subs = self.store.list_subscriptions()
        except Exception as e:
            log.exception("holder=%s cannot list subscriptions", self.holder)
            t.errors.append(f"subscriptions: {e}")
            return
        t.subs = subs
        fan = _FanOut(contexts=WeekContexts(self.store, now=t.at))
        due = self._due(subs, t, fan)
        prepared = self._take_ahead(due or [], t)
        if due is None:
            t.deliveries.extend(o for _n, o in sorted(fan.outcomes))
            t.errors.extend(e for _n, e in sorted(fan.errors))
            return
        started = _time.monotonic()
        fresh = [(n, sub, week) for n, sub, week in due if n not in prepared]
        claims = dict(
            zip(
                [n for n, _s, _w in fresh],
                self.deliverer.claim_many([(sub, week) for _n, sub, week in fresh]),
                strict=True,
            )
        )
        # One group per channel, in listing order: a channel's deliveries stay in order
        # on one worker, and never two of one channel run at once.
        groups: dict[tuple[str, str], list[tuple[int, Subscription, IsoWeek, Job]]] = {}
        for n, sub, week in due:
            claim = prepared[n].job if n in prepared else claims[n]
            if isinstance(claim, Job):
                groups.setdefault((sub.team_id, sub.channel_id), []).append((n, sub, week, claim))
            else:
                fan.add(n, self._outcome(sub, week, t.at, str(claim.status)))
        workers = max(1, min(self.workers, len(groups)))
        # Threads beyond the active workers take over while some wait out a Retry-After.
        threads = max(workers, min(len(groups), workers * _THREADS_PER_WORKER, _MAX_THREADS))
        recorder = PostedRecorder(self.store, self.clock)
        if groups:
            self._fan_out(groups, prepared, workers, threads, t, fan, recorder)
        outcomes = sorted(fan.outcomes)  # listing order, whatever order they finished in
        t.deliveries.extend(o for _n, o in outcomes)
        t.errors.extend(e for _n, e in sorted(fan.errors))
        log.info(
            "holder=%s fan-out: %d subscriptions, %d claimed (%d prepared ahead) in %d "
            "channels on %d workers: %d delivered or settled, %d posted, %d week contexts, "
            "%.1fs%s",
            self.holder,
            len(subs),
            sum(len(g) for g in groups.values()),
            len(prepared),
            len(groups),
            workers,
            len(outcomes),
            sum(1 for _n, o in outcomes if o.status == "posted"),
            fan.contexts.loaded(),
            _time.monotonic() - started,
            "; stopped: the lease was lost" if fan.stop.is_set() else "",
        )

    def _due(
        self, subs: Sequence[Subscription], t: _Tick, fan: _FanOut
    ) -> list[tuple[int, Subscription, IsoWeek]] | None:
        """The subscriptions to deliver now with their weeks, in listing order."""
        candidates: list[tuple[int, Subscription, IsoWeek, str]] = []
        for n, sub in enumerate(subs):
            try:
                week = due_week(sub, t.at)
            except Exception as e:
                # One subscription's trouble (a bad zone) never stops the others.
                log.exception("subscription=%s: cannot tell when it is due", sub.id)
                fan.add_error(n, f"subscription {sub.id}: {e}")
                fan.add(n, DeliveryOutcome(sub.id, sub.channel_id, "", "error"))
                continue
            if week is not None:
                key = self.deliverer.delivery_key(sub.team_id, sub.channel_id, sub.id, week)
                candidates.append((n, sub, week, key))
        if not candidates:
            return None
        try:
            known = self.store.deliveries_by_key(k for *_rest, k in candidates)
        except Exception as e:
            log.exception("holder=%s cannot read the deliveries", self.holder)
            fan.add_error(-1, f"deliveries: {e}")
            return None
        due: list[tuple[int, Subscription, IsoWeek]] = []
        for n, sub, week, key in candidates:
            d = known.get(key)
            if key not in self._ahead and d is not None and (d.state in SETTLED or t.resume_ok):
                # Settled, or unfinished and just handed to resume_unfinished this tick:
                # asking again would be a second attempt within one tick.
                continue
            due.append((n, sub, week))
        return due or None

    def _fan_out(
        self,
        groups: dict[tuple[str, str], list[tuple[int, Subscription, IsoWeek, Job]]],
        prepared: dict[int, Ready],
        workers: int,
        threads: int,
        t: _Tick,
        fan: _FanOut,
        recorder: PostedRecorder,
    ) -> None:
        """Prepare the claimed deliveries in chunks on this thread while the workers post
        each channel's prepared ones; record the posted ones in batches.

        ``prepared``: the deliveries prepared ahead (by listing index); a channel with
        nothing else to prepare goes to the workers before any preparing starts.
        """
        ready: dict[int, Ready] = dict(prepared)
        order = [item for group in groups.values() for item in group if item[0] not in ready]
        left = {g: sum(1 for n, *_r in items if n not in ready) for g, items in groups.items()}
        unstarted: list[Job] = []
        renewed = flushed = _time.monotonic()

        def renew_if_due() -> None:
            nonlocal renewed
            if _time.monotonic() - renewed >= self.renew_every:
                renewed = _time.monotonic()
                if not self._renew(t):
                    # Whatever has started finishes (its claim keeps it single); the rest
                    # goes back to pending for the new leader.
                    fan.stop.set()

        slots = threading.Semaphore(workers)
        with ThreadPoolExecutor(threads, thread_name_prefix="paperbot-deliver") as pool:
            pending: set[Future[None]] = {
                pool.submit(
                    self._post_channel,
                    [(m, s, w, ready[m]) for m, s, w, _j in items],
                    t,
                    fan,
                    recorder,
                    unstarted,
                    slots,
                )
                for g, items in groups.items()
                if left[g] == 0
            }
            for i in range(0, len(order), _PREPARE_CHUNK):
                renew_if_due()
                if fan.stop.is_set():
                    # Not prepared yet, or prepared for a channel not handed out yet.
                    unstarted.extend(job for _n, _s, _w, job in order[i:])
                    unstarted.extend(
                        ready[m].job
                        for g, items in groups.items()
                        if left[g] > 0
                        for m, *_r in items
                        if m in ready
                    )
                    break
                chunk = order[i : i + _PREPARE_CHUNK]
                done = self.deliverer.prepare_many([job for *_r, job in chunk], fan.contexts)
                for (n, sub, week, _job), p in zip(chunk, done, strict=True):
                    if isinstance(p, Ready):
                        ready[n] = p
                    elif isinstance(p, Exception):
                        fan.add_error(n, f"subscription {sub.id}: {p}")
                        fan.add(n, DeliveryOutcome(sub.id, sub.channel_id, week.label, "error"))
                    else:
                        fan.add(n, self._outcome(sub, week, t.at, str(p.status)))
                    g = (sub.team_id, sub.channel_id)
                    left[g] -= 1
                    if left[g] == 0:
                        items = [(m, s, w, ready[m]) for m, s, w, _j in groups[g] if m in ready]
                        if items:
                            pending.add(
                                pool.submit(
                                    self._post_channel, items, t, fan, recorder, unstarted, slots
                                )
                            )
                if _time.monotonic() - flushed >= _RECORD_EVERY:
                    recorder.flush()
                    flushed = _time.monotonic()
            while pending:
                _done, pending = wait_futures(
                    pending, timeout=_RECORD_EVERY, return_when=FIRST_COMPLETED
                )
                recorder.flush()
                if pending:
                    renew_if_due()
        recorder.flush()
        if unstarted:
            self.deliverer.release_unstarted(
                unstarted, error="not started: the scheduler lease was lost"
            )

    def _post_channel(
        self,
        items: list[tuple[int, Subscription, IsoWeek, Ready]],
        t: _Tick,
        fan: _FanOut,
        recorder: PostedRecorder,
        unstarted: list[Job],
        slots: threading.Semaphore,
    ) -> None:
        """One channel's prepared deliveries, in order, on one thread holding an active
        slot (lent out while it waits)."""
        with slots:
            self._post_channel_items(items, t, fan, recorder, unstarted, slots)

    def _post_channel_items(
        self,
        items: list[tuple[int, Subscription, IsoWeek, Ready]],
        t: _Tick,
        fan: _FanOut,
        recorder: PostedRecorder,
        unstarted: list[Job],
        slots: threading.Semaphore,
    ) -> None:
        for n, sub, week, ready in items:
            if fan.stop.is_set():
                with fan.lock:
                    unstarted.append(ready.job)
                continue
            began = _time.monotonic()
            try:
                result = self.deliverer.post_ready(ready, recorder, slots)
            except Exception as e:
                # One channel's trouble (a Slack error) never stops the others.
                log.exception(
                    "subscription=%s team=%s channel=%s: the scheduled digest failed",
                    sub.id,
                    sub.team_id,
                    sub.channel_id,
                )
                fan.add_error(n, f"subscription {sub.id}: {e}")
                fan.add(n, DeliveryOutcome(sub.id, sub.channel_id, week.label, "error"))
                continue
            log.info(
                "subscription=%s team=%s channel=%s week=%s status=%s in %.2fs",
                sub.id,
                sub.team_id,
                sub.channel_id,
                week.label,
                result.status,
                _time.monotonic() - began,
            )
            fan.add(n, DeliveryOutcome(sub.id, sub.channel_id, week.label, str(result.status)))

    def _outcome(
        self, sub: Subscription, week: IsoWeek, at: datetime, status: str
    ) -> DeliveryOutcome:
        log.info(
            "subscription=%s team=%s channel=%s week=%s status=%s",
            sub.id,
            sub.team_id,
            sub.channel_id,
            week.label,
            status,
        )
        return DeliveryOutcome(sub.id, sub.channel_id, week.label, status)

    # -- runs prepared before their fire time -----------------------------------------------

    def _take_ahead(
        self, due: Sequence[tuple[int, Subscription, IsoWeek]], t: _Tick
    ) -> dict[int, Ready]:
        """The prepared runs among ``due`` (by listing index) that are still what their
        subscription asks for; every other prepared run due by now goes back to pending."""
        if not self._ahead:
            return {}
        taken: dict[int, Ready] = {}
        back: list[_Ahead] = []
        # Posting must end well before the claim could be taken over.
        latest = t.at + timedelta(seconds=self.tick_seconds)
        for n, sub, week in due:
            key = self.deliverer.delivery_key(sub.team_id, sub.channel_id, sub.id, week)
            a = self._ahead.pop(key, None)
            if a is None:
                continue
            if _same_run(a.sub, sub) and a.week == week and latest < a.ready.job.deadline:
                taken[n] = a.ready
            else:
                back.append(a)  # claimed again below and prepared anew
        for key, a in list(self._ahead.items()):
            if a.fire <= t.at:  # removed, or no longer due at this time
                back.append(self._ahead.pop(key))
        if back:
            self._release_ahead(
                back, "its subscription changed or went, or its claim grew too old to post under"
            )
        return taken

    def _prepare_ahead(self, t: _Tick) -> None:
        """Claim and prepare the runs that fire before the next tick (see the module doc)."""
        if t.subs is None:
            return  # the delivery step could not read them; it said so
        horizon = t.at + timedelta(seconds=self.tick_seconds)
        coming: list[tuple[datetime, Subscription, IsoWeek]] = []
        for sub in t.subs:
            if not sub.active:
                continue
            try:
                fire = next_run(sub, t.at)
                week = due_week(sub, fire) if fire <= horizon else None
            except Exception as e:  # a bad zone: the delivery step reported it
                log.debug("subscription=%s: no coming run to prepare: %s", sub.id, e)
                continue
            if week is None:
                continue
            if self.deliverer.delivery_key(sub.team_id, sub.channel_id, sub.id, week) in (
                self._ahead
            ):
                continue
            coming.append((fire, sub, week))
        if not coming:
            return
        started = renewed = _time.monotonic()
        try:
            claims = self.deliverer.claim_many([(sub, week) for _f, sub, week in coming])
        except Exception as e:
            log.exception("holder=%s claiming the coming runs failed", self.holder)
            t.errors.append(f"prepare ahead: {e}")
            return
        by_fire: dict[datetime, list[tuple[Subscription, IsoWeek, Job]]] = {}
        for (fire, sub, week), claim in zip(coming, claims, strict=True):
            if isinstance(claim, Job):
                by_fire.setdefault(fire, []).append((sub, week, claim))
            else:
                t.prepared.append(self._outcome(sub, week, fire, str(claim.status)))
        todo = [(fire, item) for fire, items in sorted(by_fire.items()) for item in items]
        contexts: dict[datetime, WeekContexts] = {}
        for i in range(0, len(todo), _PREPARE_CHUNK):
            if _time.monotonic() - renewed >= self.renew_every:
                renewed = _time.monotonic()
                if not self._renew(t):
                    self.deliverer.release_unstarted(
                        [job for _f, (_s, _w, job) in todo[i:]],
                        error="not prepared: the scheduler lease was lost",
                    )
                    return
            chunk = todo[i : i + _PREPARE_CHUNK]
            for fire in dict.fromkeys(f for f, _item in chunk):
                # The digests are what the run itself would build: its time is their now.
                part = [item for f, item in chunk if f == fire]
                context = contexts.setdefault(fire, WeekContexts(self.store, now=fire))
                self._prepare_chunk(fire, part, context, t)
        for fire in by_fire:
            self._tick_at(fire)
        log.info(
            "holder=%s prepared %d of %d runs due by %s in %.1fs",
            self.holder,
            sum(1 for o in t.prepared if o.status == "prepared"),
            len(coming),
            horizon.isoformat(timespec="seconds"),
            _time.monotonic() - started,
        )

    def _prepare_chunk(
        self,
        fire: datetime,
        items: Sequence[tuple[Subscription, IsoWeek, Job]],
        contexts: WeekContexts,
        t: _Tick,
    ) -> None:
        try:
            done = self.deliverer.prepare_many([job for _s, _w, job in items], contexts)
        except Exception as e:
            log.exception("holder=%s preparing the coming runs failed", self.holder)
            t.errors.append(f"prepare ahead: {e}")
            self.deliverer.release_unstarted(
                [job for _s, _w, job in items], error=f"not prepared: {e}"
            )
            return
        for (sub, week, job), p in zip(items, done, strict=True):
            if isinstance(p, Ready):
                self._ahead[job.key] = _Ahead(fire, sub, week, p)
                t.prepared.append(DeliveryOutcome(sub.id, sub.channel_id, week.label, "prepared"))
            elif isinstance(p, Exception):
                t.errors.append(f"subscription {sub.id}: {p}")
                t.prepared.append(DeliveryOutcome(sub.id, sub.channel_id, week.label, "error"))
            else:
                t.prepared.append(self._outcome(sub, week, fire, str(p.status)))

    def _tick_at(self, fire: datetime) -> None:
        """With the background thread running, one more tick at ``fire`` itself."""
        if self._aps is None:
            return
        # APScheduler waits on the system clock; ours may be set apart from it. A moment
        # after the fire time, so that the tick's own clock reads it as passed.
        at = datetime.now(UTC) + (fire - self.clock()) + _FIRE_MARGIN
        try:
            self._aps.add_job(
                self._tick_safely,
                DateTrigger(run_date=at, timezone=UTC),
                id=f"paperbot-fire-{fire.isoformat()}",
                replace_existing=True,
                misfire_grace_time=max(1, int(self.tick_seconds)),
            )
        except Exception as e:  # the interval tick posts it anyway, a little later
            log.warning("holder=%s could not set a tick for %s: %s", self.holder, fire, e)

    def _hand_back_ahead(self, reason: str) -> None:
        if self._ahead:
            held, self._ahead = list(self._ahead.values()), {}
            self._release_ahead(held, reason)

    def _release_ahead(self, runs: Sequence[_Ahead], reason: str) -> None:
        log.info("holder=%s hands back %d prepared runs: %s", self.holder, len(runs), reason)
        try:
            self.deliverer.release_unstarted(
                [a.ready.job for a in runs], error=f"prepared, not posted: {reason}"
            )
        except Exception:  # their claims go stale and are taken over, looking in Slack
            log.exception("holder=%s could not hand back prepared runs", self.holder)

    def _poll_due(self, t: _Tick) -> None:
        try:
            due = self.store.due_sources(t.at)
            if due:
                t.polled.extend(self.poll(due))
        except Exception as e:
            # poll_sources keeps each source's failure on the source; this is the rest.
            log.exception("holder=%s polling due sources failed", self.holder)
            t.errors.append(f"poll: {e}")

    def _notify_health(self, t: _Tick) -> None:
        try:
            sources = self.store.list_sources(with_counts=False)
        except Exception as e:
            log.exception("holder=%s cannot read source health", self.holder)
            t.errors.append(f"health: {e}")
            return
        for s in sources:
            if s.health not in UNHEALTHY or s.health_notified_at is not None or s.retired:
                continue
            text = _health_text(s)
            try:
                if self.notify is None:
                    log.warning(
                        "source=%r needs an admin, and no one is set to hear: %s", s.name, text
                    )
                else:
                    self.notify(text)
                # Marked only once told: a failed notice is tried again at the next tick.
                self.store.mark_health_notified(s.id, now=t.at)
            except Exception as e:
                log.exception("source=%r: telling admins about its health failed", s.name)
                t.errors.append(f"notify {s.name}: {e}")
                continue
            t.notified.append(s.name)

    # -- the background thread -----------------------------------------------------------

    def start(self) -> None:
        """Tick now, then every ``tick_seconds``, on an APScheduler background thread."""
        if self._aps is not None:
            return
        aps = BackgroundScheduler(timezone=UTC)
        aps.add_job(
            self._tick_safely,
            IntervalTrigger(seconds=self.tick_seconds, timezone=UTC),
            id="paperbot-tick",
            # A tick that overran, or a process paused for a while, catches up with one tick.
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.tick_seconds)),
            next_run_time=datetime.now(UTC),
        )
        aps.start()
        self._aps = aps
        log.info("holder=%s scheduler started, ticking every %ss", self.holder, self.tick_seconds)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop ticking and hand the lease back, so another process leads at once."""
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=wait)
        with self._lock:
            self._hand_back_ahead("the scheduler shut down")
        try:
            self.store.release_lease(LEASE_NAME, holder=self.holder)
        except Exception as e:  # it runs out by itself within lease_ttl
            log.warning("holder=%s could not release the scheduler lease: %s", self.holder, e)

    def _tick_safely(self) -> None:
        try:
            self.tick()
        except Exception:
            # The thread must outlive any one tick's failure; the next tick tries again.
            log.exception("holder=%s tick failed", self.holder)


def _same_run(a: Subscription, b: Subscription) -> bool:
    """Whether a run prepared for ``a`` is still the run ``b`` asks for (errors aside)."""
    return replace(a, last_error=None, last_error_at=None) == replace(
        b, last_error=None, last_error_at=None
    )


def _health_text(s: SourceInfo) -> str:
    reason = f": {s.health_reason}" if s.health_reason else ""
    return f"Source {s.name!r} ({s.location}) is {s.health}{reason}"


# -- wiring --------------------------------------------------------------------------------


def default_holder() -> str:
    """host:pid:random, so two processes (or two runs of one pid) never share a name."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_scheduler(
    settings: BotSettings,
    *,
    store: Store,
    client: WebClient,
    clock: Clock = _utcnow,
    holder: str | None = None,
    deliverer: Deliverer | None = None,
) -> Scheduler:
    """A scheduler wired to the real deliverer, the ingest pipeline and the admins.

    Pass the process's ``deliverer`` so scheduled posts and ``/paper digest now`` share
    one per-channel pacer.
    """
    name = holder or (deliverer.holder if deliverer is not None else default_holder())
    if deliverer is None:
        deliverer = Deliverer(
            store=store,
            client=client,
            core=settings.core,
            admins=settings.slack.admins,
            holder=name,
            clock=clock,
        )
    fetch = fetch_settings_for(settings.core)
    rules = load_rules(settings.core.topics_file)

    def poll(sources: Sequence[SourceInfo]) -> list[SourceReport]:
        return poll_sources(store, sources, fetch_settings=fetch, rules=rules, clock=clock)

    return Scheduler(
        store=store,
        deliverer=deliverer,
        poll=poll,
        clock=clock,
        holder=name,
        notify=deliverer.notify_admins,
        workers=settings.core.delivery_workers,
    )
