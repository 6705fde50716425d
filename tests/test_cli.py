"""The ``paperbot`` command, run in-process on a real database with real files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

REQUIRED_KEYS = {"id", "title", "url", "authors", "tags", "sources", "summary", "first_seen"}


class Paperbot:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(cli, list(args), env=self.env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def paperbot(tmp_path: Path, db_url: str) -> Iterator[Paperbot]:
    sources = tmp_path / "sources.toml"
    sources.write_text("# no default sources in tests\n", "utf-8")
    yield Paperbot(
        {
            "PAPERBOT_DATA_DIR": str(tmp_path),
            "PAPERBOT_SOURCES_FILE": str(sources),
            "DATABASE_URL": db_url,
            "PAPERBOT_TZ": "UTC",
            "COLUMNS": "120",
        }
    )


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_every_command_has_help(paperbot: Paperbot) -> None:
    paths = list(_commands(cli))
    assert ("sources", "add") in paths and ("digest",) in paths and ("demo",) in paths
    for path in [(), *paths]:
        result = paperbot(*path, "--help")
        assert "Usage:" in result.output, path


def test_sources_poll_query_and_remove(paperbot: Paperbot, fixtures: Path) -> None:
    feed = fixtures / "arxiv_atom_listing.xml"
    added = paperbot("sources", "add", str(feed), "--name", "atom", "--tag", "Demo")
    assert "added source" in added.output
    paperbot("sources", "add", str(fixtures / "hf_daily_papers.json"), "--kind", "hf-daily")
    dup = paperbot("sources", "add", str(feed), "--name", "atom", ok=False)
    assert dup.exit_code != 0 and "already exists" in dup.output

    polled = paperbot("poll")
    assert "atom" in polled.output and "ingested" in polled.output

    listed = json.loads(paperbot("sources", "list", "--json").output)
    atom = next(s for s in listed if s["name"] == "atom")
    assert atom["papers"] > 0 and atom["last_success"] and atom["consecutive_failures"] == 0

    found = json.loads(paperbot("query", "tag:demo", "--json").output)
    assert found and all(set(hit) >= REQUIRED_KEYS for hit in found)
    assert all("atom" in hit["sources"] for hit in found)
    assert all("Demo" in hit["tags"] for hit in found)

    assert "removed source atom" in paperbot("sources", "remove", "atom").output
    assert json.loads(paperbot("query", "source:atom", "--json").output) == []


def test_unknown_query_term_names_it_and_the_valid_ones(paperbot: Paperbot) -> None:
    result = paperbot("query", "colour:blue", ok=False)
    assert result.exit_code == 1
    assert "colour" in result.output
    assert "tag:" in result.output
    assert "Traceback" not in result.output


def test_bad_source_options_are_readable(paperbot: Paperbot, fixtures: Path) -> None:
    feed = str(fixtures / "arxiv_atom_listing.xml")
    bad_kind = paperbot("sources", "add", feed, "--kind", "podcast", ok=False)
    assert "unknown source kind 'podcast'" in bad_kind.output and "arxiv" in bad_kind.output
    bad_interval = paperbot("sources", "add", feed, "--interval", "often", ok=False)
    assert "interval 'often'" in bad_interval.output
    missing = paperbot("sources", "remove", "nope", ok=False)
    assert "no source named 'nope'" in missing.output


def test_digest_formats_list_and_show(paperbot: Paperbot) -> None:
    from bot.demo import DEMO_SOURCES, demo_dir

    for name, filename, kind, tags in DEMO_SOURCES:
        args = ["sources", "add", str(demo_dir() / filename), "--name", name, "--kind", kind]
        for tag in tags:
            args += ["--tag", tag]
        paperbot(*args)
    paperbot("poll")

    text = paperbot("digest", "--week", "2024-W40").output
    assert "Top papers of the week · 2024-W40" in text
    assert "Reward Models Disagree" in text

    ranked = json.loads(paperbot("digest", "--week", "2024-W40", "--format", "json").output)
    first = ranked["items"][0]
    assert first["rank"] == 1 and first["why"] and first["summary"]
    assert len(first["summary"]) <= 280

    messages = json.loads(
        paperbot("digest", "tag:Alignment", "--week", "2024-W40", "--format", "blocks").output
    )
    assert isinstance(messages, list) and messages
    assert all(m["text"] and m["blocks"] for m in messages)
    assert "#Alignment" in messages[0]["blocks"][0]["text"]["text"]

    archive = paperbot("digest", "--list").output
    assert "2024-W40" in archive
    shown = paperbot("digest", "--show", str(ranked["id"]), "--format", "json").output
    assert json.loads(shown)["items"] == ranked["items"]
    missing = paperbot("digest", "--show", "99999", ok=False)
    assert "no digest with id 99999" in missing.output


def test_empty_week_says_so(paperbot: Paperbot, fixtures: Path) -> None:
    paperbot("sources", "add", str(fixtures / "arxiv_atom_listing.xml"), "--name", "atom")
    paperbot("poll")
    text = paperbot("digest", "--week", "2019-W01").output
    assert "Top papers of the week · 2019-W01" in text
    assert "atom" in text  # names the source that had nothing that week


def test_db_upgrade(paperbot: Paperbot) -> None:
    assert "up to date" in paperbot("db", "upgrade").output


def test_demo_runs_offline(paperbot: Paperbot) -> None:
    out = paperbot("demo").output
    assert "paperbot query 'tag:Alignment'" in out
    assert "Top papers of the week · 2024-W40" in out
    assert "Aligners: Decoupling LLMs and Alignment" in out


def test_default_sources_file_is_written_on_first_start(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"PAPERBOT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "PAPERBOT_SOURCES_FILE": ""}
    result = runner.invoke(cli, ["sources", "list", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    names = {s["name"] for s in json.loads(result.output)}
    assert {"arXiv cs.CL", "arXiv cs.LG", "arXiv cs.AI", "HF Daily Papers"} <= names
    assert "ML Papers of the Week" in names and "paper_notes #Alignment" in names
    assert (tmp_path / "sources.toml").is_file()
    assert (tmp_path / "paperbot.db").is_file()
