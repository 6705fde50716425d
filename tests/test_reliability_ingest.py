"""Hostile sources beside good ones, an unreachable database and a full disk, end to end.

The network is a real local server reached through the fetcher's transport and resolver
seams (``tests.httpserver.Routed``): sources live on a "public" name, so the address
guard is on exactly as in production and only the redirect targets are private.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from digests.errors import StoreError
from digests.fetch import Fetcher, FetchSettings
from digests.ingest import Poller, SourceReport
from digests.model import SourceInfo, SourceKind, SourceSpec
from digests.query import parse_query
from digests.store import Store
from digests.topics import load_rules
from tests.httpserver import PUBLIC_IP, LocalServer, Reply, Routed, resolver_for
from tests.mutations import BOMBS, gzip_bomb
from tests.paths import FIXTURES, ROOT

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)  # a Wednesday
RULES = load_rules()
MiB = 1024 * 1024


async def _no_sleep(_seconds: float) -> None:
    return None


def poll(
    store: Store,
    sources: Sequence[SourceInfo],
    *,
    transport: Any = None,
    resolver: Any = None,
    **fetch: Any,
) -> dict[str, SourceReport]:
    values: dict[str, Any] = {
        "allow_private": False,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "host_intervals": {},
        "max_retries": 1,
    }
    values.update(fetch)
    settings = FetchSettings(**values)

    async def go() -> list[SourceReport]:
        async with Fetcher(
            settings=settings, transport=transport, resolver=resolver, sleep=_no_sleep
        ) as fetcher:
            poller = Poller(store=store, fetcher=fetcher, rules=RULES, clock=lambda: NOW)
            return await poller.poll(sources)

    return {r.name: r for r in asyncio.run(go())}


def add(store: Store, name: str, location: str, kind: SourceKind | None = None) -> SourceInfo:
    return store.add_source(SourceSpec(name=name, location=location, kind=kind), now=NOW)


def titles(store: Store, source: str) -> list[str]:
    return [h.title for h in store.search(parse_query(f"source:{source}", now=NOW)).hits]


# --- (3) hostile sources in one poll -----------------------------------------------------


def test_hostile_sources_are_recorded_and_the_good_ones_ingested(store: Store) -> None:
    listing = (FIXTURES / "arxiv_atom_listing.xml").read_bytes()
    hf = (FIXTURES / "hf_daily_papers.json").read_bytes()

    def drip() -> Iterator[bytes]:
        while True:
            yield b"<rss><channel>" * 4

    with LocalServer() as server:
        server.route("/good-arxiv", Reply(body=listing))
        server.route("/good-hf", Reply(body=hf, headers={"Content-Type": "application/json"}))
        # A public host that redirects to loopback, and one to a name that resolves to the
        # cloud metadata address: refused before any request goes there.
        server.route("/to-loopback", Reply(302, headers={"Location": server.url("/secret")}))
        server.route(
            "/to-metadata",
            Reply(302, headers={"Location": f"http://metadata.example:{server.port}/secret"}),
        )
        server.route("/secret", Reply(body=listing))
        server.route("/bomb", Reply(body=gzip_bomb(), headers={"Content-Encoding": "gzip"}))
        server.route("/drip", Reply(chunks=drip, chunk_delay=0.05))
        server.route("/laughs", Reply(body=BOMBS["billion-laughs"]))
        server.route("/quadratic", Reply(body=BOMBS["quadratic-blowup"]))
        server.route("/noise", Reply(body=random.Random(7).randbytes(4096)))
        names = [
            "good-arxiv",
            "good-hf",
            "to-loopback",
            "to-metadata",
            "bomb",
            "drip",
            "laughs",
            "quadratic",
            "noise",
        ]
        # The entity bombs are configured as feeds, so the feed parser itself sees them.
        kinds = {"laughs": SourceKind.ARXIV, "quadratic": SourceKind.FEED}
        sources = [
            add(store, n, server.url(f"/{n}", host="feeds.example"), kinds.get(n)) for n in names
        ]
        network = Routed()
        began = time.monotonic()
        reports = poll(
            store,
            sources,
            transport=network,
            resolver=resolver_for(
                {"feeds.example": [PUBLIC_IP], "metadata.example": ["169.254.169.254"]}
            ),
            max_body=2 * MiB,
            timeout=1.0,
            deadline=1.5,
        )
        elapsed = time.monotonic() - began
        secret_requests = server.requests_to("/secret")

    assert elapsed < 15  # every hostile source was cut off by a limit, none hung the poll
    assert secret_requests == []  # no redirect reached a private address
    assert all(r.url.host == PUBLIC_IP for r in network.seen)
    assert reports["good-arxiv"].status == "ingested"
    assert reports["good-hf"].status == "ingested"
    assert titles(store, "good-arxiv") and titles(store, "good-hf")
    expected = {
        "to-loopback": "not a public address",
        "to-metadata": "not a public address",
        "bomb": "limit",
        "drip": "within 1.5 s",
        "laughs": "entities",
        "quadratic": "entities",
        "noise": "kind of document",
    }
    stored = {s.name: s for s in store.list_sources()}
    for name, needle in expected.items():
        report = reports[name]
        assert report.status == "error", (name, report)
        assert needle in (report.error or ""), (name, report.error)
        assert stored[name].consecutive_failures == 1
        assert needle in (stored[name].last_error or "")
        assert stored[name].paper_count == 0
    assert stored["good-arxiv"].consecutive_failures == 0


# --- (5) the database unreachable at start ------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_unreachable_at_start_is_a_clear_message(tmp_path: Path) -> None:
    port = _closed_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://paperbot:s3cret-pw@127.0.0.1:{port}/paperbot",
        "PAPERBOT_DATA_DIR": str(tmp_path),
        "PAPERBOT_SOURCES_FILE": str(tmp_path / "sources.toml"),
        "PAPERBOT_DB_CONNECT_ATTEMPTS": "3",
        "PAPERBOT_DB_CONNECT_DELAY": "0.05",
    }
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "sources", "list"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - began < 30
    assert done.returncode == 1
    err = done.stderr
    assert "Traceback" not in err and "Traceback" not in done.stdout
    # retries are visible, then one paragraph naming the host, not the password
    assert [line for line in err.splitlines() if "attempt" in line][:3] == [
        line for line in err.splitlines() if "not reachable" in line
    ]
    assert sum("not reachable (attempt" in line for line in err.splitlines()) == 3
    assert f"127.0.0.1:{port}" in err
    assert "s3cret-pw" not in err + done.stdout
    assert "after 3 attempts" in err
    assert "Check DATABASE_URL" in err


def test_connect_retry_settings_are_validated() -> None:
    from digests.errors import ConfigError
    from digests.settings import Settings

    base = {"PAPERBOT_DATA_DIR": "/tmp/x"}
    settings = Settings.from_env({**base, "PAPERBOT_DB_CONNECT_ATTEMPTS": "2"})
    assert settings.db_connect_attempts == 2 and settings.db_connect_delay == 1.0
    for bad in ({"PAPERBOT_DB_CONNECT_ATTEMPTS": "0"}, {"PAPERBOT_DB_CONNECT_DELAY": "soon"}):
        with pytest.raises(ConfigError, match="PAPERBOT_DB_CONNECT"):
            Settings.from_env({**base, **bad})


# --- (5) disk full for SQLite --------------------------------------------------------------


def _cap_pages(store: Store, extra_pages: int) -> Any:
    """Every new connection may grow the file by ``extra_pages`` pages only: SQLITE_FULL."""
    with store.engine.connect() as conn:
        pages = int(conn.execute(text("PRAGMA page_count")).scalar_one())
    limit = pages + extra_pages

    def cap(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA max_page_count={limit}")
        cur.close()

    store.engine.dispose()  # pooled connections would not have the cap
    event.listen(store.engine, "connect", cap)
    return cap


def _checkpoint(store: Store) -> None:
    with store.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def test_a_full_disk_fails_the_source_cleanly_and_corrupts_nothing(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("disk full is a SQLite-file fault; PostgreSQL manages its own storage")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    small = add(store, "small", str(FIXTURES / "arxiv_atom_listing.xml"))
    big_feed = Path(store.engine.url.database or "").parent / "big.xml"
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/2408.{i:05d}v1</id><title>Paper {i} "
        f"{'long title words ' * 20}</title><summary>{'abstract text ' * 200}</summary>"
        f"<link href='http://arxiv.org/abs/2408.{i:05d}v1'/></entry>"
        for i in range(400)
    )
    big_feed.write_text(
        f"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>big</title>"
        f"{entries}</feed>",
        "utf-8",
    )
    big = add(store, "big", str(big_feed))
    _checkpoint(store)
    cap = _cap_pages(store, extra_pages=40)

    reports = poll(store, [small, big])  # returns: no exception escapes the poll

    assert reports["big"].status == "error"
    assert "database or disk is full" in (reports["big"].error or "")
    assert reports["small"].status == "ingested"
    with pytest.raises(StoreError, match="database or disk is full"):
        add(store, "x" * 200_000, "https://example.org/x")  # a readable error, not sqlite3's
    event.remove(store.engine, "connect", cap)
    store.engine.dispose()
    assert store.integrity_check() == "ok"
    assert titles(store, "small")
    assert titles(store, "big") == []  # the failed document left nothing half-written

    # Space again: the next poll stores it.
    retry = store.get_source("big")
    assert retry is not None
    assert poll(store, [retry])["big"].status == "ingested"
    assert len(store.search(parse_query("source:big", now=NOW)).hits) > 0
    assert store.integrity_check() == "ok"
