"""Topic-tag rules and tag aliases: loaded from TOML, applied as a pure function."""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ahocorasick_rs import MATCHKIND_STANDARD, AhoCorasick

from digests.errors import ConfigError
from digests.normalize import TagName, normalize_tag

# The origin of the tags the rules give, beside "source:<name>" and "category".
RULE_ORIGIN = "rule"

# The only characters outside ASCII that a case-insensitive ASCII letter matches in
# Python's ``re`` (dotted/dotless i, long s, Kelvin sign); str.lower() does not turn them
# into the letter they match, so a text holding one is searched without the prefilter.
_FOLD_TRAPS = re.compile("[\u0130\u0131\u017f\u212a]")


# eq=False: probes and terms are told apart by identity, cheaply, in the per-text maps.
@dataclass(frozen=True, slots=True, eq=False)
class Probe:
    """One pattern of a rule, with the lowercased strings that let most texts skip it."""

    pattern: re.Pattern[str]
    # Every match holds one of these (empty: the pattern is searched on every text).
    needles: tuple[str, ...] = ()
    # Every match starts with one of the needles, so only where one occurs is tried.
    anchored: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Terms:
    """Patterns of which any one matching is enough, joined and one by one."""

    pattern: re.Pattern[str]
    # The patterns one by one; empty when they cannot be searched apart (a group
    # reference), and then ``pattern`` is searched.
    probes: tuple[Probe, ...] = ()

    def hit(self, body: str, found: Found | None) -> bool:
        """Whether ``pattern`` matches ``body``; ``found`` is what ``Needles.find`` found
        in it, or None when the prefilter cannot be trusted."""
        if found is None or not self.probes:
            return self.pattern.search(body) is not None
        for probe, where in found.get(self, ()):
            if not probe.anchored:
                if probe.pattern.search(body) is not None:
                    return True
                continue
            match = probe.pattern.match
            for at in where:
                if match(body, at) is not None:
                    return True
        return False

    def starts(self, body: str, found: Found | None) -> Iterator[int]:
        """Every position where a match of one of the patterns starts."""
        if found is None or not self.probes:
            yield from _starts(self.pattern, body)
            return
        for probe, where in found.get(self, ()):
            if probe.anchored:
                match = probe.pattern.match
                yield from (at for at in where if match(body, at) is not None)
            else:
                yield from _starts(probe.pattern, body)


# For each part of a rule, the probes that may match a text and where their needles occur
# in it (``str.lower`` keeps positions: see ``_FOLD_TRAPS``). A probe without needles is
# always there, with no positions.
Found = dict[Terms, list[tuple[Probe, list[int]]]]


class Needles:
    """Every needle of a rule set, found in a text in one pass.

    A rule set holds a few hundred needles; looking for each in turn reads the text a few
    hundred times. An Aho-Corasick automaton reads it once and gives every occurrence,
    overlapping ones included ("align" inside "alignment"); only the probes whose needles
    occur are then tried.
    """

    def __init__(self, parts: Iterable[Terms]) -> None:
        owners: dict[str, list[tuple[Terms, Probe]]] = {}
        self.always: list[tuple[Terms, Probe]] = []
        for part in parts:
            for probe in part.probes:
                if not probe.needles:
                    self.always.append((part, probe))
                for needle in probe.needles:
                    owners.setdefault(needle, []).append((part, probe))
        self.words = tuple(owners)
        self.owners = tuple(owners[w] for w in self.words)
        self._finder = AhoCorasick(self.words, matchkind=MATCHKIND_STANDARD) if self.words else None

    def find(self, folded: str) -> Found:
        at: dict[int, list[int]] = {}
        if self._finder is not None:
            for i, start, _ in self._finder.find_matches_as_indexes(folded, overlapping=True):
                at.setdefault(i, []).append(start)
        found: Found = {}
        for part, probe in self.always:
            found.setdefault(part, []).append((probe, []))
        seen: dict[Probe, list[int]] = {}
        for i, where in at.items():
            for part, probe in self.owners[i]:
                mine = seen.get(probe)
                if mine is None:
                    mine = seen[probe] = list(where)
                    found.setdefault(part, []).append((probe, mine))
                else:
                    mine.extend(where)
        return found


