"""Canonical identities: arXiv ids, DOIs, URLs, titles and tags, and the paper key chain.

The paper key is the first an entry has of ``arxiv:``, ``doi:``, ``url:`` and ``title:``
(``paper_key``). Everything here is pure; parsers call it at the boundary so that records
leaving a parser are already canonical.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_NEW_ID = r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})"
_OLD_ID = r"(?P<archive>[a-zA-Z][a-zA-Z\-]*)(?:\.[A-Za-z]{2})?/(?P<old>\d{7})"
_VERSION = r"(?:v(?P<version>\d+))?"
_BARE_RE = re.compile(rf"^\s*(?:{_NEW_ID}|{_OLD_ID}){_VERSION}\s*$")
# A bare YYMM.NNNNN also occurs inside journal DOIs, so in running text an id only
# counts behind one of arXiv's own prefixes.
_PREFIXED_RE = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|arXiv:\s?|oai:arXiv\.org:|10\.48550/arXiv\.)"
    rf"(?:{_NEW_ID}|{_OLD_ID}){_VERSION}",
    re.IGNORECASE,
)
_DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)
_ARXIV_DOI_RE = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
_TRACKING_PARAMS = re.compile(r"^(utm_|fbclid$|gclid$|ref$|ref_src$|s$|t$)", re.IGNORECASE)
_TITLE_FOLD_RE = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class ArxivId:
    """A versionless canonical arXiv id and the version it was seen with (None = latest)."""

    id: str
    version: int | None = None

    def __str__(self) -> str:
        return self.id if self.version is None else f"{self.id}v{self.version}"


def _from_match(m: re.Match[str]) -> ArxivId | None:
    version = int(m["version"]) if m["version"] else None
    if m["yymm"]:
        yymm, num = m["yymm"], m["num"]
        month = int(yymm[2:])
        if not 1 <= month <= 12:
            return None
        # 4-digit sequence numbers were used 0704-1412, 5-digit from 1501 on.
        if (len(num) == 4) != (yymm < "1501"):
            return None
        if yymm < "0704":
            return None
        return ArxivId(f"{yymm}.{num}", version)
    return ArxivId(f"{m['archive'].lower()}/{m['old']}", version)


def parse_arxiv_id(text: str) -> ArxivId | None:
    """Read an arXiv id from a bare id (``2403.04224v4``) or any arXiv-prefixed form.

    >>> parse_arxiv_id("math.CA/0611800v2")
    ArxivId(id='math/0611800', version=2)
    """
    m = _BARE_RE.match(text)
    if m:
        return _from_match(m)
    return find_arxiv_id(text)


def find_arxiv_ids(text: str) -> list[ArxivId]:
    """Every arXiv id in running text, in order, deduplicated (prefixed forms only)."""
    seen: dict[str, ArxivId] = {}
    for m in _PREFIXED_RE.finditer(text):
        ref = _from_match(m)
        if ref is not None and ref.id not in seen:
            seen[ref.id] = ref
    return list(seen.values())


def find_arxiv_id(text: str) -> ArxivId | None:
    """The first arXiv id in running text (prefixed forms only), or None."""
    for m in _PREFIXED_RE.finditer(text):
        ref = _from_match(m)
        if ref is not None:
            return ref
    return None


def normalize_doi(text: str) -> str | None:
    """``https://doi.org/10.1/ABC`` -> ``10.1/abc``; None when there is no DOI."""
    m = _DOI_RE.search(text)
    if not m:
        return None
    return m.group(1).rstrip(".,;)]").lower()


def arxiv_id_from_doi(doi: str) -> ArxivId | None:
    """``10.48550/arxiv.2403.04224`` is arXiv's own DOI for ``2403.04224``."""
    m = _ARXIV_DOI_RE.match(doi)
    return parse_arxiv_id(m.group(1)) if m else None


def canonical_url(url: str) -> str:
    """Scheme and host lowercased, ``www.`` and fragment dropped, tracking params removed."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "https://[": not a URL that can be cleaned, but still a key
        return url.strip()
    scheme = (parts.scheme or "https").lower()
    if scheme == "http":
        scheme = "https"
    host = parts.netloc.lower()
    host = host.removeprefix("www.")
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(k)
        ]
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, query, ""))


def arxiv_abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def arxiv_pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


def normalize_title(title: str) -> str:
    """NFKC, casefold, every run of punctuation/whitespace folded to one space."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _TITLE_FOLD_RE.sub(" ", folded).strip()


