"""The query language of ``paperbot query`` and ``/paper``: text in, a typed ``Query`` out.

Parsing is pure (``now`` passed in, no SQL); the store runs the ``Query``. ``to_text()``
writes it back, and parsing that again gives an equal ``Query``. The terms are listed in
``VALID_TERMS``; a ``QueryError`` names the term as typed and its valid forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from digests.errors import QueryError
from digests.normalize import (
    canonical_url,
    clean_text,
    normalize_doi,
    normalize_tag,
    parse_arxiv_id,
)
from digests.weeks import YEARS

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_OFFSET = 10_000
# Slack sends at most a few thousand characters; a longer text is a paste gone wrong, and
# the store should never have to build a full-text query from it.
MAX_QUERY_CHARS = 2000
LABEL_MAX_CHARS = 80

# "relevance": best match first, for free text; "new": newest first; "top": best ranked.
Sort = Literal["relevance", "new", "top"]

VALID_TERMS = """\
word  "a phrase"      papers whose title or summaries contain them (all of them)
-word  -"a phrase"    ...that do not contain it
tag:NAME              tagged NAME; repeat for more (all must match); tag:"Two Words"
-tag:NAME             not tagged NAME
author:NAME           an author's name contains NAME (repeat: all must match)
source:NAME           mentioned by this source (repeat: any of them)
since:WHEN            from WHEN on: 2025-01-01, 2025-01-01T09:00, or back from now: 12h 3d 2w 6m 1y
until:WHEN            before WHEN, same forms (a date includes that whole day)
id:ID                 arXiv id (2403.04224, 2403.04224v2, math/0611800), DOI (10.1234/abc) or link
arxiv:ID  doi:DOI     the same as id:
like:ID               papers most like that one (same forms as id:), most alike first
<link>                a pasted arXiv, doi.org or other paper link alone works like id:
sort:relevance        best match first (the default when there are words to match)
sort:new|top          newest first (the default otherwise) or best ranked first
limit:N               how many results, 1-100 (default 10)
offset:N              skip the first N results (default 0)"""

# What a ``like:`` names: ("id" | "doi" | "url", its canonical form), as ``id:`` reads it.
LikeRef = tuple[str, str]

_SORTS: dict[str, Sort] = {"relevance": "relevance", "new": "new", "top": "top"}
_KEYS = ("tag", "author", "source", "since", "until", "id", "like", "sort", "limit", "offset")
_ALIASES = {"arxiv": "id", "doi": "id"}
_SINGLE = frozenset({"since", "until", "like", "sort", "limit", "offset"})

_QUOTES = frozenset('"“”„‟＂〝〞')
_COLONS = frozenset(":：")
_NEGATE = frozenset("-－−")
_KEY_RE = re.compile(r"[a-z][a-z0-9_]*")
_AGE_RE = re.compile(r"(?P<n>[0-9]{1,5})(?P<unit>[hdwmy])")
_NUMBER_RE = re.compile(r"[0-9]{1,6}")
# A bare word counts as a DOI only when it is one, whole (or a doi.org link without scheme);
# "10.5/3" inside running text stays a word.
_BARE_DOI_RE = re.compile(r"(?:(?:dx\.)?doi\.org/)?10\.\d{4,9}/\S+", re.IGNORECASE)
_DOI_RE = re.compile(r"10\.\d{4,9}/\S+")
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org"})

_WHEN_FORM = (
    "takes a date (2025-01-01), a date and time (2025-01-01T09:00) "
    "or an age back from now (12h, 3d, 2w, 6m, 1y)"
)
_SINCE_FORM = f"since: {_WHEN_FORM}"
_UNTIL_FORM = f"until: {_WHEN_FORM}"
_ID_FORM = (
    "id: takes an arXiv id (2403.04224, 2403.04224v2, math/0611800), "
    "a DOI (10.1234/abc) or a link (https://arxiv.org/abs/2403.04224)"
)

_LIKE_FORM = "like:" + _ID_FORM.removeprefix("id:")


class Options(Mapping[str, str]):
    """The caller's extra ``key:value`` terms, as typed: an immutable, hashable mapping."""

    __slots__ = ("_data", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._data = dict(items)
        self._items = tuple(sorted(self._data.items()))

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Options):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Options({dict(self._items)!r})"


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query. Tuples keep the order of first appearance, without duplicates."""

    tags: tuple[str, ...] = ()  # slugs; all must match
    tag_labels: tuple[str, ...] = ()  # display forms of ``tags``, index for index
    exclude_tags: tuple[str, ...] = ()  # slugs; none may match
    exclude_tag_labels: tuple[str, ...] = ()  # display forms of ``exclude_tags``
    authors: tuple[str, ...] = ()  # all must match, as a case-insensitive substring
    sources: tuple[str, ...] = ()  # any may match
    since: datetime | None = None  # aware UTC, inclusive
    until: datetime | None = None  # aware UTC, exclusive
    since_text: str | None = None  # ``since`` as written, canonical ("2w", "2025-01-01")
    until_text: str | None = None  # likewise; re-resolved against ``now`` on every parse
    ids: tuple[str, ...] = ()  # versionless arXiv ids
    dois: tuple[str, ...] = ()  # lowercased, no resolver prefix; never arXiv's own DOIs
    urls: tuple[str, ...] = ()  # canonical URLs (``normalize.canonical_url``) of other links
    like: LikeRef | None = None  # the papers most like this one (``store.similar``)
    words: tuple[str, ...] = ()  # full-text: all must appear
    exclude_words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()  # full-text: each must appear as written
    exclude_phrases: tuple[str, ...] = ()
    sort: Sort | None = None  # None: as typed without sort:, see ``order``
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    options: Options = field(default_factory=Options)

    def order(self) -> Sort:
        """The order of the results: ``sort`` as given, else best match first when there is
        free text to match (words or phrases) and newest first when there is not."""
        if self.sort is not None:
            return self.sort
        return "relevance" if self.words or self.phrases or self.like else "new"

    def is_empty(self) -> bool:
        """True when nothing narrows the search (sort, limit, offset and options aside)."""
        return not (
            self.tags
            or self.exclude_tags
            or self.authors
            or self.sources
            or self.since is not None
            or self.until is not None
            or self.ids
            or self.dois
            or self.urls
            or self.like is not None
            or self.words
            or self.exclude_words
            or self.phrases
            or self.exclude_phrases
        )

    def next_page(self) -> Query:
        """The same query one page further on (what a "More" button asks for)."""
        return replace(self, offset=self.offset + self.limit)

    def label(self) -> str:
        """A short human scope for headers: ``#Alignment · since 2w``; never empty."""
        parts: list[str] = []
        tags = [f"#{t}" for t in _labels(self.tags, self.tag_labels)]
        tags += [f"-#{t}" for t in _labels(self.exclude_tags, self.exclude_tag_labels)]
        if tags:
            parts.append(" ".join(tags))
        text = [*self.words, *(f'"{p}"' for p in self.phrases)]
        text += [f"-{w}" for w in self.exclude_words]
        text += [f'-"{p}"' for p in self.exclude_phrases]
        if text:
            parts.append(" ".join(text))
        if self.ids or self.dois or self.urls:
            parts.append(", ".join((*self.ids, *self.dois, *self.urls)))
        if self.like is not None:
            parts.append(f"like {self.like[1]}")
        if self.authors:
            parts.append("by " + ", ".join(self.authors))
        if self.sources:
            parts.append("from " + " or ".join(self.sources))
        if self.since is not None:
            parts.append(f"since {self.since_text or self.since.date().isoformat()}")
        if self.until is not None:
            parts.append(f"until {self.until_text or self.until.date().isoformat()}")
        label = clean_text(" · ".join(parts)) or "all papers"
        if len(label) > LABEL_MAX_CHARS:
            label = label[: LABEL_MAX_CHARS - 1].rstrip() + "…"
        return label

    def to_text(self) -> str:
        """Canonical text: ``parse_query`` of it (same now, tz, extra_keys) equals this query."""
        out: list[str] = [*self.words]
        out += [f'"{p}"' for p in self.phrases]
        out += [f"-{w}" for w in self.exclude_words]
        out += [f'-"{p}"' for p in self.exclude_phrases]
        out += [f"tag:{_quote(t)}" for t in _labels(self.tags, self.tag_labels)]
        out += [f"-tag:{_quote(t)}" for t in _labels(self.exclude_tags, self.exclude_tag_labels)]
        out += [f"author:{_quote(a)}" for a in self.authors]
        out += [f"source:{_quote(s)}" for s in self.sources]
        out += [f"id:{_quote(i)}" for i in (*self.ids, *self.dois, *self.urls)]
        if self.like is not None:
            out.append(f"like:{_quote(self.like[1])}")
        if self.since is not None:
            out.append(f"since:{self.since_text or self.since.isoformat()}")
        if self.until is not None:
            out.append(f"until:{self.until_text or self.until.isoformat()}")
        if self.sort is not None:
            out.append(f"sort:{self.sort}")
        if self.limit != DEFAULT_LIMIT:
            out.append(f"limit:{self.limit}")
        if self.offset:
            out.append(f"offset:{self.offset}")
        out += [f"{k}:{_quote(v)}" for k, v in self.options.items()]
        return " ".join(out)


