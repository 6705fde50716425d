"""Building the weekly digest on a real database: the right papers, reasons, summaries,
and what each filter of the week selects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digests.digest import (
    DigestRequest,
    StoreSummaryCache,
    WeekContext,
    build_and_archive,
    build_digest,
)
from digests.fetch import FetchSettings
from digests.ingest import poll_sources, prepare
from digests.model import Entry, Links, Signals, SourceInfo, SourceKind, SourceSpec
from digests.query import parse_query
from digests.rank import RankWeights
from digests.render import digest_notice
from digests.schema import papers
from digests.store import PostedRecord, Store
from digests.topics import load_rules
from digests.weeks import parse_week, week_bounds
from tests.factories import claim_one

NOW = datetime(2025, 8, 24, 12, 0, tzinfo=UTC)  # Sunday of 2025-W34
W34 = parse_week("2025-W34")
MONDAY = datetime(2025, 8, 18, 9, 0, tzinfo=UTC)
RULES = load_rules()
SENTENCE_END = ("。", "！", "？", ".", "!", "?", "…")


def add(store: Store, name: str, kind: SourceKind = SourceKind.FEED) -> SourceInfo:
    return store.add_source(SourceSpec(name=name, location=f"/x/{name}", kind=kind), now=MONDAY)


def put(store: Store, source: SourceInfo, *entries: Entry) -> None:
    store.store_entries(source, prepare(entries, source, RULES), now=MONDAY)


def paper(n: int, title: str, day: int = 0, **kw: object) -> Entry:
    return Entry(
        title=title,
        arxiv_id=f"2508.{n:05d}",
        url=f"https://arxiv.org/abs/2508.{n:05d}",
        published=MONDAY + timedelta(days=day),
        **kw,  # type: ignore[arg-type]
    )


def titles(items: Sequence[object]) -> list[str]:
    return [getattr(i, "title") for i in items]  # noqa: B009


def test_cross_source_paper_ranks_first_with_reasons_and_short_summaries(store: Store) -> None:
    arxiv, hf = add(store, "arXiv cs.CL", SourceKind.ARXIV), add(store, "HF", SourceKind.HF_DAILY)
    weekly = add(store, "ML Papers of the Week", SourceKind.WEEKLY_MD)
    long_abstract = (
        "We study reward hacking, e.g. when a policy exploits a reward model et al. describe. "
        "Fig. 2 shows the effect grows with scale. A second sentence that is long enough to "
        "push the summary over its limit if both were kept whole, which they cannot be here."
    )
    put(
        store,
        arxiv,
        paper(1, "Reward Hacking at Scale", abstract=long_abstract),
        paper(2, "A Quiet Paper", abstract="Nothing else mentions it. It is fine."),
        paper(3, "Another Quiet Paper", abstract="Also alone."),
    )
    put(store, hf, paper(1, "Reward Hacking at Scale", signals=Signals(upvotes=212)))
    put(store, weekly, paper(1, "Reward Hacking", signals=Signals(pick=True, position=3)))

    digest = build_digest(store, DigestRequest(week=W34, top=10), now=NOW)
    assert titles(digest.items)[0] == "Reward Hacking at Scale"
    assert set(titles(digest.items)) == {
        "Reward Hacking at Scale",
        "A Quiet Paper",
        "Another Quiet Paper",
    }
    top = digest.items[0]
    labels = [r.label for r in top.reasons]
    assert "3 sources: arXiv cs.CL, HF, ML Papers of the Week" in labels
    assert "212 upvotes" in labels
    assert "ML Papers of the Week #3" in labels
    assert top.score > digest.items[1].score
    for item in digest.items:
        assert 0 < len(item.summary) <= 280
        assert item.summary.endswith(SENTENCE_END)
    # "e.g." and "et al." and "Fig. 2" are not sentence ends: the cut keeps them inside.
    assert top.summary.startswith("We study reward hacking, e.g. when a policy exploits")
    assert top.url == "https://arxiv.org/abs/2508.00001"


def test_filter_and_language_preference(store: Store) -> None:
    notes = add(store, "notes", SourceKind.NOTES_HTML)
    put(
        store,
        notes,
        paper(
            10,
            "Preference Optimization Without Preferences",
            tags=("#Alignment",),
            summary="選好データなしで選好最適化を行う。二つ目の文です。三つ目の文はとても長いので入りません。",
            summary_lang="ja",
            abstract="We optimize preferences without preference data. It works.",
        ),
        paper(11, "Faster Kernels", tags=("#Efficiency",), abstract="Kernels are faster."),
    )
    q = parse_query("tag:alignment", now=NOW)
    ja = build_digest(store, DigestRequest(week=W34, query=q, lang="ja"), now=NOW)
    assert titles(ja.items) == ["Preference Optimization Without Preferences"]
    assert ja.scope == "#Alignment"
    assert ja.items[0].summary.startswith("選好データなしで選好最適化を行う。")
    assert ja.items[0].summary.endswith("。")
    en = build_digest(store, DigestRequest(week=W34, query=q, lang="en"), now=NOW)
    assert en.items[0].summary == "We optimize preferences without preference data. It works."


def test_a_paper_sent_to_a_channel_is_not_sent_again_next_week(store: Store) -> None:
    feed = add(store, "feed")
    put(store, feed, paper(20, "Sent Last Week", day=1))
    request = DigestRequest(week=W34, team_id="T1", channel_id="C1")
    first = build_and_archive(store, request, now=NOW)
    assert titles(first.items) == ["Sent Last Week"]
    assert first.digest_id is not None
    post_to_channel(store, first.digest_id, channel="C1", week="2025-W34")

    # Next week the same paper is mentioned again, beside a new one.
    put(store, feed, paper(20, "Sent Last Week", day=8), paper(21, "New This Week", day=8))
    w35 = parse_week("2025-W35")
    later = NOW + timedelta(days=7)
    again = build_digest(store, DigestRequest(week=w35, team_id="T1", channel_id="C1"), now=later)
    assert titles(again.items) == ["New This Week"]
    # Another channel still gets both.
    other = build_digest(store, DigestRequest(week=w35, team_id="T1", channel_id="C2"), now=later)
    assert set(titles(other.items)) == {"Sent Last Week", "New This Week"}
    # The same channel's digest of the same week is rebuilt whole (a retry, a preview).
    same = build_digest(store, request, now=NOW)
    assert titles(same.items) == ["Sent Last Week"]


def test_new_subscription_does_not_flood_old_papers(store: Store) -> None:
    feed = add(store, "feed")
    put(store, feed, paper(30, "Old News", day=-30), paper(31, "This Week", day=2))
    start, _ = week_bounds(W34, "UTC")
    # The old paper is mentioned again this week: still not new for the subscription.
    put(store, feed, Entry(title="Old News", arxiv_id="2508.00030", published=MONDAY))
    digest = build_digest(store, DigestRequest(week=W34, not_before=start), now=NOW)
    assert titles(digest.items) == ["This Week"]


def test_a_new_subscription_gets_last_weeks_papers_that_this_weeks_sources_bring(
    store: Store,
) -> None:
    """Hugging Face lists Friday's arXiv papers on Monday: for a subscription starting
    this week they are this week's news; a paper of eight days before is not."""
    feed = add(store, "feed")
    start, _ = week_bounds(W34, "UTC")
    put(store, feed, paper(40, "Friday Paper", day=-3), paper(41, "Older Paper", day=-8))
    again = [
        Entry(title=t, arxiv_id=f"2508.000{n}", published=MONDAY)
        for n, t in ((40, "Friday Paper"), (41, "Older Paper"))
    ]
    put(store, add(store, "hf"), *again)
    digest = build_digest(store, DigestRequest(week=W34, not_before=start), now=NOW)
    assert titles(digest.items) == ["Friday Paper"]


