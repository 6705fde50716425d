"""A real-shaped week of sources, with the truth about every paper in it.

The week is ISO 2025-W26 (June 23-29, 2025), laid out the way real public sources show
it: an aggregator re-publishing arXiv's cs.CL, cs.LG and cs.AI listings as three RSS
feeds (cross-listed papers in two or three of them, old papers re-listed), a brief feed
whose item titles are one-line summaries and whose text quotes "Announce Type:", a
Chinese digest feed, two Hugging Face Daily Papers archives (this week, and a February
day), and DAIR.AI's weekly list with ten picks: short names, company PDFs, a
title that an older arXiv paper also has, and semicolon-chained blurbs. An arXiv API
answers for every arXiv id, as ``export.arxiv.org/api/query`` would.

``build(seed)`` returns the files (path -> bytes) and a ``Truth`` (what each paper
really is), both the same for the same seed. ``truth.py`` serves and measures them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

WEEK = "2025-W26"
WEEK_START = datetime(2025, 6, 23, tzinfo=UTC)
LISTINGS = ("cs.CL", "cs.LG", "cs.AI")

# What papers are about, with the words their titles and abstracts use. "alignment" is
# aligning language models with people; the false friends use the word for other things.
_TOPICS: dict[str, dict[str, list[str]]] = {
    "alignment": {
        "title": [
            "Direct Preference Optimization under Noisy Human Labels",
            "Reward Model Overoptimization in RLHF at Scale",
            "Aligning Language Models with Sparse Human Feedback",
            "Constitutional Self-Critique for Harmless Assistants",
            "Value Alignment of LLM Agents via Debate",
            "Preference Data Curation for Safer Chat Models",
            "On the Limits of Alignment Tuning for Refusal Behaviour",
            "Steering LLM Alignment with Verifiable Rewards",
        ],
        "says": [
            "We study aligning large language models with human preferences",
            "Reinforcement learning from human feedback (RLHF) remains the default recipe",
            "Our reward model is trained on pairwise preference data",
            "Direct preference optimization (DPO) removes the explicit reward model",
            "The aligned model refuses harmful requests while staying helpful",
        ],
    },
    "word-alignment": {
        "title": [
            "Unsupervised Word Alignment for Low-Resource Machine Translation",
            "Neural Word Alignment with Multilingual Encoders",
            "Revisiting Forced Alignment of Speech and Transcripts with CTC",
        ],
        "says": [
            "Word alignment links source and target tokens in parallel sentences",
            "We align phonemes to audio frames with a CTC-based aligner",
            "Alignment error rate drops on German-English and Romanian-English",
        ],
    },
    "vision-alignment": {
        "title": [
            "Fine-Grained Image-Text Alignment for Dense Captioning",
            "Scale Alignment for Zero-Shot Monocular Depth Estimation",
            "Robust Point Cloud Alignment with Equivariant Features",
            "Feature Alignment for Unsupervised Domain Adaptation in Segmentation",
        ],
        "says": [
            "Image captioning models need region-level alignment between pixels and words",
            "We estimate depth from a single image and align its scale to metric ground truth",
            "Registration aligns two point clouds under rigid motion",
            "Domain alignment of features reduces the gap between synthetic and real images",
        ],
    },
    "agents": {
        "title": [
            "Long-Horizon Web Agents with Compact Memory",
            "Tool-Use Curricula for Small Language Models",
            "Planning with Language Agents in Open-Ended Games",
            "Multi-Agent Debate for Scientific Question Answering",
        ],
        "says": [
            "Language agents call tools and browse the web over many turns",
            "The agent keeps a compact internal state instead of the full history",
            "We evaluate on WebArena and a new suite of long-horizon tasks",
        ],
    },
    "reasoning": {
        "title": [
            "Test-Time Scaling for Mathematical Reasoning",
            "Process Rewards for Chain-of-Thought Verification",
            "Self-Consistency at Scale for Competition Math",
        ],
        "says": [
            "Chain-of-thought reasoning improves accuracy on competition mathematics",
            "A verifier scores each reasoning step",
            "Sampling more solutions at test time trades compute for accuracy",
        ],
    },
    "efficiency": {
        "title": [
            "Four-Bit Quantization without Calibration Data",
            "Sparse Mixture-of-Experts Routing for Faster Inference",
            "KV-Cache Compression for Long-Context Serving",
        ],
        "says": [
            "Serving long contexts is bound by the key-value cache",
            "We quantize weights to four bits with no calibration set",
            "Throughput doubles on a single H100 at equal quality",
        ],
    },
    "vision": {
        "title": [
            "Diffusion Transformers for Egocentric Video Prediction",
            "Masked Autoencoders for Satellite Imagery",
            "Open-Vocabulary Detection with Region Prompts",
        ],
        "says": [
            "We train a diffusion transformer on egocentric video",
            "The detector recognises categories never seen in training",
            "Results improve on COCO and LVIS",
        ],
    },
}
_FILLER = [
    "Experiments cover six benchmarks and three model sizes.",
    "Code and data are released.",
    "Ablations show which component matters most.",
    "The method adds little compute at training time.",
]
_NAMES = [
    "Wei Zhang", "Maria Garcia", "Łukasz Nowak", "Jérémy Dubois", "Priya Raman",
    "Kenji Tanaka", "Sofia Rossi", "Ahmed Hassan", "Emily Chen", "Oliver Smith",
    "Yuki Sato", "Hannah Müller", "Diego Fernández", "Aisha Okafor", "Minh Nguyen",
]  # fmt: skip
_ACRONYM_PARTS = ["Mem", "Rea", "Pro", "Ali", "Vis", "Spa", "Tok", "Gra", "Que", "Dyn"]


@dataclass
class Paper:
    """One real paper of the week, as the truth knows it."""

    arxiv_id: str | None
    title: str
    topic: str
    authors: list[str]
    abstract: str
    announced: datetime  # arXiv's v1 date (or the PDF's date)
    primary: str = "cs.LG"
    cross: list[str] = field(default_factory=list)
    short: str | None = None  # the name a curated list uses, when shorter
    pdf: str | None = None  # the company PDF a curated list links instead of arXiv
    upvotes: int | None = None  # on Hugging Face, when listed there
    pick: int | None = None  # its place in DAIR's list
    blurb: str | None = None  # DAIR's description


@dataclass
class Truth:
    """What the generated sources are about: the measures compare paperbot with this."""

    papers: list[Paper]
    brief_titles: set[str]  # the one-line summaries the brief feed puts as titles
    acronym_paper: str  # the arXiv id whose title leads with ``acronym``
    acronym: str
    trap_title: str  # a company PDF's title that an older arXiv paper also has
    trap_arxiv: str  # that older paper

    def by_id(self) -> dict[str, Paper]:
        return {p.arxiv_id: p for p in self.papers if p.arxiv_id}


def _abstract(rng: random.Random, topic: str) -> str:
    says = rng.sample(_TOPICS[topic]["says"], k=min(3, len(_TOPICS[topic]["says"])))
    return " ".join([*(s + "." for s in says), *rng.sample(_FILLER, k=2)])


def _acronym(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = rng.choice(_ACRONYM_PARTS) + rng.choice(["", "X", "-R1", "Bench", "Agent", "1"])
        name += rng.choice(["", str(rng.randint(2, 9))])
        if name not in taken and len(name) > 3:
            taken.add(name)
            return name


def _papers(rng: random.Random) -> tuple[list[Paper], Truth]:
    papers: list[Paper] = []
    acronyms: set[str] = set()
    serial = iter(range(10_000, 99_999, 37))
    topics = list(_TOPICS)
    weights = [6, 2, 3, 6, 4, 3, 4]
    for i in range(180):
        topic = rng.choices(topics, weights)[0]
        base = rng.choice(_TOPICS[topic]["title"])
        day = WEEK_START + timedelta(days=i % 5, hours=4)
        arxiv_id = f"2506.{next(serial):05d}"
        title = base if rng.random() < 0.5 else f"{_acronym(rng, acronyms)}: {base}"
        if title == base:
            title = f"{base} ({rng.choice(['Revisited', 'at Scale', 'in Practice'])})"
        primary = rng.choice(LISTINGS)
        others = [c for c in LISTINGS if c != primary]
        cross = rng.sample(others, k=rng.choice([0, 0, 1, 2]))
        papers.append(
            Paper(
                arxiv_id=arxiv_id,
                title=title,
                topic=topic,
                authors=rng.sample(_NAMES, k=rng.randint(2, 5)),
                abstract=_abstract(rng, topic),
                announced=day,
                primary=primary,
                cross=cross,
            )
        )
    # Last week's papers that HF and DAIR still talk about this week.
    for _ in range(25):
        topic = rng.choices(topics, weights)[0]
        papers.append(
            Paper(
                arxiv_id=f"2506.{next(serial):05d}",
                title=f"{_acronym(rng, acronyms)}: {rng.choice(_TOPICS[topic]['title'])}",
                topic=topic,
                authors=rng.sample(_NAMES, k=3),
                abstract=_abstract(rng, topic),
                announced=WEEK_START - timedelta(days=rng.randint(3, 12)),
                primary=rng.choice(LISTINGS),
            )
        )
    # Old papers (2022-23) that the aggregator re-lists this week.
    for k in range(12):
        topic = rng.choices(topics, weights)[0]
        year, month = rng.choice([(22, 4), (22, 11), (23, 3), (23, 5), (23, 10)])
        papers.append(
            Paper(
                arxiv_id=f"{year}{month:02d}.{next(serial):05d}",
                title=f"{rng.choice(_TOPICS[topic]['title'])} (Version {k + 2})",
                topic=topic,
                authors=rng.sample(_NAMES, k=3),
                abstract=_abstract(rng, topic),
                announced=datetime(2000 + year, month, 12, tzinfo=UTC),
                primary=rng.choice(LISTINGS),
                cross=[c for c in LISTINGS if rng.random() < 0.5],
            )
        )
    # The acronym search: one paper leads with it, newer ones only mention it.
    acronym = "ProofQA"
    lead = papers[3]
    lead.title = f"{acronym}: A Graduate-Level Proof-Checking Benchmark"
    lead.topic = "reasoning"
    lead.announced = WEEK_START + timedelta(hours=4)
    for p in papers[10:15]:
        p.abstract += f" We also report results on {acronym}."
    # The trap: an older arXiv paper shares a title with this week's company PDF.
    trap_title = "Emergent Misalignment in Narrow Finetuning"
    old = Paper(
        arxiv_id="2502.17424",
        title=trap_title,
        topic="alignment",
        authors=["Jan Betley", "Owain Evans"],
        abstract=_abstract(rng, "alignment"),
        announced=datetime(2025, 2, 24, tzinfo=UTC),
        upvotes=31,
    )
    papers.append(old)
    truth = Truth(
        papers=papers,
        brief_titles=set(),
        acronym_paper=str(lead.arxiv_id),
        acronym=acronym,
        trap_title=trap_title,
        trap_arxiv="2502.17424",
    )
    return papers, truth


def _blurb(rng: random.Random, p: Paper) -> str:
    """DAIR's description: clauses chained with semicolons, no sentence end for long."""
    says = _TOPICS[p.topic]["says"]
    clauses = [
        f"introduces {p.short or p.title.split(':')[0]}, built on the observation that "
        + says[0][0].lower()
        + says[0][1:],
        *(s[0].lower() + s[1:] for s in says[1:]),
        "reports gains across six benchmarks with fewer parameters than prior work",
        "the authors release code, data and an interactive demo for practitioners",
        "an important step toward models that teams can deploy with confidence",
    ]
    text = "; ".join(clauses)
    if rng.random() < 0.3:
        text += " (see https://example.org/blog/post for details)"
    return text + "."


