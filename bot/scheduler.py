"""The scheduler: each tick takes due work out of the store and hands it to the fan-out.

::

    tick = take/renew the leader lease | deliver the unfinished, the due and the prepared
         runs in one fan-out (bot.fanout) | poll due sources | start enrichment
         | tell admins | claim and prepare the runs due before the next tick

Enrichment from the arXiv API (``digests.enrich``) and the signatures of ``like:``
(``digests.index``) run on threads of their own: the tick starts them and never waits.

Only the holder of the ``scheduler`` lease works. The rules that keep every week posted
once (leases, claim lifetime, prepare-ahead) are in docs/architecture.md; when a
subscription fires and which week it covers is ``digests.calendar``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time as _time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient

from bot.config import BotSettings
from bot.deliver import Deliverer
from bot.fanout import (
    DeliveryResult,
    Job,
    PostedRecorder,
    Ready,
    Road,
    Target,
    WeekContexts,
    fan_out,
)
from digests.calendar import due_week, next_run
from digests.enrich import Enricher
from digests.errors import ConfigError
from digests.index import index_papers
from digests.ingest import SourceReport, fetch_settings_for, poll_sources
from digests.model import SourceInfo, Subscription
from digests.store import Store
from digests.topics import load_rules
from digests.weeks import IsoWeek

__all__ = [
    "LEASE_NAME",
    "Background",
    "DeliveryOutcome",
    "Scheduler",
    "TickReport",
    "build_scheduler",
]

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# A background indexing run stops starting batches after this many seconds.
INDEX_BUDGET = 120.0
# Health values that mean "an admin should look at this source".
UNHEALTHY = frozenset({"failing", "empty", "stale"})
# Deliveries in these states are settled: the scheduler never asks for them again.
SETTLED = frozenset({"posted", "failed"})
# The coming runs are prepared this many at a time (the lease renewed in between).
_PREPARE_CHUNK = 32
# A tick set for a fire time runs this much after it.
_FIRE_MARGIN = timedelta(milliseconds=50)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DelivererLike(Road, Protocol):
    """What the scheduler needs of ``bot.deliver.Deliverer``."""

    def target(self, sub: Subscription, week: IsoWeek, /) -> Target: ...

    def unfinished(self) -> Sequence[Target | DeliveryResult]: ...

    def holds(self, job: Job, until: datetime, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one subscription's delivery did in a tick."""

    subscription_id: int
    channel_id: str
    week: str
    status: str  # the deliverer's status, or "error" when it raised


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
    enrichment_started: bool = False  # a background enrichment run began after the polls

    @property
    def posted(self) -> int:
        return sum(1 for d in self.deliveries if d.status == "posted")


@dataclass(frozen=True, slots=True)
class _Due:
    """A subscription's run due now: its place in the listing and the week it covers."""

    n: int
    sub: Subscription
    week: IsoWeek


@dataclass(frozen=True, slots=True)
class _Ahead:
    """A run claimed and prepared before its fire time, waiting for it."""

    fire: datetime
    sub: Subscription
    week: IsoWeek
    ready: Ready


