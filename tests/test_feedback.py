"""What a click means (bot/feedback.py), the controls' blocks, saved papers' pages and
their BibTeX; plain functions on a real store, without Slack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bibtexparser import parse_string
from sqlalchemy import select

from bot.actions import Invocation
from bot.commands import CommandError, ListSaved, parse_command
from bot.feedback import (
    GONE,
    NOT_OURS,
    BadClick,
    Click,
    click,
    next_verdict,
    parse_click,
    saved_bibtex,
    saved_page,
)
from bot.views import help_message
from digests.bibtex import bibtex, bibtex_entries, citation_key
from digests.calendar import IsoWeek
from digests.model import CitedPaper, FeedbackTally
from digests.render.controls import apply_tallies, controlled_papers, controls_block
from digests.render.saved import render_bibtex_message
from digests.schema import papers
from digests.store import Store
from tests.factories import add_papers, hand_source, utc

NOW = utc(2026, 3, 5, 9)
HERE = Invocation(team_id="T1", channel_id="C1", user_id="U1")


def _papers(store: Store, tmp_path: Path, n: int = 3) -> list[int]:
    add_papers(store, hand_source(store, tmp_path), IsoWeek(2026, 10), n=n)
    with store.engine.connect() as conn:
        return [int(i) for i in conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars()]


def _message(paper_ids: list[int]) -> list[dict[str, Any]]:
    """A digest message's blocks as Slack sends them back: a section, then controls."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "W"}}]
    for pid in paper_ids:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{pid}*"}})
        blocks.append(controls_block(pid))
    return blocks


# --- parsing a click ----------------------------------------------------------------------


def test_parse_click_takes_only_what_paperbot_makes() -> None:
    assert parse_click("paper_fb_like", "12") == Click("like", 12)
    assert parse_click("paper_fb_unsave", " 7 ") == Click("unsave", 7)
    for action_id, value in [
        ("paper_fb_like", "x"),
        ("paper_fb_like", "0"),
        ("paper_fb_like", "1e3"),
        ("paper_fb_like", "٣"),  # a digit, but not ASCII
        ("paper_fb_like", str(2**31)),
        ("paper_fb_boost", "1"),
        ("paper_more", "1"),
    ]:
        with pytest.raises(BadClick):
            parse_click(action_id, value)


def test_next_verdict_undoes_a_repeat_and_switches_otherwise() -> None:
    assert next_verdict(None, "like") == "like"
    assert next_verdict("like", "like") is None
    assert next_verdict("like", "mute") == "mute"
    assert next_verdict("mute", "mute") is None


# --- clicks on a real store ---------------------------------------------------------------


def test_likes_count_per_channel_and_redo_every_paper_of_the_message(
    store: Store, tmp_path: Path
) -> None:
    a, b, c = _papers(store, tmp_path)
    blocks = _message([a, b])
    store.set_verdicts("T1", "C1", "U9", {b: "mute"}, origin="click", now=NOW)
    out = click(store, "paper_fb_like", str(a), HERE, message_blocks=blocks, now=NOW)
    assert out.reply is None and out.blocks is not None
    assert controlled_papers(out.blocks) == [a, b]
    texts = [
        [e["text"]["text"] for e in x["elements"]] for x in out.blocks if x["type"] == "actions"
    ]
    assert texts == [["👍 1", "👎", "🔖"], ["👍", "👎 1", "🔖"]]
    lines = [x["elements"][0]["text"] for x in out.blocks if x["type"] == "context"]
    assert lines == ["👍 <@U1>", "👎 <@U9>"]
    assert out.blocks[0] == blocks[0]  # everything else as it was

    again = click(store, "paper_fb_like", str(a), HERE, message_blocks=out.blocks, now=NOW)
    assert again.blocks is not None
    assert store.tallies("T1", "C1", [a]) == {}
    assert [x["elements"][0]["text"] for x in again.blocks if x["type"] == "context"] == [
        "👎 <@U9>"
    ]
    # A click on a paper that is not in the message (an old reply) records, redoes nothing.
    other = click(store, "paper_fb_mute", str(c), HERE, message_blocks=blocks, now=NOW)
    assert other.blocks is None and store.muted_paper_ids([("T1", "C1")])[("T1", "C1")] == {b, c}


