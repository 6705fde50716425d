"""The operator's sources file (TOML): read, validated, turned into SourceSpec records."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

from digests.errors import ConfigError
from digests.model import SourceKind, SourceSpec, source_name_key

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MIN_INTERVAL = 5 * 60  # nobody's feed changes faster; politeness first


def parse_interval(text: str) -> int:
    """``30m`` / ``6h`` / ``1d`` -> seconds; at least five minutes."""
    m = _INTERVAL_RE.match(text)
    if not m:
        raise ConfigError(f"interval {text!r} is not like 30m, 6h or 1d")
    seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    if seconds < MIN_INTERVAL:
        raise ConfigError(f"interval {text!r} is shorter than the 5 minute minimum")
    return seconds


def format_interval(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# What operators call a feed: both are read by the feed parser.
_KIND_ALIASES = {"rss": SourceKind.FEED, "atom": SourceKind.FEED}


def parse_kind(text: str) -> SourceKind:
    word = text.strip().lower()
    if word in _KIND_ALIASES:
        return _KIND_ALIASES[word]
    try:
        return SourceKind(word)
    except ValueError as e:
        valid = ", ".join(k.value for k in SourceKind)
        raise ConfigError(
            f"unknown source kind {text!r}; valid kinds: {valid} (rss and atom mean feed)"
        ) from e


_SCHEMES = ("http", "https", "file")


def check_url(location: str) -> None:
    """What can be told of a location without touching it: a usable scheme and host."""
    if not location.strip():
        raise ConfigError("the location is empty: give an http(s) URL, a file:// URL or a path")
    parts = urlsplit(location)
    if parts.scheme and len(parts.scheme) > 1 and parts.scheme.lower() not in _SCHEMES:
        raise ConfigError(
            f"{location!r}: the scheme {parts.scheme}: is not one paperbot reads; "
            "use http, https or file, or a local path"
        )
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        raise ConfigError(f"{location!r} has no host name")


def check_location(location: str) -> str:
    """A location an operator adds, checked and made absolute; raises ConfigError.

    URLs are checked for their scheme and host (reaching them is the poll's job); a local
    file must exist and be readable now, and is stored as an absolute path so the
    scheduler finds it from any directory.
    """
    location = location.strip()
    check_url(location)
    parts = urlsplit(location)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""
    if scheme in ("http", "https"):
        return location
    path = Path(unquote(parts.path)) if scheme == "file" else Path(location).expanduser()
    path = path.resolve()
    if not path.exists():
        raise ConfigError(f"{location!r}: no such file ({path})")
    if not path.is_file():
        raise ConfigError(f"{location!r} is a directory, not a file: give the file in it")
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        raise ConfigError(f"{location!r} cannot be read: {e.strerror or e}") from e
    return location if scheme == "file" else str(path)


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """Tags given to a source: stripped, none empty, each once."""
    out: list[str] = []
    for tag in tags:
        if not tag.strip():
            raise ConfigError("a tag is empty: give each tag a word, e.g. Alignment")
        if tag.strip() not in out:
            out.append(tag.strip())
    return tuple(out)


FAMILY_MAX = 100  # the column's width


def check_family(family: str) -> str:
    """A family an operator names: stripped, not empty, fits its column."""
    name = " ".join(family.split())
    if not name:
        raise ConfigError("the family is empty: name who publishes the source, e.g. arXiv")
    if len(name) > FAMILY_MAX:
        raise ConfigError(f"the family is longer than {FAMILY_MAX} characters")
    return name


def default_sources_text() -> str:
    return resources.files("digests").joinpath("data/sources.toml").read_text("utf-8")


def read_sources_file(path: Path, *, may_create: bool, listed: int) -> tuple[str, bool]:
    """The sources file's text, and whether the defaults were just written there.

    A missing file is written with the defaults only when ``may_create`` (the default
    location, on a database that has no file sources yet). Anywhere else it is an error:
    a mistyped path must not retire every source (``listed`` of them came from a file).
    """
    created = False
    if not path.exists():
        if not may_create:
            had = f"; {listed} sources came from a sources file" if listed else ""
            raise ConfigError(
                f"sources file {path} does not exist{had}: fix PAPERBOT_SOURCES_FILE or "
                "restore the file (an empty file retires the sources it listed)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_sources_text(), "utf-8")
        created = True
    try:
        return path.read_text("utf-8"), created
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError(f"cannot read sources file {path}: {why}") from e


def load_sources(text: str, *, where: str = "sources file") -> list[SourceSpec]:
    """Parse a sources file; every problem names the file and the source."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where} is not valid TOML: {e}") from e
    specs: list[SourceSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(data.get("source", []), start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: [[source]] #{i} is not a table")
        name = str(item.get("name", "")).strip()
        url = str(item.get("url", "")).strip()
        if not name or not url:
            raise ConfigError(f"{where}: [[source]] #{i} needs both name and url")
        if source_name_key(name) in seen:
            raise ConfigError(f"{where}: two sources are named {name!r} (ignoring case)")
        seen.add(source_name_key(name))
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"{where}: tags of {name!r} must be a list of strings")
        family = item.get("family")
        if family is not None and not isinstance(family, str):
            raise ConfigError(f"{where}: family of {name!r} must be a string")
        try:
            check_url(url)
            kind = parse_kind(item["kind"]) if item.get("kind") else None
            interval = parse_interval(str(item.get("interval", "6h")))
            tags = list(check_tags(tags))
            family = check_family(family) if family is not None else None
        except ConfigError as e:
            raise ConfigError(f"{where}: source {name!r}: {e}") from e
        specs.append(
            SourceSpec(
                name=name,
                location=url,
                kind=kind,
                interval_seconds=interval,
                tags=tuple(tags),
                origin="file",
                family=family,
            )
        )
    return specs
