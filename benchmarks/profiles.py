"""How well a channel's profile ranks, against hand labels: precision@10 and nDCG@10.

    python benchmarks/profiles.py [--seeds DIR] [--models]

A channel stands for one interest a person labelled by hand. Its profile is seeded with
the papers of earlier weeks that carry the label (as likes, the way a team's 👍 or an
imported library would); the papers of later weeks are the pool a digest ranks. Three
rankings of the pool are scored against the labels:

* **filter**: the digest of the channel's closest topic rule (``tag:T`` of
  ``digests/topics.py``) as ``digests/rank.py`` orders it, without a profile;
* **profile**: the pool ordered by the profile's score alone (every other weight 0);
* **both**: the ``tag:T`` digest with the profile, at the default weights.

Two labelled sources, each split in time:

* **notes**: the paper-notes tag pages in ``--seeds`` (``../shared/seeds``, real pages;
  a curator tags every entry by hand). Entries dated before the pages' median date seed
  the profiles, the later ones are the pool. The channels are the curator's tags for
  language-model work (``PostTraining``, ``Supervised-FineTuning (SFT)``, ``DPO``, and
  LLM alignment as ``benchmarks/topics.py`` reads the Alignment page); the closest topic
  rule for each is Alignment. The hand tags are labels only: what the filter and the
  profile see of an entry is what ingest would read of an arXiv listing of it (its text
  and the topics the rules give it), so no label leaks into either.
* **fixture** and **interests**: one split of the arXiv-like fixtures, labelled by hand.
  ``tests/fixtures/topics/*.json`` carries the rules' topics (with false friends of each
  rule); ``tests/fixtures/profiles/interests.json`` carries narrow interests inside a
  topic, and the topics too. The June papers of both seed the profiles; the later ones
  (August and September) are one 94-paper pool. **fixture** reads each topic as a channel
  whose filter is its own rule; **interests** reads each interest as a channel whose
  filter is its topic's rule.

precision@10 counts the labelled papers among the first ten; nDCG@10 also rewards putting
them first. A pool with fewer than ten labelled papers caps precision@10 below 1 for every
ranking alike, so a comparison there measures little: the table lists those channels
apart, with the best reachable precision beside them, and their mean is of precision
divided by it. The means per set and over all are of the channels that can reach 1.0.
``--models`` adds the models the profile could use, scored alone: the
centroid (what ``digests/profile.py`` uses), the nearest liked paper, the mean of the
three nearest, and a logistic regression (scikit-learn) trained on the seed weeks with
the unlabelled seed papers as negatives, as arxiv-sanity-lite trains its per-tag SVM.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT / "tests" / "fixtures" / "topics"
INTERESTS = ROOT / "tests" / "fixtures" / "profiles" / "interests.json"
sys.path[:0] = [str(HERE), str(ROOT)]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from topics import notes_entries, notes_labels  # noqa: E402

from digests.model import (  # noqa: E402
    Candidate,
    Feedback,
    Links,
    MentionView,
    PaperHit,
    Signals,
    SourceKind,
)
from digests.normalize import normalize_tag  # noqa: E402
from digests.profile import (  # noqa: E402
    Profile,
    ProfilePaper,
    Terms,
    WeekSignatures,
    build_profile,
)
from digests.query import parse_query  # noqa: E402
from digests.rank import RankWeights, prepare_week, rank_prepared  # noqa: E402
from digests.similar import cosine  # noqa: E402
from digests.topics import TopicRules, load_rules  # noqa: E402

TOP = 10
# Notes channels: the curator's tag (a slug) and the topic rule closest to it.
NOTES_CHANNELS: dict[str, str] = {
    "llm-alignment": "alignment",
    "posttraining": "alignment",
    "supervised-finetuning-sft": "alignment",
    "dpo": "alignment",
}
# Interest channels: a narrow interest and the topic rule a team would subscribe to for it.
INTEREST_CHANNELS: dict[str, str] = {
    "preference-optimization": "alignment",
    "reward-modeling": "alignment",
    "jailbreaks": "safety",
    "inference-speed": "efficiency",
    "web-agents": "agents",
    "math-reasoning": "reasoning",
}
# The topic fixture's later papers that belong to one of those interests (read by hand).
INTERESTS_OF_TOPIC_FIXTURE: dict[str, tuple[str, ...]] = {
    "2508.00412": ("preference-optimization",),
    "2508.02245": ("preference-optimization",),
    "2508.02701": ("reward-modeling",),
    "2508.01322": ("jailbreaks",),
    "2508.20011": ("jailbreaks",),
    "2508.20923": ("inference-speed",),
}
PROFILE_ONLY = RankWeights(
    sources=0, pick=0, position=0, upvotes=0, recency=0, match=0, related=0, updated=0, profile=1
)


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled paper: what ingest would read of it, its date and its hand labels."""

    paper_id: int
    title: str
    text: str
    at: datetime
    labels: frozenset[str]


