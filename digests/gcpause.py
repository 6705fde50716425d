"""Hold off Python's cycle collector while a batch of long-lived objects is built.

Parsing and storing a document allocates tens of thousands of container objects that
live until the batch is written. CPython's cycle collector runs after every few hundred
allocations and, when enough of them survive, walks every tracked object of the process:
on a 2,000-item page that was one full collection of 60-85 ms and ~20 ms of younger ones,
about a sixth of the whole ingest, to find no garbage, since the batch's objects are
alive. Reference counting still frees everything acyclic while the collector waits; the
few cycles a batch leaves are collected once no batch is running.

Batches overlap (the poller parses one batch while writing the previous one, in two
threads), so the pause is counted: the collector comes back when the last batch ends,
and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """How many batches hold the collector off, and whether to turn it back on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def leave(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


_PAUSE = _Pause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cycle collector off (reentrant, thread-safe)."""
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.leave()