def _labels(slugs: tuple[str, ...], labels: tuple[str, ...]) -> tuple[str, ...]:
    # A Query built by hand may carry slugs only; slugs are valid tag values too.
    return labels if len(labels) == len(slugs) else slugs


def _quote(value: str) -> str:
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


# --- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    raw: str  # as typed, for messages
    negated: bool
    key: str | None  # NFKC + casefolded key when the token is key:value
    key_raw: str  # the key as typed, for ``word:`` that turns out to be a word
    value: str
    quoted: bool


def _scrub(text: str) -> str:
    # Control characters and lone surrogates (a CLI argument in a broken locale) would
    # reach the database otherwise, where PostgreSQL refuses NUL; they separate tokens.
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """The text between the quote at ``i`` and the next quote (or the end), and where after."""
    j = i + 1
    while j < len(text) and text[j] not in _QUOTES:
        j += 1
    return text[i + 1 : j], min(j + 1, len(text))


def _key_of(prefix: str) -> str | None:
    key = unicodedata.normalize("NFKC", prefix).casefold()
    return key if _KEY_RE.fullmatch(key) else None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    n = len(text)
    i = 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return tokens
        start = i
        negated = text[i] in _NEGATE
        if negated:
            i += 1
        if i < n and text[i] in _QUOTES:
            value, i = _read_quoted(text, i)
            tokens.append(_Token(text[start:i], negated, None, "", value, quoted=True))
            continue
        buf: list[str] = []
        key: str | None = None
        key_raw = ""
        colon_seen = False
        quoted_value: str | None = None
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in _QUOTES:
                if key is not None and not buf:
                    quoted_value, i = _read_quoted(text, i)
                    break
                i += 1  # a stray quote inside a word ("don"t", 5") is noise
                continue
            if ch in _COLONS and not colon_seen:
                colon_seen = True
                prefix = "".join(buf)
                candidate = _key_of(prefix)
                # "https://…" is a link, not the key "https".
                if candidate is not None and not (
                    candidate in ("http", "https") and text.startswith("//", i + 1)
                ):
                    key, key_raw, buf = candidate, prefix, []
                    i += 1
                    continue
            buf.append(ch)
            i += 1
        raw = text[start:i]
        if quoted_value is not None:
            tokens.append(_Token(raw, negated, key, key_raw, quoted_value, quoted=True))
        else:
            tokens.append(_Token(raw, negated, key, key_raw, "".join(buf), quoted=False))


