"""A channel's profile as a ranking signal, on the calibration weeks through the real
ingest: what it lifts and why, what it leaves alone, and what it never posts again."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.deliver import Deliverer
from digests.digest import DigestRequest, WeekContext, build_digest, load_profiles
from digests.model import Candidate, Digest, Feedback, SubscriptionSpec
from digests.profile import HALF_LIFE, ProfilePaper, build_profile
from digests.query import parse_query
from digests.rank import RankWeights, prepare_week, rank_prepared
from digests.settings import Settings
from digests.store import Store
from digests.topics import load_rules
from digests.weeks import parse_week, week_bounds
from tests.factories import client_for, ingest_weeks, utc
from tests.fakeslack import FakeSlack
from tests.paths import FIXTURES

W26 = parse_week("2025-W26")
W27 = parse_week("2025-W27")
_, W27_END = week_bounds(W27, "UTC")
NOW = W27_END + timedelta(hours=1)
LIKED_AT = utc(2025, 6, 28)
LIKE_REASON_END = ", which this channel liked"


@pytest.fixture
def weeks(store: Store) -> Store:
    ingest_weeks(store, FIXTURES / "weeks", load_rules())
    return store


def week_candidates(store: Store, label: str) -> list[Candidate]:
    start, end = week_bounds(parse_week(label), "UTC")
    return store.week_candidates(start, end)


def preference_papers(store: Store, label: str) -> list[Candidate]:
    """The week's papers on preference optimization (alignment), by their titles."""
    return [c for c in week_candidates(store, label) if "Preference Optimization" in c.paper.title]


def digest(store: Store, team: str = "T1", channel: str = "C1", **kw: object) -> Digest:
    profile = load_profiles(store, [(team, channel)], now=NOW)[(team, channel)]
    request = DigestRequest(week=W27, top=10, team_id=team, channel_id=channel, profile=profile)
    return build_digest(store, replace(request, **kw), now=NOW)  # type: ignore[arg-type]


def plain(store: Store, **kw: object) -> Digest:
    """The digest as built before profiles: no profile at all."""
    request = DigestRequest(week=W27, top=10, team_id="T1", channel_id="C1")
    return build_digest(store, replace(request, **kw), now=NOW)  # type: ignore[arg-type]


def ranking(d: Digest) -> list[tuple[int, float, tuple[str, ...]]]:
    return [(i.paper_id, i.score, tuple(r.label for r in i.reasons)) for i in d.items]


def like(store: Store, team: str, channel: str, ids: list[int], user: str = "U1") -> None:
    store.set_verdicts(
        team, channel, user, dict.fromkeys(ids, "like"), origin="click", now=LIKED_AT
    )


def mute(store: Store, team: str, channel: str, ids: list[int], user: str = "U2") -> None:
    store.set_verdicts(
        team, channel, user, dict.fromkeys(ids, "mute"), origin="click", now=LIKED_AT
    )


# --- the model ---------------------------------------------------------------------------


def verdict(pid: int, kind: str, user: str, at: datetime) -> Feedback:
    return Feedback("T1", "C1", user, pid, kind, "click", at)  # type: ignore[arg-type]


PAPERS = {pid: ProfilePaper(pid, f"Paper {pid}", f"Paper {pid}") for pid in range(1, 6)}


def test_votes_are_netted_across_people_and_newer_ones_weigh_more() -> None:
    now = utc(2025, 7, 1)
    old = now - HALF_LIFE * 2
    profile = build_profile(
        ("T1", "C1"),
        [
            verdict(1, "like", "U1", now),
            verdict(1, "like", "U2", now),
            verdict(2, "like", "U1", old),
            verdict(3, "like", "U1", now),
            verdict(3, "mute", "U2", now),  # one like, one mute: nobody's favourite
            verdict(4, "mute", "U1", now),
            verdict(99, "like", "U1", now),  # a paper gone from the store
        ],
        PAPERS,
        now=now,
    )
    assert [(x.paper_id, x.votes) for x in profile.liked] == [(1, 2), (2, 1)]
    assert profile.liked[0].strength == 1.0
    # Two half-lives old and liked by one person of the two: (1/4 / 2) ** 0.5.
    assert profile.liked[1].strength == pytest.approx((0.25 / 2) ** 0.5)
    assert profile.muted == {3, 4}  # any mute keeps the paper out of the channel
    assert profile.disliked == (4,)
    assert profile.changed_at == now and not profile.empty


