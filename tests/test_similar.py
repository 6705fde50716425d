"""More like this: signatures indexed after polls, and ``like:`` on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from bot.config import BotSettings, SlackSettings
from bot.scheduler import build_scheduler
from digests.errors import QueryError
from digests.index import index_papers
from digests.ingest import prepare
from digests.model import Entry, SourceInfo, SourceSpec
from digests.query import parse_query
from digests.schema import paper_search, paper_terms, papers, term_stats
from digests.similar import cosine, paper_text, signature, term_counts
from digests.store import Store
from digests.topics import TopicRules
from tests.factories import Clock, arxiv, client_for, core_settings, utc
from tests.fakeslack import BOT_TOKEN, FakeSlack
from tests.paths import FIXTURES

NOW = utc(2026, 3, 20)

# Real-shaped papers: three topics, English and Japanese, abstracts in the sources' words.
ALIGNMENT = {
    "2305.18290": (
        "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
        "Aligning language models with human preferences usually fits a reward model to "
        "preference data and then fine-tunes the policy with reinforcement learning from "
        "human feedback (RLHF). We show that the reward model can be expressed through the "
        "policy itself, so preference optimization becomes a simple classification loss on "
        "human preference pairs, without reinforcement learning or a separate reward model.",
    ),
    "2203.02155": (
        "Training language models to follow instructions with human feedback",
        "We fine-tune language models with reinforcement learning from human feedback. "
        "Labelers rank model outputs, a reward model learns their preferences, and the "
        "policy is optimized against the reward model with PPO. The aligned models follow "
        "instructions better and are preferred by human labelers.",
    ),
    "2309.00267": (
        "RLAIF: Scaling Reinforcement Learning from Human Feedback with AI Feedback",
        "Reinforcement learning from human feedback needs costly human preference labels. "
        "We replace human preference labels with preferences from a language model and train "
        "a reward model on them; the policy trained with this AI feedback matches RLHF on "
        "summarization and dialogue, showing preference labels can come from a model.",
    ),
    "2310.12036": (
        "A General Theoretical Paradigm to Understand Learning from Human Preferences",
        "Learning from human preferences through a reward model and reinforcement learning, "
        "or directly as in direct preference optimization, can overfit the preference data. "
        "We study preference optimization in general and propose an objective that avoids "
        "the reward model and stays robust to deterministic preferences.",
    ),
}
AGENTS = {
    "2210.03629": (
        "ReAct: Synergizing Reasoning and Acting in Language Models",
        "We let language model agents interleave reasoning traces with actions in an "
        "environment: tool calls, web search and navigation. The agent plans, acts, reads "
        "observations and updates its plan, which beats acting alone on web navigation and "
        "interactive decision making benchmarks.",
    ),
    "2302.04761": (
        "Toolformer: Language Models Can Teach Themselves to Use Tools",
        "Language models struggle with arithmetic and lookups that simple tools do well. "
        "Toolformer learns which tool calls to make (a calculator, a search engine, a "
        "calendar) and how to use their results, so the agent decides by itself when a "
        "tool call helps.",
    ),
    "2308.11432": (
        "A Survey on Large Language Model based Autonomous Agents",
        "Autonomous agents built on language models plan, use tools, keep memory and act in "
        "environments. We survey how such agents are constructed, how agent memory and "
        "planning modules work, where the agents are applied and how agent benchmarks "
        "evaluate them.",
    ),
}
VISION = {
    "2010.11929": (
        "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
        "A pure transformer applied to sequences of image patches performs image "
        "classification well. Vision transformers pre-trained on large image datasets match "
        "convolutional networks on image recognition benchmarks with less compute.",
    ),
    "2304.02643": (
        "Segment Anything",
        "We build a promptable image segmentation model and a dataset of a billion masks on "
        "eleven million images. The model segments objects in images from points, boxes or "
        "text, and transfers zero-shot to new image segmentation tasks.",
    ),
    "2103.00020": (
        "Learning Transferable Visual Models From Natural Language Supervision",
        "Image classification models learn a fixed set of categories. We train an image "
        "encoder and a text encoder contrastively on image and caption pairs from the web, "
        "which gives zero-shot image recognition on many vision datasets.",
    ),
}
JAPANESE = {
    "2401.00001": (
        "人間のフィードバックによる強化学習を用いた言語モデルの選好最適化",
        "大規模言語モデルを人間の選好に合わせるため、人間のフィードバックによる強化学習で"
        "報酬モデルを学習し、方策を最適化する。報酬モデルを使わない直接選好最適化とも比較する。",
    ),
    "2401.00002": (
        "報酬モデルと選好データによる言語モデルのアラインメント",
        "人間の選好データから報酬モデルを学習し、強化学習で言語モデルの方策を調整する。"
        "選好最適化の安定性を調べる。",
    ),
    "2401.00003": (
        "画像認識のためのビジョントランスフォーマー",
        "画像をパッチに分割し、トランスフォーマーで画像分類を行う。画像認識のベンチマークで"
        "畳み込みネットワークと比較する。",
    ),
}


def _entries(group: dict[str, tuple[str, str]], start: datetime) -> list[Entry]:
    return [
        arxiv(
            ref,
            title,
            abstract=abstract,
            authors=("A. Author",),
            published=start + timedelta(hours=i),
        )
        for i, (ref, (title, abstract)) in enumerate(group.items())
    ]


def _source(store: Store, name: str = "feed") -> SourceInfo:
    return store.add_source(SourceSpec(name=name, location=f"https://example.org/{name}"), now=NOW)


def _fill(store: Store) -> SourceInfo:
    """Every paper above, stored (older weeks first: vision, agents, alignment)."""
    src = _source(store)
    batches = [
        (VISION, utc(2026, 2, 2)),
        (AGENTS, utc(2026, 2, 9)),
        (ALIGNMENT, utc(2026, 3, 2)),
        (JAPANESE, utc(2026, 3, 9)),
    ]
    for group, start in batches:
        store.store_entries(src, prepare(_entries(group, start), src, TopicRules()), now=start)
    return src


def _like(store: Store, text: str) -> list[str]:
    page = store.search(parse_query(text, now=NOW))
    return [h.arxiv_id or "" for h in page.hits]


def _index(store: Store) -> int:
    return index_papers(store, clock=lambda: NOW, batch=4).indexed


def test_backfill_indexes_every_paper_once_and_counts_them(store: Store) -> None:
    _fill(store)
    total = len(ALIGNMENT) + len(AGENTS) + len(VISION) + len(JAPANESE)
    assert store.unindexed_count() == total
    assert _index(store) == total
    assert store.unindexed_count() == 0 and _index(store) == 0
    with store.engine.connect() as conn:
        indexed = conn.execute(select(term_stats.c.df).where(term_stats.c.term == "")).scalar()
        per_paper = conn.execute(
            select(paper_terms.c.paper_id, func.count()).group_by(paper_terms.c.paper_id)
        ).all()
        weights = conn.execute(select(paper_terms.c.weight)).scalars().all()
    assert indexed == total
    assert len(per_paper) == total and all(0 < n <= 32 for _, n in per_paper)
    assert all(0 < w <= 1 for w in weights)


def test_papers_on_the_same_topic_come_first(store: Store) -> None:
    _fill(store)
    _index(store)
    found = _like(store, "like:2305.18290")
    assert "2305.18290" not in found  # the paper itself is left out
    # Every other alignment paper before any paper of another topic.
    assert set(found[: len(ALIGNMENT) - 1]) == set(ALIGNMENT) - {"2305.18290"}
    agents = _like(store, "like:2210.03629 limit:2")
    assert set(agents) <= set(AGENTS) and len(agents) == 2
    vision = _like(store, "like:https://arxiv.org/abs/2010.11929v2")
    assert vision and set(vision[:2]) <= set(VISION)


def test_japanese_papers_find_each_other(store: Store) -> None:
    _fill(store)
    _index(store)
    found = _like(store, "like:2401.00001")
    assert found[0] == "2401.00002"
    assert "2401.00003" not in found[:1]


def test_results_say_why_and_are_best_first(store: Store) -> None:
    _fill(store)
    _index(store)
    hits = store.search(parse_query("like:2305.18290", now=NOW)).hits
    scores = [float((h.reason or "").rsplit("(", 1)[1].rstrip(")")) for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] >= 0.1
    assert (hits[0].reason or "").startswith("similar to Direct Preference Optimization")


def test_like_combines_with_the_other_terms(store: Store) -> None:
    _fill(store)
    _index(store)
    alike = _like(store, "like:2305.18290 limit:50")
    newest = _like(store, "like:2305.18290 sort:new limit:50")
    assert set(newest) == set(alike)
    with store.engine.connect() as conn:
        dates = {a: d for a, d in conn.execute(select(papers.c.arxiv_id, papers.c.announced_at))}
    assert [dates[i] for i in newest] == sorted((dates[i] for i in newest), reverse=True)
    assert _like(store, "like:2305.18290 limit:1 offset:1") == alike[1:2]
    # A date window keeps the similar papers in it: with a pool of one, the scan finds them.
    store.like_pool = 1
    since = _like(store, "like:2305.18290 since:2026-03-01 until:2026-03-08 limit:50")
    assert set(since) == set(alike) & set(ALIGNMENT)
    words = _like(store, "like:2305.18290 summarization")
    assert words == ["2309.00267"]
    assert _like(store, "like:2305.18290 tag:NoSuchTag") == []


def test_a_changed_text_is_indexed_again_and_counted_once(store: Store) -> None:
    src = _fill(store)
    _index(store)
    with store.engine.connect() as conn:
        before = conn.execute(select(term_stats.c.df).where(term_stats.c.term == "")).scalar()
    other = _source(store, "notes")
    entry = arxiv(
        "2010.11929",
        VISION["2010.11929"][0],
        summary="Reward models and preference optimization for aligning vision transformers.",
        published=utc(2026, 3, 3),
    )
    store.store_entries(other, prepare([entry], other, TopicRules()), now=utc(2026, 3, 3))
    assert src.id != other.id
    assert store.unindexed_count() == 1
    assert _index(store) == 1
    with store.engine.connect() as conn:
        after = conn.execute(select(term_stats.c.df).where(term_stats.c.term == "")).scalar()
    assert after == before  # a paper counts once, however often it is indexed


def test_a_paper_not_indexed_yet_gets_its_signature_on_the_fly(store: Store) -> None:
    _fill(store)
    _index(store)
    indexed = _like(store, "like:2203.02155")
    with store.engine.begin() as conn:
        conn.execute(
            paper_search.update()
            .where(
                paper_search.c.paper_id
                == select(papers.c.id).where(papers.c.arxiv_id == "2203.02155").scalar_subquery()
            )
            .values(terms_at=None)
        )
    assert store.unindexed_count() == 1
    # The df of today, not of when it was indexed: the same neighbours first.
    assert _like(store, "like:2203.02155")[:3] == indexed[:3]


def test_an_unknown_paper_is_named_and_changes_nothing(store: Store) -> None:
    _fill(store)
    _index(store)
    with pytest.raises(QueryError) as caught:
        store.search(parse_query("like:2401.99999 since:4w", now=NOW))
    assert str(caught.value).startswith("like:2401.99999: no such paper in paperbot yet")
    with pytest.raises(QueryError, match=r"like:10\.1234/nothing: no such paper"):
        store.search(parse_query("like:10.1234/nothing", now=NOW))
    with pytest.raises(QueryError, match="no such paper"):  # whatever the other terms
        store.search(parse_query("like:2401.99999 tag:NoSuchTag", now=NOW))
    assert store.unindexed_count() == 0


@pytest.mark.parametrize(
    "text", ["like:nothing-at-all", "like:", "like:2305.18290 like:2203.02155"]
)
def test_a_malformed_like_is_one_readable_error(text: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text, now=NOW)
    assert "like:" in str(caught.value)


def test_a_deleted_paper_leaves_the_index(store: Store) -> None:
    _fill(store)
    _index(store)
    assert "2203.02155" in _like(store, "like:2305.18290")
    with store.engine.begin() as conn:
        conn.execute(delete(papers).where(papers.c.arxiv_id == "2203.02155"))
    assert "2203.02155" not in _like(store, "like:2305.18290")
    with pytest.raises(QueryError, match="no such paper"):
        _like(store, "like:2203.02155")


def test_the_week_matcher_reads_the_same_condition(store: Store) -> None:
    _fill(store)
    _index(store)
    start, end = utc(2026, 3, 2), utc(2026, 3, 9)
    query = parse_query("like:2305.18290 -tag:Survey", now=NOW)
    matched = store.match_ids(query, start=start, end=end)
    window = parse_query("like:2305.18290 -tag:Survey since:2026-03-02 until:2026-03-08", now=NOW)
    searched = {h.paper_id for h in store.search(window).hits}
    assert matched == searched and len(matched) == len(ALIGNMENT) - 1


def test_signatures_are_pure_and_alike_for_alike_texts() -> None:
    dpo = term_counts(paper_text(*ALIGNMENT["2305.18290"], ()), ("alignment",))
    rlhf = term_counts(paper_text(*ALIGNMENT["2203.02155"], ()), ("alignment",))
    vit = term_counts(paper_text(*VISION["2010.11929"], ()), ())
    sig = {k: signature(c, lambda _t: 1.0) for k, c in (("a", dpo), ("b", rlhf), ("c", vit))}
    assert cosine(sig["a"], sig["b"]) > cosine(sig["a"], sig["c"])
    assert "#alignment" in dpo and "reward model" in dpo
    # Author names never reach the text, the abstract wins over summaries.
    assert paper_text("T", None, "abstract words", ["summary words"]) == "T\nabstract words"
    assert paper_text("T", "題", None, ["one", "one", "two"]) == "T\n題\none\ntwo"


def test_the_scheduler_indexes_what_its_polls_brought(store: Store, tmp_path: Path) -> None:
    weekly = tmp_path / "weekly.md"
    weekly.write_bytes((FIXTURES / "weekly_md.md").read_bytes())
    clock = Clock(NOW)
    store.add_source(SourceSpec(name="weekly", location=str(weekly)), now=clock())
    core = replace(core_settings(tmp_path), enrich=False)
    with FakeSlack() as slack:
        slack_settings = SlackSettings(
            bot_token=BOT_TOKEN, signing_secret="s", api_url=slack.api_url, admins=frozenset()
        )
        settings = BotSettings(core=core, slack=slack_settings)
        sched = build_scheduler(settings, store=store, client=client_for(slack), clock=clock)
        try:
            report = sched.tick()
            assert report.polled and report.polled[0].new > 0
            assert sched.indexing is not None and sched.indexing.join(timeout=30)
        finally:
            sched.shutdown(wait=False)
    assert store.unindexed_count() == 0
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(paper_terms)).scalar()