@dataclass
class _Tick:
    at: datetime
    started: float
    resumed: list[str] = field(default_factory=list)
    deliveries: list[tuple[int, DeliveryOutcome]] = field(default_factory=list)
    polled: list[SourceReport] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    prepared: list[DeliveryOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    subs: Sequence[Subscription] | None = None  # as read by this tick's delivery step
    led: bool = False  # held the lease at some point of this tick
    lost_lease: bool = False
    enrichment_started: bool = False

    def report(self, holder: str) -> TickReport:
        return TickReport(
            at=self.at,
            holder=holder,
            leader=True,
            leader_holder=holder,
            resumed=tuple(self.resumed),
            deliveries=tuple(o for _n, o in sorted(self.deliveries, key=lambda x: x[0])),
            polled=tuple(self.polled),
            notified=tuple(self.notified),
            prepared=tuple(self.prepared),
            errors=tuple(self.errors),
            lost_lease=self.lost_lease,
            enrichment_started=self.enrichment_started,
        )


class Background:
    """A step the tick starts and never waits for: one run at a time, on a thread of its
    own, under a lease of its own so that one process of many runs it.

    ``run`` gets an event that asks it to stop between requests, and answers whether it
    left work it could do at once (the next tick then starts it again).
    """

    def __init__(
        self,
        name: str,
        run: Callable[[threading.Event], bool],
        *,
        store: Store,
        holder: str,
        clock: Clock,
        lease_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self.name = name
        self._run = run
        self._store = store
        self._holder = holder
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.more = True  # a first tick always starts a run

    def start(self) -> bool:
        """Start a run unless one is going (that one runs again when it ends: what it
        chose may miss what is new); whether one started."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self.more = True
                return False
            self.more = False
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._body, name=f"paperbot-{self.name}", daemon=True
        )
        self._thread.start()
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the current run, if any; whether none is going."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the run to stop between requests and wait a little for it."""
        self._stop.set()
        self.join(timeout)

    def _body(self) -> None:
        try:
            if not self._store.acquire_lease(
                self.name, holder=self._holder, ttl=self._lease_ttl, now=self._clock()
            ):
                log.debug("holder=%s %s: another process runs it", self._holder, self.name)
                return
            try:
                more = self._run(self._stop)
                with self._lock:
                    self.more = self.more or more
            finally:
                self._store.release_lease(self.name, holder=self._holder)
        except Exception:
            # The thread's failure must not reach the tick; a later start tries again.
            log.exception("holder=%s %s failed", self._holder, self.name)


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
        enrichment: Background | None = None,
        indexing: Background | None = None,
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
        self.enrichment = enrichment
        self.indexing = indexing
        # While a tick works, the lease is renewed this often (several times per lease).
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
            self._deliver(t)
            steps = (
                self._poll_due,
                self._start_enrichment,
                self._notify_health,
                self._prepare_ahead,
            )
            for step in steps:
                if self._renew(t):
                    step(t)
            if t.lost_lease:
                self._hand_back_ahead("the scheduler lease was lost")
            return t.report(self.holder)

    def _renew(self, t: _Tick) -> bool:
        """Take or renew the lease (and the holder's heartbeat) before each step and while
        a step works, so a long tick keeps both.

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
            self.deliverer.keep_alive()
        elif t.led:
            # Lost during the tick: the new leader does the rest; claims keep posts single.
            log.warning("holder=%s lost the scheduler lease mid-tick", self.holder)
            t.lost_lease = True
        return held

    def _deliver(self, t: _Tick) -> None:
        """One fan-out for the unfinished deliveries, the due runs and the prepared ones."""
        try:
            subs = self.store.list_subscriptions()
        except Exception as e:
            log.exception("holder=%s cannot list subscriptions", self.holder)
            t.errors.append(f"subscriptions: {e}")
            return
        t.subs = subs
        unfinished: Sequence[Target | DeliveryResult] | None
        try:
            unfinished = self.deliverer.unfinished()
        except Exception as e:
            log.exception("holder=%s listing unfinished deliveries failed", self.holder)
            t.errors.append(f"resume: {e}")
            unfinished = None
        due = self._due(subs, t, resuming=unfinished is not None)
        fresh = [self.deliverer.target(d.sub, d.week) for d in due]
        keys = {f.key for f in fresh}
        resumed: list[Target] = []
        for u in unfinished or ():
            if isinstance(u, DeliveryResult):
                t.resumed.append(u.status)
            elif u.key not in keys:  # a due run's own delivery is delivered as due
                resumed.append(u)
        prepared = self._take_ahead(due, fresh, t)
        targets = [*resumed, *fresh]
        if not targets:
            return
        started = _time.monotonic()
        contexts = WeekContexts(self.store, now=t.at)
        report = fan_out(
            self.deliverer,
            targets,
            contexts=contexts,
            recorder=PostedRecorder(self.store, self.clock),
            workers=self.workers,
            prepared={len(resumed) + i: r for i, r in prepared.items()},
            keep_leading=lambda: self._renew(t),
            renew_every=self.renew_every,
        )
        for target, outcome in zip(targets, report.outcomes, strict=True):
            if isinstance(outcome, Exception):
                t.errors.append(f"delivery {target.key}: {outcome}")
        for outcome in report.outcomes[: len(resumed)]:
            status = _status(outcome)
            if status is not None and status != "in_progress":
                t.resumed.append(status)
        for d, outcome in zip(due, report.outcomes[len(resumed) :], strict=True):
            status = _status(outcome)
            if status is not None:
                t.deliveries.append((d.n, _outcome(d.sub, d.week, status)))
        log.info(
            "holder=%s fan-out: %d subscriptions, %d resumed, %d due (%d prepared ahead), "
            "%d claimed in %d channels: %d posted, %d week contexts, %.1fs%s",
            self.holder,
            len(subs),
            len(resumed),
            len(fresh),
            len(prepared),
            report.claimed,
            report.channels,
            sum(1 for o in report.outcomes if _status(o) == "posted"),
            contexts.loaded(),
            _time.monotonic() - started,
            "; stopped: the lease was lost" if report.stopped else "",
        )

    def _due(self, subs: Sequence[Subscription], t: _Tick, *, resuming: bool) -> list[_Due]:
        """The subscriptions to deliver now with their weeks, in listing order.

        ``resuming``: the tick's unfinished deliveries were listed, so a due run whose
        delivery exists already is theirs (resumed, or left to its live holder).
        """
        candidates: list[tuple[_Due, str]] = []
        for n, sub in enumerate(subs):
            try:
                week = due_week(sub, t.at)
            except Exception as e:
                # One subscription's trouble (a bad zone) never stops the others.
                log.exception("subscription=%s: cannot tell when it is due", sub.id)
                t.errors.append(f"subscription {sub.id}: {e}")
                t.deliveries.append((n, DeliveryOutcome(sub.id, sub.channel_id, "", "error")))
                continue
            if week is not None:
                candidates.append((_Due(n, sub, week), self.deliverer.target(sub, week).key))
        if not candidates:
            return []
        try:
            known = self.store.deliveries_by_key(key for _d, key in candidates)
        except Exception as e:
            log.exception("holder=%s cannot read the deliveries", self.holder)
            t.errors.append(f"deliveries: {e}")
            return []
        due: list[_Due] = []
        for d, key in candidates:
            row = known.get(key)
            if key not in self._ahead and row is not None and (row.state in SETTLED or resuming):
                continue
            due.append(d)
        return due

    # -- runs prepared before their fire time -----------------------------------------------

    def _take_ahead(
        self, due: Sequence[_Due], targets: Sequence[Target], t: _Tick
    ) -> dict[int, Ready]:
        """The prepared runs among ``due`` (by index) that are still what their subscription
        asks for; every other prepared run due by now goes back to pending."""
        if not self._ahead:
            return {}
        taken: dict[int, Ready] = {}
        back: list[_Ahead] = []
        # Posting must end well before the claim could be taken over.
        latest = t.at + timedelta(seconds=self.tick_seconds)
        for i, (d, target) in enumerate(zip(due, targets, strict=True)):
            a = self._ahead.pop(target.key, None)
            if a is None:
                continue
            if (
                _same_run(a.sub, d.sub)
                and a.week == d.week
                and self.deliverer.holds(a.ready.job, latest)
            ):
                taken[i] = a.ready
            else:
                back.append(a)  # claimed again in the fan-out and prepared anew
        for key, a in list(self._ahead.items()):
            if a.fire <= t.at:  # removed, or no longer due at this time
                back.append(self._ahead.pop(key))
        if back:
            self._release_ahead(
                back, "its subscription changed or went, or its claim grew too old to post under"
            )
        return taken

    def _prepare_ahead(self, t: _Tick) -> None:
        """Claim and prepare the runs that fire before the next tick, with the fire time as
        their digests' ``now``; the first tick at or after it only posts them."""
        if t.subs is None:
            return  # the delivery step could not read them; it said so
        horizon = t.at + timedelta(seconds=self.tick_seconds)
        coming: list[tuple[datetime, _Due, Target]] = []
        for n, sub in enumerate(t.subs):
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
            target = self.deliverer.target(sub, week)
            if target.key not in self._ahead:
                coming.append((fire, _Due(n, sub, week), target))
        if not coming:
            return
        started = renewed = _time.monotonic()
        coming.sort(key=lambda c: c[0])
        try:
            claims = self.deliverer.claim([target for _f, _d, target in coming])
        except Exception as e:
            log.exception("holder=%s claiming the coming runs failed", self.holder)
            t.errors.append(f"prepare ahead: {e}")
            return
        todo: list[tuple[datetime, _Due, Job]] = []
        for (fire, d, _target), claim in zip(coming, claims, strict=True):
            if isinstance(claim, Job):
                todo.append((fire, d, claim))
            else:
                t.prepared.append(_outcome(d.sub, d.week, claim.status))
        contexts: dict[datetime, WeekContexts] = {}
        for i in range(0, len(todo), _PREPARE_CHUNK):
            if _time.monotonic() - renewed >= self.renew_every:
                renewed = _time.monotonic()
                if not self._renew(t):
                    self.deliverer.release(
                        [job for _f, _d, job in todo[i:]],
                        error="not prepared: the scheduler lease was lost",
                    )
                    return
            chunk = todo[i : i + _PREPARE_CHUNK]
            for fire in dict.fromkeys(f for f, _d, _j in chunk):
                # The digests are what the run itself would build: its time is their now.
                part = [(d, job) for f, d, job in chunk if f == fire]
                context = contexts.setdefault(fire, WeekContexts(self.store, now=fire))
                self._prepare_chunk(fire, part, context, t)
        for fire in contexts:
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
        items: Sequence[tuple[_Due, Job]],
        contexts: WeekContexts,
        t: _Tick,
    ) -> None:
        jobs = [job for _d, job in items]
        try:
            done = self.deliverer.prepare(jobs, contexts)
        except Exception as e:
            log.exception("holder=%s preparing the coming runs failed", self.holder)
            t.errors.append(f"prepare ahead: {e}")
            self.deliverer.release(jobs, error=f"not prepared: {e}")
            return
        for (d, job), p in zip(items, done, strict=True):
            if isinstance(p, Ready):
                self._ahead[job.key] = _Ahead(fire, d.sub, d.week, p)
                t.prepared.append(_outcome(d.sub, d.week, "prepared"))
            elif isinstance(p, Exception):
                t.errors.append(f"subscription {d.sub.id}: {p}")
                t.prepared.append(_outcome(d.sub, d.week, "error"))
            else:
                t.prepared.append(_outcome(d.sub, d.week, p.status))

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
            self.deliverer.release(
                [a.ready.job for a in runs], error=f"prepared, not posted: {reason}"
            )
        except Exception:  # their claims lapse with this holder and are taken over
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

    def _start_enrichment(self, t: _Tick) -> None:
        """After the polls: start a background run when they brought papers, when the
        last run left work, or on the first tick; never wait for it."""
        brought = any(r.new or r.updated for r in t.polled)
        background = self.enrichment
        if background is not None and (brought or background.more):
            t.enrichment_started = background.start()
        # Signatures for like: (``digests.index``) of what polls and enrichment changed:
        # started every tick, as enrichment changes texts on its own time; a run with
        # nothing to do is one read of a small partial index.
        if self.indexing is not None:
            self.indexing.start()

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
        for background in (self.enrichment, self.indexing):
            if background is not None:
                background.stop()
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


def _status(outcome: DeliveryResult | Exception | None) -> str | None:
    """A fan-out outcome as a report's status; None for a delivery not started."""
    if outcome is None:
        return None
    return "error" if isinstance(outcome, Exception) else outcome.status


def _outcome(sub: Subscription, week: IsoWeek, status: str) -> DeliveryOutcome:
    log.info(
        "subscription=%s team=%s channel=%s week=%s status=%s",
        sub.id,
        sub.team_id,
        sub.channel_id,
        week.label,
        status,
    )
    return DeliveryOutcome(sub.id, sub.channel_id, week.label, status)


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

    enrichment = None
    if settings.core.enrich:
        enricher = Enricher.for_settings(store, settings.core, rules=rules, clock=clock)

        def enrich(stop: threading.Event) -> bool:
            report = enricher.run(stop=stop)
            return report.left > 0 and report.failure is None

        enrichment = Background("enrich", enrich, store=store, holder=name, clock=clock)

    def index(stop: threading.Event) -> bool:
        report = index_papers(store, clock=clock, budget=INDEX_BUDGET, stop=stop.is_set)
        return report.left > 0

    indexing = Background("index", index, store=store, holder=name, clock=clock)

    return Scheduler(
        store=store,
        deliverer=deliverer,
        poll=poll,
        clock=clock,
        holder=name,
        notify=deliverer.notify_admins,
        workers=settings.core.delivery_workers,
        enrichment=enrichment,
        indexing=indexing,
    )