def _picks(rng: random.Random, papers: list[Paper], truth: Truth) -> list[Paper]:
    """Ten picks: arXiv papers (some by short name), a company PDF that leads an arXiv
    paper's title, and the trap."""
    week = [p for p in papers if p.arxiv_id and p.arxiv_id.startswith("2506") and p.upvotes]
    week.sort(key=lambda p: -(p.upvotes or 0))
    chosen = week[1:4] + week[6:9]  # DAIR and HF agree on some, not on the HF top paper
    others = [p for p in papers if p.arxiv_id and p.arxiv_id.startswith("2506") and not p.upvotes]
    chosen += rng.sample(others[:150], k=3)
    for p in chosen[:3]:
        if ":" in p.title:
            p.short = p.title.split(":")[0]
    # A robotics paper none of the listings carries: its short name is all paperbot sees.
    robot = chosen[7]
    robot.title = "RoboMem: Persistent Spatial Memory for Household Robots"
    robot.short, robot.primary, robot.cross, robot.topic = "RoboMem", "cs.RO", [], "agents"
    # A company report whose arXiv version appears in the listings under the full title.
    lead = chosen[-1]
    lead.title = "Lumen-2: Open Models Based on Distilled Research Checkpoints"
    lead.short = "Lumen-2"
    lead.pdf = "https://storage.example-lab.com/lumen/lumen-2-report.pdf"
    trap = Paper(
        arxiv_id=None,
        title=truth.trap_title,
        topic="alignment",
        authors=[],
        abstract="",
        announced=WEEK_START + timedelta(days=2),
        pdf="https://www.example-ai.com/research/emergent-misalignment.pdf",
    )
    papers.append(trap)
    picks = [*chosen[:8], trap, chosen[8]]
    for place, p in enumerate(picks, start=1):
        p.pick = place
        p.blurb = _blurb(rng, p)
    return picks


