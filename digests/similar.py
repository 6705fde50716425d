"""Which papers are alike: a paper's text as weighted terms, and how close two papers are.

Pure. A paper becomes a *signature*: its most telling terms, each weighted by tf-idf
(how often the paper uses it, times how rare it is among all papers) and scaled to unit
length, so the similarity of two papers is the dot product of their signatures (cosine).
Terms are English words (stop words out, plurals folded), pairs of adjacent words
("language model") and, for Japanese and Chinese, which have no spaces, pairs of adjacent
characters; a paper's topic tags are terms too. The same signature serves "more like
this" (``like:``) and a channel's interest profile.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "TERMS_KEPT",
    "Signature",
    "cosine",
    "idf",
    "paper_text",
    "signature",
    "term_counts",
]

Signature = dict[str, float]

# How many terms a signature keeps: enough to tell a paper's topic, few enough to index.
TERMS_KEPT = 32
# The longest term kept (the index's column holds 64 characters).
_TERM_MAX = 64
# A tag counts like a word used this many times: a person or a rule chose it.
_TAG_COUNT = 2

_LATIN_RE = re.compile(r"[a-z][a-z0-9\-]*[a-z0-9]|[a-z]")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
# Words every abstract uses: they say nothing about the topic.
_STOP = frozenset(
    """
    a about above across after again against all almost also although always am among an
    and another any are around as at be because been before being below between both but
    by can cannot could did do does doing done down during each either else enough etc
    even ever every few for from further had has have having he her here hers herself him
    himself his how however i if in into is it its itself just least less like made make
    many may me might more most much must my myself neither no nor not now of off often on
    once one only onto or other others our ours ourselves out over own per rather same
    several she should since so some such than that the their theirs them themselves then
    there therefore these they this those though through thus to together too under until
    up upon us use used uses using very via was we well were what whatever when where
    whereas whether which while who whom whose why will with within without would yet you
    your yours yourself
    paper papers propose proposed proposes present presents show shows shown study studies
    approach approaches method methods result results work works new novel based existing
    performance demonstrate demonstrates experiment experiments experimental task tasks
    significantly significant respectively achieve achieves achieved first two three
    large different various recent recently including given provide provides via further
    introduce introduces introduced state-of-the-art sota effective effectively improve
    improves improved improvement improvements address addresses problem problems
    """.split()  # noqa: SIM905
)


def paper_text(
    title: str, title_alt: str | None, abstract: str | None, summaries: Iterable[str] = ()
) -> str:
    """The text a paper's terms are counted in: its titles and abstract, or the sources'
    summaries when it has no abstract. Author names stay out: they say who, not what."""
    body = [abstract] if abstract else list(dict.fromkeys(s for s in summaries if s))
    return "\n".join(p for p in (title, title_alt, *body) if p)


def idf(df: int, n: int) -> float:
    """How telling a term is that ``df`` of ``n`` papers use: rarer is more (smoothed, so a
    term no paper has yet counts as the rarest and one every paper has still counts a bit).
    """
    return math.log((1 + n) / (1 + df)) + 1.0


def _fold(word: str) -> str:
    """A plural and its singular as one term: "models" -> "model", "policies" -> "policy",
    "patches" -> "patch"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ics")):
        return word[:-1]
    return word


def term_counts(text: str, tags: Iterable[str] = ()) -> Counter[str]:
    """The terms of a text and how often each occurs; ``tags`` (slugs) add ``#slug`` terms."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    counts: Counter[str] = Counter()
    for span in re.split(r"[.;:!?()\[\]{}\"，。、；：！？（）「」『』\n]", folded):
        words = [_fold(w) for w in _LATIN_RE.findall(span)]
        kept = [w for w in words if len(w) >= 3 and w not in _STOP and not w.isdigit()]
        counts.update(kept)
        for first, second in itertools.pairwise(words):
            if first in _STOP or second in _STOP or len(first) < 2 or len(second) < 2:
                continue
            counts[f"{first} {second}"] += 1
        for run in _CJK_RE.findall(span):
            if len(run) == 1:
                counts[run] += 1
            counts.update(run[i : i + 2] for i in range(len(run) - 1))
    for tag in tags:
        counts[f"#{tag}"] += _TAG_COUNT
    return Counter({t: c for t, c in counts.items() if len(t) <= _TERM_MAX})


def signature(
    counts: Mapping[str, int], weight: Callable[[str], float], *, keep: int = TERMS_KEPT
) -> Signature:
    """The ``keep`` terms with the most tf-idf (``weight``: a term's idf), scaled so that
    the signature has unit length; ties go to the term that sorts first."""
    scored: list[tuple[float, str]] = []
    for t, c in counts.items():
        w = weight(t) if c > 0 else 0.0
        if w > 0:
            scored.append((-(1.0 + math.log(c)) * w, t))
    top = [(t, -w) for w, t in heapq.nsmallest(keep, scored)]
    norm = math.sqrt(sum(w * w for _, w in top))
    if norm == 0:
        return {}
    return {t: w / norm for t, w in top}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """How alike two signatures are, 0 (nothing shared) to 1 (the same)."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b[t] for t, w in a.items() if t in b)
