"""``/paper profile import``: the form, its checks on the fields, and the import, over
real signed HTTP against the fake Slack Web API and the fake arXiv API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.views import (
    IMPORT_CALLBACK,
    IMPORT_FILE_ACTION,
    IMPORT_FILE_BLOCK,
    IMPORT_TEXT_ACTION,
    IMPORT_TEXT_BLOCK,
)
from digests.store import Store
from tests.arxivapi import FakeArxivApi
from tests.factories import library_papers
from tests.fakeslack import TEAM, FakeReply
from tests.httpserver import LocalServer
from tests.slackbot import ADMIN, CHANNEL, MEMBER, WS_ADMIN, Bot, serving_bot


@pytest.fixture
def arxiv_api() -> Iterator[tuple[LocalServer, FakeArxivApi]]:
    api = FakeArxivApi()
    with LocalServer(keep_alive=True) as server:
        server.route("/api/query", api)
        yield server, api


@pytest.fixture
def importer(
    store: Store, tmp_path: Path, arxiv_api: tuple[LocalServer, FakeArxivApi]
) -> Iterator[tuple[Bot, dict[str, int]]]:
    """The bot with the library fixtures' papers stored and arXiv's API at hand."""
    server, _ = arxiv_api
    env = {
        "PAPERBOT_ARXIV_API_URL": server.url("/api/query"),
        "PAPERBOT_ALLOW_PRIVATE_NETWORKS": "1",  # the local arXiv stand-in
    }
    with serving_bot(store, tmp_path, env=env) as bot:
        known = library_papers(store, tmp_path)
        yield bot, known


def values(text: str | None = None, file_id: str | None = None) -> dict[str, Any]:
    files = [{"id": file_id, "name": "library.bib"}] if file_id else []
    return {
        IMPORT_TEXT_BLOCK: {IMPORT_TEXT_ACTION: {"type": "plain_text_input", "value": text}},
        IMPORT_FILE_BLOCK: {IMPORT_FILE_ACTION: {"type": "file_input", "files": files}},
    }


def open_form(bot: Bot, user: str = ADMIN) -> str:
    """The admin's ``/paper profile import``; the id of the modal it opened."""
    assert bot.command("profile import", user=user).status_code == 200
    [call] = bot.slack.wait_for("views.open")
    assert call.args["trigger_id"] == "1.2.3"
    view = call.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == IMPORT_CALLBACK and view["private_metadata"] == CHANNEL
    elements = [b["element"]["type"] for b in view["blocks"] if b["type"] == "input"]
    assert elements == ["plain_text_input", "file_input"]
    return next(iter(bot.slack.views))


def result_text(bot: Bot, view_id: str) -> str:
    bot.slack.wait_for("views.update")
    return json.dumps(bot.slack.views[view_id]["blocks"], ensure_ascii=False)


def liked(store: Store) -> dict[int, str]:
    found = store.channel_feedback([(TEAM, CHANNEL)])[(TEAM, CHANNEL)]
    return {f.paper_id: f.user_id for f in found if f.verdict == "like"}


def test_a_member_gets_one_line_and_no_form(bot: Bot) -> None:
    bot.command("profile import", user=MEMBER)
    reply = bot.next_response()
    assert reply["text"].startswith("Sorry, only paperbot admins can use `/paper profile import`")
    assert bot.slack.calls_to("views.open") == []


def test_a_pasted_list_is_imported_and_the_form_shows_the_result(
    importer: tuple[Bot, dict[str, int]], store: Store
) -> None:
    bot, known = importer
    view_id = open_form(bot)
    pasted = "2305.18290\ndoi:10.1145/3442188.3445922\n2305.18290v2\nnot an id\n"
    answer = bot.submit_view(view_id, IMPORT_CALLBACK, values(pasted), user=ADMIN)
    assert answer.status_code == 200
    assert answer.json()["response_action"] == "update"
    shown = result_text(bot, view_id)
    assert "4 entries (list): 2 liked, 1 unresolved (listed below), 1 duplicate" in shown
    assert "entry 4 (line 4) not an id: not an arXiv id, a DOI or a link" in shown
    assert liked(store) == {known["dpo"]: ADMIN, known["parrots"]: ADMIN}


