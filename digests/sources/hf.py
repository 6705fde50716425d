"""Hugging Face Daily Papers parser: the JSON list that ``/api/daily_papers`` returns.

Upvotes are a snapshot of this poll. ``ai_keywords`` is dropped on purpose: machine-made
phrases would swamp the curated tags (``ai_summary`` is kept).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from digests.errors import ParseError
from digests.model import Entry, Links, ParseContext, ParsedDocument, Signals, SourceKind
from digests.normalize import arxiv_abs_url, arxiv_pdf_url, clean_text, parse_arxiv_id

logger = logging.getLogger(__name__)

_KIND = SourceKind.HF_DAILY
_PAPER_PAGE = "https://huggingface.co/papers/{}"

# A decoded JSON object, as far as this module lets it travel.
_Json = Mapping[str, Any]


class _SkipItem(Exception):
    """One item cannot be read; the reason goes to the report."""


def parse_hf_daily(data: bytes, ctx: ParseContext) -> ParsedDocument:
    """A Daily Papers JSON list; unreadable items are skipped and counted.

    ``published`` is when the paper was put on the daily list (``submittedOnDailyAt``),
    else the item's or the paper's ``publishedAt``.
    """
    items = _load(data, ctx)
    entries: list[Entry] = []
    problems: list[str] = []
    for index, item in enumerate(items, start=1):
        try:
            entries.append(_entry(item))
        except _SkipItem as e:
            reason = f"item {index} skipped: {e}"
            logger.warning("%s: %s", ctx.url or "<no url>", reason)
            problems.append(reason)
    if items and not entries:
        raise ParseError(
            f"none of the {len(items)} items could be read; {problems[0]}",
            url=ctx.url,
            kind=_KIND.value,
        )
    return ParsedDocument(
        kind=_KIND, entries=tuple(entries), skipped=len(problems), problems=tuple(problems)
    )


def _load(data: bytes, ctx: ParseContext) -> list[object]:
    if not data.strip():
        raise ParseError(
            "expected Hugging Face Daily Papers JSON, got an empty document",
            url=ctx.url,
            kind=_KIND.value,
        )
    try:
        decoded: object = json.loads(data)
    # RecursionError: deeply nested arrays are valid JSON that the decoder cannot finish.
    except (ValueError, RecursionError) as e:
        start = data[:200].lstrip().lower()
        got = "an HTML page" if start.startswith((b"<!doctype html", b"<html")) else "not JSON"
        raise ParseError(
            f"expected Hugging Face Daily Papers JSON, got {got}: {e}",
            url=ctx.url,
            kind=_KIND.value,
        ) from e
    if isinstance(decoded, dict):
        # The API answers errors with {"error": "..."}.
        message = decoded.get("error")
        detail = f": {message}" if isinstance(message, str) else f" with keys {sorted(decoded)[:5]}"
        raise ParseError(
            f"expected a JSON list of daily papers, got an object{detail}",
            url=ctx.url,
            kind=_KIND.value,
        )
    if not isinstance(decoded, list):
        raise ParseError(
            f"expected a JSON list of daily papers, got {type(decoded).__name__}",
            url=ctx.url,
            kind=_KIND.value,
        )
    return decoded


def _entry(item: object) -> Entry:
    if not isinstance(item, Mapping):
        raise _SkipItem(f"expected an object, got {type(item).__name__}")
    paper = item.get("paper")
    if not isinstance(paper, Mapping):
        raise _SkipItem("no 'paper' object")
    paper_id = _str(paper, "id")
    title = _str(paper, "title") or _str(item, "title")
    if not title:
        raise _SkipItem(f"paper {paper_id or '?'} has no title")
    ref = parse_arxiv_id(paper_id) if paper_id else None
    github = _str(item, "githubRepo") or _str(paper, "githubRepo")
    project = _str(item, "projectPage") or _str(paper, "projectPage")
    return Entry(
        title=title,
        arxiv_id=ref.id if ref else None,
        arxiv_version=ref.version if ref else None,
        url=_PAPER_PAGE.format(paper_id) if paper_id else None,
        authors=_authors(paper),
        abstract=_str(paper, "summary") or _str(item, "summary"),
        ai_summary=_str(paper, "ai_summary"),
        links=Links(
            abs=arxiv_abs_url(ref.id) if ref else None,
            pdf=arxiv_pdf_url(ref.id) if ref else None,
            code=github if github and github.startswith(("https://", "http://")) else None,
            other=(project,) if project and project.startswith(("https://", "http://")) else (),
        ),
        published=(
            _date(paper.get("submittedOnDailyAt"))
            or _date(item.get("publishedAt"))
            or _date(paper.get("publishedAt"))
        ),
        signals=Signals(upvotes=_int(paper.get("upvotes")), comments=_int(item.get("numComments"))),
        source_item_id=paper_id,
    )


def _str(obj: _Json, key: str) -> str | None:
    value = obj.get(key)
    if not isinstance(value, str):
        return None
    return clean_text(value) or None


def _int(value: object) -> int | None:
    # bool is an int subclass; true/false is not a count.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _authors(paper: _Json) -> tuple[str, ...]:
    authors = paper.get("authors")
    if not isinstance(authors, list):
        return ()
    names = []
    for author in authors:
        if isinstance(author, Mapping):
            name = _str(author, "name")
            if name:
                names.append(name)
    return tuple(names)


def _date(value: object) -> datetime | None:
    """``2026-06-12T00:00:00.000Z`` as aware UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # The API writes UTC; a value without a zone is read as UTC, not local time.
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


__all__ = ["parse_hf_daily"]