# C0 controls but tab/newline/return, DEL and lone surrogates: no source text needs them,
# PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded at all.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tab, newline, return kept) or lone surrogates."""
    return _CONTROL_RE.sub("", text)


def has_controls(text: str) -> bool:
    """Whether ``strip_controls`` would change ``text``."""
    return _CONTROL_RE.search(text) is not None


def clean_text(text: str) -> str:
    """Collapse whitespace (line breaks too) and strip.

    ``str.split()`` breaks on exactly the characters ``\\s`` matches in a ``str``
    pattern (both ask ``Py_UNICODE_ISSPACE``), so this is ``re.sub(r"\\s+", " ",
    text).strip()`` at a fifth of the cost; every parser runs it on every field.
    """
    return " ".join(text.split())


def paper_key(*, arxiv_id: str | None, doi: str | None, url: str | None, title: str) -> str:
    """The canonical key of a paper: the first identity in the chain that is present."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        ref = arxiv_id_from_doi(doi)
        if ref is not None:
            return f"arxiv:{ref.id}"
        return f"doi:{doi.lower()}"
    if url:
        ref = find_arxiv_id(url)
        if ref is not None:
            return f"arxiv:{ref.id}"
        return f"url:{canonical_url(url)}"
    digest = hashlib.sha1(normalize_title(title).encode(), usedforsecurity=False).hexdigest()
    return f"title:{digest}"


def title_key(title: str) -> str:
    """The title-only key, used to match a paper seen without ids to one seen with them."""
    digest = hashlib.sha1(normalize_title(title).encode(), usedforsecurity=False).hexdigest()
    return f"title:{digest}"


# A short name leads a title up to its first colon or spaced dash ("GPQA: A Graduate-Level
# …", "LIMA - Less Is More…"); a hyphen inside a word ("Long-Horizon") splits nothing.
_LEAD_END_RE = re.compile(r":|\s[-\u2013\u2014]+\s")
# Names are one to a few words ("GPQA", "Emergent Misalignment"); a longer lead is a
# sentence, which two papers may well share.
LEAD_MAX_WORDS = 4


@functools.lru_cache(maxsize=8192)  # the store asks for each item's lead more than once
def title_lead_key(title: str) -> str | None:
    """The key of the short name a title leads with, or None when it has none.

    ``"GPQA: A Graduate-Level Google-Proof Q&A Benchmark"`` and ``"GPQA"`` both give
    ``title_key("GPQA")``: a curated list's short title finds the full one it leads. A
    title that is itself a short name is its own lead, so its lead key equals its
    ``title_key``; a title whose lead is longer than ``LEAD_MAX_WORDS`` words has none.
    """
    m = _LEAD_END_RE.search(title)
    lead = normalize_title(title[: m.start()] if m else title)
    if not lead or len(lead.split()) > LEAD_MAX_WORDS:
        return None
    return title_key(lead)


@dataclass(frozen=True, slots=True)
class TagName:
    """A tag's display form and the slug it is matched by."""

    slug: str
    display: str


_TAG_TRIM_RE = re.compile(r"^[#＃\s]+|\s+$")
_TAG_SLUG_RE = re.compile(r"[^\w.]+", re.UNICODE)
_APOSTROPHES_RE = re.compile(r"['’`]")


@functools.lru_cache(maxsize=8192)  # the same few labels on every entry of a source
def normalize_tag(label: str) -> TagName | None:
    """``#Supervised-FineTuning (SFT)`` -> slug ``supervised-finetuning-sft``.

    The slug is NFKC + casefold with every run of non-word characters folded to ``-``,
    so ``alignment``, ``#Alignment`` and ``ALIGNMENT`` are one tag. Dots survive so that
    arXiv categories (``cs.CL``) keep their shape. Returns None for an empty label.
    """
    display = clean_text(_TAG_TRIM_RE.sub("", unicodedata.normalize("NFKC", label)))
    if not display:
        return None
    # An apostrophe joins a word rather than splitting it: "Admin'sPick" -> "adminspick".
    slug = _TAG_SLUG_RE.sub("-", _APOSTROPHES_RE.sub("", display.casefold())).strip("-")
    if not slug:
        return None
    return TagName(slug=slug, display=display)
