"""How digest summaries read: mid-clause cuts, leftover debris and wrong languages.

    PYTHONPATH=. python benchmarks/summaries.py [--chars 280]

Counts, over the hand-written fixtures (tests/fixtures/weekly_md_clauses.md: DAIR-shaped
semicolon-chained blurbs; tests/fixtures/summary_texts.json: debris and language mixes)
and, when ``../shared`` is beside the checkout, the real DAIR capture:

- how each cut summary ends: after a whole clause (";", ":", a dash, "、"), at a comma, or
  mid-clause (at a word, or with a dangling "and"/"of"/open bracket);
- summaries that still carry a URL, arXiv boilerplate or Markdown marks;
- summaries served in the wrong language (kana make Japanese; other CJK is Chinese).

The script reads only public names of ``digests.summarize``, so the same file measures an
older checkout: ``PYTHONPATH=/path/to/old python benchmarks/summaries.py``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from digests.model import ParseContext, SummaryText
from digests.sources.weekly_md import parse_weekly_md
from digests.summarize import ELLIPSIS, extractive_summary, plain_text

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DAIR = (
    ROOT.parent
    / "shared"
    / "samples"
    / ("ml_papers_of_the_week_2weeks__dair-ai_ML-Papers-of-the-Week_README.md")
)

_CLAUSE_MARKS = ";:—–、，；："
_DANGLING = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "of", "to", "in", "on", "at", "by", "for",
    "with", "from", "as", "that", "which", "while", "than", "via", "into", "onto", "over",
    "under", "between",
})  # fmt: skip
_OPENERS = "([{（［「『“"
_DEBRIS = {
    "url": re.compile(r"https?://|\bwww\."),
    "arXiv boilerplate": re.compile(
        r"arXiv:\s*\d|Announce Type|\b(?:Comments|Subjects|Journal-ref):"
    ),
    "markdown": re.compile(r"\*\*|__|~~|`|\]\("),
}
_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u4e00-\u9fff]")


def ending(summary: str, source: str) -> str:
    """How a summary of ``source`` ends: whole, clause, comma or mid-clause."""
    if not summary.endswith(ELLIPSIS):
        return "whole"
    body = summary[: -len(ELLIPSIS)]
    clean = plain_text(source)
    words = body.split()
    if not words or words[-1].lower() in _DANGLING:
        return "mid-clause"
    depth = sum(body.count(c) for c in _OPENERS) - sum(body.count(c) for c in ")]}）］」』”")
    if depth > 0:
        return "mid-clause"
    rest = clean[len(body) :].lstrip() if clean.startswith(body) else ""
    if rest[:1] in tuple(_CLAUSE_MARKS) or rest.startswith(("- ", "-- ")):
        return "clause"
    if rest[:1] in (",", "，"):
        return "comma"
    return "mid-clause"


def script_lang(text: str) -> str | None:
    """Kana make Japanese; Han without kana is Chinese; mostly Latin letters, English."""
    kana, han = len(_KANA.findall(text)), len(_HAN.findall(text))
    latin = sum(c.isascii() and c.isalpha() for c in text)
    if not kana + han + latin:
        return None
    if (kana + han) * 3 < latin:
        return "en"
    return "ja" if kana else "zh"


def dair_blurbs(path: Path) -> list[str]:
    doc = parse_weekly_md(path.read_bytes(), ParseContext(url=str(path)))
    return [e.summary for e in doc.entries if e.summary]


def endings(blurbs: list[str], chars: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for blurb in blurbs:
        summary = extractive_summary([SummaryText(blurb, "source", "en")], max_chars=chars)
        counts[ending(summary, blurb)] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=280)
    args = parser.parse_args()

    sets = {"fixture blurbs": dair_blurbs(FIXTURES / "weekly_md_clauses.md")}
    if DAIR.is_file():
        sets["DAIR capture"] = dair_blurbs(DAIR)
    for name, blurbs in sets.items():
        for chars in sorted({args.chars, 160}):
            counts = endings(blurbs, chars)
            parts = ", ".join(
                f"{k} {counts[k]}" for k in ("whole", "clause", "comma", "mid-clause")
            )
            print(f"{name} ({len(blurbs)}) at {chars} chars: {parts}")

    items = json.loads((FIXTURES / "summary_texts.json").read_text(encoding="utf-8"))["items"]
    debris: Counter[str] = Counter()
    wrong: list[str] = []
    served = 0
    for item in items:
        texts = [SummaryText(t, origin, lang) for t, origin, lang in item["texts"]]
        for lang in ("en", "ja"):
            summary = extractive_summary(texts, lang=lang, max_chars=args.chars)
            served += 1
            for kind, pattern in _DEBRIS.items():
                if pattern.search(summary):
                    debris[kind] += 1
            want = item["want"][lang]
            if want != "*" and script_lang(summary) != want:
                wrong.append(f"{item['id']} ({lang}): {summary[:50]!r}")
    for blurbs in sets.values():
        for blurb in blurbs:
            summary = extractive_summary([SummaryText(blurb, "source", "en")])
            served += 1
            for kind, pattern in _DEBRIS.items():
                if pattern.search(summary):
                    debris[kind] += 1
    print(
        f"summary_texts.json and the blurbs ({served} summaries): debris "
        + ", ".join(f"{k} {debris[k]}" for k in _DEBRIS)
        + f"; wrong language {len(wrong)}"
    )
    for line in wrong:
        print("  wrong:", line)


if __name__ == "__main__":
    main()
