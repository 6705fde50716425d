"""Polling writes in batches: the same records as one source at a time, all or nothing.

The poller hands what its fetches brought to one writer that records a batch of sources
in one transaction (``Store.transaction``, ``record_fetches``, ``set_healths``). These
tests hold it to the one-at-a-time results over varied sources, on a real database and a
real local server, and show that a document the database refuses fails alone and leaves
no fetch record behind.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from digests.errors import StoreError
from digests.fetch import Fetcher, FetchSettings
from digests.ingest import RETRY_BASE, Poller, SourceReport, prepare
from digests.model import Entry, Links, Signals, SourceInfo, SourceKind, SourceSpec
from digests.query import parse_query
from digests.schema import mentions, paper_tags, papers, sources, tags
from digests.store import FetchRecord, HealthVerdict, Store
from digests.topics import load_rules
from tests.httpserver import LocalServer, Recorded, Reply
from tests.paths import SERVER_URL

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)  # a Wednesday
RULES = load_rules()
# What a source row says apart from who it is.
STATE = [
    f.name
    for f in fields(SourceInfo)
    if f.name not in {"id", "name", "location", "created_at", "paper_count"}
]


async def _no_sleep(_seconds: float) -> None:
    return None


def poll(store: Store, sources: Sequence[SourceInfo], **poller: Any) -> list[SourceReport]:
    settings = FetchSettings(
        allow_private=True, host_intervals={}, max_retries=0, timeout=2.0, deadline=3.0
    )

    async def go() -> list[SourceReport]:
        async with Fetcher(settings=settings, sleep=_no_sleep) as fetcher:
            return await Poller(
                store=store, fetcher=fetcher, rules=RULES, clock=lambda: NOW, **poller
            ).poll(sources)

    return asyncio.run(go())


def add(store: Store, name: str, location: str, kind: SourceKind | None = None) -> SourceInfo:
    return store.add_source(SourceSpec(name=name, location=location, kind=kind), now=NOW)


def rss(ids: Sequence[int], *, prefix: int) -> bytes:
    items = "".join(
        f"<item><title>Batch paper {prefix} {i} on reward models</title>"
        f"<link>http://arxiv.org/abs/2408.{prefix:01d}{i:04d}</link>"
        f"<description>A study number {i}.</description>"
        f"<pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate></item>"
        for i in ids
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>lab {prefix}</title>"
        f"<link>http://example.org/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def state(source: SourceInfo, *, renamed: tuple[str, str] = ("", "")) -> dict[str, Any]:
    """The row's state; ``renamed`` swaps one URL part in its texts (errors name URLs)."""
    values = {name: getattr(source, name) for name in STATE}
    for name in ("last_error", "health_reason"):
        if values[name] is not None and renamed[0]:
            values[name] = values[name].replace(*renamed)
    return values


# -- the store's batch writes --------------------------------------------------------------


def test_record_fetches_and_set_healths_write_each_sources_check(store: Store) -> None:
    rng = random.Random(5)
    srcs = [add(store, f"s-{i}", f"/tmp/s-{i}") for i in range(12)]
    expected = {s.id: state(s) for s in srcs}
    healths = [None, None, "stale", "empty", "failing"]
    for round_ in range(6):
        now = NOW + timedelta(hours=round_)
        records, verdicts, told = [], [], []
        changed = 0
        for s in srcs:
            etag = rng.choice([None, f'"e{rng.randrange(3)}"'])
            modified = rng.choice([None, "Tue, 19 Aug 2025 10:00:00 GMT"])
            body_hash = rng.choice([None, "ab" * 32])
            entries = rng.choice([None, 0, rng.randrange(1, 2000)])
            next_check = now + timedelta(seconds=rng.randrange(60, 86_400))
            records.append(FetchRecord(s.id, etag, modified, body_hash, next_check, entries))
            health = rng.choice(healths)
            reason = None if health is None else f"{health} because {rng.randrange(3)}"
            verdicts.append(HealthVerdict(s.id, health, reason))
            want = expected[s.id]
            want.update(
                etag=etag,
                last_modified=modified,
                body_hash=body_hash,
                last_checked_at=now,
                last_success_at=now,
                next_check_at=next_check,
                consecutive_failures=0,
                failing_since=None,
            )
            if entries is not None:  # the body changed and was parsed
                want.update(last_entry_count=entries, content_changed_at=now)
            if health != want["health"]:  # a new verdict: its reason, since, not yet told
                changed += 1
                want.update(
                    health=health,
                    health_reason=reason,
                    health_since=now if health else None,
                    health_notified_at=None,
                )
            if rng.random() < 0.3:  # admins were told: a later new verdict must clear this
                told.append(s.id)
                want["health_notified_at"] = now
        store.record_fetches(records, now=now)
        assert store.set_healths(verdicts, now=now) == changed
        for source_id in told:
            store.mark_health_notified(source_id, now=now)
        for s in srcs:
            got = store.get_source(s.name)
            assert got is not None
            assert state(got) == expected[s.id], (round_, s.name)