# --- values ----------------------------------------------------------------------------


def _zone(tz: str) -> tzinfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise QueryError(
            f"unknown time zone {tz!r}: use an IANA name such as UTC or Asia/Tokyo",
            term=f"tz:{tz}",
        ) from e


def _resolve_when(
    value: str, *, raw: str, end: bool, now: datetime, zone: tzinfo, form: str
) -> tuple[datetime, str]:
    """A since/until value -> (aware UTC instant, canonical text)."""
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    try:
        age = _AGE_RE.fullmatch(text)
        if age:
            n, unit = int(age["n"]), age["unit"]
            if n < 1:
                raise QueryError(f"{raw}: an age must be at least 1. {form}", term=raw)
            # Months and years are calendar ones (dateutil knows their lengths); the rest
            # are exact durations, so "1d" is 24 hours in every zone.
            back: timedelta | relativedelta
            if unit == "m":
                back = relativedelta(months=n)
            elif unit == "y":
                back = relativedelta(years=n)
            else:
                back = timedelta(hours=n * {"h": 1, "d": 24, "w": 24 * 7}[unit])
            return _plausible(now - back, raw, form), f"{n}{unit}"
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            # A bare date is a whole day in the channel's zone: until includes it.
            when = datetime.combine(day, time(), tzinfo=zone)
            if end:
                when = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
            return _plausible(when.astimezone(UTC), raw, form), day.isoformat()
        try:
            moment = datetime.fromisoformat(text.upper())
        except ValueError:
            raise QueryError(f"{raw} is not a date. {form}", term=raw) from None
        whole_minute = moment.second == 0 and moment.microsecond == 0
        canonical = moment.isoformat(timespec="minutes" if whole_minute else "auto")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return _plausible(moment.astimezone(UTC), raw, form), canonical
    except (OverflowError, ValueError) as e:
        raise _out_of_range(raw, form) from e


