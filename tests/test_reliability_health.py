"""Source health: arXiv listings that are empty on a weekday or repeat an earlier batch.

Each is flagged on the source by a poll, admins are told once by the scheduler, and the
week's digest names the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digests.digest import DigestRequest, build_digest
from digests.fetch import Fetcher, FetchSettings
from digests.ingest import Poller, SourceReport
from digests.model import SourceInfo, SourceKind, SourceSpec
from digests.render import render_digest_messages, render_digest_text
from digests.store import Store
from digests.topics import load_rules
from digests.weeks import week_of
from tests.factories import Clock, make_scheduler
from tests.fakeslack import FakeSlack
from tests.paths import FIXTURES

TUESDAY = datetime(2025, 1, 14, 12, 0, tzinfo=UTC)
WEDNESDAY = TUESDAY + timedelta(days=1)
RULES = load_rules()
LISTING = (FIXTURES / "arxiv_rss2_listing.xml").read_text("utf-8")


def poll_at(store: Store, source: SourceInfo, when: datetime) -> SourceReport:
    async def go() -> list[SourceReport]:
        settings = FetchSettings(allow_private=True, host_intervals={})
        async with Fetcher(settings=settings) as fetcher:
            poller = Poller(store=store, fetcher=fetcher, rules=RULES, clock=lambda: when)
            return await poller.poll([source])

    [report] = asyncio.run(go())
    return report


def fresh(store: Store, name: str) -> SourceInfo:
    found = store.get_source(name)
    assert found is not None
    return found


def cs_cl_listing(store: Store, tmp_path: Path) -> tuple[Path, SourceInfo]:
    """The cs.CL listing as a file source added on Tuesday; the file can be rewritten."""
    path = tmp_path / "cs.CL.xml"
    path.write_text(LISTING, "utf-8")
    src = store.add_source(
        SourceSpec(name="cs.CL", location=str(path), kind=SourceKind.ARXIV), now=TUESDAY
    )
    return path, src


def test_an_empty_listing_on_a_weekday_is_flagged(store: Store, tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    start = LISTING.index("<item>")
    end = LISTING.rindex("</item>") + len("</item>")
    empty.write_text(LISTING[:start] + LISTING[end:], "utf-8")
    src = store.add_source(
        SourceSpec(name="cs.CL", location=str(empty), kind=SourceKind.ARXIV), now=TUESDAY
    )
    assert poll_at(store, src, TUESDAY).status == "ingested"
    flagged = fresh(store, "cs.CL")
    assert flagged.health == "empty" and "weekday" in (flagged.health_reason or "")


def test_a_listing_repeating_yesterdays_batch_is_flagged_stale_and_stays_so(
    store: Store, tmp_path: Path
) -> None:
    path, src = cs_cl_listing(store, tmp_path)
    assert poll_at(store, src, TUESDAY).new > 0
    assert fresh(store, "cs.CL").health is None

    # Wednesday: the same ids again under Wednesday's date.
    path.write_text(LISTING.replace("Tue, 14 Jan 2025", "Wed, 15 Jan 2025"), "utf-8")
    report = poll_at(store, fresh(store, "cs.CL"), WEDNESDAY)
    assert report.status == "ingested" and report.new == 0
    stale = fresh(store, "cs.CL")
    assert stale.health == "stale"
    assert "repeats papers already stored" in (stale.health_reason or "")

    # Polled again with the body unchanged: the same document, the same verdict.
    assert poll_at(store, stale, WEDNESDAY + timedelta(hours=1)).status == "unchanged"
    assert fresh(store, "cs.CL").health == "stale"

    # Thursday brings a new batch: healthy again.
    path.write_text(
        LISTING.replace("Tue, 14 Jan 2025", "Thu, 16 Jan 2025").replace("2501.01234", "2501.09999"),
        "utf-8",
    )
    assert poll_at(store, fresh(store, "cs.CL"), WEDNESDAY + timedelta(days=1)).new > 0
    assert fresh(store, "cs.CL").health is None


def test_a_byte_identical_listing_on_the_next_announcement_day_is_stale(
    store: Store, tmp_path: Path
) -> None:
    """The same body served after the next rebuild: skipped unparsed, still flagged."""
    _, src = cs_cl_listing(store, tmp_path)
    assert poll_at(store, src, TUESDAY).status == "ingested"
    # Later the same day: unchanged and fine, arXiv has not rebuilt the listing yet.
    assert poll_at(store, fresh(store, "cs.CL"), TUESDAY + timedelta(hours=3)).status == (
        "unchanged"
    )
    assert fresh(store, "cs.CL").health is None
    # Wednesday noon UTC (07:00 in New York): rebuilt at midnight, yet the same bytes.
    assert poll_at(store, fresh(store, "cs.CL"), WEDNESDAY).status == "unchanged"
    stale = fresh(store, "cs.CL")
    assert stale.health == "stale"
    assert "has not changed since Tue 14 Jan" in (stale.health_reason or "")
    # Saturday: no announcement is due, the verdict is not renewed but not cleared either.
    saturday = TUESDAY + timedelta(days=4)
    assert poll_at(store, fresh(store, "cs.CL"), saturday).status == "unchanged"
    assert fresh(store, "cs.CL").health == "stale"


def test_a_quiet_weekend_listing_is_not_flagged(store: Store) -> None:
    src = store.add_source(
        SourceSpec(
            name="weekend",
            location=str(FIXTURES / "arxiv_rss2_weekend.xml"),
            kind=SourceKind.ARXIV,
        ),
        now=TUESDAY,
    )
    poll_at(store, src, TUESDAY + timedelta(days=4))  # a Saturday
    assert fresh(store, "weekend").health is None


def test_admins_hear_once_and_the_digest_names_the_stale_source(
    store: Store, tmp_path: Path
) -> None:
    path, src = cs_cl_listing(store, tmp_path)
    poll_at(store, src, TUESDAY)
    path.write_text(LISTING.replace("Tue, 14 Jan 2025", "Wed, 15 Jan 2025"), "utf-8")
    poll_at(store, fresh(store, "cs.CL"), WEDNESDAY)
    assert fresh(store, "cs.CL").health == "stale"

    told: list[str] = []
    clock = Clock(WEDNESDAY + timedelta(hours=2))

    def nothing_due(sources: Sequence[SourceInfo]) -> list[SourceReport]:
        return []

    with FakeSlack() as slack:
        scheduler = make_scheduler(
            store, slack, clock, tmp_path, poll=nothing_due, notify=told.append
        )
        for minutes in (0, 1, 2):  # polls and ticks go on; the notice is sent once
            clock.set(WEDNESDAY + timedelta(hours=2, minutes=minutes))
            scheduler.tick()
    assert len(told) == 1 and "cs.CL" in told[0]

    week = week_of(WEDNESDAY, "UTC")
    digest = build_digest(store, DigestRequest(week=week, tz="UTC"), now=WEDNESDAY)
    [health] = [h for h in digest.sources if h.name == "cs.CL"]
    assert health.status == "stale"
    slack_text = " ".join(str(m) for m in render_digest_messages(digest))
    assert "cs.CL was stale this week" in slack_text
    assert "cs.CL was stale this week" in render_digest_text(digest)