@dataclass(frozen=True, slots=True)
class LabelledSet:
    name: str
    seeds: tuple[Item, ...]
    pool: tuple[Item, ...]
    channels: dict[str, str]  # label -> the topic rule's tag used as the filter


def notes_set(seeds_dir: Path) -> LabelledSet | None:
    """The paper-notes pages, split at their median date."""
    items: dict[str, Item] = {}
    for e in notes_entries(seeds_dir):
        if e.published is None:
            continue
        slugs = {t.slug for t in map(normalize_tag, e.tags) if t is not None}
        if "alignment" in notes_labels(e.tags):
            slugs.add("llm-alignment")
        body = "\n".join(x for x in (e.abstract, e.summary, e.ai_summary) if x)
        items[e.title.casefold()] = Item(
            len(items) + 1, e.title, f"{e.title}\n{body}", e.published, frozenset(slugs)
        )
    if not items:
        return None
    ordered = sorted(items.values(), key=lambda i: (i.at, i.paper_id))
    cut = statistics.median_low([i.at for i in ordered])
    seeds = tuple(i for i in ordered if i.at <= cut)
    pool = tuple(i for i in ordered if i.at > cut)
    return LabelledSet("notes", seeds, pool, NOTES_CHANNELS)


def fixture_set(
    interests: Path, seed_file: Path, pool_files: Sequence[Path]
) -> tuple[LabelledSet, LabelledSet]:
    """The arXiv-like fixtures, one split in time measured twice: as topic channels
    (each filtered by its own rule) and as narrow interests inside topics (each filtered
    by the rule a team would subscribe to). ``interests.json``'s June papers and the topic
    fixture's seed file are the seed weeks; the later papers of both are the pool, so a
    topic channel's pool holds the interests' later papers too (each labelled with its
    topics) and reaches ten labelled papers where the topic fixture alone has two."""
    every = read_items(interests, 30_000)
    seeds = [i for i in every if i.at.month <= 6] + read_items(seed_file, 10_000)
    pool = [i for i in every if i.at.month > 6]
    for n, path in enumerate(pool_files):
        pool += read_items(path, 20_000 + 1000 * n)
    tags = sorted({t for i in seeds for t in i.labels} - set(INTEREST_CHANNELS))
    topics = LabelledSet("fixture", tuple(seeds), tuple(pool), {t: t for t in tags})
    return topics, replace(topics, name="interests", channels=INTEREST_CHANNELS)


def read_items(path: Path, first_id: int) -> list[Item]:
    """A labelled JSON file (id, title, abstract, topics and maybe interests), dated by
    its arXiv ids' months."""
    out = []
    for n, raw in enumerate(json.loads(path.read_text("utf-8")), start=first_id):
        yymm = raw["id"].split(".")[0]
        at = datetime(2000 + int(yymm[:2]), int(yymm[2:]), 1, tzinfo=UTC)
        at += timedelta(hours=n - first_id)  # the listing's order within its month
        labels = {t.slug for t in map(normalize_tag, raw["topics"]) if t}
        labels.update(raw.get("interests", ()))
        labels.update(INTERESTS_OF_TOPIC_FIXTURE.get(raw["id"], ()))
        text = f"{raw['title']}\n{raw['abstract']}"
        out.append(Item(n, raw["title"], text, at, frozenset(labels)))
    return out


# --- rankings ----------------------------------------------------------------------------


def candidate(item: Item, rules: TopicRules) -> Candidate:
    """The item as a digest sees it: one arXiv-listing mention, the rules' topics."""
    topics = tuple(t.display for t in rules.topics_for(item.text))
    hit = PaperHit(
        paper_id=item.paper_id,
        key=f"bench:{item.paper_id}",
        title=item.title,
        url="",
        authors=(),
        tags=topics,
        sources=("arXiv",),
        summary=None,
        first_seen=item.at,
        links=Links(),
    )
    mention = MentionView(
        source_name="arXiv",
        source_kind=SourceKind.ARXIV,
        mentioned_at=item.at,
        title=item.title,
        summary=None,
        summary_lang=None,
        signals=Signals(),
        family="arXiv",
    )
    return Candidate(paper=hit, abstract=item.text, announced_at=item.at, mentions=(mention,))


