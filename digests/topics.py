"""Topic-tag rules and tag aliases: loaded from TOML, applied as a pure function."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from digests.errors import ConfigError
from digests.normalize import TagName, normalize_tag


@dataclass(frozen=True, slots=True)
class TopicRule:
    tag: TagName
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class TopicRules:
    rules: tuple[TopicRule, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # (alias, tag display)

    def topics_for(self, *texts: str | None) -> list[TagName]:
        """The topic tags whose patterns match any of the texts."""
        body = "\n".join(t for t in texts if t)
        if not body:
            return []
        return [rule.tag for rule in self.rules if rule.pattern.search(body)]


def default_rules_text() -> str:
    return resources.files("digests").joinpath("data/topics.toml").read_text("utf-8")


def load_rules(path: Path | None = None) -> TopicRules:
    """Rules from ``path``, or the bundled defaults; a bad file is a ConfigError naming it."""
    where = str(path) if path else "the bundled topics.toml"
    try:
        raw = path.read_text("utf-8") if path else default_rules_text()
        data = tomllib.loads(raw)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read topic rules from {where}: {e}") from e
    rules: list[TopicRule] = []
    for i, item in enumerate(data.get("topic", []), start=1):
        tag = normalize_tag(str(item.get("tag", "")))
        patterns = item.get("patterns", [])
        if tag is None or not isinstance(patterns, list) or not patterns:
            raise ConfigError(f"{where}: topic #{i} needs a tag and a list of patterns")
        try:
            # One alternation per topic: a single scan of the text instead of one per pattern.
            joined = "|".join(f"(?:{p})" for p in patterns)
            rules.append(TopicRule(tag=tag, pattern=re.compile(joined, re.IGNORECASE)))
        except re.error as e:
            raise ConfigError(f"{where}: topic {tag.display!r} has a bad pattern: {e}") from e
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict):
        raise ConfigError(f"{where}: [aliases] must be a table of alias = tag")
    return TopicRules(
        rules=tuple(rules), aliases=tuple((str(k), str(v)) for k, v in aliases.items())
    )
