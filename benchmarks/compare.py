"""Compare two runs of ``benchmarks/run.py`` (their JSON files): medians, spread, ratio.

    python benchmarks/compare.py BEFORE.json AFTER.json [--worse 15]

A figure with a unit counts as worse when the after median is more than ``--worse`` percent on the
wrong side of the before median (higher is better for rates, lower for times and sizes).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

HIGHER_IS_BETTER = ("/s", "%")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    spread = f" ({_fmt(min(values))}-{_fmt(max(values))})" if len(values) > 1 else ""
    return _fmt(_median(values)) + spread


def _key(figures: list[dict[str, Any]], i: int) -> tuple[str, str, int]:
    """A figure's name and unit, with how many before it share both (names repeat)."""
    f = figures[i]
    same = sum(1 for g in figures[:i] if (g["name"], g["unit"]) == (f["name"], f["unit"]))
    return f["name"], f["unit"], same


def rows(before: dict[str, Any], after: dict[str, Any], worse: float) -> list[str]:
    out = [
        "| db | scenario | measure | unit | before (spread) | after (spread) | after / before |",
        "|---|---|---|---|---|---|---|",
    ]
    for db, scenarios in after.items():
        for scenario, run in scenarios.items():
            earlier = before.get(db, {}).get(scenario, {}).get("figures", [])
            old = {_key(earlier, i): f for i, f in enumerate(earlier)}
            for i, fig in enumerate(run["figures"]):
                prev = old.get(_key(run["figures"], i))
                if prev is None or not fig["values"] or not prev["values"]:
                    continue
                b, a = _median(prev["values"]), _median(fig["values"])
                ratio = a / b if b else float("nan")
                higher = fig["unit"].endswith(HIGHER_IS_BETTER)
                bad = ratio < 1 - worse / 100 if higher else ratio > 1 + worse / 100
                bad = bad and bool(fig["unit"])  # a plain count is neither better nor worse
                flag = " **worse**" if bad else ""
                out.append(
                    f"| {db} | {scenario} | {fig['name']} | {fig['unit']} | "
                    f"{_cell(prev['values'])} | {_cell(fig['values'])} | {ratio:.2f}{flag} |"
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--worse", type=float, default=15.0, help="percent (default 15)")
    args = parser.parse_args()
    before = json.loads(args.before.read_text("utf-8"))
    after = json.loads(args.after.read_text("utf-8"))
    print("\n".join(rows(before, after, args.worse)))


if __name__ == "__main__":
    main()