def profile_paper(item: Item, rules: TopicRules) -> ProfilePaper:
    slugs = tuple(t.slug for t in rules.topics_for(item.text))
    return ProfilePaper(item.paper_id, item.title, item.text, slugs)


def likes_for(label: str, seeds: Sequence[Item], now: datetime) -> list[Feedback]:
    return [
        Feedback("TB", f"C-{label}", "U1", i.paper_id, "like", "import", i.at)
        for i in seeds
        if label in i.labels
    ]


@dataclass(frozen=True, slots=True)
class Scores:
    """A model's scores as ranking reads them (``rank.ProfileSignal``)."""

    scores: Mapping[int, float]

    def because(self, paper_id: int) -> str | None:
        return None


def precision(ranked: Sequence[int], relevant: set[int]) -> float:
    return sum(1 for pid in ranked[:TOP] if pid in relevant) / TOP


def ndcg(ranked: Sequence[int], relevant: set[int]) -> float:
    gain = sum(1 / math.log2(k + 2) for k, pid in enumerate(ranked[:TOP]) if pid in relevant)
    ideal = sum(1 / math.log2(k + 2) for k in range(min(TOP, len(relevant))))
    return gain / ideal if ideal else 0.0


@dataclass(frozen=True, slots=True)
class Row:
    set_name: str
    label: str
    filter_tag: str
    likes: int
    relevant: int
    figures: dict[str, tuple[float, float]]  # ranking -> (precision@10, nDCG@10)

    @property
    def cap(self) -> float:
        """The best precision@10 any ranking can reach: below 1 when the pool holds
        fewer than ten labelled papers."""
        return min(TOP, self.relevant) / TOP


Model = Callable[[Profile, WeekSignatures, Mapping[int, Terms]], Mapping[int, float]]


def centroid_model(
    profile: Profile, week: WeekSignatures, outside: Mapping[int, Terms]
) -> Mapping[int, float]:
    found = week.score(profile, outside)
    return found.scores if found is not None else {}


def _liked_terms(
    profile: Profile, week: WeekSignatures, outside: Mapping[int, Terms]
) -> list[Terms]:
    return [
        week.terms_of(x.paper_id) if x.paper_id in week.row else outside[x.paper_id]
        for x in profile.liked
    ]


def nearest_model(k: int) -> Model:
    def model(
        profile: Profile, week: WeekSignatures, outside: Mapping[int, Terms]
    ) -> Mapping[int, float]:
        liked = [week.as_signature(t) for t in _liked_terms(profile, week, outside)]
        out = {}
        for pid in week.ids:
            sig = week.signature_of(pid)
            near = sorted((cosine(sig, s) for s in liked), reverse=True)[:k]
            out[pid] = sum(near) / len(near) if near else 0.0
        return out

    return model


def logistic_model(negatives: Sequence[ProfilePaper]) -> Model:
    def model(
        profile: Profile, week: WeekSignatures, outside: Mapping[int, Terms]
    ) -> Mapping[int, float]:
        import numpy as np  # noqa: PLC0415
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

        liked_ids = {x.paper_id for x in profile.liked}
        negs = week.outside(p for p in negatives if p.paper_id not in liked_ids)
        pos = _liked_terms(profile, week, outside)
        x = np.stack([week.dense(t) for t in [*pos, *negs.values()]])
        y = np.array([1] * len(pos) + [0] * len(negs))
        fit = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000).fit(x, y)
        pool = np.stack([week.dense(week.terms_of(pid)) for pid in week.ids])
        return dict(zip(week.ids, fit.predict_proba(pool)[:, 1].tolist(), strict=True))

    return model


