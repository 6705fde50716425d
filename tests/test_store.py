"""The paper store on a real database: one record per paper, merged tags, lookups."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digests.errors import StoreError
from digests.ingest import prepare
from digests.model import Entry, Links, Signals, SourceInfo, SourceKind, SourceSpec
from digests.query import parse_query
from digests.store import (
    SourceSync,
    Store,
    create_db_engine,
    sqlite_version_problem,
)
from digests.topics import TopicRules, load_rules
from tests.factories import arxiv, migrate, utc

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
RULES = load_rules()


def add(store: Store, name: str, *, tags: tuple[str, ...] = ()) -> SourceInfo:
    return store.add_source(
        SourceSpec(name=name, location=f"/tmp/{name}", kind=SourceKind.FEED, tags=tags),
        now=NOW,
    )


def put(
    store: Store, source: SourceInfo, *entries: Entry, rules: TopicRules = RULES
) -> tuple[int, int, int]:
    counts = store.store_entries(source, prepare(entries, source, rules), now=NOW)
    return counts.new, counts.updated, counts.unchanged


def find(store: Store, text: str, *, now: datetime = NOW) -> list[str]:
    return [h.title for h in store.search(parse_query(text, now=now)).hits]


def test_versions_of_one_paper_are_one_record_with_the_highest_version(store: Store) -> None:
    a, b = add(store, "a"), add(store, "b")
    assert put(store, a, arxiv("2403.04224v4", "Aligners: Decoupling LLMs and Alignment")) == (
        1,
        0,
        0,
    )
    assert put(store, b, arxiv("2403.04224", "Aligners: Decoupling LLMs and Alignment")) == (
        0,
        1,
        0,
    )
    [hit] = store.search(parse_query("id:2403.04224", now=NOW)).hits
    assert hit.key == "arxiv:2403.04224"
    assert set(hit.sources) == {"a", "b"}
    assert store.paper_count() == 1


def test_replace_announcement_updates_the_known_paper(store: Store) -> None:
    feed = add(store, "arxiv")
    put(store, feed, arxiv("2501.00001v1", "A Paper", announce_type="new"))
    new, updated, _ = put(store, feed, arxiv("2501.00001v2", "A Paper", announce_type="replace"))
    assert (new, updated) == (0, 1)
    assert store.paper_count() == 1
    # the same announcement again changes nothing
    assert put(store, feed, arxiv("2501.00001v2", "A Paper", announce_type="replace")) == (
        0,
        0,
        1,
    )


def test_title_only_note_and_arxiv_listing_are_one_paper(store: Store) -> None:
    notes, listing = add(store, "notes", tags=("Alignment",)), add(store, "listing")
    note = Entry(
        title="The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context  Learning",
        summary="アラインメント調整は表面的である可能性があります。",
        summary_lang="ja",
        tags=("#NLP", "#In-ContextLearning"),
        source_item_id="https://github.com/x/paper_notes/issues/1179",
    )
    put(store, notes, note)
    put(
        store,
        listing,
        arxiv(
            "2312.01552v1",
            "The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context Learning",
            categories=("cs.CL",),
        ),
    )
    assert store.paper_count() == 1
    [hit] = store.search(parse_query("tag:alignment", now=NOW)).hits
    assert hit.arxiv_id == "2312.01552"
    assert hit.key == "arxiv:2312.01552"
    assert {"Alignment", "NLP", "In-ContextLearning", "cs.CL"} <= set(hit.tags)
    assert set(hit.sources) == {"notes", "listing"}


def test_arxiv_doi_and_old_style_ids_share_the_chain(store: Store) -> None:
    s = add(store, "s")
    put(store, s, Entry(title="Old", doi="10.48550/arxiv.math/0611800"))
    put(store, s, arxiv("math.CA/0611800v2", "Old"))
    put(store, s, Entry(title="Journal paper", doi="10.1145/3442188.3445922"))
    put(store, s, Entry(title="Journal paper (camera ready)", doi="10.1145/3442188.3445922"))
    assert store.paper_count() == 2
    assert find(store, "id:math/0611800") == ["Old"]


def test_url_identity_for_papers_without_ids(store: Store) -> None:
    s = add(store, "s")
    put(store, s, Entry(title="Blog paper", url="http://www.example.org/paper/?utm_source=x"))
    put(store, s, Entry(title="Blog paper, retitled", url="https://example.org/paper"))
    assert store.paper_count() == 1


def test_same_title_different_arxiv_ids_stay_apart(store: Store) -> None:
    s = add(store, "s")
    put(store, s, arxiv("2401.00001", "Survey"), arxiv("2402.00002", "Survey"))
    assert store.paper_count() == 2


def test_tags_normalize_and_aliases_find_them(store: Store) -> None:
    store.add_tag_aliases(dict(RULES.aliases))
    s = add(store, "s")
    put(
        store,
        s,
        arxiv("2501.00002", "Tuning", tags=("#Supervised-FineTuning (SFT)",)),
        arxiv("2501.00003", "Other", tags=("Supervised-FineTuning (SFT)",)),
    )
    assert sorted(find(store, "tag:SFT")) == ["Other", "Tuning"]
    assert sorted(find(store, 'tag:"supervised-finetuning (sft)"')) == ["Other", "Tuning"]
    assert find(store, "tag:NoSuchTag") == []


def test_topic_rules_tag_by_title_and_abstract(store: Store) -> None:
    s = add(store, "s")
    put(
        store,
        s,
        arxiv("2501.00004", "Direct Preference Optimization revisited", abstract="We study DPO."),
        arxiv("2501.00005", "Faster matrix multiplication", abstract="Kernels."),
    )
    assert find(store, "tag:Alignment") == ["Direct Preference Optimization revisited"]


def test_upvotes_are_refreshed_not_duplicated(store: Store) -> None:
    hf = add(store, "hf")
    put(store, hf, arxiv("2501.00006", "Popular", signals=Signals(upvotes=10)))
    put(store, hf, arxiv("2501.00006", "Popular", signals=Signals(upvotes=212)))
    other = add(store, "other")
    put(store, other, arxiv("2501.00007", "Less popular", signals=Signals(upvotes=3)))
    assert find(store, "sort:top") == ["Popular", "Less popular"]


def test_search_words_phrases_japanese_authors_sources_and_dates(store: Store) -> None:
    a, b = add(store, "arxiv-cl"), add(store, "notes")
    put(
        store,
        a,
        arxiv(
            "2501.00010",
            "Reward hacking in language models",
            authors=("Alice Smith", "Bob Jones"),
            published=NOW - timedelta(days=40),
        ),
        arxiv(
            "2501.00011",
            "Scaling laws for retrieval",
            authors=("Carol White",),
            published=NOW - timedelta(days=2),
        ),
    )
    put(
        store,
        b,
        Entry(
            title="選好データの選択",
            summary="DPOの暗黙的報酬ギャップが小さいデータを選ぶ。",
            summary_lang="ja",
            published=NOW - timedelta(days=1),
        ),
    )
    assert find(store, "reward") == ["Reward hacking in language models"]
    assert find(store, '"hacking in language"') == ["Reward hacking in language models"]
    assert find(store, "報酬ギャップ") == ["選好データの選択"]
    assert find(store, "選好") == ["選好データの選択"]  # two characters: below trigram size
    assert find(store, "author:smith") == ["Reward hacking in language models"]
    assert find(store, "source:notes") == ["選好データの選択"]
    assert find(store, "since:1w") == ["選好データの選択", "Scaling laws for retrieval"]
    assert find(store, "until:2025-08-01") == ["Reward hacking in language models"]
    assert find(store, "scaling -retrieval") == []
    # Short terms (below the trigram size) wanted and excluded, alone and with others.
    assert find(store, "データ -選好") == []
    assert find(store, "-選好 -retrieval") == ["Reward hacking in language models"]
    assert find(store, "選好 -reward -スケール") == ["選好データの選択"]


def test_sql_metacharacters_are_data(store: Store) -> None:
    s = add(store, "s")
    put(store, s, arxiv("2501.00020", "100% robust_models; DROP TABLE papers; --"))
    for text in ["'; DROP TABLE papers; --", "100%", "robust_models", '"a""b"', "%_%"]:
        find(store, text)
    assert find(store, "100%") == ["100% robust_models; DROP TABLE papers; --"]
    assert find(store, "_mod") == ["100% robust_models; DROP TABLE papers; --"]
    assert store.paper_count() == 1


def test_paging_has_more(store: Store) -> None:
    s = add(store, "s")
    entries = [
        arxiv(f"2508.{i:05d}", f"Paper {i}", published=NOW - timedelta(hours=i))
        for i in range(1, 8)
    ]
    put(store, s, *entries)
    first = store.search(parse_query("limit:3", now=NOW))
    assert [h.title for h in first.hits] == ["Paper 1", "Paper 2", "Paper 3"]
    assert first.has_more
    last = store.search(replace(parse_query("limit:3", now=NOW), offset=6))
    assert [h.title for h in last.hits] == ["Paper 7"]
    assert not last.has_more


def test_duplicate_source_name_is_a_clear_error(store: Store) -> None:
    add(store, "dup")
    with pytest.raises(StoreError, match="already exists"):
        add(store, "dup")


def test_sources_file_sync_adds_updates_and_retires(store: Store) -> None:
    spec = SourceSpec(name="f", location="https://example.org/feed", origin="file")
    assert store.sync_sources([spec], now=NOW) == SourceSync(added=("f",))
    assert store.sync_sources([spec], now=NOW) == SourceSync()
    moved = SourceSpec(name="f", location="https://example.org/feed2", origin="file")
    assert store.sync_sources([moved], now=NOW) == SourceSync(updated=("f",))
    add(store, "cli-added")
    assert store.sync_sources([], now=NOW) == SourceSync(retired=("f",))
    assert [(s.name, s.retired) for s in store.list_sources()] == [
        ("cli-added", False),
        ("f", True),
    ]


def test_concurrent_writers_never_insert_a_paper_twice(db_url: str) -> None:
    """Two processes' worth of stores polling the same items at once."""
    stores = [Store.open(db_url) for _ in range(2)]
    source = add(stores[0], "shared")
    entries = [
        arxiv(f"2502.{i:05d}", f"Concurrent {i}", links=Links(pdf=f"https://x/{i}"))
        for i in range(60)
    ]
    errors: list[BaseException] = []

    def run(s: Store) -> None:
        try:
            for _ in range(3):
                s.store_entries(source, prepare(entries, source, RULES), now=NOW)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[0].paper_count() == 60
    for s in stores:
        s.dispose()


