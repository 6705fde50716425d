"""The cycle collector is held off while batches are built, and always comes back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from digests.errors import SourceError
from digests.gcpause import collector_paused
from digests.ingest import ingest_document
from digests.model import SourceKind, SourceSpec
from digests.store import Store
from digests.topics import load_rules


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
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


def test_ingest_brings_the_collector_back_whether_the_document_reads_or_not(
    store: Store,
) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    source = store.add_source(SourceSpec(name="feed", location="f", kind=SourceKind.FEED), now=now)
    rules = load_rules()
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>A paper on reward models</title>"
        b"<link>https://example.org/p/1</link></item></channel></rss>"
    )
    report, _ = ingest_document(store, source, body, rules=rules, now=now)
    assert report.new == 1
    assert gc.isenabled()
    with pytest.raises(SourceError):
        ingest_document(store, source, b"\x00 not a feed", rules=rules, now=now)
    assert gc.isenabled()
