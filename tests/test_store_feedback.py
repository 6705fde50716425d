"""The feedback room: verdicts per person and channel, profiles' dates, saved papers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select

from digests.calendar import IsoWeek
from digests.schema import papers
from digests.store import Store
from tests.factories import add_papers, hand_source, utc


def _papers(store: Store, tmp_path: Path) -> list[int]:
    """Three stored papers' ids, oldest first."""
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2026, 10), n=3)
    with store.engine.connect() as conn:
        return [int(i) for i in conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars()]


def test_a_verdict_replaces_the_persons_earlier_one_and_none_takes_it_back(
    store: Store, tmp_path: Path
) -> None:
    a, b, _ = _papers(store, tmp_path)
    t0, t1 = utc(2026, 3, 2), utc(2026, 3, 3)
    store.set_verdicts("T1", "C1", "U1", {a: "like", b: "mute"}, origin="click", now=t0)
    store.set_verdicts("T1", "C1", "U2", {a: "like"}, origin="click", now=t0)
    tally = store.tallies("T1", "C1", [a, b])
    assert tally[a].likes == ("U1", "U2") and tally[b].mutes == ("U1",)
    store.set_verdicts("T1", "C1", "U1", {a: "mute", b: None}, origin="click", now=t1)
    tally = store.tallies("T1", "C1", [a, b])
    assert tally[a].likes == ("U2",) and tally[a].mutes == ("U1",)
    assert b not in tally
    state = store.profile_state("T1", "C1")
    assert state is not None and state.changed_at == t1 and state.reset_at is None


def test_verdicts_stay_in_their_channel_and_workspace(store: Store, tmp_path: Path) -> None:
    a, b, _ = _papers(store, tmp_path)
    now = utc(2026, 3, 2)
    store.set_verdicts("T1", "C1", "U1", {a: "mute"}, origin="click", now=now)
    store.set_verdicts("T2", "C1", "U1", {b: "mute"}, origin="click", now=now)
    store.set_verdicts("T1", "C2", "U1", {b: "like"}, origin="import", now=now)
    muted = store.muted_paper_ids([("T1", "C1"), ("T2", "C1"), ("T1", "C2"), ("T9", "C9")])
    assert muted == {("T1", "C1"): {a}, ("T2", "C1"): {b}, ("T1", "C2"): set(), ("T9", "C9"): set()}
    got = store.channel_feedback([("T1", "C2")])[("T1", "C2")]
    assert [(f.paper_id, f.verdict, f.origin) for f in got] == [(b, "like", "import")]
    assert store.profile_state("T9", "C9") is None


def test_reset_forgets_the_channels_verdicts_only(store: Store, tmp_path: Path) -> None:
    a, b, _ = _papers(store, tmp_path)
    now = utc(2026, 3, 2)
    store.set_verdicts("T1", "C1", "U1", {a: "like", b: "mute"}, origin="click", now=now)
    store.set_verdicts("T1", "C2", "U1", {a: "like"}, origin="click", now=now)
    store.save_papers("T1", "U1", [a], channel_id="C1", now=now)
    assert store.reset_profile("T1", "C1", now=utc(2026, 3, 4)) == 2
    assert store.channel_feedback([("T1", "C1")])[("T1", "C1")] == []
    assert len(store.channel_feedback([("T1", "C2")])[("T1", "C2")]) == 1
    state = store.profile_state("T1", "C1")
    assert state is not None and state.reset_at == utc(2026, 3, 4)
    assert [s.paper_id for s in store.saved_papers("T1", "U1")] == [a]


def test_saved_papers_newest_first_and_saving_again_keeps_the_date(
    store: Store, tmp_path: Path
) -> None:
    a, b, c = _papers(store, tmp_path)
    store.save_papers("T1", "U1", [a], channel_id="C1", now=utc(2026, 3, 1))
    store.save_papers("T1", "U1", [b, c], channel_id=None, now=utc(2026, 3, 2))
    store.save_papers("T1", "U1", [a], channel_id="C9", now=utc(2026, 3, 5))
    store.save_papers("T2", "U1", [a], channel_id=None, now=utc(2026, 3, 5))
    saved = store.saved_papers("T1", "U1")
    assert [s.paper_id for s in saved][-1] == a and saved[-1].channel_id == "C1"
    assert store.saved_count("T1", "U1") == 3
    assert store.saved_among("T1", "U1", [a, 999]) == {a}
    assert store.unsave_papers("T1", "U1", [a, b]) == 2
    assert [s.paper_id for s in store.saved_papers("T1", "U1")] == [c]
    assert store.saved_count("T2", "U1") == 1


def test_a_deleted_paper_takes_its_feedback_and_saves_along(store: Store, tmp_path: Path) -> None:
    a, *_ = _papers(store, tmp_path)
    now = utc(2026, 3, 2)
    store.set_verdicts("T1", "C1", "U1", {a: "like"}, origin="click", now=now)
    store.save_papers("T1", "U1", [a], channel_id=None, now=now)
    with store.engine.begin() as conn:
        conn.execute(delete(papers).where(papers.c.id == a))
    assert store.tallies("T1", "C1", [a]) == {}
    assert store.saved_papers("T1", "U1") == []