def test_set_healths_says_how_many_changed(store: Store) -> None:
    src = add(store, "s", "/tmp/s")
    other = add(store, "t", "/tmp/t")
    assert store.set_healths([HealthVerdict(src.id, "stale", "first")], now=NOW) == 1
    assert store.set_healths([HealthVerdict(src.id, "stale", "second")], now=NOW) == 0
    kept = store.get_source("s")
    assert kept is not None and kept.health_reason == "first" and kept.health_since == NOW
    both = [HealthVerdict(src.id, None, None), HealthVerdict(other.id, "empty", "quiet")]
    assert store.set_healths(both, now=NOW) == 2
    assert store.set_healths(both, now=NOW) == 0
    assert store.set_healths([HealthVerdict(src.id + 1000, "stale", "gone")], now=NOW) == 0
    assert store.set_healths([], now=NOW) == 0


def test_a_store_transaction_is_all_or_nothing_and_this_threads_only(store: Store) -> None:
    src = add(store, "s", "/tmp/s")
    record = FetchRecord(src.id, '"e"', None, None, NOW + timedelta(hours=1), 3)

    other: list[str] = []
    with pytest.raises(RuntimeError, match="give up"), store.transaction():
        # Another thread writes on its own: it neither joins nor waits for this block.
        worker = threading.Thread(target=lambda: other.append(add(store, "t", "/tmp/t").name))
        worker.start()
        worker.join()
        store.record_fetches([record], now=NOW)
        store.set_healths([HealthVerdict(src.id, "stale", "r")], now=NOW)
        raise RuntimeError("give up")
    untouched = store.get_source("s")
    assert untouched is not None and untouched.etag is None and untouched.health is None
    assert other == ["t"] and store.get_source("t") is not None

    with store.transaction():
        store.record_fetches([record], now=NOW)
        store.set_healths([HealthVerdict(src.id, "stale", "r")], now=NOW)
        with pytest.raises(RuntimeError, match="do not nest"), store.transaction():
            pass
    kept = store.get_source("s")
    assert kept is not None and kept.etag == '"e"' and kept.health == "stale"
    assert kept.last_entry_count == 3 and kept.content_changed_at == NOW


# -- the poller: batched equals one at a time ---------------------------------------------


def _routes(server: LocalServer, prefix: int) -> dict[str, str]:
    """One of each kind of answer under /<prefix>/..., with papers of its own."""
    feed = rss(range(5), prefix=prefix)

    def conditional(req: Recorded) -> Reply:
        if req.headers.get("if-none-match") == '"c1"':
            return Reply(304, headers={"ETag": '"c1"'}, delay=0.05)
        return Reply(body=feed, headers={"ETag": '"c1"'}, delay=0.05)

    answers: dict[str, Any] = {
        "plain": Reply(body=rss(range(5, 9), prefix=prefix), delay=0.05),
        "conditional": conditional,
        "same-etag": Reply(body=rss(range(9, 12), prefix=prefix), headers={"ETag": '"s"'}),
        "html": Reply(
            body=b"<html><title>Oops</title></html>", headers={"Content-Type": "text/html"}
        ),
        "gone": Reply(404),
        "broken": Reply(500),
        "empty": Reply(body=b""),
    }
    for name, answer in answers.items():
        server.route(f"/{prefix}/{name}", answer)
    return {name: server.url(f"/{prefix}/{name}") for name in answers}