def test_integrity_and_migrations_are_idempotent(db_url: str) -> None:
    first = Store.open(db_url)
    first.dispose()
    second = Store.open(db_url)  # upgrading an up-to-date database is a no-op
    assert second.integrity_check() == "ok"
    second.dispose()


@pytest.mark.parametrize("order", ["short first", "full first"])
def test_the_full_title_wins_whichever_source_comes_first(store: Store, order: str) -> None:
    weekly, listing = add(store, "weekly"), add(store, "listing")
    short = arxiv("2403.04224", "Aligners")
    full = arxiv("2403.04224v4", "Aligners: Decoupling LLMs and Alignment")
    first, second = ((weekly, short), (listing, full))[:: 1 if order == "short first" else -1]
    put(store, *first)
    put(store, *second)
    [hit] = store.search(parse_query("id:2403.04224", now=NOW)).hits
    assert hit.title == "Aligners: Decoupling LLMs and Alignment"
    # A different title that merely shares a first word never replaces it.
    put(store, weekly, arxiv("2403.04224", "Aligners, revisited and extended at length"))
    [hit] = store.search(parse_query("id:2403.04224", now=NOW)).hits
    assert hit.title == "Aligners: Decoupling LLMs and Alignment"


def _signals_as_stored_and_as_counted(store: Store) -> tuple[list[tuple[int, int, int]], ...]:
    from sqlalchemy import func, select

    from digests.schema import mentions, papers

    with store.engine.connect() as conn:
        stored = conn.execute(
            select(papers.c.id, papers.c.source_count, papers.c.max_upvotes).order_by(papers.c.id)
        ).all()
        counted = conn.execute(
            select(
                mentions.c.paper_id,
                func.count(func.distinct(mentions.c.source_id)),
                func.coalesce(func.max(mentions.c.upvotes), 0),
            )
            .group_by(mentions.c.paper_id)
            .order_by(mentions.c.paper_id)
        ).all()
    return [tuple(r) for r in stored], [tuple(r) for r in counted]


