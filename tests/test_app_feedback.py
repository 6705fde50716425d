"""Feedback buttons over real signed HTTP: 👍 / 👎 on a posted digest, 🔖 and the saved
papers, *More like this* on a lookup, and the payloads that must change nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from digests.index import index_papers
from digests.render.controls import controlled_papers
from tests.fakeslack import TEAM, Message
from tests.slackbot import ADMIN, CHANNEL, MEMBER, Bot, buttons, texts

OTHER = "UOTHER001"


def posted_digest(bot: Bot) -> Message:
    """This week's digest, posted to CHANNEL by ``digest now``."""
    bot.command("digest now", user=ADMIN)
    assert "posted" in bot.next_response()["text"]
    parent = bot.slack.posted(CHANNEL)[0]
    assert controlled_papers(parent.blocks), "the digest carries no controls"
    return parent


def message(bot: Bot, ts: str, channel: str = CHANNEL) -> Message:
    return next(m for m in bot.slack.posted(channel) if m.ts == ts)


def updated(bot: Bot, count: int) -> dict[str, Any]:
    return dict(bot.slack.wait_for("chat.update", count)[count - 1].args)


def labels(blocks: list[dict[str, Any]], paper: int) -> list[str]:
    for block in blocks:
        if block.get("block_id") == f"paper_fb:{paper}":
            return [e["text"]["text"] for e in block["elements"]]
    raise AssertionError(f"no controls for paper {paper}")


def tally_line(blocks: list[dict[str, Any]], paper: int) -> str | None:
    for block in blocks:
        if block.get("block_id") == f"paper_tally:{paper}":
            return str(block["elements"][0]["text"])
    return None


def as_blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def test_a_like_shows_the_count_and_who_and_keeps_the_metadata(bot: Bot) -> None:
    parent = posted_digest(bot)
    paper = controlled_papers(parent.blocks)[0]
    metadata = parent.metadata

    started = time.monotonic()
    r = bot.click("paper_fb_like", str(paper), message=parent)
    assert r.status_code == 200
    assert time.monotonic() - started < 1.0  # acknowledged at once; the update follows
    first = updated(bot, 1)
    assert first["channel"] == CHANNEL and first["ts"] == parent.ts
    blocks = as_blocks(first)
    assert labels(blocks, paper) == ["👍 1", "👎", "🔖"]
    assert tally_line(blocks, paper) == f"👍 <@{MEMBER}>"
    # The delivery key stays on the message: exactly-once posting searches for it.
    assert message(bot, parent.ts).metadata == metadata
    assert len(blocks) <= 50

    bot.click("paper_fb_like", str(paper), user=OTHER, message=message(bot, parent.ts))
    blocks = as_blocks(updated(bot, 2))
    assert labels(blocks, paper)[0] == "👍 2"
    assert tally_line(blocks, paper) == f"👍 <@{MEMBER}>, <@{OTHER}>"

    # Clicking one's own 👍 again undoes it; 👎 after 👍 switches.
    bot.click("paper_fb_like", str(paper), message=message(bot, parent.ts))
    blocks = as_blocks(updated(bot, 3))
    assert labels(blocks, paper)[:2] == ["👍 1", "👎"]
    bot.click("paper_fb_mute", str(paper), user=OTHER, message=message(bot, parent.ts))
    blocks = as_blocks(updated(bot, 4))
    assert labels(blocks, paper)[:2] == ["👍", "👎 1"]
    assert tally_line(blocks, paper) == f"👎 <@{OTHER}>"
    assert bot.store.muted_paper_ids([(TEAM, CHANNEL)]) == {(TEAM, CHANNEL): {paper}}
    assert message(bot, parent.ts).metadata == metadata
    assert bot.slack.calls_to("response_url")[1:] == []  # nothing but the digest report


def test_save_answers_only_the_clicker_and_lists_and_exports(bot: Bot) -> None:
    parent = posted_digest(bot)
    first, second = controlled_papers(parent.blocks)[:2]
    bot.click("paper_fb_save", str(first), message=parent)
    saved = bot.next_response()
    assert saved["response_type"] == "ephemeral" and saved["replace_original"] is False
    assert saved["text"].startswith("Saved *") and "/paper saved" in saved["text"]
    assert buttons(saved) == {"paper_fb_unsave": str(first)}
    time.sleep(0.05)  # saved_at orders the list: the second save is the newer
    bot.click("paper_fb_save", str(second), user=MEMBER, message=parent)
    bot.next_response()
    assert bot.slack.calls_to("chat.update") == []  # saving is personal: no count shown

    bot.command("saved")
    listing = bot.next_response()
    assert "Your saved papers · 1–2 of 2" in listing["text"]
    removes = [b["accessory"]["value"] for b in listing["blocks"] if b.get("accessory") is not None]
    assert removes == [str(second), str(first)]  # newest first
    assert buttons(listing)["paper_saved_bibtex"] == "all"

    bot.click("paper_saved_bibtex", "all")
    export = bot.next_response()
    code = texts(export)
    assert code.count("@misc{") == 2 and "```" in code
    assert "archivePrefix = {arXiv}" in code

    # Undo from the "Saved" note; someone else's list stays empty.
    bot.click("paper_fb_unsave", str(first))
    assert "Removed *" in bot.next_response()["text"]
    assert [s.paper_id for s in bot.store.saved_papers(TEAM, MEMBER)] == [second]
    bot.command("saved", user=OTHER)
    assert "no saved papers" in bot.next_response()["text"]