def test_a_batched_poll_records_what_one_at_a_time_records(store: Store) -> None:
    with LocalServer() as server:
        setups = {}
        for prefix, batch in ((1, 1), (2, 100)):
            urls = _routes(server, prefix)
            setups[batch] = [add(store, f"{prefix}-{name}", url) for name, url in urls.items()]
        seen: dict[int, list[str]] = {1: [], 100: []}
        for _round in range(3):  # first fetch, then conditional/unchanged, then again
            results = {}
            for batch, sources in setups.items():
                current = [store.get_source(s.name) for s in sources]
                assert all(c is not None for c in current)
                reports = poll(
                    store,
                    [c for c in current if c is not None],
                    write_batch=batch,
                    on_report=lambda r, b=batch: seen[b].append(r.name),
                )
                results[batch] = reports
            one, many = results[1], results[100]
            assert [r.name.split("-", 1)[1] for r in one] == [r.name.split("-", 1)[1] for r in many]
            for a, b in zip(one, many, strict=True):
                assert (a.status, a.entries, a.new, a.updated, a.skipped, a.kind) == (
                    b.status,
                    b.entries,
                    b.new,
                    b.updated,
                    b.skipped,
                    b.kind,
                ), a.name
                assert (a.error or "").replace("/1/", "/2/") == (b.error or ""), a.name
    statuses = {r.name.split("-", 1)[1]: r.status for r in many}
    assert statuses == {
        "plain": "unchanged",
        "conditional": "not_modified",
        "same-etag": "unchanged",
        "html": "error",
        "gone": "error",
        "broken": "error",
        "empty": "error",
    }
    for batch, sources in setups.items():
        assert sorted(seen[batch]) == sorted([s.name for s in sources] * 3)  # once per poll
    for a, b in zip(setups[1], setups[100], strict=True):
        x, y = store.get_source(a.name), store.get_source(b.name)
        assert x is not None and y is not None
        x_state, y_state = state(x, renamed=("/1/", "/2/")), state(y)
        if x.consecutive_failures:  # jittered backoff: within its bounds, not equal
            assert x.consecutive_failures == 3 and x.health == "failing"
            for s in (x, y):
                assert s.next_check_at is not None
                assert RETRY_BASE * 2 <= s.next_check_at - NOW <= RETRY_BASE * 4, s.name
            x_state.pop("next_check_at")
            y_state.pop("next_check_at")
        # The two sets serve different papers, so their bodies (and hashes) differ.
        assert (x_state.pop("body_hash") is None) == (y_state.pop("body_hash") is None)
        assert x_state == y_state, a.name
    for name in ("1-plain", "2-plain", "1-conditional", "2-same-etag"):
        hits = store.search(parse_query(f"source:{name}", now=NOW)).hits
        assert hits, name


# -- a document the database refuses --------------------------------------------------------