def evaluate(data: LabelledSet, rules: TopicRules, *, models: bool) -> list[Row]:
    cands = [candidate(i, rules) for i in data.pool]
    start = min(i.at for i in data.pool)
    end = max(i.at for i in data.pool) + timedelta(days=1)
    now = end
    week = WeekSignatures.build([profile_paper(i, rules) for i in data.pool])
    seed_papers = {i.paper_id: profile_paper(i, rules) for i in data.seeds}
    outside = week.outside(seed_papers.values())
    default = prepare_week(cands, now=now, week_start=start, week_end=end)
    alone = prepare_week(cands, now=now, week_start=start, week_end=end, weights=PROFILE_ONLY)
    choices: dict[str, Model] = {"profile": centroid_model}
    if models:
        choices |= {
            "nearest": nearest_model(1),
            "top-3 mean": nearest_model(3),
            "logistic": logistic_model(list(seed_papers.values())),
        }
    rows = []
    for label, tag in data.channels.items():
        verdicts = likes_for(label, data.seeds, now)
        relevant = {i.paper_id for i in data.pool if label in i.labels}
        if len(verdicts) < 2 or len(relevant) < 2:
            continue
        channel = ("TB", f"C-{label}")
        profile = build_profile(channel, verdicts, seed_papers, now=now)
        query = parse_query(f"tag:{tag}", now=now)
        matching = {c.paper.paper_id for c in cands if tag in _slugs(c)}
        figures: dict[str, tuple[float, float]] = {}

        def score(ids: list[int], name: str) -> None:
            figures[name] = (precision(ids, relevant), ndcg(ids, relevant))  # noqa: B023

        filtered = rank_prepared(default, query=query, top=TOP, paper_ids=matching)
        score([s.candidate.paper.paper_id for s in filtered], "filter")
        for name, model in choices.items():
            signal = Scores(model(profile, week, outside))
            ranked = rank_prepared(alone, top=TOP, profile=signal)
            score([s.candidate.paper.paper_id for s in ranked], name)
        found = week.score(profile, outside, matching)
        both = rank_prepared(default, query=query, top=TOP, paper_ids=matching, profile=found)
        score([s.candidate.paper.paper_id for s in both], "both")
        rows.append(Row(data.name, label, tag, len(verdicts), len(relevant), figures))
    return rows


def _slugs(c: Candidate) -> set[str]:
    return {t.slug for t in map(normalize_tag, c.paper.tags) if t is not None}


def _table(rows: Sequence[Row], names: Sequence[str]) -> Table:
    """Channels whose pool can fill a top ten first, their means per set and over all;
    then the capped ones, with their best reachable precision and the ratio to it."""
    out = Table(title=f"precision@{TOP} / nDCG@{TOP} per channel")
    for column in ("set", "channel (filter)", "likes", "labelled in pool", "best p@10"):
        out.add_column(
            column, justify="left" if "channel" in column or column == "set" else "right"
        )
    for name in names:
        out.add_column(name, justify="right")
    full = [r for r in rows if r.cap == 1]
    capped = [r for r in rows if r.cap < 1]
    for r in [*full, *capped]:
        cells = [f"{r.figures[n][0]:.2f} / {r.figures[n][1]:.2f}" for n in names]
        out.add_row(
            r.set_name,
            f"{r.label} (tag:{r.filter_tag})",
            str(r.likes),
            str(r.relevant),
            f"{r.cap:.2f}",
            *cells,
            end_section=r is full[-1] if full else False,
        )
    groups = {r.set_name: [x for x in full if x.set_name == r.set_name] for r in full}
    for label, group in [*groups.items(), ("all", full)]:
        means = [
            f"{statistics.fmean(r.figures[n][0] for r in group):.2f} / "
            f"{statistics.fmean(r.figures[n][1] for r in group):.2f}"
            for n in names
        ]
        out.add_row(f"mean {label}", f"{len(group)} channels", "", "", "1.00", *means, style="bold")
    if capped:
        means = [
            f"{statistics.fmean(r.figures[n][0] / r.cap for r in capped):.2f} / "
            f"{statistics.fmean(r.figures[n][1] for r in capped):.2f}"
            for n in names
        ]
        label = f"{len(capped)} channels, precision ÷ best"
        out.add_row("mean capped", label, "", "", "", *means, style="bold")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds",
        type=Path,
        default=ROOT.parent / "shared" / "seeds",
        help="folder searched for paper-notes tag pages (default: ../shared/seeds)",
    )
    parser.add_argument("--models", action="store_true", help="compare the profile's models too")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    console = Console(width=200)
    rules = load_rules()
    later = [FIXTURES / "heldout.json", FIXTURES / "fresh.json"]
    sets = list(fixture_set(INTERESTS, FIXTURES / "labelled.json", later))
    notes = notes_set(args.seeds) if args.seeds.is_dir() else None
    if notes is None:
        console.print(f"no paper-notes pages in {args.seeds}: only the fixtures are measured")
    else:
        sets.insert(0, notes)
    rows = [row for s in sets for row in evaluate(s, rules, models=args.models)]
    names = ["filter", "profile", "both"]
    if args.models:
        names += ["nearest", "top-3 mean", "logistic"]
    for s in sets:
        console.print(
            f"{s.name}: {len(s.seeds)} seed papers (earlier), {len(s.pool)} in the pool (later)"
        )
    console.print(_table(rows, names))
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) | {"best_precision": r.cap} for r in rows], indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
