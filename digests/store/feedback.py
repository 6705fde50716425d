"""What a team teaches paperbot: verdicts on papers per channel, profiles, saved papers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, tuple_

from digests.model import (
    CitedPaper,
    Feedback,
    FeedbackTally,
    ProfileState,
    SavedPaper,
    Verdict,
)
from digests.normalize import arxiv_abs_url
from digests.profile import ProfilePaper
from digests.schema import (
    feedback,
    paper_tags,
    papers,
    profiles,
    saved_papers,
    subscriptions,
    tags,
)
from digests.store.base import StoreBase
from digests.store.bulk import among

Channel = tuple[str, str]  # (team_id, channel_id)

VERDICTS: tuple[Verdict, ...] = ("like", "mute")
# Papers read per statement: SQLite's bound parameters are limited.
_PAPERS_CHUNK = 5000


class FeedbackStore(StoreBase):
    """Verdicts (like / mute) per person, paper and channel; saved papers per person."""

    # -- verdicts ----------------------------------------------------------------------------

    def set_verdicts(
        self,
        team_id: str,
        channel_id: str,
        user_id: str,
        verdicts: Mapping[int, Verdict | None],
        *,
        origin: str,
        now: datetime,
    ) -> None:
        """Give (or, with None, take back) one person's verdict on each paper for a channel;
        a new verdict replaces the person's earlier one. Marks the channel's profile changed.
        """
        given = {pid: v for pid, v in verdicts.items() if v is not None}
        taken = [pid for pid, v in verdicts.items() if v is None]
        for verdict in given.values():
            if verdict not in VERDICTS:
                raise ValueError(f"unknown verdict {verdict!r}")
        with self._tx() as conn:
            if taken:
                conn.execute(
                    delete(feedback).where(
                        feedback.c.team_id == team_id,
                        feedback.c.channel_id == channel_id,
                        feedback.c.user_id == user_id,
                        among(conn, feedback.c.paper_id, taken),
                    )
                )
            if given:
                stmt = self._insert(feedback)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["team_id", "channel_id", "user_id", "paper_id"],
                        set_={
                            "verdict": stmt.excluded.verdict,
                            "origin": stmt.excluded.origin,
                            "created_at": stmt.excluded.created_at,
                        },
                    ),
                    [
                        {
                            "team_id": team_id,
                            "channel_id": channel_id,
                            "user_id": user_id,
                            "paper_id": pid,
                            "verdict": verdict,
                            "origin": origin,
                            "created_at": now,
                        }
                        for pid, verdict in given.items()
                    ],
                )
            if verdicts:
                self._touch_profile(conn, team_id, channel_id, now=now)

    def tallies(
        self, team_id: str, channel_id: str, paper_ids: Iterable[int]
    ) -> dict[int, FeedbackTally]:
        """Each paper's verdicts in a channel (papers without any are left out)."""
        ids = list(paper_ids)
        if not ids:
            return {}
        stmt = (
            select(feedback.c.paper_id, feedback.c.verdict, feedback.c.user_id)
            .where(
                feedback.c.team_id == team_id,
                feedback.c.channel_id == channel_id,
            )
            .order_by(feedback.c.created_at, feedback.c.id)
        )
        likes: dict[int, list[str]] = defaultdict(list)
        mutes: dict[int, list[str]] = defaultdict(list)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.where(among(conn, feedback.c.paper_id, ids)))
            for pid, verdict, user in rows:
                (likes if verdict == "like" else mutes)[int(pid)].append(user)
        return {
            pid: FeedbackTally(pid, tuple(likes.get(pid, ())), tuple(mutes.get(pid, ())))
            for pid in ids
            if pid in likes or pid in mutes
        }

    def channel_feedback(self, channels: Sequence[Channel]) -> dict[Channel, list[Feedback]]:
        """Every verdict given in each channel, oldest first: what its profile is made of.
        Many channels are read in one go (a scheduled tick's digests)."""
        found: dict[Channel, list[Feedback]] = {c: [] for c in channels}
        if not channels:
            return found
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(channels)), 500):
                f = feedback.c
                stmt = (
                    select(
                        f.team_id, f.channel_id, f.user_id, f.paper_id, f.verdict, f.origin,
                        f.created_at,
                    )
                    .where(tuple_(f.team_id, f.channel_id).in_(chunk))
                    .order_by(f.created_at, f.id)
                )  # fmt: skip
                # A channel's rows repeat a few strings thousands of times: keep one each.
                same: dict[str, str] = {}
                for team_id, channel_id, user, pid, verdict, origin, at in conn.execute(stmt):
                    team = same.setdefault(team_id, team_id)
                    channel = same.setdefault(channel_id, channel_id)
                    found[(team, channel)].append(
                        Feedback(
                            team,
                            channel,
                            same.setdefault(user, user),
                            int(pid),
                            "like" if verdict == "like" else "mute",
                            same.setdefault(origin, origin),
                            at,
                        )
                    )
        return found

    def muted_paper_ids(self, channels: Sequence[Channel]) -> dict[Channel, set[int]]:
        """The papers someone in each channel said are not for it: never posted there."""
        found: dict[Channel, set[int]] = {c: set() for c in channels}
        if not channels:
            return found
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(channels)), 500):
                stmt = select(feedback.c.team_id, feedback.c.channel_id, feedback.c.paper_id).where(
                    tuple_(feedback.c.team_id, feedback.c.channel_id).in_(chunk),
                    feedback.c.verdict == "mute",
                )
                for team, channel, pid in conn.execute(stmt):
                    found[(team, channel)].add(int(pid))
        return found

    def profile_papers(
        self, paper_ids: Iterable[int], *, titles_only: Collection[int] = ()
    ) -> dict[int, ProfilePaper]:
        """What a profile reads of each paper (title, abstract, tag slugs); of the papers in
        ``titles_only``, the title alone. Papers no longer in the store are missing."""
        ids = sorted(set(paper_ids))
        found: dict[int, ProfilePaper] = {}
        slugs: dict[int, list[str]] = defaultdict(list)
        whole = [pid for pid in ids if pid not in titles_only]
        titled = [pid for pid in ids if pid in titles_only]
        with self.engine.connect() as conn:
            for i in range(0, len(titled), _PAPERS_CHUNK):
                part = titled[i : i + _PAPERS_CHUNK]
                stmt = select(papers.c.id, papers.c.title).where(among(conn, papers.c.id, part))
                for pid, title in conn.execute(stmt):
                    found[int(pid)] = ProfilePaper(int(pid), title, title)
            rows: list[Any] = []
            for i in range(0, len(whole), _PAPERS_CHUNK):
                part = whole[i : i + _PAPERS_CHUNK]
                rows += conn.execute(
                    select(papers.c.id, papers.c.title, papers.c.abstract).where(
                        among(conn, papers.c.id, part)
                    )
                ).all()
                tagged = conn.execute(
                    select(paper_tags.c.paper_id, tags.c.slug)
                    .join(tags, tags.c.id == paper_tags.c.tag_id)
                    .where(among(conn, paper_tags.c.paper_id, part))
                    .order_by(paper_tags.c.paper_id, tags.c.slug)
                )
                for pid, slug in tagged:
                    slugs[int(pid)].append(slug)
        for pid, title, abstract in rows:
            found[int(pid)] = ProfilePaper(
                int(pid), title, f"{title}\n{abstract or ''}", tuple(slugs.get(int(pid), ()))
            )
        return found

    def channel_teams(self, channel_id: str) -> list[str]:
        """The workspaces in which a channel of this id has a profile or a subscription:
        which team a command naming only the channel means."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for table in (profiles, subscriptions):
                stmt = select(table.c.team_id).where(table.c.channel_id == channel_id)
                found.update(conn.execute(stmt.distinct()).scalars())
        return sorted(found)

    def profile_state(self, team_id: str, channel_id: str) -> ProfileState | None:
        """When the channel's profile last changed and was last reset; None if never."""
        stmt = select(profiles.c.changed_at, profiles.c.reset_at).where(
            profiles.c.team_id == team_id, profiles.c.channel_id == channel_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else ProfileState(changed_at=row[0], reset_at=row[1])

    def reset_profile(self, team_id: str, channel_id: str, *, now: datetime) -> int:
        """Forget every verdict given in the channel (clicks and imports); how many went.
        Saved papers are personal and stay."""
        with self._tx() as conn:
            gone = conn.execute(
                delete(feedback).where(
                    feedback.c.team_id == team_id, feedback.c.channel_id == channel_id
                )
            ).rowcount
            self._touch_profile(conn, team_id, channel_id, now=now, reset=True)
        return int(gone or 0)

    def _touch_profile(
        self, conn: Connection, team_id: str, channel_id: str, *, now: datetime, reset: bool = False
    ) -> None:
        values: dict[str, object] = {
            "team_id": team_id,
            "channel_id": channel_id,
            "changed_at": now,
        }
        changed: dict[str, object] = {"changed_at": now}
        if reset:
            values["reset_at"] = now
            changed["reset_at"] = now
        stmt = self._insert(profiles).values(**values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["team_id", "channel_id"], set_=changed)
        )

    # -- saved papers ------------------------------------------------------------------------

    def save_papers(
        self,
        team_id: str,
        user_id: str,
        paper_ids: Iterable[int],
        *,
        channel_id: str | None,
        now: datetime,
    ) -> None:
        """Save papers for a person; saving one again keeps its first date."""
        rows = [
            {
                "team_id": team_id,
                "user_id": user_id,
                "paper_id": pid,
                "channel_id": channel_id,
                "saved_at": now,
            }
            for pid in dict.fromkeys(paper_ids)
        ]
        if not rows:
            return
        with self._tx() as conn:
            conn.execute(self._insert(saved_papers).on_conflict_do_nothing(), rows)

    def unsave_papers(self, team_id: str, user_id: str, paper_ids: Iterable[int]) -> int:
        """Take papers out of a person's saved ones; how many were there."""
        ids = list(paper_ids)
        if not ids:
            return 0
        with self._tx() as conn:
            gone = conn.execute(
                delete(saved_papers).where(
                    saved_papers.c.team_id == team_id,
                    saved_papers.c.user_id == user_id,
                    among(conn, saved_papers.c.paper_id, ids),
                )
            ).rowcount
        return int(gone or 0)

    def saved_papers(
        self, team_id: str, user_id: str, *, limit: int | None = None, offset: int = 0
    ) -> list[SavedPaper]:
        """A person's saved papers, newest first."""
        stmt = (
            select(saved_papers.c.paper_id, saved_papers.c.saved_at, saved_papers.c.channel_id)
            .where(saved_papers.c.team_id == team_id, saved_papers.c.user_id == user_id)
            .order_by(saved_papers.c.saved_at.desc(), saved_papers.c.paper_id.desc())
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [SavedPaper(int(p), at, ch) for p, at, ch in conn.execute(stmt)]

    def saved_count(self, team_id: str, user_id: str) -> int:
        stmt = select(func.count()).where(
            saved_papers.c.team_id == team_id, saved_papers.c.user_id == user_id
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def saved_teams(self, user_id: str) -> list[str]:
        """The workspaces in which the person saved papers (the command line's ``--team``
        can then be left out when there is one)."""
        stmt = (
            select(saved_papers.c.team_id)
            .where(saved_papers.c.user_id == user_id)
            .distinct()
            .order_by(saved_papers.c.team_id)
        )
        with self.engine.connect() as conn:
            return [str(t) for t in conn.execute(stmt).scalars()]

    def saved_among(self, team_id: str, user_id: str, paper_ids: Iterable[int]) -> set[int]:
        """Which of ``paper_ids`` the person has saved."""
        ids = list(paper_ids)
        if not ids:
            return set()
        with self.engine.connect() as conn:
            stmt = select(saved_papers.c.paper_id).where(
                saved_papers.c.team_id == team_id,
                saved_papers.c.user_id == user_id,
                among(conn, saved_papers.c.paper_id, ids),
            )
            return {int(p) for p in conn.execute(stmt).scalars()}

    # -- the papers a click or an export names ---------------------------------------------

    def known_paper_ids(self, paper_ids: Iterable[int]) -> set[int]:
        """Which of ``paper_ids`` are still in the store: a button may outlive its paper."""
        ids = list(dict.fromkeys(paper_ids))
        if not ids:
            return set()
        with self.engine.connect() as conn:
            stmt = select(papers.c.id).where(among(conn, papers.c.id, ids))
            return {int(p) for p in conn.execute(stmt).scalars()}

    def cited_papers(self, paper_ids: Sequence[int]) -> list[CitedPaper]:
        """What citing each paper needs, in ``paper_ids`` order (papers gone are left out)."""
        ids = list(dict.fromkeys(paper_ids))
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = {
                int(r["id"]): r
                for r in conn.execute(
                    select(
                        papers.c.id,
                        papers.c.key,
                        papers.c.title,
                        papers.c.authors,
                        papers.c.announced_at,
                        papers.c.arxiv_id,
                        papers.c.doi,
                        papers.c.abs_url,
                        papers.c.other_links,
                    ).where(among(conn, papers.c.id, ids))
                ).mappings()
            }
            categories: dict[int, set[str]] = defaultdict(set)
            stmt = (
                select(paper_tags.c.paper_id, tags.c.display)
                .join(tags, tags.c.id == paper_tags.c.tag_id)
                .where(among(conn, paper_tags.c.paper_id, list(rows)), tags.c.kind == "category")
            )
            for pid, display in conn.execute(stmt):
                categories[int(pid)].add(display)
        found = []
        for pid in ids:
            r = rows.get(pid)
            if r is None:
                continue
            other = tuple(r["other_links"] or ())
            url = r["abs_url"] or (arxiv_abs_url(r["arxiv_id"]) if r["arxiv_id"] else None)
            found.append(
                CitedPaper(
                    paper_id=pid,
                    key=r["key"],
                    title=r["title"],
                    authors=tuple(r["authors"] or ()),
                    announced_at=r["announced_at"],
                    arxiv_id=r["arxiv_id"],
                    doi=r["doi"],
                    url=url or (other[0] if other else None),
                    categories=tuple(sorted(categories.get(pid, ()))),
                )
            )
        return found


def _chunks(items: Sequence[Channel], size: int) -> Iterable[Sequence[Channel]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
