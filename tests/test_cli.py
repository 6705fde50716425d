"""The ``paperbot`` command, run in-process on a real database with real files."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from digests.store import Store
from tests.arxivapi import FakeArxivApi
from tests.factories import command_paths, library_papers, subscribe
from tests.httpserver import LocalServer, Reply

REQUIRED_KEYS = {"id", "title", "url", "authors", "tags", "sources", "summary", "first_seen"}


class Paperbot:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(
        self, *args: str, ok: bool = True, columns: int = 120, input: str | None = None
    ) -> Result:
        env = {**self.env, "COLUMNS": str(columns)}
        result = self.runner.invoke(cli, list(args), env=env, catch_exceptions=False, input=input)
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
            "PAPERBOT_ALLOW_PRIVATE_NETWORKS": "1",  # the local test servers
        }
    )


def test_every_command_has_help(paperbot: Paperbot) -> None:
    paths = list(command_paths(cli))
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

    assert "retired source atom" in paperbot("sources", "remove", "atom").output
    assert json.loads(paperbot("query", "source:atom", "--json").output) == found
    purged = paperbot("sources", "remove", "atom", "--purge").output
    assert "purged source atom: deleted" in purged
    assert json.loads(paperbot("query", "source:atom", "--json").output) == []


def test_sources_add_takes_a_family_and_list_shows_every_family(
    paperbot: Paperbot, fixtures: Path
) -> None:
    feed = str(fixtures / "generic_feed.xml")
    added = paperbot("sources", "add", feed, "--name", "lab", "--family", " Example  Lab ")
    assert "family Example Lab" in added.output
    paperbot("sources", "add", str(fixtures / "hf_daily_papers.json"), "--kind", "hf-daily")
    paperbot("sources", "add", feed, "--name", "mine")
    listed = {s["name"]: s for s in json.loads(paperbot("sources", "list", "--json").output)}
    assert (listed["lab"]["family"], listed["lab"]["family_set"]) == ("Example Lab", True)
    assert (listed["hf_daily_papers.json"]["family"], listed["mine"]["family"]) == (
        "Hugging Face",
        "mine",  # a local file is its own family
    )
    assert listed["mine"]["family_set"] is False
    table = paperbot("sources", "list", columns=200).output
    assert "family" in table and "Example Lab" in table and "Hugging Face" in table
    empty = paperbot("sources", "add", feed, "--name", "x", "--family", " ", ok=False)
    assert empty.exit_code != 0 and "the family is empty" in empty.output


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


def add_demo_sources(paperbot: Paperbot) -> None:
    from bot.demo import DEMO_SOURCES, demo_dir

    for name, filename, kind, tags in DEMO_SOURCES:
        args = ["sources", "add", str(demo_dir() / filename), "--name", name, "--kind", kind]
        for tag in tags:
            args += ["--tag", tag]
        paperbot(*args)
    paperbot("poll")


def test_poll_indexes_and_like_finds_alike_papers(paperbot: Paperbot) -> None:
    add_demo_sources(paperbot)  # its poll computes the signatures
    assert "Nothing to index" in paperbot("index").output
    alignment = json.loads(paperbot("query", "tag:Alignment", "limit:50", "--json").output)
    target = next(h["id"] for h in alignment if h["id"].startswith("arxiv:"))
    ref = target.removeprefix("arxiv:")
    found = json.loads(paperbot("query", f"like:{ref}", "--json").output)
    assert found and target not in {h["id"] for h in found}
    text = paperbot("query", f"like:{ref}", "limit:1").output
    assert "similar to" in text
    digest = paperbot("digest", f"like:{ref}", "--week", "2024-W40").output
    assert "Top papers of the week" in digest
    unknown = paperbot("query", "like:2401.99999", ok=False)
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output
    assert "like:2401.99999: no such paper in paperbot yet" in unknown.output
    bad = paperbot("digest", "like:nope", ok=False)
    assert bad.exit_code != 0 and "like:nope is not an id" in bad.output


def test_digest_formats_list_and_show(paperbot: Paperbot) -> None:
    add_demo_sources(paperbot)

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


def test_an_empty_digest_says_why_as_in_slack(paperbot: Paperbot) -> None:
    from bot.demo import DEMO_SOURCES, demo_dir

    name, filename, kind, _tags = DEMO_SOURCES[0]
    paperbot("sources", "add", str(demo_dir() / filename), "--name", name, "--kind", kind)
    paperbot("poll")
    args = ("digest", "quantumchromodynamics", "--week", "2024-W40")
    text = paperbot(*args).output
    assert "papers this week, none matching quantumchromodynamics" in text
    assert "quiet week" not in text
    ranked = json.loads(paperbot(*args, "--format", "json").output)
    assert ranked["items"] == []
    assert "none matching quantumchromodynamics" in ranked["notice"]


def test_db_upgrade_says_what_it_did(paperbot: Paperbot) -> None:
    created = paperbot("db", "upgrade").output
    found = re.match(r"created the database at revision (\w+) \(", created)
    assert found, created
    again = paperbot("db", "upgrade").output
    assert again.startswith(f"the database is up to date at revision {found[1]} (")


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
    names = {s["name"] for s in json.loads(result.stdout)}
    assert f"{tmp_path / 'sources.toml'}: added {len(names)} (" in result.stderr
    assert {"arXiv cs.CL", "arXiv cs.LG", "arXiv cs.AI", "HF Daily Papers"} <= names
    assert "ML Papers of the Week" in names and "paper_notes #Alignment" in names
    assert (tmp_path / "sources.toml").is_file()
    assert (tmp_path / "paperbot.db").is_file()


# -- query terms -------------------------------------------------------------------------


def test_query_and_digest_take_terms_alike_a_leading_dash_included(paperbot: Paperbot) -> None:
    add_demo_sources(paperbot)
    everything = json.loads(paperbot("query", "tag:Alignment", "limit:100", "--json").output)
    assert any("Safety" in hit["tags"] for hit in everything)

    # Unquoted terms, an excluded tag first, --json anywhere among them.
    found = paperbot("query", "-tag:Safety", "tag:Alignment", "--json", "limit:100").output
    titles = {hit["title"] for hit in json.loads(found)}
    assert titles == {h["title"] for h in everything if "Safety" not in h["tags"]}
    quoted = paperbot("query", "tag:Alignment -tag:Safety limit:100", "--json").output
    assert {hit["title"] for hit in json.loads(quoted)} == titles
    # A bare excluded word, even one starting with "h" (no -h help on these commands).
    assert paperbot("query", "-hallucination", "tag:Alignment").exit_code == 0

    week = ["--week", "2024-W40", "--format", "json"]
    unfiltered = json.loads(paperbot("digest", "tag:Alignment", *week).output)
    assert any("Safety" in item["tags"] for item in unfiltered["items"])
    filtered = json.loads(paperbot("digest", "tag:Alignment", "-tag:Safety", *week).output)
    assert filtered["items"]
    assert all("Safety" not in item["tags"] for item in filtered["items"])


@pytest.mark.parametrize("command", ["query", "digest"])
def test_a_mistyped_option_is_an_error_not_a_term(paperbot: Paperbot, command: str) -> None:
    typo = "--jsn" if command == "query" else "--wek"
    result = paperbot(command, "tag:Alignment", typo, ok=False)
    assert result.exit_code == 2
    assert f"No such option '{typo}'" in result.output
    assert ("--json" if command == "query" else "--week") in result.output


# -- poll --------------------------------------------------------------------------------


def _cells(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_poll_prints_errors_whole_logs_once_and_exits_by_outcome(
    paperbot: Paperbot, fixtures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = (fixtures / "arxiv_atom_listing.xml").read_bytes()
    caplog.set_level(logging.DEBUG)
    with LocalServer() as server:
        server.route("/ok", Reply(body=feed))
        server.route("/papers/weekly/gone.xml", Reply(404))
        server.route("/papers/weekly/busy.xml", Reply(429, headers={"Retry-After": "0"}))
        paperbot("sources", "add", server.url("/ok"), "--name", "fine", "--kind", "arxiv")
        assert paperbot("poll").exit_code == 0  # all fine

        for name in ("gone", "busy"):
            url = server.url(f"/papers/weekly/{name}.xml")
            paperbot("sources", "add", url, "--name", f"{name} source", "--kind", "feed")
        caplog.clear()
        for columns in (80, 150):
            polled = paperbot("poll", ok=False, columns=columns)
            assert polled.exit_code == 3, polled.output  # some failed
            lines = polled.output.splitlines()
            assert all(_cells(line) <= columns for line in lines), polled.output
            flat = " ".join(polled.output.split())
            listed = json.loads(paperbot("sources", "list", "--json").output)
            errors = {s["name"]: s["last_error"] for s in listed if s["last_error"]}
            assert set(errors) == {"gone source", "busy source"}
            for name, error in errors.items():
                assert f"{name}: {' '.join(error.split())}" in flat  # whole, not cut

        # One log line per failed source and poll; the retries are there, at debug.
        loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        for name in ("gone", "busy"):
            url = server.url(f"/papers/weekly/{name}.xml")
            assert len([m for m in loud if url in m]) == 2, loud
        quiet = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
        assert any("retry 3 of 3" in m and "busy.xml" in m for m in quiet)

        paperbot("sources", "remove", "fine")
        assert paperbot("poll", ok=False).exit_code == 1  # all failed


def test_poll_help_documents_the_exit_statuses(paperbot: Paperbot) -> None:
    text = paperbot("poll", "--help").output
    assert "Exit status" in text
    assert re.search(r"^\s*3\s+some sources failed", text, re.MULTILINE)


# -- digest archive and ranges -----------------------------------------------------------


def test_the_same_digest_is_archived_once(paperbot: Paperbot) -> None:
    add_demo_sources(paperbot)
    week = ["--week", "2024-W40", "--format", "json"]
    first = json.loads(paperbot("digest", *week).output)
    again = json.loads(paperbot("digest", *week).output)
    assert again["id"] == first["id"]
    other = json.loads(paperbot("digest", "tag:Alignment", *week).output)
    assert other["id"] != first["id"]
    smaller = json.loads(paperbot("digest", "--top", "2", *week).output)
    assert smaller["id"] not in (first["id"], other["id"])

    archive = json.loads(paperbot("digest", "--list", "--format", "json").output)
    assert [d["id"] for d in archive] == [smaller["id"], other["id"], first["id"]]
    assert archive[1]["week"] == "2024-W40" and archive[1]["query"] == "tag:Alignment"
    assert archive[0]["items"] == 2 and archive[0]["subscription_id"] is None


def test_show_and_list_refuse_options_that_build_a_digest(paperbot: Paperbot) -> None:
    add_demo_sources(paperbot)
    built = json.loads(paperbot("digest", "--week", "2024-W40", "--format", "json").output)
    refused = paperbot("digest", "--show", str(built["id"]), "--week", "2024-W41", ok=False)
    assert refused.exit_code == 2
    assert "--show prints a digest as built: leave out --week" in refused.output
    listed = paperbot("digest", "--list", "tag:Alignment", ok=False)
    assert listed.exit_code == 2 and "leave out query terms" in listed.output


@pytest.mark.parametrize(
    "args",
    [
        ("digest", "--week", "3000-W01"),
        ("digest", "--week", "1989-W52"),
        ("query", "since:3000-01-01"),
        ("query", "until:1980-01-01"),
        ("digest", "--week", "2024-W40", "since:2101-01-01"),
    ],
)
def test_years_outside_1990_to_2100_are_refused(paperbot: Paperbot, args: tuple[str]) -> None:
    result = paperbot(*args, ok=False)
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert "1990 to 2100" in line
    assert "Traceback" not in result.output


# -- wording -----------------------------------------------------------------------------


def test_errors_say_error_once_and_hint_at_settings_only_for_settings(
    paperbot: Paperbot,
) -> None:
    bad_term = paperbot("query", "colour:blue", ok=False).output
    bad_week = paperbot("digest", "--week", "2025-W99", ok=False).output
    missing = paperbot("digest", "--show", "99999", ok=False).output
    for output in (bad_term, bad_week, missing):
        assert output.startswith("Error: "), output
        assert "error: " not in output.lower().removeprefix("error: ")
        assert "for the settings" not in output
    bad_setting = CliRunner().invoke(cli, ["query", "x"], env={**paperbot.env, "PAPERBOT_TZ": "x"})
    assert bad_setting.exit_code == 1
    assert bad_setting.output.startswith("Error: PAPERBOT_TZ='x' is not a time zone")
    assert "see `paperbot --help` for the settings" in bad_setting.output


def test_help_lists_every_setting(paperbot: Paperbot) -> None:
    from digests.settings import OPTIONS

    text = paperbot("--help", columns=80).output
    for name, (default, _) in OPTIONS.items():
        assert re.search(rf"^\s+{name}\b", text, re.MULTILINE), name
        assert default.strip("()") in " ".join(text.split()), default
    assert all(_cells(line) <= 80 for line in text.splitlines())


def test_query_output_keeps_its_indent_when_wrapped(paperbot: Paperbot) -> None:
    add_demo_sources(paperbot)
    text = paperbot("query", "tag:Alignment", "limit:5", columns=60).output
    items = re.split(r"^\d+\. ", text, flags=re.MULTILINE)[1:]
    assert len(items) == 5
    long_lines = 0
    for item in items:
        _title, *rest = item.rstrip("\n").split("\n")
        for line in rest:
            if line.startswith("…"):
                break
            assert line.startswith("   "), repr(line)
            long_lines += 1
    assert long_lines > 5 * 4  # the summaries did wrap
    assert all(_cells(line) <= 60 for line in text.splitlines() if "://" not in line)


def test_demo_keep_prints_a_command_that_reopens_it(paperbot: Paperbot, tmp_path: Path) -> None:
    out = paperbot("demo", "--keep").output
    command = out.rstrip("\n").splitlines()[-1].strip()
    assert command.endswith("paperbot query 'tag:Alignment'"), out
    # Run it as printed, through a shell, with `paperbot` being this checkout's command.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "paperbot"
    python = shlex.quote(sys.executable)
    shim.write_text(f'#!/bin/sh\nexec {python} -c "from bot.cli import main; main()" "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        # What the shell may hold: the printed command must win over it.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}",
        "PAPERBOT_SOURCES_FILE": str(tmp_path / "missing" / "sources.toml"),
        "COLUMNS": "120",
    }
    # The command paperbot printed, run by a shell as a user runs it.
    done = subprocess.run(
        command, shell=True, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Aligners: Decoupling LLMs and Alignment" in done.stdout


# -- sources: retired, never silently deleted --------------------------------------------


def _file_source(name: str, location: Path) -> str:
    return f'[[source]]\nname = "{name}"\nurl = "{location}"\nkind = "arxiv"\n'


def _listing(paperbot: Paperbot) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(paperbot("sources", "list", "--json").stdout)}


def test_a_source_that_leaves_the_sources_file_is_retired_and_keeps_its_papers(
    paperbot: Paperbot, fixtures: Path
) -> None:
    sources_file = Path(paperbot.env["PAPERBOT_SOURCES_FILE"])
    sources_file.write_text(_file_source("atom", fixtures / "arxiv_atom_listing.xml"), "utf-8")
    paperbot("poll")
    papers = _listing(paperbot)["atom"]["papers"]
    found = json.loads(paperbot("query", "source:atom", "--json").stdout)
    week = ("digest", "--week", "2025-W03", "--format", "json")
    in_week = len(json.loads(paperbot(*week).stdout)["items"])
    assert papers > 0 and found and in_week == papers

    sources_file.write_text("# emptied by hand\n", "utf-8")
    first = paperbot("sources", "list", "--json")
    assert first.stderr == f"{sources_file}: retired 1 (atom)\n"
    atom = json.loads(first.stdout)[0]
    assert atom["papers"] == papers and atom["health"]["state"] == "retired"
    assert paperbot("sources", "list").stderr == ""  # nothing changed: nothing said
    assert json.loads(paperbot("query", "source:atom", "--json").stdout) == found
    assert len(json.loads(paperbot(*week).stdout)["items"]) == in_week  # past weeks keep theirs

    assert "atom" not in paperbot("poll").output  # retired sources are not polled
    refused = paperbot("poll", "--source", "atom", ok=False)
    assert refused.exit_code == 1 and "atom: retired" in refused.output

    sources_file.write_text(_file_source("atom", fixtures / "arxiv_atom_listing.xml"), "utf-8")
    back = paperbot("sources", "list", "--json")
    assert back.stderr == f"{sources_file}: restored 1 (atom)\n"
    assert json.loads(back.stdout)[0]["papers"] == papers


def test_a_file_source_is_purged_only_after_it_left_the_file(
    paperbot: Paperbot, fixtures: Path
) -> None:
    sources_file = Path(paperbot.env["PAPERBOT_SOURCES_FILE"])
    sources_file.write_text(_file_source("atom", fixtures / "arxiv_atom_listing.xml"), "utf-8")
    paperbot("poll")
    listed_first = paperbot("sources", "remove", "atom", "--purge", ok=False)
    assert listed_first.exit_code == 1 and "comes from" in listed_first.output
    assert "then purge it" in listed_first.output
    sources_file.write_text("", "utf-8")
    assert "was already retired" in paperbot("sources", "remove", "atom").output
    purged = paperbot("sources", "remove", "ATOM", "--purge").output
    assert re.search(r"purged source atom: deleted [1-9]\d* mentions", purged), purged
    assert _listing(paperbot) == {}


def test_removing_a_source_without_purge_retires_it(paperbot: Paperbot, fixtures: Path) -> None:
    paperbot("sources", "add", str(fixtures / "arxiv_atom_listing.xml"), "--name", "atom feed")
    paperbot("poll")
    papers = _listing(paperbot)["atom feed"]["papers"]
    said = paperbot("sources", "remove", "atom feed").output
    assert f"retired source atom feed: no longer polled; its {papers} papers stay" in said
    assert "`paperbot sources remove 'atom feed' --purge` deletes its" in said
    assert _listing(paperbot)["atom feed"]["health"]["state"] == "retired"
    assert json.loads(paperbot("query", 'source:"atom feed"', "--json").stdout)


def test_a_sources_file_that_does_not_exist_is_an_error_naming_it(
    paperbot: Paperbot, tmp_path: Path
) -> None:
    sources_file = Path(paperbot.env["PAPERBOT_SOURCES_FILE"])
    sources_file.write_text('[[source]]\nname = "blog"\nurl = "https://blog.example/feed"\n')
    paperbot("sources", "list")
    typo = tmp_path / "sourcse.toml"
    paperbot.env["PAPERBOT_SOURCES_FILE"] = str(typo)
    failed = paperbot("sources", "list", ok=False)
    assert failed.exit_code == 1 and "Traceback" not in failed.output
    assert f"sources file {typo} does not exist; 1 sources came from" in failed.output
    assert not typo.exists()
    paperbot.env["PAPERBOT_SOURCES_FILE"] = str(sources_file)
    again = paperbot("sources", "list", "--json")
    assert again.stderr == "" and json.loads(again.stdout)[0]["health"]["state"] != "retired"


def test_the_default_sources_file_is_written_on_the_first_start_only(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"PAPERBOT_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "PAPERBOT_SOURCES_FILE": ""}
    assert runner.invoke(cli, ["sources", "list"], env=env).exit_code == 0
    (tmp_path / "sources.toml").unlink()
    result = runner.invoke(cli, ["sources", "list"], env=env)
    assert result.exit_code == 1
    assert f"sources file {tmp_path / 'sources.toml'} does not exist" in result.output
    assert not (tmp_path / "sources.toml").exists()


def test_sources_add_refuses_what_cannot_work(
    paperbot: Paperbot, fixtures: Path, tmp_path: Path
) -> None:
    feed = str(fixtures / "generic_feed.xml")
    refused = {
        (str(tmp_path / "missing.xml"),): "no such file",
        (str(tmp_path),): "is a directory, not a file",
        ("",): "the location is empty",
        ("javascript:alert(1)",): "the scheme javascript: is not one paperbot reads",
        (feed, "--tag", ""): "a tag is empty",
        (feed, "--name", "  "): "--name is empty",
    }
    for args, why in refused.items():
        result = paperbot("sources", "add", *args, ok=False)
        assert result.exit_code == 1 and why in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert _listing(paperbot) == {}

    added = paperbot("sources", "add", feed, "--kind", "RSS", "--name", "Lab Blog").output
    assert "added source Lab Blog (feed," in added
    dup = paperbot("sources", "add", feed, "--kind", "atom", "--name", " lab blog ", ok=False)
    assert "a source named 'Lab Blog' already exists" in dup.output
    assert list(_listing(paperbot)) == ["Lab Blog"]


def test_sources_list_says_never_polled_and_failing_instead_of_ok(
    paperbot: Paperbot, fixtures: Path, tmp_path: Path
) -> None:
    flaky = tmp_path / "flaky.xml"
    flaky.write_bytes((fixtures / "generic_feed.xml").read_bytes())
    paperbot("sources", "add", str(flaky), "--name", "flaky")
    fresh = _listing(paperbot)["flaky"]["health"]
    assert fresh["state"] == "never-polled" and fresh["text"] == "never polled"
    flaky.unlink()
    paperbot("poll", ok=False)

    health = _listing(paperbot)["flaky"]["health"]
    assert health["state"] == "failing" and health["failures"] == 1
    assert health["since"] and health["last_success"] is None
    assert "flaky.xml" in health["last_error"]
    table = paperbot("sources", "list").output
    assert "failing: 1 in a row since" in " ".join(table.split())
    assert "ok" not in table.replace("flaky", "")


def test_retag_applies_edited_rules_to_stored_papers(
    paperbot: Paperbot, fixtures: Path, tmp_path: Path
) -> None:
    feed = fixtures / "arxiv_atom_listing.xml"
    paperbot("sources", "add", str(feed), "--name", "atom", "--tag", "Demo")
    paperbot("poll")
    papers = json.loads(paperbot("query", "tag:demo", "--json").output)
    assert papers and json.loads(paperbot("query", "tag:everything", "--json").output) == []

    rules = tmp_path / "topics.toml"
    rules.write_text("[[topic]]\ntag = 'Everything'\npatterns = ['\\w']\n", "utf-8")
    paperbot.env["PAPERBOT_TOPICS_FILE"] = str(rules)
    out = paperbot("retag", "--chunk", "2").output
    assert f"{len(papers)} papers read, {len(papers)} changed" in out
    tagged = json.loads(paperbot("query", "tag:everything", "--json").output)
    assert {h["id"] for h in tagged} == {h["id"] for h in papers}
    assert all("Demo" in h["tags"] for h in tagged)  # the source's tag stays

    rules.write_text("[[topic]]\ntag = 'Everything'\npatterns = ['(unclosed']\n", "utf-8")
    bad = paperbot("retag", ok=False)
    assert bad.exit_code == 1 and "bad pattern" in bad.output and "Traceback" not in bad.output


# -- paperbot profile import -----------------------------------------------------------------


@pytest.fixture
def library_store(paperbot: Paperbot, tmp_path: Path) -> dict[str, int]:
    """The papers the library fixtures name, in the command's database."""
    store = Store.open(paperbot.env["DATABASE_URL"])
    try:
        return library_papers(store, tmp_path)
    finally:
        store.dispose()


