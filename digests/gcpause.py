"""Hold off Python's cycle collector while a batch of long-lived objects is built.

It switches the collector for the whole process, so only one-shot commands (``paperbot
poll``, ``demo``, the benchmarks) pass it to the poller; ``serve`` never does. Counted,
so overlapping batches (the poller's parse and write threads) resume it once.
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