def _out_of_range(raw: str, form: str) -> QueryError:
    years = f"the years {YEARS[0]} to {YEARS[-1]}"
    return QueryError(f"{raw} is out of range: dates must be in {years}. {form}", term=raw)


def _plausible(when: datetime, raw: str, form: str) -> datetime:
    """``when``, if a person could mean it: a year outside ``YEARS`` is a typo."""
    if when.year not in YEARS:
        raise _out_of_range(raw, form)
    return when


def _resolve_link(value: str) -> tuple[str, str] | None:
    """An id/DOI/link -> ("id" | "doi" | "url", canonical form), or None."""
    v = value.strip()
    # Slack hands links over as <https://…> or <https://…|label>.
    if v.startswith("<"):
        v = v[1:].removesuffix(">").split("|", 1)[0]
    ref = parse_arxiv_id(v)
    if ref is not None:
        return "id", ref.id
    if _BARE_DOI_RE.fullmatch(v) or v.casefold().startswith("doi:"):
        doi = _doi(v)
        return ("doi", doi) if doi else None
    if not v.casefold().startswith(("http://", "https://")):
        return None
    try:
        if not urlsplit(v).hostname:
            return None
        url = canonical_url(v)
        host = urlsplit(url).hostname
        # The text form must read back as the same link, so a URL that canonicalizes
        # further (or loses its host: "https://www.") is not one we can keep.
        if not host or canonical_url(url) != url:
            return None
    except ValueError:
        return None
    if host in _DOI_HOSTS:
        doi = _doi(url)
        if doi:
            ref = parse_arxiv_id(doi)
            return ("id", ref.id) if ref is not None else ("doi", doi)
    return "url", url


def _doi(text: str) -> str | None:
    doi = normalize_doi(text)
    # Trailing punctuation is trimmed off a DOI; what is left must still be one ("10.1/.").
    return doi if doi and _DOI_RE.fullmatch(doi) else None


def _is_link_word(word: str) -> bool:
    w = word.casefold()
    return (
        w.startswith(("http://", "https://", "<http://", "<https://"))
        or _BARE_DOI_RE.fullmatch(word) is not None
        or parse_arxiv_id(word) is not None
    )


class _Builder:
    """Mutable lists while parsing; frozen into a ``Query`` at the end."""

    def __init__(self) -> None:
        self.lists: dict[str, list[str]] = {}
        self.seen: dict[str, set[str]] = {}
        self.single: dict[str, str] = {}  # single-valued key -> the raw term that set it

    def add(self, name: str, value: str, *, fold: str | None = None) -> None:
        seen = self.seen.setdefault(name, set())
        marker = fold if fold is not None else value
        if marker not in seen:
            seen.add(marker)
            self.lists.setdefault(name, []).append(value)

    def get(self, name: str) -> tuple[str, ...]:
        return tuple(self.lists.get(name, ()))

    def once(self, key: str, raw: str) -> None:
        if key in self.single:
            first = self.single[key]
            raise QueryError(f"{key}: is given twice ({first}, {raw}); give it once", term=raw)
        self.single[key] = raw


