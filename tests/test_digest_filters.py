"""A week's filters, evaluated term by term with each term looked up once per week."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from digests.digest import DigestRequest, WeekContext, build_and_archive, build_digest
from digests.model import Entry, Links, Signals, SourceKind
from digests.query import parse_query
from digests.schema import papers
from digests.store import PostedRecord, Store
from digests.weeks import week_bounds
from tests.factories import claim_one
from tests.test_digest import MONDAY, NOW, W34, add, paper, put

QUERIES = [
    "tag:alignment",
    "tag:Alignment",
    "tag:rl",  # an alias of #Reinforcement-Learning
    "tag:nosuchtag",
    "-tag:nosuchtag",
    "tag:alignment -tag:rlhf",
    "-tag:alignment -tag:safety",
    "tag:alignment tag:rlhf",
    "tag:alignment tag:nosuchtag",
    "reward",
    "Reward",
    "REWARD model",
    '"reward model"',
    '"reward models"',
    "reward -diffusion",
    '-"reward model"',
    "rl",  # shorter than a trigram
    "-rl",
    "強化学習",
    "安全",  # two characters
    "強化学習 -安全",
    "大規模言語モデル tag:safety",
    "author:tanaka",
    "author:Tanaka",
    "author:山田",
    "author:josé",
    "author:nobody",
    "author:smith author:tanaka",
    'author:"Alice Smith"',
    "source:feed",
    "source:FEED",
    "source:arxiv-cs.cl",
    "source:nosuchsource",
    "source:feed source:notes",
    "since:2025-08-20",
    "until:2025-08-20",
    "since:2025-08-01 until:2025-08-19",
    "2508.00060",
    "2508.00060 reward",
    "diffusion source:feed -tag:alignment",
    "model author:smith -強化学習 tag:rlhf",
    "attention",
    "nomatchatall",
    "since:2w reward",
    "tag:alignment source:notes since:2025-08-19",
]

# What each query keeps of W34's papers (titles; the paper mentioned only weeks before,
# "Only Last Month", is never among them).
KEPT = {
    "tag:alignment": {
        "Alignment Notes",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
        "Safety cases",
    },
    "tag:Alignment": {
        "Alignment Notes",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
        "Safety cases",
    },
    "tag:rl": {"RL from Human Feedback"},
    "tag:nosuchtag": set(),
    "-tag:nosuchtag": {
        "A Blog Post on Diffusion",
        "Alignment Notes",
        "Kernels",
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
        "Safety cases",
        "大規模言語モデルの安全性",
        "強化学習の基礎",
    },
    "tag:alignment -tag:rlhf": {
        "Alignment Notes",
        "Reward model without an arXiv id",
        "Safety cases",
    },
    "-tag:alignment -tag:safety": {
        "A Blog Post on Diffusion",
        "Kernels",
        "Old Idea Revisited",
        "強化学習の基礎",
    },
    "tag:alignment tag:rlhf": {"RL from Human Feedback", "Reward Models at Scale"},
    "tag:alignment tag:nosuchtag": set(),
    "reward": {
        "A Blog Post on Diffusion",
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
    },
    "Reward": {
        "A Blog Post on Diffusion",
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
    },
    "REWARD model": {
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
    },
    '"reward model"': {
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
    },
    '"reward models"': {"RL from Human Feedback", "Reward Models at Scale"},
    "reward -diffusion": {
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
    },
    '-"reward model"': {
        "A Blog Post on Diffusion",
        "Alignment Notes",
        "Kernels",
        "Old Idea Revisited",
        "Safety cases",
        "大規模言語モデルの安全性",
        "強化学習の基礎",
    },
    "rl": {"RL from Human Feedback"},
    "-rl": {
        "A Blog Post on Diffusion",
        "Alignment Notes",
        "Kernels",
        "Old Idea Revisited",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
        "Safety cases",
        "大規模言語モデルの安全性",
        "強化学習の基礎",
    },
    "強化学習": {"大規模言語モデルの安全性", "強化学習の基礎"},
    "安全": {"Safety cases", "大規模言語モデルの安全性"},
    "強化学習 -安全": {"強化学習の基礎"},
    "大規模言語モデル tag:safety": {"大規模言語モデルの安全性"},
    "author:tanaka": {"Reward Models at Scale", "Reward model without an arXiv id"},
    "author:Tanaka": {"Reward Models at Scale", "Reward model without an arXiv id"},
    "author:nobody": set(),
    "author:smith author:tanaka": {"Reward Models at Scale"},
    'author:"Alice Smith"': {"Old Idea Revisited", "Reward Models at Scale"},
    "source:feed": {
        "A Blog Post on Diffusion",
        "Old Idea Revisited",
        "Reward model without an arXiv id",
    },
    "source:FEED": {
        "A Blog Post on Diffusion",
        "Old Idea Revisited",
        "Reward model without an arXiv id",
    },
    "source:arxiv-cs.cl": set(),
    "source:nosuchsource": set(),
    "source:feed source:notes": {
        "A Blog Post on Diffusion",
        "Alignment Notes",
        "Old Idea Revisited",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
        "Safety cases",
    },
    "since:2025-08-20": {
        "A Blog Post on Diffusion",
        "Alignment Notes",
        "Reward model without an arXiv id",
        "Safety cases",
        "大規模言語モデルの安全性",
        "強化学習の基礎",
    },
    "until:2025-08-20": {
        "Alignment Notes",
        "Kernels",
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "大規模言語モデルの安全性",
    },
    "since:2025-08-01 until:2025-08-19": {
        "Kernels",
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
    },
    "2508.00060": {"Reward Models at Scale"},
    "2508.00060 reward": {"Reward Models at Scale"},
    "diffusion source:feed -tag:alignment": {"A Blog Post on Diffusion"},
    "model author:smith -強化学習 tag:rlhf": {"Reward Models at Scale"},
    "attention": {"Kernels"},
    "nomatchatall": set(),
    "since:2w reward": {
        "A Blog Post on Diffusion",
        "Old Idea Revisited",
        "RL from Human Feedback",
        "Reward Models at Scale",
        "Reward model without an arXiv id",
    },
    "tag:alignment source:notes since:2025-08-19": {"Alignment Notes", "Safety cases"},
}


def fill(store: Store) -> None:
    """Papers of W34 and of earlier weeks, with tags (one by alias), authors in several
    scripts, English and Japanese text, and sources whose other mentions fall outside."""
    arxiv = add(store, "arXiv cs.CL", SourceKind.ARXIV)
    hf = add(store, "HF", SourceKind.HF_DAILY)
    notes = add(store, "notes", SourceKind.NOTES_HTML)
    feed = add(store, "Feed", SourceKind.FEED)
    store.add_tag_aliases({"RL": "Reinforcement-Learning"})
    put(
        store,
        arxiv,
        paper(60, "Reward Models at Scale", abstract="A reward model. It scales.",
              authors=("Alice Smith", "Taro Tanaka")),
        paper(61, "Kernels", abstract="Faster kernels for attention.", authors=("Bob Jones",)),
        paper(62, "Old Idea Revisited", day=-20, abstract="Seen before: reward.",
              authors=("Alice Smith",)),
        paper(63, "RL from Human Feedback", day=1, abstract="rl and reward models",
              authors=("José Ñúñez",), tags=("#RLHF", "#Reinforcement-Learning")),
        paper(64, "Only Last Month", day=-25, abstract="Diffusion reward.", tags=("#Alignment",)),
        paper(65, "大規模言語モデルの安全性", day=2, abstract="強化学習による安全性の向上。",
              authors=("山田 太郎",), tags=("#Safety",)),
        paper(66, "強化学習の基礎", day=3, abstract="強化学習。", authors=("田中 花子",)),
    )  # fmt: skip
    put(store, arxiv, paper(62, "Old Idea Revisited", day=1))
    put(store, hf, paper(60, "Reward Models at Scale", signals=Signals(upvotes=57)))
    put(
        store,
        notes,
        paper(67, "Alignment Notes", day=2, tags=("#Alignment",), summary="On alignment."),
        paper(60, "Reward Models", tags=("#RLHF",), signals=Signals(pick=True)),
        paper(64, "Only Last Month", day=-25, tags=("#Safety",)),
        paper(68, "Safety cases", day=4, tags=("#Alignment", "#Safety"),
              summary="安全性の議論", summary_lang="ja"),
    )  # fmt: skip
    put(
        store,
        feed,
        paper(69, "A Blog Post on Diffusion", day=3, abstract="Diffusion, not reward."),
        paper(62, "Old Idea Revisited", day=-20),  # the feed's mention is weeks before
        Entry(
            title="Reward model without an arXiv id",
            url="https://example.org/reward-note",
            published=MONDAY + timedelta(days=5),
            authors=("Taro Tanaka",),
            links=Links(other=("https://example.org/reward-note",)),
        ),
    )


@pytest.fixture
def filled(store: Store) -> Store:
    fill(store)
    return store


def test_each_query_keeps_the_weeks_papers_its_terms_match(filled: Store) -> None:
    start, end = week_bounds(W34, "UTC")
    with filled.engine.connect() as conn:
        titles = dict(conn.execute(select(papers.c.id, papers.c.title)).all())
    matcher = filled.week_matcher(start, end)  # one matcher: terms are reused across queries
    for text, kept in KEPT.items():
        query = parse_query(text, now=NOW)
        assert {titles[i] for i in matcher.match_ids(query)} == kept, text
        alone = filled.match_ids(query, start=start, end=end)  # a week of one query
        assert {titles[i] for i in alone} == kept, text


def post_elsewhen(store: Store, channel: str) -> None:
    """Post the week's three best papers to ``channel`` as if in another week."""
    digest = build_and_archive(store, DigestRequest(week=W34, top=3), now=NOW)
    assert digest.digest_id is not None and len(digest.items) == 3
    delivery = claim_one(
        store,
        key=f"T:{channel}:-:2025-W33",
        team_id="T",
        channel_id=channel,
        week="2025-W33",
        subscription_id=None,
        holder="test",
        now=NOW,
        stale_after=timedelta(minutes=10),
    )
    assert delivery is not None
    store.attach_digest(delivery.id, digest.digest_id, holder="test")
    store.mark_posted_many([PostedRecord(delivery.id, "1.2")], now=NOW)


def test_digests_with_and_without_the_week_context_are_the_same(filled: Store) -> None:
    post_elsewhen(filled, "CSENT")
    context = WeekContext.load(filled, W34, "UTC", now=NOW)
    for i, text in enumerate(QUERIES):
        for extra in (
            {},
            {"top": 2, "lang": "ja"},
            {"team_id": "T", "channel_id": f"C{i}", "not_before": MONDAY},
            {"team_id": "T", "channel_id": "CSENT"},
        ):
            request = DigestRequest(week=W34, query=parse_query(text, now=NOW), **extra)  # type: ignore[arg-type]
            alone = build_digest(filled, request, now=NOW)
            assert build_digest(filled, request, now=NOW, context=context) == alone, text


def test_tag_displays_looked_up_once_per_week_are_the_stores(filled: Store) -> None:
    start, end = week_bounds(W34, "UTC")
    matcher = filled.week_matcher(start, end)
    for slugs in (
        ["alignment"],
        ["rl", "nosuchtag", "alignment"],
        ["safety", "safety", "rlhf"],
        [],
        ["nosuchtag"],
        ["rl", "reinforcement-learning"],
    ):
        assert matcher.tag_displays(slugs) == filled.tag_displays(slugs), slugs