def _hf_upvotes(rng: random.Random, papers: list[Paper]) -> None:
    """A busy HF week: a long tail with a few stand-outs (148, 54, 48 at the top)."""
    pool = [p for p in papers if p.arxiv_id and p.arxiv_id.startswith("2506")]
    listed = rng.sample(pool, k=60)
    tail = [148, 54, 48, 37, 29, 25, 22, 19, 17, 15, 13, 12, 11, 10, 9, 8, 8, 7, 6, 6]
    tail += [rng.randint(0, 5) for _ in range(len(listed) - len(tail))]
    for p, up in zip(listed, tail, strict=True):
        p.upvotes = up


# --- the documents -------------------------------------------------------------------


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _aggregator(papers: list[Paper], listing: str, rng: random.Random) -> bytes:
    """One re-published arXiv listing: arXiv's own titles and texts, on another host."""
    items = []
    for p in papers:
        if not p.arxiv_id:
            continue
        old = not p.arxiv_id.startswith("25")
        if old:
            if listing not in [p.primary, *p.cross]:
                continue
            kind, at = "replace", WEEK_START + timedelta(days=rng.randint(0, 4), hours=6)
        elif p.announced < WEEK_START:
            continue
        elif listing == p.primary:
            kind, at = "new", p.announced
        elif listing in p.cross:
            kind, at = "cross", p.announced
        else:
            continue
        items.append(
            f"<item><title>{escape(p.title)}</title>"
            f"<link>https://arxiv.org/abs/{p.arxiv_id}</link>"
            f"<description>{escape(f'arXiv:{p.arxiv_id}v1 Announce Type: {kind} ')}"
            f"{escape('Abstract: ' + p.abstract)}</description>"
            f"<guid isPermaLink='false'>agg:{listing}:{p.arxiv_id}</guid>"
            f"<pubDate>{_rfc822(at)}</pubDate></item>"
        )
    return _rss(f"Paper Radar: {listing}", "https://paper-radar.example.net/", items)


