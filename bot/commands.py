"""``/paper`` text parsed into typed commands; pure (no I/O, ``now`` passed in).

The first word picks the command (the forms are in ``USAGE`` and ``ADMIN_USAGE``); to look
up one of these words, quote it (``"poll"``). Errors are ``CommandError`` (or ``QueryError``
for query terms) naming the word and the valid forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digests.calendar import next_fire
from digests.errors import ConfigError, PaperbotError, QueryError
from digests.model import SourceKind
from digests.query import Options, Query, parse_query
from digests.sourcefile import parse_interval, parse_kind

DEFAULT_DAY = 0  # Monday
DEFAULT_TIME = "09:00"
DEFAULT_TOP = 10
MAX_TOP = 50
DEFAULT_INTERVAL = "6h"
LANGS = ("en", "ja")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_WORDS = {
    **{d: i for i, d in enumerate(DAYS)},
    **{n.casefold(): i for i, n in enumerate(DAY_NAMES)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_TIME_RE = re.compile(r"([01]?[0-9]|2[0-3])[:：]([0-5][0-9])")
_QUOTES = frozenset('"“”„‟＂〝〞')
_COLONS = frozenset(":：")
_SUBSCRIBE_KEYS = frozenset({"day", "time", "tz", "top", "lang"})
_SOURCE_KEYS = ("kind", "name", "interval")

SUBCOMMANDS = (
    "help",
    "subscribe",
    "unsubscribe",
    "subscriptions",
    "digest",
    "sources",
    "poll",
    "saved",
    "profile",
)

USAGE = """\
`/paper tag:Alignment since:2w` look papers up (see the terms below)
`/paper subscribe [query terms] [day:mon] [time:09:00] [tz:Asia/Tokyo] [top:10] [lang:ja]` \
weekly top papers in this channel
`/paper subscriptions` this channel's subscriptions and when the next digest comes
`/paper unsubscribe ID` or `/paper unsubscribe all`
`/paper saved [PAGE]` the papers you saved (🔖), newest first, with *Export BibTeX*
`/paper profile` what this channel's likes and mutes taught paperbot
`/paper help` this help
Under each paper of a digest: 👍 more like this, 👎 not for us (never posted to this \
channel again), 🔖 save it for yourself; click again to undo. A `/paper` result has \
*More like this* and *Save*."""

ADMIN_USAGE = """\
`/paper digest preview` the digest this channel would get, only for you
`/paper digest now` post this week's digest to this channel now
`/paper sources` sources and their health
`/paper sources add URL [kind:K] [name:N] [interval:6h]` add a source
`/paper sources remove NAME` remove a source
`/paper poll` poll every source now and report back
`/paper profile import` seed this channel's profile from a library (BibTeX, RIS or ids)
`/paper profile reset` forget this channel's likes, mutes and imports"""


class CommandError(PaperbotError):
    """A ``/paper`` text that is not a command; the message names the word and the forms."""

    def __init__(self, message: str, *, term: str | None = None) -> None:
        super().__init__(message)
        self.term = term


# --- commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Lookup:
    query: Query

    @property
    def text(self) -> str:
        """The query without its offset: what the reply shows as "papers matching …"."""
        return replace(self.query, offset=0).to_text()


@dataclass(frozen=True, slots=True)
class Subscribe:
    query: Query  # without options; ``query.to_text()`` is what gets stored
    weekday: int  # 0 = Monday
    time: str  # "HH:MM" in ``tz``
    tz: str
    top: int
    lang: str | None

    @property
    def query_text(self) -> str:
        return self.query.to_text()


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    subscription_id: int | None  # None: every subscription of the channel


@dataclass(frozen=True, slots=True)
class ListSubscriptions:
    pass


@dataclass(frozen=True, slots=True)
class DigestNow:
    pass


@dataclass(frozen=True, slots=True)
class DigestPreview:
    pass


@dataclass(frozen=True, slots=True)
class ListSources:
    pass


@dataclass(frozen=True, slots=True)
class AddSource:
    location: str  # an http(s) URL
    name: str
    kind: SourceKind | None
    interval_seconds: int


