"""A reference library read into entries to look papers up by: BibTeX, RIS or a plain list.

Pure: text in, a ``Library`` out. The format is read from the content (``detect_format``):
BibTeX as Zotero, Mendeley, JabRef or Google Scholar export it (parsed by bibtexparser,
titles' LaTeX decoded by pylatexenc), RIS as Zotero and Mendeley export it (each record
parsed by rispy), or a list of arXiv ids, DOIs and links, one a line (``#`` comments and
blank lines ignored). Every identifier goes through ``digests.normalize``, the functions
``id:`` uses, so an entry carries the same canonical arXiv id, DOI and URL the store keys
papers by.

A broken entry (unbalanced braces, a record without its end) becomes a ``LibraryProblem``
naming the entry and its line; the entries around it are still read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import rispy
from bibtexparser.entrypoint import parse_string
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock
from pylatexenc.latex2text import LatexNodes2Text

from digests.normalize import (
    arxiv_id_from_doi,
    canonical_url,
    clean_text,
    find_arxiv_id,
    normalize_doi,
    parse_arxiv_id,
    strip_controls,
)

__all__ = [
    "Library",
    "LibraryEntry",
    "LibraryFormat",
    "LibraryProblem",
    "decode_library",
    "detect_format",
    "read_library",
]

LibraryFormat = Literal["bibtex", "ris", "list"]

_BIBTEX_START_RE = re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)
_RIS_TAG_RE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_RIS_START_RE = re.compile(r"^TY  - ", re.MULTILINE)
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org"})
_ARXIV_HOSTS = frozenset({"arxiv.org", "export.arxiv.org"})
_LABEL_MAX = 80


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One reference and what it can be looked up by (each canonical, or None)."""

    number: int  # 1-based, in the file's order, broken entries counted
    line: int  # 1-based line the entry starts on
    label: str  # what a person recognizes it by: citation key and title, or the line
    arxiv_id: str | None = None
    doi: str | None = None
    url: str | None = None  # a canonical link that is neither arXiv's nor a DOI's
    title: str | None = None

    @property
    def where(self) -> str:
        return f"entry {self.number} (line {self.line})"


@dataclass(frozen=True, slots=True)
class LibraryProblem:
    """An entry that could not be read, and why."""

    number: int
    line: int
    label: str
    reason: str

    @property
    def where(self) -> str:
        return f"entry {self.number} (line {self.line})"

    def __str__(self) -> str:
        label = f" {self.label}" if self.label else ""
        return f"{self.where}{label}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Library:
    format: LibraryFormat
    entries: tuple[LibraryEntry, ...]
    problems: tuple[LibraryProblem, ...]

    @property
    def size(self) -> int:
        """Every entry the file holds, readable or not."""
        return len(self.entries) + len(self.problems)


