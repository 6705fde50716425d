"""Precision of ``like:`` against hand labels: do the papers most like one share its tags?

    python benchmarks/similar.py [--seeds DIR] [--db URL] [--k 10]

The paper-notes pages in ``--seeds`` (``../shared/seeds`` by default) tag each entry by
hand. Every entry is stored **without** its tags (and with no topic rules), so that the
signatures see the text alone, then indexed; for each paper and each hand tag it carries
(tags of at least ``--min-papers`` papers), precision@k is the share of its top-k
``like:`` results that carry the tag too (over the papers that have results: a paper
nothing is similar enough to has none, and the count of those is printed). Printed per
tag, with the share of all papers that carry it (what a random pick would score) beside
it, and the mean over every (paper, tag) pair and over the tags rarer than half.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from topics import notes_entries  # noqa: E402

from digests.index import index_papers  # noqa: E402
from digests.ingest import prepare  # noqa: E402
from digests.model import Entry, SourceSpec  # noqa: E402
from digests.normalize import normalize_tag  # noqa: E402
from digests.query import parse_query  # noqa: E402
from digests.store import Store  # noqa: E402
from digests.topics import TopicRules  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def labelled(seeds: Path) -> list[tuple[Entry, frozenset[str]]]:
    """Every notes entry once (by title), with a link to name it by and no tags; and its
    hand tags as slugs."""
    found: list[tuple[Entry, frozenset[str]]] = []
    for e in notes_entries(seeds):
        slugs = frozenset(t.slug for t in map(normalize_tag, e.tags) if t is not None)
        url = e.url or f"https://notes.example.org/{len(found)}"
        found.append((replace(e, tags=(), url=url), slugs))
    return found


def measure(store: Store, items: Sequence[tuple[Entry, frozenset[str]]], k: int, min_papers: int):
    src = store.add_source(SourceSpec(name="notes", location="https://notes.example.org"), now=NOW)
    prepared = prepare([e for e, _ in items], src, TopicRules())
    store.store_entries(src, prepared, now=NOW)
    index_papers(store, clock=lambda: NOW)
    tags_of: dict[int, frozenset[str]] = {}
    refs: dict[int, str] = {}
    for (entry, slugs), item in zip(items, prepared, strict=True):
        page = store.search(parse_query(f"id:{item.entry.url}", now=NOW))
        if page.hits:
            tags_of[page.hits[0].paper_id] = slugs
            refs[page.hits[0].paper_id] = item.entry.url or entry.title
    counts: dict[str, int] = {}
    for slugs in tags_of.values():
        for t in slugs:
            counts[t] = counts.get(t, 0) + 1
    wanted = {t for t, n in counts.items() if n >= min_papers}
    per_tag: dict[str, list[float]] = {t: [] for t in wanted}
    found_any = 0
    for pid, slugs in tags_of.items():
        hits = store.search(parse_query(f"like:{refs[pid]} limit:{k}", now=NOW)).hits
        found_any += bool(hits)
        for t in slugs & wanted:
            if hits:
                per_tag[t].append(sum(t in tags_of.get(h.paper_id, ()) for h in hits) / len(hits))
    base = {t: (counts[t] - 1) / max(1, len(tags_of) - 1) for t in wanted}
    return per_tag, base, len(tags_of), found_any


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=ROOT.parent / "shared" / "seeds")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--k", type=int, default=10, help="results per like: (default 10)")
    parser.add_argument("--min-papers", type=int, default=5, help="tags of at least N papers")
    args = parser.parse_args(argv)
    console = Console()
    items = labelled(args.seeds)
    if not items:
        console.print(f"no paper-notes pages in {args.seeds}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(args.db or f"sqlite:///{tmp}/similar.db")
        try:
            per_tag, base, papers, found = measure(store, items, args.k, args.min_papers)
        finally:
            store.dispose()
    table = Table(title=f"like: precision@{args.k} on hand tags ({papers} papers)")
    for col in ("tag", "papers", "precision", "random"):
        table.add_column(col, justify="left" if col == "tag" else "right")
    for t in sorted(per_tag, key=lambda t: -len(per_tag[t])):
        scores = per_tag[t] or [0.0]
        table.add_row(t, str(len(scores)), f"{statistics.mean(scores):.0%}", f"{base[t]:.0%}")
    console.print(table)
    rare = [t for t, scores in per_tag.items() if scores and base[t] < 0.5]
    if rare:
        console.print(
            f"tags rarer than half ({len(rare)}): mean precision@{args.k} "
            f"{statistics.mean(statistics.mean(per_tag[t]) for t in rare):.1%} "
            f"(random: {statistics.mean(base[t] for t in rare):.1%})"
        )
    pairs = [s for scores in per_tag.values() for s in scores]
    randoms = [base[t] for t, scores in per_tag.items() for _ in scores]
    console.print(
        f"mean precision@{args.k} over {len(pairs)} (paper, tag) pairs: "
        f"{statistics.mean(pairs):.1%} (random: {statistics.mean(randoms):.1%}); "
        f"{found} of {papers} papers found similar ones"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