def test_signals_of_new_and_known_papers_match_their_mentions(store: Store) -> None:
    """New papers get their signals at insert; they must be what the mentions say,
    including repeated items (the last upvotes an item gave win) and missing upvotes."""
    a, b = add(store, "a"), add(store, "b")

    def item(ref: str, key: str, upvotes: int | None) -> Entry:
        return arxiv(ref, f"Paper {ref}", source_item_id=key, signals=Signals(upvotes=upvotes))

    put(
        store,
        a,
        item("2403.00001", "k1", 10),
        item("2403.00001", "k1", 5),  # same item again: its mention ends with 5
        item("2403.00002", "k2", None),
        item("2403.00002", "k3", 7),
        item("2403.00003", "k4", None),
        item("2403.00003", "k4", None),
        item("2403.00004", "k5", 3),
        item("2403.00004", "k5", None),  # no upvotes given: the mention keeps 3
    )
    stored, counted = _signals_as_stored_and_as_counted(store)
    assert stored == counted
    assert [r[2] for r in stored] == [5, 7, 0, 3]
    put(
        store, b, item("2403.00001", "x", 2), item("2403.00003", "y", 9), item("2403.00009", "z", 1)
    )
    stored, counted = _signals_as_stored_and_as_counted(store)
    assert stored == counted