@dataclass(frozen=True, slots=True)
class RemoveSource:
    name: str


@dataclass(frozen=True, slots=True)
class Poll:
    pass


@dataclass(frozen=True, slots=True)
class ListSaved:
    page: int = 1


@dataclass(frozen=True, slots=True)
class ProfileImport:
    """Open the form that takes a library to seed the channel's profile with."""


@dataclass(frozen=True, slots=True)
class ShowProfile:
    pass


@dataclass(frozen=True, slots=True)
class ResetProfile:
    pass


Command = (
    Help
    | Lookup
    | Subscribe
    | Unsubscribe
    | ListSubscriptions
    | DigestNow
    | DigestPreview
    | ListSources
    | AddSource
    | RemoveSource
    | Poll
    | ListSaved
    | ProfileImport
    | ShowProfile
    | ResetProfile
)
AdminCommand = (
    DigestNow
    | DigestPreview
    | ListSources
    | AddSource
    | RemoveSource
    | Poll
    | ProfileImport
    | ResetProfile
)
ADMIN_COMMANDS: tuple[type, ...] = (
    DigestNow,
    DigestPreview,
    ListSources,
    AddSource,
    RemoveSource,
    Poll,
    ProfileImport,
    ResetProfile,
)


def is_admin_command(command: Command) -> bool:
    return isinstance(command, ADMIN_COMMANDS)


# --- parsing ----------------------------------------------------------------------------


def _split_first(text: str) -> tuple[str, str]:
    stripped = text.strip()
    parts = stripped.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def _word(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def parse_command(text: str, *, now: datetime, default_tz: str = "UTC") -> Command:
    """Parse the text after ``/paper``; raises ``CommandError`` or ``QueryError``."""
    first, rest = _split_first(text)
    word = _word(first)
    if word in ("", "help", "?"):
        return Help()  # "help anything" still helps: whoever asks for help gets it
    if word == "subscribe":
        return parse_subscribe(rest, now=now, default_tz=default_tz)
    if word == "unsubscribe":
        return _parse_unsubscribe(rest)
    if word == "subscriptions":
        _no_more(rest, "subscriptions", "`/paper subscriptions`")
        return ListSubscriptions()
    if word == "digest":
        return _parse_digest(rest)
    if word == "sources":
        return _parse_sources(rest)
    if word == "poll":
        _no_more(rest, "poll", "`/paper poll`")
        return Poll()
    if word == "saved":
        return _parse_saved(rest)
    if word == "profile":
        return _parse_profile(rest)
    return Lookup(parse_query(text, now=now, tz=default_tz))


def _parse_profile(rest: str) -> ShowProfile | ResetProfile | ProfileImport:
    form = "`/paper profile`, `/paper profile reset` or `/paper profile import`"
    arg, more = _split_first(rest)
    if not arg:
        return ShowProfile()
    if _word(arg) == "reset":
        _no_more(more, "profile reset", form)
        return ResetProfile()
    if _word(arg) == "import":
        _no_more(more, "profile import", form)
        return ProfileImport()
    raise CommandError(f"unknown word {arg} after profile: use {form}", term=arg)


def _no_more(rest: str, command: str, form: str) -> None:
    if rest.strip():
        extra = rest.split(maxsplit=1)[0]
        raise CommandError(f"unknown word {extra} after {command}: use {form}", term=extra)


def _parse_saved(rest: str) -> ListSaved:
    form = "`/paper saved` or `/paper saved PAGE` (a page number)"
    arg, more = _split_first(rest)
    if not arg:
        return ListSaved()
    _no_more(more, f"saved {arg}", form)
    digits = unicodedata.normalize("NFKC", arg)
    if digits.isascii() and digits.isdigit() and 0 < int(digits) < 100_000:
        return ListSaved(int(digits))
    raise CommandError(f"{arg} is not a page: {form}", term=arg)


def _parse_unsubscribe(rest: str) -> Unsubscribe:
    form = "`/paper unsubscribe ID` (the number `/paper subscriptions` shows) or `all`"
    arg, more = _split_first(rest)
    if not arg:
        raise CommandError(f"unsubscribe needs a subscription: {form}", term="unsubscribe")
    _no_more(more, f"unsubscribe {arg}", form)
    if _word(arg) == "all":
        return Unsubscribe(None)
    digits = unicodedata.normalize("NFKC", arg).removeprefix("#")
    if digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**31:
        return Unsubscribe(int(digits))
    raise CommandError(f"{arg} is not a subscription: {form}", term=arg)


def _parse_digest(rest: str) -> DigestNow | DigestPreview:
    form = "`/paper digest now` or `/paper digest preview`"
    arg, more = _split_first(rest)
    choice = _word(arg)
    if choice in ("now", "preview"):
        _no_more(more, f"digest {arg}", form)
        return DigestNow() if choice == "now" else DigestPreview()
    if not arg:
        raise CommandError(f"digest needs a word: {form}", term="digest")
    raise CommandError(f"unknown word {arg} after digest: use {form}", term=arg)


def _parse_sources(rest: str) -> ListSources | AddSource | RemoveSource:
    form = (
        "`/paper sources`, `/paper sources add URL [kind:K] [name:N] [interval:6h]` "
        "or `/paper sources remove NAME`"
    )
    arg, more = _split_first(rest)
    choice = _word(arg)
    if not arg:
        return ListSources()
    if choice == "add":
        return _parse_add_source(more)
    if choice == "remove":
        name = _unquote(more.strip())
        if not name:
            raise CommandError("sources remove needs a source name: " + form, term="remove")
        return RemoveSource(name)
    raise CommandError(f"unknown word {arg} after sources: use {form}", term=arg)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        return text[1:-1].strip()
    return text


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens; a quoted run (also after ``key:``) is one token."""
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text:
        if ch in _QUOTES:
            quoted = not quoted
            continue
        if ch.isspace() and not quoted:
            if buf:
                out.append("".join(buf))
                buf = []
            continue
        buf.append(ch)
    if buf:
        out.append("".join(buf))
    return out


def slack_link(text: str) -> str:
    """Slack sends a pasted link as ``<https://…>`` or ``<https://…|label>``."""
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1].split("|", 1)[0]
    return text


