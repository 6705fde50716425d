"""A reference library imported into a channel's profile: every paper it names liked there.

::

    import = read (digests.library: BibTeX, RIS or a list) | resolve in the store (arXiv id,
             then DOI, then link, then exact title) | ask arXiv once about the arXiv ids the
             store lacks (each stored as a paper, with no mention) | resolve those again
             | like each paper once for the channel (verdict origin "import")

``paperbot profile import`` and ``/paper profile import`` both end here. Nothing is
dropped in silence: an entry that cannot be read or found is listed with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from digests.library import Library, LibraryEntry, LibraryFormat, LibraryProblem
from digests.normalize import title_key
from digests.store import KnownReferences, Store

__all__ = [
    "CLI_USER",
    "MAX_LIBRARY_BYTES",
    "ArxivPapers",
    "ImportReport",
    "import_library",
    "nothing_readable",
    "too_large",
]

# A Zotero export with abstracts runs at 1.5-2 KB an entry, so 5 MB holds some 2,500
# references or more: a research group's whole library. A larger file is a PDF or a
# dump sent by mistake, and it is refused before it is read.
MAX_LIBRARY_BYTES = 5 * 1024 * 1024
# Verdicts imported from the command line have no Slack user behind them; Slack's user
# ids are upper-case (U…, W…), so this one never meets a person's.
CLI_USER = "cli"


def too_large(size: int, limit: int = MAX_LIBRARY_BYTES, *, known: bool = True) -> str | None:
    """The one line that refuses a file of ``size`` bytes, or None if it may be read;
    ``known`` False: only the first ``size`` bytes were read (a stream)."""
    if size <= limit:
        return None
    what = f"is {_megabytes(size)}" if known else f"is over {_megabytes(limit)}"
    return (
        f"The file {what}; a library import takes at most {_megabytes(limit)} "
        "(export only the collection you mean, or without attachments and notes)."
    )


NOTHING_TO_IMPORT = (
    "No BibTeX entry, RIS record, arXiv id, DOI or link found: one id or link a line, "
    "or entries exported from Zotero or Mendeley."
)


def nothing_readable(library: Library) -> str | None:
    """Why a library holds nothing to import (a PDF sent by mistake, every entry broken),
    or None when it holds something."""
    if library.entries:
        return None
    if library.format == "list" or not library.problems:
        return NOTHING_TO_IMPORT
    first = library.problems[0]
    more = len(library.problems) - 1
    return f"No entry could be read: {first}" + (f" (and {more} more)" if more else "")


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


class ArxivPapers(Protocol):
    """What asks arXiv about ids and stores the papers it knows (``digests.enrich.Enricher``)."""

    def add_papers(
        self, arxiv_ids: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> ArxivAnswer: ...


class ArxivAnswer(Protocol):
    @property
    def unknown(self) -> tuple[str, ...]: ...

    @property
    def failure(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ImportReport:
    format: LibraryFormat
    entries: int  # every entry of the file, readable or not
    liked: tuple[int, ...]  # paper ids, each once, in the file's order
    duplicates: int  # entries naming a paper an earlier entry already named
    unresolved: tuple[LibraryProblem, ...]  # in the file's order
    fetched: int = 0  # papers the store lacked, added from arXiv's answers
    to_fetch: int = 0  # dry run: entries that would be looked up on arXiv
    arxiv_failure: str | None = None  # arXiv could not be asked (said once)
    dry_run: bool = False

    def summary(self) -> str:
        """``412 entries: 398 liked, 9 unresolved (listed below), 5 duplicates``."""
        n = self.entries
        parts = [f"{len(self.liked)} {'would be liked' if self.dry_run else 'liked'}"]
        if self.unresolved:
            parts.append(f"{len(self.unresolved)} unresolved (listed below)")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate{'s' if self.duplicates != 1 else ''}")
        line = f"{n} entr{'ies' if n != 1 else 'y'} ({self.format}): " + ", ".join(parts)
        if self.fetched:
            line += f"; {self.fetched} added to the store from arXiv"
        if self.to_fetch:
            line += f"; {self.to_fetch} to look up on arXiv"
        if self.dry_run:
            line += "; dry run: nothing changed"
        return line


_Resolution = int | str  # a paper id, or why there is none


def import_library(
    store: Store,
    library: Library,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    now: datetime,
    arxiv: ArxivPapers | None,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Like, for one channel, every paper the library names, as ``user_id`` (the admin who
    imported it, or ``CLI_USER``); the verdicts replace that person's earlier ones on the
    same papers. ``arxiv`` None: the store alone is asked. ``dry_run`` changes nothing,
    not even by asking arXiv. ``on_progress`` hears how many entries each step settled.
    """
    step = on_progress or (lambda n: None)
    entries = library.entries
    step(len(library.problems))
    found = resolve(entries, store.find_references(**_keys(entries)))
    missing = [e.arxiv_id for e, r in zip(entries, found, strict=True) if r == _ASK_ARXIV]
    step(len(entries) - len(missing))
    fetched = to_fetch = 0
    failure: str | None = None
    if missing and dry_run:
        to_fetch = len(missing)
        found = [("to be looked up on arXiv" if r == _ASK_ARXIV else r) for r in found]
    elif missing and arxiv is None:
        failure = "arXiv lookups are off"
        found = [(_NOT_ASKED if r == _ASK_ARXIV else r) for r in found]
    elif missing:
        wanted = [i for i in missing if i is not None]
        answer = arxiv.add_papers(wanted, on_batch=step) if arxiv is not None else None
        failure = answer.failure if answer is not None else None
        unknown = set(answer.unknown) if answer is not None else set()
        again = resolve(entries, store.find_references(arxiv_ids=wanted))
        fetched = len(
            {
                new
                for new, old in zip(again, found, strict=True)
                if old == _ASK_ARXIV and isinstance(new, int)
            }
        )
        found = [
            _after_arxiv(e, old, new, unknown, failure)
            for e, old, new in zip(entries, found, again, strict=True)
        ]
    liked: dict[int, None] = {}
    duplicates = 0
    unresolved = list(library.problems)
    for entry, result in zip(entries, found, strict=True):
        if isinstance(result, str):
            unresolved.append(LibraryProblem(entry.number, entry.line, entry.label, result))
        elif result in liked:
            duplicates += 1
        else:
            liked[result] = None
    if liked and not dry_run:
        store.set_verdicts(
            team_id,
            channel_id,
            user_id,
            dict.fromkeys(liked, "like"),
            origin="import",
            now=now,
        )
    return ImportReport(
        format=library.format,
        entries=library.size,
        liked=tuple(liked),
        duplicates=duplicates,
        unresolved=tuple(sorted(unresolved, key=lambda u: u.number)),
        fetched=fetched,
        to_fetch=to_fetch,
        arxiv_failure=failure,
        dry_run=dry_run,
    )


