"""How a paper's parts read in a digest or a lookup: authors, tags, reasons, links."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from digests.model import DigestItem, Links
from digests.render.slack import (
    LINK_URL_MAX,
    _clean,
    _fit,
    _join_capped,
    _label,
    _link,
    _safe_url,
)

_AUTHORS_MAX = 200
_TAGS_MAX = 300
_LINKS_MAX = 1200  # one link of LINK_URL_MAX and its label always fits
_OTHER_LINKS_MAX = 3

_PARTICLES = frozenset(
    "van von de der den del della da di du dos das la le ten ter bin ibn al el".split()  # noqa: SIM905
)
_SUFFIXES = frozenset("jr jr. sr sr. ii iii iv phd ph.d.".split())  # noqa: SIM905
_INITIALS_RE = re.compile(r"(?:[A-Z]\.?-?){1,3}")
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_ET_AL_RE = re.compile(r"(?:^|\s)(?:et\.?\s*al\.?|and others|others|ほか|他)$", re.IGNORECASE)
_AUTHOR_NAME_MAX = 40


def _surname(name: str) -> str:
    """The family name to show: "Bill Yuchen Lin" -> "Lin", "Lin, Bill" -> "Lin"."""
    if "," in name:
        head, tail = (p.strip() for p in name.split(",", 1))
        if tail.lower() not in _SUFFIXES and head:
            return head  # "Surname, Given"
        name = head or tail
    tokens = name.split(" ")
    if len(tokens) == 1:
        return name  # a single name, or CJK written without a space: shown whole
    if _CJK_RE.search(name):
        return tokens[0]  # CJK names with a space are family-name first
    while len(tokens) > 1 and tokens[-1].lower() in _SUFFIXES:
        tokens.pop()
    if (
        len(tokens) > 1
        and _INITIALS_RE.fullmatch(tokens[-1])
        and not _INITIALS_RE.fullmatch(tokens[0])
    ):
        return tokens[0]  # "Lin BY": surname then initials
    first = len(tokens) - 1
    while first > 1 and tokens[first - 1].lower() in _PARTICLES:
        first -= 1
    return " ".join(tokens[first:])


def format_authors(authors: Sequence[str], *, shown: int = 2) -> str:
    """Surnames of the first ``shown`` authors: "Lin, Ravichander, … +4" (plain, unescaped).

    "Lin+" and "et al." entries (lists that name only the first author) give "Lin et al.".
    """
    names: list[str] = []
    unknown_more = False
    for raw in authors:
        name = _clean(raw)
        if name.endswith("+"):
            name = name.rstrip("+ ")
            unknown_more = True
        match = _ET_AL_RE.search(name)
        if match:
            name = name[: match.start()].strip(" ,")
            unknown_more = True
        if name:
            names.append(name)
    if not names:
        return ""
    surnames = [_fit(_surname(n), _AUTHOR_NAME_MAX, escape=False) for n in names[:shown]]
    text = ", ".join(surnames)
    extra = len(names) - len(surnames)
    if unknown_more:
        return f"{text} et al."
    if extra > 0:
        return f"{text}, … +{extra}"
    return text


def _tag_words(tags: Iterable[str], max_tags: int | None = None) -> list[str]:
    """Tags as "#Tag" words (plain text, not links), unescaped."""
    shown: list[str] = []
    for tag in tags:
        # A space would end the hashtag when read; "-" keeps "Chain of Thought" one tag.
        name = _clean(tag).lstrip("#").strip().replace(" ", "-")
        if name:
            shown.append("#" + (name if max_tags is None else _fit(name, 40, escape=False)))
        if max_tags is not None and len(shown) >= max_tags:
            break
    return shown


def _hashtags(tags: Iterable[str], limit: int, max_tags: int) -> str:
    return _fit(" ".join(_tag_words(tags, max_tags)), limit, escape=True)


def _reasons(item: DigestItem, limit: int) -> str:
    """The reasons joined, escaped: "3 sources · 212 upvotes · ML Papers of the Week #3"."""
    labels = [c for c in (_clean(r.label) for r in item.reasons) if c]
    return _fit(" · ".join(labels), limit, escape=True)


def _extra_links(
    links: Links, title_url: str | None, *, max_len: int | None = LINK_URL_MAX
) -> list[tuple[str, str]]:
    """(label, safe URL) for the links beside the title link, deduplicated."""
    seen = {_safe_url(title_url, max_len=None)}
    out: list[tuple[str, str]] = []
    candidates: list[tuple[str, str | None]] = [
        ("Abstract", links.abs),
        ("PDF", links.pdf),
        ("Code", links.code),
    ]
    for other in links.other[:_OTHER_LINKS_MAX]:
        host = ""
        try:
            host = urlsplit(other).hostname or ""
        except ValueError:
            host = ""
        candidates.append((_clean(host) or "Link", other))
    for label, url in candidates:
        safe = _safe_url(url, max_len=max_len)
        if safe and safe not in seen:
            seen.add(safe)
            out.append((label, safe))
    return out


def _links_mrkdwn(links: Links, title_url: str | None, limit: int = _LINKS_MAX) -> str:
    parts = [
        f"<{url}|{_fit(_label(label), 60, escape=True)}>"
        for label, url in _extra_links(links, title_url)
    ]
    # Whole links only: a cut URL would be a broken link.
    return _join_capped(parts, " · ", limit, escape=False)


def _title_mrkdwn(number: int, title: str, url: str | None, title_max: int) -> str:
    """``*1. <url|Title>*`` with the title escaped and its ``|`` replaced."""
    return f"*{number}. {_link(url, _clean(title) or '(untitled)', title_max)}*"