def test_enrichment_updates_store_values_as_every_other_write_does(store: Store) -> None:
    """Enriching known papers writes through driver SQL too: times, JSON and text must
    read back as written and be stored in the very form other writes use."""
    from sqlalchemy import text

    a, b = add(store, "a"), add(store, "b")
    earlier = NOW - timedelta(days=3)
    put(
        store,
        a,
        Entry(title="A paper", url="https://example.org/p", published=NOW, authors=("Ann",)),
        Entry(title="Another paper", url="https://example.org/q", published=NOW),
    )
    assert put(
        store,
        b,
        Entry(
            title="A paper",
            url="https://example.org/p",
            published=earlier,
            authors=("Ann", "Bo"),
            summary="明日の天気 and reward models",
        ),
        Entry(title="Another paper", url="https://example.org/q", summary="Plain text"),
    ) == (0, 2, 0)
    # A source created at ``earlier`` shows how the ordinary write stores that time.
    b2 = store.add_source(
        SourceSpec(name="c", location="/tmp/c", kind=SourceKind.FEED), now=earlier
    )
    with store.engine.connect() as conn:
        created = conn.execute(
            text("SELECT created_at FROM sources WHERE id = :i"), {"i": b2.id}
        ).scalar_one()
        now_form = conn.execute(
            text("SELECT created_at FROM sources WHERE id = :i"), {"i": a.id}
        ).scalar_one()
        rows = conn.execute(
            text("SELECT title, announced_at, updated_at FROM papers ORDER BY title")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("A paper", created, now_form),
        ("Another paper", now_form, now_form),
    ]
    (hit,) = store.search(parse_query("reward", now=NOW)).hits
    assert hit.title == "A paper"
    assert list(hit.authors) == ["Ann", "Bo"]
    assert sorted(hit.sources) == ["a", "b"]
    assert find(store, "天気") == ["A paper"]
    assert find(store, '"plain text"') == ["Another paper"]


def test_bulk_writes_store_values_as_every_other_write_does(store: Store) -> None:
    """Papers and mentions go to the driver without SQLAlchemy's per-row binding: their
    times must be stored in the very form other writes use (SQLite compares text)."""
    from sqlalchemy import text

    src = add(store, "a")  # its created_at is written the ordinary way
    put(store, src, Entry(title="A paper", url="https://example.org/p", published=NOW))
    with store.engine.connect() as conn:
        created = conn.execute(text("SELECT created_at FROM sources")).scalar_one()
        paper = conn.execute(text("SELECT announced_at, first_seen_at FROM papers")).one()
        mention = conn.execute(text("SELECT published_at, first_seen_at FROM mentions")).one()
    assert [created] * 4 == [*paper, *mention]
    assert find(store, "since:2025-08-20T12:00") == ["A paper"]  # the bound is inclusive