def _refuse_mentions_of(store: Store, source_id: int) -> None:
    """A trigger: the database itself refuses this source's mentions."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_source BEFORE INSERT ON mentions "
                    f"WHEN NEW.source_id = {source_id} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_source() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.source_id = {source_id} THEN "
                    "RAISE EXCEPTION 'refused by the test trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_source BEFORE INSERT ON mentions "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_source()"
                )
            )


def test_a_document_the_database_refuses_fails_alone_and_leaves_no_fetch_record(
    store: Store,
) -> None:
    with LocalServer() as server:
        for i in range(8):
            # The same delay for all: they arrive together and are written as one batch.
            server.route(
                f"/f{i}", Reply(body=rss(range(4), prefix=i), headers={"ETag": f'"{i}"'}, delay=0.2)
            )
        sources = [add(store, f"f{i}", server.url(f"/f{i}"), SourceKind.FEED) for i in range(8)]
        _refuse_mentions_of(store, sources[3].id)
        reports = {r.name: r for r in poll(store, sources)}

    assert reports["f3"].status == "error"
    assert "refused by the test trigger" in (reports["f3"].error or "")
    refused = store.get_source("f3")
    assert refused is not None
    # Not recorded as fetched: no validators, no success, so the next poll fetches it again.
    assert (refused.etag, refused.body_hash, refused.last_success_at) == (None, None, None)
    assert refused.consecutive_failures == 1
    assert "refused by the test trigger" in (refused.last_error or "")
    assert store.search(parse_query("source:f3", now=NOW)).hits == ()
    for i in (0, 1, 2, 4, 5, 6, 7):
        assert reports[f"f{i}"].status == "ingested", reports[f"f{i}"]
        ok = store.get_source(f"f{i}")
        assert ok is not None and ok.etag == f'"{i}"' and ok.last_success_at == NOW
        assert len(store.search(parse_query(f"source:f{i}", now=NOW)).hits) == 4


def test_a_store_error_in_a_transaction_is_a_store_error(store: Store) -> None:
    src = add(store, "s", "/tmp/s")
    _refuse_mentions_of(store, src.id)
    prepared = prepare([Entry(title="A refused paper", url="https://example.org/p")], src, RULES)
    with pytest.raises(StoreError, match="refused by the test trigger"), store.transaction():
        store.record_fetches(
            [FetchRecord(src.id, '"e"', None, None, NOW + timedelta(hours=1))], now=NOW
        )
        store.store_entries(src, prepared, now=NOW)
    kept = store.get_source("s")
    assert kept is not None and kept.etag is None
    assert store.paper_count() == 0


def test_a_trickle_of_unchanged_sources_records_every_check(store: Store) -> None:
    with LocalServer() as server:
        for i in range(20):
            feed = rss(range(2), prefix=i % 10)

            def answer(req: Recorded, i: int = i, feed: bytes = feed) -> Reply:
                # Answers 5 ms apart: they reach the poller one by one, not together.
                if req.headers.get("if-none-match") == f'"{i}"':
                    return Reply(304, headers={"ETag": f'"{i}"'}, delay=0.005 * i)
                return Reply(body=feed, headers={"ETag": f'"{i}"'})

            server.route(f"/t{i}", answer)
        sources = [add(store, f"t{i}", server.url(f"/t{i}"), SourceKind.FEED) for i in range(20)]
        assert {r.status for r in poll(store, sources)} == {"ingested"}
        again = [store.get_source(s.name) for s in sources]
        reports = poll(store, [s for s in again if s is not None])
    assert {r.status for r in reports} == {"not_modified"}
    for s in sources:
        checked = store.get_source(s.name)
        assert checked is not None and checked.last_checked_at == NOW
        assert checked.etag == f'"{s.name[1:]}"'


# -- many documents stored together ----------------------------------------------------------


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Store]:
    """A second empty database of the kind this run tests, beside ``store``'s."""
    if SERVER_URL is None:
        s = Store.open(f"sqlite:///{tmp_path / 'twin.db'}")
        try:
            yield s
        finally:
            s.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(SERVER_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(SERVER_URL).update_query_dict({"options": f"-csearch_path={schema},public"})
    s = Store.open(url.render_as_string(hide_password=False))
    try:
        yield s
    finally:
        s.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _pool(rng: random.Random, size: int) -> list[dict[str, Any]]:
    """Papers to draw entries from; some share a title, so a title-only entry is ambiguous."""
    pool = []
    for i in range(size):
        title = f"Shared title {i % 3}" if i % 7 == 0 else f"Reward paper {i} on alignment"
        pool.append(
            {
                "arxiv": f"2409.{i:05d}" if i % 4 != 3 else None,
                "doi": f"10.1000/p{i}" if i % 3 == 0 else None,
                "url": f"https://lab.example.org/papers/{i}" if i % 5 != 4 else None,
                "title": title,
                "full": f"{title}: the long form {i}" if i % 2 == 0 else title,
                "authors": tuple(f"Author {i} {k}" for k in range(1 + i % 3)),
                "abstract": f"Abstract of paper {i} about reward models." if i % 2 else None,
            }
        )
    return pool


def _entry(rng: random.Random, paper: dict[str, Any], n: int) -> Entry:
    """One source's view of a pool paper: some of its identities, some of its texts."""
    show_arxiv = paper["arxiv"] is not None and rng.random() < 0.6
    return Entry(
        title=paper["full"] if rng.random() < 0.5 else paper["title"],
        arxiv_id=paper["arxiv"] if show_arxiv else None,
        arxiv_version=rng.choice([None, 1, 2, 3]) if show_arxiv else None,
        doi=paper["doi"] if rng.random() < 0.5 else None,
        url=paper["url"] if rng.random() < 0.7 else None,
        authors=paper["authors"][: rng.randrange(len(paper["authors"]) + 1)],
        abstract=paper["abstract"] if rng.random() < 0.5 else None,
        summary=rng.choice([None, f"Summary {n % 4} of {paper['title']}"]),
        links=Links(pdf=rng.choice([None, f"https://pdf.example.org/{n % 5}"])),
        tags=tuple(rng.sample(["RLHF", "Reward Models", "agents", "Alignment"], rng.randrange(3))),
        published=NOW - timedelta(days=rng.randrange(10)),
        signals=Signals(upvotes=rng.choice([None, rng.randrange(50)])),
        source_item_id=rng.choice([None, f"item-{n % 6}"]),
    )


def _contents(store: Store) -> dict[str, Any]:
    """Everything stored about papers, by natural keys (ids may be numbered differently)."""
    with store.engine.connect() as conn:
        keys = dict(conn.execute(select(papers.c.id, papers.c.key)).all())
        names = dict(conn.execute(select(sources.c.id, sources.c.name)).all())
        slugs = dict(conn.execute(select(tags.c.id, tags.c.slug)).all())
        stored_papers = sorted(
            (tuple(sorted((k, repr(v)) for k, v in r.items() if k != "id")))
            for r in conn.execute(select(papers)).mappings()
        )
        own = {"id", "paper_id", "source_id"}
        stored_mentions = sorted(
            (
                keys[r["paper_id"]],
                names[r["source_id"]],
                *sorted((k, repr(v)) for k, v in r.items() if k not in own),
            )
            for r in conn.execute(select(mentions)).mappings()
        )
        links = sorted(
            (keys[p], slugs[t], o)
            for p, t, o in conn.execute(
                select(paper_tags.c.paper_id, paper_tags.c.tag_id, paper_tags.c.origin)
            )
        )
        stored_tags = sorted(
            tuple(r) for r in conn.execute(select(tags.c.slug, tags.c.display, tags.c.kind))
        )
    return {
        "papers": stored_papers,
        "mentions": stored_mentions,
        "links": links,
        "tags": stored_tags,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_documents_stored_together_equal_them_stored_one_after_another(
    store: Store, twin: Store, seed: int
) -> None:
    """The dedupe across a batch's documents is the one storing them in turn gives: the
    same paper in several documents, identities a later document adds, fuller titles,
    ambiguous titles, repeated items, upvotes, and a document larger than a slice."""
    rng = random.Random(seed)
    pool = _pool(rng, 40)
    names = [f"src-{i}" for i in range(7)]
    alone = {n: add(store, n, "/tmp/" + n, SourceKind.FEED) for n in names}
    together = {n: add(twin, n, "/tmp/" + n, SourceKind.FEED) for n in names}
    n = 0
    for round_ in range(4):
        docs: list[tuple[str, list[Entry]]] = []
        for name in rng.sample(names, rng.randrange(2, len(names) + 1)):
            entries = []
            for _ in range(rng.randrange(0, 12)):
                entries.append(_entry(rng, rng.choice(pool), n))
                n += 1
            docs.append((name, entries))
        if round_ == 2:  # a listing longer than a slice, sharing papers with the others
            big = [_entry(rng, p, i) for i, p in enumerate(_pool(rng, 700))]
            big += [_entry(rng, rng.choice(pool), n + i) for i in range(30)]
            docs.insert(1, (names[0] if docs[0][0] != names[0] else names[1], big))
        now = NOW + timedelta(hours=round_)
        one_by_one = [
            store.store_entries(alone[name], prepare(entries, alone[name], RULES), now=now)
            for name, entries in docs
        ]
        batched = twin.store_documents(
            [(together[name], prepare(entries, together[name], RULES)) for name, entries in docs],
            now=now,
        )
        assert batched == one_by_one, round_
        assert _contents(twin) == _contents(store), round_
    assert store.paper_count() > 600


def test_the_same_paper_in_two_documents_of_a_batch_is_one_paper_with_two_mentions(
    store: Store,
) -> None:
    a, b, c = (add(store, name, f"/tmp/{name}", SourceKind.FEED) for name in "abc")
    short = Entry(title="Aligners", arxiv_id="2508.04224", signals=Signals(upvotes=3))
    full = Entry(
        title="Aligners: Decoupling LLMs and Alignment",
        arxiv_id="2508.04224",
        arxiv_version=4,
        url="http://arxiv.org/abs/2508.04224v4",
        signals=Signals(upvotes=12),
    )
    # Found by the full title the second document gave it.
    title_only = Entry(title="Aligners: decoupling LLMs and alignment", comment="worth a read")
    counts = store.store_documents(
        [(s, prepare([e], s, RULES)) for s, e in ((a, short), (b, full), (c, title_only))],
        now=NOW,
    )
    assert [(c.new, c.updated, c.unchanged) for c in counts] == [(1, 0, 0), (0, 1, 0), (0, 1, 0)]
    [hit] = store.search(parse_query("id:2508.04224", now=NOW)).hits
    assert hit.title == "Aligners: Decoupling LLMs and Alignment"
    assert set(hit.sources) == {"a", "b", "c"}
    assert store.paper_count() == 1
    with store.engine.connect() as conn:
        count, upvotes = conn.execute(select(papers.c.source_count, papers.c.max_upvotes)).one()
    assert (count, upvotes) == (3, 12)


def test_a_batch_of_many_documents_stores_each_document(store: Store) -> None:
    for docs in (60, 3):
        batch = []
        for i in range(docs):
            src = add(store, f"s{docs}-{i}", f"/tmp/s{docs}-{i}", SourceKind.FEED)
            entries = [
                Entry(title=f"Paper {docs} {i} {k}", arxiv_id=f"24{docs:02d}.{i:03d}{k:02d}")
                for k in range(5)
            ]
            batch.append((src, prepare(entries, src, RULES)))
        counts = store.store_documents(batch, now=NOW)
        assert [(c.new, c.updated, c.unchanged) for c in counts] == [(5, 0, 0)] * docs
        for i, (src, _) in enumerate(batch):
            hits = store.search(parse_query(f"source:{src.name}", now=NOW)).hits
            assert sorted(h.title for h in hits) == [f"Paper {docs} {i} {k}" for k in range(5)]
    assert store.paper_count() == (60 + 3) * 5


def test_a_refused_batch_keeps_nothing_and_its_sources_then_fail_alone(store: Store) -> None:
    """A paper in a refused document and in a good one of the same batch: the batch is
    refused whole, then written source by source, where the good document keeps it."""
    with LocalServer() as server:
        shared = (
            "<item><title>Shared paper on reward models</title>"
            "<link>http://arxiv.org/abs/2408.99999</link>"
            "<pubDate>Tue, 19 Aug 2025 10:00:00 GMT</pubDate></item>"
        )
        for i in range(4):
            body = rss(range(3), prefix=i).replace(b"</channel>", shared.encode() + b"</channel>")
            server.route(f"/g{i}", Reply(body=body, headers={"ETag": f'"{i}"'}, delay=0.2))
        sources = [add(store, f"g{i}", server.url(f"/g{i}"), SourceKind.FEED) for i in range(4)]
        _refuse_mentions_of(store, sources[0].id)
        with pytest.raises(StoreError, match="refused by the test trigger"), store.transaction():
            store.store_documents(
                [
                    (s, prepare([Entry(title="Refused together", url="https://x.org/p")], s, RULES))
                    for s in sources
                ],
                now=NOW,
            )
        assert store.paper_count() == 0
        reports = {r.name: r for r in poll(store, sources)}
    assert reports["g0"].status == "error"
    assert [reports[f"g{i}"].status for i in (1, 2, 3)] == ["ingested"] * 3
    # Whichever good document is written first creates the shared paper.
    assert sorted(reports[f"g{i}"].new for i in (1, 2, 3)) == [3, 3, 4]
    [hit] = store.search(parse_query("id:2408.99999", now=NOW)).hits
    assert set(hit.sources) == {"g1", "g2", "g3"}
    assert store.search(parse_query("source:g0", now=NOW)).hits == ()