def _import_likes(paperbot: Paperbot) -> dict[int, str]:
    store = Store.open(paperbot.env["DATABASE_URL"])
    try:
        found = store.channel_feedback([("T1", "C1")])[("T1", "C1")]
        return {f.paper_id: f.user_id for f in found}
    finally:
        store.dispose()


def test_profile_import_likes_the_papers_and_lists_the_rest(
    paperbot: Paperbot, fixtures: Path, library_store: dict[str, int]
) -> None:
    with LocalServer(keep_alive=True) as server:
        api = FakeArxivApi()
        server.route("/api/query", api)
        paperbot.env["PAPERBOT_ARXIV_API_URL"] = server.url("/api/query")
        args = ("profile", "import", "--team", "T1", "--channel", "C1")
        out = paperbot(*args, str(fixtures / "library" / "zotero.bib")).output
    lines = out.splitlines()
    assert lines[0] == (
        "8 entries (bibtex): 5 liked, 3 unresolved (listed below); 1 added to the store from arXiv"
    )
    assert lines[1] == "  entry 4 (line 44) [nobody_broken_2024]: unbalanced braces"
    assert "arXiv does not know 2512.99999" in out
    liked = _import_likes(paperbot)
    assert len(liked) == 5 and set(liked.values()) == {"cli"}
    assert library_store["dpo"] in liked and library_store["parrots"] in liked
    assert api.asked == [["2506.15841", "2512.99999"]]