def _briefs(papers: list[Paper], truth: Truth, rng: random.Random) -> bytes:
    """A brief feed: one-line summaries as titles, arXiv's text quoted below."""
    items = []
    chosen = [p for p in papers if p.arxiv_id and p.arxiv_id.startswith("2506")][::4]
    for p in chosen:
        says = _TOPICS[p.topic]["says"][0].split(" ", 2)[-1]
        brief = f"New work: {says} ({rng.randint(2, 40)}% better)"
        truth.brief_titles.add(brief)
        items.append(
            f"<item><title>{escape(brief)}</title>"
            f"<link>https://arxiv.org/abs/{p.arxiv_id}</link>"
            f"<description>{escape(f'arXiv:{p.arxiv_id}v1 Announce Type: new Abstract: ')}"
            f"{escape(p.abstract)}</description>"
            f"<pubDate>{_rfc822(max(p.announced, WEEK_START) + timedelta(hours=9))}</pubDate>"
            "</item>"
        )
    return _rss("Morning Paper Briefs", "https://briefs.example.com/", items)


_ZH = [
    "本文提出了一种新的方法，在多个基准上取得了显著提升。",
    "作者研究了大语言模型的对齐问题，并发布了代码和数据。",
    "该工作改进了推理效率，同时保持了生成质量。",
]


