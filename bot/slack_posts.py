"""Digest messages in Slack: one part posted tagged with its delivery key, found again by that
tag, and paced per channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.slack_errors import Permanent
from digests.render import SlackMessage

__all__ = ["DIGEST_EVENT", "ChannelPacer", "DigestParts"]

log = logging.getLogger(__name__)

DIGEST_EVENT = "paperbot_digest"

# Slack's ts and our clock disagree a little; a message older than the delivery record
# cannot be ours, so this only has to cover clock skew.
_HISTORY_MARGIN = timedelta(minutes=15)
_HISTORY_PAGE = 200
_HISTORY_PAGES = 20


class ChannelPacer:
    """At most one message per ``interval`` per channel, shared by all threads using it.

    A caller reserves the next free slot under a lock and sleeps outside it, so two
    threads posting to one channel get successive slots and neither blocks the others'
    channels.
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(
        self, channel: str, *, idle: Callable[[], AbstractContextManager[object]] | None = None
    ) -> float:
        """Block until ``channel`` may take a message; returns the seconds waited.

        ``idle``: entered around the sleep (a fan-out lends the waiting thread's slot).
        """
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self._interval
        delay = slot - now
        if delay > 0:
            with idle() if idle is not None else nullcontext():
                self._sleep(delay)
        return max(delay, 0.0)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said to wait (429): no thread posts to ``channel`` for ``seconds``."""
        with self._lock:
            until = self._clock() + seconds
            self._next[channel] = max(self._next.get(channel, until), until)


@dataclass(frozen=True, slots=True)
class _Identity:
    user_id: str | None
    bot_id: str | None


class DigestParts:
    """Posts the parts of digests and finds them again, through one bot token."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        sleepers = [
            type(h).__name__
            for h in client.retry_handlers
            if isinstance(h, RateLimitErrorRetryHandler | ServerErrorRetryHandler)
        ]
        if sleepers:
            log.warning(
                "the Slack client retries by itself (%s): those retries bypass pacing and "
                "re-send posts without looking for an earlier one; remove them",
                ", ".join(sleepers),
            )
        self._identity: _Identity | None = None
        self._lock = threading.Lock()

    def post(
        self, channel_id: str, key: str, part: int, message: SlackMessage, thread_ts: str | None
    ) -> str:
        """Post one part; returns its ts. Slack's errors are raised as they come."""
        response = self._client.api_call(
            "chat.postMessage", json=_post_body(channel_id, key, part, message, thread_ts)
        )
        ts = response.get("ts")
        if not isinstance(ts, str) or not ts:
            raise Permanent("no_ts_in_answer")
        return ts

    def find(
        self, channel_id: str, key: str, part: int, thread_ts: str | None, *, since: datetime
    ) -> str | None:
        """The ts of our own message for this delivery and part, if Slack has it.

        ``since``: when the delivery was recorded (nothing of it can be older); a thread
        part is looked for among the replies of ``thread_ts``.
        """
        me = self._me()
        oldest = since - _HISTORY_MARGIN
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            if thread_ts is None:
                answer = self._client.conversations_history(
                    channel=channel_id,
                    oldest=f"{oldest.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=_HISTORY_PAGE,
                    cursor=cursor,
                )
            else:
                answer = self._client.conversations_replies(
                    channel=channel_id,
                    ts=thread_ts,
                    include_all_metadata=True,
                    limit=_HISTORY_PAGE,
                    cursor=cursor,
                )
            for m in answer.get("messages") or []:
                if _is_our_part(m, key, part, me):
                    return str(m["ts"])
            meta = answer.get("response_metadata") or {}
            cursor = meta.get("next_cursor") or None
            if not cursor:
                return None
        # Too much to read: not finding it would prove nothing.
        raise Permanent("history_too_long", checking=True)

    def _me(self) -> _Identity:
        with self._lock:
            if self._identity is None:
                answer = self._client.auth_test()
                self._identity = _Identity(answer.get("user_id"), answer.get("bot_id"))
            return self._identity


def _post_body(
    channel_id: str, key: str, part: int, message: SlackMessage, thread_ts: str | None
) -> dict[str, Any]:
    """``chat.postMessage``'s JSON for one part of a digest, tagged with the delivery key.

    Sent through ``api_call`` rather than ``chat_postMessage``: the blocks are plain dicts
    already, and slack_sdk's conversion of block objects tested every block against six
    classes per call, a quarter of a post's CPU in a fan-out.
    """
    body: dict[str, Any] = {
        "channel": channel_id,
        "text": message["text"],
        "blocks": message["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": DIGEST_EVENT, "event_payload": {"key": key, "part": part}},
    }
    if thread_ts is not None:
        body["thread_ts"] = thread_ts
    return body


def _is_our_part(message: Mapping[str, Any], key: str, part: int, me: _Identity) -> bool:
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != DIGEST_EVENT:
        return False
    payload = meta.get("event_payload")
    if not isinstance(payload, Mapping):
        return False
    if payload.get("key") != key or payload.get("part") != part:
        return False
    ours = (me.bot_id is not None and message.get("bot_id") == me.bot_id) or (
        me.user_id is not None and message.get("user") == me.user_id
    )
    return bool(ours)
