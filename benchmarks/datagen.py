"""Synthetic, deterministic benchmark data: papers, feeds, digest pages and bulk rows.

Every generator takes a seed and gives the same bytes for the same arguments. Papers get
English titles and abstracts, a share of them Japanese translated titles and summaries,
tags drawn from a long-tailed (Zipf-like) distribution, and arXiv ids that several
documents share, so a share of papers has several sources.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

_EN_WORDS = [
    "language",
    "model",
    "alignment",
    "reward",
    "preference",
    "policy",
    "agent",
    "tool",
    "retrieval",
    "augmented",
    "generation",
    "reasoning",
    "chain",
    "thought",
    "instruction",
    "tuning",
    "fine-tuning",
    "distillation",
    "quantization",
    "sparse",
    "mixture",
    "experts",
    "attention",
    "transformer",
    "state",
    "space",
    "long",
    "context",
    "benchmark",
    "evaluation",
    "hallucination",
    "factuality",
    "safety",
    "red",
    "teaming",
    "jailbreak",
    "robustness",
    "multilingual",
    "Japanese",
    "translation",
    "speech",
    "vision",
    "image",
    "video",
    "diffusion",
    "multimodal",
    "embedding",
    "contrastive",
    "self-supervised",
    "pretraining",
    "scaling",
    "law",
    "compute",
    "efficient",
    "inference",
    "decoding",
    "speculative",
    "caching",
    "memory",
    "planning",
    "search",
    "tree",
    "graph",
    "neural",
    "optimization",
    "gradient",
    "stochastic",
    "convergence",
    "theory",
    "kernel",
    "bayesian",
    "uncertainty",
    "calibration",
    "dataset",
    "synthetic",
    "data",
    "curation",
    "human",
    "feedback",
    "constitutional",
    "critique",
]
_EN_TITLE_HEADS = (
    "Towards",
    "On",
    "Rethinking",
    "Scaling",
    "Learning",
    "Understanding",
    "Efficient",
    "Robust",
    "A Survey of",
    "Beyond",
)
_JA_WORDS = [
    "大規模言語モデル",
    "アラインメント",
    "強化学習",
    "報酬モデル",
    "選好",
    "推論",
    "思考の連鎖",
    "指示チューニング",
    "蒸留",
    "量子化",
    "注意機構",
    "長文脈",
    "評価",
    "ハルシネーション",
    "安全性",
    "多言語",
    "日本語",
    "翻訳",
    "音声",
    "画像",
    "動画",
    "拡散モデル",
    "マルチモーダル",
    "埋め込み",
    "事前学習",
    "スケーリング則",
    "効率的",
    "推論高速化",
    "記憶",
    "計画",
    "探索",
    "グラフ",
    "最適化",
    "不確実性",
    "データセット",
    "合成データ",
    "人間のフィードバック",
]
_JA_GLUE = ("における", "のための", "を用いた", "に関する", "による", "と")
_JA_SENT_ENDS = (
    "を提案する。",
    "を示した。",
    "が向上することを確認した。",
    "について分析した。",
    "を明らかにした。",
)
_FIRST = [
    "Aiko",
    "Kenji",
    "Mira",
    "Tomas",
    "Ravi",
    "Lena",
    "Yuki",
    "Hiro",
    "Sara",
    "Omar",
    "Chen",
    "Wei",
    "Ana",
    "Ivan",
    "Nora",
]
_LAST = [
    "Sato",
    "Suzuki",
    "Tanaka",
    "Example",
    "Sample",
    "Demo",
    "Fictive",
    "Garcia",
    "Smith",
    "Kim",
    "Li",
    "Wang",
    "Rossi",
]
_CATS = ("cs.CL", "cs.LG", "cs.AI", "cs.CV", "stat.ML", "cs.IR", "cs.RO", "cs.SD")
_HEAD_TAGS = (
    "LanguageModel",
    "NLP",
    "Alignment",
    "Reasoning",
    "Evaluation",
    "Dataset",
    "Agent",
    "Efficiency",
    "MultiModal",
    "Japanese",
    "RLHF",
    "Safety",
    "Retrieval",
    "Pretraining",
    "Survey",
)


def tag_names(n: int = 3000) -> list[str]:
    """Tag labels, most common first: a few well-known ones, then a long synthetic tail."""
    tail = [f"Topic{i:04d}" for i in range(n - len(_HEAD_TAGS))]
    return [*_HEAD_TAGS, *tail]


class ZipfTags:
    """Draws tags with probability proportional to 1 / rank**s (a long tail)."""

    def __init__(self, n: int = 3000, s: float = 1.1) -> None:
        self.names = tag_names(n)
        weights = [1.0 / (rank**s) for rank in range(1, n + 1)]
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def index(self, rng: random.Random) -> int:
        return bisect.bisect_left(self.cumulative, rng.random() * self.total)

    def draw(self, rng: random.Random, k: int) -> list[str]:
        seen: dict[int, None] = {}
        for _ in range(k * 3):
            seen.setdefault(self.index(rng), None)
            if len(seen) >= k:
                break
        return [self.names[i] for i in seen]


@dataclass(frozen=True, slots=True)
class Paper:
    number: int
    arxiv_id: str
    version: int
    title: str
    title_ja: str | None
    abstract: str
    summary_ja: str | None
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    tags: tuple[str, ...]


def arxiv_id(number: int) -> str:
    """A valid new-style id: months 01-12 of 2023-2026, five-digit serials."""
    month = number // 90_000
    year, mon = 23 + month // 12, month % 12 + 1
    return f"{year:02d}{mon:02d}.{number % 90_000 + 1:05d}"


def _en_sentence(rng: random.Random, n: int) -> str:
    words = rng.choices(_EN_WORDS, k=n)
    return (" ".join(words)).capitalize() + "."


def _ja_phrase(rng: random.Random, n: int) -> str:
    words = rng.choices(_JA_WORDS, k=n)
    out = words[0]
    for w in words[1:]:
        out += rng.choice(_JA_GLUE) + w
    return out


def paper(
    number: int, *, seed: int = 1, tags: ZipfTags | None = None, ja_share: float = 0.3
) -> Paper:
    """The paper with this number: the same number always gives the same paper."""
    rng = random.Random(seed * 1_000_003 + number)
    head = rng.choice(_EN_TITLE_HEADS)
    words = " ".join(w.capitalize() for w in rng.choices(_EN_WORDS, k=rng.randint(3, 7)))
    title = f"{head} {words} ({number})"
    abstract = " ".join(_en_sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 6)))
    japanese = rng.random() < ja_share
    title_ja = _ja_phrase(rng, rng.randint(2, 4)) + f"（{number}）" if japanese else None
    summary_ja = (
        "".join(_ja_phrase(rng, 3) + rng.choice(_JA_SENT_ENDS) for _ in range(rng.randint(2, 4)))
        if japanese
        else None
    )
    authors = tuple(f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(rng.randint(1, 8)))
    cats = tuple(dict.fromkeys(rng.choices(_CATS, k=rng.randint(1, 3))))
    drawn = (tags or _default_tags()).draw(rng, rng.randint(1, 5))
    return Paper(
        number=number,
        arxiv_id=arxiv_id(number),
        version=rng.randint(1, 3),
        title=title,
        title_ja=title_ja,
        abstract=abstract,
        summary_ja=summary_ja,
        authors=authors,
        categories=cats,
        tags=tuple(drawn),
    )


@functools.cache
def _default_tags() -> ZipfTags:
    return ZipfTags()


# -- documents ---------------------------------------------------------------------------


def arxiv_listing(
    numbers: range | list[int], *, seed: int = 1, day: datetime | None = None
) -> bytes:
    """An arXiv listing in rss.arxiv.org's Atom shape, one entry per paper number."""
    day = day or datetime(2024, 10, 4, 4, tzinfo=UTC)
    stamp = day.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00")
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en-us">\n'
        "  <id>http://rss.arxiv.org/atom/cs.CL</id>\n"
        "  <title>cs.CL updates on arXiv.org</title>\n"
        f"  <updated>{stamp}</updated>\n"
        '  <link href="http://rss.arxiv.org/atom/cs.CL" rel="self" type="application/atom+xml"/>\n'
    ]
    for n in numbers:
        p = paper(n, seed=seed)
        rng = random.Random(n)
        announce = rng.choices(("new", "cross", "replace", "replace-cross"), (70, 15, 12, 3))[0]
        cats = "".join(f'    <category term="{c}"/>\n' for c in p.categories)
        out.append(
            "  <entry>\n"
            f"    <id>oai:arXiv.org:{p.arxiv_id}v{p.version}</id>\n"
            f"    <title>{escape(p.title)}</title>\n"
            f"    <updated>{stamp}</updated>\n"
            f'    <link href="https://arxiv.org/abs/{p.arxiv_id}" rel="alternate"'
            ' type="text/html"/>\n'
            f"    <summary>arXiv:{p.arxiv_id}v{p.version} Announce Type: {announce}\n"
            f"Abstract: {escape(p.abstract)}</summary>\n"
            f"{cats}"
            f"    <arxiv:announce_type>{announce}</arxiv:announce_type>\n"
            f"    <dc:creator>{escape(', '.join(p.authors))}</dc:creator>\n"
            "  </entry>\n"
        )
    out.append("</feed>\n")
    return "".join(out).encode()


