"""Weekly ranking: which paper wins, the reasons shown for it, a stable order, and a
prepared week that ranks every filter and subset as ranking it afresh does."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digests.errors import ConfigError
from digests.model import Candidate, MentionView, PaperHit, Signals, SourceKind
from digests.query import parse_query
from digests.rank import (
    DEFAULT_WEIGHTS,
    RankWeights,
    Scored,
    explain,
    prepare_week,
    rank,
    rank_prepared,
)

# 2025-W34 in UTC; the digest is built as the week ends.
START = datetime(2025, 8, 18, tzinfo=UTC)
END = datetime(2025, 8, 25, tzinfo=UTC)
NOW = END
TUESDAY = START + timedelta(days=1, hours=9)
BEFORE = START - timedelta(days=30)

ARXIV = ("arXiv cs.CL", SourceKind.ARXIV)
ARXIV_LG = ("arXiv cs.LG", SourceKind.ARXIV)
HF = ("HF Daily Papers", SourceKind.HF_DAILY)
WEEKLY = ("ML Papers of the Week", SourceKind.WEEKLY_MD)
NOTES = ("paper_notes #Alignment", SourceKind.NOTES_HTML)
PAGES = ("arxiv-ja", SourceKind.PAPER_PAGE)
ARXIV_AI = ("arXiv cs.AI", SourceKind.ARXIV)
# As the store works them out (``digests.families``); a source left out is its own family.
FAMILIES = {
    ARXIV: "arXiv",
    ARXIV_LG: "arXiv",
    ARXIV_AI: "arXiv",
    HF: "Hugging Face",
    WEEKLY: "dair-ai",
    NOTES: "akihikowatanabe",
}


def mention(
    source: tuple[str, SourceKind | None] = ARXIV,
    *,
    at: datetime = TUESDAY,
    announce: str | None = None,
    title: str = "A paper",
    summary: str | None = None,
    **signals: Any,
) -> MentionView:
    name, kind = source
    if announce is None and kind is SourceKind.ARXIV:
        announce = "new"
    return MentionView(
        source_name=name,
        source_kind=kind,
        family=FAMILIES.get(source, ""),
        mentioned_at=at,
        title=title,
        summary=summary,
        announce_type=announce,
        signals=Signals(**signals),
    )


def paper(
    n: int,
    *mentions: MentionView,
    upvotes: int = 0,
    announced: datetime = TUESDAY,
    title: str | None = None,
    tags: tuple[str, ...] = (),
    abstract: str | None = None,
) -> Candidate:
    hit = PaperHit(
        paper_id=n,
        key=f"arxiv:2508.{10000 + n}",
        title=title or f"Paper {n}",
        url=f"https://arxiv.org/abs/2508.{10000 + n}",
        authors=("A. Author",),
        tags=tags,
        sources=tuple(sorted({m.source_name for m in mentions})),
        summary=None,
        first_seen=announced,
    )
    return Candidate(
        paper=hit, abstract=abstract, announced_at=announced, mentions=mentions, upvotes=upvotes
    )


def ranked(candidates: list[Candidate], **kwargs: Any) -> list[Scored]:
    kwargs.setdefault("top", 100)
    return rank(candidates, now=NOW, week_start=START, week_end=END, **kwargs)


def ids(result: list[Scored]) -> list[int]:
    return [s.candidate.paper.paper_id for s in result]


def codes(scored: Scored) -> list[str]:
    return [r.code for r in scored.reasons]


# --- who wins ----------------------------------------------------------------------------


def test_a_paper_several_sources_mention_outranks_single_source_ones() -> None:
    cross = paper(1, mention(ARXIV), mention(HF, upvotes=40), upvotes=40)
    arxiv_only = paper(2, mention(ARXIV))
    hf_only = paper(3, mention(HF, upvotes=40), upvotes=40)
    result = ranked([arxiv_only, hf_only, cross])
    assert ids(result) == [1, 3, 2]
    [sources] = [r for r in result[0].reasons if r.code == "sources"]
    assert sources.label == "2 sources: arXiv cs.CL, HF Daily Papers"
    assert sources.points == DEFAULT_WEIGHTS.sources


def test_the_calibrated_order_of_picks_upvotes_and_listings() -> None:
    # What the calibration weeks (docs/ranking.md) settled: the head of a curated list and
    # the week's most upvoted papers first, then the list's tail, then mid-upvoted papers,
    # then papers arXiv alone lists, however many of its listings carry them.
    head = paper(1, mention(ARXIV), mention(WEEKLY, pick=True, position=1))
    most_upvoted = paper(2, mention(ARXIV), mention(HF, upvotes=148), upvotes=148)
    hf_only = paper(3, mention(HF, upvotes=148), upvotes=148)
    tail = paper(4, mention(ARXIV), mention(WEEKLY, pick=True, position=10))
    mid = paper(5, mention(ARXIV), mention(HF, upvotes=10), upvotes=10)
    cross_listed = paper(6, mention(ARXIV), mention(ARXIV_LG, announce="cross"), mention(ARXIV_AI))
    result = ranked([cross_listed, mid, tail, hf_only, most_upvoted, head])
    assert ids(result) == [2, 1, 3, 4, 5, 6]


def test_upvotes_weigh_as_much_as_a_pick_at_a_hundred() -> None:
    # Damped: a hundred upvotes earn the upvotes weight, a curator's pick the pick weight.
    [popular] = ranked([paper(1, mention(HF), upvotes=100)])
    assert [r.points for r in popular.reasons if r.code == "upvotes"] == [
        pytest.approx(DEFAULT_WEIGHTS.upvotes)
    ]
    assert DEFAULT_WEIGHTS.upvotes >= DEFAULT_WEIGHTS.pick > DEFAULT_WEIGHTS.sources


def test_upvotes_are_damped_but_still_order_papers() -> None:
    papers = [paper(n, mention(HF), upvotes=u) for n, u in enumerate([5, 100, 1000, 10_000], 1)]
    result = ranked(papers)
    assert ids(result) == [4, 3, 2, 1]
    points = [next(r.points for r in s.reasons if r.code == "upvotes") for s in result]
    assert points[2] == pytest.approx(DEFAULT_WEIGHTS.upvotes)  # 100 upvotes: the full weight
    # Ten times the upvotes earns half as much again, not ten times as much.
    assert points[1] == pytest.approx(1.5 * points[2], rel=0.01)
    assert points[0] < 2 * points[2]
    assert result[1].reasons[0].label == "1000 upvotes"


def test_the_latest_upvote_snapshot_is_used() -> None:
    [scored] = ranked([paper(1, mention(HF, upvotes=12), mention(HF, upvotes=212), upvotes=30)])
    assert "212 upvotes" in explain(scored)


def test_a_higher_place_in_a_curated_list_counts_more() -> None:
    papers = [
        paper(n, mention(WEEKLY, pick=True, position=n), announced=BEFORE) for n in range(1, 13)
    ]
    result = ranked(list(reversed(papers)))
    assert ids(result) == list(range(1, 13))
    assert result[0].reasons[0].label == "ML Papers of the Week #1"
    assert result[0].reasons[0].code == "position"
    w = DEFAULT_WEIGHTS
    assert result[0].score == pytest.approx(w.pick + w.position - w.updated)
    # Each place down is a tenth of the position weight, to the tenth place.
    assert result[1].score == pytest.approx(w.pick + 0.9 * w.position - w.updated)
    assert result[9].score == pytest.approx(w.pick + 0.1 * w.position - w.updated)
    # Places past the tenth all count as the tenth; the paper key breaks the tie.
    assert result[9].score == result[10].score == result[11].score


def test_a_pick_without_a_place_names_its_curator() -> None:
    [scored] = ranked([paper(1, mention(NOTES, pick=True), announced=BEFORE)])
    assert explain(scored) == "picked by paper_notes #Alignment · updated (announced Jul 19)"
    assert scored.score == DEFAULT_WEIGHTS.pick - DEFAULT_WEIGHTS.updated


def test_a_curator_counts_once_at_its_best_place() -> None:
    # The same weekly list seen twice (two polls, an edited README) is one pick.
    [scored] = ranked(
        [paper(1, mention(WEEKLY, pick=True, position=7), mention(WEEKLY, pick=True, position=2))]
    )
    assert [r.label for r in scored.reasons if r.code in ("pick", "position")] == [
        "ML Papers of the Week #2"
    ]


def test_a_new_version_is_not_a_new_paper() -> None:
    new = paper(1, mention(ARXIV, announce="new"))
    replaced = paper(
        2, mention(ARXIV, announce="replace"), mention(ARXIV_LG, announce="replace-cross")
    )
    result = ranked([replaced, new])
    assert ids(result) == [1, 2]
    assert "new this week" in explain(result[0])
    penalized = result[1]
    assert codes(penalized) == ["updated"]
    assert penalized.score == -DEFAULT_WEIGHTS.updated
    assert explain(penalized) == "updated: new version in arXiv cs.CL +1"


def test_a_paper_announced_before_the_week_is_updated_not_new() -> None:
    old = paper(1, mention(ARXIV), announced=BEFORE)
    new = paper(2, mention(ARXIV), announced=START)
    result = ranked([old, new])
    assert ids(result) == [2, 1]
    assert explain(result[0]) == "new this week · in arXiv cs.CL"
    assert explain(result[1]) == "updated (announced Jul 19) · in arXiv cs.CL"
    assert result[1].score == -DEFAULT_WEIGHTS.updated
    # An older paper shows its month and year.
    [older] = ranked([paper(4, mention(ARXIV), announced=datetime(2023, 3, 14, tzinfo=UTC))])
    assert explain(older) == "updated (announced Mar 2023) · in arXiv cs.CL"
    # Announced the instant the week starts is new.
    assert "updated" not in codes(ranked([paper(3, mention(ARXIV), announced=START)])[0])


def test_a_paper_of_the_days_before_the_week_is_neither_new_nor_updated() -> None:
    # Hugging Face lists Friday's arXiv papers on Monday; curators pick last week's. Up to
    # seven days before the week a paper is still this week's news: its sources count,
    # it earns no freshness and loses nothing. A day more and it is an update.
    lagging = [
        mention(("HF Daily Papers", SourceKind.HF_DAILY), upvotes=148),
        mention(("Aggregator", SourceKind.FEED)),
    ]
    friday = paper(1, *lagging, upvotes=148, announced=START - timedelta(days=3))
    edge = paper(2, *lagging, upvotes=148, announced=START - timedelta(days=7))
    late = paper(3, *lagging, upvotes=148, announced=START - timedelta(days=7, seconds=1))
    by_id = {s.candidate.paper.paper_id: s for s in ranked([friday, edge, late])}
    for n in (1, 2):
        assert codes(by_id[n]) == ["upvotes", "sources"]
        assert "new this week" not in explain(by_id[n])
    assert codes(by_id[3]) == ["upvotes", "updated", "sources"]  # "in …", no points
    assert by_id[1].score == by_id[2].score > by_id[3].score


def test_other_sources_listing_an_old_paper_again_do_not_lift_it() -> None:
    # An aggregator, a blog and arXiv's replacement listing an old paper this week are
    # re-listings, not attention: it stays below new work.
    relisted = paper(
        1,
        mention(ARXIV, announce="replace"),
        mention(("Lab blog", SourceKind.FEED)),
        mention(("Aggregator", SourceKind.FEED)),
        announced=BEFORE,
    )
    new = paper(2, mention(ARXIV), announced=START)
    result = ranked([relisted, new])
    assert ids(result) == [2, 1]
    assert "sources" not in [r.code for r in result[1].reasons if r.points]
    assert explain(result[1]) == ("updated (announced Jul 19) · in Aggregator, Lab blog")


def test_curators_and_upvotes_lift_an_updated_paper() -> None:
    new = paper(1, mention(ARXIV), announced=TUESDAY)
    picked = paper(2, mention(WEEKLY, pick=True, position=9), announced=BEFORE)
    upvoted = paper(3, mention(HF, upvotes=20), upvotes=20, announced=BEFORE)
    result = ranked([new, picked, upvoted])
    assert ids(result) == [2, 3, 1]
    assert all("updated" in codes(s) for s in result[:2])


def test_a_replaced_paper_that_a_curator_picks_is_lifted_but_still_updated() -> None:
    [scored] = ranked(
        [paper(1, mention(ARXIV, announce="replace"), mention(WEEKLY, pick=True, position=4))]
    )
    assert "updated" not in codes(scored)  # the curator's mention is a mention this week
    assert scored.score > 0
    [old] = ranked(
        [
            paper(
                1,
                mention(ARXIV, announce="replace"),
                mention(WEEKLY, pick=True, position=4),
                announced=BEFORE,
            )
        ]
    )
    assert codes(old) == ["position", "updated"]
    assert old.score > 0


def test_cross_listings_in_arxiv_are_one_source() -> None:
    # Listed in cs.CL and cross-listed in cs.LG and cs.AI: arXiv's bookkeeping, not three
    # opinions; the reason still says where it was listed.
    [scored] = ranked(
        [
            paper(
                1,
                mention(ARXIV, announce="new"),
                mention(ARXIV_LG, announce="cross"),
                mention(ARXIV_AI, announce="cross"),
            )
        ]
    )
    assert "sources" not in [r.code for r in scored.reasons if r.points]
    assert explain(scored) == "new this week · in arXiv (cs.AI, cs.CL, cs.LG)"


def test_families_count_once_and_their_listings_are_named() -> None:
    [scored] = ranked(
        [
            paper(
                1,
                mention(ARXIV),
                mention(ARXIV_LG, announce="cross"),
                mention(HF, upvotes=3),
                mention(HF, upvotes=5),
                upvotes=5,
            )
        ]
    )
    [sources] = [r for r in scored.reasons if r.code == "sources"]
    assert sources.label == "2 sources: arXiv (cs.CL, cs.LG), HF Daily Papers"
    assert sources.points == DEFAULT_WEIGHTS.sources


def test_a_family_an_operator_set_joins_sources_ignoring_case() -> None:
    blog = MentionView("Lab blog", SourceKind.FEED, TUESDAY, "A paper", family="Example Lab")
    notes = MentionView("Lab notes", SourceKind.FEED, TUESDAY, "A paper", family="example lab")
    # A family seen through one source shows the source's name.
    other = MentionView("Other", SourceKind.FEED, TUESDAY, "A paper", family="Elsewhere")
    [one] = ranked([paper(1, blog, notes)])
    assert explain(one) == "new this week · in Example Lab (Lab blog, Lab notes)"
    [two] = ranked([paper(1, blog, notes, other)])
    assert explain(two).startswith("2 sources: Example Lab (Lab blog, Lab notes), Other")


def test_a_long_list_of_families_is_counted_not_cut() -> None:
    feeds = [
        MentionView(f"Feed number {n} with a long name", SourceKind.FEED, TUESDAY, "A paper")
        for n in range(1, 7)
    ]
    [scored] = ranked([paper(1, *feeds)])
    [sources] = [r for r in scored.reasons if r.code == "sources"]
    assert sources.label.startswith("6 sources: Feed number 1 with a long name, ")
    assert sources.label.endswith(" more")
    assert len(sources.label) <= 100
    assert sources.points == 5 * DEFAULT_WEIGHTS.sources


def test_every_generic_feed_is_its_own_source() -> None:
    lab_a = ("Lab A blog", SourceKind.FEED)
    lab_b = ("Lab B blog", SourceKind.FEED)
    [scored] = ranked([paper(1, mention(lab_a), mention(lab_b))])
    assert explain(scored) == "2 sources: Lab A blog, Lab B blog · new this week"


def test_being_only_listed_as_related_is_a_weak_signal() -> None:
    related = paper(1, mention(PAGES, related=True), announced=START)
    listed = paper(2, mention(PAGES), announced=BEFORE)
    both = paper(3, mention(ARXIV), mention(PAGES, related=True))
    result = ranked([related, listed, both])
    by_id = {s.candidate.paper.paper_id: s for s in result}
    assert explain(by_id[1]) == "listed as related in arxiv-ja · new this week"
    assert by_id[1].score == DEFAULT_WEIGHTS.related + DEFAULT_WEIGHTS.recency / 2
    # A related listing is not a second source.
    assert "sources" not in codes(by_id[3])
    assert "related" in codes(by_id[3])
    assert ids(result) == [3, 1, 2]


def test_filter_match_prefers_papers_that_match_more_of_it() -> None:
    query = parse_query("tag:Alignment RLHF", now=NOW)
    in_title = paper(1, mention(ARXIV), title="RLHF without tears", tags=("Alignment",))
    in_abstract = paper(2, mention(ARXIV), tags=("#alignment",), abstract="We study rlhf.")
    tag_only = paper(3, mention(ARXIV), tags=("Alignment",))
    neither = paper(4, mention(ARXIV))
    result = ranked([neither, tag_only, in_abstract, in_title], query=query)
    assert ids(result) == [1, 2, 3, 4]
    match = {s.candidate.paper.paper_id: s.reasons for s in result}
    assert [r.label for r in match[1] if r.code == "match"] == ["matches #Alignment, RLHF"]
    assert [r.points for r in match[1] if r.code == "match"] == [1.0]
    assert [r.points for r in match[2] if r.code == "match"] == [0.75]
    assert [r.label for r in match[3] if r.code == "match"] == ["matches #Alignment"]
    assert "match" not in codes(result[3])


def test_without_a_filter_there_is_no_match_reason() -> None:
    [scored] = ranked([paper(1, mention(ARXIV), tags=("Alignment",))], query=None)
    assert "match" not in codes(scored)


def test_recency_is_linear_within_the_week() -> None:
    monday = paper(1, mention(ARXIV), announced=START)
    sunday = paper(2, mention(ARXIV), announced=END - timedelta(hours=1))
    older = paper(3, mention(ARXIV), announced=BEFORE)
    result = ranked([monday, older, sunday])
    assert ids(result) == [2, 1, 3]
    recency = [next((r.points for r in s.reasons if r.code == "recency"), 0.0) for s in result]
    assert recency[0] == pytest.approx(1.0, abs=0.01)
    assert recency[1] == pytest.approx(0.5)
    assert recency[2] == 0.0
    assert explain(result[2]) == "updated (announced Jul 19) · in arXiv cs.CL"


def test_a_digest_built_mid_week_measures_recency_against_now() -> None:
    now = START + timedelta(days=3)
    latest = paper(1, mention(ARXIV), announced=now - timedelta(minutes=1))
    [scored] = rank([latest], now=now, week_start=START, week_end=END)
    assert scored.score == pytest.approx(DEFAULT_WEIGHTS.recency, abs=0.001)


# --- reasons -----------------------------------------------------------------------------


def test_every_kind_of_reason_has_a_short_label() -> None:
    query = parse_query("tag:Alignment", now=NOW)
    everything = paper(
        1,
        mention(ARXIV),
        mention(HF, upvotes=212),
        mention(WEEKLY, pick=True, position=3),
        mention(PAGES, related=True),
        upvotes=212,
        tags=("Alignment",),
    )
    picked = paper(2, mention(NOTES, pick=True))
    replaced = paper(3, mention(ARXIV, announce="replace"))
    alone = paper(4, mention(ARXIV), announced=BEFORE)
    result = {
        s.candidate.paper.paper_id: s
        for s in ranked([everything, picked, replaced, alone], query=query)
    }
    assert explain(result[1]) == (
        "212 upvotes · ML Papers of the Week #3"
        " · 3 sources: arXiv cs.CL, HF Daily Papers, ML Papers of the Week · matches #Alignment"
        " · new this week · listed as related in arxiv-ja"
    )
    assert codes(result[1]) == ["upvotes", "position", "sources", "match", "recency", "related"]
    assert explain(result[2]) == "picked by paper_notes #Alignment · new this week"
    assert explain(result[3]) == "updated: new version in arXiv cs.CL"
    assert explain(result[4]) == "updated (announced Jul 19) · in arXiv cs.CL"
    seen = {r.code for s in result.values() for r in s.reasons}
    assert seen == {
        "sources",
        "position",
        "pick",
        "upvotes",
        "match",
        "recency",
        "related",
        "updated",
    }
    for s in result.values():
        assert s.reasons
        assert all(r.label.strip() and len(r.label) <= 100 for r in s.reasons)
        assert s.score == pytest.approx(math.fsum(r.points for r in s.reasons))


def test_reasons_are_listed_most_points_first() -> None:
    [scored] = ranked([paper(1, mention(ARXIV), mention(HF), upvotes=5000)])
    points = [r.points for r in scored.reasons]
    assert points == sorted(points, reverse=True)


def test_long_source_names_are_shortened_in_labels() -> None:
    name = "A very long source name that somebody typed in full, with a subtitle"
    [scored] = ranked([paper(1, mention((name, SourceKind.NOTES_HTML), pick=True))])
    label = scored.reasons[0].label
    assert label.startswith("picked by A very long")
    assert label.endswith("…")
    assert len(label) <= 60


def test_one_upvote_is_singular() -> None:
    [scored] = ranked([paper(1, mention(HF), upvotes=1, announced=BEFORE)])
    assert [r.label for r in scored.reasons if r.code == "upvotes"] == ["1 upvote"]


def test_weights_change_the_order() -> None:
    popular = paper(1, mention(HF), upvotes=1000)
    endorsed = paper(2, mention(ARXIV), mention(HF), mention(NOTES, pick=True))
    curated = RankWeights.parse("pick=6, sources=1")
    assert ids(ranked([popular, endorsed])) == [1, 2]
    assert ids(ranked([popular, endorsed], weights=curated)) == [2, 1]


def test_zero_weights_drop_their_reasons_but_keep_the_origin() -> None:
    quiet = RankWeights.parse("sources=0,recency=0,updated=0")
    [scored] = ranked([paper(1, mention(ARXIV), mention(HF))], weights=quiet)
    assert scored.score == 0
    assert explain(scored) == "in arXiv cs.CL, HF Daily Papers"
    [replaced] = ranked([paper(2, mention(ARXIV, announce="replace"))], weights=quiet)
    assert explain(replaced) == "in arXiv cs.CL"


# --- order, ties, the cut ----------------------------------------------------------------


def test_ties_fall_back_to_sources_then_upvotes_then_newer_then_key() -> None:
    flat = RankWeights.parse("sources=0,upvotes=0,recency=0")
    two_sources = paper(5, mention(ARXIV), mention(HF))
    more_upvotes = paper(4, mention(HF), upvotes=50)
    newer = paper(3, mention(ARXIV), announced=TUESDAY + timedelta(days=1))
    key_b = paper(2, mention(ARXIV))
    key_a = paper(1, mention(ARXIV))
    result = ranked([key_a, key_b, newer, more_upvotes, two_sources], weights=flat)
    assert {s.score for s in result} == {0.0}
    assert ids(result) == [5, 4, 3, 1, 2]


def test_candidates_without_mentions_are_ignored() -> None:
    result = ranked([paper(1), paper(2, mention(ARXIV))])
    assert ids(result) == [2]


def test_top_keeps_the_best() -> None:
    papers = [paper(n, mention(HF), upvotes=n * 10, announced=BEFORE) for n in range(1, 16)]
    result = rank(papers, now=NOW, week_start=START, week_end=END)
    assert ids(result) == list(range(15, 5, -1))
    assert ids(rank(papers, now=NOW, week_start=START, week_end=END, top=3)) == [15, 14, 13]
    assert rank(papers, now=NOW, week_start=START, week_end=END, top=0) == []
    with pytest.raises(ValueError, match="top"):
        rank(papers, now=NOW, week_start=START, week_end=END, top=-1)


def test_naive_datetimes_and_an_empty_week_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        rank([], now=datetime(2025, 8, 25), week_start=START, week_end=END)
    with pytest.raises(ValueError, match="not after"):
        rank([], now=NOW, week_start=END, week_end=START)


SOURCES = [ARXIV, ARXIV_LG, HF, WEEKLY, NOTES, PAGES, ("Lab blog", SourceKind.FEED)]


@st.composite
def candidates(draw: st.DrawFn, n: int) -> Candidate:
    chosen = draw(st.lists(st.sampled_from(SOURCES), min_size=0, max_size=3))
    mentions = tuple(
        mention(
            source,
            announce=draw(st.sampled_from(["new", "cross", "replace", "replace-cross"]))
            if source[1] is SourceKind.ARXIV
            else None,
            pick=source in (WEEKLY, NOTES) and draw(st.booleans()),
            position=draw(st.none() | st.integers(1, 12)) if source == WEEKLY else None,
            related=source == PAGES and draw(st.booleans()),
        )
        for source in chosen
    )
    # Few distinct values, so ties are common and the tie-breaks are exercised.
    return paper(
        n,
        *mentions,
        upvotes=draw(st.sampled_from([0, 0, 10, 100])),
        announced=draw(st.sampled_from([BEFORE, START, TUESDAY])),
    )


@st.composite
def pools(draw: st.DrawFn) -> list[Candidate]:
    size = draw(st.integers(0, 12))
    return [draw(candidates(n)) for n in range(1, size + 1)]


@given(pool=pools(), seed=st.randoms(use_true_random=False), top=st.integers(0, 12))
def test_the_order_does_not_depend_on_the_input_order(
    pool: list[Candidate], seed: Any, top: int
) -> None:
    shuffled = list(pool)
    seed.shuffle(shuffled)
    first = rank(pool, now=NOW, week_start=START, week_end=END, top=top)
    second = rank(shuffled, now=NOW, week_start=START, week_end=END, top=top)
    assert first == second
    assert len(first) == min(top, sum(1 for c in pool if c.mentions))
    scores = [s.score for s in first]
    assert scores == sorted(scores, reverse=True)
    for s in first:
        assert s.reasons
        assert all(r.label and r.label == r.label.strip() for r in s.reasons)
        assert s.score == pytest.approx(math.fsum(r.points for r in s.reasons))


# --- weights -----------------------------------------------------------------------------


def test_weights_parse_and_write_back() -> None:
    assert RankWeights.parse("") == RankWeights()
    weights = RankWeights.parse(" Sources = 3 ; upvotes=1.5,, ")
    assert weights == replace(RankWeights(), sources=3.0, upvotes=1.5)
    assert RankWeights.parse(weights.to_text()) == weights


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source=3", "unknown rank weight 'source'; known weights: sources, pick"),
        ("upvotes=lots", "rank weight upvotes='lots' is not a number"),
        ("upvotes=", "rank weight upvotes='' is not a number"),
        ("sources", "rank weight 'sources' is not like sources=3"),
        ("pick=1,pick=2", "rank weight 'pick' is given twice"),
        ("recency=-1", "rank weight recency=-1.0 must be a number 0 or more"),
        ("match=nan", "must be a number 0 or more"),
        ("related=inf", "must be a number 0 or more"),
        ("upvotes_full=0.5", "upvotes_full=0.5 must be 1 or more"),
    ],
)
def test_weights_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RankWeights.parse(text)
    assert message in str(info.value)


# --- a prepared week: one preparation serves every filter and every subset ---------------


FEED_A = ("Lab blog A", SourceKind.FEED)
FEED_B = ("Lab blog B", SourceKind.FEED)

WEEK = [
    paper(1, mention(ARXIV), mention(HF, upvotes=212), mention(WEEKLY, pick=True, position=3)),
    paper(2, mention(ARXIV, announce="replace"), tags=("#Alignment",)),
    paper(3, mention(NOTES, pick=True), tags=("#Alignment", "#RLHF"), abstract="reward model"),
    paper(4, mention(PAGES, related=True), mention(FEED_A), title="Reward Hacking"),
    paper(5, mention(FEED_A), mention(FEED_B), upvotes=40, announced=START - timedelta(days=3)),
    paper(6, mention(ARXIV, summary="A reward model for RLHF."), title="Quiet"),
    paper(7, title="No mentions at all"),
    paper(8, mention(HF, upvotes=1), announced=TUESDAY + timedelta(days=2)),
]
PREPARED_QUERIES = [None, "tag:alignment", "reward", '"reward model" tag:rlhf', "hacking -tag:rlhf"]


@pytest.mark.parametrize("text", PREPARED_QUERIES)
@pytest.mark.parametrize("weights", [RankWeights(), RankWeights(match=0, sources=0)])
def test_one_prepared_week_ranks_every_filter_and_subset_like_rank(
    text: str | None, weights: RankWeights
) -> None:
    week = prepare_week(WEEK, now=NOW, week_start=START, week_end=END, weights=weights)
    query = parse_query(text, now=NOW) if text is not None else None
    for ids in (None, {1, 3, 6}, {2, 4, 5, 7, 8}, set()):
        subset = WEEK if ids is None else [c for c in WEEK if c.paper.paper_id in ids]
        for top in (0, 2, 10):
            expected = rank(
                subset,
                now=NOW,
                week_start=START,
                week_end=END,
                query=query,
                weights=weights,
                top=top,
            )
            got = rank_prepared(week, query=query, top=top, paper_ids=ids)
            assert got == expected


def test_rank_prepared_checks_top() -> None:
    week = prepare_week(WEEK, now=NOW, week_start=START, week_end=END)
    with pytest.raises(ValueError, match="top must be 0 or more"):
        rank_prepared(week, top=-1)


# --- ranking along the unfiltered order stops early and returns what scoring all does ----


WORDS = ["reward", "model", "diffusion", "強化学習", "agent", "kernel"]
TAGS = ["#Alignment", "#RLHF", "#Agents", "#Safety"]


def random_week(seed: int, n: int) -> list[Candidate]:
    """Papers with few distinct signal values, so that equal scores are common."""
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        mentions = [
            mention(
                rng.choice(SOURCES),
                at=START + timedelta(hours=rng.randrange(0, 24 * 7)),
                title=" ".join(rng.sample(WORDS, 2)) if rng.random() < 0.5 else "A paper",
                summary=" ".join(rng.sample(WORDS, 2)) if rng.random() < 0.3 else None,
                pick=rng.random() < 0.1,
                position=rng.choice([None, None, None, 1, 3, 12]),
                related=rng.random() < 0.1,
                upvotes=rng.choice([None, 0, 5, 100]),
            )
            for _ in range(rng.choice([0, 1, 1, 2, 3]))
        ]
        out.append(
            paper(
                i,
                *mentions,
                upvotes=rng.choice([0, 0, 5, 100]),
                announced=START + timedelta(days=rng.choice([-3, 0, 1, 1, 4])),
                title=rng.choice([None, "Reward models", "Diffusion 強化学習"]),
                tags=tuple(rng.sample(TAGS, rng.randrange(0, 3))),
                abstract=rng.choice([None, "a reward model", "kernel agent"]),
            )
        )
    return out


EARLY_STOP_QUERIES = [
    None,
    "tag:alignment",
    "reward",
    "reward tag:rlhf",
    '"reward model" diffusion',
    "強化学習 agent tag:safety tag:agents",
    "source:x",  # no term that earns match points
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "weights", [RankWeights(), RankWeights(match=3), RankWeights(match=0, recency=0)]
)
def test_early_stop_ranks_like_scoring_every_paper(seed: int, weights: RankWeights) -> None:
    pool = random_week(seed, 300)
    week = prepare_week(pool, now=NOW, week_start=START, week_end=END, weights=weights)
    exhaustive = replace(week, by_base=())  # without the order, every paper is scored
    rng = random.Random(seed)
    for text in EARLY_STOP_QUERIES:
        query = parse_query(text, now=NOW) if text is not None else None
        for ids in (None, set(rng.sample(range(1, 301), 40)), {1, 2}, set()):
            for top in (0, 1, 10, 50, 400):
                fast = rank_prepared(week, query=query, top=top, paper_ids=ids)
                slow = rank_prepared(exhaustive, query=query, top=top, paper_ids=ids)
                assert fast == slow, (text, ids, top)