def test_search_text_survives_its_move_to_its_own_table_and_back(db_url: str) -> None:
    store = Store.open(db_url)
    a, b = add(store, "arxiv-cl"), add(store, "notes")
    put(
        store,
        a,
        arxiv("2501.00010", "Reward hacking in language models", abstract="On 報酬 gaps."),
        arxiv("2501.00011", "Scaling laws for retrieval"),
    )
    put(store, b, arxiv("2501.00010", "Reward hacking", summary="報酬ギャップを測る。"))
    store.dispose()

    def searches() -> dict[str, list[str]]:
        s = Store.open(db_url)
        try:
            return {q: find(s, q) for q in ("retrieval", "報酬ギャップ", "報酬", "laws -scaling")}
        finally:
            s.dispose()

    before = searches()
    assert before == {
        "retrieval": ["Scaling laws for retrieval"],
        "報酬ギャップ": ["Reward hacking in language models"],  # the second source's summary
        "報酬": ["Reward hacking in language models"],  # two characters: LIKE, not the index
        "laws -scaling": [],
    }
    # Back to the schema that kept the text in ``papers``, and forward again: a store
    # made before the move is upgraded with every paper still found by its text.
    migrate(db_url, "0003", down=True)
    migrate(db_url, "head")
    assert searches() == before
    store = Store.open(db_url)
    assert store.integrity_check() == "ok"
    put(store, b, arxiv("2501.00011", "Scaling laws", summary="検索のスケーリング則。"))
    assert find(store, "スケーリング") == ["Scaling laws for retrieval"]
    store.dispose()


def test_an_sqlite_too_old_for_the_store_is_named_with_what_to_do() -> None:
    problem = sqlite_version_problem((3, 34, 1))
    assert problem is not None
    assert "3.34.1" in problem and "3.35.0 or newer" in problem
    assert "DATABASE_URL" in problem
    assert sqlite_version_problem((3, 35, 0)) is None
    assert sqlite_version_problem((3, 40, 1)) is None


def _tags_of(store: Store, title: str) -> list[str]:
    [hit] = [h for h in store.search(parse_query(f'"{title}"', now=NOW)).hits if h.title == title]
    return sorted(hit.tags)


def test_retag_recomputes_rule_tags_and_keeps_source_and_category_tags(
    store: Store, tmp_path: Path
) -> None:
    """Papers tagged by old, looser rules follow the current rules after a retag; what a
    source or arXiv's categories said stays, even where the rules now disagree."""
    loose = tmp_path / "old.toml"
    loose.write_text(
        "[[topic]]\ntag = 'Alignment'\npatterns = ['\\balignment\\b']\n"
        "[[topic]]\ntag = 'Old'\npatterns = ['translation']\n",
        "utf-8",
    )
    listing, notes = add(store, "listing"), add(store, "notes", tags=("Alignment",))
    word = "Word alignment for low-resource translation"
    put(
        store,
        listing,
        arxiv(
            "2501.00101",
            word,
            abstract="We extract word alignment from encoders.",
            categories=("cs.CL",),
        ),
        arxiv("2501.00102", "Safety alignment of chat models", abstract="Refusals decay."),
        arxiv("2501.00103", "Faster kernels", abstract="Speculative decoding."),
        rules=load_rules(loose),
    )
    put(
        store,
        notes,
        arxiv("2501.00104", "HMM-based word alignment in translation"),
        rules=load_rules(loose),
    )
    assert len(find(store, "tag:Alignment")) == 3
    store.index_terms(now=utc(2025, 2, 1), limit=10)
    assert store.unindexed_count() == 0

    seen: list[tuple[int, int]] = []
    counts = store.retag_papers(
        RULES, chunk=3, progress=lambda done, total: seen.append((done, total))
    )

    assert seen == [(3, 4), (4, 4)]
    # Every paper's tags changed: each signature waits to be computed again.
    assert store.unindexed_count() == 4
    assert sorted(find(store, "tag:Alignment")) == [
        "HMM-based word alignment in translation",  # the notes source's own tag stays
        "Safety alignment of chat models",
    ]
    assert find(store, "tag:Old") == []
    assert _tags_of(store, word) == ["cs.CL"]
    assert _tags_of(store, "Faster kernels") == ["Efficiency"]
    assert "Safety" in _tags_of(store, "Safety alignment of chat models")
    # Given: Efficiency and Safety; taken away: Alignment twice (rule), Old twice.
    assert (counts.papers, counts.changed, counts.added, counts.removed) == (4, 4, 2, 4)
    store.index_terms(now=utc(2025, 2, 1), limit=10)
    again = store.retag_papers(RULES)
    assert (again.papers, again.changed, again.added, again.removed) == (4, 0, 0, 0)
    assert store.unindexed_count() == 0


