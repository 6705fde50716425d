"""The operator's sources file (TOML): read, validated, turned into SourceSpec records."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from digests.errors import ConfigError
from digests.model import SourceKind, SourceSpec

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


def parse_kind(text: str) -> SourceKind:
    try:
        return SourceKind(text.strip().lower())
    except ValueError as e:
        valid = ", ".join(k.value for k in SourceKind)
        raise ConfigError(f"unknown source kind {text!r}; valid kinds: {valid}") from e


def default_sources_text() -> str:
    return resources.files("digests").joinpath("data/sources.toml").read_text("utf-8")


def ensure_sources_file(path: Path) -> bool:
    """Write the default sources file where the operator will find it; True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_sources_text(), "utf-8")
    return True


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
        if name in seen:
            raise ConfigError(f"{where}: two sources are named {name!r}")
        seen.add(name)
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(f"{where}: tags of {name!r} must be a list of strings")
        try:
            kind = parse_kind(item["kind"]) if item.get("kind") else None
            interval = parse_interval(str(item.get("interval", "6h")))
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
            )
        )
    return specs
