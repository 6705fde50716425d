"""A local fake of Slack's Web API (and of ``response_url``) for tests, over real HTTP.

It answers the methods paperbot calls, records every call, and can be scripted: a
method may answer a queue of canned replies first (``429`` with ``Retry-After``, a
``500``, an error like ``channel_not_found``), a channel may fail every post, and
``enforce_rate`` makes it behave like Slack's one-message-per-second-per-channel limit.
``clock`` (seconds since the epoch) replaces the wall clock for that limit, for the
recorded call times and for message ``ts``, so a test with a fake clock sees Slack agree.
``ratelimit_share`` answers that share of ``chat.postMessage`` calls with 429 and
``Retry-After: ratelimit_retry_after`` whatever the pace (drawn from a ``seed``-ed
random generator), as Slack's workspace-wide limits do now and then. ``post_log()`` gives
each channel's post attempts in arrival order with what was answered, and
``rate_limit_floor`` the least time those posts could have taken under the limit.
``GET /_log`` returns the same log as JSON, for a fake running in another process.
Point a ``WebClient(base_url=fake.api_url)`` (or ``SLACK_API_URL``) at it::

    with FakeSlack(admins={"UADMIN"}) as slack:
        slack.script("chat.postMessage", FakeReply(status=429, headers={"Retry-After": "1"}))
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import socket
import ssl
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

BOT_TOKEN = "xoxb-test-token"
BOT_USER = "UBOT0001"
TEAM = "T0001"


@dataclass(frozen=True)
class FakeReply:
    """A canned answer: HTTP status, JSON body, headers."""

    status: int = 200
    body: Mapping[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: Mapping[str, str] = field(default_factory=dict)
    injected: bool = False  # a 429 drawn by ``ratelimit_share``, not earned by the pace
    raw: bytes | None = None  # sent as it is instead of ``body`` (a file's bytes)


@dataclass(frozen=True)
class Call:
    method: str  # Web API method, or "response_url"
    args: Mapping[str, Any]
    headers: Mapping[str, str]
    at: float  # the fake's clock (time.monotonic() unless a clock was given)
    status: int  # what the fake answered
    retry_after: float | None = None  # the Retry-After it was told, on a 429
    injected: bool = False  # a 429 drawn by ``ratelimit_share``

    @property
    def channel(self) -> str:
        return str(self.args.get("channel", ""))

    @property
    def part(self) -> tuple[str, int] | None:
        """The (delivery key, part) of a digest post, from its message metadata."""
        meta = self.args.get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        if not isinstance(meta, Mapping):
            return None
        payload = meta.get("event_payload")
        if not isinstance(payload, Mapping) or "key" not in payload:
            return None
        return str(payload["key"]), int(payload.get("part", 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "channel": self.channel,
            "part": list(self.part) if self.part else None,
            "at": self.at,
            "status": self.status,
            "retry_after": self.retry_after,
            "injected": self.injected,
        }


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None
    metadata: Mapping[str, Any] | None
    user: str = BOT_USER


class FakeSlack:
    """The fake server; use as a context manager."""

    def __init__(
        self,
        *,
        admins: set[str] | None = None,
        owners: set[str] | None = None,
        enforce_rate: bool = False,
        token: str = BOT_TOKEN,
        clock: Callable[[], float] | None = None,
        ratelimit_share: float = 0.0,
        ratelimit_retry_after: int = 1,
        seed: int | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive_timeout: float = 30.0,
    ) -> None:
        if not 0.0 <= ratelimit_share < 1.0:
            raise ValueError("ratelimit_share must be in [0, 1)")
        self.admins = set(admins or ())
        self.ratelimit_share = ratelimit_share
        self.ratelimit_retry_after = ratelimit_retry_after
        self._rng = random.Random(seed)
        self._clock = clock
        self.owners = set(owners or ())
        self.enforce_rate = enforce_rate
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[str, list[Message]] = defaultdict(list)
        self.failing_channels: dict[str, str] = {}  # channel -> Slack error code
        self.down = False  # every call answers 503 while set
        self._scripts: dict[str, list[FakeReply]] = defaultdict(list)
        self._channel_scripts: dict[str, list[FakeReply]] = defaultdict(list)
        self._last_post: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (name, bytes): uploads
        self.views: dict[str, dict[str, Any]] = {}  # id -> the modal as last opened/updated
        self._server = _Server(self, tls=tls, keepalive_timeout=keepalive_timeout)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- set-up ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server.tls:  # the name a test certificate is made for
            return f"https://localhost:{self._server.server_address[1]}/"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def connections(self) -> int:
        """How many connections clients have opened to it (HTTP/1.1 keeps them open)."""
        return self._server.connections

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    def response_url(self, name: str = "r1") -> str:
        return self.url + f"response/{name}"

    def script(self, method: str, *replies: FakeReply) -> None:
        """Answer the next calls of ``method`` with these replies, in order."""
        with self._lock:
            self._scripts[method].extend(replies)

    def add_file(self, name: str, data: bytes) -> str:
        """An upload someone made; its id, as a file_input hands it over."""
        with self._lock:
            file_id = f"F{len(self.files) + 1:08d}"
            self.files[file_id] = (name, data)
        return file_id

    def script_channel(self, channel: str, *replies: FakeReply) -> None:
        """Answer the next ``chat.postMessage`` calls to ``channel`` with these, in order."""
        with self._lock:
            self._channel_scripts[channel].extend(replies)

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what happened ---------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[Message]:
        """Messages that were really posted (not the refused attempts)."""
        with self._lock:
            if channel is not None:
                return list(self.messages.get(channel, []))
            return [m for ms in self.messages.values() for m in ms]

    def post_log(self) -> dict[str, list[Call]]:
        """Every ``chat.postMessage`` attempt per channel, in arrival order."""
        out: dict[str, list[Call]] = defaultdict(list)
        for c in self.calls_to("chat.postMessage"):
            out[c.channel].append(c)
        return dict(out)

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until ``count`` calls of ``method`` arrived (work after ``ack`` is async)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) of {method}, got {self.calls_to(method)}")

    # -- answering -------------------------------------------------------------------------

    def handle(self, path: str, args: dict[str, Any], headers: Mapping[str, str]) -> FakeReply:
        now = self._clock() if self._clock is not None else time.monotonic()
        if path.startswith("/response/"):
            reply = FakeReply()
            self._record("response_url", args, headers, now, reply.status)
            return reply
        if path.startswith("/files/"):  # url_private_download: the bot's token, raw bytes
            name, data = self.files.get(path.removeprefix("/files/"), ("", b""))
            ok = name and headers.get("authorization") == f"Bearer {self.token}"
            reply = FakeReply(raw=data) if ok else FakeReply(404, raw=b"not found")
            self._record("file", {"path": path}, headers, now, reply.status)
            return reply
        method = path.removeprefix("/api/")
        if method == "_log":
            with self._lock:
                log = [c.to_json() for c in self.calls]
            return FakeReply(body={"ok": True, "calls": log})
        reply = self._answer(method, args, headers, now)
        self._record(method, args, headers, now, reply.status, reply)
        return reply

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        headers: Mapping[str, str],
        now: float,
        status: int,
        reply: FakeReply | None = None,
    ) -> None:
        retry_after = None
        if reply is not None and "Retry-After" in reply.headers:
            retry_after = float(reply.headers["Retry-After"])
        injected = reply is not None and reply.injected
        with self._lock:
            self.calls.append(Call(method, args, headers, now, status, retry_after, injected))

    def _answer(
        self, method: str, args: dict[str, Any], headers: Mapping[str, str], now: float
    ) -> FakeReply:
        if self.down:
            return FakeReply(503, {"ok": False, "error": "service_unavailable"})
        if headers.get("authorization") != f"Bearer {self.token}":
            return FakeReply(200, {"ok": False, "error": "invalid_auth"})
        with self._lock:
            if self._scripts.get(method):
                return self._scripts[method].pop(0)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return FakeReply(200, {"ok": False, "error": "unknown_method"})
        result: FakeReply = handler(args, now)
        return result

    def _m_auth_test(self, args: dict[str, Any], now: float) -> FakeReply:
        return FakeReply(body={"ok": True, "user_id": BOT_USER, "team_id": TEAM, "bot_id": "B1"})

    def _m_users_info(self, args: dict[str, Any], now: float) -> FakeReply:
        user = str(args.get("user", ""))
        return FakeReply(
            body={
                "ok": True,
                "user": {
                    "id": user,
                    "is_admin": user in self.admins or user in self.owners,
                    "is_owner": user in self.owners,
                    "is_primary_owner": False,
                },
            }
        )

    def _m_chat_postMessage(self, args: dict[str, Any], now: float) -> FakeReply:
        channel = str(args.get("channel", ""))
        if channel in self.failing_channels:
            return FakeReply(body={"ok": False, "error": self.failing_channels[channel]})
        if not (args.get("text") or args.get("blocks")):
            return FakeReply(body={"ok": False, "error": "no_text"})
        with self._lock:
            if self._channel_scripts.get(channel):
                return self._channel_scripts[channel].pop(0)
            if self.ratelimit_share and self._rng.random() < self.ratelimit_share:
                return FakeReply(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(self.ratelimit_retry_after)},
                    injected=True,
                )
            last = self._last_post.get(channel)
            if self.enforce_rate and last is not None and now - last < 1.0:
                wait = max(1, round(1.0 - (now - last) + 0.499))
                return FakeReply(
                    429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
                )
            self._last_post[channel] = now
            if self._clock is not None:
                ts = f"{int(now)}.{next(self._ts):06d}"
            else:
                ts = f"{1_700_000_000 + next(self._ts)}.000100"
            blocks = args.get("blocks") or []
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            metadata = args.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            self.messages[channel].append(
                Message(
                    channel=channel,
                    ts=ts,
                    text=str(args.get("text", "")),
                    blocks=list(blocks),
                    thread_ts=args.get("thread_ts"),
                    metadata=metadata,
                )
            )
        return FakeReply(body={"ok": True, "channel": channel, "ts": ts})

    def _m_chat_update(self, args: dict[str, Any], now: float) -> FakeReply:
        """Replaces a posted message's text and blocks; its metadata only when given
        (Slack keeps a message's metadata unless the update carries new metadata)."""
        channel = str(args.get("channel", ""))
        ts = str(args.get("ts", ""))
        blocks = args.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        with self._lock:
            for m in self.messages.get(channel, []):
                if m.ts == ts:
                    m.text = str(args.get("text", m.text))
                    m.blocks = list(blocks)
                    if metadata:
                        m.metadata = metadata
                    return FakeReply(body={"ok": True, "channel": channel, "ts": ts})
        return FakeReply(body={"ok": False, "error": "message_not_found"})

    def _m_chat_postEphemeral(self, args: dict[str, Any], now: float) -> FakeReply:
        return FakeReply(body={"ok": True, "message_ts": f"{time.time():.6f}"})

    def _m_conversations_history(self, args: dict[str, Any], now: float) -> FakeReply:
        channel = str(args.get("channel", ""))
        oldest = float(args.get("oldest") or 0)
        with self._lock:
            found = [
                {
                    "type": "message",
                    "user": m.user,
                    "bot_id": "B1",
                    "ts": m.ts,
                    "text": m.text,
                    **({"metadata": m.metadata} if m.metadata else {}),
                }
                for m in self.messages.get(channel, [])
                if m.thread_ts is None and float(m.ts) >= oldest
            ]
        return FakeReply(body={"ok": True, "messages": list(reversed(found)), "has_more": False})

    def _m_conversations_replies(self, args: dict[str, Any], now: float) -> FakeReply:
        channel = str(args.get("channel", ""))
        parent = str(args.get("ts", ""))
        with self._lock:
            found = [
                {
                    "type": "message",
                    "user": m.user,
                    "bot_id": "B1",
                    "ts": m.ts,
                    "thread_ts": parent,
                    "text": m.text,
                    **({"metadata": m.metadata} if m.metadata else {}),
                }
                for m in self.messages.get(channel, [])
                if parent in (m.ts, m.thread_ts)
            ]
        if not found:
            return FakeReply(body={"ok": False, "error": "thread_not_found"})
        return FakeReply(body={"ok": True, "messages": found, "has_more": False})

    def _m_views_publish(self, args: dict[str, Any], now: float) -> FakeReply:
        return FakeReply(body={"ok": True, "view": {"id": "V1"}})

    def _m_views_open(self, args: dict[str, Any], now: float) -> FakeReply:
        if not args.get("trigger_id"):
            return FakeReply(body={"ok": False, "error": "invalid_trigger_id"})
        view = _json_arg(args.get("view"))
        with self._lock:
            view_id = f"V{len(self.views) + 2:08d}"
            self.views[view_id] = view
        return FakeReply(body={"ok": True, "view": {**view, "id": view_id}})

    def _m_views_update(self, args: dict[str, Any], now: float) -> FakeReply:
        view_id = str(args.get("view_id", ""))
        with self._lock:
            if view_id not in self.views:
                return FakeReply(body={"ok": False, "error": "not_found"})
            self.views[view_id] = _json_arg(args.get("view"))
        return FakeReply(body={"ok": True, "view": {"id": view_id}})

    def _m_files_info(self, args: dict[str, Any], now: float) -> FakeReply:
        file_id = str(args.get("file", ""))
        if file_id not in self.files:
            return FakeReply(body={"ok": False, "error": "file_not_found"})
        name, data = self.files[file_id]
        info = {
            "id": file_id,
            "name": name,
            "size": len(data),
            "url_private_download": f"{self.url}files/{file_id}",
        }
        return FakeReply(body={"ok": True, "file": info})


def _json_arg(value: Any) -> dict[str, Any]:
    """A JSON argument as slack_sdk sends it: an object, or text in a form body."""
    return dict(json.loads(value) if isinstance(value, str) else value or {})


def rate_limit_floor(attempts: list[Call], interval: float = 1.0) -> float:
    """The least time one channel's posts could have taken, from its first attempt to its
    last accepted post, given one post per ``interval`` and the drawn 429s.

    Walk the attempts in order: after an accepted post the next may come ``interval``
    later; after a drawn 429 (``injected``) only its ``Retry-After`` later. A 429 the
    pace earned (too soon after the previous post) is left out: a client keeping the pace
    would not have got it. Nothing after the last accepted post counts.
    """
    floor, elapsed = 0.0, 0.0
    pending = 0.0  # the gap the next attempt owes to this one
    for c in attempts:
        if c.status == 429 and not c.injected:
            continue
        elapsed += pending
        if c.status == 200:
            floor = elapsed
            pending = interval
        elif c.status == 429:
            pending = c.retry_after or interval
        else:
            pending = 0.0
    return floor


class _Server(ThreadingHTTPServer):
    """Answers each connection on a pool of threads started once (not a thread per request:
    starting one costs the accepting thread more than answering a call). Connections are
    HTTP/1.1 and kept open, as Slack's are; closing the server ends them."""

    daemon_threads = True
    pool_size = 32

    def __init__(self, fake: FakeSlack, *, tls: ssl.SSLContext | None, keepalive_timeout: float):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.tls = tls
        self.keepalive_timeout = keepalive_timeout
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.connections = 0
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix="fakeslack")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self.connections += 1
            self._open.add(request)
        self._pool.submit(self.process_request_thread, request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            still_open = list(self._open)
        for sock in still_open:  # their threads wait for a next request: end them
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    # Headers and body leave in one write (flushed when the request is finished).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # An idle kept-alive connection is closed after this long, as servers do.
        self.timeout = self.server.keepalive_timeout
        super().setup()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        args: dict[str, Any] = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            args.update(json.loads(raw))
        elif raw:
            args.update(parse_qsl(raw.decode()))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.fake.handle(parts.path, args, headers)
        raw = reply.raw is not None
        body = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        ctype = "application/octet-stream" if raw else "application/json; charset=utf-8"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None
