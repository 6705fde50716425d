"""Indexing for "more like this": the papers waiting for a signature, in batches.

::

    papers waiting (new, or their text changed) | claim a batch | count terms (titles,
    abstract or summaries, tags) | add the new papers to the terms' df | signatures
    (``digests.similar``) | store them (``store.similar``)

Runs after polls, never inside one: ingest writes no signature, it only marks a changed
text as waiting. The scheduler runs it in the background, ``paperbot poll`` at its end,
``paperbot index`` on demand (a store upgraded to signatures backfills them this way).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Papers per transaction: short enough that a writer waits little on SQLite's one lock.
INDEX_BATCH = 1000


class IndexingStore(Protocol):
    def index_terms(self, *, now: datetime, limit: int) -> int: ...

    def unindexed_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class IndexReport:
    indexed: int
    left: int  # papers still waiting when the run stopped
    seconds: float


def index_papers(
    store: IndexingStore,
    *,
    clock: Callable[[], datetime],
    limit: int | None = None,
    budget: float | None = None,
    batch: int = INDEX_BATCH,
    stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[int], None] | None = None,
) -> IndexReport:
    """Index waiting papers, a batch at a time, until none wait, ``limit`` papers are
    done, ``budget`` seconds have passed or ``stop()`` says so (checked between batches)."""
    started = time.monotonic()
    done = 0
    while limit is None or done < limit:
        if stop() or (budget is not None and time.monotonic() - started > budget):
            break
        size = batch if limit is None else min(batch, limit - done)
        n = store.index_terms(now=clock(), limit=size)
        if n == 0:
            break
        done += n
        if on_batch is not None:
            on_batch(n)
    return IndexReport(
        indexed=done, left=store.unindexed_count(), seconds=time.monotonic() - started
    )