def test_a_verdict_of_another_channel_is_refused() -> None:
    other = Feedback("T2", "C1", "U1", 1, "like", "click", utc(2025, 7, 1))
    with pytest.raises(ValueError, match="T2/C1"):
        build_profile(("T1", "C1"), [other], PAPERS, now=utc(2025, 7, 1))


# --- ranking -----------------------------------------------------------------------------


def test_a_channel_that_liked_alignment_papers_gets_them_lifted_with_the_liked_one_named(
    weeks: Store,
) -> None:
    liked = preference_papers(weeks, "2025-W26")[:4]
    like(weeks, "T1", "C1", [c.paper.paper_id for c in liked])
    before = plain(weeks)
    after = digest(weeks)

    def preference(d: Digest) -> int:
        return sum("Preference Optimization" in i.title for i in d.items)

    assert preference(before) <= 2
    assert preference(after) >= preference(before) + 3
    liked_titles = {c.paper.title for c in liked}
    lifted = [i for i in after.items if any(r.code == "profile" for r in i.reasons)]
    assert lifted
    for item in lifted:
        reason = next(r for r in item.reasons if r.code == "profile")
        assert reason.label.startswith("like *") and reason.label.endswith(LIKE_REASON_END)
        named = reason.label.removeprefix("like *").removesuffix("*" + LIKE_REASON_END)
        assert any(t.startswith(named.removesuffix("…")) for t in liked_titles), named
        # The score is the sum of the reasons' points, the profile's included.
        assert item.score == pytest.approx(sum(r.points for r in item.reasons), abs=1e-3)

    def profile_points(item: object) -> float:
        return sum(r.points for r in getattr(item, "reasons") if r.code == "profile")  # noqa: B009

    strongest = sorted(lifted, key=profile_points, reverse=True)[:3]
    assert all("Preference Optimization" in i.title for i in strongest)


def test_without_feedback_the_ranking_is_todays(weeks: Store) -> None:
    for query in (None, parse_query("tag:Alignment", now=NOW)):
        assert ranking(digest(weeks, query=query)) == ranking(plain(weeks, query=query))
    # A channel whose only verdicts were taken back has an empty profile again.
    pid = preference_papers(weeks, "2025-W26")[0].paper.paper_id
    like(weeks, "T1", "C1", [pid])
    weeks.set_verdicts("T1", "C1", "U1", {pid: None}, origin="click", now=LIKED_AT)
    assert load_profiles(weeks, [("T1", "C1")], now=NOW)[("T1", "C1")].empty
    assert ranking(digest(weeks)) == ranking(plain(weeks))


@dataclass(frozen=True)
class Signal:
    scores: Mapping[int, float]

    def because(self, paper_id: int) -> str | None:
        return f"paper {paper_id}"


