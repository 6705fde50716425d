"""The road every digest takes to Slack: claim, prepare, post, for one delivery or thousands.

``fan_out`` claims a batch in one transaction, prepares it in chunks and posts it through a
pool, one channel at a time per thread. The protocols it keeps (at most once, claim
lifetime, leases, prepare-ahead) are in docs/architecture.md, "Delivery and scheduling".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from digests.digest import WeekContext
from digests.errors import StoreError
from digests.model import Delivery, Digest, Subscription
from digests.profile import ProfilePaper
from digests.rank import RankWeights
from digests.render import SlackMessage
from digests.store import PostedRecord, Store
from digests.weeks import IsoWeek

__all__ = [
    "DeliveryResult",
    "DeliveryStatus",
    "FanOutReport",
    "Heartbeat",
    "Job",
    "PostedRecorder",
    "Ready",
    "Road",
    "Target",
    "WeekContexts",
    "fan_out",
]

log = logging.getLogger(__name__)

# Claimed deliveries are prepared (built, archived, rendered) this many at a time, and
# posted records are written at least this often (seconds) while the pool posts.
_PREPARE_CHUNK = 32
_RECORD_EVERY = 0.1
# Threads per active worker: a thread waiting out pacing or a Retry-After lends its slot
# to another, so a few hundred waiting channels still leave ``workers`` posting.
_THREADS_PER_WORKER = 16
_MAX_THREADS = 256

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


@dataclass(frozen=True, slots=True)
class Target:
    """One digest to deliver: a channel's week, for a subscription or (None) for an admin's
    "digest now" in a channel without one."""

    key: str
    team_id: str
    channel_id: str
    week: IsoWeek
    tz: str
    subscription: Subscription | None
    # An admin's "digest now": the whole week, even before the subscription's first week.
    whole_week: bool = False

    @property
    def channel(self) -> tuple[str, str]:
        return (self.team_id, self.channel_id)


@dataclass(slots=True)
class Job:
    """A claimed delivery."""

    target: Target
    claim: Delivery
    deadline: datetime  # no waiting past this: the claim must not go stale under us
    life: int = 0  # the holder's heartbeat life it was claimed in (see Deliverer.keep_alive)
    # The pool's active-worker slot, held while this job works and lent out while it
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


@dataclass(frozen=True, slots=True)
class Ready:
    """A claimed delivery whose digest is archived, attached and rendered: only posting is left."""

    job: Job
    messages: list[SlackMessage]
    items: int

    @property
    def key(self) -> str:
        return self.job.target.key


Outcome = DeliveryResult | Exception


class Road(Protocol):
    """The steps of a delivery (``bot.deliver.Deliverer``), each taking a batch."""

    def claim(self, targets: Sequence[Target], /) -> list[Job | DeliveryResult]: ...

    def prepare(
        self, jobs: Sequence[Job], contexts: WeekContexts, /
    ) -> list[Ready | DeliveryResult | Exception]: ...

    def post(
        self, ready: Ready, recorder: PostedRecorder, slot: threading.Semaphore | None = None, /
    ) -> DeliveryResult: ...

    def release(self, jobs: Sequence[Job], /, *, error: str) -> None: ...

    def keep_alive(self) -> bool: ...


class Heartbeat:
    """A holder's heartbeat: its claims live while the heartbeat does.

    ``beat`` renews it in the store for ``ttl`` (at most every quarter of ``ttl`` unless
    forced). A heartbeat found lapsed starts a new ``life``: claims of an earlier life may
    have been taken over, so nothing is posted under them any more.
    """

    def __init__(
        self, store: Store, holder: str, *, ttl: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._holder = holder
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._renewed_at: datetime | None = None
        self._life = 0

    @property
    def life(self) -> int:
        with self._lock:
            return self._life

    def beat(self, *, force: bool = False) -> bool:
        """Renew the heartbeat if due; False when the database cannot be written."""
        now = self._clock()
        with self._lock:
            renewed = self._renewed_at
            if not force and renewed is not None and now - renewed < self.ttl / 4:
                return True
            try:
                self._store.renew_holder(self._holder, ttl=self.ttl, now=now)
            except StoreError as e:
                log.warning("holder=%s cannot renew its heartbeat: %s", self._holder, e)
                return False
            if renewed is not None and now >= renewed + self.ttl:
                log.warning("holder=%s: its heartbeat had lapsed", self._holder)
                self._life += 1
            self._renewed_at = now
            return True

    def covers(self, job: Job, until: datetime) -> bool:
        """Whether ``job``, claimed in this life, surely stays claimed until ``until``: others
        see the heartbeat live for half a ``ttl`` more at least."""
        with self._lock:
            renewed = self._renewed_at
            return (
                job.life == self._life
                and renewed is not None
                and until <= min(job.deadline, renewed + self.ttl / 2)
            )


class WeekContexts:
    """One fan-out's shared weeks: each (week, zone, weights) is loaded once, at ``now``.

    Thread-safe. A context is loaded on first use, so a run whose deliveries are all
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
        # The papers the channels' profiles name, read once for the whole fan-out.
        self.profile_papers: dict[int, ProfilePaper] = {}

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