def _valid_keys(extra_keys: frozenset[str]) -> str:
    keys = [f"{k}:" for k in _KEYS] + ["-tag:"] + [f"{k}:" for k in sorted(extra_keys)]
    return ", ".join(keys)


def parse_query(
    text: str,
    *,
    now: datetime,
    tz: str = "UTC",
    extra_keys: frozenset[str] = frozenset(),
) -> Query:
    """Parse a query (the terms are in ``VALID_TERMS``); raises ``QueryError`` only.

    ``now`` must be aware; it anchors relative dates (``since:2w``). ``tz`` is the zone bare
    dates are days in. ``extra_keys`` are the caller's own keys, returned in ``options``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    clash = extra_keys & (set(_KEYS) | set(_ALIASES))
    bad = {k for k in extra_keys if not _KEY_RE.fullmatch(k)}
    if clash or bad:
        raise ValueError(f"extra_keys must be new lowercase keys: {sorted(clash | bad)}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}",
            term=text[:40],
        )
    now = now.astimezone(UTC)
    zone = _zone(tz)
    known = set(_KEYS) | set(_ALIASES) | extra_keys
    b = _Builder()
    since: tuple[datetime, str, str] | None = None  # (instant, canonical text, raw term)
    until: tuple[datetime, str, str] | None = None
    sort: Sort | None = None
    limit = DEFAULT_LIMIT
    offset = 0
    like: LikeRef | None = None
    options: dict[str, str] = {}

    tokens = _tokenize(_scrub(text))
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        dangling = tok.key
        if dangling is not None and not tok.quoted and not tok.value:
            if dangling not in known:
                # "Mamba: Linear-Time …": a title's colon, not a term.
                tok = replace(tok, key=None, value=tok.key_raw)
            else:
                nxt = tokens[i] if i < len(tokens) else None
                if nxt is None or nxt.key is not None or nxt.negated:
                    raise QueryError(
                        f"{tok.raw} needs a value, e.g. {_example(dangling)}", term=tok.raw
                    )
                tok = replace(tok, raw=f"{tok.raw} {nxt.raw}", value=nxt.value, quoted=nxt.quoted)
                i += 1

        if tok.key is None:
            _free(b, tok)
            continue

        raw, key, value = tok.raw, _ALIASES.get(tok.key, tok.key), tok.value
        if key not in known:
            raise QueryError(
                f"unknown term {raw}. Valid terms: {_valid_keys(extra_keys)}. "
                f'To search for the text itself, put it in quotes: "{tok.key_raw}:{value}"',
                term=raw,
            )
        if tok.negated and key != "tag":
            raise QueryError(
                f"{raw} is not valid: only tag:, words and phrases can be excluded with -", term=raw
            )
        if key in _SINGLE or key in extra_keys:
            b.once(key, raw)

        if key in extra_keys:
            if not value.strip():
                raise QueryError(f"{raw} needs a value", term=raw)
            options[key] = value  # the caller validates its own keys
        elif key == "tag":
            name = normalize_tag(value)
            if name is None:
                raise QueryError(
                    f"{raw} has no tag name: tag: takes a name such as tag:Alignment "
                    'or tag:"Supervised-FineTuning (SFT)"',
                    term=raw,
                )
            prefix = "exclude_" if tok.negated else ""
            # Labels are deduplicated by slug so that they stay index for index with tags.
            b.add(f"{prefix}tags", name.slug)
            b.add(f"{prefix}tag_labels", name.display, fold=name.slug)
        elif key in ("author", "source"):
            cleaned = clean_text(value)
            if not cleaned:
                raise QueryError(f"{raw} needs a value, e.g. {_example(key)}", term=raw)
            b.add(f"{key}s", cleaned, fold=cleaned.casefold())
        elif key == "id":
            link = _resolve_link(value)
            if link is None:
                raise QueryError(f"{raw} is not an id. {_ID_FORM}", term=raw)
            b.add(f"{link[0]}s", link[1])
        elif key == "like":
            like = _resolve_link(value)
            if like is None:
                raise QueryError(f"{raw} is not an id. {_LIKE_FORM}", term=raw)
        elif key == "since":
            when, canonical = _resolve_when(
                value, raw=raw, end=False, now=now, zone=zone, form=_SINCE_FORM
            )
            since = (when, canonical, raw)
        elif key == "until":
            when, canonical = _resolve_when(
                value, raw=raw, end=True, now=now, zone=zone, form=_UNTIL_FORM
            )
            until = (when, canonical, raw)
        elif key == "sort":
            choice = unicodedata.normalize("NFKC", value).strip().casefold()
            if choice not in _SORTS:
                raise QueryError(
                    f"{raw} is not valid: sort: takes relevance (best match first), "
                    "new (newest first) or top (best ranked)",
                    term=raw,
                )
            sort = _SORTS[choice]
        elif key == "limit":
            limit = _number(value, raw=raw, low=1, high=MAX_LIMIT, form="limit:")
        else:  # offset
            offset = _number(value, raw=raw, low=0, high=MAX_OFFSET, form="offset:")

    if since and until and since[0] >= until[0]:
        raise QueryError(
            f"{since[2]} is not before {until[2]}: since: must come before until:",
            term=since[2],
        )
    for group in ("tags", "words", "phrases"):
        excluded = {_fold(x) for x in b.get(f"exclude_{group}")}
        both = [v for v in b.get(group) if _fold(v) in excluded]
        if both:
            term = f"tag:{both[0]}" if group == "tags" else both[0]
            raise QueryError(f"{term} is both asked for and excluded with -", term=term)

    return Query(
        tags=b.get("tags"),
        tag_labels=b.get("tag_labels"),
        exclude_tags=b.get("exclude_tags"),
        exclude_tag_labels=b.get("exclude_tag_labels"),
        authors=b.get("authors"),
        sources=b.get("sources"),
        since=since[0] if since else None,
        until=until[0] if until else None,
        since_text=since[1] if since else None,
        until_text=until[1] if until else None,
        ids=b.get("ids"),
        dois=b.get("dois"),
        urls=b.get("urls"),
        like=like,
        words=b.get("words"),
        exclude_words=b.get("exclude_words"),
        phrases=b.get("phrases"),
        exclude_phrases=b.get("exclude_phrases"),
        sort=sort,
        limit=limit,
        offset=offset,
        options=Options(options.items()),
    )


def _fold(text: str) -> str:
    return text.casefold()


def _free(b: _Builder, tok: _Token) -> None:
    """A token without a key: a phrase, a link or id, or a word."""
    if tok.quoted:
        phrase = clean_text(tok.value)
        if phrase:
            b.add("exclude_phrases" if tok.negated else "phrases", phrase, fold=_fold(phrase))
        return
    word = tok.value
    if not word:
        return  # a lone "-"
    if tok.negated:
        b.add("exclude_words", word, fold=_fold(word))
        return
    if _is_link_word(word):
        link = _resolve_link(word)
        if link is None:
            raise QueryError(
                f"{tok.raw} is not a link that can be looked up. {_ID_FORM}", term=tok.raw
            )
        b.add(f"{link[0]}s", link[1])
        return
    b.add("words", word, fold=_fold(word))


def _number(value: str, *, raw: str, low: int, high: int, form: str) -> int:
    text = unicodedata.normalize("NFKC", value).strip()
    if _NUMBER_RE.fullmatch(text) and low <= int(text) <= high:
        return int(text)
    raise QueryError(
        f"{raw} is not valid: {form} takes a whole number from {low} to {high}", term=raw
    )


def _example(key: str) -> str:
    return {
        "tag": "tag:Alignment",
        "author": "author:Hinton",
        "source": 'source:"ML Papers of the Week"',
        "since": "since:2w",
        "until": "until:2025-01-31",
        "id": "id:2403.04224",
        "like": "like:2305.18290",
        "arxiv": "arxiv:2403.04224",
        "doi": "doi:10.1234/abc",
        "sort": "sort:top",
        "limit": "limit:20",
        "offset": "offset:10",
    }.get(key, f"{key}:VALUE")