_ASK_ARXIV = "\0ask arXiv"  # not in the store, but arXiv may know the id
_NOT_ASKED = "not in the store, and arXiv could not be asked (import it again later)"


def _keys(entries: Sequence[LibraryEntry]) -> dict[str, list[str]]:
    return {
        "arxiv_ids": [e.arxiv_id for e in entries if e.arxiv_id],
        "dois": [e.doi for e in entries if e.doi],
        "url_keys": [e.url for e in entries if e.url],
        "title_keys": [title_key(e.title) for e in entries if e.title],
    }


def resolve(entries: Sequence[LibraryEntry], known: KnownReferences) -> list[_Resolution]:
    """Each entry's paper by the first of its keys the store holds: arXiv id, DOI, link,
    exact title (a link or title more than one paper holds names none of them)."""
    out: list[_Resolution] = []
    for e in entries:
        if e.arxiv_id and e.arxiv_id in known.arxiv:
            out.append(known.arxiv[e.arxiv_id])
        elif e.doi and e.doi in known.doi:
            out.append(known.doi[e.doi])
        elif e.url and len(known.url.get(e.url, ())) == 1:
            out.append(known.url[e.url][0])
        elif e.title and len(known.title.get(title_key(e.title), ())) == 1:
            out.append(known.title[title_key(e.title)][0])
        elif e.arxiv_id:
            out.append(_ASK_ARXIV)
        else:
            out.append(_not_found(e, known))
    return out


def _not_found(e: LibraryEntry, known: KnownReferences) -> str:
    if e.title and len(known.title.get(title_key(e.title), ())) > 1:
        return (
            f"{len(known.title[title_key(e.title)])} papers have this title; "
            "give its arXiv id or DOI"
        )
    if e.url and len(known.url.get(e.url, ())) > 1:
        return f"{len(known.url[e.url])} papers have this link; give its arXiv id or DOI"
    held = [k for k, v in (("DOI", e.doi), ("link", e.url), ("title", e.title)) if v]
    named = " or ".join([", ".join(held[:-1]), held[-1]] if len(held) > 2 else held)
    return f"no paper in the store has this {named}, and it names no arXiv id"


def _after_arxiv(
    e: LibraryEntry, old: _Resolution, new: _Resolution, unknown: set[str], failure: str | None
) -> _Resolution:
    if old != _ASK_ARXIV:
        return old
    if isinstance(new, int):
        return new
    if e.arxiv_id in unknown:
        return f"arXiv does not know {e.arxiv_id}"
    if failure is not None:
        return _NOT_ASKED
    return "not asked: the arXiv lookups ran out of time (import it again later)"