class PostedRecorder:
    """Posted deliveries waiting to be recorded, in one transaction per ``flush``.

    Thread-safe. Until a delivery's record is flushed its claim stays ``posting``; if the
    process dies first, the claim is taken over and the takeover looks in Slack before
    posting, so a lost record never becomes a second post.
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
        records dropped: their claims are taken over later and finished by a look in Slack."""
        with self._flush_lock:
            with self._lock:
                batch, self._waiting = self._waiting, []
            if not batch:
                return 0
            try:
                self._store.mark_posted(batch, now=self._clock())
            except StoreError as e:
                log.error(
                    "%d posted deliveries could not be recorded (%s); their claims will be "
                    "taken over and checked in Slack",
                    len(batch),
                    e,
                )
                return 0
            return len(batch)


@dataclass(frozen=True, slots=True)
class FanOutReport:
    """What a fan-out did with each target, in the order given.

    An outcome is None when the delivery was claimed but not started because the lease was
    lost (``stopped``): it went back to pending for the next leader.
    """

    outcomes: tuple[Outcome | None, ...]
    stopped: bool = False
    channels: int = 0
    claimed: int = 0


def fan_out(
    road: Road,
    targets: Sequence[Target],
    *,
    contexts: WeekContexts,
    recorder: PostedRecorder,
    workers: int = 1,
    prepared: Mapping[int, Ready] | None = None,
    keep_leading: Callable[[], bool] | None = None,
    renew_every: float = 1.0,
) -> FanOutReport:
    """Deliver ``targets``: claim them in one transaction, prepare them in chunks on this
    thread while the pool posts each channel whose deliveries are all prepared.

    ``prepared``: deliveries already claimed and prepared (by index in ``targets``).
    ``keep_leading``: called every ``renew_every`` seconds with the holder's heartbeat;
    once it says False, nothing more starts and the unstarted claims go back to pending.
    A channel's deliveries go in order on one thread, so it never has two at once.
    """
    ready: dict[int, Ready] = dict(prepared or {})
    outcomes: list[Outcome | None] = [None] * len(targets)
    fresh = [n for n in range(len(targets)) if n not in ready]
    jobs: dict[int, Job] = {}
    if fresh:
        for n, claim in zip(fresh, road.claim([targets[n] for n in fresh]), strict=True):
            if isinstance(claim, Job):
                jobs[n] = claim
            else:
                outcomes[n] = claim
    groups: dict[tuple[str, str], list[int]] = {}
    for n, target in enumerate(targets):
        if n in ready or n in jobs:
            groups.setdefault(target.channel, []).append(n)
    if not groups:
        return FanOutReport(tuple(outcomes))
    workers = max(1, min(workers, len(groups)))
    # Threads beyond the active workers take over while some wait out a Retry-After.
    threads = max(workers, min(len(groups), workers * _THREADS_PER_WORKER, _MAX_THREADS))
    pool = _Pool(road, targets, outcomes, recorder, threading.Semaphore(workers))
    order = [n for members in groups.values() for n in members if n not in ready]
    left = {g: sum(1 for n in members if n not in ready) for g, members in groups.items()}
    renewed = flushed = time.monotonic()

    def renew_if_due() -> None:
        nonlocal renewed
        if time.monotonic() - renewed < renew_every:
            return
        renewed = time.monotonic()
        road.keep_alive()
        if keep_leading is not None and not keep_leading():
            # Whatever has started finishes (its claim keeps it single); the rest goes
            # back to pending for the new leader.
            pool.stop.set()

    with ThreadPoolExecutor(threads, thread_name_prefix="paperbot-deliver") as executor:
        pending: set[Future[None]] = {
            executor.submit(pool.post_channel, [(n, ready[n]) for n in members])
            for g, members in groups.items()
            if left[g] == 0
        }
        for i in range(0, len(order), _PREPARE_CHUNK):
            renew_if_due()
            if pool.stop.is_set():
                # Not prepared yet, or prepared for a channel not handed out yet.
                pool.unstarted.extend(jobs[n] for n in order[i:])
                pool.unstarted.extend(
                    ready[n].job
                    for g, members in groups.items()
                    if left[g] > 0
                    for n in members
                    if n in ready
                )
                break
            chunk = order[i : i + _PREPARE_CHUNK]
            for n, p in zip(chunk, road.prepare([jobs[n] for n in chunk], contexts), strict=True):
                if isinstance(p, Ready):
                    ready[n] = p
                else:
                    outcomes[n] = p
                g = targets[n].channel
                left[g] -= 1
                if left[g] == 0:
                    items = [(m, ready[m]) for m in groups[g] if m in ready]
                    if items:
                        pending.add(executor.submit(pool.post_channel, items))
            if time.monotonic() - flushed >= _RECORD_EVERY:
                recorder.flush()
                flushed = time.monotonic()
        while pending:
            _done, pending = wait_futures(
                pending, timeout=_RECORD_EVERY, return_when=FIRST_COMPLETED
            )
            recorder.flush()
            if pending:
                renew_if_due()
    recorder.flush()
    if pool.unstarted:
        road.release(pool.unstarted, error="not started: the scheduler lease was lost")
    return FanOutReport(
        tuple(outcomes),
        stopped=pool.stop.is_set(),
        channels=len(groups),
        claimed=sum(len(m) for m in groups.values()),
    )


@dataclass
class _Pool:
    """What the posting threads of one fan-out share."""

    road: Road
    targets: Sequence[Target]
    outcomes: list[Outcome | None]
    recorder: PostedRecorder
    slots: threading.Semaphore
    stop: threading.Event = field(default_factory=threading.Event)
    unstarted: list[Job] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post_channel(self, items: list[tuple[int, Ready]]) -> None:
        """One channel's prepared deliveries, in order, holding an active slot (lent out
        while a delivery waits)."""
        with self.slots:
            for n, ready in items:
                if self.stop.is_set():
                    with self.lock:
                        self.unstarted.append(ready.job)
                    continue
                began = time.monotonic()
                t = self.targets[n]
                try:
                    result = self.road.post(ready, self.recorder, self.slots)
                except Exception as e:
                    # One channel's trouble never stops the others.
                    log.exception("delivery %s: posting failed", t.key)
                    self.outcomes[n] = e
                    continue
                log.info(
                    "delivery %s team=%s channel=%s status=%s in %.2fs",
                    t.key,
                    t.team_id,
                    t.channel_id,
                    result.status,
                    time.monotonic() - began,
                )
                self.outcomes[n] = result