def default_source_name(url: str) -> str:
    parts = urlsplit(url)
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.netloc}/{tail}" if tail else parts.netloc


def _parse_add_source(text: str) -> AddSource:
    form = "`/paper sources add URL [kind:K] [name:N] [interval:6h]`"
    location: str | None = None
    values: dict[str, str] = {}
    for token in _tokens(text):
        link = slack_link(token)
        if link.casefold().startswith(("http://", "https://")):
            if location is not None:
                raise CommandError(f"give one URL, not {location} and {link}: {form}", term=link)
            location = link
            continue
        key, sep, value = _key_value(token)
        if not sep or key not in _SOURCE_KEYS:
            raise CommandError(f"unknown word {token} in sources add: {form}", term=token)
        if key in values:
            raise CommandError(f"{key}: is given twice; give it once", term=token)
        if not value:
            raise CommandError(f"{token} needs a value: {form}", term=token)
        values[key] = value
    if location is None:
        # Slack admins add web sources only: a file path would read the server's disk.
        raise CommandError(f"sources add needs an http(s) URL: {form}", term="add")
    parts = urlsplit(location)
    if not parts.hostname:
        raise CommandError(f"{location} is not a URL: {form}", term=location)
    try:
        kind = parse_kind(values["kind"]) if "kind" in values else None
        interval = parse_interval(values.get("interval", DEFAULT_INTERVAL))
    except ConfigError as e:
        term = values.get("kind") if "kind" in str(e) else values.get("interval")
        raise CommandError(str(e), term=term) from e
    name = values.get("name") or default_source_name(location)
    return AddSource(location=location, name=name, kind=kind, interval_seconds=interval)