def test_empty_week_names_its_sources(store: Store) -> None:
    add(store, "silent feed")
    digest = build_digest(store, DigestRequest(week=parse_week("2020-W10")), now=NOW)
    assert digest.items == ()
    assert [(s.name, s.status) for s in digest.sources] == [("silent feed", "empty")]


def post_to_channel(store: Store, digest_id: int, *, channel: str, week: str) -> None:
    """Record ``digest_id`` as posted to ``channel`` in ``week``."""
    delivery = claim_one(
        store,
        key=f"T1:{channel}:-:{week}",
        team_id="T1",
        channel_id=channel,
        week=week,
        subscription_id=None,
        holder="test",
        now=NOW,
        stale_after=timedelta(minutes=10),
    )
    assert delivery is not None
    store.attach_digest(delivery.id, digest_id, holder="test")
    store.mark_posted([PostedRecord(delivery.id, "1.2")], now=NOW)


def test_an_empty_or_thin_digest_says_what_left_the_papers_out(store: Store) -> None:
    feed, _quiet = add(store, "feed"), add(store, "quiet feed")
    # Announced a month ago, mentioned again this week.
    put(store, feed, paper(59, "Old News", day=-30, tags=("#Retro",)))
    put(store, feed, paper(59, "Old News", day=1, tags=("#Retro",)))
    put(store, feed, *(paper(60 + n, f"Paper {n}", day=n, tags=("#Kernels",)) for n in range(4)))
    put(store, feed, paper(64, "Alignment Paper", day=4, tags=("#Alignment",)))

    def notice(request: DigestRequest) -> str:
        alone = build_digest(store, request, now=NOW)
        context = WeekContext.load(store, request.week, "UTC", now=NOW)
        assert build_digest(store, request, now=NOW, context=context) == alone
        return digest_notice(alone)

    # No papers that week: the sources say why, and only those that had nothing are named.
    assert notice(DigestRequest(week=parse_week("2025-W32"))) == (
        "No papers this week. Returned nothing: feed, quiet feed."
    )
    # Papers that week, none matching the filter; the quiet feed is no reason then.
    robotics = parse_query("tag:Robotics", now=NOW)
    assert notice(DigestRequest(week=W34, query=robotics)) == (
        "No papers in this digest: 6 papers this week, none matching #Robotics."
    )
    alignment = parse_query("tag:Alignment", now=NOW)
    assert notice(DigestRequest(week=W34, query=alignment)) == (
        "Only 1 paper in this digest: 6 papers this week, 5 not matching #Alignment."
    )
    # A subscription's first week leaves out a paper announced before it.
    start, _ = week_bounds(W34, "UTC")
    retro = parse_query("tag:Retro", now=NOW)
    assert notice(DigestRequest(week=W34, query=retro, not_before=start)) == (
        "No papers in this digest: 6 papers this week, 5 not matching #Retro, "
        "1 first announced before this subscription's first week."
    )
    # Papers that week, every one already posted to this channel in another week.
    sent = build_and_archive(store, DigestRequest(week=W34), now=NOW)
    assert sent.digest_id is not None
    post_to_channel(store, sent.digest_id, channel="C1", week="2025-W33")
    assert notice(DigestRequest(week=W34, team_id="T1", channel_id="C1")) == (
        "No papers in this digest: 6 papers this week, all already posted to this channel."
    )
    # As many papers as asked for is not thin, whatever the week.
    assert notice(DigestRequest(week=W34, top=2)) == ""
    assert notice(DigestRequest(week=W34)) == ""


