"""A worker process for crash tests: delivers (or ticks a scheduler) and SIGKILLs itself.

Run as ``python -m tests.crash_worker MODE`` with the environment saying where things are:

* ``CRASH_DB_URL``: the shared database; ``CRASH_SLACK_URL``: the fake Slack Web API.
* ``CRASH_KILL_AT``: ``before_post:N`` (the Nth chat.postMessage is about to go out: the
  intent is recorded, nothing posted) or ``after_post:N`` (Slack has the Nth message, its
  ``ts`` is not recorded yet). The process then kills itself with SIGKILL: no cleanup, no
  ``finally``, no atexit, exactly like the OOM killer or ``kill -9``.
* ``CRASH_CLOCK_OFFSET``: seconds added to the real clock, so the test's data lives in a
  fixed week.
* ``CRASH_SUBSCRIPTION`` / ``CRASH_WEEK`` (MODE ``deliver``) or ``CRASH_HOLDER`` /
  ``CRASH_LEASE_SECONDS`` (MODE ``scheduler``: the lease, and how long the holder's claims
  outlive its last heartbeat).

The kill point is a subclass of the real ``WebClient`` hooking ``api_call``: the library
and our code run unchanged.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.deliver import Deliverer
from bot.scheduler import Scheduler
from digests.ingest import SourceReport
from digests.model import SourceInfo
from digests.render import DEFAULT_MAX_CHARS
from digests.settings import Settings
from digests.store import Store
from digests.weeks import parse_week

BOT_TOKEN = "xoxb-test-token"  # tests.fakeslack.BOT_TOKEN, without importing the test tree


class KillingClient(WebClient):
    """The real client, but the process dies at the configured chat.postMessage."""

    def __init__(self, kill_at: str, **kw: Any) -> None:
        super().__init__(**kw)
        when, _, nth = kill_at.partition(":")
        self._when = when
        self._nth = int(nth or "1")
        self._posts = 0
        self._lock = threading.Lock()  # a fan-out posts from several threads

    def api_call(self, api_method: str, **kw: Any) -> SlackResponse:
        if api_method != "chat.postMessage":
            return super().api_call(api_method, **kw)
        with self._lock:
            self._posts += 1
            n = self._posts
        if self._when == "before_post" and n == self._nth:
            os.kill(os.getpid(), signal.SIGKILL)
        answer = super().api_call(api_method, **kw)
        if self._when == "after_post" and n == self._nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return answer


def _clock() -> datetime:
    offset = float(os.environ.get("CRASH_CLOCK_OFFSET", "0"))
    return datetime.fromtimestamp(time.time() + offset, UTC)


def _no_poll(sources: Sequence[SourceInfo]) -> list[SourceReport]:
    return []


def main(mode: str) -> int:
    env = os.environ
    store = Store.open(env["CRASH_DB_URL"], migrate=False)
    client = KillingClient(env["CRASH_KILL_AT"], token=BOT_TOKEN, base_url=env["CRASH_SLACK_URL"])
    holder = env.get("CRASH_HOLDER", f"crash-worker:{os.getpid()}")
    core = Settings(
        database_url=env["CRASH_DB_URL"],
        data_dir=Path(),
        sources_file=Path("sources.toml"),
        topics_file=None,
    )
    deliverer = Deliverer(
        store=store,
        client=client,
        core=core,
        admins=frozenset(),
        holder=holder,
        clock=_clock,
        sleep=lambda _s: None,  # pacing waits only slow the test
        max_chars=int(env.get("CRASH_MAX_CHARS") or DEFAULT_MAX_CHARS),
        claim_ttl=timedelta(seconds=float(env.get("CRASH_LEASE_SECONDS") or 60)),
    )
    if mode == "deliver":
        sub = store.get_subscription(int(env["CRASH_SUBSCRIPTION"]))
        assert sub is not None
        result = deliverer.deliver(sub, parse_week(env["CRASH_WEEK"]))
        print(f"not killed: {result.status}", file=sys.stderr)
        return 3
    scheduler = Scheduler(
        store=store,
        deliverer=deliverer,
        poll=_no_poll,
        clock=_clock,
        holder=holder,
        lease_ttl=timedelta(seconds=float(env["CRASH_LEASE_SECONDS"])),
        tick_seconds=float(env["CRASH_LEASE_SECONDS"]) / 2,
    )
    report = scheduler.tick()
    print(f"not killed: leader={report.leader}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
