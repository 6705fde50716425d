"""Small text helpers shared by the page parsers (notes, paper pages, translated weeklies)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from digests.normalize import ArxivId, clean_text, find_arxiv_ids, normalize_doi, parse_arxiv_id

# Kana, CJK ideographs and half-width katakana: enough to tell a Japanese text from an
# English one (the sources mix both, sometimes in one paragraph).
_JAPANESE_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
# URLs in these pages run straight into Japanese text ("…-QHF:https://…"), so a URL is
# a run of printable ASCII that stops where the next "http(s)://" begins.
_URL_RE = re.compile(r"https?://(?:(?!https?://)[!-~])+")
_HF_PAPER_RE = re.compile(r"huggingface\.co/papers/(\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def decode(data: bytes) -> str:
    """UTF-8 with replacement characters for bad bytes; a leading BOM is dropped.

    The pages are UTF-8 by contract; a BOM is metadata, not content, and would otherwise
    stick to the first heading or tag.
    """
    return data.decode("utf-8-sig", errors="replace")


def has_japanese(text: str) -> bool:
    return _JAPANESE_RE.search(text) is not None


def lang_of(text: str) -> str:
    """``"ja"`` when the text has any Japanese script in it, else ``"en"``."""
    return "ja" if has_japanese(text) else "en"


def find_urls(text: str) -> list[str]:
    """Every http(s) URL in running text, in order, trailing punctuation trimmed."""
    urls: list[str] = []
    for m in _URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:!?'\"*>]}")
        # A closing parenthesis belongs to the URL only when it opened one.
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        if len(url) > len("https://") and _splits(url):
            urls.append(url)
    return urls


def _splits(url: str) -> bool:
    """False for what only looks like a URL (``https://[`` has a broken IPv6 host)."""
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


def arxiv_ids_in(text: str, urls: list[str]) -> list[ArxivId]:
    """arXiv ids named in text: arXiv's own forms plus Hugging Face paper pages."""
    lowered = text.lower()
    # Most comments name no paper; skip the (case-insensitive) id scan for those.
    found = (
        {ref.id: ref for ref in find_arxiv_ids(text)}
        if "arxiv" in lowered or "10.48550" in lowered
        else {}
    )
    for url in urls:
        m = _HF_PAPER_RE.search(url)
        if m:
            ref = parse_arxiv_id(m.group(1))
            if ref is not None and ref.id not in found:
                found[ref.id] = ref
    return list(found.values())


def dois_in(urls: list[str]) -> list[str]:
    """DOIs behind doi.org links (bare DOIs in Japanese text have no reliable end)."""
    seen: dict[str, None] = {}
    for url in urls:
        if "doi.org/" in url.lower():
            doi = normalize_doi(url)
            if doi is not None:
                seen.setdefault(doi, None)
    return list(seen)


def parse_day(text: str) -> datetime | None:
    """The first ``YYYY-MM-DD`` in text as midnight UTC, or None if absent or impossible."""
    m = _DATE_RE.search(text)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
    except ValueError:
        return None


_PROBLEM_MAX = 200


def _one_line(text: str) -> str:
    """Problems go into reports and logs: one short line, however broken the input."""
    text = clean_text(text)
    return text if len(text) <= _PROBLEM_MAX else text[: _PROBLEM_MAX - 1] + "…"


@dataclass
class Report:
    """Collects what a parser skipped, logging each as it happens."""

    logger: logging.Logger
    url: str | None
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        reason = _one_line(reason)
        self.skipped += 1
        self.problems.append(reason)
        self.logger.warning("skipped an entry (%s): %s", self.url or "<no url>", reason)

    def note(self, problem: str) -> None:
        """An oddity that did not cost an entry."""
        problem = _one_line(problem)
        self.problems.append(problem)
        self.logger.warning("%s: %s", self.url or "<no url>", problem)
