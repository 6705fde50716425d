"""A channel's interest profile: what its people liked and muted, as one ranking signal.

Pure (``now`` passed in). A profile is made of a channel's verdicts (``Feedback``): a
paper's votes are netted (likes and imports +1, mutes -1), each vote weighted by its age
(halved every ``HALF_LIFE``, as a library's newer items say more about today's interests),
so a paper two people liked outweighs one liked once, and one person's like cancels
another's mute. Papers with a positive net are the channel's *liked* papers.

The model is a Rocchio centroid over the papers' signatures (``digests.similar``): the
liked papers' signatures summed by strength, the muted ones' subtracted at half weight,
scaled to unit length. A candidate's score is its cosine with that centroid, mapped onto
0..1 between ``FLOOR`` (unrelated) and ``FULL``; the liked paper closest to it names the
reason. ``benchmarks/profiles.py`` compares it on hand labels with the nearest liked
paper and the mean of the three nearest, which rank alike but cost a product per liked
paper, and with a logistic regression, a little better but trained on negatives a
channel never gives; the centroid scores a 20,000-paper week for a thousand channels
with one sparse product per channel. The weights are the week's (``_weight``), and a
profile lifts at most ``LIFTED_MAX`` papers of a digest.

The week's signatures (``WeekSignatures``) are built once per week and shared by all its
digests; numpy is imported only then, so a command without profiles never loads it.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from digests.model import Candidate, Feedback
from digests.normalize import normalize_tag
from digests.similar import Signature, idf, signature, term_counts

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "FLOOR",
    "FULL",
    "HALF_LIFE",
    "LIFTED_MAX",
    "Liked",
    "Profile",
    "ProfilePaper",
    "ProfileScores",
    "Terms",
    "WeekSignatures",
    "build_profile",
    "paper_of",
    "strongest_terms",
]

Channel = tuple[str, str]  # (team_id, channel_id)

# A vote's weight halves with each half-life: last month's likes say more than last year's.
HALF_LIFE = timedelta(days=180)
# Cosine with the centroid below FLOOR is noise (two papers share a common phrase); at FULL
# a paper is as close to the channel's interests as liked papers are to one another.
FLOOR = 0.05
FULL = 0.35
# A profile lifts at most this many of a digest's candidates, the closest to what the
# channel liked: a digest shows ten, and a lift deeper down would move nothing a reader
# sees while every lifted paper costs a look in the ranking.
LIFTED_MAX = 300
# A mute pushes its neighbours down, but less than a like lifts them: one mute is often
# about the one paper ("seen it"), not the whole topic.
_MUTE_SHARE = 0.5
# The text read from a paper: enough of its abstract to tell the topic.
_TEXT_MAX = 2000


@dataclass(frozen=True, slots=True)
class ProfilePaper:
    """What a profile reads of a paper: its title, its text and its tag slugs."""

    paper_id: int
    title: str
    text: str  # title and abstract (or the best summary)
    tags: tuple[str, ...] = ()


def paper_of(c: Candidate) -> ProfilePaper:
    """A week's candidate as the profile reads it."""
    body = c.abstract or c.paper.summary or ""
    slugs = tuple(t.slug for t in map(normalize_tag, c.paper.tags) if t is not None)
    return ProfilePaper(c.paper.paper_id, c.paper.title, f"{c.paper.title}\n{body}", slugs)


@dataclass(frozen=True, slots=True)
class Liked:
    """A paper the channel liked, with how strongly (0..1, the strongest is 1)."""

    paper_id: int
    strength: float
    votes: int  # net votes, unweighted


@dataclass(frozen=True, slots=True)
class Profile:
    """One channel's interests as its verdicts say: liked papers strongest first, muted ones."""

    channel: Channel
    liked: tuple[Liked, ...] = ()
    muted: frozenset[int] = frozenset()  # every paper someone muted: never posted again
    disliked: tuple[int, ...] = ()  # papers with a negative net: they push neighbours down
    changed_at: datetime | None = None
    # The liked and disliked papers' text (shared by the profiles read together).
    papers: Mapping[int, ProfilePaper] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        """No verdicts: the channel ranks as if it had no profile."""
        return not self.liked and not self.muted and not self.disliked

    @property
    def paper_ids(self) -> set[int]:
        """Every paper the model reads."""
        return {x.paper_id for x in self.liked} | set(self.disliked)


