"""Shared factories for tests: papers and sources as a parser or the store hands them over,
a delivery claimed as a worker claims it, the command paths of the CLI, and the clock
and scheduler of scheduling tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from slack_sdk import WebClient

from bot.deliver import Deliverer
from bot.scheduler import Scheduler
from digests.ingest import SourceReport
from digests.model import Delivery, Entry, SourceInfo, SourceKind
from digests.normalize import parse_arxiv_id
from digests.settings import Settings
from digests.store import DeliveryIntent, Store
from tests.fakeslack import BOT_TOKEN, FakeSlack


def arxiv(ref: str, title: str, **kw: Any) -> Entry:
    """An entry as arXiv lists it: ``ref`` may carry a version (``2403.04224v4``)."""
    parsed = parse_arxiv_id(ref)
    assert parsed is not None
    return Entry(
        title=title,
        arxiv_id=parsed.id,
        arxiv_version=parsed.version,
        url=f"http://arxiv.org/abs/{ref}",
        **kw,
    )


def source_info(
    name: str = "feed", *, source_id: int = 1, tags: tuple[str, ...] = ()
) -> SourceInfo:
    """A feed source as the store returns it, for code that never reads it from a store."""
    return SourceInfo(
        id=source_id,
        name=name,
        location=f"/tmp/{name}",
        kind=SourceKind.FEED,
        interval_seconds=3600,
        tags=tags,
        origin="file",
        enabled=True,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def claim_one(
    store: Store,
    *,
    key: str,
    team_id: str,
    channel_id: str,
    week: str,
    subscription_id: int | None,
    holder: str,
    now: datetime,
    stale_after: timedelta,
) -> Delivery | None:
    """One delivery recorded and claimed, as a worker claims it: None when not claimed."""
    intent = DeliveryIntent(key, team_id, channel_id, week, subscription_id)
    claimed = store.claim_deliveries([intent], holder=holder, now=now, stale_after=stale_after)
    return claimed.get(key)


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command of a click group, subcommands included: ``("sources", "add")``."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


# -- scheduling: a settable clock and a scheduler over the fake Slack ---------------------


class Clock:
    """A clock the test sets; the scheduler, the deliverer and the fake Slack all read it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def set(self, when: datetime) -> None:
        with self._lock:
            self.now = when.astimezone(UTC)


def client_for(slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def core_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite://",  # not used: the store is handed in
        data_dir=tmp_path,
        sources_file=tmp_path / "sources.toml",
        topics_file=None,
    )


def no_poll(sources: Sequence[SourceInfo]) -> list[SourceReport]:
    raise AssertionError(f"nothing should be due: {[s.name for s in sources]}")


def make_scheduler(
    store: Store,
    slack: FakeSlack,
    clock: Clock,
    tmp_path: Path,
    *,
    holder: str = "worker-a",
    poll: Callable[[Sequence[SourceInfo]], list[SourceReport]] = no_poll,
    notify: Callable[[str], None] | None = None,
    lease_ttl: timedelta = timedelta(seconds=60),
) -> Scheduler:
    deliverer = Deliverer(
        store=store,
        client=client_for(slack),
        core=core_settings(tmp_path),
        admins=frozenset({"UADMIN"}),
        holder=holder,
        clock=clock,
        sleep=lambda _seconds: None,  # pacing waits would only slow the tests down
    )
    return Scheduler(
        store=store,
        deliverer=deliverer,
        poll=poll,
        clock=clock,
        holder=holder,
        lease_ttl=lease_ttl,
        notify=notify,
    )