def test_a_click_in_one_channel_never_moves_anothers(store: Store, tmp_path: Path) -> None:
    a, _, _ = _papers(store, tmp_path)
    click(store, "paper_fb_mute", str(a), HERE, message_blocks=None, now=NOW)
    elsewhere = Invocation("T2", "C1", "U1")
    click(store, "paper_fb_like", str(a), elsewhere, message_blocks=None, now=NOW)
    click(
        store, "paper_fb_like", str(a), Invocation("T1", "C2", "U1"), message_blocks=None, now=NOW
    )
    assert store.tallies("T1", "C1", [a]) == {a: FeedbackTally(a, (), ("U1",))}
    assert store.tallies("T2", "C1", [a]) == {a: FeedbackTally(a, ("U1",), ())}
    assert store.tallies("T1", "C2", [a]) == {a: FeedbackTally(a, ("U1",), ())}


def test_gone_papers_and_bad_values_record_nothing(store: Store, tmp_path: Path) -> None:
    a, _, _ = _papers(store, tmp_path)
    gone = click(store, "paper_fb_like", "999999", HERE, message_blocks=_message([a]), now=NOW)
    assert gone.reply is not None and gone.reply.text == GONE and gone.blocks is None
    bad = click(store, "paper_fb_save", "drop", HERE, message_blocks=None, now=NOW)
    assert bad.reply is not None and bad.reply.text == NOT_OURS
    assert store.channel_feedback([("T1", "C1")]) == {("T1", "C1"): []}
    assert store.saved_count("T1", "U1") == 0


def test_verdicts_need_a_channel_but_saving_does_not(store: Store, tmp_path: Path) -> None:
    a, _, _ = _papers(store, tmp_path)
    dm = Invocation("T1", "D0DM", "U1")
    out = click(store, "paper_fb_like", str(a), dm, message_blocks=None, now=NOW)
    assert out.reply is not None and "channel" in out.reply.text
    assert store.tallies("T1", "D0DM", [a]) == {}
    saved = click(store, "paper_fb_save", str(a), dm, message_blocks=None, now=NOW)
    assert saved.reply is not None and saved.reply.text.startswith("Saved *Paper 1 of 2026-W10")
    assert saved.reply.replace_original is False
    assert store.saved_count("T1", "U1") == 1
    undo = click(store, "paper_fb_unsave", str(a), dm, message_blocks=None, now=NOW)
    assert undo.reply is not None and undo.reply.text.startswith("Removed *")
    assert store.saved_count("T1", "U1") == 0