def build_profile(
    channel: Channel,
    verdicts: Iterable[Feedback],
    papers: Mapping[int, ProfilePaper],
    *,
    now: datetime,
) -> Profile:
    """The channel's profile from its verdicts (of every person, clicks and imports);
    ``papers``: the text of the papers they are about (papers gone from the store are
    left out of the model, but a mute still keeps its paper out)."""
    weighted: dict[int, float] = defaultdict(float)
    net: Counter[int] = Counter()
    muted: set[int] = set()
    changed: datetime | None = None
    for v in verdicts:
        if (v.team_id, v.channel_id) != channel:
            raise ValueError(f"verdict of {v.team_id}/{v.channel_id} given for {channel}")
        sign = 1 if v.verdict == "like" else -1
        age = max((now - v.created_at).total_seconds(), 0.0)
        weighted[v.paper_id] += sign * 0.5 ** (age / HALF_LIFE.total_seconds())
        net[v.paper_id] += sign
        if v.verdict == "mute":
            muted.add(v.paper_id)
        changed = v.created_at if changed is None else max(changed, v.created_at)
    positive = {pid: w for pid, w in weighted.items() if w > 0 and net[pid] > 0 and pid in papers}
    top = max(positive.values(), default=1.0)
    # The square root keeps a paper liked once worth more than a rounding error beside
    # one liked by the whole channel.
    liked = sorted(
        (Liked(pid, math.sqrt(w / top), net[pid]) for pid, w in positive.items()),
        key=lambda x: (-x.strength, x.paper_id),
    )
    disliked = tuple(sorted(pid for pid, w in weighted.items() if w < 0 and pid in papers))
    return Profile(channel, tuple(liked), frozenset(muted), disliked, changed, papers)


def strongest_terms(profile: Profile, *, top: int = 10) -> list[str]:
    """The terms that weigh most in what the channel liked (tags shown as ``#slug``): each
    liked paper's signature, weighted by its strength, summed. Read without a week, so
    every term counts as equally rare: what the liked papers share rises to the top."""
    total: dict[str, float] = defaultdict(float)
    for x in profile.liked:
        p = profile.papers[x.paper_id]
        for term, w in signature(term_counts(p.text[:_TEXT_MAX], p.tags), lambda _t: 1.0).items():
            total[term] += x.strength * w
    return [t for t, _w in sorted(total.items(), key=lambda tw: (-tw[1], tw[0]))[:top]]


def _weight(df: int, n: int) -> float:
    """A term's weight in a week of ``n`` papers, ``df`` of which use it: its idf less
    the least any term gets, so a term every paper of the week uses (a listing's
    boilerplate, a template's phrases) weighs nothing and two papers are not alike for it."""
    return idf(df, n) - idf(n, n)


@dataclass(frozen=True, slots=True)
class Terms:
    """A signature over a week's terms: term indices (``WeekSignatures.vocab``), weights."""

    index: NDArray[np.int32]
    weight: NDArray[np.float32]


class ProfileScores:
    """One channel's profile scored over a week: ``scores`` (0..1, only papers above the
    floor) and, for any paper of the week, the title of the liked paper that explains it."""

    def __init__(
        self,
        scores: Mapping[int, float],
        liked: Sequence[tuple[int, str, Terms]],
        week: WeekSignatures,
    ) -> None:
        self.scores = scores
        self._liked = liked
        self._week = week
        self._matrix: tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]] | None
        self._matrix = None

    def because(self, paper_id: int) -> str | None:
        """The liked paper most like this one (its title), or None if none shares a term.
        A liked paper does not explain itself: the next closest does."""
        import numpy as np  # noqa: PLC0415

        if paper_id not in self._week.row or not self._liked:
            return None
        if self._matrix is None:
            # The liked papers as one sparse matrix, made for the first paper explained.
            rows = np.repeat(
                np.arange(len(self._liked), dtype=np.int32),
                [len(t.index) for _p, _t, t in self._liked],
            )
            index = np.concatenate([t.index for _p, _t, t in self._liked])
            weight = np.concatenate([t.weight for _p, _t, t in self._liked])
            self._matrix = (rows, index, weight)
        rows, index, weight = self._matrix
        dense = self._week.dense(self._week.terms_of(paper_id))
        dots = np.bincount(rows, weights=weight * dense[index], minlength=len(self._liked))
        for k, (pid, _title, _t) in enumerate(self._liked):
            if pid == paper_id:
                dots[k] = 0.0
        best = int(np.argmax(dots))
        return self._liked[best][1] if dots[best] > 0 else None