def _starts(pattern: re.Pattern[str], body: str) -> Iterator[int]:
    """Every position where a match starts, overlapping ones too (``finditer`` skips them)."""
    at = 0
    while at <= len(body) and (m := pattern.search(body, at)) is not None:
        yield m.start()
        at = m.start() + 1


@dataclass(frozen=True, slots=True)
class Before:
    """Words that, right before a weak term ("word" alignment, "image-text" alignment),
    show the text uses it in another field's sense."""

    words: tuple[str, ...]  # lowercased, with plurals ("words") and "の" forms ("文の")
    longest: int

    @classmethod
    def of(cls, words: Iterable[str]) -> Before:
        plain = {w.strip().lower() for w in words if w.strip()}
        more = {w + "s" if w.isascii() else w + "の" for w in plain}
        every = tuple(sorted(plain | more))
        return cls(every, max(map(len, every)))

    def precedes(self, body: str, at: int) -> bool:
        """Whether one of the words ends just before ``at``: then a space or a hyphen
        (none before Japanese), and before the word no letter or digit."""
        tail = body[max(0, at - self.longest - 1) : at].lower()
        if tail[-1:] in (" ", "-"):
            tail = tail[:-1]
        elif tail[-1:].isascii() or body[at : at + 1].isascii():
            return False
        if not tail.endswith(self.words):
            return False
        for word in self.words:
            if tail.endswith(word):
                before = tail[-len(word) - 1 : -len(word)]
                if not word.isascii() or not before or not before.isalnum():
                    return True
        return False


@dataclass(frozen=True, slots=True)
class TopicRule:
    """A topic tag and when a text is about it.

    ``terms`` are enough on their own ("RLHF"). ``weak`` terms ("alignment") name the
    topic only in the company of a ``context`` term ("human preferences"), and not in a
    text that holds an ``unless`` phrase ("alignment loss") or one of the
    ``unless_before`` words right before a weak term ("word" alignment): such a text
    uses the word in another field's sense, there and wherever else it says "the
    alignment".
    """

    tag: TagName
    terms: Terms | None = None
    weak: Terms | None = None
    context: Terms | None = None
    unless: Terms | None = None
    unless_before: Before | None = None

    def matches(self, body: str, found: Found | None) -> bool:
        if self.terms is not None and self.terms.hit(body, found):
            return True
        weak, context, unless = self.weak, self.context, self.unless
        if weak is None or context is None or not weak.hit(body, found):
            return False
        if not context.hit(body, found) or (unless and unless.hit(body, found)):
            return False
        before = self.unless_before
        return before is None or not any(
            before.precedes(body, at) for at in weak.starts(body, found)
        )


