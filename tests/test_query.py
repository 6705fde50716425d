"""The query language: one example per term and error, and properties over any text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digests.errors import QueryError
from digests.query import VALID_TERMS, Options, Query, parse_query

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
SLACK_KEYS = frozenset({"day", "time", "tz", "top", "lang"})


def parse(text: str, *, tz: str = "UTC", extra_keys: frozenset[str] = frozenset()) -> Query:
    return parse_query(text, now=NOW, tz=tz, extra_keys=extra_keys)


def error(text: str, *, tz: str = "UTC", extra_keys: frozenset[str] = frozenset()) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text, tz=tz, extra_keys=extra_keys)
    return info.value


# --- examples: terms ---------------------------------------------------------------------


def test_empty_text_is_the_empty_query() -> None:
    q = parse("   \u3000 ")
    assert q == Query()
    assert q.is_empty()
    assert q.label() == "all papers"
    assert q.to_text() == ""


def test_tags_are_normalized_deduplicated_and_keep_their_display_form() -> None:
    q = parse("tag:Alignment tag:alignment TAG:#ALIGNMENT tag:RLHF")
    assert q.tags == ("alignment", "rlhf")
    assert q.tag_labels == ("Alignment", "RLHF")
    assert q.label() == "#Alignment #RLHF"


def test_quoted_tag_value() -> None:
    q = parse('tag:"Supervised-FineTuning (SFT)"')
    assert q.tags == ("supervised-finetuning-sft",)
    assert q.tag_labels == ("Supervised-FineTuning (SFT)",)
    assert q.to_text() == 'tag:"Supervised-FineTuning (SFT)"'


def test_apostrophes_are_part_of_words_and_tags() -> None:
    q = parse("tag:Admin'sPick don't")
    assert q.tags == ("adminspick",)
    assert q.words == ("don't",)


def test_excluded_tag() -> None:
    q = parse("tag:Alignment -tag:Survey")
    assert q.exclude_tags == ("survey",)
    assert q.exclude_tag_labels == ("Survey",)
    assert q.label() == "#Alignment -#Survey"


def test_authors_and_sources_repeat() -> None:
    q = parse('author:Hinton author:"Yann  LeCun" source:arxiv source:"HF Daily"')
    assert q.authors == ("Hinton", "Yann LeCun")
    assert q.sources == ("arxiv", "HF Daily")
    assert q.label() == "by Hinton, Yann LeCun · from arxiv or HF Daily"


def test_since_until_dates_are_days_in_the_given_zone() -> None:
    q = parse("since:2025-01-01 until:2025-01-31", tz="Asia/Tokyo")
    assert q.since == datetime(2024, 12, 31, 15, 0, tzinfo=UTC)
    # until: a bare date includes the whole day; Query.until is an exclusive bound
    assert q.until == datetime(2025, 1, 31, 15, 0, tzinfo=UTC)
    assert q.since_text == "2025-01-01"
    assert q.label() == "since 2025-01-01 · until 2025-01-31"


def test_dates_default_to_utc_and_take_times_and_offsets() -> None:
    assert parse("since:2025-01-01").since == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse("since:2025-01-01T09:30").since == datetime(2025, 1, 1, 9, 30, tzinfo=UTC)
    q = parse("since:2025-01-01T09:00+09:00", tz="America/New_York")
    assert q.since == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    assert q.since_text == "2025-01-01T09:00+09:00"


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("12h", timedelta(hours=12)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        ("2W", timedelta(weeks=2)),
        ("１d", timedelta(days=1)),
    ],
)
def test_relative_since_counts_back_from_now(text: str, back: timedelta) -> None:
    q = parse(f"since:{text}")
    assert q.since == NOW - back
    assert q.since is not None and q.since.tzinfo is not None


def test_months_and_years_are_calendar_ones() -> None:
    assert parse("since:6m").since == datetime(2024, 9, 15, 12, tzinfo=UTC)
    assert parse("since:1y").since == datetime(2024, 3, 15, 12, tzinfo=UTC)
    end_of_march = datetime(2025, 3, 31, tzinfo=UTC)
    q = parse_query("since:1m", now=end_of_march)
    assert q.since == datetime(2025, 2, 28, tzinfo=UTC)


def test_relative_forms_stay_relative_in_text_and_label() -> None:
    q = parse("tag:Alignment since:2w")
    assert q.label() == "#Alignment · since 2w"
    assert q.to_text() == "tag:Alignment since:2w"
    later = parse_query(q.to_text(), now=NOW + timedelta(days=7))
    assert later.since == NOW + timedelta(days=7) - timedelta(weeks=2)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_query("since:2w", now=datetime(2025, 1, 1))


def test_ids_from_terms_and_pasted_links_are_versionless() -> None:
    q = parse(
        "id:2403.04224v2 https://arxiv.org/abs/2403.04224v2 https://arxiv.org/pdf/2401.00001v1 "
        "id:math/0611800 arXiv:2402.00002 2312.00003"
    )
    assert q.ids == ("2403.04224", "2401.00001", "math/0611800", "2402.00002", "2312.00003")
    assert q.words == ()
    assert q.to_text() == (
        "id:2403.04224 id:2401.00001 id:math/0611800 id:2402.00002 id:2312.00003"
    )


def test_slack_wrapped_links() -> None:
    q = parse("<https://arxiv.org/abs/2403.04224|arxiv.org/abs/2403.04224>")
    assert q.ids == ("2403.04224",)


def test_dois_are_lowercased_and_arxiv_dois_become_ids() -> None:
    q = parse(
        "id:10.1234/ABC https://doi.org/10.1000/xyz doi:10.5555/q "
        "https://doi.org/10.48550/arXiv.2403.04224"
    )
    assert q.dois == ("10.1234/abc", "10.1000/xyz", "10.5555/q")
    assert q.ids == ("2403.04224",)


def test_other_links_are_kept_as_canonical_urls() -> None:
    q = parse("https://www.Example.com/paper/?utm_source=x")
    assert q.urls == ("https://example.com/paper",)
    assert q.to_text() == "id:https://example.com/paper"


def test_free_words_phrases_and_exclusions() -> None:
    q = parse('reasoning "chain of thought" -survey -"literature review" LLM')
    assert q.words == ("reasoning", "LLM")
    assert q.phrases == ("chain of thought",)
    assert q.exclude_words == ("survey",)
    assert q.exclude_phrases == ("literature review",)


def test_slack_smart_quotes_make_phrases_and_values() -> None:
    q = parse("“chain of thought” tag:“Two Words”")
    assert q.phrases == ("chain of thought",)
    assert q.tag_labels == ("Two Words",)


def test_japanese_runs_are_single_words_and_fullwidth_forms_work() -> None:
    q = parse("大規模言語モデルの評価\u3000tag：アライメント　ｌｉｍｉｔ：２０")
    assert q.words == ("大規模言語モデルの評価",)
    assert q.tag_labels == ("アライメント",)
    assert q.limit == 20


def test_japanese_colon_inside_text_is_not_a_term() -> None:
    assert parse("注意：評価").words == ("注意：評価",)


def test_unclosed_quote_runs_to_the_end() -> None:
    q = parse('tag:x "chain of thought')
    assert q.phrases == ("chain of thought",)
    assert q.tags == ("x",)


def test_stray_quotes_inside_words_are_dropped() -> None:
    assert parse('5" foo"bar').words == ("5", "foobar")


def test_title_colon_with_nothing_after_it_is_a_word() -> None:
    assert parse("Mamba: Linear-Time").words == ("Mamba", "Linear-Time")


def test_known_key_takes_the_next_token_as_its_value() -> None:
    q = parse('tag: alignment author: "Yann LeCun"')
    assert q.tags == ("alignment",)
    assert q.authors == ("Yann LeCun",)


def test_quoting_a_term_searches_for_it() -> None:
    assert parse('"re:invent"').phrases == ("re:invent",)


def test_sort_limit_offset_and_defaults() -> None:
    assert (Query().order(), Query().limit, Query().offset) == ("new", 10, 0)
    q = parse("sort:top limit:25 offset:50")
    assert (q.sort, q.limit, q.offset) == ("top", 25, 50)
    assert q.is_empty()
    assert q.next_page().offset == 75


@pytest.mark.parametrize(
    ("text", "sort", "order"),
    [
        ("GPQA", None, "relevance"),  # words: best match first
        ('"reward model"', None, "relevance"),  # a phrase too
        ("GPQA sort:new", "new", "new"),
        ("GPQA sort:top", "top", "top"),
        ("GPQA SORT:Relevance", "relevance", "relevance"),
        ("tag:Alignment", None, "new"),  # nothing to match text against: newest first
        ("-llm", None, "new"),  # an excluded word only: no text to rank by
        ("id:2403.04224", None, "new"),
        ("tag:Alignment sort:relevance", "relevance", "relevance"),
    ],
)
def test_free_text_is_ordered_by_relevance_unless_a_sort_is_given(
    text: str, sort: str | None, order: str
) -> None:
    q = parse(text)
    assert (q.sort, q.order()) == (sort, order)
    # Written back and read again, the order is the same; the default is not written.
    again = parse(q.to_text())
    assert (again.sort, again.order()) == (sort, order)
    assert ("sort:" in q.to_text()) == (sort is not None)


def test_an_unknown_sort_is_one_line_naming_every_sort() -> None:
    e = error("GPQA sort:best")
    assert e.term == "sort:best"
    assert "\n" not in str(e)
    for choice in ("relevance", "new", "top"):
        assert choice in str(e)


def test_extra_keys_come_back_untouched() -> None:
    q = parse('tag:x day:Mon time:"09:00" tz:Asia/Tokyo', extra_keys=SLACK_KEYS)
    assert q.options == {"day": "Mon", "time": "09:00", "tz": "Asia/Tokyo"}
    assert q.options["time"] == "09:00"
    assert hash(q) == hash(parse(q.to_text(), extra_keys=SLACK_KEYS))
    assert isinstance(q.options, Options)


def test_extra_keys_must_not_shadow_terms() -> None:
    with pytest.raises(ValueError, match="extra_keys"):
        parse("x", extra_keys=frozenset({"tag"}))


def test_control_characters_separate_words() -> None:
    assert parse("a\x00b").words == ("a", "b")


def test_label_is_short() -> None:
    q = parse(" ".join(f"word{i}" for i in range(40)))
    assert len(q.label()) <= 80
    assert q.label().endswith("…")


def test_valid_terms_lists_every_term() -> None:
    for term in ("tag:", "-tag:", "author:", "source:", "since:", "until:", "id:", "sort:"):
        assert term in VALID_TERMS
    assert "limit:" in VALID_TERMS
    assert "offset:" in VALID_TERMS


# --- examples: errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term", "hint"),
    [
        ("foo:bar", "foo:bar", "Valid terms: tag:"),
        ("re:invent", "re:invent", '"re:invent"'),
        ("since:yesterdayish", "since:yesterdayish", "2025-01-01"),
        ("until:soon", "until:soon", "12h, 3d, 2w, 6m, 1y"),
        ("since:0d", "since:0d", "at least 1"),
        ("since:99999y", "since:99999y", "out of range"),
        ("until:9999-12-31", "until:9999-12-31", "out of range"),
        ("since:3000-01-01", "since:3000-01-01", "the years 1990 to 2100"),
        ("until:1989-12-30", "until:1989-12-30", "the years 1990 to 2100"),
        ("limit:0", "limit:0", "1 to 100"),
        ("limit:101", "limit:101", "1 to 100"),
        ("limit:ten", "limit:ten", "1 to 100"),
        ("offset:-1", "offset:-1", "0 to 10000"),
        ("sort:foo", "sort:foo", "new"),
        ("since:1w until:2w", "since:1w", "before"),
        ("since:2025-02-01 until:2025-01-01", "since:2025-02-01", "before"),
        ("since:1w since:2w", "since:2w", "twice"),
        ("sort:new sort:top", "sort:top", "twice"),
        ("-author:x", "-author:x", "excluded"),
        ("tag:", "tag:", "needs a value"),
        ("tag: since:2w", "tag:", "needs a value"),
        ('tag:""', 'tag:""', "tag name"),
        ("tag:###", "tag:###", "tag name"),
        ('author:" "', 'author:" "', "needs a value"),
        ("tag:a -tag:A", "tag:a", "excluded"),
        ("llm -LLM", "llm", "excluded"),
        ("id:foo", "id:foo", "arXiv id"),
        ("https://", "https://", "arXiv id"),
        ("http://[::1", "http://[::1", "link"),
    ],
)
def test_errors_name_the_term_and_the_valid_form(text: str, term: str, hint: str) -> None:
    e = error(text)
    assert e.term == term
    assert term in str(e)
    assert hint in str(e)


def test_unknown_term_lists_extra_keys_too() -> None:
    e = error("week:3", extra_keys=SLACK_KEYS)
    assert "day:" in str(e)
    assert "tag:" in str(e)


def test_extra_key_given_twice() -> None:
    assert error("day:mon day:tue", extra_keys=SLACK_KEYS).term == "day:tue"


def test_unknown_zone_is_a_query_error() -> None:
    assert error("since:2025-01-01", tz="Mars/Olympus").term == "tz:Mars/Olympus"


def test_overlong_text() -> None:
    error("x" * 5000)


# --- properties --------------------------------------------------------------------------

_ZONES = st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York"])
_NOWS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_TRICKY = st.sampled_from(list("\"“”:：-－ \u3000'#<>|/.\t\n"))
_ANY_TEXT = st.text() | st.lists(_TRICKY | st.text(max_size=3)).map("".join)


@given(text=_ANY_TEXT, now=_NOWS, tz=_ZONES)
def test_any_text_parses_or_raises_query_error(text: str, now: datetime, tz: str) -> None:
    try:
        q = parse_query(text, now=now, tz=tz, extra_keys=SLACK_KEYS)
    except QueryError as e:
        assert str(e)
        return
    # Whatever parses also writes itself back.
    assert parse_query(q.to_text(), now=now, tz=tz, extra_keys=SLACK_KEYS) == q
    assert q.label()


_PLAIN = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
        exclude_characters='"“”„‟＂〝〞:：-－−',
    ),
    min_size=1,
    max_size=8,
)
_SPACED = st.lists(_PLAIN, min_size=1, max_size=3).map(" ".join)
_VALUE = _PLAIN | _SPACED.map(lambda v: f'"{v}"')
_JAPANESE = st.text(st.characters(min_codepoint=0x3041, max_codepoint=0x30FF), min_size=1)
_WORD = _PLAIN | _JAPANESE | st.sampled_from(["LLM", "don't", "Admin'sPick", "注意：評価"])
_ID = st.sampled_from(
    [
        "2403.04224",
        "2403.04224v2",
        "math/0611800",
        "https://arxiv.org/abs/2401.00001v3",
        "https://arxiv.org/pdf/2312.12345",
        "10.1234/ABC",
        "https://doi.org/10.1000/xyz",
        "https://www.example.org/papers/7?utm_source=x&id=3",
    ]
)
_WHEN = st.sampled_from(["12h", "3d", "2w", "6m", "1y"]) | st.dates(
    min_value=datetime(1990, 1, 1).date(), max_value=datetime(2090, 1, 1).date()
).map(lambda d: d.isoformat())


@st.composite
def _query_texts(draw: st.DrawFn) -> str:
    terms: list[str] = []
    terms += draw(st.lists(_WORD, max_size=3))
    terms += [f'"{p}"' for p in draw(st.lists(_SPACED, max_size=2))]
    terms += [f"-{w}" for w in draw(st.lists(_PLAIN, max_size=2))]
    terms += [f"tag:{v}" for v in draw(st.lists(_VALUE, max_size=3))]
    terms += [f"-tag:{v}" for v in draw(st.lists(_VALUE, max_size=1))]
    terms += [f"author:{v}" for v in draw(st.lists(_VALUE, max_size=2))]
    terms += [f"source:{v}" for v in draw(st.lists(_VALUE, max_size=2))]
    terms += [f"id:{v}" if draw(st.booleans()) else v for v in draw(st.lists(_ID, max_size=2))]
    if draw(st.booleans()):
        terms.append(f"since:{draw(_WHEN)}")
    if draw(st.booleans()):
        terms.append(f"sort:{draw(st.sampled_from(['relevance', 'new', 'top']))}")
    if draw(st.booleans()):
        terms.append(f"limit:{draw(st.integers(1, 100))}")
    if draw(st.booleans()):
        terms.append(f"offset:{draw(st.integers(0, 10_000))}")
    if draw(st.booleans()):
        terms.append(f"day:{draw(_VALUE)}")
    order = draw(st.permutations(terms))
    gaps = draw(st.lists(st.sampled_from([" ", "  ", "\u3000", "\t"]), min_size=len(order)))
    return "".join(g + t for g, t in zip(gaps, order, strict=False))


@given(text=_query_texts(), now=_NOWS, tz=_ZONES)
def test_valid_queries_round_trip_through_text(text: str, now: datetime, tz: str) -> None:
    try:
        q = parse_query(text, now=now, tz=tz, extra_keys=SLACK_KEYS)
    except QueryError as e:
        # Generated values may collide (tag:a -tag:a) or be empty tags ("###"); rare.
        assert e.term
        return
    again = parse_query(q.to_text(), now=now, tz=tz, extra_keys=SLACK_KEYS)
    assert again == q
    assert again.to_text() == q.to_text()
    if not q.is_empty():
        assert q.label()
        assert q.label() != "all papers"


@given(text=_query_texts(), now=_NOWS)
def test_times_are_aware_utc(text: str, now: datetime) -> None:
    try:
        q = parse_query(text, now=now, extra_keys=SLACK_KEYS)
    except QueryError:
        return
    for when in (q.since, q.until):
        assert when is None or when.utcoffset() == timedelta(0)