@pytest.mark.parametrize("seed", range(6))
def test_early_stopping_ranks_as_scoring_every_paper(weeks: Store, seed: int) -> None:
    """Along the week's order without a filter, the bound grows by the profile's best
    points: the ranking is the one that scores every paper."""
    rng = random.Random(seed)
    cands = week_candidates(weeks, "2025-W27")
    start, end = week_bounds(W27, "UTC")
    weights = RankWeights(profile=rng.choice([0.5, 3.0, 8.0]))
    week = prepare_week(cands, now=NOW, week_start=start, week_end=end, weights=weights)
    every = replace(week, by_base=())  # no order to stop along: every paper is scored
    picked = rng.sample(cands, k=len(cands) // rng.choice([2, 10]))
    signal = Signal({c.paper.paper_id: rng.random() for c in picked})
    allowed = {c.paper.paper_id for c in rng.sample(cands, k=len(cands) // 2)}
    for query in (None, parse_query("tag:Alignment", now=NOW)):
        for ids in (None, allowed):
            fast = rank_prepared(week, query=query, top=10, paper_ids=ids, profile=signal)
            slow = rank_prepared(every, query=query, top=10, paper_ids=ids, profile=signal)
            assert [(s.candidate.paper.paper_id, s.reasons) for s in fast] == [
                (s.candidate.paper.paper_id, s.reasons) for s in slow
            ]


def test_a_profile_gives_the_same_digest_with_and_without_the_shared_week(weeks: Store) -> None:
    like(weeks, "T1", "C1", [c.paper.paper_id for c in preference_papers(weeks, "2025-W26")])
    mute(weeks, "T1", "C1", [plain(weeks).items[0].paper_id])
    context = WeekContext.load(weeks, W27, "UTC", now=NOW)
    alone = digest(weeks)
    profile = load_profiles(weeks, [("T1", "C1")], now=NOW)[("T1", "C1")]
    request = DigestRequest(week=W27, top=10, team_id="T1", channel_id="C1", profile=profile)
    with_context = build_digest(weeks, request, now=NOW, context=context)
    assert ranking(alone) == ranking(with_context)
    assert any(r.code == "profile" for i in alone.items for r in i.reasons)


def test_a_muted_paper_is_left_out_and_counted(weeks: Store) -> None:
    top = plain(weeks).items[0]
    mute(weeks, "T1", "C1", [top.paper_id])
    d = digest(weeks)
    assert top.paper_id not in [i.paper_id for i in d.items]
    assert d.narrowing is not None and d.narrowing.muted == 1
    assert d.candidates == plain(weeks).candidates - 1


# --- delivery ----------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(admins={"UADMIN"}) as fake:
        yield fake


def deliverer(store: Store, slack: FakeSlack, tmp_path: Path) -> Deliverer:
    return Deliverer(
        store=store,
        client=client_for(slack),
        core=Settings(
            database_url="sqlite://",
            data_dir=tmp_path,
            sources_file=tmp_path / "sources.toml",
            topics_file=None,
        ),
        admins=frozenset({"UADMIN"}),
        holder="profile-test",
        clock=lambda: NOW,
        sleep=lambda _seconds: None,
    )


def posted_text(slack: FakeSlack, team: str, channel: str) -> str:
    """Everything the digest of (team, channel) posted, read from the messages' keys."""
    return "\n".join(
        f"{m.text}\n{m.blocks}"
        for m in slack.posted(channel)
        if m.metadata is not None
        and str(m.metadata["event_payload"]["key"]).startswith(f"{team}:{channel}:")
    )


def subscribe(store: Store, team: str, channel: str) -> int:
    spec = SubscriptionSpec(
        team_id=team, channel_id=channel, query="", weekday=0, time="09:00", tz="UTC", top=10
    )
    return store.add_subscription(spec, start_week=W27.label, now=utc(2025, 6, 1)).id


def test_the_fan_out_never_posts_a_muted_paper_and_keeps_workspaces_apart(
    weeks: Store, slack: FakeSlack, tmp_path: Path
) -> None:
    """Two workspaces with a channel of the same id, delivered in one fan-out: one
    channel's likes and mutes shape its digest and leave the other's as it was."""
    top = plain(weeks).items[0]
    liked = preference_papers(weeks, "2025-W26")
    like(weeks, "T1", "C1", [c.paper.paper_id for c in liked])
    mute(weeks, "T1", "C1", [top.paper_id])
    subs = [subscribe(weeks, "T1", "C1"), subscribe(weeks, "T2", "C1")]
    bot = deliverer(weeks, slack, tmp_path)
    targets = [bot.target(s, W27) for s in map(weeks.get_subscription, subs) if s is not None]
    results = bot.deliver_all(targets)
    assert [r.status for r in results] == ["posted", "posted"]

    shaped = posted_text(slack, "T1", "C1")
    untouched = posted_text(slack, "T2", "C1")
    assert top.title not in shaped and top.title in untouched
    assert "which this channel liked" in shaped and "which this channel liked" not in untouched
    # What each workspace's channel got, as archived: the other one's is today's digest.
    start, end = week_bounds(W27, "UTC")
    got = {}
    for d in weeks.list_deliveries():
        assert d.digest_id is not None
        archived = weeks.load_digest(d.digest_id, start=start, end=end)
        assert archived is not None
        got[d.team_id] = [i.paper_id for i in archived.items]
    today = plain(weeks, team_id="T2", channel_id="C1", not_before=start)
    assert got["T2"] == [i.paper_id for i in today.items]
    assert got["T1"] != got["T2"] and top.paper_id not in got["T1"]