def test_an_uploaded_zotero_export_is_read_with_the_bots_token(
    importer: tuple[Bot, dict[str, int]],
    store: Store,
    fixtures: Path,
    arxiv_api: tuple[LocalServer, FakeArxivApi],
) -> None:
    bot, known = importer
    _, api = arxiv_api
    file_id = bot.slack.add_file(
        "My Library.bib", (fixtures / "library" / "zotero.bib").read_bytes()
    )
    view_id = open_form(bot, user=WS_ADMIN)
    answer = bot.submit_view(view_id, IMPORT_CALLBACK, values(None, file_id), user=WS_ADMIN)
    assert answer.json()["response_action"] == "update"
    shown = result_text(bot, view_id)
    assert "8 entries (bibtex): 5 liked, 3 unresolved (listed below)" in shown
    assert "entry 4 (line 44) [nobody_broken_2024]: unbalanced braces" in shown
    assert "arXiv does not know 2512.99999" in shown
    assert api.asked == [["2506.15841", "2512.99999"]]
    assert len(liked(store)) == 5 and known["uber"] in liked(store)
    [download] = bot.slack.calls_to("file")
    assert download.status == 200


def test_checks_answer_on_the_fields_and_change_nothing(
    importer: tuple[Bot, dict[str, int]], store: Store
) -> None:
    bot, _ = importer
    view_id = open_form(bot)

    empty = bot.submit_view(view_id, IMPORT_CALLBACK, values(""), user=ADMIN).json()
    assert empty["response_action"] == "errors" and IMPORT_TEXT_BLOCK in empty["errors"]

    junk = bot.submit_view(view_id, IMPORT_CALLBACK, values("hello\nworld\n"), user=ADMIN).json()
    assert junk["errors"] == {
        IMPORT_TEXT_BLOCK: "No BibTeX entry, RIS record, arXiv id, DOI or link found: one id "
        "or link a line, or entries exported from Zotero or Mendeley."
    }

    big = bot.slack.add_file("huge.bib", b"%" * (50 * 1024 * 1024))
    too_big = bot.submit_view(view_id, IMPORT_CALLBACK, values(None, big), user=ADMIN).json()
    assert too_big["errors"][IMPORT_FILE_BLOCK].startswith("The file is 50.0 MB; a library import")
    assert bot.slack.calls_to("file") == []  # refused by its size, never downloaded

    small = bot.slack.add_file("ids.txt", b"2305.18290\n")
    both = bot.submit_view(view_id, IMPORT_CALLBACK, values("2305.18290", small), user=ADMIN)
    assert both.json()["errors"] == {IMPORT_FILE_BLOCK: "Paste a list or upload a file, not both."}

    gone = bot.submit_view(view_id, IMPORT_CALLBACK, values(None, "F404"), user=ADMIN).json()
    assert gone["errors"][IMPORT_FILE_BLOCK] == "Slack would not show the file (file_not_found)."

    assert liked(store) == {} and store.profile_state(TEAM, CHANNEL) is None


def test_a_members_submission_is_refused_on_the_form(
    importer: tuple[Bot, dict[str, int]], store: Store
) -> None:
    bot, _ = importer
    answer = bot.submit_view("V1", IMPORT_CALLBACK, values("2305.18290"), user=MEMBER).json()
    assert answer["response_action"] == "errors"
    assert answer["errors"][IMPORT_TEXT_BLOCK].startswith("Sorry, only paperbot admins")
    assert liked(store) == {}


def test_a_result_whose_form_was_closed_comes_as_a_message(
    importer: tuple[Bot, dict[str, int]], store: Store
) -> None:
    bot, known = importer
    # A view id Slack no longer has: the form was closed before the import ended.
    bot.submit_view("V0CLOSED", IMPORT_CALLBACK, values("2305.18290"), user=ADMIN)
    [call] = bot.slack.wait_for("chat.postEphemeral")
    assert call.args["user"] == ADMIN and call.args["channel"] == CHANNEL
    assert "1 entry (list): 1 liked" in call.args["text"]
    assert liked(store) == {known["dpo"]: ADMIN}


def test_a_file_larger_than_slack_said_is_cut_off_while_it_is_read(
    importer: tuple[Bot, dict[str, int]], store: Store
) -> None:
    bot, _ = importer
    file_id = bot.slack.add_file("big.txt", b"2305.18290\n" * 600_000)  # 6.6 MB
    info = {"id": file_id, "name": "big.txt", "size": 11, "url_private_download": ""}
    info["url_private_download"] = f"{bot.slack.url}files/{file_id}"
    bot.slack.script("files.info", FakeReply(body={"ok": True, "file": info}))
    view_id = open_form(bot)
    answer = bot.submit_view(view_id, IMPORT_CALLBACK, values(None, file_id), user=ADMIN)
    assert answer.json()["response_action"] == "update"
    shown = result_text(bot, view_id)
    assert "The file is over 5.0 MB; a library import takes at most 5.0 MB" in shown
    assert liked(store) == {}