def test_a_forged_or_replayed_click_is_401_and_records_nothing(bot: Bot) -> None:
    parent = posted_digest(bot)
    paper = controlled_papers(parent.blocks)[0]
    forged = bot.click("paper_fb_like", str(paper), message=parent, secret="not-the-secret")
    assert forged.status_code == 401
    replayed = bot.click("paper_fb_mute", str(paper), message=parent, ts=int(time.time()) - 301)
    assert replayed.status_code == 401
    saved = bot.click("paper_fb_save", str(paper), ts=int(time.time()) - 6 * 60)
    assert saved.status_code == 401
    time.sleep(0.3)
    assert bot.store.tallies(TEAM, CHANNEL, [paper]) == {}
    assert bot.store.saved_count(TEAM, MEMBER) == 0
    assert bot.slack.calls_to("chat.update") == []


def test_a_click_on_a_paper_no_longer_there_changes_nothing(bot: Bot) -> None:
    parent = posted_digest(bot)
    for action in ("paper_fb_like", "paper_fb_save"):
        r = bot.click(action, "987654", message=parent)
        assert r.status_code == 200
        answer = bot.next_response()
        assert answer["text"] == "That paper is no longer in paperbot."
        assert answer["response_type"] == "ephemeral"
    assert bot.store.channel_feedback([(TEAM, CHANNEL)]) == {(TEAM, CHANNEL): []}
    assert bot.store.saved_count(TEAM, MEMBER) == 0
    assert bot.slack.calls_to("chat.update") == []


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("paper_fb_like", "12; DROP TABLE papers"),
        ("paper_fb_like", "-3"),
        ("paper_fb_save", ""),
        ("paper_fb_like", "9" * 40),
        ("paper_fb_boost", "1"),
    ],
)
def test_a_tampered_button_gets_one_line_and_records_nothing(
    bot: Bot, action: str, value: str
) -> None:
    parent = posted_digest(bot)
    r = bot.click(action, value, message=parent)
    assert r.status_code == 200
    answer = bot.next_response()
    assert answer["text"] == "That button does not come from paperbot: nothing was recorded."
    assert bot.store.channel_feedback([(TEAM, CHANNEL)]) == {(TEAM, CHANNEL): []}
    assert bot.store.saved_count(TEAM, MEMBER) == 0


def test_feedback_from_another_workspace_or_channel_stays_there(bot: Bot) -> None:
    parent = posted_digest(bot)
    paper = controlled_papers(parent.blocks)[0]
    bot.click("paper_fb_like", str(paper), message=parent)
    updated(bot, 1)
    # The same message's payload replayed from elsewhere (a validly signed request):
    # only that workspace's and channel's rows move, and its update shows only them.
    bot.click("paper_fb_mute", str(paper), team="T0ELSEWHERE", message=parent)
    elsewhere = as_blocks(updated(bot, 2))
    assert labels(elsewhere, paper)[:2] == ["👍", "👎 1"]
    bot.click("paper_fb_mute", str(paper), channel="C0OTHER", message=parent)
    updated(bot, 3)
    assert bot.store.tallies(TEAM, CHANNEL, [paper])[paper].likes == (MEMBER,)
    assert bot.store.tallies(TEAM, CHANNEL, [paper])[paper].mutes == ()
    assert bot.store.muted_paper_ids([(TEAM, CHANNEL), ("T0ELSEWHERE", CHANNEL)]) == {
        (TEAM, CHANNEL): set(),
        ("T0ELSEWHERE", CHANNEL): {paper},
    }
    assert bot.store.muted_paper_ids([(TEAM, "C0OTHER")]) == {(TEAM, "C0OTHER"): {paper}}


def test_lookup_results_carry_more_like_this_and_save(bot: Bot) -> None:
    bot.command("2403.04224")
    page = bot.next_response()
    found = buttons(page)
    assert found["paper_similar"] == "like:2403.04224"
    bot.click("paper_fb_save", found["paper_fb_save"])
    assert bot.next_response()["text"].startswith("Saved *")
    assert bot.store.saved_count(TEAM, MEMBER) == 1


def test_more_like_this_runs_the_like_query(bot: Bot) -> None:
    index_papers(bot.store, clock=lambda: datetime(2024, 10, 7, tzinfo=UTC))
    bot.command("2403.04224")
    similar = buttons(bot.next_response())["paper_similar"]
    bot.click("paper_similar", similar)
    answer = bot.next_response()
    assert answer["replace_original"] is False
    assert answer["text"].startswith("Papers matching `like:2403.04224`"), answer["text"]
    assert buttons(answer)["paper_share"]  # a page of papers, not an error
