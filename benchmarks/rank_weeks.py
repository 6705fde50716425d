"""Prints the top ten of the calibration weeks (tests/fixtures/weeks) for some weights.

    python benchmarks/rank_weeks.py [--weights "sources=1,upvotes=3"] [--top 10]

Each week goes through the real ingest into a fresh SQLite store and ``build_digest``; each
row says what the paper is (a curated pick and its place, its upvotes, arXiv only) and why
it ranked. The counts at the end are what ``docs/ranking.md`` tabulates.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # PYTHONPATH first: another checkout's digests can be compared

from digests.digest import DigestRequest, build_digest  # noqa: E402
from digests.rank import RankWeights  # noqa: E402
from digests.store import Store  # noqa: E402
from digests.topics import load_rules  # noqa: E402
from digests.weeks import parse_week, week_bounds  # noqa: E402
from tests.factories import CALIBRATION_WEEKS, ingest_weeks  # noqa: E402

FOLDER = ROOT / "tests" / "fixtures" / "weeks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="", help="as PAPERBOT_RANK_WEIGHTS")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    weights = RankWeights.parse(args.weights)
    manifest = {w["week"]: w for w in json.loads((FOLDER / "weeks.json").read_text())}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/weeks.db")
        ingest_weeks(store, FOLDER, load_rules())
        for label in CALIBRATION_WEEKS:
            week = parse_week(label)
            _, end = week_bounds(week, "UTC")
            digest = build_digest(
                store,
                DigestRequest(week=week, top=args.top),
                now=end - timedelta(seconds=1),
                weights=weights,
            )
            intent = manifest[label]
            picks = {p["title"]: p["place"] for p in intent["picks"]}
            top_up = {t["upvotes"] for t in intent["top_upvoted"]}
            print(f"\n{label}: {digest.candidates} candidates")
            print("| # | paper | what it is | score | reasons |")
            print("|---|---|---|---|---|")
            n_picks = n_top = n_arxiv = 0
            for item in digest.items:
                codes = {r.code for r in item.reasons if r.points}
                upvotes = next(
                    (int(r.label.split()[0]) for r in item.reasons if r.code == "upvotes"), 0
                )
                what = []
                if item.title in picks or any(r.code in ("position", "pick") for r in item.reasons):
                    place = picks.get(item.title)
                    what.append(f"pick #{place}" if place else "pick")
                    n_picks += 1
                if upvotes:
                    what.append(f"{upvotes} upvotes")
                    n_top += upvotes in top_up
                if not codes & {"position", "pick", "upvotes"}:
                    only_arxiv = all(
                        r.label.startswith("in arXiv") for r in item.reasons if r.code == "sources"
                    )
                    if only_arxiv and "sources" not in codes:
                        what.append("arXiv only")
                        n_arxiv += 1
                reasons = " · ".join(r.label for r in item.reasons)
                title = item.title if len(item.title) <= 48 else item.title[:47] + "…"
                print(
                    f"| {item.rank} | {title} | {', '.join(what) or '-'} | {item.score:.2f} "
                    f"| {reasons} |"
                )
            print(
                f"\n{label}: {n_picks} of {len(picks)} picks, {n_top} of the 3 most upvoted "
                f"({', '.join(str(u) for u in sorted(top_up, reverse=True))}), "
                f"{n_arxiv} arXiv-only"
            )
        store.dispose()


if __name__ == "__main__":
    main()