def _key_value(token: str) -> tuple[str, bool, str]:
    for i, ch in enumerate(token):
        if ch in _COLONS:
            return _word(token[:i]), True, token[i + 1 :]
    return _word(token), False, ""


# --- subscribe --------------------------------------------------------------------------


def parse_subscribe(text: str, *, now: datetime, default_tz: str = "UTC") -> Subscribe:
    """``subscribe``'s arguments: query terms plus day:, time:, tz:, top:, lang:."""
    parsed = parse_query(text, now=now, tz=default_tz, extra_keys=_SUBSCRIBE_KEYS)
    opts = parsed.options
    weekday = parse_day(opts["day"]) if "day" in opts else DEFAULT_DAY
    at = parse_time(opts["time"]) if "time" in opts else DEFAULT_TIME
    tz = parse_tz(opts["tz"]) if "tz" in opts else default_tz
    top = _parse_top(opts["top"]) if "top" in opts else DEFAULT_TOP
    lang = _parse_lang(opts["lang"]) if "lang" in opts else None
    # A digest is one week ranked and cut to top:; these terms would fight with that.
    for set_, term, why in (
        (parsed.since is not None or parsed.until is not None, "since:/until:", "one week"),
        (parsed.limit != Query().limit, "limit:", "its top: papers"),
        (parsed.offset != 0, "offset:", "its top: papers"),
        (parsed.sort is not None, "sort:", "its top: papers"),
    ):
        if set_:
            raise CommandError(
                f"{term} does not apply to a subscription: each digest covers {why}. "
                "Use top:N for how many papers",
                term=term,
            )
    if "tz" in opts and tz != default_tz:
        # Bare dates are days in the subscription's zone: parse again in it.
        parsed = parse_query(text, now=now, tz=tz, extra_keys=_SUBSCRIBE_KEYS)
    query = replace(parsed, options=Options())
    return Subscribe(query=query, weekday=weekday, time=at, tz=tz, top=top, lang=lang)


def parse_day(value: str) -> int:
    found = _DAY_WORDS.get(_word(value).strip())
    if found is None:
        raise CommandError(
            f"day:{value} is not a day: day: takes mon, tue, wed, thu, fri, sat or sun",
            term=f"day:{value}",
        )
    return found


def parse_time(value: str) -> str:
    m = _TIME_RE.fullmatch(unicodedata.normalize("NFKC", value).strip())
    if m is None:
        raise CommandError(
            f"time:{value} is not a time: time: takes 24-hour HH:MM, e.g. time:09:00",
            term=f"time:{value}",
        )
    return f"{int(m[1]):02d}:{m[2]}"


def parse_tz(value: str) -> str:
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise CommandError(
            f"tz:{value} is not a time zone: tz: takes an IANA name such as UTC, "
            "Europe/Berlin or Asia/Tokyo",
            term=f"tz:{value}",
        ) from e
    return name


def _parse_top(value: str) -> int:
    text = unicodedata.normalize("NFKC", value).strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_TOP:
        return int(text)
    raise CommandError(
        f"top:{value} is not valid: top: takes a whole number from 1 to {MAX_TOP}",
        term=f"top:{value}",
    )


def _parse_lang(value: str) -> str:
    lang = _word(value).strip()
    if lang in LANGS:
        return lang
    raise CommandError(f"lang:{value} is not valid: lang: takes en or ja", term=f"lang:{value}")


# --- schedule ---------------------------------------------------------------------------


def next_delivery(weekday: int, at: str, tz: str, *, now: datetime) -> datetime:
    """The next ``weekday`` at ``at`` (HH:MM) on the wall clock of ``tz`` after ``now``,
    aware in ``tz``: exactly when the scheduler will fire it (``digests.calendar.next_fire``)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return next_fire(weekday, at, tz, now).astimezone(ZoneInfo(tz))


def describe_schedule(weekday: int, at: str, tz: str) -> str:
    return f"{DAY_NAMES[weekday]}s at {at} {tz}"


def error_text(error: QueryError | CommandError) -> str:
    """What the user reads: the message, then where to get help."""
    return f"{error} (see `/paper help`)"
