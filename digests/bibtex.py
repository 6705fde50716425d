"""Papers as BibTeX entries: the export of saved papers, in Slack and on the command line.

bibtexparser writes the entries and pylatexenc escapes titles and names for LaTeX (``&``,
``%``, ``_``, accents …), so a file pasted into a paper's .bib compiles. arXiv papers are
``@misc`` with ``eprint`` / ``archivePrefix`` as arXiv's own export has them; every entry
gets a citation key of the usual ``vaswani2017attention`` form, unique within the export.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bibtexparser.entrypoint import write_string
from bibtexparser.library import Library
from bibtexparser.model import Entry, Field
from pylatexenc.latexencode import UnicodeToLatexEncoder

from digests.model import CitedPaper

# Title words that make a poor key: "towards" in "Towards Monosemanticity" says nothing.
_SKIP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "on",
        "of",
        "in",
        "for",
        "to",
        "and",
        "with",
        "is",
        "are",
        "towards",
        "toward",
        "via",
        "from",
        "by",
        "at",
        "do",
        "does",
    ]
)
_WORD_RE = re.compile(r"[a-z0-9]+")
_URL_UNSAFE = str.maketrans({"{": "%7B", "}": "%7D", " ": "%20", "\\": "%5C"})

# Characters without a LaTeX form (CJK) are kept as they are: XeLaTeX and biber read them.
_ENCODER = UnicodeToLatexEncoder(unknown_char_policy="keep", unknown_char_warning=False)


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _WORD_RE.findall(folded)


def citation_key(paper: CitedPaper) -> str:
    """``surname + year + first telling title word``: ``vaswani2017attention``."""
    surname = ""
    if paper.authors:
        words = _ascii_words(paper.authors[0].split(",")[0] if "," in paper.authors[0] else "")
        words = words or _ascii_words(paper.authors[0])
        surname = words[-1] if words else ""
    title_words = [w for w in _ascii_words(paper.title) if w not in _SKIP_WORDS]
    word = title_words[0] if title_words else ""
    key = f"{surname}{paper.announced_at.year}{word}"
    return key if surname or word else f"paper{paper.paper_id}"


def _unique_keys(papers: Sequence[CitedPaper]) -> list[str]:
    """Keys in order; a repeated one gets a, b, c … as bibliography managers do."""
    keys: list[str] = []
    taken: set[str] = set()
    for paper in papers:
        base = citation_key(paper)
        key, n = base, 0
        while key in taken:
            key = f"{base}{_suffix(n)}"
            n += 1
        taken.add(key)
        keys.append(key)
    return keys


def _suffix(n: int) -> str:
    letters = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(ord("a") + r) + letters
    return letters


def _latex(text: str) -> str:
    return str(_ENCODER.unicode_to_latex(" ".join(text.split())))


def _entry(paper: CitedPaper, key: str) -> Entry:
    fields = [
        Field("title", _latex(paper.title)),
        Field("author", " and ".join(_latex(a) for a in paper.authors if a.strip())),
        Field("year", str(paper.announced_at.year)),
    ]
    if paper.arxiv_id:
        fields += [Field("eprint", paper.arxiv_id), Field("archivePrefix", "arXiv")]
        # One category is surely the primary; of several, the store does not know which.
        if len(paper.categories) == 1:
            fields.append(Field("primaryClass", paper.categories[0]))
    if paper.doi:
        fields.append(Field("doi", paper.doi.translate(_URL_UNSAFE)))
    if paper.url:
        fields.append(Field("url", paper.url.translate(_URL_UNSAFE)))
    return Entry("misc", key, [f for f in fields if f.value])


def bibtex_entries(papers: Sequence[CitedPaper]) -> list[str]:
    """One BibTeX entry per paper, in order, each a complete text ending in a newline."""
    out = []
    for paper, key in zip(papers, _unique_keys(papers), strict=True):
        library = Library()
        library.add(_entry(paper, key))
        out.append(write_string(library))
    return out


def bibtex(papers: Sequence[CitedPaper]) -> str:
    """A .bib file of the papers."""
    return "\n".join(bibtex_entries(papers))
