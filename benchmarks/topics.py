"""Precision and recall of each topic rule against hand labels.

    python benchmarks/topics.py [--rules FILE] [--seeds DIR] [--fixture FILE] [--errors TAG]

Two labelled sets, each printed as one table (labelled positives, predicted, hits,
precision, recall per rule):

* **notes**: every paper-notes tag page found in ``--seeds`` (the real pages this product
  was specified from; ``../shared/seeds`` by default). A curator tags each entry by hand;
  an entry's text is what ingest reads (title, summary). The pages' ``Alignment`` tag also
  covers word and sentence alignment (machine translation, summarization), so for the
  Alignment rule an entry counts as a positive only when the curator also gave it a tag
  of language-model work (``LanguageModel``, ``PostTraining``, ``DPO``, …): see
  ``NOTES_LABELS``.
* **fixture**: ``tests/fixtures/topics/*.json``, arXiv-listing-like titles and
  abstracts labelled by hand, with the false friends of each rule (image-text alignment,
  depth estimation, word alignment, reducing agents, vector quantization, multimodal
  posteriors…). ``tests/test_topics.py`` holds the Alignment rule to ≥ 0.8 precision on it.

``--rules`` measures another rules file (the rules before a change, say:
``git show REV:digests/data/topics.toml > old.toml``); ``--errors Alignment`` lists the
items that rule gets wrong. Figures before and after the context rules:
``benchmarks/NOTES.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT / "tests" / "fixtures" / "topics"
sys.path[:0] = [str(ROOT)]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from digests.errors import PaperbotError  # noqa: E402
from digests.model import Entry, ParseContext, SourceKind  # noqa: E402
from digests.normalize import normalize_tag  # noqa: E402
from digests.sources import detect_kind, parse_document  # noqa: E402
from digests.topics import TopicRules, load_rules, score_rules  # noqa: E402

Labelled = tuple[str, Sequence[str | None], frozenset[str]]  # (title, texts, tag slugs)

# Rule tag -> the notes tags that mean it. Alignment needs both sets (see the docstring).
NOTES_LABELS: dict[str, tuple[frozenset[str], ...]] = {
    "alignment": (
        frozenset({"alignment"}),
        frozenset(
            {
                "languagemodel", "posttraining", "dpo", "rlhf", "rewardmodel", "safety",
                "chatgpt", "instructiontuning", "supervised-finetuning-sft", "llmagent",
            }
        ),
    ),
    "safety": (frozenset({"safety", "jailbreak", "redteaming"}),),
    "agents": (frozenset({"aiagents", "llmagent", "agent", "agentic", "multiagent"}),),
    "reasoning": (frozenset({"reasoning", "chain-of-thought"}),),
    "rag": (frozenset({"rag-retrievalaugmentedgeneration", "rag"}),),
    "efficiency": (
        frozenset({"efficiencyimprovement", "pruning", "quantization", "speculativedecoding"}),
    ),
    "multimodal": (frozenset({"multimodal", "visionlanguagemodel", "vlm"}),),
    "evaluation": (frozenset({"evaluation", "benchmark", "llm-as-a-judge"}),),
}  # fmt: skip


def notes_labels(tags: Iterable[str]) -> frozenset[str]:
    """The rule tags a notes entry's hand-given tags stand for."""
    slugs = {t.slug for t in map(normalize_tag, tags) if t is not None}
    return frozenset(
        rule for rule, needs in NOTES_LABELS.items() if all(slugs & one for one in needs)
    )


def notes_entries(seeds: Path) -> list[Entry]:
    """The entries of every notes tag page under ``seeds``, once per title (the first
    page's), as the parser reads them; the labelled sets of the benchmarks start here."""
    found: dict[str, Entry] = {}
    for path in sorted(p for p in seeds.iterdir() if p.is_file()):
        data = path.read_bytes()
        ctx = ParseContext()
        try:
            if detect_kind(data, ctx) not in (SourceKind.NOTES_HTML, SourceKind.NOTES_TEXT):
                continue
            doc = parse_document(data, ctx)
        except PaperbotError:
            continue
        for e in doc.entries:
            found.setdefault(e.title.casefold(), e)
    return list(found.values())


def notes_set(seeds: Path) -> list[Labelled]:
    """The entries of every notes tag page under ``seeds``, once per title."""
    return [
        # What ingest reads for topics (the notes have no abstract).
        (e.title, (e.title, e.abstract, e.summary, e.ai_summary), notes_labels(e.tags))
        for e in notes_entries(seeds)
    ]


def fixture_set(path: Path) -> list[Labelled]:
    items = json.loads(path.read_text("utf-8"))
    return [
        (
            item["title"],
            (item["title"], item["abstract"]),
            frozenset(t.slug for t in map(normalize_tag, item["topics"]) if t is not None),
        )
        for item in items
    ]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(name: str, rules: TopicRules, items: Sequence[Labelled]) -> Table:
    out = Table(title=f"{name}: {len(items)} labelled items")
    for column in ("rule", "labelled", "predicted", "hits", "precision", "recall"):
        out.add_column(column, justify="left" if column == "rule" else "right")
    for s in score_rules(rules, [(texts, labels) for _, texts, labels in items]):
        row = (s.positives, s.predicted, s.hits)
        out.add_row(s.tag, *map(str, row), _pct(s.precision), _pct(s.recall))
    return out


def errors(rules: TopicRules, items: Sequence[Labelled], tag: str) -> Iterator[str]:
    """The items the rule for ``tag`` tags wrongly (+) or misses (-)."""
    wanted = normalize_tag(tag)
    slug = wanted.slug if wanted else ""
    for title, texts, labels in items:
        got = any(t.slug == slug for t in rules.topics_for(*texts))
        if got != (slug in labels):
            yield f"  {'+' if got else '-'} {title}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Precision and recall of each topic rule against hand-labelled papers.",
        epilog="labelled: items a person gave the tag; predicted: items the rule tags; hits: both.",
    )
    parser.add_argument("--rules", type=Path, help="a topics.toml to measure (default: bundled)")
    parser.add_argument(
        "--seeds",
        type=Path,
        default=ROOT.parent / "shared" / "seeds",
        help="folder searched for paper-notes tag pages (default: ../shared/seeds)",
    )
    parser.add_argument(
        "--fixture",
        type=Path,
        nargs="+",
        default=[FIXTURES / f"{name}.json" for name in ("labelled", "heldout", "fresh")],
        help="files of labelled titles and abstracts (JSON: title, abstract, topics)",
    )
    parser.add_argument("--errors", metavar="TAG", help="list what the rule for TAG gets wrong")
    args = parser.parse_args(argv)
    console = Console()
    try:
        rules = load_rules(args.rules)
    except PaperbotError as e:
        console.print(f"[red]{e}[/red]", highlight=False)
        return 2
    sets = []
    for path in args.fixture:
        try:
            sets.append((path.stem, fixture_set(path)))
        except (OSError, ValueError, KeyError, TypeError) as e:
            console.print(f"cannot read {path}: {e!r}", highlight=False, markup=False)
            return 2
    if args.seeds.is_dir():
        sets.insert(0, ("notes", notes_set(args.seeds)))
    else:
        console.print(f"no seeds folder at {args.seeds}: the notes set is skipped")
    for name, items in sets:
        console.print(table(name, rules, items))
        if args.errors:
            console.print(f"{name}, {args.errors} wrong (+ tagged, - missed):", highlight=False)
            for line in errors(rules, items, args.errors):
                console.print(line, highlight=False, markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
