"""Topic rules: the prefiltered matcher gives exactly the tags of the plain regex search."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest

from digests.errors import ConfigError
from digests.topics import _FOLD_TRAPS, TopicRules, _usable, load_aliases, load_rules

_ALL = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000)

_WORDS = [
    # English, with the topics' words, their inflections and near misses
    "alignment",
    "Alignment",
    "ALIGNED WITH",
    "aligning to",
    "misalignment",
    "align",
    "model alignment",
    "RLHF",
    "rlhf-based",
    "RLHFs",
    "DPO",
    "dpo,",
    "kDPO",
    "GRPO",
    "preference optimisation",
    "Preference Optimization",
    "preference data",
    "reward model",
    "reward-model",
    "human feedback",
    "constitutional AI",
    "agent",
    "agents",
    "Agents'",
    "reagent",
    "agentic",
    "tool use",
    "tool-use",
    "tooluse",
    "function calling",
    "jailbreak",
    "jailbreaking",
    "red-teaming",
    "red teaming",
    "redteaming",
    "harmfulness",
    "AI safety",
    "guardrails",
    "reasoning",
    "chain-of-thought",
    "Chain of Thought",
    "CoT",
    "cot-style",
    "test-time compute",
    "test time scaling",
    "retrieval-augmented",
    "RAG",
    "rag-time",
    "quantization",
    "quantized",
    "distillation",
    "pruning",
    "speculative decoding",
    "KV cache",
    "kv-cache",
    "efficient inference",
    "multimodal",
    "multi-modal",
    "vision-language",
    "VLM",
    "VLMs",
    "text-to-image",
    "benchmark",
    "benchmarking",
    "evaluation",
    "leaderboard",
    # Japanese
    "アライメント",
    "アラインメント",
    "選好",
    "人間のフィードバック",
    "安全性",
    "ジェイルブレイク",
    "エージェント",
    "推論能力",
    "思考",
    "検索拡張",
    "量子化",
    "蒸留",
    "効率",
    "マルチモーダル",
    "ベンチマーク",
    "評価",
    "本研究では",
    "大規模言語モデル",
    "を提案する。",
    # characters that case-fold onto ASCII letters, fullwidth letters, Greek, controls
    "İ",
    "ı",
    "ſ",
    "K",
    "ＤＰＯ",
    "ａｇｅｎｔ",
    "Σίσυφος",
    "ΣΑΣ",
    "ß",
    "ﬁne",
    "\u00a0",
    "\n",
    "model",
    "language",
    "the",
    "of",
    "a",
    "we",
    "propose",
    "-",
    "_",
    "'",
    ".",
    ",",
    "(",
    ")",
]


def _texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        words = rnd.choices(_WORDS, k=rnd.randint(0, 40))
        glue = rnd.choice([" ", "", " ", "\n", "、"])
        text = glue.join(words)
        if rnd.random() < 0.2:  # traps and stray case somewhere in the text
            i = rnd.randint(0, len(text))
            text = text[:i] + rnd.choice(["İ", "ı", "ſ", "K", "A", "z"]) + text[i:]
        out.append(text)
    return out


def _plain(rules: TopicRules, *texts: str | None) -> list[str]:
    body = "\n".join(t for t in texts if t)
    return [r.tag.slug for r in rules.rules if body and r.pattern.search(body)]


def test_bundled_rules_give_the_tags_of_the_plain_search() -> None:
    rules = load_rules()
    assert all(rule.probes for rule in rules.rules)  # the prefilter is in use
    texts = _texts(4000, seed=1)
    for a, b, c in zip(texts, texts[1:], texts[2:], strict=False):
        assert [t.slug for t in rules.topics_for(a, None, b, c)] == _plain(rules, a, b, c)


def test_unusual_patterns_give_the_tags_of_the_plain_search(tmp_path: Path) -> None:
    patterns = [
        r"(?:foo|bar)+baz",
        r"\bx(?-i:Agent)s?\b",
        r"(?i:MODEL)\s+alignment",
        r"(?<!re)agent",
        r"agent(?!ic)",
        r"^we\b",
        r"\.$",
        r"(a)\1",
        r"(?P<w>tool)[- ](?P=w)",
        r"[A-Z]{3}",
        r"\w+ing\b",
        r"(?>chain)-of",
        r"red(?:-| )?team",
        r"x*",
        r"(?:)",
        r"k",
        r"s",
        r"i",
        r"ß",
        r"σ",
        r"ＤＰＯ",
        r"(?:llm|)alignment",
        r"(?a:\bagent\b)",
        r"評価|価値",
        r"(?s:.)ー",
    ]
    quoted = [f"'{p}'" for p in patterns]  # TOML literal strings: no escapes
    lines = [f"[[topic]]\ntag = 'T{i}'\npatterns = [{q}]\n" for i, q in enumerate(quoted)]
    lines.append("[[topic]]\ntag = 'All'\npatterns = [" + ", ".join(quoted) + "]\n")
    path = tmp_path / "rules.toml"
    path.write_text("".join(lines), "utf-8")
    rules = load_rules(path)
    assert [r.pattern.pattern for r in rules.rules[:3]] == [f"(?:{p})" for p in patterns[:3]]
    for text in _texts(3000, seed=2):
        assert [t.slug for t in rules.topics_for(text)] == _plain(rules, text), text


def test_group_references_keep_the_joined_search(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[[topic]]\ntag = 'X'\npatterns = ['(a)\\1', 'agent']\n", "utf-8")
    [rule] = load_rules(path).rules
    assert rule.probes == ()
    assert load_rules(path).topics_for("aa") == [rule.tag]


def test_only_the_known_characters_fold_onto_ascii() -> None:
    """What the lowercased-text prefilter relies on, checked against ``re`` itself."""
    extra: set[str] = set()
    for ch in string.printable:
        extra |= set(re.findall(re.escape(ch), _ALL, re.IGNORECASE)) - {ch.lower(), ch.upper()}
    assert all(_FOLD_TRAPS.fullmatch(c) for c in extra)
    # Lowercasing keeps every other character one character: positions stay aligned.
    assert [c for c in _ALL if len(c.lower()) != 1] == ["\u0130"]


def test_characters_without_case_match_only_themselves() -> None:
    usable = {c for c in _ALL if not c.isascii() and _usable(c)}
    # No other character lowercases onto one of them (re compares simple lowercases).
    assert not [c for c in _ALL if c.lower() != c and c.lower() in usable]
    sample = random.Random(3).sample(sorted(usable), 60) + list("アライメント評価選好思考")
    for ch in sample:
        assert re.findall(re.escape(ch), _ALL, re.IGNORECASE) == [ch]


def test_aliases_load_alone_as_the_rules_give_them(tmp_path: Path) -> None:
    assert load_aliases() == load_rules().aliases
    topics = tmp_path / "topics.toml"
    # A look-up needs only the aliases: a pattern that would not compile is the business
    # of the commands that tag papers, which still refuse it.
    topics.write_text(
        '[[topic]]\ntag = "RLHF"\npatterns = ["(unclosed"]\n\n[aliases]\nrlhf = "RLHF"\n',
        "utf-8",
    )
    assert load_aliases(topics) == (("rlhf", "RLHF"),)
    with pytest.raises(ConfigError, match="bad pattern"):
        load_rules(topics)
    topics.write_text('aliases = ["not", "a", "table"]\n', "utf-8")
    with pytest.raises(ConfigError, match=r"\[aliases\] must be a table"):
        load_aliases(topics)