def test_archive_round_trip(store: Store) -> None:
    feed = add(store, "feed")
    put(store, feed, paper(40, "Archived", abstract="Kept as it was sent."))
    built = build_and_archive(store, DigestRequest(week=W34), now=NOW)
    assert built.digest_id is not None
    start, end = week_bounds(W34, "UTC")
    loaded = store.load_digest(built.digest_id, start=start, end=end)
    assert loaded is not None
    assert loaded.items == built.items
    assert [d.id for d in store.list_digests()] == [built.digest_id]


def test_seed_week_ranks_the_cross_source_paper_first(store: Store, shared: Path) -> None:
    """2023-W21 in the seed pages: LIMA is on two note pages, another paper on one."""
    seeds = sorted((shared / "seeds").iterdir())
    infos = [store.add_source(SourceSpec(name=p.name, location=str(p)), now=MONDAY) for p in seeds]
    poll_sources(store, infos, fetch_settings=FetchSettings(), rules=RULES, clock=lambda: NOW)
    digest = build_digest(store, DigestRequest(week=parse_week("2023-W21"), lang="ja"), now=NOW)
    assert titles(digest.items)[0] == "LIMA: Less Is More for Alignment"
    assert "Small Language Models Improve Giants by Rewriting Their Outputs" in titles(digest.items)
    lima = digest.items[0]
    assert any(r.label.startswith("2 sources: ") for r in lima.reasons)
    assert lima.score > digest.items[1].score
    for item in digest.items:
        assert 0 < len(item.summary) <= 280
        assert item.summary.endswith(SENTENCE_END)


