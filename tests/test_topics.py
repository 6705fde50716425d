"""Topic rules: the prefiltered matcher gives exactly the tags of the plain regex search."""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

import pytest

from digests.errors import ConfigError
from digests.model import Entry, ParseContext, SourceKind
from digests.sources import detect_kind, parse_document
from digests.topics import (
    _FOLD_TRAPS,
    Before,
    Terms,
    TopicRule,
    TopicRules,
    _usable,
    load_aliases,
    load_rules,
    score_rules,
)
from tests.paths import FIXTURES, SHARED

# Hand-labelled titles and abstracts: the set the rules were tuned on, and two written
# after (see benchmarks/NOTES.md).
_LABELLED = ("labelled.json", "heldout.json", "fresh.json")

_ALL = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000)

_WORDS = [
    # English, with the topics' words, their inflections and near misses
    "alignment",
    "Alignment",
    "word alignment",
    "image-text alignment",
    "language model",
    "vision-language models",
    "protein language model",
    "LLMs",
    "process reward model",
    "RLHF_DPO",
    "単語アライメント",
    "safety-critical",
    "reducing agents",
    "vector quantization",
    "multimodal distribution",
    "inference",
    "latency",
    "harmful content",
    "human values",
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
    """The rules' meaning, searched without the prefilter."""
    body = "\n".join(t for t in texts if t)

    def found(terms: Terms | None) -> bool:
        return terms is not None and terms.pattern.search(body) is not None

    def vetoed(rule: TopicRule) -> bool:
        if found(rule.unless):
            return True
        if rule.unless_before is None or rule.weak is None:
            return False
        weak = [p.pattern for p in rule.weak.probes] or [rule.weak.pattern]
        starts = [i for i in range(len(body) + 1) if any(p.match(body, i) for p in weak)]
        return any(rule.unless_before.precedes(body, i) for i in starts)

    return [
        r.tag.slug
        for r in rules.rules
        if body and (found(r.terms) or (found(r.weak) and found(r.context) and not vetoed(r)))
    ]


def test_bundled_rules_give_the_tags_of_the_plain_search() -> None:
    rules = load_rules()
    parts = [(r.terms, r.weak, r.context, r.unless) for r in rules.rules]
    assert all(t.probes for four in parts for t in four if t)  # the prefilter is in use
    assert any(r.weak and r.context and r.unless for r in rules.rules)
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
    # The weak road: each unusual pattern as the weak term, the context or the veto.
    for i, q in enumerate(quoted):
        lines.append(
            f"[[topic]]\ntag = 'W{i}'\nweak = [{q}]\ncontext = ['agent', 'model']\n"
            "unless_before = ['we', 'model', 'x', '単語']\n"
        )
        lines.append(f"[[topic]]\ntag = 'C{i}'\nweak = ['align']\ncontext = [{q}]\n")
        lines.append(
            f"[[topic]]\ntag = 'U{i}'\nweak = ['align']\ncontext = ['model']\nunless = [{q}]\n"
        )
    path = tmp_path / "rules.toml"
    path.write_text("".join(lines), "utf-8")
    rules = load_rules(path)
    assert [r.terms.pattern.pattern for r in rules.rules[:3] if r.terms] == [
        f"(?:{p})" for p in patterns[:3]
    ]
    for text in _texts(3000, seed=2):
        assert [t.slug for t in rules.topics_for(text)] == _plain(rules, text), text


def test_group_references_keep_the_joined_search(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[[topic]]\ntag = 'X'\npatterns = ['(a)\\1', 'agent']\n", "utf-8")
    [rule] = load_rules(path).rules
    assert rule.terms is not None
    assert rule.terms.probes == ()
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


# -- what each bundled rule means -----------------------------------------------------------

# (tag, text, whether the rule tags it): the true cases and the false friends of each rule,
# one line each, so that breaking one pattern, a context word or a veto fails its own line.
_CASES = [
    # Alignment: enough alone
    ("Alignment", "Fine-grained RLHF with per-sentence rewards", True),
    ("Alignment", "What RLHF_DPO really changes", True),  # a mangled "RLHF/DPO" title
    ("Alignment", "kDPO: a kernel density estimator", False),
    ("Alignment", "SimPO: Simple Preference Optimization with a Reference-Free Reward", True),
    ("Alignment", "Curating preference data at scale", True),
    ("Alignment", "Outputs rated against human preferences", True),
    ("Alignment", "Learning from AI feedback instead of annotators", True),
    ("Alignment", "Constitutional AI: Harmlessness from AI Feedback", True),
    ("Alignment", "Superalignment needs new supervisors", True),
    ("Alignment", "Sycophancy grows with scale", True),
    ("Alignment", "Reward hacking in code agents", True),
    ("Alignment", "Scalable oversight with debate", True),
    ("Alignment", "Weak-to-strong generalization in practice", True),
    ("Alignment", "A survey of LLM alignment", True),
    ("Alignment", "Value alignment of autonomous systems", True),
    ("Alignment", "Safety alignment should be more than a few tokens deep", True),
    ("Alignment", "On the alignment of large language models with human values", True),
    ("Alignment", "The alignment tax of instruction tuning", True),
    ("Alignment", "Aligning large language models to follow rules", True),
    ("Alignment", "Aligned LLMs still leak their training data", True),
    ("Alignment", "We align the policy with human values through debate", True),
    ("Alignment", "Helpful and harmless assistants by design", True),
    ("Alignment", "人間のフィードバックによる強化学習", True),
    ("Alignment", "応答が人間の好みと一致する", True),
    ("Alignment", "選好データの構築", True),
    # Alignment: the weak words, with and without their context
    ("Alignment", "Rethinking alignment: base LLMs vs their instruction-tuned versions", True),
    ("Alignment", "Emergent misalignment after fine-tuning a chat model", True),
    ("Alignment", "Ensembles of reward models reduce overoptimization in chat models", True),
    ("Alignment", "Preference learning for language models fails to teach refusal", True),
    ("Alignment", "LLMのアライメントと安全性", True),
    ("Alignment", "アラインメント調整の効果は表面的である", True),
    ("Alignment", "Alignment of point sets under noise", False),  # no context word
    # An LLM alone is no context: LLMs align answers, sentences and image features too.
    ("Alignment", "Calibrating confidence of LLMs through answer alignment", False),
    ("Alignment", "The alignment enables captioning with a large language model", False),
    ("Alignment", "A reward model scores the chat model's answers", True),
    ("Alignment", "A reward model for reward shaping in robot grasping", False),
    ("Alignment", "Preference learning for top-k recommendation", False),
    ("Alignment", "A reward model for robot grasping from demonstrations", False),
    ("Alignment", "Image-text alignment in vision-language models", False),
    ("Alignment", "Alignment of sequences with protein language models", False),
    # Alignment: a context word, but the text uses "alignment" in another sense
    (
        "Alignment",
        "Word alignment from multilingual language models; the alignment is sparse",
        False,
    ),
    ("Alignment", "Entity alignment with LLMs: the alignment needs no seeds", False),
    ("Alignment", "Cross-modal alignment for LLMs improves grounding", False),
    ("Alignment", "Temporal alignment of video and narrations with LLMs", False),
    ("Alignment", "We learn an alignment between image regions and words with an LLM", False),
    ("Alignment", "LLM features with an alignment loss converge faster", False),
    ("Alignment", "Process reward models guide LLM search on math", False),
    ("Alignment", "言語モデルを用いた単語アライメント", False),
    # Safety
    ("Safety", "Universal jailbreaks of aligned chat models", True),
    ("Safety", "Automated red teaming with RL", True),
    ("Safety", "Refusing harmful requests without over-refusal", True),
    ("Safety", "Prompt injection attacks on tool-using assistants", True),
    ("Safety", "大規模言語モデルへのジェイルブレイク攻撃", True),
    ("Safety", "Improving the safety of LLM outputs", True),
    ("Safety", "LLMの安全性を高めるデータセット", True),
    ("Safety", "Safe navigation for mobile robots with safety constraints", False),
    ("Safety", "LLMs in safety-critical domains: a safety case for medicine", False),
    ("Safety", "Harmful algal blooms predicted from satellite data", False),
    # Agents
    ("Agents", "Agentic workflows for data analysis", True),
    ("Agents", "Benchmarks for tool use", True),
    ("Agents", "Function calling with small models", True),
    ("Agents", "LLM agents that browse", True),
    ("Agents", "Web agents on long-horizon tasks", True),
    ("Agents", "An agent framework for spreadsheets", True),
    ("Agents", "Multi-agent debate among LLMs", True),
    ("Agents", "LLMエージェントの評価", True),
    ("Agents", "Multi-agent reinforcement learning for traffic signals", False),
    ("Agents", "Predicting reducing agents for reactions with language models", False),
    # Reasoning
    ("Reasoning", "Chain-of-thought prompting elicits reasoning", True),
    ("Reasoning", "Long CoT for small models", True),
    ("Reasoning", "Test-time scaling of compute", True),
    ("Reasoning", "Stable GRPO for math", True),
    ("Reasoning", "推論能力の向上", True),
    ("Reasoning", "Graph networks for molecules", False),
    # RAG
    ("RAG", "Retrieval-augmented generation for long answers", True),
    ("RAG", "RAG poisoning", True),
    ("RAG", "検索拡張生成", True),
    ("RAG", "A rag-tag collection of heuristics", False),
    # Efficiency
    ("Efficiency", "Speculative decoding with draft trees", True),
    ("Efficiency", "Compressing the KV cache", True),
    ("Efficiency", "Efficient inference for long contexts", True),
    ("Efficiency", "Parameter-efficient fine-tuning", True),
    ("Efficiency", "4-bit quantization of LLMs", True),
    ("Efficiency", "Quantized experts cut memory by 3x", True),
    ("Efficiency", "Distillation into a compact detector that runs faster", True),
    ("Efficiency", "Pruning attention heads to halve latency", True),
    ("Efficiency", "モデルの量子化", True),
    ("Efficiency", "推論の高速化", True),
    ("Efficiency", "We reduce the inference cost of long-context models", True),
    ("Efficiency", "効率的な推論を実現する", True),
    ("Efficiency", "計算コストを削減した", True),
    ("Efficiency", "Knowledge distillation of medical concepts", False),  # no context word
    ("Efficiency", "Vector quantization tokenizers reduce memory of image generators", False),
    ("Efficiency", "解空間を効率的に探索する手法を提案する", False),
    # Multimodal
    ("Multimodal", "Vision-language models as zero-shot classifiers", True),
    ("Multimodal", "A VLM for charts", True),
    ("Multimodal", "Hallucination in MLLMs", True),
    ("Multimodal", "Text-to-image diffusion", True),
    ("Multimodal", "Image captioning with regions", True),
    ("Multimodal", "Visual question answering on charts", True),
    ("Multimodal", "Audio-visual speech recognition", True),
    ("Multimodal", "Improving image-text matching", True),
    ("Multimodal", "Hard negatives for CLIP", True),
    ("Multimodal", "Multimodal fusion of images and text", True),
    ("Multimodal", "マルチモーダルな推論", True),
    ("Multimodal", "Multimodal posteriors of inverse problems with text priors", False),
    ("Multimodal", "Multimodal optimization with evolutionary strategies", False),
    # Evaluation
    ("Evaluation", "We introduce a benchmark of 2,400 prompts", True),
    ("Evaluation", "MMLU-Pro-X: A Harder Multilingual Benchmark", True),
    ("Evaluation", "A benchmark for web agents", True),
    ("Evaluation", "Benchmarking LLMs on law", True),
    ("Evaluation", "An open leaderboard", True),
    ("Evaluation", "LLM-as-a-judge prefers longer answers", True),
    ("Evaluation", "An evaluation framework for RAG", True),
    ("Evaluation", "Evaluating large language models on chemistry", True),
    ("Evaluation", "日本語ベンチマークを構築した", True),
    ("Evaluation", "We evaluate on three benchmarks and reach the state of the art", False),
    ("Evaluation", "Extensive evaluation shows gains on benchmark datasets", False),
    ("Evaluation", "ベンチマークで最高性能を達成した", False),
]


@pytest.mark.parametrize(("tag", "text", "expected"), _CASES, ids=[c[1][:50] for c in _CASES])
def test_each_rule_tags_its_topic_and_not_its_false_friends(
    tag: str, text: str, expected: bool
) -> None:
    found = [t.display for t in load_rules().topics_for(text)]
    assert (tag in found) == expected, found


def test_every_rule_has_true_cases_and_false_friends() -> None:
    tags = {r.tag.display for r in load_rules().rules}
    assert {c[0] for c in _CASES if c[2]} == tags
    assert {c[0] for c in _CASES if not c[2]} == tags


def _labelled(path: Path) -> list[tuple[tuple[str, str], set[str]]]:
    items = json.loads(path.read_text("utf-8"))
    return [((i["title"], i["abstract"]), {t.lower() for t in i["topics"]}) for i in items]


def test_alignment_rule_is_precise_on_labelled_listings() -> None:
    """Hand-labelled arXiv-like titles and abstracts, half of them other fields'
    "alignment" (captioning, depth, word alignment...): the tag must mean aligning models."""
    labelled = [item for name in _LABELLED for item in _labelled(FIXTURES / "topics" / name)]
    scores = {s.tag: s for s in score_rules(load_rules(), labelled)}
    alignment = scores["Alignment"]
    assert alignment.positives >= 30
    assert alignment.precision is not None and alignment.precision >= 0.8
    assert alignment.recall is not None and alignment.recall >= 0.8
    assert all(s.precision is None or s.precision >= 0.6 for s in scores.values()), scores


def test_score_counts_labels_predictions_and_hits(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[[topic]]\ntag = 'RAG'\npatterns = ['\\bRAG\\b']\n", "utf-8")
    labelled = [
        (("RAG for QA",), {"rag"}),  # hit
        (("Retrieval for QA",), {"rag"}),  # missed
        (("RAG poisoning",), set()),  # wrongly tagged
        (("Other",), set()),
    ]
    [score] = score_rules(load_rules(path), labelled)
    assert (score.tag, score.positives, score.predicted, score.hits) == ("RAG", 2, 2, 1)
    assert (score.precision, score.recall) == (0.5, 0.5)
    [empty] = score_rules(load_rules(path), [(("Other",), set())])
    assert (empty.precision, empty.recall) == (None, None)


@pytest.mark.skipif(not (SHARED / "seeds").is_dir(), reason="no ../shared/seeds")
def test_word_alignment_notes_are_not_tagged_alignment() -> None:
    """The real paper-notes Alignment page also files machine translation's word alignment
    under its tag; the rule tags the language-model entries of that page and not those."""
    rules = load_rules()
    entries = [
        e
        for path in sorted((SHARED / "seeds").iterdir())
        if detect_kind(data := path.read_bytes(), ParseContext()) is SourceKind.NOTES_HTML
        for e in parse_document(data, ParseContext()).entries
    ]
    assert entries

    def tagged(e: Entry) -> bool:
        found = rules.topics_for(e.title, e.abstract, e.summary, e.ai_summary)
        return any(t.slug == "alignment" for t in found)

    other_sense = [
        e for e in entries if {"MachineTranslation", "DocumentSummarization"} & set(e.tags)
    ]
    models = [e for e in entries if "LanguageModel" in e.tags]
    assert len(other_sense) >= 5 and len(models) >= 5
    assert not [e.title for e in other_sense if tagged(e)]
    assert sum(map(tagged, models)) >= len(models) // 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("weak = ['align']\n", "weak patterns go with context"),
        ("patterns = ['x']\ncontext = ['model']\n", "weak patterns go with context"),
        ("patterns = ['x']\nunless = ['word']\n", "unless phrases only with weak"),
        ("patterns = ['x']\nunless_before = ['word']\n", "unless phrases only with weak"),
        ("weak = ['a']\ncontext = ['b']\nunless_before = 'word'\n", "unless_before must be a list"),
        ("weak = 'align'\ncontext = ['model']\n", "weak must be a list of patterns"),
        ("patterns = ['x', 3]\n", "patterns must be a list of patterns"),
        ("weak = ['align']\ncontext = ['(model']\n", "bad pattern"),
        ("weak = ['align']\ncontext = ['model']\nunless = ['(word']\n", "bad pattern"),
        ("context = ['model']\n", "needs a tag and a list of patterns"),
    ],
)
def test_bad_rules_are_refused_with_one_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[[topic]]\ntag = 'Alignment'\n" + body, "utf-8")
    with pytest.raises(ConfigError, match=message):
        load_rules(path)


def test_weak_terms_need_context_and_no_veto(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "[[topic]]\ntag = 'A'\npatterns = ['RLHF']\nweak = ['alignment']\n"
        "context = ['model']\nunless = ['word alignment']\n",
        "utf-8",
    )
    rules = load_rules(path)
    assert [t.display for t in rules.topics_for("alignment", "of the model")] == ["A"]
    assert rules.topics_for("alignment") == []
    assert rules.topics_for("model") == []
    assert rules.topics_for("word alignment; the alignment of the model") == []
    assert [t.display for t in rules.topics_for("word alignment with RLHF")] == ["A"]


@pytest.mark.parametrize(
    ("text", "vetoed"),
    [
        ("word alignment", True),
        ("Word-alignment", True),
        ("words alignment", True),
        ("image-text alignment", True),
        ("point cloud alignment", True),
        ("subword alignment", False),  # a longer word that ends in a listed one
        ("wordalignment", False),
        ("word  alignment", False),  # one space or hyphen, not two
        ("the alignment", False),
        ("単語アライメント", True),
        ("単語のアライメント", True),
        ("LLMのアライメント", False),
        ("alignment", False),
    ],
)
def test_words_right_before_a_weak_term_veto_it(text: str, vetoed: bool) -> None:
    before = Before.of(["word", "point cloud", "image-text", "単語"])
    at = max(text.find("alignment"), text.find("アライメント"))
    assert before.precedes(text, at) == vetoed