def small_rss(numbers: list[int], *, seed: int = 1, name: str = "lab") -> bytes:
    """A small RSS 2.0 feed (a lab blog) linking to arXiv papers."""
    items = []
    for n in numbers:
        p = paper(n, seed=seed)
        items.append(
            "<item>"
            f"<title>{escape(p.title)}</title>"
            f"<link>https://arxiv.org/abs/{p.arxiv_id}</link>"
            f"<guid>{name}-{n}</guid>"
            f"<description>{escape(p.abstract[:300])}</description>"
            "<pubDate>Fri, 04 Oct 2024 04:00:00 GMT</pubDate>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://example.org/{name}</link>"
        f"<description>{name}</description>{''.join(items)}</channel></rss>"
    ).encode()


def weekly_md(numbers: list[int], *, seed: int = 1, start: datetime | None = None) -> bytes:
    """An "ML Papers of the Week" README: sections of ten rows, newest week first."""
    start = start or datetime(2024, 9, 30, tzinfo=UTC)
    weeks = [numbers[i : i + 10] for i in range(0, len(numbers), 10)]
    out = ["# **ML Papers of The Week**\n\nSynthetic benchmark page.\n\n"]
    for w, chunk in enumerate(weeks):
        first = start - timedelta(weeks=w)
        last = first + timedelta(days=6)
        out.append(
            f"## Top ML Papers of the Week ({first:%B} {first.day} - {last:%B} {last.day})"
            f" - {last.year}\n| **Paper**  | **Links** |\n| ------------- | ------------- |\n"
        )
        for i, n in enumerate(chunk, start=1):
            p = paper(n, seed=seed)
            short = " ".join(p.title.split()[:4])
            summary = p.abstract.split(". ")[0].lower()
            out.append(
                f"| {i}) **{short}** - {summary}. | "
                f"[Paper](https://arxiv.org/abs/{p.arxiv_id}), "
                f"[Tweet](https://x.com/example/status/{n}) |\n"
            )
        out.append("\n")
    return "".join(out).encode()