def test_retag_reads_every_mention_of_a_paper(store: Store) -> None:
    """A paper's rule tags are those any of its sources' texts give, as at ingest."""
    a, b = add(store, "a"), add(store, "b")
    put(store, a, arxiv("2501.00201", "Kernels", abstract="Matrix products."))
    put(store, b, arxiv("2501.00201", "Kernels", summary="An agentic workflow for kernels."))
    store.retag_papers(RULES, chunk=1)
    assert _tags_of(store, "Kernels") == ["Agents"]
    assert store.retag_papers(RULES, chunk=1).changed == 0


# -- best match first ------------------------------------------------------------------

# A benchmark paper and newer papers that report results on it: the newest mentions it
# once in a long survey abstract, the one before three times in a short one.
GPQA = "GPQA: A Graduate-Level Google-Proof Q&A Benchmark"
GPQA_PAPERS = (
    arxiv(
        "2311.12022",
        GPQA,
        abstract=(
            "We introduce GPQA, a set of 448 multiple-choice questions in biology, physics "
            "and chemistry written by domain experts. The questions are hard to answer "
            "even with unrestricted web search: experts with doctorates in the field reach "
            "65 percent accuracy, while skilled non-experts given thirty minutes each reach "
            "34 percent. We hope the set supports research on scalable oversight of models "
            "whose answers humans cannot easily check."
        ),
        published=datetime(2023, 11, 20, tzinfo=UTC),
    ),
    arxiv(
        "2501.04682",
        "Budget Forcing: Test-Time Scaling for Small Reasoning Models",
        abstract="Budget forcing lifts GPQA Diamond by 6 points; GPQA gains grow with GPQA depth.",
        published=datetime(2025, 1, 9, tzinfo=UTC),
    ),
    arxiv(
        "2503.11020",
        "A Survey of Benchmarks for Scientific Reasoning in Language Models",
        abstract=(
            "We survey 120 benchmarks of scientific reasoning, from grade-school science "
            "quizzes to olympiad problems, and classify them by domain, answer format, "
            "contamination risk and the skills they claim to test. We find that most "
            "saturate within two years of release and that few report human baselines; "
            "among the exceptions we discuss GPQA."
        ),
        published=datetime(2025, 3, 14, tzinfo=UTC),
    ),
)
SURVEY, FORCING = GPQA_PAPERS[2].title, GPQA_PAPERS[1].title


def test_free_text_puts_the_paper_it_names_first_then_the_best_matches(store: Store) -> None:
    put(store, add(store, "arxiv-cs-cl"), *GPQA_PAPERS)
    # The paper whose short name is the query comes first, though the short abstract
    # that repeats the name scores higher; the rest by BM25, not by date.
    assert find(store, "GPQA") == [GPQA, FORCING, SURVEY]
    assert find(store, "gpqa sort:relevance") == [GPQA, FORCING, SURVEY]
    # Its whole title typed out names it too.
    assert find(store, "GPQA: A Graduate-Level Google-Proof Q&A Benchmark")[0] == GPQA


def test_sort_new_keeps_free_text_newest_first(store: Store) -> None:
    put(store, add(store, "arxiv-cs-cl"), *GPQA_PAPERS)
    assert find(store, "GPQA sort:new") == [SURVEY, FORCING, GPQA]
    assert find(store, "GPQA sort:new limit:1") == [SURVEY]


def test_best_match_first_orders_by_the_text_score_not_by_date(store: Store) -> None:
    put(store, add(store, "arxiv-cs-cl"), *GPQA_PAPERS[1:])
    # No paper is named "Diamond": the short abstract that holds it (older) comes first.
    assert find(store, "gpqa diamond -survey") == [FORCING]
    assert find(store, "gpqa") == [FORCING, SURVEY]
    assert find(store, "gpqa sort:new") == [SURVEY, FORCING]


def test_best_match_first_pages_without_gaps_or_repeats(store: Store) -> None:
    put(store, add(store, "arxiv-cs-cl"), *GPQA_PAPERS)
    pages = [find(store, f"GPQA limit:1 offset:{n}") for n in range(4)]
    assert pages == [[GPQA], [FORCING], [SURVEY], []]
    first = store.search(parse_query("GPQA limit:2", now=NOW))
    assert first.has_more and not store.search(parse_query("GPQA limit:3", now=NOW)).has_more