def test_profile_import_reads_stdin_and_dry_run_changes_nothing(
    paperbot: Paperbot, library_store: dict[str, int]
) -> None:
    result = paperbot.runner.invoke(
        cli,
        ["profile", "import", "--team", "T1", "--channel", "C1", "--dry-run", "-"],
        input="2305.18290\n# a comment\n\n10.1145/3442188.3445922\nnonsense\n",
        env={**paperbot.env, "COLUMNS": "120"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "3 entries (list): 2 would be liked, 1 unresolved (listed below); dry run: nothing changed",
        "  entry 3 (line 5) nonsense: not an arXiv id, a DOI or a link",
    ]
    assert _import_likes(paperbot) == {}


def test_profile_import_refuses_a_50_mb_file_in_one_line_before_reading_it(
    paperbot: Paperbot, tmp_path: Path
) -> None:
    big = tmp_path / "library.bib"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: nothing is written, nothing need be read
    result = paperbot("profile", "import", "--team", "T1", "--channel", "C1", str(big), ok=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: The file is 50.0 MB; a library import takes at most 5.0 MB (export only the "
        "collection you mean, or without attachments and notes)."
    ]
    piped = paperbot.runner.invoke(
        cli,
        ["profile", "import", "--team", "T1", "--channel", "C1", "-"],
        input=b"%" * (5 * 1024 * 1024 + 1),
        env=paperbot.env,
    )
    assert piped.exit_code == 1 and "The file is over 5.0 MB" in piped.output


def test_profile_import_needs_a_team_when_none_is_known_and_a_library(
    paperbot: Paperbot, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("2305.18290\n", "utf-8")
    result = paperbot("profile", "import", "--channel", "C1", str(ids), ok=False)
    assert result.exit_code == 1 and "--team" in result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n", "utf-8")
    result = paperbot("profile", "import", "--team", "T1", "--channel", "C1", str(empty), ok=False)
    assert result.exit_code == 1
    assert f"{empty}: No BibTeX entry, RIS record, arXiv id, DOI or link found" in result.output
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.7\n\x93\x8c\x8b\x9e obj\nstream\n\xff\xfe\nendstream\n")
    result = paperbot("profile", "import", "--team", "T1", "--channel", "C1", str(pdf), ok=False)
    assert result.exit_code == 1 and "No BibTeX entry, RIS record" in result.output
    assert "Traceback" not in result.output


def test_profile_import_takes_the_one_workspace_the_store_serves(
    paperbot: Paperbot, tmp_path: Path, library_store: dict[str, int]
) -> None:
    store = Store.open(paperbot.env["DATABASE_URL"])
    try:
        subscribe(store, channel="C9")  # a subscription of workspace T1
    finally:
        store.dispose()
    ids = tmp_path / "ids.txt"
    ids.write_text("2305.18290\n", "utf-8")
    out = paperbot("profile", "import", "--channel", "C1", str(ids)).output
    assert out.startswith("1 entry (list): 1 liked")
    assert _import_likes(paperbot) == {library_store["dpo"]: "cli"}


def test_a_channels_digest_and_profile_from_the_command_line(
    paperbot: Paperbot, db_url: str
) -> None:
    from digests.identity import display_title
    from digests.store import Store
    from digests.weeks import parse_week, week_bounds

    add_demo_sources(paperbot)
    week = ("--week", "2024-W40", "--format", "json")
    unknown = paperbot("digest", "--channel", "C1", *week, ok=False)
    assert "channel C1 has no profile or subscription in any workspace" in unknown.output
    today = json.loads(paperbot("digest", *week).output)["items"]
    store = Store.open(db_url)
    try:
        start, end = week_bounds(parse_week("2024-W40"), "UTC")
        papers = {
            display_title(c.paper.title, c.paper.aliases): c.paper
            for c in store.week_candidates(start, end)
        }
        first, last = papers[today[0]["title"]].paper_id, papers[today[-1]["title"]].paper_id
        muted, liked = papers[today[0]["title"]].title, papers[today[-1]["title"]].title
        at = datetime(2024, 10, 1, tzinfo=UTC)
        store.set_verdicts("T1", "C1", "U1", {last: "like"}, origin="click", now=at)
        store.set_verdicts("T1", "C1", "U2", {first: "mute"}, origin="click", now=at)
        store.set_verdicts("T2", "C1", "U9", {first: "like"}, origin="click", now=at)
    finally:
        store.dispose()

    several = paperbot("digest", "--channel", "C1", *week, ok=False)
    assert "channel C1 is in 2 workspaces: T1, T2" in several.output
    shaped = json.loads(paperbot("digest", "--channel", "C1", "--team", "T1", *week).output)
    titles = [i["title"] for i in shaped["items"]]
    assert today[0]["title"] not in titles  # muted: never this channel's again
    assert any("which this channel liked" in i["why"] for i in shaped["items"])
    assert "1 marked not for this channel" not in shaped["notice"]  # the digest is full

    shown = paperbot("profile", "show", "--channel", "C1", "--team", "T1").output
    assert "1 liked" in shown and liked in shown
    assert "1 muted (never posted here again)" in shown and muted in shown
    assert "Strongest terms: " in shown and "last changed 2024-10-01 00:00 UTC" in shown

    kept = paperbot("profile", "reset", "--channel", "C1", "--team", "T1", input="n\n")
    assert "Nothing was reset." in kept.output
    assert "1 liked" in paperbot("profile", "show", "--channel", "C1", "--team", "T1").output
    gone = paperbot("profile", "reset", "--channel", "C1", "--team", "T1", "--yes").output
    assert "reset: 2 verdicts forgotten" in gone
    empty = paperbot("profile", "show", "--channel", "C1", "--team", "T1").output
    assert "has no profile yet" in empty and "Last reset" in empty
    # The other workspace's channel of the same id kept its own.
    assert "1 liked" in paperbot("profile", "show", "--channel", "C1", "--team", "T2").output
    after = json.loads(paperbot("digest", "--channel", "C1", "--team", "T1", *week).output)
    assert [i["title"] for i in after["items"]] == [i["title"] for i in today]