def test_saved_pages_go_newest_first(store: Store, tmp_path: Path) -> None:
    ids = _papers(store, tmp_path, n=12)
    for i, pid in enumerate(ids):
        store.save_papers("T1", "U1", [pid], channel_id="C1", now=utc(2026, 3, 1, i))
    first = saved_page(store, HERE, 1, replace_original=False)
    assert first.text == "Your saved papers · 1–10 of 12 · page 1 of 2"
    assert first.blocks is not None
    removes = [b["accessory"]["value"] for b in first.blocks if "accessory" in b]
    assert removes == [str(p) for p in reversed(ids)][:10]
    actions = [
        e["action_id"] for b in first.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == ["paper_saved_page", "paper_saved_bibtex"]
    last = saved_page(store, HERE, 9, replace_original=True)  # past the end: the last page
    assert last.text.startswith("Your saved papers · 11–12 of 12")
    export = saved_bibtex(store, HERE)
    assert export.blocks is not None and export.text == "BibTeX of 12 saved papers"
    assert "".join(b["text"]["text"] for b in export.blocks).count("@misc{") == 12


# --- the controls' blocks -----------------------------------------------------------------


def test_apply_tallies_caps_the_names_and_skips_what_is_not_a_user() -> None:
    many = tuple(f"U{i:04d}" for i in range(20))
    out = apply_tallies(_message([5]), {5: FeedbackTally(5, (*many, "<!channel>"), ())})
    line = next(b for b in out if b["type"] == "context")["elements"][0]["text"]
    assert line.startswith("👍 <@U0000>, <@U0001>") and line.endswith("+13 more")
    assert "<!channel>" not in line
    assert next(b for b in out if b["type"] == "actions")["elements"][0]["text"]["text"] == "👍 21"


# --- BibTeX -------------------------------------------------------------------------------


def cited(pid: int, title: str, authors: tuple[str, ...], **kw: Any) -> CitedPaper:
    values: dict[str, Any] = {
        "paper_id": pid,
        "key": f"arxiv:1706.0376{pid}",
        "title": title,
        "authors": authors,
        "announced_at": datetime(2017, 6, 12, tzinfo=UTC),
    }
    values.update(kw)
    return CitedPaper(**values)


def test_bibtex_entries_parse_back_with_unique_keys_and_escaped_text() -> None:
    vaswani = cited(
        1,
        "Attention Is All You Need",
        ("Ashish Vaswani", "Noam Shazeer"),
        arxiv_id="1706.03762",
        url="https://arxiv.org/abs/1706.03762",
        categories=("cs.CL",),
    )
    tricky = cited(
        2,
        "The 100% & $x_1$ {café} #1 ~ approach",
        ("Łukasz Kaiser", "Müller, Jörg"),
        doi="10.1234/a_b",
        url="https://example.org/x y",
    )
    nameless = cited(3, "", ())
    assert citation_key(vaswani) == "vaswani2017attention"
    assert citation_key(tricky) == "kaiser2017100"
    assert citation_key(nameless) == "paper3"
    text = bibtex([vaswani, vaswani, tricky, nameless])
    library = parse_string(text)
    assert not library.failed_blocks
    entries = library.entries
    assert [e.key for e in entries] == [
        "vaswani2017attention",
        "vaswani2017attentiona",
        "kaiser2017100",
        "paper3",
    ]
    first = entries[0].fields_dict
    assert first["eprint"].value == "1706.03762"
    assert first["archivePrefix"].value == "arXiv"
    assert first["primaryClass"].value == "cs.CL"
    assert first["author"].value == "Ashish Vaswani and Noam Shazeer"
    odd = entries[2].fields_dict
    assert odd["title"].value == r"The 100\% \& \$x\_1\$ \{caf\'e\} \#1 {\textasciitilde} approach"
    assert odd["author"].value == r"{\L}ukasz Kaiser and M\"uller, J\"org"
    assert odd["doi"].value == "10.1234/a_b"
    assert odd["url"].value == "https://example.org/x%20y"
    assert "eprint" not in odd


def test_the_slack_export_keeps_whole_entries_and_counts_the_rest() -> None:
    entries = bibtex_entries(
        [cited(i, f"Paper number {i} " + "long words " * 40, ("A. Author",)) for i in range(80)]
    )
    message = render_bibtex_message(entries, user_id="U1")
    blocks = message["blocks"]
    assert len(blocks) <= 50
    code = "".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    shown = code.count("@misc{")
    assert 0 < shown < 80 and code.count("\n}") == shown  # whole entries only
    assert sum(len(b["text"]["text"]) for b in blocks if b["type"] == "section") <= 12_000
    note = blocks[-1]["elements"][0]["text"]
    assert note == (
        f"{80 - shown} more entries did not fit in a Slack message: "
        "`paperbot saved --user U1 --bibtex` writes them all."
    )


# --- /paper saved -------------------------------------------------------------------------


def test_paper_saved_parses_a_page_and_names_a_bad_one() -> None:
    assert parse_command("saved", now=NOW) == ListSaved(1)
    assert parse_command(" SAVED  3 ", now=NOW) == ListSaved(3)
    for text, word in [("saved two", "two"), ("saved 0", "0"), ("saved 2 more", "more")]:
        with pytest.raises(CommandError) as e:
            parse_command(text, now=NOW)
        assert e.value.term == word and "/paper saved" in str(e.value)
    assert "`/paper saved [PAGE]`" in help_message()["text"]