def test_notes_comments_are_searched(store: Store) -> None:
    notes, listing = add(store, "paper-notes"), add(store, "arxiv-cs-cl")
    put(
        store,
        notes,
        Entry(
            title="Counting Steps, Not Tokens: Budgeted Reasoning for Small Models",
            authors=("Hana Sato",),
            summary="小さなモデルの推論ステップに予算を設ける手法を提案する。",
            summary_lang="ja",
            comment="予算は問題ごとに変えられる。再現実装あり",
            published=NOW - timedelta(days=3),
        ),
    )
    put(store, listing, arxiv("2505.01234", "Sparse Rewards for Tool Use", abstract="Agents."))
    # A comment a later mention brings joins the known paper's text.
    put(
        store,
        notes,
        arxiv(
            "2505.01234",
            "Sparse Rewards for Tool Use",
            comment="元ポスト: 報酬の設計が肝。tool-calling agents trained with sparse credit",
        ),
    )
    assert find(store, "問題ごと") == [
        "Counting Steps, Not Tokens: Budgeted Reasoning for Small Models"
    ]
    assert find(store, '"sparse credit"') == ["Sparse Rewards for Tool Use"]
    assert find(store, "報酬の設計") == ["Sparse Rewards for Tool Use"]


NAMES = ("Łukasz Kaiser", "Jérémy Scheurer", "鈴木 健太", "Ελένη Παπαδοπούλου")


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("author:Łukasz", True),
        ("author:łukasz", True),
        ("author:ŁUKASZ", True),
        ("author:jérémy", True),
        ("author:JÉRÉMY", True),
        ("author:鈴木", True),
        ('author:"鈴木 健太"', True),
        ("author:ελένη", True),
        ("author:ΕΛΈΝΗ", True),
        ("author:Lukasz", False),  # no accent folding: another name
        ("author:u0141", False),  # nothing of an escape is left to match
    ],
)
def test_authors_with_non_ascii_names_are_found_in_any_case(
    store: Store, typed: str, found: bool
) -> None:
    put(
        store,
        add(store, "arxiv-cs-cl"),
        arxiv("2406.01234", "Attention Sinks in Long Contexts", authors=NAMES, published=NOW),
        arxiv("2406.01235", "A Paper by Others", authors=("Alice Smith",), published=NOW),
    )
    expected = ["Attention Sinks in Long Contexts"] if found else []
    assert find(store, typed) == expected
    # The digest's week filter means the same by author: as the search does.
    query = parse_query(typed, now=NOW)
    week = store.match_ids(query, start=NOW - timedelta(days=1), end=NOW + timedelta(days=1))
    assert len(week) == len(expected)
    [hit] = store.search(parse_query("id:2406.01234", now=NOW)).hits
    assert hit.authors == NAMES


def test_upgrade_stores_authors_plainly_and_makes_comments_searchable(db_url: str) -> None:
    from sqlalchemy import text

    store = Store.open(db_url)
    notes = add(store, "paper-notes")
    papers = [
        arxiv(
            f"2406.0{n}000",
            f"Paper {n}",
            authors=(f"Jérémy Dupont {n}", "Łukasz Kaiser"),
            comment=f"コメント{n}番: 追試済み",
        )
        for n in range(1, 4)
    ]
    put(store, notes, *papers)
    store.dispose()
    # As stores written before: escaped authors, search texts without the comments.
    migrate(db_url, "0007", down=True)
    engine = create_db_engine(db_url)
    cast = "CAST(:a AS JSON)" if engine.dialect.name == "postgresql" else ":a"
    with engine.begin() as conn:
        for n in range(1, 4):
            pid = conn.execute(
                text("SELECT id FROM papers WHERE arxiv_id = :i"), {"i": f"2406.0{n}000"}
            ).scalar_one()
            escaped = json.dumps([f"Jérémy Dupont {n}", "Łukasz Kaiser"])
            conn.execute(
                text(f"UPDATE papers SET authors = {cast} WHERE id = :p"), {"a": escaped, "p": pid}
            )
            conn.execute(
                text("UPDATE paper_search SET search_text = :t WHERE paper_id = :p"),
                {"t": f"Paper {n}", "p": pid},
            )
    engine.dispose()
    migrate(db_url, "head")
    store = Store.open(db_url)
    try:
        assert find(store, "author:łukasz sort:new") == ["Paper 3", "Paper 2", "Paper 1"]
        assert find(store, "author:jérémy author:2") == ["Paper 2"]
        assert find(store, "コメント3番") == ["Paper 3"]
        assert find(store, "追試済み sort:new") == ["Paper 3", "Paper 2", "Paper 1"]
        assert store.integrity_check() == "ok"
    finally:
        store.dispose()