@dataclass(frozen=True, slots=True)
class TopicRules:
    rules: tuple[TopicRule, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # (alias, tag display)
    needles: Needles = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = [p for r in self.rules for p in (r.terms, r.weak, r.context, r.unless) if p]
        object.__setattr__(self, "needles", Needles(parts))

    def topics_for(self, *texts: str | None) -> list[TagName]:
        """The topic tags whose rules match the texts, read as one.

        ``re`` has no fast scan for case-insensitive patterns that start with ``\\b``: it
        would try every alternative at every position. So each pattern is tried only
        where a string every match of it holds occurs in the lowercased text (see
        ``probes_for``), all such strings being found in one pass (``Needles``); the
        pattern itself still decides, so the tags are those of the plain search.
        """
        body = "\n".join(t for t in texts if t)
        if not body:
            return []
        found = None if _FOLD_TRAPS.search(body) else self.needles.find(body.lower())
        return [rule.tag for rule in self.rules if rule.matches(body, found)]


@dataclass(frozen=True, slots=True)
class Score:
    """How one rule agrees with hand labels: what a curator tagged, what the rule tagged."""

    tag: str
    positives: int  # items labelled with the tag
    predicted: int  # items the rule tags
    hits: int  # both

    @property
    def precision(self) -> float | None:
        return self.hits / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.hits / self.positives if self.positives else None


def score_rules(
    rules: TopicRules, labelled: Iterable[tuple[Sequence[str | None], Iterable[str]]]
) -> list[Score]:
    """Each rule's score over ``(texts, tag slugs a person gave them)`` items."""
    items = [(rules.topics_for(*texts), set(labels)) for texts, labels in labelled]
    scores = []
    for rule in rules.rules:
        slug = rule.tag.slug
        said = [slug in labels for _, labels in items]
        got = [any(t.slug == slug for t in found) for found, _ in items]
        hits = sum(a and b for a, b in zip(said, got, strict=True))
        scores.append(Score(rule.tag.display, sum(said), sum(got), hits))
    return scores


def default_rules_text() -> str:
    return resources.files("digests").joinpath("data/topics.toml").read_text("utf-8")


def _read_rules_file(path: Path | None) -> tuple[str, dict[str, Any]]:
    where = str(path) if path else "the bundled topics.toml"
    try:
        raw = path.read_text("utf-8") if path else default_rules_text()
        return where, tomllib.loads(raw)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read topic rules from {where}: {e}") from e


def _aliases(where: str, data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict):
        raise ConfigError(f"{where}: [aliases] must be a table of alias = tag")
    return tuple((str(k), str(v)) for k, v in aliases.items())


def load_aliases(path: Path | None = None) -> tuple[tuple[str, str], ...]:
    """The tag aliases alone (alias, tag display) of ``path`` or the bundled defaults,
    without compiling the topic patterns: what a look-up needs."""
    return _aliases(*_read_rules_file(path))


def load_rules(path: Path | None = None) -> TopicRules:
    """Rules from ``path``, or the bundled defaults; a bad file is a ConfigError naming it."""
    where, data = _read_rules_file(path)
    rules: list[TopicRule] = []
    for i, item in enumerate(data.get("topic", []), start=1):
        tag = normalize_tag(str(item.get("tag", "")))
        if tag is None:
            raise ConfigError(f"{where}: topic #{i} needs a tag and a list of patterns")
        keys = ("patterns", "weak", "context", "unless", "unless_before")
        lists = {key: item.get(key, []) for key in keys}
        bad = [
            k
            for k, v in lists.items()
            if not isinstance(v, list) or not all(isinstance(p, str) for p in v)
        ]
        if bad:
            raise ConfigError(
                f"{where}: topic {tag.display!r}: {bad[0]} must be a list of patterns"
            )
        if not lists["patterns"] and not lists["weak"]:
            raise ConfigError(f"{where}: topic #{i} needs a tag and a list of patterns")
        vetoes = lists["unless"] or lists["unless_before"]
        if bool(lists["weak"]) != bool(lists["context"]) or (vetoes and not lists["weak"]):
            raise ConfigError(
                f"{where}: topic {tag.display!r}: weak patterns go with context patterns"
                " (and unless phrases only with weak patterns)"
            )
        try:
            terms = {k: _terms(v) for k, v in lists.items() if k != "unless_before"}
        except re.error as e:
            raise ConfigError(f"{where}: topic {tag.display!r} has a bad pattern: {e}") from e
        rules.append(
            TopicRule(
                tag,
                terms["patterns"],
                terms["weak"],
                terms["context"],
                terms["unless"],
                Before.of(lists["unless_before"]) if lists["unless_before"] else None,
            )
        )
    return TopicRules(rules=tuple(rules), aliases=_aliases(where, data))


def _joined(patterns: Sequence[str]) -> re.Pattern[str]:
    # One alternation: a single scan of the text instead of one per pattern.
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def _terms(patterns: Sequence[str]) -> Terms | None:
    return Terms(_joined(patterns), probes_for(patterns)) if patterns else None


# -- required strings of a pattern ----------------------------------------------------------


def probes_for(patterns: Sequence[str]) -> tuple[Probe, ...]:
    """The patterns of one rule as probes, or () when they must be searched joined.

    A joined alternation matches where any one of its patterns does, so the patterns
    can be searched one by one, unless one refers to a group by number or name (the
    numbering differs once joined). The required strings are read from the parse tree
    of ``re`` itself, so a pattern means exactly what it means to ``re``; a pattern
    with no such strings (a bare ``\\w+``, a lookaround) is simply searched every time.
    """
    try:
        parser = importlib.import_module("re._parser")
        constants = importlib.import_module("re._constants")
        walker = _Needles(constants)
        probes: list[Probe] = []
        for text in patterns:
            compiled = re.compile(text, re.IGNORECASE)
            tree = parser.parse(text, re.IGNORECASE)
            if walker.refers_to_groups(tree):
                return ()
            starts = walker.prefixes(tree)
            if starts:
                # A start that begins with a shorter one is tried where the shorter is.
                firsts = tuple(
                    sorted(n for n in starts if not any(m != n and n.startswith(m) for m in starts))
                )
                probes.append(Probe(compiled, firsts, anchored=True))
                continue
            found = walker.of_sequence(tree)
            probes.append(Probe(compiled, _minimal(found) if found else ()))
    except Exception:  # re's internals changed, or a pattern stands only joined: same tags
        return ()
    return tuple(probes)


def _minimal(needles: Iterable[str]) -> tuple[str, ...]:
    """Without needles that hold a shorter one: the shorter is found whenever they are."""
    found = set(needles)
    return tuple(sorted(n for n in found if not any(m != n and m in n for m in found)))


def _usable(needle: str) -> bool:
    """Whether ``needle in text.lower()`` is implied by a case-insensitive match.

    True for ASCII (``_FOLD_TRAPS`` covers the few other characters ``re`` folds onto
    ASCII letters) and for characters without case, which ``re`` matches only as
    themselves.
    """
    return bool(needle) and all(
        ch.isascii() or (ch.lower() == ch and ch.upper() == ch and ch.casefold() == ch)
        for ch in needle
    )


class _Needles:
    """Walks a ``re`` parse tree for strings every match must contain or start with."""

    def __init__(self, c: Any) -> None:
        self.c = c

    def refers_to_groups(self, items: Iterable[tuple[Any, Any]]) -> bool:
        c = self.c
        for op, av in items:
            if op in (c.GROUPREF, c.GROUPREF_EXISTS):
                return True
            if op is c.SUBPATTERN and self.refers_to_groups(av[3]):
                return True
            if op is c.BRANCH and any(self.refers_to_groups(b) for b in av[1]):
                return True
            repeat = op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)
            if repeat and self.refers_to_groups(av[2]):
                return True
            if op in (c.ASSERT, c.ASSERT_NOT) and self.refers_to_groups(av[1]):
                return True
            if op is c.ATOMIC_GROUP and self.refers_to_groups(av):
                return True
        return False

    def prefixes(self, items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
        """Strings one of which every match starts with (after zero-width ``\\b``, ``^``)."""
        c = self.c
        run: list[str] = []
        for op, av in items:
            if op is c.LITERAL:
                run.append(chr(av))
                continue
            if run:
                break
            if op is c.AT:
                continue
            found: frozenset[str] | None = None
            if op is c.SUBPATTERN:
                found = self.prefixes(av[3])
            elif op is c.BRANCH:
                found = self._union(self.prefixes(b) for b in av[1])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
                found = self.prefixes(av[2])
            elif op is c.ATOMIC_GROUP:
                found = self.prefixes(av)
            return self._checked(found)
        return self._checked(frozenset(["".join(run)]) if run else None)

    def of_sequence(self, items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
        """Strings one of which every match contains: the best of any one item's."""
        c = self.c
        candidates: list[frozenset[str]] = []
        run: list[str] = []

        def close_run() -> None:
            if run:
                candidates.append(frozenset(["".join(run)]))
                run.clear()

        for op, av in items:
            if op is c.LITERAL:
                run.append(chr(av))
                continue
            close_run()
            found: frozenset[str] | None = None
            if op is c.SUBPATTERN:
                # Inline flags change at most how a literal's case is compared; a
                # case-sensitive match is also a case-insensitive one.
                found = self.of_sequence(av[3])
            elif op is c.BRANCH:
                found = self._union(self.of_sequence(b) for b in av[1])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
                found = self.of_sequence(av[2])
            elif op is c.ATOMIC_GROUP:
                found = self.of_sequence(av)
            # AT (\\b, ^), IN, ANY, lookarounds: no required text
            if found:
                candidates.append(found)
        close_run()
        usable = [s for s in (self._checked(c) for c in candidates) if s]
        if not usable:
            return None
        # The longest shortest needle: long strings are rare, so most texts skip the rule.
        return max(usable, key=lambda s: (min(len(n) for n in s), -len(s)))

    @staticmethod
    def _union(sets: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
        """Every alternative must hold one of its strings: the union, if each has some."""
        union: set[str] = set()
        for found in sets:
            if not found:
                return None
            union |= found
        return frozenset(union)

    @staticmethod
    def _checked(found: frozenset[str] | None) -> frozenset[str] | None:
        """Lowercased, or None when a needle has a character the lowercasing can miss."""
        if not found or not all(_usable(n) for n in found):
            return None
        return frozenset(n.lower() for n in found)