@dataclass(slots=True)
class WeekSignatures:
    """A week's papers as signatures, weighted by the week's document frequencies: one
    sparse matrix (a row per paper) that every channel's profile is scored against."""

    ids: tuple[int, ...]
    row: dict[int, int]
    vocab: dict[str, int]
    idf: dict[str, float]  # each kept term's weight in the week (``_weight``)
    # The signatures as a sparse matrix in CSR form: row i's terms are
    # ``indices[indptr[i]:indptr[i + 1]]`` with weights ``data[...]``; ``rows`` holds each
    # stored weight's row, so a product with a vector is one ``bincount``.
    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    data: NDArray[np.float32]
    rows: NDArray[np.int32]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _by_index: list[str] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, papers: Sequence[ProfilePaper]) -> WeekSignatures:
        import numpy as np  # noqa: PLC0415

        # Each paper's terms are kept as one shared string per term (a week's papers
        # repeat the same terms thousands of times) until the week's frequencies are known.
        shared: dict[str, str] = {}
        df: Counter[str] = Counter()
        kept: list[tuple[tuple[str, ...], tuple[int, ...]]] = []
        for p in papers:
            counts = term_counts(p.text[:_TEXT_MAX], p.tags)
            terms = tuple([shared.setdefault(t, t) for t in counts])
            df.update(terms)
            kept.append((terms, tuple(counts.values())))
        del shared
        n = len(papers)
        # The frequencies become the weights in place: a second dict of every term would
        # be the build's largest allocation.
        weights: dict[str, float] = df  # type: ignore[assignment]
        for t, k in df.items():
            weights[t] = _weight(k, n)
        vocab: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for i, (terms, numbers) in enumerate(kept):
            sig = signature(dict(zip(terms, numbers, strict=True)), weights.__getitem__)
            kept[i] = ((), ())
            for term, w in sig.items():
                indices.append(vocab.setdefault(term, len(vocab)))
                data.append(w)
            indptr.append(len(indices))
        ptr = np.asarray(indptr, dtype=np.int64)
        ids = tuple(p.paper_id for p in papers)
        return cls(
            ids=ids,
            row={pid: i for i, pid in enumerate(ids)},
            vocab=vocab,
            idf={t: weights[t] for t in vocab},
            indptr=ptr,
            indices=np.asarray(indices, dtype=np.int32),
            data=np.asarray(data, dtype=np.float32),
            rows=np.repeat(np.arange(n, dtype=np.int32), np.diff(ptr)),
        )

    def outside(self, papers: Iterable[ProfilePaper]) -> dict[int, Terms]:
        """Signatures of papers not in the week, weighted by the week's idf (a term no
        signature of the week keeps counts as the rarest), then kept to the week's terms:
        the others cannot make a paper of the week alike."""
        import numpy as np  # noqa: PLC0415

        rarest = _weight(0, len(self.ids))
        out: dict[int, Terms] = {}
        for p in papers:
            counts = term_counts(p.text[:_TEXT_MAX], p.tags)
            weights = {t: self.idf.get(t, rarest) for t in counts}
            sig = {
                t: w for t, w in signature(counts, weights.__getitem__).items() if t in self.vocab
            }
            out[p.paper_id] = Terms(
                np.fromiter((self.vocab[t] for t in sig), dtype=np.int32, count=len(sig)),
                np.fromiter(sig.values(), dtype=np.float32, count=len(sig)),
            )
        return out

    def terms_of(self, paper_id: int) -> Terms:
        """The signature of one of the week's papers."""
        i = self.row[paper_id]
        start, stop = int(self.indptr[i]), int(self.indptr[i + 1])
        return Terms(self.indices[start:stop], self.data[start:stop])

    def signature_of(self, paper_id: int) -> Signature:
        """The signature of one of the week's papers, by term."""
        return self.as_signature(self.terms_of(paper_id))

    def as_signature(self, terms: Terms) -> Signature:
        words = self._terms()
        return {words[int(j)]: float(w) for j, w in zip(terms.index, terms.weight, strict=True)}

    def dense(self, terms: Terms) -> NDArray[np.float32]:
        """A signature as a dense vector over the week's terms."""
        import numpy as np  # noqa: PLC0415

        v = np.zeros(len(self.vocab), dtype=np.float32)
        v[terms.index] = terms.weight
        return v

    def score(
        self,
        profile: Profile,
        outside: Mapping[int, Terms],
        paper_ids: Collection[int] | None = None,
    ) -> ProfileScores | None:
        """The profile's scores over the week (``paper_ids``: only those papers).

        ``outside``: the profile's papers not in the week (``outside``). None when the
        profile has no liked paper the week shares a term with.
        """
        import numpy as np  # noqa: PLC0415

        liked: list[tuple[int, str, Terms]] = []
        centroid = np.zeros(len(self.vocab), dtype=np.float32)
        for x in profile.liked:
            terms = self._terms_for(x.paper_id, outside)
            if terms is not None and len(terms.index):
                liked.append((x.paper_id, profile.papers[x.paper_id].title, terms))
                # A signature names each term once, so the indices do not repeat.
                centroid[terms.index] += x.strength * terms.weight
        if not liked:
            return None
        for pid in profile.disliked:
            terms = self._terms_for(pid, outside)
            if terms is not None:
                centroid[terms.index] -= _MUTE_SHARE * terms.weight
        np.maximum(centroid, 0, out=centroid)
        norm = float(np.linalg.norm(centroid))
        if norm == 0:
            return None
        centroid /= norm
        if paper_ids is None or len(paper_ids) * 4 > len(self.ids):
            cos = self.cosines(centroid)
            rows = np.nonzero(cos > FLOOR)[0]
            cos = cos[rows]
        else:
            rows = np.fromiter((self.row[p] for p in paper_ids if p in self.row), dtype=np.int64)
            cos = self.cosines(centroid, rows)
        share = np.clip((cos - FLOOR) / (FULL - FLOOR), 0.0, 1.0)
        hit = np.nonzero(share > 0)[0]
        rows, share = rows[hit], share[hit]
        if paper_ids is not None:
            keep = [k for k, r in enumerate(rows.tolist()) if self.ids[r] in paper_ids]
            rows, share = rows[keep], share[keep]
        if len(rows) > LIFTED_MAX:
            # The closest papers, the earlier row first among equals.
            best = np.lexsort((rows, -share))[:LIFTED_MAX]
            rows, share = rows[best], share[best]
        ids = self.ids
        scores = {ids[r]: v for r, v in zip(rows.tolist(), share.tolist(), strict=True)}
        return ProfileScores(scores, liked, self)

    def cosines(
        self, vector: NDArray[np.float32], rows: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """The week papers' dot products with a vector over the week's terms: every
        paper's, or those of ``rows`` in their order."""
        import numpy as np  # noqa: PLC0415

        if rows is None:
            found = np.bincount(
                self.rows, weights=self.data * vector[self.indices], minlength=len(self.ids)
            )
            return found.astype(np.float64, copy=False)
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        # Every stored weight of the chosen rows, gathered without a loop in Python.
        owner = np.repeat(np.arange(len(rows)), lengths)
        at = starts[owner] + (
            np.arange(int(lengths.sum())) - np.repeat(lengths.cumsum() - lengths, lengths)
        )
        found = np.bincount(
            owner, weights=self.data[at] * vector[self.indices[at]], minlength=len(rows)
        )
        return found.astype(np.float64, copy=False)

    def _terms_for(self, paper_id: int, outside: Mapping[int, Terms]) -> Terms | None:
        if paper_id in self.row:
            return self.terms_of(paper_id)
        return outside.get(paper_id)

    def _terms(self) -> list[str]:
        with self._lock:
            if self._by_index is None:
                terms = [""] * len(self.vocab)
                for t, j in self.vocab.items():
                    terms[j] = t
                self._by_index = terms
            return self._by_index