def _chinese(papers: list[Paper], rng: random.Random) -> bytes:
    """A Chinese digest feed: the paper's title, a Chinese summary, the arXiv link."""
    items = []
    for p in [p for p in papers if p.upvotes and p.upvotes >= 10]:
        items.append(
            f"<item><title>{escape(p.title)}</title>"
            f"<link>https://arxiv.org/abs/{p.arxiv_id}</link>"
            f"<description>{escape(rng.choice(_ZH))}</description>"
            f"<pubDate>{_rfc822(max(p.announced, WEEK_START) + timedelta(days=1))}</pubDate>"
            "</item>"
        )
    return _rss("每日论文速递", "https://zh-papers.example.cn/", items)


def _rss(title: str, link: str, items: list[str]) -> bytes:
    body = "".join(items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{link}</link><description>{escape(title)}"
        f"</description>{body}</channel></rss>"
    ).encode()


def _hf(papers: list[Paper], days: list[datetime]) -> bytes:
    items = []
    for i, p in enumerate(papers):
        day = days[i % len(days)]
        items.append(
            {
                "paper": {
                    "id": p.arxiv_id,
                    "authors": [{"name": a, "hidden": False} for a in p.authors],
                    "publishedAt": p.announced.isoformat().replace("+00:00", ".000Z"),
                    "submittedOnDailyAt": day.isoformat().replace("+00:00", ".000Z"),
                    "title": p.title,
                    "summary": p.abstract,
                    "upvotes": p.upvotes,
                    "ai_summary": p.abstract.split(". ")[0] + ".",
                },
                "publishedAt": day.isoformat().replace("+00:00", ".000Z"),
                "title": p.title,
                "numComments": 1,
            }
        )
    return json.dumps(items, ensure_ascii=False, indent=1).encode()


def _dair(picks: list[Paper]) -> bytes:
    rows = []
    for p in picks:
        name = p.short or p.title
        link = p.pdf or f"https://arxiv.org/abs/{p.arxiv_id}"
        rows.append(
            f"| {p.pick}) {name}  {p.blurb}  <br>● A further point about the results. | "
            f"[Paper]({link}), [Tweet](https://x.com/dair_ai/status/19{p.pick:02d}0001) |"
        )
    head = (
        "## Top ML Papers of the Week (June 23 - June 29) - 2025\n"
        "| **Paper**  | **Links** | \n| ------------- | ------------- |\n"
    )
    return (head + "\n".join(rows) + "\n").encode()


def api_response(papers_by_id: dict[str, Paper], ids: list[str]) -> bytes:
    """What arXiv's API answers for ``id_list``: an entry per known id."""
    entries = []
    for arxiv_id in ids:
        p = papers_by_id.get(arxiv_id)
        if p is None:
            continue
        cats = [p.primary, *p.cross]
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in p.authors)
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id>"
            f"<updated>{p.announced.isoformat()}</updated>"
            f"<published>{p.announced.isoformat()}</published>"
            f"<title>{escape(p.title)}</title><summary>{escape(p.abstract)}</summary>"
            f"{authors}"
            f'<link href="http://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v1" rel="related"/>'
            f'<arxiv:primary_category term="{p.primary}"/>'
            + "".join(f'<category term="{c}"/>' for c in cats)
            + "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<id>https://arxiv.org/api/query</id><title>arXiv Query: id_list</title>"
        f"<updated>{WEEK_START.isoformat()}</updated>"
        f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
        + "".join(entries)
        + "</feed>"
    ).encode()


def build(seed: int = 26) -> tuple[dict[str, bytes], Truth]:
    """The week's documents by path, and the truth about them."""
    rng = random.Random(seed)
    papers, truth = _papers(rng)
    _hf_upvotes(rng, papers)
    picks = _picks(rng, papers, truth)
    week_days = [WEEK_START + timedelta(days=d) for d in range(5)]
    hf_week = [p for p in papers if p.upvotes is not None and p.arxiv_id != truth.trap_arxiv]
    trap_old = truth.by_id()[truth.trap_arxiv]
    files = {f"radar/{c}.rss": _aggregator(papers, c, rng) for c in LISTINGS}
    files["briefs.rss"] = _briefs(papers, truth, rng)
    files["zh.rss"] = _chinese(papers, rng)
    files["hf/2025-06-week.json"] = _hf(hf_week, week_days)
    files["hf/2025-02-25.json"] = _hf([trap_old], [datetime(2025, 2, 25, tzinfo=UTC)])
    files["dair/README.md"] = _dair(picks)
    return files, truth
