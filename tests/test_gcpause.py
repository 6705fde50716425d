"""The cycle collector: paused only around a one-shot command's batches, always back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digests.fetch import FetchSettings
from digests.gcpause import collector_paused
from digests.ingest import poll_sources
from digests.model import SourceKind, SourceSpec
from digests.normalize import TagName
from digests.store import Store
from digests.topics import TopicRules


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_pause_nests_and_restores() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer batch is still running
    assert gc.isenabled()


def test_pause_restores_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_pause_leaves_a_collector_disabled_by_the_application_disabled() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_batches_in_threads_resume_once_the_last_ends() -> None:
    first_in = threading.Event()
    second_done = threading.Event()
    release_first = threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            release_first.wait(5)

    def second() -> None:
        first_in.wait(5)
        with collector_paused():
            pass
        seen.append(gc.isenabled())  # the first batch still runs
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    second_done.wait(5)
    release_first.set()
    for t in threads:
        t.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_a_one_shot_command_runs_each_batch_inside_what_it_passes(
    store: Store, tmp_path: Path
) -> None:
    inside = [False]
    seen: list[bool] = []

    @contextmanager
    def around() -> Iterator[None]:
        inside[0] = True
        try:
            yield
        finally:
            inside[0] = False

    class Watching(TopicRules):  # notes whether each entry is tagged inside the batch
        def topics_for(self, *texts: str | None) -> list[TagName]:
            seen.append(inside[0])
            return super().topics_for(*texts)

    now = datetime(2026, 1, 5, tzinfo=UTC)
    path = tmp_path / "feed.xml"
    path.write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>A paper on reward models</title>"
        b"<link>https://example.org/p/1</link></item></channel></rss>"
    )
    spec = SourceSpec(name="feed", location=str(path), kind=SourceKind.FEED)
    [report] = poll_sources(
        store,
        [store.add_source(spec, now=now)],
        fetch_settings=FetchSettings(),
        rules=Watching(),
        clock=lambda: now,
        around_batch=around,
    )
    assert report.new == 1
    assert seen == [True] and inside == [False]