def notes_html(numbers: list[int], *, seed: int = 1, page_tag: str = "Alignment") -> bytes:
    """A paper-notes tag page: three visible entries, the rest in hidden-content."""
    out = [
        "---\nlayout: post\ntitle: 論文メモの一覧\n---\n"
        f'## {page_tag}\n<div class="visible-content">\n'
    ]
    for i, n in enumerate(numbers):
        if i == 3:
            out.append('</div>\n<div class="hidden-content">\n')
        p = paper(n, seed=seed)
        buttons = "".join(f'<a class="button" href="articles/{t}.html">#{t}</a>' for t in p.tags)
        day = datetime(2024, 10, 4, tzinfo=UTC) - timedelta(days=i % 365)
        authors = p.authors[0] + "+"
        summary = p.summary_ja or p.abstract
        out.append(
            f'{buttons}<br><span class="issue_date">Issue Date: {day:%Y-%m-%d}</span>\n'
            f'<a href="https://github.com/example/paper_notes/issues/{n}">'
            f"{escape(p.title)}, {escape(authors)}, arXiv24</a>\n"
            f'<span class="snippet"><span>Summary</span>{escape(summary)}</span>\n'
            f'<span class="snippet"><span>Comment</span>元論文: '
            f"https://arxiv.org/abs/{p.arxiv_id} 興味深い。</span>\n"
        )
    out.append("</div>\n")
    return "".join(out).encode()


def iter_numbers(total: int, *, start: int = 0) -> Iterator[int]:
    return iter(range(start, start + total))
