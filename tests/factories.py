"""Shared factories for tests: papers and sources as a parser or the store hands them over,
and the command paths of the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from digests.model import Delivery, Entry, SourceInfo, SourceKind
from digests.normalize import parse_arxiv_id
from digests.store import DeliveryIntent, Store


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