def test_summary_cache_lives_in_the_database(db_url: str) -> None:
    """A model-written summary is stored once and found again by a new process."""
    first = Store.open(db_url)
    StoreSummaryCache(first, lambda: NOW).put("summary:v1:arxiv:2508.00001:en", "Cached.")
    first.dispose()
    second = Store.open(db_url)
    cache = StoreSummaryCache(second, lambda: NOW)
    assert cache.get("summary:v1:arxiv:2508.00001:en") == "Cached."
    assert cache.get("summary:v1:arxiv:2508.00002:en") is None
    cache.put("summary:v1:arxiv:2508.00001:en", "Second writer loses the race quietly.")
    assert cache.get("summary:v1:arxiv:2508.00001:en") == "Cached."
    second.dispose()


def test_digests_built_with_a_shared_week_context_are_the_same(filled: Store) -> None:
    """Over the papers of the filters' week (``fill`` below)."""
    start, _ = week_bounds(W34, "UTC")
    requests = [
        DigestRequest(week=W34),
        DigestRequest(week=W34, top=2, lang="ja"),
        DigestRequest(week=W34, query=parse_query("tag:alignment", now=NOW)),
        DigestRequest(week=W34, query=parse_query("reward", now=NOW)),
        DigestRequest(week=W34, query=parse_query("attention -tag:alignment", now=NOW)),
        DigestRequest(week=W34, query=parse_query("source:feed", now=NOW)),
        DigestRequest(week=W34, not_before=start, team_id="T", channel_id="C"),
    ]
    context = WeekContext.load(filled, W34, "UTC", now=NOW)
    for request in requests:
        alone = build_digest(filled, request, now=NOW)
        assert alone.items, request
        assert build_digest(filled, request, now=NOW, context=context) == alone
        assert build_digest(filled, request, now=NOW, candidates=context.candidates) == alone


def test_a_week_context_for_another_week_or_clock_is_refused(store: Store) -> None:
    context = WeekContext.load(store, W34, "UTC", now=NOW)
    with pytest.raises(ValueError, match="2025-W35"):
        build_digest(store, DigestRequest(week=parse_week("2025-W35")), now=NOW, context=context)
    with pytest.raises(ValueError, match="another now"):
        later = NOW + timedelta(hours=1)
        build_digest(store, DigestRequest(week=W34), now=later, context=context)
    with pytest.raises(ValueError, match="other weights"):
        weights = RankWeights(match=2)
        build_digest(store, DigestRequest(week=W34), now=NOW, weights=weights, context=context)


# -- a week's filters, evaluated term by term with each term looked up once per week ------


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
        paper(60, "Reward Models at Scale", abstract="A reward model for assistants. It scales.",
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
            summary="It scores the answers of chat assistants.",
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
    post_to_channel(store, digest.digest_id, channel=channel, week="2025-W33")


def test_digests_with_and_without_the_week_context_are_the_same(filled: Store) -> None:
    post_elsewhen(filled, "CSENT")
    context = WeekContext.load(filled, W34, "UTC", now=NOW)
    for i, text in enumerate(QUERIES):
        for extra in (
            {},
            {"top": 2, "lang": "ja"},
            {"team_id": "T1", "channel_id": f"C{i}", "not_before": MONDAY},
            {"team_id": "T1", "channel_id": "CSENT"},
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