def decode_library(data: bytes) -> str:
    """The file's text: UTF-8 (a byte-order mark dropped), else Latin-1 (old BibTeX files)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return strip_controls(text)


def detect_format(text: str) -> LibraryFormat:
    """BibTeX if an entry starts a line with ``@type{``; RIS if a record starts with
    ``TY  -``; else a list of identifiers."""
    if _BIBTEX_START_RE.search(text):
        return "bibtex"
    if _RIS_START_RE.search(text.lstrip("\ufeff")):
        return "ris"
    return "list"


def read_library(text: str) -> Library:
    """Read a library, whichever of the three formats it is in."""
    fmt = detect_format(text)
    if fmt == "bibtex":
        entries, problems = _read_bibtex(text)
    elif fmt == "ris":
        entries, problems = _read_ris(text)
    else:
        entries, problems = _read_list(text)
    return Library(fmt, tuple(entries), tuple(problems))


# -- identifiers ---------------------------------------------------------------------------


@dataclass
class _Ids:
    arxiv_id: str | None = None
    doi: str | None = None
    url: str | None = None

    def add_arxiv(self, text: str | None, *, bare: bool = False) -> None:
        if self.arxiv_id or not text:
            return
        ref = parse_arxiv_id(text) if bare else find_arxiv_id(text)
        if ref is not None:
            self.arxiv_id = ref.id

    def add_doi(self, text: str | None) -> None:
        if not text:
            return
        doi = normalize_doi(text)
        if doi is None:
            return
        ref = arxiv_id_from_doi(doi)  # arXiv's own DOI is its id
        if ref is not None:
            self.arxiv_id = self.arxiv_id or ref.id
        elif self.doi is None:
            self.doi = doi

    def add_link(self, text: str | None) -> None:
        """A link: arXiv's gives the id, doi.org's the DOI, any other the URL."""
        if not text:
            return
        link = text.strip().strip("<>")
        if not link.casefold().startswith(("http://", "https://")):
            return
        try:
            url = canonical_url(link)
        except ValueError:
            return
        host = url.split("/")[2] if url.count("/") >= 2 else ""
        if host in _ARXIV_HOSTS:
            self.add_arxiv(url)
        elif host in _DOI_HOSTS:
            self.add_doi(url)
        elif self.url is None and host:
            self.url = url


def _label(key: str | None, title: str | None, fallback: str = "") -> str:
    text = clean_text(" ".join(p for p in (key and f"[{key}]", title and f'"{title}"') if p))
    text = text or clean_text(fallback)
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


def _title(text: str | None, *, latex: bool = False) -> str | None:
    """A title without the braces BibTeX keeps capitals with; ``latex``: its accents and
    escapes (``{\\'e}``, ``\\&``) made the letters they stand for."""
    if not text:
        return None
    if latex and ("\\" in text or "$" in text):  # braces alone are stripped below
        text = _latex().latex_to_text(text)
    title = clean_text(text.replace("{", "").replace("}", ""))
    return title or None


@functools.cache
def _latex() -> LatexNodes2Text:
    # Only titles are decoded: bibtexparser's decoding middleware does every field,
    # abstracts included, and is most of the time a large export takes to read.
    return LatexNodes2Text()


# -- BibTeX --------------------------------------------------------------------------------

# Fields an arXiv id hides in: Zotero's note ("arXiv:2305.18290 [cs]"), Google Scholar's
# journal ("arXiv preprint arXiv:2305.18290"), howpublished ("\url{https://arxiv.org/…}").
_BIB_TEXT_FIELDS = ("journal", "note", "howpublished", "number", "publisher", "annote")


def _read_bibtex(text: str) -> tuple[list[LibraryEntry], list[LibraryProblem]]:
    library = parse_string(text)
    entries: list[LibraryEntry] = []
    problems: list[LibraryProblem] = []
    number = 0
    for block in library.blocks:
        entry: Entry | None = None
        if isinstance(block, Entry):
            entry = block
        elif isinstance(block, DuplicateBlockKeyBlock) and isinstance(
            block.ignore_error_block, Entry
        ):
            entry = block.ignore_error_block  # a key used twice: still a reference
        elif isinstance(block, ParsingFailedBlock):
            raw = block.raw or ""
            if not raw.lstrip().startswith("@"):
                continue  # text between entries is a comment in BibTeX
            number += 1
            problems.append(
                LibraryProblem(
                    number,
                    (block.start_line or 0) + 1,
                    _label(_bib_key(raw), None, raw[:40]),
                    _bib_reason(block.error),
                )
            )
            continue
        if entry is None:
            continue  # @string, @preamble, @comment
        number += 1
        fields = {k.casefold(): str(f.value) for k, f in entry.fields_dict.items()}
        problem = _bib_entry(number, (entry.start_line or 0) + 1, entry.key, fields)
        if isinstance(problem, LibraryProblem):
            problems.append(problem)
        else:
            entries.append(problem)
    return entries, problems


def _bib_entry(
    number: int, line: int, key: str, fields: Mapping[str, str]
) -> LibraryEntry | LibraryProblem:
    ids = _Ids()
    eprint = fields.get("eprint") or fields.get("arxivid")
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").casefold()
    if eprint and archive == "arxiv":
        ids.add_arxiv(eprint, bare=True)
    ids.add_doi(fields.get("doi"))
    for name in ("url", "howpublished", "note"):
        for link in re.findall(r"https?://[^\s{}]+", fields.get(name, "")):
            ids.add_link(link)
    for name in _BIB_TEXT_FIELDS:
        ids.add_arxiv(fields.get(name))
    title = _title(fields.get("title"), latex=True)
    label = _label(key, title)
    if not (ids.arxiv_id or ids.doi or ids.url or title):
        return LibraryProblem(number, line, label, "no arXiv id, DOI, link or title")
    return LibraryEntry(number, line, label, ids.arxiv_id, ids.doi, ids.url, title)


def _bib_key(raw: str) -> str | None:
    m = re.match(r"\s*@\w+\s*[{(]\s*([^,\s]+)\s*,", raw)
    return m.group(1) if m else None


def _bib_reason(error: Exception | None) -> str:
    """bibtexparser's long message made one short reason."""
    text = str(getattr(error, "abort_reason", None) or error or "")
    if '`"`' in text:
        return "unbalanced quotes"
    if "`}`" in text or "brace" in text.casefold():
        return "unbalanced braces"
    first = clean_text(text.splitlines()[-1] if text else "")
    return f"not a BibTeX entry ({first[:120]})" if first else "not a BibTeX entry"


# -- RIS -----------------------------------------------------------------------------------


def _read_ris(text: str) -> tuple[list[LibraryEntry], list[LibraryProblem]]:
    """Records are cut at their ``TY``/``ER`` lines and each parsed alone, so one broken
    record is one problem, with its line."""
    entries: list[LibraryEntry] = []
    problems: list[LibraryProblem] = []
    records = _ris_records(text.lstrip("\ufeff").splitlines())
    for number, (start, lines, closed) in enumerate(records, 1):
        item = _ris_record(number, start, lines, closed)
        if isinstance(item, LibraryProblem):
            problems.append(item)
        else:
            entries.append(item)
    return entries, problems


def _ris_records(lines: list[str]) -> Iterable[tuple[int, list[str], bool]]:
    start: int | None = None
    record: list[str] = []
    for i, line in enumerate(lines, 1):
        if line.startswith("TY  -"):
            if start is not None:  # a record that never ended
                yield start, record, False
            start, record = i, [line]
        elif start is not None:
            record.append(line)
            if line.rstrip() in ("ER  -", "ER  - "):
                yield start, record, True
                start, record = None, []
    if start is not None:
        yield start, record, False


def _ris_record(
    number: int, line: int, lines: list[str], closed: bool
) -> LibraryEntry | LibraryProblem:
    fields: dict[str, list[str]] = {}
    for raw in lines:
        m = _RIS_TAG_RE.match(raw.rstrip())
        if m:
            fields.setdefault(m.group(1), []).append((m.group(2) or "").strip())
    first = (fields.get("TI") or fields.get("T1") or [""])[0]
    label = _label(None, _title(first), lines[0])
    if not closed:
        return LibraryProblem(number, line, label, "the record has no ER line (cut short?)")
    try:
        [record] = rispy.loads("\n".join(lines) + "\n")
    except Exception as e:  # rispy raises plain exceptions; the message is what we keep
        return LibraryProblem(number, line, label, f"not a RIS record ({clean_text(str(e))})")
    ids = _Ids()
    ids.add_doi(_one(record.get("doi")))
    for url in _many(record.get("urls")):
        ids.add_link(url)
    for text in (*_many(record.get("notes")), _one(record.get("type_of_work"))):
        ids.add_arxiv(text)
    title = _title(_one(record.get("title")) or _one(record.get("primary_title")))
    if not (ids.arxiv_id or ids.doi or ids.url or title):
        return LibraryProblem(number, line, label, "no arXiv id, DOI, link or title")
    return LibraryEntry(number, line, label, ids.arxiv_id, ids.doi, ids.url, title)


def _one(value: object) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return str(value) if value else None


def _many(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


# -- a plain list --------------------------------------------------------------------------

_BARE_DOI_RE = re.compile(r"^(?:doi:\s*)?10\.\d{4,9}/\S+$", re.IGNORECASE)


def _read_list(text: str) -> tuple[list[LibraryEntry], list[LibraryProblem]]:
    entries: list[LibraryEntry] = []
    problems: list[LibraryProblem] = []
    number = 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "%", "//")):
            continue
        number += 1
        ids = _Ids()
        word = line.split()[0].strip("<>,;")
        if _BARE_DOI_RE.match(word) or word.casefold().startswith("doi:"):
            ids.add_doi(word)
        elif word.casefold().startswith(("http://", "https://")):
            ids.add_link(word)
        else:
            ids.add_arxiv(word.removeprefix("arXiv:").removeprefix("arxiv:"), bare=True)
        label = _label(None, None, line)
        if ids.arxiv_id or ids.doi or ids.url:
            entries.append(LibraryEntry(number, i, label, ids.arxiv_id, ids.doi, ids.url))
        else:
            problems.append(LibraryProblem(number, i, label, "not an arXiv id, a DOI or a link"))
    return entries, problems
